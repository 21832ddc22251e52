//! The gRPC service over the wire: a real server on 127.0.0.1:0 with a temporary data
//! directory, and real tonic clients.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rotaledger::grpc::auth::{Access, AccessError, hash_token};
use rotaledger::ledger::{Ledger, LedgerOptions};
use rotaledger::merkle::{
    SignedCheckpoint, TreeHasher, VerifierKey, verify_consistency, verify_inclusion,
};
use rotaledger::proto::{self, AppendRequest, AppendResponse};
use rotaledger::server::{ServerConfig, ServerError};
use tokio::sync::Mutex;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::util::{TestServer, bounded, school_event, school_events, write_access_file};

fn append_req(request_id: &str, events: Vec<String>) -> AppendRequest {
    AppendRequest {
        events,
        request_id: request_id.into(),
        expected_size: None,
    }
}

fn digest(b: &[u8]) -> [u8; 32] {
    b.try_into().expect("32 bytes")
}

/// Checks a receipt: the checkpoint is signed by the server's key, and each entry's proof
/// leads to the checkpoint's root.
fn check_receipt(r: &AppendResponse, key: &VerifierKey) {
    let receipt = r.receipt.as_ref().unwrap();
    let cp = receipt.checkpoint.as_ref().unwrap();
    let signed = SignedCheckpoint::parse(&cp.text).unwrap();
    let body = signed.verify(key).unwrap();
    assert_eq!(body.size, cp.size);
    assert_eq!(body.root.to_vec(), cp.root);
    assert_eq!(receipt.proofs.len(), r.seqs.len());
    for ((p, seq), h) in receipt.proofs.iter().zip(&r.seqs).zip(&r.entry_hashes) {
        assert_eq!(p.seq, *seq);
        assert_eq!(&p.entry_hash, h);
        let hashes: Vec<[u8; 32]> = p.hashes.iter().map(|h| digest(h)).collect();
        verify_inclusion(
            &crate::util::profile(),
            p.seq,
            p.size,
            &crate::util::profile().hash_leaf(h),
            &hashes,
            &body.root,
        )
        .unwrap();
    }
}

async fn public_key(s: &TestServer) -> VerifierKey {
    let k = s
        .audit()
        .await
        .get_public_key(proto::GetPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    k.verifier_key.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_idempotent_retry() {
    bounded(60, async {
        let s = TestServer::start().await;
        let key = public_key(&s).await;
        let mut c = s.ledger().await;
        let first = c
            .append(append_req("r1", school_events(0, 3)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.seqs, vec![0, 1, 2]);
        assert_eq!(first.entry_hashes.len(), 3);
        assert!(!first.duplicate);
        assert_eq!(first.head.as_ref().unwrap().size, 3);
        check_receipt(&first, &key);

        let second = c
            .append(append_req("r2", school_events(3, 4)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.seqs, vec![3]);
        check_receipt(&second, &key);

        let retry = c
            .append(append_req("r1", school_events(0, 3)))
            .await
            .unwrap()
            .into_inner();
        assert!(retry.duplicate);
        assert_eq!(retry.seqs, first.seqs);
        assert_eq!(retry.entry_hashes, first.entry_hashes);
        check_receipt(&retry, &key);
        let head = c
            .get_head(proto::GetHeadRequest {})
            .await
            .unwrap()
            .into_inner()
            .head
            .unwrap();
        assert_eq!(head.size, 4, "the retry appended nothing");
        assert_eq!(head.hash, second.entry_hashes[0]);

        // The stored entries are the ones acknowledged, recorded as the local actor.
        let mut seen = Vec::new();
        for e in crate::util::served_entries(&s.connect(None)).await {
            let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
            assert_eq!(body["actor"], "local");
            seen.push(e.hash);
        }
        let mut expected = first.entry_hashes.clone();
        expected.extend(second.entry_hashes.clone());
        assert_eq!(seen, expected);
        s.stop().await;
    })
    .await
}

/// Checks that an answer's receipt is a proof against the answer's own head: the checkpoint
/// is signed by the server's key over exactly `head.size` and `head.root`, and each entry's
/// inclusion proof folds to that root.
fn check_receipt_against_head(r: &AppendResponse, key: &VerifierKey) {
    let head = r.head.as_ref().unwrap();
    let cp = r.receipt.as_ref().unwrap().checkpoint.as_ref().unwrap();
    let body = SignedCheckpoint::parse(&cp.text)
        .unwrap()
        .verify(key)
        .unwrap()
        .clone();
    assert_eq!(
        (body.size, body.root.to_vec()),
        (head.size, head.root.clone())
    );
    for ((p, seq), h) in r
        .receipt
        .as_ref()
        .unwrap()
        .proofs
        .iter()
        .zip(&r.seqs)
        .zip(&r.entry_hashes)
    {
        assert_eq!((p.seq, p.size), (*seq, head.size));
        let hashes: Vec<[u8; 32]> = p.hashes.iter().map(|h| digest(h)).collect();
        verify_inclusion(
            &crate::util::profile(),
            *seq,
            head.size,
            &crate::util::profile().hash_leaf(&digest(h)),
            &hashes,
            &digest(&head.root),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_answers_with_the_head_right_after_the_original_append() {
    bounded(60, async {
        let s = TestServer::start().await;
        let key = public_key(&s).await;
        let mut c = s.ledger().await;
        let a = c
            .append(append_req("a", school_events(0, 3)))
            .await
            .unwrap()
            .into_inner();
        let head_a = a.head.clone().unwrap();
        // The head is the append's own end: size first seq + count, its last entry's hash.
        assert_eq!(head_a.size, a.seqs[0] + a.seqs.len() as u64);
        assert_eq!(&head_a.hash, a.entry_hashes.last().unwrap());
        check_receipt_against_head(&a, &key);

        let b = c
            .append(append_req("b", school_events(3, 5)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(b.head.as_ref().unwrap().size, 5);

        // A retry after B, and again after a restart (answered from the store alone): the
        // original head, not the current one, with a receipt that proves against it.
        let retry = c
            .append(append_req("a", school_events(0, 3)))
            .await
            .unwrap()
            .into_inner();
        let dir = s.stop().await;
        let s = TestServer::start_in(dir, |_| {}).await;
        let mut c = s.ledger().await;
        let after_restart = c
            .append(append_req("a", school_events(0, 3)))
            .await
            .unwrap()
            .into_inner();
        for r in [&retry, &after_restart] {
            assert!(r.duplicate);
            assert_eq!((&r.seqs, &r.entry_hashes), (&a.seqs, &a.entry_hashes));
            assert_eq!(r.head.as_ref(), Some(&head_a), "the original head");
            check_receipt_against_head(r, &key);
        }
        // The head A's answer names is the one the log had at that size.
        let cp = s
            .audit()
            .await
            .get_checkpoint(proto::GetCheckpointRequest {
                size: Some(head_a.size),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(cp.checkpoint.unwrap().root, head_a.root);
        s.stop().await;
    })
    .await
}

/// The status of a failed call, with its `ErrorInfo` reason and metadata.
fn info(s: &Status) -> (String, std::collections::HashMap<String, String>) {
    let d = s.get_error_details();
    let i = d.error_info().expect("every error carries ErrorInfo");
    assert_eq!(i.domain, "rotaledger");
    (i.reason.clone(), i.metadata.clone())
}

fn bad_request_fields(s: &Status) -> Vec<String> {
    s.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_class_has_its_code_and_details() {
    bounded(60, async {
        let s = TestServer::start_with(|c| c.ledger.max_events_per_append = 5).await;
        let mut c = s.ledger().await;
        c.append(append_req("base", school_events(0, 2)))
            .await
            .unwrap();

        // Invalid JSON in event 1.
        let e = c
            .append(append_req(
                "bad-json",
                vec![school_event(10), "{not json".into()],
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert_eq!(bad_request_fields(&e), vec!["events[1]".to_string()]);
        let (reason, md) = info(&e);
        assert_eq!(reason, "INVALID_INPUT");
        assert_eq!(md["event_index"], "1");
        assert!(e.message().contains("events[1]"), "{}", e.message());

        // An event without a type.
        let e = c
            .append(append_req("no-type", vec![r#"{"school":"S1"}"#.into()]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(bad_request_fields(&e), vec!["events[0].type".to_string()]);

        // No events at all; an empty request id.
        let e = c.append(append_req("none", vec![])).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(bad_request_fields(&e), vec!["events".to_string()]);
        let e = c
            .append(append_req("", school_events(20, 21)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(bad_request_fields(&e), vec!["request_id".to_string()]);

        // Too many events.
        let e = c
            .append(append_req("many", school_events(30, 36)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(bad_request_fields(&e), vec!["events".to_string()]);
        assert!(e.message().contains("limit of 5"), "{}", e.message());

        // Expected size mismatch.
        let mut req = append_req("cas", school_events(40, 41));
        req.expected_size = Some(7);
        let e = c.append(req.clone()).await.unwrap_err();
        assert_eq!(e.code(), Code::Aborted);
        let (reason, md) = info(&e);
        assert_eq!(reason, "UNEXPECTED_SIZE");
        assert_eq!(md["expected_size"], "7");
        assert_eq!(md["actual_size"], "2");
        assert!(
            e.get_error_details().precondition_failure().is_some(),
            "{e:?}"
        );
        // ... and the right expected size is accepted.
        req.expected_size = Some(2);
        let ok = c.append(req).await.unwrap().into_inner();
        assert_eq!(ok.seqs, vec![2]);

        // Request id reused for different events.
        let e = c
            .append(append_req("base", school_events(50, 51)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::AlreadyExists);
        let (reason, md) = info(&e);
        assert_eq!(reason, "REQUEST_ID_REUSED");
        assert_eq!(md["request_id"], "base");
        assert_eq!(md["first_seq"], "0");
        assert_eq!(md["end"], "2");

        // Nothing refused was written.
        let head = c
            .get_head(proto::GetHeadRequest {})
            .await
            .unwrap()
            .into_inner()
            .head
            .unwrap();
        assert_eq!(head.size, 3);

        // Out of range: proofs, checkpoints, reads and subscriptions beyond the log.
        let mut a = s.audit().await;
        let cases: Vec<Status> = vec![
            a.get_inclusion_proof(proto::GetInclusionProofRequest { seq: 3, size: None })
                .await
                .unwrap_err(),
            a.get_inclusion_proof(proto::GetInclusionProofRequest {
                seq: 0,
                size: Some(4),
            })
            .await
            .unwrap_err(),
            a.get_consistency_proof(proto::GetConsistencyProofRequest {
                old_size: 3,
                new_size: Some(2),
            })
            .await
            .unwrap_err(),
            a.get_checkpoint(proto::GetCheckpointRequest {
                size: Some(4),
                ..Default::default()
            })
            .await
            .unwrap_err(),
            a.read_entries(proto::ReadEntriesRequest {
                from_seq: 2,
                to_seq: Some(9),
            })
            .await
            .unwrap_err(),
            a.subscribe(proto::SubscribeRequest { from_seq: 4 })
                .await
                .unwrap_err(),
            a.verify(proto::VerifyRequest {
                from_seq: 3,
                to_seq: Some(1),
            })
            .await
            .unwrap_err(),
        ];
        for (i, e) in cases.iter().enumerate() {
            assert_eq!(e.code(), Code::OutOfRange, "case {i}: {e:?}");
            assert_eq!(info(e).0, "OUT_OF_RANGE", "case {i}");
        }
        s.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_catches_up_then_follows_live_appends_in_order() {
    bounded(120, async {
        let s = TestServer::start().await;
        let mut c = s.ledger().await;
        for i in 0..10 {
            c.append(append_req(
                &format!("pre{i}"),
                school_events(i * 5, i * 5 + 5),
            ))
            .await
            .unwrap();
        }
        let mut a = s.audit().await;
        let mut fast = a
            .subscribe(proto::SubscribeRequest { from_seq: 0 })
            .await
            .unwrap()
            .into_inner();
        // A subscriber that reads nothing until every append is done: far more entries than
        // the server buffers per stream pile up, and it must be caught up from storage.
        let mut slow = a
            .subscribe(proto::SubscribeRequest { from_seq: 25 })
            .await
            .unwrap()
            .into_inner();

        let writers: Vec<_> = (0..3u64)
            .map(|w| {
                let conn = s.connect(None);
                tokio::spawn(async move {
                    let mut c = conn.ledger().await.unwrap();
                    for j in 0..40u64 {
                        let base = 1000 + w * 1000 + j * 2;
                        c.append(append_req(
                            &format!("w{w}-{j}"),
                            school_events(base, base + 2),
                        ))
                        .await
                        .unwrap();
                    }
                })
            })
            .collect();
        let total = 50 + 3 * 40 * 2;

        let mut hashes: Vec<Vec<u8>> = Vec::new();
        while hashes.len() < total {
            let e = fast
                .message()
                .await
                .unwrap()
                .expect("stream ended")
                .entry
                .unwrap();
            assert_eq!(e.seq, hashes.len() as u64, "no gap, no duplicate, in order");
            let prev = hashes.last().cloned().unwrap_or_else(|| vec![0; 32]);
            assert_eq!(e.prev_hash, prev, "entry {} links to the one before", e.seq);
            let entry = rotaledger::log::Entry {
                seq: e.seq,
                prev_hash: digest(&e.prev_hash),
                hash: digest(&e.hash),
                body: e.body,
            };
            assert_eq!(entry.computed_hash(crate::util::profile()).to_vec(), e.hash);
            hashes.push(e.hash);
        }
        for w in writers {
            w.await.unwrap();
        }
        for seq in 25..total as u64 {
            let e = slow
                .message()
                .await
                .unwrap()
                .expect("stream ended")
                .entry
                .unwrap();
            assert_eq!(e.seq, seq);
            assert_eq!(e.hash, hashes[seq as usize]);
        }
        // Every event appears exactly once.
        let mut schools = HashSet::new();
        let mut r = a
            .read_entries(proto::ReadEntriesRequest {
                from_seq: 0,
                to_seq: None,
            })
            .await
            .unwrap()
            .into_inner();
        while let Some(m) = r.message().await.unwrap() {
            let body: serde_json::Value = serde_json::from_slice(&m.entry.unwrap().body).unwrap();
            assert!(schools.insert(body["payload"]["school"].as_str().unwrap().to_owned()));
        }
        assert_eq!(schools.len(), total);

        // On shutdown a live subscription ends with UNAVAILABLE instead of hanging.
        s.stop().await;
        let end = fast.message().await;
        assert!(
            matches!(&end, Err(st) if st.code() == Code::Unavailable) || matches!(end, Ok(None)),
            "{end:?}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_from_the_server_verify() {
    bounded(60, async {
        let s = TestServer::start().await;
        let key = public_key(&s).await;
        let mut c = s.ledger().await;
        let mut hashes = Vec::new();
        for i in 0..37u64 {
            let r = c
                .append(append_req(&format!("p{i}"), school_events(i, i + 1)))
                .await
                .unwrap()
                .into_inner();
            hashes.push(r.entry_hashes[0].clone());
        }
        let mut a = s.audit().await;
        for (seq, size) in [(0, 1), (0, 37), (5, 6), (17, 20), (36, 37), (12, 33)] {
            let r = a
                .get_inclusion_proof(proto::GetInclusionProofRequest {
                    seq,
                    size: Some(size),
                })
                .await
                .unwrap()
                .into_inner();
            let cp = SignedCheckpoint::parse(&r.checkpoint.unwrap().text).unwrap();
            let body = cp.verify(&key).unwrap();
            assert_eq!(body.size, size);
            let p = r.proof.unwrap();
            assert_eq!(p.entry_hash, hashes[seq as usize]);
            let proof: Vec<[u8; 32]> = p.hashes.iter().map(|h| digest(h)).collect();
            let leaf = crate::util::profile().hash_leaf(&p.entry_hash);
            verify_inclusion(
                &crate::util::profile(),
                seq,
                size,
                &leaf,
                &proof,
                &body.root,
            )
            .unwrap();
            // A proof for another entry's hash must not verify.
            let other = crate::util::profile().hash_leaf(&hashes[(seq as usize + 1) % 37]);
            assert!(
                verify_inclusion(
                    &crate::util::profile(),
                    seq,
                    size,
                    &other,
                    &proof,
                    &body.root
                )
                .is_err()
            );
        }
        for (old, new) in [(1, 37), (5, 6), (8, 16), (13, 29), (36, 37), (20, 20)] {
            let r = a
                .get_consistency_proof(proto::GetConsistencyProofRequest {
                    old_size: old,
                    new_size: Some(new),
                })
                .await
                .unwrap()
                .into_inner();
            let o = SignedCheckpoint::parse(&r.old_checkpoint.unwrap().text).unwrap();
            let n = SignedCheckpoint::parse(&r.new_checkpoint.unwrap().text).unwrap();
            let (o, n) = (o.verify(&key).unwrap(), n.verify(&key).unwrap());
            assert_eq!((o.size, n.size), (old, new));
            let proof: Vec<[u8; 32]> = r.hashes.iter().map(|h| digest(h)).collect();
            verify_consistency(&crate::util::profile(), old, new, &o.root, &n.root, &proof)
                .unwrap();
        }
        // The latest checkpoint covers the whole log, and the server's verification passes.
        let latest = a
            .get_checkpoint(proto::GetCheckpointRequest {
                size: None,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        assert_eq!(latest.size, 37);
        let v = a
            .verify(proto::VerifyRequest {
                from_seq: 0,
                to_seq: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(v.ok && v.checked == 37, "{v:?}");
        assert_eq!(v.head.unwrap().hash, hashes[36]);
        let v = a
            .verify(proto::VerifyRequest {
                from_seq: 10,
                to_seq: Some(20),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(v.ok && v.from_seq == 10 && v.checked == 10, "{v:?}");
        s.stop().await;
    })
    .await
}

const TOKENS: [(&str, &str, &str); 4] = [
    ("hr-system", "writer", "tok-writer"),
    ("auditor-1", "auditor", "tok-auditor"),
    ("principal-1", "principal", "tok-principal"),
    ("bureau-admin", "admin", "tok-admin"),
];

fn access_text() -> String {
    TOKENS
        .iter()
        .map(|(name, role, tok)| {
            let schools = if *role == "principal" {
                "schools = [\"S0001\"]\n"
            } else {
                ""
            };
            format!(
                "[[token]]\nname = \"{name}\"\nrole = \"{role}\"\n{schools}hash = \"{}\"\n\n",
                hash_token(tok)
            )
        })
        .collect()
}

/// Calls every RPC once as `token` and returns each result's code.
async fn every_rpc(s: &TestServer, token: Option<&str>, n: u64) -> Vec<(&'static str, Code)> {
    let conn = s.connect(token);
    let mut l = conn.ledger().await.unwrap();
    let mut a = conn.audit().await.unwrap();
    let code = |r: Result<(), Status>| r.map_or_else(|e| e.code(), |_| Code::Ok);
    vec![
        (
            "Append",
            code(
                l.append(append_req(&format!("m{n}"), vec![school_event(n)]))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GetHead",
            code(l.get_head(proto::GetHeadRequest {}).await.map(|_| ())),
        ),
        (
            "ReadEntries",
            code(
                a.read_entries(proto::ReadEntriesRequest {
                    from_seq: 0,
                    to_seq: None,
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Subscribe",
            code(
                a.subscribe(proto::SubscribeRequest { from_seq: 0 })
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "Verify",
            code(
                a.verify(proto::VerifyRequest {
                    from_seq: 0,
                    to_seq: None,
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetCheckpoint",
            code(
                a.get_checkpoint(proto::GetCheckpointRequest {
                    size: None,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetInclusionProof",
            code(
                a.get_inclusion_proof(proto::GetInclusionProofRequest { seq: 0, size: None })
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GetConsistencyProof",
            code(
                a.get_consistency_proof(proto::GetConsistencyProofRequest {
                    old_size: 0,
                    new_size: None,
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetPublicKey",
            code(
                a.get_public_key(proto::GetPublicKeyRequest {})
                    .await
                    .map(|_| ()),
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_matrix() {
    bounded(60, async {
        let dir = tempfile::tempdir().unwrap();
        let file = write_access_file(dir.path(), &access_text());
        let access = Access::load(&file).unwrap();
        let s = TestServer::start_in(dir, |c| c.access = access).await;
        // An entry for the proof RPCs to talk about.
        s.connect(Some("tok-admin"))
            .ledger()
            .await
            .unwrap()
            .append(append_req("seed", vec![school_event(0)]))
            .await
            .unwrap();

        use Code::{Ok as OK, PermissionDenied as NO, Unauthenticated as WHO};
        let rpcs = 9;
        let cases: Vec<(&str, Option<&str>, Vec<Code>)> = vec![
            ("no token", None, vec![WHO; rpcs]),
            ("bad token", Some("tok-nobody"), vec![WHO; rpcs]),
            (
                "writer",
                Some("tok-writer"),
                vec![OK, OK, NO, NO, NO, NO, NO, NO, NO],
            ),
            (
                "auditor",
                Some("tok-auditor"),
                vec![NO, OK, OK, OK, OK, OK, OK, OK, OK],
            ),
            (
                "principal",
                Some("tok-principal"),
                vec![NO, OK, NO, NO, NO, NO, NO, NO, NO],
            ),
            ("admin", Some("tok-admin"), vec![OK; rpcs]),
        ];
        for (i, (who, token, expected)) in cases.into_iter().enumerate() {
            let got = every_rpc(&s, token, 100 + i as u64).await;
            let got_codes: Vec<Code> = got.iter().map(|(_, c)| *c).collect();
            assert_eq!(got_codes, expected, "{who}: {got:?}");
        }

        // The actor recorded is the token's configured name.
        let mut a = s.connect(Some("tok-auditor")).audit().await.unwrap();
        let mut r = a
            .read_entries(proto::ReadEntriesRequest {
                from_seq: 0,
                to_seq: None,
            })
            .await
            .unwrap()
            .into_inner();
        let mut actors = Vec::new();
        while let Some(m) = r.message().await.unwrap() {
            let body: serde_json::Value = serde_json::from_slice(&m.entry.unwrap().body).unwrap();
            actors.push(body["actor"].as_str().unwrap().to_owned());
        }
        assert_eq!(actors, vec!["bureau-admin", "hr-system", "bureau-admin"]);

        // Denials say why.
        let e = s
            .connect(Some("tok-writer"))
            .audit()
            .await
            .unwrap()
            .get_public_key(proto::GetPublicKeyRequest {})
            .await
            .unwrap_err();
        let (reason, md) = info(&e);
        assert_eq!(reason, "PERMISSION_DENIED");
        assert_eq!(md["role"], "writer");
        assert!(e.message().contains("hr-system"), "{}", e.message());
        s.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_access_file_and_open_public_listener_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = write_access_file(dir.path(), &access_text());
    assert!(Access::load(&file).is_ok());
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        match Access::load(&file) {
            Err(AccessError::LoosePermissions { mode: m, .. }) => assert_eq!(m, mode),
            other => panic!("mode {mode:o}: {other:?}"),
        }
    }
    let e = Access::load(&file).unwrap_err().to_string();
    assert!(e.contains("chmod 600"), "{e}");

    // No access file on a non-loopback address: refused before opening anything.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let config = ServerConfig::new(dir.path().join("data"));
    let r = bounded(30, rotaledger::server::run(listener, config, async {})).await;
    assert!(
        matches!(r, Err(ServerError::OpenOnPublicAddress(_))),
        "{r:?}"
    );
    assert!(!dir.path().join("data").exists());
}

/// An acknowledged entry: its sequence number and hash.
type Acked = (u64, Vec<u8>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_keeps_every_acknowledged_append() {
    let dir = bounded(120, async {
        let s = TestServer::start().await;
        let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
        let stop_sending = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4u64)
            .map(|w| {
                let conn = s.connect(None);
                let acked = acked.clone();
                let stop_sending = stop_sending.clone();
                tokio::spawn(async move {
                    let mut c = conn.ledger().await.unwrap();
                    let mut j = 0u64;
                    while !stop_sending.load(Ordering::Relaxed) {
                        let base = w * 100_000 + j * 3;
                        match c
                            .append(append_req(
                                &format!("g{w}-{j}"),
                                school_events(base, base + 3),
                            ))
                            .await
                        {
                            Ok(r) => {
                                let r = r.into_inner();
                                let mut a = acked.lock().await;
                                for (seq, h) in r.seqs.iter().zip(r.entry_hashes) {
                                    a.push((*seq, h));
                                }
                            }
                            // The server is going away: the append was not acknowledged.
                            Err(_) => return,
                        }
                        j += 1;
                    }
                })
            })
            .collect();
        // Shut down while appends are in flight.
        loop {
            if acked.lock().await.len() >= 60 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let dir = s.stop().await;
        stop_sending.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        let acked = acked.lock().await.clone();
        assert!(acked.len() >= 60);
        (dir, acked)
    })
    .await;
    let (dir, acked) = dir;
    // Reopen: every acknowledged entry is there, with the acknowledged hash, and the log verifies.
    let ledger = Ledger::open(&dir.path().join("data"), LedgerOptions::default()).unwrap();
    for (seq, hash) in &acked {
        assert_eq!(
            &ledger.entry(*seq).unwrap().hash.to_vec(),
            hash,
            "entry {seq}"
        );
    }
    let v = ledger.verify(None, &mut |_| {}).unwrap();
    assert!(v.is_ok(), "{v:?}");
    ledger.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_answer() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha;

    bounded(60, async {
        // With an access file: health and reflection still answer without a token.
        let dir = tempfile::tempdir().unwrap();
        let file = write_access_file(dir.path(), &access_text());
        let access = Access::load(&file).unwrap();
        let s = TestServer::start_in(dir, |c| c.access = access).await;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", s.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = HealthClient::new(channel.clone());
        for service in ["rotaledger.v1.Ledger", "rotaledger.v1.Audit"] {
            let r = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.status, ServingStatus::Serving as i32, "{service}");
        }
        let e = health
            .check(HealthCheckRequest {
                service: "no.such.Service".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);

        let mut refl = ServerReflectionClient::new(channel.clone());
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut resp = refl
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let msg = resp.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
            panic!("{msg:?}")
        };
        let names: HashSet<String> = list.service.into_iter().map(|s| s.name).collect();
        for want in [
            "rotaledger.v1.Ledger",
            "rotaledger.v1.Audit",
            "grpc.health.v1.Health",
        ] {
            assert!(names.contains(want), "{want} missing from {names:?}");
        }
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "rotaledger.v1.Ledger".into(),
            )),
        };
        let mut resp = refl
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let msg = resp.message().await.unwrap().unwrap();
        let Some(MessageResponse::FileDescriptorResponse(fd)) = msg.message_response else {
            panic!("{msg:?}")
        };
        assert!(!fd.file_descriptor_proto.is_empty());

        // The older v1alpha protocol, which some tools still speak.
        let mut old = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
        let req = v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        };
        let mut resp = old
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let msg = resp.message().await.unwrap().unwrap();
        assert!(
            format!("{msg:?}").contains("rotaledger.v1.Audit"),
            "{msg:?}"
        );
        s.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_with_the_given_certificate() {
    bounded(60, async {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let tls = rotaledger::server::TlsFiles {
            cert: cert.clone(),
            key,
        };
        let s = TestServer::start_in(dir, |c| c.tls = Some(tls)).await;
        let mut conn = s.connect(None);
        conn.server = format!("https://localhost:{}", s.addr.port());
        conn.tls_ca = Some(cert);
        // `TestServer` does not wait for a TLS server's ledger: until it is open the answer
        // is UNAVAILABLE.
        let mut head = None;
        for _ in 0..500 {
            match conn
                .ledger()
                .await
                .unwrap()
                .get_head(proto::GetHeadRequest {})
                .await
            {
                Ok(h) => {
                    head = h.into_inner().head;
                    break;
                }
                Err(e) if e.code() == tonic::Code::Unavailable => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(head.expect("the TLS server came up").size, 0);
        // A plaintext client gets no answer from a TLS server.
        let plain = s.connect(None).ledger().await;
        let refused = match plain {
            Err(_) => true,
            Ok(mut c) => c.get_head(proto::GetHeadRequest {}).await.is_err(),
        };
        assert!(refused);
        s.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_does_not_hold_shutdown_open() {
    bounded(90, async {
        let s =
            TestServer::start_with(|c| c.shutdown_grace = std::time::Duration::from_secs(1)).await;
        let mut c = s.ledger().await;
        for i in 0..3u64 {
            c.append(append_req(
                &format!("big{i}"),
                school_events(i * 1000, i * 1000 + 1000),
            ))
            .await
            .unwrap();
        }
        let mut a = s.audit().await;
        // Far more than the stream's buffers and the HTTP/2 window; never read.
        let stuck = a
            .subscribe(proto::SubscribeRequest { from_seq: 0 })
            .await
            .unwrap()
            .into_inner();
        let dir = s.stop().await;
        drop(stuck);
        // The store was closed cleanly and holds everything.
        let ledger = Ledger::open(&dir.path().join("data"), LedgerOptions::default()).unwrap();
        assert_eq!(ledger.head().size, 3000);
        ledger.shutdown();
    })
    .await
}
