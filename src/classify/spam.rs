//! Did the receiving server judge a message spam, or its sender forged? Spam with a forged
//! From would otherwise open a case whose acknowledgment goes to an innocent third party
//! (backscatter), so the pipeline asks this before it acknowledges a new case.
//!
//! Two kinds of verdict, both read from the top-level header fields, pure and without DNS:
//!
//! - Spam headers the filter adds ([`SpamConfig::rules`]: SpamAssassin's `X-Spam-Flag: YES`
//!   and `X-Spam-Status: Yes, ...`, rspamd's `X-Spam: Yes`, `X-Spamd-Result: default: True`
//!   and `X-Rspamd-Action: reject | add header | rewrite subject`, or the configured ones).
//!   Any matching field counts, not only the topmost: a sender who forges a spam flag only
//!   costs themselves the acknowledgment, while a forged `X-Spam-Flag: NO` further down must
//!   not clear the `YES` our filter put on top. The MTA should still strip incoming `X-Spam*`
//!   fields, so that a customer's own upstream filter cannot silence their acknowledgment.
//! - SPF/DMARC failure (`spf=fail`, `dmarc=fail` by default) in *our* `Authentication-Results`
//!   field: the topmost one from our authserv-id, chosen exactly as [`crate::authres`] chooses
//!   it for the agents' strict mode. Anybody can write such a field, so without a configured
//!   authserv-id these results are not read at all, and a field from any other authserv-id
//!   never counts. A missing or unreadable field of ours is no verdict: only a failure our
//!   server recorded is.
//!
//! What the pipeline then does (no acknowledgment, or quarantine) is `spam.action`; this
//! module only says whether, and why, with reasons an admin can grep in the audit log.

use crate::config::{Config, SpamConfig};
use crate::parse::InboundMessage;

/// The longest piece of a header value quoted back in a reason.
const SHOWN_MAX: usize = 80;

/// Why a message is suspected spam: one reason per verdict that matched, in header order
/// (spam headers first, then our Authentication-Results).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspicion {
    /// E.g. `X-Spam-Flag: YES`, `Authentication-Results from mx.example.com: dmarc=fail`.
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Suspicion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "suspected spam: {}", self.reasons.join("; "))
    }
}

/// The verdict on a parsed message under a validated config.
pub fn judge_message(cfg: &Config, msg: &InboundMessage) -> Option<Suspicion> {
    judge(&cfg.spam, cfg.spam_authserv_id(), &msg.headers)
}

/// The verdict on header fields in order (name, unfolded value), as
/// [`InboundMessage::headers`] holds them; `authserv_id` is our receiving server's, if known.
pub fn judge(
    spam: &SpamConfig,
    authserv_id: Option<&str>,
    headers: &[(String, String)],
) -> Option<Suspicion> {
    let mut reasons = Vec::new();
    let rules = spam.rules();
    for (name, value) in headers {
        let name = name.trim();
        let Some(rule) = rules
            .iter()
            .find(|r| r.header.trim().eq_ignore_ascii_case(name))
        else {
            continue;
        };
        let value = collapse(value);
        let lower = value.to_lowercase();
        if rule
            .values
            .iter()
            .any(|v| says(&lower, &collapse(v).to_lowercase()))
        {
            reasons.push(format!("{}: {}", rule.header.trim(), shown(&value)));
        }
    }

    let failures = spam.failures();
    if let Some(id) = authserv_id.filter(|_| !failures.is_empty()) {
        if let Some(Ok(results)) = crate::authres::our_results(headers, id) {
            for (method, result) in results {
                let pair = format!("{method}={result}");
                if failures.contains(&pair) && !reasons.iter().any(|r| r.ends_with(&pair)) {
                    reasons.push(format!(
                        "Authentication-Results from {}: {}",
                        shown(id.trim()),
                        shown(&pair)
                    ));
                }
            }
        }
    }
    (!reasons.is_empty()).then_some(Suspicion { reasons })
}

/// Surrounding whitespace trimmed, inner runs of whitespace (folding) as one space.
fn collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `value` is `want`, or starts with it and goes on with a character that is not a letter
/// or digit (`yes, score=7.3`, not `yesterday`). Both collapsed and in lower case.
fn says(value: &str, want: &str) -> bool {
    !want.is_empty()
        && value
            .strip_prefix(want)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric()))
}

/// A piece of a header value fit for a log line and the agents' card.
fn shown(value: &str) -> String {
    let clean: String = value.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() <= SHOWN_MAX {
        return clean;
    }
    let cut: String = clean.chars().take(SHOWN_MAX).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SpamAction, SpamHeaderRule};

    fn h(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
            .collect()
    }

    fn defaults() -> SpamConfig {
        SpamConfig::default()
    }

    const OURS: Option<&str> = Some("mx.support.test");

    fn reasons(headers: &[(&str, &str)], authserv_id: Option<&str>) -> Vec<String> {
        judge(&defaults(), authserv_id, &h(headers))
            .map(|s| s.reasons)
            .unwrap_or_default()
    }

    #[test]
    fn spamassassin_flag_yes_is_spam_and_no_is_not() {
        assert_eq!(
            reasons(&[("X-Spam-Flag", "YES")], None),
            vec!["X-Spam-Flag: YES"]
        );
        assert!(reasons(&[("X-Spam-Flag", "NO")], None).is_empty());
        assert!(reasons(&[("X-Spam-Flag", " no ")], OURS).is_empty());
    }

    #[test]
    fn spamassassin_status_yes_with_a_score_is_spam_and_no_is_not() {
        let r = reasons(
            &[(
                "X-Spam-Status",
                "Yes, score=12.4 required=5.0 tests=BAYES_99,\r\n\tURIBL_BLACK autolearn=spam",
            )],
            None,
        );
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("X-Spam-Status: Yes, score=12.4"), "{r:?}");
        assert!(reasons(
            &[("X-Spam-Status", "No, score=-0.1 required=5.0 tests=NONE")],
            None
        )
        .is_empty());
    }

    #[test]
    fn rspamd_spam_header_result_and_action_are_read() {
        assert_eq!(reasons(&[("X-Spam", "Yes")], None), vec!["X-Spam: Yes"]);
        let r = reasons(
            &[(
                "X-Spamd-Result",
                "default: True [16.20 / 15.00];\r\n\tBAYES_SPAM(5.10)[99.99%];",
            )],
            None,
        );
        assert!(
            r.len() == 1 && r[0].starts_with("X-Spamd-Result: default: True [16.20"),
            "{r:?}"
        );
        for action in ["reject", "add header", "Rewrite  Subject"] {
            let r = reasons(&[("X-Rspamd-Action", action)], None);
            assert_eq!(r.len(), 1, "{action}: {r:?}");
        }
        // What rspamd writes on ham, and the actions that are no spam verdict.
        for (name, value) in [
            ("X-Rspamd-Action", "no action"),
            ("X-Rspamd-Action", "greylist"),
            ("X-Rspamd-Action", "soft reject"),
            ("X-Spamd-Result", "default: False [0.84 / 15.00];"),
            ("X-Spam", "No"),
            ("X-Spamd-Bar", "+++++++"),
        ] {
            assert!(
                reasons(&[(name, value)], None).is_empty(),
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn a_value_must_say_the_word_not_merely_start_with_its_letters() {
        assert!(reasons(&[("X-Spam", "Yesterday")], None).is_empty());
        assert!(reasons(&[("X-Rspamd-Action", "rejected-by-nobody")], None).is_empty());
    }

    #[test]
    fn a_forged_no_below_our_yes_does_not_clear_it() {
        let r = reasons(&[("X-Spam-Flag", "YES"), ("X-Spam-Flag", "NO")], None);
        assert_eq!(r, vec!["X-Spam-Flag: YES"]);
    }

    #[test]
    fn dmarc_or_spf_failure_in_our_field_is_suspected() {
        let r = reasons(
            &[(
                "Authentication-Results",
                "mx.support.test; spf=pass smtp.mailfrom=bank.example; dkim=none; dmarc=fail (p=reject) header.from=bank.example",
            )],
            OURS,
        );
        assert_eq!(
            r,
            vec!["Authentication-Results from mx.support.test: dmarc=fail"]
        );
        let r = reasons(
            &[(
                "Authentication-Results",
                "MX.Support.Test; spf=fail smtp.mailfrom=victim.example",
            )],
            OURS,
        );
        assert_eq!(
            r,
            vec!["Authentication-Results from mx.support.test: spf=fail"]
        );
    }

    #[test]
    fn passing_or_soft_results_in_our_field_are_not_suspected() {
        for results in [
            "spf=pass smtp.mailfrom=customer.test; dmarc=pass header.from=customer.test",
            "spf=softfail smtp.mailfrom=customer.test; dmarc=none header.from=customer.test",
            "none",
        ] {
            let v = format!("mx.support.test; {results}");
            assert!(
                reasons(&[("Authentication-Results", &v)], OURS).is_empty(),
                "{results}"
            );
        }
    }

    #[test]
    fn a_field_from_a_foreign_authserv_id_is_ignored() {
        // The sender wrote a failing field with another id (harmless) and a passing one with
        // ours below our server's own: only our topmost field counts.
        let headers = [
            (
                "Authentication-Results",
                "mx.support.test; spf=pass smtp.mailfrom=customer.test; dmarc=pass header.from=customer.test",
            ),
            (
                "Authentication-Results",
                "mx.elsewhere.example; dmarc=fail header.from=customer.test",
            ),
            (
                "Authentication-Results",
                "mx.support.test; dmarc=fail header.from=customer.test",
            ),
        ];
        assert!(reasons(&headers, OURS).is_empty());
        assert!(reasons(&headers[1..2], OURS).is_empty());
    }

    #[test]
    fn without_an_authserv_id_authentication_results_are_not_read() {
        let headers = [(
            "Authentication-Results",
            "mx.support.test; dmarc=fail header.from=customer.test",
        )];
        assert!(reasons(&headers, None).is_empty());
        let off = SpamConfig {
            auth_failures: Some(vec![]),
            ..defaults()
        };
        assert!(judge(&off, OURS, &h(&headers)).is_none());
    }

    #[test]
    fn configured_rules_replace_the_defaults_and_headers_can_be_turned_off() {
        let custom = SpamConfig {
            header_rules: Some(vec![SpamHeaderRule {
                header: "X-MyFilter-Verdict".into(),
                values: vec!["junk".into()],
            }]),
            action: SpamAction::Quarantine,
            ..defaults()
        };
        let headers = h(&[("X-MyFilter-Verdict", "JUNK (7.1)"), ("X-Spam-Flag", "YES")]);
        let s = judge(&custom, None, &headers).expect("custom rule");
        assert_eq!(s.reasons, vec!["X-MyFilter-Verdict: JUNK (7.1)"]);
        assert_eq!(
            s.to_string(),
            "suspected spam: X-MyFilter-Verdict: JUNK (7.1)"
        );
        let off = SpamConfig {
            spam_headers: false,
            ..defaults()
        };
        assert!(judge(&off, None, &headers).is_none());
    }

    #[test]
    fn every_verdict_is_a_reason_and_long_values_are_cut() {
        let long = format!("Yes, score=99.0 tests={}", "X_RULE,".repeat(50));
        let s = judge(
            &defaults(),
            OURS,
            &h(&[
                ("X-Spam-Status", &long),
                ("X-Spam-Flag", "YES"),
                (
                    "Authentication-Results",
                    "mx.support.test; spf=fail; dmarc=fail",
                ),
            ]),
        )
        .expect("spam");
        assert_eq!(s.reasons.len(), 4, "{s}");
        assert!(s.reasons[0].ends_with("...") && s.reasons[0].len() < 120);
    }
}
