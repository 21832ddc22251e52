//! Rule 7, voids (作废): a void names an existing entry that is not voided yet, and must
//! leave the remaining history valid; when it would not, the rejection says what to void
//! first.
//!
//! Checked in two steps. First what the voided entry is still *named by*: a registration
//! still referenced, a dispatch whose return or evaluations stand, a return or transfer
//! followed by a later dispatch. Then the void is tried on a clone of the state and the
//! rules that look back over history are judged again: the standing promotions of the
//! teachers concerned (rules 5 and 6), and the teams (rule 3) where a school's standing or
//! the policy changes under them.

use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::event::{EntryVoided, Event};
use super::id::Id;
use super::rules::{Refusal, broken_promotion, refuse};
use super::state::{Meta, State, Team};
use super::vocab::Standing;

/// How many entry numbers a message lists before "...".
const LIST: usize = 10;

fn list(seqs: &[u64]) -> String {
    let mut s = seqs
        .iter()
        .take(LIST)
        .map(|q| q.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if seqs.len() > LIST {
        s.push_str(&format!(", ... ({} in all)", seqs.len()));
    }
    s
}

fn still_named(target: u64, what: String, by: Vec<u64>) -> Result<(), Refusal> {
    if by.is_empty() {
        return Ok(());
    }
    Err(refuse(
        "void.still_referenced",
        format!(
            "{what} (entry {target}) is still named by entries {}; void those first",
            list(&by)
        ),
    )
    .add("entry", target)
    .add("referenced_by", list(&by)))
}

/// Checks a void of entry `target` against `s`.
pub(super) fn check_void(s: &State, target: u64) -> Result<(), Refusal> {
    let Some(rec) = s.entry(target) else {
        return Err(refuse(
            "void.unknown_entry",
            format!(
                "there is no entry {target} to void (the log holds {})",
                s.len()
            ),
        )
        .add("entry", target));
    };
    if let Some(by) = rec.voided_by {
        return Err(refuse(
            "void.already_voided",
            format!("entry {target} was already voided by entry {by}"),
        )
        .add("entry", target)
        .add("voided_by", by));
    }
    // An entry that did not decode had no effect; voiding it only marks it.
    let Some(event) = rec.event.clone() else {
        return Ok(());
    };
    let mut concerned: Vec<Id> = rec.teacher.iter().cloned().collect();
    let mut check_teams = false;
    match &*event {
        Event::PersonalDataErased(e) => {
            return Err(refuse(
                "void.of_erasure",
                format!(
                    "entry {target} erased the personal data of {}; its key is destroyed, so \
                     the erasure cannot be undone",
                    e.teacher
                ),
            )
            .add("entry", target));
        }
        Event::EntryVoided(_) => {
            return Err(refuse(
                "void.of_void",
                format!(
                    "entry {target} is itself a void; a void cannot be undone, append the \
                     original event again instead"
                ),
            )
            .add("entry", target));
        }
        Event::SchoolRegistered(e) => {
            still_named(
                target,
                format!("school {}", e.school),
                school_references(s, &e.school, target),
            )?;
        }
        Event::GroupFormed(e) => {
            let by = s
                .group(&e.group)
                .map(|g| {
                    let mut v: Vec<u64> = g
                        .members
                        .values()
                        .flat_map(|t| t.changes().map(|(_, q, _)| q))
                        .filter(|q| *q != target)
                        .collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                })
                .unwrap_or_default();
            still_named(target, format!("group {}", e.group), by)?;
            concerned = promoted_teachers(s);
        }
        Event::GroupMembershipChanged(_) => concerned = promoted_teachers(s),
        Event::SchoolStandingChanged(e) => {
            concerned = s
                .dispatches()
                .filter(|d| d.to_school == e.school)
                .map(|d| d.teacher.clone())
                .collect();
            check_teams = true;
        }
        Event::PolicyAdopted(_) => {
            concerned = promoted_teachers(s);
            check_teams = true;
        }
        Event::TeacherRegistered(e) => {
            let by: Vec<u64> = s
                .history(&e.teacher)
                .into_iter()
                .filter(|r| {
                    r.meta.seq != target
                        && r.voided_by.is_none()
                        && !matches!(r.event.as_deref(), Some(Event::EntryVoided(_)) | None)
                })
                .map(|r| r.meta.seq)
                .collect();
            still_named(target, format!("teacher {}", e.teacher), by)?;
        }
        Event::TeacherDispatched(e) => {
            if let Some(d) = s.dispatch(&e.dispatch).filter(|d| d.seq == target) {
                if let Some(r) = &d.returned {
                    return Err(refuse(
                        "void.return_first",
                        format!(
                            "the return of dispatch {} (entry {}) still stands; void it first",
                            d.id, r.seq
                        ),
                    )
                    .add("entry", target)
                    .add("return_entry", r.seq));
                }
                let evals: Vec<u64> = d.evaluations.values().map(|e| e.seq).collect();
                if !evals.is_empty() {
                    return Err(refuse(
                        "void.evaluations_first",
                        format!(
                            "evaluations of dispatch {} (entries {}) still stand; void them first",
                            d.id,
                            list(&evals)
                        ),
                    )
                    .add("entry", target)
                    .add("evaluation_entries", list(&evals)));
                }
            }
        }
        Event::TeacherReturned(e) => {
            if let Some(d) = s.dispatch(&e.dispatch) {
                let later: Vec<u64> = s
                    .dispatches_of(&d.teacher)
                    .into_iter()
                    .filter(|o| o.id != d.id && o.start_date >= d.start_date)
                    .map(|o| o.seq)
                    .collect();
                if !later.is_empty() {
                    return Err(refuse(
                        "void.later_dispatch",
                        format!(
                            "{} has a later dispatch (entries {}); without this return dispatch \
                             {} would still be open, so void the later dispatch first",
                            d.teacher,
                            list(&later),
                            d.id
                        ),
                    )
                    .add("entry", target)
                    .add("later_dispatch_entries", list(&later)));
                }
            }
        }
        Event::TeacherTransferred(e) => {
            let later: Vec<u64> = s
                .dispatches_of(&e.teacher)
                .into_iter()
                .filter(|d| d.start_date >= e.date)
                .map(|d| d.seq)
                .collect();
            if !later.is_empty() {
                return Err(refuse(
                    "void.later_dispatch",
                    format!(
                        "dispatches of {} from the new home school (entries {}) start on or \
                         after this transfer; void them first",
                        e.teacher,
                        list(&later)
                    ),
                )
                .add("entry", target)
                .add("later_dispatch_entries", list(&later)));
            }
        }
        Event::TeacherProfileUpdated(_)
        | Event::TeacherEvaluated(_)
        | Event::TeacherPromoted(_) => {}
    }

    // Try it, and judge again what looks back over history.
    let mut after = s.clone();
    after.apply(
        Meta {
            // The next entry: `apply` folds in only that one.
            seq: s.len(),
            hash: [0; 32],
            recorded_at: Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
            actor: Arc::from(""),
        },
        Arc::new(Event::EntryVoided(EntryVoided {
            seq: target,
            reason: "trial".into(),
        })),
    );
    concerned.sort();
    concerned.dedup();
    if let Some((seq, why)) = broken_promotion(&after, &concerned) {
        return Err(leaves_invalid(target, seq, why));
    }
    if check_teams {
        for t in after.teams() {
            let founders = team_members(&after, t).founders.len() as u64;
            let min = u64::from(after.policy_at(t.start_date).min_team_size);
            let weak = after.standing_at(&t.school, t.start_date) == Some(Standing::Weak);
            if founders < min || !weak {
                let why = if weak {
                    format!("{founders} founders, fewer than {min}")
                } else {
                    format!("{} would not be weak on {}", t.school, t.start_date)
                };
                return Err(refuse(
                    "void.leaves_invalid",
                    format!(
                        "voiding entry {target} would leave team {} (entry {}) invalid ({why}); \
                         void its dispatches first",
                        t.id, t.created
                    ),
                )
                .add("entry", target)
                .add("team", &t.id)
                .add("broken_entry", t.created));
            }
        }
    }
    Ok(())
}

fn leaves_invalid(target: u64, seq: u64, why: Refusal) -> Refusal {
    refuse(
        "void.leaves_invalid",
        format!(
            "voiding entry {target} would leave entry {seq} invalid under rule {} ({}); void \
             entry {seq} first",
            why.rule(),
            why.message()
        ),
    )
    .add("entry", target)
    .add("broken_entry", seq)
    .add("broken_rule", why.rule())
}

fn promoted_teachers(s: &State) -> Vec<Id> {
    s.promotions().map(|p| p.teacher.clone()).collect()
}

fn school_references(s: &State, school: &Id, registration: u64) -> Vec<u64> {
    let mut v = Vec::new();
    if let Some(sc) = s.school(school) {
        v.extend(sc.standing.changes().map(|(_, q, _)| q));
    }
    for g in s.groups() {
        if let Some(t) = g.members.get(school) {
            v.extend(t.changes().map(|(_, q, _)| q));
        }
    }
    for t in s.teachers() {
        v.extend(
            t.home
                .changes()
                .filter(|(_, _, h)| h.school == *school)
                .map(|(_, q, _)| q),
        );
    }
    for d in s.dispatches() {
        if d.from_school == *school || d.to_school == *school {
            v.push(d.seq);
        }
    }
    v.retain(|q| *q != registration);
    v.sort_unstable();
    v.dedup();
    v
}

/// A team's standing members, by entry: the founders (members that started on the team's
/// start date, as rule 3 created it) and the joiners (members that started later).
pub(super) struct TeamMembers {
    pub founders: Vec<u64>,
    pub joiners: Vec<u64>,
}

pub(super) fn team_members(s: &State, t: &Team) -> TeamMembers {
    let (mut founders, mut joiners) = (Vec::new(), Vec::new());
    for d in t.members.iter().filter_map(|m| s.dispatch(m)) {
        if d.start_date == t.start_date {
            founders.push(d.seq);
        } else {
            joiners.push(d.seq);
        }
    }
    founders.sort_unstable();
    joiners.sort_unstable();
    TeamMembers { founders, joiners }
}

/// The team whose member entry `target` is, if `target` is a standing team dispatch: the
/// voids an append makes of such entries are judged together when it ends
/// ([`check_team_after_voids`]), since founders may be voided all at once.
pub(super) fn team_of_voided(s: &State, target: u64) -> Option<Id> {
    let rec = s.entry(target)?;
    match rec.event.as_deref()? {
        Event::TeacherDispatched(e) => {
            let d = s.dispatch(&e.dispatch).filter(|d| d.seq == target)?;
            d.team.clone()
        }
        _ => None,
    }
}

/// Rule 7 for a team's own dispatches (SPEC 3.7), judged when the append ends: after its
/// voids, the team must still have at least `min_team_size` founders, or none left at all
/// (every founder voided in this one append, with its joiners voided before or in it). A team
/// already short of founders before the append (a log written before this rule) is judged
/// only on not losing more. `void_seq` is the voided entry to name, `before` the team's founders
/// before the append.
pub(super) fn check_team_after_voids(
    s: &State,
    team: &Id,
    void_seq: u64,
    before: usize,
) -> Result<(), Refusal> {
    // Every member voided: the team is gone, as if it never formed.
    let Some(t) = s.team(team) else {
        return Ok(());
    };
    let m = team_members(s, t);
    let min = s.policy_at(t.start_date).min_team_size as usize;
    let founders = m.founders.len();
    if founders == 0 && !m.joiners.is_empty() {
        return Err(refuse(
            "void.team_joiners_first",
            format!(
                "voiding entry {void_seq} would leave team {} with joiners (entries {}) but none \
                 of its founding dispatches; void the joiners first or in the same append",
                t.id,
                list(&m.joiners)
            ),
        )
        .add("entry", void_seq)
        .add("team", &t.id)
        .add("joiner_entries", list(&m.joiners)));
    }
    if founders > 0 && founders < min && founders < before {
        return Err(refuse(
            "void.team_founders",
            format!(
                "voiding entry {void_seq} would leave team {} with {founders} founding \
                 dispatch(es) (entries {}), fewer than the {min} rule 3 needs to form it; void \
                 all its founding dispatches together in one append{}",
                t.id,
                list(&m.founders),
                if m.joiners.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", with its joiners (entries {}) first or in the same append",
                        list(&m.joiners)
                    )
                }
            ),
        )
        .add("entry", void_seq)
        .add("team", &t.id)
        .add("founder_entries", list(&m.founders))
        .add("min_team_size", min));
    }
    Ok(())
}
