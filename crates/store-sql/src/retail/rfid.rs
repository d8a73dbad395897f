//! RFID reads: the window per (location, EPC) across requests, the tags seen, and the
//! open count they feed.
//!
//! Each EPC's row is created first if missing (`INSERT … ON CONFLICT DO NOTHING`) and then
//! locked, in EPC order, before its window is decided: two requests reading the same tag
//! at once are serialised on its row, so the tag is counted once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ids::{CountId, LocationCode, Sku};
use domain::rfid::{self, ReadBatch, TagRead};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::retail::UnknownGtin;
use store::{ReadSummary, SeenTag, StoreError};

use super::{floor_event, random_id};
use crate::core::{Core, Dialect, TxError, micros, now, placeholders, retry};

pub(crate) const TAG_COLUMNS: &str =
    "location, epc, gtin, serial, reader, antenna, first_seen_at, last_seen_at, accepted_at";

#[derive(sqlx::FromRow)]
pub(crate) struct TagRow {
    location: String,
    epc: String,
    gtin: String,
    serial: String,
    reader: String,
    antenna: Option<i64>,
    first_seen_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
}

impl TagRow {
    pub(crate) fn seen(self, sku: Option<Sku>) -> SeenTag {
        SeenTag {
            location: LocationCode::from_trusted(self.location),
            epc: self.epc,
            gtin: self.gtin,
            serial: self.serial,
            sku,
            reader: self.reader,
            antenna: self.antenna,
            first_seen_at: self.first_seen_at,
            last_seen_at: self.last_seen_at,
            accepted_at: self.accepted_at,
        }
    }
}

/// What was known of a tag before a request.
#[derive(Debug, Clone, Copy, Default)]
struct Before {
    accepted: Option<DateTime<Utc>>,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
}

/// The reads of one tag in a request.
struct TagReads<'a> {
    reads: Vec<&'a TagRead>,
}

impl TagReads<'_> {
    fn first(&self) -> &TagRead {
        self.reads[0]
    }
    fn earliest(&self) -> DateTime<Utc> {
        self.reads
            .iter()
            .map(|r| micros(r.seen_at))
            .min()
            .unwrap_or_default()
    }
    fn latest(&self) -> &TagRead {
        self.reads
            .iter()
            .max_by_key(|r| r.seen_at)
            .copied()
            .unwrap_or(self.reads[0])
    }
}

impl<DB: Dialect> Core<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> NaiveDate: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<NaiveDate>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    pub(crate) async fn record_reads(
        &self,
        location: &LocationCode,
        batch: ReadBatch,
        window: Duration,
    ) -> Result<ReadSummary, StoreError> {
        let mut by_epc: BTreeMap<&str, TagReads<'_>> = BTreeMap::new();
        for read in &batch.tags {
            by_epc
                .entry(read.epc.as_str())
                .or_insert_with(|| TagReads { reads: Vec::new() })
                .reads
                .push(read);
        }
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            Self::require_location(&mut tx, "location", location).await?;
            let recorded_at = now();
            let gtins: BTreeSet<&str> = batch.tags.iter().map(|t| t.gtin.as_str()).collect();
            let products = Self::line_products_by_gtin(&mut tx, &gtins).await?;
            Self::touch_tags(&mut tx, location, &batch.reader, &by_epc).await?;
            let previous = Self::lock_tags(&mut tx, location, &by_epc).await?;
            let mut summary = ReadSummary {
                location: location.clone(),
                reader: batch.reader.clone(),
                received: batch.received,
                accepted: 0,
                duplicates: 0,
                unknown: Vec::new(),
                invalid: batch.invalid.clone(),
                count_id: None,
                counted: None,
            };
            let mut unknown: BTreeMap<&str, UnknownGtin> = BTreeMap::new();
            for (epc, reads) in &by_epc {
                let mut seen: Vec<DateTime<Utc>> = reads.reads.iter().map(|r| micros(r.seen_at)).collect();
                let prev = previous.get(*epc).copied().unwrap_or_default();
                let decided = rfid::dedupe(prev.accepted, &mut seen, window);
                let gtin = reads.first().gtin.as_str();
                if products.contains_key(gtin) {
                    summary.accepted += decided.accepted;
                    summary.duplicates += decided.duplicates;
                } else {
                    let u = unknown.entry(gtin).or_insert_with(|| UnknownGtin {
                        gtin: gtin.to_owned(),
                        reads: 0,
                        tags: 0,
                    });
                    u.reads += reads.reads.len();
                    u.tags += 1;
                }
                let latest = reads.latest();
                let latest_at = micros(latest.seen_at);
                let first_seen = prev.first_seen.map_or(reads.earliest(), |f| f.min(reads.earliest()));
                let last_seen = prev.last_seen.map_or(latest_at, |l| l.max(latest_at));
                sqlx::query(
                    "UPDATE rfid_tags SET reader = $3, antenna = $4, first_seen_at = $5, last_seen_at = $6, \
                     accepted_at = $7 WHERE location = $1 AND epc = $2",
                )
                .bind(location.as_str())
                .bind(*epc)
                .bind(batch.reader.as_str())
                .bind(latest.antenna)
                .bind(first_seen)
                .bind(last_seen)
                .bind(decided.last_accepted)
                .execute(&mut *tx)
                .await?;
            }
            summary.unknown = unknown.into_values().collect();
            if let Some((count_id, counted)) =
                Self::feed_count(&mut tx, location, &by_epc, &products, recorded_at).await?
            {
                summary.count_id = Some(count_id);
                summary.counted = Some(counted);
            }
            if !by_epc.is_empty() {
                let data = serde_json::to_value(&summary)
                    .map_err(|e| StoreError::Other(format!("rfid event: {e}")))?;
                let event = floor_event(
                    random_id()?,
                    "rfid.reads_recorded",
                    format!("rfid:{location}"),
                    location,
                    data,
                );
                Self::append_events(&mut tx, vec![event], recorded_at).await?;
            }
            tx.commit().await?;
            Ok(summary)
        })
        .await
    }

    /// Creates the row of every tag not seen at the location before (in EPC order, many
    /// rows per statement); existing rows are left to the update.
    async fn touch_tags(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
        reader: &str,
        by_epc: &BTreeMap<&str, TagReads<'_>>,
    ) -> Result<(), TxError> {
        let all: Vec<(&&str, &TagReads<'_>)> = by_epc.iter().collect();
        for chunk in all.chunks(100) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = 3 + i * 5;
                    format!(
                        "($1, ${}, ${}, ${}, $2, ${}, ${}, ${})",
                        p,
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 4
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO rfid_tags (location, epc, gtin, serial, reader, antenna, first_seen_at, last_seen_at) \
                 VALUES {} ON CONFLICT (location, epc) DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(location.as_str()).bind(reader);
            for (epc, reads) in chunk {
                let first = reads.first();
                query = query
                    .bind(**epc)
                    .bind(first.gtin.as_str())
                    .bind(first.serial.as_str())
                    .bind(first.antenna)
                    .bind(reads.earliest());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Locks the rows of the request's tags (in EPC order) and returns what was known of
    /// each before this request.
    async fn lock_tags(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
        by_epc: &BTreeMap<&str, TagReads<'_>>,
    ) -> Result<HashMap<String, Before>, TxError> {
        let epcs: Vec<&str> = by_epc.keys().copied().collect();
        let mut out = HashMap::new();
        for chunk in epcs.chunks(500) {
            let sql = format!(
                "SELECT epc, accepted_at, first_seen_at, last_seen_at FROM rfid_tags \
                 WHERE location = $1 AND epc IN ({}) ORDER BY epc{}",
                placeholders(2, chunk.len()),
                DB::LOCK_ROWS
            );
            type Row = (String, Option<DateTime<Utc>>, DateTime<Utc>, DateTime<Utc>);
            let mut query = sqlx::query_as::<DB, Row>(&sql).bind(location.as_str());
            for epc in chunk {
                query = query.bind(*epc);
            }
            for (epc, accepted, first, last) in query.fetch_all(&mut **tx).await? {
                // A row this request just created has never been accepted: what it holds is
                // this request's own sightings.
                let before = match accepted {
                    Some(_) => Before {
                        accepted,
                        first_seen: Some(first),
                        last_seen: Some(last),
                    },
                    None => Before::default(),
                };
                out.insert(epc, before);
            }
        }
        Ok(out)
    }

    /// Feeds the location's open count, if any: each tag new to it adds its units (a pack
    /// tag its pack's factor) to its SKU, with the book figure of now. Returns the count and
    /// how many tags were new to it.
    async fn feed_count(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
        by_epc: &BTreeMap<&str, TagReads<'_>>,
        products: &HashMap<String, domain::pos::LineProduct>,
        at: DateTime<Utc>,
    ) -> Result<Option<(CountId, usize)>, TxError> {
        let Some((count_id, scope)) = Self::open_count_at(tx, location).await? else {
            return Ok(None);
        };
        let mut new_units: BTreeMap<Sku, i64> = BTreeMap::new();
        let mut counted = 0;
        let all: Vec<(&&str, &TagReads<'_>)> = by_epc.iter().collect();
        for chunk in all.chunks(100) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, ${}, ${})", 2 + i * 3, 3 + i * 3, 4 + i * 3))
                .collect();
            let sql = format!(
                "INSERT INTO count_tags (count_id, epc, gtin, sku) VALUES {} \
                 ON CONFLICT (count_id, epc) DO NOTHING RETURNING epc",
                rows.join(", ")
            );
            let mut query = sqlx::query_as::<DB, (String,)>(&sql).bind(count_id.as_str());
            for (epc, reads) in chunk {
                let gtin = reads.first().gtin.as_str();
                query = query
                    .bind(**epc)
                    .bind(gtin)
                    .bind(products.get(gtin).map(|p| p.sku.as_str()));
            }
            for (epc,) in query.fetch_all(&mut **tx).await? {
                counted += 1;
                let gtin = by_epc.get(epc.as_str()).map(|r| r.first().gtin.as_str());
                if let Some(p) = gtin.and_then(|g| products.get(g)) {
                    *new_units.entry(p.sku.clone()).or_default() += p.factor;
                }
            }
        }
        for (sku, units) in new_units {
            let (on_hand, _) = Self::lock_level(tx, location, &sku).await?;
            let in_scope = scope.as_ref().is_none_or(|skus| skus.contains(&sku));
            Self::add_to_count_line(tx, &count_id, &sku, in_scope, (0, units), on_hand, at).await?;
        }
        Ok(Some((count_id, counted)))
    }

    pub(crate) async fn list_tags(
        &self,
        location: &LocationCode,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SeenTag>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let rows: Vec<TagRow> = sqlx::query_as(&format!(
                "SELECT {TAG_COLUMNS} FROM rfid_tags WHERE location = $1 AND ($2 IS NULL OR epc > $2) \
                 ORDER BY epc LIMIT $3"
            ))
            .bind(location.as_str())
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let gtins: BTreeSet<&str> = rows.iter().map(|r| r.gtin.as_str()).collect();
            let products = Self::line_products_by_gtin(&mut tx, &gtins).await?;
            let tags = rows
                .into_iter()
                .map(|r| {
                    let sku = products.get(&r.gtin).map(|p| p.sku.clone());
                    r.seen(sku)
                })
                .collect();
            tx.commit().await?;
            Ok(tags)
        })
        .await
    }
}
