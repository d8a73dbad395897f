//! Property tests: round trips for every representation and "fuzz" tests
//! that feed arbitrary input to every parser and only require no panic.

#![expect(clippy::unwrap_used, reason = "strategies build known-valid inputs")]

use gs1::{
    Element, VariableMeasureLayout, check_digit, complete_gtin, decode_epc,
    decode_variable_measure, encode_epc, normalize_gtin, parse_bracketed, parse_code, parse_raw,
    tag_from_pure_identity, to_bracketed, to_raw,
};
use proptest::prelude::*;

const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn digits(n: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|v| v.iter().map(|d| char::from(b'0' + d)).collect())
}

fn cset82(min: usize, max: usize) -> impl Strategy<Value = String> + Clone {
    let chars: Vec<char> = CSET82.chars().collect();
    proptest::collection::vec(proptest::sample::select(chars), min..=max)
        .prop_map(|v| v.into_iter().collect())
}

fn gtin14() -> impl Strategy<Value = String> {
    digits(13).prop_map(|p| complete_gtin(&p).unwrap())
}

fn date() -> impl Strategy<Value = String> {
    (0u32..100, 1u32..13, 0u32..29).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

fn element() -> impl Strategy<Value = Element> {
    prop_oneof![
        gtin14().prop_map(|g| Element::new("01", g)),
        cset82(1, 20).prop_map(|v| Element::new("10", v)),
        cset82(1, 20).prop_map(|v| Element::new("21", v)),
        date().prop_map(|d| Element::new("17", d)),
        date().prop_map(|d| Element::new("11", d)),
        (0u8..6, digits(6)).prop_map(|(i, v)| Element::new(format!("310{i}"), v)),
        (1usize..=8)
            .prop_flat_map(digits)
            .prop_map(|v| Element::new("37", v)),
        digits(17).prop_map(|p| Element::new("00", format!("{p}{}", check_digit(&p).unwrap()))),
        cset82(1, 90).prop_map(|v| Element::new("91", v)),
        (digits(3), cset82(1, 9)).prop_map(|(c, v)| Element::new("421", format!("{c}{v}"))),
    ]
}

fn int_below(bits: u32) -> impl Strategy<Value = String> + Clone {
    (0u64..(1u64 << bits)).prop_map(|v| v.to_string())
}

/// Tag URIs of every scheme with valid random fields.
fn tag_uri() -> impl Strategy<Value = String> {
    (6usize..=12, 0u8..8).prop_flat_map(|(cpl, f)| {
        let cp = digits(cpl);
        prop_oneof![
            (cp.clone(), digits(13 - cpl), int_below(38)).prop_map(
                move |(c, r, s): (String, String, String)| format!(
                    "urn:epc:tag:sgtin-96:{f}.{c}.{r}.{s}"
                )
            ),
            (cp.clone(), digits(13 - cpl), cset82(1, 20)).prop_map(
                move |(c, r, s): (String, String, String)| format!(
                    "urn:epc:tag:sgtin-198:{f}.{c}.{r}.{}",
                    esc(&s)
                )
            ),
            (cp.clone(), digits(17 - cpl))
                .prop_map(move |(c, r): (String, _)| format!("urn:epc:tag:sscc-96:{f}.{c}.{r}")),
            (cp.clone(), digits(12 - cpl), int_below(41)).prop_map(
                move |(c, r, s): (String, String, String)| format!(
                    "urn:epc:tag:sgln-96:{f}.{c}.{r}.{s}"
                )
            ),
            (cp.clone(), digits(12 - cpl), cset82(1, 20)).prop_map(
                move |(c, r, s): (String, String, String)| format!(
                    "urn:epc:tag:sgln-195:{f}.{c}.{r}.{}",
                    esc(&s)
                )
            ),
            (cp.clone(), digits(12 - cpl), int_below(38)).prop_map(
                move |(c, r, s): (String, String, String)| format!(
                    "urn:epc:tag:grai-96:{f}.{c}.{r}.{s}"
                )
            ),
            (cp.clone(), digits(12 - cpl), cset82(1, 16)).prop_map(
                move |(c, r, s): (String, String, String)| format!(
                    "urn:epc:tag:grai-170:{f}.{c}.{r}.{}",
                    esc(&s)
                )
            ),
            (
                cp.clone(),
                0u64..10u64
                    .pow(u32::try_from(25 - cpl).unwrap() - 12)
                    .min(1 << 42)
            )
                .prop_map(move |(c, r): (String, _)| format!("urn:epc:tag:giai-96:{f}.{c}.{r}")),
            (cp, cset82(1, 30 - cpl)).prop_map(move |(c, r): (String, _)| format!(
                "urn:epc:tag:giai-202:{f}.{c}.{}",
                esc(&r)
            )),
        ]
    })
}

fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '%' | '&' | '/' | '<' | '>' | '?' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn gtin_check_digit_roundtrip(payload in digits(13), wrong in 1u8..10) {
        let gtin = complete_gtin(&payload).unwrap();
        prop_assert_eq!(normalize_gtin(&gtin).unwrap(), gtin.clone());
        let last = gtin.as_bytes()[13] - b'0';
        let bad = format!("{payload}{}", (last + wrong) % 10);
        prop_assert_eq!(normalize_gtin(&bad).unwrap_err().code(), "bad_check_digit");
        // Shorter forms normalise to the same 14 digits with leading zeros.
        let g13 = complete_gtin(&payload[1..]).unwrap();
        prop_assert_eq!(normalize_gtin(&g13).unwrap(), format!("0{g13}"));
    }

    #[test]
    fn element_string_bracketed_raw_roundtrip(els in proptest::collection::vec(element(), 1..6)) {
        let bracketed = to_bracketed(&els);
        prop_assert_eq!(parse_bracketed(&bracketed).unwrap(), els.clone());
        let raw = to_raw(&els);
        prop_assert_eq!(parse_raw(&raw).unwrap(), els.clone());
        prop_assert_eq!(to_bracketed(&parse_raw(&raw).unwrap()), bracketed);
    }

    #[test]
    fn epc_hex_uri_roundtrip(uri in tag_uri()) {
        let hex = encode_epc(&uri).unwrap();
        prop_assert_eq!(hex.len() % 4, 0);
        let e = decode_epc(&hex).unwrap();
        prop_assert_eq!(&e.tag_uri, &uri);
        prop_assert_eq!(&e.hex, &hex);
        // Pure identity -> tag with the same filter gives the same identity.
        let again = tag_from_pure_identity(&e.pure_identity_uri, e.filter).unwrap();
        prop_assert_eq!(&again.pure_identity_uri, &e.pure_identity_uri);
        prop_assert_eq!(decode_epc(&again.hex).unwrap(), again);
    }

    #[test]
    fn fuzz_any_string(s in any::<String>()) {
        let _ = parse_code(&s).map_err(|e| e.to_string());
        let _ = parse_bracketed(&s);
        let _ = parse_raw(&s);
        let _ = decode_epc(&s).map_err(|e| e.to_string());
        let _ = normalize_gtin(&s);
        let _ = decode_variable_measure(&s, &[VariableMeasureLayout::default()]);
    }

    #[test]
    fn fuzz_gs1_alphabet(s in "[0-9()\\]\\\\CdeQEIJ \u{1d}A-Za-z%#/é]{0,80}") {
        let _ = parse_code(&s).map_err(|e| e.to_string());
        let _ = parse_code(&format!("]C1{s}"));
        let _ = parse_code(&format!("({s}"));
    }

    #[test]
    fn fuzz_epc_hex(h in "(3[0-9A-F]|[0-9A-F]{2})[0-9A-Fa-f]{0,60}") {
        let _ = decode_epc(&h).map_err(|e| e.to_string());
    }

    #[test]
    fn fuzz_epc_uri(scheme in "(sgtin|sscc|sgln|grai|giai)(-96|-198|-195|-170|-202)?", body in "[0-9.%A-Fa-z/é]{0,40}") {
        let _ = decode_epc(&format!("urn:epc:tag:{scheme}:{body}")).map_err(|e| e.to_string());
        let _ = decode_epc(&format!("urn:epc:id:{scheme}:{body}")).map_err(|e| e.to_string());
    }

    #[test]
    fn fuzz_bytes(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let s = String::from_utf8_lossy(&b);
        let _ = parse_code(&s);
        let _ = decode_epc(&s);
    }
}
