//! The PostgreSQL implementation of [`crate::store::records`].

use super::*;
