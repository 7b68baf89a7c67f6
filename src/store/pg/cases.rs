//! The PostgreSQL implementation of [`crate::store::cases`].

use super::*;
