//! Typed identifiers. Each has a `parse` constructor that validates, so a value of the
//! type is always well-formed and can be used in SQL and URLs without further checks.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::{self, FieldError};

macro_rules! code_id {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates `value` as this id; `field` names it in the error.
            pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
                validation::code(field, value, Self::MAX_LEN).map(Self)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from storage, where it was validated on the way in.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_id!(
    /// A product's stock-keeping unit, the key every stock figure hangs on.
    Sku,
    64
);
code_id!(
    /// A location's code (a warehouse or a store), e.g. `WH-SH` or `ST-001`.
    LocationCode,
    32
);
code_id!(
    /// The producer-chosen unique id of a stock movement; the idempotency key of the ledger.
    MovementId,
    128
);
code_id!(
    /// A registered device (POS terminal or RFID reader), e.g. `POS-BJ01-1`.
    DeviceId,
    64
);
code_id!(
    /// The terminal-chosen unique id of a POS sale or return; its idempotency key.
    SaleId,
    128
);
code_id!(
    /// A cycle count, e.g. `CC-2026-0042` or a generated id.
    CountId,
    64
);
code_id!(
    /// A transfer between two locations, e.g. `TR-0001` or a generated id.
    TransferId,
    64
);
