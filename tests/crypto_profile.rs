//! The crypto profile as an operator meets it: `serve --crypto gm` makes a gm ledger that stays
//! one (even restarted before its first append, without the flag), and a data directory keeps
//! the profile it was made with.

use std::sync::Arc;

use rotaledger::crypto::Profile;
use rotaledger::log::{PassThrough, Store, Writer};

use crate::util::{ServeProc, append, bounded, serve_until_exit_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gm_ledger_stays_gm_and_a_blake3_one_refuses_gm() {
    bounded(120, async {
        let dir = tempfile::tempdir().unwrap();
        let gm = dir.path().join("gm");
        let mut s = ServeProc::start_with(
            &gm,
            &["--crypto", "gm", "--origin", "bureau.example/minhang"],
        );
        s.ready().await;
        let (_, p) = s.connect().head_and_profile().await.unwrap();
        assert_eq!(p, Profile::Gm);
        s.kill();

        // Restarted with no flag and before any append (nothing in the store records the
        // profile yet): the SM2 key of the first start keeps it gm, under the gm origin.
        let mut s = ServeProc::start_with(
            &gm,
            &["--crypto", "gm", "--origin", "bureau.example/minhang"],
        );
        s.ready().await;
        s.kill();
        let mut s = ServeProc::start_with(&gm, &["--origin", "bureau.example/minhang"]);
        s.ready().await;
        let (_, p) = s.connect().head_and_profile().await.unwrap();
        assert_eq!(p, Profile::Gm);
        let cp = s
            .connect()
            .audit()
            .await
            .unwrap()
            .get_checkpoint(rotaledger::proto::GetCheckpointRequest {
                size: None,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        assert!(
            cp.text.starts_with("bureau.example/minhang/gm\n"),
            "{}",
            cp.text
        );
        s.kill();

        // A blake3 log with entries: `--crypto gm` refuses to start, naming the profile.
        let b3 = dir.path().join("b3");
        let at = b3.clone();
        tokio::task::spawn_blocking(move || {
            let store = Arc::new(Store::open_with(&at, Some(Profile::Blake3)).unwrap());
            let head = store.check_head().unwrap();
            let w = Writer::start(store, head, PassThrough).unwrap();
            append(&w, "r1", &[r#"{"n":1}"#.to_owned()]).unwrap();
            w.shutdown();
        })
        .await
        .unwrap();
        let (code, err) = serve_until_exit_with(&b3, &["--crypto", "gm"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("holds a blake3 ledger"), "{err}");
        // ...and a blake3 origin may not end in /gm, which names gm ledgers.
        let (code, err) = serve_until_exit_with(&b3, &["--origin", "x/gm"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("names ledgers of the gm profile"), "{err}");
    })
    .await
}
