//! End to end, real processes on 127.0.0.1 with an ephemeral port: the
//! kiosk API (`countersign api serve`), the headless step-up
//! (`countersign stepup --request`), a supervisor's override, and this
//! example app refusing, then approving, then refusing again when the
//! override is revoked and when it expires. The kiosk is a demo one (test
//! scores stand in for a face), so the app runs with `--accept-demo`; a
//! demo's assertion without it is refused.

mod breakglass;
mod flows;
mod pin;
mod standin;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const APP_SECRET: &str = "payments-app-secret-0123";

fn relying_app() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_relying-app"))
}

fn countersign() -> PathBuf {
    let p = relying_app().parent().unwrap().join("countersign");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build -p countersign-cli); `cargo test --workspace` does",
        p.display()
    );
    p
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The demo admin's published TOTP secret (demo data dirs only).
const ADA_TOTP: &str = "MNXXK3TUMVZHG2LHNYWWCZDB";

struct Kiosk {
    data: PathBuf,
}

impl Kiosk {
    /// A demo kiosk at `root/kiosk` with the payments app registered (its
    /// pin written beside the state dir).
    fn demo_with_payments_app(root: &Path) -> Kiosk {
        let k = Kiosk {
            data: root.join("kiosk"),
        };
        let o = k.cs(&["init", "--demo"], None);
        assert!(o.status.success(), "{}", text(&o));
        let o = k.admin(
            &[
                "client",
                "add",
                "payments-app",
                "--name",
                "Payments",
                "--scope",
                "payments.approve",
            ],
            Some(APP_SECRET),
            -1,
        );
        assert!(o.status.success(), "{}", text(&o));
        k
    }

    fn cs(&self, args: &[&str], secret: Option<&str>) -> Output {
        let mut c = Command::new(countersign());
        c.arg("--data-dir")
            .arg(&self.data)
            .arg("--state-dir")
            .arg(self.data.parent().unwrap().join("state"))
            .args(args)
            .stdin(Stdio::null());
        c.env_remove("COUNTERSIGN_SECRET");
        if let Some(s) = secret {
            c.env("COUNTERSIGN_SECRET", s);
        }
        c.output().unwrap()
    }
    /// An administrator's act: ada's password and her TOTP code of the 30 s
    /// step `step` away from now (-1, 0 or +1: the policy's skew), so that
    /// two acts in one test spend two different codes; `new_secret` is a
    /// client's secret (COUNTERSIGN_NEW_SECRET).
    fn admin(&self, args: &[&str], new_secret: Option<&str>, step: i64) -> Output {
        let key = data_encoding::BASE32_NOPAD
            .decode(ADA_TOTP.as_bytes())
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let code = countersign_core::auth::totp::code_at(&key, now + 30 * step, 30, 6);
        let mut all = args.to_vec();
        let pin = self.pin();
        if args.starts_with(&["client", "add"]) {
            all.extend(["--pin-out", pin.to_str().unwrap()]);
        }
        all.extend(["--by", "ada", "--otp", &code]);
        let mut c = Command::new(countersign());
        c.arg("--data-dir")
            .arg(&self.data)
            .arg("--state-dir")
            .arg(self.data.parent().unwrap().join("state"))
            .args(&all)
            .stdin(Stdio::null())
            .env("COUNTERSIGN_SECRET", "ada-demo-pass");
        c.env_remove("COUNTERSIGN_NEW_SECRET");
        if let Some(s) = new_secret {
            c.env("COUNTERSIGN_NEW_SECRET", s);
        }
        c.output().unwrap()
    }
    /// The kiosk pin `client add` wrote (`--pin-out`, beside the data dir).
    fn pin(&self) -> PathBuf {
        self.data.parent().unwrap().join("kiosk-pin.json")
    }
    fn totp(&self, base32: &str) -> String {
        text(&self.cs(&["totp", base32], None)).trim().to_string()
    }
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pin file of the kiosk of a test (see [`Kiosk::pin`]), found from
/// an app's state dir beside it.
fn pin_beside(state: &Path) -> PathBuf {
    state.parent().unwrap().join("kiosk-pin.json")
}

fn app(api: &str, state: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(relying_app())
        .args([
            "--api",
            api,
            "--client-id",
            "payments-app",
            "--accept-demo",
            "--state-dir",
        ])
        .arg(state)
        .args(args)
        .env("RELYING_APP_SECRET", APP_SECRET)
        .env("RELYING_APP_KIOSK_PIN", pin_beside(state))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), text(&o))
}

fn serve(k: &Kiosk, tmp: &Path) -> (Server, String) {
    let port_file = tmp.join("port");
    let child = Command::new(countersign())
        .arg("--data-dir")
        .arg(&k.data)
        .arg("--state-dir")
        .arg(k.data.parent().unwrap().join("state"))
        .args(["api", "serve", "--port", "0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let start = Instant::now();
    while !port_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "API did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let api = format!(
        "https://127.0.0.1:{}",
        std::fs::read_to_string(&port_file).unwrap().trim()
    );
    (server, api)
}

/// The app with a signed-request key instead of a secret.
fn keyed_app(api: &str, key: &Path, state: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(relying_app())
        .args([
            "--api",
            api,
            "--client-id",
            "batch-app",
            "--accept-demo",
            "--key",
        ])
        .arg(key)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("RELYING_APP_SECRET")
        .env("RELYING_APP_KIOSK_PIN", pin_beside(state))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), text(&o))
}
