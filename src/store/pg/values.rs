//! Between PostgreSQL values and the domain's types, as `sqlite/values` is for SQLite: the
//! names of `case::kinds`, statuses, priorities, categories and times are stored as their
//! text and read back here. A stored value that does not read as its type is a
//! [`StoreError::Data`] naming its column, never a silent default. Flags are BIGINT 0/1, as
//! SQLite's INTEGER.

use chrono::{DateTime, Utc};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;

use crate::case::kinds::{
    Audience, AuditEvent, Channel, MessageOutcome, OutboundKind, OutboundState, ParticipantRole,
    TimerKind, TimerOutcome, Visibility,
};
use crate::store::sqlite::values::FromText;
use crate::store::StoreError;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

macro_rules! named_columns {
    ($($t:ty),+) => {
        $(
            impl ToSql for $t {
                fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
                    self.as_str().to_sql(ty, out)
                }
                fn accepts(ty: &Type) -> bool {
                    <&str as ToSql>::accepts(ty)
                }
                to_sql_checked!();
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

impl ToSql for TimerOutcome {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        self.text().to_sql(ty, out)
    }
    fn accepts(ty: &Type) -> bool {
        <String as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

fn name_of(r: &Row, i: usize) -> String {
    r.columns()
        .get(i)
        .map_or_else(|| format!("#{i}"), |c| c.name().to_string())
}

/// Column `i` as a plain Rust value (`i64`, `String`, `Option<…>`, `Vec<u8>`, `f64`).
///
/// # Errors
/// [`StoreError::Data`] naming the column when it holds another type.
pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i)
        .map_err(|e| StoreError::Data(format!("column {} : {e}", name_of(r, i))))
}

/// Column `i` (NOT NULL) read as `T` from its text.
///
/// # Errors
/// [`StoreError::Data`] naming the column (`column`, else the statement's name for it).
pub(crate) fn text_named<T: FromText>(
    r: &Row,
    i: usize,
    column: Option<&str>,
) -> Result<T, StoreError> {
    text_opt_named(r, i, column)?.ok_or_else(|| {
        StoreError::Data(format!(
            "column {} holds \"NULL\": a value is required",
            column.map_or_else(|| name_of(r, i), str::to_string)
        ))
    })
}

/// Column `i` (NULL allowed) read as `T` from its text.
///
/// # Errors
/// [`StoreError::Data`] naming the column.
pub(crate) fn text_opt_named<T: FromText>(
    r: &Row,
    i: usize,
    column: Option<&str>,
) -> Result<Option<T>, StoreError> {
    let Some(s) = get::<Option<String>>(r, i)? else {
        return Ok(None);
    };
    T::from_text(&s).map(Some).map_err(|problem| {
        StoreError::Data(format!(
            "column {} holds {s:?}: {problem}",
            column.map_or_else(|| name_of(r, i), str::to_string)
        ))
    })
}

/// Column `i` (NOT NULL) as `T`, named as the statement names it.
///
/// # Errors
/// [`StoreError::Data`].
pub(crate) fn col<T: FromText>(r: &Row, i: usize) -> Result<T, StoreError> {
    text_named(r, i, None)
}

/// Column `i` (NULL allowed) as `T`, named as the statement names it.
///
/// # Errors
/// [`StoreError::Data`].
pub(crate) fn col_opt<T: FromText>(r: &Row, i: usize) -> Result<Option<T>, StoreError> {
    text_opt_named(r, i, None)
}

/// A time that is always set, of the named column.
///
/// # Errors
/// [`StoreError::Data`].
pub(crate) fn time(r: &Row, i: usize, column: &str) -> Result<DateTime<Utc>, StoreError> {
    text_named(r, i, Some(column))
}

/// A time that may be NULL, of the named column.
///
/// # Errors
/// [`StoreError::Data`].
pub(crate) fn opt_time(
    r: &Row,
    i: usize,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    text_opt_named(r, i, Some(column))
}

/// A 0/1 flag (BIGINT).
///
/// # Errors
/// [`StoreError::Data`].
pub(crate) fn flag(r: &Row, i: usize) -> Result<bool, StoreError> {
    Ok(get::<i64>(r, i)? != 0)
}

/// A flag as stored.
pub(crate) fn stored_flag(b: bool) -> i64 {
    i64::from(b)
}
