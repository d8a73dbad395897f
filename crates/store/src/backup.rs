//! The portable backup format: JSON Lines, one header then one record per line.
//!
//! It is ours and database-neutral, so a backup of SQLite restores into PostgreSQL and back;
//! this is also how an installation moves between backends. The header names the format
//! and version; the trailer counts the records so a truncated file is detected.
//!
//! ```text
//! {"format":"stockbook-backup","version":1,"created_at":"…","backend":"sqlite"}
//! {"type":"location","code":"WH","name":"Main", …}
//! {"type":"product", …}
//! {"type":"level", …}
//! {"type":"movement", …}
//! {"type":"user", …} {"type":"token", …}
//! {"type":"price_list", …} {"type":"customer", …} {"type":"customer_prices", …}
//! {"type":"order", …} {"type":"idempotency_key", …} {"type":"event", …} {"type":"audit", …}
//! {"type":"sink_cursor", …} {"type":"device", …} {"type":"sale", …} {"type":"tag", …}
//! {"type":"count", …} {"type":"transfer", …} {"type":"threshold", …} {"type":"alert", …}
//! {"type":"webhook", …}
//! {"type":"edge_sync", …} {"type":"edge_hq_level", …} {"type":"edge_mirrored", …}   (edge nodes)
//! {"type":"end","records":1234}
//! ```

use chrono::{DateTime, Utc};
use domain::catalog::{Location, Product};
use domain::customer::Customer;
use domain::order::Order;
use domain::pricing::{PriceEntry, PriceList};
use domain::stock::{Level, Movement};
use serde::{Deserialize, Serialize};

/// Name written in the header; anything else is not one of our backups.
pub const FORMAT: &str = "stockbook-backup";
/// Version of the format written; restore refuses newer ones.
pub const VERSION: u32 = 1;

/// First line of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] at the time of writing.
    pub version: u32,
    /// When the snapshot was taken.
    pub created_at: DateTime<Utc>,
    /// The backend it was taken from.
    pub backend: String,
}

/// A stored API token, by hash; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Internal id.
    pub token_id: i64,
    /// Human label.
    pub name: String,
    /// Role name.
    pub role: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The customer a `customer` token acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The locations a `staff`, `clerk` or `device` token is bound to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// The scopes of an `integration` token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The user a login token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// One line of a backup after the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BackupRecord {
    /// A location.
    Location(Location),
    /// A product.
    Product(Product),
    /// A stock level.
    Level(Level),
    /// A ledger row.
    Movement(Movement),
    /// A user, with its password hash.
    User(crate::auth::UserRecord),
    /// An API token.
    Token(TokenRecord),
    /// A price list with its entries.
    PriceList(PriceList),
    /// A customer.
    Customer(Customer),
    /// A customer's own prices.
    CustomerPrices {
        /// The customer's code.
        customer: String,
        /// Its prices.
        entries: Vec<PriceEntry>,
    },
    /// An order with its lines, shipments and timeline.
    Order {
        /// The order's sequence number (behind its number and list order).
        seq: i64,
        /// The order (boxed: it is far larger than the other records).
        order: Box<Order>,
    },
    /// An idempotency key and the order it created.
    IdempotencyKey {
        /// The client's key.
        key: String,
        /// Hash of the request that used it.
        request_hash: String,
        /// The order it created.
        order_id: String,
        /// When.
        created_at: DateTime<Utc>,
    },
    /// An event of the log (nested: an event has a `type` of its own).
    Event {
        /// The event.
        event: crate::events::Event,
    },
    /// An entry of the audit trail, with its place in the hash chain.
    Audit(crate::auth::AuditEntry),
    /// A broker sink's cursor (its lease is not kept: a restored sink is free).
    SinkCursor {
        /// The sink's name.
        sink: String,
        /// `amqp` or `nats`.
        kind: String,
        /// The last `seq` its broker confirmed.
        cursor: i64,
    },
    /// A low-stock threshold.
    Threshold(crate::alerts::Threshold),
    /// An alert, open or acknowledged.
    Alert(crate::alerts::Alert),
    /// A webhook subscription with its secret and delivery position (its delivery log is
    /// not backed up).
    Webhook(crate::webhooks::Webhook),
    /// A registered device (its token is a `token` record).
    Device(domain::device::Device),
    /// A POS sale or return.
    Sale(Box<crate::retail::SaleRecord>),
    /// An RFID tag as last seen at a location.
    Tag(crate::retail::SeenTag),
    /// A cycle count with its lines, tags and scan batches.
    Count(Box<crate::retail::CountRecord>),
    /// A transfer.
    Transfer(Box<crate::retail::TransferRecord>),
    /// An edge node's sync state with HQ (only on an edge node).
    EdgeSync(crate::edge::EdgeSync),
    /// HQ's last known figure of a level, kept by an edge node.
    EdgeHqLevel(crate::edge::HqLevelRecord),
    /// A ledger row an edge node wrote from HQ's figures (never pushed back to HQ).
    EdgeMirrored {
        /// The ledger row's seq.
        movement_seq: i64,
    },
    /// The last line: how many records came before it.
    End {
        /// Number of records between header and trailer.
        records: u64,
    },
}

/// A backup file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Reading failed.
    #[error("reading the backup failed: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not valid.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The file ended before its trailer.
    #[error("the backup is truncated: no end record after {records} records")]
    Truncated {
        /// Records read.
        records: u64,
    },
}

/// Writes a backup: header, records, trailer.
pub struct Writer<W: std::io::Write> {
    out: W,
    records: u64,
}

impl<W: std::io::Write> Writer<W> {
    /// Starts a backup of `backend` on `out` by writing its header.
    pub fn new(mut out: W, backend: &str, now: DateTime<Utc>) -> std::io::Result<Self> {
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            created_at: now,
            backend: backend.into(),
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(Self { out, records: 0 })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &BackupRecord) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        self.records += 1;
        Ok(())
    }

    /// Writes the trailer and flushes; returns the record count and the output.
    pub fn finish(mut self) -> std::io::Result<(u64, W)> {
        serde_json::to_writer(
            &mut self.out,
            &BackupRecord::End {
                records: self.records,
            },
        )?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok((self.records, self.out))
    }
}

/// Reads a backup line by line, checking header and trailer.
pub struct Reader<R: std::io::BufRead> {
    lines: std::io::Lines<R>,
    line: u64,
    records: u64,
    ended: bool,
}

impl<R: std::io::BufRead> Reader<R> {
    /// Opens a backup by reading and checking its header.
    pub fn new(input: R) -> Result<(Header, Self), FormatError> {
        let mut lines = input.lines();
        let first = lines.next().transpose()?.ok_or(FormatError::Line {
            line: 1,
            message: "empty file".into(),
        })?;
        let header: Header = serde_json::from_str(&first).map_err(|e| FormatError::Line {
            line: 1,
            message: format!("not a Stockbook backup header: {e}"),
        })?;
        if header.format != FORMAT {
            return Err(FormatError::Line {
                line: 1,
                message: format!("format is '{}', not '{FORMAT}'", header.format),
            });
        }
        if header.version > VERSION {
            return Err(FormatError::Line {
                line: 1,
                message: format!(
                    "version {} is newer than this Stockbook reads ({VERSION})",
                    header.version
                ),
            });
        }
        Ok((
            header,
            Self {
                lines,
                line: 1,
                records: 0,
                ended: false,
            },
        ))
    }
}

impl<R: std::io::BufRead> Iterator for Reader<R> {
    type Item = Result<BackupRecord, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let Some(line) = self.lines.next() else {
            self.ended = true;
            return Some(Err(FormatError::Truncated {
                records: self.records,
            }));
        };
        self.line += 1;
        let record = line.map_err(FormatError::from).and_then(|text| {
            serde_json::from_str::<BackupRecord>(&text).map_err(|e| FormatError::Line {
                line: self.line,
                message: e.to_string(),
            })
        });
        match record {
            Ok(BackupRecord::End { records }) => {
                self.ended = true;
                (records != self.records).then(|| {
                    Err(FormatError::Line {
                        line: self.line,
                        message: format!(
                            "end record counts {records} records, the file holds {}",
                            self.records
                        ),
                    })
                })
            }
            Ok(record) => {
                self.records += 1;
                Some(Ok(record))
            }
            Err(e) => {
                self.ended = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: i64) -> BackupRecord {
        BackupRecord::Token(TokenRecord {
            token_id: id,
            name: "t".into(),
            role: "admin".into(),
            secret_hash: "ab".into(),
            created_at: Utc::now(),
            revoked_at: None,
            customer: None,
            locations: Vec::new(),
            scopes: Vec::new(),
            user_id: None,
            expires_at: None,
        })
    }

    #[test]
    fn a_backup_reads_back_what_was_written() {
        let written = [token(1), token(2)];
        let mut w = Writer::new(Vec::new(), "sqlite", Utc::now()).unwrap();
        for record in &written {
            w.write(record).unwrap();
        }
        let (n, bytes) = w.finish().unwrap();
        assert_eq!(n, 2);
        let (header, reader) = Reader::new(bytes.as_slice()).unwrap();
        assert_eq!(header.backend, "sqlite");
        let read: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(read, written);
    }

    #[test]
    fn a_truncated_backup_is_refused() {
        let mut w = Writer::new(Vec::new(), "sqlite", Utc::now()).unwrap();
        w.write(&token(1)).unwrap();
        let (_, mut bytes) = w.finish().unwrap();
        let cut = bytes.iter().rposition(|&b| b == b'{').unwrap();
        bytes.truncate(cut);
        let (_, reader) = Reader::new(bytes.as_slice()).unwrap();
        let last = reader.last().unwrap();
        assert!(
            matches!(last, Err(FormatError::Truncated { records: 1 })),
            "{last:?}"
        );
    }

    #[test]
    fn a_foreign_file_is_refused_at_the_header() {
        assert!(Reader::new(&b"{\"format\":\"other\",\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\",\"backend\":\"x\"}\n"[..]).is_err());
        assert!(Reader::new(&b"hello\n"[..]).is_err());
    }
}
