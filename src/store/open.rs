//! Opening the configured store, whichever its engine (`[store] engine`): for the daemon,
//! the admin commands and `mailcase check`.

use std::sync::Arc;

use crate::config::{Config, StoreEngine};
use crate::store::pg::{PgStore, Target};
use crate::store::sqlite::files;
use crate::store::{Store, StoreError};

/// Where the configured PostgreSQL database is, with its password read from its secret
/// source (file, environment or systemd credential).
///
/// # Errors
/// [`StoreError::Config`] naming the key that is missing or wrong, or the secret that cannot
/// be read.
pub fn pg_target(config: &Config) -> Result<Arc<Target>, StoreError> {
    let st = &config.store;
    let url = st.url.as_deref().ok_or_else(|| {
        StoreError::Config("store.url: is required with engine = \"postgres\"".into())
    })?;
    let password = match st
        .secret_source()
        .map_err(|e| StoreError::Config(format!("store: {e}")))?
    {
        Some(source) => Some(
            crate::secret::read_key(&source, &config.secret_places())
                .map_err(|e| StoreError::Config(format!("store: the database password: {e}")))?,
        ),
        None => None,
    };
    let ca = st.ca_file.as_ref().map(|c| config.resolve(c));
    Ok(
        Target::new(url, password.as_ref().map(|p| p.expose()), ca.as_deref())
            .map_err(|e| {
                StoreError::Config(if e.starts_with("store.") {
                    e
                } else {
                    format!("store.url: {e}")
                })
            })?
            .shared(),
    )
}

impl Store {
    /// Opens the configured database for writing (creating or upgrading its schema), as the
    /// daemon, `mailcase deliver` and the records commands do.
    ///
    /// # Errors
    /// [`StoreError`] from opening or migrating the database.
    pub fn open_configured(config: &Config) -> Result<Store, StoreError> {
        match config.store.engine {
            StoreEngine::Sqlite => Ok(Store::new(Box::new(
                crate::store::sqlite::daemon::open_sized(
                    &config.db_path(),
                    config.store.max_size.map(|m| m.0),
                    None,
                )?,
            ))),
            StoreEngine::Postgres => Ok(Store::new(Box::new(PgStore::open(pg_target(config)?)?))),
        }
    }

    /// Opens the configured database for the CLI's queries while the daemon runs: never
    /// creating or upgrading it.
    ///
    /// # Errors
    /// [`StoreError`]: a missing database, or a schema this program does not read.
    pub fn open_read_only_configured(config: &Config) -> Result<Store, StoreError> {
        match config.store.engine {
            StoreEngine::Sqlite => Store::open_read_only(&config.db_path()),
            StoreEngine::Postgres => Ok(Store::new(Box::new(PgStore::open_read_only(pg_target(
                config,
            )?)?))),
        }
    }
}

/// Where the configured database is, for logs (a path, or a URL without its password).
pub fn describe(config: &Config) -> String {
    match config.store.engine {
        StoreEngine::Sqlite => config.db_path().display().to_string(),
        StoreEngine::Postgres => match pg_target(config) {
            Ok(t) => t.to_string(),
            Err(_) => config.store.url.clone().unwrap_or_default(),
        },
    }
}

/// What `mailcase check` says about the configured database, without changing it.
///
/// # Errors
/// [`StoreError`] naming what is wrong: the file, or the URL and the server's answer (a
/// wrong password, an unknown database, an unreachable server).
pub fn check_database(config: &Config) -> Result<String, StoreError> {
    match config.store.engine {
        StoreEngine::Sqlite => files::check_database(config),
        StoreEngine::Postgres => {
            let target = pg_target(config)?;
            match PgStore::open_read_only(target.clone()) {
                Ok(s) => Ok(format!(
                    "database {target}: ok (PostgreSQL, schema v{})",
                    s.version()?
                )),
                Err(StoreError::TooOld { found, known }) => Ok(format!(
                    "database {target}: schema v{found}, upgraded to v{known} when the daemon starts"
                )),
                Err(StoreError::Empty { .. }) => Ok(format!(
                    "database {target}: ok (PostgreSQL, empty: the daemon creates the schema, v{}, when it first runs)",
                    crate::store::pg::MIGRATIONS.len()
                )),
                Err(e) => Err(e),
            }
        }
    }
}

/// Whether any of `needles` is left in the store after an erasure: in SQLite's files
/// (byte for byte, WAL included), or in any text or bytes column of any PostgreSQL table.
///
/// # Errors
/// [`StoreError`] reading the files or querying the database.
pub fn trace_left(
    config: &Config,
    needles: &[String],
) -> Result<Option<crate::store::Trace>, StoreError> {
    match config.store.engine {
        StoreEngine::Sqlite => files::trace_on_disk(config, needles),
        StoreEngine::Postgres => {
            let s = PgStore::open(pg_target(config)?)?;
            crate::store::pg::trace_in_database(&s, needles)
        }
    }
}
