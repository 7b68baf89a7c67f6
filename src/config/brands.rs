//! Several mailboxes, queues and brands in one config (docs/design.md, "Mailboxes, queues
//! and brands").
//!
//! Each `[[mailbox]]` is an IMAP account or folder with its own fetch lease. Each of our
//! addresses belongs to one `[[queue]]`, and each queue to one `[[brand]]`: the brand says
//! who answers (display name, reply address, reference prefix, templates, signature), who
//! may act on its cases (its agents) and what it promises (calendar, service levels,
//! escalation contacts). A config with neither queues nor brands is one queue and one brand,
//! both named [`DEFAULT`], made of `[support]`: the config of a single mailbox is unchanged.
//!
//! Each queue's cases are handled with a config derived from the whole ([`Config::for_queue`]):
//! the same file with `[support]`, `[calendar]`, the service levels, `[[escalation]]` and the
//! agents replaced by its brand's, so the pipeline needs no second notion of "who we are".

use std::path::PathBuf;

use serde::Deserialize;

use super::validate::validate_names;
use super::*;

/// The name of the queue and brand of a config that names none.
pub const DEFAULT: &str = "default";

/// One queue: the addresses it answers at, its brand, and who gets its cards.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Name used in `#queue NAME`, `mailcase cases --queue` and reports.
    pub name: String,
    /// The brand it answers as (may be left out when there is one brand or none).
    pub brand: Option<String>,
    /// Our addresses that lead here, lower-cased at load. Mail to one is answered from it.
    pub addresses: Vec<String>,
    /// The agents who get its cards and customer messages (addresses of `[[agents.members]]`);
    /// default: the brand's agents.
    pub agents: Option<Vec<String>>,
}

/// A brand's override of one priority's service level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLevelConfig {
    /// A priority of `[[priorities]]`.
    pub priority: String,
    pub first_response: Option<HumanDuration>,
    pub resolution: Option<HumanDuration>,
}

/// One brand, its values parsed (the calendar is read in `file.rs`).
#[derive(Debug, Clone)]
pub struct BrandConfig {
    /// Name used in `mailcase cases --brand` and reports.
    pub name: String,
    /// The name customers see (default: `support.name`).
    pub display_name: Option<String>,
    /// The address it answers from when the customer wrote to none of ours (a Bcc), and
    /// where its agents' replies come back (default: its first queue's first address).
    pub reply_address: Option<String>,
    /// Prefix of its reference numbers (default: `support.reference_prefix`).
    pub reference_prefix: Option<String>,
    /// A folder of templates laid over `[templates] dir`: a template it has replaces the
    /// shipped one of the same name and language; the others are the shipped ones.
    pub templates: Option<PathBuf>,
    /// Printed under the sign-off of every customer mail.
    pub signature: Option<String>,
    /// Who may act on its cases (addresses of `[[agents.members]]`); default: every member.
    pub agents: Option<Vec<String>>,
    /// The `[[smtp]]` account (by name) its mail is sent through; default: the first.
    pub smtp: Option<String>,
    /// Its business calendar (default: `[calendar]`).
    pub calendar: Option<CalendarConfig>,
    /// Its service levels, per priority (default: those of `[[priorities]]`).
    pub service_levels: Vec<ServiceLevelConfig>,
    /// Its escalation contacts, first match wins (default: `[[escalation]]`).
    pub escalation: Option<Vec<EscalationConfig>>,
}

/// Where a new message goes: the queue, and the address of ours it was written to (`None`:
/// none of ours was named; the mailbox's default queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub queue: String,
    pub address: Option<String>,
}

/// The address without its `+detail`, lower-cased.
fn base_address(a: &str) -> String {
    let a = a
        .trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_lowercase();
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(b, _)| b);
            format!("{local}@{domain}")
        }
        None => a,
    }
}

impl Config {
    /// The queues, the implicit one for a config that names none.
    pub fn queue_list(&self) -> Vec<QueueConfig> {
        if self.queues.is_empty() {
            vec![QueueConfig {
                name: DEFAULT.into(),
                brand: Some(DEFAULT.into()),
                addresses: vec![self.support.address.to_lowercase()],
                agents: None,
            }]
        } else {
            self.queues.clone()
        }
    }

    /// True when the config names queues or brands: cases are then handled per queue.
    pub fn has_queues(&self) -> bool {
        !self.queues.is_empty() || !self.brands.is_empty()
    }

    /// A queue by name.
    pub fn queue(&self, name: &str) -> Option<QueueConfig> {
        self.queue_list().into_iter().find(|q| q.name == name)
    }

    /// The brand a queue answers as.
    pub fn brand_of(&self, queue: &QueueConfig) -> String {
        queue
            .brand
            .clone()
            .or_else(|| self.brands.first().map(|b| b.name.clone()))
            .unwrap_or_else(|| DEFAULT.into())
    }

    /// The brands' names, the implicit one for a config that names none.
    pub fn brand_names(&self) -> Vec<String> {
        if self.brands.is_empty() {
            vec![DEFAULT.into()]
        } else {
            self.brands.iter().map(|b| b.name.clone()).collect()
        }
    }

    /// The queue of mail that reached `mailbox` (its key, `user@host:port/folder`) without
    /// naming any of our addresses: the mailbox's `default_queue`, else the first queue.
    pub fn default_queue(&self, mailbox: Option<&str>) -> String {
        mailbox
            .and_then(|k| self.mailboxes.iter().find(|m| m.key() == k))
            .and_then(|m| m.default_queue.clone())
            .or_else(|| self.queues.first().map(|q| q.name.clone()))
            .unwrap_or_else(|| DEFAULT.to_string())
    }

    /// The queue an address of ours belongs to (`+detail` and case ignored), and the address
    /// as configured; `None` for an address that is not one of our queues'. Runs for every
    /// new message: no copies of the queue list.
    pub fn queue_of(&self, address: &str) -> Option<(&str, &str)> {
        self.queue_of_base(&base_address(address))
    }

    fn queue_of_base(&self, base: &str) -> Option<(&str, &str)> {
        if self.queues.is_empty() {
            let a = self.support.address.as_str();
            return a.eq_ignore_ascii_case(base).then_some((DEFAULT, a));
        }
        self.queues.iter().find_map(|q| {
            q.addresses
                .iter()
                .find(|a| a.as_str() == base)
                .map(|a| (q.name.as_str(), a.as_str()))
        })
    }

    /// Which queue a new message goes to, by the first of our addresses found in, in this
    /// order: To, Cc (what the sender wrote: the same on every copy, so a mail to two of our
    /// addresses goes to one queue whichever copy is read first), then X-Original-To and
    /// Delivered-To (the envelope recipient of this copy: a Bcc, a list or a forward). A
    /// `+detail` is ignored. None of ours: the mailbox's default queue.
    pub fn route<'a>(
        &self,
        to_and_cc: impl IntoIterator<Item = &'a str>,
        envelope: impl IntoIterator<Item = &'a str>,
        mailbox: Option<&str>,
    ) -> Route {
        for a in to_and_cc.into_iter().chain(envelope) {
            if let Some((queue, addr)) = self.queue_of(a) {
                return Route {
                    queue: queue.to_string(),
                    address: Some(addr.to_lowercase()),
                };
            }
        }
        Route {
            queue: self.default_queue(mailbox),
            address: None,
        }
    }

    /// The config a queue's cases are handled with: `[support]` (address, name, reference
    /// prefix, signature), `[templates]`, `[calendar]`, the service levels, `[[escalation]]`
    /// and `[agents]` become its brand's; `own_addresses` gains every queue's and brand's
    /// addresses. The config itself for a config without queues.
    pub fn for_queue(&self, queue: &str) -> Config {
        let mut cfg = self.clone();
        cfg.support.own_addresses = self.own_addresses();
        if !self.has_queues() {
            return cfg;
        }
        let Some(q) = self.queue(queue) else {
            return cfg;
        };
        let brand_name = self.brand_of(&q);
        let brand = self.brands.iter().find(|b| b.name == brand_name);
        if let Some(b) = brand {
            if let Some(a) = self.reply_address_of(b) {
                cfg.support.address = a;
            }
            if let Some(n) = &b.display_name {
                cfg.support.name = n.clone();
            }
            if let Some(p) = &b.reference_prefix {
                cfg.support.reference_prefix = p.clone();
            }
            if b.signature.is_some() {
                cfg.support.signature = b.signature.clone();
            }
            cfg.templates.overlay = b.templates.as_ref().map(|t| self.resolve(t));
            if let Some(c) = &b.calendar {
                cfg.calendar = c.clone();
            }
            for sl in &b.service_levels {
                if let Some(p) = cfg.priorities.iter_mut().find(|p| p.name == sl.priority) {
                    if let Some(f) = sl.first_response {
                        p.first_response = f;
                    }
                    if sl.resolution.is_some() {
                        p.resolution = sl.resolution;
                    }
                }
            }
            if let Some(e) = &b.escalation {
                cfg.escalation = e.clone();
            }
            if let Some(agents) = &b.agents {
                // Its agents alone may act on its cases, and are told of them (unless the
                // queue names whom to tell).
                cfg.agents
                    .members
                    .retain(|m| agents.iter().any(|a| a.eq_ignore_ascii_case(&m.address)));
                cfg.agents.notify.clear();
            }
        } else if let Some(a) = q.addresses.first() {
            // A queue of the implicit brand answers from its own address.
            cfg.support.address = a.clone();
        }
        if let Some(agents) = &q.agents {
            cfg.agents.notify = agents.clone();
        }
        cfg
    }

    /// A brand's reply address: as written, else its first queue's first address.
    fn reply_address_of(&self, b: &BrandConfig) -> Option<String> {
        b.reply_address.clone().or_else(|| {
            self.queues
                .iter()
                .find(|q| self.brand_of(q) == b.name)
                .and_then(|q| q.addresses.first().cloned())
        })
    }

    /// The problems of `[[mailbox]]`, `[[queue]]` and `[[brand]]`, keyed by TOML path.
    pub(super) fn validate_queues(&self, push: &mut impl FnMut(&str, String)) {
        // Names: a name each when there are several mailboxes or SMTP accounts; never one
        // name twice. Then never one mailbox twice.
        let several = |n: usize, what: &str| {
            (n > 1).then(|| format!("every {what} needs a name when there are several"))
        };
        validate_names(
            self.mailboxes.iter().map(|m| (m.path(), m.name.as_deref())),
            several(self.mailboxes.len(), "mailbox").as_deref(),
            push,
        );
        validate_names(
            self.smtp_accounts
                .iter()
                .map(|a| (a.path.as_str(), a.name.as_deref())),
            several(self.smtp_accounts.len(), "SMTP account").as_deref(),
            push,
        );
        let brand_paths: Vec<String> = (0..self.brands.len())
            .map(|i| format!("brand[{i}]"))
            .collect();
        validate_names(
            brand_paths
                .iter()
                .zip(&self.brands)
                .map(|(p, b)| (p.as_str(), Some(b.name.as_str()))),
            None,
            push,
        );
        let queue_paths: Vec<String> = (0..self.queues.len())
            .map(|i| format!("queue[{i}]"))
            .collect();
        validate_names(
            queue_paths
                .iter()
                .zip(&self.queues)
                .map(|(p, q)| (p.as_str(), Some(q.name.as_str()))),
            None,
            push,
        );
        for (i, m) in self.mailboxes.iter().enumerate() {
            let key = m.path();
            for (j, o) in self.mailboxes.iter().enumerate().take(i) {
                if o.key() == m.key() {
                    push(
                        &format!("{key}.inbox"),
                        format!("{} is also read by mailbox[{j}]: one folder is read by one [[mailbox]]", m.key()),
                    );
                }
            }
            if let Some(d) = &m.default_queue {
                if self.queue(d).is_none() {
                    push(
                        &format!("{key}.default_queue"),
                        format!(
                            "`{d}` is not a queue (queues: {})",
                            self.queue_names().join(", ")
                        ),
                    );
                }
            }
        }

        // Brands.
        let agent_known = |a: &str| {
            self.agents
                .members
                .iter()
                .any(|m| m.address.eq_ignore_ascii_case(a))
        };
        for (i, b) in self.brands.iter().enumerate() {
            let key = format!("brand[{i}]");
            if let Some(n) = &b.display_name {
                if n.contains(['\r', '\n']) || n.trim().is_empty() {
                    push(
                        &format!("{key}.display_name"),
                        "must be one line, not empty".into(),
                    );
                }
            }
            if let Some(p) = &b.reference_prefix {
                if !valid_prefix(p) {
                    push(
                        &format!("{key}.reference_prefix"),
                        format!("`{p}` must be 1-8 characters A-Z or 0-9"),
                    );
                }
            }
            if let Some(a) = &b.reply_address {
                let ours = self
                    .queues
                    .iter()
                    .filter(|q| self.brand_of(q) == b.name)
                    .any(|q| q.addresses.iter().any(|x| x.eq_ignore_ascii_case(a)));
                if !ours {
                    push(
                        &format!("{key}.reply_address"),
                        format!("`{a}` is not an address of one of this brand's queues: replies to it would not come back to its cases"),
                    );
                }
            } else if self.reply_address_of(b).is_none() {
                push(
                    &key.to_string(),
                    format!("brand `{}` has no queue: add a [[queue]] with brand = \"{}\" and its addresses", b.name, b.name),
                );
            }
            for (j, a) in b.agents.iter().flatten().enumerate() {
                if !agent_known(a) {
                    push(
                        &format!("{key}.agents[{j}]"),
                        format!("`{a}` is not an address of [[agents.members]]"),
                    );
                }
            }
            if let Some(n) = &b.smtp {
                if !self
                    .smtp_accounts
                    .iter()
                    .any(|s| s.name.as_deref() == Some(n))
                {
                    push(
                        &format!("{key}.smtp"),
                        format!(
                            "`{n}` is not the name of an [[smtp]] account (names: {})",
                            self.smtp_accounts
                                .iter()
                                .filter_map(|s| s.name.as_deref())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
            if let Some(t) = &b.templates {
                let dir = self.resolve(t);
                if !dir.is_dir() {
                    push(
                        &format!("{key}.templates"),
                        format!("{} is not a folder", dir.display()),
                    );
                }
            }
            for (j, sl) in b.service_levels.iter().enumerate() {
                if !self.priorities.iter().any(|p| p.name == sl.priority) {
                    push(
                        &format!("{key}.service_levels[{j}].priority"),
                        format!("`{}` is not a priority of [[priorities]]", sl.priority),
                    );
                }
                if sl.first_response.is_some_and(|d| d.0.is_zero()) {
                    push(
                        &format!("{key}.service_levels[{j}].first_response"),
                        "must be more than 0s".into(),
                    );
                }
            }
            for (j, e) in b.escalation.iter().flatten().enumerate() {
                if e.contacts.is_empty() {
                    push(
                        &format!("{key}.escalation[{j}].contacts"),
                        "needs at least one address".into(),
                    );
                }
                for (k, a) in e.contacts.iter().enumerate() {
                    if split_address(a).is_none() {
                        push(
                            &format!("{key}.escalation[{j}].contacts[{k}]"),
                            format!("`{a}` is not an e-mail address"),
                        );
                    }
                }
            }
        }

        // Queues: each address in one queue only.
        let mut claimed: Vec<(String, usize, usize)> = Vec::new();
        for (i, q) in self.queues.iter().enumerate() {
            let key = format!("queue[{i}]");
            match &q.brand {
                Some(b) if !self.brands.iter().any(|x| &x.name == b) => push(
                    &format!("{key}.brand"),
                    format!(
                        "`{b}` is not a [[brand]] (brands: {})",
                        self.brand_names().join(", ")
                    ),
                ),
                None if self.brands.len() > 1 => push(
                    &format!("{key}.brand"),
                    format!(
                        "needed: there are several brands ({})",
                        self.brand_names().join(", ")
                    ),
                ),
                _ => {}
            }
            if q.addresses.is_empty() {
                push(
                    &format!("{key}.addresses"),
                    "needs at least one address".into(),
                );
            }
            for (j, a) in q.addresses.iter().enumerate() {
                let k = format!("{key}.addresses[{j}]");
                match split_address(a) {
                    None => push(&k, format!("`{a}` is not an e-mail address")),
                    Some((local, _)) if local.contains('+') => push(
                        &k,
                        "must not contain `+`: replies come back to <address>+<token>@".into(),
                    ),
                    Some((local, _))
                        if local.len() + 1 + crate::thread::token::TOKEN_MAX_LEN > 64 =>
                    {
                        push(
                            &k,
                            format!("local part `{local}` is too long to carry a reply token"),
                        )
                    }
                    _ => {}
                }
                if agent_known(a) {
                    push(
                        &k,
                        format!("`{a}` is an agent's address, not one customers write to"),
                    );
                }
                let lower = a.to_lowercase();
                if let Some((_, qi, aj)) = claimed.iter().find(|(x, _, _)| *x == lower) {
                    push(
                        &k,
                        format!(
                            "`{a}` is claimed by two queues: `{}` (queue[{qi}].addresses[{aj}]) and `{}`; an address belongs to one queue",
                            self.queues[*qi].name, q.name
                        ),
                    );
                } else {
                    claimed.push((lower, i, j));
                }
            }
            let brand_agents = q
                .brand
                .as_ref()
                .and_then(|b| self.brands.iter().find(|x| &x.name == b))
                .and_then(|b| b.agents.clone());
            for (j, a) in q.agents.iter().flatten().enumerate() {
                if !agent_known(a) {
                    push(
                        &format!("{key}.agents[{j}]"),
                        format!("`{a}` is not an address of [[agents.members]]"),
                    );
                } else if let Some(ba) = &brand_agents {
                    if !ba.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                        push(
                            &format!("{key}.agents[{j}]"),
                            format!("`{a}` is not one of its brand's agents, who alone may act on its cases"),
                        );
                    }
                }
            }
        }
        if self.queues.is_empty() && !self.brands.is_empty() {
            push(
                "queue",
                "brands are set but no [[queue]]: each of our addresses belongs to a queue, and each queue to a brand".into(),
            );
        }
    }

    /// The SMTP account (index into `smtp_accounts`) for mail with envelope sender
    /// `from`: that of the brand the address belongs to, else the first.
    pub fn smtp_index_for(&self, from: &str) -> usize {
        // A brand's reply address is one of its queues' (checked at load).
        let Some((queue, _)) = self.queue_of(from) else {
            return 0;
        };
        let brand = self
            .queues
            .iter()
            .find(|q| q.name == queue)
            .map(|q| self.brand_of(q));
        brand
            .and_then(|b| self.brands.iter().find(|x| x.name == b))
            .and_then(|b| b.smtp.as_deref())
            .and_then(|n| {
                self.smtp_accounts
                    .iter()
                    .position(|s| s.name.as_deref() == Some(n))
            })
            .unwrap_or(0)
    }

    /// The business calendar of brand `name` (its own, else `[calendar]`); `[calendar]`
    /// without a name.
    pub fn brand_calendar(&self, name: Option<&str>) -> &CalendarConfig {
        name.and_then(|n| self.brands.iter().find(|b| b.name == n))
            .and_then(|b| b.calendar.as_ref())
            .unwrap_or(&self.calendar)
    }

    /// The queues' names, in order (`default` for a config that names none).
    pub fn queue_names(&self) -> Vec<String> {
        if self.queues.is_empty() {
            vec![DEFAULT.into()]
        } else {
            self.queues.iter().map(|q| q.name.clone()).collect()
        }
    }
}

/// 1-8 characters A-Z or 0-9.
pub(super) fn valid_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 8
        && p.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

impl MailboxConfig {
    /// Identifies the mailbox in dedupe keys and the lease: `user@host:port/folder`.
    pub fn key(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.inbox)
    }

    /// Its name in logs and `check` (`default` for a single unnamed one).
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT)
    }

    /// Its TOML path: `mailbox` when written as one `[mailbox]` table, else `mailbox[i]`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

#[cfg(test)]
mod tests;
