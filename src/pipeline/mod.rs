//! The pipeline from raw bytes to committed case changes: parse -> classify -> thread ->
//! store, with the acknowledgment queued in the same transaction (docs/design.md data flow).
//!
//! Both IMAP ingest and `mailcase deliver` call [`process_batch`]. A batch is one SQLite
//! transaction. When a message trips a permanent error, the batch is undone and run again
//! with a savepoint per message, so that message is quarantined alone; a transient error
//! (disk full, locked database) aborts the whole batch and leaves every message of it in the
//! INBOX for the next round.

mod agent;
mod colleagues;
mod collision;
mod context;
mod customer;
pub mod dedupe;
mod guards;
mod intake;
mod managers;
mod merge;
mod participants;
mod timers;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::business_time::BusinessCalendar;
use crate::case::kinds::{
    Audience, AuditEvent, Channel, MessageOutcome, OutboundKind, ParticipantRole, Visibility,
};
use crate::case::service_level::ServiceLevel;
use crate::case::status::{transition, CaseEvent, Status};
use crate::case::{Category, Priority, Reference};
use crate::classify::robot::{self, RobotKind};
use crate::classify::{Classification, Classifier};
use crate::clock::SharedClock;
use crate::config::{Config, SpamAction};
use crate::mail::{self, AckFacts};
use crate::outbox::compose::{self, Outgoing};
use crate::parse::{self, InboundMessage, ParseLimits};
use crate::render::Renderer;
use crate::store::guards::FloodKey;
use crate::store::{CaseRow, ImapSource, NewCase, NewMessage, NewOutbound, Store, StoreError, Tx};
use crate::thread::token::{Role, TokenKey};
use crate::thread::{self, subject, Threading};

pub use timers::{fire_due, resync_all, Fired};

/// Everything the pipeline needs that comes from config, built once (and again on reload).
#[derive(Debug)]
pub struct Engine {
    pub config: Arc<Config>,
    pub classifier: Arc<Classifier>,
    pub calendar: BusinessCalendar,
    pub renderer: Arc<Renderer>,
    pub clock: SharedClock,
    pub limits: ParseLimits,
    /// Signs and checks reply addresses.
    pub tokens: TokenKey,
    /// When scheduled mail may reach customers.
    pub window: crate::business_time::window::SendWindow,
    /// The languages the templates folder ships, and the words each one uses.
    pub locales: Arc<crate::locale::Locales>,
    /// The numbers the acknowledgment names.
    pub found: mail::Found,
    /// The queue whose cases this engine handles, and its brand (docs/design.md,
    /// "Mailboxes, queues and brands").
    pub queue: String,
    pub brand: String,
    /// Each queue's engine, when the config names queues (only in the engine the daemon
    /// holds, [`Engine::new`]; a queue's own engine has none). Empty: this engine handles
    /// every case.
    queues: Vec<Arc<Engine>>,
    /// Every brand's reference prefix: a subject tag of any of them threads.
    prefixes: Vec<String>,
    /// Every address of ours, lower-cased (`Config::own_addresses`): mail from them is
    /// never answered, and our reply, rating and intake addresses (`local+token@`) are built
    /// on them.
    own: Vec<String>,
    domain: String,
}

/// Why an engine could not be built from a config.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Rule(#[from] crate::classify::RuleError),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Load(#[from] mail::LoadError),
    #[error("support: reply-token key: {0}")]
    TokenKey(String),
}

impl Engine {
    /// Compiles rules, loads templates and renders each against a sample.
    ///
    /// # Errors
    /// A rule that does not compile or a template that does not load or render.
    pub fn new(config: Arc<Config>, clock: SharedClock) -> Result<Engine, EngineError> {
        let first = config.queue_list()[0].clone();
        let classifier = Arc::new(Classifier::from_config(&config)?);
        let mut root = Engine::build(
            config.clone(),
            clock.clone(),
            &first.name,
            &config.brand_of(&first),
            classifier.clone(),
            None,
        )?;
        if config.has_queues() {
            // One engine per queue, on its brand's config. Templates are loaded once per
            // folder laid over the shipped ones (a brand without its own folder shares the
            // daemon's): each load is a megabyte or so.
            type Loaded = (
                Option<std::path::PathBuf>,
                Arc<Renderer>,
                Arc<crate::locale::Locales>,
            );
            let mut loaded: Vec<Loaded> = vec![(None, root.renderer.clone(), root.locales.clone())];
            for q in config.queue_list() {
                let cfg = config.for_queue(&q.name);
                let overlay = cfg.templates.overlay.clone();
                let shared = loaded
                    .iter()
                    .find(|(o, _, _)| *o == overlay)
                    .map(|(_, r, l)| (r.clone(), l.clone()));
                let e = Engine::build(
                    Arc::new(cfg),
                    clock.clone(),
                    &q.name,
                    &config.brand_of(&q),
                    classifier.clone(),
                    shared,
                )?;
                if !loaded.iter().any(|(o, _, _)| *o == overlay) {
                    loaded.push((overlay, e.renderer.clone(), e.locales.clone()));
                }
                root.queues.push(Arc::new(e));
            }
        }
        Ok(root)
    }

    /// The engine of one queue: `config` is already the queue's ([`Config::for_queue`]);
    /// `templates` are its brand's when another queue of the brand loaded them.
    fn build(
        config: Arc<Config>,
        clock: SharedClock,
        queue: &str,
        brand: &str,
        classifier: Arc<Classifier>,
        templates: Option<(Arc<Renderer>, Arc<crate::locale::Locales>)>,
    ) -> Result<Engine, EngineError> {
        let (renderer, locales) = match templates {
            Some(t) => t,
            None => {
                let (renderer, locales) = mail::load_all(&config)?;
                // Render every template once now, in every language: a template an admin
                // broke is refused at start or reload, instead of failing (and quarantining)
                // every complaint that needs it.
                mail::check_all(&renderer, &locales)?;
                (Arc::new(renderer), Arc::new(locales))
            }
        };
        let calendar = BusinessCalendar::from_config(&config.calendar);
        let source = config
            .token_secret_source()
            .map_err(EngineError::TokenKey)?;
        let secret = crate::secret::read_key(&source, &config.secret_places())
            .map_err(|e| EngineError::TokenKey(e.to_string()))?;
        let tokens = TokenKey::new(&secret).map_err(|e| EngineError::TokenKey(e.to_string()))?;
        let window = crate::business_time::window::SendWindow::new(
            calendar.tz(),
            config.send_window.days.clone(),
            config.send_window.start,
            config.send_window.end,
        );
        let limits = ParseLimits {
            max_parts: config.limits.max_parts,
            max_depth: config.limits.max_depth,
            max_headers: config.limits.max_headers,
            ..ParseLimits::default()
        };
        let mut prefixes = vec![config.support.reference_prefix.clone()];
        for b in &config.brands {
            if let Some(p) = &b.reference_prefix {
                if !prefixes.contains(p) {
                    prefixes.push(p.clone());
                }
            }
        }
        Ok(Engine {
            found: mail::Found::from_config(&config),
            locales,
            queue: queue.to_string(),
            brand: brand.to_string(),
            queues: vec![],
            prefixes,
            own: config.own_addresses(),
            domain: config.message_id_domain(),
            config,
            classifier,
            calendar,
            renderer,
            clock,
            limits,
            tokens,
            window,
        })
    }
}

impl Engine {
    /// The engine of queue `name`: itself without queues, or for a queue the config no
    /// longer names (its cases then go on in the default queue).
    pub fn for_queue(&self, name: &str) -> &Engine {
        self.queues
            .iter()
            .find(|e| e.queue == name)
            .or_else(|| self.queues.first())
            .map_or(self, |e| e.as_ref())
    }

    /// The engine of a case's queue (a case from before queues: the default queue).
    pub fn for_case(&self, case: &CaseRow) -> &Engine {
        self.for_queue(case.queue.as_deref().unwrap_or(&self.queue))
    }

    /// Every queue's engine (itself alone without queues).
    pub fn queue_engines(&self) -> Vec<&Engine> {
        if self.queues.is_empty() {
            vec![self]
        } else {
            self.queues.iter().map(|e| e.as_ref()).collect()
        }
    }

    /// Every brand's reference prefix.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// The first valid reply token among the addresses `msg` was delivered or written to,
    /// on any of our addresses.
    pub fn find_token(&self, msg: &InboundMessage) -> Option<crate::thread::token::Verified> {
        self.own.iter().find_map(|b| self.tokens.find_in(msg, b))
    }

    /// Whether `msg` was sent to a rating address of ours, valid or not.
    pub fn is_feedback_attempt(&self, msg: &InboundMessage) -> bool {
        self.own
            .iter()
            .any(|b| self.tokens.is_feedback_attempt(msg, b))
    }

    /// Whether `msg` was sent to an intake address of ours, and whether it is `from`'s.
    pub fn intake(&self, msg: &InboundMessage, from: &str) -> crate::thread::token::Intake {
        use crate::thread::token::Intake;
        let mut found = Intake::Absent;
        for b in &self.own {
            match self.tokens.intake(msg, b, from) {
                Intake::Own => return Intake::Own,
                Intake::NotOwn => found = Intake::NotOwn,
                Intake::Absent => {}
            }
        }
        found
    }

    /// Where a new message goes: its queue, and the address of ours it was written to.
    pub fn route(&self, msg: &InboundMessage, source: Option<&ImapSource>) -> crate::config::Route {
        self.config.route(
            msg.to
                .iter()
                .chain(msg.cc.iter())
                .map(|m| m.address.as_str()),
            msg.header_all("X-Original-To")
                .chain(msg.delivered_to.iter().map(String::as_str)),
            source.map(|s| s.mailbox.as_str()),
        )
    }

    /// The address of ours that answers a customer who wrote to `written_to`: that one while
    /// it is still ours, else this queue's brand's reply address (`support.address` of its
    /// config).
    pub fn answering_address(&self, written_to: Option<&str>) -> String {
        written_to
            .map(str::to_lowercase)
            .filter(|a| self.own.contains(a))
            .unwrap_or_else(|| self.config.support.address.clone())
    }

    /// Where the words of a mail come from.
    pub fn words(&self) -> mail::Words<'_> {
        mail::Words {
            cfg: &self.config,
            calendar: &self.calendar,
            locales: &self.locales,
        }
    }
}

/// One raw message and where it came from.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub source: Option<ImapSource>,
    pub raw: Vec<u8>,
}

/// What happened to one message; logged once per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new case; `acknowledged` is false when the ack was suppressed (cap, disabled).
    NewCase {
        reference: String,
        acknowledged: bool,
    },
    /// A customer-side message joined an existing case.
    Joined { reference: String },
    /// A customer's reply reopened a resolved case.
    Reopened { reference: String },
    /// An agent's answer; `relayed` when it was queued to the customer.
    AgentReply { reference: String, relayed: bool },
    /// An agent's `#note`: recorded, not relayed.
    AgentNote { reference: String },
    /// An agent's reply with bad commands: recorded, nothing changed, the agent told why.
    CommandRejected { reference: String },
    /// A message claiming the agent role that failed its checks: an unverified note.
    Unverified { reference: String, reason: String },
    /// A satisfaction rating recorded.
    Rated { reference: String, rating: u8 },
    /// Recorded without a case: a rating link that did not verify, or for no case.
    Ignored { reason: String },
    /// A robot: stored, never answered.
    Robot {
        kind: RobotKind,
        reason: String,
        reference: Option<String>,
    },
    /// Already stored (same UID, Message-ID or bytes): nothing new.
    Duplicate,
    /// Could not be taken in; moved to the quarantine folder.
    Quarantined { reason: String },
}

impl Outcome {
    /// The outcome's name, as the log and the metrics name it.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::NewCase { .. } => "new_case",
            Outcome::Joined { .. } => "joined",
            Outcome::Reopened { .. } => "reopened",
            Outcome::AgentReply { .. } => "agent_reply",
            Outcome::AgentNote { .. } => "agent_note",
            Outcome::CommandRejected { .. } => "command_rejected",
            Outcome::Unverified { .. } => "unverified_note",
            Outcome::Rated { .. } => "rated",
            Outcome::Ignored { .. } => "ignored",
            Outcome::Robot { .. } => "robot",
            Outcome::Duplicate => "duplicate",
            Outcome::Quarantined { .. } => "quarantined",
        }
    }

    /// True when the message goes to the quarantine folder rather than the processed one.
    pub fn is_quarantined(&self) -> bool {
        matches!(self, Outcome::Quarantined { .. })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::NewCase {
                reference,
                acknowledged: true,
            } => write!(f, "new case {reference}, acknowledgment queued"),
            Outcome::NewCase {
                reference,
                acknowledged: false,
            } => write!(f, "new case {reference}, acknowledgment suppressed"),
            Outcome::Joined { reference } => write!(f, "joined {reference}"),
            Outcome::Reopened { reference } => write!(f, "reopened {reference}"),
            Outcome::AgentReply {
                reference,
                relayed: true,
            } => write!(f, "agent answer on {reference}, relayed to the customer"),
            Outcome::AgentReply {
                reference,
                relayed: false,
            } => write!(f, "agent commands on {reference}"),
            Outcome::AgentNote { reference } => write!(f, "internal note on {reference}"),
            Outcome::CommandRejected { reference } => {
                write!(f, "agent reply on {reference} rejected (bad commands)")
            }
            Outcome::Unverified { reference, reason } => {
                write!(f, "unverified note on {reference}: {reason}")
            }
            Outcome::Rated { reference, rating } => write!(f, "rating {rating} for {reference}"),
            Outcome::Ignored { reason } => write!(f, "ignored: {reason}"),
            Outcome::Robot {
                kind,
                reason,
                reference,
            } => match reference {
                Some(r) => write!(f, "robot ({}: {reason}) recorded on {r}", kind.as_str()),
                None => write!(f, "robot ({}: {reason}) recorded", kind.as_str()),
            },
            Outcome::Duplicate => write!(f, "duplicate, already stored"),
            Outcome::Quarantined { reason } => write!(f, "quarantined: {reason}"),
        }
    }
}

/// Processes messages in one transaction; returns one outcome per input, in order. A message
/// the store refuses (a permanent error) is quarantined alone and the rest commit.
///
/// # Errors
/// A transient [`StoreError`] (nothing of the batch is committed; retry later).
pub fn process_batch(
    store: &mut Store,
    engine: &Engine,
    items: &[Inbound],
) -> Result<Vec<Outcome>, StoreError> {
    process_parsed_batch(store, engine, items, None)
}

/// A message parsed ahead of its batch's transaction, with its robot verdict.
pub type Parsed = Result<(InboundMessage, Option<robot::RobotVerdict>), parse::ParseError>;

/// Parses a message and tells whether a robot sent it: both pure, so both run outside the
/// write lock when the ingest parses ahead.
fn prepare(engine: &Engine, raw: &[u8]) -> Parsed {
    parse::parse(raw, &engine.limits).map(|m| {
        let verdict = robot::detect(&m, &engine.own);
        (m, verdict)
    })
}

/// Parses a batch without touching the store: the ingest does this for the next batch
/// while the current one commits, so parsing runs beside SQLite instead of inside the
/// write lock.
pub fn parse_batch(engine: &Engine, items: &[Inbound]) -> Vec<Parsed> {
    items.iter().map(|i| prepare(engine, &i.raw)).collect()
}

/// [`process_batch`] with the messages parsed ahead ([`parse_batch`]; `parsed[i]` is
/// `items[i]`).
///
/// # Errors
/// Transient store errors; the batch is then retried as a whole.
pub fn process_parsed_batch(
    store: &mut Store,
    engine: &Engine,
    items: &[Inbound],
    parsed: Option<&[Parsed]>,
) -> Result<Vec<Outcome>, StoreError> {
    let now = engine.clock.now();
    let run = |store: &mut Store, guarded: bool| {
        store.write(|tx| {
            items
                .iter()
                .enumerate()
                .map(|(k, item)| {
                    let pre = parsed.and_then(|p| p.get(k));
                    if guarded {
                        process_guarded(tx, engine, item, pre, now)
                    } else {
                        process_one(tx, engine, item, pre, now)
                    }
                })
                .collect()
        })
    };
    // First the whole batch without savepoints: a savepoint per message made SQLite copy
    // every page a message touched into its sub-journal (6% of the daemon's CPU in a
    // profile of a backlog). A permanent error undoes the batch, which then runs again with
    // a savepoint per message, so that the message at fault is quarantined alone.
    match run(store, false) {
        Err(e) if !e.is_transient() => {
            tracing::warn!(error = %e, messages = items.len(), "a message of the batch could not be stored: the batch runs again message by message");
            run(store, true)
        }
        other => other,
    }
}

/// [`process_one`] inside a savepoint: a permanent error undoes this message's writes alone
/// and quarantines it, so it cannot block the mailbox.
fn process_guarded(
    tx: &Tx<'_>,
    engine: &Engine,
    item: &Inbound,
    pre: Option<&Parsed>,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    tx.savepoint()?;
    match process_one(tx, engine, item, pre, now) {
        Ok(o) => {
            tx.release()?;
            Ok(o)
        }
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            // A bug or a value SQLite refuses.
            tx.rollback_to_savepoint()?;
            quarantine(tx, item, format!("could not be stored: {e}"), now)
        }
    }
}

/// Keeps a message (its raw bytes) in the quarantine table with the reason.
fn quarantine(
    tx: &Tx<'_>,
    item: &Inbound,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    tx.insert_quarantine(
        item.source.as_ref(),
        &reason,
        item.raw.len(),
        Some(&item.raw),
        now,
    )?;
    Ok(Outcome::Quarantined { reason })
}

/// Records a message too large to download (over `max`, its mailbox's
/// `max_message_size`): quarantined by its size alone. When its header
/// block (`header`, read without the body) shows an agent answering a case through the
/// case's agent reply address, that agent is told that nothing was read or relayed: an
/// answer with large files is not dropped in silence.
///
/// # Errors
/// Transient store errors.
pub fn quarantine_oversized(
    store: &mut Store,
    engine: &Engine,
    source: &ImapSource,
    size: u64,
    max: u64,
    header: Option<&[u8]>,
) -> Result<Outcome, StoreError> {
    let now = engine.clock.now();
    let reason = format!(
        "message of {size} bytes exceeds mailbox.max_message_size ({max} bytes); not downloaded"
    );
    store.write(|tx| {
        if tx.read().seen_uid(source)? {
            return Ok(Outcome::Duplicate);
        }
        tx.insert_quarantine(Some(source), &reason, size as usize, None, now)?;
        if let Some(h) = header {
            let c = context::Ctx::new(tx, engine, now);
            agent::too_large(&c, h, size, max)?;
        }
        Ok(Outcome::Quarantined {
            reason: reason.clone(),
        })
    })
}

fn process_one(
    tx: &Tx<'_>,
    engine: &Engine,
    item: &Inbound,
    pre: Option<&Parsed>,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    if let Some(src) = &item.source {
        if tx.read().seen_uid(src)? {
            return Ok(Outcome::Duplicate);
        }
    }
    let here;
    let parsed = match pre {
        Some(p) => p,
        None => {
            here = prepare(engine, &item.raw);
            &here
        }
    };
    let (msg, verdict) = match parsed {
        Ok((m, v)) => (m, v),
        Err(e) => return quarantine(tx, item, format!("unparseable: {e}"), now),
    };
    let collided;
    let msg = match dedupe::seen(tx, msg, &item.raw)? {
        dedupe::Seen::New => msg,
        dedupe::Seen::Duplicate => {
            tx.audit(
                None,
                now,
                "system",
                AuditEvent::DuplicateIgnored,
                &serde_json::json!({"message_id": msg.message_id, "uid": item.source.as_ref().map(|s| s.uid)}),
            )?;
            return Ok(Outcome::Duplicate);
        }
        dedupe::Seen::Collision { fingerprint } => {
            tracing::warn!(
                message_id = msg.message_id.as_deref().unwrap_or_default(),
                from = msg.from_address().unwrap_or_default(),
                "a stored message has this Message-ID with other content: taken in as a new message"
            );
            tx.audit(
                None,
                now,
                "system",
                AuditEvent::MessageIdCollision,
                &serde_json::json!({"message_id": msg.message_id, "fingerprint": fingerprint, "uid": item.source.as_ref().map(|s| s.uid)}),
            )?;
            let mut m = msg.clone();
            m.id_collision = Some(fingerprint);
            collided = m;
            &collided
        }
    };
    let token = engine.find_token(msg);
    let threading = thread::find_case(msg, engine.prefixes(), token.as_ref(), tx)?;
    // A purged or erased case has nobody left on it: whatever still finds it (an old signed
    // reply address) is treated as new mail.
    let threading = match threading {
        Threading::ByToken { case: ref c, .. }
        | Threading::ByMessageId(ref c)
        | Threading::ByReferenceTag(ref c)
            if tx.is_scrubbed(c.id)? =>
        {
            Threading::New { mentioned: None }
        }
        t => t,
    };
    // A rating link that does not verify (forged, altered, or for a case that is gone) is
    // recorded and ignored: never a complaint, never an answer.
    let feedback_ok = matches!(
        &threading,
        Threading::ByToken {
            role: Role::Feedback,
            ..
        }
    );
    if !feedback_ok && engine.is_feedback_attempt(msg) {
        let reason = "sent to a rating address that does not verify (forged, altered, or for a case that does not exist)";
        tx.insert_message(&NewMessage {
            case_id: None,
            source: item.source.as_ref(),
            msg,
            received_at: now,
            robot: None,
            outcome: MessageOutcome::FeedbackIgnored,
            raw: &item.raw,
            role: None,
            visibility: Visibility::Internal,
            verified: false,
            note: Some(reason),
        })?;
        tx.audit(
            None,
            now,
            "system",
            AuditEvent::FeedbackIgnored,
            &serde_json::json!({"message_id": msg.message_id, "reason": reason}),
        )?;
        return Ok(Outcome::Ignored {
            reason: reason.into(),
        });
    }

    if let Some(verdict) = verdict {
        let case = match &threading {
            Threading::ByToken { case: c, .. }
            | Threading::ByMessageId(c)
            | Threading::ByReferenceTag(c) => Some(c),
            Threading::New { .. } => None,
        };
        let kind = verdict.kind.as_str();
        tx.insert_message(&NewMessage {
            case_id: case.map(|c| c.id),
            source: item.source.as_ref(),
            msg,
            received_at: now,
            robot: Some((kind, &verdict.reason)),
            outcome: MessageOutcome::Robot,
            raw: &item.raw,
            role: None,
            visibility: Visibility::Internal,
            verified: true,
            note: None,
        })?;
        tx.audit(
            case.map(|c| c.id),
            now,
            "system",
            AuditEvent::RobotRecorded,
            &serde_json::json!({"kind": kind, "reason": verdict.reason}),
        )?;
        // A bounce of our mail: only a report that returns one of our customer-facing
        // messages (by its Message-ID in the report or the threading headers) counts, and
        // only for that message's recipient on that case: a forged report naming somebody
        // else's address silences nobody. A report without a failed recipient (a delay
        // notice) marks nothing; a plain-text failure notice (no report part) that returns
        // our message means its recipient.
        if verdict.kind == RobotKind::Bounce {
            let mut ids = msg.dsn_original_ids.clone();
            ids.extend(msg.in_reply_to.iter().cloned());
            ids.extend(msg.references.iter().rev().cloned());
            if let Some((case_id, recipients)) = tx.customer_mail_by_ids(&ids)? {
                for recipient in failed_recipients(msg, &recipients) {
                    if tx.mark_undeliverable_on(case_id, recipient)? {
                        let c = context::Ctx::new(tx, engine, now);
                        customer::undeliverable(&c, case_id, recipient, &verdict.reason)?;
                    }
                }
            }
        }
        return Ok(Outcome::Robot {
            kind: verdict.kind,
            reason: verdict.reason.clone(),
            reference: case.map(|c| c.reference.clone()),
        });
    }

    // From here on, the case's queue's engine (its brand's config) handles the message; a
    // new one goes to the queue of the address it was written to (`Config::route`).
    let root = engine;
    let route =
        matches!(threading, Threading::New { .. }).then(|| root.route(msg, item.source.as_ref()));
    let engine = match (&threading, &route) {
        (
            Threading::ByToken { case, .. }
            | Threading::ByMessageId(case)
            | Threading::ByReferenceTag(case),
            _,
        ) => root.for_case(case),
        (Threading::New { .. }, Some(r)) => root.for_queue(&r.queue),
        (Threading::New { .. }, None) => root,
    };
    let c = context::Ctx {
        tx,
        engine,
        root,
        now,
    };
    match threading {
        Threading::ByToken {
            case,
            role: role @ (Role::Agent | Role::Manager),
        } => agent::from_agent_side(&c, &case, msg, item, Some(role)),
        Threading::ByToken {
            case,
            role: Role::Feedback,
        } => {
            let rating = token.as_ref().and_then(|t| t.rating).unwrap_or(0);
            customer::feedback_link(&c, &case, msg, item, rating)
        }
        Threading::ByToken {
            case,
            role: Role::Customer,
        }
        | Threading::ByMessageId(case)
        | Threading::ByReferenceTag(case) => customer::from_customer_side(&c, &case, msg, item),
        Threading::New { mentioned } => {
            // An agent's mail never makes the agent a customer: it is a forward or a `#log`
            // through their intake address, or it opens nothing (docs/design.md, "Complaints
            // that come through an agent").
            // Any brand's agent: one writing to another brand's address is still staff.
            if let Some(agent) = msg
                .from
                .as_ref()
                .and_then(|f| root.config.agent(f.address.trim()))
            {
                return intake::from_agent(&c, msg, item, agent);
            }
            if let Some(f) = flood_target(tx, engine, msg, now)? {
                return customer::flood_join(&c, &f.case, msg, item, &f.reason, f.first);
            }
            open_case(
                tx,
                engine,
                msg,
                item,
                mentioned.as_ref().map(Link::Quoted),
                route.as_ref(),
                now,
            )
        }
    }
}

/// Which recipients of our message (`recipients`: the customer, then the participants in Cc)
/// a bounce says failed: those a delivery report names; for a plain-text failure notice, the
/// only recipient, or with several those whose address the notice quotes (none when it quotes
/// none: one participant's bounce must not silence the customer).
fn failed_recipients<'r>(msg: &InboundMessage, recipients: &'r [String]) -> Vec<&'r str> {
    if msg.report_type.as_deref() == Some("delivery-status") {
        return recipients
            .iter()
            .filter(|r| msg.dsn_failed.contains(r))
            .map(String::as_str)
            .collect();
    }
    if let [only] = recipients {
        return vec![only.as_str()];
    }
    let text = msg.text.to_lowercase();
    recipients
        .iter()
        .filter(|r| text.contains(r.as_str()))
        .map(String::as_str)
        .collect()
}

/// Which flood cap a new message hit, and the case it joins instead of opening one.
struct Flood {
    case: CaseRow,
    /// Why, for the audit and the agents' summary.
    reason: String,
    /// This message is the first over the cap: the agents get the one summary.
    first: bool,
}

/// The case a flood's new mail joins instead of opening one more: once the sender (its
/// `+tag` aside) opened `limits.new_cases_per_sender_per_hour` cases within the hour, their
/// latest; once the sender's domain opened `new_cases_per_text_per_hour` cases with the same
/// text, or `new_cases_per_domain_per_hour` with any text (domains not exempt), the latest of
/// those. The From address counts, never Reply-To (whatever the sender wrote): nobody can push
/// mail into another person's case, or flood them over a cap, by naming them there.
fn flood_target(
    tx: &Tx<'_>,
    engine: &Engine,
    msg: &InboundMessage,
    now: DateTime<Utc>,
) -> Result<Option<Flood>, StoreError> {
    let Some(from) = msg.from_address() else {
        return Ok(None);
    };
    if msg.reply_address().map(|m| m.normalized()).as_deref() != Some(from.as_str()) {
        return Ok(None);
    }
    let limits = &engine.config.limits;
    let hour = now - Duration::hours(1);
    let (sender, domain, text_key) = guards::flood_keys(msg, &from);
    let exempt = limits
        .flood_exempt_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&domain));
    // In order: the sender, the domain with this text, the domain (not for the large public
    // providers; a cap of 0 is off). The first cap reached decides.
    let mut caps = vec![(
        FloodKey::Sender(&sender),
        limits.new_cases_per_sender_per_hour,
        "new_cases_per_sender_per_hour",
        format!("from {sender}"),
    )];
    if !domain.is_empty() {
        caps.push((
            FloodKey::Text {
                domain: &domain,
                text_key: &text_key,
            },
            limits.new_cases_per_text_per_hour,
            "new_cases_per_text_per_hour",
            format!("with the same text from addresses at {domain}"),
        ));
        if !exempt {
            caps.push((
                FloodKey::Domain(&domain),
                limits.new_cases_per_domain_per_hour,
                "new_cases_per_domain_per_hour",
                format!("from addresses at {domain}"),
            ));
        }
    }
    let mut hit = None;
    for (key, cap, setting, what) in caps {
        let cap = i64::from(cap);
        if cap == 0 {
            continue;
        }
        let ids = tx.flood_cases(key, hour, cap)?;
        if ids.len() as i64 >= cap {
            let reason = format!(
                "{} cases {what} within the hour (limits.{setting} = {cap})",
                ids.len()
            );
            hit = Some((reason, ids));
            break;
        }
    }
    let Some((mut reason, ids)) = hit else {
        return Ok(None);
    };
    let case = match ids.last() {
        Some(id) => tx.case_by_id(*id)?,
        None => None,
    };
    // Never into a resolved or closed case: a genuinely new complaint then opens its own.
    let Some(case) = case.filter(|c| !matches!(c.status, Status::Resolved | Status::Closed)) else {
        return Ok(None);
    };
    // The agents get one summary per flood case, with the first message held on it, naming
    // the flood's cases (at most ten) so that they can deal with them together.
    let first = !tx.flood_summary_sent(case.id)?;
    if first {
        let mut refs = Vec::new();
        for id in ids.iter().take(10) {
            if let Some(c) = tx.case_by_id(*id)? {
                refs.push(c.reference);
            }
        }
        let more = ids.len().saturating_sub(refs.len());
        reason.push_str(&format!("; the flood's cases: {}", refs.join(", ")));
        if more > 0 {
            reason.push_str(&format!(" and {more} more"));
        }
    }
    Ok(Some(Flood {
        case,
        reason,
        first,
    }))
}

/// Why a new case is linked to an older one.
#[derive(Debug, Clone, Copy)]
enum Link<'a> {
    /// It quoted this case's reference, but its sender is not a participant.
    Quoted(&'a CaseRow),
    /// The customer answered this resolved case after its reopen window.
    LateReply(&'a CaseRow),
}

impl<'a> Link<'a> {
    fn case(self) -> &'a CaseRow {
        match self {
            Link::Quoted(c) | Link::LateReply(c) => c,
        }
    }
}

/// A complaint that came through an agent (`pipeline/intake.rs`): how, who, and what the
/// agent asked for.
#[derive(Debug, Clone, Copy)]
struct Via<'a> {
    channel: Channel,
    agent: &'a crate::config::AgentConfig,
    /// False with `#noack`: the customer is not acknowledged.
    ack: bool,
    /// What the agent wrote about the complaint, for the card.
    note: Option<&'a str>,
    /// The forwarded original's Message-ID, which the acknowledgment answers (the agent's
    /// own message is internal).
    original_id: Option<&'a str>,
}

/// Opens a case for `msg`, acknowledges it (within the caps) and tells the agents; `link`
/// names an older case it is linked to, and why (said in the agents' card).
fn open_case(
    tx: &Tx<'_>,
    engine: &Engine,
    msg: &InboundMessage,
    item: &Inbound,
    link: Option<Link<'_>>,
    route: Option<&crate::config::Route>,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    open_case_via(tx, engine, msg, item, link, None, route, now)
}

/// [`open_case`] for a complaint that came through an agent (`via`): `msg` is then the
/// original as the agent relayed it (its From the customer), `item` the agent's mail.
#[allow(clippy::too_many_arguments)]
fn open_case_via(
    tx: &Tx<'_>,
    engine: &Engine,
    msg: &InboundMessage,
    item: &Inbound,
    link: Option<Link<'_>>,
    via: Option<&Via<'_>>,
    // Where the message was routed (`Engine::route`), when the caller routed it already.
    route: Option<&crate::config::Route>,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let linked = link.map(|l| l.case().id);
    let cfg = &engine.config;
    // Backscatter: the receiving server's spam or SPF/DMARC verdict (classify::spam). A
    // verified agent vouches for what they forward or log: the headers judged would be theirs.
    let suspect = match via {
        Some(_) => None,
        None => spam_verdict(engine, msg, link),
    };
    if let Some(s) = suspect.as_ref() {
        if cfg.spam.action == SpamAction::Quarantine {
            return quarantine(tx, item, format!("{s} (spam.action = quarantine)"), now);
        }
    }
    let customer = msg
        .reply_address()
        .cloned()
        .ok_or_else(|| StoreError::Data("message has no sender address".into()))?;
    let customer_addr = customer.normalized();
    let class: Classification = engine.classifier.classify(msg);
    let level = ServiceLevel::of(cfg, &engine.calendar, &class.priority)
        .ok_or_else(|| StoreError::Data(format!("unknown priority {}", class.priority)))?;
    let due = level.first_response_due(now);
    let resolution_due = level.resolution_due(now);

    let mut rng = rand::thread_rng();
    let mut reference = Reference::generate(&cfg.support.reference_prefix, &mut rng);
    while tx.reference_exists(reference.as_str())? {
        reference = Reference::generate(&cfg.support.reference_prefix, &mut rng);
    }
    let subject = if msg.subject.is_empty() {
        "(no subject)"
    } else {
        msg.subject.as_str()
    };
    let language = crate::classify::language::detect(msg, &engine.locales, cfg.language.detect);
    // The address of ours it was written to answers the customer, when it is this queue's
    // (a late reply or a complaint an agent forwarded may name another queue's).
    let routed;
    let route = match route {
        Some(r) => r,
        None => {
            routed = engine.route(msg, item.source.as_ref());
            &routed
        }
    };
    let our_address = route
        .address
        .clone()
        .filter(|_| route.queue == engine.queue);
    let case_id = tx.insert_case(&NewCase {
        language: Some(&language.language),
        queue: Some(&engine.queue),
        brand: Some(&engine.brand),
        our_address: our_address.as_deref(),
        reference: reference.as_str(),
        status: Status::New,
        category: &Category::new(class.category.as_str()),
        priority: &Priority::new(class.priority.as_str()),
        subject,
        customer_address: &customer_addr,
        customer_name: customer.name.as_deref(),
        now,
        first_response_due: Some(due),
        resolution_due,
        last_public_at: Some(now),
        linked_case_id: linked,
    })?;
    let (flood_sender, flood_domain, text_key) = guards::flood_keys(
        msg,
        &msg.from_address().unwrap_or_else(|| customer_addr.clone()),
    );
    tx.record_flood_key(case_id, &flood_sender, &flood_domain, &text_key, now)?;
    tx.add_participant(
        case_id,
        &customer_addr,
        customer.name.as_deref(),
        ParticipantRole::Customer,
        now,
    )?;
    tx.insert_message(&NewMessage {
        case_id: Some(case_id),
        source: item.source.as_ref(),
        msg,
        received_at: now,
        robot: None,
        outcome: MessageOutcome::NewCase,
        raw: &item.raw,
        role: Some(ParticipantRole::Customer),
        visibility: Visibility::Public,
        verified: true,
        note: None,
    })?;
    let logged_by = via.map(|v| v.agent.address.to_lowercase());
    if let Some(v) = via {
        tx.set_channel(case_id, v.channel, logged_by.as_deref())?;
    }
    tx.audit(
        Some(case_id),
        now,
        logged_by.as_deref().unwrap_or(&customer_addr),
        AuditEvent::CaseOpened,
        &serde_json::json!({
            "reference": reference.as_str(),
            "category": class.category,
            "priority": class.priority,
            "matched_rules": class.matched_rules,
            "first_response_due": crate::store::ts(due),
            "linked_case_id": linked,
            "channel": via.map(|v| v.channel.as_str()),
            "logged_by": logged_by,
            "language": language,
        }),
    )?;

    // Refused by a cap, or an address lettre refuses: the case stands, unacknowledged, and
    // the agents see it like any other.
    let allowed = match (&suspect, via) {
        (Some(s), _) => suspected_spam(tx, case_id, s, now)?,
        (None, Some(v)) if !v.ack => Err(format!(
            "#noack: {} logged the complaint without an acknowledgment",
            v.agent.name
        )),
        (None, _) => ack_allowed(tx, engine, &customer_addr, now)?,
    };
    let queued = match allowed {
        Ok(()) => enqueue_ack(
            tx,
            engine,
            msg,
            &customer,
            &reference,
            case_id,
            &class,
            &language.language,
            due,
            via.map(|v| v.original_id),
            our_address.as_deref(),
            now,
        )?,
        Err(why) => Err(why),
    };
    let acknowledged = match queued {
        Ok(()) => {
            let to = transition(Status::New, CaseEvent::Acknowledge)
                .map_err(|e| StoreError::Data(e.to_string()))?;
            tx.set_status(
                case_id,
                Status::New,
                to,
                "system",
                "acknowledgment queued",
                now,
            )?;
            true
        }
        Err(why) => {
            tx.audit(
                Some(case_id),
                now,
                "system",
                AuditEvent::AckSuppressed,
                &serde_json::json!({"reason": why}),
            )?;
            false
        }
    };
    let case = tx
        .case_by_id(case_id)?
        .ok_or_else(|| StoreError::Data("case vanished inside its transaction".into()))?;
    let c = context::Ctx::new(tx, engine, now).for_case(&case);
    let joined = participants::from_message(&c, &case, msg)?;
    let card = customer::Card {
        link,
        joined: &joined,
        via,
        suspected_spam: suspect.as_ref().map(ToString::to_string),
    };
    customer::notify_new_case(&c, &case, msg, item, card)?;
    timers::sync_case(&c, &case)?;
    Ok(Outcome::NewCase {
        reference: reference.as_str().to_string(),
        acknowledged,
    })
}

/// Per-sender caps on acknowledgments, the backstop against loops with robots that do not
/// mark themselves (RFC 3834 section 2).
fn ack_allowed(
    tx: &Tx<'_>,
    engine: &Engine,
    recipient: &str,
    now: DateTime<Utc>,
) -> Result<Result<(), String>, StoreError> {
    let ack = &engine.config.acknowledgment;
    if !ack.enabled {
        return Ok(Err("acknowledgments are disabled in config".into()));
    }
    let hour = tx.count_outbound_to(recipient, OutboundKind::Ack, now - Duration::hours(1))?;
    if hour >= i64::from(ack.per_sender_per_hour) {
        return Ok(Err(format!(
            "per-sender cap: {hour} acknowledgments to this address in the last hour (acknowledgment.per_sender_per_hour = {})",
            ack.per_sender_per_hour
        )));
    }
    let day = tx.count_outbound_to(recipient, OutboundKind::Ack, now - Duration::days(1))?;
    if day >= i64::from(ack.per_sender_per_day) {
        return Ok(Err(format!(
            "per-sender cap: {day} acknowledgments to this address in the last day (acknowledgment.per_sender_per_day = {})",
            ack.per_sender_per_day
        )));
    }
    Ok(Ok(()))
}

/// The receiving server's verdict on the mail that opens a new case. A late reply came back
/// through our own reply address or Message-ID, to its own case's customer: not judged.
fn spam_verdict(
    engine: &Engine,
    msg: &InboundMessage,
    link: Option<Link<'_>>,
) -> Option<crate::classify::spam::Suspicion> {
    match link {
        Some(Link::LateReply(_)) => None,
        _ => crate::classify::spam::judge_message(&engine.config, msg),
    }
}

/// A new case from a suspected spammer (`spam.action = "no_ack"`): audited as
/// `suspected_spam`, and no acknowledgment, which could go to a forged, innocent address.
fn suspected_spam(
    tx: &Tx<'_>,
    case_id: i64,
    suspicion: &crate::classify::spam::Suspicion,
    now: DateTime<Utc>,
) -> Result<Result<(), String>, StoreError> {
    tx.audit(
        Some(case_id),
        now,
        "system",
        AuditEvent::SuspectedSpam,
        &serde_json::json!({"reasons": suspicion.reasons, "action": "no_ack"}),
    )?;
    Ok(Err(format!(
        "{suspicion}: the sender may be forged (spam.action = no_ack)"
    )))
}

#[allow(clippy::too_many_arguments)]
fn enqueue_ack(
    tx: &Tx<'_>,
    engine: &Engine,
    msg: &InboundMessage,
    customer: &parse::Mailbox,
    reference: &Reference,
    case_id: i64,
    class: &Classification,
    language: &str,
    due: DateTime<Utc>,
    // Through an agent: the forwarded original's Message-ID (if any) is what the
    // acknowledgment answers, never the agent's own message.
    original_id: Option<Option<&str>>,
    // The address of ours the customer wrote to, which answers them.
    our_address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<(), String>, StoreError> {
    let cfg = &engine.config;
    let keywords = |s: &str| engine.classifier.hits(s);
    let ctx = mail::ack_context(
        engine.words(),
        AckFacts {
            language,
            found: &engine.found,
            keywords: &keywords,
            reference: reference.as_str(),
            customer_name: customer.name.clone(),
            subject: &msg.subject,
            category: &class.category,
            priority: &class.priority,
            due: Some(due),
            text: msg.new_text(),
            attachments: msg
                .attachments
                .iter()
                .map(|a| a.name.clone().unwrap_or_else(|| a.content_type.clone()))
                .collect(),
        },
    );
    let rendered = engine
        .renderer
        .render_in(Some(language), mail::ACKNOWLEDGMENT, &ctx)
        .map_err(|e| StoreError::Data(e.to_string()))?;
    let message_id = compose::new_message_id(reference.as_str(), &engine.domain);
    let (in_reply_to, references) = match original_id {
        Some(id) => (
            id.map(str::to_string),
            id.map(|i| vec![i.to_string()]).unwrap_or_default(),
        ),
        None => {
            let mut references = msg.references.clone();
            if let Some(id) = &msg.message_id {
                references.push(id.clone());
            }
            (msg.message_id.clone(), references)
        }
    };
    let subject = subject::customer_subject(reference, &msg.subject, &cfg.support.reference_prefix);
    let ours = engine.answering_address(our_address);
    let built = compose::build(&Outgoing {
        from_name: cfg.support.name.clone(),
        from_address: ours.clone(),
        to: vec![compose::Recipient {
            name: customer.name.clone(),
            address: customer.address.clone(),
        }],
        cc: vec![],
        reply_to: Some(engine.tokens.address(&ours, Role::Customer, reference)),
        reply_to_name: None,
        subject: subject.clone(),
        message_id: message_id.clone(),
        in_reply_to,
        references,
        auto_submitted: Some("auto-replied"),
        text: rendered.text,
        html: Some(rendered.html),
        attachments: vec![],
        date: now,
    });
    let body = match built {
        Ok(b) => b,
        Err(e) => return Ok(Err(format!("cannot address the acknowledgment: {e}"))),
    };
    tx.enqueue(&NewOutbound {
        case_id: Some(case_id),
        kind: OutboundKind::Ack,
        automatic: true,
        message_id: &message_id,
        envelope_from: &ours,
        recipient: &customer.normalized(),
        subject: &subject,
        body: &body,
        now,
        audience: Audience::Customer,
    })?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_that_cannot_render_is_refused_when_the_engine_is_built() {
        let dir = crate::mail::copy_of_templates();
        std::fs::write(
            dir.path().join("acknowledgment.txt.tera"),
            "{{ reference }}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("acknowledgment.html.tera"),
            "{{ no_such_variable }}",
        )
        .unwrap();
        let text = include_str!("../../tests/fixtures/config/base.toml").replace(
            "dir = \"../../../templates\"",
            &format!("dir = {:?}", dir.path().display().to_string()),
        );
        let cfg = Arc::new(Config::from_toml(&text, std::path::Path::new(".")).unwrap());
        let clock: SharedClock = Arc::new(crate::clock::SystemClock);
        let e = Engine::new(cfg, clock).unwrap_err().to_string();
        assert!(e.contains("no_such_variable"), "{e}");
    }
}
