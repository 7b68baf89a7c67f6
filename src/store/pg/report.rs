//! The PostgreSQL implementation of [`crate::store::report`].

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;

use super::values::{get, opt_time, text_named, time};
use super::*;
use crate::store::report::*;

const REPORT_COLS: &str = "id, reference, status, category, priority, subject, created_at, first_response_due, first_response_at, resolution_due, resolved_at, reopen_count, escalated_at, purged_at, erased_at, queue, brand";

fn report_case(r: &Row) -> Result<ReportCase, StoreError> {
    Ok(ReportCase {
        id: get(r, 0)?,
        reference: get(r, 1)?,
        status: text_named(r, 2, Some("cases.status"))?,
        category: text_named(r, 3, Some("cases.category"))?,
        priority: text_named(r, 4, Some("cases.priority"))?,
        subject: get(r, 5)?,
        created_at: time(r, 6, "cases.created_at")?,
        first_response_due: opt_time(r, 7, "cases.first_response_due")?,
        first_response_at: opt_time(r, 8, "cases.first_response_at")?,
        resolution_due: opt_time(r, 9, "cases.resolution_due")?,
        resolved_at: opt_time(r, 10, "cases.resolved_at")?,
        reopen_count: get(r, 11)?,
        escalated_at: opt_time(r, 12, "cases.escalated_at")?,
        purged_at: opt_time(r, 13, "cases.purged_at")?,
        erased_at: opt_time(r, 14, "cases.erased_at")?,
        queue: get(r, 15)?,
        brand: get(r, 16)?,
    })
}

/// The SQL condition of `scope` on the cases table (alias `c`), starting with ` AND`, and
/// its arguments, numbered from `$3` (`$1` and `$2` are the period). The text depends only
/// on which of queue and brand are set, so at most four statements are prepared.
fn scope_sql(scope: &ReportScope) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for (column, m) in [("queue", &scope.queue), ("brand", &scope.brand)] {
        if let Some(m) = m {
            args.push(m.null_as.clone());
            args.push(m.name.clone());
            let n = args.len() + 2;
            sql.push_str(&format!(" AND COALESCE(c.{column}, ${}) = ${n}", n - 1));
        }
    }
    (sql, args)
}

/// The period and the scope's arguments.
fn period_args(from: DateTime<Utc>, to: DateTime<Utc>, scope: Vec<String>) -> Vec<String> {
    let mut v = vec![ts(from), ts(to)];
    v.extend(scope);
    v
}

/// `args` as query parameters.
fn params_of(args: &[String]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl ReportReads for PgReader<'_> {
    /// Cases of `scope` opened in `[from, to)`, oldest first (purged and erased ones included).
    ///
    /// # Errors
    /// SQL errors.
    fn cases_opened(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportCase>, StoreError> {
        let (cond, args) = scope_sql(scope);
        let args = period_args(from, to, args);
        let rows = self.db.query(
            &format!(
                "SELECT {REPORT_COLS} FROM cases c WHERE created_at >= $1 AND created_at < $2{cond} ORDER BY created_at, id"
            ),
            &params_of(&args),
        )?;
        rows.iter().map(report_case).collect()
    }

    /// Cases of `scope` first escalated in `[from, to)`, whenever they were opened.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_escalated(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportCase>, StoreError> {
        let (cond, args) = scope_sql(scope);
        let args = period_args(from, to, args);
        let rows = self.db.query(
            &format!(
                "SELECT {REPORT_COLS} FROM cases c WHERE escalated_at >= $1 AND escalated_at < $2{cond} ORDER BY escalated_at, id"
            ),
            &params_of(&args),
        )?;
        rows.iter().map(report_case).collect()
    }

    /// Ratings given in `[from, to)` on cases of `scope`, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn ratings_given(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportRating>, StoreError> {
        let (cond, args) = scope_sql(scope);
        let args = period_args(from, to, args);
        let rows = self.db.query(
            &format!(
                "SELECT r.case_id, c.reference, c.category, r.rating, r.comment, r.at
                 FROM ratings r JOIN cases c ON c.id = r.case_id
                 WHERE r.at >= $1 AND r.at < $2{cond} ORDER BY r.at, r.case_id"
            ),
            &params_of(&args),
        )?;
        rows.iter()
            .map(|r| {
                let rating: i64 = get(r, 3)?;
                Ok(ReportRating {
                    case_id: get(r, 0)?,
                    reference: get(r, 1)?,
                    category: text_named(r, 2, Some("cases.category"))?,
                    rating: u8::try_from(rating).map_err(|_| {
                        StoreError::Data(format!(
                            "column ratings.rating holds {rating}: not a rating"
                        ))
                    })?,
                    comment: get(r, 4)?,
                    at: time(r, 5, "ratings.at")?,
                })
            })
            .collect()
    }

    /// True when the digest of this slot was already queued.
    ///
    /// # Errors
    /// SQL errors.
    fn digest_sent(&self, slot: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .query_opt("SELECT 1 FROM digests WHERE slot = $1", &[&slot])?
            .is_some())
    }

    /// True when any slot of this schedule (`weekly`...) was recorded, sent or skipped.
    ///
    /// # Errors
    /// SQL errors.
    fn any_digest(&self, schedule: &str) -> Result<bool, StoreError> {
        // ILIKE: SQLite's LIKE ignores ASCII case.
        Ok(self
            .db
            .query_opt(
                "SELECT 1 FROM digests WHERE slot ILIKE ($1::TEXT || ':%') LIMIT 1",
                &[&schedule],
            )?
            .is_some())
    }
}

impl ReportWrites for PgTx<'_> {
    /// Records a slot as handled without sending anything (no outbox row).
    ///
    /// # Errors
    /// SQL errors.
    fn skip_digest(
        &self,
        slot: &str,
        period_from: DateTime<Utc>,
        period_to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO digests(slot, period_from, period_to, created_at, outbox_id) VALUES ($1, $2, $3, $4, NULL)
             ON CONFLICT(slot) DO NOTHING",
            &[&slot, &ts(period_from), &ts(period_to), &ts(now)],
        )?;
        Ok(())
    }

    /// Queues a digest and records its slot in this transaction; returns false (and queues
    /// nothing) when the slot was already recorded, so a slot goes out once across restarts.
    ///
    /// # Errors
    /// SQL errors.
    fn enqueue_digest(
        &self,
        slot: &str,
        period_from: DateTime<Utc>,
        period_to: DateTime<Utc>,
        mail: &NewOutbound<'_>,
    ) -> Result<bool, StoreError> {
        if self.read().digest_sent(slot)? {
            return Ok(false);
        }
        let id = self.enqueue(mail)?;
        self.db.execute(
            "INSERT INTO digests(slot, period_from, period_to, created_at, outbox_id) VALUES ($1, $2, $3, $4, $5)",
            &[&slot, &ts(period_from), &ts(period_to), &ts(mail.now), &id],
        )?;
        self.audit(
            None,
            mail.now,
            "system",
            AuditEvent::DigestQueued,
            &serde_json::json!({"slot": slot, "to": mail.recipient, "from": ts(period_from), "until": ts(period_to)}),
        )?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::outbox::tests::{mail, new_case, t0};
    use super::*;

    fn days(n: i64) -> chrono::Duration {
        chrono::Duration::days(n)
    }

    fn scope(queue: Option<(&str, &str)>, brand: Option<(&str, &str)>) -> ReportScope {
        let m = |(name, null_as): (&str, &str)| Matching {
            name: name.into(),
            null_as: null_as.into(),
        };
        ReportScope {
            queue: queue.map(m),
            brand: brand.map(m),
        }
    }

    fn ids(v: &[ReportCase]) -> Vec<i64> {
        v.iter().map(|c| c.id).collect()
    }

    #[test]
    fn cases_and_ratings_of_a_period_and_scope() {
        let Some(s) = super::super::tests::fresh() else {
            return;
        };
        let now = t0();
        let set = |id: i64,
                   created: DateTime<Utc>,
                   queue: Option<&str>,
                   brand: Option<&str>,
                   esc: Option<DateTime<Utc>>| {
            s.db()
                .execute(
                    "UPDATE cases SET created_at = $2, queue = $3, brand = $4, escalated_at = $5 WHERE id = $1",
                    &[&id, &ts(created), &queue, &brand, &esc.map(ts)],
                )
                .unwrap();
        };
        let a = new_case(&s, "C-1");
        let b = new_case(&s, "C-2");
        let c = new_case(&s, "C-3");
        let d = new_case(&s, "C-4");
        set(a, now, None, None, Some(now + days(10)));
        set(b, now + days(1), Some("sales"), Some("acme"), None);
        set(
            c,
            now + days(2),
            Some("support"),
            Some("acme"),
            Some(now + days(3)),
        );
        set(d, now + days(7), Some("support"), None, None);
        let all = ReportScope::default();
        let week = s.read().cases_opened(now, now + days(7), &all).unwrap();
        assert_eq!(ids(&week), vec![a, b, c]);
        assert_eq!(week[0].reference, "C-1");
        assert_eq!(week[0].status, crate::case::Status::New);
        assert_eq!(week[0].subject, "Help");
        assert_eq!(week[0].created_at, now);
        assert_eq!(week[0].escalated_at, Some(now + days(10)));
        assert_eq!(week[0].queue, None);
        assert_eq!(week[1].queue.as_deref(), Some("sales"));
        assert_eq!(week[1].brand.as_deref(), Some("acme"));
        assert_eq!(week[0].reopen_count, 0);
        // A case without a queue counts as the queue named by `null_as`.
        let support = scope(Some(("support", "support")), None);
        assert_eq!(
            ids(&s.read().cases_opened(now, now + days(8), &support).unwrap()),
            vec![a, c, d]
        );
        let sales = scope(Some(("sales", "support")), None);
        assert_eq!(
            ids(&s.read().cases_opened(now, now + days(8), &sales).unwrap()),
            vec![b]
        );
        let acme = scope(None, Some(("acme", "other")));
        assert_eq!(
            ids(&s.read().cases_opened(now, now + days(8), &acme).unwrap()),
            vec![b, c]
        );
        let both = scope(Some(("support", "support")), Some(("acme", "acme")));
        assert_eq!(
            ids(&s.read().cases_opened(now, now + days(8), &both).unwrap()),
            vec![a, c, d]
        );
        let both = scope(Some(("support", "support")), Some(("acme", "other")));
        assert_eq!(
            ids(&s.read().cases_opened(now, now + days(8), &both).unwrap()),
            vec![c]
        );
        // Escalated in the period, whenever opened.
        assert_eq!(
            ids(&s
                .read()
                .cases_escalated(now + days(3), now + days(11), &all)
                .unwrap()),
            vec![c, a]
        );
        assert_eq!(
            ids(&s
                .read()
                .cases_escalated(now + days(3), now + days(11), &acme)
                .unwrap()),
            vec![c]
        );
        assert!(s
            .read()
            .cases_escalated(now + days(4), now + days(10), &both)
            .unwrap()
            .is_empty());

        s.db()
            .execute(
                "INSERT INTO ratings(case_id, rating, comment, at) VALUES ($1, 5, 'great', $2), ($3, 2, NULL, $4)",
                &[&c, &ts(now + days(4)), &b, &ts(now + days(3))],
            )
            .unwrap();
        let r = s.read().ratings_given(now, now + days(7), &all).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].case_id, r[0].rating, r[0].comment.as_deref()),
            (b, 2, None)
        );
        assert_eq!(r[0].reference, "C-2");
        assert_eq!(r[0].category.as_str(), "general");
        assert_eq!(r[0].at, now + days(3));
        assert_eq!(
            (r[1].case_id, r[1].rating, r[1].comment.as_deref()),
            (c, 5, Some("great"))
        );
        let r = s
            .read()
            .ratings_given(now, now + days(7), &support)
            .unwrap();
        assert_eq!(r.iter().map(|r| r.case_id).collect::<Vec<_>>(), vec![c]);
        assert!(s
            .read()
            .ratings_given(now, now + days(3), &support)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn digest_slots_go_out_once() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let now = t0();
        assert!(!s.read().digest_sent("weekly:2026-W10").unwrap());
        assert!(!s.read().any_digest("weekly").unwrap());
        s.write(|tx| tx.skip_digest("weekly:2026-W09", now - days(14), now - days(7), now))
            .unwrap();
        // Recording a slot twice is no error and changes nothing.
        s.write(|tx| tx.skip_digest("weekly:2026-W09", now, now, now))
            .unwrap();
        assert!(s.read().digest_sent("weekly:2026-W09").unwrap());
        assert!(s.read().any_digest("weekly").unwrap());
        // As SQLite's LIKE: ASCII case does not matter.
        assert!(s.read().any_digest("WEEKLY").unwrap());
        assert!(!s.read().any_digest("daily").unwrap());
        assert!(!s.read().any_digest("week").unwrap());

        let mut m = mail(None, "<digest@us>", "boss@example.org", now);
        m.kind = OutboundKind::Digest;
        m.audience = Audience::Agent;
        assert!(s
            .write(|tx| tx.enqueue_digest("weekly:2026-W10", now - days(7), now, &m))
            .unwrap());
        let m2 = mail(None, "<digest2@us>", "boss@example.org", now);
        assert!(!s
            .write(|tx| tx.enqueue_digest("weekly:2026-W10", now - days(7), now, &m2))
            .unwrap());
        let out = s.read().outbox(None).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, OutboundKind::Digest);
        let r = s
            .db()
            .query_one(
                "SELECT outbox_id, period_from, period_to, created_at FROM digests WHERE slot = 'weekly:2026-W10'",
                &[],
            )
            .unwrap();
        assert_eq!(get::<Option<i64>>(&r, 0).unwrap(), Some(out[0].id));
        assert_eq!(get::<String>(&r, 1).unwrap(), ts(now - days(7)));
        assert_eq!(get::<String>(&r, 2).unwrap(), ts(now));
        let r = s
            .db()
            .query_one(
                "SELECT case_id, actor, detail FROM audit WHERE event = 'digest_queued'",
                &[],
            )
            .unwrap();
        assert_eq!(get::<Option<i64>>(&r, 0).unwrap(), None);
        let detail: serde_json::Value =
            serde_json::from_str(&get::<String>(&r, 2).unwrap()).unwrap();
        assert_eq!(detail["slot"], "weekly:2026-W10");
        assert_eq!(detail["to"], "boss@example.org");
        assert_eq!(detail["until"], ts(now));
    }
}
