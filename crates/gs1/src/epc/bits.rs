//! Bit-level helpers for EPC binary encodings: hex conversion, unsigned
//! integer fields (up to 64 bits) and 7-bit character string fields.

use crate::charset::is_cset82;
use crate::error::{Error, Result};

/// A growable big-endian bit string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Bits(pub(crate) Vec<bool>);

impl Bits {
    pub(crate) fn push_uint(&mut self, value: u64, width: usize) {
        for i in (0..width).rev() {
            self.0.push(i < 64 && (value >> i) & 1 == 1);
        }
    }

    /// Appends `s` as 7-bit ASCII, then zero bits up to `width`.
    pub(crate) fn push_chars(&mut self, s: &str, width: usize) {
        let start = self.0.len();
        for b in s.bytes() {
            self.push_uint(u64::from(b), 7);
        }
        while self.0.len() < start + width {
            self.0.push(false);
        }
    }

    /// Hex, uppercase, zero-padded to a multiple of 16 bits as EPC memory is
    /// organised in 16-bit words.
    pub(crate) fn to_hex(&self) -> String {
        let mut bits = self.0.clone();
        while !bits.len().is_multiple_of(16) {
            bits.push(false);
        }
        bits.chunks(4)
            .map(|nib| {
                let v = nib.iter().fold(0u32, |acc, &b| (acc << 1) | u32::from(b));
                char::from_digit(v, 16).unwrap_or('0').to_ascii_uppercase()
            })
            .collect()
    }

    pub(crate) fn from_hex(hex: &str) -> Result<Bits> {
        let mut bits = Vec::with_capacity(hex.len() * 4);
        for (offset, c) in hex.chars().enumerate() {
            let v = c.to_digit(16).ok_or(Error::BadCharacter {
                context: "EPC hex".into(),
                offset,
                found: c,
                allowed: "hex digits 0-9 A-F",
            })?;
            for i in (0..4).rev() {
                bits.push((v >> i) & 1 == 1);
            }
        }
        Ok(Bits(bits))
    }
}

/// Sequential reader over a bit string.
pub(crate) struct Reader<'a> {
    bits: &'a [bool],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bits: &'a [bool]) -> Self {
        Reader { bits, pos: 0 }
    }

    fn take(&mut self, width: usize) -> &'a [bool] {
        let end = (self.pos + width).min(self.bits.len());
        let s = &self.bits[self.pos.min(end)..end];
        self.pos = end;
        s
    }

    /// Reads an unsigned integer of `width` bits (callers use widths <= 64
    /// for numeric fields; wider all-zero fields are checked with
    /// [`Reader::zeros`]).
    pub(crate) fn uint(&mut self, width: usize) -> u64 {
        self.take(width)
            .iter()
            .fold(0u64, |acc, &b| (acc << 1) | u64::from(b))
    }

    /// Reads `width` bits and reports whether they are all zero.
    pub(crate) fn zeros(&mut self, width: usize) -> bool {
        self.take(width).iter().all(|b| !b)
    }

    /// Reads a 7-bit string field of `width` bits: characters until the
    /// first all-zero character, after which every bit must be zero.
    pub(crate) fn chars(&mut self, width: usize, context: &str) -> Result<String> {
        let field = self.take(width);
        let mut out = String::new();
        let mut ended = false;
        for (i, chunk) in field.chunks(7).enumerate() {
            let v = chunk.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b));
            if ended || chunk.len() < 7 {
                if v != 0 {
                    return Err(Error::NonZeroPadding {
                        context: context.into(),
                    });
                }
                ended = true;
                continue;
            }
            if v == 0 {
                ended = true;
                continue;
            }
            let c = char::from(v);
            if !is_cset82(c) {
                return Err(Error::BadCharacter {
                    context: context.into(),
                    offset: i,
                    found: c,
                    allowed: "GS1 CSET 82",
                });
            }
            out.push(c);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut b = Bits::default();
        b.push_uint(0x30, 8);
        b.push_uint(3, 3);
        b.push_chars("A1", 20);
        assert_eq!(b.0.len(), 31);
        let mut r = Reader::new(&b.0);
        assert_eq!(r.uint(8), 0x30);
        assert_eq!(r.uint(3), 3);
        assert_eq!(r.chars(20, "x").unwrap(), "A1");
        assert_eq!(Bits::from_hex(&b.to_hex()).unwrap().0[..31], b.0[..]);
        assert_eq!(Bits::from_hex("3G").unwrap_err().code(), "bad_character");
    }
}
