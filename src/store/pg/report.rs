//! The PostgreSQL implementation of [`crate::store::report`].

use super::*;
