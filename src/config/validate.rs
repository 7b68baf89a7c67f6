//! The checks run on a config once it has been read: every problem, keyed by its TOML path.

use std::collections::BTreeSet;
use std::time::Duration;

use super::file::SectionProblems;
use super::*;

impl Config {
    /// Every semantic problem, keyed by TOML path: those `parsed` found reading the values
    /// of the calendar, the send window and the digest, in their place among the others.
    /// Empty means valid.
    pub(super) fn validate(&self, parsed: SectionProblems) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut push = |key: &str, message: String| {
            p.push(Problem {
                key: key.to_string(),
                message,
            })
        };

        // Servers.
        for m in &self.mailboxes {
            self.validate_mailbox(m, &mut push);
        }
        for a in &self.smtp_accounts {
            validate_smtp(a, &mut push);
        }
        validate_store(&self.store, &mut push);
        if let Some(addr) = self.metrics.listen {
            if !addr.ip().is_loopback() {
                push(
                    "metrics.listen",
                    format!("`{addr}` is not a loopback address; serve the metrics on 127.0.0.1 or [::1] and let a proxy or tunnel carry them further"),
                );
            }
        }
        self.validate_queues(&mut push);
        for x in parsed.brands {
            push(&x.key, x.message);
        }

        // Support identity.
        if split_address(&self.support.address).is_none() {
            push(
                "support.address",
                format!("`{}` is not an e-mail address", self.support.address),
            );
        }
        for (i, a) in self.support.own_addresses.iter().enumerate() {
            if split_address(a).is_none() {
                push(
                    &format!("support.own_addresses[{i}]"),
                    format!("`{a}` is not an e-mail address"),
                );
            }
        }
        if self.support.name.contains(['\r', '\n']) {
            push("support.name", "must be one line".into());
        }
        let prefix = &self.support.reference_prefix;
        if !super::brands::valid_prefix(prefix) {
            push(
                "support.reference_prefix",
                format!("`{prefix}` must be 1-8 characters A-Z or 0-9"),
            );
        }

        // Outbox.
        if self.outbox.retry_initial.0.is_zero() {
            push("outbox.retry_initial", "must be more than 0s".into());
        }
        if self.outbox.retry_max < self.outbox.retry_initial {
            push(
                "outbox.retry_max",
                "must not be shorter than retry_initial".into(),
            );
        }
        if self.outbox.max_automatic_per_minute == 0 {
            push(
                "outbox.max_automatic_per_minute",
                "must be at least 1".into(),
            );
        }
        if self.acknowledgment.per_sender_per_day < self.acknowledgment.per_sender_per_hour {
            push(
                "acknowledgment.per_sender_per_day",
                "must not be lower than per_sender_per_hour".into(),
            );
        }

        // Calendar.
        for x in parsed.calendar {
            push(&x.key, x.message);
        }

        // Priorities and categories.
        if self.priorities.is_empty() {
            push("priorities", "needs at least one priority".into());
        }
        let mut seen = BTreeSet::new();
        for (i, pr) in self.priorities.iter().enumerate() {
            if !valid_name(&pr.name) {
                push(
                    &format!("priorities[{i}].name"),
                    format!("`{}` must be lower-case letters, digits, - or _", pr.name),
                );
            }
            if !seen.insert(pr.name.clone()) {
                push(
                    &format!("priorities[{i}].name"),
                    format!("`{}` is defined twice", pr.name),
                );
            }
            if pr.first_response.0.is_zero() {
                push(
                    &format!("priorities[{i}].first_response"),
                    "must be more than 0".into(),
                );
            }
            let year = Duration::from_secs(365 * 86_400);
            if pr.first_response.0 > year {
                push(
                    &format!("priorities[{i}].first_response"),
                    "must be at most 365d".into(),
                );
            }
            if pr.resolution.is_some_and(|r| r.0.is_zero() || r.0 > year) {
                push(
                    &format!("priorities[{i}].resolution"),
                    "must be more than 0 and at most 365d".into(),
                );
            }
        }
        if self.categories.is_empty() {
            push("categories", "needs at least one category".into());
        }
        let mut seen = BTreeSet::new();
        for (i, c) in self.categories.iter().enumerate() {
            if !valid_name(&c.name) {
                push(
                    &format!("categories[{i}].name"),
                    format!("`{}` must be lower-case letters, digits, - or _", c.name),
                );
            }
            if !seen.insert(c.name.clone()) {
                push(
                    &format!("categories[{i}].name"),
                    format!("`{}` is defined twice", c.name),
                );
            }
        }
        if self.category(&self.classify.default_category).is_none() {
            push(
                "classify.default_category",
                format!(
                    "`{}` is not one of the categories",
                    self.classify.default_category
                ),
            );
        }
        if self.priority(&self.classify.default_priority).is_none() {
            push(
                "classify.default_priority",
                format!(
                    "`{}` is not one of the priorities",
                    self.classify.default_priority
                ),
            );
        }
        for (i, r) in self.classify.rules.iter().enumerate() {
            let key = format!("classify.rules[{i}]");
            if r.keywords.is_empty() && r.regex.is_none() {
                push(&key, format!("rule `{}` needs keywords or a regex", r.name));
            }
            if r.category.is_none() && r.priority.is_none() {
                push(
                    &key,
                    format!("rule `{}` sets neither category nor priority", r.name),
                );
            }
            if let Some(re) = &r.regex {
                if let Err(e) = regex::Regex::new(re) {
                    push(&format!("{key}.regex"), format!("invalid regex: {e}"));
                }
            }
            if let Some(c) = &r.category {
                if self.category(c).is_none() {
                    push(
                        &format!("{key}.category"),
                        format!("`{c}` is not one of the categories"),
                    );
                }
            }
            if let Some(pr) = &r.priority {
                if self.priority(pr).is_none() {
                    push(
                        &format!("{key}.priority"),
                        format!("`{pr}` is not one of the priorities"),
                    );
                }
            }
            if r.keywords
                .iter()
                .any(|k| k.trim().trim_matches('*').trim().is_empty())
            {
                push(
                    &format!("{key}.keywords"),
                    "must not contain empty keywords (nor ones of only `*`)".into(),
                );
            }
        }
        if let Err(m) = self.token_secret_source() {
            push("support", m);
        }
        if let Some((local, _)) = split_address(&self.support.address) {
            // support+c.<reference>.<16-char MAC>: keep the local part within RFC 5321's 64.
            if local.len() + 1 + crate::thread::token::TOKEN_MAX_LEN > 64 {
                push(
                    "support.address",
                    format!("local part `{local}` is too long to carry a reply token (at most {} characters)", 63 - crate::thread::token::TOKEN_MAX_LEN),
                );
            }
            if local.contains('+') {
                push(
                    "support.address",
                    "must not contain `+`: replies come back to support+<token>@".into(),
                );
            }
        }

        // Schedule.
        for x in parsed.send_window {
            push(&x.key, x.message);
        }
        for (i, e) in self.escalation.iter().enumerate() {
            if e.contacts.is_empty() {
                push(
                    &format!("escalation[{i}].contacts"),
                    "needs at least one address".into(),
                );
            }
            for (j, a) in e.contacts.iter().enumerate() {
                if split_address(a).is_none() {
                    push(
                        &format!("escalation[{i}].contacts[{j}]"),
                        format!("`{a}` is not an e-mail address"),
                    );
                }
            }
            for (j, c) in e.categories.iter().enumerate() {
                if self.category(c).is_none() {
                    push(
                        &format!("escalation[{i}].categories[{j}]"),
                        format!("`{c}` is not one of the categories"),
                    );
                }
            }
            for (j, pr) in e.priorities.iter().enumerate() {
                if self.priority(pr).is_none() {
                    push(
                        &format!("escalation[{i}].priorities[{j}]"),
                        format!("`{pr}` is not one of the priorities"),
                    );
                }
            }
        }
        let d = &self.digest;
        for x in parsed.digest {
            push(&x.key, x.message);
        }
        for (i, a) in d.recipients.iter().enumerate() {
            if split_address(a).is_none() {
                push(
                    &format!("digest.recipients[{i}]"),
                    format!("`{a}` is not an e-mail address"),
                );
            } else if self.own_addresses().contains(&a.to_lowercase()) {
                push(
                    &format!("digest.recipients[{i}]"),
                    "must not be one of our own addresses".into(),
                );
            }
        }
        if let Some(b) = &d.brand {
            let brands = self.brand_names();
            if !brands.contains(b) {
                push(
                    "digest.brand",
                    format!(
                        "`{b}` is not one of the brands; known: {}",
                        brands.join(", ")
                    ),
                );
            }
        }
        if d.enabled && self.digest_recipients().is_empty() {
            push(
                "digest.recipients",
                "nobody to send the digest to: set recipients (or [[escalation]] contacts or agents), or enabled = false".into(),
            );
        }
        if self.feedback.escalate_at_or_below > 5 {
            push(
                "feedback.escalate_at_or_below",
                "must be 0 (never) to 5".into(),
            );
        }

        // Agents.
        let own = self.own_addresses();
        for (i, a) in self.agents.members.iter().enumerate() {
            if split_address(&a.address).is_none() {
                push(
                    &format!("agents.members[{i}].address"),
                    format!("`{}` is not an e-mail address", a.address),
                );
            }
            if own.contains(&a.address.to_lowercase()) {
                push(
                    &format!("agents.members[{i}].address"),
                    "must not be one of our own addresses (mail from those is ignored)".into(),
                );
            }
            if a.name.trim().is_empty() || a.name.contains(['\r', '\n']) {
                push(
                    &format!("agents.members[{i}].name"),
                    "must be one non-empty line".into(),
                );
            }
            if self.agents.members[..i]
                .iter()
                .any(|b| b.address.eq_ignore_ascii_case(&a.address))
            {
                push(
                    &format!("agents.members[{i}].address"),
                    format!("`{}` is listed twice", a.address),
                );
            }
        }
        for (i, a) in self.agents.notify.iter().enumerate() {
            if split_address(a).is_none() {
                push(
                    &format!("agents.notify[{i}]"),
                    format!("`{a}` is not an e-mail address"),
                );
            } else if own.contains(&a.to_lowercase()) {
                push(
                    &format!("agents.notify[{i}]"),
                    "must not be one of our own addresses: notifications would loop".into(),
                );
            }
        }
        if self.agents.verify == AgentVerify::AuthenticationResults
            && self
                .agents
                .authserv_id
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
        {
            push(
                "agents.authserv_id",
                "is required with verify = \"authentication-results\": the id your receiving server writes in Authentication-Results".into(),
            );
        }

        if self.limits.max_parts == 0
            || self.limits.max_depth == 0
            || self.limits.max_headers == 0
            || self.limits.new_cases_per_sender_per_hour == 0
            || self.limits.new_cases_per_text_per_hour == 0
        {
            push("limits", "limits must be at least 1".into());
        }
        for (key, v) in [
            (
                "loops.max_messages_per_side",
                self.loops.max_messages_per_side,
            ),
            ("loops.max_repeats", self.loops.max_repeats),
            (
                "loops.max_outbound_per_case_per_hour",
                self.loops.max_outbound_per_case_per_hour,
            ),
            (
                "loops.max_outbound_per_address_per_hour",
                self.loops.max_outbound_per_address_per_hour,
            ),
        ] {
            if v < 2 {
                push(
                    key,
                    format!(
                        "must be at least 2 (got {v}): a lower value stops ordinary conversations"
                    ),
                );
            }
        }
        if self.loops.window.0 < Duration::from_secs(60) {
            push("loops.window", "must be at least 1m".into());
        }
        self.validate_retention(&mut push);
        self.validate_spam(&mut push);
        self.validate_language(&mut push);
        p
    }

    /// One `[mailbox]` or `[[mailbox]]`, its problems keyed by its path (`mailbox[1].tls`).
    fn validate_mailbox(&self, m: &MailboxConfig, push: &mut impl FnMut(&str, String)) {
        let k = m.path();
        let key = |name: &str| format!("{k}.{name}");
        validate_server(k, &m.host, m.port, m.tls, push);
        match m.secret_source() {
            Ok(None) => push(
                k,
                "needs one of password_file, password_env, password_credential or oauth2_token_command".into(),
            ),
            Err(e) => push(k, e),
            Ok(Some(_)) => {}
        }
        if m.user.trim().is_empty() {
            push(&key("user"), "must not be empty".into());
        }
        for (name, v) in [
            ("inbox", &m.inbox),
            ("processed_folder", &m.processed_folder),
            ("quarantine_folder", &m.quarantine_folder),
        ] {
            if v.trim().is_empty() || v.contains(['"', '\r', '\n', '\\']) {
                push(
                    &key(name),
                    "must be a folder name without quotes, backslashes or line breaks".into(),
                );
            }
        }
        if m.processed_folder == m.inbox || m.quarantine_folder == m.inbox {
            push(
                &key("processed_folder"),
                "processed and quarantine folders must differ from the inbox".into(),
            );
        }
        if m.poll_interval.0 < Duration::from_secs(1) {
            push(&key("poll_interval"), "must be at least 1s".into());
        }
        if m.busy_poll_interval.0 < Duration::from_millis(20)
            || m.busy_poll_interval.0 > m.poll_interval.0
        {
            push(
                &key("busy_poll_interval"),
                format!("must be at least 20ms and at most {k}.poll_interval"),
            );
        }
        if m.busy_period.0 > Duration::from_secs(3600) {
            push(
                &key("busy_period"),
                "must be at most 1h (0s turns it off)".into(),
            );
        }
        if !(1..=5000).contains(&m.batch_size) {
            push(&key("batch_size"), "must be between 1 and 5000".into());
        }
        if m.max_message_size.0 < 1024 {
            push(&key("max_message_size"), "must be at least 1KB".into());
        }
    }

    fn validate_language(&self, push: &mut impl FnMut(&str, String)) {
        for (key, v) in [
            ("language.default", &self.language.default),
            ("language.team", &self.language.team),
        ] {
            if crate::locale::normalize(v).as_deref() != Some(v.as_str()) {
                push(
                    key,
                    format!("\"{v}\" is not a language code as the templates folder names one (de, fr, pt-br)"),
                );
            }
        }
        let ack = &self.acknowledgment;
        let mut names = BTreeSet::new();
        for (i, f) in ack.found.iter().enumerate() {
            let key = format!("acknowledgment.found[{i}]");
            if !valid_name(&f.name) {
                push(
                    &format!("{key}.name"),
                    format!(
                        "\"{}\" must be a plain name (letters, digits, _ or -)",
                        f.name
                    ),
                );
            }
            if !names.insert(f.name.as_str()) {
                push(
                    &format!("{key}.name"),
                    format!("\"{}\" is named twice", f.name),
                );
            }
            if let Err(e) = regex::RegexBuilder::new(&f.pattern)
                .size_limit(1 << 20)
                .build()
            {
                push(&format!("{key}.pattern"), format!("does not compile: {e}"));
            }
        }
        for (i, a) in ack.ask.iter().enumerate() {
            let key = format!("acknowledgment.ask[{i}]");
            if !self.categories.iter().any(|c| c.name == a.category) {
                push(
                    &format!("{key}.category"),
                    format!("\"{}\" is not one of [[categories]]", a.category),
                );
            }
            if !valid_name(&a.question) {
                push(
                    &format!("{key}.question"),
                    format!(
                        "\"{}\" must be a plain name, the key of [questions] in phrases.toml",
                        a.question
                    ),
                );
            }
            if let Some(u) = &a.unless_found {
                if !names.contains(u.as_str()) {
                    push(
                        &format!("{key}.unless_found"),
                        format!("\"{u}\" is not the name of any [[acknowledgment.found]]"),
                    );
                }
            }
        }
    }

    fn validate_spam(&self, push: &mut impl FnMut(&str, String)) {
        let s = &self.spam;
        for (i, r) in s.header_rules.iter().flatten().enumerate() {
            let name = r.header.trim();
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                push(
                    &format!("spam.header_rules[{i}].header"),
                    format!("`{}` is not a header field name", r.header),
                );
            }
            if r.values.is_empty() || r.values.iter().any(|v| v.trim().is_empty()) {
                push(
                    &format!("spam.header_rules[{i}].values"),
                    "needs at least one value, none of them empty".into(),
                );
            }
        }
        for (i, f) in s.auth_failures.iter().flatten().enumerate() {
            let ok = f.trim().split_once('=').is_some_and(|(m, r)| {
                let word = |w: &str| {
                    !w.is_empty()
                        && w.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                };
                word(m) && word(r)
            });
            if !ok {
                push(
                    &format!("spam.auth_failures[{i}]"),
                    format!("`{f}` is not a `method=result` pair such as \"dmarc=fail\""),
                );
            }
        }
        if s.authserv_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            push(
                "spam.authserv_id",
                "must not be empty: the id your receiving server writes in Authentication-Results"
                    .into(),
            );
        }
        if s.auth_failures.as_ref().is_some_and(|f| !f.is_empty())
            && self.spam_authserv_id().is_none()
        {
            push(
                "spam.auth_failures",
                "needs spam.authserv_id (or agents.authserv_id): without it our server's Authentication-Results cannot be told from one the sender wrote".into(),
            );
        }
    }

    fn validate_retention(&self, push: &mut impl FnMut(&str, String)) {
        const MAX_DAYS: u32 = 36_500;
        let r = &self.retention;
        let reopen_days = self.conversation.reopen_window.0.as_secs().div_ceil(86_400);
        let case_period = |days: u32| -> Option<String> {
            if days > MAX_DAYS {
                Some(format!(
                    "{days} days is more than {MAX_DAYS}; use 0 to keep forever"
                ))
            } else if days != 0 && u64::from(days) < reopen_days {
                Some(format!("{days} days is shorter than conversation.reopen_window ({reopen_days} days): a case could be purged while its customer may still reopen it"))
            } else {
                None
            }
        };
        if let Some(m) = case_period(r.closed_cases_days) {
            push("retention.closed_cases_days", m);
        }
        let categories = r
            .categories
            .iter()
            .map(|(n, d)| ("categories", n, *d, self.category(n).is_some()));
        let priorities = r
            .priorities
            .iter()
            .map(|(n, d)| ("priorities", n, *d, self.priority(n).is_some()));
        for (section, name, days, known) in categories.chain(priorities) {
            let key = format!("retention.{section}.{name}");
            if !known {
                push(&key, format!("`{name}` is not one of the {section}"));
            }
            if let Some(m) = case_period(days) {
                push(&key, m);
            }
        }
        for (key, days) in [
            ("retention.quarantine_days", r.quarantine_days),
            ("retention.raw_days", r.raw_days),
            ("retention.unattached_days", r.unattached_days),
        ] {
            if days > MAX_DAYS {
                push(
                    key,
                    format!("{days} days is more than {MAX_DAYS}; use 0 to keep forever"),
                );
            }
        }
    }
}

/// The server of a mailbox or SMTP account (at TOML path `k`): a host, a port, and no clear
/// text password beyond loopback.
fn validate_server(
    k: &str,
    host: &str,
    port: u16,
    tls: TlsMode,
    push: &mut impl FnMut(&str, String),
) {
    if host.trim().is_empty() {
        push(&format!("{k}.host"), "must not be empty".into());
    }
    if port == 0 {
        push(&format!("{k}.port"), "must be 1-65535".into());
    }
    if tls == TlsMode::Plain && !is_loopback_host(host) {
        push(
            &format!("{k}.tls"),
            format!("`plain` sends the password in clear text and is only allowed to a loopback host, not `{host}`; use `tls` or `starttls`"),
        );
    }
}

/// The `name`s of the entries of one array of tables (each with its TOML path): 1-32
/// characters a-z, 0-9, - or _, never one name twice, and given when `missing` says why
/// one is needed.
pub(super) fn validate_names<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    missing: Option<&str>,
    push: &mut impl FnMut(&str, String),
) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (path, name) in entries {
        let Some(n) = name else {
            if let Some(why) = missing {
                push(&format!("{path}.name"), why.to_string());
            }
            continue;
        };
        if !valid_name(n) {
            push(
                &format!("{path}.name"),
                format!("`{n}` must be 1-32 characters a-z, 0-9, - or _"),
            );
        }
        match seen.iter().find(|(_, o)| *o == n) {
            Some((other, _)) => push(
                &format!("{path}.name"),
                format!("`{n}` is also the name of {other}"),
            ),
            None => seen.push((path, n)),
        }
    }
}

/// One `[smtp]` or `[[smtp]]` account, its problems keyed by its path (`smtp[1].tls`).
/// The store's keys: those of its engine, and none of the other's.
fn validate_store(st: &StoreConfig, push: &mut impl FnMut(&str, String)) {
    let pg_keys = [
        ("url", st.url.is_some()),
        ("password_file", st.password_file.is_some()),
        ("password_env", st.password_env.is_some()),
        ("password_credential", st.password_credential.is_some()),
        ("ca_file", st.ca_file.is_some()),
    ];
    match st.engine {
        StoreEngine::Sqlite => {
            if st.path.as_os_str().is_empty() {
                push(
                    "store.path",
                    "is required: the SQLite database file (e.g. /var/lib/mailcase/mailcase.db), or set engine = \"postgres\" and url".into(),
                );
            }
            for (k, set) in pg_keys {
                if set {
                    push(
                        &format!("store.{k}"),
                        "is for engine = \"postgres\"; the store is SQLite (store.path)".into(),
                    );
                }
            }
        }
        StoreEngine::Postgres => {
            if !st.path.as_os_str().is_empty() {
                push(
                    "store.path",
                    "is for engine = \"sqlite\"; with engine = \"postgres\" the database is store.url (move a SQLite installation with `mailcase migrate`)".into(),
                );
            }
            if st.max_size.is_some() {
                push(
                    "store.max_size",
                    "is for engine = \"sqlite\"; limit a PostgreSQL database's size in PostgreSQL"
                        .into(),
                );
            }
            match &st.url {
                None => push(
                    "store.url",
                    "is required with engine = \"postgres\": postgres://USER@HOST:PORT/DATABASE"
                        .into(),
                ),
                Some(url) => {
                    if let Err(e) = crate::store::pg::Target::check_url(url) {
                        push("store.url", e);
                    }
                }
            }
            if let Err(e) = st.secret_source() {
                push("store", e);
            }
        }
    }
}

fn validate_smtp(a: &SmtpConfig, push: &mut impl FnMut(&str, String)) {
    let k = a.path.as_str();
    let key = |name: &str| format!("{k}.{name}");
    validate_server(k, &a.host, a.port, a.tls, push);
    match a.secret_source() {
        Ok(Some(_)) if a.user.is_none() => push(
            &key("user"),
            "a password source is set but no user to log in as".into(),
        ),
        Ok(None) if a.user.is_some() => push(
            k,
            "user is set but none of password_file, password_env, password_credential or oauth2_token_command".into(),
        ),
        Err(m) => push(k, m),
        _ => {}
    }
    if !(1..=32).contains(&a.connections) {
        push(&key("connections"), "must be between 1 and 32".into());
    }
}

pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::super::tests::MINIMAL;
    use super::*;
    use std::path::Path;

    #[test]
    fn agents_are_checked_with_their_keys() {
        let text = MINIMAL.to_string()
            + r#"
[agents]
notify = ["support@support.test"]
verify = "authentication-results"

[[agents.members]]
address = "ann@support.test"
name = "Ann"

[[agents.members]]
address = "ANN@support.test"
name = "Ann again"

[[agents.members]]
address = "not an address"
name = ""
"#;
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for key in [
            "agents.notify[0]",
            "agents.authserv_id",
            "agents.members[1].address",
            "agents.members[2].address",
            "agents.members[2].name",
        ] {
            assert!(e.contains(key), "{key} missing in: {e}");
        }
    }

    #[test]
    fn the_token_key_source_is_required_and_a_long_local_part_refused() {
        let text = MINIMAL.replace("token_secret_env = \"TOKEN_KEY\"\n", "");
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("token_secret_file"), "{e}");
        let text = MINIMAL.replace(
            "address = \"support@support.test\"",
            "address = \"customer-support-and-complaints-department@support.test\"",
        );
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("support.address") && e.contains("reply token"),
            "{e}"
        );
    }

    #[test]
    fn spam_settings_are_checked_with_their_keys() {
        let text = MINIMAL.to_string()
            + r#"
[spam]
authserv_id = " "
auth_failures = ["dmarc=fail", "dmarc fail"]

[[spam.header_rules]]
header = "X-Spam Flag"
values = []
"#;
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for key in [
            "spam.authserv_id",
            "spam.auth_failures[1]",
            "spam.auth_failures:",
            "spam.header_rules[0].header",
            "spam.header_rules[0].values",
        ] {
            assert!(e.contains(key), "{key} missing in: {e}");
        }
    }

    #[test]
    fn the_metrics_listener_is_loopback_only_and_a_bad_address_names_its_key() {
        let with = |listen: &str| {
            Config::from_toml(
                &format!("{MINIMAL}\n[metrics]\nlisten = \"{listen}\"\n"),
                Path::new("."),
            )
        };
        assert_eq!(
            with("127.0.0.1:9464").unwrap().metrics.listen,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert!(with("[::1]:9464").is_ok());
        let e = with("0.0.0.0:9464").unwrap_err().to_string();
        assert!(
            e.contains("metrics.listen: `0.0.0.0:9464` is not a loopback address"),
            "{e}"
        );
        let e = with("localhost").unwrap_err().to_string();
        // serde names the line of the key (the section is two lines up in the snippet).
        assert!(
            e.contains("listen = \"localhost\"") && e.contains("invalid socket address syntax"),
            "{e}"
        );
        assert!(Config::from_toml(MINIMAL, Path::new("."))
            .unwrap()
            .metrics
            .listen
            .is_none());
    }

    #[test]
    fn plain_text_to_a_remote_host_is_refused_with_its_key() {
        let text = MINIMAL.replacen("host = \"127.0.0.1\"", "host = \"imap.example.com\"", 1);
        let e = Config::from_toml(&text, Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("mailbox.tls"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let text = MINIMAL
            .replace(
                "default_priority = \"normal\"",
                "default_priority = \"meh\"",
            )
            .replace(
                "name = \"Support\"",
                "name = \"Support\"\nreference_prefix = \"c-1\"",
            );
        let e = Config::from_toml(&text, Path::new(".")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("classify.default_priority"), "{s}");
        assert!(s.contains("support.reference_prefix"), "{s}");
    }

    #[test]
    fn a_keyword_of_only_stars_is_refused_with_its_key() {
        let text = format!(
            "{MINIMAL}\n[[classify.rules]]\nname = \"x\"\nkeywords = [\"ok\", \" ** \"]\npriority = \"normal\"\n"
        );
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("classify.rules[0].keywords"), "{e}");
    }

    #[test]
    fn bad_duration_names_its_key_and_unit() {
        let text = MINIMAL.replace("first_response = \"2h\"", "first_response = \"2 hours\"");
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("first_response") || e.contains("unknown unit"),
            "{e}"
        );
    }

    #[test]
    fn busy_polling_is_bounded() {
        let c = Config::from_toml(MINIMAL, Path::new(".")).unwrap();
        assert_eq!(
            c.mailboxes[0].busy_poll_interval.0,
            Duration::from_millis(100)
        );
        assert_eq!(c.mailboxes[0].busy_period.0, Duration::from_secs(10));
        let text = MINIMAL.replace(
            "password_env = \"IMAP_PW\"",
            "password_env = \"IMAP_PW\"\nbusy_poll_interval = \"5ms\"\nbusy_period = \"2h\"",
        );
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mailbox.busy_poll_interval"), "{e}");
        assert!(e.contains("mailbox.busy_period"), "{e}");
    }

    #[test]
    fn digest_settings_are_checked_with_their_keys() {
        let text = MINIMAL.to_string()
            + r#"
[digest]
schedule = "weekly"
day = "someday"
day_of_month = 31
at = "8 o'clock"
period = "0s"
recipients = ["support@support.test", "nobody"]
"#;
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for key in [
            "digest.day",
            "digest.day_of_month",
            "digest.at",
            "digest.period",
            "digest.recipients[0]",
            "digest.recipients[1]",
        ] {
            assert!(e.contains(key), "{key} missing in: {e}");
        }
        let e = Config::from_toml(
            &(MINIMAL.to_string() + "\n[digest]\nschedule = \"fortnightly\"\n"),
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("fortnightly") && e.contains("schedule"), "{e}");
    }

    #[test]
    fn a_digest_brand_must_name_a_brand() {
        let digest = "\n[digest]\nrecipients = [\"boss@example.com\"]\nbrand = \"acme\"\n";
        let e = Config::from_toml(&(MINIMAL.to_string() + digest), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("digest.brand")
                && e.contains("`acme` is not one of the brands; known: default"),
            "{e}"
        );
        let brands = "\n[[brand]]\nname = \"acme\"\n\n[[queue]]\nname = \"billing\"\nbrand = \"acme\"\naddresses = [\"support@support.test\"]\n";
        let c =
            Config::from_toml(&(MINIMAL.to_string() + digest + brands), Path::new(".")).unwrap();
        assert_eq!(c.digest.brand.as_deref(), Some("acme"));
        assert_eq!(
            Config::from_toml(
                &(MINIMAL.to_string() + "\n[digest]\nrecipients = [\"boss@example.com\"]\n"),
                Path::new(".")
            )
            .unwrap()
            .digest
            .brand,
            None
        );
    }

    #[test]
    fn two_secret_sources_are_an_error() {
        let text = MINIMAL.replace(
            "password_env = \"IMAP_PW\"",
            "password_env = \"IMAP_PW\"\npassword_file = \"/x\"",
        );
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only one"), "{e}");
    }

    #[test]
    fn retention_problems_name_their_keys() {
        let text = MINIMAL.to_string()
            + "[retention]\nclosed_cases_days = 3\nraw_days = 99999\n[retention.categories]\nbiling = 3650\n[retention.priorities]\nnormal = 50000\n";
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for (key, what) in [
            ("retention.closed_cases_days", "reopen_window"),
            ("retention.raw_days", "more than 36500"),
            ("retention.categories.biling", "not one of the categories"),
            ("retention.priorities.normal", "more than 36500"),
        ] {
            assert!(
                e.lines().any(|l| l.contains(key) && l.contains(what)),
                "{key}: {what} missing in: {e}"
            );
        }
        let text = MINIMAL.to_string() + "[retention]\nclosed_case_days = 3\n";
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("closed_case_days"), "{e}");
    }
}
