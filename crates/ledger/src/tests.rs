//! In-memory unit tests of the public API.

use serde_json::json;

use super::*;

pub(crate) fn ev(
    ts: i64,
    kind: &str,
    person: Option<&str>,
    outcome: Option<&str>,
    case: Option<&str>,
) -> NewEvent {
    NewEvent {
        ts_ms: ts,
        kind: kind.into(),
        index: EventIndex {
            person: person.map(Into::into),
            supervisor: case.map(|_| "sup".into()),
            outcome: outcome.map(Into::into),
            trigger: Some(if ts % 2 == 0 { "risk" } else { "schedule" }.into()),
            case_id: case.map(Into::into),
        },
        body: json!({"ts": ts, "z": 1, "a": {"y": [1, 2], "b": null}}),
    }
}

pub(crate) fn ledger() -> Ledger {
    Ledger::open_in_memory(Keys::for_tests()).unwrap()
}

#[test]
fn chain_round_trip_links_hashes_and_stores_canonical_body() {
    let mut l = ledger();
    assert!(l.head().unwrap().is_none());
    let a = l
        .append(&ev(10, "stepup.requested", Some("alice"), None, None))
        .unwrap();
    let bs = l
        .append_batch(&[
            ev(11, "match.attempt", Some("alice"), Some("success"), None),
            ev(12, "x", None, None, None),
        ])
        .unwrap();
    assert_eq!((a.seq, bs[0].seq, bs[1].seq), (1, 2, 3));
    let r1 = l.get(1).unwrap().unwrap();
    let r2 = l.get(2).unwrap().unwrap();
    assert_eq!(r1.prev_hash_hex, "00".repeat(32));
    assert_eq!(r2.prev_hash_hex, r1.hash_hex);
    assert_eq!(r1.hash_hex, a.hash_hex);
    assert_eq!(r2.body, ev(11, "", None, None, None).body);
    assert_eq!(r2.index.outcome.as_deref(), Some("success"));
    let text: String = l
        .conn
        .query_row("SELECT body FROM events WHERE seq = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, r#"{"a":{"b":null,"y":[1,2]},"ts":10,"z":1}"#);
    let expect = row_hash(1, 10, "stepup.requested", &r1.index, &text, &[0u8; 32]);
    assert_eq!(hex::encode(expect), r1.hash_hex);
    assert_eq!(l.head().unwrap().unwrap(), bs[1]);
    assert!(l.get(4).unwrap().is_none());
    let rep = l.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!(rep.events, 3);
}

#[test]
fn empty_kind_is_rejected_and_nothing_is_written() {
    let mut l = ledger();
    let err = l
        .append_batch(&[ev(1, "ok", None, None, None), ev(2, " ", None, None, None)])
        .unwrap_err();
    assert!(matches!(err, LedgerError::Invalid(_)), "{err}");
    assert!(
        l.head().unwrap().is_none(),
        "a failed batch must leave no rows"
    );
}

#[test]
fn triggers_refuse_update_and_delete() {
    let mut l = ledger();
    l.append(&ev(1, "a", None, None, None)).unwrap();
    assert!(l
        .conn
        .execute("UPDATE events SET body = '{}' WHERE seq = 1", [])
        .is_err());
    assert!(l
        .conn
        .execute("DELETE FROM events WHERE seq = 1", [])
        .is_err());
    assert!(l.verify().unwrap().ok());
}

fn populated() -> Ledger {
    let mut l = ledger();
    let mut evs = Vec::new();
    for i in 0..30i64 {
        let person = ["alice", "bob", "carol"][(i % 3) as usize];
        let outcome = if i % 5 == 0 { "failure" } else { "success" };
        evs.push(ev(
            1000 + i,
            "match.attempt",
            Some(person),
            Some(outcome),
            None,
        ));
    }
    evs.push(ev(
        2000,
        KIND_OVERRIDE_GRANTED,
        Some("alice"),
        Some("granted"),
        Some("c1"),
    ));
    evs.push(ev(
        2001,
        KIND_OVERRIDE_GRANTED,
        Some("bob"),
        Some("granted"),
        Some("c2"),
    ));
    evs.push(ev(
        2002,
        KIND_OVERRIDE_REVIEWED,
        Some("alice"),
        Some("upheld"),
        Some("c1"),
    ));
    evs.push(ev(
        2003,
        KIND_OVERRIDE_GRANTED,
        Some("carol"),
        Some("granted"),
        Some("c3"),
    ));
    l.append_batch(&evs).unwrap();
    l
}

fn all(l: &Ledger, f: &Filter) -> Vec<u64> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let p = l
            .query(
                f,
                &PageRequest {
                    after_seq: after,
                    limit: 4,
                    newest_first: false,
                },
            )
            .unwrap();
        out.extend(p.rows.iter().map(|r| r.seq));
        match p.next_after {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

#[test]
fn keyset_paging_covers_everything_once_in_both_directions() {
    let l = populated();
    let asc = all(&l, &Filter::default());
    assert_eq!(asc, (1..=34).collect::<Vec<_>>());
    let p1 = l
        .query(
            &Filter::default(),
            &PageRequest {
                after_seq: None,
                limit: 10,
                newest_first: true,
            },
        )
        .unwrap();
    assert_eq!(p1.rows.first().unwrap().seq, 34);
    assert_eq!(p1.next_after, Some(25));
    let p2 = l
        .query(
            &Filter::default(),
            &PageRequest {
                after_seq: p1.next_after,
                limit: 10,
                newest_first: true,
            },
        )
        .unwrap();
    assert_eq!(p2.rows.first().unwrap().seq, 24);
    let last = l
        .query(
            &Filter::default(),
            &PageRequest {
                after_seq: Some(4),
                limit: 10,
                newest_first: true,
            },
        )
        .unwrap();
    assert_eq!(
        last.rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    assert_eq!(last.next_after, None);
    assert!(matches!(
        l.query(
            &Filter::default(),
            &PageRequest {
                after_seq: None,
                limit: 0,
                newest_first: false
            }
        ),
        Err(LedgerError::Invalid(_))
    ));
}

#[test]
fn each_filter_selects_exactly_the_matching_rows() {
    let l = populated();
    let f = |f: Filter| all(&l, &f);
    // seq = i + 1 for the 30 match attempts (ts 1000 + i).
    let alice: Vec<u64> = (0..30)
        .filter(|i| i % 3 == 0)
        .map(|i| i + 1)
        .chain([31, 33])
        .collect();
    assert_eq!(
        f(Filter {
            person: Some("alice".into()),
            ..Default::default()
        }),
        alice
    );
    assert_eq!(
        f(Filter {
            from_ms: Some(1010),
            to_ms: Some(1013),
            ..Default::default()
        }),
        vec![11, 12, 13]
    );
    assert_eq!(
        f(Filter {
            outcome: Some("failure".into()),
            ..Default::default()
        }),
        vec![1, 6, 11, 16, 21, 26]
    );
    assert_eq!(
        f(Filter {
            kinds: vec![KIND_OVERRIDE_REVIEWED.into()],
            ..Default::default()
        }),
        vec![33]
    );
    assert_eq!(
        f(Filter {
            kinds: vec![KIND_OVERRIDE_REVIEWED.into(), KIND_OVERRIDE_GRANTED.into()],
            ..Default::default()
        }),
        vec![31, 32, 33, 34]
    );
    assert_eq!(
        f(Filter {
            supervisor: Some("sup".into()),
            ..Default::default()
        }),
        vec![31, 32, 33, 34]
    );
    assert_eq!(
        f(Filter {
            case_id: Some("c1".into()),
            ..Default::default()
        }),
        vec![31, 33]
    );
    let risk: Vec<u64> = (0..30)
        .filter(|i| i % 2 == 0)
        .map(|i| i + 1)
        .chain([31, 33])
        .collect();
    assert_eq!(
        f(Filter {
            trigger: Some("risk".into()),
            ..Default::default()
        }),
        risk
    );
    assert_eq!(
        f(Filter {
            person: Some("bob".into()),
            outcome: Some("failure".into()),
            from_ms: Some(1005),
            ..Default::default()
        }),
        vec![11, 26]
    );
}

#[test]
fn pending_review_lists_grants_without_review() {
    let mut l = populated();
    let f = Filter {
        pending_review: true,
        ..Default::default()
    };
    assert_eq!(all(&l, &f), vec![32, 34]);
    l.append(&ev(
        3000,
        KIND_OVERRIDE_REVIEWED,
        None,
        Some("upheld"),
        Some("c3"),
    ))
    .unwrap();
    assert_eq!(all(&l, &f), vec![32]);
    assert_eq!(
        all(
            &l,
            &Filter {
                pending_review: true,
                person: Some("alice".into()),
                ..Default::default()
            }
        ),
        Vec::<u64>::new()
    );
    // The plan uses the (kind, case_id) index for the NOT EXISTS lookup.
    let plan: Vec<String> = {
        let (w, _) = events::where_clause(&f);
        let mut s = l
            .conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT e.seq FROM events e WHERE {w}"
            ))
            .unwrap();
        s.query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert!(
        plan.iter().any(|p| p.contains("events_kind_case")),
        "{plan:?}"
    );
}

#[test]
fn checkpoints_sign_rfc6962_roots_of_new_ranges() {
    let mut l = ledger();
    assert!(l.checkpoint(1).unwrap().is_none());
    let refs = l
        .append_batch(&[
            ev(1, "a", None, None, None),
            ev(2, "b", None, None, None),
            ev(3, "c", None, None, None),
        ])
        .unwrap();
    let h: Vec<[u8; 32]> = refs
        .iter()
        .map(|r| hex::decode(&r.hash_hex).unwrap().try_into().unwrap())
        .collect();
    let c1 = l.checkpoint(100).unwrap().unwrap();
    assert_eq!(
        (c1.n, c1.first_seq, c1.last_seq, c1.tree_size),
        (1, 1, 3, 3)
    );
    let by_hand = node_hash(
        &node_hash(&leaf_hash(&h[0]), &leaf_hash(&h[1])),
        &leaf_hash(&h[2]),
    );
    assert_eq!(c1.root_hash_hex, hex::encode(by_hand));
    assert!(l.checkpoint(101).unwrap().is_none());
    let r4 = l.append(&ev(4, "d", None, None, None)).unwrap();
    assert!(l.maybe_checkpoint(102, 2).unwrap().is_none());
    let r5 = l.append(&ev(5, "e", None, None, None)).unwrap();
    let c2 = l.maybe_checkpoint(103, 2).unwrap().unwrap();
    assert_eq!(
        (c2.n, c2.first_seq, c2.last_seq, c2.tree_size),
        (2, 4, 5, 2)
    );
    let h4: [u8; 32] = hex::decode(&r4.hash_hex).unwrap().try_into().unwrap();
    let h5: [u8; 32] = hex::decode(&r5.hash_hex).unwrap().try_into().unwrap();
    assert_eq!(
        c2.root_hash_hex,
        hex::encode(node_hash(&leaf_hash(&h4), &leaf_hash(&h5)))
    );
    assert_eq!(l.checkpoints().unwrap(), vec![c1, c2]);
    let rep = l.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!(rep.checkpoints, 2);
}

#[test]
fn blobs_seal_round_trip_idempotent_and_purge() {
    let mut l = ledger();
    let a = l
        .put_blob(
            b"face crop bytes",
            "image/png",
            100,
            EventIndex {
                person: Some("alice".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(a.newly_stored);
    assert_eq!(a.sealed.seq, 1);
    let again = l
        .put_blob(b"face crop bytes", "image/png", 999, EventIndex::default())
        .unwrap();
    assert!(!again.newly_stored);
    assert_eq!(again.sealed, a.sealed);
    assert_eq!(
        l.head().unwrap().unwrap().seq,
        1,
        "idempotent put must not append"
    );
    let b = l
        .put_blob(b"newer", "image/png", 500, EventIndex::default())
        .unwrap();
    assert_eq!(l.get_blob(&a.sha256_hex).unwrap(), b"face crop bytes");
    let sealed = l.get(1).unwrap().unwrap();
    assert_eq!(sealed.kind, KIND_BLOB_SEALED);
    assert_eq!(
        sealed.body,
        json!({"sha256": a.sha256_hex, "size": 15, "media_type": "image/png"})
    );
    // Ciphertext does not contain the plaintext.
    let ct: Vec<u8> = l
        .conn
        .query_row(
            "SELECT ciphertext FROM blobs WHERE sealed_seq = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!ct.windows(4).any(|w| w == b"face"));
    assert!(matches!(
        l.get_blob(&"ab".repeat(32)),
        Err(LedgerError::NotFound(_))
    ));

    assert_eq!(l.purge_blobs(200, 1000, "retention 30d").unwrap(), 1);
    let err = l.get_blob(&a.sha256_hex).unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Purged {
                purged_ms: 1000,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("face crop"));
    assert_eq!(l.get_blob(&b.sha256_hex).unwrap(), b"newer");
    let purged = l.get(3).unwrap().unwrap();
    assert_eq!(purged.kind, KIND_BLOB_PURGED);
    assert_eq!(purged.body["reason"], "retention 30d");
    assert_eq!(l.purge_blobs(200, 1001, "again").unwrap(), 0);
    assert!(matches!(
        l.put_blob(b"face crop bytes", "image/png", 1, EventIndex::default()),
        Err(LedgerError::Purged { .. })
    ));
    let rep = l.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!((rep.blobs, rep.purged_blobs), (2, 1));
}

#[test]
fn exports_write_one_line_per_event_with_ocsf_fields() {
    let mut l = populated();
    let mut body = ev(
        4000,
        KIND_OVERRIDE_GRANTED,
        Some("dave"),
        Some("granted"),
        Some("c9"),
    );
    body.body = json!({"override_id": "ov-9", "reason_code": "sensor_fault", "scope": "door-3",
                       "expires_at": 5000, "compensating_control": "escort", "disposition": "pending"});
    l.append(&body).unwrap();
    let mut out = Vec::new();
    assert_eq!(l.export_jsonl(&Filter::default(), &mut out).unwrap(), 35);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 35);
    let first: EventRow = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first, l.get(1).unwrap().unwrap());

    let mut out = Vec::new();
    let f = Filter {
        person: Some("dave".into()),
        ..Default::default()
    };
    assert_eq!(l.export_ocsf(&f, &mut out).unwrap(), 1);
    let o: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // A grant: Authorize Session (3003), Assign Privileges, with its scope.
    assert_eq!(o["class_uid"], 3003);
    assert_eq!(o["class_name"], "Authorize Session");
    assert_eq!(o["category_uid"], 3);
    assert_eq!(o["activity_id"], 1);
    assert_eq!(o["type_uid"], 300301);
    assert_eq!(o["privileges"], json!(["door-3"]));
    assert_eq!(o["status_id"], 1);
    assert_eq!(o["severity_id"], 3);
    assert_eq!(o["time"], 4000);
    assert_eq!(o["user"]["uid"], "dave");
    assert_eq!(o["metadata"]["product"]["name"], "Countersign");
    assert_eq!(o["metadata"]["version"], "1.5.0");
    assert_eq!(o["metadata"]["uid"], l.get(35).unwrap().unwrap().hash_hex);
    assert_eq!(o["metadata"]["original_time"], "1970-01-01T00:00:04Z");
    let ov = &o["countersign_override"];
    assert_eq!(ov["override_id"], "ov-9");
    assert_eq!(ov["case_id"], "c9");
    assert_eq!(ov["supervisor"], "sup");
    assert_eq!(ov["reason_code"], "sensor_fault");
    assert_eq!(ov["scope"], "door-3");
    assert_eq!(ov["expires_at"], 5000);
    assert_eq!(ov["compensating_control"], "escort");
    assert_eq!(ov["trigger"], "risk");
    assert_eq!(ov["disposition"], "pending");

    let mut out = Vec::new();
    let f = Filter {
        outcome: Some("failure".into()),
        ..Default::default()
    };
    assert_eq!(l.export_ocsf(&f, &mut out).unwrap(), 6);
    for line in String::from_utf8(out).unwrap().lines() {
        let o: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (
                o["activity_id"].as_u64(),
                o["type_uid"].as_u64(),
                o["status_id"].as_u64()
            ),
            (Some(1), Some(300201), Some(2))
        );
        assert_eq!(
            o["class_uid"], 3002,
            "a failed match is an Authentication Logon"
        );
        assert!(o.get("countersign_override").is_none());
    }
}

#[test]
fn disk_quota_gives_disk_full_and_rolls_back() {
    let mut l = ledger();
    l.append(&ev(1, "a", None, None, None)).unwrap();
    let pages: u64 = l
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64;
    l.set_max_page_count(pages).unwrap();
    let big = NewEvent {
        body: json!({"pad": "x".repeat(20_000)}),
        ..ev(2, "b", None, None, None)
    };
    let err = l.append(&big).unwrap_err();
    assert!(matches!(err, LedgerError::DiskFull { .. }), "{err}");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(l.head().unwrap().unwrap().seq, 1);
    assert!(l.verify().unwrap().ok());
}
