//! The SQLite engine: the daemon's connections and their upkeep, and what it keeps on disk.

pub mod daemon;
pub mod files;
