//! Subjects: reply and forward prefixes in the languages mail clients write them, and the
//! subjects we send so that each side's client keeps the case in one thread.
//!
//! Clients prefix replies with `Re:` in English but `AW:` (German Outlook), `SV:`
//! (Scandinavian), `VS:` (Finnish), `Antw:` (Dutch), `RE :` (French, with a space), `回复:`
//! (Chinese, full-width colon too), `답장:` (Korean) and more, sometimes stacked or counted
//! (`Re[2]:`). We compare and rebuild subjects on the base subject, so a thread does not grow
//! `Re: AW: Re:` chains and a case's subject stays recognisable.

use crate::case::Reference;
use crate::outbox::compose::one_line;

/// Reply and forward prefixes (lower case), without the colon.
const PREFIXES: &[&str] = &[
    // Reply.
    "re",
    "aw",
    "sv",
    "vs",
    "antw",
    "antwort",
    "ang",
    "odp",
    "atb",
    "vá",
    "ats",
    "yan",
    "ynt",
    "rif",
    "r",
    "rv",
    "res",
    "resp",
    "réf",
    "ref",
    "απ",
    "σχετ",
    "отв",
    "ответ",
    "від",
    "відп",
    "回复",
    "回覆",
    "答复",
    "答覆",
    "답장",
    "회신",
    "返信",
    "رد",
    "תגובה",
    "jawab",
    "balas",
    // Forward.
    "fw",
    "fwd",
    "wg",
    "weitergeleitet",
    "doorst",
    "tr",
    "i",
    "enc",
    "pd",
    "fs",
    "vl",
    "vb",
    "továbbítás",
    "trs",
    "πρθ",
    "пересл",
    "转发",
    "轉寄",
    "轉發",
    "전달",
    "転送",
    "ilt",
];

/// Strips one leading prefix (`Re:`, `AW:`, `RE :`, `Re[2]:`, `回复：`) and returns the rest.
fn strip_one(s: &str) -> Option<&str> {
    let t = s.trim_start();
    // The prefix is the text before the first colon (ASCII or full-width), at most a few words.
    let (head, rest) = match (t.find(':'), t.find('：')) {
        (Some(a), Some(b)) if b < a => (&t[..b], &t[b + '：'.len_utf8()..]),
        (Some(a), _) => (&t[..a], &t[a + 1..]),
        (None, Some(b)) => (&t[..b], &t[b + '：'.len_utf8()..]),
        (None, None) => return None,
    };
    let mut word = head.trim_end();
    // A counter: Re[2], Re(3), Re^2.
    if let Some(p) = word.find(['[', '(', '^']) {
        let counter = &word[p..];
        if counter
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '[' | ']' | '(' | ')' | '^'))
        {
            word = word[..p].trim_end();
        }
    }
    if word.is_empty() || word.chars().count() > 16 {
        return None;
    }
    // Japanese input methods may type the prefix in full-width letters (`Ｒｅ：`).
    let lower: String = word
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect::<String>()
        .to_lowercase();
    PREFIXES.contains(&lower.as_str()).then_some(rest)
}

/// True when the subject starts with a reply or forward prefix in any language we know.
pub fn has_reply_prefix(subject: &str) -> bool {
    strip_one(subject).is_some()
}

/// The subject without reply/forward prefixes and without our reference tags, on one line.
pub fn base_subject(subject: &str, prefix: &str) -> String {
    let mut s = one_line(subject);
    loop {
        let before = s.len();
        // Our tag may sit between prefixes: "Re: [CMP-...] AW: Broken".
        if let Some(r) = Reference::find_in_subject(&s, prefix) {
            s = one_line(&s.replacen(&r.tag(), "", 1));
        }
        while let Some(rest) = strip_one(&s) {
            s = rest.trim_start().to_string();
        }
        if s.len() == before {
            break;
        }
    }
    s
}

/// The subject of everything we send the customer on a case: `[REF] base`. No `Re:` of our
/// own: the customer's client adds one to their reply, and a tag followed by `Re:` made
/// threads read `Re: [REF] Re: ...`; the base subject is the same on every mail of the case.
pub fn customer_subject(reference: &Reference, case_subject: &str, prefix: &str) -> String {
    let base = base_subject(case_subject, prefix);
    if base.is_empty() {
        format!("{} Your request", reference.tag())
    } else {
        format!("{} {base}", reference.tag())
    }
}

/// The subject of mail to agents: `[REF] base`, the same for the card and everything after
/// it (clients thread it by `References`, and a `Re:` of ours only piled up in replies).
/// `label` goes before the base (`[REF] Not sent: base`) for a notice that must stand out
/// beside the card in an inbox list.
pub fn agent_subject(
    reference: &Reference,
    case_subject: &str,
    prefix: &str,
    label: Option<&str>,
) -> String {
    let base = base_subject(case_subject, prefix);
    let base = if base.is_empty() {
        "(no subject)".to_string()
    } else {
        base
    };
    match label {
        Some(l) => format!("{} {l}: {base}", reference.tag()),
        None => format!("{} {base}", reference.tag()),
    }
}

/// The label of [`agent_subject`] for an agent mail of template `template`.
pub fn agent_label(template: &str) -> Option<&'static str> {
    matches!(template, "agent_command_error" | "agent_answer_held").then_some("Not sent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_in_many_languages_are_recognised() {
        for s in [
            "Re: Broken",
            "RE: Broken",
            "AW: Broken",
            "SV: Broken",
            "VS: Broken",
            "RE : Broken",
            "Antw: Broken",
            "回复: Broken",
            "回复：Broken",
            "답장: Broken",
            "Re[2]: Broken",
            "Fwd: Broken",
            "WG: Broken",
            "TR: Broken",
            "Odp: Broken",
            "Ответ: Broken",
            // The eight languages served (docs/design.md): Outlook, Gmail and the webmails.
            "AW: Broken",
            "Antwort: Broken",
            "WG: Broken",
            "RE : Broken",
            "TR : Broken",
            "RV: Broken",
            "R: Broken",
            "I: Broken",
            "Rif: Broken",
            "Antw: Broken",
            "Doorst: Broken",
            "RES: Broken",
            "ENC: Broken",
            "返信: Broken",
            "転送: Broken",
            "Ｒｅ：Broken",
            "ＲＥ: Broken",
        ] {
            assert!(has_reply_prefix(s), "{s}");
            assert_eq!(base_subject(s, "CMP"), "Broken", "{s}");
        }
    }

    #[test]
    fn stacked_prefixes_and_our_tag_are_removed() {
        let r = Reference::generate("CMP", &mut rand::thread_rng());
        let s = format!("AW: Re: {} RE: Invoice wrong", r.tag());
        assert_eq!(base_subject(&s, "CMP"), "Invoice wrong");
        assert_eq!(
            customer_subject(&r, &s, "CMP"),
            format!("{} Invoice wrong", r.tag())
        );
        assert_eq!(
            agent_subject(&r, &s, "CMP", None),
            format!("{} Invoice wrong", r.tag())
        );
    }

    #[test]
    fn a_long_outlook_and_gmail_reply_chain_keeps_one_subject() {
        let r = Reference::generate("CMP", &mut rand::thread_rng());
        let want = format!("{} Invoice charged twice", r.tag());
        // What we send, and what each side's client makes of it, round after round: Gmail
        // adds `Re: `, Outlook `RE: ` or (German) `AW: `, forwards add `Fwd:`/`WG:`/`TR:`,
        // some clients count (`Re[3]:`) or put no space after the colon.
        let answers = [
            "Re: ", "RE: ", "AW: ", "Re[2]: ", "SV: ", "Antw: ", "Fwd: ", "WG: ", "TR: ", "RE:",
            "Re: Re: ", "AW: WG: ", "FW: RE: ", "Re : ",
        ];
        let mut subject = "Invoice charged twice".to_string();
        for round in 0..40 {
            let sent = customer_subject(&r, &subject, "CMP");
            assert_eq!(sent, want, "round {round}");
            assert_eq!(agent_subject(&r, &subject, "CMP", None), want);
            subject = format!("{}{sent}", answers[round % answers.len()]);
            // Outlook also moves prefixes behind the tag on some replies.
            if round % 5 == 4 {
                subject = format!("RE: {} AW: {}", r.tag(), subject);
            }
        }
        assert!(!want.contains("Re:") && !want.contains("RE:"));
    }

    #[test]
    fn ordinary_colons_are_not_prefixes() {
        for s in [
            "Order 123: wrong size",
            "Urgent: site down",
            "Question about: billing",
            "10:30 appointment",
            "Re",
        ] {
            assert!(!has_reply_prefix(s), "{s}");
            assert_eq!(base_subject(s, "CMP"), s, "{s}");
        }
    }

    #[test]
    fn an_empty_subject_gets_a_readable_one() {
        let r = Reference::generate("CMP", &mut rand::thread_rng());
        assert_eq!(
            customer_subject(&r, "Re: ", "CMP"),
            format!("{} Your request", r.tag())
        );
        assert_eq!(
            agent_subject(&r, "", "CMP", None),
            format!("{} (no subject)", r.tag())
        );
    }

    #[test]
    fn a_command_error_is_labelled_before_the_base_subject() {
        let r = Reference::parse("CMP-7KQ4X-V").unwrap();
        let label = agent_label("agent_command_error");
        assert_eq!(
            agent_subject(&r, "Re: Invoice charged twice", "CMP", label),
            "[CMP-7KQ4X-V] Not sent: Invoice charged twice"
        );
        assert_eq!(agent_label("agent_new_case"), None);
    }
}
