//! `/district?as_of=&year=&recorded_up_to=`: the bureau's view of a school year
//! (Query.District, admins only): every district and group with its members' totals, every
//! school with its quota status and shortfall, a chart of rotation outflow by school year,
//! and the teams below strength; and the downloads
//! `/district/{schools|groups|teams|outflow}.{csv|xlsx}`.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::download::{Format, Sheet, respond};
use super::html::{as_of_form_at, enc, esc, position, school_link, table_or, verdict};
use super::messages::{Lang, M, vocab};
use super::recorded::{notice, query_part, recorded_param};
use super::school::{school_year_of, year_param};
use super::{Console, Ctx, Problem, check_date, html, param};
use crate::proto;
use crate::proto::query_server::Query as _;

/// `GET /district`.
pub async fn page(
    State(c): State<Console>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    c.answer(&headers, &uri, async |ctx| draw(&c, ctx, &q).await)
        .await
}

/// `GET /district/{list}.{csv|xlsx}`.
pub async fn download(
    State(c): State<Console>,
    Path(file): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    c.answer(&headers, &uri, async |ctx| {
        file_of(&c, ctx, &file, &q).await
    })
    .await
}

/// The question a district page or file asks: the date, the year, the ledger prefix.
struct Asked {
    as_of: String,
    year: i32,
    recorded: Option<u64>,
}

fn asked(q: &[(String, String)]) -> Result<Asked, Problem> {
    let as_of = param(q, "as_of").unwrap_or_default();
    check_date(&as_of)?;
    let recorded = recorded_param(q)?;
    // Without a year: the school year of the as-of date (today, Beijing time, when empty).
    let date = if as_of.is_empty() {
        crate::grpc::query_service::today().to_string()
    } else {
        as_of.clone()
    };
    let year = year_param(q)?
        .or_else(|| school_year_of(&date))
        .ok_or(Problem::BadDate)?;
    Ok(Asked {
        as_of,
        year,
        recorded,
    })
}

async fn fetch(c: &Console, ctx: &Ctx, a: &Asked) -> Result<proto::DistrictResponse, Problem> {
    Ok(c.services
        .query
        .district(ctx.grpc(proto::DistrictRequest {
            school_year: a.year,
            as_of: a.as_of.clone(),
            recorded_up_to: a.recorded,
        })?)
        .await?
        .into_inner())
}

/// A quota status as people read it, with its shortfall where there is one.
fn status_html(l: Lang, s: &proto::DistrictSchool) -> String {
    match proto::QuotaStatus::try_from(s.status) {
        Ok(proto::QuotaStatus::Met) => verdict(l, true),
        Ok(proto::QuotaStatus::Due) => format!(
            "<span class=\"due\">{}{}</span>",
            esc(M::QuotaDue.t(l)),
            esc(&shortfall(l, s.missing))
        ),
        Ok(proto::QuotaStatus::Short) => format!(
            "<span class=\"no\">✘ {}{}</span>",
            esc(M::QuotaShort.t(l)),
            esc(&shortfall(l, s.missing))
        ),
        _ => format!("<span class=\"help\">{}</span>", esc(M::NoQuotaShort.t(l))),
    }
}

fn status_text(l: Lang, s: &proto::DistrictSchool) -> &'static str {
    match proto::QuotaStatus::try_from(s.status) {
        Ok(proto::QuotaStatus::Met) => M::Met.t(l),
        Ok(proto::QuotaStatus::Due) => M::QuotaDue.t(l),
        Ok(proto::QuotaStatus::Short) => M::QuotaShort.t(l),
        _ => M::NoQuotaShort.t(l),
    }
}

fn shortfall(l: Lang, missing: u64) -> String {
    format!(
        "{}{missing}{}",
        M::ShortfallHead.t(l),
        M::ShortfallTail.t(l)
    )
}

fn kind_name(l: Lang, kind: &str) -> &'static str {
    if kind == "district" {
        M::KindDistrict.t(l)
    } else {
        M::KindGroup.t(l)
    }
}

const SCHOOL_HEADS: [M; 9] = [
    M::SchoolId,
    M::SchoolName,
    M::Standing,
    M::Group,
    M::QuotaStatusHead,
    M::EligibleCount,
    M::Required,
    M::Outflow,
    M::Missing,
];

fn school_rows(l: Lang, r: &proto::DistrictResponse) -> Vec<Vec<String>> {
    r.schools
        .iter()
        .map(|s| {
            let quota = s.status != proto::QuotaStatus::NoDuty as i32;
            let n = |v: u64| if quota { v.to_string() } else { String::new() };
            vec![
                s.school.clone(),
                s.name.clone(),
                vocab(l, &s.standing).to_owned(),
                s.groups.join("、"),
                status_text(l, s).to_owned(),
                n(s.eligible),
                n(s.required),
                n(s.outflow),
                n(s.missing),
            ]
        })
        .collect()
}

const GROUP_HEADS: [M; 9] = [
    M::GroupId,
    M::GroupName,
    M::Kind,
    M::Lead,
    M::MemberCount,
    M::EligibleCount,
    M::Required,
    M::Outflow,
    M::Missing,
];

fn group_rows(l: Lang, r: &proto::DistrictResponse) -> Vec<Vec<String>> {
    r.groups
        .iter()
        .map(|g| {
            vec![
                g.group.clone(),
                g.name.clone(),
                kind_name(l, &g.kind).to_owned(),
                g.lead_school.clone(),
                g.members.len().to_string(),
                g.eligible.to_string(),
                g.required.to_string(),
                g.outflow.to_string(),
                g.missing.to_string(),
            ]
        })
        .collect()
}

const TEAM_HEADS: [M; 6] = [
    M::Team,
    M::ToSchool,
    M::Start,
    M::Strength,
    M::BelowSince,
    M::Members,
];

fn team_rows(r: &proto::DistrictResponse) -> Vec<Vec<String>> {
    r.teams_below_strength
        .iter()
        .map(|t| {
            vec![
                t.team.clone(),
                t.school.clone(),
                t.start_date.clone(),
                format!("{} / {}", t.strength, t.min_team_size),
                t.status_since.clone().unwrap_or_default(),
                t.members
                    .iter()
                    .filter(|m| m.end.is_none())
                    .map(|m| m.teacher.as_str())
                    .collect::<Vec<_>>()
                    .join("、"),
            ]
        })
        .collect()
}

const OUTFLOW_HEADS: [M; 4] = [M::SchoolYear, M::Outflow, M::KeyOutflow, M::RequiredTotal];

fn outflow_rows(r: &proto::DistrictResponse) -> Vec<Vec<String>> {
    r.outflow_by_year
        .iter()
        .map(|y| {
            vec![
                year_label(y.school_year),
                y.outflow.to_string(),
                y.key_outflow.to_string(),
                y.required.to_string(),
            ]
        })
        .collect()
}

fn year_label(y: i32) -> String {
    format!("{y}/{:02}", (y + 1).rem_euclid(100))
}

/// A round step for `max` over about five gridlines (1, 2 or 5 times a power of ten).
fn tick_step(max: u64) -> u64 {
    let rough = max.div_ceil(5).max(1);
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if p.saturating_mul(m) >= rough {
                return p.saturating_mul(m);
            }
        }
        p = p.saturating_mul(10);
    }
}

/// The outflow of each school year as an inline SVG bar chart (no script, no library): a
/// bar per year for the outflow, a mark for what the schools carrying a quota required,
/// axes labelled in the page's language.
pub fn outflow_chart(l: Lang, years: &[proto::YearOutflow]) -> String {
    const W: u64 = 720;
    const H: u64 = 300;
    const LEFT: u64 = 64;
    const RIGHT: u64 = 16;
    const TOP: u64 = 36;
    const BOTTOM: u64 = 56;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let max = years
        .iter()
        .map(|y| y.outflow.max(y.required))
        .max()
        .unwrap_or(0);
    let step = tick_step(max);
    let top = max.div_ceil(step).max(1) * step;
    let y_of = |v: u64| TOP + plot_h - v.min(top) * plot_h / top;
    let mut out = format!(
        "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" \
         width=\"{W}\" height=\"{H}\" role=\"img\" aria-labelledby=\"chart-title\" id=\"outflow-chart\">\
         <title id=\"chart-title\">{}</title>",
        esc(M::ChartTitle.t(l))
    );
    // Gridlines and the y axis's ticks.
    let mut v = 0;
    while v <= top {
        let y = y_of(v);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#d9dee7\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\" fill=\"#5b6575\">{v}</text>",
            W - RIGHT,
            LEFT - 6,
            y + 4
        );
        v += step;
    }
    let n = years.len().max(1) as u64;
    let slot = plot_w / n;
    let bar = (slot * 3 / 5).clamp(4, 60);
    for (i, y) in years.iter().enumerate() {
        let x0 = LEFT + slot * i as u64;
        let cx = x0 + slot / 2;
        let bar_top = y_of(y.outflow);
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{bar_top}\" width=\"{bar}\" height=\"{}\" fill=\"#1f5fa8\">\
             <title>{} {}: {}</title></rect>\
             <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#1d2430\">{}</text>\
             <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#5b6575\">{}</text>",
            cx - bar / 2,
            TOP + plot_h - bar_top,
            esc(&year_label(y.school_year)),
            esc(M::Outflow.t(l)),
            y.outflow,
            bar_top.saturating_sub(4),
            y.outflow,
            TOP + plot_h + 18,
            esc(&year_label(y.school_year)),
        );
        if y.required > 0 {
            let ry = y_of(y.required);
            let _ = write!(
                out,
                "<line x1=\"{}\" y1=\"{ry}\" x2=\"{}\" y2=\"{ry}\" stroke=\"#a4262c\" stroke-width=\"3\">\
                 <title>{} {}: {}</title></line>",
                cx - bar / 2 - 6,
                cx + bar / 2 + 6,
                esc(&year_label(y.school_year)),
                esc(M::RequiredTotal.t(l)),
                y.required
            );
        }
    }
    // Axes, their labels and the legend.
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" stroke=\"#1d2430\"/>\
         <line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#1d2430\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#1d2430\">{}</text>\
         <text x=\"16\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#1d2430\" \
         transform=\"rotate(-90 16 {})\">{}</text>\
         <rect x=\"{LEFT}\" y=\"10\" width=\"14\" height=\"12\" fill=\"#1f5fa8\"/>\
         <text x=\"{}\" y=\"21\" font-size=\"12\" fill=\"#1d2430\">{}</text>\
         <line x1=\"{}\" y1=\"16\" x2=\"{}\" y2=\"16\" stroke=\"#a4262c\" stroke-width=\"3\"/>\
         <text x=\"{}\" y=\"21\" font-size=\"12\" fill=\"#1d2430\">{}</text></svg></figure>",
        W - RIGHT,
        LEFT + plot_w / 2,
        H - 12,
        esc(M::ChartXAxis.t(l)),
        TOP + plot_h / 2,
        TOP + plot_h / 2,
        esc(M::ChartYAxis.t(l)),
        LEFT + 20,
        esc(M::ChartLegendOutflow.t(l)),
        LEFT + 260,
        LEFT + 280,
        LEFT + 286,
        esc(M::ChartLegendRequired.t(l)),
        base = TOP + plot_h,
    );
    out
}

fn downloads(l: Lang, list: &str, a: &Asked, date: &str) -> String {
    let q = format!(
        "?as_of={}&year={}{}",
        enc(date),
        a.year,
        query_part(a.recorded)
    );
    format!(
        "<p class=\"downloads\">{}: <a href=\"/district/{list}.csv{q}\">CSV</a> · \
         <a href=\"/district/{list}.xlsx{q}\">XLSX</a></p>",
        esc(M::Download.t(l)),
    )
}

/// This page's URL without `recorded_up_to`: the same question on the current ledger.
fn current_url(a: &Asked) -> String {
    format!("/district?as_of={}&year={}", enc(&a.as_of), a.year)
}

async fn draw(c: &Console, ctx: &Ctx, q: &[(String, String)]) -> Result<Response, Problem> {
    let l = ctx.lang;
    let a = asked(q)?;
    let r = fetch(c, ctx, &a).await?;
    let pos = r.position.clone().unwrap_or_default();
    let date = pos.as_of.clone();

    let mut body = format!(
        "<h1>{} <small class=\"id\">{}</small></h1>",
        esc(M::DistrictTitle.t(l)),
        esc(&format!("{} {}", M::SchoolYear.t(l), year_label(a.year)))
    );
    body.push_str(&notice(l, a.recorded, &current_url(&a)));
    body.push_str(&as_of_form_at(
        l,
        "/district",
        &date,
        Some(a.year),
        a.recorded,
    ));

    let count = |s: proto::QuotaStatus| r.schools.iter().filter(|x| x.status == s as i32).count();
    let with_duty = r.schools.len() - count(proto::QuotaStatus::NoDuty);
    let missing: u64 = r.schools.iter().map(|s| s.missing).sum();
    body.push_str("<dl class=\"figures\">");
    for (k, v) in [
        (M::SchoolsCount, r.schools.len()),
        (M::SchoolsWithDuty, with_duty),
        (M::SchoolsMet, count(proto::QuotaStatus::Met)),
        (M::SchoolsDue, count(proto::QuotaStatus::Due)),
        (M::SchoolsShort, count(proto::QuotaStatus::Short)),
        (M::Missing, missing as usize),
        (M::TeamsBelowCount, r.teams_below_strength.len()),
    ] {
        let _ = write!(body, "<div><dt>{}</dt><dd>{v}</dd></div>", esc(k.t(l)));
    }
    body.push_str("</dl>");
    let _ = write!(
        body,
        "<p class=\"help\">{}</p>",
        esc(M::QuotaStatusHelp.t(l))
    );

    let _ = write!(body, "<h2>{}</h2>", esc(M::ChartTitle.t(l)));
    body.push_str(&outflow_chart(l, &r.outflow_by_year));
    let _ = write!(body, "<p class=\"help\">{}</p>", esc(M::ChartHelp.t(l)));
    body.push_str(&downloads(l, "outflow", &a, &date));

    let _ = write!(
        body,
        "<h2>{} <span class=\"count\">{}</span></h2>",
        esc(M::GroupsList.t(l)),
        r.groups.len()
    );
    if !r.groups.is_empty() {
        body.push_str(&downloads(l, "groups", &a, &date));
    }
    let groups: Vec<Vec<String>> = group_rows(l, &r)
        .into_iter()
        .zip(&r.groups)
        .map(|(row, g)| {
            let mut cells: Vec<String> = row.iter().map(|c| esc(c)).collect();
            cells[0] = format!(
                "<a href=\"/groups/{}?as_of={}&year={}\">{}</a>",
                enc(&g.group),
                enc(&date),
                a.year,
                esc(&g.group)
            );
            cells[3] = school_link(&g.lead_school, &date);
            if g.schools_short > 0 {
                cells[8] = format!("<span class=\"no\">{}</span>", g.missing);
            }
            cells
        })
        .collect();
    body.push_str(&table_or(l, &GROUP_HEADS, &groups, M::NoGroups));

    let _ = write!(
        body,
        "<h2>{} <span class=\"count\">{}</span></h2>",
        esc(M::SchoolsList.t(l)),
        r.schools.len()
    );
    if !r.schools.is_empty() {
        body.push_str(&downloads(l, "schools", &a, &date));
    }
    let schools: Vec<Vec<String>> = school_rows(l, &r)
        .into_iter()
        .zip(&r.schools)
        .map(|(row, s)| {
            let mut cells: Vec<String> = row.iter().map(|c| esc(c)).collect();
            cells[0] = school_link(&s.school, &date);
            cells[4] = status_html(l, s);
            cells
        })
        .collect();
    body.push_str(&table_or(l, &SCHOOL_HEADS, &schools, M::NobodyListed));

    let _ = write!(
        body,
        "<h2>{} <span class=\"count\">{}</span></h2><p class=\"help\">{}</p>",
        esc(M::TeamsBelow.t(l)),
        r.teams_below_strength.len(),
        esc(M::TeamsBelowHelp.t(l))
    );
    if !r.teams_below_strength.is_empty() {
        body.push_str(&downloads(l, "teams", &a, &date));
    }
    let teams: Vec<Vec<String>> = team_rows(&r)
        .into_iter()
        .zip(&r.teams_below_strength)
        .map(|(row, t)| {
            let mut cells: Vec<String> = row.iter().map(|c| esc(c)).collect();
            cells[1] = school_link(&t.school, &date);
            cells[3] = format!("<span class=\"no\">{}</span>", esc(&row[3]));
            cells
        })
        .collect();
    body.push_str(&table_or(l, &TEAM_HEADS, &teams, M::NoTeamsBelow));

    body.push_str(&position(l, pos.size, &date));
    let page = ctx.frame().page(M::DistrictTitle.t(l), &body);
    Ok(html(StatusCode::OK, page))
}

/// The list a download names, as a sheet.
async fn file_of(
    c: &Console,
    ctx: &Ctx,
    file: &str,
    q: &[(String, String)],
) -> Result<Response, Problem> {
    let l = ctx.lang;
    let (list, ext) = file.rsplit_once('.').ok_or(Problem::NoSuchPage)?;
    let format = Format::by_extension(ext).ok_or(Problem::NoSuchPage)?;
    if !matches!(list, "schools" | "groups" | "teams" | "outflow") {
        return Err(Problem::NoSuchPage);
    }
    let a = asked(q)?;
    let r = fetch(c, ctx, &a).await?;
    let date = r
        .position
        .as_ref()
        .map(|p| p.as_of.clone())
        .unwrap_or_default();
    let (heads, rows): (&[M], Vec<Vec<String>>) = match list {
        "schools" => (&SCHOOL_HEADS[..], school_rows(l, &r)),
        "groups" => (&GROUP_HEADS[..], group_rows(l, &r)),
        "teams" => (&TEAM_HEADS[..], team_rows(&r)),
        _ => (&OUTFLOW_HEADS[..], outflow_rows(&r)),
    };
    let at = a.recorded.map_or_else(String::new, |n| format!("-n{n}"));
    let sheet = Sheet {
        stem: format!("district-{list}-{}-{date}{at}", a.year),
        heads: heads.iter().map(|m| m.t(l)).collect(),
        rows,
    };
    respond(&sheet, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        for (max, step) in [
            (0, 1),
            (3, 1),
            (5, 1),
            (6, 2),
            (10, 2),
            (11, 5),
            (40, 10),
            (130, 50),
        ] {
            assert_eq!(tick_step(max), step, "{max}");
        }
    }

    #[test]
    fn the_chart_draws_a_bar_per_year_with_labelled_axes() {
        let years = [
            proto::YearOutflow {
                school_year: 2023,
                outflow: 4,
                key_outflow: 1,
                required: 6,
            },
            proto::YearOutflow {
                school_year: 2024,
                outflow: 9,
                key_outflow: 3,
                required: 6,
            },
        ];
        let svg = outflow_chart(Lang::Zh, &years);
        assert_eq!(
            svg.matches("<rect x=").count(),
            3,
            "two bars and the legend"
        );
        assert!(svg.contains(">2023/24<") && svg.contains(">2024/25<"));
        assert!(svg.contains(M::ChartXAxis.t(Lang::Zh)));
        assert!(svg.contains(M::ChartYAxis.t(Lang::Zh)));
        // The taller bar reaches higher (a smaller y).
        let ys: Vec<u64> = svg
            .split("<rect x=\"")
            .skip(1)
            .take(2)
            .filter_map(|s| s.split("y=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert_eq!(ys.len(), 2);
        assert!(ys[1] < ys[0], "{ys:?}");
    }
}
