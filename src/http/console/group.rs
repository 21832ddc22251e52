//! `/groups/{id}?as_of=&year=&recorded_up_to=`: a district's or education group's school year
//! (Query.GroupSummary): each member school with its quota status, the teams its members
//! receive, and the early returns. A principal sees only its own schools of the group.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::html::{as_of_form_at, enc, esc, position, school_link, table_or, verdict};
use super::messages::{M, vocab};
use super::recorded::{notice, recorded_param};
use super::school::{school_year_of, teams_html, year_param};
use super::teacher::terms_table;
use super::{Console, Ctx, Problem, check_date, html, param};
use crate::proto;
use crate::proto::query_server::Query as _;

/// `GET /groups/{id}`.
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
    let l = ctx.lang;
    let as_of = param(q, "as_of").unwrap_or_default();
    check_date(&as_of)?;
    let recorded = recorded_param(q)?;
    // Without a year: the school year of the as-of date (today, Beijing time, when empty).
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string();
    let date = if as_of.is_empty() { &today } else { &as_of };
    let year = year_param(q)?
        .or_else(|| school_year_of(date))
        .ok_or(Problem::BadDate)?;
    let r = c
        .services
        .query
        .group_summary(ctx.grpc(proto::GroupSummaryRequest {
            group: id.clone(),
            school_year: year,
            as_of: as_of.clone(),
            recorded_up_to: recorded,
        })?)
        .await?
        .into_inner();
    let pos = r.position.unwrap_or_default();
    let g = r.summary.unwrap_or_default();
    let mut body = format!(
        "<h1>{} <small class=\"id\">{} · {}</small></h1>",
        esc(&g.name),
        esc(&id),
        esc(if g.kind == "district" {
            M::KindDistrict.t(l)
        } else {
            M::KindGroup.t(l)
        })
    );
    body.push_str(&notice(
        l,
        recorded,
        &format!("/groups/{}?as_of={}&year={year}", enc(&id), enc(&as_of)),
    ));
    body.push_str(&as_of_form_at(
        l,
        &format!("/groups/{}", enc(&id)),
        &pos.as_of,
        Some(year),
        recorded,
    ));
    let _ = write!(
        body,
        "<dl class=\"figures\"><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div>\
         <div><dt>{}</dt><dd>{}</dd></div></dl>",
        esc(M::EligibleCount.t(l)),
        g.eligible,
        esc(M::Outflow.t(l)),
        g.outflow,
        esc(M::Missing.t(l)),
        g.missing
    );
    let rows: Vec<Vec<String>> = g
        .members
        .iter()
        .map(|m| {
            let standing = m.standing.as_deref().map(|s| vocab(l, s)).unwrap_or("");
            let lead = if m.lead { M::Lead.t(l) } else { "" };
            match &m.quota {
                Some(q) => vec![
                    school_link(&m.school, &as_of),
                    esc(standing),
                    esc(lead),
                    q.eligible.len().to_string(),
                    q.required.to_string(),
                    q.outflow.len().to_string(),
                    q.missing.to_string(),
                    verdict(l, q.outflow_met),
                    verdict(l, q.key_share_met),
                ],
                None => {
                    let mut r = vec![school_link(&m.school, &as_of), esc(standing), esc(lead)];
                    r.push(format!(
                        "<span class=\"help\">{}</span>",
                        esc(M::NoQuotaShort.t(l))
                    ));
                    r.extend(std::iter::repeat_n(String::new(), 5));
                    r
                }
            }
        })
        .collect();
    let _ = write!(body, "<h2>{}</h2>", esc(M::MemberSchools.t(l)));
    body.push_str(&table_or(
        l,
        &[
            M::School,
            M::Standing,
            M::Lead,
            M::EligibleCount,
            M::Required,
            M::Outflow,
            M::Missing,
            M::Quota,
            M::KeyShare,
        ],
        &rows,
        M::NobodyListed,
    ));
    if g.members_hidden > 0 {
        let _ = write!(body, "<p class=\"help\">{}</p>", esc(M::Hidden.t(l)));
    }
    let _ = write!(body, "<h2>{}</h2>", esc(M::GroupTeams.t(l)));
    body.push_str(&teams_html(l, &g.teams, &Default::default(), &as_of));
    let _ = write!(body, "<h2>{}</h2>", esc(M::EarlyReturns.t(l)));
    body.push_str(&terms_table(
        l,
        &g.early_returns,
        &as_of,
        Some(&Default::default()),
    ));
    body.push_str(&position(l, pos.size, &pos.as_of));
    let page = ctx.frame().page(&g.name, &body);
    Ok(html(StatusCode::OK, page))
}
