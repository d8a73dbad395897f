//! EPC Tag Data Standard (TDS 1.13 / 2.x) binary encodings for RFID tags.
//!
//! Supported schemes: SGTIN-96, SGTIN-198, SSCC-96, SGLN-96, SGLN-195,
//! GRAI-96, GRAI-170, GIAI-96 and GIAI-202. Each can be converted between:
//!
//! * hex, as read from the tag's EPC memory bank (after the PC word), e.g.
//!   `3074257BF7194E4000001A85`;
//! * the tag URI, e.g. `urn:epc:tag:sgtin-96:3.0614141.812345.6789`, which
//!   carries the filter and (via the company prefix length) the partition;
//! * the pure-identity URI, e.g. `urn:epc:id:sgtin:0614141.812345.6789`,
//!   which identifies the object independently of the tag;
//! * the GS1 keys (GTIN + serial, SSCC, GLN + extension, GRAI, GIAI).
//!
//! Alphanumeric components (SGTIN-198 serials, SGLN-195 extensions,
//! GRAI-170 serials, GIAI-202 references) are %-escaped in URIs as TDS
//! requires for `"%&/<>?`; the [`Epc`] struct holds them unescaped.

mod bits;
mod codec;
mod scheme;
mod uri;

pub use scheme::EpcScheme;

use crate::error::{Error, Result};
use crate::gtin::check_digit;
use crate::scan::ErrorInfo;
use scheme::{First, Tail};

/// Internal decoded form shared by all representations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fields {
    pub(crate) scheme: EpcScheme,
    pub(crate) filter: u8,
    pub(crate) cp: String,
    /// Item reference / serial reference / location reference / asset type
    /// / individual asset reference (unescaped).
    pub(crate) first: String,
    /// Serial or extension (unescaped), for schemes that have one.
    pub(crate) second: Option<String>,
}

/// A decoded EPC with every representation filled in. With the `serde`
/// feature it serialises to the JSON that `epc decode` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Epc {
    /// The binary coding scheme, serialised as its tag-URI name (`"sgtin-96"`).
    pub scheme: EpcScheme,
    /// Filter value 0-7 (e.g. 1 = point-of-sale trade item for SGTIN).
    pub filter: u8,
    /// Partition value 0-6, i.e. 12 minus the company prefix length.
    pub partition: u8,
    /// GS1 company prefix digits.
    pub company_prefix: String,
    /// SGTIN: indicator digit + item reference.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub item_reference: Option<String>,
    /// SSCC: extension digit + serial reference.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub serial_reference: Option<String>,
    /// SGLN: location reference (empty for 12-digit company prefixes).
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub location_reference: Option<String>,
    /// SGLN: GLN extension (`"0"` means none).
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub extension: Option<String>,
    /// GRAI: asset type.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub asset_type: Option<String>,
    /// GIAI: individual asset reference (unescaped).
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub asset_reference: Option<String>,
    /// SGTIN/GRAI serial (unescaped).
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub serial: Option<String>,
    /// SGTIN: the GTIN-14.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub gtin: Option<String>,
    /// SSCC: the 18-digit SSCC.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub sscc: Option<String>,
    /// SGLN: the 13-digit GLN.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub gln: Option<String>,
    /// GRAI: the AI (8003) value (`0` + GRAI-13 + serial).
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub grai: Option<String>,
    /// GIAI: the AI (8004) value.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub giai: Option<String>,
    /// The GS1 element string equivalent, bracketed, e.g.
    /// `(01)80614141123458(21)6789`.
    pub element_string: String,
    /// Tag URI (carries filter and scheme).
    pub tag_uri: String,
    /// Pure-identity URI.
    pub pure_identity_uri: String,
    /// Uppercase hex of the binary encoding, zero-padded to 16-bit words.
    pub hex: String,
}

fn build(f: Fields) -> Epc {
    let def = f.scheme.def();
    let hex = codec::encode(&f).to_hex();
    let body = uri::body(&f);
    let partition = u8::try_from(12usize.saturating_sub(f.cp.len())).unwrap_or(0);
    let key = |digits: String| {
        let cd = check_digit(&digits).unwrap_or(0);
        format!("{digits}{cd}")
    };
    let mut e = Epc {
        scheme: f.scheme,
        filter: f.filter,
        partition,
        company_prefix: f.cp.clone(),
        item_reference: None,
        serial_reference: None,
        location_reference: None,
        extension: None,
        asset_type: None,
        asset_reference: None,
        serial: None,
        gtin: None,
        sscc: None,
        gln: None,
        grai: None,
        giai: None,
        element_string: String::new(),
        tag_uri: format!("urn:epc:tag:{}:{}.{body}", def.tag_name, f.filter),
        pure_identity_uri: format!("urn:epc:id:{}:{body}", def.id_name),
        hex,
    };
    let second = f.second.clone().unwrap_or_default();
    let head = f.first.get(..1).unwrap_or("").to_string();
    let tail = f.first.get(1..).unwrap_or("").to_string();
    match def.id_name {
        "sgtin" => {
            let gtin = key(format!("{head}{}{tail}", f.cp));
            e.element_string = format!("(01){gtin}(21){}", second.replace('(', "\\("));
            e.gtin = Some(gtin);
            e.item_reference = Some(f.first);
            e.serial = f.second;
        }
        "sscc" => {
            let sscc = key(format!("{head}{}{tail}", f.cp));
            e.element_string = format!("(00){sscc}");
            e.sscc = Some(sscc);
            e.serial_reference = Some(f.first);
        }
        "sgln" => {
            let gln = key(format!("{}{}", f.cp, f.first));
            e.element_string = format!("(414){gln}");
            if second != "0" {
                e.element_string += &format!("(254){}", second.replace('(', "\\("));
            }
            e.gln = Some(gln);
            e.location_reference = Some(f.first);
            e.extension = f.second;
        }
        "grai" => {
            let grai = format!("0{}{second}", key(format!("{}{}", f.cp, f.first)));
            e.element_string = format!("(8003){}", grai.replace('(', "\\("));
            e.grai = Some(grai);
            e.asset_type = Some(f.first);
            e.serial = f.second;
        }
        _ => {
            let giai = format!("{}{}", f.cp, f.first);
            e.element_string = format!("(8004){}", giai.replace('(', "\\("));
            e.giai = Some(giai);
            e.asset_reference = Some(f.first);
        }
    }
    e
}

/// Decodes an EPC given as hex (optionally `0x`-prefixed), a tag URI
/// (`urn:epc:tag:…`) or a pure-identity URI (`urn:epc:id:…`).
///
/// A pure-identity URI has no filter or scheme, so defaults are used: filter
/// 0 ("all others") and the 96-bit scheme when the serial/reference fits it
/// (decimal, no leading zeros, within its bits), otherwise the alphanumeric
/// scheme (-198/-195/-170/-202). Use [`tag_from_pure_identity`] to choose
/// the filter.
///
/// ```
/// let e = gs1::decode_epc("3074257BF7194E4000001A85").unwrap();
/// assert_eq!(e.tag_uri, "urn:epc:tag:sgtin-96:3.0614141.812345.6789");
/// assert_eq!(e.pure_identity_uri, "urn:epc:id:sgtin:0614141.812345.6789");
/// assert_eq!(e.gtin.as_deref(), Some("80614141123458"));
/// ```
pub fn decode_epc(input: &str) -> Result<Epc> {
    let input = input.trim();
    if input.is_empty() {
        return Err(Error::Empty);
    }
    if input.starts_with("urn:epc:tag:") {
        return Ok(build(uri::parse_tag_uri(input)?));
    }
    if input.starts_with("urn:epc:id:") {
        return tag_from_pure_identity(input, 0);
    }
    if input.starts_with("urn:") {
        return Err(Error::BadUri {
            reason: "only urn:epc:tag: and urn:epc:id: URIs are supported".into(),
        });
    }
    Ok(build(codec::decode_hex(input)?))
}

/// Encodes an EPC tag URI (or anything [`decode_epc`] accepts) to hex.
///
/// ```
/// assert_eq!(
///     gs1::encode_epc("urn:epc:tag:sgtin-96:3.0614141.812345.6789").unwrap(),
///     "3074257BF7194E4000001A85"
/// );
/// ```
pub fn encode_epc(tag_uri: &str) -> Result<String> {
    decode_epc(tag_uri).map(|e| e.hex)
}

/// Turns a pure-identity URI into a tag encoding with the given filter,
/// choosing the scheme as described in [`decode_epc`].
pub fn tag_from_pure_identity(uri: &str, filter: u8) -> Result<Epc> {
    if filter > 7 {
        return Err(Error::BadFilter {
            found: filter.to_string(),
        });
    }
    let (name, body) = uri::split_pure_uri(uri.trim())?;
    let parts: Vec<&str> = body
        .splitn(
            if matches!(name, "sscc" | "giai") {
                2
            } else {
                3
            },
            '.',
        )
        .collect();
    let cp_len = parts.first().map_or(0, |p| p.len());
    let partition = 12usize.saturating_sub(cp_len).min(6);
    let pick = |small: EpcScheme, large: EpcScheme, idx: usize| {
        let def = small.def();
        let fits = match (idx, def.first, def.tail) {
            (1, First::Unpadded, _) => {
                let (_, _, ob, od) = def.table[partition];
                parts.get(1).is_some_and(|s| uri::fits_int(s, ob, Some(od)))
            }
            (2, _, Tail::Int(bits)) => parts.get(2).is_some_and(|s| uri::fits_int(s, bits, None)),
            _ => true,
        };
        if fits { small } else { large }
    };
    let scheme = match name {
        "sgtin" => pick(EpcScheme::Sgtin96, EpcScheme::Sgtin198, 2),
        "sscc" => EpcScheme::Sscc96,
        "sgln" => pick(EpcScheme::Sgln96, EpcScheme::Sgln195, 2),
        "grai" => pick(EpcScheme::Grai96, EpcScheme::Grai170, 2),
        "giai" => pick(EpcScheme::Giai96, EpcScheme::Giai202, 1),
        other => {
            return Err(Error::UnsupportedScheme {
                scheme: other.to_string(),
            });
        }
    };
    Ok(build(uri::parse_components(scheme, filter, body)?))
}

/// What `epc decode` prints: `{"valid", …Epc fields…, "error"?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EpcReport {
    /// `true` if the input decoded.
    pub valid: bool,
    /// The decoded EPC, flattened into the report.
    #[cfg_attr(
        feature = "serde",
        serde(flatten, default, skip_serializing_if = "Option::is_none")
    )]
    pub epc: Option<Epc>,
    /// Why the input is invalid.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub error: Option<ErrorInfo>,
}

impl From<Result<Epc>> for EpcReport {
    fn from(r: Result<Epc>) -> Self {
        match r {
            Ok(epc) => EpcReport {
                valid: true,
                epc: Some(epc),
                error: None,
            },
            Err(e) => EpcReport {
                valid: false,
                epc: None,
                error: Some(ErrorInfo::from(&e)),
            },
        }
    }
}

/// [`decode_epc`] wrapped into an [`EpcReport`].
pub fn decode_epc_report(input: &str) -> EpcReport {
    EpcReport::from(decode_epc(input))
}
