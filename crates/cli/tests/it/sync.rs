//! `countersign sync status`: the ledger and the policy only (no server,
//! no credentials); the alert limit is the policy's `[sync]` section. The
//! uploads themselves are tested against a real SeaweedFS in crates/sync.

use serde_json::Value;

use crate::helpers::*;

fn status_json(cs: &Cs) -> Value {
    serde_json::from_str(&cs.ok(&["--json", "sync", "status"])).unwrap()
}

#[test]
fn sync_status_takes_its_alert_limit_from_the_policy_and_needs_no_credentials() {
    let cs = Cs::demo();
    let out = cs.ok(&["sync", "status"]);
    assert!(out.contains("sync not configured"), "{out}");
    let st = status_json(&cs);
    assert_eq!(st["configured"], false);
    assert_eq!(
        st["alert_after_ms"],
        60 * 60_000,
        "the default policy's 60 min"
    );
    assert!(st["queued_events"].as_u64().unwrap() > 0);
    assert_eq!(st["alert"], false, "fresh events are not past the limit");

    // The limit follows the policy in force (applied by an admin).
    let policy = cs.data.join("policy.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains("unsynced_alert_minutes = 60"));
    let new = cs.root().join("new-policy.toml");
    std::fs::write(
        &new,
        text.replace("unsynced_alert_minutes = 60", "unsynced_alert_minutes = 15"),
    )
    .unwrap();
    cs.admin_ok(&["policy", "apply", new.to_str().unwrap()], &[]);
    assert_eq!(status_json(&cs)["alert_after_ms"], 15 * 60_000);
    // Out of bounds: refused, naming key and line.
    std::fs::write(
        &new,
        text.replace("unsynced_alert_minutes = 60", "unsynced_alert_minutes = 0"),
    )
    .unwrap();
    let o = cs.admin_run(ADA, &["policy", "apply", new.to_str().unwrap()], &[]);
    let e = expect_error(&o, "policy.invalid", "an out-of-bounds policy");
    assert!(
        e.contains("sync.unsynced_alert_minutes") && e.contains("line"),
        "{e}"
    );
    assert_eq!(
        status_json(&cs)["alert_after_ms"],
        15 * 60_000,
        "a refused policy changes nothing"
    );

    // A sync.toml without credentials is enough to show the status, and
    // the endpoint is shown without the userinfo it carries.
    std::fs::write(
        cs.data.join("sync.toml"),
        "endpoint = \"https://AKIAUSER:hunter22@s3.example.internal\"\nbucket = \"evidence\"\n",
    )
    .unwrap();
    let out = cs.ok(&["sync", "status"]);
    assert!(
        out.contains("bucket evidence at https://s3.example.internal"),
        "{out}"
    );
    assert!(
        !out.contains("hunter22") && !out.contains("AKIAUSER"),
        "{out}"
    );
    // The old sync.toml key is refused with a pointer to the policy.
    std::fs::write(
        cs.data.join("sync.toml"),
        "bucket = \"evidence\"\nalert_after_secs = 3600\n",
    )
    .unwrap();
    let e = cs.fails(&["sync", "status"], "sync.config");
    assert!(e.contains("[sync] unsynced_alert_minutes"), "{e}");
}
