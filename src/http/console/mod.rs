//! The console: server-rendered HTML pages for people (principals and bureau staff) on the
//! HTTP face, in Simplified Chinese by default and English by a switch (docs/HTTP.md,
//! "Console").
//!
//! # Layout
//!
//! - [`session`] holds sessions (cookie id, token kept in memory), CSRF tokens.
//! - [`messages`] holds the message catalogue (every label, status and error, zh and en).
//! - [`html`] holds escaping and the shared page frame.
//! - [`login`] holds `/login`, `/logout` and the home page `/`.
//! - [`teacher`] holds `/teachers/{id}`.
//! - [`certificate`] holds `/teachers/{id}/certificate` (the printable certificate) and
//!   `/teachers/{id}/certificate.json` (the verifiable file).
//! - [`school`] holds `/schools/{id}` and its downloads.
//! - [`group`] holds `/groups/{id}` (a district's or group's year).
//! - [`audit`] holds `/audit` (head, latest signed checkpoint, and the checks run in the
//!   browser).
//! - [`scripts`] holds the embedded JavaScript (the audit checks and the vendored crypto).
//! - [`download`] holds CSV (UTF-8 with BOM) and XLSX files of a list.
//! - [`district`] holds `/district` (the bureau's view of a school year) and its downloads.
//! - [`sheets`] holds `/sheets` (writers and admins: a spreadsheet checked, then loaded).
//! - [`recorded`] holds `?recorded_up_to=` on pages (the ledger as it stood after N entries).
//!
//! **Contracts.**
//! - A page MUST get its data by calling the gRPC service methods the JSON API calls, with the
//!   session's token as `authorization` metadata, so a page shows exactly what the caller's
//!   role and scope allow over gRPC.
//! - An unknown id and an id outside the caller's scope MUST draw the same page
//!   ([`Problem::NotFound`]).
//! - A page without a signed-in session MUST redirect to `/login`; a POST without the
//!   session's CSRF token MUST be refused (403) before it does anything.
//! - No text a person reads is written outside [`messages`].

pub mod audit;
pub mod certificate;
pub mod city;
pub mod district;
pub mod download;
pub mod group;
pub mod html;
pub mod login;
pub mod messages;
pub mod recorded;
pub mod school;
pub mod scripts;
pub mod session;
pub mod sheets;
pub mod teacher;

use std::sync::Arc;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use super::api::Services;
use crate::grpc::auth::Access;
use crate::grpc::status::reason;
use html::{Frame, esc};
use messages::{Lang, M};
use session::{LANG_COOKIE, Session, Sessions};

/// What signing in and out needs, whichever console it is (a ledger's, or a city view's:
/// `crate::http::city`): the sessions and the access file tokens are checked against.
pub trait Doors: Clone + Send + Sync + 'static {
    /// The sessions of this process.
    fn sessions(&self) -> &Sessions;
    /// The access configuration.
    fn access(&self) -> &Access;
}

impl Doors for Console {
    fn sessions(&self) -> &Sessions {
        &self.sessions
    }
    fn access(&self) -> &Access {
        &self.access
    }
}

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console {
    /// The gRPC services every page calls.
    pub services: Services,
    /// The access configuration, to check a token at sign-in (the same check every gRPC call
    /// makes).
    pub access: Arc<Access>,
    /// The sessions of this process.
    pub sessions: Arc<Sessions>,
    /// Sheets uploaded on `/sheets`, held for their load button.
    pub uploads: Arc<sheets::Uploads>,
}

/// The console's routes, over `sessions` (shared with the JSON API, which a signed-in
/// browser calls with its session cookie: [`session::bearer_from_session`]).
pub fn routes(services: Services, access: Arc<Access>, sessions: Arc<Sessions>) -> Router {
    let c = Console {
        services,
        access,
        sessions,
        uploads: Arc::default(),
    };
    let mut router = Router::new();
    // The audit page's scripts, one route per embedded file.
    for a in scripts::ASSETS {
        router = router.route(a.path, get(scripts::serve));
    }
    router
        .route("/", get(login::home))
        .route(
            "/login",
            get(login::form::<Console>).post(login::sign_in::<Console>),
        )
        .route("/logout", axum::routing::post(login::sign_out::<Console>))
        .route("/find", get(login::find))
        .route("/teachers/{id}", get(teacher::page))
        .route("/teachers/{id}/certificate", get(certificate::page))
        .route(
            "/teachers/{id}/certificate.json",
            get(certificate::download),
        )
        .route("/schools/{id}", get(school::page))
        .route("/schools/{id}/{file}", get(school::download))
        .route("/groups/{id}", get(group::page))
        .route("/audit", get(audit::page))
        .route("/district", get(district::page))
        .route("/district/{file}", get(district::download))
        .route("/sheets", get(sheets::page).post(sheets::post))
        .route("/assets/console.css", get(css))
        .with_state(c)
}

/// The stylesheet, embedded in the binary (no CDN, no build step).
pub(crate) async fn css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("assets/console.css"),
    )
        .into_response()
}

/// Why a page could not be drawn; each has a designed page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The token of the session is no longer accepted: sign in again.
    SignedOut,
    /// Unknown, or outside the caller's scope (the same page for both).
    NotFound,
    /// The caller's role may not ask this.
    Forbidden,
    /// A date parameter is not `YYYY-MM-DD`.
    BadDate,
    /// The school year is not a year.
    BadYear,
    /// Another parameter the service refused, with the field it named.
    BadInput(String),
    /// The ledger cannot answer now.
    Unavailable,
    /// The server's fault (logged).
    Internal,
    /// A form without this session's CSRF token.
    Csrf,
    /// No such page.
    NoSuchPage,
}

impl Problem {
    /// The problem a gRPC status stands for on a page.
    pub fn from_status(s: &Status) -> Problem {
        let info = s.get_details_error_info();
        match s.code() {
            Code::NotFound => Problem::NotFound,
            Code::PermissionDenied
                if info
                    .as_ref()
                    .is_some_and(|i| i.reason == reason::OUT_OF_SCOPE) =>
            {
                Problem::NotFound
            }
            Code::PermissionDenied => Problem::Forbidden,
            Code::Unauthenticated => Problem::SignedOut,
            Code::InvalidArgument | Code::OutOfRange => {
                let field = info
                    .and_then(|i| i.metadata.get("field").cloned())
                    .unwrap_or_default();
                match field.as_str() {
                    "as_of" => Problem::BadDate,
                    "school_year" => Problem::BadYear,
                    _ => Problem::BadInput(field),
                }
            }
            Code::Unavailable => Problem::Unavailable,
            _ => {
                tracing::warn!(code = ?s.code(), message = s.message(), "console: a call failed");
                Problem::Internal
            }
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Problem::SignedOut => StatusCode::SEE_OTHER,
            Problem::NotFound | Problem::NoSuchPage => StatusCode::NOT_FOUND,
            Problem::Forbidden | Problem::Csrf => StatusCode::FORBIDDEN,
            Problem::BadDate | Problem::BadYear | Problem::BadInput(_) => StatusCode::BAD_REQUEST,
            Problem::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn texts(&self) -> (M, M) {
        match self {
            Problem::NotFound | Problem::SignedOut => (M::NotFoundTitle, M::NotFoundBody),
            Problem::Forbidden => (M::ForbiddenTitle, M::ForbiddenBody),
            Problem::BadDate => (M::BadInputTitle, M::BadDate),
            Problem::BadYear => (M::BadInputTitle, M::BadYear),
            Problem::BadInput(_) => (M::BadInputTitle, M::BadInputBody),
            Problem::Unavailable => (M::UnavailableTitle, M::UnavailableBody),
            Problem::Internal => (M::InternalTitle, M::InternalBody),
            Problem::Csrf => (M::CsrfTitle, M::CsrfBody),
            Problem::NoSuchPage => (M::NotFoundTitle, M::NoSuchPage),
        }
    }
}

impl From<Status> for Problem {
    fn from(s: Status) -> Problem {
        Problem::from_status(&s)
    }
}

/// A signed-in request: its language and session.
pub struct Ctx {
    /// The page's language.
    pub lang: Lang,
    /// Whether the request switched the language (so the answer sets the cookie).
    lang_switched: bool,
    /// The session.
    pub session: Session,
    /// The request's path and query.
    pub here: String,
}

impl Ctx {
    /// The gRPC request for `msg` on behalf of the session: its token goes along as the
    /// `authorization` metadata the services authorize, exactly as a gRPC client sends it.
    pub fn grpc<T>(&self, msg: T) -> Result<tonic::Request<T>, Problem> {
        let token = self
            .session
            .signed_in
            .as_ref()
            .map(|w| w.token.as_str())
            .ok_or(Problem::SignedOut)?;
        // Sign-in only keeps tokens that make a metadata value, so this does not fail.
        let mut req =
            crate::http::authorized(msg, &format!("Bearer {token}")).ok_or(Problem::SignedOut)?;
        req.extensions_mut()
            .insert(crate::grpc::auth::Door("console"));
        Ok(req)
    }

    /// The frame of this request's pages.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            lang: self.lang,
            session: Some(&self.session),
            here: &self.here,
        }
    }

    /// A message in the page's language.
    pub fn t(&self, m: M) -> &'static str {
        m.t(self.lang)
    }
}

/// The language of a request: `?lang=` first, then the cookie, then Chinese. The second
/// value says whether `?lang=` chose it.
pub fn lang_of(headers: &HeaderMap, uri: &Uri) -> (Lang, bool) {
    let asked = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|p| p.strip_prefix("lang="))
            .find_map(Lang::parse)
    });
    if let Some(l) = asked {
        return (l, true);
    }
    let remembered = session::cookie(headers, LANG_COOKIE).and_then(Lang::parse);
    (remembered.unwrap_or(Lang::Zh), false)
}

/// The `Set-Cookie` that remembers the language for a year.
fn lang_cookie(l: Lang) -> String {
    format!(
        "{LANG_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000",
        l.code()
    )
}

/// A redirect (303: the browser follows it with a GET).
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

impl Console {
    /// The signed-in context of a request, or the redirect to `/login`.
    pub fn enter(&self, headers: &HeaderMap, uri: &Uri) -> Result<Ctx, Box<Response>> {
        enter(self, headers, uri)
    }

    /// A page's or a download's whole answer: the session entered (or the sign-in page),
    /// `draw` run with it, and what it returns finished ([`Console::finish`]: a problem
    /// drawn as its designed page).
    pub async fn answer(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        draw: impl AsyncFnOnce(&Ctx) -> Result<Response, Problem>,
    ) -> Response {
        answer(self, headers, uri, draw).await
    }

    /// The answer for a page: the page, or its problem's page; either way not cached (pages
    /// carry personal data) and with the language cookie when the request switched it.
    pub fn finish(&self, ctx: &Ctx, r: Result<Response, Problem>) -> Response {
        finish(self, ctx, r)
    }
}

/// [`Console::answer`] for any console.
pub async fn answer<D: Doors>(
    d: &D,
    headers: &HeaderMap,
    uri: &Uri,
    draw: impl AsyncFnOnce(&Ctx) -> Result<Response, Problem>,
) -> Response {
    let ctx = match enter(d, headers, uri) {
        Ok(ctx) => ctx,
        Err(r) => return *r,
    };
    let r = draw(&ctx).await;
    finish(d, &ctx, r)
}

/// [`Console::enter`] for any console.
pub fn enter<D: Doors>(d: &D, headers: &HeaderMap, uri: &Uri) -> Result<Ctx, Box<Response>> {
    {
        let (lang, lang_switched) = lang_of(headers, uri);
        let session = session::cookie(headers, session::COOKIE_NAME)
            .and_then(|id| d.sessions().get(id))
            .filter(|s| s.signed_in.is_some());
        let Some(session) = session else {
            let mut r = see_other("/login");
            if lang_switched {
                add_cookie(&mut r, &lang_cookie(lang));
            }
            return Err(Box::new(r));
        };
        Ok(Ctx {
            lang,
            lang_switched,
            session,
            here: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

/// [`Console::finish`] for any console.
pub fn finish<D: Doors>(d: &D, ctx: &Ctx, r: Result<Response, Problem>) -> Response {
    let mut resp = match r {
        Ok(resp) => resp,
        Err(Problem::SignedOut) => {
            d.sessions().remove(&ctx.session.id);
            let mut r = see_other("/login");
            add_cookie(&mut r, &session::clear_cookie());
            r
        }
        Err(p) => problem_page(ctx.lang, Some(&ctx.session), &ctx.here, &p),
    };
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if ctx.lang_switched {
        add_cookie(&mut resp, &lang_cookie(ctx.lang));
    }
    resp
}

/// Appends a `Set-Cookie` header.
pub fn add_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(SET_COOKIE, v);
    }
}

/// An HTML page with a status.
pub fn html(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// The designed page of a problem.
pub fn problem_page(lang: Lang, session: Option<&Session>, here: &str, p: &Problem) -> Response {
    let (title, body) = p.texts();
    let detail = match p {
        Problem::BadInput(field) if !field.is_empty() => format!(" <code>{}</code>", esc(field)),
        _ => String::new(),
    };
    let frame = Frame {
        lang,
        session,
        here,
    };
    let page = frame.page(
        title.t(lang),
        &format!(
            "<section class=\"problem\"><h1>{}</h1><p>{}{detail}</p><p><a href=\"/\">{}</a></p></section>",
            esc(title.t(lang)),
            esc(body.t(lang)),
            esc(M::BackHome.t(lang)),
        ),
    );
    html(p.status(), page)
}

/// A strict `YYYY-MM-DD` date parameter (empty: the service's today), by the one parser every
/// request's dates go through, so a page refuses exactly what gRPC would.
pub fn check_date(s: &str) -> Result<(), Problem> {
    if s.is_empty() {
        return Ok(());
    }
    crate::domain::fields::parse_date(s)
        .map(|_| ())
        .map_err(|_| Problem::BadDate)
}

/// The value of query parameter `name` (the last one if repeated), decoded.
pub fn param(q: &[(String, String)], name: &str) -> Option<String> {
    q.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        for ok in ["", "2025-09-01", "2024-02-29"] {
            assert_eq!(check_date(ok), Ok(()), "{ok}");
        }
        for bad in [
            "2025-9-1",
            "2025-02-30",
            "yesterday",
            "2025-09-01x",
            "<b>",
            "0025-01-05",
        ] {
            assert_eq!(check_date(bad), Err(Problem::BadDate), "{bad}");
        }
    }
}
