//! Cases: the case row, its participants, ratings and audit trail.

use chrono::{DateTime, Utc};

use super::*;
use crate::case::{Category, Priority, Status};

/// A case as stored. Serialized (`mailcase cases --json`) with its times as they are stored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CaseRow {
    pub id: i64,
    pub reference: String,
    pub status: Status,
    pub category: Category,
    pub priority: Priority,
    pub subject: String,
    pub customer_address: String,
    pub customer_name: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_ts")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub first_response_due: Option<DateTime<Utc>>,
    pub linked_case_id: Option<i64>,
    /// The agent address the case is assigned to (`#assign`).
    pub assignee: Option<String>,
    /// When an agent first answered the customer (stops the first-response clock).
    #[serde(serialize_with = "ser_opt_ts")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved (start of the reopen window).
    #[serde(serialize_with = "ser_opt_ts")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub reopen_count: i64,
    /// When the resolution target falls due (None: the priority has none).
    #[serde(serialize_with = "ser_opt_ts")]
    pub resolution_due: Option<DateTime<Utc>>,
    /// Set while the SLA clock is paused (waiting on the customer).
    #[serde(serialize_with = "ser_opt_ts")]
    pub sla_paused_at: Option<DateTime<Utc>>,
    /// The last public message to the customer.
    #[serde(serialize_with = "ser_opt_ts")]
    pub last_public_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub follow_up_sent_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub feedback_sent_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub closed_at: Option<DateTime<Utc>>,
    /// The case this one was merged into (`#merge`): closed, its mail handled there.
    pub merged_into: Option<i64>,
    /// The language its customer is written to in (`de`); `None`: `language.default`.
    pub language: Option<String>,
    /// The queue it is in (`None`: a case from before queues, in the default queue).
    pub queue: Option<String>,
    /// The brand of its queue when it was opened or moved.
    pub brand: Option<String>,
    /// The address of ours the customer wrote to, which answers them (`None`: the brand's
    /// reply address).
    pub our_address: Option<String>,
}

/// What a merge moved from one case to another ([`CaseWrites::merge_case`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    pub messages: usize,
    pub participants: usize,
}

/// One change to a case's row, for [`Tx::update_case`] and [`Tx::update_case_audited`]: the
/// column it names is the store's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseChange {
    Priority(Priority),
    Category(Category),
    /// The agent address the case is assigned to.
    Assignee(Option<String>),
    FirstResponseDue(Option<DateTime<Utc>>),
    ResolutionDue(Option<DateTime<Utc>>),
    SlaPausedAt(Option<DateTime<Utc>>),
    LastPublicAt(Option<DateTime<Utc>>),
    FollowUpSentAt(Option<DateTime<Utc>>),
    FeedbackSentAt(Option<DateTime<Utc>>),
    ClosedAt(Option<DateTime<Utc>>),
    ResolvedAt(Option<DateTime<Utc>>),
    /// The language the customer is written to in.
    Language(Option<String>),
    /// The queue (`#queue`), its brand, and the address that answers the customer.
    Queue(Option<String>),
    Brand(Option<String>),
    OurAddress(Option<String>),
}

/// A case about to be created.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub reference: &'a str,
    pub status: Status,
    pub category: &'a Category,
    pub priority: &'a Priority,
    pub subject: &'a str,
    pub customer_address: &'a str,
    pub customer_name: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub first_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// When the customer last heard from us or wrote (their first message, for a new case).
    pub last_public_at: Option<DateTime<Utc>>,
    pub linked_case_id: Option<i64>,
    /// The complaint's language (`de`).
    pub language: Option<&'a str>,
    /// Its queue and brand, and the address of ours the customer wrote to.
    pub queue: Option<&'a str>,
    pub brand: Option<&'a str>,
    pub our_address: Option<&'a str>,
}

/// Counts for `mailcase cases`-style summaries and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub cases: i64,
    pub messages: i64,
    pub robots: i64,
    pub quarantined: i64,
    pub outbox_pending: i64,
    pub outbox_sent: i64,
    pub outbox_failed: i64,
}

/// Queries of this room (see the module doc).
pub trait CaseReads {
    /// A case by its reference.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError>;

    /// All cases, newest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases(&self) -> Result<Vec<CaseRow>, StoreError>;

    /// Audit events of a case (or of no case when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors; an unknown event is a data error.
    fn audit_of_case(&self, case_id: Option<i64>) -> Result<Vec<AuditRow>, StoreError>;

    /// The rating of a case, as (rating, comment).
    ///
    /// # Errors
    /// SQL errors.
    fn rating(&self, case_id: i64) -> Result<Option<(u8, Option<String>)>, StoreError>;

    /// Totals for summaries.
    ///
    /// # Errors
    /// SQL errors.
    fn counts(&self) -> Result<Counts, StoreError>;

    /// How the case's complaint reached us, and the agent address that logged it (None for
    /// mail from the customer).
    ///
    /// # Errors
    /// SQL errors; an unknown channel is a data error.
    fn case_channel(&self, case_id: i64) -> Result<(Channel, Option<String>), StoreError>;
}

/// Writes of this room, inside one transaction ([`Store::write`]).
pub trait CaseWrites {
    /// The case of the most recent of these Message-IDs that *we* issued (an outbound row).
    /// Only these thread anyone into a case: we sent that message to the case's people.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError>;

    /// The case of the most recent of these Message-IDs that was stored as a public inbound
    /// message. Anybody who saw (or guessed) a customer's Message-ID can name it, so threading
    /// admits a sender through it only when they already take part in the case.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_inbound_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError>;

    /// A case by id.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_id(&self, id: i64) -> Result<Option<CaseRow>, StoreError>;

    /// A case by reference.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError>;

    /// True when `address` (normalised) takes part in the case.
    ///
    /// # Errors
    /// SQL errors.
    fn is_participant(&self, case_id: i64, address: &str) -> Result<bool, StoreError>;

    /// True when a reference is already taken.
    ///
    /// # Errors
    /// SQL errors.
    fn reference_exists(&self, reference: &str) -> Result<bool, StoreError>;

    /// Creates a case and returns its id.
    ///
    /// # Errors
    /// SQL errors (a duplicate reference is a constraint error).
    fn insert_case(&self, c: &NewCase<'_>) -> Result<i64, StoreError>;

    /// Changes a case's status (the caller has checked the transition) and audits it.
    ///
    /// # Errors
    /// SQL errors.
    fn set_status(
        &self,
        case_id: i64,
        from: Status,
        to: Status,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Bumps a case's `updated_at`.
    ///
    /// # Errors
    /// SQL errors.
    fn touch_case(&self, case_id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Adds a participant (no-op when already there).
    ///
    /// # Errors
    /// SQL errors.
    fn add_participant(
        &self,
        case_id: i64,
        address: &str,
        name: Option<&str>,
        role: ParticipantRole,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Everybody on a case, removed people included, in the order they joined.
    ///
    /// # Errors
    /// SQL errors; an unknown role is a data error.
    fn people(&self, case_id: i64) -> Result<Vec<Person>, StoreError>;

    /// Puts `address` on the case with `role` (an agent's `#cc add`, or a Cc of a customer's
    /// message when `restore` is false): true when they were not on it. With `restore`, a
    /// person an agent removed is put back; without it, they stay off.
    ///
    /// # Errors
    /// SQL errors.
    fn put_participant(
        &self,
        case_id: i64,
        address: &str,
        name: Option<&str>,
        role: ParticipantRole,
        restore: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Takes `address` off the case (`#cc remove`); true when they were on it.
    ///
    /// # Errors
    /// SQL errors.
    fn remove_participant(
        &self,
        case_id: i64,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks `address` undeliverable on one case; true when it was not marked before.
    ///
    /// # Errors
    /// SQL errors.
    fn mark_undeliverable_on(&self, case_id: i64, address: &str) -> Result<bool, StoreError>;

    /// True when mail to `address` on this case bounced for good.
    ///
    /// # Errors
    /// SQL errors.
    fn is_undeliverable(&self, case_id: i64, address: &str) -> Result<bool, StoreError>;

    /// Appends an audit event.
    ///
    /// # Errors
    /// SQL errors.
    fn audit(
        &self,
        case_id: Option<i64>,
        now: DateTime<Utc>,
        actor: &str,
        event: AuditEvent,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Changes a field of a case, bumps its `updated_at` and audits the change (an event
    /// named for the field, with the stored texts before and after).
    ///
    /// # Errors
    /// SQL errors.
    fn update_case_audited(
        &self,
        case_id: i64,
        change: &CaseChange,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records the first agent answer (only the first one counts).
    ///
    /// # Errors
    /// SQL errors.
    fn set_first_response(&self, case_id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records a resolution (start of the reopen window), or a reopening.
    ///
    /// # Errors
    /// SQL errors.
    fn set_resolved(
        &self,
        case_id: i64,
        resolved: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Sets a bookkeeping field of a case (times the scheduler keeps) without an audit
    /// event and without bumping `updated_at`.
    ///
    /// # Errors
    /// SQL errors.
    fn update_case(&self, case_id: i64, change: &CaseChange) -> Result<(), StoreError>;

    /// Records a rating (the last one per case counts).
    ///
    /// # Errors
    /// SQL errors.
    fn set_rating(
        &self,
        case_id: i64,
        rating: u8,
        comment: Option<&str>,
        message_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Merges case `from` into `into`: its inbound messages move (their ids, so the
    /// survivor's history stays in the order they arrived; marked as moved, so they stay out
    /// of the survivor's mail threads), its participants move (its customer as `cc`; an
    /// address already on `into` keeps its row there; without `copies`, its customer-side
    /// people join as removed at `now`: on the case, but sent no copies of its mail) and
    /// `from` records `into` as its survivor. The status change, timers, audit and mail are
    /// the caller's.
    ///
    /// # Errors
    /// SQL errors.
    fn merge_case(
        &self,
        from: i64,
        into: i64,
        copies: bool,
        now: DateTime<Utc>,
    ) -> Result<Moved, StoreError>;

    /// Cases opened by `customer` since `since`, and the latest of them.
    ///
    /// # Errors
    /// SQL errors.
    fn recent_cases_of(
        &self,
        customer: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, Option<i64>), StoreError>;

    /// Records how a new case's complaint reached us and which agent logged it.
    ///
    /// # Errors
    /// SQL errors.
    fn set_channel(
        &self,
        case_id: i64,
        channel: Channel,
        logged_by: Option<&str>,
    ) -> Result<(), StoreError>;
}

/// Somebody on a case, as the conversation sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub address: String,
    pub name: Option<String>,
    pub role: ParticipantRole,
    /// Mail to them bounced for good.
    pub undeliverable: bool,
    /// An agent took them off the case (`#cc remove`): nothing more goes to them.
    pub removed: bool,
}

/// Operations of this room outside a caller's transaction (each is its own).
pub trait CaseOps {
    /// Everybody on a case with their names, removed people included (as
    /// [`CaseWrites::people`], outside a transaction).
    ///
    /// # Errors
    /// SQL errors; an unknown role is a data error.
    fn people_of(&self, case_id: i64) -> Result<Vec<Person>, StoreError>;

    /// [`CaseOps::people_of`] as (address, role, undeliverable).
    ///
    /// # Errors
    /// As [`CaseOps::people_of`].
    fn participants(
        &self,
        case_id: i64,
    ) -> Result<Vec<(String, ParticipantRole, bool)>, StoreError> {
        Ok(self
            .people_of(case_id)?
            .into_iter()
            .map(|p| (p.address, p.role, p.undeliverable))
            .collect())
    }
}
