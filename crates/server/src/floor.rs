//! What the shop-floor routes (devices, POS, RFID, counts, transfers) share: their
//! settings, where a request acts, and the request hash behind their idempotency.

use chrono::Duration;
use domain::auth::Principal;
use domain::ids::LocationCode;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// Settings of the shop floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorConfig {
    /// Reads of one EPC at one location within this window count once.
    pub rfid_window: Duration,
    /// How the stores' scales lay out in-store variable-measure EAN-13s (prefixes 20–29);
    /// the first layout whose prefix matches a code is used.
    pub scale_layouts: Vec<gs1::VariableMeasureLayout>,
}

impl Default for FloorConfig {
    /// A 60 s window and the common Chinese scale label: `2F IIIII PPPPP C`, the price in fen.
    fn default() -> Self {
        Self {
            rfid_window: domain::rfid::DEFAULT_WINDOW,
            scale_layouts: vec![gs1::VariableMeasureLayout::default()],
        }
    }
}

/// The location a request acts at: the one it names in `field`, else the caller's only
/// location (a device, or a clerk of one store). Whether the caller may act there is the
/// permission table's to say.
pub fn acting_location(
    caller: &Principal,
    named: Option<&str>,
    field: &str,
) -> Result<LocationCode, AppError> {
    match (named, caller.grant.locations.as_slice()) {
        (Some(code), _) => Ok(LocationCode::parse(field, code)?),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(AppError::field(
            field,
            "required",
            format!("name the {field}: the caller is not bound to exactly one location"),
        )),
    }
}

/// SHA-256 of a request as parsed (so key order and spacing do not matter), hex: the same
/// id sent again with the same content replays, with other content is refused.
pub fn request_hash<T: Serialize>(request: &T) -> Result<String, AppError> {
    let bytes = serde_json::to_vec(request).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A random id with a prefix, for counts and transfers created without one.
pub fn new_id(prefix: &str) -> Result<String, AppError> {
    crate::ids::new_order_id()
        .map(|id| format!("{prefix}-{id}"))
        .map_err(|e| AppError::Internal(format!("no randomness: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::auth::{Grant, Role};

    fn principal(locations: &[&str]) -> Principal {
        Principal {
            token_id: 1,
            actor: "t".into(),
            grant: Grant {
                locations: locations
                    .iter()
                    .map(|l| LocationCode::from_trusted((*l).to_owned()))
                    .collect(),
                ..Grant::role(Role::Clerk)
            },
        }
    }

    #[test]
    fn a_request_acts_where_it_says_or_where_its_caller_is_bound() {
        let one = principal(&["ST-1"]);
        let two = principal(&["ST-1", "ST-2"]);
        assert_eq!(
            acting_location(&one, None, "location").unwrap().as_str(),
            "ST-1"
        );
        assert_eq!(
            acting_location(&two, Some("ST-2"), "location")
                .unwrap()
                .as_str(),
            "ST-2"
        );
        assert_eq!(
            acting_location(&two, None, "location").unwrap_err().code(),
            "validation_failed"
        );
    }
}
