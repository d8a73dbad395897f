//! EPC binary coding schemes and their partition tables (EPC Tag Data
//! Standard 1.13 / 2.x, section 14).

use crate::error::{Error, Result};

/// A supported EPC binary coding scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum EpcScheme {
    /// `sgtin-96`: GTIN + numeric serial (38 bits).
    #[cfg_attr(feature = "serde", serde(rename = "sgtin-96"))]
    Sgtin96,
    /// `sgtin-198`: GTIN + alphanumeric serial (up to 20 characters).
    #[cfg_attr(feature = "serde", serde(rename = "sgtin-198"))]
    Sgtin198,
    /// `sscc-96`: serial shipping container code.
    #[cfg_attr(feature = "serde", serde(rename = "sscc-96"))]
    Sscc96,
    /// `sgln-96`: GLN + numeric extension (41 bits).
    #[cfg_attr(feature = "serde", serde(rename = "sgln-96"))]
    Sgln96,
    /// `sgln-195`: GLN + alphanumeric extension (up to 20 characters).
    #[cfg_attr(feature = "serde", serde(rename = "sgln-195"))]
    Sgln195,
    /// `grai-96`: returnable asset + numeric serial (38 bits).
    #[cfg_attr(feature = "serde", serde(rename = "grai-96"))]
    Grai96,
    /// `grai-170`: returnable asset + alphanumeric serial (up to 16 characters).
    #[cfg_attr(feature = "serde", serde(rename = "grai-170"))]
    Grai170,
    /// `giai-96`: individual asset, numeric reference.
    #[cfg_attr(feature = "serde", serde(rename = "giai-96"))]
    Giai96,
    /// `giai-202`: individual asset, alphanumeric reference.
    #[cfg_attr(feature = "serde", serde(rename = "giai-202"))]
    Giai202,
}

/// How the field after the company prefix is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum First {
    /// Integer, zero-padded to the partition's digit count.
    Padded,
    /// Integer without leading zeros, at most the partition's digit count.
    Unpadded,
    /// 7-bit characters, at most the partition's "digit" count.
    Chars,
}

/// The field after the partitioned part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Nothing (GIAI).
    None,
    /// Integer without leading zeros in `bits` bits.
    Int(usize),
    /// 7-bit characters in `bits` bits, at most `max` of them.
    Chars(usize, usize),
    /// Reserved bits that must be zero (SSCC-96).
    Reserved(usize),
}

/// (company prefix bits, digits, other bits, other digits/characters) for
/// partitions 0..=6.
pub(crate) type Partition = [(usize, usize, usize, usize); 7];

/// SGTIN (table 14-2): the "other" field is indicator digit + item reference.
pub(crate) const SGTIN: Partition = [
    (40, 12, 4, 1),
    (37, 11, 7, 2),
    (34, 10, 10, 3),
    (30, 9, 14, 4),
    (27, 8, 17, 5),
    (24, 7, 20, 6),
    (20, 6, 24, 7),
];
/// SSCC (table 14-5): extension digit + serial reference.
pub(crate) const SSCC: Partition = [
    (40, 12, 18, 5),
    (37, 11, 21, 6),
    (34, 10, 24, 7),
    (30, 9, 28, 8),
    (27, 8, 31, 9),
    (24, 7, 34, 10),
    (20, 6, 38, 11),
];
/// GRAI (table 14-11): asset type.
pub(crate) const GRAI: Partition = [
    (40, 12, 4, 0),
    (37, 11, 7, 1),
    (34, 10, 10, 2),
    (30, 9, 14, 3),
    (27, 8, 17, 4),
    (24, 7, 20, 5),
    (20, 6, 24, 6),
];
/// SGLN (table 14-8): location reference.
pub(crate) const SGLN: Partition = [
    (40, 12, 1, 0),
    (37, 11, 4, 1),
    (34, 10, 7, 2),
    (30, 9, 11, 3),
    (27, 8, 14, 4),
    (24, 7, 17, 5),
    (20, 6, 21, 6),
];
/// GIAI-96 (table 14-14): individual asset reference, max digits.
pub(crate) const GIAI96: Partition = [
    (40, 12, 42, 13),
    (37, 11, 45, 14),
    (34, 10, 48, 15),
    (30, 9, 52, 16),
    (27, 8, 55, 17),
    (24, 7, 58, 18),
    (20, 6, 62, 19),
];
/// GIAI-202 (table 14-15): individual asset reference, max characters.
pub(crate) const GIAI202: Partition = [
    (40, 12, 148, 18),
    (37, 11, 151, 19),
    (34, 10, 154, 20),
    (30, 9, 158, 21),
    (27, 8, 161, 22),
    (24, 7, 164, 23),
    (20, 6, 168, 24),
];

/// Static description of one scheme.
#[derive(Debug)]
pub(crate) struct Def {
    pub(crate) scheme: EpcScheme,
    pub(crate) header: u8,
    pub(crate) bits: usize,
    pub(crate) tag_name: &'static str,
    pub(crate) id_name: &'static str,
    pub(crate) table: &'static Partition,
    pub(crate) first: First,
    pub(crate) tail: Tail,
    /// Total digits of company prefix + padded first field (13 for SGTIN,
    /// 17 for SSCC, 12 for SGLN/GRAI); 0 when the first field is unpadded.
    pub(crate) key_digits: usize,
}

#[rustfmt::skip]
pub(crate) static DEFS: [Def; 9] = [
    Def { scheme: EpcScheme::Sgtin96, header: 0x30, bits: 96, tag_name: "sgtin-96", id_name: "sgtin", table: &SGTIN, first: First::Padded, tail: Tail::Int(38), key_digits: 13 },
    Def { scheme: EpcScheme::Sgtin198, header: 0x36, bits: 198, tag_name: "sgtin-198", id_name: "sgtin", table: &SGTIN, first: First::Padded, tail: Tail::Chars(140, 20), key_digits: 13 },
    Def { scheme: EpcScheme::Sscc96, header: 0x31, bits: 96, tag_name: "sscc-96", id_name: "sscc", table: &SSCC, first: First::Padded, tail: Tail::Reserved(24), key_digits: 17 },
    Def { scheme: EpcScheme::Sgln96, header: 0x32, bits: 96, tag_name: "sgln-96", id_name: "sgln", table: &SGLN, first: First::Padded, tail: Tail::Int(41), key_digits: 12 },
    Def { scheme: EpcScheme::Sgln195, header: 0x39, bits: 195, tag_name: "sgln-195", id_name: "sgln", table: &SGLN, first: First::Padded, tail: Tail::Chars(140, 20), key_digits: 12 },
    Def { scheme: EpcScheme::Grai96, header: 0x33, bits: 96, tag_name: "grai-96", id_name: "grai", table: &GRAI, first: First::Padded, tail: Tail::Int(38), key_digits: 12 },
    Def { scheme: EpcScheme::Grai170, header: 0x37, bits: 170, tag_name: "grai-170", id_name: "grai", table: &GRAI, first: First::Padded, tail: Tail::Chars(112, 16), key_digits: 12 },
    Def { scheme: EpcScheme::Giai96, header: 0x34, bits: 96, tag_name: "giai-96", id_name: "giai", table: &GIAI96, first: First::Unpadded, tail: Tail::None, key_digits: 0 },
    Def { scheme: EpcScheme::Giai202, header: 0x38, bits: 202, tag_name: "giai-202", id_name: "giai", table: &GIAI202, first: First::Chars, tail: Tail::None, key_digits: 0 },
];

/// Headers of TDS schemes this crate recognises but does not decode.
const UNSUPPORTED: &[(u8, &str)] = &[
    (0x2C, "gdti-96"),
    (0x2D, "gsrn-96"),
    (0x2E, "gsrnp-96"),
    (0x2F, "usdod-96"),
    (0x35, "gid-96"),
    (0x3A, "adi-var"),
    (0x3B, "adi-var"),
    (0x3C, "cpi-96"),
    (0x3D, "cpi-var"),
    (0x3E, "gdti-174"),
    (0x3F, "sgcn-96"),
    (0x40, "itip-110"),
    (0x41, "itip-212"),
];

impl EpcScheme {
    pub(crate) fn def(self) -> &'static Def {
        // DEFS is indexed in declaration order of the enum.
        &DEFS[self as usize]
    }

    /// Tag-URI name, e.g. `"sgtin-96"`.
    pub fn name(self) -> &'static str {
        self.def().tag_name
    }

    /// Pure-identity URI name, e.g. `"sgtin"`.
    pub fn identity(self) -> &'static str {
        self.def().id_name
    }

    /// The 8-bit binary header, e.g. `0x30`.
    pub fn header(self) -> u8 {
        self.def().header
    }

    /// Number of bits of the binary encoding (before word padding).
    pub fn bits(self) -> usize {
        self.def().bits
    }

    /// Scheme by tag-URI name.
    pub(crate) fn from_name(name: &str) -> Result<Self> {
        DEFS.iter()
            .find(|d| d.tag_name == name)
            .map(|d| d.scheme)
            .ok_or_else(|| Error::UnsupportedScheme {
                scheme: name.to_string(),
            })
    }

    /// Scheme by binary header.
    pub(crate) fn from_header(header: u8) -> Result<Self> {
        if let Some(d) = DEFS.iter().find(|d| d.header == header) {
            return Ok(d.scheme);
        }
        match UNSUPPORTED.iter().find(|(h, _)| *h == header) {
            Some((_, name)) => Err(Error::UnsupportedScheme {
                scheme: (*name).to_string(),
            }),
            None => Err(Error::UnknownHeader { header }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_consistent() {
        for (i, d) in DEFS.iter().enumerate() {
            assert_eq!(d.scheme as usize, i);
            let tail = match d.tail {
                Tail::None => 0,
                Tail::Int(b) | Tail::Chars(b, _) | Tail::Reserved(b) => b,
            };
            for (p, &(cb, cd, ob, od)) in d.table.iter().enumerate() {
                assert_eq!(cd, 12 - p);
                assert_eq!(8 + 3 + 3 + cb + ob + tail, d.bits, "{} P={p}", d.tag_name);
                assert!(10u128.pow(cd as u32) <= 1u128 << cb);
                if d.first == First::Padded {
                    assert_eq!(cd + od, d.key_digits);
                    assert!(10u128.pow(od as u32) <= 1u128 << ob);
                }
            }
        }
    }
}
