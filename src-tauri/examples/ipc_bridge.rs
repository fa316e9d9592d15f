//! The UI tests' bridge to the real service: the app's own commands
//! (`countersign_app::with_app_state`, the handler derived from
//! commands/table.rs) in a Tauri app on the mock runtime, answering HTTP on
//! 127.0.0.1 so the browser tests (ui/browser-tests) drive the production UI
//! against the real engine, ledger (SQLite file), matcher and replay camera
//! instead of a copy of their rules. Test-only: it is an example, never
//! installed, and it works only on demo data dirs made by the real
//! `countersign init --demo`.
//!
//! ```text
//! ipc_bridge --cli target/debug/countersign --faces assets/demo/faces
//! → prints `listening http://127.0.0.1:PORT`, then serves
//!   POST /reset            a fresh copy of the demo data dir (and state dir);
//!                          {"unplugged": true}: without its replay scenes;
//!                          {"uninitialised": true}: an empty data dir instead
//!   POST /ipc/<command>    JSON arguments → {"ok":true,"value":…} | {"ok":false,"error":…}
//!                          (always 200: a refusal is an answer, not a failed request)
//!   POST /clock/advance    {"ms": N}: moves the engine's clock forward
//! ```
//! It exits when its stdin closes (the test runner went away).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use countersign_app::config::Config;
use countersign_app::service::Shared;
use countersign_engine::{Clock, Engine, SystemClock};
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager as _, WebviewWindow, WebviewWindowBuilder};

/// The system clock plus an offset the tests move (`/clock/advance`), so a
/// 30-second throttle or a grant's expiry passes without waiting.
#[derive(Debug, Clone, Default)]
struct TestClock(Arc<AtomicI64>);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.load(Ordering::SeqCst)
    }
}

struct Current {
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(to)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Makes the template once with the real CLI, as a user would.
fn make_template(cli: &Path, faces: &Path, root: &Path) -> Result<(), String> {
    let out = std::process::Command::new(cli)
        .arg("--data-dir")
        .arg(root.join("data"))
        .args(["init", "--demo", "--demo-faces"])
        .arg(faces)
        .arg("--demo-fingers")
        .env("COUNTERSIGN_STATE_DIR", root.join("state"))
        .output()
        .map_err(|e| format!("running {}: {e}", cli.display()))?;
    if !out.status.success() {
        return Err(format!(
            "countersign init --demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// A fresh copy of the template, opened by a new app on the mock runtime.
/// What a page asks `/reset` for (its JSON body).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Reset {
    /// Without the replay scenes: the camera is gone.
    unplugged: bool,
    /// An empty data dir, as before `countersign init`.
    uninitialised: bool,
}

fn fresh(
    template: &Path,
    work: &Path,
    n: u32,
    clock: &TestClock,
    ask: &Reset,
) -> Result<Current, String> {
    let dir = work.join(format!("run-{n}"));
    clock.0.store(0, Ordering::SeqCst);
    if ask.uninitialised {
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).map_err(|e| e.to_string())?;
        countersign_engine::set_state_dir(dir.join("state"));
        return build(Shared::new(empty.clone()), empty);
    }
    copy_dir(&template.join("data"), &dir.join("data")).map_err(|e| e.to_string())?;
    copy_dir(&template.join("state"), &dir.join("state")).map_err(|e| e.to_string())?;
    // The anchor lives outside the data dir, one per kiosk id: each copy
    // gets its own, or the copies would look like forks of one kiosk.
    countersign_engine::set_state_dir(dir.join("state"));
    let data = dir.join("data");
    if ask.unplugged {
        // No scene left to replay: the camera is gone (device_unavailable).
        std::fs::remove_dir_all(data.join(countersign_engine::REPLAY_DIR))
            .map_err(|e| e.to_string())?;
    }
    let engine = Engine::open_with_clock(&data, Box::new(clock.clone()))
        .map_err(|e| format!("opening {}: {e}", data.display()))?;
    if !engine.is_demo() {
        return Err("the bridge serves demo data dirs only".into());
    }
    build(Shared::with_engine(engine), data)
}

/// The app on the mock runtime over `shared`, with its window.
fn build(shared: Shared, data: PathBuf) -> Result<Current, String> {
    let config = Config {
        kiosk: false,
        console: false,
        data_dir: data.clone(),
    };
    let app = countersign_app::with_app_state(mock_builder(), shared, config, |_| None)
        // The app's own context: its capability (the table's commands) is enforced.
        .build(tauri::generate_context!())
        .map_err(|e| e.to_string())?;
    app.manage(countersign_app::start_sync(app.handle().clone(), data));
    let webview = WebviewWindowBuilder::new(&app, countersign_app::MAIN_WINDOW, Default::default())
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Current { _app: app, webview })
}

fn invoke(webview: &WebviewWindow<MockRuntime>, cmd: &str, body: &[u8]) -> (u16, String) {
    let args: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let error =
                    serde_json::json!({"code": "bridge.bad_json", "message": e.to_string()});
                return (
                    200,
                    serde_json::json!({"ok": false, "error": error}).to_string(),
                );
            }
        }
    };
    let request = InvokeRequest {
        cmd: cmd.to_owned(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("a url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_owned(),
    };
    match tauri::test::get_ipc_response(webview, request) {
        Ok(InvokeResponseBody::Json(json)) => (200, format!(r#"{{"ok":true,"value":{json}}}"#)),
        Ok(InvokeResponseBody::Raw(bytes)) => (
            200,
            serde_json::json!({"ok": true, "value": String::from_utf8_lossy(&bytes)}).to_string(),
        ),
        Err(err) => (
            200,
            serde_json::json!({"ok": false, "error": err}).to_string(),
        ),
    }
}

fn arg(args: &[String], name: &str) -> Option<PathBuf> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The fingerprint helper runs as this same executable (see finger.rs).
    if countersign_app::finger::is_helper_invocation(&args) {
        std::process::exit(countersign_fingerprint::helper::serve_stdio());
    }
    let (Some(cli), Some(faces)) = (arg(&args, "--cli"), arg(&args, "--faces")) else {
        eprintln!("usage: ipc_bridge --cli PATH/TO/countersign --faces assets/demo/faces");
        std::process::exit(2);
    };
    let work = std::env::temp_dir().join(format!("countersign-bridge-{}", std::process::id()));
    let template = work.join("template");
    if let Err(e) = make_template(&cli, &faces, &template) {
        eprintln!("ipc_bridge: {e}");
        std::process::exit(1);
    }
    let server = tiny_http::Server::http("127.0.0.1:0").expect("binding 127.0.0.1");
    let port = server.server_addr().to_ip().expect("an ip address").port();
    println!("listening http://127.0.0.1:{port}");

    let cleanup = work.clone();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = std::fs::remove_dir_all(&cleanup);
        std::process::exit(0);
    });

    let clock = TestClock::default();
    let current: Arc<Mutex<Option<WebviewWindow<MockRuntime>>>> = Arc::new(Mutex::new(None));
    // The apps live on this thread; requests to them run on their own.
    let mut apps: Vec<Current> = Vec::new();
    let mut runs = 0;
    for mut req in server.incoming_requests() {
        let path = req.url().to_owned();
        let mut body = Vec::new();
        let _ = req.as_reader().read_to_end(&mut body);
        let json =
            tiny_http::Header::from_bytes("content-type", "application/json").expect("header");
        if path == "/reset" {
            runs += 1;
            let ask: Reset = serde_json::from_slice(&body).unwrap_or_default();
            let reply = match fresh(&template, &work, runs, &clock, &ask) {
                Ok(now) => {
                    *current.lock().expect("lock") = Some(now.webview.clone());
                    // Earlier runs' apps are dropped only at exit: a request
                    // of an earlier page may still be on its way.
                    apps.push(now);
                    (200, "{}".to_owned())
                }
                Err(e) => (500, serde_json::json!({"message": e}).to_string()),
            };
            let _ = req.respond(
                tiny_http::Response::from_string(reply.1)
                    .with_status_code(reply.0)
                    .with_header(json),
            );
        } else if path == "/clock/advance" {
            let ms = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["ms"].as_i64())
                .unwrap_or(0);
            clock.0.fetch_add(ms, Ordering::SeqCst);
            let _ = req.respond(tiny_http::Response::from_string("{}").with_header(json));
        } else if let Some(cmd) = path.strip_prefix("/ipc/") {
            let webview = current.lock().expect("lock").clone();
            let cmd = cmd.to_owned();
            std::thread::spawn(move || {
                let (status, text) = match webview {
                    Some(w) => invoke(&w, &cmd, &body),
                    None => (
                        500,
                        r#"{"code":"bridge.no_reset","message":"POST /reset first"}"#.to_owned(),
                    ),
                };
                let _ = req.respond(
                    tiny_http::Response::from_string(text)
                        .with_status_code(status)
                        .with_header(json),
                );
            });
        } else {
            let _ =
                req.respond(tiny_http::Response::from_string("not found").with_status_code(404));
        }
    }
}
