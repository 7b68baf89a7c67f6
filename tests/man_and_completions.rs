//! The man pages and shell completions the Debian package installs (packaging/build-deb.sh)
//! come from the command-line definitions: `mailcase man DIR` and `mailcase completions SHELL`
//! cover every subcommand `mailcase --help` lists, so a new one is documented without anyone
//! remembering to. The package itself is installed and checked by packaging/ci-check.sh.

use std::process::Command;

fn mailcase(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mailcase {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands of `mailcase --help`, without clap's own `help`.
fn subcommands() -> Vec<String> {
    let help = mailcase(&["--help"]);
    let list: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    for expected in [
        "run",
        "check",
        "deliver",
        "cases",
        "report",
        "completions",
        "man",
    ] {
        assert!(list.iter().any(|s| s == expected), "{expected} in {list:?}");
    }
    list
}

#[test]
fn the_man_pages_have_a_page_for_every_subcommand_and_the_main_page_lists_them() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder that does not exist yet is made, like `mkdir -p`.
    let dir = tmp.path().join("man/man1");
    mailcase(&["man", dir.to_str().unwrap()]);
    let dir = dir.as_path();
    let main = std::fs::read_to_string(dir.join("mailcase.1")).unwrap();
    assert!(main.starts_with(".ie \\n(.g .ds Aq"), "roff: {main:.200}");
    assert!(main.contains(".TH mailcase 1"), "{main:.300}");
    // The options common to every subcommand, with the config file's default.
    assert!(main.contains("/etc/mailcase/mailcase.toml"), "{main}");
    for sub in subcommands() {
        // roff writes the hyphen of `mailcase-check(1)` as `\-`.
        assert!(
            main.contains(&format!("mailcase\\-{sub}(1)")),
            "mailcase.1 lists {sub}:\n{main}"
        );
        let page = std::fs::read_to_string(dir.join(format!("mailcase-{sub}.1")))
            .unwrap_or_else(|e| panic!("mailcase-{sub}.1: {e}"));
        assert!(page.contains(&format!(".TH mailcase-{sub} 1")), "{page}");
    }
    // Nested subcommands get their own page too.
    assert!(dir.join("mailcase-template-preview.1").exists());
    let check = std::fs::read_to_string(dir.join("mailcase-check.1")).unwrap();
    assert!(check.contains("offline"), "{check}");
}

#[test]
fn the_bash_zsh_and_fish_completions_offer_every_subcommand() {
    let bash = mailcase(&["completions", "bash"]);
    let zsh = mailcase(&["completions", "zsh"]);
    let fish = mailcase(&["completions", "fish"]);
    assert!(bash.contains("complete -F _mailcase"), "{bash:.300}");
    assert!(zsh.starts_with("#compdef mailcase"), "{zsh:.300}");
    for sub in subcommands() {
        assert!(bash.contains(&format!("mailcase,{sub})")), "bash: {sub}");
        assert!(zsh.contains(&format!("\n'{sub}:")), "zsh: {sub}");
        assert!(
            fish.contains(&format!("__fish_mailcase_needs_command\" -f -a \"{sub}\"")),
            "fish: {sub}"
        );
    }
    // Options of a subcommand complete as well.
    assert!(
        fish.contains("__fish_mailcase_using_subcommand check\" -l offline"),
        "{fish}"
    );
}

#[test]
fn an_unknown_shell_is_refused_with_the_list_of_shells() {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bash") && err.contains("zsh") && err.contains("fish"),
        "{err}"
    );
}
