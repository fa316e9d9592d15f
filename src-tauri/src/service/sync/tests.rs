//! The app's sync status, background uploader and fleet view against a real
//! SeaweedFS with Object Lock on 127.0.0.1 (the sync crate's testkit), on
//! real demo data dirs (SQLite files) with the system clock.

use crate::ipc::Code;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_engine::{DataDir, Engine, InitOptions, SystemClock};
use countersign_sync::testkit::{Weed, READ_ONLY_KEY, READ_ONLY_SECRET, TEST_KEY, TEST_SECRET};
use countersign_sync::{verify_remote, Remote};
use object_store::path::Path as OPath;
use object_store::{ObjectStoreExt, PutPayload};

use super::*;
use crate::ipc::{FleetExportRequest, FleetQuery, StartStepupRequest, SyncStatusView};
use crate::service::fleet::*;

struct Kiosk {
    dir: PathBuf,
    sh: Arc<Shared>,
}

impl Kiosk {
    fn new(root: &Path, name: &str) -> Kiosk {
        let dir = root.join(name);
        DataDir::new(dir.clone())
            .init(
                &InitOptions {
                    demo: true,
                    ..Default::default()
                },
                &SystemClock,
            )
            .unwrap();
        let sh = Arc::new(Shared::with_engine(Engine::open(&dir).unwrap()));
        Kiosk { dir, sh }
    }

    fn id(&self) -> String {
        identity(&self.sh).unwrap().0
    }

    /// Events in the local ledger.
    fn events(&self) -> u64 {
        super::super::verify_ledger_ungated(&self.sh)
            .unwrap()
            .events
    }

    fn worker(&self) -> SyncWorker {
        let sh = self.sh.clone();
        SyncWorker::start(
            self.dir.clone(),
            Box::new(move || identity(&sh)),
            Duration::from_millis(100),
        )
    }

    fn configure(&self, endpoint: &str, bucket: &str) {
        std::fs::write(
            self.dir.join(countersign_sync::config::CONFIG_FILE),
            config_text(endpoint, bucket, TEST_KEY, TEST_SECRET),
        )
        .unwrap();
    }

    /// New evidence, as the operator screen makes it.
    fn stepup(&self, requester: &str) {
        super::super::start_stepup(
            &self.sh,
            StartStepupRequest {
                scope: vec!["payments.approve".into()],
                requester: requester.into(),
            },
        )
        .unwrap();
    }
}

fn config_text(endpoint: &str, bucket: &str, key: &str, secret: &str) -> String {
    format!(
        "endpoint = \"{endpoint}\"\nbucket = \"{bucket}\"\nallow_http = true\n\
         access_key_id = \"{key}\"\nsecret_access_key = \"{secret}\"\n\
         request_timeout_secs = 3\nbackoff_min_ms = 50\nbackoff_max_ms = 500\npoll_ms = 100\n"
    )
}

fn status(k: &Kiosk, w: &SyncWorker) -> SyncStatusView {
    let st = sync_status_ungated(&k.sh, w).unwrap();
    let shown = serde_json::to_string(&st).unwrap();
    assert!(
        !shown.contains(TEST_SECRET) && !shown.contains(TEST_KEY),
        "{shown}"
    );
    st
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn caught_up(st: &SyncStatusView) -> bool {
    st.queued_events == 0 && st.queued_blobs == 0 && st.queued_checkpoints == 0
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn status_before_and_after_upload_and_catching_up_after_the_store_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let k = Kiosk::new(tmp.path(), "kiosk");
    let w = k.worker();

    // No sync.toml: nothing uploads, the status still counts the backlog.
    wait_for("not configured", Duration::from_secs(10), || {
        status(&k, &w).uploader == crate::ipc::UploaderState::NotConfigured
    });
    let st = status(&k, &w);
    assert!(!st.configured && st.endpoint.is_none() && st.bucket.is_none());
    assert_eq!(st.queued_events, k.events());
    assert_eq!((st.synced_events, st.in_flight), (0, 0));
    assert!(st.last_success_ms.is_none() && st.last_error.is_none());
    assert_eq!(st.oldest_unsynced_seq, Some(1));
    assert_eq!(st.alert_after_ms, 60 * 60_000, "the policy's default limit");
    assert!(!st.alert, "the evidence is minutes old, not an hour");

    // A store appears and the kiosk is configured: the running app's
    // uploader picks the config up and catches up by itself.
    let mut weed = Weed::start(&tmp.path().join("weed"));
    weed.create_locked_bucket("evidence", 1);
    k.configure(&weed.endpoint(), "evidence");
    wait_for("the first upload", Duration::from_secs(60), || {
        let st = status(&k, &w);
        caught_up(&st) && st.last_success_ms.is_some()
    });
    let st = status(&k, &w);
    assert_eq!(st.uploader, crate::ipc::UploaderState::Running);
    assert!(st.configured);
    assert_eq!(st.endpoint.as_deref(), Some(weed.endpoint().as_str()));
    assert_eq!(st.bucket.as_deref(), Some("evidence"));
    assert_eq!(st.synced_events, k.events());
    assert!(st.last_success_ms.is_some() && st.oldest_unsynced_age_ms.is_none());
    assert!(!st.alert);

    // The store goes away; the kiosk keeps working and queues.
    weed.kill();
    let killed_at = now_ms();
    k.stepup("while-offline");
    k.stepup("while-offline");
    w.wake();
    wait_for("a failed pass", Duration::from_secs(30), || {
        status(&k, &w).last_error_ms.is_some_and(|t| t >= killed_at)
    });
    let st = status(&k, &w);
    assert!(st.queued_events >= 2, "{st:?}");
    assert!(st.oldest_unsynced_age_ms.is_some());
    let err = st.last_error.clone().unwrap();
    assert!(!err.contains(TEST_SECRET), "{err}");

    // It comes back: nothing to do but wait. The queue empties while a
    // pass uploads; the pass records its success only when it ends, so
    // wait for both (reading between the two saw the old success).
    weed.restart();
    wait_for(
        "catching up and a successful pass",
        Duration::from_secs(90),
        || {
            let st = status(&k, &w);
            caught_up(&st) && st.last_success_ms > st.last_error_ms
        },
    );
    let st = status(&k, &w);
    assert_eq!(st.synced_events, k.events());
    assert!(
        st.last_success_ms.unwrap() > st.last_error_ms.unwrap(),
        "the last success comes after the outage's error: {st:?}"
    );

    // Every object in the bucket, once, unaltered.
    let s = w.live().expect("the live syncer");
    let rep = rt().block_on(verify_remote(&s)).unwrap();
    assert!(rep.is_clean(), "{rep:?}");
    assert_eq!(rep.not_yet_uploaded, 0);

    // Stops cleanly; the status still reads from the ledger.
    let t0 = Instant::now();
    w.stop();
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let st = status(&k, &w);
    assert_eq!(st.uploader, crate::ipc::UploaderState::Stopped);
    assert!(caught_up(&st) && st.in_flight == 0);
}

#[test]
fn a_broken_sync_toml_is_shown_without_its_lines() {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let k = Kiosk::new(tmp.path(), "kiosk");
    std::fs::write(
        k.dir.join(countersign_sync::config::CONFIG_FILE),
        "bucket = \"b\"\nsecret_access_key = \"hunter22\" oops\n",
    )
    .unwrap();
    let w = k.worker();
    wait_for("the failure", Duration::from_secs(10), || {
        status(&k, &w).uploader == crate::ipc::UploaderState::Failed
    });
    let st = status(&k, &w);
    let e = st.uploader_error.clone().unwrap();
    assert!(e.contains("sync.toml") && e.contains("line 2"), "{e}");
    assert!(
        !serde_json::to_string(&st).unwrap().contains("hunter22"),
        "{st:?}"
    );
    assert!(st.configured && st.queued_events > 0, "{st:?}");
    w.stop();
}

fn query() -> FleetQuery {
    FleetQuery {
        limit: 1000,
        ..Default::default()
    }
}

#[test]
fn fleet_view_verifies_two_kiosks_from_the_bucket_alone_and_reports_an_altered_object() {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let weed = Weed::start(&tmp.path().join("weed"));
    weed.create_locked_bucket("fleet", 1);
    let a = Kiosk::new(tmp.path(), "a");
    let b = Kiosk::new(tmp.path(), "b");
    b.stepup("only-on-b");
    for k in [&a, &b] {
        k.configure(&weed.endpoint(), "fleet");
        let w = k.worker();
        wait_for("the upload", Duration::from_secs(60), || {
            caught_up(&status(k, &w))
        });
        w.stop();
    }
    let (ida, idb) = (a.id(), b.id());
    assert_ne!(ida, idb);

    // A reviewer's workstation: no fleet config yet.
    let reviewer = tmp.path().join("reviewer");
    let fs = FleetState::from_env(&reviewer, |_| None);
    let o = fleet_open(&fs).unwrap();
    assert!(!o.configured && o.kiosks.is_empty());
    assert_eq!(
        o.config_path,
        reviewer.join(FLEET_FILE).display().to_string()
    );
    assert_eq!(
        fleet_events(&fs, query()).unwrap_err().code,
        crate::ipc::sync_codes::FLEET_NOT_LOADED
    );

    // The bucket with read-only keys, from a path in the app's environment.
    let cfg = tmp.path().join("elsewhere.toml");
    std::fs::write(
        &cfg,
        config_text(&weed.endpoint(), "fleet", READ_ONLY_KEY, READ_ONLY_SECRET),
    )
    .unwrap();
    let cfg_s = cfg.display().to_string();
    let fs = FleetState::from_env(&reviewer, |k| {
        (k == ENV_FLEET_CONFIG).then(|| cfg_s.clone())
    });
    let o = fleet_open(&fs).unwrap();
    let shown = serde_json::to_string(&o).unwrap();
    assert!(!shown.contains(READ_ONLY_SECRET) && !shown.contains(READ_ONLY_KEY));
    assert!(o.configured && o.all_ok, "{o:?}");
    assert_eq!(o.bucket.as_deref(), Some("fleet"));
    let mut ids: Vec<&str> = o.kiosks.iter().map(|k| k.kiosk.as_str()).collect();
    ids.sort();
    let mut want = vec![ida.as_str(), idb.as_str()];
    want.sort();
    assert_eq!(ids, want);
    for (k, id) in [(&a, &ida), (&b, &idb)] {
        let r = o.kiosks.iter().find(|r| &r.kiosk == id).unwrap();
        assert!(r.ok && r.problems.is_empty(), "{r:?}");
        assert_eq!((r.events, r.verified_through), (k.events(), k.events()));
        assert!(r.public_key.is_some() && r.head_hash.is_some());
    }
    assert_eq!(o.events, a.events() + b.events());
    assert_eq!(fleet_overview(&fs).unwrap(), o);

    // Browse across kiosks, a page at a time, newest first.
    let mut q = FleetQuery {
        limit: 5,
        newest_first: true,
        ..Default::default()
    };
    let mut rows = Vec::new();
    loop {
        let p = fleet_events(&fs, q.clone()).unwrap();
        assert!(p.rows.len() <= 5);
        rows.extend(p.rows);
        match p.next_after {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(rows.len() as u64, o.events);
    assert!(rows.windows(2).all(|w| w[0].ts_ms >= w[1].ts_ms));
    assert!(rows.iter().any(|r| r.kiosk == ida) && rows.iter().any(|r| r.kiosk == idb));
    // The same filters as the local log, and one kiosk.
    let requested = fleet_events(
        &fs,
        FleetQuery {
            kinds: vec!["stepup.requested".into()],
            ..query()
        },
    )
    .unwrap();
    assert_eq!(requested.rows.len(), 1);
    assert_eq!(requested.rows[0].kiosk, idb);
    let only_a = fleet_events(
        &fs,
        FleetQuery {
            kiosk: Some(ida.clone()),
            ..query()
        },
    )
    .unwrap();
    assert_eq!(only_a.rows.len() as u64, a.events());

    // Export, like the local log's.
    let ex = fleet_export(
        &fs,
        FleetExportRequest {
            format: "jsonl".into(),
            query: FleetQuery {
                kiosk: Some(idb.clone()),
                ..query()
            },
        },
    )
    .unwrap();
    assert_eq!(ex.count, b.events());
    assert!(ex
        .path
        .starts_with(&reviewer.join("exports").display().to_string()));
    let text = std::fs::read_to_string(&ex.path).unwrap();
    assert_eq!(text.lines().count() as u64, b.events());
    let ex = fleet_export(
        &fs,
        FleetExportRequest {
            format: "ocsf".into(),
            query: query(),
        },
    )
    .unwrap();
    assert_eq!(ex.count, o.events);
    assert!(ex.path.ends_with(".ocsf.jsonl"));
    let bad = fleet_export(
        &fs,
        FleetExportRequest {
            format: "csv".into(),
            query: query(),
        },
    )
    .unwrap_err();
    assert_eq!(bad.code, Code::SyncConfig);

    // Someone with write access overwrites one of b's events (a new latest
    // version): the next read says which kiosk and where, a stays verified.
    let admin = Remote::open(&countersign_sync::SyncConfig::for_endpoint(
        &weed.endpoint(),
        "fleet",
        TEST_KEY,
        TEST_SECRET,
    ))
    .unwrap();
    rt().block_on(async {
        let listed = admin.list(&format!("{idb}/events/")).await.unwrap();
        let mut keys: Vec<String> = listed.iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        let victim = &keys[2]; // seq 3
        let (_, bytes) = admin.get_bytes(victim, None).await.unwrap();
        // Backdate it by a minute.
        let mut obj: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let ts = obj["ts_ms"].as_i64().unwrap();
        obj["ts_ms"] = (ts - 60_000).into();
        let edited = serde_json::to_vec(&obj).unwrap();
        admin
            .put_store()
            .put(&OPath::from(victim.as_str()), PutPayload::from(edited))
            .await
            .unwrap();
    });
    let o = fleet_open(&fs).unwrap();
    assert!(!o.all_ok);
    let rb = o.kiosks.iter().find(|r| r.kiosk == idb).unwrap();
    assert!(!rb.ok && rb.problem_count > 0, "{rb:?}");
    assert_eq!(rb.verified_through, 2, "{rb:?}");
    assert!(rb.problems[0].contains("seq 3"), "{:?}", rb.problems);
    assert!(o.kiosks.iter().find(|r| r.kiosk == ida).unwrap().ok);
}
