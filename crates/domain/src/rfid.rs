//! RFID reads: what a reader reports, how each read is classified, and the de-duplication
//! window.
//!
//! A reader sees the same tag many times a second, so a read only counts when its EPC was
//! not accepted at the same location within the window (also across requests: the last
//! accepted time is stored per (location, EPC)). Every read ends in exactly one class —
//! accepted, duplicate, unknown (an SGTIN whose GTIN the catalog lacks) or invalid (not a
//! decodable product tag) — so `received = accepted + duplicates + unknown + invalid`
//! always holds and nothing is dropped silently.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::stock::MAX_FUTURE_SKEW;
use crate::validation::{self, Errors, FieldError, Validated};

/// Most reads accepted in one request.
pub const MAX_READS: usize = 5_000;
/// The de-duplication window when the server is not told otherwise.
pub const DEFAULT_WINDOW: Duration = Duration::seconds(60);
/// Longest EPC text looked at (a 202-bit GIAI tag URI is well below).
pub const MAX_EPC: usize = 256;

/// A batch of reads as a reader posts it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReadsInput {
    /// The reader's id (a registered device's id, or a gateway's name for its readers).
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub reader: String,
    /// The location; a device's own location when absent.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<32>>")
    )]
    pub location: Option<String>,
    /// The reads, in any order.
    pub reads: Vec<ReadInput>,
}

/// One read.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// The EPC: hex from the EPC bank, a tag URI or a pure-identity URI.
    pub epc: String,
    /// The antenna port.
    pub antenna: Option<i64>,
    /// Signal strength in dBm.
    pub rssi: Option<f64>,
    /// When the reader saw the tag (RFC 3339).
    pub seen_at: DateTime<Utc>,
}

/// A read whose EPC decoded to a trade item (an SGTIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRead {
    /// Index in the request.
    pub index: usize,
    /// The EPC as sent.
    pub raw: String,
    /// The tag's identity: its pure-identity URI, the same whatever form the reader sent.
    pub epc: String,
    /// The GTIN (14 digits).
    pub gtin: String,
    /// The serial.
    pub serial: String,
    /// The antenna port.
    pub antenna: Option<i64>,
    /// When it was seen.
    pub seen_at: DateTime<Utc>,
}

/// A read that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct InvalidRead {
    /// The EPC as sent.
    pub epc: String,
    /// Stable code: `gs1` error codes, `not_a_product_tag`, `in_future`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
}

/// A validated batch: its reader and its reads, split into tags and invalid reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBatch {
    /// The reader's id.
    pub reader: String,
    /// How many reads the request held.
    pub received: usize,
    /// Reads of product tags, in input order.
    pub tags: Vec<TagRead>,
    /// Reads that could not be used, in input order.
    pub invalid: Vec<InvalidRead>,
}

impl ReadsInput {
    /// Checks the request's shape (422 when wrong) and decodes every EPC; an undecodable
    /// EPC or a read from the future is not an error of the request but an invalid read.
    pub fn validate(&self, now: DateTime<Utc>) -> Validated<ReadBatch> {
        let mut errors = Errors::default();
        let reader = errors.take(validation::code("reader", &self.reader, 64));
        if self.reads.is_empty() || self.reads.len() > MAX_READS {
            errors.push(FieldError::new(
                "reads",
                if self.reads.is_empty() {
                    "required"
                } else {
                    "too_many"
                },
                format!("a request holds 1 to {MAX_READS} reads"),
            ));
        }
        let mut tags = Vec::with_capacity(self.reads.len());
        let mut invalid = Vec::new();
        for (index, read) in self.reads.iter().enumerate() {
            if let Some(a) = read.antenna
                && !(0..=255).contains(&a)
            {
                errors.push(FieldError::new(
                    format!("reads[{index}].antenna"),
                    "out_of_range",
                    "antenna is 0 to 255",
                ));
            }
            if let Some(r) = read.rssi
                && !(r.is_finite() && (-200.0..=50.0).contains(&r))
            {
                errors.push(FieldError::new(
                    format!("reads[{index}].rssi"),
                    "out_of_range",
                    "rssi is -200 to 50 dBm",
                ));
            }
            match classify(read, now) {
                Ok(tag) => tags.push(TagRead { index, ..tag }),
                Err(bad) => invalid.push(bad),
            }
        }
        errors.finish(|| {
            Some(ReadBatch {
                reader: reader?,
                received: self.reads.len(),
                tags,
                invalid,
            })
        })
    }
}

fn classify(read: &ReadInput, now: DateTime<Utc>) -> Result<TagRead, InvalidRead> {
    let raw: String = read.epc.chars().take(MAX_EPC).collect();
    let bad = |error: &str, message: String| InvalidRead {
        epc: raw.clone(),
        error: error.to_owned(),
        message,
    };
    if read.epc.len() > MAX_EPC {
        return Err(bad(
            "too_long",
            format!("an EPC is at most {MAX_EPC} characters"),
        ));
    }
    if read.seen_at > now + MAX_FUTURE_SKEW {
        return Err(bad(
            "in_future",
            "seen_at is more than 24 hours ahead; check the reader's clock".to_owned(),
        ));
    }
    let epc = gs1::decode_epc(&read.epc).map_err(|e| bad(e.code(), e.to_string()))?;
    match (epc.gtin, epc.serial) {
        (Some(gtin), Some(serial)) => Ok(TagRead {
            index: 0,
            raw: raw.clone(),
            epc: epc.pure_identity_uri,
            gtin,
            serial,
            antenna: read.antenna,
            seen_at: read.seen_at,
        }),
        _ => Err(bad(
            "not_a_product_tag",
            format!(
                "{} is a {:?} tag, not a serialised trade item (SGTIN)",
                epc.pure_identity_uri, epc.scheme
            ),
        )),
    }
}

/// What the window makes of the reads of one EPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deduped {
    /// Reads that counted.
    pub accepted: usize,
    /// Reads within the window of an accepted one.
    pub duplicates: usize,
    /// The latest accepted time, to store for the next request.
    pub last_accepted: Option<DateTime<Utc>>,
}

/// Classifies the reads of one EPC at one location. `previous` is the last time it was
/// accepted there (from earlier requests). Reads are taken in time order; a read counts
/// when no accepted read of the EPC lies within `window` of it, before or after (so a
/// late-arriving batch from another reader does not count a tag twice).
pub fn dedupe(
    previous: Option<DateTime<Utc>>,
    seen: &mut [DateTime<Utc>],
    window: Duration,
) -> Deduped {
    seen.sort_unstable();
    let mut accepted_times: Vec<DateTime<Utc>> = previous.into_iter().collect();
    let mut out = Deduped {
        accepted: 0,
        duplicates: 0,
        last_accepted: previous,
    };
    for &t in seen.iter() {
        if accepted_times.iter().any(|&a| (t - a).abs() < window) {
            out.duplicates += 1;
        } else {
            out.accepted += 1;
            accepted_times.push(t);
            out.last_accepted = Some(out.last_accepted.map_or(t, |l| l.max(t)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn reads_within_the_window_of_an_accepted_read_are_duplicates() {
        let w = Duration::seconds(60);
        let d = dedupe(None, &mut [at(0), at(10), at(59), at(61), at(200)], w);
        assert_eq!((d.accepted, d.duplicates), (3, 2), "0, 61 and 200 count");
        assert_eq!(d.last_accepted, Some(at(200)));
        let d = dedupe(Some(at(100)), &mut [at(130), at(50)], w);
        assert_eq!(
            (d.accepted, d.duplicates),
            (0, 2),
            "both near the stored one"
        );
        assert_eq!(d.last_accepted, Some(at(100)));
        let d = dedupe(Some(at(100)), &mut [at(0)], w);
        assert_eq!(
            (d.accepted, d.last_accepted),
            (1, Some(at(100))),
            "a late old read counts"
        );
    }

    #[test]
    fn every_read_is_a_tag_or_an_invalid_read() {
        let read = |epc: &str, seen_at| ReadInput {
            epc: epc.into(),
            antenna: Some(1),
            rssi: Some(-50.5),
            seen_at,
        };
        let now = at(0);
        let input = ReadsInput {
            reader: "R1".into(),
            location: None,
            reads: vec![
                read("3074257BF7194E4000001A85", now),
                read("urn:epc:id:sgtin:0614141.812345.6789", now),
                read("3074257BF7194E4000001A8", now),
                read("urn:epc:id:sscc:0614141.1234567890", now),
                read("3074257BF7194E4000001A85", now + Duration::days(2)),
            ],
        };
        let batch = input.validate(now).unwrap();
        assert_eq!(batch.received, 5);
        assert_eq!(batch.tags.len(), 2);
        assert_eq!(
            batch.tags[0].epc, batch.tags[1].epc,
            "hex and URI are one tag"
        );
        assert_eq!(batch.tags[0].gtin, "80614141123458");
        let errors: Vec<&str> = batch.invalid.iter().map(|i| i.error.as_str()).collect();
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[1..], ["not_a_product_tag", "in_future"]);
    }
}
