//! The domain of rotaledger: events, policy, state, rules and projections, as plain Rust
//! with no I/O (SPEC §1-4).
//!
//! # Layout
//! - [`binary`]: what the state snapshot's binary form needs from the domain types.
//! - [`id`]: validated identifiers and free text.
//! - [`vocab`]: the closed vocabularies (stages, standings, titles, grades, ...) and school years.
//! - [`json`]: JSON text from outside parsed strictly (a repeated member is refused).
//! - [`fields`]: the strict JSON field reader every decoder uses.
//! - [`calendar`]: min_end and days served, counted the one way SPEC §4 defines.
//! - [`event`]: the events, their strict decoding and canonical JSON (`docs/EVENTS.md`).
//! - [`policy`]: every number of SPEC as a parameter; presets; `policy_adopted` overrides.
//! - [`timeline`]: values over effective dates.
//! - [`small`]: the small sorted sets and maps inside records.
//! - [`records`]: what the state keeps per school, group, teacher, dispatch, team, entry.
//! - [`state`]: the state folded from the log, and its accessors.
//! - [`rules`]: the rules judged on append (SPEC §3); voids in `voids`.
//! - [`eligibility`]: promotion-credit eligibility (SPEC 4.3), used by rules 5 and 6.
//! - [`terms`], [`teams`]: projections as of a date (SPEC 4.1, 4.2).
//! - [`district`]: the bureau's view of a school year (quota statuses, outflow by year,
//!   teams below strength); [`owed`]: evaluations a receiving school still owes.
//!
//! **Architecture Invariant:** nothing here reads a clock, a file or the network. Time
//! enters only as effective dates in events and as-of dates in questions, so every answer is
//! a function of the log and the question.

pub mod binary;
pub mod calendar;
pub mod district;
pub mod duty;
pub mod eligibility;
pub mod entry_log;
pub mod event;
pub mod fields;
pub mod group_summary;
pub mod history;
pub mod id;
pub mod json;
pub mod numbered;
pub mod owed;
pub mod personal;
pub mod policy;
#[cfg(test)]
mod projkit;
pub mod query;
pub mod quota;
pub mod records;
pub mod rules;
pub mod small;
pub mod state;
pub mod teams;
pub mod terms;
pub mod timeline;
pub mod vocab;
mod voids;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use event::{EntryLink, Event};
pub use fields::DecodeError;
pub use id::Id;
pub use policy::{Policy, Preset, Ratio};
pub use state::{Meta, State};
