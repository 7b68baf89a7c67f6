//! The case life cycle of docs/design.md as one state machine.
//!
//! `new -> acknowledged -> in_progress <-> waiting_on_customer -> escalated -> resolved ->
//! closed`; a customer reply to a resolved or closed case reopens it; a case merged into
//! another (`#merge`) is closed from any open status. Every change goes
//! through [`transition`], and the store audits it with actor and time.

use std::fmt;
use std::str::FromStr;

/// Where a case stands.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Where every case starts.
    #[default]
    New,
    Acknowledged,
    InProgress,
    WaitingOnCustomer,
    Escalated,
    Resolved,
    Closed,
}

/// What happened to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseEvent {
    /// The acknowledgment was queued.
    Acknowledge,
    /// An agent answered the customer.
    AgentReplied,
    /// An agent asked the customer something and waits.
    WaitOnCustomer,
    /// The customer wrote again.
    CustomerReplied,
    /// Escalated by an agent, an SLA breach or a poor rating.
    Escalate,
    /// Marked resolved.
    Resolve,
    /// Closed after resolution (no answer to the follow-up, or by an agent).
    Close,
    /// Reopened explicitly.
    Reopen,
    /// Merged into another case (`#merge`): closed, its mail handled by the survivor.
    Merge,
}

/// A transition the life cycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} case cannot be changed by {event:?}")]
pub struct InvalidTransition {
    pub from: Status,
    pub event: CaseEvent,
}

impl Status {
    /// Every status, in life-cycle order.
    pub const ALL: [Status; 7] = [
        Status::New,
        Status::Acknowledged,
        Status::InProgress,
        Status::WaitingOnCustomer,
        Status::Escalated,
        Status::Resolved,
        Status::Closed,
    ];

    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in_progress",
            Status::WaitingOnCustomer => "waiting_on_customer",
            Status::Escalated => "escalated",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// The status as agents and managers read it in mail and error messages: the stored
    /// name in words (`waiting on customer`), never the snake_case one.
    pub fn agent_label(&self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in progress",
            Status::WaitingOnCustomer => "waiting on customer",
            Status::Escalated => "escalated",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// The status as the customer reads it: from their side (`waiting for your reply`), and
    /// without our internal steps (a new case is just "received").
    pub fn customer_label(&self) -> &'static str {
        match self {
            Status::New | Status::Acknowledged => "received",
            Status::InProgress => "in progress",
            Status::WaitingOnCustomer => "waiting for your reply",
            Status::Escalated => "escalated to our senior team",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "new" => Status::New,
            "acknowledged" => Status::Acknowledged,
            "in_progress" => Status::InProgress,
            "waiting_on_customer" => Status::WaitingOnCustomer,
            "escalated" => Status::Escalated,
            "resolved" => Status::Resolved,
            "closed" => Status::Closed,
            other => return Err(format!("unknown case status `{other}`")),
        })
    }
}

/// The one place that decides the next status. `Ok(same)` means the event is recorded but the
/// status does not change (e.g. a customer adding details to an acknowledged case).
///
/// # Errors
/// [`InvalidTransition`] when the event makes no sense in this status.
pub fn transition(from: Status, event: CaseEvent) -> Result<Status, InvalidTransition> {
    use CaseEvent as E;
    use Status as S;
    let bad = Err(InvalidTransition { from, event });
    match (from, event) {
        (S::New, E::Acknowledge) => Ok(S::Acknowledged),
        (_, E::Acknowledge) => bad,
        (S::Closed, E::AgentReplied) => bad,
        (S::Escalated, E::AgentReplied) => Ok(S::Escalated),
        (_, E::AgentReplied) => Ok(S::InProgress),
        (S::Resolved | S::Closed, E::WaitOnCustomer) => bad,
        (_, E::WaitOnCustomer) => Ok(S::WaitingOnCustomer),
        (S::WaitingOnCustomer, E::CustomerReplied) => Ok(S::InProgress),
        (S::Resolved | S::Closed, E::CustomerReplied) => Ok(S::InProgress),
        (s, E::CustomerReplied) => Ok(s),
        (S::Closed, E::Escalate) => bad,
        (_, E::Escalate) => Ok(S::Escalated),
        (S::Resolved | S::Closed, E::Resolve) => bad,
        (_, E::Resolve) => Ok(S::Resolved),
        (S::Resolved, E::Close) => Ok(S::Closed),
        (_, E::Close) => bad,
        (S::Resolved | S::Closed, E::Reopen) => Ok(S::InProgress),
        (_, E::Reopen) => bad,
        (S::Closed, E::Merge) => bad,
        (_, E::Merge) => Ok(S::Closed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
    }

    #[test]
    fn the_happy_path_of_design_md() {
        let mut s = Status::New;
        for e in [
            CaseEvent::Acknowledge,
            CaseEvent::AgentReplied,
            CaseEvent::WaitOnCustomer,
            CaseEvent::CustomerReplied,
            CaseEvent::Escalate,
            CaseEvent::Resolve,
            CaseEvent::Close,
        ] {
            s = transition(s, e).unwrap();
        }
        assert_eq!(s, Status::Closed);
    }

    #[test]
    fn a_customer_reply_reopens_resolved_and_closed_cases() {
        assert_eq!(
            transition(Status::Resolved, CaseEvent::CustomerReplied),
            Ok(Status::InProgress)
        );
        assert_eq!(
            transition(Status::Closed, CaseEvent::CustomerReplied),
            Ok(Status::InProgress)
        );
        assert_eq!(
            transition(Status::Acknowledged, CaseEvent::CustomerReplied),
            Ok(Status::Acknowledged)
        );
    }

    #[test]
    fn a_merge_closes_any_case_that_is_not_closed_yet() {
        for s in Status::ALL {
            let merged = transition(s, CaseEvent::Merge);
            if s == Status::Closed {
                assert!(merged.is_err());
            } else {
                assert_eq!(merged, Ok(Status::Closed));
            }
        }
    }

    #[test]
    fn a_case_is_acknowledged_once_and_closed_only_after_resolution() {
        for s in Status::ALL {
            if s != Status::New {
                assert!(transition(s, CaseEvent::Acknowledge).is_err());
            }
            if s != Status::Resolved {
                assert!(transition(s, CaseEvent::Close).is_err());
            }
        }
    }
}
