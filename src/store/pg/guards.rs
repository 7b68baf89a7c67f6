//! The PostgreSQL implementation of [`crate::store::guards`].

use super::*;
