//! The records the state keeps: one per registered school, group and teacher, per dispatch
//! (with its return and evaluations), team, promotion and log entry.
//!
//! Their fields are public for the projections to read; only `State::apply` builds them.

use std::sync::Arc;

use chrono::NaiveDate;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use super::event::Event;
use super::id::Id;
use super::personal::Personal;
use super::small::{SmallMap, SmallSet};
use super::state::Meta;
use super::timeline::Timeline;
use super::vocab::{
    DispatchKind, Grade, GroupKind, KeyLevel, PromotionKind, ReturnReason, SchoolYear, Stage,
    Standing, Title,
};

/// One log entry as the state gives it back: decoded, on demand, from its packed entry log
/// (`super::entry_log`), so an owned value rather than a reference into the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// Sequence number, hash, time and actor.
    pub meta: Meta,
    /// The event; `None` when the payload did not decode (written without the domain).
    pub event: Option<Arc<Event>>,
    /// The teacher the entry is about, if any (its place in that teacher's history).
    pub teacher: Option<Id>,
    /// The entry that voided this one, if any.
    pub voided_by: Option<u64>,
}

/// A registered school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct School {
    /// Id.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Stage.
    pub stage: Stage,
    /// Rural (乡村学校).
    pub rural: bool,
    /// The registering entry.
    pub registered: u64,
    /// Registration's effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
    /// Standing over time.
    pub standing: Timeline<Standing>,
}

/// A district or education group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Id.
    pub id: Id,
    /// District or education group.
    pub kind: GroupKind,
    /// Name.
    pub name: String,
    /// Lead school (牵头校).
    pub lead_school: Id,
    /// The forming entry.
    pub formed: u64,
    /// Formation's effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
    /// Per school, whether it is a member, over time.
    pub members: OrdMap<Id, Timeline<bool>>,
}

impl Group {
    /// Whether `school` is a member as of `date`.
    pub fn has_member(&self, school: &Id, date: NaiveDate) -> bool {
        self.members
            .get(school)
            .and_then(|t| t.at(date))
            .copied()
            .unwrap_or(false)
    }

    /// The member schools as of `date`.
    pub fn members_at(&self, date: NaiveDate) -> Vec<Id> {
        self.members
            .iter()
            .filter(|(_, t)| t.at(date).copied().unwrap_or(false))
            .map(|(s, _)| s.clone())
            .collect()
    }
}

/// A teacher's post at a home school (编制).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomePost {
    /// The home school.
    pub school: Id,
    /// Employed there since (tenure counts from it).
    #[serde(with = "super::binary::date")]
    pub since: NaiveDate,
}

/// A professional title held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TitleHeld {
    /// The title.
    pub title: Title,
    /// Obtained on, when known.
    #[serde(with = "super::binary::opt_date")]
    pub since: Option<NaiveDate>,
}

/// A registered teacher: registry facts over time, and indexes of their rotation records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Teacher {
    /// Id.
    pub id: Id,
    /// The registering entry.
    pub registered: u64,
    /// Registration's effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
    /// Name over time (personal: sealed in entries the ledger wrote, see `personal`).
    pub name: Timeline<Personal>,
    /// Subject over time.
    pub subject: Timeline<Id>,
    /// Title over time (registry, profile updates and title promotions).
    pub title: Timeline<TitleHeld>,
    /// Key-teacher level over time.
    pub key_level: Timeline<KeyLevel>,
    /// Known retirement date over time.
    pub retirement: Timeline<Option<NaiveDate>>,
    /// Home school over time (registration from the employment date, then transfers).
    pub home: Timeline<HomePost>,
    /// The teacher's dispatches, by their number in the state (`super::numbered`; read them
    /// with `State::dispatches_of_record`).
    pub dispatches: SmallSet<u32>,
    /// The teacher's promotions (by entry).
    pub promotions: SmallSet<u64>,
    /// The `personal_data_erased` entry, once the teacher's personal data was erased.
    pub erased: Option<Erasure>,
}

/// A teacher's personal data was erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// The erasing entry.
    pub seq: u64,
    /// Its effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// The end of a dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    /// The returning entry.
    pub seq: u64,
    /// First day back.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
    /// Why.
    pub reason: ReturnReason,
    /// Explanation.
    pub reason_text: Option<Personal>,
}

/// An evaluation by the receiving school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The evaluating entry.
    pub seq: u64,
    /// The evaluating school.
    pub school: Id,
    /// The school year evaluated.
    pub school_year: SchoolYear,
    /// The grade.
    pub grade: Grade,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// One rotation posting and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatch {
    /// Id.
    pub id: Id,
    /// The dispatching entry.
    pub seq: u64,
    /// The teacher.
    pub teacher: Id,
    /// Sending (home) school.
    pub from_school: Id,
    /// Receiving school.
    pub to_school: Id,
    /// First day.
    #[serde(with = "super::binary::date")]
    pub start_date: NaiveDate,
    /// Rotation, support or training.
    pub kind: DispatchKind,
    /// The team, if a team dispatch.
    pub team: Option<Id>,
    /// The return, once recorded.
    pub returned: Option<Return>,
    /// Evaluations by school year.
    pub evaluations: SmallMap<SchoolYear, Evaluation>,
}

impl Dispatch {
    /// The return date if the return is effective as of `date`.
    pub fn end_as_of(&self, date: NaiveDate) -> Option<NaiveDate> {
        self.returned
            .as_ref()
            .map(|r| r.date)
            .filter(|end| *end <= date)
    }

    /// Whether the dispatch is open in the recorded sense (no return recorded yet).
    pub fn is_open(&self) -> bool {
        self.returned.is_none()
    }

    /// Whether the teacher is at the receiving school on `date`.
    pub fn serving_on(&self, date: NaiveDate) -> bool {
        self.start_date <= date && self.end_as_of(date).is_none()
    }

    /// The evaluations whose effective date is on or before `date`, by school year.
    pub fn evaluations_as_of(&self, date: NaiveDate) -> impl Iterator<Item = &Evaluation> {
        self.evaluations.values().filter(move |e| e.date <= date)
    }
}

/// 组团流入: a team of dispatches to one weak school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Id.
    pub id: Id,
    /// Receiving school.
    pub school: Id,
    /// The founders' common start date.
    #[serde(with = "super::binary::date")]
    pub start_date: NaiveDate,
    /// The entry of the first founding dispatch.
    pub created: u64,
    /// Member dispatches.
    pub members: SmallSet<Id>,
}

/// A promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// The promoting entry.
    pub seq: u64,
    /// The teacher.
    pub teacher: Id,
    /// Title, rank or leadership.
    pub kind: PromotionKind,
    /// What to.
    pub to: String,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
    /// Whether rotation credit was claimed.
    pub rotation_credit: bool,
}
