//! `/sheets`: a bureau clerk's spreadsheet upload (writers and admins): the same reading and
//! checks as `rotaledger sheet check` (Ledger.Check with the session's token), the report on
//! screen, and a button that loads the rows that pass (`sheet load`). docs/SHEETS.md.
//!
//! The form is `multipart/form-data` (parsed here: the HTTP face's body limit bounds it). An
//! uploaded sheet is kept in memory, for its session only, until it is loaded or an hour has
//! passed (at most [`MAX_HELD`] at a time), so the load button does not need the file again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::html::{esc, table_or};
use super::messages::{Lang, M};
use super::session::Sessions;
use super::{Console, Ctx, Problem, html};
use crate::cli::sheet::{Judged, Plan, SheetLedger, judge};
use crate::grpc::auth::Role;
use crate::grpc::ledger_service::LedgerService;
use crate::proto;
use crate::proto::ledger_server::Ledger as _;
use crate::sheet::report::Status;
use crate::sheet::{Kind, header::MapFile};

/// Uploads held at most (the oldest is dropped first).
pub const MAX_HELD: usize = 16;
/// How long an upload is held.
const HELD_FOR: Duration = Duration::from_secs(3600);
/// Refused rows listed on the page (the rest are counted).
const MAX_LISTED: usize = 500;

/// An uploaded sheet waiting for its load button.
struct Held {
    session: String,
    name: String,
    kind: Kind,
    bytes: Arc<Vec<u8>>,
    at: Instant,
}

/// The uploads held for the load button, by random id.
#[derive(Default)]
pub struct Uploads {
    map: Mutex<HashMap<String, Held>>,
}

impl Uploads {
    fn put(&self, session: &str, name: &str, kind: Kind, bytes: Arc<Vec<u8>>) -> Option<String> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).ok()?;
        let id = hex::encode(b);
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, h| h.at.elapsed() < HELD_FOR);
        while m.len() >= MAX_HELD {
            let oldest = m.iter().min_by_key(|(_, h)| h.at).map(|(k, _)| k.clone())?;
            m.remove(&oldest);
        }
        m.insert(
            id.clone(),
            Held {
                session: session.to_owned(),
                name: name.to_owned(),
                kind,
                bytes,
                at: Instant::now(),
            },
        );
        Some(id)
    }

    /// Takes the upload `id` if it belongs to `session` (a load uses it once).
    fn take(&self, session: &str, id: &str) -> Option<(String, Kind, Arc<Vec<u8>>)> {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(id) {
            Some(h) if h.session == session && h.at.elapsed() < HELD_FOR => {
                m.remove(id).map(|h| (h.name, h.kind, h.bytes))
            }
            _ => None,
        }
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field's name.
    pub name: String,
    /// The uploaded file's name, for a file field.
    pub filename: Option<String>,
    /// The content.
    pub data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A `name="value"` parameter of a Content-Disposition header.
fn disposition_param(header: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let mut at = 0;
    while let Some(i) = header[at..].find(&key) {
        let start = at + i;
        // `name=` must not be the tail of `filename=`.
        let before = header[..start].chars().last();
        if before.is_none_or(|c| c == ';' || c.is_whitespace()) {
            let rest = &header[start + key.len()..];
            return rest.find('"').map(|end| rest[..end].to_owned());
        }
        at = start + key.len();
    }
    None
}

/// Parses a `multipart/form-data` body; `None` if it is not one.
pub fn multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    if boundary.is_empty() {
        return None;
    }
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut at = find(body, &delim, 0)? + delim.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        // The part's headers end at the first blank line.
        let head_start = at + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let headers = String::from_utf8_lossy(body.get(head_start..head_end)?).into_owned();
        let data_start = head_end + 4;
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(&delim);
        let data_end = find(body, &end_delim, data_start)?;
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
        parts.push(Part {
            name: disposition_param(disposition, "name")?,
            filename: disposition_param(disposition, "filename"),
            data: body.get(data_start..data_end)?.to_vec(),
        });
        at = data_end + end_delim.len();
    }
}

/// The console's own call of the Ledger service, with the session's token.
struct InProcess {
    ledger: Arc<LedgerService>,
    authorization: String,
}

impl InProcess {
    fn request<T>(&self, msg: T) -> Result<tonic::Request<T>, tonic::Status> {
        crate::http::authorized(msg, &self.authorization)
            .ok_or_else(|| tonic::Status::unauthenticated("the session's token"))
    }
}

impl SheetLedger for InProcess {
    async fn check_appends(
        &mut self,
        req: proto::CheckRequest,
    ) -> Result<proto::CheckResponse, tonic::Status> {
        let r = self.request(req)?;
        self.ledger.check(r).await.map(tonic::Response::into_inner)
    }

    async fn append_one(
        &mut self,
        req: proto::AppendRequest,
    ) -> Result<proto::AppendResponse, tonic::Status> {
        let r = self.request(req)?;
        self.ledger.append(r).await.map(tonic::Response::into_inner)
    }
}

fn kind_label(k: Kind) -> M {
    match k {
        Kind::Roster => M::KindRoster,
        Kind::Dispatches => M::KindDispatches,
        Kind::Returns => M::KindReturns,
        Kind::Evaluations => M::KindEvaluations,
        Kind::Promotions => M::KindPromotions,
    }
}

fn kind_of(s: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.name() == s)
}

/// Writers and admins only (the Check and Append RPCs would refuse the others anyway).
fn may_load(ctx: &Ctx) -> Result<(), Problem> {
    match ctx.session.signed_in.as_ref().map(|w| w.caller.role) {
        Some(Role::Writer | Role::Admin) => Ok(()),
        Some(_) => Err(Problem::Forbidden),
        None => Err(Problem::SignedOut),
    }
}

fn form(ctx: &Ctx, message: Option<&str>) -> String {
    let l = ctx.lang;
    let options: String = Kind::ALL
        .iter()
        .map(|k| {
            format!(
                "<option value=\"{}\">{}</option>",
                k.name(),
                esc(kind_label(*k).t(l))
            )
        })
        .collect();
    let msg = message
        .map(|m| format!("<p class=\"alert\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    format!(
        "<h1>{}</h1>{msg}<p>{}</p>\
         <form method=\"post\" action=\"/sheets\" enctype=\"multipart/form-data\" class=\"sheets\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{} <select name=\"kind\">{options}</select></label> \
         <label>{} <input type=\"file\" name=\"file\" accept=\".xlsx,.xls,.ods,.csv\" required></label> \
         <button type=\"submit\" name=\"action\" value=\"check\">{}</button></form>",
        esc(M::SheetsTitle.t(l)),
        esc(M::SheetsHelp.t(l)),
        esc(&ctx.session.csrf),
        esc(M::SheetKind.t(l)),
        esc(M::SheetFile.t(l)),
        esc(M::CheckSheet.t(l)),
    )
}

/// `GET /sheets`: the upload form.
pub async fn page(State(c): State<Console>, headers: HeaderMap, uri: Uri) -> Response {
    c.answer(&headers, &uri, async |ctx| {
        may_load(ctx)?;
        let page = ctx.frame().page(ctx.t(M::SheetsTitle), &form(ctx, None));
        Ok(html(StatusCode::OK, page))
    })
    .await
}

/// The page after a check or a load: totals, refused rows, warnings, and after a check with
/// rows that pass, the load button.
fn results(
    ctx: &Ctx,
    name: &str,
    kind: Kind,
    j: &Judged,
    load: bool,
    upload: Option<&str>,
) -> String {
    let l = ctx.lang;
    let t = j.findings.totals();
    let figures = [
        (M::RowsTotal, t.rows),
        (
            if load { M::RowsAppended } else { M::RowsPassed },
            if load { t.appended } else { t.passed },
        ),
        (M::RowsPresent, t.present),
        (M::RowsRefused, t.refused),
        (M::RowsWarnings, t.warnings),
    ]
    .iter()
    .map(|(m, n)| format!("<li>{}：<strong>{n}</strong></li>", esc(m.t(l))))
    .collect::<String>();
    let refused: Vec<Vec<String>> = j
        .findings
        .rows
        .iter()
        .filter_map(|(row, s)| match s {
            Status::Refused(r) => Some(vec![
                row.to_string(),
                esc(&r.column),
                format!("<code>{}</code>", esc(&r.rule)),
                format!("<span class=\"wrap\">{}</span>", esc(&r.message)),
            ]),
            _ => None,
        })
        .take(MAX_LISTED)
        .collect();
    let warnings: Vec<Vec<String>> = j
        .findings
        .warnings
        .iter()
        .take(MAX_LISTED)
        .map(|(row, column, message)| {
            vec![
                row.to_string(),
                esc(column),
                String::new(),
                format!("<span class=\"wrap\">{}</span>", esc(message)),
            ]
        })
        .collect();
    let heads = [M::ColRow, M::ColColumn, M::ColRule, M::ColMessage];
    let button = match upload {
        Some(id) if !load && t.passed > 0 => format!(
            "<form method=\"post\" action=\"/sheets\" enctype=\"multipart/form-data\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"upload\" value=\"{}\">\
             <button type=\"submit\" name=\"action\" value=\"load\">{}</button></form>",
            esc(&ctx.session.csrf),
            esc(id),
            esc(M::LoadPassing.t(l))
        ),
        _ => String::new(),
    };
    format!(
        "<h1>{}</h1><p class=\"sheet-file\">{} · {} · {}</p><ul class=\"totals\">{figures}</ul>{button}\
         <h2>{}</h2>{}<h2>{}</h2>{}<p><a href=\"/sheets\">{}</a></p>",
        esc(if load {
            M::LoadedTitle.t(l)
        } else {
            M::CheckedTitle.t(l)
        }),
        esc(name),
        esc(kind_label(kind).t(l)),
        esc(&j.source.format),
        esc(M::RowsRefused.t(l)),
        table_or(l, &heads, &refused, M::NoRefusals),
        esc(M::RowsWarnings.t(l)),
        table_or(l, &heads, &warnings, M::NoWarnings),
        esc(M::AnotherSheet.t(l)),
    )
}

/// Judges the uploaded bytes (a temporary file, removed after) on a blocking thread.
async fn run(
    c: &Console,
    ctx: &Ctx,
    name: &str,
    kind: Kind,
    bytes: Arc<Vec<u8>>,
    load: bool,
) -> Result<Result<Judged, String>, Problem> {
    let token = ctx
        .session
        .signed_in
        .as_ref()
        .map(|w| w.token.clone())
        .ok_or(Problem::SignedOut)?;
    let mut ledger = InProcess {
        ledger: c.services.ledger.clone(),
        authorization: format!("Bearer {token}"),
    };
    // The reader tells the format from the content; the extension helps only xls/ods.
    let ext = std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| {
            ["xlsx", "xls", "xlsb", "ods", "csv"].contains(&e.to_ascii_lowercase().as_str())
        })
        .map(|e| format!(".{}", e.to_ascii_lowercase()))
        .unwrap_or_default();
    let mut rnd = [0u8; 16];
    getrandom::fill(&mut rnd).map_err(|_| Problem::Internal)?;
    let path = std::env::temp_dir().join(format!("rotaledger-sheet-{}{ext}", hex::encode(rnd)));
    let lang = match ctx.lang {
        Lang::Zh => crate::sheet::Lang::Zh,
        Lang::En => crate::sheet::Lang::En,
    };
    let handle = tokio::runtime::Handle::current();
    let out = tokio::task::spawn_blocking(move || {
        if let Err(e) = std::fs::write(&path, bytes.as_slice()) {
            tracing::warn!(error = %e, "console: could not write an uploaded sheet");
            return Err(None);
        }
        let plan = Plan {
            file: &path,
            kind,
            map: MapFile::default(),
            sheet: None,
            lang,
            load,
        };
        let r = judge(&plan, &mut ledger, &handle, |_| {
            indicatif::ProgressBar::hidden()
        });
        let _ = std::fs::remove_file(&path);
        r.map_err(|e| Some(e.0))
    })
    .await
    .map_err(|_| Problem::Internal)?;
    match out {
        Ok(j) => Ok(Ok(j)),
        Err(Some(message)) => Ok(Err(message)),
        Err(None) => Err(Problem::Internal),
    }
}

/// `POST /sheets` (multipart: `csrf`, `action` = check with `kind` and `file`, or load with
/// `upload`, the id a check gave): the check's or the load's results.
pub async fn post(State(c): State<Console>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    c.answer(&headers, &uri, async |ctx| {
        may_load(ctx)?;
        let ct = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let parts = multipart(ct, &body).ok_or(Problem::BadInput("body".into()))?;
        let field = |n: &str| {
            parts
                .iter()
                .find(|p| p.name == n)
                .map(|p| String::from_utf8_lossy(&p.data).trim().to_owned())
        };
        if !Sessions::check_csrf(&ctx.session, &field("csrf").unwrap_or_default()) {
            return Err(Problem::Csrf);
        }
        let load = field("action").as_deref() == Some("load");
        let l = ctx.lang;
        let (name, kind, bytes, held) = if load {
            let id = field("upload").unwrap_or_default();
            match c.uploads.take(&ctx.session.id, &id) {
                Some((name, kind, bytes)) => (name, kind, bytes, None),
                None => {
                    let page = ctx.frame().page(
                        ctx.t(M::SheetsTitle),
                        &form(ctx, Some(M::UploadExpired.t(l))),
                    );
                    return Ok(html(StatusCode::GONE, page));
                }
            }
        } else {
            let kind = field("kind")
                .as_deref()
                .and_then(kind_of)
                .ok_or(Problem::BadInput("kind".into()))?;
            let file = parts
                .iter()
                .find(|p| p.name == "file")
                .ok_or(Problem::BadInput("file".into()))?;
            let name = file.filename.clone().unwrap_or_else(|| "sheet".into());
            let bytes = Arc::new(file.data.clone());
            let held = c.uploads.put(&ctx.session.id, &name, kind, bytes.clone());
            (name, kind, bytes, held)
        };
        let body = match run(&c, ctx, &name, kind, bytes, load).await? {
            Ok(j) => results(ctx, &name, kind, &j, load, held.as_deref()),
            Err(message) => {
                let why = format!("{}：{message}", M::SheetUnreadable.t(l));
                form(ctx, Some(&why))
            }
        };
        let page = ctx.frame().page(ctx.t(M::SheetsTitle), &body);
        Ok(html(StatusCode::OK, page))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_are_parsed_and_garbage_refused() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n\xe5\xb7\xa5\xe5\x8f\xb7\r\nT1\r\n\r\n--XyZ--\r\n";
        let parts = multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data.as_slice()),
            ("csrf", &b"abc"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("a.csv"));
        assert_eq!(parts[1].data, "工号\r\nT1\r\n".as_bytes());
        for bad in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\nno headers",
            b"\x00\xff--XyZ\r\n\r\n",
        ] {
            assert!(
                multipart("multipart/form-data; boundary=XyZ", bad).is_none_or(|p| p.is_empty())
            );
        }
        assert!(multipart("text/plain", body).is_none());
    }
}
