//! Replies as real mail clients build them, and waiting for mail to arrive.

use std::time::Duration;

use mailcase::parse::InboundMessage;

use super::{rand_u32, unique, wait_for, World};

/// Waits until `user` has at least `n` messages and returns them, oldest first.
pub async fn wait_mail(w: &World, user: &str, n: usize) -> Vec<InboundMessage> {
    wait_for(
        &format!("{n} message(s) for {user}"),
        Duration::from_secs(60),
        || async {
            let m = w.mailbox(user, "INBOX").await;
            (m.len() >= n).then_some(m)
        },
    )
    .await
}

/// Waits (60 s at most) for a message in `user`'s INBOX that `pick` accepts, and returns it.
#[allow(dead_code)]
pub async fn wait_mail_where(
    w: &World,
    user: &str,
    what: &str,
    pick: impl Fn(&InboundMessage) -> bool,
) -> InboundMessage {
    wait_for(what, Duration::from_secs(60), || async {
        w.mailbox(user, "INBOX").await.into_iter().find(|m| pick(m))
    })
    .await
}

pub fn ids_header(ids: &[String]) -> String {
    ids.iter()
        .map(|i| format!("<{i}>"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A reply as Thunderbird builds it: `Re:` subject, In-Reply-To the parent, References the
/// parent's References plus the parent, body on top, "On <date>, <name> wrote:" and the
/// parent quoted with `> `.
pub fn thunderbird_reply(from: &str, name: &str, parent: &InboundMessage, top: &str) -> String {
    let mut refs = parent.references.clone();
    let pid = parent.message_id.clone().unwrap();
    refs.push(pid.clone());
    let to = parent.reply_to.as_ref().unwrap().address.clone();
    let quoted: String = parent.text.lines().map(|l| format!("> {l}\r\n")).collect();
    format!(
        "From: {name} <{from}>\r\nTo: {to}\r\nSubject: Re: {subject}\r\nMessage-ID: <tb.{id}@support.test>\r\n\
         In-Reply-To: <{pid}>\r\nReferences: {refs}\r\nDate: Mon, 23 Nov 2026 11:00:00 +0100\r\n\
         User-Agent: Mozilla Thunderbird\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\n\r\n\
         {top}\r\n\r\nOn 23.11.26 10:00, Example Support wrote:\r\n{quoted}",
        subject = parent.subject,
        id = unique("m"),
        refs = ids_header(&refs),
    )
}

/// A reply as Outlook builds it: `RE:` (or `AW:`) subject, the text on top, then a
/// `From:/Sent:/To:/Subject:` block under an underscore line, the history unquoted below.
pub fn outlook_reply(
    from: &str,
    name: &str,
    parent: &InboundMessage,
    top: &str,
    prefix: &str,
) -> String {
    let mut refs = parent.references.clone();
    let pid = parent.message_id.clone().unwrap();
    refs.push(pid.clone());
    let to = parent.reply_to.as_ref().unwrap().address.clone();
    format!(
        "From: {name} <{from}>\r\nTo: {to}\r\nSubject: {prefix} {subject}\r\nMessage-ID: <ol.{id}@support.test>\r\n\
         In-Reply-To: <{pid}>\r\nReferences: {refs}\r\nDate: Mon, 23 Nov 2026 11:00:00 +0100\r\n\
         X-Mailer: Microsoft Outlook 16.0\r\nX-Auto-Response-Suppress: All\r\nThread-Index: AQHZabcd\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\n\
         {top}\r\n\r\n________________________________\r\nFrom: Example Support <support@support.test>\r\n\
         Sent: Monday, November 23, 2026 10:00 AM\r\nTo: {name} <{from}>\r\nSubject: {subject}\r\n\r\n{history}\r\n",
        subject = parent.subject,
        id = unique("m"),
        refs = ids_header(&refs),
        history = parent.text.replace('\n', "\r\n"),
    )
}

/// A reply as Gmail builds it: multipart/alternative, "On Mon, 23 Nov 2026 at 10:00, X
/// <addr> wrote:" with `>` quoting in the text part and a gmail_quote div in the HTML part.
pub fn gmail_reply(from: &str, name: &str, parent: &InboundMessage, top: &str) -> String {
    let mut refs = parent.references.clone();
    let pid = parent.message_id.clone().unwrap();
    refs.push(pid.clone());
    let to = parent.reply_to.as_ref().unwrap().address.clone();
    let quoted: String = parent.text.lines().map(|l| format!("> {l}\r\n")).collect();
    format!(
        "From: {name} <{from}>\r\nTo: {to}\r\nSubject: Re: {subject}\r\nMessage-ID: <CAgm.{id}@mail.gmail.com>\r\n\
         In-Reply-To: <{pid}>\r\nReferences: {refs}\r\nDate: Mon, 23 Nov 2026 11:00:00 +0100\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"000000000000gm\"\r\n\r\n\
         --000000000000gm\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n{top}\r\n\r\n\
         On Mon, 23 Nov 2026 at 10:00, Example Support <support@support.test> wrote:\r\n\r\n{quoted}\r\n\
         --000000000000gm\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\r\n\
         <div dir=\"ltr\">{top_html}</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, 23 Nov 2026 at 10:00, Example Support &lt;support@support.test&gt; wrote:<br></div>\
         <blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex\">{quoted_html}</blockquote></div>\r\n\
         --000000000000gm--\r\n",
        subject = parent.subject,
        id = unique("m"),
        refs = ids_header(&refs),
        top_html = top.replace('\n', "<br>"),
        quoted_html = parent.text.replace('\n', "<br>"),
    )
}

/// A DSN as Postfix writes it, for `rcpt`, without any threading header: the returned
/// message's headers (with `original`, our Message-ID) are in a `text/rfc822-headers` part.
pub fn dsn(to: &str, rcpt: &str, original: &str) -> String {
    format!(
        "From: MAILER-DAEMON@customer.test (Mail Delivery System)\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <dsn.{r}@customer.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\
         --b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\nArrival-Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n\
         Final-Recipient: rfc822; {rcpt}\r\nOriginal-Recipient: rfc822;{rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\r\n\
         --b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Support <{to}>\r\nTo: {rcpt}\r\nSubject: [CMP] Re: something\r\n\
         Message-ID: <{original}>\r\n\r\n--b1--\r\n",
        r = rand_u32()
    )
}
