//! Ingest: watch the IMAP inbox, feed new messages to the pipeline in batches, and move each
//! message out of the inbox only after its batch has committed (invariant 1).
//!
//! One round: list `(UID RFC822.SIZE)` of everything in the inbox; quarantine what is over
//! the size limit without downloading it; fetch the rest `BODY.PEEK[]` in batches of
//! `mailbox.batch_size`; commit each batch in one transaction; then one `UID MOVE` per batch
//! to the processed (or quarantine) folder. Between rounds: IDLE (bounded by the poll
//! interval) or a plain poll. Any network error: reconnect with a capped, jittered
//! exponential backoff ([`backoff`]) that starts over after a session that worked.
//! A lease row in the database keeps a second daemon from fetching the same mailbox.

pub mod backoff;
pub mod connect;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_imap::extensions::idle::IdleResponse;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::MailboxConfig;
use crate::pipeline::{self, Engine, Inbound, Outcome};
pub use crate::store::leases::{holder_is_dead, holder_name};
use crate::store::{ImapSource, StoreError};
pub use connect::{connect, ConnectError, ImapSession};

/// Errors in one ingest session.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("imap: {}", connect::imap_text(.0))]
    Imap(async_imap::error::Error),
    #[error("imap: {0}")]
    Io(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("imap: mailbox {0} has no UIDVALIDITY")]
    NoUidValidity(String),
    #[error("imap: timed out after {0:?}")]
    Timeout(StdDuration),
}

/// Hooks the daemon gives ingest: where to report readiness and health, whom to wake.
#[derive(Clone)]
pub struct IngestHooks {
    /// Woken after a batch queued outbound mail.
    pub outbox: Arc<Notify>,
    /// Woken after every committed batch: it may have armed an earlier timer.
    pub scheduler: Arc<Notify>,
    /// Called once after the first successful login (systemd readiness).
    pub on_ready: Arc<dyn Fn() + Send + Sync>,
    /// Called after every healthy round (systemd watchdog).
    pub on_healthy: Arc<dyn Fn() + Send + Sync>,
    /// Told what each round did (status, metrics); its holder name is the lease's.
    pub monitor: Arc<crate::monitor::Monitor>,
}

impl std::fmt::Debug for IngestHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IngestHooks")
    }
}

pub use crate::store::SharedStore;

/// The mailbox named `label` in the engine's config (a reload may have changed its
/// settings), else `start`, the one the task was started for.
fn current_mailbox(engine: &Engine, start: &MailboxConfig) -> MailboxConfig {
    engine
        .config
        .mailboxes
        .iter()
        .find(|m| m.label() == start.label())
        .cloned()
        .unwrap_or_else(|| start.clone())
}

/// Runs ingest until `shutdown`, reconnecting on errors. The engine is re-read from `engine`
/// at every round, so a reload takes effect between batches.
///
/// The reconnect backoff starts over after a session that completed at least one round
/// (logged in, selected the inbox, checked the lease and, holding it, listed and drained the
/// inbox). Login alone is not enough: a server that accepts the login and then fails at
/// once (a broken mailbox, a proxy whose backend is down) would otherwise be asked again
/// every second for ever; it keeps backing off instead.
pub async fn run(
    engine: Arc<tokio::sync::RwLock<Arc<Engine>>>,
    mailbox: MailboxConfig,
    store: SharedStore,
    hooks: IngestHooks,
    shutdown: CancellationToken,
) {
    let holder = hooks.monitor.holder().to_string();
    let mut backoff = backoff::Backoff::reconnect();
    let mut ready_sent = false;
    while !shutdown.is_cancelled() {
        let eng = engine.read().await.clone();
        let m = current_mailbox(&eng, &mailbox);
        let mut worked = false;
        let result = session(
            &eng,
            &m,
            &engine,
            &store,
            &hooks,
            &holder,
            &shutdown,
            &mut ready_sent,
            &mut worked,
        )
        .await;
        if worked {
            backoff.reset();
        }
        match result {
            Ok(()) => break,
            Err(e) => {
                let retry_in = backoff.next_delay(&mut rand::thread_rng());
                let failures = backoff.failures();
                let transient = match &e {
                    IngestError::Connect(c) => c.is_transient(),
                    IngestError::Store(s) => s.is_transient(),
                    _ => true,
                };
                // One line per failed attempt; once the delay reaches its cap, a long
                // outage logs one line every 15-30 s.
                let stage = match &e {
                    IngestError::Store(_) => crate::monitor::Stage::Store,
                    _ => crate::monitor::Stage::Imap,
                };
                hooks
                    .monitor
                    .error(stage, &format!("mailbox {}: {e}", mailbox.label()));
                if transient {
                    tracing::warn!(mailbox = mailbox.label(), error = %e, retry_in = ?retry_in, failures, "ingest: error, reconnecting");
                } else {
                    tracing::error!(mailbox = mailbox.label(), error = %e, retry_in = ?retry_in, failures, "ingest: error that needs the admin, retrying");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(retry_in) => {}
                }
            }
        }
    }
    let key = current_mailbox(&engine.read().await.clone(), &mailbox).key();
    let h = holder.clone();
    if let Err(e) = crate::store::blocking(&store, move |s| s.release_lease(&key, &h)).await {
        tracing::warn!(error = %e, "ingest: could not release the fetch lease");
    }
}

async fn timed<T, E: Into<IngestError>>(
    d: StdDuration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, IngestError> {
    match tokio::time::timeout(d, f).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(IngestError::Timeout(d)),
    }
}

#[allow(clippy::too_many_arguments)]
async fn session(
    eng: &Arc<Engine>,
    m: &MailboxConfig,
    engine_cell: &Arc<tokio::sync::RwLock<Arc<Engine>>>,
    store: &SharedStore,
    hooks: &IngestHooks,
    holder: &str,
    shutdown: &CancellationToken,
    ready_sent: &mut bool,
    worked: &mut bool,
) -> Result<(), IngestError> {
    let cfg = eng.config.clone();
    let t = m.timeout.0;
    let mut s = connect(&cfg, m).await?;
    tracing::info!(mailbox = m.label(), host = %m.host, user = %m.user, "ingest: logged in");
    let caps = timed(t, s.capabilities()).await?;
    let has_move = caps.has_str("MOVE");
    let has_idle = caps.has_str("IDLE") && m.idle;
    let has_uidplus = caps.has_str("UIDPLUS");
    for folder in [&m.processed_folder, &m.quarantine_folder] {
        // CREATE fails when the folder exists; that is fine.
        let _ = timed(t, s.create(folder)).await;
    }
    let mbox = timed(t, s.select(&m.inbox)).await?;
    let uidvalidity = mbox
        .uid_validity
        .ok_or_else(|| IngestError::NoUidValidity(m.inbox.clone()))?;
    let key = m.key();
    let k = key.clone();
    let now = eng.clock.now();
    if let Some(prev) =
        crate::store::blocking(store, move |st| st.note_uidvalidity(&k, uidvalidity, now)).await?
    {
        tracing::warn!(
            previous = prev,
            current = uidvalidity,
            "ingest: UIDVALIDITY changed; rescanning the inbox (Message-ID deduplication keeps cases single)"
        );
    }
    if !*ready_sent {
        (hooks.on_ready)();
        *ready_sent = true;
    }

    // Until when the inbox is checked every `busy_poll_interval` rather than through IDLE.
    let mut busy_until: Option<tokio::time::Instant> = None;
    // When (on the engine's clock) this session last took or renewed the fetch lease.
    let mut lease_renewed: Option<chrono::DateTime<chrono::Utc>> = None;
    // Whether this session waits for another daemon's lease (said once, not every round).
    let mut standby = false;
    loop {
        // The engine may have been reloaded (SIGHUP); config changes to the mailbox itself
        // need a reconnect, which the next session picks up.
        let eng = engine_cell.read().await.clone();
        let lease_ttl = m.poll_interval.chrono() * 3 + chrono::Duration::seconds(60);
        let (k, h, now) = (key.clone(), holder.to_string(), eng.clock.now());
        // Renewed at most every LEASE_RENEW_EVERY (well within its time to live of at least
        // 63 s), not at every quick check: each renewal is a write with its fsync.
        let have_lease = match lease_renewed {
            Some(at) if now - at < LEASE_RENEW_EVERY && now >= at => true,
            _ => {
                let got = crate::store::blocking(store, move |st| {
                    st.acquire_lease_unless_dead(&k, &h, now, lease_ttl, &holder_is_dead)
                })
                .await?;
                lease_renewed = got.then_some(now);
                if got && standby {
                    tracing::info!(mailbox = %key, "ingest: took the fetch lease over; this daemon reads the mailbox now");
                    standby = false;
                }
                got
            }
        };
        let mut found = 0;
        if have_lease {
            found = drain(
                &mut s,
                &eng,
                m,
                store,
                hooks,
                &key,
                uidvalidity,
                has_move,
                has_uidplus,
                shutdown,
            )
            .await?;
        } else if !standby {
            standby = true;
            if eng.config.store.engine == crate::config::StoreEngine::Postgres {
                // Several daemons on one database: one reads, the others stand by.
                tracing::info!(mailbox = %key, "ingest: standing by: another daemon holds the fetch lease for this mailbox");
            } else {
                tracing::warn!(mailbox = %key, "ingest: another mailcase holds the fetch lease for this mailbox; waiting");
            }
        }
        if have_lease {
            hooks.monitor.imap_round();
        }
        (hooks.on_healthy)();
        // A whole round done: this connection worked (the backoff starts over).
        *worked = true;
        if shutdown.is_cancelled() {
            let _ = tokio::time::timeout(StdDuration::from_secs(5), s.logout()).await;
            return Ok(());
        }
        if have_lease {
            if found > 0 && !m.busy_period.0.is_zero() {
                busy_until = Some(tokio::time::Instant::now() + m.busy_period.0);
            }
            // Mail announced while the round ran (its EXISTS came with another command's
            // answer, so IDLE would not announce it again): another round at once.
            if new_mail_announced(&mut s) {
                continue;
            }
            if let Some(until) = busy_until {
                if tokio::time::Instant::now() < until {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(m.busy_poll_interval.0) => {}
                    }
                    continue;
                }
                busy_until = None;
            }
        }
        if has_idle && have_lease {
            let mut idle = s.idle();
            timed(t, idle.init()).await?;
            let (fut, _stop) = idle.wait_with_timeout(m.poll_interval.0);
            let r = tokio::select! {
                r = fut => r,
                _ = shutdown.cancelled() => Ok(IdleResponse::ManualInterrupt),
            };
            s = timed(t, idle.done()).await?;
            r?;
        } else {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(m.poll_interval.0) => {}
            }
            // Keep the connection alive and learn about new mail.
            timed(t, s.noop()).await?;
        }
    }
}

/// How often a session holding the fetch lease renews it.
const LEASE_RENEW_EVERY: chrono::Duration = chrono::Duration::seconds(30);

/// Capacity of async-imap's channel of unsolicited responses: when it is full, later
/// responses (an EXISTS among them) were dropped.
const UNSOLICITED_CAPACITY: usize = 100;

/// Empties the session's channel of unsolicited responses; true when it held news of
/// arriving mail (EXISTS or RECENT), or was full so such news may have been dropped.
fn new_mail_announced(s: &mut ImapSession) -> bool {
    use async_imap::types::UnsolicitedResponse as U;
    let full = s.unsolicited_responses.len() >= UNSOLICITED_CAPACITY;
    let mut news = false;
    while let Ok(r) = s.unsolicited_responses.try_recv() {
        news |= matches!(r, U::Exists(_) | U::Recent(_));
    }
    news || full
}

/// Most bytes of an oversized message's header block read to tell its sender (an agent).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The header block of message `uid` (at most [`MAX_HEADER_BYTES`]), without downloading
/// its body.
async fn fetch_header(
    s: &mut ImapSession,
    uid: u32,
    t: StdDuration,
) -> Result<Option<Vec<u8>>, IngestError> {
    let query = format!("BODY.PEEK[HEADER]<0.{MAX_HEADER_BYTES}>");
    let mut stream = timed(t, s.uid_fetch(uid.to_string(), &query)).await?;
    let mut header = None;
    while let Some(f) = timed(t, stream.try_next()).await? {
        if f.uid == Some(uid) {
            header = f.header().map(<[u8]>::to_vec);
        }
    }
    Ok(header)
}

/// Processes everything currently in the inbox, batch by batch; returns how many messages
/// the inbox held.
#[allow(clippy::too_many_arguments)]
async fn drain(
    s: &mut ImapSession,
    eng: &Arc<Engine>,
    m: &MailboxConfig,
    store: &SharedStore,
    hooks: &IngestHooks,
    key: &str,
    uidvalidity: u32,
    has_move: bool,
    has_uidplus: bool,
    shutdown: &CancellationToken,
) -> Result<usize, IngestError> {
    let t = m.timeout.0;
    let max = m.max_message_size.0;
    // What was announced before this listing is in it.
    let _ = new_mail_announced(s);
    // UID -> size, for everything in the inbox not marked deleted.
    let mut listing: BTreeMap<u32, u64> = BTreeMap::new();
    {
        // Streamed: one response at a time, whatever the size of the inbox.
        let mut stream = timed(t, s.uid_fetch("1:*", "(UID RFC822.SIZE FLAGS)")).await?;
        while let Some(f) = timed(t, stream.try_next()).await? {
            let deleted = f
                .flags()
                .any(|fl| matches!(fl, async_imap::types::Flag::Deleted));
            if let (Some(uid), false) = (f.uid, deleted) {
                listing.insert(uid, u64::from(f.size.unwrap_or(0)));
            }
        }
    }
    hooks.monitor.inbox_backlog(key, listing.len());
    if listing.is_empty() {
        return Ok(0);
    }
    let mut left = listing.len();
    // Oversized messages are quarantined from their size alone, never downloaded.
    let oversized: Vec<(u32, u64)> = listing
        .iter()
        .filter(|(_, &size)| size > max)
        .map(|(&u, &s)| (u, s))
        .collect();
    if !oversized.is_empty() {
        let mut quarantined = Vec::with_capacity(oversized.len());
        for (uid, size) in oversized {
            let src = ImapSource {
                mailbox: key.to_string(),
                uidvalidity,
                uid,
            };
            // Its header block (bounded) says whether an agent is to be told.
            let header = fetch_header(s, uid, t).await?;
            let e2 = eng.clone();
            let o = crate::store::blocking(store, move |st| {
                pipeline::quarantine_oversized(st, &e2, &src, size, max, header.as_deref())
            })
            .await?;
            log_outcome(uid, &o);
            hooks.monitor.message(o.name());
            quarantined.push(uid);
        }
        left = left.saturating_sub(quarantined.len());
        move_uids(
            s,
            &quarantined,
            &m.quarantine_folder,
            has_move,
            has_uidplus,
            t,
        )
        .await?;
    }
    let batches = plan_batches(
        listing
            .iter()
            .filter(|(_, &size)| size <= max)
            .map(|(&u, &s)| (u, s)),
        m.batch_size,
        BATCH_BYTES,
    );
    // Pipelined: while batch k commits (on the blocking pool), batch k+1 is fetched and
    // parsed on a blocking thread (parsing stays out of the write lock), and committed
    // batches are moved. Nothing moves out of the inbox before its own commit (invariant 1).
    // When each fetched message arrived in the mailbox (INTERNALDATE), for the ingest lag.
    let mut arrived: HashMap<u32, DateTime<Utc>> = HashMap::new();
    let mut next = match batches.first() {
        Some(b) => Some(
            parse_ahead(
                eng,
                fetch_batch(s, b, key, uidvalidity, t, &mut arrived).await?,
            )
            .await?,
        ),
        None => None,
    };
    // Committed, still in the inbox: moved while a later batch commits once there are
    // MOVE_AT_LEAST of them, and the rest at the end.
    let mut to_move = Committed::default();
    for i in 0..batches.len() {
        let Some((items, parsed)) = next.take() else {
            break;
        };
        let n = items.len();
        let e2 = eng.clone();
        let started = std::time::Instant::now();
        let commit = async {
            let r = crate::store::blocking(store, move |st| {
                let o = pipeline::process_parsed_batch(st, &e2, &items, Some(&parsed))?;
                drop(parsed);
                Ok((items, o))
            })
            .await;
            (r, started.elapsed())
        };
        let previous = if to_move.len() >= MOVE_AT_LEAST {
            std::mem::take(&mut to_move)
        } else {
            Committed::default()
        };
        // The IMAP side: fetch batch k+1, then move what is due while k+1 is parsed.
        let imap = async {
            let mut parsing = None;
            if let Some(b) = batches.get(i + 1).filter(|_| !shutdown.is_cancelled()) {
                let items = fetch_batch(s, b, key, uidvalidity, t, &mut arrived).await?;
                parsing = Some(parse_ahead(eng, items));
            }
            let fetched_at = started.elapsed();
            previous.move_out(s, m, has_move, has_uidplus).await?;
            let moved_at = started.elapsed();
            let next = match parsing {
                Some(p) => Some(p.await?),
                None => None,
            };
            // Per-stage timings of the pipeline (from the start of the commit).
            tracing::debug!(
                fetched_ms = fetched_at.as_millis() as u64,
                moved_ms = moved_at.as_millis() as u64,
                "ingest: next batch fetched, committed mail moved"
            );
            Ok::<_, IngestError>(next)
        };
        let ((committed, commit_took), fetched) = tokio::join!(commit, imap);
        let (items, outcomes) = committed?;
        tracing::debug!(
            messages = n,
            commit_ms = commit_took.as_millis() as u64,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ingest: batch committed"
        );
        let mut queued = false;
        let committed_at = crate::clock::Clock::now(&crate::clock::SystemClock);
        for (item, o) in items.iter().zip(&outcomes) {
            let uid = item.source.as_ref().map(|s| s.uid).unwrap_or(0);
            log_outcome(uid, o);
            hooks.monitor.message(o.name());
            if let Some(at) = arrived.remove(&uid) {
                hooks.monitor.ingest_lag(at, committed_at);
            }
            // Almost every outcome may have queued mail now (acknowledgments, agent
            // cards, relayed answers, command errors): wake the outbox unless the batch
            // held only duplicates, robots and quarantined mail.
            if !matches!(
                o,
                Outcome::Duplicate | Outcome::Robot { .. } | Outcome::Quarantined { .. }
            ) {
                queued = true;
            }
            if o.is_quarantined() {
                to_move.quarantined.push(uid);
            } else {
                to_move.processed.push(uid);
            }
        }
        left = left.saturating_sub(items.len());
        hooks.monitor.inbox_backlog(key, left);
        drop(items);
        if queued {
            hooks.outbox.notify_one();
        }
        hooks.scheduler.notify_one();
        // A failed move or prefetch ends the session: what is committed is moved first
        // (otherwise it would come back, as duplicates, in the next session).
        if let Err(e) = fetched {
            to_move.move_out(s, m, has_move, has_uidplus).await?;
            return Err(e);
        }
        next = fetched?;
        (hooks.on_healthy)();
        if shutdown.is_cancelled() {
            break;
        }
    }
    to_move.move_out(s, m, has_move, has_uidplus).await?;
    Ok(listing.len())
}

/// Committed messages are moved out of the inbox in groups of at least this many (one
/// `UID MOVE` each): Dovecot's Maildir rewrites the folder's UID list at every MOVE, so its
/// cost grows with the inbox (measured alone, 50 at a time from 10000: about 2000/s).
const MOVE_AT_LEAST: usize = 500;

/// Most bytes of messages fetched and committed in one batch (with `mailbox.batch_size`, the
/// most messages): bounds memory whatever the sizes in the inbox. On a 10000-message backlog
/// (bench/profile_ingest.py), 512 KiB made 221 commits taking 2.55 s in all, 2 MiB 55 taking
/// 1.98-2.17 s, for 5 MB more peak RSS.
const BATCH_BYTES: u64 = 2 * 1024 * 1024;

/// Splits `(uid, size)` in UID order into batches of at most `max_count` messages and about
/// `max_bytes` (a single larger message gets a batch of its own).
fn plan_batches(
    items: impl Iterator<Item = (u32, u64)>,
    max_count: usize,
    max_bytes: u64,
) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    let mut bytes = 0u64;
    for (uid, size) in items {
        if !cur.is_empty() && (cur.len() >= max_count.max(1) || bytes + size > max_bytes) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        cur.push(uid);
        bytes += size;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a fetched batch on the blocking pool (see [`pipeline::parse_batch`]); it starts
/// at once, whether or not the result is awaited yet.
fn parse_ahead(
    eng: &Arc<Engine>,
    items: Vec<Inbound>,
) -> impl std::future::Future<Output = Result<(Vec<Inbound>, Vec<pipeline::Parsed>), IngestError>> {
    let e = eng.clone();
    let task = tokio::task::spawn_blocking(move || {
        let parsed = pipeline::parse_batch(&e, &items);
        (items, parsed)
    });
    async move {
        task.await
            .map_err(|e| IngestError::Io(std::io::Error::other(format!("parse task failed: {e}"))))
    }
}

/// Fetches one batch, keeping only each message's bytes as it streams in.
async fn fetch_batch(
    s: &mut ImapSession,
    uids: &[u32],
    key: &str,
    uidvalidity: u32,
    t: StdDuration,
    arrived: &mut HashMap<u32, DateTime<Utc>>,
) -> Result<Vec<Inbound>, IngestError> {
    let set = uid_set(uids);
    let wanted: std::collections::HashSet<u32> = uids.iter().copied().collect();
    let mut items = Vec::with_capacity(uids.len());
    let mut stream = timed(t, s.uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")).await?;
    loop {
        let Some(f) = timed(t, stream.try_next()).await? else {
            break;
        };
        let (Some(uid), Some(body)) = (f.uid, f.body()) else {
            continue;
        };
        if !wanted.contains(&uid) {
            continue; // unsolicited FETCH data for another message
        }
        if let Some(at) = f.internal_date() {
            arrived.insert(uid, at.with_timezone(&Utc));
        }
        items.push(Inbound {
            source: Some(ImapSource {
                mailbox: key.to_string(),
                uidvalidity,
                uid,
            }),
            raw: body.to_vec(),
        });
    }
    Ok(items)
}

fn log_outcome(uid: u32, o: &Outcome) {
    match o {
        Outcome::Quarantined { reason } => {
            tracing::warn!(uid, outcome = o.name(), reason = %reason, "message quarantined")
        }
        Outcome::Duplicate => tracing::info!(uid, outcome = o.name(), "message already stored"),
        Outcome::NewCase {
            reference,
            acknowledged,
        } => tracing::info!(
            uid, outcome = o.name(), reference = %reference, acknowledged = *acknowledged, "new case"
        ),
        Outcome::Joined { reference } => {
            tracing::info!(uid, outcome = o.name(), reference = %reference, "message joined case")
        }
        Outcome::Reopened { reference } => {
            tracing::info!(uid, outcome = o.name(), reference = %reference, "customer reply reopened case")
        }
        Outcome::AgentReply { reference, relayed } => tracing::info!(
            uid, outcome = o.name(), reference = %reference, relayed = *relayed, "agent answer"
        ),
        Outcome::AgentNote { reference } => {
            tracing::info!(uid, outcome = o.name(), reference = %reference, "internal note")
        }
        Outcome::CommandRejected { reference } => tracing::warn!(
            uid, outcome = o.name(), reference = %reference, "agent reply rejected, agent told why"
        ),
        Outcome::Rated { reference, rating } => tracing::info!(
            uid, outcome = o.name(), reference = %reference, rating = *rating, "satisfaction rating"
        ),
        Outcome::Ignored { reason } => {
            tracing::warn!(uid, outcome = o.name(), reason = %reason, "message ignored")
        }
        Outcome::Unverified { reference, reason } => tracing::warn!(
            uid, outcome = o.name(), reference = %reference, reason = %reason,
            "message claiming the agent role kept as unverified note"
        ),
        Outcome::Robot {
            kind,
            reason,
            reference,
        } => tracing::info!(
            uid, outcome = o.name(), kind = kind.as_str(), reason = %reason,
            reference = reference.as_deref().unwrap_or("-"), "robot recorded, not answered"
        ),
    }
}

/// Compresses UIDs into an IMAP set: `1:5,7,9:12`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// UIDs of committed messages still in the inbox.
#[derive(Debug, Default)]
struct Committed {
    processed: Vec<u32>,
    quarantined: Vec<u32>,
}

impl Committed {
    fn len(&self) -> usize {
        self.processed.len() + self.quarantined.len()
    }

    /// Moves them out of the inbox: processed mail to the processed folder, quarantined
    /// mail to the quarantine folder.
    async fn move_out(
        &self,
        s: &mut ImapSession,
        m: &crate::config::MailboxConfig,
        has_move: bool,
        has_uidplus: bool,
    ) -> Result<(), IngestError> {
        let t = m.timeout.0;
        move_uids(
            s,
            &self.processed,
            &m.processed_folder,
            has_move,
            has_uidplus,
            t,
        )
        .await?;
        move_uids(
            s,
            &self.quarantined,
            &m.quarantine_folder,
            has_move,
            has_uidplus,
            t,
        )
        .await
    }
}

async fn move_uids(
    s: &mut ImapSession,
    uids: &[u32],
    folder: &str,
    has_move: bool,
    has_uidplus: bool,
    t: StdDuration,
) -> Result<(), IngestError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    if has_move {
        timed(t, s.uid_mv(&set, folder)).await?;
        return Ok(());
    }
    timed(t, s.uid_copy(&set, folder)).await?;
    {
        let st = timed(t, s.uid_store(&set, "+FLAGS.SILENT (\\Deleted)")).await?;
        let _: Vec<_> = timed(t, st.try_collect::<Vec<_>>()).await?;
    }
    if has_uidplus {
        let st = timed(t, s.uid_expunge(&set)).await?;
        let _: Vec<_> = timed(t, st.try_collect::<Vec<_>>()).await?;
    } else {
        let st = timed(t, s.expunge()).await?;
        let _: Vec<_> = timed(t, st.try_collect::<Vec<_>>()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8, 9, 12]), "1:3,5,7:9,12");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[9, 1, 2, 2]), "1:2,9");
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let b = plan_batches(
            [(1, 10), (2, 10), (3, 10), (4, 10), (5, 10)].into_iter(),
            2,
            1000,
        );
        assert_eq!(b, vec![vec![1, 2], vec![3, 4], vec![5]]);
        let b = plan_batches(
            [(1, 600), (2, 600), (3, 5000), (4, 1)].into_iter(),
            100,
            1000,
        );
        assert_eq!(b, vec![vec![1], vec![2], vec![3], vec![4]]);
        assert!(plan_batches(std::iter::empty(), 10, 10).is_empty());
    }
}

crate::shown_from!(IngestError::Imap(async_imap::error::Error));
crate::shown_from!(IngestError::Io(std::io::Error));
