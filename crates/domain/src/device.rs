//! Devices: the POS terminals and RFID readers of a store.
//!
//! A device is registered at one location and gets a `device` token bound to it, so
//! whatever it reports (a sale, a batch of tag reads) can only land at that location. A
//! device is never deleted: disabling it revokes its token and keeps its record, because
//! sales and reads name it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, LocationCode};
use crate::validation::{self, Errors, FieldError, Validated};

/// Longest device name accepted.
pub const MAX_NAME: usize = 100;

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A point-of-sale terminal: posts sales and returns.
    Pos,
    /// An RFID reader: posts tag reads.
    Rfid,
}

impl DeviceKind {
    /// The kind's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Pos => "pos",
            DeviceKind::Rfid => "rfid",
        }
    }

    /// Parses a kind; `field` names it in the error.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        match value {
            "pos" => Ok(DeviceKind::Pos),
            "rfid" => Ok(DeviceKind::Rfid),
            _ => Err(FieldError::new(
                field,
                "unknown_kind",
                "kind is pos or rfid",
            )),
        }
    }
}

/// A device registration as submitted.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceInput {
    /// Unique id, e.g. `POS-BJ01-1`.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub id: String,
    /// `pos` or `rfid`.
    #[cfg_attr(feature = "schemars", schemars(with = "DeviceKind"))]
    pub kind: String,
    /// The location it is installed at.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub location: String,
    /// A label for people; defaults to the id.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<100>>")
    )]
    pub name: Option<String>,
}

/// A validated registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// Unique id.
    pub id: DeviceId,
    /// What it is.
    pub kind: DeviceKind,
    /// Where it is.
    pub location: LocationCode,
    /// Its label.
    pub name: String,
}

impl DeviceInput {
    /// Checks every field.
    pub fn validate(&self) -> Validated<NewDevice> {
        let mut errors = Errors::default();
        let id = errors.take(DeviceId::parse("id", &self.id));
        let kind = errors.take(DeviceKind::parse("kind", &self.kind));
        let location = errors.take(LocationCode::parse("location", &self.location));
        let name = match &self.name {
            Some(n) => errors.take(validation::text("name", n, MAX_NAME)),
            None => Some(self.id.clone()),
        };
        errors.finish(|| {
            Some(NewDevice {
                id: id?,
                kind: kind?,
                location: location?,
                name: name?,
            })
        })
    }
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Device {
    /// Unique id.
    pub id: DeviceId,
    /// What it is.
    pub kind: DeviceKind,
    /// Where it is.
    pub location: LocationCode,
    /// Its label.
    pub name: String,
    /// The token it was issued (its secret is shown once, at registration).
    pub token_id: i64,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was disabled (its token revoked), if it was.
    pub disabled_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_is_checked_field_by_field() {
        let input = DeviceInput {
            id: "POS 1".into(),
            kind: "printer".into(),
            location: "ST-1".into(),
            name: None,
        };
        let fields: Vec<_> = input
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            fields,
            [
                ("id".to_owned(), "bad_format"),
                ("kind".to_owned(), "unknown_kind")
            ]
        );
        let ok = DeviceInput {
            id: "POS-1".into(),
            kind: "pos".into(),
            location: "ST-1".into(),
            name: None,
        }
        .validate()
        .unwrap();
        assert_eq!((ok.name.as_str(), ok.kind), ("POS-1", DeviceKind::Pos));
    }
}
