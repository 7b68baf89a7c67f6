//! The PostgreSQL implementation of [`crate::store::messages`].

use super::*;
