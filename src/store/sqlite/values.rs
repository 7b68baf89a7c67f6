//! Between SQL text and the domain's types, in one place: a case's status, priority and
//! category, the names of `case::kinds` and times are written as their text and read back
//! here, once, in the row mappings. A stored value that does not read as its type is a
//! [`StoreError::Data`](crate::store::StoreError::Data) naming its column (the store's
//! `From<rusqlite::Error>` takes a [`BadValue`] over), never a silent default. Rows serialized
//! to JSON write their times as they are stored ([`ser_ts`], [`ser_opt_ts`]).

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSql, ToSqlOutput, Type, ValueRef};
use rusqlite::{Row, RowIndex};

use crate::case::kinds::{
    Audience, AuditEvent, Channel, MessageOutcome, OutboundKind, OutboundState, ParticipantRole,
    TimerKind, TimerOutcome, Visibility,
};
use crate::case::{Category, Priority, Status};
use crate::store::{parse_ts, ts};

/// A stored value that does not read as its column's type (carried inside rusqlite's
/// conversion error until `StoreError` takes it over).
#[derive(Debug)]
pub(crate) struct BadValue {
    column: String,
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

/// A type stored as text.
pub(crate) trait FromText: Sized {
    fn from_text(s: &str) -> Result<Self, String>;
}

macro_rules! named_columns {
    ($($t:ty),+) => {
        $(
            impl FromText for $t {
                fn from_text(s: &str) -> Result<Self, String> {
                    s.parse().map_err(|e: crate::case::kinds::UnknownName| e.to_string())
                }
            }

            impl ToSql for $t {
                fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                    Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.as_str().as_bytes())))
                }
            }
        )+
    };
}

named_columns!(
    Audience,
    AuditEvent,
    Channel,
    MessageOutcome,
    OutboundKind,
    OutboundState,
    ParticipantRole,
    TimerKind,
    Visibility
);

impl FromText for TimerOutcome {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|e: crate::case::kinds::UnknownName| e.to_string())
    }
}

impl ToSql for TimerOutcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.text()))
    }
}

impl FromText for DateTime<Utc> {
    fn from_text(s: &str) -> Result<Self, String> {
        parse_ts(s).ok_or_else(|| "not an RFC 3339 time".to_string())
    }
}

impl FromText for Status {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse::<Status>()
    }
}

/// Any name: the configuration may have dropped it since the case was filed.
impl FromText for Priority {
    fn from_text(s: &str) -> Result<Self, String> {
        Ok(Priority::new(s))
    }
}

/// Any name, as for priorities.
impl FromText for Category {
    fn from_text(s: &str) -> Result<Self, String> {
        Ok(Category::new(s))
    }
}

/// Reads column `idx` (NULL allowed) as `T`, naming it `column` when it fails (None: the
/// statement's name for it).
fn read<T: FromText, I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: Option<&str>,
) -> rusqlite::Result<Option<T>> {
    let i = idx.idx(r.as_ref())?;
    let Some(s) = r.get::<_, Option<String>>(i)? else {
        return Ok(None);
    };
    T::from_text(&s)
        .map(Some)
        .map_err(|problem| bad(r, i, column, s, problem, Type::Text))
}

/// Reads column `idx` (NOT NULL) as `T`.
fn read_set<T: FromText, I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: Option<&str>,
) -> rusqlite::Result<T> {
    let i = idx.idx(r.as_ref())?;
    match read(r, i, column)? {
        Some(v) => Ok(v),
        None => Err(bad(
            r,
            i,
            column,
            "NULL".into(),
            "a value is required".into(),
            Type::Null,
        )),
    }
}

fn bad(
    r: &Row<'_>,
    i: usize,
    column: Option<&str>,
    value: String,
    problem: String,
    ty: Type,
) -> rusqlite::Error {
    let column = column.map_or_else(
        || {
            r.as_ref()
                .column_name(i)
                .map_or_else(|_| format!("#{i}"), str::to_string)
        },
        str::to_string,
    );
    rusqlite::Error::FromSqlConversionFailure(
        i,
        ty,
        Box::new(BadValue {
            column,
            value,
            problem,
        }),
    )
}

/// Reads column `idx` (NOT NULL) as `T`, named as the statement names it.
pub(super) fn col<T: FromText>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    read_set(r, idx, None)
}

/// Reads column `idx` (NULL allowed) as `T`, named as the statement names it.
pub(super) fn col_opt<T: FromText>(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    read(r, idx, None)
}

/// A time that may be NULL, of the named column.
pub(super) fn opt_time<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    read(r, idx, Some(column))
}

/// A time that is always set, of the named column.
pub(super) fn time<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<DateTime<Utc>> {
    read_set(r, idx, Some(column))
}

/// A case's status, of the named column.
pub(super) fn status<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Status> {
    read_set(r, idx, Some(column))
}

/// A case's priority, of the named column.
pub(super) fn priority<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Priority> {
    read_set(r, idx, Some(column))
}

/// A case's category, of the named column.
pub(super) fn category<I: RowIndex>(
    r: &Row<'_>,
    idx: I,
    column: &'static str,
) -> rusqlite::Result<Category> {
    read_set(r, idx, Some(column))
}

/// Serializes a time as its column stores it ([`ts`]).
///
/// # Errors
/// The serializer's.
pub fn ser_ts<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ts(*t))
}

/// [`ser_ts`] for a time that may be unset (`null`).
///
/// # Errors
/// The serializer's.
pub fn ser_opt_ts<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&ts(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::*;

    #[test]
    fn an_unknown_stored_name_is_a_data_error_naming_its_column() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("c.db")).unwrap();
        s.conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        s.conn
            .execute(
                "INSERT INTO timers(case_id, kind, target_at, due_at, created_at)
                 VALUES (1, 'coffee_break', '2026-11-23T10:00:00.000000Z', '2026-11-23T10:00:00.000000Z', 'yesterday')",
                [],
            )
            .unwrap();
        let e = s.read().timers(None).unwrap_err();
        assert!(
            matches!(&e, StoreError::Data(m) if m.contains("column kind") && m.contains("coffee_break")),
            "{e}"
        );
        s.conn
            .execute("UPDATE timers SET kind = 'auto_close'", [])
            .unwrap();
        let e = s.read().timers(None).unwrap_err();
        assert!(
            matches!(&e, StoreError::Data(m) if m.contains("column created_at") && m.contains("yesterday")),
            "{e}"
        );
    }

    #[test]
    fn times_serialize_as_stored() {
        #[derive(serde::Serialize)]
        struct Row {
            #[serde(serialize_with = "ser_ts")]
            at: DateTime<Utc>,
            #[serde(serialize_with = "ser_opt_ts")]
            sent: Option<DateTime<Utc>>,
        }
        let at = parse_ts("2026-11-23T10:00:00.123456Z").unwrap();
        assert_eq!(
            serde_json::to_string(&Row { at, sent: None }).unwrap(),
            r#"{"at":"2026-11-23T10:00:00.123456Z","sent":null}"#
        );
    }
}
