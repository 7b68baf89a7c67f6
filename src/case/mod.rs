//! A case's identity and life: reference numbers and the status state machine.

pub mod reference;
pub mod status;

pub use reference::{Reference, ReferenceError};
pub use status::{CaseEvent, Status};
