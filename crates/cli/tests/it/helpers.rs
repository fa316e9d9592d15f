//! Running the real `countersign` binary over a data dir in a temp dir.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_countersign");

/// Five failing scores: the consecutive-failure limit of the default policy.
pub const FIVE_FAILS: &str = "0.1,0.1,0.1,0.1,0.1";
pub const SCOPE: &str = "payments.approve";

/// A demo person with published credentials (see `crates/engine/src/datadir.rs`).
#[derive(Debug, Clone, Copy)]
pub struct Person {
    pub id: &'static str,
    pub pass: &'static str,
    pub totp: &'static str,
}

pub const SAM: Person = Person {
    id: "sam",
    pass: "sam-demo-pass",
    totp: "MNXXK3TUMVZHG2LHNYWWIYLN",
};
pub const SUE: Person = Person {
    id: "sue",
    pass: "sue-demo-pass",
    totp: "MNXXK3TUMVZHG2LHNYWXG5LF",
};
pub const RITA: Person = Person {
    id: "rita",
    pass: "rita-demo-pass",
    totp: "MNXXK3TUMVZHG2LHNYWXE2LU",
};
/// The demo administrator (published credentials, demo data dirs only).
pub const ADA: Person = Person {
    id: "ada",
    pass: "ada-demo-pass",
    totp: "MNXXK3TUMVZHG2LHNYWWCZDB",
};

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The TOTP code of a base32 secret, `steps_ahead` 30 s steps from now
/// (the policy accepts one step of skew, so 1 gives a fresh, valid code
/// when the current one was already spent).
pub fn totp_ahead(secret_b32: &str, steps_ahead: i64) -> String {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret_b32.trim_end_matches('=').as_bytes())
        .expect("TOTP secret is base32");
    countersign_core::auth::totp::code_at(&key, now_s() + 30 * steps_ahead, 30, 6)
}

pub fn totp(secret_b32: &str) -> String {
    totp_ahead(secret_b32, 0)
}

/// A six-digit code that is none of the codes the verifier accepts now.
pub fn wrong_totp(secret_b32: &str) -> String {
    let valid: Vec<String> = (-2..=2).map(|k| totp_ahead(secret_b32, k)).collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !valid.contains(c))
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// A data dir for one test. The dir is `<tmp>/data`, so it need not exist.
#[derive(Debug)]
pub struct Cs {
    _tmp: Option<TempDir>,
    pub data: PathBuf,
    /// This test's state dir (the kiosk's local anchor, outside the data
    /// dir): `<tmp>/state`, so no test touches the real home or another's.
    pub state: PathBuf,
    /// The last TOTP step each person's code was handed out for by
    /// [`Cs::fresh_code`] (a code is good once).
    used_steps: RefCell<BTreeMap<String, i64>>,
}

impl Cs {
    /// A data dir path that does not exist yet.
    pub fn uninit() -> Cs {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data = tmp.path().join("data");
        Cs {
            state: tmp.path().join("state"),
            _tmp: Some(tmp),
            data,
            used_steps: RefCell::default(),
        }
    }

    /// A data dir at `data` (owned by the caller); its state dir is
    /// `state` beside it (shared with a copy made beside the original).
    pub fn at(data: &Path) -> Cs {
        Cs {
            state: data
                .parent()
                .expect("a data dir has a parent")
                .join("state"),
            _tmp: None,
            data: data.to_path_buf(),
            used_steps: RefCell::default(),
        }
    }

    /// `init --demo` in a fresh temp dir.
    pub fn demo() -> Cs {
        let cs = Cs::uninit();
        cs.ok(&["init", "--demo"]);
        cs
    }

    /// The temp dir holding the data dir.
    pub fn root(&self) -> &Path {
        self.data.parent().unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .env_remove("COUNTERSIGN_DATA_DIR")
            .env_remove("COUNTERSIGN_SECRET")
            .env("COUNTERSIGN_STATE_DIR", &self.state)
            .env("RUST_BACKTRACE", "0")
            .current_dir(self.root());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(Stdio::null())
            .output()
            .expect("running countersign")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning countersign");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .expect("writing stdin");
        child.wait_with_output().expect("waiting for countersign")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        expect_ok(&self.run(args), &args.join(" "))
    }

    /// Runs and asserts a one-line `error[code]` failure; returns stderr.
    pub fn fails(&self, args: &[&str], code: &str) -> String {
        expect_error(&self.run(args), code, &args.join(" "))
    }

    /// A TOTP code of `p` for a step not handed out before by this `Cs`:
    /// the current step or the next (the policy accepts one step of skew);
    /// when both were spent, waits for the clock to move on.
    pub fn fresh_code(&self, p: Person) -> String {
        loop {
            let now = now_s() / 30;
            let mut used = self.used_steps.borrow_mut();
            let step = used.get(p.id).map_or(now, |l| (l + 1).max(now));
            if step <= now + 1 {
                used.insert(p.id.to_string(), step);
                return totp_ahead(p.totp, step - now);
            }
            drop(used);
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }

    /// An administrator's act with `admin`'s two factors (password in
    /// COUNTERSIGN_SECRET, a fresh code): `args` then `--by`, `--otp`.
    /// `env` adds variables (e.g. COUNTERSIGN_NEW_SECRET).
    pub fn admin_run(&self, admin: Person, args: &[&str], env: &[(&str, &str)]) -> Output {
        let code = self.fresh_code(admin);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--by", admin.id, "--otp", &code]);
        let mut envs = vec![("COUNTERSIGN_SECRET", admin.pass)];
        envs.extend_from_slice(env);
        self.run_env(&all, &envs)
    }

    /// [`Cs::admin_run`] by ada that must succeed; returns stdout.
    pub fn admin_ok(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        expect_ok(&self.admin_run(ADA, args, env), &args.join(" "))
    }

    /// Adds a person with a password and TOTP (ada's acts); returns them.
    pub fn add_authenticator(&self, id: &'static str, roles: &str) -> Person {
        self.admin_ok(&["people", "add", id, "--name", id, "--role", roles], &[]);
        self.give_credentials(id)
    }

    /// ada enrolls a password and TOTP for `id` (e.g. an operator who asks
    /// for break-glass); returns them.
    pub fn give_credentials(&self, id: &'static str) -> Person {
        let pass: &'static str = Box::leak(format!("{id}-secret-pass").into_boxed_str());
        let out = self.admin_ok(
            &["people", "credentials", id],
            &[("COUNTERSIGN_NEW_SECRET", pass)],
        );
        let secret = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("secret: "))
            .unwrap_or_else(|| panic!("the TOTP secret is printed: {out}"))
            .to_string();
        Person {
            id,
            pass,
            totp: Box::leak(secret.into_boxed_str()),
        }
    }

    /// `stepup` with five failing scores: exit 3, failure_limit fallback.
    /// Returns the session id.
    pub fn stepup_to_fallback(&self, operator: &str) -> String {
        let o = self.run(&[
            "stepup",
            "--operator",
            operator,
            "--scope",
            SCOPE,
            "--test-scores",
            FIVE_FAILS,
        ]);
        expect_exit(
            &o,
            3,
            "a step-up with 5 failed matches ends without success",
        );
        assert!(
            stdout(&o).contains("fallback offered: failure_limit"),
            "5 failures fire the failure_limit trigger\n{}",
            show(&o)
        );
        session_id(&o)
    }

    /// `override grant` by `sup` with its current code; returns the Output.
    pub fn grant(&self, session: &str, sup: Person, otp: &str, duration: &str) -> Output {
        self.run_env(
            &[
                "override",
                "grant",
                "--session",
                session,
                "--supervisor",
                sup.id,
                "--otp",
                otp,
                "--duration",
                duration,
                "--reason",
                "SENSOR_FAULT",
                "--note",
                "camera fogged",
                "--control",
                "second person watched",
            ],
            &[("COUNTERSIGN_SECRET", sup.pass)],
        )
    }

    /// Grant that must succeed; returns the override id.
    pub fn grant_ok(&self, session: &str, sup: Person, duration: &str) -> String {
        let o = self.grant(session, sup, &totp(sup.totp), duration);
        let out = expect_ok(&o, &format!("override grant by {}", sup.id));
        override_id(&out)
    }

    pub fn review(&self, id: &str, who: Person, otp: &str, disposition: &str) -> Output {
        self.run_env(
            &[
                "review",
                id,
                "--reviewer",
                who.id,
                "--otp",
                otp,
                "--disposition",
                disposition,
                "--notes",
                "checked with the operator",
            ],
            &[("COUNTERSIGN_SECRET", who.pass)],
        )
    }

    /// Asserts `log verify` passes; returns the number of events.
    pub fn verify_ok(&self) -> u64 {
        let out = self.ok(&["--json", "log", "verify"]);
        let v: Value = serde_json::from_str(&out).expect("log verify --json prints JSON");
        assert_eq!(
            v["problems"].as_array().map(|p| p.len()),
            Some(0),
            "the ledger verifies clean: {v}"
        );
        v["events"].as_u64().expect("event count")
    }

    pub fn overrides(&self) -> Vec<Value> {
        let out = self.ok(&["--json", "override", "list"]);
        match serde_json::from_str(&out).expect("override list --json prints JSON") {
            Value::Array(a) => a,
            v => panic!("override list --json is not an array: {v}"),
        }
    }

    pub fn override_by_id(&self, id: &str) -> Value {
        self.overrides()
            .into_iter()
            .find(|v| v["grant"]["id"] == id)
            .unwrap_or_else(|| panic!("override {id} is listed"))
    }

    /// Events as JSON (jsonl export to stdout).
    pub fn events(&self) -> Vec<Value> {
        self.ok(&["log", "export", "--format", "jsonl"])
            .lines()
            .map(|l| serde_json::from_str(l).expect("jsonl line"))
            .collect()
    }
}

pub fn expect_exit(o: &Output, code: i32, why: &str) {
    assert_eq!(o.status.code(), Some(code), "{why}\n{}", show(o));
}

pub fn expect_ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "`{what}` should succeed\n{}", show(o));
    stdout(o)
}

/// Non-zero exit, and stderr is exactly one line `error[code]: ...`.
pub fn expect_error(o: &Output, code: &str, what: &str) -> String {
    assert!(
        !o.status.success(),
        "`{what}` should fail with {code}\n{}",
        show(o)
    );
    assert_eq!(o.status.code(), Some(1), "errors exit 1\n{}", show(o));
    let err = stderr(o);
    assert_eq!(
        err.lines().count(),
        1,
        "an error is exactly one line on stderr\n{}",
        show(o)
    );
    assert!(
        err.starts_with(&format!("error[{code}]: ")),
        "`{what}` should fail with error[{code}]\n{}",
        show(o)
    );
    err
}

/// The step-up session id from `step-up <id> requested by ...`.
pub fn session_id(o: &Output) -> String {
    let out = stdout(o);
    let first = out.lines().next().unwrap_or_default();
    let id = first.split_whitespace().nth(1).unwrap_or_default();
    assert!(id.starts_with("stp-"), "no session id in\n{}", show(o));
    id.to_string()
}

/// The override id from `override <id> granted by ...`.
pub fn override_id(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with("override ") && l.contains(" granted by "))
        .unwrap_or_else(|| panic!("no grant line in {out}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

/// Copies a data dir (no symlinks, small files).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}
