//! [`View`]: the domain state at one log position, as the query services read it. Every
//! projection a service answers, and the few facts its scope rules need (whose a teacher,
//! a dispatch or a group is), are asked here, so that the services never hold the state
//! itself and the answers and the scope decisions are taken from the same position.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::{Ledger, LedgerError, Positioned};
use crate::domain::State;
use crate::domain::district::{District, district};
use crate::domain::duty::{SchoolDuty, TeacherDuty, school_duty, teacher_duty};
use crate::domain::eligibility::{Eligibility, eligibility};
use crate::domain::group_summary::{GroupSummary, group_summary};
use crate::domain::history::{TeacherHistory, teacher_history};
use crate::domain::owed::{OwedEvaluation, evaluations_owed};
use crate::domain::query::QueryError;
use crate::domain::quota::{SchoolQuota, school_quota};
use crate::domain::teams::{TeamMember, TeamView, team, teams};
use crate::domain::terms::{Term, TermQuery, terms};
use crate::domain::vocab::SchoolYear;
use crate::merkle::Digest;

/// The state at one log position: the committed one, or as recorded in the first N entries.
#[derive(Debug, Clone)]
pub struct View {
    state: Positioned<State>,
}

impl Ledger {
    /// The state questions are answered from: the committed state (`None`), or the state as
    /// recorded in the first `recorded_up_to` entries (a replay of that prefix; blocking).
    pub fn view(&self, recorded_up_to: Option<u64>) -> Result<View, LedgerError> {
        let state = match recorded_up_to {
            Some(n) => self.state_at(n)?,
            None => self.query(State::clone),
        };
        Ok(View { state })
    }
}

impl View {
    /// Number of entries the view reflects.
    pub fn size(&self) -> u64 {
        self.state.size
    }

    /// Hash of entry `size - 1` (all zero for an empty log).
    pub fn head_hash(&self) -> Digest {
        self.state.head_hash
    }

    /// `value` with this view's position.
    pub fn positioned<T>(&self, value: T) -> Positioned<T> {
        Positioned {
            size: self.state.size,
            head_hash: self.state.head_hash,
            value,
        }
    }

    fn s(&self) -> &State {
        &self.state.value
    }

    // ---- the projections (SPEC §4) ----

    /// A teacher's promotion-credit eligibility as of `as_of` (SPEC 4.3).
    pub fn eligibility(&self, teacher: &str, as_of: NaiveDate) -> Result<Eligibility, LedgerError> {
        eligibility(self.s(), teacher, as_of)
            .ok_or_else(|| LedgerError::NotFound(format!("no teacher {teacher} is registered")))
    }

    /// Terms matching `q` as of `as_of` (SPEC 4.1).
    pub fn terms(&self, q: &TermQuery, as_of: NaiveDate) -> Vec<Term> {
        terms(self.s(), q, as_of)
    }

    /// Every team started by `as_of` (SPEC 4.2).
    pub fn teams(&self, as_of: NaiveDate) -> Vec<TeamView> {
        teams(self.s(), as_of)
    }

    /// One team as of `as_of` (SPEC 4.2).
    pub fn team(&self, id: &str, as_of: NaiveDate) -> Result<TeamView, LedgerError> {
        team(self.s(), id, as_of)
            .ok_or_else(|| LedgerError::NotFound(format!("no team {id} has started by {as_of}")))
    }

    /// Who among a school's teachers meets rotation conditions and who is due (SPEC 4.4).
    pub fn school_duty(&self, school: &str, as_of: NaiveDate) -> Result<SchoolDuty, LedgerError> {
        Ok(school_duty(self.s(), school, as_of)?)
    }

    /// One teacher's rotation duty as of `as_of` (SPEC 4.4).
    pub fn teacher_duty(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<TeacherDuty, LedgerError> {
        let s = self.s();
        teacher_duty(s, teacher, as_of).ok_or_else(|| {
            match s.teacher(teacher) {
                Some(_) => QueryError::NoHomePost {
                    teacher: teacher.to_string(),
                    date: as_of,
                },
                None => QueryError::UnknownTeacher(teacher.to_string()),
            }
            .into()
        })
    }

    /// A strong school's quota position for a school year, as of `as_of` (SPEC 4.4).
    pub fn school_quota(
        &self,
        school: &str,
        year: SchoolYear,
        as_of: NaiveDate,
    ) -> Result<SchoolQuota, LedgerError> {
        Ok(school_quota(self.s(), school, year, as_of)?)
    }

    /// A district's or group's summary for a school year, as of `as_of` (SPEC 4.4).
    pub fn group_summary(
        &self,
        group: &str,
        year: SchoolYear,
        as_of: NaiveDate,
    ) -> Result<GroupSummary, LedgerError> {
        Ok(group_summary(self.s(), group, year, as_of)?)
    }

    /// A teacher's name as of a date, as the log holds it (sealed or plain), and the
    /// erasure of their personal data if there was one: what the console's lists show.
    pub fn teacher_name(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Option<(
        Option<crate::domain::personal::Personal>,
        Option<crate::domain::records::Erasure>,
    )> {
        let t = self.s().teacher(teacher)?;
        Some((t.name.at(as_of).cloned(), t.erased))
    }

    /// Every entry about a teacher, with chain links, and their summary (SPEC 4.5).
    pub fn teacher_history(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<TeacherHistory, LedgerError> {
        Ok(teacher_history(self.s(), teacher, as_of)?)
    }

    /// The district's schools and groups with their quota status, outflow by school year and
    /// teams below strength (SPEC 4.4; the console's district page).
    pub fn district(&self, year: SchoolYear, as_of: NaiveDate) -> Result<District, LedgerError> {
        Ok(district(self.s(), year, as_of)?)
    }

    /// The evaluations a receiving school still owes for school years that have ended.
    pub fn evaluations_owed(
        &self,
        school: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<OwedEvaluation>, LedgerError> {
        Ok(evaluations_owed(self.s(), school, as_of)?)
    }

    // ---- the facts scope rules are decided on ----

    /// Whether a teacher is known: registered, or with entries about it.
    pub fn has_teacher(&self, teacher: &str) -> bool {
        self.s().teacher(teacher).is_some() || !self.s().history(teacher).is_empty()
    }

    /// A registered school's name.
    pub fn school_name(&self, school: &str) -> Option<String> {
        self.s().school(school).map(|s| s.name.clone())
    }

    /// A registered school's standing on `date` (None before its registration) and whether
    /// it is rural; None for a school the log does not hold.
    pub fn school_at(
        &self,
        school: &str,
        date: NaiveDate,
    ) -> Option<(Option<crate::domain::vocab::Standing>, bool)> {
        self.s()
            .school(school)
            .map(|s| (s.standing.at(date).copied(), s.rural))
    }

    /// Whether a school is registered.
    pub fn has_school(&self, school: &str) -> bool {
        self.s().school(school).is_some()
    }

    /// Whether a district or group is formed.
    pub fn has_group(&self, group: &str) -> bool {
        self.s().group(group).is_some()
    }

    /// Whether a teacher's home school on `date`, or the receiving school of a dispatch it
    /// serves on that date, is one `in_scope` accepts.
    pub fn teacher_in(
        &self,
        teacher: &str,
        date: NaiveDate,
        in_scope: &dyn Fn(&str) -> bool,
    ) -> bool {
        let s = self.s();
        s.home_at(teacher, date)
            .is_some_and(|h| in_scope(&h.school))
            || s.dispatches_of(teacher)
                .iter()
                .any(|d| d.serving_on(date) && in_scope(&d.to_school))
    }

    /// Whether a team member is one `in_scope` may see by id: its dispatch is from or to an
    /// accepted school, or its teacher is [`View::teacher_in`] one on `date`.
    pub fn member_in(
        &self,
        m: &TeamMember,
        date: NaiveDate,
        in_scope: &dyn Fn(&str) -> bool,
    ) -> bool {
        self.s()
            .dispatch(&m.dispatch)
            .is_some_and(|d| in_scope(&d.from_school) || in_scope(&d.to_school))
            || self.teacher_in(&m.teacher, date, in_scope)
    }

    /// The sending schools of `members`' dispatches (to name where hidden members come from).
    pub fn sending_schools(&self, members: &[TeamMember]) -> BTreeSet<String> {
        members
            .iter()
            .filter_map(|m| self.s().dispatch(&m.dispatch))
            .map(|d| d.from_school.to_string())
            .collect()
    }

    /// Whether a district or group has a member school on `date` that `in_scope` accepts
    /// (false for an unknown group).
    pub fn group_in(&self, group: &str, date: NaiveDate, in_scope: &dyn Fn(&str) -> bool) -> bool {
        self.s()
            .group(group)
            .is_some_and(|g| g.members_at(date).iter().any(|school| in_scope(school)))
    }
}

impl Ledger {
    /// A teacher's promotion-credit eligibility as of `as_of`, on the committed state.
    pub fn eligibility(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<Eligibility>, LedgerError> {
        let v = self.view(None)?;
        Ok(v.positioned(v.eligibility(teacher, as_of)?))
    }

    /// Terms matching `q` as of `as_of`, on the committed state.
    pub fn terms(&self, q: &TermQuery, as_of: NaiveDate) -> Positioned<Vec<Term>> {
        self.query(|s| terms(s, q, as_of))
    }

    /// Every team started by `as_of`, on the committed state.
    pub fn teams(&self, as_of: NaiveDate) -> Positioned<Vec<TeamView>> {
        self.query(|s| teams(s, as_of))
    }

    /// One team as of `as_of`, on the committed state.
    pub fn team(&self, id: &str, as_of: NaiveDate) -> Result<Positioned<TeamView>, LedgerError> {
        let v = self.view(None)?;
        Ok(v.positioned(v.team(id, as_of)?))
    }

    /// A school's rotation duty as of `as_of`, on the committed state.
    pub fn school_duty(
        &self,
        school: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<SchoolDuty>, LedgerError> {
        let v = self.view(None)?;
        Ok(v.positioned(v.school_duty(school, as_of)?))
    }

    /// One teacher's rotation duty as of `as_of`, on the committed state.
    pub fn teacher_duty(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<TeacherDuty>, LedgerError> {
        let v = self.view(None)?;
        Ok(v.positioned(v.teacher_duty(teacher, as_of)?))
    }

    /// A strong school's quota position for a school year, on the committed state.
    pub fn school_quota(
        &self,
        school: &str,
        year: SchoolYear,
        as_of: NaiveDate,
    ) -> Result<Positioned<SchoolQuota>, LedgerError> {
        let v = self.view(None)?;
        Ok(v.positioned(v.school_quota(school, year, as_of)?))
    }

    /// A district's or group's summary for a school year, on the committed state.
    pub fn group_summary(
        &self,
        group: &str,
        year: SchoolYear,
        as_of: NaiveDate,
    ) -> Result<Positioned<GroupSummary>, LedgerError> {
        let v = self.view(None)?;
        Ok(v.positioned(v.group_summary(group, year, as_of)?))
    }

    /// A teacher's history and summary as of `as_of`, on the committed state.
    pub fn teacher_history(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<TeacherHistory>, LedgerError> {
        let v = self.view(None)?;
        Ok(v.positioned(v.teacher_history(teacher, as_of)?))
    }
}
