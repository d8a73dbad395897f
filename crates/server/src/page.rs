//! Cursor pagination shared by every list endpoint: `?limit=&cursor=` in,
//! `{"items": […], "next": CURSOR|null}` out.
//!
//! A cursor is the key of the last item of a page, hex-encoded so that clients treat it as
//! opaque and so that any text a client sends back is checked before it reaches the store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 50;
/// Most items per page.
pub const MAX_LIMIT: i64 = 500;

/// The paging part of a list query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The validated limit.
    pub fn limit(&self) -> Result<i64, AppError> {
        match &self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(AppError::field(
                    "limit",
                    "out_of_range",
                    format!("limit is a whole number from 1 to {MAX_LIMIT}"),
                )),
            },
        }
    }

    /// The parts of the cursor's key, if a cursor was given.
    pub fn cursor(&self, parts: usize) -> Result<Option<Vec<String>>, AppError> {
        self.cursor.as_deref().map(|c| decode(c, parts)).transpose()
    }
}

/// One page of a list.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The cursor of the next page; `null` on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` fetched items: the extra one only tells that more exist.
    pub fn from_overfetch(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> Vec<String>) -> Self {
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next = if more {
            items.last().map(|last| encode(&key(last)))
        } else {
            None
        };
        Page { items, next }
    }
}

/// Encodes a key (one or more parts) as an opaque cursor.
pub fn encode(parts: &[String]) -> String {
    parts
        .join("\n")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode(cursor: &str, parts: usize) -> Result<Vec<String>, AppError> {
    let bad = || {
        AppError::field(
            "cursor",
            "bad_cursor",
            "cursor is not one this API returned",
        )
    };
    if !cursor.len().is_multiple_of(2) || cursor.len() > 1024 {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let out: Vec<String> = text.split('\n').map(str::to_owned).collect();
    // A key part never holds a control character; PostgreSQL refuses NUL in text outright.
    if out.len() == parts && !out.iter().any(|p| p.chars().any(char::is_control)) {
        Ok(out)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key = vec!["WH-1".to_owned(), "TEA-9".to_owned()];
        let q = PageQuery {
            limit: None,
            cursor: Some(encode(&key)),
        };
        assert_eq!(q.cursor(2).unwrap(), Some(key));
        for bad in [
            "zz",
            "abc",
            "é1",
            "00",
            &encode(&["a\u{0}".to_owned(), "b".to_owned()]),
        ] {
            let q = PageQuery {
                limit: None,
                cursor: Some(bad.to_owned()),
            };
            assert!(q.cursor(2).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_bounded() {
        let q = |l: &str| {
            PageQuery {
                limit: Some(l.to_owned()),
                cursor: None,
            }
            .limit()
        };
        assert_eq!(q("500").unwrap(), 500);
        for bad in ["0", "501", "-1", "x", ""] {
            assert!(q(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_exist() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, |n| vec![n.to_string()]);
        assert_eq!(
            (page.items, page.next),
            (vec![1, 2], Some(encode(&["2".to_owned()])))
        );
        let last = Page::from_overfetch(vec![1, 2], 2, |n| vec![n.to_string()]);
        assert_eq!(last.next, None);
    }
}
