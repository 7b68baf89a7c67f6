//! The closed sets of names that the store keeps as text: who took part in a case, whether a
//! message is public, whose thread an outbound message continues, what it is and where it
//! stands, the kinds of timers and what became of them, the audit trail's events and the
//! outcomes of stored messages.
//!
//! Each type's `as_str` is the text in its column (never changed: existing databases and
//! reports read it), and `FromStr` reads it back; a name that is not one of the set is an
//! [`UnknownName`]. Serialized to JSON, a value is its text. A leaf module: it imports
//! nothing of the crate, so the store and everything above it may use it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

/// A stored name that is not one of its type's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {value:?}")]
pub struct UnknownName {
    /// What was read (`participant role`, `timer kind`...).
    pub what: &'static str,
    pub value: String,
}

macro_rules! names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $var:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $var, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$var => $text, )+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $( $text => Ok($name::$var), )+
                    other => Err(UnknownName {
                        what: $what,
                        value: other.to_string(),
                    }),
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = UnknownName;

            fn try_from(s: &str) -> Result<Self, UnknownName> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

names! {
    /// Who a participant of a case, or the author of a stored message, is.
    pub enum ParticipantRole ("participant role") {
        /// The case's customer.
        Customer = "customer",
        /// A configured agent.
        Agent = "agent",
        /// Someone else on the customer's side (in Cc, or writing from another address).
        Cc = "cc",
        /// An escalation contact (`[[escalation]]`) who is not an agent, acting through the
        /// managers' reply address: on the agents' side, with a role of their own.
        Manager = "manager",
    }
}

impl ParticipantRole {
    /// The customer and the people on the customer's side.
    pub fn is_customer_side(self) -> bool {
        matches!(self, ParticipantRole::Customer | ParticipantRole::Cc)
    }
}

names! {
    /// Whether a stored message is part of the conversation with the customer.
    pub enum Visibility ("visibility") {
        Public = "public",
        /// An agent's `#note`, robot mail, or a message that failed its role's checks.
        Internal = "internal",
    }
}

names! {
    /// Whose mail thread an outbound message continues.
    pub enum Audience ("audience") {
        Customer = "customer",
        Agent = "agent",
    }
}

names! {
    /// What an outbound message is.
    pub enum OutboundKind ("outbound kind") {
        /// The acknowledgment of a new case.
        Ack = "ack",
        /// An agent's answer relayed to the customer.
        AgentReply = "agent_reply",
        /// A status change or a periodic update told to the customer.
        StatusUpdate = "status_update",
        FollowUp = "follow_up",
        FeedbackRequest = "feedback_request",
        /// The customer told that the case was escalated, with the new timeline.
        EscalationNotice = "escalation_notice",
        /// The agents told about a new case.
        AgentNewCase = "agent_new_case",
        /// The agents sent a later customer message.
        AgentCustomerMessage = "agent_customer_message",
        /// The agents told about mail a flood cap held.
        AgentFloodHeld = "agent_flood_held",
        /// The agents told that the customer's address bounced.
        AgentUndeliverable = "agent_undeliverable",
        /// An agent told why their reply was not applied.
        AgentCommandError = "agent_command_error",
        /// The agents told that the loop guard stopped the case.
        AgentLoopStopped = "agent_loop_stopped",
        /// The agents reminded that a target is near.
        SlaWarning = "sla_warning",
        /// The escalation contacts sent a digest of the case.
        Escalation = "escalation",
        /// The management digest.
        Digest = "digest",
        /// The other agents told what a colleague did on the case (answer, command, note).
        AgentColleague = "agent_colleague",
        /// An agent told about their own reply: held by the collision guard, a command that
        /// changed nothing, people they put in Cc themselves.
        AgentNotice = "agent_notice",
        /// An agent told why their mail to the support or intake address opened no case.
        AgentIntakeHelp = "agent_intake_help",
        /// The agents told that a case was merged into this one.
        AgentMerged = "agent_merged",
    }
}

names! {
    /// Where an outbound message stands.
    pub enum OutboundState ("outbound status") {
        /// Queued, to be sent (or retried).
        Pending = "pending",
        Sent = "sent",
        /// Given up on.
        Failed = "failed",
    }
}

names! {
    /// What a timer is for.
    pub enum TimerKind ("timer kind") {
        FirstResponseWarning = "first_response_warning",
        FirstResponseBreach = "first_response_breach",
        ResolutionWarning = "resolution_warning",
        ResolutionBreach = "resolution_breach",
        StatusUpdate = "status_update",
        FollowUp = "follow_up",
        FeedbackRequest = "feedback_request",
        AutoClose = "auto_close",
        /// One-shot: tells the customer of an escalation, within the send window.
        EscalationNotice = "escalation_notice",
    }
}

impl TimerKind {
    /// The customer mail a timer of this kind sends, if it sends one.
    pub fn customer_mail(self) -> Option<OutboundKind> {
        match self {
            TimerKind::StatusUpdate => Some(OutboundKind::StatusUpdate),
            TimerKind::FollowUp => Some(OutboundKind::FollowUp),
            TimerKind::FeedbackRequest => Some(OutboundKind::FeedbackRequest),
            TimerKind::EscalationNotice => Some(OutboundKind::EscalationNotice),
            _ => None,
        }
    }
}

names! {
    /// An event of the audit trail.
    pub enum AuditEvent ("audit event") {
        AckSuppressed = "ack_suppressed",
        AddressUndeliverable = "address_undeliverable",
        /// An agent's answer taken in (its commands in `detail`).
        AgentAnswer = "agent_answer",
        CaseOpened = "case_opened",
        ClosingRefused = "closing_refused",
        CommandRejected = "command_rejected",
        DataExport = "data_export",
        DigestQueued = "digest_queued",
        DuplicateIgnored = "duplicate_ignored",
        Erased = "erased",
        Erasure = "erasure",
        EscalationNotified = "escalation_notified",
        FeedbackIgnored = "feedback_ignored",
        FirstResponse = "first_response",
        FloodJoined = "flood_joined",
        FloodSummary = "flood_summary",
        /// An agent's `#note` taken in (its commands in `detail`).
        InternalNote = "internal_note",
        LegalHold = "legal_hold",
        LegalHoldReleased = "legal_hold_released",
        LoopResumed = "loop_resumed",
        LoopStopped = "loop_stopped",
        MessageIdCollision = "message_id_collision",
        MessageJoined = "message_joined",
        NotSent = "not_sent",
        OurMessageIdQuoted = "our_message_id_quoted",
        OutboundFailed = "outbound_failed",
        Purged = "purged",
        Quarantined = "quarantined",
        Rated = "rated",
        Reopened = "reopened",
        RobotRecorded = "robot_recorded",
        SlaResumed = "sla_resumed",
        /// A status change (`from`, `to`, `reason`).
        Status = "status",
        SuspectedSpam = "suspected_spam",
        UnverifiedNote = "unverified_note",
        // A case field changed (`from`, `to`): the event is named after the field.
        Priority = "priority",
        Category = "category",
        Assignee = "assignee",
        /// The language the customer is written to in (`#language`).
        Language = "language",
        /// The queue the case is in (`#queue`).
        Queue = "queue",
        FirstResponseDue = "first_response_due",
        ResolutionDue = "resolution_due",
        SlaPausedAt = "sla_paused_at",
        LastPublicAt = "last_public_at",
        FollowUpSentAt = "follow_up_sent_at",
        FeedbackSentAt = "feedback_sent_at",
        ClosedAt = "closed_at",
        /// Somebody joined the case (`address`, `by`: a Cc of a message or an agent).
        ParticipantAdded = "participant_added",
        /// An agent took somebody off the case (`#cc remove`).
        ParticipantRemoved = "participant_removed",
        /// More people in Cc than `conversation.max_participants`: not added (`count`).
        ParticipantsOverCap = "participants_over_cap",
        /// An agent's answer written against an older state of the case: not relayed.
        AnswerHeld = "answer_held",
        /// A held answer relayed after all (`#send`).
        AnswerReleased = "answer_released",
        /// A command that would change nothing (a second `#resolve`): said to the agent.
        NothingChanged = "nothing_changed",
        /// An agent's mail that would have opened a case refused (no forward, no `#log`, not
        /// through their intake address): `reason` in `detail`.
        IntakeRefused = "intake_refused",
        /// This case was merged into another (`#merge`): `into`, messages and participants moved.
        MergedInto = "merged_into",
        /// Another case was merged into this one (`#merge`): `from`, what moved.
        MergedFrom = "merged_from",
    }
}

names! {
    /// What became of a stored inbound message.
    pub enum MessageOutcome ("message outcome") {
        /// It opened a case.
        NewCase = "new_case",
        /// It joined its case.
        Joined = "joined",
        /// A satisfaction rating.
        Rating = "rating",
        /// The customer's thanks that closed (or kept closed) the case.
        Satisfied = "satisfied",
        /// Over a flood cap: joined the latest case of the flood.
        FloodJoined = "flood_joined",
        AgentReply = "agent_reply",
        AgentNote = "agent_note",
        /// An agent's reply refused (bad command); the agent was told why.
        CommandRejected = "command_rejected",
        /// Claimed the agent role without proving it: kept as an internal note.
        UnverifiedNote = "unverified_note",
        /// Sent to a rating address that does not verify.
        FeedbackIgnored = "feedback_ignored",
        /// Mail from a robot (bounce, auto-reply...).
        Robot = "robot",
        /// An agent's answer held by the collision guard (internal until `#send`).
        AnswerHeld = "answer_held",
        /// An agent's mail that opened no case (see [`AuditEvent::IntakeRefused`]).
        IntakeRefused = "intake_refused",
    }
}

names! {
    /// How a complaint reached us: the case's `channel`.
    pub enum Channel ("channel") {
        /// The customer wrote to the support address.
        Email = "email",
        /// An agent forwarded the customer's mail to their intake address.
        Forward = "forward",
        /// An agent logged a complaint received by phone or in person (`#log`).
        Logged = "logged",
    }
}

impl Channel {
    /// How the agents' card and `mailcase case` say it: "forwarded mail".
    pub fn label(self) -> &'static str {
        match self {
            Channel::Email => "e-mail",
            Channel::Forward => "forwarded mail",
            Channel::Logged => "phone or in person",
        }
    }
}

names! {
    /// The targets whose breach escalates a case.
    pub enum BreachedTarget ("breached target") {
        FirstResponse = "first-response target breached",
        Resolution = "resolution target breached",
    }
}

/// What became of a timer: stored in `timers.outcome` when it fired or was cancelled, and
/// logged. The text is [`TimerOutcome::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerOutcome {
    /// Cancelled: a timer of its kind was armed in its place.
    Replaced,
    /// Cancelled: the case no longer wants it.
    NoLongerDue,
    /// Its case does not exist any more.
    CaseGone,
    /// The case changed since it was armed: nothing done.
    Stale,
    /// A reminder skipped because its breach is due too.
    SkippedBreachDue,
    AgentsReminded,
    /// A breach escalated the case.
    Escalated(BreachedTarget),
    /// An escalation notice skipped: the case was resolved meanwhile.
    SkippedResolved,
    /// Not fired yet: customer mail waits for the send window (logged, never stored).
    Deferred(DateTime<Utc>),
    /// Its customer mail was queued.
    Queued(OutboundKind),
    /// Its customer mail could not be sent.
    NotSent(OutboundKind),
    /// The case was closed.
    Closed,
    NotClosable,
    /// Firing failed with this error (settled so it cannot fire in a loop).
    Failed(String),
}

impl TimerOutcome {
    /// The stored text.
    pub fn text(&self) -> String {
        match self {
            TimerOutcome::Replaced => "replaced".into(),
            TimerOutcome::NoLongerDue => "no longer due".into(),
            TimerOutcome::CaseGone => "case gone".into(),
            TimerOutcome::Stale => "stale: the case changed".into(),
            TimerOutcome::SkippedBreachDue => "skipped: the breach is due too".into(),
            TimerOutcome::AgentsReminded => "agents reminded".into(),
            TimerOutcome::Escalated(what) => format!("escalated: {what}"),
            TimerOutcome::SkippedResolved => "skipped: the case was resolved meanwhile".into(),
            TimerOutcome::Deferred(t) => format!(
                "deferred to {} (send window)",
                t.to_rfc3339_opts(SecondsFormat::Micros, true)
            ),
            TimerOutcome::Queued(kind) => format!("{kind} queued"),
            TimerOutcome::NotSent(kind) => {
                format!("{kind} not sent (address undeliverable or refused)")
            }
            TimerOutcome::Closed => "closed".into(),
            TimerOutcome::NotClosable => "not closable".into(),
            TimerOutcome::Failed(e) => format!("failed: {e}"),
        }
    }
}

impl fmt::Display for TimerOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl FromStr for TimerOutcome {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let fixed = [
            TimerOutcome::Replaced,
            TimerOutcome::NoLongerDue,
            TimerOutcome::CaseGone,
            TimerOutcome::Stale,
            TimerOutcome::SkippedBreachDue,
            TimerOutcome::AgentsReminded,
            TimerOutcome::SkippedResolved,
            TimerOutcome::Closed,
            TimerOutcome::NotClosable,
        ];
        if let Some(o) = fixed.into_iter().find(|o| o.text() == s) {
            return Ok(o);
        }
        let unknown = || UnknownName {
            what: "timer outcome",
            value: s.to_string(),
        };
        if let Some(e) = s.strip_prefix("failed: ") {
            return Ok(TimerOutcome::Failed(e.to_string()));
        }
        if let Some(what) = s.strip_prefix("escalated: ") {
            return what
                .parse()
                .map(TimerOutcome::Escalated)
                .map_err(|_| unknown());
        }
        if let Some(t) = s
            .strip_prefix("deferred to ")
            .and_then(|r| r.strip_suffix(" (send window)"))
        {
            return DateTime::parse_from_rfc3339(t)
                .map(|t| TimerOutcome::Deferred(t.with_timezone(&Utc)))
                .map_err(|_| unknown());
        }
        if let Some(kind) = s.strip_suffix(" not sent (address undeliverable or refused)") {
            return kind
                .parse()
                .map(TimerOutcome::NotSent)
                .map_err(|_| unknown());
        }
        if let Some(kind) = s.strip_suffix(" queued") {
            return kind
                .parse()
                .map(TimerOutcome::Queued)
                .map_err(|_| unknown());
        }
        Err(unknown())
    }
}

impl TryFrom<&str> for TimerOutcome {
    type Error = UnknownName;

    fn try_from(s: &str) -> Result<Self, UnknownName> {
        s.parse()
    }
}

impl serde::Serialize for TimerOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr<Err = UnknownName>,
    {
        for v in all {
            assert_eq!(v.to_string().parse::<T>(), Ok(*v));
        }
    }

    #[test]
    fn every_name_reads_back_as_itself() {
        round_trips(ParticipantRole::ALL);
        round_trips(Visibility::ALL);
        round_trips(Audience::ALL);
        round_trips(OutboundKind::ALL);
        round_trips(OutboundState::ALL);
        round_trips(TimerKind::ALL);
        round_trips(AuditEvent::ALL);
        round_trips(MessageOutcome::ALL);
        round_trips(BreachedTarget::ALL);
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_what_was_read() {
        let e = "robot".parse::<ParticipantRole>().unwrap_err();
        assert_eq!(e.to_string(), "unknown participant role: \"robot\"");
        assert!("Public".parse::<Visibility>().is_err());
    }

    #[test]
    fn serialized_values_are_their_stored_text() {
        assert_eq!(
            serde_json::to_string(&OutboundKind::FeedbackRequest).unwrap(),
            "\"feedback_request\""
        );
        assert_eq!(
            serde_json::to_string(&TimerOutcome::Queued(OutboundKind::StatusUpdate)).unwrap(),
            "\"status_update queued\""
        );
    }

    #[test]
    fn timer_outcomes_read_back_as_themselves() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for o in [
            TimerOutcome::Replaced,
            TimerOutcome::NoLongerDue,
            TimerOutcome::CaseGone,
            TimerOutcome::Stale,
            TimerOutcome::SkippedBreachDue,
            TimerOutcome::AgentsReminded,
            TimerOutcome::Escalated(BreachedTarget::FirstResponse),
            TimerOutcome::Escalated(BreachedTarget::Resolution),
            TimerOutcome::SkippedResolved,
            TimerOutcome::Deferred(t),
            TimerOutcome::Queued(OutboundKind::FollowUp),
            TimerOutcome::NotSent(OutboundKind::EscalationNotice),
            TimerOutcome::Closed,
            TimerOutcome::NotClosable,
            TimerOutcome::Failed("database: no such table: timers".into()),
        ] {
            assert_eq!(o.text().parse::<TimerOutcome>(), Ok(o.clone()), "{o}");
        }
        assert_eq!(
            TimerOutcome::Escalated(BreachedTarget::Resolution).text(),
            "escalated: resolution target breached"
        );
        assert!("unknown timer kind x".parse::<TimerOutcome>().is_err());
    }
}
