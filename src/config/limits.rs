//! Defences against hostile or runaway mail: input limits, the loop guard, spam verdicts.

use std::time::Duration;

use serde::Deserialize;

use super::values::HumanDuration;
use super::yes;

/// Limits on hostile input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// More MIME parts than this: quarantined.
    #[serde(default = "default_max_parts")]
    pub max_parts: usize,
    /// Deeper MIME nesting than this: quarantined.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// More header fields than this: quarantined.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// A sender who opened this many cases in the last hour opens no more: later mail joins
    /// their latest case, unacknowledged and without notifying the agents again (a flood or a
    /// runaway script must not open hundreds of cases).
    /// The sender is counted without its `+tag`, so `robot+t1@`, `robot+t2@`... are one sender.
    #[serde(default = "default_flood")]
    pub new_cases_per_sender_per_hour: u32,
    /// Cases one sender domain may open in an hour with the same text (digits, case and
    /// spacing aside): a responder rotating its local part (`a1@x`, `a2@x`...) opens this many,
    /// then its mail joins the latest of them, unacknowledged, and the agents get one summary.
    #[serde(default = "default_flood_text")]
    pub new_cases_per_text_per_hour: u32,
    /// Cases one sender domain may open in an hour whatever the text; 0 turns this cap off.
    /// Domains in `flood_exempt_domains` (large mail providers) are never capped as a whole.
    #[serde(default = "default_flood_domain")]
    pub new_cases_per_domain_per_hour: u32,
    /// Domains whose users are unrelated people: not capped by `new_cases_per_domain_per_hour`.
    #[serde(default = "default_flood_exempt")]
    pub flood_exempt_domains: Vec<String>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_parts: default_max_parts(),
            max_depth: default_max_depth(),
            max_headers: default_max_headers(),
            new_cases_per_sender_per_hour: default_flood(),
            new_cases_per_text_per_hour: default_flood_text(),
            new_cases_per_domain_per_hour: default_flood_domain(),
            flood_exempt_domains: default_flood_exempt(),
        }
    }
}

/// The loop guard: a case whose conversation runs faster than people write stops relaying
/// (messages are still stored), the agents are told once, and an admin resumes it with
/// `mailcase resume REF`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopsConfig {
    /// More messages than this from one side of a case (the customer's side, or the agents')
    /// within `window` stops the case.
    #[serde(default = "default_loop_side")]
    pub max_messages_per_side: u32,
    /// The same text from one side this many times within `window` stops the case.
    #[serde(default = "default_loop_repeats")]
    pub max_repeats: u32,
    /// The time span of the two counts above.
    #[serde(default = "default_loop_window")]
    pub window: HumanDuration,
    /// Mail of every kind we may queue on one case in an hour (acknowledgment, relayed
    /// answers, notices, agent cards); beyond it the case stops.
    #[serde(default = "default_loop_case")]
    pub max_outbound_per_case_per_hour: u32,
    /// Mail of every kind we may queue to one customer-side address in an hour, all cases
    /// together; beyond it mail to that address is not queued (audited as not sent).
    #[serde(default = "default_loop_address")]
    pub max_outbound_per_address_per_hour: u32,
}

impl Default for LoopsConfig {
    fn default() -> Self {
        LoopsConfig {
            max_messages_per_side: default_loop_side(),
            max_repeats: default_loop_repeats(),
            window: default_loop_window(),
            max_outbound_per_case_per_hour: default_loop_case(),
            max_outbound_per_address_per_hour: default_loop_address(),
        }
    }
}

/// What happens to a new complaint the receiving server judged spam or forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpamAction {
    /// The case is opened and the agents see it marked as suspected spam, but no
    /// acknowledgment goes out: nothing is lost when the filter is wrong.
    #[default]
    NoAck,
    /// Moved to the quarantine folder with the reason, like unparseable mail: no case.
    Quarantine,
}

/// The spam verdict headers honoured by default (see [`SpamConfig::rules`]); built once, not
/// for every message.
static DEFAULT_SPAM_RULES: std::sync::LazyLock<Vec<SpamHeaderRule>> =
    std::sync::LazyLock::new(|| {
        let rule = |header: &str, values: &[&str]| SpamHeaderRule {
            header: header.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        vec![
            rule("X-Spam-Flag", &["yes"]),
            rule("X-Spam-Status", &["yes"]),
            rule("X-Spam", &["yes"]),
            rule("X-Spamd-Result", &["default: true"]),
            rule(
                "X-Rspamd-Action",
                &["reject", "add header", "rewrite subject"],
            ),
        ]
    });

/// One spam verdict header of the receiving server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SpamHeaderRule {
    /// Header field name (case-insensitive), e.g. `X-Spam-Flag`.
    pub header: String,
    /// The field says spam when its value (case-insensitive, whitespace collapsed) is one of
    /// these, or starts with one followed by a character that is not a letter or digit
    /// (`yes` matches `Yes, score=7.3 required=5.0`, not `yesterday`).
    pub values: Vec<String>,
}

/// Honour the receiving server's verdicts on new complaints, so spam with a forged sender
/// does not make us mail an acknowledgment to an innocent third party (backscatter).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpamConfig {
    /// `no_ack` (default) or `quarantine` (see [`SpamAction`]).
    #[serde(default)]
    pub action: SpamAction,
    /// Honour the spam verdict headers in `header_rules`.
    #[serde(default = "yes")]
    pub spam_headers: bool,
    /// The spam verdict headers; when absent, SpamAssassin's and rspamd's (see
    /// [`SpamConfig::rules`]). Given here, they replace the defaults.
    pub header_rules: Option<Vec<SpamHeaderRule>>,
    /// The authserv-id of our receiving server's `Authentication-Results`; default:
    /// `agents.authserv_id`. Without either, SPF/DMARC results are not read at all: no other
    /// field can be told from one the sender wrote.
    pub authserv_id: Option<String>,
    /// `method=result` pairs in our `Authentication-Results` that mark a forged sender;
    /// default `["spf=fail", "dmarc=fail"]`; `[]` turns the check off.
    pub auth_failures: Option<Vec<String>>,
}

impl Default for SpamConfig {
    fn default() -> Self {
        SpamConfig {
            action: SpamAction::NoAck,
            spam_headers: true,
            header_rules: None,
            authserv_id: None,
            auth_failures: None,
        }
    }
}

fn default_loop_side() -> u32 {
    10
}
fn default_loop_repeats() -> u32 {
    3
}
fn default_loop_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_loop_case() -> u32 {
    40
}
fn default_loop_address() -> u32 {
    30
}
fn default_flood_text() -> u32 {
    5
}
fn default_flood_domain() -> u32 {
    100
}
fn default_flood_exempt() -> Vec<String> {
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "orange.fr",
        "free.fr",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
    ]
    .iter()
    .map(|d| d.to_string())
    .collect()
}

impl SpamConfig {
    /// The spam verdict headers honoured: SpamAssassin's `X-Spam-Flag: YES` and
    /// `X-Spam-Status: Yes, ...`; rspamd's milter_headers `X-Spam: Yes`, `X-Spamd-Result:
    /// default: True [...]` and `X-Rspamd-Action` of `reject`, `add header` or `rewrite
    /// subject` (greylist and soft reject are not a spam verdict); or the configured ones.
    pub fn rules(&self) -> &[SpamHeaderRule] {
        if !self.spam_headers {
            return &[];
        }
        if let Some(rules) = &self.header_rules {
            return rules;
        }
        &DEFAULT_SPAM_RULES
    }

    /// The `method=result` pairs that mark a forged sender (lower case), empty when off.
    pub fn failures(&self) -> Vec<String> {
        match &self.auth_failures {
            Some(list) => list.iter().map(|f| f.trim().to_ascii_lowercase()).collect(),
            None => vec!["spf=fail".into(), "dmarc=fail".into()],
        }
    }
}

fn default_max_parts() -> usize {
    500
}
fn default_max_depth() -> usize {
    20
}
fn default_max_headers() -> usize {
    2000
}
fn default_flood() -> u32 {
    10
}

#[cfg(test)]
mod tests {
    use super::super::tests::MINIMAL;
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn spam_auth_failures_are_read_only_with_an_authserv_id() {
        let c = Config::from_toml(MINIMAL, Path::new(".")).unwrap();
        assert_eq!(c.spam.action, SpamAction::NoAck);
        assert_eq!(c.spam_authserv_id(), None);
        assert_eq!(c.spam.rules().len(), 5);
        let text = MINIMAL.to_string() + "\n[agents]\nauthserv_id = \"mx.support.test\"\n";
        let c = Config::from_toml(&text, Path::new(".")).unwrap();
        assert_eq!(c.spam_authserv_id(), Some("mx.support.test"));
        assert_eq!(c.spam.failures(), vec!["spf=fail", "dmarc=fail"]);
        let text = MINIMAL.to_string()
            + "\n[spam]\naction = \"quarantine\"\nauthserv_id = \"mx2.support.test\"\nauth_failures = [\"DMARC=fail\"]\nspam_headers = false\n";
        let c = Config::from_toml(&text, Path::new(".")).unwrap();
        assert_eq!(c.spam.action, SpamAction::Quarantine);
        assert_eq!(c.spam_authserv_id(), Some("mx2.support.test"));
        assert_eq!(c.spam.failures(), vec!["dmarc=fail"]);
        assert!(c.spam.rules().is_empty());
    }
}
