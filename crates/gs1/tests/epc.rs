//! EPC vectors from the EPC Tag Data Standard examples (cross-checked with
//! epcpy) and error cases.

use gs1::{EpcScheme, decode_epc, encode_epc, tag_from_pure_identity};

const VECTORS: &[(&str, &str, &str)] = &[
    (
        "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
        "3074257BF7194E4000001A85",
        "urn:epc:id:sgtin:0614141.812345.6789",
    ),
    (
        "urn:epc:tag:sscc-96:3.0614141.1234567890",
        "3174257BF4499602D2000000",
        "urn:epc:id:sscc:0614141.1234567890",
    ),
    (
        "urn:epc:tag:sgln-96:3.0614141.12345.5678",
        "3274257BF46072000000162E",
        "urn:epc:id:sgln:0614141.12345.5678",
    ),
    (
        "urn:epc:tag:grai-96:3.0614141.12345.5678",
        "3374257BF40C0E400000162E",
        "urn:epc:id:grai:0614141.12345.5678",
    ),
    (
        "urn:epc:tag:giai-96:3.0614141.5678",
        "3474257BF40000000000162E",
        "urn:epc:id:giai:0614141.5678",
    ),
    (
        "urn:epc:tag:sgtin-198:3.0614141.812345.6789",
        "3674257BF7194E5B3770E4000000000000000000000000000000",
        "urn:epc:id:sgtin:0614141.812345.6789",
    ),
    (
        "urn:epc:tag:sgtin-198:3.0614141.812345.ab%2Fc",
        "3674257BF7194E70E25F8C000000000000000000000000000000",
        "urn:epc:id:sgtin:0614141.812345.ab%2Fc",
    ),
    (
        "urn:epc:tag:giai-202:3.0614141.ab%2Fc",
        "3874257BF70E25F8C00000000000000000000000000000000000",
        "urn:epc:id:giai:0614141.ab%2Fc",
    ),
    (
        "urn:epc:tag:grai-170:3.0614141.12345.ab%2Fc",
        "3774257BF40C0E70E25F8C0000000000000000000000",
        "urn:epc:id:grai:0614141.12345.ab%2Fc",
    ),
    (
        "urn:epc:tag:sgln-195:3.0614141.12345.ab%2Fc",
        "3974257BF460738712FC60000000000000000000000000000000",
        "urn:epc:id:sgln:0614141.12345.ab%2Fc",
    ),
    (
        "urn:epc:tag:sgln-96:3.061414112345..0",
        "3260393243F1640000000000",
        "urn:epc:id:sgln:061414112345..0",
    ),
];

#[test]
fn tds_vectors_both_ways() {
    for &(tag, hex, pure) in VECTORS {
        assert_eq!(encode_epc(tag).unwrap(), hex, "{tag}");
        let e = decode_epc(hex).unwrap();
        assert_eq!(e.tag_uri, tag);
        assert_eq!(e.pure_identity_uri, pure);
        assert_eq!(e.hex, hex);
        assert_eq!(usize::from(e.partition), 12 - e.company_prefix.len());
        assert_eq!(decode_epc(&hex.to_lowercase()).unwrap(), e);
        assert_eq!(decode_epc(&format!("0x{hex}")).unwrap(), e);
    }
}

#[test]
fn sgtin96_fields() {
    let e = decode_epc("3074257BF7194E4000001A85").unwrap();
    assert_eq!(e.scheme, EpcScheme::Sgtin96);
    assert_eq!((e.filter, e.partition), (3, 5));
    assert_eq!(e.company_prefix, "0614141");
    assert_eq!(e.item_reference.as_deref(), Some("812345"));
    assert_eq!(e.serial.as_deref(), Some("6789"));
    assert_eq!(e.gtin.as_deref(), Some("80614141123458"));
    assert_eq!(e.element_string, "(01)80614141123458(21)6789");
    assert!(gs1::is_valid_gtin(e.gtin.as_deref().unwrap()));
}

#[test]
fn keys_of_other_schemes() {
    let sscc = decode_epc("3174257BF4499602D2000000").unwrap();
    assert_eq!(sscc.sscc.as_deref(), Some("106141412345678908"));
    assert_eq!(sscc.serial_reference.as_deref(), Some("1234567890"));
    let sgln = decode_epc("3274257BF46072000000162E").unwrap();
    assert_eq!(sgln.gln.as_deref(), Some("0614141123452"));
    assert_eq!(sgln.element_string, "(414)0614141123452(254)5678");
    let grai = decode_epc("3374257BF40C0E400000162E").unwrap();
    assert_eq!(grai.grai.as_deref(), Some("006141411234525678"));
    let giai = decode_epc("3474257BF40000000000162E").unwrap();
    assert_eq!(giai.giai.as_deref(), Some("06141415678"));
    let sgtin198 = decode_epc("3674257BF7194E70E25F8C000000000000000000000000000000").unwrap();
    assert_eq!(sgtin198.serial.as_deref(), Some("ab/c"));
    assert_eq!(sgtin198.element_string, "(01)80614141123458(21)ab/c");
}

#[test]
fn pure_identity_defaults() {
    let e = decode_epc("urn:epc:id:sgtin:0614141.812345.6789").unwrap();
    assert_eq!(e.tag_uri, "urn:epc:tag:sgtin-96:0.0614141.812345.6789");
    let e = decode_epc("urn:epc:id:sgtin:0614141.812345.06789").unwrap();
    assert_eq!(e.scheme, EpcScheme::Sgtin198);
    let e = tag_from_pure_identity("urn:epc:id:giai:0614141.ABC", 1).unwrap();
    assert_eq!(e.tag_uri, "urn:epc:tag:giai-202:1.0614141.ABC");
    assert_eq!(
        tag_from_pure_identity("urn:epc:id:giai:0614141.1", 8)
            .unwrap_err()
            .code(),
        "bad_filter"
    );
}

#[test]
fn error_codes() {
    let cases = [
        ("", "empty"),
        ("30", "bad_length"),
        ("3074257BF7194E4000001A8", "bad_length"),
        ("3074257BF7194E4000001A8G", "bad_character"),
        ("FF74257BF7194E4000001A85", "unknown_header"),
        ("3574257BF7194E4000001A85", "unsupported_scheme"),
        ("307C257BF7194E4000001A85", "bad_partition"),
        // SSCC with non-zero reserved bits.
        ("3174257BF4499602D2000001", "nonzero_padding"),
        // SGTIN-96 partition 5 with company prefix 2^24-1 > 9999999.
        ("3077FFFFFC00000000000000", "value_out_of_range"),
        ("urn:epc:tag:sgtin-96:8.0614141.812345.6789", "bad_filter"),
        ("urn:epc:tag:sgtin-96:3.0614141.81234.6789", "bad_length"),
        ("urn:epc:tag:sgtin-96:3.06141.8123456.6789", "bad_partition"),
        (
            "urn:epc:tag:sgtin-96:3.0614141.812345.06789",
            "value_out_of_range",
        ),
        (
            "urn:epc:tag:sgtin-96:3.0614141.812345.274877906944",
            "value_out_of_range",
        ),
        ("urn:epc:tag:sgtin-96:3.0614141.812345.ab", "bad_character"),
        (
            "urn:epc:tag:sgtin-198:3.0614141.812345.a/b",
            "bad_character",
        ),
        ("urn:epc:tag:sgtin-198:3.0614141.812345.%zz", "bad_uri"),
        (
            "urn:epc:tag:sgtin-198:3.0614141.812345.123456789012345678901",
            "value_out_of_range",
        ),
        ("urn:epc:tag:sgtin-96:3.0614141.812345", "bad_uri"),
        ("urn:epc:tag:gid-96:3.1.2.3", "unsupported_scheme"),
        ("urn:epc:raw:96.x3074", "bad_uri"),
        ("urn:epc:id:usdod:1.2", "unsupported_scheme"),
    ];
    for (input, code) in cases {
        let err = decode_epc(input).unwrap_err();
        assert_eq!(err.code(), code, "{input}: {err}");
    }
}

#[cfg(feature = "serde")]
#[test]
fn json_shape() {
    let r = gs1::decode_epc_report("3074257BF7194E4000001A85");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["scheme"], "sgtin-96");
    assert_eq!(v["filter"], 3);
    assert_eq!(v["partition"], 5);
    assert_eq!(v["company_prefix"], "0614141");
    assert_eq!(v["item_reference"], "812345");
    assert_eq!(v["serial"], "6789");
    assert_eq!(v["gtin"], "80614141123458");
    assert_eq!(v["tag_uri"], "urn:epc:tag:sgtin-96:3.0614141.812345.6789");
    assert_eq!(
        v["pure_identity_uri"],
        "urn:epc:id:sgtin:0614141.812345.6789"
    );
    assert_eq!(v["hex"], "3074257BF7194E4000001A85");
    assert!(v.get("error").is_none() && v.get("sscc").is_none());
    let bad = serde_json::to_value(gs1::decode_epc_report("FF")).unwrap();
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["error"]["code"], "unknown_header");
    assert!(bad.get("scheme").is_none());
}
