//! The PostgreSQL implementation of [`crate::store::leases`].

use super::*;
