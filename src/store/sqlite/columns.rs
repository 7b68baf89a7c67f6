//! Between SQL text and the domain's types: the names of `case::kinds` and times are written
//! as their text and read back here, once, in the row mapping. A stored value that is none of
//! its type's is a [`StoreError::Data`](super::StoreError::Data) naming the column, never a
//! silent default. Rows serialized to JSON write their times as they are stored
//! ([`ser_ts`], [`ser_opt_ts`]).

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSql, ToSqlOutput, Type, ValueRef};
use rusqlite::Row;

use crate::case::kinds::{
    Audience, AuditEvent, MessageOutcome, OutboundKind, OutboundState, ParticipantRole, TimerKind,
    TimerOutcome, Visibility,
};
use crate::store::{parse_ts, ts};

/// A column whose text is not a value of its type (carried inside rusqlite's conversion error
/// until `StoreError` takes it over).
#[derive(Debug, thiserror::Error)]
#[error("column {column}: {problem}")]
pub(crate) struct BadValue {
    pub column: String,
    pub problem: String,
}

/// A type stored as text.
pub(super) trait FromText: Sized {
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
        parse_ts(s).ok_or_else(|| format!("not a time: {s:?}"))
    }
}

fn bad(r: &Row<'_>, idx: usize, problem: String) -> rusqlite::Error {
    let column = r
        .as_ref()
        .column_name(idx)
        .map_or_else(|_| format!("#{idx}"), str::to_string);
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        Type::Text,
        Box::new(BadValue { column, problem }),
    )
}

/// Reads column `idx` (NOT NULL) as `T`.
pub(super) fn col<T: FromText>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = r.get(idx)?;
    T::from_text(&s).map_err(|p| bad(r, idx, p))
}

/// Reads column `idx` (NULL allowed) as `T`.
pub(super) fn col_opt<T: FromText>(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    match r.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(s) => T::from_text(&s).map(Some).map_err(|p| bad(r, idx, p)),
    }
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
    use super::super::StoreError;
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
