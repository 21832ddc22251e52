//! Query commands against a running server (`history`, `eligibility`, `terms`, `teams`,
//! `quota`, `group`, `duty`): the Query service's answers as tables for people, or as one
//! JSON object with `--json` (hashes in hex, enums by name, dates as `YYYY-MM-DD`).

use std::future::Future;

use clap::{Args, ValueEnum};
use serde::Serialize;
use tonic::{Response, Status};

use super::client::{Connect, Query, call, runtime, status_err};
use super::{CliError, Outcome};
use crate::proto;

/// The question's date and log position, shared by every query command.
#[derive(Args, Debug, Clone, Default)]
pub struct AsOf {
    /// The date asked about (YYYY-MM-DD; default: today in China Standard Time, UTC+8).
    #[arg(long, value_parser = date_arg)]
    pub as_of: Option<String>,
    /// Answer as recorded in the first N entries of the log only.
    #[arg(long)]
    pub recorded_up_to: Option<u64>,
}

impl AsOf {
    fn date(&self) -> String {
        self.as_of.clone().unwrap_or_default()
    }
}

/// A term status, as `--status` spells it.
#[derive(ValueEnum, Debug, Clone, Copy)]
#[value(rename_all = "snake_case")]
pub enum StatusArg {
    /// Serving, before min_end.
    Serving,
    /// Serving, on or after min_end.
    ServingBeyondMinimum,
    /// Returned on or after min_end.
    Completed,
    /// Returned before min_end.
    ReturnedEarly,
}

impl StatusArg {
    fn wire(self) -> proto::TermStatus {
        match self {
            StatusArg::Serving => proto::TermStatus::Serving,
            StatusArg::ServingBeyondMinimum => proto::TermStatus::ServingBeyondMinimum,
            StatusArg::Completed => proto::TermStatus::Completed,
            StatusArg::ReturnedEarly => proto::TermStatus::ReturnedEarly,
        }
    }
}

/// The `terms` command's filters.
#[derive(Args, Debug, Clone)]
pub struct TermFilters {
    /// Only this teacher's dispatches.
    #[arg(long)]
    pub teacher: Option<String>,
    /// Only dispatches from or to this school.
    #[arg(long)]
    pub school: Option<String>,
    /// Only dispatches from or to a member of this district or group.
    #[arg(long)]
    pub group: Option<String>,
    /// Only terms in this status on the date.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only terms still being served whose minimum end falls before this date (YYYY-MM-DD).
    #[arg(long, value_parser = date_arg)]
    pub ends_before: Option<String>,
}

/// A date argument, checked here by the ledger's one date parser (so a typo is refused
/// before anything is sent) and passed on as the text the server parses the same way.
pub fn date_arg(s: &str) -> Result<String, String> {
    crate::domain::fields::parse_date(s).map(|_| s.to_owned())
}

/// Runs one Query call and returns its answer, or the status described for a person.
fn ask<T, Fut>(c: &Connect, what: &str, f: impl FnOnce(Query) -> Fut) -> Result<T, CliError>
where
    Fut: Future<Output = Result<Response<T>, Status>>,
{
    runtime()?.block_on(async {
        let q = c.query().await?;
        Ok(f(q).await.map_err(status_err(what))?.into_inner())
    })
}

/// Prints `answer` as JSON with `--json`, else as `text` renders it.
pub(crate) fn show<T: Serialize>(
    c: &Connect,
    answer: &T,
    text: impl FnOnce(&T) -> String,
) -> Result<Outcome, CliError> {
    if c.json {
        let s = serde_json::to_string(answer).map_err(CliError::ctx("JSON"))?;
        println!("{s}");
    } else {
        print!("{}", text(answer));
    }
    Ok(Outcome::Ok)
}

/// A plain-text table: a header row, then rows, columns padded to their widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .chain([header[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let mut s = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// The answer's position, as its first line.
pub(crate) fn position(p: &Option<proto::Position>) -> String {
    match p {
        Some(p) => format!(
            "as of {} at log size {} (head {})\n",
            p.as_of,
            p.size,
            hex::encode(&p.head_hash)
        ),
        None => String::new(),
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

pub(crate) fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn term_rows(terms: &[proto::Term]) -> String {
    let rows: Vec<Vec<String>> = terms
        .iter()
        .map(|t| {
            vec![
                t.dispatch.clone(),
                t.teacher.clone(),
                format!("{} -> {}", t.from_school, t.to_school),
                t.kind.clone(),
                opt(&t.team),
                t.start_date.clone(),
                t.min_end.clone(),
                opt(&t.end),
                crate::grpc::query_convert::term_status_filter(t.status)
                    .map_or("-", |s| s.as_str())
                    .into(),
                t.days_served.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "DISPATCH",
            "TEACHER",
            "FROM -> TO",
            "KIND",
            "TEAM",
            "START",
            "MIN_END",
            "END",
            "STATUS",
            "DAYS",
        ],
        &rows,
    )
}

/// `rotaledger access-record`: the reveals of personal data, one JSON line each (admins).
pub fn access_record(c: &Connect, teacher: Option<&str>) -> Result<Outcome, CliError> {
    let mut from = 0;
    loop {
        let req = proto::AccessRecordRequest {
            teacher: teacher.unwrap_or_default().into(),
            from,
            limit: 1000,
        };
        let r = ask(c, "AccessRecord", |mut q| async move {
            q.access_record(call(req)).await
        })?;
        for a in &r.accesses {
            println!(
                "{}",
                serde_json::json!({
                    "seq": a.seq, "time": a.time, "actor": a.actor, "role": a.role,
                    "via": a.via, "teachers": a.teachers, "fields": a.fields,
                })
            );
        }
        match r.accesses.last() {
            Some(last) if r.accesses.len() == 1000 => from = last.seq + 1,
            _ => return Ok(Outcome::Ok),
        }
    }
}

/// `rotaledger history TEACHER`.
pub fn history(c: &Connect, teacher: &str, at: &AsOf) -> Result<Outcome, CliError> {
    let req = proto::TeacherHistoryRequest {
        teacher: teacher.into(),
        as_of: at.date(),
        recorded_up_to: at.recorded_up_to,
        with_proofs: false,
    };
    let r = ask(c, "TeacherHistory", |mut q| async move {
        q.teacher_history(call(req)).await
    })?;
    show(c, &r, history_text)
}

/// A teacher's history as `rotaledger history` prints it.
pub(crate) fn history_text(r: &proto::TeacherHistoryResponse) -> String {
    let mut out = position(&r.position);
    out.push_str(&format!("teacher {}\n", r.teacher));
    if let Some(s) = &r.summary {
        match (&s.name, &s.personal_data_erased_on) {
            (_, Some(on)) => out.push_str(&format!(
                "name erased on {on} (entry {})\n",
                s.personal_data_erased_by.unwrap_or_default()
            )),
            (Some(n), None) => out.push_str(&format!("name {n}\n")),
            (None, None) => {}
        }
        out.push_str(&format!(
            "home {} since {}, posted at {}, title {}, key level {}\n",
            opt(&s.home_school),
            opt(&s.home_since),
            opt(&s.posted_at),
            opt(&s.title),
            opt(&s.key_level)
        ));
    }
    let rows: Vec<Vec<String>> = r
        .entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                opt(&e.effective_date),
                opt(&e.event_type),
                e.actor.clone(),
                hex::encode(&e.hash)[..16].to_string(),
                e.teacher_prev
                    .as_ref()
                    .map_or("-".into(), |l| l.seq.to_string()),
                match (e.in_effect, e.voided_by) {
                    (_, Some(v)) => format!("voided by {v}"),
                    (true, None) => "in effect".into(),
                    (false, None) => "not yet effective".into(),
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &["SEQ", "DATE", "EVENT", "ACTOR", "HASH", "PREV", "STATE"],
        &rows,
    ));
    out
}

/// `rotaledger certificate TEACHER --out FILE`: asks the server for the teacher's
/// certificate and writes it (atomically) as it came.
pub fn certificate(
    c: &Connect,
    teacher: &str,
    as_of: Option<String>,
    out: &std::path::Path,
) -> Result<Outcome, CliError> {
    let req = proto::CertificateRequest {
        teacher: teacher.into(),
        as_of: as_of.unwrap_or_default(),
    };
    let r = ask(c, "Certificate", |mut q| async move {
        q.certificate(call(req)).await
    })?;
    crate::atomic::AtomicFile::write_all(out, r.certificate.as_bytes())?;
    let size = r.position.as_ref().map_or(0, |p| p.size);
    println!(
        "wrote {}: the certificate of {teacher} at checkpoint size {size}, certificate hash {}",
        out.display(),
        hex::encode(&r.certificate_hash)
    );
    println!(
        "check it offline: rotaledger audit certificate {} --key <the ledger's public key>",
        out.display()
    );
    Ok(Outcome::Ok)
}

/// `rotaledger eligibility TEACHER`.
pub fn eligibility(c: &Connect, teacher: &str, at: &AsOf) -> Result<Outcome, CliError> {
    let req = proto::EligibilityRequest {
        teacher: teacher.into(),
        as_of: at.date(),
        recorded_up_to: at.recorded_up_to,
    };
    let r = ask(c, "Eligibility", |mut q| async move {
        q.eligibility(call(req)).await
    })?;
    show(c, &r, eligibility_text)
}

/// The leadership and senior-title lines of an eligibility: days served of days required.
pub(crate) fn credit_lines(
    leadership: &Option<proto::ServiceCredit>,
    senior_title: &Option<proto::ServiceCredit>,
) -> String {
    let mut out = String::new();
    for (name, s) in [("leadership", leadership), ("senior title", senior_title)] {
        if let Some(s) = s {
            out.push_str(&format!(
                "{name} credit: {} ({} of {} days, {} missing)\n",
                yes(s.met),
                s.days_served,
                s.days_required,
                s.days_missing
            ));
        }
    }
    out
}

/// A teacher's eligibility as `rotaledger eligibility` prints it.
pub(crate) fn eligibility_text(r: &proto::EligibilityResponse) -> String {
    let mut out = position(&r.position);
    let Some(e) = &r.eligibility else {
        return out;
    };
    out.push_str(&format!("teacher {}\n", e.teacher));
    if let Some(rot) = &e.rotation {
        out.push_str(&format!(
            "rotation credit: {} (grades at least {})\n",
            yes(rot.met),
            rot.min_grade
        ));
        let rows: Vec<Vec<String>> = rot
            .dispatches
            .iter()
            .map(|d| {
                vec![
                    d.dispatch.clone(),
                    d.to_school.clone(),
                    d.start_date.clone(),
                    opt(&d.min_end),
                    yes(d.reached_min_end),
                    yes(d.returned_early),
                    d.grades
                        .iter()
                        .map(|g| format!("{}:{}", g.school_year, g.grade))
                        .collect::<Vec<_>>()
                        .join(" "),
                    yes(d.qualifies),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "DISPATCH",
                "TO",
                "START",
                "MIN_END",
                "REACHED",
                "EARLY",
                "GRADES",
                "QUALIFIES",
            ],
            &rows,
        ));
    }
    out.push_str(&credit_lines(&e.leadership, &e.senior_title));
    if let Some(m) = &e.returning_mentor {
        out.push_str(&format!(
            "returning-mentor credit: {} ({} training dispatches)\n",
            yes(m.met),
            m.dispatches.len()
        ));
    }
    out
}

/// `rotaledger terms`.
pub fn terms(c: &Connect, f: &TermFilters, at: &AsOf) -> Result<Outcome, CliError> {
    let req = proto::TermsRequest {
        teacher: f.teacher.clone(),
        school: f.school.clone(),
        group: f.group.clone(),
        status: f.status.map_or(0, |s| s.wire() as i32),
        ends_before: f.ends_before.clone(),
        as_of: at.date(),
        recorded_up_to: at.recorded_up_to,
    };
    let r = ask(c, "Terms", |mut q| async move { q.terms(call(req)).await })?;
    show(c, &r, |r| position(&r.position) + &term_rows(&r.terms))
}

/// `rotaledger teams`.
pub fn teams(c: &Connect, school: Option<String>, at: &AsOf) -> Result<Outcome, CliError> {
    let req = proto::TeamsRequest {
        school,
        as_of: at.date(),
        recorded_up_to: at.recorded_up_to,
    };
    let r = ask(c, "Teams", |mut q| async move { q.teams(call(req)).await })?;
    show(c, &r, |r| {
        let rows: Vec<Vec<String>> = r
            .teams
            .iter()
            .map(|t| {
                vec![
                    t.team.clone(),
                    t.school.clone(),
                    t.start_date.clone(),
                    format!("{}/{}", t.strength, t.min_team_size),
                    match proto::TeamStatus::try_from(t.status) {
                        Ok(proto::TeamStatus::Complete) => "complete".into(),
                        Ok(proto::TeamStatus::BelowMinimum) => {
                            format!("below minimum since {}", opt(&t.status_since))
                        }
                        Ok(proto::TeamStatus::Finished) => {
                            format!("finished {}", opt(&t.status_since))
                        }
                        Ok(proto::TeamStatus::Completed) => {
                            format!("completed {}", opt(&t.status_since))
                        }
                        _ => "-".into(),
                    },
                    t.members
                        .iter()
                        .map(|m| m.teacher.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect();
        // A principal's view leaves out members it may not see: say so, or the member list
        // would read as the whole team.
        let hidden: String = r
            .teams
            .iter()
            .filter(|t| t.members_hidden > 0)
            .map(|t| {
                format!(
                    "{}: {} more members from {}, outside this token's schools, are not shown\n",
                    t.team,
                    t.members_hidden,
                    t.hidden_member_schools.join(", ")
                )
            })
            .collect();
        position(&r.position)
            + &table(
                &["TEAM", "SCHOOL", "START", "STRENGTH", "STATUS", "MEMBERS"],
                &rows,
            )
            + &hidden
    })
}

fn quota_text(q: &proto::SchoolQuota) -> String {
    let mut out = format!(
        "school {} school year {}/{} (basis taken on {}; {}{}, quota duty {})\n",
        q.school,
        q.school_year,
        q.school_year + 1,
        q.reference_date,
        q.standing,
        if q.rural { ", rural" } else { "" },
        q.quota_duty
    );
    out.push_str(&format!(
        "eligible {} of {} teachers; outflow {} of {} required ({} missing, ratio {})\n",
        q.eligible.len(),
        q.school_teachers,
        q.outflow.len(),
        q.required,
        q.missing,
        q.min_outflow_ratio
    ));
    out.push_str(&format!(
        "key teachers out {} of {} required (share {} {}): {}\n",
        q.key_outflow,
        q.key_required,
        q.min_key_teacher_share,
        q.key_share_basis,
        if q.key_share_met { "met" } else { "NOT met" }
    ));
    let exempt = q
        .not_eligible
        .iter()
        .filter(|n| {
            matches!(
                n.reason,
                Some(proto::not_eligible::Reason::RetirementExempt(_))
            )
        })
        .count();
    if exempt > 0 {
        out.push_str(&format!(
            "not counted: {exempt} teacher(s) exempt as close to retirement\n"
        ));
    }
    if q.key_teacher_outflow_flag {
        out.push_str(&format!(
            "flag: key-teacher outflow above {}\n",
            q.key_teacher_outflow_threshold
        ));
    }
    let rows: Vec<Vec<String>> = q
        .outflow
        .iter()
        .map(|o| {
            vec![
                o.dispatch.clone(),
                o.teacher.clone(),
                o.to_school.clone(),
                o.start_date.clone(),
                o.key_level.clone(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["DISPATCH", "TEACHER", "TO", "START", "KEY_LEVEL"],
        &rows,
    ));
    out
}

/// `rotaledger quota SCHOOL --year Y`.
pub fn quota(c: &Connect, school: &str, year: i32, at: &AsOf) -> Result<Outcome, CliError> {
    let req = proto::SchoolQuotaRequest {
        school: school.into(),
        school_year: year,
        as_of: at.date(),
        recorded_up_to: at.recorded_up_to,
    };
    let r = ask(c, "SchoolQuota", |mut q| async move {
        q.school_quota(call(req)).await
    })?;
    show(c, &r, |r| {
        position(&r.position) + &r.quota.as_ref().map(quota_text).unwrap_or_default()
    })
}

/// `rotaledger group GROUP --year Y`.
pub fn group(c: &Connect, group: &str, year: i32, at: &AsOf) -> Result<Outcome, CliError> {
    let req = proto::GroupSummaryRequest {
        group: group.into(),
        school_year: year,
        as_of: at.date(),
        recorded_up_to: at.recorded_up_to,
    };
    let r = ask(c, "GroupSummary", |mut q| async move {
        q.group_summary(call(req)).await
    })?;
    show(c, &r, |r| {
        let mut out = position(&r.position);
        let Some(g) = &r.summary else {
            return out;
        };
        out.push_str(&format!(
            "{} {} ({}) school year {}/{}: eligible {}, outflow {}, missing {}\n",
            g.kind,
            g.group,
            g.name,
            g.school_year,
            g.school_year + 1,
            g.eligible,
            g.outflow,
            g.missing
        ));
        if g.members_hidden > 0 {
            out.push_str(&format!(
                "{} member schools outside this token's schools are not shown\n",
                g.members_hidden
            ));
        }
        let rows: Vec<Vec<String>> = g
            .members
            .iter()
            .map(|m| {
                let q = m.quota.as_ref();
                vec![
                    m.school.clone(),
                    opt(&m.standing),
                    yes(m.lead),
                    q.map_or("-".into(), |q| q.eligible.len().to_string()),
                    q.map_or("-".into(), |q| q.outflow.len().to_string()),
                    q.map_or("-".into(), |q| q.missing.to_string()),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "SCHOOL", "STANDING", "LEAD", "ELIGIBLE", "OUTFLOW", "MISSING",
            ],
            &rows,
        ));
        out.push_str(&format!(
            "{} teams; {} early returns\n",
            g.teams.len(),
            g.early_returns.len()
        ));
        out
    })
}

/// `rotaledger duty SCHOOL`.
pub fn duty(c: &Connect, school: &str, at: &AsOf) -> Result<Outcome, CliError> {
    let req = proto::RotationDutyRequest {
        school: school.into(),
        as_of: at.date(),
        recorded_up_to: at.recorded_up_to,
    };
    let r = ask(c, "RotationDuty", |mut q| async move {
        q.rotation_duty(call(req)).await
    })?;
    show(c, &r, |r| {
        let mut out = position(&r.position);
        out.push_str(&format!(
            "school {}: {} meet rotation conditions, {} due to rotate (tenure {} years)\n",
            r.school,
            r.meeting_conditions.len(),
            r.due_to_rotate.len(),
            r.eligible_tenure_years
        ));
        let rows: Vec<Vec<String>> = r
            .teachers
            .iter()
            .map(|t| {
                vec![
                    t.teacher.clone(),
                    t.employed_since.clone(),
                    opt(&t.tenure_reached_on),
                    t.title.clone(),
                    opt(&t.on_dispatch),
                    yes(t.exempt),
                    yes(t.meets_conditions),
                    yes(t.due_to_rotate),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "TEACHER",
                "SINCE",
                "TENURE_ON",
                "TITLE",
                "ON_DISPATCH",
                "EXEMPT",
                "MEETS",
                "DUE",
            ],
            &rows,
        ));
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22222".into()],
            ],
        );
        assert_eq!(t, "A    BB\nxyz  1\nq    22222\n");
    }
}
