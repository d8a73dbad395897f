//! Cross-check against independent implementations (biip, python-stdnum,
//! epcpy) using the checked-in `testdata/corpus.jsonl` (regenerate with
//! `testdata/make_corpus.py`; no Python is needed to run this test).
//!
//! For every case and every reference library, this crate must agree with
//! the reference's verdict (and its decoded elements / hex / URI / GTIN)
//! unless the case lists the library in `disagree`, in which case it must
//! disagree, and `note` explains why. The crate's own verdict and error code
//! are also recorded and must not change silently.

use gs1::{ParseOptions, decode_epc, normalize_gtin, parse_code_with};
use serde_json::{Value, json};

/// Same logic as `examples/corpus_oracle.rs`.
fn ours(mode: &str, input: &str) -> Value {
    match mode {
        "element" | "element_assoc" | "raw" => {
            let opts = ParseOptions {
                layouts: Vec::new(),
                check_associations: mode == "element_assoc",
            };
            let text = if mode == "raw" {
                format!("]C1{input}")
            } else {
                input.to_string()
            };
            match parse_code_with(&text, &opts) {
                Ok(s) => {
                    json!({"valid": true, "elements": s.elements.iter().map(|e| [e.ai.clone(), e.value.clone()]).collect::<Vec<_>>()})
                }
                Err(e) => json!({"valid": false, "code": e.code()}),
            }
        }
        "gtin" => match normalize_gtin(input) {
            Ok(g) => json!({"valid": true, "gtin": g}),
            Err(e) => json!({"valid": false, "code": e.code()}),
        },
        _ => match decode_epc(input) {
            Ok(e) => json!({"valid": true, "hex": e.hex, "pure_identity_uri": e.pure_identity_uri}),
            Err(e) => json!({"valid": false, "code": e.code()}),
        },
    }
}

fn agrees(ours: &Value, reference: &Value) -> bool {
    if ours["valid"] != reference["valid"] {
        return false;
    }
    if ours["valid"] != true {
        return true;
    }
    ["elements", "hex", "pure_identity_uri", "gtin"]
        .iter()
        .filter(|k| reference.get(**k).is_some())
        .all(|k| ours[*k] == reference[*k])
}

#[test]
fn corpus_agrees_with_reference_implementations() {
    let text = include_str!("../testdata/corpus.jsonl");
    let (mut elements, mut epcs, mut documented) = (0, 0, 0);
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let case: Value = serde_json::from_str(line).expect("corpus line is JSON");
        let mode = case["mode"].as_str().unwrap_or_default();
        let input = case["input"].as_str().unwrap_or_default();
        match mode {
            "element" | "element_assoc" | "raw" => elements += 1,
            m if m.starts_with("epc") => epcs += 1,
            _ => {}
        }
        let got = ours(mode, input);
        let recorded = &case["ours"];
        if got["valid"] != recorded["valid"] || got.get("code") != recorded.get("code") {
            failures.push(format!(
                "line {}: {input:?}: ours {got} but corpus recorded {recorded}",
                n + 1
            ));
        }
        let disagree: Vec<&str> = case["disagree"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !disagree.is_empty() {
            documented += 1;
            assert!(
                case["note"].as_str().is_some_and(|s| !s.is_empty()),
                "line {}: disagreement without note",
                n + 1
            );
        }
        for (name, reference) in case["refs"].as_object().into_iter().flatten() {
            let expect_agree = !disagree.contains(&name.as_str());
            if agrees(&got, reference) != expect_agree {
                failures.push(format!(
                    "line {}: {input:?}: {} with {name} (ours {got}, {name} {reference}, note {})",
                    n + 1,
                    if expect_agree {
                        "disagrees"
                    } else {
                        "now agrees (remove the documented disagreement)"
                    },
                    case["note"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(elements >= 300, "only {elements} element strings");
    assert!(epcs >= 100, "only {epcs} EPCs");
    assert!(documented > 0);
}
