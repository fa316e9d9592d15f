//! `client`, `principal` and `breakglass` commands on the real binary:
//! key registration from a file, principals naming their clients, pending
//! break-glass, a supervisor's denial, and the open-request list.

use crate::helpers::{expect_error, expect_ok, totp, Cs, Person, SAM, SCOPE};

/// otto (an operator with a password and TOTP given by ada) asks.
fn request(cs: &Cs, otto: Person) -> String {
    let code = cs.fresh_code(otto);
    let o = cs.run_env(
        &[
            "breakglass",
            "request",
            "--principal",
            "svc-batch",
            "--requester",
            otto.id,
            "--otp",
            &code,
            "--trigger",
            "rotation_broken",
            "--scope",
            SCOPE,
            "--detail",
            "the rotation job failed at 02:00",
        ],
        &[("COUNTERSIGN_SECRET", otto.pass)],
    );
    let out = expect_ok(&o, "breakglass request by otto");
    out.split_whitespace()
        .find(|w| w.starts_with("brk-"))
        .expect("a request id")
        .to_string()
}

#[test]
fn keys_principals_denial_and_pending_list() {
    let cs = Cs::demo();
    // A public key is read from a file, hex or PEM; anything else is refused.
    let bad = cs.root().join("bad.pub");
    std::fs::write(&bad, "not a key").unwrap();
    let bad = bad.to_str().unwrap().to_string();
    let o = cs.admin_run(
        crate::helpers::ADA,
        &[
            "client",
            "add",
            "batch-app",
            "--name",
            "Batch",
            "--scope",
            SCOPE,
            "--public-key",
            &bad,
        ],
        &[],
    );
    expect_error(&o, "input.invalid", "a malformed public key");
    let good = cs.root().join("batch.pub");
    // RFC 8032, test 1.
    std::fs::write(
        &good,
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n",
    )
    .unwrap();
    let good = good.to_str().unwrap().to_string();
    let out = cs.admin_ok(
        &[
            "client",
            "add",
            "batch-app",
            "--name",
            "Batch",
            "--scope",
            SCOPE,
            "--public-key",
            &good,
        ],
        &[],
    );
    assert!(out.contains("ed25519_public_key"), "{out}");
    assert_eq!(
        cs.ok(&["client", "requests"]).trim(),
        "no open step-up requests"
    );

    // A principal may only name registered clients.
    let o = cs.admin_run(
        crate::helpers::ADA,
        &[
            "principal",
            "add",
            "svc-batch",
            "--kind",
            "service_account",
            "--owner",
            "olga",
            "--scope",
            SCOPE,
            "--client",
            "ghost-app",
        ],
        &[],
    );
    expect_error(
        &o,
        "input.invalid",
        "a principal naming an unregistered client",
    );
    let out = cs.admin_ok(
        &[
            "principal",
            "add",
            "svc-batch",
            "--kind",
            "service_account",
            "--owner",
            "olga",
            "--scope",
            SCOPE,
            "--client",
            "batch-app",
        ],
        &[],
    );
    assert!(out.contains("asked over the API by batch-app"), "{out}");

    let otto = cs.give_credentials("otto");
    let id = request(&cs, otto);
    let pending = cs.ok(&["breakglass", "list", "--pending"]);
    assert!(
        pending.contains(&id) && pending.contains("by otto"),
        "{pending}"
    );

    // A denial needs the supervisor's two factors and a reason.
    let o = cs.run_stdin(
        &[
            "breakglass",
            "deny",
            &id,
            "--supervisor",
            "sam",
            "--otp",
            "000000",
            "--reason",
            "use the spare key",
        ],
        "wrong-pass\n",
    );
    expect_error(&o, "auth.auth_failed", "deny with a wrong password");
    let o = cs.run_stdin(
        &[
            "breakglass",
            "deny",
            &id,
            "--supervisor",
            "sam",
            "--otp",
            &totp(SAM.totp),
            "--reason",
            "use the spare key",
        ],
        &format!("{}\n", SAM.pass),
    );
    let out = expect_ok(&o, "breakglass deny");
    assert!(out.contains("denied by sam: use the spare key"), "{out}");
    assert!(!cs.ok(&["breakglass", "list", "--pending"]).contains(&id));
    assert!(cs.ok(&["breakglass", "list"]).contains("cancelled"));
    // Nothing can be granted on a denied request.
    let o = cs.run_stdin(
        &[
            "breakglass",
            "grant",
            &id,
            "--supervisor",
            "sue",
            "--otp",
            "000000",
            "--reason",
            "URGENT_BUSINESS",
            "--note",
            "n",
            "--control",
            "c",
        ],
        "sue-demo-pass\n",
    );
    expect_error(&o, "refused.invalid_transition", "grant after a denial");
    cs.verify_ok();
}
