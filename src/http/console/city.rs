//! The city view's console (`serve --follow URL1 --follow URL2 ... --http`, docs/CITY.md):
//! sign-in, a home page with the districts' ledgers and a teacher search, and a teacher's page
//! across the districts (each district's part with its checkpoint, the city's totals, the
//! receiving schools of other districts checked against their own ledgers). Simplified
//! Chinese first, like the ledger's console; drawn on the server from the City service's own
//! answers, with the session's token.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};

use super::html::{as_of_form, enc, esc, table, table_or, verdict};
use super::messages::{Lang, M};
use super::session::Sessions;
use super::teacher::term_status;
use super::{Ctx, Doors, Problem, html, login, param, see_other};
use crate::city::City;
use crate::grpc::auth::{Access, Role};
use crate::proto;

/// What the city console's handlers share.
#[derive(Clone)]
pub struct CityConsole {
    /// The city, once its copies are open.
    pub city: Arc<OnceLock<Arc<City>>>,
    /// The city view's access file.
    pub access: Arc<Access>,
    /// The sessions of this process.
    pub sessions: Arc<Sessions>,
}

impl Doors for CityConsole {
    fn sessions(&self) -> &Sessions {
        &self.sessions
    }
    fn access(&self) -> &Access {
        &self.access
    }
}

/// The city console's routes.
pub fn routes(c: CityConsole) -> Router {
    Router::new()
        .route("/", get(home))
        .route(
            "/login",
            get(login::form::<CityConsole>).post(login::sign_in::<CityConsole>),
        )
        .route("/logout", post(login::sign_out::<CityConsole>))
        .route("/find", get(find))
        .route("/teachers/{id}", get(teacher))
        .route("/assets/console.css", get(super::css))
        .with_state(c)
}

impl CityConsole {
    /// Runs `f` on the city on a blocking thread; a refusal becomes its designed page.
    async fn ask<T: Send + 'static>(
        &self,
        f: impl FnOnce(&City) -> Result<T, tonic::Status> + Send + 'static,
    ) -> Result<T, Problem> {
        let city = self.city.get().cloned().ok_or(Problem::Unavailable)?;
        tokio::task::spawn_blocking(move || f(&city))
            .await
            .map_err(|_| Problem::Internal)?
            .map_err(|s| Problem::from_status(&s))
    }
}

/// A form that finds a teacher across the districts.
fn find_box(l: Lang) -> String {
    format!(
        "<form method=\"get\" action=\"/find\" class=\"find\"><h2>{}</h2>\
         <label>{} <input name=\"teacher\" required></label>\
         <button type=\"submit\">{}</button></form>",
        esc(M::FindTeacher.t(l)),
        esc(M::TeacherId.t(l)),
        esc(M::Go.t(l))
    )
}

/// `GET /`: the districts' ledgers and the search (a teacher goes to their own page).
async fn home(State(c): State<CityConsole>, headers: HeaderMap, uri: Uri) -> Response {
    super::answer(&c, &headers, &uri, async |ctx: &Ctx| {
        let l = ctx.lang;
        let who = ctx.session.signed_in.as_ref().ok_or(Problem::SignedOut)?;
        if who.caller.role == Role::Teacher {
            let to = who.caller.teacher.as_deref().unwrap_or_default();
            return Ok(see_other(&format!("/teachers/{}", enc(to))));
        }
        let req = ctx.grpc(proto::CitySourcesRequest {})?;
        let sources = c.ask(move |city| city.list(&req)).await?;
        let rows: Vec<Vec<String>> = sources
            .sources
            .iter()
            .map(|s| {
                let m = s.mirror.clone().unwrap_or_default();
                vec![
                    esc(&s.origin),
                    esc(&s.url),
                    status_badge(l, &m.status),
                    s.checkpoint.as_ref().map_or(0, |c| c.size).to_string(),
                ]
            })
            .collect();
        let body = format!(
            "<h1>{}</h1><p>{}</p>{}<section class=\"card\"><h2>{}</h2>{}</section>",
            esc(M::CityHome.t(l)),
            esc(M::CityIntro.t(l)),
            find_box(l),
            esc(M::CitySources.t(l)),
            table(l, &[M::Origin, M::Address, M::Status, M::Entries], &rows),
        );
        Ok(html(
            StatusCode::OK,
            ctx.frame().page(M::CityHome.t(l), &body),
        ))
    })
    .await
}

/// How a copy stands, as a badge.
fn status_badge(l: Lang, status: &str) -> String {
    let class = if status == "following" { "ok" } else { "no" };
    let word = match (status, l) {
        ("following", Lang::Zh) => "同步中",
        ("connecting", Lang::Zh) => "连接中",
        ("stale", Lang::Zh) => "暂未同步（显示已核验内容）",
        ("forked", Lang::Zh) => "发现分叉，已停止同步",
        (s, _) => s,
    };
    format!("<span class=\"{class}\">{}</span>", esc(word))
}

/// `GET /find?teacher=ID`: to the teacher's page.
async fn find(
    State(c): State<CityConsole>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    super::answer(&c, &headers, &uri, async |_: &Ctx| {
        let t = param(&q, "teacher").unwrap_or_default();
        let t = t.trim();
        if t.is_empty() {
            return Ok(see_other("/"));
        }
        Ok(see_other(&format!("/teachers/{}", enc(t))))
    })
    .await
}

/// One credit's row of the totals: name, verdict, days served of days required.
fn credit_row(l: Lang, name: M, s: Option<&proto::ServiceCredit>) -> Vec<String> {
    match s {
        Some(s) => vec![
            esc(name.t(l)),
            verdict(l, s.met),
            format!("{} / {}", s.days_served, s.days_required),
        ],
        None => vec![esc(name.t(l)), String::new(), String::new()],
    }
}

/// The receiving schools of other districts a part's dispatches go to, checked.
fn cross_schools(l: Lang, schools: &[proto::CrossDistrictSchool]) -> String {
    if schools.is_empty() {
        return String::new();
    }
    let word = |s: &str, rural: bool| {
        let mut w = esc(super::messages::vocab(l, s));
        if rural {
            w.push_str(if l == Lang::Zh {
                "，乡村"
            } else {
                ", rural"
            });
        }
        w
    };
    let rows: Vec<Vec<String>> = schools
        .iter()
        .map(|c| {
            vec![
                esc(&c.school),
                esc(&c.dispatch),
                esc(&c.start_date),
                word(&c.standing_here, c.rural_here),
                if c.found {
                    word(&c.standing_there, c.rural_there)
                } else {
                    esc(M::NotThere.t(l))
                },
                if c.agrees {
                    format!("<span class=\"ok\">✔ {}</span>", esc(M::Agrees.t(l)))
                } else {
                    format!("<span class=\"no\">✘ {}</span>", esc(M::Disagrees.t(l)))
                },
            ]
        })
        .collect();
    format!(
        "<h3>{}</h3>{}",
        esc(M::CrossSchools.t(l)),
        table(
            l,
            &[
                M::ToSchool,
                M::Dispatch,
                M::Start,
                M::HereRecord,
                M::ThereRecord,
                M::Agreement
            ],
            &rows
        )
    )
}

/// `GET /teachers/{id}?as_of=`: a teacher across the districts.
async fn teacher(
    State(c): State<CityConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    super::answer(&c, &headers, &uri, async |ctx: &Ctx| {
        let l = ctx.lang;
        let as_of = param(&q, "as_of").unwrap_or_default();
        super::check_date(&as_of)?;
        let hreq = ctx.grpc(proto::CityTeacherHistoryRequest {
            teacher: id.clone(),
            as_of: as_of.clone(),
            with_proofs: false,
        })?;
        let ereq = ctx.grpc(proto::CityEligibilityRequest {
            teacher: id.clone(),
            as_of: as_of.clone(),
        })?;
        let history = c.ask(move |city| city.teacher_history(hreq)).await?;
        let elig = c.ask(move |city| city.eligibility(ereq)).await?;
        let mut body = format!(
            "<h1>{} {} · {}</h1>{}",
            esc(M::TeacherId.t(l)),
            esc(&id),
            esc(M::CityTeacher.t(l)),
            as_of_form(l, &format!("/teachers/{}", enc(&id)), &as_of, None)
        );
        if let Some(t) = &elig.combined {
            let rows = vec![
                credit_row(l, M::SeniorTitle, t.senior_title.as_ref()),
                credit_row(l, M::LeadershipCredit, t.leadership.as_ref()),
                vec![
                    esc(M::RotationCredit.t(l)),
                    verdict(l, t.rotation_met),
                    esc(&t.rotation_dispatches.join(" ")),
                ],
                vec![
                    esc(M::MentorCredit.t(l)),
                    verdict(l, t.returning_mentor_met),
                    String::new(),
                ],
            ];
            let disputed = if t.disputed.is_empty() {
                String::new()
            } else {
                format!(
                    "<p class=\"alert\" role=\"alert\">{} {}</p>",
                    esc(M::Disputed.t(l)),
                    esc(&t.disputed.join(" "))
                )
            };
            body.push_str(&format!(
                "<section class=\"card\"><h2>{} <small>({}: {}, {})</small></h2><p>{}</p>{}{disputed}</section>",
                esc(M::CityTotals.t(l)),
                esc(M::HomeDistrict.t(l)),
                esc(&t.home_origin),
                esc(&elig.as_of),
                esc(M::CityTotalsHelp.t(l)),
                table(l, &[M::Eligibility, M::Status, M::CityDays], &rows),
            ));
        }
        for part in &history.parts {
            let Some(source) = &part.source else { continue };
            let judged = elig
                .parts
                .iter()
                .find(|p| p.source.as_ref().map(|s| &s.origin) == Some(&source.origin));
            let m = source.mirror.clone().unwrap_or_default();
            let size = source.checkpoint.as_ref().map_or(0, |c| c.size);
            body.push_str(&format!(
                "<section class=\"card\"><h2>{}</h2><p>{} {} · {} · {} {size}</p>",
                esc(&source.origin),
                esc(M::Address.t(l)),
                esc(&source.url),
                status_badge(l, &m.status),
                esc(M::CheckpointSize.t(l)),
            ));
            if let Some(j) = judged {
                body.push_str(&format!(
                    "<p>{} {} · {} {}</p>",
                    esc(M::HomeSchool.t(l)),
                    esc(&j.home_school),
                    esc(M::HomeSince.t(l)),
                    esc(&j.home_since),
                ));
            }
            let terms = part
                .history
                .as_ref()
                .and_then(|h| h.summary.as_ref())
                .map(|s| s.dispatches.clone())
                .unwrap_or_default();
            let rows: Vec<Vec<String>> = terms
                .iter()
                .map(|t| {
                    vec![
                        esc(&t.dispatch),
                        esc(&t.to_school),
                        esc(&t.start_date),
                        esc(t.end.as_deref().unwrap_or("—")),
                        t.days_served.to_string(),
                        term_status(l, t),
                    ]
                })
                .collect();
            body.push_str(&table_or(
                l,
                &[
                    M::Dispatch,
                    M::ToSchool,
                    M::Start,
                    M::End,
                    M::DaysServed,
                    M::Status,
                ],
                &rows,
                M::NoDispatches,
            ));
            if let Some(e) = judged
                .and_then(|j| j.eligibility.as_ref())
                .and_then(|e| e.eligibility.as_ref())
            {
                let rows = vec![
                    credit_row(l, M::SeniorTitle, e.senior_title.as_ref()),
                    credit_row(l, M::LeadershipCredit, e.leadership.as_ref()),
                    vec![
                        esc(M::RotationCredit.t(l)),
                        verdict(l, e.rotation.as_ref().is_some_and(|r| r.met)),
                        String::new(),
                    ],
                ];
                body.push_str(&table(l, &[M::Eligibility, M::Status, M::CityDays], &rows));
            }
            body.push_str(&cross_schools(l, &part.schools));
            body.push_str("</section>");
        }
        let title = format!("{} {}", M::TeacherId.t(l), id);
        Ok(html(StatusCode::OK, ctx.frame().page(&title, &body)))
    })
    .await
}
