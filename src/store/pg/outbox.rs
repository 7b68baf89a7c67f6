//! The PostgreSQL implementation of [`crate::store::outbox`].

use super::*;
