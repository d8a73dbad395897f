//! `parse_code` over every input form, with GS1 General Specifications
//! example data.

use gs1::{
    Element, Kind, MeasureKind, ParseOptions, Symbology, VariableMeasureLayout, complete_gtin,
    parse_code, parse_code_with,
};

#[test]
fn bracketed_element_string() {
    let s = parse_code("(01)09506000134352(17)201225(10)ABC123").unwrap();
    assert_eq!(s.kind, Kind::ElementString);
    assert_eq!(s.gtin.as_deref(), Some("09506000134352"));
    assert_eq!(
        s.elements,
        vec![
            Element::new("01", "09506000134352"),
            Element::new("17", "201225"),
            Element::new("10", "ABC123"),
        ]
    );
    assert_eq!(s.symbology, None);
}

#[test]
fn raw_with_symbology_identifiers() {
    let raw = "0109506000134352\u{1d}"
        .trim_end_matches('\u{1d}')
        .to_string()
        + "10ABC123\u{1d}17201225";
    for (id, sym) in [
        ("]C1", Symbology::Gs1_128),
        ("]d2", Symbology::Gs1DataMatrix),
        ("]Q3", Symbology::Gs1Qr),
        ("]e0", Symbology::Gs1DataBar),
        ("]J1", Symbology::Gs1DotCode),
    ] {
        let s = parse_code(&format!("{id}{raw}")).unwrap();
        assert_eq!(s.symbology, Some(sym));
        assert_eq!(s.elements.len(), 3);
        assert_eq!(s.elements[1], Element::new("10", "ABC123"));
    }
    // FNC1 in first position transmitted as GS, trailing CR LF from a wedge.
    let s = parse_code(&format!("]C1\u{1d}{raw}\r\n")).unwrap();
    assert_eq!(s.elements.len(), 3);
}

#[test]
fn plain_gtins() {
    for (code, gtin) in [
        ("]E09506000134352", "09506000134352"),
        ("9506000134352", "09506000134352"),
        ("]E496385074", "00000096385074"),
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("]I110614141000415", "10614141000415"),
    ] {
        let s = parse_code(code).unwrap();
        assert_eq!(s.kind, Kind::Gtin, "{code}");
        assert_eq!(s.gtin.as_deref(), Some(gtin));
        assert_eq!(s.elements, vec![Element::new("01", gtin)]);
    }
}

#[test]
fn variable_measure_default_and_custom() {
    let code = complete_gtin("210012300599").unwrap();
    let s = parse_code(&code).unwrap();
    assert_eq!(s.kind, Kind::VariableMeasure);
    let vm = s.variable_measure.unwrap();
    assert_eq!(
        (vm.item_code.as_str(), vm.value, vm.measure),
        ("00123", 599, MeasureKind::Price)
    );
    assert_eq!(s.gtin.as_deref(), Some(format!("0{code}").as_str()));
    // Also through the EAN-13 symbology identifier.
    assert_eq!(
        parse_code(&format!("]E0{code}")).unwrap().kind,
        Kind::VariableMeasure
    );
    // Weight layout only for prefix 22; prefix 21 falls back to a plain GTIN.
    let opts = ParseOptions {
        layouts: vec![VariableMeasureLayout {
            prefixes: vec!["22".into()],
            ..VariableMeasureLayout::china_weight()
        }],
        check_associations: true,
    };
    assert_eq!(parse_code_with(&code, &opts).unwrap().kind, Kind::Gtin);
    let w = complete_gtin("220012301250").unwrap();
    let s = parse_code_with(&w, &opts).unwrap();
    let vm = s.variable_measure.unwrap();
    assert_eq!((vm.value, vm.measure), (1250, MeasureKind::Weight));
}

#[test]
fn errors_name_the_problem() {
    let cases = [
        ("", "empty", "input is empty"),
        (
            "9506000134353",
            "bad_check_digit",
            "GTIN: check digit is \"3\" but should be \"2\"",
        ),
        ("]X0123", "unknown_symbology", ""),
        ("]E0950600013435", "bad_length", ""),
        (
            "(01)09506000134352(17)201332",
            "bad_date",
            "AI (17): \"201332\" is not a valid date/time: month 13 is not 01-12",
        ),
        (
            "(01)09506000134352(10)AB#",
            "bad_character",
            "AI (10): invalid character '#' at offset 2 (allowed: GS1 CSET 82)",
        ),
        ("(01)09506000134352(99)", "value_too_short", ""),
        (
            "(01)0950600013435",
            "value_too_short",
            "AI (01): value has 13 characters, needs at least 6",
        ),
        (
            "(01)09506000134352(04)1",
            "unknown_ai",
            "unknown application identifier (04) at offset 19",
        ),
        ("(10)ABC", "missing_requisite_ai", ""),
        (
            "(01)09506000134352(02)09506000134352",
            "exclusive_ai",
            "AI (02) must not be combined with AI (01)",
        ),
        (
            "]C1010950600013435210ABCDE1720122521SERIAL1234567",
            "missing_separator",
            "AI (10): value not terminated by a GS (0x1D) separator at offset 23",
        ),
        (
            "]C1010950600013435210ABCDEFGHIJKLMNOPQRSTU17201225",
            "value_too_long",
            "",
        ),
        ("(01)09506000134352(21)X(21)Y", "duplicate_ai", ""),
    ];
    for (input, code, msg) in cases {
        let e = parse_code(input).unwrap_err();
        assert_eq!(e.code(), code, "{input}: {e}");
        if !msg.is_empty() && code != "value_too_short" {
            assert_eq!(e.to_string(), msg, "{input}");
        }
    }
    // Associations can be switched off for multi-carrier labels.
    let opts = ParseOptions {
        check_associations: false,
        ..ParseOptions::default()
    };
    assert!(parse_code_with("(10)ABC", &opts).is_ok());
}

#[test]
fn dd_zero_allowed_only_where_the_standard_says() {
    for ai in ["11", "13", "15", "16", "17"] {
        assert!(
            parse_code(&format!("(01)09506000134352({ai})251200")).is_ok(),
            "{ai}"
        );
    }
    assert_eq!(
        parse_code("(01)09506000134352(7006)251200")
            .unwrap_err()
            .code(),
        "bad_date"
    );
}

#[cfg(feature = "serde")]
#[test]
fn report_json_shape() {
    let v = serde_json::to_value(gs1::parse_report("(01)09506000134352(10)ABC123")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "valid": true,
            "kind": "element_string",
            "gtin": "09506000134352",
            "elements": [{"ai": "01", "value": "09506000134352"}, {"ai": "10", "value": "ABC123"}]
        })
    );
    let v = serde_json::to_value(gs1::parse_report("9506000134353")).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"]["code"], "bad_check_digit");
    assert_eq!(v["elements"], serde_json::json!([]));
    assert!(v.get("kind").is_none() && v.get("gtin").is_none());
    let code = complete_gtin("210012300599").unwrap();
    let v = serde_json::to_value(gs1::parse_report(&code)).unwrap();
    assert_eq!(v["kind"], "variable_measure");
    assert_eq!(v["variable_measure"]["measure"], "price");
    assert_eq!(v["variable_measure"]["value"], 599);
}
