use countersign_ledger::Filter;
use countersign_sync::fleet::Fleet;
use countersign_sync::testkit::{Weed, READ_ONLY_KEY, READ_ONLY_SECRET, TEST_KEY, TEST_SECRET};
use countersign_sync::{FleetCursor, FleetPageRequest, SyncConfig};
use object_store::path::Path as OPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_verifies_two_kiosks_from_the_bucket_alone_and_finds_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let weed = Weed::start(tmp.path());
    weed.create_locked_bucket("fleet", 1);
    let a = Kiosk::new("kiosk-a");
    let b = Kiosk::new("kiosk-b");
    fill(&mut a.ledger(), 120, "olga");
    fill(&mut b.ledger(), 80, "otto");
    for k in [&a, &b] {
        let s = k.syncer(&weed.endpoint(), "fleet", |_| {});
        s.run_until_caught_up(3).await.unwrap();
    }
    // The reviewer: the bucket with read-only credentials, no kiosk.
    let ro = SyncConfig::for_endpoint(&weed.endpoint(), "fleet", READ_ONLY_KEY, READ_ONLY_SECRET);
    let fleet = Fleet::open(&ro).unwrap();
    // (Those credentials really cannot write.)
    let denied = countersign_sync::Remote::open(&ro)
        .unwrap()
        .put_create("kiosk-z/kiosk.json", bytes::Bytes::from_static(b"{}"))
        .await
        .unwrap_err();
    assert!(!denied.to_string().contains(READ_ONLY_SECRET), "{denied}");
    assert!(
        denied.to_string().contains("Access Denied") || denied.to_string().contains("403"),
        "{denied}"
    );
    assert_eq!(
        fleet.list_kiosks().await.unwrap(),
        vec!["kiosk-a", "kiosk-b"]
    );
    let ra = fleet.verify_kiosk("kiosk-a").await.unwrap();
    assert!(ra.is_ok(), "{ra:?}");
    assert_eq!(
        (ra.events, ra.verified_through, ra.checkpoints, ra.blobs),
        (122, 122, 1, 2)
    );
    assert_eq!(
        ra.head_hash,
        Some(a.ledger().head().unwrap().unwrap().hash_hex)
    );
    let rb = fleet.verify_kiosk("kiosk-b").await.unwrap();
    assert!(rb.is_ok(), "{rb:?}");
    assert_eq!(rb.verified_through, 81);

    // Browse across kiosks with the local log's filters.
    let all = fleet.log(&[], &Filter::default()).await.unwrap();
    assert_eq!(all.len(), 122 + 81);
    let f = Filter {
        person: Some("otto".into()),
        outcome: Some("success".into()),
        ..Default::default()
    };
    let got = fleet.log(&[], &f).await.unwrap();
    assert!(!got.is_empty() && got.iter().all(|e| e.kiosk == "kiosk-b"));
    let local = b
        .ledger()
        .query(
            &f,
            &countersign_ledger::PageRequest {
                limit: 1000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(got.len(), local.rows.len());
    let pending = fleet
        .log(
            &[],
            &Filter {
                pending_review: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(pending.len(), 120 / 7 + 80 / 7);

    // The screen's view: one snapshot, both kiosks verified, events paged
    // across kiosks in time order with the same filters.
    let snap = fleet.snapshot(&[]).await.unwrap();
    assert!(snap.all_ok());
    let ids: Vec<&str> = snap.reports().iter().map(|r| r.kiosk.as_str()).collect();
    assert_eq!(ids, vec!["kiosk-a", "kiosk-b"]);
    for newest_first in [false, true] {
        let mut req = FleetPageRequest {
            limit: 7,
            newest_first,
            ..Default::default()
        };
        let mut seen: Vec<FleetCursor> = Vec::new();
        let mut pages = 0;
        loop {
            let p = snap.page(&Filter::default(), &req);
            pages += 1;
            assert!(p.rows.len() <= 7);
            seen.extend(p.rows.iter().map(|e| FleetCursor {
                ts_ms: e.ts_ms,
                kiosk: e.kiosk.clone(),
                seq: e.seq,
            }));
            match p.next_after {
                Some(c) => req.after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 122 + 81, "every event once");
        assert_eq!(pages, (122 + 81 + 6) / 7);
        let mut sorted = seen.clone();
        sorted.sort();
        if newest_first {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "in (time, kiosk, seq) order");
    }
    let p = snap.page(
        &f,
        &FleetPageRequest {
            limit: 1000,
            ..Default::default()
        },
    );
    assert_eq!(p.rows.len(), local.rows.len());
    assert!(p.next_after.is_none());
    let p = snap.page(
        &Filter {
            pending_review: true,
            ..Default::default()
        },
        &FleetPageRequest {
            limit: 3,
            newest_first: true,
            ..Default::default()
        },
    );
    assert_eq!(p.rows.len(), 3);
    assert!(p.rows.iter().all(|e| e.kind == "override.granted"));

    // One kiosk only, and the export of the same selection.
    let only_b = ["kiosk-b".to_string()];
    let all_req = FleetPageRequest {
        limit: 1000,
        ..Default::default()
    };
    let p = snap.page_in(&only_b, &Filter::default(), &all_req);
    assert_eq!(p.rows.len(), 81);
    assert!(p.rows.iter().all(|e| e.kiosk == "kiosk-b"));
    let mut out = Vec::new();
    let n = snap
        .export(&only_b, &f, countersign_sync::ExportFormat::Jsonl, &mut out)
        .unwrap();
    assert_eq!(n as usize, local.rows.len());
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), local.rows.len());
    assert!(lines.iter().all(|l| l["kiosk"] == "kiosk-b"));
    let mut out = Vec::new();
    let n = snap
        .export(
            &[],
            &Filter::default(),
            countersign_sync::ExportFormat::Ocsf,
            &mut out,
        )
        .unwrap();
    assert_eq!(n, 122 + 81);
    // Every record of the bucket's export is valid OCSF 1.5 by the
    // independent validator (ocsf-emitter from PyPI; scripts/ocsf-validate.sh).
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &out).unwrap();
    let check = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/ocsf-validate.sh"
        ))
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
    // The class the ledger's mapping gives the kind (OCSF 1.5).
    let kind = first["unmapped"]["kind"].as_str().unwrap();
    assert_eq!(
        first["class_uid"],
        countersign_ledger::ocsf_class(kind).class_uid,
        "{first}"
    );
    assert!(first["metadata"]["log_provider"]
        .as_str()
        .unwrap()
        .starts_with("kiosk-"));
    assert_eq!(
        first["unmapped"]["kiosk"],
        first["metadata"]["log_provider"]
    );
    assert!(matches!(
        "csv".parse::<countersign_sync::ExportFormat>(),
        Err(countersign_sync::SyncError::Config(_))
    ));

    // Tamper through the API: overwrite (new latest version) of one of
    // kiosk-b's events with an edited body.
    let store = countersign_sync::Remote::open(&SyncConfig::for_endpoint(
        &weed.endpoint(),
        "fleet",
        TEST_KEY,
        TEST_SECRET,
    ))
    .unwrap();
    let listed = store.list("kiosk-b/events/").await.unwrap();
    let victim = listed[10].location.to_string();
    let (_, bytes) = store.get_bytes(&victim, None).await.unwrap();
    let edited = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("otto", "mallory");
    store
        .put_store()
        .put(
            &OPath::from(victim.as_str()),
            PutPayload::from(edited.into_bytes()),
        )
        .await
        .unwrap();
    let rb = fleet.verify_kiosk("kiosk-b").await.unwrap();
    assert!(!rb.is_ok());
    assert_eq!(rb.verified_through, 10, "{rb:?}");
    assert!(rb.problems[0].contains("seq 11"), "{:?}", rb.problems);
    assert!(fleet.verify_kiosk("kiosk-a").await.unwrap().is_ok());
}
