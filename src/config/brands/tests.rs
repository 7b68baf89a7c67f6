use std::path::Path;

use super::super::tests::MINIMAL;
use super::*;

/// MINIMAL with its single `[mailbox]` table replaced by `mailboxes`, and `rest` added.
fn with(mailboxes: &str, rest: &str) -> String {
    let start = MINIMAL.find("[mailbox]").unwrap();
    let end = MINIMAL.find("[smtp]").unwrap();
    format!(
        "{}{mailboxes}\n{}\n{rest}",
        &MINIMAL[..start],
        &MINIMAL[end..]
    )
}

const TWO_MAILBOXES: &str = r#"
[[mailbox]]
name = "acme"
host = "127.0.0.1"
port = 10143
tls = "plain"
user = "acme@support.test"
password_env = "IMAP_PW"

[[mailbox]]
name = "blue"
host = "127.0.0.1"
port = 10143
tls = "plain"
user = "blue@support.test"
password_env = "IMAP_PW"
default_queue = "blue-help"
"#;

const AGENTS: &str = r#"
[[agents.members]]
address = "ann@support.test"
name = "Ann"

[[agents.members]]
address = "bob@support.test"
name = "Bob"

[[agents.members]]
address = "cat@support.test"
name = "Cat"
"#;

const BRANDS: &str = r#"
[[brand]]
name = "acme"
display_name = "Acme Support"
reference_prefix = "ACM"
signature = "Acme Support · +1 555 0100\n"
agents = ["ann@support.test", "bob@support.test"]
[brand.calendar]
timezone = "Europe/Berlin"

[[brand]]
name = "blue"
display_name = "Blue Help"
reply_address = "help@blue.test"
reference_prefix = "BLU"
agents = ["cat@support.test"]
[[brand.service_levels]]
priority = "normal"
first_response = "4h"
[[brand.escalation]]
contacts = ["boss@blue.test"]

[[queue]]
name = "support"
brand = "acme"
addresses = ["Support@Acme.test"]

[[queue]]
name = "billing"
brand = "acme"
addresses = ["billing@acme.test"]
agents = ["bob@support.test"]

[[queue]]
name = "blue-help"
brand = "blue"
addresses = ["help@blue.test", "hilfe@blue.test"]
"#;

fn two_brands() -> Config {
    Config::from_toml(
        &with(TWO_MAILBOXES, &format!("{AGENTS}{BRANDS}")),
        Path::new("/etc/mailcase"),
    )
    .unwrap()
}

fn problems(text: &str) -> String {
    Config::from_toml(text, Path::new("/etc/mailcase"))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_single_mailbox_config_is_one_queue_and_one_brand_named_default() {
    let c = Config::from_toml(MINIMAL, Path::new("/etc/mailcase")).unwrap();
    assert_eq!(c.mailboxes.len(), 1);
    assert_eq!(c.mailboxes[0].path(), "mailbox");
    assert_eq!(c.mailboxes[0].label(), "default");
    assert!(!c.has_queues());
    let q = c.queue_list();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].name, DEFAULT);
    assert_eq!(q[0].addresses, vec!["support@support.test".to_string()]);
    assert_eq!(c.brand_names(), vec![DEFAULT.to_string()]);
    // Its queue's config is the config itself.
    let d = c.for_queue(DEFAULT);
    assert_eq!(d.support.address, c.support.address);
    assert_eq!(d.support.reference_prefix, c.support.reference_prefix);
    // A Bcc goes to the one queue.
    let r = c.route(["someone@else.test"], [], None);
    assert_eq!(
        r,
        Route {
            queue: DEFAULT.into(),
            address: None
        }
    );
}

#[test]
fn each_queue_answers_as_its_brand() {
    let c = two_brands();
    assert_eq!(c.mailboxes.len(), 2);
    assert_eq!(c.mailboxes[1].path(), "mailbox[1]");
    let support = c.for_queue("support");
    assert_eq!(support.support.name, "Acme Support");
    // No reply address written: the brand's first queue's first address (lower-cased).
    assert_eq!(support.support.address, "support@acme.test");
    assert_eq!(support.support.reference_prefix, "ACM");
    assert_eq!(
        support.support.signature.as_deref(),
        Some("Acme Support · +1 555 0100")
    );
    assert_eq!(support.calendar.timezone, chrono_tz::Europe::Berlin);
    let members: Vec<_> = support
        .agents
        .members
        .iter()
        .map(|a| a.address.as_str())
        .collect();
    assert_eq!(members, ["ann@support.test", "bob@support.test"]);
    assert!(
        support.agents.notify.is_empty(),
        "every agent of the brand is told"
    );
    // The billing queue tells Bob alone; Ann may still act on its cases.
    let billing = c.for_queue("billing");
    assert_eq!(billing.agents.notify, vec!["bob@support.test".to_string()]);
    assert_eq!(billing.agents.members.len(), 2);

    let blue = c.for_queue("blue-help");
    assert_eq!(blue.support.name, "Blue Help");
    assert_eq!(blue.support.address, "help@blue.test");
    assert_eq!(blue.support.reference_prefix, "BLU");
    assert_eq!(
        blue.priority("normal").unwrap().first_response.0.as_secs(),
        4 * 3600
    );
    assert_eq!(
        c.priority("normal").unwrap().first_response.0.as_secs(),
        86_400
    );
    assert_eq!(
        blue.escalation_contacts("general", "normal"),
        vec!["boss@blue.test"]
    );
    assert_eq!(blue.calendar.timezone, chrono_tz::UTC);
    let members: Vec<_> = blue
        .agents
        .members
        .iter()
        .map(|a| a.address.as_str())
        .collect();
    assert_eq!(members, ["cat@support.test"]);
    // Every queue knows every address of ours (mail from them is never answered).
    for q in ["support", "billing", "blue-help"] {
        let own = c.for_queue(q).own_addresses();
        for a in [
            "support@acme.test",
            "billing@acme.test",
            "help@blue.test",
            "hilfe@blue.test",
        ] {
            assert!(own.contains(&a.to_string()), "{q} {a}");
        }
    }
}

#[test]
fn new_mail_goes_by_to_then_cc_then_the_envelope_and_else_to_the_mailboxs_default_queue() {
    let c = two_brands();
    let acme = c.mailboxes[0].key();
    let blue = c.mailboxes[1].key();
    // To before Cc: a mail to support@ with billing@ in Cc is one case in support, whichever
    // copy is read first.
    let r = c.route(
        ["support@acme.test", "billing@acme.test"],
        ["billing@acme.test"],
        Some(&acme),
    );
    assert_eq!(r.queue, "support");
    assert_eq!(r.address.as_deref(), Some("support@acme.test"));
    let r = c.route(["customer@else.test", "BILLING@acme.test"], [], Some(&acme));
    assert_eq!(r.queue, "billing");
    assert_eq!(r.address.as_deref(), Some("billing@acme.test"));
    // A reply address with a token (+detail) is the address it is built on.
    let r = c.route(["hilfe+c.x@blue.test"], [], Some(&blue));
    assert_eq!(
        (r.queue.as_str(), r.address.as_deref()),
        ("blue-help", Some("hilfe@blue.test"))
    );
    // A Bcc: only the envelope names us.
    let r = c.route(["friend@else.test"], ["billing@acme.test"], Some(&acme));
    assert_eq!(r.queue, "billing");
    // None of ours: the mailbox's default queue, else the first queue.
    let r = c.route(["list@lists.test"], [], Some(&blue));
    assert_eq!(
        r,
        Route {
            queue: "blue-help".into(),
            address: None
        }
    );
    let r = c.route(["list@lists.test"], [], Some(&acme));
    assert_eq!(
        r,
        Route {
            queue: "support".into(),
            address: None
        }
    );
    let r = c.route([], [], None);
    assert_eq!(r.queue, "support");
}

#[test]
fn an_address_claimed_by_two_queues_is_refused_naming_both() {
    let text = with(
        TWO_MAILBOXES,
        &format!(
            "{AGENTS}{}",
            BRANDS.replace(
                r#"addresses = ["billing@acme.test"]"#,
                r#"addresses = ["billing@acme.test", "support@acme.test"]"#
            )
        ),
    );
    let e = problems(&text);
    assert!(e.contains("queue[1].addresses[1]"), "{e}");
    assert!(
        e.contains("claimed by two queues: `support` (queue[0].addresses[0]) and `billing`"),
        "{e}"
    );
}

#[test]
fn queue_brand_and_mailbox_mistakes_name_their_keys() {
    let bad = BRANDS
        .replace(r#"brand = "blue""#, r#"brand = "bleu""#)
        .replace(
            r#"agents = ["bob@support.test"]"#,
            r#"agents = ["cat@support.test"]"#,
        )
        .replace(
            r#"reply_address = "help@blue.test""#,
            r#"reply_address = "help@elsewhere.test""#,
        )
        .replace(r#"priority = "normal""#, r#"priority = "whenever""#)
        .replace(
            r#"reference_prefix = "BLU""#,
            r#"reference_prefix = "blue""#,
        );
    let mailboxes = TWO_MAILBOXES
        .replace(r#"name = "blue""#, r#"name = "acme""#)
        .replace(
            r#"default_queue = "blue-help""#,
            r#"default_queue = "nowhere""#,
        );
    let e = problems(&with(&mailboxes, &format!("{AGENTS}{bad}")));
    for key in [
        "queue[2].brand: `bleu` is not a [[brand]]",
        "queue[1].agents[0]: `cat@support.test` is not one of its brand's agents",
        "brand[1].reply_address: `help@elsewhere.test` is not an address of one of this brand's queues",
        "brand[1].service_levels[0].priority: `whenever` is not a priority",
        "brand[1].reference_prefix: `blue` must be 1-8 characters A-Z or 0-9",
        "mailbox[1].name: `acme` is also the name of mailbox[0]",
        "mailbox[1].default_queue: `nowhere` is not a queue",
    ] {
        assert!(e.contains(key), "{key}\n{e}");
    }
    // Several mailboxes need names; one folder is read once.
    let same = TWO_MAILBOXES.replace("name = \"acme\"\n", "").replace(
        r#"user = "blue@support.test""#,
        r#"user = "acme@support.test""#,
    );
    let e = problems(&with(&same, &format!("{AGENTS}{BRANDS}")));
    assert!(
        e.contains("mailbox[0].name: every mailbox needs a name when there are several"),
        "{e}"
    );
    assert!(
        e.contains(
            "mailbox[1].inbox: acme@support.test@127.0.0.1:10143/INBOX is also read by mailbox[0]"
        ),
        "{e}"
    );
    // A mailbox setting names its table.
    let e = problems(&with(
        &TWO_MAILBOXES.replace(
            "port = 10143\ntls = \"plain\"\nuser = \"blue",
            "port = 10143\ntls = \"plain\"\nbatch_size = 0\nuser = \"blue",
        ),
        &format!("{AGENTS}{BRANDS}"),
    ));
    assert!(
        e.contains("mailbox[1].batch_size: must be between 1 and 5000"),
        "{e}"
    );
    // A typo in [[mailbox]] names the table and the field.
    let e = problems(&with(
        &TWO_MAILBOXES.replace("user = \"blue", "usr = \"blue"),
        "",
    ));
    assert!(e.contains("mailbox[1]: unknown field `usr`"), "{e}");
    // Brands without queues, an agent's address as a queue's.
    let e = problems(&format!("{MINIMAL}{AGENTS}\n[[brand]]\nname = \"x\"\n"));
    assert!(e.contains("queue: brands are set but no [[queue]]"), "{e}");
    let e = problems(&format!(
        "{MINIMAL}{AGENTS}\n[[queue]]\nname = \"a\"\naddresses = [\"ann@support.test\", \"x+y@support.test\"]\n"
    ));
    assert!(
        e.contains("queue[0].addresses[0]: `ann@support.test` is an agent's address"),
        "{e}"
    );
    assert!(
        e.contains("queue[0].addresses[1]: must not contain `+`"),
        "{e}"
    );
}

#[test]
fn a_brand_calendar_mistake_names_the_brand() {
    let text = with(
        TWO_MAILBOXES,
        &format!(
            "{AGENTS}{}",
            BRANDS.replace("Europe/Berlin", "Europe/Atlantis")
        ),
    );
    let e = problems(&text);
    assert!(
        e.contains("brand[0].calendar.timezone: `Europe/Atlantis` is not an IANA time zone"),
        "{e}"
    );
}

#[test]
fn a_brand_sends_through_its_own_smtp_account_and_the_others_through_the_first() {
    let smtp = r#"
[[smtp]]
name = "main"
host = "127.0.0.1"
port = 10025
tls = "plain"

[[smtp]]
name = "blue"
host = "127.0.0.1"
port = 10587
tls = "plain"
user = "blue@support.test"
password_env = "SMTP_PW"
connections = 3
"#;
    let base = with(
        TWO_MAILBOXES,
        &format!(
            "{AGENTS}{}",
            BRANDS.replace(
                "reference_prefix = \"BLU\"",
                "reference_prefix = \"BLU\"\nsmtp = \"blue\"",
            )
        ),
    );
    let start = base.find("[smtp]").unwrap();
    let end = base.find("[support]").unwrap();
    let text = format!("{}{smtp}\n{}", &base[..start], &base[end..]);
    let c = Config::from_toml(&text, Path::new("/etc/mailcase")).unwrap();
    assert_eq!(c.smtp_accounts.len(), 2);
    assert_eq!(c.smtp().name.as_deref(), Some("main"));
    assert_eq!(c.smtp_index_for("HELP@blue.test"), 1);
    assert_eq!(c.smtp_index_for("hilfe@blue.test"), 1);
    assert_eq!(c.smtp_index_for("billing@acme.test"), 0);
    assert_eq!(c.smtp_index_for("support@support.test"), 0);
    // Names: needed with several, unique, and a brand's must exist.
    let e = problems(
        &text
            .replace("name = \"main\"\n", "")
            .replace("smtp = \"blue\"", "smtp = \"bleu\""),
    );
    assert!(
        e.contains("smtp[0].name: every SMTP account needs a name when there are several"),
        "{e}"
    );
    assert!(
        e.contains("brand[1].smtp: `bleu` is not the name of an [[smtp]] account (names: blue)"),
        "{e}"
    );
    let e = problems(
        &text
            .replace("connections = 3", "connections = 0")
            .replace("name = \"blue\"\nhost", "name = \"main\"\nhost"),
    );
    assert!(
        e.contains("smtp[1].name: `main` is also the name of smtp[0]"),
        "{e}"
    );
    assert!(
        e.contains("smtp[1].connections: must be between 1 and 32"),
        "{e}"
    );
}

#[test]
fn the_readme_two_brand_config_loads() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = readme
        .find("<!-- two-brand config")
        .expect("the README's two-brand config");
    let block = &readme[marker..];
    let start = block.find("```toml\n").unwrap() + "```toml\n".len();
    let end = block[start..].find("```").unwrap() + start;
    let dir = tempfile::tempdir().unwrap();
    let globex = dir.path().join("templates-globex");
    std::fs::create_dir(&globex).unwrap();
    let shown =
        block[start..end].replace("/etc/mailcase/templates-globex", globex.to_str().unwrap());
    // The rest of a config, as in the example: MINIMAL without its mailbox, smtp and support.
    let rest_start = MINIMAL.find("[store]").unwrap();
    let text = format!("{shown}\n{}", &MINIMAL[rest_start..]);
    let c = Config::from_toml(&text, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.mailboxes.len(), 2);
    assert_eq!(c.queue_list().len(), 3);
    assert_eq!(
        c.brand_names(),
        vec!["acme".to_string(), "globex".to_string()]
    );
    assert_eq!(
        c.for_queue("billing").support.address,
        "support@acme.example"
    );
    assert_eq!(
        c.for_queue("globex-help").support.name,
        "Globex Customer Care"
    );
    assert_eq!(c.smtp_index_for("help@globex.example"), 1);
    assert_eq!(c.route(["billing@acme.example"], [], None).queue, "billing");
}
