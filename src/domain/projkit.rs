//! Test fixtures of the projections: teachers with the dates the duty and quota rules turn
//! on (employment, title, retirement), and schools of many teachers.

use super::event::Event;
use super::testkit::{dispatch, ev};

/// A teacher's registry facts beyond the shared fixtures' defaults.
pub struct Reg<'a> {
    /// Id.
    pub id: &'a str,
    /// Home school.
    pub school: &'a str,
    /// Employed at the home school on.
    pub employed: &'a str,
    /// Title.
    pub title: &'a str,
    /// Title obtained on.
    pub title_date: Option<&'a str>,
    /// Key-teacher level.
    pub key: &'a str,
    /// Known retirement date.
    pub retirement: Option<&'a str>,
}

impl<'a> Reg<'a> {
    /// An intermediate, non-key teacher employed at `school` on `employed`.
    pub fn new(id: &'a str, school: &'a str, employed: &'a str) -> Reg<'a> {
        Reg {
            id,
            school,
            employed,
            title: "intermediate",
            title_date: None,
            key: "none",
            retirement: None,
        }
    }

    /// The `teacher_registered` event, effective on the employment date.
    pub fn event(&self) -> Event {
        let opt =
            |k: &str, v: Option<&str>| v.map(|v| format!(r#","{k}":"{v}""#)).unwrap_or_default();
        ev(&format!(
            r#"{{"type":"teacher_registered","version":1,"teacher":"{}","name":"Teacher {}","school":"{}","subject":"mathematics","title":"{}"{},"key_level":"{}","employed_date":"{}"{},"date":"{}"}}"#,
            self.id,
            self.id,
            self.school,
            self.title,
            opt("title_date", self.title_date),
            self.key,
            self.employed,
            opt("retirement_date", self.retirement),
            self.employed,
        ))
    }
}

/// `n` teachers `{prefix}1..{prefix}n` at `school`, employed 2010-01-01, the first `key` of
/// them key teachers at `level`.
pub fn staff(prefix: &str, school: &str, n: usize, key: usize, level: &str) -> Vec<Event> {
    (1..=n)
        .map(|i| {
            let id = format!("{prefix}{i}");
            let mut r = Reg::new(&id, school, "2010-01-01");
            if i <= key {
                r.key = level;
            }
            r.event()
        })
        .collect()
}

/// Rotation dispatches `{prefix}-D{i}` of teachers `{prefix}1..{prefix}n` from `from` to
/// `to`, starting on `start`.
pub fn rotate(prefix: &str, from: &str, to: &str, n: usize, start: &str) -> Vec<Event> {
    (1..=n)
        .map(|i| {
            dispatch(
                &format!("{prefix}-D{i}"),
                &format!("{prefix}{i}"),
                from,
                to,
                start,
            )
        })
        .collect()
}

/// The state after `appends`, each judged by the domain rules as one append (they must all
/// be accepted: projections are tested on histories the ledger would have let in).
pub fn accepted(appends: Vec<Vec<Event>>) -> super::state::State {
    let mut state = super::state::State::new();
    for (n, events) in appends.into_iter().enumerate() {
        let mut b = super::rules::Batch::new(&state);
        for (i, e) in events.into_iter().enumerate() {
            let seq = b.state().len();
            if let Err(r) = b.push(i, super::testkit::meta(seq), std::sync::Arc::new(e)) {
                panic!("append {n} was rejected: {r}");
            }
        }
        state = b
            .finish()
            .unwrap_or_else(|r| panic!("append {n} was rejected: {r}"));
    }
    state
}
