//! The SQLite implementation of [`crate::store::views`].

use rusqlite::{params_from_iter, OptionalExtension, ToSql};

use super::*;
use crate::store::views::*;

fn view_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseView> {
    Ok(CaseView {
        case: case_from_row(r)?,
        legal_hold: r.get("legal_hold")?,
        escalated_at: values::opt_time(r, "escalated_at", "cases.escalated_at")?,
        purged_at: values::opt_time(r, "purged_at", "cases.purged_at")?,
        erased_at: values::opt_time(r, "erased_at", "cases.erased_at")?,
        loop_stopped_at: values::opt_time(r, "loop_stopped_at", "loop_stops.stopped_at")?,
    })
}

fn view_cols() -> String {
    format!(
        "{CASE_COLS}, legal_hold, escalated_at, purged_at, erased_at,
         (SELECT stopped_at FROM loop_stops WHERE loop_stops.case_id = cases.id) AS loop_stopped_at"
    )
}

impl ViewReads for SqliteReader<'_> {
    /// Cases matching `f`, newest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_matching(&self, f: &CaseFilter) -> Result<Vec<CaseView>, StoreError> {
        let mut cond: Vec<String> = Vec::new();
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        let mut arg = |cond: &mut Vec<String>, sql: &str, v: Box<dyn ToSql>| {
            args.push(v);
            cond.push(sql.replace('?', &format!("?{}", args.len())));
        };
        if let Some(s) = &f.status {
            arg(&mut cond, "status = ?", Box::new(s.as_str()));
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
                cond.push(format!("COALESCE({column}, ?{}) = ?{n}", n - 1));
            }
        }
        let wher = if cond.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", cond.join(" AND "))
        };
        let mut st = self.conn.prepare(&format!(
            "SELECT {} FROM cases {wher} ORDER BY created_at DESC, id DESC",
            view_cols()
        ))?;
        let rows = st.query_map(params_from_iter(args.iter()), view_from_row)?;
        let mut v: Vec<CaseView> = rows.collect::<Result<_, _>>()?;
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
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {} FROM cases WHERE reference = ?1", view_cols()),
                [reference],
                view_from_row,
            )
            .optional()?)
    }

    /// The reference and customer address of a case by its id (for linked cases).
    ///
    /// # Errors
    /// SQL errors.
    fn case_reference(&self, case_id: i64) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT reference, customer_address FROM cases WHERE id = ?1",
                [case_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Every case reference, for suggesting the one a person meant.
    ///
    /// # Errors
    /// SQL errors.
    fn references(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT reference FROM cases ORDER BY id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored raw bytes of a message: `None` when there is no such message, `Some(None)`
    /// when its bytes were removed (purged or erased).
    ///
    /// # Errors
    /// SQL errors.
    fn raw_message(&self, message_id: i64) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT raw FROM messages WHERE id = ?1",
                [message_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The rating of a case with when it was given.
    ///
    /// # Errors
    /// SQL errors.
    fn rating_row(&self, case_id: i64) -> Result<Option<RatingRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT rating, comment, at FROM ratings WHERE case_id = ?1",
                [case_id],
                |r| {
                    Ok(RatingRow {
                        rating: r.get(0)?,
                        comment: r.get(1)?,
                        at: col(r, 2)?,
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CaseChange, NewCase, Store};
    use super::*;
    use crate::case::{Category, Priority, Status};
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    fn case(s: &mut Store, reference: &str, customer: &str, opened: DateTime<Utc>) -> i64 {
        s.write(|tx| {
            tx.insert_case(&NewCase {
                reference,
                status: Status::Acknowledged,
                category: &Category::new("billing"),
                priority: &Priority::new("normal"),
                subject: "s",
                customer_address: customer,
                customer_name: None,
                now: opened,
                first_response_due: Some(opened + chrono::Duration::hours(2)),
                resolution_due: None,
                last_public_at: None,
                linked_case_id: None,
                language: None,
                queue: None,
                brand: None,
                our_address: None,
            })
        })
        .unwrap()
    }

    #[test]
    fn overdue_means_an_open_case_past_an_unmet_target() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("v.db")).unwrap();
        let late = case(&mut s, "CMP-00001-1", "a@x.test", at(8));
        let answered = case(&mut s, "CMP-00002-2", "b@x.test", at(8));
        let fresh = case(&mut s, "CMP-00003-3", "C@x.test", at(11));
        let paused = case(&mut s, "CMP-00004-4", "d@x.test", at(8));
        s.write(|tx| {
            tx.set_first_response(answered, at(9))?;
            tx.update_case(paused, &CaseChange::SlaPausedAt(Some(at(9))))
        })
        .unwrap();
        let refs = |f: &CaseFilter| -> Vec<i64> {
            s.read()
                .cases_matching(f)
                .unwrap()
                .iter()
                .map(|c| c.case.id)
                .collect()
        };
        let overdue = CaseFilter {
            overdue_at: Some(at(12)),
            ..CaseFilter::default()
        };
        assert_eq!(refs(&overdue), vec![late]);
        let customer = CaseFilter {
            customer: Some("c@x.test".into()),
            ..CaseFilter::default()
        };
        assert_eq!(refs(&customer), vec![fresh]);
        let since = CaseFilter {
            since: Some(at(10)),
            ..CaseFilter::default()
        };
        assert_eq!(refs(&since), vec![fresh]);
        assert_eq!(refs(&CaseFilter::default()).len(), 4);
    }

    #[test]
    fn cases_and_case_judge_due_times_at_a_recorded_simulated_clock() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("v.db")).unwrap();
        // Opened at 08:00 on the demo's day, first response due at 10:00; read weeks later.
        case(&mut s, "CMP-00001-1", "a@x.test", at(8));
        let real_now = at(8) + chrono::Duration::days(13);
        let cfg = crate::config::Config::from_toml(
            include_str!("../../../tests/fixtures/config/base.toml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let table = |s: &Store| {
            let mut out = Vec::new();
            crate::cli::cases::list(&cfg, s, &Default::default(), real_now, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let shown = |s: &Store, json: bool| {
            let args = crate::cli::cases::CaseArgs {
                reference: "CMP-00001-1".into(),
                json,
                raw: None,
            };
            let mut out = Vec::new();
            crate::cli::cases::show(&cfg, s, &args, real_now, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        // On the real clock: overdue, and nothing said about a clock.
        let t = table(&s);
        assert!(t.starts_with("REFERENCE"), "{t}");
        assert!(t.contains("OPENED (UTC)") && t.contains("DUE (UTC)"), "{t}");
        assert!(t.contains("OVERDUE"), "{t}");
        assert!(shown(&s, false).contains("OVERDUE"));

        // A daemon on a simulated clock recorded 09:00 of that day: not overdue, and said so.
        let sim = SimulatedClock {
            now: at(9),
            started_at: at(7),
            rate: 600.0,
            recorded_at: real_now,
        };
        s.record_clock(Some(&sim)).unwrap();
        assert_eq!(s.read().simulated_clock().unwrap(), Some(sim.clone()));
        let t = table(&s);
        let note = "due times judged at the daemon's simulated clock, 2026-11-23 09:00 UTC";
        assert!(t.lines().next().unwrap().starts_with(note), "{t}");
        assert!(!t.contains("OVERDUE"), "{t}");
        let text = shown(&s, false);
        assert!(text.contains(note) && !text.contains("OVERDUE"), "{text}");
        assert!(text.contains("opened 2026-11-23 08:00:00 UTC"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&shown(&s, true)).unwrap();
        assert_eq!(json["overdue"], false);
        assert_eq!(json["judged_at"], "2026-11-23T09:00:00.000000Z");
        assert_eq!(json["simulated_clock"]["rate"], 600.0);
        // A later recording replaces it; a daemon on the real clock removes it.
        s.record_clock(Some(&SimulatedClock { now: at(11), ..sim }))
            .unwrap();
        assert!(table(&s).contains("OVERDUE"));
        s.record_clock(None).unwrap();
        assert_eq!(s.read().simulated_clock().unwrap(), None);
        let t = table(&s);
        assert!(t.starts_with("REFERENCE") && t.contains("OVERDUE"), "{t}");
    }

    #[test]
    fn listed_json_and_csv_carry_every_value_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("v.db")).unwrap();
        let id = case(&mut s, "CMP-00001-1", "a@x.test", at(8));
        s.write(|tx| {
            tx.set_first_response(id, at(9) + chrono::Duration::nanoseconds(123_456_789))?;
            tx.update_case(id, &CaseChange::SlaPausedAt(Some(at(10))))?;
            tx.set_status(
                id,
                Status::Acknowledged,
                Status::Escalated,
                "system",
                "test",
                at(10),
            )
        })
        .unwrap();
        let stored: Vec<(String, Option<String>)> = {
            let mut st = s
                .as_sqlite()
                .expect("sqlite")
                .conn
                .prepare(&format!("SELECT {} FROM cases", view_cols()))
                .unwrap();
            let names: Vec<String> = st.column_names().map(str::to_string).collect();
            st.query_row([], |r| {
                Ok(names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let v = match r.get_ref(i).unwrap() {
                            rusqlite::types::ValueRef::Null => None,
                            rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                            v => Some(v.as_str().unwrap().to_string()),
                        };
                        (n.clone(), v)
                    })
                    .collect())
            })
            .unwrap()
        };
        let cfg = crate::config::Config::from_toml(
            include_str!("../../../tests/fixtures/config/base.toml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let args = crate::cli::cases::CasesArgs {
            json: true,
            ..Default::default()
        };
        let mut out = Vec::new();
        crate::cli::cases::list(&cfg, &s, &args, at(12), &mut out).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let listed = &json[0];
        for (name, value) in &stored {
            let want = match value {
                None => serde_json::Value::Null,
                Some(v) if name == "id" || name == "reopen_count" || name == "linked_case_id" => {
                    serde_json::Value::from(v.parse::<i64>().unwrap())
                }
                Some(v) => serde_json::Value::from(v.as_str()),
            };
            // A case from before queues lists as in the default queue, of its brand.
            let want = match name.as_str() {
                "queue" | "brand" => serde_json::Value::from("default"),
                _ => want,
            };
            assert_eq!(listed[name], want, "{name}");
        }
        assert_eq!(listed["first_response_at"], "2026-11-23T09:00:00.123456Z");
        assert_eq!(listed["status"], "escalated");
        let args = crate::cli::cases::CasesArgs {
            csv: true,
            ..Default::default()
        };
        let mut out = Vec::new();
        crate::cli::cases::list(&cfg, &s, &args, at(12), &mut out).unwrap();
        let csv = String::from_utf8(out).unwrap();
        let row = csv.lines().nth(1).unwrap();
        assert!(
            row.starts_with(
                "CMP-00001-1,escalated,billing,normal,a@x.test,,s,2026-11-23T08:00:00.000000Z,2026-11-23T10:00:00.000000Z,2026-11-23T10:00:00.000000Z,2026-11-23T09:00:00.123456Z,,,,false,2026-11-23T10:00:00.000000Z,"
            ),
            "{csv}"
        );
        assert!(csv.starts_with("reference,"), "{csv}");
        assert!(csv
            .lines()
            .next()
            .unwrap()
            .ends_with(",erased_at,queue,brand"));
        assert!(row.ends_with(",default,default"), "{csv}");
    }

    #[test]
    fn cases_filter_and_show_queues_and_brands() {
        use crate::cli::cases::{filter, list, CasesArgs};
        use crate::report::queue_tests::{at, case, two_brands};
        let cfg = two_brands();
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("v.db")).unwrap();
        case(&mut s, "CMP-00001-1", 8, None, None);
        case(&mut s, "ACM-00002-2", 9, Some("billing"), Some("acme"));
        case(&mut s, "ACM-00003-3", 10, Some("shop"), Some("acme"));
        case(&mut s, "GLX-00004-4", 11, Some("help"), Some("globex"));
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
        // An unknown name is refused, naming the known ones.
        let refused = |args: CasesArgs| filter(&cfg, &args, at(12)).unwrap_err().to_string();
        let e = refused(CasesArgs {
            queue: Some("sales".into()),
            ..Default::default()
        });
        assert!(
            e.contains("--queue sales: no such queue; known: billing, shop, help"),
            "{e}"
        );
        let e = refused(CasesArgs {
            brand: Some("initech".into()),
            ..Default::default()
        });
        assert!(
            e.contains("--brand initech: no such brand; known: acme, globex"),
            "{e}"
        );

        let output = |cfg: &crate::config::Config, args: CasesArgs| {
            let mut out = Vec::new();
            list(cfg, &s, &args, at(12), &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        // The table has a queue column, and a brand one with several brands.
        let t = output(&cfg, CasesArgs::default());
        let header: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            &header[..6],
            [
                "REFERENCE",
                "STATUS",
                "CATEGORY",
                "PRIORITY",
                "QUEUE",
                "BRAND"
            ]
        );
        let row = |t: &str, r: &str| -> Vec<String> {
            t.lines()
                .find(|l| l.starts_with(r))
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        assert_eq!(row(&t, "CMP-00001-1")[4..6], ["billing", "acme"]);
        assert_eq!(row(&t, "GLX-00004-4")[4..6], ["help", "globex"]);
        assert!(t.ends_with("4 case(s)\n"), "{t}");
        let csv = output(
            &cfg,
            CasesArgs {
                csv: true,
                brand: Some("acme".into()),
                ..Default::default()
            },
        );
        let ends: Vec<String> = csv
            .lines()
            .skip(1)
            .map(|l| l.rsplitn(3, ',').take(2).collect::<Vec<_>>().join("<"))
            .collect();
        assert_eq!(ends, vec!["acme<shop", "acme<billing", "acme<billing"]);
        let json: serde_json::Value = serde_json::from_str(&output(
            &cfg,
            CasesArgs {
                json: true,
                queue: Some("billing".into()),
                ..Default::default()
            },
        ))
        .unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert_eq!(json[1]["reference"], "CMP-00001-1");
        assert_eq!(json[1]["queue"], "billing");
        assert_eq!(json[1]["brand"], "acme");

        // Without queues in the config the table is as before: no queue or brand column.
        let plain = crate::config::Config::from_toml(
            include_str!("../../../tests/fixtures/config/base.toml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let t = output(&plain, CasesArgs::default());
        let header: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header[4], "CUSTOMER", "{t}");
        assert!(!t.contains("QUEUE") && !t.contains("BRAND"), "{t}");
    }

    #[test]
    fn a_stored_value_that_does_not_parse_is_a_data_error_naming_its_column() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("v.db")).unwrap();
        case(&mut s, "CMP-00001-1", "a@x.test", at(8));
        for (column, value) in [
            ("status", "pending"),
            ("first_response_due", "tomorrow"),
            ("created_at", "2026-11-23 08:00"),
        ] {
            let old: String = s
                .as_sqlite()
                .expect("sqlite")
                .conn
                .query_row(&format!("SELECT {column} FROM cases"), [], |r| r.get(0))
                .unwrap();
            s.as_sqlite()
                .expect("sqlite")
                .conn
                .execute(&format!("UPDATE cases SET {column} = ?1"), [value])
                .unwrap();
            for e in [
                s.read().cases().unwrap_err(),
                s.read().case_view("CMP-00001-1").unwrap_err(),
                s.read()
                    .cases_opened(
                        at(0) - chrono::Duration::days(1),
                        at(23),
                        &Default::default(),
                    )
                    .map(|_| ())
                    .unwrap_err(),
            ] {
                match e {
                    StoreError::Data(m) => {
                        assert!(m.contains(&format!("cases.{column}")), "{m}");
                        assert!(m.contains(value), "{m}");
                    }
                    other => panic!("{column}: {other:?}"),
                }
            }
            s.as_sqlite()
                .expect("sqlite")
                .conn
                .execute(&format!("UPDATE cases SET {column} = ?1"), [old])
                .unwrap();
        }
        assert_eq!(s.read().cases().unwrap().len(), 1);
    }

    #[test]
    fn a_purged_case_is_listed_and_shown_as_purged() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("v.db")).unwrap();
        let id = case(&mut s, "CMP-00001-5", "a@x.test", at(8));
        // What retention leaves of a case: the figures, no personal data.
        s.as_sqlite().expect("sqlite").conn
            .execute(
                "UPDATE cases SET subject = '', customer_address = '', customer_name = NULL, purged_at = ?2 WHERE id = ?1",
                rusqlite::params![id, ts(at(9))],
            )
            .unwrap();
        let v = s.read().case_view("CMP-00001-5").unwrap().unwrap();
        assert_eq!(v.blanked(), Some("(purged)"));
        let cfg = crate::config::Config::from_toml(
            include_str!("../../../tests/fixtures/config/base.toml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let mut out = Vec::new();
        let args = crate::cli::cases::CasesArgs::default();
        crate::cli::cases::list(&cfg, &s, &args, at(12), &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        let row = table.lines().nth(1).unwrap();
        assert!(row.starts_with("CMP-00001-5"), "{table}");
        assert_eq!(
            row.matches("(purged)").count(),
            2,
            "customer and subject: {table}"
        );
        let mut out = Vec::new();
        let args = crate::cli::cases::CaseArgs {
            reference: "cmp-00001-5".into(),
            json: false,
            raw: None,
        };
        crate::cli::cases::show(&cfg, &s, &args, at(12), &mut out).unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert!(shown.starts_with("CMP-00001-5  (purged)"), "{shown}");
        assert!(
            shown.contains("personal data purged 2026-11-23 09:00:00"),
            "{shown}"
        );
    }
}
