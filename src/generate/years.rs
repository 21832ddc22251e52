//! One school year of activity, the way a bureau following seed 001 would record it:
//! standing changes and group joins in August; term-end returns, each strong school's quota
//! (teams of 3-5 to weak schools), support and training postings on 1 September; early
//! returns through the year; promotions in December; profile updates in March; the
//! receiving schools' evaluations in July (a few mistaken, voided and re-recorded); transfers
//! in August.
//!
//! The generator keeps, per teacher, just what the ledger's rules look at (open dispatch,
//! grades, days at weak or rural schools and within a district or group, earned credit), so
//! it claims credit only when the ledger will grant it.

use std::io::Write;

use chrono::NaiveDate;

use super::district::{Open, SUBJECTS, Sim, date, school_id, teacher_id};
use super::events::{self, DispatchFacts};
use super::{GenerateError, Out, YearStats};
use crate::domain::calendar::add_years;
use crate::domain::vocab::{
    DispatchKind, Grade, KeyLevel, PromotionKind, ReturnReason, Standing, Title,
};

/// seed 001: 流动期限不少于3年.
const MIN_TERM_YEARS: u32 = 3;
/// The national 2014 opinion leaves tenure to localities; 6 as in Beijing, Anhui, Wuhan.
const ELIGIBLE_TENURE_YEARS: u32 = 6;
const EXEMPT_YEARS_BEFORE_RETIREMENT: u32 = 5;
const GRADES: [Grade; 5] = [
    Grade::Excellent,
    Grade::Good,
    Grade::Pass,
    Grade::BasicPass,
    Grade::Fail,
];
const OTHER_REASONS: &[&str] = &[
    "spouse relocated to another city",
    "needed back at the home school to lead a graduating class",
    "appointed to the district teaching research office",
];

fn dispatch_id(n: u32) -> String {
    format!("D{:07}", n + 1)
}

fn days(from: NaiveDate, to: NaiveDate) -> u32 {
    (to - from).num_days().max(0) as u32
}

impl Sim {
    /// Generates school year `y` (y-09-01 .. y+1-08-31; the August changes of y come first).
    pub(crate) fn school_year<W: Write>(
        &mut self,
        y: i32,
        out: &mut Out<'_, W>,
    ) -> Result<YearStats, GenerateError> {
        let mut st = YearStats {
            school_year: y,
            ..YearStats::default()
        };
        if y > self.stats.years.first().map_or(y, |f| f.school_year) {
            self.august_changes(y, out, &mut st)?;
        }
        let sept1 = date(y, 9, 1);
        self.term_end_returns(y, sept1, out, &mut st)?;
        self.september_dispatches(y, sept1, out, &mut st)?;
        let late = self.through_the_year(y, out, &mut st)?;
        self.evaluations(y, &late, out, &mut st)?;
        self.transfers(y, out, &mut st)?;
        out.flush()?;
        Ok(st)
    }

    fn august_changes<W: Write>(
        &mut self,
        y: i32,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        let d = date(y, 8, 25);
        for s in 0..self.schools.len() {
            let school = &self.schools[s];
            let district = school.district as usize;
            let new = match school.standing {
                // A weak school improves, keeping at least one weak school per district.
                Standing::Weak => {
                    let weak_left = self.districts[district]
                        .iter()
                        .filter(|o| self.schools[**o as usize].standing == Standing::Weak)
                        .count();
                    (weak_left > 1 && self.rng.chance(40)).then_some(Standing::Ordinary)
                }
                Standing::Ordinary => self.rng.chance(8).then_some(Standing::Strong),
                Standing::Strong => None,
            };
            if let Some(new) = new {
                self.schools[s].standing = new;
                out.push(events::standing_changed(&school_id(s as u32), new, d))?;
                st.standing_changes += 1;
            }
        }
        for g in 0..self.groups.len() {
            if !self.rng.chance(400) {
                continue;
            }
            let s = self.rng.below(self.schools.len() as u64) as u32;
            if self.schools[s as usize].group.is_none() {
                self.schools[s as usize].group = Some(g as u32);
                self.groups[g].push(s);
                out.push(events::joined(&format!("EG{:03}", g + 1), &school_id(s), d))?;
                st.group_joins += 1;
            }
        }
        Ok(())
    }

    /// Ends dispatch `t`'s open dispatch on `on`, folding its days into the teacher's totals.
    fn close(&mut self, t: usize, on: NaiveDate, early: bool, y: i32) {
        let teacher = &mut self.teachers[t];
        let Some(o) = teacher.open.take() else {
            return;
        };
        let served = days(o.start, on);
        let earns = o.kind != DispatchKind::Training;
        if o.weak_or_rural {
            teacher.weak_days += served;
        }
        if o.same_group && earns {
            teacher.group_days += served;
        }
        if earns && !early && o.evals > 0 && o.min_grade >= Grade::Pass {
            teacher.credit = true;
        }
        teacher.last_move = y;
    }

    fn term_end_returns<W: Write>(
        &mut self,
        y: i32,
        sept1: NaiveDate,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        for t in 0..self.teachers.len() {
            let Some(o) = self.teachers[t].open else {
                continue;
            };
            let Some(min_end) = add_years(o.start, MIN_TERM_YEARS) else {
                continue;
            };
            if min_end > sept1 || (min_end == sept1 && o.stays_longer) {
                continue;
            }
            out.push(events::returned(
                &dispatch_id(o.id),
                sept1,
                ReturnReason::TermCompleted,
                None,
            ))?;
            self.close(t, sept1, false, y);
            st.returns_completed += 1;
        }
        out.flush()
    }

    /// Whether teacher `t` counts among a school's eligible teachers on `sept1` (SPEC 4.4's
    /// quota: tenure reached, not on a dispatch open on 31 August).
    fn eligible(&self, t: usize, y: i32, sept1: NaiveDate) -> bool {
        let teacher = &self.teachers[t];
        teacher.open.is_none()
            && teacher.last_move != y
            && add_years(teacher.employed, ELIGIBLE_TENURE_YEARS).is_some_and(|d| d <= sept1)
    }

    /// Whether a teacher past tenure meets rotation conditions: not within five years of
    /// retirement (SPEC 4.4's exemption, which the quota's basis applies too).
    fn sendable(&self, t: u32, sept1: NaiveDate) -> bool {
        add_years(sept1, EXEMPT_YEARS_BEFORE_RETIREMENT)
            .is_some_and(|d| d < self.teachers[t as usize].retirement)
    }

    /// A weak school for a teacher of `from`: in its district seven times in ten.
    fn weak_target(&mut self, from: u32, weak: &[u32], by_district: &[Vec<u32>]) -> Option<u32> {
        let local = &by_district[self.schools[from as usize].district as usize];
        let pool = if !local.is_empty() && self.rng.chance(700) {
            local
        } else {
            weak
        };
        if pool.is_empty() {
            return None;
        }
        Some(pool[self.rng.below(pool.len() as u64) as usize])
    }

    fn shares_group(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.schools[a as usize], &self.schools[b as usize]);
        a.district == b.district || (a.group.is_some() && a.group == b.group)
    }

    /// Records teacher `t` as dispatched; returns the event.
    fn open(
        &mut self,
        t: usize,
        to: u32,
        start: NaiveDate,
        kind: DispatchKind,
        team: Option<&str>,
    ) -> String {
        let id = self.next_dispatch;
        self.next_dispatch += 1;
        let from = self.teachers[t].home;
        let target = &self.schools[to as usize];
        let open = Open {
            id,
            to,
            start,
            kind,
            same_group: self.shares_group(from, to),
            weak_or_rural: target.rural || target.standing == Standing::Weak,
            evals: 0,
            min_grade: Grade::Excellent,
            stays_longer: self.rng.chance(120),
        };
        self.teachers[t].open = Some(open);
        events::dispatched(&DispatchFacts {
            id: &dispatch_id(id),
            teacher: &teacher_id(t as u32),
            from: &school_id(from),
            to: &school_id(to),
            start,
            kind,
            team,
        })
    }

    /// A single posting on its own line; three in a thousand are first recorded to the wrong
    /// school, voided and recorded again.
    #[allow(clippy::too_many_arguments)]
    fn single<W: Write>(
        &mut self,
        t: usize,
        to: u32,
        wrong: Option<u32>,
        start: NaiveDate,
        kind: DispatchKind,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        if let Some(wrong) = wrong.filter(|w| *w != to && self.rng.chance(3)) {
            let e = self.open(t, wrong, start, kind, None);
            let seq = out.line(vec![e])?;
            self.teachers[t].open = None;
            let e = self.open(t, to, start, kind, None);
            out.line(vec![
                events::voided(seq, "posted to the wrong receiving school"),
                e,
            ])?;
            st.voids += 1;
        } else {
            let e = self.open(t, to, start, kind, None);
            out.line(vec![e])?;
        }
        Ok(())
    }

    fn september_dispatches<W: Write>(
        &mut self,
        y: i32,
        sept1: NaiveDate,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        let n = self.schools.len();
        let mut eligible: Vec<Vec<u32>> = vec![Vec::new(); n];
        // Weak schools' promising teachers, for training placements (挂职锻炼).
        let mut trainees: Vec<Vec<u32>> = vec![Vec::new(); n];
        for t in 0..self.teachers.len() {
            let x = &self.teachers[t];
            if self.eligible(t, y, sept1) {
                eligible[x.home as usize].push(t as u32);
            }
            if self.schools[x.home as usize].standing == Standing::Weak
                && x.open.is_none()
                && x.last_move != y
                && x.key == KeyLevel::None
                && matches!(x.title, Title::Junior | Title::Intermediate)
            {
                trainees[x.home as usize].push(t as u32);
            }
        }
        let weak: Vec<u32> = (0..n as u32)
            .filter(|s| self.schools[*s as usize].standing == Standing::Weak)
            .collect();
        let mut weak_by_district = vec![Vec::new(); self.districts.len()];
        for s in &weak {
            weak_by_district[self.schools[*s as usize].district as usize].push(*s);
        }
        let strong: Vec<u32> = (0..n as u32)
            .filter(|s| self.schools[*s as usize].standing == Standing::Strong)
            .collect();
        let rural: Vec<u32> = (0..n as u32)
            .filter(|s| self.schools[*s as usize].rural)
            .collect();

        for (s, list) in eligible.into_iter().enumerate() {
            match self.schools[s].standing {
                Standing::Strong => {
                    self.strong_outflow(s as u32, list, sept1, &weak, &weak_by_district, out, st)?
                }
                // Urban ordinary schools send a few teachers to rural schools (支教).
                Standing::Ordinary if !self.schools[s].rural && !rural.is_empty() => {
                    for t in list {
                        if !self.rng.chance(15) {
                            continue;
                        }
                        let to = rural[self.rng.below(rural.len() as u64) as usize];
                        if to as usize == s {
                            continue;
                        }
                        self.single(t as usize, to, None, sept1, DispatchKind::Support, out, st)?;
                        st.support_dispatches += 1;
                    }
                }
                _ => {}
            }
        }
        // Weak schools place a promising teacher at a strong school (挂职锻炼).
        if !strong.is_empty() {
            for s in weak.iter().copied() {
                if !self.rng.chance(300) {
                    continue;
                }
                let candidates = &trainees[s as usize];
                if candidates.is_empty() {
                    continue;
                }
                let t = candidates[self.rng.below(candidates.len() as u64) as usize] as usize;
                let local: Vec<u32> = self.districts[self.schools[s as usize].district as usize]
                    .iter()
                    .copied()
                    .filter(|o| self.schools[*o as usize].standing == Standing::Strong)
                    .collect();
                let pool = if local.is_empty() { &strong } else { &local };
                let to = pool[self.rng.below(pool.len() as u64) as usize];
                self.single(t, to, None, sept1, DispatchKind::Training, out, st)?;
                st.training_dispatches += 1;
            }
        }
        Ok(())
    }

    /// A strong school's rotation outflow for the year: about ceil(20%) of its eligible
    /// teachers, at least 30% of them key teachers where it has them, mostly in teams.
    #[allow(clippy::too_many_arguments)]
    fn strong_outflow<W: Write>(
        &mut self,
        s: u32,
        eligible: Vec<u32>,
        sept1: NaiveDate,
        weak: &[u32],
        weak_by_district: &[Vec<u32>],
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        // The quota counts the teachers who meet rotation conditions: the exempt are out.
        let eligible: Vec<u32> = eligible
            .into_iter()
            .filter(|t| self.sendable(*t, sept1))
            .collect();
        let e = eligible.len() as u64;
        let quota = e.div_ceil(5);
        st.eligible_at_strong += e;
        st.quota += quota;
        if e == 0 || weak.is_empty() {
            return Ok(());
        }
        let r = self.rng.below(100);
        let k = match r {
            0..80 => quota,
            80..92 => quota + 1,
            _ => quota.saturating_sub(1),
        }
        .min(e);
        let (mut keys, mut others): (Vec<u32>, Vec<u32>) = eligible
            .into_iter()
            .partition(|t| self.teachers[*t as usize].key != KeyLevel::None);
        let k = k.min((keys.len() + others.len()) as u64);
        if k < quota {
            st.schools_below_quota += 1;
        }
        self.rng.shuffle(&mut keys);
        self.rng.shuffle(&mut others);
        let want_keys = (k * 3).div_ceil(10).min(keys.len() as u64) as usize;
        let mut chosen: Vec<u32> = keys.drain(..want_keys).collect();
        let rest = k as usize - chosen.len();
        let from_others = rest.min(others.len());
        chosen.extend(others.drain(..from_others));
        let rest = k as usize - chosen.len();
        chosen.extend(keys.drain(..rest.min(keys.len())));
        self.rng.shuffle(&mut chosen);
        st.rotation_dispatches += chosen.len() as u64;
        st.key_teacher_dispatches += chosen
            .iter()
            .filter(|t| self.teachers[**t as usize].key != KeyLevel::None)
            .count() as u64;

        let mut remaining: &[u32] = &chosen;
        if remaining.len() >= 3 && self.rng.chance(800) {
            while remaining.len() >= 3 {
                let left = remaining.len();
                let mut size = if left <= 5 {
                    left
                } else {
                    self.rng.range(3, 5) as usize
                };
                if left - size > 0 && left - size < 3 {
                    size = left - 3;
                }
                let (team, rest) = remaining.split_at(size);
                remaining = rest;
                let Some(to) = self.weak_target(s, weak, weak_by_district) else {
                    break;
                };
                self.next_team += 1;
                let team_id = format!("TM{:05}", self.next_team);
                let line = team
                    .iter()
                    .map(|t| {
                        self.open(
                            *t as usize,
                            to,
                            sept1,
                            DispatchKind::Rotation,
                            Some(&team_id),
                        )
                    })
                    .collect();
                out.line(line)?;
                st.teams += 1;
                st.team_dispatches += size as u64;
            }
        }
        for t in remaining.iter().copied() {
            let Some(to) = self.weak_target(s, weak, weak_by_district) else {
                continue;
            };
            let wrong = self.weak_target(s, weak, weak_by_district);
            self.single(
                t as usize,
                to,
                wrong,
                sept1,
                DispatchKind::Rotation,
                out,
                st,
            )?;
        }
        Ok(())
    }

    /// Early returns (those before the promotion date first), promotions and profile
    /// updates; returns the early-returned dispatches the receiving schools still evaluate.
    fn through_the_year<W: Write>(
        &mut self,
        y: i32,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<Vec<(u32, u32)>, GenerateError> {
        let promotion_day = date(y, 12, 15);
        let first = date(y, 10, 1);
        let mut early: Vec<(NaiveDate, u32)> = Vec::new();
        for t in 0..self.teachers.len() {
            // Only within the minimum term: a later departure is no early return.
            let within = self.teachers[t].open.is_some_and(|o| {
                add_years(o.start, MIN_TERM_YEARS).is_some_and(|m| m > date(y + 1, 7, 1))
            });
            if within && self.rng.chance(30) {
                let d = first + chrono::Days::new(self.rng.below(273));
                early.push((d, t as u32));
            }
        }
        early.sort_unstable();
        let split = early.partition_point(|(d, _)| *d < promotion_day);
        let mut late = Vec::with_capacity(early.len());
        for (d, t) in &early[..split] {
            late.push(self.early_return(*t as usize, *d, y, out, st)?);
        }
        self.promotions(y, promotion_day, out, st)?;
        for (d, t) in &early[split..] {
            late.push(self.early_return(*t as usize, *d, y, out, st)?);
        }
        self.profile_updates(date(y + 1, 3, 1), out, st)?;
        Ok(late)
    }

    fn early_return<W: Write>(
        &mut self,
        t: usize,
        on: NaiveDate,
        y: i32,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(u32, u32), GenerateError> {
        let reasons = [
            ReturnReason::Health,
            ReturnReason::FamilyHardship,
            ReturnReason::Other,
            ReturnReason::Disciplinary,
            ReturnReason::SchoolClosure,
        ];
        let reason = reasons[self.rng.weighted(&[42, 35, 17, 4, 2])];
        let text = (reason == ReturnReason::Other)
            .then(|| OTHER_REASONS[self.rng.below(OTHER_REASONS.len() as u64) as usize]);
        let Some(o) = self.teachers[t].open else {
            return Ok((0, 0));
        };
        out.line(vec![events::returned(&dispatch_id(o.id), on, reason, text)])?;
        self.close(t, on, true, y);
        st.early_returns += 1;
        Ok((o.id, o.to))
    }

    fn promotions<W: Write>(
        &mut self,
        y: i32,
        on: NaiveDate,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        let five_years_before = date(y - 5, 12, 15);
        for t in 0..self.teachers.len() {
            let x = &self.teachers[t];
            if x.last_promotion >= y - 2 {
                continue;
            }
            let (mut weak_days, mut group_days, mut credit) = (x.weak_days, x.group_days, x.credit);
            if let Some(o) = x.open {
                let served = days(o.start, on);
                let earns = o.kind != DispatchKind::Training;
                if o.weak_or_rural {
                    weak_days += served;
                }
                if o.same_group && earns {
                    group_days += served;
                }
                credit |= earns
                    && add_years(o.start, MIN_TERM_YEARS).is_some_and(|m| m <= on)
                    && o.evals > 0
                    && o.min_grade >= Grade::Pass;
            }
            let seasoned = x.title_date <= five_years_before;
            let promotion = if x.title == Title::Intermediate && seasoned && weak_days >= 366 {
                if credit && self.rng.chance(600) {
                    Some((PromotionKind::Title, "senior", true))
                } else if self.rng.chance(250) {
                    Some((PromotionKind::Title, "senior", false))
                } else {
                    None
                }
            } else if x.title == Title::Junior && seasoned && self.rng.chance(150) {
                Some((PromotionKind::Title, "intermediate", false))
            } else if credit && self.rng.chance(100) {
                Some((PromotionKind::Rank, "level 1 post", true))
            } else if group_days >= 732 && self.rng.chance(80) {
                Some((PromotionKind::Leadership, "vice principal", true))
            } else if self.rng.chance(3) {
                Some((PromotionKind::Rank, "level 2 post", false))
            } else {
                None
            };
            let Some((kind, to, with_credit)) = promotion else {
                continue;
            };
            out.push(events::promoted(
                &teacher_id(t as u32),
                kind,
                to,
                on,
                with_credit,
            ))?;
            let x = &mut self.teachers[t];
            x.last_promotion = y;
            if kind == PromotionKind::Title {
                x.title = if to == "senior" {
                    Title::Senior
                } else {
                    Title::Intermediate
                };
                x.title_date = on;
            }
            if with_credit {
                st.promotions_with_credit += 1;
            } else {
                st.promotions_without_credit += 1;
            }
        }
        out.flush()
    }

    fn profile_updates<W: Write>(
        &mut self,
        on: NaiveDate,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        for t in 0..self.teachers.len() {
            if self.rng.chance(15) {
                let next = match self.teachers[t].key {
                    KeyLevel::None => KeyLevel::School,
                    KeyLevel::School => KeyLevel::District,
                    KeyLevel::District => KeyLevel::City,
                    _ => continue,
                };
                self.teachers[t].key = next;
                out.push(events::key_level_updated(&teacher_id(t as u32), next, on))?;
                st.profile_updates += 1;
            } else if self.rng.chance(2) {
                let subject = self.rng.below(SUBJECTS.len() as u64) as u8;
                if subject != self.teachers[t].subject {
                    self.teachers[t].subject = subject;
                    out.push(events::subject_updated(
                        &teacher_id(t as u32),
                        SUBJECTS[subject as usize],
                        on,
                    ))?;
                    st.profile_updates += 1;
                }
            }
        }
        out.flush()
    }

    fn grade(&mut self) -> Grade {
        GRADES[self.rng.weighted(&[22, 38, 35, 4, 1])]
    }

    /// The receiving schools' evaluations for school year `y`, dated in July; four in a
    /// thousand are first entered with a wrong grade, voided and entered again.
    fn evaluations<W: Write>(
        &mut self,
        y: i32,
        late: &[(u32, u32)],
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        let on = date(y + 1, 7, 5);
        let mut mistakes: Vec<(u64, u32, u32, Grade)> = Vec::new();
        let mut record = |sim: &mut Sim,
                          id: u32,
                          to: u32,
                          out: &mut Out<'_, W>|
         -> Result<Grade, GenerateError> {
            let grade = sim.grade();
            let entered = if sim.rng.chance(4) {
                GRADES[(GRADES.iter().position(|g| *g == grade).unwrap_or(0) + 2) % 5]
            } else {
                grade
            };
            let seq = out.push(events::evaluated(
                &dispatch_id(id),
                &school_id(to),
                y,
                entered,
                on,
            ))?;
            if entered != grade {
                mistakes.push((seq, id, to, grade));
            }
            Ok(grade)
        };
        for t in 0..self.teachers.len() {
            let Some(o) = self.teachers[t].open else {
                continue;
            };
            let grade = record(self, o.id, o.to, out)?;
            if let Some(o) = self.teachers[t].open.as_mut() {
                o.evals = o.evals.saturating_add(1);
                o.min_grade = o.min_grade.min(grade);
            }
            st.evaluations += 1;
        }
        for (id, to) in late {
            record(self, *id, *to, out)?;
            st.evaluations += 1;
        }
        out.flush()?;
        for (seq, id, to, grade) in mistakes {
            out.line(vec![
                events::voided(seq, "grade entered incorrectly; re-recorded"),
                events::evaluated(&dispatch_id(id), &school_id(to), y, grade, on),
            ])?;
            st.voids += 1;
        }
        Ok(())
    }

    fn transfers<W: Write>(
        &mut self,
        y: i32,
        out: &mut Out<'_, W>,
        st: &mut YearStats,
    ) -> Result<(), GenerateError> {
        let on = date(y + 1, 8, 20);
        let n = self.schools.len() as u64;
        for t in 0..self.teachers.len() {
            if self.teachers[t].open.is_some() || !self.rng.chance(5) {
                continue;
            }
            let to = self.rng.below(n) as u32;
            if to == self.teachers[t].home {
                continue;
            }
            out.push(events::transferred(
                &teacher_id(t as u32),
                &school_id(to),
                on,
            ))?;
            let x = &mut self.teachers[t];
            x.home = to;
            x.employed = on;
            x.last_move = y;
            st.transfers += 1;
        }
        out.flush()
    }
}
