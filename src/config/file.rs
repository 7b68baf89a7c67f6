//! The file as written, and how it becomes a [`Config`]: serde reads the TOML into
//! [`ConfigFile`], whose calendar, send window and digest still hold their times of day,
//! weekdays, time zone and dates as text; [`ConfigFile::parse`] turns those into chrono types
//! once, keying each value that does not parse by its TOML path, so that the rest of the
//! daemon only ever sees typed values.

use std::path::PathBuf;

use chrono::Weekday;
use serde::Deserialize;

use super::mail::{default_ack, default_outbox};
use super::values::parse_weekday;
use super::*;

/// The whole configuration file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    /// `[mailbox]` or `[[mailbox]]`.
    #[serde(deserialize_with = "located")]
    mailbox: Vec<MailboxConfig>,
    #[serde(default)]
    brand: Vec<written::BrandConfig>,
    #[serde(default)]
    queue: Vec<QueueConfig>,
    /// `[smtp]` or `[[smtp]]`.
    #[serde(deserialize_with = "located")]
    smtp: Vec<SmtpConfig>,
    support: SupportConfig,
    store: StoreConfig,
    templates: TemplatesConfig,
    #[serde(default = "default_ack")]
    acknowledgment: AcknowledgmentConfig,
    #[serde(default = "default_outbox")]
    outbox: OutboxConfig,
    #[serde(default = "written::default_calendar")]
    calendar: written::CalendarConfig,
    priorities: Vec<PriorityConfig>,
    categories: Vec<CategoryConfig>,
    classify: ClassifyConfig,
    #[serde(default)]
    agents: AgentsConfig,
    #[serde(default)]
    conversation: ConversationConfig,
    #[serde(default)]
    language: LanguageConfig,
    #[serde(default)]
    sla: SlaConfig,
    #[serde(default)]
    send_window: written::SendWindowConfig,
    #[serde(default)]
    escalation: Vec<EscalationConfig>,
    #[serde(default)]
    follow_up: FollowUpConfig,
    #[serde(default)]
    feedback: FeedbackConfig,
    #[serde(default)]
    limits: LimitsConfig,
    #[serde(default)]
    loops: LoopsConfig,
    #[serde(default)]
    log: LogConfig,
    #[serde(default)]
    metrics: MetricsConfig,
    #[serde(default)]
    retention: RetentionConfig,
    #[serde(default)]
    digest: written::DigestConfig,
    #[serde(default)]
    spam: SpamConfig,
    #[serde(default)]
    service: ServiceConfig,
}

/// The problems of the values [`ConfigFile::parse`] read, by section: `Config::validate`
/// reports them where the section's checks belong, among the others.
#[derive(Debug, Default)]
pub(super) struct SectionProblems {
    pub calendar: Vec<Problem>,
    pub send_window: Vec<Problem>,
    pub digest: Vec<Problem>,
    pub brands: Vec<Problem>,
}

/// `[section]` (one table) or `[[section]]` (an array of tables), each with its TOML path
/// (`section` or `section[i]`) for the checks' messages.
fn one_or_many<T: serde::de::DeserializeOwned>(
    v: toml::Value,
    section: &str,
) -> Result<Vec<(T, String)>, String> {
    match v {
        v @ toml::Value::Table(_) => T::deserialize(v)
            .map(|t| vec![(t, section.to_string())])
            .map_err(|e| e.to_string()),
        toml::Value::Array(a) if !a.is_empty() => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                T::deserialize(v)
                    .map(|t| (t, format!("{section}[{i}]")))
                    .map_err(|e| format!("{section}[{i}]: {e}"))
            })
            .collect(),
        _ => Err(format!(
            "expected a [{section}] table, or one or more [[{section}]] tables"
        )),
    }
}

/// A table written once or as an array of tables, that knows its section and its TOML path
/// (`mailbox[1]`).
trait Located {
    const SECTION: &'static str;
    fn set_path(&mut self, path: String);
}

impl Located for MailboxConfig {
    const SECTION: &'static str = "mailbox";
    fn set_path(&mut self, path: String) {
        self.path = path;
    }
}

impl Located for SmtpConfig {
    const SECTION: &'static str = "smtp";
    fn set_path(&mut self, path: String) {
        self.path = path;
    }
}

/// `[mailbox]` or `[[mailbox]]`, `[smtp]` or `[[smtp]]`: one table or several, each told
/// its path.
fn located<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Located,
{
    use serde::de::Error;
    let v = toml::Value::deserialize(d)?;
    Ok(one_or_many::<T>(v, T::SECTION)
        .map_err(D::Error::custom)?
        .into_iter()
        .map(|(mut t, path)| {
            t.set_path(path);
            t
        })
        .collect())
}

impl ConfigFile {
    /// The config with its values parsed, and the problems found doing so. A value that does
    /// not parse holds a placeholder (midnight, Monday, UTC): its problem refuses the config,
    /// so the placeholder never reaches the daemon.
    pub(super) fn parse(self, base_dir: PathBuf) -> (Config, SectionProblems) {
        let (calendar, calendar_problems) = self.calendar.parse();
        let (send_window, send_window_problems) = self.send_window.parse();
        let (digest, digest_problems) = self.digest.parse();
        let mut brand_problems = Vec::new();
        let brands = self
            .brand
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let (b, p) = b.parse(i);
                brand_problems.extend(p);
                b
            })
            .collect();
        let queue = self
            .queue
            .into_iter()
            .map(|mut q| {
                for a in &mut q.addresses {
                    *a = a.trim().to_lowercase();
                }
                q
            })
            .collect();
        let config = Config {
            mailboxes: self.mailbox,
            brands,
            queues: queue,
            smtp_accounts: self.smtp,
            support: self.support,
            store: self.store,
            templates: self.templates,
            acknowledgment: self.acknowledgment,
            outbox: self.outbox,
            calendar,
            priorities: self.priorities,
            categories: self.categories,
            classify: self.classify,
            agents: self.agents,
            conversation: self.conversation,
            language: self.language,
            sla: self.sla,
            send_window,
            escalation: self.escalation,
            follow_up: self.follow_up,
            feedback: self.feedback,
            limits: self.limits,
            loops: self.loops,
            log: self.log,
            metrics: self.metrics,
            retention: self.retention,
            digest,
            spam: self.spam,
            service: self.service,
            base_dir,
        };
        let problems = SectionProblems {
            calendar: calendar_problems,
            send_window: send_window_problems,
            digest: digest_problems,
            brands: brand_problems,
        };
        (config, problems)
    }
}

/// Collects the problems of one section.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: &str, message: String) {
        self.0.push(Problem {
            key: key.to_string(),
            message,
        });
    }

    /// The weekdays of a list that parse; each other entry is a problem keyed `{key}[i]`.
    fn weekdays(&mut self, key: &str, days: &[String]) -> Vec<Weekday> {
        let mut out = Vec::with_capacity(days.len());
        for (i, d) in days.iter().enumerate() {
            match parse_weekday(d) {
                Some(w) => out.push(w),
                None => self.push(
                    &format!("{key}[{i}]"),
                    format!("`{d}` is not a weekday (mon, tue, ...)"),
                ),
            }
        }
        out
    }
}

/// The sections whose values are parsed, as written. They carry the names of the typed
/// sections because serde's messages name the struct (`expected struct CalendarConfig` for
/// `calendar = 5`).
mod written {
    use chrono::{NaiveTime, Weekday};
    use serde::Deserialize;

    use super::Problems;
    use crate::config::values::{parse_date, parse_hhmm, parse_timezone, parse_weekday};
    use crate::config::{self as typed, yes, DigestSchedule, HumanDuration, Problem};

    /// `[calendar]` as written.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct CalendarConfig {
        #[serde(default = "default_tz")]
        timezone: String,
        #[serde(default = "default_days")]
        working_days: Vec<String>,
        #[serde(default = "default_start")]
        start: String,
        #[serde(default = "default_end")]
        end: String,
        #[serde(default)]
        holidays: Vec<String>,
    }

    /// `[[brand]]` as written.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct BrandConfig {
        name: String,
        display_name: Option<String>,
        reply_address: Option<String>,
        reference_prefix: Option<String>,
        templates: Option<std::path::PathBuf>,
        signature: Option<String>,
        agents: Option<Vec<String>>,
        smtp: Option<String>,
        calendar: Option<CalendarConfig>,
        #[serde(default)]
        service_levels: Vec<typed::ServiceLevelConfig>,
        escalation: Option<Vec<typed::EscalationConfig>>,
    }

    impl BrandConfig {
        /// The brand with its calendar parsed; problems keyed `brand[i].…`.
        pub(super) fn parse(self, i: usize) -> (typed::BrandConfig, Vec<Problem>) {
            let (calendar, problems) = match self.calendar {
                Some(c) => {
                    let (c, p) = c.parse_at(&format!("brand[{i}].calendar"));
                    (Some(c), p)
                }
                None => (None, vec![]),
            };
            let brand = typed::BrandConfig {
                name: self.name,
                display_name: self.display_name,
                reply_address: self.reply_address.map(|a| a.trim().to_lowercase()),
                reference_prefix: self.reference_prefix,
                templates: self.templates,
                signature: self.signature.map(|s| s.trim_end().to_string()),
                agents: self.agents,
                smtp: self.smtp,
                calendar,
                service_levels: self.service_levels,
                escalation: self.escalation,
            };
            (brand, problems)
        }
    }

    impl CalendarConfig {
        pub(super) fn parse(self) -> (typed::CalendarConfig, Vec<Problem>) {
            self.parse_at("calendar")
        }

        /// As [`CalendarConfig::parse`], its problems keyed under `key` (`brand[0].calendar`).
        pub(super) fn parse_at(self, key: &str) -> (typed::CalendarConfig, Vec<Problem>) {
            let mut p = Problems::default();
            let timezone = parse_timezone(&self.timezone).unwrap_or_else(|| {
                p.push(
                    &format!("{key}.timezone"),
                    format!(
                        "`{}` is not an IANA time zone like Europe/Berlin",
                        self.timezone
                    ),
                );
                chrono_tz::UTC
            });
            if self.working_days.is_empty() {
                p.push(
                    &format!("{key}.working_days"),
                    "needs at least one working day".into(),
                );
            }
            let working_days = p.weekdays(&format!("{key}.working_days"), &self.working_days);
            let start = parse_hhmm(&self.start);
            let end = parse_hhmm(&self.end);
            if start.is_none() {
                p.push(
                    &format!("{key}.start"),
                    format!("`{}` is not a time HH:MM", self.start),
                );
            }
            if end.is_none() {
                p.push(
                    &format!("{key}.end"),
                    format!("`{}` is not a time HH:MM", self.end),
                );
            }
            if let (Some(s), Some(e)) = (start, end) {
                if e <= s {
                    p.push(&format!("{key}.end"), format!("must be after {key}.start"));
                }
            }
            let mut holidays = Vec::with_capacity(self.holidays.len());
            for (i, h) in self.holidays.iter().enumerate() {
                match parse_date(h) {
                    Some(d) => holidays.push(d),
                    None => p.push(
                        &format!("{key}.holidays[{i}]"),
                        format!("`{h}` is not a date YYYY-MM-DD"),
                    ),
                }
            }
            let calendar = typed::CalendarConfig {
                timezone,
                working_days,
                start: start.unwrap_or(NaiveTime::MIN),
                end: end.unwrap_or(NaiveTime::MIN),
                holidays,
            };
            (calendar, p.0)
        }
    }

    fn default_tz() -> String {
        "UTC".into()
    }
    fn default_days() -> Vec<String> {
        ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn default_start() -> String {
        "09:00".into()
    }
    fn default_end() -> String {
        "17:00".into()
    }
    pub(super) fn default_calendar() -> CalendarConfig {
        CalendarConfig {
            timezone: default_tz(),
            working_days: default_days(),
            start: default_start(),
            end: default_end(),
            holidays: vec![],
        }
    }

    /// `[send_window]` as written.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct SendWindowConfig {
        #[serde(default = "default_window_start")]
        start: String,
        #[serde(default = "default_window_end")]
        end: String,
        #[serde(default = "default_window_days")]
        days: Vec<String>,
    }

    impl Default for SendWindowConfig {
        fn default() -> Self {
            SendWindowConfig {
                start: default_window_start(),
                end: default_window_end(),
                days: default_window_days(),
            }
        }
    }

    impl SendWindowConfig {
        pub(super) fn parse(self) -> (typed::SendWindowConfig, Vec<Problem>) {
            let mut p = Problems::default();
            let start = parse_hhmm(&self.start);
            let end = parse_hhmm(&self.end);
            match (start, end) {
                (None, _) => p.push(
                    "send_window.start",
                    format!("`{}` is not a time HH:MM", self.start),
                ),
                (_, None) => p.push(
                    "send_window.end",
                    format!("`{}` is not a time HH:MM", self.end),
                ),
                (Some(a), Some(b)) if b <= a => p.push(
                    "send_window.end",
                    "must be after send_window.start (the window cannot span midnight)".into(),
                ),
                _ => {}
            }
            if self.days.is_empty() {
                p.push("send_window.days", "needs at least one day".into());
            }
            let days = p.weekdays("send_window.days", &self.days);
            let window = typed::SendWindowConfig {
                start: start.unwrap_or(NaiveTime::MIN),
                end: end.unwrap_or(NaiveTime::MIN),
                days,
            };
            (window, p.0)
        }
    }

    fn default_window_start() -> String {
        "08:00".into()
    }
    fn default_window_end() -> String {
        "20:00".into()
    }
    fn default_window_days() -> Vec<String> {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// `[digest]` as written.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct DigestConfig {
        #[serde(default = "yes")]
        enabled: bool,
        #[serde(default = "default_digest_schedule")]
        schedule: DigestSchedule,
        #[serde(default = "default_digest_day")]
        day: String,
        #[serde(default = "default_digest_day_of_month")]
        day_of_month: u32,
        #[serde(default = "default_digest_at")]
        at: String,
        period: Option<HumanDuration>,
        #[serde(default)]
        recipients: Vec<String>,
        brand: Option<String>,
    }

    impl Default for DigestConfig {
        fn default() -> Self {
            DigestConfig {
                enabled: false,
                schedule: default_digest_schedule(),
                day: default_digest_day(),
                day_of_month: default_digest_day_of_month(),
                at: default_digest_at(),
                period: None,
                recipients: Vec::new(),
                brand: None,
            }
        }
    }

    impl DigestConfig {
        /// The digest's own checks too (day of the month, period): they sit between the parsed
        /// values in the order problems are reported.
        pub(super) fn parse(self) -> (typed::DigestConfig, Vec<Problem>) {
            let mut p = Problems::default();
            // The weekday matters to weekly digests only; for the others it is not checked (and a
            // value that does not parse stays Monday, unused).
            let day = parse_weekday(&self.day);
            if self.schedule == DigestSchedule::Weekly && day.is_none() {
                p.push(
                    "digest.day",
                    format!("`{}` is not a weekday (monday, tue, ...)", self.day),
                );
            }
            if !(1..=28).contains(&self.day_of_month) {
                p.push(
                    "digest.day_of_month",
                    "must be 1-28 (every month has it)".into(),
                );
            }
            let at = parse_hhmm(&self.at);
            if at.is_none() {
                p.push("digest.at", format!("`{}` is not a time HH:MM", self.at));
            }
            if self.period.is_some_and(|p| {
                p.0.is_zero() || p.0 > std::time::Duration::from_secs(366 * 86_400)
            }) {
                p.push(
                    "digest.period",
                    "must be more than 0 and at most 366d".into(),
                );
            }
            let digest = typed::DigestConfig {
                enabled: self.enabled,
                schedule: self.schedule,
                day: day.unwrap_or(Weekday::Mon),
                day_of_month: self.day_of_month,
                at: at.unwrap_or(NaiveTime::MIN),
                period: self.period,
                recipients: self.recipients,
                brand: self.brand,
            };
            (digest, p.0)
        }
    }

    fn default_digest_schedule() -> DigestSchedule {
        DigestSchedule::Weekly
    }
    fn default_digest_day() -> String {
        "monday".into()
    }
    fn default_digest_day_of_month() -> u32 {
        1
    }
    fn default_digest_at() -> String {
        "08:00".into()
    }
}
