//! The domain state: everything the log says, folded into persistent maps, answerable as of
//! an effective date. [`State::apply`] folds one entry in; [`State::replay`] folds a log.
//!
//! **Architecture Invariant:** the state is a pure function of the log. It holds no clocks
//! and does no I/O; the same entries always give the same state, so a replay (on open, or of
//! a prefix for "as recorded up to N") equals the state built append by append.
//!
//! The maps are `imbl` persistent maps, and the entries an [`EntryLog`] of packed, shared
//! chunks: a clone is O(1) and shares structure, so readers keep a snapshot while the writer
//! works on its own copy, and a rejected append is just a dropped clone.
//!
//! `apply` never panics and never fails, whatever the entry holds: the rules
//! (`super::rules`) decide what may be appended; `apply` folds in what *was* appended and
//! skips what it cannot make sense of (an entry written without the rules, or one that does
//! not decode, is kept in the entry index as unreadable and otherwise ignored).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use imbl::{OrdMap, OrdSet};

use super::calendar::add_years;
use super::entry_log::EntryLog;
use super::event::{EntryLink, Event};
use super::id::Id;
use super::numbered::Numbered;
use super::policy::Policy;
pub use super::records::{
    Dispatch, EntryRecord, Evaluation, Group, HomePost, Promotion, Return, School, Teacher, Team,
    TitleHeld,
};
use super::small::{SmallMap, SmallSet};
use super::timeline::Timeline;
use super::vocab::{MembershipChange, Standing};

/// Where and when an entry was recorded: what `apply` needs besides the event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// Sequence number.
    pub seq: u64,
    /// Entry hash.
    #[serde(with = "super::binary::hash")]
    pub hash: [u8; 32],
    /// Server time of the append.
    #[serde(with = "super::binary::time")]
    pub recorded_at: DateTime<Utc>,
    /// Who appended it.
    pub actor: Arc<str>,
}

/// Everything the log says, as persistent maps (and the packed log of the entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Every entry, at its sequence number, packed (decoded when read: see `EntryLog`).
    entries: EntryLog,
    schools: OrdMap<Id, School>,
    groups: OrdMap<Id, Group>,
    /// Records by number (`super::numbered`), each behind an `Arc`: a change copies one
    /// record, not a node of them, and the indexes below reach a record by its number without
    /// a walk down the map of ids.
    teachers: Numbered<Teacher>,
    dispatches: Numbered<Dispatch>,
    teams: OrdMap<Id, Team>,
    promotions: OrdMap<u64, Promotion>,
    policies: Timeline<Arc<Policy>>,
    /// Per teacher id, every entry about them in log order (kept even if the registration is
    /// voided, so the history chain stays whole).
    histories: OrdMap<Id, SmallSet<u64>>,
    /// Per school, the teachers with a home post there at any date (registration or
    /// transfer): the candidates of a school's quota and duty, so those questions read the
    /// school's own teachers rather than every teacher of the jurisdiction. Exact: a void
    /// that removes a teacher's last post at a school removes them here too, so the index is
    /// a function of the records (and their numbers) alone. Persistent sets, not
    /// `SmallSet`s: a school's set holds hundreds of teachers, and a `SmallSet` shared with
    /// the published state would be copied whole by the first change after each commit. The
    /// teachers by number (`super::numbered`): a walk of the school reaches each record
    /// without looking its id up, and a number is 4 bytes where an id is 24.
    homed: OrdMap<Id, OrdSet<u32>>,
    /// Per school, the dispatches from or to it (quota outflow, terms by school, group
    /// summaries), by number. Exact, like `homed`.
    by_school: OrdMap<Id, OrdSet<u32>>,
    unreadable: u64,
}

/// Adds number `v` to the set under `k`.
fn index_add(index: &mut OrdMap<Id, OrdSet<u32>>, k: &Id, v: u32) {
    match index.get_mut(k) {
        Some(set) => {
            set.insert(v);
        }
        None => {
            index.insert(k.clone(), OrdSet::unit(v));
        }
    }
}

/// Removes number `v` from the set under `k` (and the set, once empty).
fn index_remove(index: &mut OrdMap<Id, OrdSet<u32>>, k: &Id, v: &u32) {
    if let Some(set) = index.get_mut(k) {
        set.remove(v);
        if set.is_empty() {
            index.remove(k);
        }
    }
}

impl State {
    /// The empty state (no entries; the default policy in force).
    pub fn new() -> State {
        State::default()
    }

    // ---- Reading -------------------------------------------------------------------------

    /// Number of entries folded in.
    pub fn len(&self) -> u64 {
        self.entries.len()
    }

    /// Whether no entry was folded in.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries whose payload did not decode (written without the domain rules).
    pub fn unreadable(&self) -> u64 {
        self.unreadable
    }

    /// One entry, decoded.
    pub fn entry(&self, seq: u64) -> Option<EntryRecord> {
        self.entries.get(seq)
    }

    /// One entry's hash (without decoding the entry).
    pub fn entry_hash(&self, seq: u64) -> Option<[u8; 32]> {
        self.entries.hash(seq)
    }

    /// Every entry, decoded, in log order.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = EntryRecord> + '_ {
        self.entries.iter()
    }

    /// Whether entry `seq` is voided.
    pub fn is_voided(&self, seq: u64) -> bool {
        self.entries.voided_by(seq).is_some()
    }

    /// The voided entries, decoded, in log order.
    pub fn voided(&self) -> impl Iterator<Item = EntryRecord> + '_ {
        self.entries
            .voided()
            .filter_map(|seq| self.entries.get(seq))
    }

    /// A school.
    pub fn school(&self, id: &str) -> Option<&School> {
        self.schools.get(id)
    }

    /// Every school, by id.
    pub fn schools(&self) -> impl Iterator<Item = &School> {
        self.schools.values()
    }

    /// A school's standing as of `date`.
    pub fn standing_at(&self, school: &str, date: NaiveDate) -> Option<Standing> {
        self.schools
            .get(school)
            .and_then(|s| s.standing.at(date))
            .copied()
    }

    /// A group.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    /// Every group, by id.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// The groups `school` belongs to as of `date`.
    pub fn groups_of(&self, school: &Id, date: NaiveDate) -> Vec<&Group> {
        self.groups
            .values()
            .filter(|g| g.has_member(school, date))
            .collect()
    }

    /// Whether two schools share a district or group as of `date`.
    pub fn share_group(&self, a: &Id, b: &Id, date: NaiveDate) -> bool {
        self.groups
            .values()
            .any(|g| g.has_member(a, date) && g.has_member(b, date))
    }

    /// A teacher.
    pub fn teacher(&self, id: &str) -> Option<&Teacher> {
        self.teachers.get(id)
    }

    /// Every teacher, by id.
    pub fn teachers(&self) -> impl Iterator<Item = &Teacher> {
        self.teachers.values()
    }

    /// The teachers whose personal data the log holds sealed and who were not erased: each
    /// must have a data key. (A sealed return reason counts for the dispatch's teacher.)
    pub fn sealed_teachers(&self) -> Vec<Id> {
        self.teachers
            .values()
            .filter(|t| t.erased.is_none())
            .filter(|t| {
                t.name.changes().any(|(_, _, n)| n.is_sealed())
                    || t.dispatches.iter().any(|d| {
                        self.dispatches
                            .at(*d)
                            .and_then(|d| d.returned.as_ref())
                            .and_then(|r| r.reason_text.as_ref())
                            .is_some_and(|p| p.is_sealed())
                    })
            })
            .map(|t| t.id.clone())
            .collect()
    }

    /// The teachers whose personal data was erased.
    pub fn erased_teachers(&self) -> Vec<Id> {
        self.teachers
            .values()
            .filter(|t| t.erased.is_some())
            .map(|t| t.id.clone())
            .collect()
    }

    /// A teacher's home post as of `date`.
    pub fn home_at(&self, teacher: &str, date: NaiveDate) -> Option<&HomePost> {
        self.teachers.get(teacher).and_then(|t| t.home.at(date))
    }

    /// A dispatch.
    pub fn dispatch(&self, id: &str) -> Option<&Dispatch> {
        self.dispatches.get(id)
    }

    /// A dispatch's minimum end (`min_end`, SPEC 4.1): the start plus the policy's
    /// `min_term_years` as in force on the start date (a term's length is fixed when it
    /// begins), 29 February clamping to 28 February.
    pub fn min_end(&self, d: &Dispatch) -> Option<NaiveDate> {
        add_years(d.start_date, self.policy_at(d.start_date).min_term_years)
    }

    /// Every dispatch, by id.
    pub fn dispatches(&self) -> impl Iterator<Item = &Dispatch> {
        self.dispatches.values()
    }

    /// A teacher's dispatches, by start date.
    pub fn dispatches_of(&self, teacher: &str) -> Vec<&Dispatch> {
        let mut v: Vec<&Dispatch> = self
            .teachers
            .get(teacher)
            .map(|t| self.dispatches_of_record(t).collect())
            .unwrap_or_default();
        v.sort_by_key(|d| (d.start_date, d.seq));
        v
    }

    /// The dispatches of a teacher record (as [`State::dispatches_of`], in the order their
    /// ids were first recorded, not sorted): for a caller already holding the record, without
    /// looking it up again.
    pub fn dispatches_of_record<'a>(
        &'a self,
        t: &'a Teacher,
    ) -> impl Iterator<Item = &'a Dispatch> {
        t.dispatches.iter().filter_map(|d| self.dispatches.at(*d))
    }

    /// The teachers with a home post at `school` on some date (registration or transfer),
    /// by id: a superset of its teachers on any one date, which callers filter with
    /// `home.at(date)`.
    pub fn teachers_homed_at(&self, school: &str) -> impl Iterator<Item = &Teacher> {
        let mut v: Vec<&Teacher> = self
            .homed
            .get(school)
            .into_iter()
            .flat_map(|set| set.iter())
            .filter_map(|t| self.teachers.at(*t))
            .collect();
        // The set is by number (the order each id was first registered); callers list by id.
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        v.into_iter()
    }

    /// The dispatches from or to `school`, by dispatch id.
    pub fn dispatches_at(&self, school: &str) -> impl Iterator<Item = &Dispatch> {
        let mut v: Vec<&Dispatch> = self
            .by_school
            .get(school)
            .into_iter()
            .flat_map(|set| set.iter())
            .filter_map(|d| self.dispatches.at(*d))
            .collect();
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        v.into_iter()
    }

    /// The teacher's open dispatch (no return recorded), if any.
    pub fn open_dispatch(&self, teacher: &str) -> Option<&Dispatch> {
        self.dispatches_of(teacher)
            .into_iter()
            .find(|d| d.is_open())
    }

    /// A team.
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.get(id)
    }

    /// Every team, by id.
    pub fn teams(&self) -> impl Iterator<Item = &Team> {
        self.teams.values()
    }

    /// A promotion, by its entry.
    pub fn promotion(&self, seq: u64) -> Option<&Promotion> {
        self.promotions.get(&seq)
    }

    /// Every standing promotion, in log order.
    pub fn promotions(&self) -> impl Iterator<Item = &Promotion> {
        self.promotions.values()
    }

    /// A teacher's standing promotions, in log order.
    pub fn promotions_of(&self, teacher: &str) -> Vec<&Promotion> {
        self.teachers
            .get(teacher)
            .map(|t| {
                t.promotions
                    .iter()
                    .filter_map(|s| self.promotions.get(s))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The policy in force on `date`: the latest adopted on or before it, else the default.
    pub fn policy_at(&self, date: NaiveDate) -> Arc<Policy> {
        self.policies
            .at(date)
            .cloned()
            .unwrap_or_else(|| Arc::new(Policy::default()))
    }

    /// Every adopted policy: (effective date, entry, policy).
    pub fn policies(&self) -> impl Iterator<Item = (NaiveDate, u64, &Arc<Policy>)> {
        self.policies.changes()
    }

    /// Every entry about a teacher, decoded, in log order (voided ones included: they are
    /// history).
    pub fn history(&self, teacher: &str) -> Vec<EntryRecord> {
        self.histories
            .get(teacher)
            .map(|h| h.iter().filter_map(|s| self.entry(*s)).collect())
            .unwrap_or_default()
    }

    /// The latest entry about `teacher`: what the next entry about them links to.
    pub fn teacher_head(&self, teacher: &str) -> Option<EntryLink> {
        let seq = *self.histories.get(teacher)?.last()?;
        Some(EntryLink {
            seq,
            hash: self.entries.hash(seq)?,
        })
    }

    /// The teacher an event is about, in this state: named directly, through its dispatch,
    /// or (for a void) the teacher of the voided entry.
    pub fn teacher_of(&self, event: &Event) -> Option<Id> {
        match event {
            Event::TeacherRegistered(e) => Some(e.teacher.clone()),
            Event::TeacherProfileUpdated(e) => Some(e.teacher.clone()),
            Event::TeacherTransferred(e) => Some(e.teacher.clone()),
            Event::TeacherDispatched(e) => Some(e.teacher.clone()),
            Event::TeacherPromoted(e) => Some(e.teacher.clone()),
            Event::TeacherReturned(e) => {
                self.dispatches.get(&e.dispatch).map(|d| d.teacher.clone())
            }
            Event::TeacherEvaluated(e) => {
                self.dispatches.get(&e.dispatch).map(|d| d.teacher.clone())
            }
            Event::EntryVoided(v) => self.entries.teacher(v.seq),
            Event::PersonalDataErased(e) => Some(e.teacher.clone()),
            Event::SchoolRegistered(_)
            | Event::SchoolStandingChanged(_)
            | Event::GroupFormed(_)
            | Event::GroupMembershipChanged(_)
            | Event::PolicyAdopted(_) => None,
        }
    }

    // ---- Folding -------------------------------------------------------------------------

    /// Folds a stored payload in: decodes it (see `Event::decode_stored`) and applies it, or
    /// records it as unreadable.
    pub fn apply_stored(&mut self, meta: Meta, payload: &str) {
        self.apply_decoded(meta, Event::decode_stored(payload).ok().map(|(e, _)| e));
    }

    /// Folds in a stored payload already decoded by `Event::decode_stored` (`None`: it did
    /// not decode). Lets a replay decode on one thread while it applies on another; the
    /// result is exactly [`State::apply_stored`]'s.
    pub fn apply_decoded(&mut self, meta: Meta, event: Option<Event>) {
        match event {
            Some(event) => self.apply(meta, Arc::new(event)),
            None => {
                if !self.is_next(meta.seq) {
                    return;
                }
                self.unreadable += 1;
                self.entries.push(&meta, None, None);
            }
        }
    }

    /// Folds a log in, in order.
    pub fn replay<'a>(entries: impl IntoIterator<Item = (Meta, &'a str)>) -> State {
        let mut s = State::new();
        for (meta, payload) in entries {
            s.apply_stored(meta, payload);
        }
        s
    }

    /// Folds one entry in. Never panics; entries that make no sense here (a duplicate
    /// registration, a return of an unknown dispatch) are kept in the index and otherwise
    /// ignored. An entry that is not the next in the log (already folded in, or after a gap)
    /// is ignored entirely.
    pub fn apply(&mut self, meta: Meta, event: Arc<Event>) {
        if !self.is_next(meta.seq) {
            return;
        }
        let seq = meta.seq;
        let teacher = self.teacher_of(&event);
        self.fold(seq, &event);
        if let Some(t) = &teacher {
            match self.histories.get_mut(t) {
                Some(h) => {
                    h.insert(seq);
                }
                None => {
                    self.histories.insert(t.clone(), SmallSet::unit(seq));
                }
            }
        }
        self.entries.push(&meta, teacher.as_ref(), Some(&*event));
    }

    /// Whether `seq` is the next entry of the log, the only one `apply` folds in.
    fn is_next(&self, seq: u64) -> bool {
        seq == self.entries.len()
    }

    /// The state's own copy of school id `id` (its record's key) when the school is
    /// registered, else `id`. Records keep these copies so that an id named by many events
    /// (a school by every teacher homed or dispatched there) is one shared allocation, not
    /// one per event that named it (for an id too long to be held inline: `id::Id`).
    fn school_id(&self, id: &Id) -> Id {
        self.schools
            .get_key_value(id)
            .map_or_else(|| id.clone(), |(k, _)| k.clone())
    }

    /// The state's own copy of teacher id `id`, as [`State::school_id`].
    fn teacher_id(&self, id: &Id) -> Id {
        self.teachers.key(id).unwrap_or(id).clone()
    }

    fn fold(&mut self, seq: u64, event: &Event) {
        match event {
            Event::SchoolRegistered(e) => {
                if !self.schools.contains_key(&e.school) {
                    self.schools.insert(
                        e.school.clone(),
                        School {
                            id: e.school.clone(),
                            name: e.name.clone(),
                            stage: e.stage,
                            rural: e.rural,
                            registered: seq,
                            date: e.date,
                            standing: Timeline::starting(e.date, seq, e.standing),
                        },
                    );
                }
            }
            Event::SchoolStandingChanged(e) => {
                if let Some(s) = self.schools.get_mut(&e.school) {
                    s.standing.set(e.date, seq, e.standing);
                }
            }
            Event::GroupFormed(e) => {
                if !self.groups.contains_key(&e.group) {
                    let members = e
                        .schools
                        .iter()
                        .map(|s| (self.school_id(s), Timeline::starting(e.date, seq, true)))
                        .collect();
                    self.groups.insert(
                        e.group.clone(),
                        Group {
                            id: e.group.clone(),
                            kind: e.kind,
                            name: e.name.clone(),
                            lead_school: self.school_id(&e.lead_school),
                            formed: seq,
                            date: e.date,
                            members,
                        },
                    );
                }
            }
            Event::GroupMembershipChanged(e) => {
                if let Some(g) = self.groups.get_mut(&e.group) {
                    let mut t = g.members.get(&e.school).cloned().unwrap_or_default();
                    t.set(e.date, seq, e.change == MembershipChange::Joined);
                    g.members.insert(e.school.clone(), t);
                }
            }
            Event::TeacherRegistered(e) => {
                if !self.teachers.contains(&e.teacher) {
                    let school = self.school_id(&e.school);
                    let id = self.teacher_id(&e.teacher);
                    let put = self.teachers.put(
                        &id,
                        Teacher {
                            id: e.teacher.clone(),
                            registered: seq,
                            date: e.date,
                            name: Timeline::starting(e.date, seq, e.name.clone()),
                            subject: Timeline::starting(e.date, seq, e.subject.clone()),
                            title: Timeline::starting(
                                e.title_date.unwrap_or(e.date).min(e.date),
                                seq,
                                TitleHeld {
                                    title: e.title,
                                    since: e.title_date,
                                },
                            ),
                            key_level: Timeline::starting(e.date, seq, e.key_level),
                            retirement: Timeline::starting(e.date, seq, e.retirement_date),
                            home: Timeline::starting(
                                e.employed_date.min(e.date),
                                seq,
                                HomePost {
                                    school: school.clone(),
                                    since: e.employed_date,
                                },
                            ),
                            dispatches: SmallSet::new(),
                            promotions: SmallSet::new(),
                            erased: None,
                        },
                    );
                    if let Some(n) = put {
                        index_add(&mut self.homed, &school, n);
                    }
                }
            }
            Event::TeacherProfileUpdated(e) => {
                if let Some(t) = self.teachers.get_mut(&e.teacher) {
                    if let Some(n) = &e.name {
                        t.name.set(e.date, seq, n.clone());
                    }
                    if let Some(s) = &e.subject {
                        t.subject.set(e.date, seq, s.clone());
                    }
                    if let Some(title) = e.title {
                        t.title.set(
                            e.date,
                            seq,
                            TitleHeld {
                                title,
                                since: e.title_date,
                            },
                        );
                    }
                    if let Some(k) = e.key_level {
                        t.key_level.set(e.date, seq, k);
                    }
                    if let Some(r) = e.retirement_date {
                        t.retirement.set(e.date, seq, Some(r));
                    }
                }
            }
            Event::TeacherTransferred(e) => {
                let school = self.school_id(&e.school);
                let n = self.teachers.number(&e.teacher);
                if let Some(t) = self.teachers.get_mut(&e.teacher) {
                    t.home.set(
                        e.date,
                        seq,
                        HomePost {
                            school: school.clone(),
                            since: e.date,
                        },
                    );
                    if let Some(n) = n {
                        index_add(&mut self.homed, &school, n);
                    }
                }
            }
            Event::PolicyAdopted(e) => {
                let base = match e.preset {
                    Some(p) => Policy::preset(p),
                    None => Policy::default(),
                };
                self.policies
                    .set(e.date, seq, Arc::new(base.with(&e.parameters)));
            }
            Event::TeacherDispatched(e) => {
                if self.dispatches.contains(&e.dispatch) || !self.teachers.contains(&e.teacher) {
                    return;
                }
                let teacher = self.teacher_id(&e.teacher);
                let from_school = self.school_id(&e.from_school);
                let to_school = self.school_id(&e.to_school);
                let id = self
                    .dispatches
                    .key(&e.dispatch)
                    .unwrap_or(&e.dispatch)
                    .clone();
                let put = self.dispatches.put(
                    &id,
                    Dispatch {
                        id: id.clone(),
                        seq,
                        teacher,
                        from_school: from_school.clone(),
                        to_school: to_school.clone(),
                        start_date: e.start_date,
                        kind: e.kind,
                        team: e.team.clone(),
                        returned: None,
                        evaluations: SmallMap::new(),
                    },
                );
                if let Some(n) = put {
                    if let Some(team) = &e.team {
                        match self.teams.get_mut(team) {
                            Some(t) => {
                                t.members.insert(e.dispatch.clone());
                            }
                            None => {
                                self.teams.insert(
                                    team.clone(),
                                    Team {
                                        id: team.clone(),
                                        school: to_school.clone(),
                                        start_date: e.start_date,
                                        created: seq,
                                        members: SmallSet::unit(e.dispatch.clone()),
                                    },
                                );
                            }
                        }
                    }
                    if let Some(t) = self.teachers.get_mut(&e.teacher) {
                        t.dispatches.insert(n);
                    }
                    index_add(&mut self.by_school, &from_school, n);
                    index_add(&mut self.by_school, &to_school, n);
                }
            }
            Event::TeacherReturned(e) => {
                if let Some(d) = self.dispatches.get_mut(&e.dispatch)
                    && d.returned.is_none()
                {
                    d.returned = Some(Return {
                        seq,
                        date: e.return_date,
                        reason: e.reason,
                        reason_text: e.reason_text.clone(),
                    });
                }
            }
            Event::TeacherEvaluated(e) => {
                let school = self.school_id(&e.school);
                if let Some(d) = self.dispatches.get_mut(&e.dispatch)
                    && !d.evaluations.contains_key(&e.school_year)
                {
                    d.evaluations.insert(
                        e.school_year,
                        Evaluation {
                            seq,
                            school,
                            school_year: e.school_year,
                            grade: e.grade,
                            date: e.date,
                        },
                    );
                }
            }
            Event::TeacherPromoted(e) => {
                let teacher = self.teacher_id(&e.teacher);
                let Some(t) = self.teachers.get_mut(&e.teacher) else {
                    return;
                };
                t.promotions.insert(seq);
                if let Some(title) = e.title() {
                    t.title.set(
                        e.date,
                        seq,
                        TitleHeld {
                            title,
                            since: Some(e.date),
                        },
                    );
                }
                self.promotions.insert(
                    seq,
                    Promotion {
                        seq,
                        teacher,
                        kind: e.kind,
                        to: e.to.clone(),
                        date: e.date,
                        rotation_credit: e.rotation_credit,
                    },
                );
            }
            Event::EntryVoided(v) => self.void(seq, v.seq),
            Event::PersonalDataErased(e) => {
                if let Some(t) = self.teachers.get_mut(&e.teacher) {
                    t.erased
                        .get_or_insert(super::records::Erasure { seq, date: e.date });
                }
            }
        }
    }

    /// Undoes what entry `target` did, and marks it voided by `by`.
    // One arm per event type, guards inside: a catch-all arm would hide a new event type.
    #[allow(clippy::collapsible_match)]
    fn void(&mut self, by: u64, target: u64) {
        let Some(rec) = self.entry(target) else {
            return;
        };
        if rec.voided_by.is_some() {
            return;
        }
        // An unreadable entry had no effect: voiding it only marks it.
        let event = rec.event.clone();
        match event.as_deref() {
            None => {}
            // A void is never undone: it is refused by the rules, and ignored here.
            Some(Event::EntryVoided(_)) => return,
            // Nor is an erasure (its key is gone): refused by the rules, ignored here.
            Some(Event::PersonalDataErased(_)) => return,
            Some(Event::SchoolRegistered(e)) => {
                if self
                    .schools
                    .get(&e.school)
                    .is_some_and(|s| s.registered == target)
                {
                    self.schools.remove(&e.school);
                }
            }
            Some(Event::SchoolStandingChanged(e)) => {
                if let Some(s) = self.schools.get_mut(&e.school) {
                    s.standing.unset(e.date, target);
                }
            }
            Some(Event::GroupFormed(e)) => {
                if self
                    .groups
                    .get(&e.group)
                    .is_some_and(|g| g.formed == target)
                {
                    self.groups.remove(&e.group);
                }
            }
            Some(Event::GroupMembershipChanged(e)) => {
                if let Some(g) = self.groups.get_mut(&e.group)
                    && let Some(mut t) = g.members.get(&e.school).cloned()
                {
                    t.unset(e.date, target);
                    if t.is_empty() {
                        g.members.remove(&e.school);
                    } else {
                        g.members.insert(e.school.clone(), t);
                    }
                }
            }
            Some(Event::TeacherRegistered(e)) => {
                if self
                    .teachers
                    .get(&e.teacher)
                    .is_some_and(|t| t.registered == target)
                    && let Some(n) = self.teachers.number(&e.teacher)
                    && let Some(t) = self.teachers.remove(&e.teacher)
                {
                    for (_, _, post) in t.home.changes() {
                        index_remove(&mut self.homed, &post.school, &n);
                    }
                }
            }
            Some(Event::TeacherProfileUpdated(e)) => {
                if let Some(t) = self.teachers.get_mut(&e.teacher) {
                    t.name.unset(e.date, target);
                    t.subject.unset(e.date, target);
                    t.title.unset(e.date, target);
                    t.key_level.unset(e.date, target);
                    t.retirement.unset(e.date, target);
                }
            }
            Some(Event::TeacherTransferred(e)) => {
                let n = self.teachers.number(&e.teacher);
                if let Some(t) = self.teachers.get_mut(&e.teacher) {
                    t.home.unset(e.date, target);
                    if !t.home.changes().any(|(_, _, p)| p.school == e.school)
                        && let Some(n) = n
                    {
                        index_remove(&mut self.homed, &e.school, &n);
                    }
                }
            }
            Some(Event::PolicyAdopted(e)) => {
                self.policies.unset(e.date, target);
            }
            Some(Event::TeacherDispatched(e)) => {
                if self
                    .dispatches
                    .get(&e.dispatch)
                    .is_some_and(|d| d.seq == target)
                {
                    let n = self.dispatches.number(&e.dispatch);
                    self.dispatches.remove(&e.dispatch);
                    if let Some(n) = n {
                        if let Some(t) = self.teachers.get_mut(&e.teacher) {
                            t.dispatches.remove(&n);
                        }
                        index_remove(&mut self.by_school, &e.from_school, &n);
                        index_remove(&mut self.by_school, &e.to_school, &n);
                    }
                    if let Some(team_id) = &e.team
                        && let Some(team) = self.teams.get_mut(team_id)
                    {
                        team.members.remove(&e.dispatch);
                        if team.members.is_empty() {
                            self.teams.remove(team_id);
                        }
                    }
                }
            }
            Some(Event::TeacherReturned(e)) => {
                if let Some(d) = self.dispatches.get_mut(&e.dispatch)
                    && d.returned.as_ref().is_some_and(|r| r.seq == target)
                {
                    d.returned = None;
                }
            }
            Some(Event::TeacherEvaluated(e)) => {
                if let Some(d) = self.dispatches.get_mut(&e.dispatch)
                    && d.evaluations
                        .get(&e.school_year)
                        .is_some_and(|ev| ev.seq == target)
                {
                    d.evaluations.remove(&e.school_year);
                }
            }
            Some(Event::TeacherPromoted(e)) => {
                if self.promotions.remove(&target).is_some()
                    && let Some(t) = self.teachers.get_mut(&e.teacher)
                {
                    t.promotions.remove(&target);
                    t.title.unset(e.date, target);
                }
            }
        }
        self.entries.set_voided(target, by);
    }
}
