//! The management digest: at each slot of `[digest]` (daily, weekly or monthly, at a local
//! time of the business calendar), the report of the period as an HTML mail with a text
//! alternative and the charts as inline images, queued through the durable outbox.
//!
//! Exactly once per slot: the slot is a row of the `digests` table written in the same
//! transaction as the outbox row, and checked in that transaction. The scheduler task calls
//! [`send_due`] on each round (with the time of the engine's clock, so tests move it) and
//! sleeps no longer than [`until_next`]. A slot missed while the daemon was down is sent once,
//! late, within [`LATE_LIMIT`]; older ones are skipped. When digests are first enabled, the
//! slot just past is recorded as skipped rather than sent with a period from before.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::chart::{self, Chart, ChartError};
use super::output::View;
use super::{build, Period, Report};
use crate::business_time::BusinessCalendar;
use crate::case::kinds::{Audience, OutboundKind};
use crate::config::{Config, DigestConfig, DigestSchedule};
use crate::outbox::compose::{self, ComposeError, InlineImage, Outgoing, Recipient};
use crate::render::{RenderError, Renderer};
use crate::store::{ts, NewOutbound, Store, StoreError};

/// The template of the digest (`management_digest.{txt,html}.tera`).
pub const TEMPLATE: &str = "management_digest";

/// How late a missed slot is still sent.
pub const LATE_LIMIT: Duration = Duration::hours(24);

/// How far the slot search looks (a monthly schedule has a slot within 31 days).
const SEARCH_DAYS: i64 = 40;

/// Why a digest could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("digest: {0}")]
    Chart(ChartError),
    #[error("digest: {0}")]
    Render(RenderError),
    #[error("digest: {0}")]
    Compose(ComposeError),
}

impl DigestError {
    /// A busy or full database: the next round tries again.
    pub fn is_transient(&self) -> bool {
        matches!(self, DigestError::Store(e) if e.is_transient())
    }
}

fn schedule_name(s: DigestSchedule) -> &'static str {
    match s {
        DigestSchedule::Daily => "daily",
        DigestSchedule::Weekly => "weekly",
        DigestSchedule::Monthly => "monthly",
    }
}

/// The instant a local wall-clock time happens; a time the clock skips (DST) happens when
/// the clock jumps past it, a time shown twice at its first showing.
fn at_local(tz: Tz, d: NaiveDate, at: chrono::NaiveTime) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let ndt = d.and_time(at);
    tz.from_local_datetime(&ndt)
        .earliest()
        .or_else(|| {
            (1..=4).find_map(|h| {
                tz.from_local_datetime(&(ndt + Duration::minutes(30 * h)))
                    .earliest()
            })
        })
        .map(|t| t.with_timezone(&Utc))
}

fn is_slot_day(c: &DigestConfig, d: NaiveDate) -> bool {
    match c.schedule {
        DigestSchedule::Daily => true,
        DigestSchedule::Weekly => d.weekday() == c.day,
        DigestSchedule::Monthly => d.day() == c.day_of_month,
    }
}

/// The latest slot at or before `now`.
pub fn latest_slot(c: &DigestConfig, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let at = c.at;
    let today = now.with_timezone(&tz).date_naive();
    (0..=SEARCH_DAYS)
        .filter_map(|i| today.checked_sub_signed(Duration::days(i)))
        .filter(|d| is_slot_day(c, *d))
        .filter_map(|d| at_local(tz, d, at))
        .find(|t| *t <= now)
}

/// The first slot after `now`.
pub fn next_slot(c: &DigestConfig, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let at = c.at;
    let today = now.with_timezone(&tz).date_naive();
    (-1..=SEARCH_DAYS)
        .filter_map(|i| today.checked_add_signed(Duration::days(i)))
        .filter(|d| is_slot_day(c, *d))
        .filter_map(|d| at_local(tz, d, at))
        .find(|t| *t > now)
}

/// The period a slot reports: `digest.period` before it, or since the previous slot.
pub fn period_of(c: &DigestConfig, tz: Tz, slot: DateTime<Utc>) -> Period {
    let from = match c.period {
        Some(p) => slot - p.chrono(),
        None => latest_slot(c, tz, slot - Duration::seconds(1)).unwrap_or(slot - Duration::days(7)),
    };
    Period { from, to: slot }
}

/// The key of a slot in the `digests` table: `weekly:2026-11-30T07:00:00.000000Z`.
pub fn slot_key(c: &DigestConfig, slot: DateTime<Utc>) -> String {
    format!("{}:{}", schedule_name(c.schedule), ts(slot))
}

/// How long the scheduler may sleep before the next slot (None: digests are off).
pub fn until_next(
    cfg: &Config,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Option<std::time::Duration> {
    let c = &cfg.digest;
    if !c.enabled {
        return None;
    }
    next_slot(c, calendar.tz(), now).map(|t| (t - now).to_std().unwrap_or_default())
}

/// A chart as the template places it.
#[derive(Debug, Clone, Serialize)]
pub struct ChartRef {
    pub title: String,
    pub alt: String,
    /// `cid:...` in mail, a `data:` URI in a file.
    pub src: String,
    pub width: u32,
    pub height: u32,
}

/// A category colour of the volume chart, for the HTML legend.
#[derive(Debug, Clone, Serialize)]
pub struct LegendItem {
    pub label: String,
    pub colour: String,
}

/// What the digest templates see.
#[derive(Debug, Clone, Serialize)]
pub struct DigestContext {
    pub support_name: String,
    /// `Weekly complaints digest`.
    pub title: String,
    pub view: View,
    pub charts: Vec<ChartRef>,
    pub legend: Vec<LegendItem>,
}

impl DigestContext {
    /// The context for `report` with these charts.
    pub fn new(title: String, support_name: String, r: &Report, charts: Vec<ChartRef>) -> Self {
        let mut view = View::of(r);
        // The digest says its time zone once, at the top; the case lines leave it out, and
        // name priorities by their labels.
        let zone = format!(" ({})", view.timezone);
        for c in view.breached.iter_mut().chain(view.escalated.iter_mut()) {
            if let Some(what) = c.what.strip_suffix(&zone) {
                c.what = what.to_string();
            }
            if let Some(p) = r.by_priority.iter().find(|p| p.name == c.priority) {
                c.priority_label = p.label.clone();
            }
            if c.priority_label.is_empty() {
                c.priority_label = c.priority.clone();
            }
        }
        DigestContext {
            support_name,
            title,
            view,
            charts,
            legend: r
                .by_category
                .iter()
                .enumerate()
                .filter(|(_, c)| c.count > 0)
                .map(|(i, c)| {
                    let (r, g, b) = chart::PALETTE[i % chart::PALETTE.len()];
                    LegendItem {
                        label: c.label.clone(),
                        colour: format!("#{r:02x}{g:02x}{b:02x}"),
                    }
                })
                .collect(),
        }
    }
}

fn title(c: &DigestConfig) -> String {
    let t = match c.schedule {
        DigestSchedule::Daily => "Daily complaints digest",
        DigestSchedule::Weekly => "Weekly complaints digest",
        DigestSchedule::Monthly => "Monthly complaints digest",
    };
    match &c.brand {
        Some(b) => format!("{t} of brand {b}"),
        None => t.to_string(),
    }
}

/// The cases a digest covers: every case, or those of `[digest] brand`.
pub fn scope(cfg: &Config) -> crate::store::ReportScope {
    super::scope(cfg, None, cfg.digest.brand.as_deref())
}

/// Renders the digest page for a file: the charts embedded as `data:` URIs.
///
/// # Errors
/// A chart or template that fails.
pub fn page_html(
    renderer: &Renderer,
    title: String,
    support_name: String,
    r: &Report,
) -> Result<String, DigestError> {
    use base64::Engine as _;
    let charts = chart::all(r)?
        .into_iter()
        .map(|c| ChartRef {
            src: format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&c.png)
            ),
            title: c.title,
            alt: c.alt,
            width: chart::WIDTH,
            height: chart::HEIGHT,
        })
        .collect();
    let ctx = DigestContext::new(title, support_name, r, charts);
    Ok(renderer.render(TEMPLATE, &ctx)?.html)
}

/// The digest as a complete message (and its subject), charts as inline related images.
///
/// # Errors
/// A chart, template or address that fails.
pub fn compose_mail(
    cfg: &Config,
    renderer: &Renderer,
    r: &Report,
    to: &[String],
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, String), DigestError> {
    let domain = cfg.message_id_domain();
    let charts: Vec<Chart> = chart::all(r)?;
    let unique = message_id.split('@').next().unwrap_or("digest").to_string();
    let cid = |c: &Chart| format!("{}.{}@{}", c.name, unique, domain);
    let refs = charts
        .iter()
        .map(|c| ChartRef {
            title: c.title.clone(),
            alt: c.alt.clone(),
            src: format!("cid:{}", cid(c)),
            width: chart::WIDTH,
            height: chart::HEIGHT,
        })
        .collect();
    let title = title(&cfg.digest);
    let ctx = DigestContext::new(title.clone(), cfg.support.name.clone(), r, refs);
    let rendered = renderer.render(TEMPLATE, &ctx)?;
    let subject = format!("{}: {}, {}", cfg.support.name, title, ctx.view.period);
    let inline: Vec<InlineImage> = charts
        .iter()
        .map(|c| InlineImage {
            content_id: cid(c),
            name: format!("{}.png", c.name),
            content_type: "image/png".into(),
            data: c.png.clone(),
        })
        .collect();
    let body = compose::build_with_inline(
        &Outgoing {
            from_name: cfg.support.name.clone(),
            from_address: cfg.support.address.clone(),
            to: to
                .iter()
                .map(|a| Recipient {
                    name: None,
                    address: a.clone(),
                })
                .collect(),
            cc: vec![],
            reply_to: None,
            reply_to_name: None,
            subject: subject.clone(),
            message_id: message_id.to_string(),
            in_reply_to: None,
            references: vec![],
            auto_submitted: Some("auto-generated"),
            text: rendered.text,
            html: Some(rendered.html),
            attachments: vec![],
            date: now,
        },
        &inline,
    )?;
    Ok((body, subject))
}

/// What one call of [`send_due`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestOutcome {
    /// Digests are off, or no slot is due.
    Nothing,
    /// The slot was queued to the recipients.
    Queued { slot: String },
    /// The slot is recorded as skipped (digests just enabled, or nobody to send to).
    Skipped { slot: String, why: String },
}

/// Queues the digest of the slot that is due at `now`, if any and not yet queued, with the
/// daemon's config, business calendar and templates.
///
/// # Errors
/// [`DigestError`]; nothing is recorded then, and the next round tries again.
pub fn send_due(
    store: &mut Store,
    cfg: &Config,
    calendar: &BusinessCalendar,
    renderer: &Renderer,
    now: DateTime<Utc>,
) -> Result<DigestOutcome, DigestError> {
    let c = &cfg.digest;
    if !c.enabled {
        return Ok(DigestOutcome::Nothing);
    }
    let tz = calendar.tz();
    let Some(slot) = latest_slot(c, tz, now) else {
        return Ok(DigestOutcome::Nothing);
    };
    let key = slot_key(c, slot);
    if now - slot > LATE_LIMIT || store.read().digest_sent(&key)? {
        return Ok(DigestOutcome::Nothing);
    }
    let period = period_of(c, tz, slot);
    if !store.read().any_digest(schedule_name(c.schedule))? {
        // Just enabled: the slot already past is not the first digest; the next one is.
        store.write(|tx| tx.skip_digest(&key, period.from, period.to, now))?;
        return Ok(DigestOutcome::Skipped {
            slot: key,
            why: "digests were enabled after this slot".into(),
        });
    }
    let to = cfg.digest_recipients();
    if to.is_empty() {
        store.write(|tx| tx.skip_digest(&key, period.from, period.to, now))?;
        return Ok(DigestOutcome::Skipped {
            slot: key,
            why: "nobody to send it to".into(),
        });
    }
    // A brand's digest measures in the brand's business time; its slots stay the daemon's.
    let brand_calendar = cfg
        .digest
        .brand
        .as_deref()
        .map(|b| BusinessCalendar::from_config(cfg.brand_calendar(Some(b))));
    let report = build(
        &store.read(),
        cfg,
        brand_calendar.as_ref().unwrap_or(calendar),
        period,
        now,
        &scope(cfg),
    )?;
    let message_id = compose::new_message_id("digest", &cfg.message_id_domain());
    let (body, subject) = compose_mail(cfg, renderer, &report, &to, &message_id, now)?;
    let recipient = to.join(",");
    let queued = store.write(|tx| {
        tx.enqueue_digest(
            &key,
            period.from,
            period.to,
            &NewOutbound {
                case_id: None,
                kind: OutboundKind::Digest,
                automatic: true,
                message_id: &message_id,
                envelope_from: &cfg.support.address,
                recipient: &recipient,
                subject: &subject,
                body: &body,
                now,
                audience: Audience::Agent,
            },
        )
    })?;
    Ok(if queued {
        DigestOutcome::Queued { slot: key }
    } else {
        DigestOutcome::Nothing
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;

    fn cfg(schedule: DigestSchedule) -> DigestConfig {
        DigestConfig {
            enabled: true,
            schedule,
            day: chrono::Weekday::Mon,
            day_of_month: 1,
            at: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            period: None,
            recipients: vec![],
            brand: None,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    #[test]
    fn weekly_slots_fall_on_the_configured_weekday_in_local_time() {
        let c = cfg(DigestSchedule::Weekly);
        // Wednesday 25 November 2026: the last slot was Monday 08:00 CET (07:00Z).
        let now = utc("2026-11-25T12:00:00Z");
        assert_eq!(
            latest_slot(&c, BERLIN, now),
            Some(utc("2026-11-23T07:00:00Z"))
        );
        assert_eq!(
            next_slot(&c, BERLIN, now),
            Some(utc("2026-11-30T07:00:00Z"))
        );
        // The period is the week before the slot.
        let p = period_of(&c, BERLIN, utc("2026-11-30T07:00:00Z"));
        assert_eq!(p.from, utc("2026-11-23T07:00:00Z"));
        // At the slot itself, it is the latest.
        assert_eq!(
            latest_slot(&c, BERLIN, utc("2026-11-30T07:00:00Z")),
            Some(utc("2026-11-30T07:00:00Z"))
        );
    }

    #[test]
    fn slots_follow_daylight_saving_time() {
        let c = cfg(DigestSchedule::Daily);
        // Berlin leaves summer time on 25 October 2026: 08:00 is 06:00Z before, 07:00Z after.
        let p = period_of(&c, BERLIN, utc("2026-10-26T07:00:00Z"));
        assert_eq!(p.from, utc("2026-10-25T07:00:00Z"));
        assert_eq!(
            next_slot(&c, BERLIN, utc("2026-10-24T06:30:00Z")),
            Some(utc("2026-10-25T07:00:00Z"))
        );
        assert_eq!(
            latest_slot(&c, BERLIN, utc("2026-10-24T06:30:00Z")),
            Some(utc("2026-10-24T06:00:00Z"))
        );
    }

    #[test]
    fn monthly_slots_report_the_month_before_unless_a_period_is_set() {
        let mut c = cfg(DigestSchedule::Monthly);
        let slot = utc("2026-12-01T07:00:00Z");
        assert_eq!(
            latest_slot(&c, BERLIN, utc("2026-12-20T00:00:00Z")),
            Some(slot)
        );
        assert_eq!(
            period_of(&c, BERLIN, slot).from,
            utc("2026-11-01T07:00:00Z")
        );
        c.period = Some(HumanDuration(std::time::Duration::from_secs(7 * 86_400)));
        assert_eq!(
            period_of(&c, BERLIN, slot).from,
            utc("2026-11-24T07:00:00Z")
        );
        assert_eq!(slot_key(&c, slot), "monthly:2026-12-01T07:00:00.000000Z");
    }
}

crate::shown_from!(DigestError::Chart(ChartError));
crate::shown_from!(DigestError::Render(RenderError));
crate::shown_from!(DigestError::Compose(ComposeError));
