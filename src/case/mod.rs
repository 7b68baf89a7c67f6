//! A case's identity and life: reference numbers, the status state machine and the
//! commands agents give by mail.

pub mod classification;
pub mod commands;
pub mod judge;
pub mod kinds;
pub mod reference;
pub mod service_level;
pub mod status;

pub use classification::{Category, Priority};
pub use reference::{Reference, ReferenceError};
pub use status::{CaseEvent, Status};
