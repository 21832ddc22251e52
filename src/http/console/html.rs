//! Drawing pages: HTML escaping, URL path encoding, and the layout every page shares
//! (header with the user and the language switch, the page, the ledger position).

use std::fmt::Write as _;

use super::messages::{Lang, M};
use super::session::Session;
use crate::grpc::auth::Role;

/// `s` safe inside HTML text and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` as one URL path segment or query value (ids may hold any printable character).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A link to a teacher's page, keeping the date the page was asked for.
pub fn teacher_link(id: &str, label: &str, as_of: &str) -> String {
    format!(
        "<a href=\"/teachers/{}{}\">{}</a>",
        enc(id),
        as_of_query(as_of),
        esc(label)
    )
}

/// A link to a school's page, keeping the date.
pub fn school_link(id: &str, as_of: &str) -> String {
    format!(
        "<a href=\"/schools/{}{}\">{}</a>",
        enc(id),
        as_of_query(as_of),
        esc(id)
    )
}

/// `?as_of=...` when a date was asked for, else nothing.
pub fn as_of_query(as_of: &str) -> String {
    if as_of.is_empty() {
        String::new()
    } else {
        format!("?as_of={}", enc(as_of))
    }
}

/// The role's name in `lang`.
pub fn role_name(role: Role, lang: Lang) -> &'static str {
    match role {
        Role::Admin => M::RoleAdmin.t(lang),
        Role::Principal => M::RolePrincipal.t(lang),
        Role::Teacher => M::RoleTeacher.t(lang),
        Role::Auditor => M::RoleAuditor.t(lang),
        Role::Mirror => M::RoleMirror.t(lang),
        Role::Writer => M::RoleWriter.t(lang),
    }
}

/// What a page needs to draw its frame.
pub struct Frame<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The session, if any (the sign-in page may have none signed in).
    pub session: Option<&'a Session>,
    /// The request's path and query, for the language switch.
    pub here: &'a str,
}

impl Frame<'_> {
    /// The current URL with `lang` set to the other language.
    fn switch_url(&self) -> String {
        let (path, query) = self.here.split_once('?').unwrap_or((self.here, ""));
        let mut parts: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("lang="))
            .collect();
        let lang = format!("lang={}", self.lang.other().code());
        parts.push(&lang);
        format!("{path}?{}", parts.join("&"))
    }

    /// The whole page around `body`, titled `title`.
    pub fn page(&self, title: &str, body: &str) -> String {
        let l = self.lang;
        let mut user = String::new();
        if let Some(s) = self.session
            && let Some(who) = &s.signed_in
        {
            let _ = write!(
                user,
                "<span class=\"who\">{}{}{}{}{}{}</span>\
                 <form method=\"post\" action=\"/logout\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button type=\"submit\">{}</button></form>",
                esc(M::SignedInAs.t(l)),
                if l == Lang::Zh { "：" } else { ": " },
                esc(&who.caller.name),
                if l == Lang::Zh { "（" } else { " (" },
                esc(role_name(who.caller.role, l)),
                if l == Lang::Zh { "）" } else { ")" },
                esc(&s.csrf),
                esc(M::SignOut.t(l)),
            );
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} · {}</title><link rel=\"stylesheet\" href=\"/assets/console.css\"></head>\
             <body><header><a class=\"brand\" href=\"/\">{}</a><nav>{}\
             <a class=\"lang\" href=\"{}\">{}</a></nav></header>\
             <main>{}</main></body></html>\n",
            l.html(),
            esc(title),
            esc(M::AppName.t(l)),
            esc(M::AppName.t(l)),
            user,
            esc(&self.switch_url()),
            esc(M::SwitchLang.t(l)),
            body
        )
    }
}

/// A table: a header row of labels and rows of already-escaped cells.
pub fn table(lang: Lang, heads: &[M], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in heads {
        let _ = write!(out, "<th>{}</th>", esc(h.t(lang)));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A table, or the designed empty state when there are no rows.
pub fn table_or(lang: Lang, heads: &[M], rows: &[Vec<String>], empty: M) -> String {
    if rows.is_empty() {
        format!("<p class=\"empty\">{}</p>", esc(empty.t(lang)))
    } else {
        table(lang, heads, rows)
    }
}

/// A met / not met badge.
pub fn verdict(lang: Lang, met: bool) -> String {
    if met {
        format!("<span class=\"ok\">✔ {}</span>", esc(M::Met.t(lang)))
    } else {
        format!("<span class=\"no\">✘ {}</span>", esc(M::NotMet.t(lang)))
    }
}

/// The "as of" form (and the school year, where the page has one).
pub fn as_of_form(lang: Lang, action: &str, as_of: &str, year: Option<i32>) -> String {
    as_of_form_at(lang, action, as_of, year, None)
}

/// The "as of" form of a page that may show an earlier state of the ledger: a
/// `recorded_up_to` asked for is kept when the form is sent.
pub fn as_of_form_at(
    lang: Lang,
    action: &str,
    as_of: &str,
    year: Option<i32>,
    recorded: Option<u64>,
) -> String {
    let year_field = year
        .map(|y| {
            format!(
                "<label>{} <input type=\"number\" name=\"year\" value=\"{y}\" min=\"1900\" max=\"2999\"></label>",
                esc(M::SchoolYear.t(lang))
            )
        })
        .unwrap_or_default();
    format!(
        "<form method=\"get\" action=\"{}\" class=\"asof\"><label>{} \
         <input type=\"date\" name=\"as_of\" value=\"{}\"></label>{year_field}{}\
         <button type=\"submit\">{}</button><small>{}</small></form>",
        esc(action),
        esc(M::AsOf.t(lang)),
        esc(as_of),
        super::recorded::hidden_field(recorded),
        esc(M::Show.t(lang)),
        esc(M::AsOfHelp.t(lang)),
    )
}

/// The ledger position a page was computed at.
pub fn position(lang: Lang, size: u64, as_of: &str) -> String {
    format!(
        "<p class=\"position\">{} {size} {} · {} {}</p>",
        esc(M::LedgerPosition.t(lang)),
        esc(M::LedgerPositionTail.t(lang)),
        esc(M::AsOf.t(lang)),
        esc(as_of)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_encoding() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(enc("T 1/张"), "T%201%2F%E5%BC%A0");
    }

    #[test]
    fn the_switch_keeps_the_query() {
        let f = Frame {
            lang: Lang::Zh,
            session: None,
            here: "/teachers/T1?as_of=2025-01-01&lang=zh",
        };
        assert_eq!(f.switch_url(), "/teachers/T1?as_of=2025-01-01&lang=en");
    }
}
