//! Devices: registered with their token in one transaction, listed, disabled.

use chrono::{DateTime, NaiveDate, Utc};
use domain::device::{Device, DeviceKind, NewDevice};
use domain::ids::{DeviceId, LocationCode};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{NewToken, StoreError};

use super::{floor_event, json};
use crate::core::{Core, Dialect, TxError, micros, now, placeholders, retry};
use crate::rows::to_json;

pub(crate) const DEVICE_COLUMNS: &str =
    "device_id, kind, location, name, token_id, created_at, disabled_at";

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    device_id: String,
    kind: String,
    location: String,
    name: String,
    token_id: i64,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
}

impl TryFrom<DeviceRow> for Device {
    type Error = StoreError;

    fn try_from(r: DeviceRow) -> Result<Self, StoreError> {
        Ok(Device {
            id: DeviceId::from_trusted(r.device_id),
            kind: DeviceKind::parse("kind", &r.kind)
                .map_err(|e| StoreError::Other(format!("stored device: {}", e.message)))?,
            location: LocationCode::from_trusted(r.location),
            name: r.name,
            token_id: r.token_id,
            created_at: r.created_at,
            disabled_at: r.disabled_at,
        })
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
    pub(crate) async fn register_device(
        &self,
        d: NewDevice,
        token: NewToken,
    ) -> Result<Device, StoreError> {
        let created_at = now();
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            Self::require_location(&mut tx, "location", &d.location).await?;
            let taken: Option<(String,)> =
                sqlx::query_as("SELECT device_id FROM devices WHERE device_id = $1")
                    .bind(d.id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                return Err(StoreError::conflict(
                    "already_exists",
                    format!("device {} is registered already", d.id),
                )
                .into());
            }
            let (token_id,): (i64,) = sqlx::query_as(
                "INSERT INTO api_tokens (name, role, secret_hash, created_at, grant_json, user_id, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, NULL, $6) RETURNING token_id",
            )
            .bind(token.name.as_str())
            .bind(token.grant.role.as_str())
            .bind(token.secret_hash.as_str())
            .bind(created_at)
            .bind(to_json(&token.grant))
            .bind(token.expires_at.map(micros))
            .fetch_one(&mut *tx)
            .await?;
            let device = Device {
                id: d.id.clone(),
                kind: d.kind,
                location: d.location.clone(),
                name: d.name.clone(),
                token_id,
                created_at,
                disabled_at: None,
            };
            Self::insert_device(&mut tx, &device).await?;
            let event = floor_event(
                format!("device:{}:registered", d.id),
                "device.registered",
                format!("device:{}", d.id),
                &d.location,
                json(&device)?,
            );
            Self::append_events(&mut tx, vec![event], created_at).await?;
            tx.commit().await?;
            Ok(device)
        })
        .await
    }

    pub(crate) async fn insert_device(
        tx: &mut Transaction<'static, DB>,
        d: &Device,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(d.id.as_str())
        .bind(d.kind.as_str())
        .bind(d.location.as_str())
        .bind(d.name.as_str())
        .bind(d.token_id)
        .bind(d.created_at)
        .bind(d.disabled_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(crate) async fn get_device(&self, id: &DeviceId) -> Result<Device, StoreError> {
        let row: Option<DeviceRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await?)
        })
        .await?;
        row.ok_or_else(|| StoreError::not_found(format!("device {id}")))?
            .try_into()
    }

    pub(crate) async fn list_devices(
        &self,
        within: &[LocationCode],
        after: Option<&DeviceId>,
        limit: i64,
    ) -> Result<Vec<Device>, StoreError> {
        let within_sql = if within.is_empty() {
            String::new()
        } else {
            format!("AND location IN ({})", placeholders(3, within.len()))
        };
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE ($1 IS NULL OR device_id > $1) {within_sql} \
             ORDER BY device_id LIMIT $2"
        );
        let rows: Vec<DeviceRow> = retry::<DB, _, _, _>(|| async {
            let mut query = sqlx::query_as(&sql)
                .bind(after.map(DeviceId::as_str))
                .bind(limit);
            for location in within {
                query = query.bind(location.as_str());
            }
            Ok(query.fetch_all(&self.reader).await?)
        })
        .await?;
        rows.into_iter().map(Device::try_from).collect()
    }

    pub(crate) async fn disable_device(
        &self,
        id: &DeviceId,
        at: DateTime<Utc>,
    ) -> Result<Device, StoreError> {
        let at = micros(at);
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let row: Option<DeviceRow> = sqlx::query_as(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = $1{}",
                DB::LOCK_ROWS
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let mut device =
                Device::try_from(row.ok_or_else(|| StoreError::not_found(format!("device {id}")))?)?;
            if device.disabled_at.is_none() {
                device.disabled_at = Some(at);
                sqlx::query("UPDATE devices SET disabled_at = $2 WHERE device_id = $1")
                    .bind(id.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL",
                )
                .bind(device.token_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                let event = floor_event(
                    format!("device:{id}:disabled"),
                    "device.disabled",
                    format!("device:{id}"),
                    &device.location,
                    json(&device)?,
                );
                Self::append_events(&mut tx, vec![event], at).await?;
            }
            tx.commit().await?;
            Ok(device)
        })
        .await
    }
}
