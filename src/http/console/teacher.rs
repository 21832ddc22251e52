//! `/teachers/{id}?as_of=YYYY-MM-DD&recorded_up_to=N`: a teacher's profile, the progress of each dispatch
//! towards its three-year minimum, the promotion-credit verdicts with their reasons, and
//! every entry about the teacher (Query.TeacherHistory and Query.Eligibility).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::html::{as_of_form_at, enc, esc, position, school_link, table_or, verdict};
use super::messages::{Lang, M, vocab};
use super::recorded::{notice, recorded_param};
use super::{Console, Ctx, Problem, check_date, html, param};
use crate::proto;
use crate::proto::query_server::Query as _;

/// `GET /teachers/{id}`.
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

async fn draw(
    c: &Console,
    ctx: &Ctx,
    id: String,
    q: &[(String, String)],
) -> Result<Response, Problem> {
    let as_of = param(q, "as_of").unwrap_or_default();
    check_date(&as_of)?;
    let recorded = recorded_param(q)?;
    let history = c
        .services
        .query
        .teacher_history(ctx.grpc(proto::TeacherHistoryRequest {
            teacher: id.clone(),
            as_of: as_of.clone(),
            recorded_up_to: recorded,
            with_proofs: false,
        })?)
        .await?
        .into_inner();
    let eligibility = c
        .services
        .query
        .eligibility(ctx.grpc(proto::EligibilityRequest {
            teacher: id.clone(),
            as_of: as_of.clone(),
            recorded_up_to: recorded,
        })?)
        .await?
        .into_inner()
        .eligibility
        .unwrap_or_default();
    let l = ctx.lang;
    let pos = history.position.clone().unwrap_or_default();
    let summary = history.summary.clone().unwrap_or_default();
    let name = summary.name.clone().unwrap_or_else(|| id.clone());
    let mut body = format!(
        "<h1>{} <small class=\"id\">{}</small></h1>",
        esc(&name),
        esc(&id)
    );
    body.push_str(&notice(
        l,
        recorded,
        &format!("/teachers/{}?as_of={}", enc(&id), enc(&as_of)),
    ));
    body.push_str(&as_of_form_at(
        l,
        &format!("/teachers/{}", enc(&id)),
        &pos.as_of,
        None,
        recorded,
    ));
    // The certificate: only of the ledger as it is (a certificate rests on a checkpoint of
    // the whole log, not on an earlier position).
    if recorded.is_none() {
        let _ = write!(
            body,
            "<p class=\"downloads cert-link\"><a href=\"/teachers/{}/certificate{}\">{}</a></p>",
            enc(&id),
            super::html::as_of_query(&as_of),
            esc(M::CertificateLink.t(l))
        );
    }
    body.push_str(&profile(l, &summary, &as_of));
    let _ = write!(body, "<h2>{}</h2>", esc(M::Terms.t(l)));
    body.push_str(&terms_table(l, &summary.dispatches, &as_of, None));
    let _ = write!(body, "<h2>{}</h2>", esc(M::Eligibility.t(l)));
    body.push_str(&eligibility_html(l, &eligibility));
    let _ = write!(body, "<h2>{}</h2>", esc(M::Timeline.t(l)));
    body.push_str(&timeline(l, &history.entries));
    body.push_str(&position(l, pos.size, &pos.as_of));
    let page = ctx
        .frame()
        .page(&format!("{} · {}", name, M::Teacher.t(l)), &body);
    Ok(html(StatusCode::OK, page))
}

fn opt(l: Lang, v: &Option<String>) -> String {
    v.as_deref()
        .map_or_else(|| esc(M::None_.t(l)), |s| esc(vocab(l, s)))
}

fn profile(l: Lang, s: &proto::TeacherSummary, as_of: &str) -> String {
    let school = |v: &Option<String>| {
        v.as_deref()
            .map_or_else(|| esc(M::None_.t(l)), |id| school_link(id, as_of))
    };
    let rows = [
        (
            M::Name,
            match &s.personal_data_erased_on {
                Some(on) => format!(
                    "<span class=\"erased\">{}</span> ({} {})",
                    esc(M::Erased.t(l)),
                    esc(M::ErasedOn.t(l)),
                    esc(on)
                ),
                None => opt(l, &s.name),
            },
        ),
        (M::HomeSchool, school(&s.home_school)),
        (M::HomeSince, opt(l, &s.home_since)),
        (M::PostedAt, school(&s.posted_at)),
        (M::Title, opt(l, &s.title)),
        (M::KeyLevel, opt(l, &s.key_level)),
        (M::ServingDispatch, opt(l, &s.serving_dispatch)),
    ];
    let mut out = format!("<h2>{}</h2><dl class=\"profile\">", esc(M::Profile.t(l)));
    for (k, v) in rows {
        let _ = write!(out, "<dt>{}</dt><dd>{v}</dd>", esc(k.t(l)));
    }
    out.push_str("</dl>");
    out
}

/// A term's status as people read it.
pub fn term_status(l: Lang, t: &proto::Term) -> String {
    let s = match proto::TermStatus::try_from(t.status) {
        Ok(proto::TermStatus::Serving) => M::StServing,
        Ok(proto::TermStatus::ServingBeyondMinimum) => M::StBeyond,
        Ok(proto::TermStatus::Completed) => M::StCompleted,
        Ok(proto::TermStatus::ReturnedEarly) => M::StReturnedEarly,
        _ => M::None_,
    };
    let mut out = esc(s.t(l));
    if let Some(r) = &t.return_reason {
        let _ = write!(out, "（{}）", esc(vocab(l, r)));
    }
    if t.exempt {
        out.push_str(&esc(M::StExempt.t(l)));
    }
    out
}

/// Days from `start` to `min_end` (the three-year minimum), for the progress bar.
fn term_days(t: &proto::Term) -> Option<i64> {
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    Some((d(&t.min_end)? - d(&t.start_date)?).num_days())
}

/// Progress towards the minimum term: a bar and the percentage.
fn progress(t: &proto::Term) -> String {
    let Some(total) = term_days(t).filter(|d| *d > 0) else {
        return String::new();
    };
    let pct = (t.days_served.max(0) * 100 / total).min(100);
    format!("<span class=\"bar\"><span style=\"width:{pct}%\"></span></span> {pct}%")
}

/// The dispatches as a table; with `names`, a teacher column (school pages).
pub fn terms_table(
    l: Lang,
    terms: &[proto::Term],
    as_of: &str,
    names: Option<&HashMap<String, String>>,
) -> String {
    let mut heads = vec![M::Dispatch];
    if names.is_some() {
        heads.push(M::Teacher);
    }
    heads.extend([
        M::Kind,
        M::FromSchool,
        M::ToSchool,
        M::Start,
        M::MinEnd,
        M::End,
        M::DaysServed,
        M::Progress,
        M::Status,
    ]);
    let rows: Vec<Vec<String>> = terms
        .iter()
        .map(|t| {
            let mut r = vec![esc(&t.dispatch)];
            if let Some(names) = names {
                let name = names.get(&t.teacher).unwrap_or(&t.teacher);
                r.push(super::html::teacher_link(&t.teacher, name, as_of));
            }
            r.extend([
                esc(vocab(l, &t.kind)),
                school_link(&t.from_school, as_of),
                school_link(&t.to_school, as_of),
                esc(&t.start_date),
                esc(&t.min_end),
                opt(l, &t.end),
                t.days_served.to_string(),
                progress(t),
                term_status(l, t),
            ]);
            r
        })
        .collect();
    table_or(l, &heads, &rows, M::NoDispatches)
}

fn grades(l: Lang, g: &[proto::YearGrade]) -> String {
    g.iter()
        .map(|g| format!("{}: {}", g.school_year, esc(vocab(l, &g.grade))))
        .collect::<Vec<_>>()
        .join("，")
}

fn yes_no(l: Lang, b: bool) -> &'static str {
    if b { M::Yes.t(l) } else { M::No.t(l) }
}

fn service_credit(l: Lang, title: M, c: &Option<proto::ServiceCredit>) -> String {
    let c = c.clone().unwrap_or_default();
    format!(
        "<div class=\"credit\"><h3>{} {}</h3><p>{} {} · {} {} · {} {}</p></div>",
        esc(title.t(l)),
        verdict(l, c.met),
        esc(M::DaysServed.t(l)),
        c.days_served,
        esc(M::DaysRequired.t(l)),
        c.days_required,
        esc(M::DaysMissing.t(l)),
        c.days_missing,
    )
}

fn eligibility_html(l: Lang, e: &proto::Eligibility) -> String {
    let mut out = String::new();
    let rot = e.rotation.clone().unwrap_or_default();
    let rows: Vec<Vec<String>> = rot
        .dispatches
        .iter()
        .map(|d| {
            vec![
                esc(&d.dispatch),
                esc(vocab(l, &d.kind)),
                esc(&d.to_school),
                d.days_served.to_string(),
                esc(yes_no(l, d.reached_min_end)),
                esc(yes_no(l, d.returned_early)),
                grades(l, &d.grades),
                esc(yes_no(l, d.qualifies)),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "<div class=\"credit\"><h3>{} {}</h3><p>{} {}</p>{}</div>",
        esc(M::RotationCredit.t(l)),
        verdict(l, rot.met),
        esc(M::MinGrade.t(l)),
        esc(vocab(l, &rot.min_grade)),
        table_or(
            l,
            &[
                M::Dispatch,
                M::Kind,
                M::ToSchool,
                M::DaysServed,
                M::ReachedMinEnd,
                M::ReturnedEarly,
                M::Grades,
                M::Qualifies
            ],
            &rows,
            M::NoDispatches
        )
    );
    out.push_str(&service_credit(l, M::LeadershipCredit, &e.leadership));
    let m = e.returning_mentor.clone().unwrap_or_default();
    let rows: Vec<Vec<String>> = m
        .dispatches
        .iter()
        .map(|d| {
            vec![
                esc(&d.dispatch),
                esc(yes_no(l, d.ended)),
                d.latest.as_ref().map_or_else(String::new, |g| {
                    format!("{}: {}", g.school_year, esc(vocab(l, &g.grade)))
                }),
                esc(yes_no(l, d.qualifies)),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "<div class=\"credit\"><h3>{} {}</h3><p>{} {}</p>{}</div>",
        esc(M::MentorCredit.t(l)),
        verdict(l, m.met),
        esc(M::MinGrade.t(l)),
        esc(vocab(l, &m.min_grade)),
        table_or(
            l,
            &[M::Dispatch, M::Ended, M::LatestGrade, M::Qualifies],
            &rows,
            M::NoDispatches
        )
    );
    out.push_str(&service_credit(l, M::SeniorTitle, &e.senior_title));
    out
}

/// The event's own fields, shortly (the type, version and teacher are in other columns).
fn details(l: Lang, event: Option<&str>) -> String {
    let Some(v) = event.and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok()) else {
        return String::new();
    };
    let Some(obj) = v.as_object() else {
        return String::new();
    };
    obj.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "version" | "teacher"))
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => vocab(l, s).to_owned(),
                other => other.to_string(),
            };
            format!("{}={}", esc(k), esc(&v))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An RFC 3339 time to the second, as people read it (`2025-06-01 09:30:12`).
fn short_time(t: &str) -> String {
    t.get(..19)
        .map_or_else(|| t.to_owned(), |s| s.replace('T', " "))
}

fn timeline(l: Lang, entries: &[proto::HistoryEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mut state = if e.in_effect {
                esc(M::InEffect.t(l))
            } else {
                String::new()
            };
            if let Some(by) = e.voided_by {
                state = format!("{} {by}", esc(M::VoidedBy.t(l)));
            }
            if let Some(v) = e.voids {
                let _ = write!(state, " {} {v}", esc(M::Voids.t(l)));
            }
            let kind = e.event_type.as_deref().unwrap_or("");
            vec![
                e.seq.to_string(),
                esc(e.effective_date.as_deref().unwrap_or("")),
                esc(&short_time(&e.recorded_at)),
                esc(vocab(l, kind)),
                format!(
                    "<span class=\"details\">{}</span>",
                    details(l, e.event.as_deref())
                ),
                esc(&e.actor),
                state,
                format!(
                    "<code>{}</code>",
                    hex::encode(e.hash.get(..6).unwrap_or(&e.hash))
                ),
            ]
        })
        .collect();
    table_or(
        l,
        &[
            M::Seq,
            M::Effective,
            M::Recorded,
            M::Event,
            M::Details,
            M::Actor,
            M::Status,
            M::Hash,
        ],
        &rows,
        M::NoEntries,
    )
}
