//! Several mailboxes, addresses and brands in one daemon, on the real Dovecot + Postfix
//! (docs/design.md, "Mailboxes, queues and brands").
//!
//! Two mailboxes and three addresses customers write to, for two brands:
//! - mailbox `acme` (`acme<id>@`): queue `support` at `acme<id>@` and queue `billing` at
//!   `acme<id>--billing@`, an alias that lands in the same mailbox; brand Acme (prefix ACM,
//!   its own acknowledgment template and signature; agents Ann and Cat);
//! - mailbox `blue` (`blue<id>@`, an address no customer writes to): queue `help` at
//!   `blue<id>--help@`, an alias into it; brand Blue Help (prefix BLU, New York calendar,
//!   four business hours for normal complaints; agent Bob);
//! - mailbox `broken`, whose password is wrong: the others go on, and `check` says so;
//! - two SMTP accounts: Acme's mail leaves through the relay port, Blue's through the
//!   submission port logged in as Blue.
//!
//! What each customer and agent received, and from which address, is read back from Dovecot.

mod common;

use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::parse::InboundMessage;

struct Brands {
    w: World,
    acme: String,
    billing: String,
    blue: String,
    help: String,
    cat: String,
}

/// A world whose config reads three mailboxes and names two brands and three queues.
fn brands(name: &str) -> Brands {
    let id = short_id();
    let acme = format!("acme{id}@support.test");
    let billing = format!("acme{id}--billing@support.test");
    let blue = format!("blue{id}@support.test");
    let help = format!("blue{id}--help@support.test");
    let cat = format!("cat-{id}@support.test");
    let w = World::new(name, "");
    let overlay = w.dir.path().join("acme-templates");
    std::fs::create_dir(&overlay).unwrap();
    // Acme's own acknowledgment (text part only: the HTML part stays the shipped one).
    std::fs::write(
        overlay.join("acknowledgment.txt.tera"),
        "Hello {{ customer_name }},\n\nAcme here: your case is {{ reference }}, and we answer \
         {{ promise }}.\n\n{{ support_name }}{% if signature %}\n{{ signature }}{% endif %}\n",
    )
    .unwrap();
    std::fs::write(w.dir.path().join("wrong-password"), "not-the-password\n").unwrap();
    let text = std::fs::read_to_string(&w.config_path).unwrap();
    let start = text.find("[mailbox]").unwrap();
    let mailbox = |name: &str, user: &str, password: &str, extra: &str| {
        format!(
            "[[mailbox]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"plain\"\n\
             user = \"{user}\"\npassword_file = \"{password}\"\npoll_interval = \"5s\"\n\
             timeout = \"20s\"\n{extra}\n",
            port = w.env.imap_port
        )
    };
    let mailboxes = mailbox("acme", &acme, "imap-password", "")
        + &mailbox("blue", &blue, "imap-password", "default_queue = \"help\"")
        + &mailbox(
            "broken",
            &format!("broken{id}@support.test"),
            "wrong-password",
            "",
        );
    let rest = format!(
        r#"
[[agents.members]]
address = "{ann}"
name = "Ann Agent"

[[agents.members]]
address = "{bob}"
name = "Bob Agent"

[[agents.members]]
address = "{cat}"
name = "Cat Agent"

[[brand]]
name = "acme"
display_name = "Acme Support"
reference_prefix = "ACM"
templates = "acme-templates"
signature = "Acme Support · +1 555 0100"
agents = ["{ann}", "{cat}"]

[[brand]]
name = "blue"
display_name = "Blue Help"
reference_prefix = "BLU"
signature = "Blue Help · help.blue.test"
smtp = "blue"
agents = ["{bob}"]
[brand.calendar]
timezone = "America/New_York"
[[brand.service_levels]]
priority = "normal"
first_response = "4h"

[[queue]]
name = "support"
brand = "acme"
addresses = ["{acme}"]
agents = ["{ann}"]

[[queue]]
name = "billing"
brand = "acme"
addresses = ["{billing}"]
agents = ["{cat}"]

[[queue]]
name = "help"
brand = "blue"
addresses = ["{help}"]
"#,
        ann = w.ann,
        bob = w.bob,
    );
    // Two SMTP accounts: Acme's mail through the plain relay port, Blue's through the
    // submission port, logged in as Blue's mailbox.
    let smtp = format!(
        "[[smtp]]\nname = \"relay\"\nhost = \"127.0.0.1\"\nport = {relay}\ntls = \"plain\"\n\
         connections = 2\ntimeout = \"10s\"\n\n[[smtp]]\nname = \"blue\"\nhost = \"127.0.0.1\"\n\
         port = {submission}\ntls = \"plain\"\nuser = \"{blue}\"\npassword_file = \"imap-password\"\n\
         timeout = \"10s\"\n\n",
        relay = w.env.smtp_port,
        submission = w.env.submission_port,
    );
    let smtp_start = text.find("[smtp]").unwrap();
    let smtp_end = text.find("[support]").unwrap();
    let text = format!("{}{smtp}{}", &text[..smtp_start], &text[smtp_end..]);
    let end = text.find("[[smtp]]").unwrap();
    let text = format!("{}{mailboxes}{}{rest}", &text[..start], &text[end..]).replace(
        &format!("address = \"{}\"", w.support),
        &format!("address = \"{acme}\""),
    );
    std::fs::write(&w.config_path, text).unwrap();
    Brands {
        w,
        acme,
        billing,
        blue,
        help,
        cat,
    }
}

/// Mails a complaint from `from` (To `to`, Cc `cc`) through Postfix to the envelope
/// recipients `rcpts`, as a customer's server would.
async fn complain(
    w: &World,
    from: &str,
    rcpts: &[&str],
    to: &str,
    cc: Option<&str>,
    subject: &str,
    body: &str,
) {
    use lettre::AsyncTransport;
    let cc = cc.map(|c| format!("Cc: {c}\r\n")).unwrap_or_default();
    let raw = format!(
        "From: Customer <{from}>\r\nTo: {to}\r\n{cc}Subject: {subject}\r\nMessage-ID: <{id}@customer.test>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        id = unique("c"),
    );
    let t = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(w.env.smtp_port)
        .build();
    let env = lettre::address::Envelope::new(
        Some(from.parse().unwrap()),
        rcpts.iter().map(|r| r.parse().unwrap()).collect(),
    )
    .unwrap();
    t.send_raw(&env, raw.as_bytes())
        .await
        .expect("postfix accepts the complaint");
}

/// Runs the mailcase binary with `args` and this world's config.
fn mailcase(w: &World, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .args(args)
        .arg("--config")
        .arg(&w.config_path)
        .output()
        .unwrap()
}

fn from_of(m: &InboundMessage) -> String {
    m.from
        .as_ref()
        .map(|f| f.address.clone())
        .unwrap_or_default()
}

fn reply_to_of(m: &InboundMessage) -> String {
    m.reply_to
        .as_ref()
        .map(|f| f.address.clone())
        .unwrap_or_default()
}

async fn wait_inbox_empty(w: &World, user: &str) {
    wait_for(
        &format!("an empty INBOX of {user}"),
        Duration::from_secs(60),
        || async {
            read_raw(user, "INBOX", &w.env)
                .await
                .is_empty()
                .then_some(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_customer_is_answered_by_the_brand_and_from_the_address_they_wrote_to() {
    let b = brands("brands_answer");
    let w = &b.w;
    let d = w.start();

    // Acme's support address: Acme's template, signature, prefix; from support@.
    let alice = w.customer("alice");
    complain(
        w,
        &alice,
        &[&b.acme],
        &b.acme,
        None,
        "Broken blender",
        "My blender stopped working.",
    )
    .await;
    // Acme's billing alias, delivered into the same mailbox: answered from billing@.
    let bert = w.customer("bert");
    complain(
        w,
        &bert,
        &[&b.billing],
        &b.billing,
        None,
        "Charged twice",
        "I was charged twice for my invoice.",
    )
    .await;
    // Blue's address, another mailbox and brand.
    let carol = w.customer("carol");
    complain(
        w,
        &carol,
        &[&b.help],
        &b.help,
        None,
        "Question",
        "How do I change my password?",
    )
    .await;

    let ack = w.wait_for_acks(&alice).await.remove(0);
    assert_eq!(from_of(&ack), b.acme);
    assert_eq!(
        ack.from.as_ref().unwrap().name.as_deref(),
        Some("Acme Support")
    );
    assert!(ack.subject.contains("[ACM-"), "{}", ack.subject);
    assert!(
        ack.text.contains("Acme here: your case is ACM-"),
        "{}",
        ack.text
    );
    assert!(
        ack.text.contains("Acme Support · +1 555 0100"),
        "{}",
        ack.text
    );
    assert!(reply_to_of(&ack).starts_with(&format!("{}+", b.acme.split('@').next().unwrap())));
    let case = w.case_of(&alice);
    assert_eq!(case.queue.as_deref(), Some("support"));
    assert_eq!(case.brand.as_deref(), Some("acme"));
    assert!(case.reference.starts_with("ACM-"), "{}", case.reference);

    let ack = w.wait_for_acks(&bert).await.remove(0);
    assert_eq!(
        from_of(&ack),
        b.billing,
        "answered from the address written to"
    );
    let billing_local = b.billing.split('@').next().unwrap();
    assert!(
        reply_to_of(&ack).starts_with(&format!("{billing_local}+")),
        "{}",
        reply_to_of(&ack)
    );
    assert_eq!(w.case_of(&bert).queue.as_deref(), Some("billing"));

    let ack = w.wait_for_acks(&carol).await.remove(0);
    assert_eq!(from_of(&ack), b.help);
    assert_eq!(
        ack.from.as_ref().unwrap().name.as_deref(),
        Some("Blue Help")
    );
    assert!(ack.subject.contains("[BLU-"), "{}", ack.subject);
    // Blue's own (shipped) template, with Blue's signature and none of Acme's words.
    assert!(
        ack.text.contains("Blue Help · help.blue.test"),
        "{}",
        ack.text
    );
    assert!(!ack.text.contains("Acme"), "{}", ack.text);
    let case = w.case_of(&carol);
    assert_eq!(case.queue.as_deref(), Some("help"));
    // Blue's service level on Blue's calendar: four business hours in New York.
    let cfg = w.config().for_queue("help");
    let cal = mailcase::business_time::BusinessCalendar::from_config(&cfg.calendar);
    let level = mailcase::case::service_level::ServiceLevel::of(&cfg, &cal, "normal").unwrap();
    assert_eq!(
        case.first_response_due,
        Some(level.first_response_due(case.created_at))
    );
    assert_ne!(
        case.first_response_due,
        Some({
            let acme = w.config().for_queue("support");
            let cal = mailcase::business_time::BusinessCalendar::from_config(&acme.calendar);
            mailcase::case::service_level::ServiceLevel::of(&acme, &cal, "normal")
                .unwrap()
                .first_response_due(case.created_at)
        }),
        "Acme's one business day in Berlin would be another time"
    );

    // Blue's mail left through Blue's own SMTP account (the submission port, logged in),
    // Acme's through the relay.
    let received = |raw: &[u8]| {
        String::from_utf8_lossy(raw)
            .lines()
            .filter(|l| l.contains("with ESMTP"))
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    // (RFC 3848: ESMTPA is an authenticated session, ESMTPSA one with TLS as well.)
    let authenticated = |r: &str| r.contains("with ESMTPA") || r.contains("with ESMTPSA");
    let carol_raw = read_raw(&carol, "INBOX", &w.env).await.remove(0);
    assert!(
        authenticated(&received(&carol_raw)),
        "{}",
        received(&carol_raw)
    );
    let alice_raw = read_raw(&alice, "INBOX", &w.env).await.remove(0);
    assert!(
        !authenticated(&received(&alice_raw)),
        "{}",
        received(&alice_raw)
    );

    // Each queue's agents get its cards: Ann support's, Cat billing's, Bob blue's.
    // (Each waits for its card, then, a while later, none has a second.)
    for agent in [&w.ann, &b.cat, &w.bob] {
        wait_mail(w, agent, 1).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ann = w.mailbox(&w.ann, "INBOX").await.len();
    let cat = w.mailbox(&b.cat, "INBOX").await.len();
    let bob_mail = w.mailbox(&w.bob, "INBOX").await;
    assert_eq!((ann, cat, bob_mail.len()), (1, 1, 1));
    assert!(
        bob_mail[0].subject.contains("BLU-"),
        "{}",
        bob_mail[0].subject
    );
    // The card says the queue, the brand and the address the customer wrote to.
    let ann_card = w.mailbox(&w.ann, "INBOX").await.remove(0);
    assert!(
        ann_card.text.contains(&format!(
            "Queue:      support (brand acme), written to {}",
            b.acme
        )),
        "{}",
        ann_card.text
    );
    assert!(
        ann_card.text.contains("Queues:     support, billing, help"),
        "{}",
        ann_card.text
    );
    // And `mailcase case` too.
    let out = mailcase(w, &["case", &w.case_of(&bert).reference]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!(
            "queue billing  brand acme  answers from {}",
            b.billing
        )),
        "{shown}"
    );
    // `template preview` writes as the case's brand does.
    let reference = w.case_of(&carol).reference;
    let out = mailcase(
        w,
        &[
            "template",
            "preview",
            "acknowledgment",
            "--case",
            &reference,
        ],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Blue Help · help.blue.test"), "{shown}");
    assert!(!shown.contains("Acme"), "{shown}");
    // Each mailbox that logged in holds a lease of its own; the broken one never got that far
    // and never stopped the others (its failure is logged and retried).
    let mut leases: Vec<String> = w
        .store()
        .read()
        .leases()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .filter(|n| n != mailcase::scheduler::SCHEDULER_LEASE)
        .collect();
    leases.sort();
    let key = |user: &str| format!("{user}@127.0.0.1:{}/INBOX", w.env.imap_port);
    assert_eq!(leases, vec![key(&b.acme), key(&b.blue)]);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_to_two_of_our_addresses_is_one_case_and_a_bcc_goes_to_the_default_queue() {
    let b = brands("brands_once");
    let w = &b.w;
    let d = w.start();

    // To Blue, Cc Acme's billing alias: a copy in each mailbox. One case, in the queue of
    // the To address, answered once, from it.
    let dave = w.customer("dave");
    complain(
        w,
        &dave,
        &[&b.help, &b.billing],
        &b.help,
        Some(&b.billing),
        "Where is my parcel",
        "It never came.",
    )
    .await;
    let acks = w.wait_for_acks(&dave).await;
    wait_inbox_empty(w, &b.acme).await;
    wait_inbox_empty(w, &b.blue).await;
    // Both copies were read (each mailbox's INBOX is empty), and one was a duplicate.
    wait_for(
        "the second copy recorded",
        Duration::from_secs(30),
        || async {
            let s = w.store();
            let audit = s.read().audit_of_case(None).unwrap();
            audit
                .iter()
                .any(|a| a.event == mailcase::case::kinds::AuditEvent::DuplicateIgnored)
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cases: Vec<_> = w
        .store()
        .read()
        .cases()
        .unwrap()
        .into_iter()
        .filter(|c| c.customer_address == dave)
        .collect();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0].queue.as_deref(), Some("help"));
    let acks_now = w.mailbox(&dave, "INBOX").await;
    assert_eq!(acks_now.len(), 1, "one acknowledgment");
    assert_eq!(from_of(&acks[0]), b.help);
    // Blue's agent is told the customer also wrote to Acme's billing address.
    let card = wait_mail(w, &w.bob, 1).await.remove(0);
    assert!(
        card.text.contains(&format!(
            "Also sent:  {} (queue billing): one case, in this queue",
            b.billing
        )),
        "{}",
        card.text
    );

    // A Bcc to Blue's mailbox itself (To names nobody of ours): Blue's default queue,
    // answered from Blue's reply address.
    let erin = w.customer("erin");
    complain(
        w,
        &erin,
        &[&b.blue],
        "newsletter-readers@customer.test",
        None,
        "Login",
        "I cannot log in.",
    )
    .await;
    let ack = w.wait_for_acks(&erin).await.remove(0);
    let case = w.case_of(&erin);
    assert_eq!(case.queue.as_deref(), Some("help"));
    assert_eq!(case.our_address, None, "none of our addresses was named");
    assert_eq!(from_of(&ack), b.help, "the brand's reply address");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_moves_a_case_to_another_queue_and_the_thread_goes_on() {
    let b = brands("brands_move");
    let w = &b.w;
    let d = w.start();
    let fay = w.customer("fay");
    complain(
        w,
        &fay,
        &[&b.acme],
        &b.acme,
        None,
        "Refund please",
        "Please refund my last order.",
    )
    .await;
    let ack = w.wait_for_acks(&fay).await.remove(0);
    let card = wait_mail(w, &w.ann, 1).await.remove(0);
    let reference = w.case_of(&fay).reference;

    // A queue that does not exist: refused, naming the queues.
    let bad = thunderbird_reply(&w.ann, "Ann Agent", &card, "#queue refunds\r\nFor billing.");
    w.send_raw(&w.ann, &reply_to_of(&card), bad.as_bytes())
        .await;
    let err = wait_mail(w, &w.ann, 2).await.remove(1);
    assert!(
        err.text
            .contains("#queue refunds: no such queue; use one of support, billing, help"),
        "{}",
        err.text
    );
    assert_eq!(w.case_of(&fay).queue.as_deref(), Some("support"));

    // Ann moves it to billing with an answer.
    let good = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &err,
        "#queue billing\r\nHello Fay, our billing team takes over your refund.",
    );
    w.send_raw(&w.ann, &reply_to_of(&err), good.as_bytes())
        .await;
    let moved_card = wait_mail_where(w, &b.cat, "the card for billing", |m| {
        m.text
            .contains("Moved here from queue support, by Ann Agent")
    })
    .await;
    assert!(
        moved_card.subject.contains(&reference),
        "{}",
        moved_card.subject
    );
    assert!(
        moved_card
            .text
            .starts_with(&format!("Case {reference} moved to queue billing:")),
        "{}",
        moved_card.text
    );
    // Ann's answer went with the move: no first-response target is left to show.
    assert!(
        !moved_card.text.contains("Answer by:"),
        "{}",
        moved_card.text
    );
    // Billing answers from its own address now, which Fay never wrote to: not "written to".
    assert!(
        moved_card
            .text
            .contains("Queue:      billing (brand acme)\n"),
        "{}",
        moved_card.text
    );
    assert!(
        moved_card.text.contains("Please refund my last order."),
        "{}",
        moved_card.text
    );
    let case = w.case_of(&fay);
    assert_eq!(case.queue.as_deref(), Some("billing"));
    assert_eq!(case.brand.as_deref(), Some("acme"));
    assert_eq!(case.reference, reference, "the same case");
    // The customer's answer comes from the new queue's address, in the same thread.
    let answer = wait_mail_where(w, &fay, "Ann's answer", |m| {
        m.text.contains("billing team takes over")
    })
    .await;
    assert_eq!(from_of(&answer), b.billing);
    assert!(answer.subject.contains(&reference), "{}", answer.subject);
    assert!(answer.references.contains(ack.message_id.as_ref().unwrap()));

    // Fay answers: her reply joins the case, and billing's agent (Cat) is told.
    let reply = thunderbird_reply(&fay, "Fay", &answer, "Thanks, the order was ORD-123456.");
    w.send_raw(&fay, &reply_to_of(&answer), reply.as_bytes())
        .await;
    wait_mail_where(w, &b.cat, "Fay's reply for Cat", |m| {
        m.text.contains("ORD-123456")
    })
    .await;
    let cases: Vec<_> = w
        .store()
        .read()
        .cases()
        .unwrap()
        .into_iter()
        .filter(|c| c.customer_address == fay)
        .collect();
    assert_eq!(cases.len(), 1);
    // The move is audited with who made it.
    let audit = w.store().read().audit_of_case(Some(case.id)).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.detail.contains("billing") && a.actor == w.ann),
        "{audit:?}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_logs_in_to_every_mailbox_and_names_the_one_that_fails() {
    let b = brands("brands_check");
    let w = &b.w;
    let out = mailcase(w, &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "imap acme (127.0.0.1:{} as {}): ok",
            w.env.imap_port, b.acme
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "imap blue (127.0.0.1:{} as {}): ok",
            w.env.imap_port, b.blue
        )),
        "{stdout}"
    );
    assert!(stderr.contains("imap broken (127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("FAILED"), "{stderr}");
    assert!(
        stderr.contains("check failed: the IMAP login of mailbox broken"),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("smtp relay (127.0.0.1:{}): ok", w.env.smtp_port)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "smtp blue (127.0.0.1:{}): ok",
            w.env.submission_port
        )),
        "{stdout}"
    );
    // The queues and who answers for them.
    assert!(
        stdout.contains(&format!(
            "queue billing: {} (brand acme: \"Acme Support\" <{}>, references ACM-",
            b.billing, b.acme
        )),
        "{stdout}"
    );
    assert!(stdout.contains("queue help:"), "{stdout}");
}
