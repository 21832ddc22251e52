//! `/teachers/{id}/certificate?as_of=`: a teacher's rotation certificate (交流轮岗证明) as a
//! printable A4 page (school names, dates, terms, grades, the verdicts, and a QR code with
//! what a checker needs to find and verify it), and `/teachers/{id}/certificate.json`, the
//! verifiable file itself (Query.Certificate).
//!
//! The page is drawn from the certificate after checking it with the ledger's own verifier
//! key, the check `rotaledger audit certificate` runs: what is printed is what the file
//! proves. The QR code is an inline SVG made by the `qrcode` crate, so the page needs no
//! script and no image request, and prints as sharp as the text.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::html::{enc, esc};
use super::messages::{Lang, M, vocab};
use super::{Console, Ctx, Problem, check_date, html, param};
use crate::certificate::text::{Credit, status};
use crate::certificate::{Verified, verify};
use crate::proto;
use crate::proto::query_server::Query as _;

/// `GET /teachers/{id}/certificate`.
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

/// `GET /teachers/{id}/certificate.json`: the file to keep and hand on.
pub async fn download(
    State(c): State<Console>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    c.answer(&headers, &uri, async |ctx| {
        let r = fetch(&c, ctx, id, &q).await?;
        Ok(crate::http::api::certificate_file(&r))
    })
    .await
}

async fn fetch(
    c: &Console,
    ctx: &Ctx,
    id: String,
    q: &[(String, String)],
) -> Result<proto::CertificateResponse, Problem> {
    let as_of = param(q, "as_of").unwrap_or_default();
    check_date(&as_of)?;
    Ok(c.services
        .query
        .certificate(ctx.grpc(proto::CertificateRequest { teacher: id, as_of })?)
        .await?
        .into_inner())
}

/// What the QR code carries: `rotaledger-certificate:1?origin=..&size=..&root=..&hash=..`.
pub fn qr_text(v: &Verified) -> String {
    format!(
        "rotaledger-certificate:1?origin={}&size={}&root={}&hash={}",
        enc(&v.statement.origin),
        v.statement.size,
        v.statement.root,
        hex::encode(v.hash)
    )
}

/// The QR code as an inline SVG (empty if the text cannot be encoded, which a few hundred
/// bytes always can).
fn qr_svg(text: &str) -> String {
    use qrcode::render::svg;
    match qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(150, 150)
            .quiet_zone(true)
            .build(),
        Err(e) => {
            tracing::warn!(error = %e, "console: the certificate's QR code");
            String::new()
        }
    }
}

async fn draw(
    c: &Console,
    ctx: &Ctx,
    id: String,
    q: &[(String, String)],
) -> Result<Response, Problem> {
    let as_of = param(q, "as_of").unwrap_or_default();
    let r = fetch(c, ctx, id.clone(), q).await?;
    let v = verify(r.certificate.as_bytes(), &c.services.log.verifier_key()).map_err(|e| {
        tracing::warn!(error = %e, "console: a certificate made by the ledger does not verify");
        Problem::Internal
    })?;
    let l = ctx.lang;
    let body = render(l, &v, &id, &as_of);
    let page = ctx
        .frame()
        .page(&format!("{} · {id}", M::Certificate.t(l)), &body);
    Ok(html(StatusCode::OK, page))
}

/// A school as `名称（编号）`, or the id alone.
fn school(v: &Verified, id: &str) -> String {
    match v.statement.schools.get(id) {
        Some(n) => format!("{}<small class=\"id\">{}</small>", esc(n), esc(id)),
        None => esc(id),
    }
}

/// The page's article.
fn render(l: Lang, v: &Verified, id: &str, as_of: &str) -> String {
    let s = &v.summary;
    let st = &v.statement;
    let t = |m: M| esc(m.t(l));
    let mut o = String::from("<article class=\"cert\">");
    let _ = write!(
        o,
        "<div class=\"cert-head\"><div><h1>{}</h1><p class=\"cert-intro\">{}</p></div>\
         <figure class=\"qr\">{}</figure></div>",
        t(M::Certificate),
        t(M::CertificateIntro),
        qr_svg(&qr_text(v))
    );
    o.push_str("<dl class=\"profile cert-who\">");
    if let Some(n) = &s.name {
        let _ = write!(
            o,
            "<dt>{}</dt><dd class=\"name\">{}</dd>",
            t(M::Name),
            esc(n)
        );
    }
    let _ = write!(
        o,
        "<dt>{}</dt><dd>{}</dd>",
        t(M::CertificateTeacher),
        esc(&st.teacher)
    );
    if let Some(h) = &s.home_school {
        let _ = write!(
            o,
            "<dt>{}</dt><dd>{}</dd>",
            t(M::CertificateHome),
            school(v, h)
        );
    }
    let _ = write!(
        o,
        "<dt>{}</dt><dd>{}</dd></dl>",
        t(M::CertificateAsOf),
        esc(&st.as_of)
    );

    let _ = write!(o, "<h2>{}</h2>", t(M::CertificateService));
    if s.dispatches.is_empty() {
        let _ = write!(o, "<p class=\"empty\">{}</p>", t(M::CertificateNone));
    } else {
        let _ = write!(
            o,
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            t(M::CertificateFrom),
            t(M::CertificateTo),
            t(M::CertificateKind),
            t(M::CertificateStart),
            t(M::CertificateMinEnd),
            t(M::CertificateEnd),
            t(M::CertificateStatus),
            t(M::CertificateDays),
        );
        for d in &s.dispatches {
            let end = match (&d.end, &d.return_reason) {
                (Some(e), Some(r)) => format!("{}（{}）", esc(e), esc(vocab(l, r))),
                (Some(e), None) => esc(e),
                _ => "—".into(),
            };
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{end}</td><td>{}</td><td>{}</td></tr>",
                school(v, &d.from_school),
                school(v, &d.to_school),
                esc(vocab(l, &d.kind)),
                esc(&d.start_date),
                esc(&d.min_end),
                esc(status(l, &d.status)),
                d.days_served,
            );
        }
        o.push_str("</tbody></table>");
    }

    let _ = write!(o, "<h2>{}</h2>", t(M::CertificateEvaluations));
    if s.evaluations.is_empty() {
        let _ = write!(o, "<p class=\"empty\">{}</p>", t(M::CertificateNone));
    } else {
        let _ = write!(
            o,
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            t(M::CertificateYear),
            t(M::CertificateTo),
            t(M::CertificateGrade)
        );
        for e in &s.evaluations {
            let _ = write!(
                o,
                "<tr><td>{}/{}</td><td>{}</td><td>{}</td></tr>",
                e.school_year,
                e.school_year.saturating_add(1),
                school(v, &e.school),
                esc(vocab(l, &e.grade))
            );
        }
        o.push_str("</tbody></table>");
    }

    if !s.promotions.is_empty() {
        let _ = write!(
            o,
            "<h2>{}</h2><ul class=\"cert-list\">",
            t(M::CertificatePromotions)
        );
        for p in &s.promotions {
            let _ = write!(
                o,
                "<li>{} {}：{}</li>",
                esc(&p.date),
                esc(vocab(l, &p.kind)),
                esc(vocab(l, &p.to))
            );
        }
        o.push_str("</ul>");
    }

    let _ = write!(
        o,
        "<h2>{}</h2><ul class=\"cert-list verdicts\">",
        t(M::CertificateVerdict)
    );
    let c = &s.credits;
    let badge = |met: bool| {
        if met {
            format!("<span class=\"ok\">✔ {}</span>", t(M::CertificateMet))
        } else {
            format!("<span class=\"no\">✘ {}</span>", t(M::CertificateNotMet))
        }
    };
    let days = |c: &Credit| {
        format!(
            "（{} {} {}）",
            c.days_served.unwrap_or(0),
            t(M::CertificateDaysOf),
            c.days_required.unwrap_or(0)
        )
    };
    for (m, credit, with_days) in [
        (M::CertificateRotation, &c.rotation, false),
        (M::CertificateLeadership, &c.leadership, true),
        (M::CertificateMentor, &c.returning_mentor, false),
        (M::CertificateSenior, &c.senior_title, true),
    ] {
        let _ = write!(
            o,
            "<li>{}：{}{}</li>",
            t(m),
            badge(credit.met),
            if with_days {
                days(credit)
            } else {
                String::new()
            }
        );
    }
    o.push_str("</ul>");

    let _ = write!(
        o,
        "<section class=\"cert-check\"><h2>{}</h2><dl class=\"profile\">\
         <dt>{}</dt><dd><code>{}</code></dd>\
         <dt>{}</dt><dd>{} {} · root <code>{}</code></dd>\
         <dt>{}</dt><dd><code>{}</code></dd></dl><p>{}</p></section>",
        t(M::CertificateCheck),
        t(M::CertificateLog),
        esc(&st.origin),
        t(M::CertificateCheckpoint),
        st.size,
        t(M::CertificateEntries),
        esc(&st.root),
        t(M::CertificateHash),
        hex::encode(v.hash),
        t(M::CertificateCheckText),
    );
    let _ = write!(
        o,
        "<p class=\"downloads\"><a href=\"/teachers/{}/certificate.json{}\" download>{}</a></p></article>",
        enc(id),
        if as_of.is_empty() {
            String::new()
        } else {
            format!("?as_of={}", enc(as_of))
        },
        t(M::CertificateDownload)
    );
    o
}
