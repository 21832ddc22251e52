//! `/schools/{id}?as_of=&year=`: who is due to rotate and who meets rotation conditions
//! (Query.RotationDuty), the year's quota (Query.SchoolQuota), the teachers the school hosts
//! and sends (Query.Terms), the teams it receives (Query.Teams) and the evaluations it
//! still owes as receiving school (Query.EvaluationsOwed); and the downloads
//! `/schools/{id}/{due|conditions|eligible|owed}.{csv|xlsx}`. With `?recorded_up_to=N`
//! every list is the ledger's as it stood after N entries.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::Datelike as _;

use super::download::{Format, Sheet, respond};
use super::html::{
    as_of_form_at, enc, esc, position, school_link, table_or, teacher_link, verdict,
};
use super::messages::{Lang, M, vocab};
use super::recorded::{notice, query_part, recorded_param};
use super::teacher::terms_table;
use super::{Console, Ctx, Problem, check_date, html, param};
use crate::grpc::query_service::ShownName;
use crate::proto;
use crate::proto::query_server::Query as _;

/// Most teachers whose names a page looks up (one history call each); past it, ids only.
const MAX_NAMES: usize = 500;

/// `GET /schools/{id}`.
pub async fn page(
    State(c): State<Console>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    c.answer(&headers, &uri, async |ctx| draw(&c, ctx, id, &q).await)
        .await
}

/// `GET /schools/{id}/{list}.{csv|xlsx}`.
pub async fn download(
    State(c): State<Console>,
    Path((id, file)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    c.answer(&headers, &uri, async |ctx| {
        file_of(&c, ctx, id, &file, &q).await
    })
    .await
}

/// The school year a date falls in (it starts on 1 September).
pub fn school_year_of(date: &str) -> Option<i32> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(if d.month() >= 9 {
        d.year()
    } else {
        d.year() - 1
    })
}

/// The `year` parameter, if given.
pub fn year_param(q: &[(String, String)]) -> Result<Option<i32>, Problem> {
    match param(q, "year").filter(|y| !y.is_empty()) {
        None => Ok(None),
        Some(y) => y
            .parse::<i32>()
            .ok()
            .filter(|y| (1900..=2999).contains(y))
            .map(Some)
            .ok_or(Problem::BadYear),
    }
}

async fn duty(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    as_of: &str,
    recorded: Option<u64>,
) -> Result<proto::RotationDutyResponse, Problem> {
    Ok(c.services
        .query
        .rotation_duty(ctx.grpc(proto::RotationDutyRequest {
            school: id.to_owned(),
            as_of: as_of.to_owned(),
            recorded_up_to: recorded,
        })?)
        .await?
        .into_inner())
}

/// The year's quota, or `None` when the school carries no quota that year (the service
/// refuses the `school` field then).
async fn quota(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    year: i32,
    as_of: &str,
    recorded: Option<u64>,
) -> Result<Option<proto::SchoolQuota>, Problem> {
    let r = c
        .services
        .query
        .school_quota(ctx.grpc(proto::SchoolQuotaRequest {
            school: id.to_owned(),
            school_year: year,
            as_of: as_of.to_owned(),
            recorded_up_to: recorded,
        })?)
        .await;
    match r {
        Ok(r) => Ok(r.into_inner().quota),
        Err(s) => match Problem::from_status(&s) {
            Problem::BadInput(f) if f == "school" => Ok(None),
            p => Err(p),
        },
    }
}

/// Teachers' names, from their histories (the same scope rules: a teacher the caller may
/// not see keeps its id).
async fn names(
    c: &Console,
    ctx: &Ctx,
    ids: &[String],
    as_of: &str,
    recorded: Option<u64>,
) -> HashMap<String, String> {
    // One question (and one access record) for the whole list.
    let mut wanted: Vec<String> = Vec::new();
    for id in ids {
        if wanted.len() < MAX_NAMES && !wanted.contains(id) {
            wanted.push(id.clone());
        }
    }
    let Ok(req) = ctx.grpc(crate::grpc::query_service::NamesRequest {
        teachers: wanted,
        as_of: as_of.to_owned(),
        recorded_up_to: recorded,
    }) else {
        return HashMap::new();
    };
    match c.services.query.names(req).await {
        Ok(r) => r
            .into_inner()
            .into_iter()
            .map(|(id, n)| {
                let shown = match n {
                    ShownName::Text(t) => t,
                    ShownName::Erased => M::Erased.t(ctx.lang).to_owned(),
                };
                (id, shown)
            })
            .collect(),
        Err(_) => HashMap::new(),
    }
}

fn name_of<'a>(names: &'a HashMap<String, String>, id: &'a str) -> &'a str {
    names.get(id).map_or(id, String::as_str)
}

/// The rows of a duty list (due to rotate, or meeting conditions).
fn duty_rows(
    l: Lang,
    d: &proto::RotationDutyResponse,
    which: &[String],
    names: &HashMap<String, String>,
) -> Vec<[String; 6]> {
    which
        .iter()
        .filter_map(|id| d.teachers.iter().find(|t| &t.teacher == id))
        .map(|t| {
            [
                t.teacher.clone(),
                name_of(names, &t.teacher).to_owned(),
                t.employed_since.clone(),
                t.tenure_reached_on.clone().unwrap_or_default(),
                vocab(l, &t.title).to_owned(),
                t.intermediate_limit_on.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

const DUTY_HEADS: [M; 6] = [
    M::TeacherId,
    M::Name,
    M::EmployedSince,
    M::TenureReached,
    M::Title,
    M::IntermediateLimit,
];

fn html_rows<const N: usize>(rows: &[[String; N]], as_of: &str) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| match i {
                    0 => teacher_link(c, c, as_of),
                    1 => teacher_link(&r[0], c, as_of),
                    _ => esc(c),
                })
                .collect()
        })
        .collect()
}

/// The evaluations the school owes as receiving school.
async fn owed(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    as_of: &str,
    recorded: Option<u64>,
) -> Result<Vec<proto::OwedEvaluation>, Problem> {
    Ok(c.services
        .query
        .evaluations_owed(ctx.grpc(proto::EvaluationsOwedRequest {
            school: id.to_owned(),
            as_of: as_of.to_owned(),
            recorded_up_to: recorded,
        })?)
        .await?
        .into_inner()
        .owed)
}

const OWED_HEADS: [M; 9] = [
    M::Dispatch,
    M::TeacherId,
    M::Name,
    M::Kind,
    M::FromSchool,
    M::Start,
    M::End,
    M::SchoolYear,
    M::YearEndedOn,
];

fn owed_rows(
    l: Lang,
    owed: &[proto::OwedEvaluation],
    names: &HashMap<String, String>,
) -> Vec<[String; 9]> {
    owed.iter()
        .map(|o| {
            [
                o.dispatch.clone(),
                o.teacher.clone(),
                name_of(names, &o.teacher).to_owned(),
                vocab(l, &o.kind).to_owned(),
                o.from_school.clone(),
                o.start_date.clone(),
                o.end.clone().unwrap_or_default(),
                format!(
                    "{}/{:02}",
                    o.school_year,
                    (o.school_year + 1).rem_euclid(100)
                ),
                o.year_ended_on.clone(),
            ]
        })
        .collect()
}

fn owed_html(l: Lang, rows: &[[String; 9]], date: &str) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| match i {
                    1 => teacher_link(c, c, date),
                    2 => teacher_link(&r[1], c, date),
                    4 => school_link(c, date),
                    _ => esc(c),
                })
                .collect()
        })
        .collect();
    table_or(l, &OWED_HEADS, &cells, M::NoneOwed)
}

fn downloads(
    l: Lang,
    id: &str,
    list: &str,
    as_of: &str,
    year: i32,
    recorded: Option<u64>,
) -> String {
    let q = format!("?as_of={}&year={year}{}", enc(as_of), query_part(recorded));
    format!(
        "<p class=\"downloads\">{}: <a href=\"/schools/{id}/{list}.csv{q}\">CSV</a> · \
         <a href=\"/schools/{id}/{list}.xlsx{q}\">XLSX</a></p>",
        esc(M::Download.t(l)),
        id = enc(id),
    )
}

async fn draw(
    c: &Console,
    ctx: &Ctx,
    id: String,
    q: &[(String, String)],
) -> Result<Response, Problem> {
    let l = ctx.lang;
    let as_of = param(q, "as_of").unwrap_or_default();
    check_date(&as_of)?;
    let year = year_param(q)?;
    let recorded = recorded_param(q)?;
    let duty = duty(c, ctx, &id, &as_of, recorded).await?;
    let pos = duty.position.clone().unwrap_or_default();
    // Every later call asks for the date this answer was computed for, so the page is one
    // moment even across midnight.
    let date = pos.as_of.clone();
    let year = year
        .or_else(|| school_year_of(&date))
        .ok_or(Problem::BadDate)?;
    let quota = quota(c, ctx, &id, year, &date, recorded).await?;
    let terms = c
        .services
        .query
        .terms(ctx.grpc(proto::TermsRequest {
            school: Some(id.clone()),
            as_of: date.clone(),
            recorded_up_to: recorded,
            ..Default::default()
        })?)
        .await?
        .into_inner()
        .terms;
    let teams = c
        .services
        .query
        .teams(ctx.grpc(proto::TeamsRequest {
            school: Some(id.clone()),
            as_of: date.clone(),
            recorded_up_to: recorded,
        })?)
        .await?
        .into_inner()
        .teams;
    let owed = owed(c, ctx, &id, &date, recorded).await?;
    let eligible: &[String] = quota.as_ref().map_or(&[], |q| &q.eligible);
    // Collected first: a borrowing iterator held across the awaits below would make the
    // handler's future not `Send`.
    let mut ids: Vec<String> = duty.teachers.iter().map(|t| t.teacher.clone()).collect();
    ids.extend(eligible.iter().cloned());
    ids.extend(terms.iter().map(|t| t.teacher.clone()));
    for t in &teams {
        ids.extend(t.members.iter().map(|m| m.teacher.clone()));
    }
    ids.extend(owed.iter().map(|o| o.teacher.clone()));
    let names = names(c, ctx, &ids, &date, recorded).await;

    let mut body = format!(
        "<h1>{} <small class=\"id\">{}</small></h1>",
        esc(M::School.t(l)),
        esc(&id)
    );
    body.push_str(&notice(
        l,
        recorded,
        &format!("/schools/{}?as_of={}&year={year}", enc(&id), enc(&as_of)),
    ));
    body.push_str(&as_of_form_at(
        l,
        &format!("/schools/{}", enc(&id)),
        &date,
        Some(year),
        recorded,
    ));

    for (title, help, list, which) in [
        (M::DueToRotate, M::DueHelp, "due", &duty.due_to_rotate),
        (
            M::MeetingConditions,
            M::MeetingHelp,
            "conditions",
            &duty.meeting_conditions,
        ),
    ] {
        let rows = duty_rows(l, &duty, which, &names);
        let _ = write!(
            body,
            "<h2>{} <span class=\"count\">{}</span></h2><p class=\"help\">{}</p>",
            esc(title.t(l)),
            rows.len(),
            esc(help.t(l))
        );
        if !rows.is_empty() {
            body.push_str(&downloads(l, &id, list, &date, year, recorded));
        }
        body.push_str(&table_or(
            l,
            &DUTY_HEADS,
            &html_rows(&rows, &date),
            M::NobodyListed,
        ));
    }

    let _ = write!(
        body,
        "<h2>{} {year}/{}</h2>",
        esc(M::Quota.t(l)),
        (year + 1) % 100
    );
    match &quota {
        None => {
            let _ = write!(body, "<p class=\"empty\">{}</p>", esc(M::NoQuotaDuty.t(l)));
        }
        Some(qt) => body.push_str(&quota_html(l, &id, qt, &names, &date, year, recorded)),
    }

    let (hosted, sent): (Vec<_>, Vec<_>) = terms.into_iter().partition(|t| t.to_school == id);
    for (title, list) in [(M::Hosted, hosted), (M::SentOut, sent)] {
        let _ = write!(body, "<h2>{}</h2>", esc(title.t(l)));
        body.push_str(&terms_table(l, &list, &date, Some(&names)));
    }
    let _ = write!(body, "<h2>{}</h2>", esc(M::Teams.t(l)));
    body.push_str(&teams_html(l, &teams, &names, &date));
    let owed_rows = owed_rows(l, &owed, &names);
    let _ = write!(
        body,
        "<h2 id=\"owed\">{} <span class=\"count\">{}</span></h2><p class=\"help\">{}</p>",
        esc(M::OwedTitle.t(l)),
        owed_rows.len(),
        esc(M::OwedHelp.t(l))
    );
    if !owed_rows.is_empty() {
        body.push_str(&downloads(l, &id, "owed", &date, year, recorded));
    }
    body.push_str(&owed_html(l, &owed_rows, &date));
    body.push_str(&position(l, pos.size, &date));
    let page = ctx
        .frame()
        .page(&format!("{} {}", M::School.t(l), id), &body);
    Ok(html(StatusCode::OK, page))
}

fn quota_html(
    l: Lang,
    id: &str,
    q: &proto::SchoolQuota,
    names: &HashMap<String, String>,
    date: &str,
    year: i32,
    recorded: Option<u64>,
) -> String {
    let mut out = String::from("<dl class=\"figures\">");
    for (k, v) in [
        (M::EligibleCount, q.eligible.len().to_string()),
        (M::Required, q.required.to_string()),
        (
            M::Outflow,
            format!("{} {}", q.outflow.len(), verdict(l, q.outflow_met)),
        ),
        (M::Missing, q.missing.to_string()),
        (M::KeyOutflow, q.key_outflow.to_string()),
        (M::KeyRequired, q.key_required.to_string()),
        (M::KeyShare, verdict(l, q.key_share_met)),
    ] {
        let _ = write!(out, "<div><dt>{}</dt><dd>{v}</dd></div>", esc(k.t(l)));
    }
    out.push_str("</dl>");
    let rows = eligible_rows(q, names);
    let _ = write!(
        out,
        "<h3>{} <span class=\"count\">{}</span></h3>",
        esc(M::EligibleList.t(l)),
        rows.len()
    );
    if !rows.is_empty() {
        out.push_str(&downloads(l, id, "eligible", date, year, recorded));
    }
    out.push_str(&table_or(
        l,
        &[M::TeacherId, M::Name],
        &html_rows(&rows, date),
        M::NobodyListed,
    ));
    let outflow: Vec<Vec<String>> = q
        .outflow
        .iter()
        .map(|o| {
            vec![
                esc(&o.dispatch),
                teacher_link(&o.teacher, name_of(names, &o.teacher), date),
                super::html::school_link(&o.to_school, date),
                esc(&o.start_date),
                esc(vocab(l, &o.key_level)),
            ]
        })
        .collect();
    let _ = write!(out, "<h3>{}</h3>", esc(M::OutflowList.t(l)));
    out.push_str(&table_or(
        l,
        &[M::Dispatch, M::Teacher, M::ToSchool, M::Start, M::KeyLevel],
        &outflow,
        M::NobodyListed,
    ));
    out
}

fn eligible_rows(q: &proto::SchoolQuota, names: &HashMap<String, String>) -> Vec<[String; 2]> {
    q.eligible
        .iter()
        .map(|t| [t.clone(), name_of(names, t).to_owned()])
        .collect()
}

/// The teams as a table (members by name where `names` knows them).
pub fn teams_html(
    l: Lang,
    teams: &[proto::Team],
    names: &HashMap<String, String>,
    date: &str,
) -> String {
    let rows: Vec<Vec<String>> = teams
        .iter()
        .map(|t| {
            let status = match proto::TeamStatus::try_from(t.status) {
                Ok(proto::TeamStatus::Complete) => M::TeamComplete,
                Ok(proto::TeamStatus::BelowMinimum) => M::TeamBelow,
                Ok(proto::TeamStatus::Finished | proto::TeamStatus::Completed) => M::TeamCompleted,
                _ => M::None_,
            };
            let mut members = t
                .members
                .iter()
                .map(|m| teacher_link(&m.teacher, name_of(names, &m.teacher), date))
                .collect::<Vec<_>>()
                .join("、");
            if t.members_hidden > 0 {
                members.push_str(&esc(M::Hidden.t(l)));
            }
            let missing = t
                .coverage
                .as_ref()
                .map(|c| c.missing.join("、"))
                .unwrap_or_default();
            vec![
                esc(&t.team),
                esc(&t.start_date),
                format!("{} / {}", t.strength, t.min_team_size),
                esc(status.t(l)),
                members,
                esc(&missing),
            ]
        })
        .collect();
    table_or(
        l,
        &[
            M::Team,
            M::Start,
            M::Strength,
            M::Status,
            M::Members,
            M::Coverage,
        ],
        &rows,
        M::NoTeams,
    )
}

/// The list a download names, as a sheet.
async fn file_of(
    c: &Console,
    ctx: &Ctx,
    id: String,
    file: &str,
    q: &[(String, String)],
) -> Result<Response, Problem> {
    let l = ctx.lang;
    let (list, ext) = file.rsplit_once('.').ok_or(Problem::NoSuchPage)?;
    let format = Format::by_extension(ext).ok_or(Problem::NoSuchPage)?;
    let as_of = param(q, "as_of").unwrap_or_default();
    check_date(&as_of)?;
    let year = year_param(q)?;
    let recorded = recorded_param(q)?;
    let duty = duty(c, ctx, &id, &as_of, recorded).await?;
    let date = duty
        .position
        .as_ref()
        .map(|p| p.as_of.clone())
        .unwrap_or_default();
    let sheet = match list {
        "due" | "conditions" => {
            let which = if list == "due" {
                &duty.due_to_rotate
            } else {
                &duty.meeting_conditions
            };
            let names = names(c, ctx, which, &date, recorded).await;
            Sheet {
                stem: format!("{id}-{list}-{date}"),
                heads: DUTY_HEADS.iter().map(|m| m.t(l)).collect(),
                rows: duty_rows(l, &duty, which, &names)
                    .into_iter()
                    .map(Vec::from)
                    .collect(),
            }
        }
        "eligible" => {
            let year = year
                .or_else(|| school_year_of(&date))
                .ok_or(Problem::BadDate)?;
            let q = quota(c, ctx, &id, year, &date, recorded)
                .await?
                .unwrap_or_default();
            let names = names(c, ctx, &q.eligible, &date, recorded).await;
            Sheet {
                stem: format!("{id}-eligible-{year}"),
                heads: vec![M::TeacherId.t(l), M::Name.t(l)],
                rows: eligible_rows(&q, &names)
                    .into_iter()
                    .map(Vec::from)
                    .collect(),
            }
        }
        "owed" => {
            let owed = owed(c, ctx, &id, &date, recorded).await?;
            let ids: Vec<String> = owed.iter().map(|o| o.teacher.clone()).collect();
            let names = names(c, ctx, &ids, &date, recorded).await;
            Sheet {
                stem: format!("{id}-owed-{date}"),
                heads: OWED_HEADS.iter().map(|m| m.t(l)).collect(),
                rows: owed_rows(l, &owed, &names)
                    .into_iter()
                    .map(Vec::from)
                    .collect(),
            }
        }
        _ => return Err(Problem::NoSuchPage),
    };
    respond(&sheet, format)
}
