//! Webhook subscriptions, their delivery log, and the leases that make one node deliver
//! for each subscription.
//!
//! The delivery position (`delivered_seq`) moves only in [`Core::record_delivery`], in the
//! transaction that logs a 2xx attempt, and only while the recording node still holds the
//! subscription's lease and the position is still the one it started from (a replay or a
//! takeover meanwhile makes the attempt `Stale`). A failed attempt is counted in the same
//! transaction, and the one that meets the disable policy disables the subscription and
//! raises its alert there too.

use chrono::{DateTime, NaiveDate, Utc};
use domain::webhook::WebhookPatch;
use domain::{FieldError, alert};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::alerts::NewAlert;
use store::webhooks::{
    Delivery, DeliveryOutcome, DisablePolicy, LeaseClaim, NewDelivery, NewWebhook,
    RecordedDelivery, Webhook, WebhookSecret, lease_name,
};
use store::{Event, StoreError};

use crate::core::{Core, Dialect, TxError, micros, retry};
use crate::events::{EVENT_COLUMNS, EventRow};
use crate::rows::{from_json, to_json};

pub(crate) const WEBHOOK_COLUMNS: &str = "webhook_id, url, event_types, description, secret, enabled, disabled_reason, \
     delivered_seq, consecutive_failures, failing_since, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRow {
    webhook_id: i64,
    url: String,
    event_types: String,
    description: Option<String>,
    secret: String,
    enabled: bool,
    disabled_reason: Option<String>,
    delivered_seq: i64,
    consecutive_failures: i64,
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;

    fn try_from(r: WebhookRow) -> Result<Self, StoreError> {
        Ok(Webhook {
            id: r.webhook_id,
            event_types: from_json("webhook event types", &r.event_types)?,
            url: r.url,
            description: r.description,
            secret: WebhookSecret(r.secret),
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            delivered_seq: r.delivered_seq,
            consecutive_failures: r.consecutive_failures,
            failing_since: r.failing_since,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Attempts kept in the delivery log, across all subscriptions; older ones are pruned
/// (every thousandth insert removes those past the limit, by primary key).
pub(crate) const DELIVERY_LOG_KEEP: i64 = 1_000_000;

const DELIVERY_COLUMNS: &str = "delivery_id, webhook_id, event_seq, event_id, event_type, attempt, manual, \
     attempted_at, status_code, error, duration_ms, ok";

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    delivery_id: i64,
    webhook_id: i64,
    event_seq: i64,
    event_id: String,
    event_type: String,
    attempt: i64,
    manual: bool,
    attempted_at: DateTime<Utc>,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
    ok: bool,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            id: r.delivery_id,
            webhook_id: r.webhook_id,
            event_seq: r.event_seq,
            event_id: r.event_id,
            event_type: r.event_type,
            attempt: r.attempt,
            manual: r.manual,
            attempted_at: r.attempted_at,
            status_code: r.status_code,
            error: r.error,
            duration_ms: r.duration_ms,
            ok: r.ok,
        }
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
    /// The subscription's row, locked until commit; `None` when it does not exist.
    async fn webhook_row(
        tx: &mut Transaction<'static, DB>,
        id: i64,
    ) -> Result<Option<Webhook>, TxError> {
        let row: Option<WebhookRow> = sqlx::query_as(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = $1{}",
            DB::LOCK_ROWS
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(Webhook::try_from).transpose()?)
    }

    /// Writes every changeable column of a subscription.
    async fn write_webhook(tx: &mut Transaction<'static, DB>, w: &Webhook) -> Result<(), TxError> {
        sqlx::query(
            "UPDATE webhooks SET url = $2, event_types = $3, description = $4, enabled = $5, disabled_reason = $6, \
             delivered_seq = $7, consecutive_failures = $8, failing_since = $9, updated_at = $10 WHERE webhook_id = $1",
        )
        .bind(w.id)
        .bind(w.url.as_str())
        .bind(to_json(&w.event_types))
        .bind(w.description.as_deref())
        .bind(w.enabled)
        .bind(w.disabled_reason.as_deref())
        .bind(w.delivered_seq)
        .bind(w.consecutive_failures)
        .bind(w.failing_since)
        .bind(w.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(crate) async fn create_webhook(
        &self,
        new: NewWebhook,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        let at = micros(now);
        // Every event committed after this has a higher seq: the new subscription gets every
        // event after its creation (and, on PostgreSQL, perhaps a few from just before).
        let head = self.event_head().await?;
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO webhooks (url, event_types, description, secret, enabled, delivered_seq, \
                 consecutive_failures, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) RETURNING webhook_id",
            )
            .bind(new.url.as_str())
            .bind(to_json(&new.event_types))
            .bind(new.description.as_deref())
            .bind(new.secret.0.as_str())
            .bind(true)
            .bind(head)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Webhook {
                id,
                url: new.url.clone(),
                event_types: new.event_types.clone(),
                description: new.description.clone(),
                secret: new.secret.clone(),
                enabled: true,
                disabled_reason: None,
                delivered_seq: head,
                consecutive_failures: 0,
                failing_since: None,
                created_at: at,
                updated_at: at,
            })
        })
        .await
    }

    pub(crate) async fn get_webhook(&self, id: i64) -> Result<Webhook, StoreError> {
        let row: Option<WebhookRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
        })
        .await?;
        row.ok_or_else(|| StoreError::not_found(format!("webhook {id}")))?
            .try_into()
    }

    pub(crate) async fn list_webhooks(
        &self,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Webhook>, StoreError> {
        let rows: Vec<WebhookRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE ($1 IS NULL OR webhook_id > $1) \
                 ORDER BY webhook_id LIMIT $2"
            ))
            .bind(after)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        rows.into_iter().map(Webhook::try_from).collect()
    }

    pub(crate) async fn update_webhook(
        &self,
        id: i64,
        patch: WebhookPatch,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let mut w = Self::webhook_row(&mut tx, id)
                .await?
                .ok_or_else(|| StoreError::not_found(format!("webhook {id}")))?;
            if let Some(url) = &patch.url {
                w.url.clone_from(url);
            }
            if let Some(types) = &patch.event_types {
                w.event_types.clone_from(types);
            }
            if let Some(description) = &patch.description {
                w.description.clone_from(description);
            }
            match patch.enabled {
                // Resuming starts a fresh count: the receiver is said to be fixed.
                Some(true) if !w.enabled => {
                    w.enabled = true;
                    w.disabled_reason = None;
                    w.consecutive_failures = 0;
                    w.failing_since = None;
                }
                Some(false) if w.enabled => {
                    w.enabled = false;
                    w.disabled_reason = Some("paused through the API".to_owned());
                }
                _ => {}
            }
            w.updated_at = micros(now);
            Self::write_webhook(&mut tx, &w).await?;
            tx.commit().await?;
            Ok(w)
        })
        .await
    }

    pub(crate) async fn delete_webhook(&self, id: i64) -> Result<(), StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("DELETE FROM webhooks WHERE webhook_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if DB::rows_affected(&done) == 0 {
                return Err(StoreError::not_found(format!("webhook {id}")).into());
            }
            sqlx::query("DELETE FROM leases WHERE name = $1")
                .bind(lease_name(id))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn replay_webhook(
        &self,
        id: i64,
        from_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let mut w = Self::webhook_row(&mut tx, id)
                .await?
                .ok_or_else(|| StoreError::not_found(format!("webhook {id}")))?;
            let next = w.delivered_seq + 1;
            if from_seq < 1 || from_seq > next {
                return Err(StoreError::Invalid(vec![FieldError::new(
                    "from_seq",
                    "out_of_range",
                    format!(
                        "from_seq is from 1 to {next} (the next event this webhook delivers): replay goes back, never skips"
                    ),
                )])
                .into());
            }
            w.delivered_seq = from_seq - 1;
            w.consecutive_failures = 0;
            w.failing_since = None;
            w.updated_at = micros(now);
            Self::write_webhook(&mut tx, &w).await?;
            tx.commit().await?;
            Ok(w)
        })
        .await
    }

    pub(crate) async fn list_deliveries(
        &self,
        webhook_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows: Vec<DeliveryRow> = retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM webhooks WHERE webhook_id = $1")
                    .bind(webhook_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if n == 0 {
                return Err(StoreError::not_found(format!("webhook {webhook_id}")).into());
            }
            let rows = sqlx::query_as(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
                 WHERE webhook_id = $1 AND ($2 IS NULL OR delivery_id < $2) ORDER BY delivery_id DESC LIMIT $3"
            ))
            .bind(webhook_id)
            .bind(before)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(rows)
        })
        .await?;
        Ok(rows.into_iter().map(Delivery::from).collect())
    }

    pub(crate) async fn get_delivery(
        &self,
        webhook_id: i64,
        delivery_id: i64,
    ) -> Result<Delivery, StoreError> {
        let row: Option<DeliveryRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND delivery_id = $2"
            ))
            .bind(webhook_id)
            .bind(delivery_id)
            .fetch_optional(&self.reader)
            .await?)
        })
        .await?;
        row.map(Delivery::from).ok_or_else(|| {
            StoreError::not_found(format!("delivery {delivery_id} of webhook {webhook_id}"))
        })
    }

    pub(crate) async fn event_at(&self, seq: i64) -> Result<Event, StoreError> {
        let row: Option<EventRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE seq = $1"
            ))
            .bind(seq)
            .fetch_optional(&self.reader)
            .await?)
        })
        .await?;
        row.ok_or_else(|| StoreError::not_found(format!("event {seq}")))?
            .try_into()
    }

    pub(crate) async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (now, until) = (micros(now), micros(until));
        retry::<DB, _, _, _>(|| async {
            // Free, expired, or already ours: take it. Otherwise the WHERE fails and no row
            // comes back. A racing insert of the same name waits for the other to commit.
            let row: Option<(String,)> = sqlx::query_as(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leases.holder = excluded.holder OR leases.expires_at < $4 RETURNING holder",
            )
            .bind(name)
            .bind(holder)
            .bind(until)
            .bind(now)
            .fetch_optional(&self.writer)
            .await?;
            Ok(row.is_some())
        })
        .await
    }

    pub(crate) async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        retry::<DB, _, _, _>(|| async {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
        .await
    }

    /// Renews the claim's lease on a subscription; false when another node holds it now.
    async fn renew(
        tx: &mut Transaction<'static, DB>,
        webhook_id: i64,
        claim: &LeaseClaim,
    ) -> Result<bool, TxError> {
        let done = sqlx::query("UPDATE leases SET expires_at = $3 WHERE name = $1 AND holder = $2")
            .bind(lease_name(webhook_id))
            .bind(claim.holder.as_str())
            .bind(micros(claim.until))
            .execute(&mut **tx)
            .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(crate) async fn record_delivery(
        &self,
        d: NewDelivery,
        expected_seq: i64,
        claim: &LeaseClaim,
        policy: &DisablePolicy,
    ) -> Result<RecordedDelivery, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let Some(mut w) = Self::webhook_row(&mut tx, d.webhook_id).await? else {
                return Ok(RecordedDelivery {
                    delivery: None,
                    outcome: DeliveryOutcome::Stale,
                });
            };
            let delivery = Self::insert_delivery(&mut tx, &d).await?;
            let outcome = if d.manual {
                DeliveryOutcome::Manual
            } else if !Self::renew(&mut tx, w.id, claim).await?
                || !w.enabled
                || w.delivered_seq != expected_seq
            {
                DeliveryOutcome::Stale
            } else if delivery.ok {
                w.delivered_seq = d.event_seq;
                w.consecutive_failures = 0;
                w.failing_since = None;
                Self::write_webhook(&mut tx, &w).await?;
                DeliveryOutcome::Delivered
            } else {
                Self::count_failure(&mut tx, &mut w, &delivery, policy).await?
            };
            tx.commit().await?;
            Ok(RecordedDelivery {
                delivery: Some(delivery),
                outcome,
            })
        })
        .await
    }

    async fn insert_delivery(
        tx: &mut Transaction<'static, DB>,
        d: &NewDelivery,
    ) -> Result<Delivery, TxError> {
        let attempted_at = micros(d.attempted_at);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO webhook_deliveries (webhook_id, event_seq, event_id, event_type, attempt, manual, attempted_at, \
             status_code, error, duration_ms, ok) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING delivery_id",
        )
        .bind(d.webhook_id)
        .bind(d.event_seq)
        .bind(d.event_id.as_str())
        .bind(d.event_type.as_str())
        .bind(d.attempt)
        .bind(d.manual)
        .bind(attempted_at)
        .bind(d.status_code)
        .bind(d.error.as_deref())
        .bind(d.duration_ms)
        .bind(d.ok())
        .fetch_one(&mut **tx)
        .await?;
        if id % 1000 == 0 {
            sqlx::query("DELETE FROM webhook_deliveries WHERE delivery_id <= $1")
                .bind(id - DELIVERY_LOG_KEEP)
                .execute(&mut **tx)
                .await?;
        }
        Ok(Delivery {
            id,
            webhook_id: d.webhook_id,
            event_seq: d.event_seq,
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            attempt: d.attempt,
            manual: d.manual,
            attempted_at,
            status_code: d.status_code,
            error: d.error.clone(),
            duration_ms: d.duration_ms,
            ok: d.ok(),
        })
    }

    /// Counts a failed attempt; disables the subscription (with a `webhook.disabled` event
    /// and a `webhook_failing` alert) when the policy says so or the receiver said 410.
    async fn count_failure(
        tx: &mut Transaction<'static, DB>,
        w: &mut Webhook,
        failed: &Delivery,
        policy: &DisablePolicy,
    ) -> Result<DeliveryOutcome, TxError> {
        w.consecutive_failures += 1;
        let since = *w.failing_since.get_or_insert(failed.attempted_at);
        let gone = failed.status_code == Some(410);
        let sustained = w.consecutive_failures >= policy.after_failures
            && failed.attempted_at - since >= policy.after;
        if !gone && !sustained {
            Self::write_webhook(tx, w).await?;
            return Ok(DeliveryOutcome::Failed {
                failures: w.consecutive_failures,
            });
        }
        let last = match (&failed.status_code, &failed.error) {
            (_, Some(error)) => error.clone(),
            (Some(status), None) => format!("HTTP {status}"),
            (None, None) => "no answer".to_owned(),
        };
        let reason = if gone {
            "the receiver answered 410 Gone".to_owned()
        } else {
            format!(
                "{} failed attempts in a row since {}; last: {last}",
                w.consecutive_failures,
                since.to_rfc3339()
            )
        };
        w.enabled = false;
        w.disabled_reason = Some(reason.clone());
        w.updated_at = failed.attempted_at;
        Self::write_webhook(tx, w).await?;
        let detail = serde_json::json!({
            "webhook_id": w.id, "url": w.url, "reason": reason,
            "consecutive_failures": w.consecutive_failures, "failing_since": since,
            "last_status": failed.status_code, "last_error": failed.error,
            "delivered_seq": w.delivered_seq,
        });
        let mut events = vec![crate::events::catalog_event(
            "webhook.disabled",
            format!("webhook:{}", w.id),
            detail.clone(),
        )?];
        let new = NewAlert {
            kind: alert::WEBHOOK_FAILING.to_owned(),
            key: w.id.to_string(),
            location: None,
            sku: None,
            message: format!("webhook {} ({}) was disabled: {reason}", w.id, w.url),
            detail,
        };
        if let Some((_, event)) = Self::insert_alert(tx, &new, failed.attempted_at).await? {
            events.push(event);
        }
        Self::append_events(tx, events, failed.attempted_at).await?;
        Ok(DeliveryOutcome::Disabled)
    }

    pub(crate) async fn skip_webhook_events(
        &self,
        webhook_id: i64,
        from: i64,
        to: i64,
        claim: &LeaseClaim,
    ) -> Result<bool, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            if !Self::renew(&mut tx, webhook_id, claim).await? {
                return Ok(false);
            }
            let done = sqlx::query(
                "UPDATE webhooks SET delivered_seq = $3 WHERE webhook_id = $1 AND delivered_seq = $2 AND enabled",
            )
            .bind(webhook_id)
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(DB::rows_affected(&done) == 1)
        })
        .await
    }

    /// Restores a subscription with its number, secret and position.
    pub(crate) async fn restore_webhook(
        tx: &mut Transaction<'static, DB>,
        w: &Webhook,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(w.id)
        .bind(w.url.as_str())
        .bind(to_json(&w.event_types))
        .bind(w.description.as_deref())
        .bind(w.secret.0.as_str())
        .bind(w.enabled)
        .bind(w.disabled_reason.as_deref())
        .bind(w.delivered_seq)
        .bind(w.consecutive_failures)
        .bind(w.failing_since)
        .bind(w.created_at)
        .bind(w.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
