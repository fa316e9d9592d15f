//! The registry, the policy and the admin's acts, and the ledger's
//! housekeeping (checkpoints, purges), through the engine on a real data dir.

use countersign_core::session::SessionEvent;
use countersign_core::Role;
use countersign_engine::kinds;

use crate::flows::{count, scope};
use crate::{demo, factors};

#[test]
fn people_admin_and_policy_change_evidence() {
    let mut f = demo();
    let pass = crate::admin(&mut f);
    f.engine
        .add_person(&pass, "nina", "Nina New", [Role::Operator])
        .unwrap();
    assert_eq!(
        f.engine
            .add_person(&pass, "nina", "Again", [Role::Operator])
            .unwrap_err()
            .code(),
        countersign_engine::Code::LedgerError
    );
    assert_eq!(
        f.engine
            .add_person(&pass, "Bad Id", "x", [Role::Operator])
            .unwrap_err()
            .code(),
        countersign_engine::Code::InputInvalid
    );
    assert_eq!(
        f.engine
            .set_credentials(&pass, "nobody", "long-enough")
            .unwrap_err()
            .code(),
        countersign_engine::Code::PersonUnknown
    );
    f.engine
        .set_roles(&pass, "nina", [Role::Operator, Role::Supervisor])
        .unwrap();
    let prov = f
        .engine
        .set_credentials(&pass, "nina", "long-enough")
        .unwrap();
    assert!(prov
        .otpauth_uri
        .starts_with("otpauth://totp/Countersign:nina?secret="));
    assert_eq!(count(&f, kinds::PERSON_ROLES_CHANGED), 1);
}

#[test]
fn checkpoints_follow_policy_and_samples_are_purged_on_schedule() {
    let mut f = demo();
    let every = f.engine.policy().retention.checkpoint_every;
    let mut s = f
        .engine
        .start_stepup(scope("payments.approve"), vec![], "app")
        .unwrap();
    f.engine.identify(&mut s, "olga").unwrap();
    while f.engine.ledger().head().unwrap().unwrap().seq < every + 1 {
        f.engine
            .apply(&mut s, SessionEvent::Cancel { reason: "x".into() })
            .ok();
        s = f
            .engine
            .start_stepup(scope("payments.approve"), vec![], "app")
            .unwrap();
        f.engine.identify(&mut s, "olga").unwrap();
    }
    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    assert_eq!(
        f.engine.ledger().checkpoints().unwrap().len(),
        1,
        "one checkpoint after {every} events"
    );

    let sample = b"not really a face, but sealed like one";
    let now = f.engine.now();
    let blob = f
        .engine
        .ledger_mut()
        .put_blob(sample, "image/jpeg", now, Default::default())
        .unwrap();
    f.clock.advance(89 * 86_400_000);
    assert_eq!(
        f.engine.purge_expired_samples().unwrap(),
        0,
        "kept within retention"
    );
    f.clock.advance(2 * 86_400_000);
    assert_eq!(f.engine.purge_expired_samples().unwrap(), 1);
    assert!(
        f.engine.ledger().get_blob(&blob.sha256_hex).is_err(),
        "ciphertext gone"
    );
    let r = f.engine.ledger().verify().unwrap();
    assert!(r.problems.is_empty() && r.purged_blobs == 1, "{r:?}");
}

#[test]
fn admin_acts_need_a_signed_in_admin_whose_pass_still_holds() {
    let mut f = demo();
    // sam is a supervisor: his own two factors do not make him an admin.
    let (secret, code) = factors(&f, "sam");
    assert_eq!(
        f.engine
            .admin_sign_in("sam", secret, &code, "people add mallory")
            .unwrap_err()
            .code(),
        countersign_engine::Code::AuthNotPermitted
    );
    // ada with a wrong code: refused, and counted.
    assert_eq!(
        f.engine
            .admin_sign_in("ada", "ada-demo-pass", "000000", "people add mallory")
            .unwrap_err()
            .code(),
        countersign_engine::Code::AuthAuthFailed
    );
    let pass = crate::admin(&mut f);
    assert_eq!(pass.admin(), "ada");
    f.engine
        .add_person(&pass, "mallory", "Mallory", [Role::Supervisor, Role::Admin])
        .unwrap();
    let added = f
        .engine
        .ledger()
        .latest(&countersign_ledger::Filter {
            kinds: vec![kinds::PERSON_ADDED.into()],
            ..Default::default()
        })
        .unwrap()
        .unwrap();
    assert_eq!(added.body["by"], "ada");
    // A pass lasts 15 minutes.
    f.clock.advance(countersign_engine::ADMIN_PASS_MS);
    assert_eq!(
        f.engine.unlock(&pass, "sam").unwrap_err().code(),
        countersign_engine::Code::AdminPassExpired
    );
    // A pass is worth only what its holder still is: ada demoted by another
    // admin cannot use the one she holds.
    let (secret, code) = factors(&f, "ada");
    let ada = f
        .engine
        .admin_sign_in("ada", secret, &code, "people credentials mallory")
        .unwrap();
    f.engine
        .set_credentials(&ada, "mallory", "mallory-pass")
        .unwrap();
    f.engine.set_roles(&ada, "ada", [Role::Reviewer]).unwrap();
    assert_eq!(
        f.engine
            .add_person(&ada, "eve", "Eve", [Role::Supervisor])
            .unwrap_err()
            .code(),
        countersign_engine::Code::RefusedMissingRole
    );
    assert!(f.engine.ledger().verify().unwrap().ok());
}
