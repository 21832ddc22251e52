//! `?recorded_up_to=N` on pages: what the ledger said when it held its first N entries (SPEC
//! 4.6), next to `?as_of=` (which effective date is asked about). The service answers from
//! that prefix; a page says so in its header, keeps it in its form and download links, and
//! offers the way back to the current ledger.

use super::html::esc;
use super::messages::{Lang, M};
use super::{Problem, param};

/// The `recorded_up_to` parameter: absent or empty is the whole ledger; anything but a
/// whole number of entries is refused with the field named (the service refuses a size past
/// the head the same way).
pub fn recorded_param(q: &[(String, String)]) -> Result<Option<u64>, Problem> {
    match param(q, "recorded_up_to").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Problem::BadInput("recorded_up_to".into())),
        Some(_) => Err(Problem::BadInput("recorded_up_to".into())),
    }
}

/// `&recorded_up_to=N` for a link's query, or nothing.
pub fn query_part(recorded: Option<u64>) -> String {
    recorded.map_or_else(String::new, |n| format!("&recorded_up_to={n}"))
}

/// The hidden form field that keeps `recorded_up_to` when the as-of form is sent.
pub fn hidden_field(recorded: Option<u64>) -> String {
    recorded.map_or_else(String::new, |n| {
        format!("<input type=\"hidden\" name=\"recorded_up_to\" value=\"{n}\">")
    })
}

/// The notice under a page's title when it shows an earlier state of the ledger, with a link
/// to the same page on the current ledger (`current` is the page's own URL without
/// `recorded_up_to`).
pub fn notice(l: Lang, recorded: Option<u64>, current: &str) -> String {
    recorded.map_or_else(String::new, |n| {
        format!(
            "<p class=\"recorded\" id=\"recorded-up-to\">{}{n}{} <a href=\"{}\">{}</a></p>",
            esc(M::RecordedUpToHead.t(l)),
            esc(M::RecordedUpToTail.t(l)),
            esc(current),
            esc(M::RecordedUpToCurrent.t(l)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(v: &str) -> Vec<(String, String)> {
        vec![("recorded_up_to".to_owned(), v.to_owned())]
    }

    #[test]
    fn only_whole_numbers_are_taken() {
        assert_eq!(recorded_param(&[]), Ok(None));
        assert_eq!(recorded_param(&q("")), Ok(None));
        assert_eq!(recorded_param(&q("42")), Ok(Some(42)));
        for bad in ["-1", "1.5", "x", "99999999999999999999999", "+3"] {
            assert_eq!(
                recorded_param(&q(bad)),
                Err(Problem::BadInput("recorded_up_to".into())),
                "{bad}"
            );
        }
    }
}
