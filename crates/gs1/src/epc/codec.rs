//! Binary (hex) <-> field conversion for the EPC schemes.

use super::Fields;
use super::bits::{Bits, Reader};
use super::scheme::{EpcScheme, First, Tail};
use crate::error::{Error, Result};

fn pow10(n: usize) -> u128 {
    10u128.pow(u32::try_from(n).unwrap_or(u32::MAX).min(38))
}

/// Decodes an EPC from hex (optionally `0x`-prefixed).
pub(crate) fn decode_hex(input: &str) -> Result<Fields> {
    let hex = input
        .strip_prefix("0x")
        .or_else(|| input.strip_prefix("0X"))
        .unwrap_or(input);
    if hex.is_empty() {
        return Err(Error::Empty);
    }
    let bits = Bits::from_hex(hex)?;
    if bits.0.len() < 8 {
        return Err(Error::BadLength {
            context: "EPC hex".into(),
            expected: "at least 2 hex digits (the header)".into(),
            found: hex.len(),
        });
    }
    let mut r = Reader::new(&bits.0);
    let scheme = EpcScheme::from_header(u8::try_from(r.uint(8)).unwrap_or(0))?;
    let def = scheme.def();
    let (min_hex, max_hex) = (def.bits.div_ceil(4), def.bits.div_ceil(16) * 4);
    if hex.len() < min_hex || hex.len() > max_hex {
        let expected = if min_hex == max_hex {
            format!("{min_hex} hex digits")
        } else {
            format!("{min_hex} to {max_hex} hex digits")
        };
        return Err(Error::BadLength {
            context: format!("{} hex", def.tag_name),
            expected,
            found: hex.len(),
        });
    }
    let filter = u8::try_from(r.uint(3)).unwrap_or(0);
    let partition = r.uint(3) as usize;
    let &(cb, cd, ob, od) = def
        .table
        .get(partition)
        .ok_or_else(|| Error::BadPartition {
            reason: format!(
                "{} partition value {partition} is reserved (valid: 0-6)",
                def.tag_name
            ),
        })?;
    let out_of_range = |what: &str, v: u128, digits: usize| Error::ValueOutOfRange {
        context: format!("{} {what}", def.tag_name),
        reason: format!("binary value {v} does not fit in {digits} digits (partition {partition})"),
    };
    let cp = u128::from(r.uint(cb));
    if cp >= pow10(cd) {
        return Err(out_of_range("company prefix", cp, cd));
    }
    let cp = format!("{cp:0cd$}");
    let first = match def.first {
        First::Padded | First::Unpadded => {
            let v = u128::from(r.uint(ob));
            if v >= pow10(od) {
                return Err(out_of_range("reference", v, od));
            }
            match (def.first, od) {
                (First::Padded, 0) => String::new(),
                (First::Padded, _) => format!("{v:0od$}"),
                _ => v.to_string(),
            }
        }
        First::Chars => {
            let s = r.chars(ob, &format!("{} asset reference", def.tag_name))?;
            check_chars_len(def.tag_name, "asset reference", &s, od)?;
            s
        }
    };
    let second = match def.tail {
        Tail::None => None,
        Tail::Int(b) => Some(r.uint(b).to_string()),
        Tail::Chars(b, max) => {
            let s = r.chars(b, &format!("{} serial", def.tag_name))?;
            check_chars_len(def.tag_name, "serial/extension", &s, max)?;
            Some(s)
        }
        Tail::Reserved(b) => {
            if !r.zeros(b) {
                return Err(Error::NonZeroPadding {
                    context: format!("{} reserved field", def.tag_name),
                });
            }
            None
        }
    };
    if !r.zeros(bits.0.len()) {
        return Err(Error::NonZeroPadding {
            context: format!("{} padding after bit {}", def.tag_name, def.bits),
        });
    }
    Ok(Fields {
        scheme,
        filter,
        cp,
        first,
        second,
    })
}

pub(crate) fn check_chars_len(scheme: &str, what: &str, s: &str, max: usize) -> Result<()> {
    let n = s.chars().count();
    if n == 0 || n > max {
        return Err(Error::ValueOutOfRange {
            context: format!("{scheme} {what}"),
            reason: format!("must have 1 to {max} characters, found {n}"),
        });
    }
    Ok(())
}

fn parse_u64(s: &str) -> u64 {
    s.bytes().fold(0u64, |a, b| {
        a.saturating_mul(10)
            .saturating_add(u64::from(b.wrapping_sub(b'0')))
    })
}

/// Encodes validated fields (see `uri::validate`) to bits.
pub(crate) fn encode(f: &Fields) -> Bits {
    let def = f.scheme.def();
    let partition = 12usize.saturating_sub(f.cp.len()).min(6);
    let (cb, _, ob, _) = def.table[partition];
    let mut b = Bits::default();
    b.push_uint(u64::from(def.header), 8);
    b.push_uint(u64::from(f.filter), 3);
    b.push_uint(partition as u64, 3);
    b.push_uint(parse_u64(&f.cp), cb);
    match def.first {
        First::Padded | First::Unpadded => b.push_uint(parse_u64(&f.first), ob),
        First::Chars => b.push_chars(&f.first, ob),
    }
    match (def.tail, &f.second) {
        (Tail::Int(w), Some(s)) => b.push_uint(parse_u64(s), w),
        (Tail::Chars(w, _), Some(s)) => b.push_chars(s, w),
        (Tail::Reserved(w), _) => b.push_uint(0, w),
        _ => {}
    }
    b
}
