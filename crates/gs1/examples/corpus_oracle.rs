//! Reads one JSON string per line on stdin (an input to check) prefixed by
//! its mode (`element `, `gtin ` or `epc `) and prints this crate's verdict
//! as one JSON object per line. Used only by `testdata/make_corpus.py` to
//! compare this crate with the Python reference libraries.

use std::io::{BufRead, Write};

use gs1::{ParseOptions, decode_epc, normalize_gtin, parse_code_with};
use serde_json::{Value, json};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Some((mode, arg)) = line.split_once(' ') else {
            continue;
        };
        let Ok(input) = serde_json::from_str::<String>(arg) else {
            continue;
        };
        let v = verdict(mode, &input);
        let _ = writeln!(out, "{v}");
    }
}

/// Same logic as `tests/corpus.rs::ours`.
fn verdict(mode: &str, input: &str) -> Value {
    match mode {
        "element" | "element_assoc" => {
            let opts = ParseOptions {
                layouts: Vec::new(),
                check_associations: mode == "element_assoc",
            };
            match parse_code_with(input, &opts) {
                Ok(s) => {
                    json!({"valid": true, "elements": s.elements.iter().map(|e| [e.ai.clone(), e.value.clone()]).collect::<Vec<_>>()})
                }
                Err(e) => json!({"valid": false, "code": e.code(), "message": e.to_string()}),
            }
        }
        "gtin" => match normalize_gtin(input) {
            Ok(g) => json!({"valid": true, "gtin": g}),
            Err(e) => json!({"valid": false, "code": e.code(), "message": e.to_string()}),
        },
        _ => match decode_epc(input) {
            Ok(e) => {
                json!({"valid": true, "hex": e.hex, "tag_uri": e.tag_uri, "pure_identity_uri": e.pure_identity_uri})
            }
            Err(e) => json!({"valid": false, "code": e.code(), "message": e.to_string()}),
        },
    }
}
