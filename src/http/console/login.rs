//! Signing in and out (`/login`, `/logout`), the home page `/` and the admin's search
//! (`/find`).
//!
//! The sign-in form is itself a session (anonymous, with a CSRF token), so that a page of
//! another site cannot sign a browser in with the attacker's token; signing in then issues a
//! fresh session id.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::html::{Frame, enc, esc, school_link};
use super::messages::{Lang, M};
use super::session::{self, Session, Sessions, SignedIn};
use super::{Console, Doors, Problem, add_cookie, html, lang_of, param, problem_page, see_other};
use crate::grpc::auth::{Permission, Role};

type Fields = Result<Form<Vec<(String, String)>>, FormRejection>;

/// The session of the request, signed in or not.
fn current<D: Doors>(c: &D, headers: &HeaderMap) -> Option<Session> {
    session::cookie(headers, session::COOKIE_NAME).and_then(|id| c.sessions().get(id))
}

/// The sign-in page, with `message` above the form when there is one.
fn login_page(
    lang: Lang,
    s: &Session,
    here: &str,
    message: Option<M>,
    status: StatusCode,
) -> Response {
    let frame = Frame {
        lang,
        session: None,
        here,
    };
    let msg = message
        .map(|m| format!("<p class=\"alert\" role=\"alert\">{}</p>", esc(m.t(lang))))
        .unwrap_or_default();
    let body = format!(
        "<section class=\"login\"><h1>{}</h1>{msg}<p>{}</p>\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"token\">{}</label>\
         <input id=\"token\" type=\"password\" name=\"token\" autocomplete=\"off\" required autofocus>\
         <button type=\"submit\">{}</button></form></section>",
        esc(M::SignIn.t(lang)),
        esc(M::SignInHelp.t(lang)),
        esc(&s.csrf),
        esc(M::TokenLabel.t(lang)),
        esc(M::SignIn.t(lang)),
    );
    let mut r = html(status, frame.page(M::SignIn.t(lang), &body));
    add_cookie(&mut r, &session::set_cookie(&s.id));
    r
}

fn internal(lang: Lang, here: &str) -> Response {
    problem_page(lang, None, here, &Problem::Internal)
}

/// `GET /login`: the form (or home, when already signed in).
pub async fn form<D: Doors>(State(c): State<D>, headers: HeaderMap, uri: Uri) -> Response {
    let (lang, switched) = lang_of(&headers, &uri);
    let here = uri.path_and_query().map_or("/login", |p| p.as_str());
    let mut r = match current(&c, &headers) {
        Some(s) if s.signed_in.is_some() => see_other("/"),
        Some(s) => login_page(lang, &s, here, None, StatusCode::OK),
        None => match c.sessions().create(None, None) {
            Ok(s) => login_page(lang, &s, here, None, StatusCode::OK),
            Err(_) => internal(lang, here),
        },
    };
    if switched {
        add_cookie(&mut r, &super::lang_cookie(lang));
    }
    r
}

/// `POST /login` (`token`, `csrf`): signs in, or shows the form again with why not.
pub async fn sign_in<D: Doors>(
    State(c): State<D>,
    headers: HeaderMap,
    uri: Uri,
    fields: Fields,
) -> Response {
    let (lang, _) = lang_of(&headers, &uri);
    let here = "/login";
    let fields = fields.map(|Form(f)| f).unwrap_or_default();
    let token = param(&fields, "token").unwrap_or_default();
    let csrf = param(&fields, "csrf").unwrap_or_default();
    let s = match current(&c, &headers) {
        Some(s) if Sessions::check_csrf(&s, &csrf) => s,
        // No session, or a form from elsewhere: a fresh form, nothing signed in.
        _ => {
            return match c.sessions().create(None, None) {
                Ok(s) => login_page(lang, &s, here, Some(M::FormExpired), StatusCode::FORBIDDEN),
                Err(_) => internal(lang, here),
            };
        }
    };
    // The same check every gRPC call makes, on the same metadata.
    let Some(req) = crate::http::authorized((), &format!("Bearer {token}")) else {
        return login_page(
            lang,
            &s,
            here,
            Some(M::TokenNotText),
            StatusCode::UNAUTHORIZED,
        );
    };
    let caller = match c.access().authorize(&req, Permission::ReadHead) {
        Ok(caller) => caller,
        Err(_) => {
            return login_page(
                lang,
                &s,
                here,
                Some(M::WrongToken),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    match c
        .sessions()
        .create(Some(&s.id), Some(SignedIn { token, caller }))
    {
        Ok(new) => {
            let mut r = see_other("/");
            add_cookie(&mut r, &session::set_cookie(&new.id));
            r
        }
        Err(_) => internal(lang, here),
    }
}

/// `POST /logout` (`csrf`): ends the session.
pub async fn sign_out<D: Doors>(
    State(c): State<D>,
    headers: HeaderMap,
    uri: Uri,
    fields: Fields,
) -> Response {
    let (lang, _) = lang_of(&headers, &uri);
    let fields = fields.map(|Form(f)| f).unwrap_or_default();
    let csrf = param(&fields, "csrf").unwrap_or_default();
    match current(&c, &headers) {
        Some(s) if Sessions::check_csrf(&s, &csrf) => {
            c.sessions().remove(&s.id);
            let mut r = see_other("/login");
            add_cookie(&mut r, &session::clear_cookie());
            r
        }
        s => problem_page(lang, s.as_ref(), "/", &Problem::Csrf),
    }
}

/// A search box of the home page: `/find?NAME=ID`.
fn find_box(name: &str, title: M, label: M, l: Lang) -> String {
    format!(
        "<form method=\"get\" action=\"/find\" class=\"find\"><h2>{}</h2>\
         <label>{} <input name=\"{name}\" required></label>\
         <button type=\"submit\">{}</button></form>",
        esc(title.t(l)),
        esc(label.t(l)),
        esc(M::Go.t(l))
    )
}

/// `GET /`: a principal's schools and a teacher search box, an admin's search boxes.
pub async fn home(State(c): State<Console>, headers: HeaderMap, uri: Uri) -> Response {
    let ctx = match c.enter(&headers, &uri) {
        Ok(ctx) => ctx,
        Err(r) => return *r,
    };
    let l = ctx.lang;
    let Some(who) = ctx.session.signed_in.as_ref() else {
        return c.finish(&ctx, Err(Problem::SignedOut));
    };
    let body = match who.caller.role {
        Role::Principal => {
            let items: String = who
                .caller
                .schools
                .iter()
                .map(|s| format!("<li>{}</li>", school_link(s, "")))
                .collect();
            // A principal finds a teacher by the id on a list or a staff record, as an admin
            // does; a teacher outside the principal's schools draws the "not found" page.
            format!(
                "<h1>{}</h1><ul class=\"schools\">{items}</ul>{}",
                esc(M::YourSchools.t(l)),
                find_box("teacher", M::FindTeacher, M::TeacherId, l)
            )
        }
        Role::Admin => {
            let boxes = [
                ("teacher", M::FindTeacher, M::TeacherId),
                ("school", M::FindSchool, M::SchoolId),
                ("group", M::FindGroup, M::GroupId),
            ]
            .iter()
            .map(|(name, title, label)| find_box(name, *title, *label, l))
            .collect::<String>();
            format!(
                "<h1>{}</h1><p class=\"district-link\"><a href=\"/district\">{}</a></p>{boxes}\
                 <p><a href=\"/audit\">{}</a></p><p><a href=\"/sheets\">{}</a></p>",
                esc(M::Home.t(l)),
                esc(M::OpenDistrict.t(l)),
                esc(M::OpenAudit.t(l)),
                esc(M::OpenSheets.t(l))
            )
        }
        Role::Auditor | Role::Mirror => format!(
            "<h1>{}</h1><p><a href=\"/audit\">{}</a></p>",
            esc(M::Home.t(l)),
            esc(M::OpenAudit.t(l))
        ),
        Role::Writer => format!(
            "<h1>{}</h1><p><a href=\"/sheets\">{}</a></p>",
            esc(M::Home.t(l)),
            esc(M::OpenSheets.t(l))
        ),
        // A teacher's home is their own record.
        Role::Teacher => {
            let to = who.caller.teacher.as_deref().unwrap_or_default();
            return c.finish(&ctx, Ok(see_other(&format!("/teachers/{}", enc(to)))));
        }
    };
    let page = ctx.frame().page(M::Home.t(l), &body);
    c.finish(&ctx, Ok(html(StatusCode::OK, page)))
}

/// `GET /find?teacher=ID`, `?school=ID` or `?group=ID`: to that page (stable URLs to bookmark).
pub async fn find(
    State(c): State<Console>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let ctx = match c.enter(&headers, &uri) {
        Ok(ctx) => ctx,
        Err(r) => return *r,
    };
    let to = ["teacher", "school", "group"]
        .iter()
        .find_map(|kind| {
            param(&q, kind)
                .filter(|id| !id.is_empty())
                .map(|id| see_other(&format!("/{kind}s/{}", enc(&id))))
        })
        .ok_or(Problem::NoSuchPage);
    c.finish(&ctx, to)
}
