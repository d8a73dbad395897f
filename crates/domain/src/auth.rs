//! Who may call the API. The full role model (users, scoped tokens, per-location rights)
//! grows from here; today every token carries one role.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The role a token acts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including issuing tokens.
    Admin,
    /// All business operations at all locations.
    Manager,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            other => Err(format!("unknown role '{other}' (known: admin, manager)")),
        }
    }
}
