//! `/audit`: the log's head and its latest signed checkpoint (Ledger.GetHead and
//! Audit.GetCheckpoint), for auditors and admins, and the checks an auditor runs **in the
//! browser**: the checkpoint's signature against a verifier key the auditor supplies, and an
//! entry's inclusion in the verified checkpoint's tree (docs/FORMAT.md part 2).
//!
//! The checks are JavaScript ([`super::scripts`]: `verify.js` over the vendored
//! `@noble/hashes`, `@noble/ed25519` and, for a gm ledger's SM2 key, `sm-crypto-v2`), fed by
//! the JSON API with the session cookie, so the verdict is computed where the auditor sits,
//! from bytes, not taken from this server: the entry hash is recomputed from the entry's
//! stored body (by the key's profile: blake3, or SM3 for an SM2 key), the proof walked to a
//! root, and that root compared with the root of the note whose signature verified. The key
//! is the one the auditor pastes (remembered in the browser's localStorage); the page offers
//! the server's own key only with the warning that it proves nothing.
//!
//! **Contract.** The page MUST NOT run inline script: its one script is a same-origin module,
//! and its `Content-Security-Policy` allows only same-origin scripts and connections, so
//! nothing but the embedded, vendored code handles the check. Every word the script shows
//! comes from [`M`] through the page's `data-msg` attribute ([`SCRIPT_MESSAGES`]).

use axum::extract::State;
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;

use super::html::esc;
use super::messages::{Lang, M};
use super::{Console, Ctx, Problem, html};
use crate::proto;
use crate::proto::audit_server::Audit as _;
use crate::proto::ledger_server::Ledger as _;

/// The audit page's policy: scripts, styles and connections from this origin only, no
/// inline script, no plugins, not framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The words `audit.js` shows, by the key it looks them up with; a reason of failure `code`
/// is `r_<code>`.
pub const SCRIPT_MESSAGES: &[(&str, M)] = &[
    ("pass", M::VerifyPass),
    ("fail", M::VerifyFail),
    ("colon", M::VerifyColon),
    ("running", M::VerifyRunning),
    ("signature_pass", M::VerifySignaturePass),
    ("inclusion_pass", M::VerifyInclusionPass),
    ("key_used", M::VerifyKeyUsed),
    ("key_pasted", M::VerifyKeyPasted),
    ("key_from_server", M::VerifyKeyFromServer),
    ("checkpoint_used", M::VerifyCheckpointUsed),
    ("note_server", M::VerifyNoteServer),
    ("note_pasted", M::VerifyNotePasted),
    ("origin", M::VerifyOrigin),
    ("size", M::LogSize),
    ("root", M::MerkleRoot),
    ("time", M::VerifyTime),
    ("seq", M::EntrySeqLabel),
    ("entry_hash", M::VerifyEntryHash),
    ("entry_hash_stated", M::VerifyEntryHashStated),
    ("leaf_hash", M::VerifyLeafHash),
    ("root_computed", M::VerifyRootComputed),
    ("root_signed", M::VerifyRootSigned),
    ("entry_body", M::VerifyEntryBody),
    ("key_id_stated", M::VerifyKeyIdStated),
    ("key_id_computed", M::VerifyKeyIdComputed),
    ("signatures_present", M::VerifySignaturesPresent),
    ("technical", M::VerifyTechnical),
    ("profile", M::VerifyProfile),
    ("profile_blake3", M::VerifyProfileBlake3),
    ("profile_gm", M::VerifyProfileGm),
    ("r_no_key", M::WhyNoKey),
    ("r_key_malformed", M::WhyKeyMalformed),
    ("r_key_unsupported", M::WhyKeyUnsupported),
    ("r_key_invalid_point", M::WhyKeyInvalidPoint),
    ("r_key_id_mismatch", M::WhyKeyIdMismatch),
    ("r_note_malformed", M::WhyNoteMalformed),
    ("r_no_signature", M::WhyNoSignature),
    ("r_key_id_differs", M::WhyKeyIdDiffers),
    ("r_bad_signature", M::WhyBadSignature),
    ("r_checkpoint_unverified", M::WhyCheckpointUnverified),
    ("r_bad_seq", M::WhyBadSeq),
    ("r_seq_out_of_range", M::WhySeqOutOfRange),
    ("r_entry_missing", M::WhyEntryMissing),
    ("r_entry_seq_differs", M::WhyEntrySeqDiffers),
    ("r_entry_malformed", M::WhyEntryMalformed),
    ("r_entry_hash_differs", M::WhyEntryHashDiffers),
    ("r_proof_malformed", M::WhyProofMalformed),
    ("r_proof_too_large", M::WhyProofTooLarge),
    ("r_index_out_of_range", M::WhyIndexOutOfRange),
    ("r_proof_too_long", M::WhyProofTooLong),
    ("r_proof_too_short", M::WhyProofTooShort),
    ("r_root_mismatch", M::WhyRootMismatch),
    ("r_profile_unsupported", M::WhyProfileUnsupported),
    ("r_fetch_failed", M::WhyFetchFailed),
    ("r_internal", M::WhyInternal),
];

/// `GET /audit`.
pub async fn page(State(c): State<Console>, headers: HeaderMap, uri: Uri) -> Response {
    let ctx = match c.enter(&headers, &uri) {
        Ok(ctx) => ctx,
        Err(r) => return *r,
    };
    let r = draw(&c, &ctx).await;
    let mut resp = c.finish(&ctx, r);
    resp.headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    resp
}

async fn draw(c: &Console, ctx: &Ctx) -> Result<Response, Problem> {
    let l = ctx.lang;
    // The checkpoint first: it needs the Audit permission, so a principal is refused before
    // anything is shown (the head alone is open to every role).
    let checkpoint = c
        .services
        .audit
        .get_checkpoint(ctx.grpc(proto::GetCheckpointRequest {
            size: None,
            ..Default::default()
        })?)
        .await?
        .into_inner()
        .checkpoint
        .unwrap_or_default();
    let witnessed = witnessed(c, ctx, &checkpoint.text).await?;
    let head = c
        .services
        .ledger
        .get_head(ctx.grpc(proto::GetHeadRequest {})?)
        .await?
        .into_inner()
        .head
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><h2>{}</h2><dl class=\"profile\">\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code></dd><dt>{}</dt><dd><code>{}</code></dd></dl>\
         <h2>{}</h2><p class=\"help\">{}</p><pre class=\"note\">{}</pre>{}{}",
        esc(M::AuditTitle.t(l)),
        esc(M::Head.t(l)),
        esc(M::LogSize.t(l)),
        head.size,
        esc(M::HeadHash.t(l)),
        hex::encode(&head.hash),
        esc(M::MerkleRoot.t(l)),
        hex::encode(&head.root),
        esc(M::Checkpoint.t(l)),
        esc(M::CheckpointHelp.t(l)),
        esc(&checkpoint.text),
        witnessed,
        checks(l),
    );
    let page = ctx.frame().page(M::AuditTitle.t(l), &body);
    Ok(html(StatusCode::OK, page))
}

/// The latest checkpoint cosigned by a witness, with a line per witness (its name and when it
/// cosigned), on a ledger started with witness keys; nothing on one without, or on a mirror.
/// The cosignatures shown were verified with the configured keys when the ledger kept them.
async fn witnessed(c: &Console, ctx: &Ctx, latest: &str) -> Result<String, Problem> {
    let l = ctx.lang;
    let answer = c
        .services
        .audit
        .get_checkpoint(ctx.grpc(proto::GetCheckpointRequest {
            min_cosignatures: 1,
            ..Default::default()
        })?)
        .await;
    let text = match answer {
        Ok(a) => a.into_inner().checkpoint.unwrap_or_default().text,
        // No witness configured (OUT_OF_RANGE) or a mirror (FAILED_PRECONDITION): no section.
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::OutOfRange | tonic::Code::FailedPrecondition
            ) =>
        {
            return Ok(String::new());
        }
        Err(s) if s.code() == tonic::Code::NotFound => {
            return Ok(format!(
                "<h2>{}</h2><p class=\"help\">{}</p>",
                esc(M::Witnessed.t(l)),
                esc(M::NoWitnessYet.t(l))
            ));
        }
        Err(s) => return Err(s.into()),
    };
    let Ok(cp) = crate::merkle::SignedCheckpoint::parse(&text) else {
        return Err(Problem::Internal);
    };
    // The log's own line is the first; the others are the witnesses', each `be64(time) || sig`.
    let rows: String = cp
        .signatures
        .iter()
        .skip(1)
        .map(|s| {
            let when = crate::merkle::cosignature::stated_timestamp(s)
                .and_then(|t| i64::try_from(t).ok())
                .and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0))
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default();
            format!(
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(&s.key_name),
                esc(&when)
            )
        })
        .collect();
    // The note itself, unless it is the latest checkpoint shown just above.
    let note = if text == latest {
        format!("<p>{}</p>", esc(M::SameAsLatest.t(l)))
    } else {
        format!("<pre class=\"note\">{}</pre>", esc(&text))
    };
    Ok(format!(
        "<section id=\"witnessed\"><h2>{}</h2><p class=\"help\">{}</p>\
         <table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{rows}</tbody></table>\
         {note}</section>",
        esc(M::Witnessed.t(l)),
        esc(M::WitnessedHelp.t(l)),
        esc(M::Witness.t(l)),
        esc(M::CosignedAt.t(l)),
    ))
}

/// The words of [`SCRIPT_MESSAGES`] in `lang`, as the JSON object the script reads.
pub fn script_messages(lang: Lang) -> String {
    let map: serde_json::Map<String, serde_json::Value> = SCRIPT_MESSAGES
        .iter()
        .map(|(k, m)| ((*k).to_owned(), m.t(lang).into()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The in-browser checks: the key, the optional pasted note, the two buttons and their
/// verdicts, and the module that runs them.
fn checks(l: Lang) -> String {
    format!(
        "<section id=\"audit-check\" class=\"check\" data-msg=\"{msgs}\">\
         <h2>{heading}</h2><p class=\"help\">{intro}</p><p class=\"help\">{why}</p>\
         <noscript><p class=\"no\">{noscript}</p></noscript>\
         <p><label for=\"verifier-key\">{key_label}</label>\
         <input id=\"verifier-key\" class=\"key\" type=\"text\" spellcheck=\"false\" autocomplete=\"off\">\
         <small>{key_help}</small></p>\
         <p><button type=\"button\" id=\"use-server-key\" class=\"secondary\">{use_server}</button></p>\
         <p id=\"key-warning\" class=\"warning\" hidden>{warning}</p>\
         <details id=\"advanced\"><summary>{advanced}</summary><p class=\"help\">{advanced_help}</p>\
         <textarea id=\"note-text\" rows=\"7\" spellcheck=\"false\"></textarea></details>\
         <p><button type=\"button\" id=\"check-signature\">{check_sig}</button></p>\
         <div id=\"signature-result\" class=\"verdict\" role=\"status\" aria-live=\"polite\"></div>\
         <h3>{inc_heading}</h3><p class=\"help\">{inc_help}</p>\
         <p><label for=\"entry-seq\">{seq_label}</label>\
         <input id=\"entry-seq\" type=\"text\" inputmode=\"numeric\" autocomplete=\"off\">\
         <button type=\"button\" id=\"check-inclusion\">{check_inc}</button></p>\
         <div id=\"inclusion-result\" class=\"verdict\" role=\"status\" aria-live=\"polite\"></div>\
         </section><script type=\"module\" src=\"/assets/audit.js\"></script>",
        msgs = esc(&script_messages(l)),
        heading = esc(M::VerifyHeading.t(l)),
        intro = esc(M::VerifyIntro.t(l)),
        why = esc(M::VerifyKeyWhy.t(l)),
        noscript = esc(M::NeedsScript.t(l)),
        key_label = esc(M::VerifierKeyLabel.t(l)),
        key_help = esc(M::VerifierKeyHelp.t(l)),
        use_server = esc(M::UseServerKey.t(l)),
        warning = esc(M::ServerKeyWarning.t(l)),
        advanced = esc(M::AdvancedNote.t(l)),
        advanced_help = esc(M::AdvancedNoteHelp.t(l)),
        check_sig = esc(M::CheckSignature.t(l)),
        inc_heading = esc(M::InclusionHeading.t(l)),
        inc_help = esc(M::InclusionHelp.t(l)),
        seq_label = esc(M::EntrySeqLabel.t(l)),
        check_inc = esc(M::CheckInclusion.t(l)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `msg.<key>` the script reads and every failure code it or verify.js can raise
    /// (shown as `r_<code>`) is in [`SCRIPT_MESSAGES`], so no verdict shows `undefined`.
    #[test]
    fn the_script_finds_every_word_it_shows() {
        let audit = include_str!("assets/audit.js");
        let verify = include_str!("assets/verify.js");
        let known: Vec<&str> = SCRIPT_MESSAGES.iter().map(|(k, _)| *k).collect();
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let mut wanted: Vec<String> = audit.split("msg.").skip(1).map(ident).collect();
        for src in [audit, verify] {
            for marker in ["fail('", "VerifyError('"] {
                wanted.extend(src.split(marker).skip(1).map(|p| format!("r_{}", ident(p))));
            }
        }
        let codes_in_verify = verify.matches("fail('").count();
        assert!(
            codes_in_verify > 10,
            "verify.js raises {codes_in_verify} codes"
        );
        for w in &wanted {
            assert!(
                known.contains(&w.as_str()),
                "audit.js shows {w}, which SCRIPT_MESSAGES lacks"
            );
        }
        for lang in [Lang::Zh, Lang::En] {
            let v: serde_json::Value = serde_json::from_str(&script_messages(lang)).unwrap();
            assert_eq!(v.as_object().map(|o| o.len()), Some(SCRIPT_MESSAGES.len()));
        }
    }
}
