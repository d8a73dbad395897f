//! The one error type of every [`crate::Store`] method, mapped from the driver's errors
//! inside each backend so that callers never see `sqlx`.

use domain::FieldError;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `product TEA-1`.
        what: String,
    },
    /// The change contradicts what is stored (a duplicate key, a stale version, …).
    #[error("{message}")]
    Conflict {
        /// Stable machine code, e.g. `already_exists`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The input refers to things that do not exist; nothing was changed.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// An order operation was refused by a business rule; nothing was changed.
    #[error("{0}")]
    Order(#[from] domain::order::OrderError),
    /// The database cannot be reached or is overloaded; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a broken database.
    #[error("storage failure: {0}")]
    Other(String),
}

impl StoreError {
    /// A `NotFound` for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// A `Conflict` with a code and message.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
