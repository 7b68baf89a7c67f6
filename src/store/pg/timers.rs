//! The PostgreSQL implementation of [`crate::store::timers`].

use super::*;
