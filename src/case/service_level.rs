//! A priority's service level: its targets (first response, resolution), the clock each runs
//! on (business hours or the wall clock), the due times the business calendar gives them, and
//! the promise the customer reads ("within 4 business hours"). Everything that asks when a
//! case is due, or what it was promised, asks here.

use chrono::{DateTime, Utc};

use crate::business_time::BusinessCalendar;
use crate::config::{ClockKind, Config, PriorityConfig};

/// Which of a priority's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    FirstResponse,
    Resolution,
}

/// One priority's targets on the business calendar.
#[derive(Debug, Clone, Copy)]
pub struct ServiceLevel<'a> {
    priority: &'a PriorityConfig,
    calendar: &'a BusinessCalendar,
}

impl<'a> ServiceLevel<'a> {
    pub fn new(priority: &'a PriorityConfig, calendar: &'a BusinessCalendar) -> Self {
        ServiceLevel { priority, calendar }
    }

    /// The service level of the configured priority `name`; `None` for a priority the config
    /// does not (or no longer) know.
    pub fn of(cfg: &'a Config, calendar: &'a BusinessCalendar, name: &str) -> Option<Self> {
        cfg.priority(name).map(|p| ServiceLevel::new(p, calendar))
    }

    /// The clock a target runs on. Without a resolution target of its own, the resolution
    /// runs on the first response's clock.
    pub fn clock(&self, target: Target) -> ClockKind {
        match target {
            Target::FirstResponse => self.priority.clock,
            Target::Resolution => self
                .priority
                .resolution_target()
                .map_or(self.priority.clock, |(_, k)| k),
        }
    }

    /// The clock of `target` for a case of priority `name`: business time when the config
    /// does not know the priority.
    pub fn clock_of(
        cfg: &Config,
        calendar: &BusinessCalendar,
        name: &str,
        target: Target,
    ) -> ClockKind {
        ServiceLevel::of(cfg, calendar, name).map_or(ClockKind::Business, |s| s.clock(target))
    }

    /// True when the priority runs around the clock (urgent cases): its scheduled mail is
    /// not held for the send window.
    pub fn is_wall_clock(&self) -> bool {
        self.priority.clock == ClockKind::Wall
    }

    /// When the first response is due for a case that starts waiting on us at `from`.
    pub fn first_response_due(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        self.calendar
            .deadline(from, self.priority.first_response.0, self.priority.clock)
    }

    /// When the resolution is due from `from`; `None` for a priority without that target.
    pub fn resolution_due(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.priority
            .resolution_target()
            .map(|(r, clock)| self.calendar.deadline(from, r, clock))
    }

    /// The resolution target of a reopened case, from `from`: the priority's resolution
    /// target, or its first-response target when it has none.
    pub fn reopened_resolution_due(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        self.resolution_due(from)
            .unwrap_or_else(|| self.first_response_due(from))
    }
}

/// A deadline `due` whose clock (`kind`) stopped at `paused`, running again from `now`: the
/// time that was left is kept. `None` when the target was already breached at the pause.
pub fn resumed_due(
    calendar: &BusinessCalendar,
    kind: ClockKind,
    due: DateTime<Utc>,
    paused: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if due <= paused {
        return None;
    }
    Some(match kind {
        ClockKind::Wall => now + (due - paused),
        ClockKind::Business => calendar.add_business(now, calendar.business_between(paused, due)),
    })
}
