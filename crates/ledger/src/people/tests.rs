//! Unit tests of the people registry (in-memory ledger).

use crate::tests::{ev, ledger};
use crate::{LedgerError, PersonRecord};

#[test]
fn people_registry_crud_and_sealed_totp() {
    let mut l = ledger();
    let p = PersonRecord {
        id: "alice".into(),
        display_name: "Alice".into(),
        roles: vec!["operator".into()],
        secret_phc: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        totp_secret: Some(b"12345678901234567890".to_vec()),
        failed_auths: 0,
        locked: false,
        created_ms: 5,
    };
    let people = l.people();
    people.insert(&p).unwrap();
    assert!(matches!(
        people.insert(&p),
        Err(LedgerError::AlreadyExists(_))
    ));
    assert_eq!(people.get("alice").unwrap().unwrap(), p);
    assert!(people.get("nobody").unwrap().is_none());
    assert!(!format!("{p:?}").contains("1234567890"));
    people.set_roles("alice", &["supervisor".into()]).unwrap();
    assert_eq!(people.record_auth_failure("alice").unwrap(), 1);
    assert_eq!(people.record_auth_failure("alice").unwrap(), 2);
    people.set_locked("alice", true).unwrap();
    let got = people.get("alice").unwrap().unwrap();
    assert_eq!(
        (got.roles.clone(), got.failed_auths, got.locked),
        (vec!["supervisor".to_string()], 2, true)
    );
    people.reset_auth_failures("alice").unwrap();
    people.set_credentials("alice", None, Some(b"new")).unwrap();
    let got = people.get("alice").unwrap().unwrap();
    assert_eq!(
        (got.failed_auths, got.secret_phc, got.totp_secret),
        (0, None, Some(b"new".to_vec()))
    );
    assert!(matches!(
        people.set_locked("bob", true),
        Err(LedgerError::NotFound(_))
    ));
    assert!(matches!(
        people.record_auth_failure("bob"),
        Err(LedgerError::NotFound(_))
    ));
    people
        .insert(&PersonRecord {
            id: "bob".into(),
            totp_secret: None,
            ..p.clone()
        })
        .unwrap();
    assert_eq!(
        people
            .list()
            .unwrap()
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        vec!["alice", "bob"]
    );
    let raw: Vec<u8> = l
        .conn
        .query_row("SELECT totp_sealed FROM people WHERE id='alice'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_ne!(raw, b"new");
}

#[test]
fn a_people_change_and_its_events_commit_together_or_not_at_all() {
    let mut l = ledger();
    let p = PersonRecord {
        id: "alice".into(),
        display_name: "Alice".into(),
        roles: vec!["operator".into()],
        secret_phc: None,
        totp_secret: None,
        failed_auths: 0,
        locked: false,
        created_ms: 5,
    };
    let added = ev(1, "person.added", Some("alice"), None, None);
    let ((), refs) = l
        .change_people(std::slice::from_ref(&added), |pp| pp.insert(&p))
        .unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(l.head().unwrap().map(|h| h.seq), Some(1));

    // The registry change fails (the id is taken): no event either.
    let e = l.change_people(&[added], |pp| pp.insert(&p)).unwrap_err();
    assert!(matches!(e, LedgerError::AlreadyExists(_)), "{e}");
    assert_eq!(
        l.head().unwrap().map(|h| h.seq),
        Some(1),
        "no event without its change"
    );

    // The event is refused (empty kind): the registry change is rolled back.
    let bad = ev(2, "", Some("alice"), None, None);
    assert!(l
        .change_people(&[bad], |pp| pp.set_locked("alice", true))
        .is_err());
    assert!(
        !l.people().get("alice").unwrap().unwrap().locked,
        "no change without its event"
    );
    assert_eq!(l.head().unwrap().map(|h| h.seq), Some(1));
}

mod fold {
    use serde_json::json;

    use crate::tests::ledger;
    use crate::{EventIndex, Ledger, NewEvent, PersonRecord, ProblemKind};

    fn pev(
        ts: i64,
        kind: &str,
        id: &str,
        outcome: Option<&str>,
        body: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            ts_ms: ts,
            kind: kind.into(),
            index: EventIndex {
                person: Some(id.into()),
                outcome: outcome.map(Into::into),
                ..Default::default()
            },
            body,
        }
    }

    fn rec(id: &str, roles: &[&str]) -> PersonRecord {
        PersonRecord {
            id: id.into(),
            display_name: id.to_uppercase(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            secret_phc: None,
            totp_secret: None,
            failed_auths: 0,
            locked: false,
            created_ms: 1,
        }
    }

    /// rita (reviewer, with credentials) and sam (supervisor, two failed
    /// sign-ins then locked and unlocked), each change with its event, the
    /// way the engine writes them.
    fn registry() -> Ledger {
        let mut l = ledger();
        for (id, roles) in [("rita", vec!["reviewer"]), ("sam", vec!["supervisor"])] {
            let r = rec(id, &roles);
            let added = pev(
                1,
                "person.added",
                id,
                None,
                json!({ "id": id, "display_name": r.display_name, "roles": roles }),
            );
            l.change_people(&[added], |p| p.insert(&r)).unwrap();
            let phc = format!("$argon2id$phc-of-{id}");
            let totp = format!("totp-of-{id}").into_bytes();
            let digest = l.credentials_digest(id, Some(&phc), Some(&totp));
            let set = pev(
                2,
                "person.credentials_set",
                id,
                None,
                json!({ "id": id, "credentials_digest": digest }),
            );
            l.change_people(&[set], |p| p.set_credentials(id, Some(&phc), Some(&totp)))
                .unwrap();
        }
        for n in 1..=2u32 {
            let f = pev(
                3,
                "supervisor.auth",
                "sam",
                Some("failure"),
                json!({ "refusal": "auth_failed", "failed": n, "locked": n == 2 }),
            );
            l.change_people(&[f], |p| {
                p.record_auth_failure("sam")?;
                if n == 2 {
                    p.set_locked("sam", true)?;
                }
                Ok(())
            })
            .unwrap();
        }
        let u = pev(4, "person.unlocked", "sam", None, json!({ "id": "sam" }));
        l.change_people(&[u], |p| {
            p.set_locked("sam", false)?;
            p.reset_auth_failures("sam")
        })
        .unwrap();
        let f = pev(
            5,
            "supervisor.auth",
            "sam",
            Some("failure"),
            json!({ "refusal": "auth_failed", "failed": 1, "locked": false }),
        );
        l.change_people(&[f], |p| p.record_auth_failure("sam").map(|_| ()))
            .unwrap();
        let roles = pev(
            6,
            "person.roles_changed",
            "rita",
            None,
            json!({ "id": "rita", "from": ["reviewer"], "to": ["reviewer", "operator"] }),
        );
        l.change_people(&[roles], |p| {
            p.set_roles("rita", &["reviewer".into(), "operator".into()])
        })
        .unwrap();
        l
    }

    fn mismatches(l: &Ledger) -> Vec<String> {
        l.verify()
            .unwrap()
            .problems
            .into_iter()
            .filter(|p| p.what == ProblemKind::RegistryMismatch)
            .map(|p| p.detail)
            .collect()
    }

    #[test]
    fn the_registry_written_with_its_events_verifies() {
        let l = registry();
        assert!(l.verify().unwrap().ok(), "{:?}", l.verify().unwrap());
        assert_eq!(l.verify_person("rita").unwrap(), Ok(()));
        assert_eq!(l.verify_person("sam").unwrap(), Ok(()));
        assert_eq!(l.verify_person("nobody").unwrap(), Ok(()));
    }

    #[test]
    fn each_column_changed_outside_the_engine_is_named() {
        let edits = [
            ("UPDATE people SET roles = '[\"reviewer\",\"supervisor\"]' WHERE id = 'rita'", "rita", "roles"),
            ("UPDATE people SET display_name = 'Admin' WHERE id = 'rita'", "rita", "display name"),
            ("UPDATE people SET locked = 1 WHERE id = 'sam'", "sam", "locked"),
            ("UPDATE people SET failed_auths = 0 WHERE id = 'sam'", "sam", "failed"),
            ("UPDATE people SET secret_phc = (SELECT secret_phc FROM people WHERE id = 'sam') WHERE id = 'rita'", "rita", "credentials"),
            ("UPDATE people SET totp_nonce = (SELECT totp_nonce FROM people WHERE id = 'sam'), totp_sealed = (SELECT totp_sealed FROM people WHERE id = 'sam') WHERE id = 'rita'", "rita", "TOTP"),
            ("UPDATE people SET secret_phc = NULL, totp_nonce = NULL, totp_sealed = NULL WHERE id = 'sam'", "sam", "credentials"),
            ("INSERT INTO people (id, display_name, roles, created_ms) VALUES ('eve', 'Eve', '[\"admin\"]', 0)", "eve", "no person.added"),
            ("DELETE FROM people WHERE id = 'sam'", "sam", "missing from the people table"),
        ];
        for (sql, who, what) in edits {
            let l = registry();
            l.conn.execute(sql, []).unwrap();
            let m = mismatches(&l);
            assert_eq!(m.len(), 1, "{sql}: {m:?}");
            assert!(m[0].starts_with(&format!("person {who}")), "{sql}: {m:?}");
            assert!(m[0].contains(what), "{sql}: {m:?}");
            if what != "missing from the people table" {
                let one = l.verify_person(who).unwrap();
                assert!(one.is_err(), "{sql}: verify_person({who}) = {one:?}");
            }
            let other = if who == "rita" { "sam" } else { "rita" };
            assert_eq!(l.verify_person(other).unwrap(), Ok(()), "{sql}");
        }
    }

    #[test]
    fn credentials_set_before_digests_are_unrecorded_until_attested() {
        let mut l = ledger();
        let r = rec("ada", &["admin"]);
        l.change_people(
            &[pev(
                1,
                "person.added",
                "ada",
                None,
                json!({ "display_name": "ADA", "roles": ["admin"] }),
            )],
            |p| p.insert(&r),
        )
        .unwrap();
        l.change_people(
            &[pev(
                2,
                "person.credentials_set",
                "ada",
                None,
                json!({ "id": "ada", "factors": ["pwd", "otp"] }),
            )],
            |p| p.set_credentials("ada", Some("$argon2id$x"), Some(b"t")),
        )
        .unwrap();
        let one = l.verify_person("ada").unwrap().unwrap_err();
        assert!(one.contains("before their digest was recorded"), "{one}");
        let d = l.credentials_digest("ada", Some("$argon2id$x"), Some(b"t"));
        l.append(&pev(
            3,
            "person.credentials_attested",
            "ada",
            None,
            json!({ "credentials_digest": d }),
        ))
        .unwrap();
        assert_eq!(l.verify_person("ada").unwrap(), Ok(()));
        assert!(l.verify().unwrap().ok());
    }

    #[test]
    fn the_digest_is_keyed_and_binds_the_person() {
        let a = ledger();
        let b = ledger();
        let d = a.credentials_digest("sam", Some("phc"), Some(b"totp"));
        assert_eq!(d, a.credentials_digest("sam", Some("phc"), Some(b"totp")));
        assert_ne!(
            d,
            b.credentials_digest("sam", Some("phc"), Some(b"totp")),
            "another kiosk's key"
        );
        assert_ne!(d, a.credentials_digest("sue", Some("phc"), Some(b"totp")));
        assert_ne!(d, a.credentials_digest("sam", Some("phc"), None));
        assert!(!d.contains("phc"));
    }
}
