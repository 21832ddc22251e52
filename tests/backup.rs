//! Backup and restore: `export --server` from a live server while appends continue, then
//! `import` into a fresh store that verifies identical and serves the same log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rotaledger::log::export::{Header, read_header};
use rotaledger::proto;

use crate::util::{TestServer, append_schools, bounded, run_bin, school_events};

fn header_of(path: &std::path::Path) -> Header {
    let f = std::fs::File::open(path).unwrap();
    read_header(&mut std::io::BufReader::new(f)).unwrap()
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_export_imports_into_an_identical_store() {
    bounded(240, async {
        let server = TestServer::start().await;
        for i in 0..5 {
            append_schools(&server, &format!("r{i}"), i * 10, i * 10 + 10).await;
        }
        // Keep appending while the export runs.
        let stop = Arc::new(AtomicBool::new(false));
        let mut ledger = server.ledger().await;
        let st = stop.clone();
        let writer = tokio::spawn(async move {
            let mut i = 1000u64;
            while !st.load(Ordering::Relaxed) {
                ledger
                    .append(proto::AppendRequest {
                        events: school_events(i, i + 2),
                        request_id: format!("live{i}"),
                        expected_size: None,
                    })
                    .await
                    .unwrap();
                i += 2;
            }
            i
        });
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("backup.jsonl");
        let url = format!("http://{}", server.addr);
        let (code, o, e) = run_bin(vec![
            "export".into(),
            "--server".into(),
            url.clone(),
            "--out".into(),
            s(&out),
        ])
        .await;
        stop.store(true, Ordering::Relaxed);
        let last = writer.await.unwrap();
        assert_eq!(code, 0, "{o}{e}");
        assert!(last > 1000, "appends ran during the export");
        let header = header_of(&out);
        assert!(header.size >= 50, "{header:?}");
        let (code, o, e) = run_bin(vec!["verify".into(), "--export".into(), s(&out)]).await;
        assert_eq!(code, 0, "{o}{e}");

        // The export names the same root the server signed for that size.
        let cp = server
            .audit()
            .await
            .get_checkpoint(proto::GetCheckpointRequest {
                size: Some(header.size),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        assert_eq!(hex::encode(&cp.root), header.root);

        // Restore into a fresh directory.
        let restored = tempfile::tempdir().unwrap();
        let data = restored.path().join("data");
        let (code, o, e) = run_bin(vec![
            "import".into(),
            "--export".into(),
            s(&out),
            "--data".into(),
            s(&data),
        ])
        .await;
        assert_eq!(code, 0, "{o}{e}");
        assert!(o.contains(&header.root), "{o}");
        let (code, o, e) = run_bin(vec!["verify".into(), "--data".into(), s(&data)]).await;
        assert_eq!(code, 0, "{o}{e}");
        assert!(
            o.contains(&format!(
                "{} entries, head {}",
                header.size, header.head_hash
            )),
            "{o}"
        );

        // A server on the restored store serves the same checkpoint root and head, and has
        // rebuilt the domain state and the idempotency records.
        let back = TestServer::start_in(restored, |_| {}).await;
        let mut audit = back.audit().await;
        let cp2 = audit
            .get_checkpoint(proto::GetCheckpointRequest {
                size: None,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        assert_eq!(cp2.size, header.size);
        assert_eq!(hex::encode(&cp2.root), header.root);
        let mut c = back.ledger().await;
        let retry = c
            .append(proto::AppendRequest {
                events: school_events(20, 30),
                request_id: "r2".into(),
                expected_size: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(retry.duplicate, "the idempotency record was restored");
        assert_eq!(retry.seqs, (20..30).collect::<Vec<u64>>());
        // School S0003 is registered already: the domain state was rebuilt.
        let again = c
            .append(proto::AppendRequest {
                events: school_events(3, 4),
                request_id: "again".into(),
                expected_size: None,
            })
            .await;
        assert!(again.is_err(), "{again:?}");
        // And it takes new appends after the restored entries.
        let fresh = c
            .append(proto::AppendRequest {
                events: school_events(5000, 5001),
                request_id: "fresh".into(),
                expected_size: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(fresh.seqs, vec![header.size]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_a_tampered_export_and_a_non_empty_store() {
    bounded(120, async {
        let server = TestServer::start().await;
        append_schools(&server, "a", 0, 6).await;
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("backup.jsonl");
        let (code, o, e) = run_bin(vec![
            "export".into(),
            "--server".into(),
            format!("http://{}", server.addr),
            "--out".into(),
            s(&out),
        ])
        .await;
        assert_eq!(code, 0, "{o}{e}");

        // Change one character of entry 3's body (line 5: the header is line 1).
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert!(lines[4].contains("School 3"), "{}", lines[4]);
        lines[4] = lines[4].replace("School 3", "School 9");
        let bad = tmp.path().join("tampered.jsonl");
        std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
        let data = tmp.path().join("restored");
        let (code, o, e) = run_bin(vec![
            "import".into(),
            "--export".into(),
            s(&bad),
            "--data".into(),
            s(&data),
        ])
        .await;
        assert_eq!(code, 1, "{o}{e}");
        assert!(o.contains("first bad entry 3"), "{o}");
        let (code, o, _) = run_bin(vec!["verify".into(), "--data".into(), s(&data)]).await;
        assert_eq!(code, 0);
        assert!(o.contains(": 0 entries"), "nothing imported: {o}");

        // A good import, then a second one into the same store is refused.
        let (code, o, e) = run_bin(vec![
            "import".into(),
            "--export".into(),
            s(&out),
            "--data".into(),
            s(&data),
        ])
        .await;
        assert_eq!(code, 0, "{o}{e}");
        let (code, o, e) = run_bin(vec![
            "import".into(),
            "--export".into(),
            s(&out),
            "--data".into(),
            s(&data),
        ])
        .await;
        assert_eq!(code, 2, "{o}{e}");
        assert!(e.contains("not empty"), "{e}");
    })
    .await;
}
