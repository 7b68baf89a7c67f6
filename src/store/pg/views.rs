//! The PostgreSQL implementation of [`crate::store::views`].

use super::*;
use crate::store::views::*;

/// The index of the column `name` in `r` (the views read their extra columns by name, so a
/// later change to `CASE_COLS` cannot shift them).
fn named(r: &Row, name: &str) -> Result<usize, StoreError> {
    r.columns()
        .iter()
        .position(|c| c.name() == name)
        .ok_or_else(|| StoreError::Data(format!("no column {name} in the row")))
}

fn view_from_row(r: &Row) -> Result<CaseView, StoreError> {
    Ok(CaseView {
        case: case_from_row(r)?,
        legal_hold: values::get(r, named(r, "legal_hold")?)?,
        escalated_at: values::opt_time(r, named(r, "escalated_at")?, "cases.escalated_at")?,
        purged_at: values::opt_time(r, named(r, "purged_at")?, "cases.purged_at")?,
        erased_at: values::opt_time(r, named(r, "erased_at")?, "cases.erased_at")?,
        loop_stopped_at: values::opt_time(
            r,
            named(r, "loop_stopped_at")?,
            "loop_stops.stopped_at",
        )?,
    })
}

/// `loop_stops.case_id` is its primary key, so the subquery has at most one row (PostgreSQL
/// refuses a scalar subquery of several rows where SQLite takes the first).
fn view_cols() -> String {
    format!(
        "{CASE_COLS}, legal_hold, escalated_at, purged_at, erased_at,
         (SELECT stopped_at FROM loop_stops WHERE loop_stops.case_id = cases.id) AS loop_stopped_at"
    )
}

/// A query parameter of [`ViewReads::cases_matching`].
type Arg = Box<dyn ToSql + Sync>;

impl ViewReads for PgReader<'_> {
    /// Cases matching `f`, newest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_matching(&self, f: &CaseFilter) -> Result<Vec<CaseView>, StoreError> {
        let mut cond: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let mut arg = |cond: &mut Vec<String>, sql: &str, v: Arg| {
            args.push(v);
            cond.push(sql.replace('?', &format!("${}", args.len())));
        };
        if let Some(s) = &f.status {
            arg(&mut cond, "status = ?", Box::new(s.as_str().to_string()));
        }
        if let Some(c) = &f.category {
            arg(&mut cond, "category = ?", Box::new(c.as_str().to_string()));
        }
        if let Some(p) = &f.priority {
            arg(&mut cond, "priority = ?", Box::new(p.as_str().to_string()));
        }
        if let Some(c) = &f.customer {
            arg(
                &mut cond,
                "lower(customer_address) = ?",
                Box::new(c.clone()),
            );
        }
        if let Some(t) = f.since {
            arg(&mut cond, "created_at >= ?", Box::new(ts(t)));
        }
        if let Some(t) = f.due_by {
            arg(
                &mut cond,
                "status NOT IN ('resolved', 'closed') AND ((first_response_at IS NULL AND resolved_at IS NULL AND first_response_due <= ?) OR resolution_due <= ?)",
                Box::new(ts(t)),
            );
        }
        for (column, m) in [("queue", &f.queue), ("brand", &f.brand)] {
            if let Some(m) = m {
                args.push(Box::new(m.null_as.clone()));
                args.push(Box::new(m.name.clone()));
                let n = args.len();
                cond.push(format!("COALESCE({column}, ${}) = ${n}", n - 1));
            }
        }
        let wher = if cond.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", cond.join(" AND "))
        };
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| &**a).collect();
        let rows = self.db.query(
            &format!(
                "SELECT {} FROM cases {wher} ORDER BY created_at DESC, id DESC",
                view_cols()
            ),
            &params,
        )?;
        let mut v: Vec<CaseView> = rows.iter().map(view_from_row).collect::<Result<_, _>>()?;
        if let Some(now) = f.overdue_at {
            v.retain(|c| c.overdue(now));
        }
        Ok(v)
    }

    /// One case with its records-management facts.
    ///
    /// # Errors
    /// SQL errors.
    fn case_view(&self, reference: &str) -> Result<Option<CaseView>, StoreError> {
        self.db
            .query_opt(
                &format!("SELECT {} FROM cases WHERE reference = $1", view_cols()),
                &[&reference],
            )?
            .as_ref()
            .map(view_from_row)
            .transpose()
    }

    /// The reference and customer address of a case by its id (for linked cases).
    ///
    /// # Errors
    /// SQL errors.
    fn case_reference(&self, case_id: i64) -> Result<Option<(String, String)>, StoreError> {
        self.db
            .query_opt(
                "SELECT reference, customer_address FROM cases WHERE id = $1",
                &[&case_id],
            )?
            .map(|r| Ok((values::get(&r, 0)?, values::get(&r, 1)?)))
            .transpose()
    }

    /// Every case reference, for suggesting the one a person meant.
    ///
    /// # Errors
    /// SQL errors.
    fn references(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .query("SELECT reference FROM cases ORDER BY id", &[])?
            .iter()
            .map(|r| values::get(r, 0))
            .collect()
    }

    /// The stored raw bytes of a message: `None` when there is no such message, `Some(None)`
    /// when its bytes were removed (purged or erased).
    ///
    /// # Errors
    /// SQL errors.
    fn raw_message(&self, message_id: i64) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        self.db
            .query_opt("SELECT raw FROM messages WHERE id = $1", &[&message_id])?
            .map(|r| values::get(&r, 0))
            .transpose()
    }

    /// The rating of a case with when it was given.
    ///
    /// # Errors
    /// SQL errors; [`StoreError::Data`] for a stored rating outside 0..=255.
    fn rating_row(&self, case_id: i64) -> Result<Option<RatingRow>, StoreError> {
        self.db
            .query_opt(
                "SELECT rating, comment, at FROM ratings WHERE case_id = $1",
                &[&case_id],
            )?
            .map(|r| {
                let rating: i64 = values::get(&r, 0)?;
                Ok(RatingRow {
                    rating: u8::try_from(rating).map_err(|_| {
                        StoreError::Data(format!(
                            "column ratings.rating holds {rating}: not a rating"
                        ))
                    })?,
                    comment: values::get(&r, 1)?,
                    at: values::col(&r, 2)?,
                })
            })
            .transpose()
    }
}

/// The SQLite file's tests, on a fresh PostgreSQL database each, plus every statement of
/// this file. Cases and the other tables' rows are written with plain SQL (their writes are
/// other rooms'); the parts of the SQLite tests that go through the CLI on a [`Store`]
/// (tables, `show`, the simulated clock) need the whole PostgreSQL engine, and are checked
/// here on the views those outputs are made of.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Category, Priority, Status};
    use crate::store::pg::tests::fresh;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    /// A case as `insert_case` writes one: acknowledged, billing, normal.
    fn case(s: &PgStore, reference: &str, customer: &str, opened: DateTime<Utc>) -> i64 {
        insert(
            s,
            reference,
            customer,
            "billing",
            opened,
            Some(opened + chrono::Duration::hours(2)),
            None,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        s: &PgStore,
        reference: &str,
        customer: &str,
        category: &str,
        opened: DateTime<Utc>,
        first_response_due: Option<DateTime<Utc>>,
        queue: Option<&str>,
        brand: Option<&str>,
    ) -> i64 {
        s.db()
            .query_one(
                "INSERT INTO cases(reference, status, category, priority, subject, customer_address,
                                   created_at, updated_at, first_response_due, last_public_at, queue, brand)
                 VALUES ($1, 'acknowledged', $2, 'normal', 's', $3, $4, $4, $5, $4, $6, $7) RETURNING id",
                &[
                    &reference,
                    &category,
                    &customer,
                    &ts(opened),
                    &first_response_due.map(ts),
                    &queue,
                    &brand,
                ],
            )
            .unwrap()
            .get(0)
    }

    fn set(s: &PgStore, id: i64, column: &str, value: Option<String>) {
        s.db()
            .execute(
                &format!("UPDATE cases SET {column} = $2 WHERE id = $1"),
                &[&id, &value],
            )
            .unwrap();
    }

    fn ids(s: &PgStore, f: &CaseFilter) -> Vec<i64> {
        s.read()
            .cases_matching(f)
            .unwrap()
            .iter()
            .map(|c| c.case.id)
            .collect()
    }

    #[test]
    fn overdue_means_an_open_case_past_an_unmet_target() {
        let Some(s) = fresh() else { return };
        let late = case(&s, "CMP-00001-1", "a@x.test", at(8));
        let answered = case(&s, "CMP-00002-2", "b@x.test", at(8));
        let fresh_case = case(&s, "CMP-00003-3", "C@x.test", at(11));
        let paused = case(&s, "CMP-00004-4", "d@x.test", at(8));
        set(&s, answered, "first_response_at", Some(ts(at(9))));
        set(&s, paused, "sla_paused_at", Some(ts(at(9))));
        let overdue = CaseFilter {
            overdue_at: Some(at(12)),
            ..CaseFilter::default()
        };
        assert_eq!(ids(&s, &overdue), vec![late]);
        // The address is stored as given; the filter is lower-cased, as `lower()` makes it.
        let customer = CaseFilter {
            customer: Some("c@x.test".into()),
            ..CaseFilter::default()
        };
        assert_eq!(ids(&s, &customer), vec![fresh_case]);
        let since = CaseFilter {
            since: Some(at(10)),
            ..CaseFilter::default()
        };
        assert_eq!(ids(&s, &since), vec![fresh_case]);
        // Newest first, the same instant by id.
        assert_eq!(
            ids(&s, &CaseFilter::default()),
            vec![fresh_case, paused, answered, late]
        );
    }

    #[test]
    fn cases_and_case_judge_due_times_at_a_recorded_simulated_clock() {
        let Some(s) = fresh() else { return };
        // Opened at 08:00 on the demo's day, first response due at 10:00; read weeks later.
        let id = case(&s, "CMP-00001-1", "a@x.test", at(8));
        let real_now = at(8) + chrono::Duration::days(13);
        let overdue_at = |now| {
            ids(
                &s,
                &CaseFilter {
                    overdue_at: Some(now),
                    ..CaseFilter::default()
                },
            )
        };
        // On the real clock: overdue; at a simulated 09:00 of that day: not; at 11:00: again.
        assert_eq!(overdue_at(real_now), vec![id]);
        assert!(overdue_at(at(9)).is_empty());
        assert_eq!(overdue_at(at(11)), vec![id]);
        let v = s.read().case_view("CMP-00001-1").unwrap().unwrap();
        assert!(v.overdue(real_now) && !v.overdue(at(9)) && v.overdue(at(11)));
        assert_eq!(v.case.created_at, at(8));
        assert_eq!(v.next_due(), Some(at(10)));
    }

    #[test]
    fn listed_json_and_csv_carry_every_value_as_stored() {
        let Some(s) = fresh() else { return };
        let id = case(&s, "CMP-00001-1", "a@x.test", at(8));
        set(
            &s,
            id,
            "first_response_at",
            Some(ts(at(9) + chrono::Duration::nanoseconds(123_456_789))),
        );
        set(&s, id, "sla_paused_at", Some(ts(at(10))));
        set(&s, id, "status", Some("escalated".into()));
        set(&s, id, "escalated_at", Some(ts(at(10))));
        set(&s, id, "updated_at", Some(ts(at(10))));
        s.db()
            .execute(
                "INSERT INTO loop_stops(case_id, stopped_at, reason) VALUES ($1, $2, 'loop')",
                &[&id, &ts(at(11))],
            )
            .unwrap();
        let row = s
            .db()
            .query_one(&format!("SELECT {} FROM cases", view_cols()), &[])
            .unwrap();
        let stored: Vec<(String, Option<String>)> = row
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let v = if *c.type_() == tokio_postgres::types::Type::INT8 {
                    row.get::<_, Option<i64>>(i).map(|n| n.to_string())
                } else {
                    row.get::<_, Option<String>>(i)
                };
                (c.name().to_string(), v)
            })
            .collect();
        // As `mailcase cases --json` lists it: a case from before queues in the default
        // queue, of its brand.
        let mut v = s.read().cases_matching(&CaseFilter::default()).unwrap();
        assert_eq!(v.len(), 1);
        v[0].case.queue.get_or_insert_with(|| "default".into());
        v[0].case.brand.get_or_insert_with(|| "default".into());
        let listed = serde_json::to_value(&v[0]).unwrap();
        for (name, value) in &stored {
            let want = match value {
                None => serde_json::Value::Null,
                Some(v) if name == "id" || name == "reopen_count" || name == "linked_case_id" => {
                    serde_json::Value::from(v.parse::<i64>().unwrap())
                }
                Some(v) => serde_json::Value::from(v.as_str()),
            };
            let want = match name.as_str() {
                "queue" | "brand" => serde_json::Value::from("default"),
                _ => want,
            };
            assert_eq!(listed[name], want, "{name}");
        }
        assert_eq!(listed["first_response_at"], "2026-11-23T09:00:00.123456Z");
        assert_eq!(listed["status"], "escalated");
        assert_eq!(listed["loop_stopped_at"], "2026-11-23T11:00:00.000000Z");
        assert_eq!(listed["escalated_at"], "2026-11-23T10:00:00.000000Z");
        assert_eq!(listed["reopen_count"], 0);
        assert_eq!(stored.len(), 32);
    }

    #[test]
    fn cases_filter_and_show_queues_and_brands() {
        use crate::cli::cases::{filter, CasesArgs};
        use crate::report::queue_tests::two_brands;
        let Some(s) = fresh() else { return };
        let cfg = two_brands();
        let c = |r: &str, h: u32, q: Option<&str>, b: Option<&str>| {
            insert(&s, r, "a@x.test", "general", at(h), None, q, b)
        };
        c("CMP-00001-1", 8, None, None);
        c("ACM-00002-2", 9, Some("billing"), Some("acme"));
        c("ACM-00003-3", 10, Some("shop"), Some("acme"));
        c("GLX-00004-4", 11, Some("help"), Some("globex"));
        let refs = |q: Option<&str>, b: Option<&str>| -> Vec<String> {
            let args = CasesArgs {
                queue: q.map(String::from),
                brand: b.map(String::from),
                ..Default::default()
            };
            let f = filter(&cfg, &args, at(12)).unwrap();
            s.read()
                .cases_matching(&f)
                .unwrap()
                .into_iter()
                .map(|c| c.case.reference)
                .collect()
        };
        // The case from before queues is in the first queue, billing, of its brand, acme.
        assert_eq!(
            refs(Some("billing"), None),
            vec!["ACM-00002-2", "CMP-00001-1"]
        );
        assert_eq!(
            refs(None, Some("acme")),
            vec!["ACM-00003-3", "ACM-00002-2", "CMP-00001-1"]
        );
        assert_eq!(refs(None, Some("globex")), vec!["GLX-00004-4"]);
        assert_eq!(refs(Some("help"), Some("globex")), vec!["GLX-00004-4"]);
        assert!(refs(Some("shop"), Some("globex")).is_empty());
        assert_eq!(refs(None, None).len(), 4);
        // Queue and brand as stored (NULL for the case from before queues).
        let all = s.read().cases_matching(&CaseFilter::default()).unwrap();
        let stored: Vec<(Option<&str>, Option<&str>)> = all
            .iter()
            .map(|v| (v.case.queue.as_deref(), v.case.brand.as_deref()))
            .collect();
        assert_eq!(
            stored,
            [
                (Some("help"), Some("globex")),
                (Some("shop"), Some("acme")),
                (Some("billing"), Some("acme")),
                (None, None)
            ]
        );
    }

    #[test]
    fn a_stored_value_that_does_not_parse_is_a_data_error_naming_its_column() {
        let Some(s) = fresh() else { return };
        let id = case(&s, "CMP-00001-1", "a@x.test", at(8));
        for (column, value) in [
            ("status", "pending"),
            ("first_response_due", "tomorrow"),
            ("created_at", "2026-11-23 08:00"),
            ("escalated_at", "soon"),
        ] {
            let old: Option<String> = s
                .db()
                .query_one(&format!("SELECT {column} FROM cases"), &[])
                .unwrap()
                .get(0);
            set(&s, id, column, Some(value.into()));
            for e in [
                s.read()
                    .cases_matching(&CaseFilter::default())
                    .map(|_| ())
                    .unwrap_err(),
                s.read().case_view("CMP-00001-1").map(|_| ()).unwrap_err(),
            ] {
                match e {
                    StoreError::Data(m) => {
                        assert!(m.contains(&format!("cases.{column}")), "{m}");
                        assert!(m.contains(value), "{m}");
                    }
                    other => panic!("{column}: {other:?}"),
                }
            }
            set(&s, id, column, old);
        }
        assert_eq!(
            s.read()
                .cases_matching(&CaseFilter::default())
                .unwrap()
                .len(),
            1
        );
        s.db()
            .execute(
                "INSERT INTO loop_stops(case_id, stopped_at, reason) VALUES ($1, 'later', 'loop')",
                &[&id],
            )
            .unwrap();
        match s.read().case_view("CMP-00001-1").unwrap_err() {
            StoreError::Data(m) => assert!(m.contains("loop_stops.stopped_at"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_purged_case_is_listed_and_shown_as_purged() {
        let Some(s) = fresh() else { return };
        let id = case(&s, "CMP-00001-5", "a@x.test", at(8));
        // What retention leaves of a case: the figures, no personal data.
        s.db()
            .execute(
                "UPDATE cases SET subject = '', customer_address = '', customer_name = NULL, purged_at = $2 WHERE id = $1",
                &[&id, &ts(at(9))],
            )
            .unwrap();
        let v = s.read().case_view("CMP-00001-5").unwrap().unwrap();
        assert_eq!(v.blanked(), Some("(purged)"));
        assert_eq!(v.purged_at, Some(at(9)));
        assert_eq!(v.case.customer_address, "");
        let listed = s.read().cases_matching(&CaseFilter::default()).unwrap();
        assert_eq!(listed, vec![v]);
        // A reference is matched as stored (the CLI upper-cases what a person types).
        assert_eq!(s.read().case_view("cmp-00001-5").unwrap(), None);
    }

    #[test]
    fn every_filter_and_lookup_runs() {
        let Some(s) = fresh() else { return };
        let a = case(&s, "CMP-00001-1", "a@x.test", at(8));
        let b = insert(
            &s,
            "CMP-00002-2",
            "b@x.test",
            "sales",
            at(9),
            None,
            None,
            None,
        );
        set(&s, b, "priority", Some("high".into()));
        set(&s, b, "resolution_due", Some(ts(at(20))));
        let c = case(&s, "CMP-00003-3", "c@x.test", at(10));
        set(&s, c, "status", Some("resolved".into()));
        let d = case(&s, "CMP-00004-4", "d@x.test", at(7));
        set(&s, d, "first_response_at", Some(ts(at(8))));
        set(&s, d, "legal_hold", Some("audit".into()));
        let f = |f: CaseFilter| ids(&s, &f);
        assert_eq!(
            f(CaseFilter {
                status: Some(Status::Resolved),
                ..Default::default()
            }),
            vec![c]
        );
        assert_eq!(
            f(CaseFilter {
                category: Some(Category::new("sales")),
                ..Default::default()
            }),
            vec![b]
        );
        assert_eq!(
            f(CaseFilter {
                priority: Some(Priority::new("normal")),
                status: Some(Status::Acknowledged),
                ..Default::default()
            }),
            vec![a, d]
        );
        // Due by 10:00: a (first response due 10:00); not b (20:00), not resolved c, not
        // answered d.
        assert_eq!(
            f(CaseFilter {
                due_by: Some(at(10)),
                ..Default::default()
            }),
            vec![a]
        );
        assert_eq!(
            f(CaseFilter {
                due_by: Some(at(20)),
                since: Some(at(8)),
                ..Default::default()
            }),
            vec![b, a]
        );
        assert_eq!(
            f(CaseFilter {
                customer: Some("b@x.test".into()),
                category: Some(Category::new("billing")),
                ..Default::default()
            }),
            Vec::<i64>::new()
        );
        let v = s.read().case_view("CMP-00004-4").unwrap().unwrap();
        assert_eq!(v.legal_hold.as_deref(), Some("audit"));
        assert_eq!(v.loop_stopped_at, None);
        assert_eq!(s.read().case_view("CMP-00009-9").unwrap(), None);

        assert_eq!(
            s.read().case_reference(b).unwrap(),
            Some(("CMP-00002-2".into(), "b@x.test".into()))
        );
        assert_eq!(s.read().case_reference(999).unwrap(), None);
        assert_eq!(
            s.read().references().unwrap(),
            ["CMP-00001-1", "CMP-00002-2", "CMP-00003-3", "CMP-00004-4"]
        );

        let message = |dedupe: &str, raw: Option<&[u8]>| -> i64 {
            s.db()
                .query_one(
                    "INSERT INTO messages(case_id, dedupe_id, content_hash, subject, received_at,
                                          body_text, attachments, outcome, raw, raw_size)
                     VALUES ($1, $2, 'h', 's', $3, 'b', '[]', 'new_case', $4, 3) RETURNING id",
                    &[&a, &dedupe, &ts(at(8)), &raw],
                )
                .unwrap()
                .get(0)
        };
        let kept = message("d1", Some(b"a\0\xff"));
        let purged = message("d2", None);
        assert_eq!(
            s.read().raw_message(kept).unwrap(),
            Some(Some(b"a\0\xff".to_vec()))
        );
        assert_eq!(s.read().raw_message(purged).unwrap(), Some(None));
        assert_eq!(s.read().raw_message(999).unwrap(), None);

        s.db()
            .execute(
                "INSERT INTO ratings(case_id, rating, comment, at, message_id) VALUES ($1, 4, 'ok', $2, $3)",
                &[&a, &ts(at(11)), &kept],
            )
            .unwrap();
        assert_eq!(
            s.read().rating_row(a).unwrap(),
            Some(RatingRow {
                rating: 4,
                comment: Some("ok".into()),
                at: at(11),
            })
        );
        assert_eq!(s.read().rating_row(b).unwrap(), None);
        s.db()
            .execute("UPDATE ratings SET at = 'noon'", &[])
            .unwrap();
        assert!(matches!(
            s.read().rating_row(a).unwrap_err(),
            StoreError::Data(m) if m.contains("noon")
        ));
    }
}
