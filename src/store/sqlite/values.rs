//! Stored text <-> the domain's types, in one place: the row mappings read a case's status,
//! priority, category and times through these, and the structs that are serialized write
//! their times back exactly as they are stored ([`ts`]).
//!
//! A stored value that does not read as its type is a [`StoreError::Data`] naming its column
//! (see the `From<rusqlite::Error>` below), never a silent default.

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{Row, RowIndex};

use crate::case::{Category, Priority, Status};
use crate::store::parse_ts;

/// A stored value that does not read as its column's type.
#[derive(Debug)]
pub(crate) struct BadValue {
    column: &'static str,
    value: String,
    problem: String,
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {} holds {:?}: {}",
            self.column, self.value, self.problem
        )
    }
}

impl std::error::Error for BadValue {}

/// Reads a text column and converts it, or fails naming the column.
fn convert<T, I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> rusqlite::Result<Option<T>> {
    let Some(s) = r.get::<_, Option<String>>(idx)? else {
        return Ok(None);
    };
    match f(&s) {
        Ok(v) => Ok(Some(v)),
        Err(problem) => Err(rusqlite::Error::FromSqlConversionFailure(
            idx.idx(r.as_ref())?,
            rusqlite::types::Type::Text,
            Box::new(BadValue {
                column,
                value: s,
                problem,
            }),
        )),
    }
}

fn required<T>(
    v: Option<T>,
    r: &Row<'_>,
    idx: impl RowIndex,
    column: &'static str,
) -> rusqlite::Result<T> {
    match v {
        Some(v) => Ok(v),
        None => Err(rusqlite::Error::FromSqlConversionFailure(
            idx.idx(r.as_ref())?,
            rusqlite::types::Type::Null,
            Box::new(BadValue {
                column,
                value: "NULL".into(),
                problem: "a value is required".into(),
            }),
        )),
    }
}

fn time_of(s: &str) -> Result<DateTime<Utc>, String> {
    parse_ts(s).ok_or_else(|| "not an RFC 3339 time".to_string())
}

/// A time that may be NULL.
pub(super) fn opt_time<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    convert(r, idx, column, time_of)
}

/// A time that is always set.
pub(super) fn time<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<DateTime<Utc>> {
    let v = opt_time(r, idx, column)?;
    required(v, r, idx, column)
}

/// A case's status.
pub(super) fn status<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Status> {
    let v = convert(r, idx, column, str::parse::<Status>)?;
    required(v, r, idx, column)
}

/// A case's priority (any name: the configuration may have dropped it since).
pub(super) fn priority<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Priority> {
    let v = convert(r, idx, column, |s| Ok(Priority::new(s)))?;
    required(v, r, idx, column)
}

/// A case's category (any name, as for priorities).
pub(super) fn category<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Category> {
    let v = convert(r, idx, column, |s| Ok(Category::new(s)))?;
    required(v, r, idx, column)
}
