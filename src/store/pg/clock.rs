//! The PostgreSQL implementation of [`crate::store::clock`].

use super::*;
