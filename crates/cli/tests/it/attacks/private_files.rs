//! Issue 13, item 10: files are private. Another user on the kiosk must
//! read nothing of the data dir (the ledger holds argon2 hashes and TOTP
//! secrets sealed under a key kept beside it) and write nothing: the data
//! dir and its dirs are 0700, every file 0600, whatever the umask of the
//! process that made them, and the engine refuses a data dir that group or
//! other can write (`datadir.insecure`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use countersign_assertion::signed_request::{public_key_hex, sign_request};
use countersign_assertion::SigningKey;

use super::api_server::{basic, now_s, raw, umask_command, ApiProc};
use crate::helpers::*;

const APP_SECRET: &str = "payments-app-secret-0123";

/// Runs `countersign` under `umask`; asserts success.
/// ada's act under `umask`: her password and a fresh code, `new_secret`
/// as COUNTERSIGN_NEW_SECRET (a client's secret); asserts success.
fn admin_umask(cs: &Cs, umask: &str, args: &[&str], new_secret: Option<&str>) -> String {
    let code = cs.fresh_code(ADA);
    let mut all = args.to_vec();
    all.extend(["--by", ADA.id, "--otp", &code]);
    let mut c = umask_command(cs, umask, &all);
    c.env("COUNTERSIGN_SECRET", ADA.pass);
    if let Some(s) = new_secret {
        c.env("COUNTERSIGN_NEW_SECRET", s);
    }
    let o = c.stdin(Stdio::null()).output().unwrap();
    expect_ok(&o, &format!("umask {umask}: countersign {}", all.join(" ")))
}

fn ok_umask(cs: &Cs, umask: &str, args: &[&str], secret: Option<&str>) -> String {
    let mut c = umask_command(cs, umask, args);
    if let Some(s) = secret {
        c.env("COUNTERSIGN_SECRET", s);
    }
    let o = c.stdin(Stdio::null()).output().unwrap();
    expect_ok(
        &o,
        &format!("umask {umask}: countersign {}", args.join(" ")),
    )
}

/// Every entry under `root` (itself included) with its mode, no symlinks followed.
fn walk(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.clone(), m.is_dir(), m.permissions().mode() & 0o7777));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

fn assert_private(root: &Path, when: &str, expected: &[&str]) {
    let entries = walk(root);
    let wrong: Vec<String> = entries
        .iter()
        .filter(|(_, dir, mode)| *mode != if *dir { 0o700 } else { 0o600 })
        .map(|(p, dir, mode)| {
            format!(
                "{} ({}) {mode:04o}",
                p.display(),
                if *dir { "dir" } else { "file" }
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{when}: every dir of the data dir is 0700 and every file 0600; wrong:\n{}",
        wrong.join("\n")
    );
    // The walk saw what the flow wrote.
    let names: Vec<String> = entries
        .iter()
        .map(|(p, _, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in expected {
        assert!(
            names.iter().any(|n| n == f),
            "{when}: {f} exists: {names:?}"
        );
    }
}

const KIOSK_FILES: &[&str] = &[
    "countersign.json",
    "policy.toml",
    "ledger.db",
    "keys",
    "kiosk.ed25519",
    "kiosk.pub",
    "data.key",
];

/// init, a step-up to the fallback, a supervisor's grant, two clients and
/// the API (a Basic and a signed request), all under `umask`.
fn demo_flow(umask: &str) -> Cs {
    let cs = Cs::uninit();
    ok_umask(&cs, umask, &["init", "--demo"], None);
    let o = umask_command(
        &cs,
        umask,
        &[
            "stepup",
            "--operator",
            "olga",
            "--scope",
            SCOPE,
            "--test-scores",
            FIVE_FAILS,
        ],
    )
    .output()
    .unwrap();
    expect_exit(&o, 3, "five failed matches offer the fallback");
    let sid = session_id(&o);
    ok_umask(
        &cs,
        umask,
        &[
            "override",
            "grant",
            "--session",
            &sid,
            "--supervisor",
            SAM.id,
            "--otp",
            &totp(SAM.totp),
            "--duration",
            "5m",
            "--reason",
            "SENSOR_FAULT",
            "--note",
            "fogged",
            "--control",
            "watched",
        ],
        Some(SAM.pass),
    );
    admin_umask(
        &cs,
        umask,
        &[
            "client",
            "add",
            "payments-app",
            "--name",
            "Payments",
            "--scope",
            SCOPE,
        ],
        Some(APP_SECRET),
    );
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let key_file = cs.root().join("batch.pub");
    std::fs::write(&key_file, public_key_hex(&key.verifying_key())).unwrap();
    admin_umask(
        &cs,
        umask,
        &[
            "client",
            "add",
            "batch-app",
            "--name",
            "Batch",
            "--scope",
            SCOPE,
            "--public-key",
            key_file.to_str().unwrap(),
        ],
        None,
    );
    let api = ApiProc::start(&cs, umask);
    let body = br#"{"scope":["payments.approve"],"nonce":"n-1"}"#;
    let r = raw(
        api.addr,
        "POST",
        "/v1/stepup",
        Some(&basic("payments-app", APP_SECRET)),
        body,
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let h = sign_request(
        &key,
        "batch-app",
        "POST",
        "/v1/stepup",
        body,
        now_s(),
        "nonce-0123456789abcdef",
    );
    let r = raw(api.addr, "POST", "/v1/stepup", Some(&h), body);
    assert_eq!(r.status, 202, "{:?}", r.body);
    api.stop();
    cs
}

#[test]
fn other_users_cannot_read_or_write_the_data_dir_whatever_the_umask() {
    for umask in ["0022", "0000"] {
        let cs = demo_flow(umask);
        // SQLite removes -wal and -shm when the last connection closes: hold
        // one open (sqlite3 under the same umask) while the engine writes.
        let mut holder = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask}; exec sqlite3 ledger.db"))
            .current_dir(&cs.data)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("sqlite3 (scripts/setup.sh installs it)");
        {
            use std::io::Write;
            let stdin = holder.stdin.as_mut().unwrap();
            writeln!(stdin, "BEGIN; SELECT count(*) FROM events;").unwrap();
            stdin.flush().unwrap();
        }
        ok_umask(&cs, umask, &["log", "checkpoint"], None);
        let t = std::time::Instant::now();
        while !cs.data.join("ledger.db-shm").exists() {
            assert!(t.elapsed().as_secs() < 20, "sqlite3 opened the ledger");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let when = format!("after a demo flow under umask {umask}");
        let mut expected = KIOSK_FILES.to_vec();
        expected.extend([
            "clients.json",
            "api-nonces.json",
            // The API's TLS certificate and key (issue 14, item 1).
            "api-tls.pem",
            "ledger.db-wal",
            "ledger.db-shm",
        ]);
        assert_private(&cs.data, &when, &expected);
        drop(holder.stdin.take());
        holder.wait().unwrap();
        assert!(cs.verify_ok() > 0);
        assert_private(&cs.data, &when, KIOSK_FILES);
    }
}

#[test]
fn a_data_dir_others_can_write_is_refused() {
    let cs = Cs::demo();
    let set = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    // World-writable data dir: refused, naming it and its mode.
    set(&cs.data, 0o777);
    let err = cs.fails(&["log", "verify"], "datadir.insecure");
    assert!(
        err.contains(&cs.data.display().to_string()) && err.contains("0777"),
        "the refusal names the dir and its mode: {err}"
    );
    // Every use of the engine refuses it, not only verify.
    cs.fails(
        &[
            "stepup",
            "--operator",
            "olga",
            "--scope",
            SCOPE,
            "--test-scores",
            "0.9",
        ],
        "datadir.insecure",
    );
    set(&cs.data, 0o700);
    // A group-writable file inside (the policy someone could loosen).
    let policy = cs.data.join("policy.toml");
    set(&policy, 0o620);
    let err = cs.fails(&["log", "verify"], "datadir.insecure");
    assert!(err.contains("policy.toml") && err.contains("0620"), "{err}");
    set(&policy, 0o600);
    // A group-writable keys dir.
    set(&cs.data.join("keys"), 0o770);
    cs.fails(&["log", "verify"], "datadir.insecure");
    set(&cs.data.join("keys"), 0o700);
    // Readable by others (a data dir from an older version): narrowed on open.
    set(&cs.data.join("ledger.db"), 0o644);
    set(&cs.data, 0o755);
    cs.verify_ok();
    assert_private(&cs.data, "after an open narrowed the modes", KIOSK_FILES);
}
