//! The given/when/then helper: one line per case.

use std::sync::Arc;

use super::super::event::Event;
use super::super::rules::{Batch, Rejection};
use super::super::state::State;
use super::super::testkit::meta;

/// Judges `events` as one append on `state`.
pub fn append(state: &State, events: &[Event]) -> Result<State, Rejection> {
    let mut b = Batch::new(state);
    for (i, e) in events.iter().enumerate() {
        let seq = b.state().len();
        b.push(i, meta(seq), Arc::new(e.clone()))?;
    }
    b.finish()
}

/// A history, appended as one append (it must be accepted).
pub fn given(events: Vec<Event>) -> Given {
    Given(State::new()).and(events)
}

/// A state built from accepted appends.
pub struct Given(pub State);

impl Given {
    /// Appends another accepted append.
    pub fn and(self, events: Vec<Event>) -> Given {
        match append(&self.0, &events) {
            Ok(s) => Given(s),
            Err(r) => panic!("the given history was rejected: {r}"),
        }
    }

    /// The append under test.
    pub fn when(self, events: Vec<Event>) -> When {
        When {
            before: self.0,
            events,
        }
    }
}

/// An append under test.
pub struct When {
    before: State,
    events: Vec<Event>,
}

impl When {
    /// It must be accepted; returns the new state.
    #[track_caller]
    pub fn then_accept(self) -> State {
        match append(&self.before, &self.events) {
            Ok(s) => s,
            Err(r) => panic!("expected acceptance, got {r}"),
        }
    }

    /// It must be rejected by `rule`; returns the rejection.
    #[track_caller]
    pub fn then_reject(self, rule: &str) -> Rejection {
        match append(&self.before, &self.events) {
            Ok(_) => panic!("expected rejection by {rule}, but it was accepted"),
            Err(r) => {
                assert_eq!(r.rule, rule, "rejected by another rule: {r}");
                assert!(!r.message.is_empty());
                r
            }
        }
    }

    /// It must be rejected by `rule` at event `index`.
    #[track_caller]
    pub fn then_reject_at(self, index: usize, rule: &str) -> Rejection {
        let r = self.then_reject(rule);
        assert_eq!(r.index, index, "rejected at another event: {r}");
        r
    }
}
