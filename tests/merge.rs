//! Merging two cases by mail (`#merge REF`) on the real Dovecot + Postfix: an agent answers
//! a case card with `#merge` and the other case's reference; what each customer and agent
//! received is read back from their Dovecot mailboxes, and what moved from the database.

mod common;

use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::case::kinds::{AuditEvent, MessageOutcome, ParticipantRole, Visibility};
use mailcase::case::Status;
use mailcase::parse::InboundMessage;
use mailcase::store::CaseRow;

/// Ann and Bob, the agents of these tests.
const AGENTS: &str = ANN_AND_BOB;

const WAIT: Duration = Duration::from_secs(60);

/// A test's world with its daemon running.
struct Desk {
    w: World,
    d: Option<Daemon>,
}

impl Desk {
    fn start(name: &str) -> Desk {
        let w = World::new(name, AGENTS);
        let d = w.start();
        Desk { w, d: Some(d) }
    }

    /// `customer` complains; returns the case, its acknowledgment and Ann's card of it.
    async fn complaint(
        &self,
        customer: &str,
        name: &str,
        subject: &str,
        body: &str,
    ) -> (CaseRow, InboundMessage, InboundMessage) {
        let id = self.w.send_complaint(customer, name, subject, body).await;
        let ack = wait_for("the acknowledgment", WAIT, || async {
            self.w
                .mailbox(customer, "INBOX")
                .await
                .into_iter()
                .find(|m| m.in_reply_to == vec![id.clone()])
        })
        .await;
        let case = wait_for("the new case", WAIT, || async {
            self.w
                .store()
                .read()
                .cases()
                .unwrap()
                .into_iter()
                .find(|c| c.subject == subject)
        })
        .await;
        assert!(ack.subject.contains(&case.reference), "{}", ack.subject);
        let card = self.card(&case).await;
        (case, ack, card)
    }

    /// Ann's card of a case.
    async fn card(&self, case: &CaseRow) -> InboundMessage {
        wait_for("the case card", WAIT, || async {
            self.w
                .mailbox(&self.w.ann, "INBOX")
                .await
                .into_iter()
                .find(|m| m.subject.contains(&case.reference) && m.text.contains("Answer by:"))
        })
        .await
    }

    /// Ann answers `parent` (a card or another agents' mail) through its reply address.
    async fn ann_answers(&self, parent: &InboundMessage, top: &str) {
        let raw = thunderbird_reply(&self.w.ann, "Ann Agent", parent, top);
        let to = parent.reply_to.as_ref().unwrap().address.clone();
        self.w.send_raw(&self.w.ann, &to, raw.as_bytes()).await;
    }

    /// Waits for the `n`th command-error mail to Ann and returns it.
    async fn nth_error(&self, n: usize) -> InboundMessage {
        wait_for(&format!("command error {n} to Ann"), WAIT, || async {
            let errors: Vec<InboundMessage> = self
                .w
                .mailbox(&self.w.ann, "INBOX")
                .await
                .into_iter()
                .filter(|m| m.subject.contains("Not sent"))
                .collect();
            errors.into_iter().nth(n - 1)
        })
        .await
    }

    fn case(&self, reference: &str) -> CaseRow {
        self.w
            .store()
            .read()
            .case_by_reference(reference)
            .unwrap()
            .unwrap()
    }

    fn audit(&self, case: &CaseRow) -> Vec<AuditEvent> {
        self.w
            .store()
            .read()
            .audit_of_case(Some(case.id))
            .unwrap()
            .into_iter()
            .map(|a| a.event)
            .collect()
    }

    /// `mailcase ARGS` against this world's database; its standard output.
    fn cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
            .arg("--config")
            .arg(&self.w.config_path)
            .args(args)
            .output()
            .expect("run mailcase");
        assert!(
            out.status.success(),
            "mailcase {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn stop(mut self) {
        if let Some(d) = self.d.take() {
            d.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cases_of_one_customer_merge_and_later_mail_to_the_old_case_joins_the_survivor() {
    let desk = Desk::start("merge_one");
    let jane = desk.w.customer("jane");
    let (a, ack_a, _) = desk
        .complaint(
            &jane,
            "Jane Doe",
            "Invoice charged twice",
            "My November invoice was charged twice.",
        )
        .await;
    let (b, ack_b, card_b) = desk
        .complaint(
            &jane,
            "Jane Doe",
            "Second payment not refunded",
            "The second payment is still on my card.",
        )
        .await;

    desk.ann_answers(
        &card_b,
        &format!(
            "#merge {}\r\nSame double charge as the other case.",
            a.reference
        ),
    )
    .await;

    // The customer hears it in the survivor's thread: a reply to A's acknowledgment, under
    // A's reference, naming B's reference as now handled as A.
    let mails = wait_mail(&desk.w, &jane, 3).await;
    let notice = &mails[2];
    assert!(
        notice.subject.contains(&format!("[{}]", a.reference)),
        "{}",
        notice.subject
    );
    assert_eq!(notice.in_reply_to, vec![ack_a.message_id.clone().unwrap()]);
    for needle in [
        b.reference.as_str(),
        a.reference.as_str(),
        "Second payment not refunded",
        "handle both together",
    ] {
        assert!(notice.text.contains(needle), "{needle}:\n{}", notice.text);
    }
    assert!(
        !notice.text.contains("Same double charge"),
        "the agent's note stays internal:\n{}",
        notice.text
    );
    let rt = notice.reply_to.as_ref().unwrap().address.to_lowercase();
    assert!(
        rt.contains(&format!("+c.{}.", a.reference.to_lowercase())),
        "{rt}"
    );

    // The agents got a notice in A's thread, with the note.
    let notice_to_agents = wait_for("the agents' merge notice", WAIT, || async {
        desk.w
            .mailbox(&desk.w.bob, "INBOX")
            .await
            .into_iter()
            .find(|m| m.text.contains("was merged into this case"))
    })
    .await;
    assert!(
        notice_to_agents
            .subject
            .contains(&format!("[{}]", a.reference)),
        "{}",
        notice_to_agents.subject
    );
    assert!(notice_to_agents.text.contains(&b.reference));
    assert!(notice_to_agents.text.contains("Same double charge"));

    // B is closed and names A; its messages and its customer moved to A, in arrival order,
    // with the agent's text as an internal note at the end.
    let b_now = desk.case(&b.reference);
    assert_eq!(b_now.status, Status::Closed);
    assert_eq!(b_now.merged_into, Some(a.id));
    let read = desk.w.store();
    assert!(read.read().messages_of_case(b.id).unwrap().is_empty());
    let msgs = read.read().messages_of_case(a.id).unwrap();
    let subjects: Vec<&str> = msgs.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(msgs.len(), 3, "{subjects:?}");
    assert_eq!(msgs[0].subject, "Invoice charged twice");
    assert_eq!(msgs[1].subject, "Second payment not refunded");
    assert_eq!(msgs[2].outcome, MessageOutcome::AgentNote);
    assert_eq!(msgs[2].visibility, Visibility::Internal);
    assert!(msgs
        .windows(2)
        .all(|w| w[0].received_at <= w[1].received_at));
    assert!(desk.audit(&b_now).contains(&AuditEvent::MergedInto));
    assert!(desk.audit(&a).contains(&AuditEvent::MergedFrom));
    assert!(
        read.read()
            .timers(Some(b.id))
            .unwrap()
            .iter()
            .all(|t| t.fired_at.is_some() || t.cancelled_at.is_some()),
        "the merged case has no timer left"
    );
    assert_eq!(
        desk.case(&a.reference).status,
        a.status,
        "A keeps its state"
    );

    // Jane answers B's old acknowledgment: the reply joins A.
    let raw = thunderbird_reply(
        &jane,
        "Jane Doe",
        &ack_b,
        "Here is the bank statement you may need.",
    );
    let to = ack_b.reply_to.as_ref().unwrap().address.clone();
    desk.w.send_raw(&jane, &to, raw.as_bytes()).await;
    wait_for("the reply on A", WAIT, || async {
        let m = desk.w.store().read().messages_of_case(a.id).unwrap();
        m.iter()
            .any(|m| m.body_text.contains("bank statement") && m.outcome == MessageOutcome::Joined)
            .then_some(())
    })
    .await;
    assert!(desk
        .w
        .store()
        .read()
        .messages_of_case(b.id)
        .unwrap()
        .is_empty());
    assert_eq!(
        desk.w.store().read().cases().unwrap().len(),
        2,
        "no new case"
    );

    // The CLI says where B went, and lists it closed.
    let shown = desk.cli(&["case", &b.reference]);
    assert!(
        shown.contains(&format!("MERGED into {}", a.reference)),
        "{shown}"
    );
    let preview = desk.cli(&[
        "template",
        "preview",
        "customer_merged",
        "--case",
        &a.reference,
    ]);
    assert!(preview.contains(&b.reference), "{preview}");
    let listed = desk.cli(&["cases"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&b.reference))
        .unwrap();
    assert!(line.contains("closed MERGED into"), "{line}");
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_of_two_customers_merge_only_when_confirmed_and_each_hears_only_of_their_own() {
    let desk = Desk::start("merge_two");
    let jane = desk.w.customer("jane");
    let max = desk.w.customer("max");
    let (a, _, _) = desk
        .complaint(
            &jane,
            "Jane Doe",
            "Invoice charged twice",
            "JANE-PRIVATE: my account 4711 was charged twice.",
        )
        .await;
    let (b, ack_b, card_b) = desk
        .complaint(
            &max,
            "Max Muster",
            "Parcel never arrived",
            "MAX-PRIVATE: parcel to Hauptstrasse 5 is lost.",
        )
        .await;

    // Without confirm: rejected, nothing changes, Ann is told both customers and how.
    desk.ann_answers(&card_b, &format!("#merge {}", a.reference))
        .await;
    let error = desk.nth_error(1).await;
    for needle in [
        jane.as_str(),
        max.as_str(),
        &format!("#merge {} confirm", a.reference),
    ] {
        assert!(error.text.contains(needle), "{needle}:\n{}", error.text);
    }
    let b_now = desk.case(&b.reference);
    assert_eq!(b_now.merged_into, None);
    assert_ne!(b_now.status, Status::Closed);
    assert_eq!(wait_mail(&desk.w, &jane, 1).await.len(), 1);

    // With confirm: merged.
    desk.ann_answers(
        &card_b,
        &format!(
            "#merge {} confirm\r\nBoth are about the warehouse outage.",
            a.reference
        ),
    )
    .await;
    let jane_mail = wait_mail(&desk.w, &jane, 2).await;
    let max_mail = wait_mail(&desk.w, &max, 2).await;
    let (to_jane, to_max) = (&jane_mail[1], &max_mail[1]);
    for m in [to_jane, to_max] {
        assert!(
            m.subject.contains(&format!("[{}]", a.reference)),
            "{}",
            m.subject
        );
        assert!(!m.text.contains("warehouse outage"), "{}", m.text);
        let rt = m.reply_to.as_ref().unwrap().address.to_lowercase();
        assert!(
            rt.contains(&format!("+c.{}.", a.reference.to_lowercase())),
            "{rt}"
        );
    }
    // Jane: her own case, nothing of Max's.
    assert!(to_jane.text.contains("Invoice charged twice"));
    for secret in [
        max.as_str(),
        "Max",
        "MAX-PRIVATE",
        "Parcel never arrived",
        b.reference.as_str(),
    ] {
        assert!(
            !to_jane.text.contains(secret) && !to_jane.subject.contains(secret),
            "Jane sees {secret}:\n{}\n{}",
            to_jane.subject,
            to_jane.text
        );
    }
    // Max: his request under its old reference, handled as A, in his own thread; nothing
    // of Jane's.
    assert_eq!(to_max.in_reply_to, vec![ack_b.message_id.clone().unwrap()]);
    assert!(to_max.text.contains(&b.reference), "{}", to_max.text);
    assert!(to_max.subject.contains("Parcel never arrived"));
    for secret in [
        jane.as_str(),
        "Jane",
        "JANE-PRIVATE",
        "Invoice charged twice",
    ] {
        assert!(
            !to_max.text.contains(secret) && !to_max.subject.contains(secret),
            "Max sees {secret}:\n{}\n{}",
            to_max.subject,
            to_max.text
        );
    }
    let raw_max = read_raw(&max, "INBOX", &desk.w.env).await;
    let raw_max = String::from_utf8_lossy(&raw_max[1]);
    assert!(
        !raw_max.contains(&jane) && !raw_max.contains("JANE-PRIVATE"),
        "{raw_max}"
    );

    // Max takes part in A as cc; A stays Jane's.
    let b_now = desk.case(&b.reference);
    assert_eq!(b_now.merged_into, Some(a.id));
    let a_now = desk.case(&a.reference);
    assert_eq!(a_now.customer_address, jane);
    let parts = desk.w.store().participants(a.id).unwrap();
    assert!(parts
        .iter()
        .any(|(addr, role, _)| *addr == max && *role == ParticipantRole::Cc));
    // ...without copies of Jane's mail: an answer on A reaches Jane and not Max.
    // (Ann answers the latest mail of A, the merge notice: an answer to the older card
    // would be held by the collision guard.)
    let latest = wait_for("the merge notice to Ann", WAIT, || async {
        desk.w
            .mailbox(&desk.w.ann, "INBOX")
            .await
            .into_iter()
            .find(|m| m.text.contains("was merged into this case"))
    })
    .await;
    desk.ann_answers(&latest, "ANSWER-TO-JANE: the refund is on its way.")
        .await;
    let jane_mail = wait_mail(&desk.w, &jane, 3).await;
    assert!(jane_mail[2].text.contains("ANSWER-TO-JANE"));
    assert!(jane_mail[2].cc.is_empty(), "{:?}", jane_mail[2].cc);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let max_mail = desk.w.mailbox(&max, "INBOX").await;
    assert_eq!(max_mail.len(), 2, "Max got nothing of Jane's");
    assert!(max_mail.iter().all(|m| !m.text.contains("ANSWER-TO-JANE")));
    assert!(parts
        .iter()
        .any(|(addr, role, _)| *addr == jane && *role == ParticipantRole::Customer));
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_merges_are_rejected_and_change_nothing() {
    let desk = Desk::start("merge_bad");
    let jane = desk.w.customer("jane");
    let tom = desk.w.customer("tom");
    let (a, _, card_a) = desk
        .complaint(&jane, "Jane Doe", "Login fails", "I cannot log in.")
        .await;
    let (b, _, card_b) = desk
        .complaint(&jane, "Jane Doe", "Login fails again", "Still no login.")
        .await;
    let (d, _, card_d) = desk
        .complaint(&tom, "Tom", "Wrong colour", "The shirt is red, not blue.")
        .await;

    // Into itself.
    desk.ann_answers(&card_a, &format!("#merge {}", a.reference))
        .await;
    let e = desk.nth_error(1).await;
    assert!(e.text.contains("is this case"), "{}", e.text);

    // Into a case that does not exist (a mistyped check symbol gets the nearest one).
    let mut typo = a.reference.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'X' { 'Y' } else { 'X' });
    desk.ann_answers(&card_b, &format!("#merge {typo}")).await;
    let e = desk.nth_error(2).await;
    assert!(e.text.contains("did you mean"), "{}", e.text);

    // Into a closed case: Tom's case resolved and closed by his thanks.
    desk.ann_answers(&card_d, "#resolve\r\nWe sent a blue one.")
        .await;
    let resolved = wait_mail(&desk.w, &tom, 2).await.remove(1);
    let thanks = thunderbird_reply(&tom, "Tom", &resolved, "Thanks, solved!");
    let to = resolved.reply_to.as_ref().unwrap().address.clone();
    desk.w.send_raw(&tom, &to, thanks.as_bytes()).await;
    wait_for("D closed", WAIT, || async {
        (desk.case(&d.reference).status == Status::Closed).then_some(())
    })
    .await;
    desk.ann_answers(&card_b, &format!("#merge {} confirm", d.reference))
        .await;
    let e = desk.nth_error(3).await;
    assert!(e.text.contains("is closed"), "{}", e.text);

    // A real merge, B into A; then A into B would be a loop, and a `#merge` through B's
    // old agent address reaches A and is refused as meant for the merged case.
    desk.ann_answers(&card_b, &format!("#merge {}", a.reference))
        .await;
    wait_for("B merged", WAIT, || async {
        (desk.case(&b.reference).merged_into == Some(a.id)).then_some(())
    })
    .await;
    desk.ann_answers(&card_a, &format!("#merge {}", b.reference))
        .await;
    let e = desk.nth_error(4).await;
    assert!(e.text.contains("would make a loop"), "{}", e.text);
    assert!(e.subject.contains(&a.reference), "{}", e.subject);
    desk.ann_answers(&card_b, &format!("#merge {} confirm", d.reference))
        .await;
    let e = desk.nth_error(5).await;
    assert!(e.text.contains("already merged into"), "{}", e.text);

    // A third case of Jane's merged into B gets pointed at B's survivor.
    let (c, _, card_c) = desk
        .complaint(&jane, "Jane Doe", "Password reset", "No reset mail.")
        .await;
    desk.ann_answers(&card_c, &format!("#merge {}", b.reference))
        .await;
    let e = desk.nth_error(6).await;
    assert!(
        e.text
            .contains(&format!("was itself merged into {}", a.reference)),
        "{}",
        e.text
    );

    // Into an erased case: Tom asked to be erased.
    desk.cli(&["erase", "--customer", &tom]);
    desk.ann_answers(&card_c, &format!("#merge {} confirm", d.reference))
        .await;
    let e = desk.nth_error(7).await;
    assert!(e.text.contains("purged or erased"), "{}", e.text);

    // Nothing changed by the refused ones: A and C open and unmerged, D closed, no
    // message moved out of C or D.
    let a_now = desk.case(&a.reference);
    assert_eq!(a_now.merged_into, None);
    assert_ne!(a_now.status, Status::Closed);
    let c_now = desk.case(&c.reference);
    assert_eq!(c_now.merged_into, None);
    assert_ne!(c_now.status, Status::Closed);
    assert_eq!(desk.case(&d.reference).merged_into, None);
    let read = desk.w.store();
    assert!(read
        .read()
        .messages_of_case(c.id)
        .unwrap()
        .iter()
        .any(|m| m.outcome == MessageOutcome::CommandRejected));
    assert!(!read.read().messages_of_case(d.id).unwrap().is_empty());
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_case_is_purged_alone_and_erasing_its_customer_reaches_the_moved_mail() {
    let desk = Desk::start("merge_records");
    let jane = desk.w.customer("jane");
    let max = desk.w.customer("max");
    let (a, _, _) = desk
        .complaint(
            &jane,
            "Jane Doe",
            "Invoice charged twice",
            "JANE-PRIVATE: charged twice.",
        )
        .await;
    let (b, _, card_b) = desk
        .complaint(
            &max,
            "Max Muster",
            "Parcel never arrived",
            "MAX-PRIVATE: parcel lost.",
        )
        .await;
    desk.ann_answers(&card_b, &format!("#merge {} confirm", a.reference))
        .await;
    wait_for("B merged", WAIT, || async {
        (desk.case(&b.reference).merged_into == Some(a.id)).then_some(())
    })
    .await;
    let text_on_a = |needle: &str| {
        desk.w
            .store()
            .read()
            .messages_of_case(a.id)
            .unwrap()
            .iter()
            .any(|m| m.body_text.contains(needle))
    };

    // Years later: B, closed by the merge, is purged; A is open and keeps every message,
    // those moved from B too.
    let now = mailcase::clock::Clock::now(&mailcase::clock::SystemClock);
    let later = (now + chrono::Duration::days(3000)).to_rfc3339();
    desk.cli(&["purge", "--at", &later]);
    let read = desk.w.store();
    assert!(
        read.read().scrubbed_at(b.id).unwrap().0.is_some(),
        "B purged"
    );
    assert!(read.read().scrubbed_at(a.id).unwrap().0.is_none(), "A kept");
    assert!(text_on_a("MAX-PRIVATE") && text_on_a("JANE-PRIVATE"));

    // Max asks to be erased: his mail on Jane's case goes, Jane's stays.
    desk.cli(&["erase", "--customer", &max]);
    assert!(!text_on_a("MAX-PRIVATE"), "Max's moved complaint erased");
    assert!(text_on_a("JANE-PRIVATE"), "Jane's own complaint kept");
    assert!(!desk
        .w
        .store()
        .participants(a.id)
        .unwrap()
        .iter()
        .any(|(addr, _, _)| *addr == max));
    if desk.w.pg.is_some() {
        let left = mailcase::store::trace_left(&desk.w.config(), &["MAX-PRIVATE".into()]);
        assert_eq!(left.unwrap(), None);
    } else {
        let db = std::fs::read(desk.w.db_path()).unwrap();
        assert!(!String::from_utf8_lossy(&db).contains("MAX-PRIVATE"));
    }
    assert_eq!(desk.case(&a.reference).customer_address, jane);
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_the_merged_customer_scrubs_everything_that_moved_from_their_case() {
    let desk = Desk::start("merge_erase");
    let jane = desk.w.customer("jane");
    let max = desk.w.customer("max");
    let (a, _, _) = desk
        .complaint(&jane, "Jane Doe", "Invoice charged twice", "JANE-PRIVATE")
        .await;
    let (b, _, card_b) = desk
        .complaint(&max, "Max Muster", "Parcel never arrived", "MAX-PRIVATE")
        .await;
    // Ann answers Max on B first: her answer is B's mail too.
    desk.ann_answers(&card_b, "ANSWER-TO-MAX: we are tracing the parcel.")
        .await;
    wait_mail(&desk.w, &max, 2).await;
    desk.ann_answers(&card_b, &format!("#merge {} confirm", a.reference))
        .await;
    wait_for("B merged", WAIT, || async {
        (desk.case(&b.reference).merged_into == Some(a.id)).then_some(())
    })
    .await;
    desk.cli(&["erase", "--customer", &max]);
    let msgs = desk.w.store().read().messages_of_case(a.id).unwrap();
    let texts: Vec<&str> = msgs.iter().map(|m| m.body_text.as_str()).collect();
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("MAX-PRIVATE") || t.contains("ANSWER-TO-MAX")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("JANE-PRIVATE")),
        "{texts:?}"
    );
    assert!(desk.w.store().read().scrubbed_at(b.id).unwrap().1.is_some());
    assert!(desk.w.store().read().scrubbed_at(a.id).unwrap().1.is_none());
    desk.stop().await;
}

/// The `lang` of a raw message's HTML part.
fn html_lang(raw: &[u8]) -> Option<String> {
    let html = html_of(raw);
    let at = html.find("lang=\"")? + 6;
    Some(html[at..].chars().take_while(|c| *c != '"').collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_customer_of_a_two_customer_merge_is_told_in_their_own_language() {
    let desk = Desk::start("merge_langs");
    let jane = desk.w.customer("jane");
    let max = desk.w.customer("max");
    let (a, _, _) = desk
        .complaint(
            &jane,
            "Jane Doe",
            "Invoice charged twice",
            "My account 4711 was charged twice for the same invoice this month.",
        )
        .await;
    let (b, _, card_b) = desk
        .complaint(
            &max,
            "Max Muster",
            "Paket nie angekommen",
            "Mein Paket an die Hauptstraße 5 ist seit drei Wochen verschwunden und niemand hilft mir.",
        )
        .await;
    assert_eq!(desk.case(&a.reference).language.as_deref(), Some("en"));
    assert_eq!(desk.case(&b.reference).language.as_deref(), Some("de"));
    desk.ann_answers(&card_b, &format!("#merge {} confirm", a.reference))
        .await;
    wait_mail(&desk.w, &jane, 2).await;
    wait_mail(&desk.w, &max, 2).await;
    let jane_raw = read_raw(&jane, "INBOX", &desk.w.env).await;
    let max_raw = read_raw(&max, "INBOX", &desk.w.env).await;
    // The merge notices: Jane's in English, Max's in German, though the survivor is Jane's.
    assert_eq!(html_lang(&jane_raw[1]).as_deref(), Some("en"));
    assert_eq!(html_lang(&max_raw[1]).as_deref(), Some("de"));
}
