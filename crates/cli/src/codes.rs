//! `stockbook gs1 parse CODE`, `stockbook epc decode HEX|URI` and `stockbook epc encode URI`:
//! the gs1 crate on the command line, printing JSON. Exit 0 when the code is valid, 1 when
//! it is not (the JSON then says why).

use std::process::ExitCode;

/// Prints a report as one line of JSON and exits by its validity.
fn print<T: serde::Serialize>(report: &T, valid: bool) -> anyhow::Result<ExitCode> {
    crate::say(format_args!("{}", serde_json::to_string(report)?))?;
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Decodes a scanned barcode: GTIN, GS1 element string or in-store variable-measure code.
pub(crate) fn gs1_parse(code: &str) -> anyhow::Result<ExitCode> {
    let report = gs1::parse_report(code);
    print(&report, report.valid)
}

/// Decodes an EPC from its hex or URI form.
pub(crate) fn epc_decode(input: &str) -> anyhow::Result<ExitCode> {
    let report = gs1::decode_epc_report(input);
    print(&report, report.valid)
}

/// Encodes an EPC tag URI to hex.
pub(crate) fn epc_encode(uri: &str) -> anyhow::Result<ExitCode> {
    match gs1::encode_epc(uri) {
        Ok(hex) => {
            crate::say(format_args!("{hex}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let error = serde_json::json!({"valid": false, "error": {"code": e.code(), "message": e.to_string()}});
            print(&error, false)
        }
    }
}
