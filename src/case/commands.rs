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
//! text relayed to the customer with the case left open. Whether a priority, category or
//! assignee exists is checked against config by the caller.

use std::fmt;

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The whole reply is an internal note: recorded, never relayed.
    Note,
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
}

impl Command {
    /// The command's name as written.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Note => "note",
            Command::Resolve => "resolve",
            Command::Escalate(_) => "escalate",
            Command::Priority(_) => "priority",
            Command::Category(_) => "category",
            Command::Assign(_) => "assign",
            Command::Wait => "wait",
            Command::Reopen => "reopen",
        }
    }
}

/// The commands an agent can use, for the answer to a rejected reply.
pub const HELP: &[(&str, &str)] = &[
    (
        "#note",
        "the whole reply is an internal note; nothing reaches the customer",
    ),
    (
        "#resolve",
        "send the reply to the customer, then mark the case resolved",
    ),
    (
        "#escalate [reason]",
        "escalate the case (the reason stays internal); the customer is told",
    ),
    (
        "#priority NAME",
        "change the priority (one of the configured priorities)",
    ),
    (
        "#category NAME",
        "change the category (one of the configured categories)",
    ),
    (
        "#assign ADDRESS",
        "assign the case to an agent (a configured agent address)",
    ),
    (
        "#wait",
        "send the reply and wait for the customer (the SLA clock pauses)",
    ),
    ("#reopen", "reopen a resolved or closed case"),
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
        write!(f, "`{}`: {}", self.line, self.why)
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
    /// True when this command was given.
    pub fn has(&self, name: &str) -> bool {
        self.commands.iter().any(|c| c.name() == name)
    }
}

fn is_command_line(line: &str) -> bool {
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
    let text = lines[i..].join("\n").trim().to_string();
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
            Err(format!("#{} takes no argument", c.name()))
        }
    };
    let one_word = |what: &str| -> Result<String, String> {
        if arg.is_empty() {
            Err(format!("#{name} needs an argument ({what})"))
        } else if arg.split_whitespace().count() > 1 {
            Err(format!("#{name} takes one argument ({what}), not `{arg}`"))
        } else {
            Ok(arg.to_string())
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "note" => no_arg(Command::Note),
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
        "assign" => Ok(Command::Assign(
            one_word("an agent address")?
                .trim_matches(|c| c == '<' || c == '>')
                .to_lowercase(),
        )),
        other => Err(format!(
            "unknown command #{}",
            other.chars().take(40).collect::<String>()
        )),
    }
}

fn check_conflicts(cmds: &[Command], errors: &mut Vec<CommandError>) {
    let count = |n: &str| cmds.iter().filter(|c| c.name() == n).count();
    for c in cmds {
        if count(c.name()) > 1 {
            let line = format!("#{}", c.name());
            if !errors.iter().any(|e| e.line == line) {
                errors.push(CommandError {
                    line,
                    why: "given more than once".into(),
                });
            }
        }
    }
    let states: Vec<&str> = ["resolve", "wait", "reopen", "escalate"]
        .into_iter()
        .filter(|n| count(n) > 0)
        .collect();
    let compatible = matches!(states.as_slice(), [] | [_] | ["wait", "reopen"]);
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
        let e = parse("#reslove\n#priority\n#note please\n#category a b\nText").unwrap_err();
        let whys: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(whys.len(), 4, "{whys:?}");
        assert!(whys[0].contains("unknown command #reslove"));
        assert!(whys[1].contains("needs an argument (a priority name)"));
        assert!(whys[2].contains("takes no argument"));
        assert!(whys[3].contains("takes one argument (a category name)"));
    }

    #[test]
    fn contradictory_or_repeated_commands_are_rejected() {
        assert!(parse("#resolve\n#wait\nbye").is_err());
        assert!(parse("#priority high\n#priority low\n").is_err());
        assert!(parse("#reopen\n#wait\nWhat is the order number?").is_ok());
    }

    #[test]
    fn every_command_is_in_the_help() {
        for c in [
            "note", "resolve", "escalate", "priority", "category", "assign", "wait", "reopen",
        ] {
            assert!(HELP.iter().any(|(h, _)| h.starts_with(&format!("#{c}"))));
        }
    }
}
