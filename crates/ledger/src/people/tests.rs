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
