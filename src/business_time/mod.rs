//! Time arithmetic for service levels: business hours, holidays, time zones.
//!
//! Pure functions over values; the clock is passed in by callers.

pub mod calendar;
mod local;
pub mod window;

pub use calendar::BusinessCalendar;
pub use window::SendWindow;
