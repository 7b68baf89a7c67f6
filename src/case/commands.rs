//! Commands by mail: lines at the top of an agent's reply, each alone on its line.
//!
//! ```text
//! #priority high
//! #wait
//! Could you send us the order number?
//! ```
//! The command block is every line from the top that starts with `#` and a letter (blank
//! lines between them allowed); the first other line starts the text. Parsing is strict: an
//! unknown command, a missing or extra argument or two commands that contradict each other
//! rejects the whole reply, because an agent who mistyped `#reslove` must not have their
//! text relayed to the customer with the case left open. The agent's answer says what the
//! nearest command is ([`did_you_mean`]) and which names a priority, category or agent may
//! take, so the corrected reply is the next one.
//!
//! What each command does lives here too, beside its parsing: [`Command::check`] (what the
//! config must know), [`Command::event`] (what it asks of the life cycle),
//! [`Command::customer_update`] (what the customer is told), and [`Parsed::validate`] and
//! [`Parsed::plan`], which turn a reply into the checked, ordered [`Plan`] the pipeline
//! carries out. A new command is a variant, its line in [`parse_line`] and [`HELP`], and its
//! meaning in these methods.

use std::fmt;

use super::status::{transition, CaseEvent, Status};
use crate::config::Config;

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The whole reply is an internal note: recorded, never relayed. Text after `#note` on
    /// its line is the note's first line (`#note checking logs`), so an agent who writes the
    /// note beside the command does not lose it.
    Note(Option<String>),
    /// Relay the reply, then mark the case resolved.
    Resolve,
    /// Escalate, with an optional reason (internal).
    Escalate(Option<String>),
    /// Change the priority.
    Priority(String),
    /// Change the category.
    Category(String),
    /// Assign the case to an agent.
    Assign(String),
    /// Relay the reply and wait on the customer (pauses the SLA clock).
    Wait,
    /// Reopen a resolved or closed case.
    Reopen,
    /// Put somebody on the case (`#cc add ADDRESS [Name]`) or take them off
    /// (`#cc remove ADDRESS`): participants get the answers and status notices in Cc.
    Cc {
        add: bool,
        address: String,
        name: Option<String>,
    },
    /// Relay the answer the collision guard held (the agent read what happened since).
    Send,
    /// Merge this case into case `reference` (the survivor): its mail, participants and
    /// later replies go there and this case closes (`pipeline/merge.rs`). Cases of two
    /// different customers need `confirm` (`#merge REF confirm`). It stands alone: any text
    /// with it becomes an internal note on the survivor, and another command with it is an
    /// error (which case would it apply to?).
    Merge { reference: String, confirm: bool },
    /// Write to the customer in this language from now on (`#language de`): the detector
    /// got it wrong, or the customer asked.
    Language(String),
    /// Move the case to another queue (`#queue billing`): its agents get the card, and the
    /// customer's thread goes on, answered by the new queue.
    Queue(String),
}

impl Command {
    /// The command's name as written.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Note(_) => "note",
            Command::Resolve => "resolve",
            Command::Escalate(_) => "escalate",
            Command::Priority(_) => "priority",
            Command::Category(_) => "category",
            Command::Assign(_) => "assign",
            Command::Wait => "wait",
            Command::Reopen => "reopen",
            Command::Cc { .. } => "cc",
            Command::Send => "send",
            Command::Merge { .. } => "merge",
            Command::Language(_) => "language",
            Command::Queue(_) => "queue",
        }
    }

    /// What the config must know for this command (a priority, a category, an agent); the
    /// agent's error when it does not.
    pub fn check(&self, cfg: &Config) -> Option<String> {
        match self {
            Command::Priority(n) if cfg.priority(n).is_none() => Some(format!(
                "#priority {n}: no such priority; use one of {}",
                cfg.priorities
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Command::Category(n) if cfg.category(n).is_none() => Some(format!(
                "#category {n}: no such category; use one of {}",
                cfg.categories
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Command::Assign(a) if cfg.agent(a).is_none() => Some(format!(
                "#assign {a}: not a configured agent address; use one of {}",
                cfg.agents
                    .members
                    .iter()
                    .map(|g| g.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Command::Queue(n) if cfg.queue(n).is_none() => Some(format!(
                "#queue {n}: no such queue; use one of {}",
                cfg.queue_names().join(", ")
            )),
            Command::Cc { address, .. } if address.parse::<lettre::Address>().is_err() => Some(
                format!("#cc {address}: not an e-mail address; write #cc add ADDRESS or #cc remove ADDRESS"),
            ),
            _ => None,
        }
    }

    /// The life-cycle event the command asks for, if any.
    pub fn event(&self) -> Option<CaseEvent> {
        match self {
            Command::Reopen => Some(CaseEvent::Reopen),
            Command::Wait => Some(CaseEvent::WaitOnCustomer),
            Command::Escalate(_) => Some(CaseEvent::Escalate),
            Command::Resolve => Some(CaseEvent::Resolve),
            Command::Note(_)
            | Command::Priority(_)
            | Command::Category(_)
            | Command::Assign(_)
            | Command::Cc { .. }
            | Command::Send
            | Command::Merge { .. }
            | Command::Language(_)
            | Command::Queue(_) => None,
        }
    }

    /// The status update (a template) the customer gets with the answer, if the command
    /// changes the case in a way they care about. A raised priority tells them too, but
    /// whether it rose depends on the case (see the pipeline's agent side).
    pub fn customer_update(&self) -> Option<&'static str> {
        match self {
            Command::Resolve => Some("customer_resolved"),
            Command::Escalate(_) => Some("customer_escalated"),
            _ => None,
        }
    }
}

/// The order in which the commands' life-cycle events apply, whatever order they were
/// written in.
const EVENT_ORDER: &[&str] = &["reopen", "wait", "escalate", "resolve"];

/// What an agent's checked reply does to the case, in order: the pipeline carries it out
/// (field changes, audit events, mail) inside the message's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The reply is an internal note: recorded, never relayed.
    pub note: bool,
    /// The text relayed to the customer.
    pub relay: Option<String>,
    /// The life-cycle events in the order they apply, each with the reason audited.
    pub events: Vec<(CaseEvent, String)>,
    /// `#escalate`: the escalation contacts are told, with the internal reason if given.
    pub escalation: Option<Option<String>>,
    /// The status update the customer gets with the answer (resolved beats escalated).
    pub update: Option<&'static str>,
}

/// The commands an agent can use, for the answer to a rejected reply.
pub const HELP: &[(&str, &str)] = &[
    (
        "#note [text]",
        "internal note; nothing reaches the customer",
    ),
    ("#resolve", "send, then mark the case resolved"),
    ("#wait", "send, then wait for the customer (SLA pauses)"),
    ("#escalate [reason]", "escalate; the reason stays internal"),
    ("#priority NAME", "change the priority"),
    ("#category NAME", "change the category"),
    ("#assign ADDRESS", "assign the case to an agent"),
    ("#reopen", "reopen a resolved or closed case"),
    (
        "#cc add ADDRESS [Name]",
        "copy someone on answers and notices",
    ),
    ("#cc remove ADDRESS", "stop copying someone"),
    ("#send", "send your held answer as it was"),
    ("#merge REF [confirm]", "merge this case into case REF"),
    ("#language CODE", "write to the customer in language CODE"),
    ("#queue NAME", "move the case to queue NAME"),
];

/// What is wrong with a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// The line as the agent wrote it.
    pub line: String,
    pub why: String,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.why)
    }
}

/// A reply split into its commands and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<Command>,
    /// The reply without the command lines (what the customer may see).
    pub text: String,
}

impl Parsed {
    /// The `#merge` of the reply, as (survivor's reference as written, confirmed).
    pub fn merge(&self) -> Option<(&str, bool)> {
        self.commands.iter().find_map(|c| match c {
            Command::Merge { reference, confirm } => Some((reference.as_str(), *confirm)),
            _ => None,
        })
    }

    /// True when this command was given.
    pub fn has(&self, name: &str) -> bool {
        self.commands.iter().any(|c| c.name() == name)
    }

    fn get(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.name() == name)
    }

    /// Checks the reply against the config and the case's status, before anything changes.
    ///
    /// # Errors
    /// Every problem, for the agent: a name the config does not know, a command the case's
    /// state does not allow (resolving a resolved case), or nothing to send.
    pub fn validate(&self, status: Status, cfg: &Config) -> Result<(), Vec<String>> {
        let mut errors: Vec<String> = self.commands.iter().filter_map(|c| c.check(cfg)).collect();
        // Simulate the state changes so a command that makes no sense is caught before
        // anything is written.
        let mut s = status;
        // An answer to a resolved case reopens it first (a #resolve with it resolves it
        // again); an explicit #reopen does that itself.
        let answers = !self.has("note") && !self.has("send") && !self.text.is_empty();
        if answers && status == Status::Resolved && !self.has("reopen") {
            s = Status::InProgress;
        }
        for name in EVENT_ORDER {
            if let Some(ev) = self.get(name).and_then(Command::event) {
                match transition(s, ev) {
                    Ok(n) => s = n,
                    Err(_) => errors.push(format!(
                        "#{name}: the case is {}, so it cannot be done",
                        s.agent_label()
                    )),
                }
            }
        }
        if self.has("send") && !self.text.is_empty() {
            errors.push(
                "#send stands alone: it sends your held answer as it was; to change it, write a new answer instead".into(),
            );
        }
        if self.commands.is_empty() && self.text.is_empty() {
            errors
                .push("the reply is empty once the quoted text is removed: nothing to send".into());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// What the reply does, in order: the answer itself (relayed unless it is a note), then
    /// the commands' events; with `pause_on_question`, an answer that ends by asking the
    /// customer something waits on them, unless it resolves or escalates.
    pub fn plan(&self, pause_on_question: bool) -> Plan {
        let note = self.has("note");
        let relay = (!note && !self.text.is_empty()).then(|| self.text.clone());
        let escalation = match self.get("escalate") {
            Some(Command::Escalate(r)) => Some(r.clone()),
            _ => None,
        };
        let mut events = Vec::new();
        for name in EVENT_ORDER {
            let Some(ev) = self.get(name).and_then(Command::event) else {
                if *name == "wait"
                    && pause_on_question
                    && !self.has("resolve")
                    && !self.has("escalate")
                    && relay.as_deref().is_some_and(asks_a_question)
                {
                    events.push((
                        CaseEvent::WaitOnCustomer,
                        "the agent asked the customer a question".to_string(),
                    ));
                }
                continue;
            };
            let why = match &escalation {
                Some(Some(r)) if ev == CaseEvent::Escalate => format!("#escalate: {r}"),
                _ => format!("#{name}"),
            };
            events.push((ev, why));
        }
        // The answer comes after a reopening and before everything else.
        if relay.is_some() {
            let at = usize::from(self.has("reopen"));
            events.insert(at, (CaseEvent::AgentReplied, "agent answered".to_string()));
        }
        let update = ["resolve", "escalate"]
            .into_iter()
            .find_map(|n| self.get(n).and_then(Command::customer_update));
        Plan {
            note,
            relay,
            events,
            escalation,
            update,
        }
    }
}

/// True when an answer ends by asking the customer something: one of its last four lines of
/// text (the question may sit above a short sign-off) ends with a question mark.
pub fn asks_a_question(text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .take(4)
        .any(|l| l.ends_with('?') || l.ends_with('？'))
}

/// The command lines at the top of a reply, as written (trimmed, blank lines skipped): what
/// [`parse`] reads as commands, for removing them from another form of the reply (its HTML).
pub fn command_lines(reply: &str) -> Vec<&str> {
    reply
        .lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || is_command_line(l))
        .filter(|l| !l.is_empty())
        .collect()
}

pub fn is_command_line(line: &str) -> bool {
    let t = line.trim();
    let mut c = t.chars();
    c.next() == Some('#') && c.next().is_some_and(|ch| ch.is_ascii_alphabetic())
}

/// Splits the command block off the top of `reply`.
///
/// # Errors
/// Every problem found, so the agent can fix them all at once.
pub fn parse(reply: &str) -> Result<Parsed, Vec<CommandError>> {
    let lines: Vec<&str> = reply.lines().collect();
    let mut commands = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        if !is_command_line(line) {
            break;
        }
        match parse_line(line.trim()) {
            Ok(c) => commands.push(c),
            Err(why) => errors.push(CommandError {
                line: line.trim().chars().take(200).collect(),
                why,
            }),
        }
        i += 1;
    }
    check_conflicts(&commands, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut text = lines[i..].join("\n").trim().to_string();
    // `#note checking logs`: the text beside the command starts the note.
    if let Some(Command::Note(Some(first))) = commands.iter().find(|c| c.name() == "note") {
        text = if text.is_empty() {
            first.clone()
        } else {
            format!("{first}\n{text}")
        };
    }
    Ok(Parsed { commands, text })
}

fn parse_line(line: &str) -> Result<Command, String> {
    let body = &line[1..];
    let (name, arg) = match body.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (body, ""),
    };
    let no_arg = |c: Command| {
        if arg.is_empty() {
            Ok(c)
        } else {
            Err("takes no argument".to_string())
        }
    };
    let one_word = |what: &str| -> Result<String, String> {
        if arg.is_empty() {
            Err(format!("needs an argument ({what})"))
        } else if arg.split_whitespace().count() > 1 {
            Err(format!("takes one argument ({what})"))
        } else {
            Ok(arg.to_string())
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "note" => Ok(Command::Note((!arg.is_empty()).then(|| arg.to_string()))),
        "resolve" => no_arg(Command::Resolve),
        "wait" => no_arg(Command::Wait),
        "reopen" => no_arg(Command::Reopen),
        "escalate" => Ok(Command::Escalate(
            (!arg.is_empty()).then(|| arg.chars().take(500).collect()),
        )),
        "priority" => Ok(Command::Priority(
            one_word("a priority name")?.to_lowercase(),
        )),
        "category" => Ok(Command::Category(
            one_word("a category name")?.to_lowercase(),
        )),
        "language" => Ok(Command::Language(
            one_word("a language code, e.g. de")?.to_lowercase(),
        )),
        "queue" => Ok(Command::Queue(
            one_word("a queue name, e.g. billing")?.to_lowercase(),
        )),
        "merge" => {
            let mut words = arg.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (None, _, _) => Err("needs an argument (the reference of the case to merge into, e.g. #merge CMP-7KQ4X-V)".into()),
                (Some(r), None, _) => Ok(Command::Merge {
                    reference: r.trim_matches(|c| c == '[' || c == ']').to_string(),
                    confirm: false,
                }),
                (Some(r), Some(w), None) if w.eq_ignore_ascii_case("confirm") => Ok(Command::Merge {
                    reference: r.trim_matches(|c| c == '[' || c == ']').to_string(),
                    confirm: true,
                }),
                _ => Err("takes a reference and optionally the word confirm (#merge REF confirm)".into()),
            }
        }
        "assign" => Ok(Command::Assign(
            one_word("an agent address")?
                .trim_matches(|c| c == '<' || c == '>')
                .to_lowercase(),
        )),
        "send" => no_arg(Command::Send),
        "cc" => parse_cc(arg),
        other => Err(match did_you_mean(other) {
            Some(n) if arg.is_empty() => {
                format!("unknown command; did you mean #{n}?")
            }
            Some(n) => format!(
                "unknown command; did you mean \"#{n} {}\"?",
                arg.chars().take(100).collect::<String>()
            ),
            None => "unknown command".to_string(),
        }),
    }
}

/// `#cc add ADDRESS [Name]`, `#cc remove ADDRESS`; the address may be written `<a@b>` or
/// `Name <a@b>` after the verb.
fn parse_cc(arg: &str) -> Result<Command, String> {
    let usage = "write #cc add ADDRESS [Name] or #cc remove ADDRESS";
    let (verb, rest) = match arg.split_once(char::is_whitespace) {
        Some((v, r)) => (v.to_ascii_lowercase(), r.trim()),
        None => (arg.to_ascii_lowercase(), ""),
    };
    let add = match verb.as_str() {
        "add" => true,
        "remove" | "rm" | "del" | "delete" => false,
        _ => return Err(format!("needs add or remove; {usage}")),
    };
    if rest.is_empty() {
        return Err(format!("needs an address; {usage}"));
    }
    // "Name <a@b>", "<a@b> Name" or "a@b Name".
    let (address, name) = match (rest.find('<'), rest.find('>')) {
        (Some(l), Some(r)) if l < r => {
            let name = format!("{} {}", &rest[..l], &rest[r + 1..]);
            (rest[l + 1..r].trim().to_string(), name)
        }
        _ => match rest.split_once(char::is_whitespace) {
            Some((a, n)) => (a.to_string(), n.to_string()),
            None => (rest.to_string(), String::new()),
        },
    };
    let name = name
        .trim()
        .trim_matches('"')
        .trim()
        .chars()
        .take(100)
        .collect::<String>();
    if !add && !name.is_empty() {
        return Err(format!("#cc remove takes only the address; {usage}"));
    }
    Ok(Command::Cc {
        add,
        address: address.to_lowercase(),
        name: (!name.is_empty()).then_some(name),
    })
}

/// Every command's name, for suggestions.
const NAMES: &[&str] = &[
    "note", "resolve", "escalate", "priority", "category", "assign", "wait", "reopen", "cc",
    "send", "merge", "language", "queue",
];

/// The command an agent most likely meant by `typed`: one that starts with it (`#prio`,
/// `#esc`, at least three letters) or is within a small edit distance (`#reslove`,
/// `#categroy`; one edit for names up to four letters, two for longer ones, a swap of
/// neighbours counting as one). `None` when nothing is close or two are equally close.
pub fn did_you_mean(typed: &str) -> Option<&'static str> {
    let t = typed.to_lowercase();
    let n = t.chars().count();
    if n >= 3 {
        let starts: Vec<&str> = NAMES
            .iter()
            .copied()
            .filter(|c| c.starts_with(&t))
            .collect();
        if let [one] = starts.as_slice() {
            return Some(one);
        }
    }
    let limit = if n <= 4 { 1 } else { 2 };
    let mut best: Vec<(usize, &'static str)> = NAMES
        .iter()
        .map(|c| (edit_distance(&t, c), *c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    best.sort_unstable();
    match best.as_slice() {
        [(_, c)] => Some(c),
        [(d, c), (e, _), ..] if d < e => Some(c),
        _ => None,
    }
}

/// Edit distance with adjacent swaps counted as one edit (optimal string alignment): the
/// typos people make in commands and references.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

fn check_conflicts(cmds: &[Command], errors: &mut Vec<CommandError>) {
    let count = |n: &str| cmds.iter().filter(|c| c.name() == n).count();
    for c in cmds {
        // Several people can be added or removed in one reply.
        if count(c.name()) > 1 && c.name() != "cc" {
            let line = format!("#{}", c.name());
            if !errors.iter().any(|e| e.line == line) {
                errors.push(CommandError {
                    line,
                    why: "given more than once".into(),
                });
            }
        }
    }
    // `#merge` moves the whole case elsewhere: another command beside it would leave it
    // unclear which case it applies to.
    if count("merge") > 0 && cmds.len() > count("merge") {
        let others: Vec<String> = cmds
            .iter()
            .filter(|c| c.name() != "merge")
            .map(|c| format!("#{}", c.name()))
            .collect();
        errors.push(CommandError {
            line: format!("#merge {}", others.join(" ")),
            why: "#merge stands alone: send the other commands on the case it merges into".into(),
        });
    }
    let states: Vec<&str> = ["resolve", "wait", "reopen", "escalate"]
        .into_iter()
        .filter(|n| count(n) > 0)
        .collect();
    let compatible = matches!(states.as_slice(), [] | [_] | ["wait", "reopen"]);
    if count("send") > 0 && cmds.len() > 1 {
        errors.push(CommandError {
            line: "#send".into(),
            why: "stands alone: it sends your held answer as it was; give other commands in a reply of their own".into(),
        });
    }
    if !compatible {
        errors.push(CommandError {
            line: states
                .iter()
                .map(|s| format!("#{s}"))
                .collect::<Vec<_>>()
                .join(" "),
            why: "these change the case's state in contradictory ways; give one".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_at_the_top_are_split_from_the_text() {
        let p = parse("#priority HIGH\n\n#wait\nCould you send the order number?\n\nAnn").unwrap();
        assert_eq!(
            p.commands,
            vec![Command::Priority("high".into()), Command::Wait]
        );
        assert_eq!(p.text, "Could you send the order number?\n\nAnn");
    }

    #[test]
    fn a_reply_without_commands_is_all_text() {
        let p = parse("Hello,\n#resolve is not a command down here\n").unwrap();
        assert!(p.commands.is_empty());
        assert!(p.text.contains("#resolve is not"));
    }

    #[test]
    fn hash_numbers_and_hashtags_after_text_are_text() {
        let p = parse("#1 thing to check is the cable").unwrap();
        assert!(p.commands.is_empty());
        assert_eq!(p.text, "#1 thing to check is the cable");
    }

    #[test]
    fn escalate_keeps_its_reason_and_assign_its_address() {
        let p =
            parse("#escalate customer threatens to cancel\n#assign <Bob@Support.test>\n").unwrap();
        assert_eq!(
            p.commands,
            vec![
                Command::Escalate(Some("customer threatens to cancel".into())),
                Command::Assign("bob@support.test".into())
            ]
        );
        assert_eq!(p.text, "");
    }

    #[test]
    fn unknown_and_malformed_commands_are_all_reported() {
        let e = parse("#reslove\n#priority\n#wait please\n#category a b\nText").unwrap_err();
        let whys: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(whys.len(), 4, "{whys:?}");
        assert_eq!(whys[0], "#reslove: unknown command; did you mean #resolve?");
        assert_eq!(whys[1], "#priority: needs an argument (a priority name)");
        assert_eq!(whys[2], "#wait please: takes no argument");
        assert_eq!(
            whys[3],
            "#category a b: takes one argument (a category name)"
        );
    }

    #[test]
    fn a_misspelt_command_gets_the_nearest_one_suggested() {
        let why = |reply: &str| parse(reply).unwrap_err()[0].to_string();
        assert!(why("#prio high\nText").ends_with("did you mean \"#priority high\"?"));
        assert!(why("#reslove\nDone").ends_with("did you mean #resolve?"));
        assert!(
            why("#Escalte angry customer").ends_with("did you mean \"#escalate angry customer\"?")
        );
        assert!(why("#catgory billing").ends_with("did you mean \"#category billing\"?"));
        assert!(why("#wiat").ends_with("did you mean #wait?"));
        assert!(
            why("#asign bob@support.test").ends_with("did you mean \"#assign bob@support.test\"?")
        );
        assert!(why("#notes").ends_with("did you mean #note?"));
        // Nothing close: no guess.
        // Each error names the line once, with no markdown.
        assert_eq!(why("#banana"), "#banana: unknown command");
        assert_eq!(did_you_mean("x"), None);
        assert_eq!(
            did_you_mean("re"),
            None,
            "reopen or resolve: too short to tell"
        );
    }

    fn config() -> Config {
        let text = format!(
            "{}\n[[agents.members]]\naddress = \"ann@support.test\"\nname = \"Ann\"\n",
            crate::config::tests::MINIMAL
        );
        Config::from_toml(&text, std::path::Path::new(".")).unwrap()
    }

    #[test]
    fn unknown_names_are_answered_with_the_valid_ones() {
        let cfg = config();
        let errors = parse("#priority hgh\n#category bills\n#assign bob@support.test\nHi")
            .unwrap()
            .validate(Status::InProgress, &cfg)
            .unwrap_err();
        assert_eq!(
            errors,
            vec![
                "#priority hgh: no such priority; use one of urgent, normal".to_string(),
                "#category bills: no such category; use one of general".to_string(),
                "#assign bob@support.test: not a configured agent address; use one of \
                 ann@support.test"
                    .to_string(),
            ]
        );
        // A state the case cannot leave reads in words, not as the stored name.
        let e = parse("#reopen\nWhich one?")
            .unwrap()
            .validate(Status::WaitingOnCustomer, &cfg)
            .unwrap_err();
        assert_eq!(
            e,
            vec!["#reopen: the case is waiting on customer, so it cannot be done".to_string()]
        );
    }

    #[test]
    fn text_beside_note_starts_the_note() {
        let p = parse("#note checking logs\nthe disk was full at 3am").unwrap();
        assert_eq!(
            p.commands,
            vec![Command::Note(Some("checking logs".into()))]
        );
        assert_eq!(p.text, "checking logs\nthe disk was full at 3am");
        let plan = p.plan(false);
        assert!(plan.note && plan.relay.is_none());
        let alone = parse("#note checking logs").unwrap();
        assert_eq!(alone.text, "checking logs");
        assert!(alone.validate(Status::InProgress, &config()).is_ok());
        let bare = parse("#note\nchecked the logs").unwrap();
        assert_eq!(bare.commands, vec![Command::Note(None)]);
        assert_eq!(bare.text, "checked the logs");
        let with = parse("#note asked the warehouse\n#priority high\n\nmore").unwrap();
        assert_eq!(with.text, "asked the warehouse\nmore");
    }

    #[test]
    fn contradictory_or_repeated_commands_are_rejected() {
        assert!(parse("#resolve\n#wait\nbye").is_err());
        assert!(parse("#priority high\n#priority low\n").is_err());
        assert!(parse("#reopen\n#wait\nWhat is the order number?").is_ok());
    }

    #[test]
    fn a_question_at_the_end_of_an_answer_is_recognised() {
        assert!(asks_a_question(
            "Hello,\ncould you send the order number?\n\nThanks,\nAnn"
        ));
        assert!(asks_a_question("Which browser do you use?"));
        assert!(!asks_a_question(
            "Why did this happen? A cable was cut.\nIt is fixed now.\nWe are sorry about it.\nBest wishes,\nAnn"
        ));
        assert!(!asks_a_question("It is fixed."));
    }

    #[test]
    fn a_plan_puts_the_answer_after_a_reopening_and_before_the_commands() {
        let p = parse("#reopen\n#wait\nWhat is the order number?").unwrap();
        let plan = p.plan(false);
        let events: Vec<CaseEvent> = plan.events.iter().map(|(e, _)| *e).collect();
        assert_eq!(
            events,
            vec![
                CaseEvent::Reopen,
                CaseEvent::AgentReplied,
                CaseEvent::WaitOnCustomer
            ]
        );
        assert_eq!(plan.relay.as_deref(), Some("What is the order number?"));
        assert_eq!(plan.update, None);
    }

    #[test]
    fn a_plan_escalates_with_its_reason_and_tells_the_customer() {
        let plan = parse("#escalate angry\nWe are on it?").unwrap().plan(true);
        assert_eq!(
            plan.events,
            vec![
                (CaseEvent::AgentReplied, "agent answered".to_string()),
                (CaseEvent::Escalate, "#escalate: angry".to_string())
            ],
            "an escalation does not wait on the customer's answer to a question"
        );
        assert_eq!(plan.escalation, Some(Some("angry".into())));
        assert_eq!(plan.update, Some("customer_escalated"));
        let asks = parse("Which browser do you use?").unwrap();
        assert_eq!(
            asks.plan(true).events.last().map(|(e, _)| *e),
            Some(CaseEvent::WaitOnCustomer)
        );
        assert_eq!(asks.plan(false).events.len(), 1);
    }

    #[test]
    fn a_note_relays_nothing() {
        let plan = parse("#note\n#resolve\nsolved internally")
            .unwrap()
            .plan(false);
        assert!(plan.note && plan.relay.is_none());
        assert_eq!(
            plan.events,
            vec![(CaseEvent::Resolve, "#resolve".to_string())]
        );
        assert_eq!(plan.update, Some("customer_resolved"));
    }

    #[test]
    fn merge_takes_a_reference_and_an_optional_confirm() {
        let p = parse("#merge cmp-7kq4x-v\nSame order as the other case.").unwrap();
        assert_eq!(
            p.commands,
            vec![Command::Merge {
                reference: "cmp-7kq4x-v".into(),
                confirm: false
            }]
        );
        assert_eq!(p.merge(), Some(("cmp-7kq4x-v", false)));
        assert_eq!(p.text, "Same order as the other case.");
        let p = parse("#Merge [CMP-7KQ4X-V] CONFIRM").unwrap();
        assert_eq!(p.merge(), Some(("CMP-7KQ4X-V", true)));
        assert_eq!(p.text, "");
        assert!(p.validate(Status::InProgress, &config()).is_ok());
        // A merge relays nothing by itself: the pipeline handles it before the plan.
        assert_eq!(parse("Hello").unwrap().merge(), None);
    }

    #[test]
    fn a_malformed_merge_is_rejected_with_its_usage() {
        let why = |reply: &str| parse(reply).unwrap_err()[0].to_string();
        assert!(why("#merge").starts_with("#merge: needs an argument"));
        assert!(why("#merge CMP-7KQ4X-V please").contains("#merge REF confirm"));
        assert!(why("#merge A B confirm").contains("#merge REF confirm"));
        assert!(why("#mrege CMP-7KQ4X-V").ends_with("did you mean \"#merge CMP-7KQ4X-V\"?"));
        assert_eq!(did_you_mean("merg"), Some("merge"));
    }

    #[test]
    fn merge_stands_alone() {
        let e = parse("#merge CMP-7KQ4X-V\n#resolve\nbye").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(
            e[0].to_string(),
            "#merge #resolve: #merge stands alone: send the other commands on the case it \
             merges into"
        );
        assert!(parse("#merge CMP-7KQ4X-V\n#merge CMP-0A1B2-F").is_err());
        assert!(parse("#note\n#merge CMP-7KQ4X-V").is_err());
    }

    #[test]
    fn every_command_is_in_the_help() {
        for c in [
            "note", "resolve", "escalate", "priority", "category", "assign", "wait", "reopen",
            "merge",
        ] {
            assert!(HELP.iter().any(|(h, _)| h.starts_with(&format!("#{c}"))));
        }
    }
}
