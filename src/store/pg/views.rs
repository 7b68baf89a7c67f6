//! The PostgreSQL implementation of [`crate::store::views`].

use super::*;
