//! A batch is one transaction: a message the store refuses is quarantined alone (with its
//! reason), and the rest of its batch still commits, each message once.

mod common;

use common::*;
use mailcase::pipeline::{process_batch, Inbound, Outcome};

fn complaint(from: &str, subject: &str) -> Inbound {
    Inbound {
        source: None,
        raw: format!(
            "From: Customer <{from}>\r\nTo: support@support.test\r\nSubject: {subject}\r\nMessage-ID: <{}.{subject}@customer.test>\r\n\r\nMy order never arrived.\r\n",
            rand_u32()
        )
        .into_bytes(),
    }
}

#[test]
fn a_message_the_store_refuses_is_quarantined_alone_and_the_rest_of_its_batch_commits() {
    let w = World::new("batch", "");
    let (engine, mut store) = w.engine_and_store();
    // The store refuses one message, as SQLite refuses a value: a permanent error, raised
    // after the case of that message was already inserted in the transaction.
    match &w.pg {
        Some(pg) => {
            let c = pg.target().connect().unwrap();
            mailcase::store::pg::wait(c.batch_execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF NEW.subject = 'poisoned' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF;
                   RETURN NEW;
                 END $$;
                 CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse();",
            ))
            .unwrap();
        }
        None => {
            let poison = rusqlite::Connection::open(w.db_path()).unwrap();
            poison
                .execute_batch(
                    "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.subject = 'poisoned'
                     BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END;",
                )
                .unwrap();
            drop(poison);
        }
    }

    let batch: Vec<Inbound> = ["first", "poisoned", "third"]
        .iter()
        .map(|s| complaint(&w.customer(s), s))
        .collect();
    let out = process_batch(&mut store, &engine, &batch).unwrap();

    assert!(matches!(out[0], Outcome::NewCase { .. }), "{:?}", out[0]);
    match &out[1] {
        Outcome::Quarantined { reason } => {
            assert!(reason.starts_with("could not be stored"), "{reason}");
            assert!(reason.contains("refused by a test trigger"), "{reason}");
        }
        other => panic!("the refused message: {other:?}"),
    }
    assert!(matches!(out[2], Outcome::NewCase { .. }), "{:?}", out[2]);

    // Its case was undone with it; the others are there once.
    let cases = store.read().cases().unwrap();
    let mut customers: Vec<&str> = cases.iter().map(|c| c.customer_address.as_str()).collect();
    customers.sort_unstable();
    assert_eq!(
        customers,
        [w.customer("first").as_str(), w.customer("third").as_str()]
    );
    let quarantined = store.read().quarantine().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert!(quarantined[0].1.contains("refused by a test trigger"));
    assert_eq!(quarantined[0].2, batch[1].raw.len() as i64);
    let counts = store.read().counts().unwrap();
    assert_eq!(counts.messages, 2, "one message row per stored complaint");

    // The same batch again (as after a crash before the move) adds nothing.
    let again = process_batch(&mut store, &engine, &[batch[0].clone(), batch[2].clone()]).unwrap();
    assert!(again.iter().all(|o| *o == Outcome::Duplicate), "{again:?}");
    assert_eq!(store.read().cases().unwrap().len(), 2);
}
