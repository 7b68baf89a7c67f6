//! Time arithmetic for service levels: business hours, holidays, time zones.
//!
//! Pure functions over values; the clock is passed in by callers.

pub mod calendar;
mod local;
pub mod window;

pub use calendar::BusinessCalendar;
pub use window::SendWindow;

/// Zones the properties of this module run in, with and without DST: 30-minute (Lord Howe)
/// and 2-hour (Troll) shifts, changes at midnight (Santiago), a half-hour offset (Kolkata).
#[cfg(test)]
pub(crate) const TEST_ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "UTC",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Antarctica/Troll",
];
