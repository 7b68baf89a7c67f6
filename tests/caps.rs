//! Loop protection: the per-sender acknowledgment cap and the global circuit breaker.

mod common;

use std::time::Duration;

use common::*;
use mailcase::case::kinds::AuditEvent;
use mailcase::pipeline::{process_batch, Inbound, Outcome};

fn complaint(from: &str, n: u32) -> Inbound {
    Inbound {
        source: None,
        raw: format!(
            "From: Loop <{from}>\r\nTo: support@support.test\r\nSubject: complaint {n}\r\nMessage-ID: <loop{n}.{}@customer.test>\r\n\r\nbody {n}\r\n",
            rand_u32()
        )
        .into_bytes(),
    }
}

#[test]
fn a_fourth_complaint_in_an_hour_from_one_address_gets_no_acknowledgment() {
    let w = World::new("cap", "");
    let (engine, mut store) = w.engine_and_store();
    let who = w.customer("looper");
    let mut acked = 0;
    for n in 0..5 {
        let out = process_batch(&mut store, &engine, &[complaint(&who, n)]).unwrap();
        match &out[0] {
            Outcome::NewCase {
                acknowledged: true, ..
            } => acked += 1,
            Outcome::NewCase {
                acknowledged: false,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(acked, 3, "acknowledgment.per_sender_per_hour = 3");
    // Another sender is not affected.
    let out = process_batch(&mut store, &engine, &[complaint(&w.customer("other"), 9)]).unwrap();
    assert!(matches!(
        out[0],
        Outcome::NewCase {
            acknowledged: true,
            ..
        }
    ));
    let audit = store
        .read()
        .audit_of_case(Some(store.read().cases().unwrap()[1].id))
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.event == AuditEvent::AckSuppressed
                && a.detail.contains("per_sender_per_hour")),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_pauses_automatic_mail_and_keeps_it_queued() {
    let w = World::new("breaker", "");
    let text = std::fs::read_to_string(&w.config_path).unwrap().replace(
        "[outbox]\n",
        "[outbox]\nmax_automatic_per_minute = 2\nbreaker_cooldown = \"10m\"\n",
    );
    std::fs::write(&w.config_path, text).unwrap();
    {
        let (engine, mut store) = w.engine_and_store();
        let items: Vec<Inbound> = (0..5)
            .map(|n| complaint(&w.customer(&format!("b{n}")), n))
            .collect();
        process_batch(&mut store, &engine, &items).unwrap();
    }
    let d = w.start();
    wait_for("two sent", Duration::from_secs(30), || async {
        let o = w.store().read().counts().unwrap();
        (o.outbox_sent == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.stop().await;
    let c = w.store().read().counts().unwrap();
    assert_eq!(c.outbox_sent, 2, "only the breaker's budget went out");
    assert_eq!(c.outbox_pending, 3, "the rest stays queued, not dropped");
}
