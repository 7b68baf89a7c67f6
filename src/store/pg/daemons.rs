//! The PostgreSQL implementation of [`crate::store::daemons`].

use super::*;
