//! Test databases: the suite runs on PostgreSQL when `MAILCASE_TEST_PG_URL` names a server
//! (`tests/pgserver/up.sh` starts one and writes its settings), each test in a database of
//! its own, created here. Not part of mailcase's API.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::{PgStore, Target};
use crate::store::StoreError;

/// A fresh database for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Its URL (no password).
    pub url: String,
    /// The file holding the password, if the server wants one.
    pub password_file: Option<PathBuf>,
    /// The CA certificate of the server's TLS certificate, if any.
    pub ca_file: Option<PathBuf>,
    /// The database's name.
    pub name: String,
}

/// Whether the suite runs on PostgreSQL (`MAILCASE_TEST_PG_URL` set).
pub fn enabled() -> bool {
    std::env::var_os("MAILCASE_TEST_PG_URL").is_some_and(|v| !v.is_empty())
}

fn password(file: &Option<PathBuf>) -> Option<String> {
    file.as_ref().map(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_else(|e| panic!("MAILCASE_TEST_PG_PASSWORD_FILE {}: {e}", f.display()))
            .trim_end()
            .to_string()
    })
}

/// Creates a database of its own for a test, on the server `MAILCASE_TEST_PG_URL` names
/// (`MAILCASE_TEST_PG_PASSWORD_FILE`, `MAILCASE_TEST_PG_CA`); None when that is not set.
///
/// # Panics
/// When the server cannot be reached: a suite asked to run on PostgreSQL must not pass
/// silently on nothing.
pub fn create() -> Option<TestDb> {
    static N: AtomicU32 = AtomicU32::new(0);
    let base = std::env::var("MAILCASE_TEST_PG_URL")
        .ok()
        .filter(|v| !v.is_empty())?;
    let password_file = std::env::var_os("MAILCASE_TEST_PG_PASSWORD_FILE").map(PathBuf::from);
    let ca_file = std::env::var_os("MAILCASE_TEST_PG_CA").map(PathBuf::from);
    let name = format!(
        "mc_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let admin = Target::new(
        &base,
        password(&password_file).as_deref(),
        ca_file.as_deref(),
    )
    .unwrap_or_else(|e| panic!("MAILCASE_TEST_PG_URL {base}: {e}"));
    let client = admin
        .connect()
        .unwrap_or_else(|e| panic!("MAILCASE_TEST_PG_URL: {e}"));
    super::wait(client.batch_execute(&format!("CREATE DATABASE {name}")))
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    let url = match base.rsplit_once('/') {
        Some((server, rest)) => {
            let query = rest
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{server}/{name}{query}")
        }
        None => panic!("MAILCASE_TEST_PG_URL {base} names no database"),
    };
    Some(TestDb {
        url,
        password_file,
        ca_file,
        name,
    })
}

impl TestDb {
    /// Where to connect.
    pub fn target(&self) -> Arc<Target> {
        Target::new(
            &self.url,
            password(&self.password_file).as_deref(),
            self.ca_file.as_deref(),
        )
        .expect("test database URL")
        .shared()
    }

    /// Opens it (migrating it).
    ///
    /// # Errors
    /// [`StoreError`] from opening it.
    pub fn open(&self) -> Result<PgStore, StoreError> {
        PgStore::open(self.target())
    }

    /// Opens it as a [`Store`].
    ///
    /// # Errors
    /// [`StoreError`] from opening it.
    pub fn store(&self) -> Result<crate::store::Store, StoreError> {
        Ok(crate::store::Store::new(Box::new(self.open()?)))
    }

    /// Drops the database (closing the connections still open to it); a test calls it when
    /// done, so a suite run does not leave hundreds of databases (and their files, which
    /// every checkpoint and crash recovery of the server walks) behind.
    pub fn drop_database(&self) {
        let Some(base) = std::env::var("MAILCASE_TEST_PG_URL").ok() else {
            return;
        };
        let Ok(admin) = Target::new(
            &base,
            password(&self.password_file).as_deref(),
            self.ca_file.as_deref(),
        ) else {
            return;
        };
        if let Ok(c) = admin.connect() {
            let _ = super::wait(c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )));
        }
    }

    /// The `[store]` lines of a config using it.
    pub fn toml(&self) -> String {
        let mut s = format!("engine = \"postgres\"\nurl = \"{}\"\n", self.url);
        if let Some(p) = &self.password_file {
            s.push_str(&format!("password_file = \"{}\"\n", p.display()));
        }
        if let Some(c) = &self.ca_file {
            s.push_str(&format!("ca_file = \"{}\"\n", c.display()));
        }
        s
    }
}
