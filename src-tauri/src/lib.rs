//! Countersign desktop shell.
//!
//! The window, its kiosk lock-down and the IPC commands. Domain logic lives in
//! the `countersign-core` / `countersign-ledger` crates; commands here stay thin.

pub mod capture;
pub mod commands;
pub mod config;
pub mod finger;
pub mod ipc;
pub mod service;

use tauri::{WebviewUrl, WebviewWindowBuilder, WindowEvent};

use config::{Config, Invocation};

/// Label of the one window.
pub const MAIN_WINDOW: &str = "main";
/// Window title; end-to-end tests look the window up by it.
pub const WINDOW_TITLE: &str = "Countersign";

/// Starts the app; returns the process exit code.
pub fn run() -> i32 {
    let invocation = Config::from_sources(|k| std::env::var(k).ok(), std::env::args().skip(1));
    let config = match invocation {
        Ok(Invocation::Run(config)) => config,
        Ok(Invocation::Help) => {
            println!("{}", config::USAGE);
            return 0;
        }
        Err(e) => {
            eprintln!("countersign-app: {e}");
            return 2;
        }
    };
    let automation = std::env::var(config::ENV_WEBVIEW_AUTOMATION).ok();
    if let Some(e) = config.automation_refusal(automation.as_deref()) {
        eprintln!("countersign-app: {e}");
        return 2;
    }
    match build_and_run(config) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("countersign-app: {e}");
            1
        }
    }
}

fn build_and_run(config: Config) -> tauri::Result<()> {
    let kiosk = config.kiosk;
    let data_dir = config.data_dir.clone();
    let shared = service::Shared::new(config.data_dir.clone()).kiosk_mode(config.kiosk);
    with_app_state(tauri::Builder::default(), shared, config, |k| {
        std::env::var(k).ok()
    })
    .setup(move |app| {
        spawn_expiry_timer(app.handle().clone());
        spawn_request_watcher(app.handle().clone());
        tauri::Manager::manage(app, start_sync(app.handle().clone(), data_dir.clone()));
        let mut window = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::default())
            .title(WINDOW_TITLE)
            .inner_size(1024.0, 768.0)
            .min_inner_size(480.0, 360.0);
        if kiosk {
            window = window
                .fullscreen(true)
                .decorations(false)
                .always_on_top(true)
                .resizable(false)
                .maximizable(false)
                .minimizable(false)
                // Only hides the close button; closing is refused below.
                .closable(false);
        }
        window.build()?;
        Ok(())
    })
    .on_window_event(move |_window, event| {
        if let WindowEvent::CloseRequested { api, .. } = event {
            if kiosk {
                api.prevent_close();
            }
        }
    })
    .build(tauri::generate_context!())?
    .run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            // Let the uploader finish (or drop) its pass before exiting.
            use tauri::Manager;
            if let Some(w) = app.try_state::<service::SyncWorker>() {
                w.stop();
            }
        }
    });
    Ok(())
}

/// The app's state and every command on `builder`: the window's (with
/// `tauri::Builder::default()`) and the UI tests' bridge to the real
/// service (examples/ipc_bridge.rs, over Tauri's mock runtime). `env` is
/// where the capture, the reader and the fleet view read their settings.
pub fn with_app_state<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    shared: service::Shared,
    config: Config,
    env: impl Fn(&str) -> Option<String>,
) -> tauri::Builder<R> {
    builder
        .manage(shared)
        .manage(capture::Capture::from_env(&config.data_dir, &env))
        .manage(finger::Fingers::from_env(&config.data_dir, &env))
        .manage(service::FleetState::from_env(&config.data_dir, &env))
        .manage(config)
        .invoke_handler(commands::handler())
}

/// The background evidence uploader (service/sync.rs): runs while the app
/// does when `<data dir>/sync.toml` exists, so a kiosk that was offline
/// catches up by itself.
pub fn start_sync<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    data_dir: std::path::PathBuf,
) -> service::SyncWorker {
    use tauri::Manager;
    service::SyncWorker::start(
        data_dir,
        Box::new(move || service::sync::identity(&app.state::<service::Shared>())),
        service::sync::RETRY,
    )
}

/// How often live grants past their end get their `override.expired` event.
/// Expiry itself never waits for this: the core reports a grant expired from
/// the clock alone.
pub const EXPIRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// A background thread that calls `expire_due` every [`EXPIRY_INTERVAL`].
/// A data dir that cannot be opened yet (not initialised) is retried quietly.
fn spawn_expiry_timer(app: tauri::AppHandle) {
    use tauri::Manager;
    std::thread::Builder::new()
        .name("countersign-expiry".into())
        .spawn(move || loop {
            std::thread::sleep(EXPIRY_INTERVAL);
            let shared = app.state::<service::Shared>();
            match service::expire_due(&shared) {
                Ok(ids) if !ids.is_empty() => eprintln!("countersign-app: expired {ids:?}"),
                Ok(_) | Err(_) => {}
            }
        })
        .expect("spawning the expiry timer");
}

/// How often the window looks for step-up requests from relying apps.
pub const REQUEST_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// A background thread that brings the window to the front (shown,
/// unminimised, focused) when a relying application's step-up request
/// appears that the window has not seen yet. The operator screen lists the
/// open requests itself; this only makes sure somebody sees them.
fn spawn_request_watcher(app: tauri::AppHandle) {
    use tauri::Manager;
    std::thread::Builder::new()
        .name("countersign-requests".into())
        .spawn(move || {
            let mut seen = std::collections::HashSet::new();
            loop {
                std::thread::sleep(REQUEST_POLL);
                let shared = app.state::<service::Shared>();
                let Ok(open) = service::open_requests(&shared) else {
                    continue;
                };
                let fresh = open.iter().any(|r| !seen.contains(&r.request_id));
                seen = open.into_iter().map(|r| r.request_id).collect();
                if fresh {
                    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
                        let _ = w.unminimize();
                        let _ = w.show();
                        let _ = w.set_focus();
                    }
                }
            }
        })
        .expect("spawning the request watcher");
}

#[cfg(test)]
mod bindings_tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn committed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings")
    }

    fn ts_files(dir: &Path) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "ts") {
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    files.insert(name, std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        files
    }

    /// Fails when `ui/src/lib/bindings/` differs from what the Rust IPC types
    /// generate. `UPDATE_BINDINGS=1 cargo test -p countersign-app bindings`
    /// rewrites the committed files.
    #[test]
    fn bindings_are_up_to_date() {
        let tmp = tempfile::tempdir().unwrap();
        crate::ipc::export_bindings(tmp.path()).unwrap();
        let generated = ts_files(tmp.path());
        assert!(!generated.is_empty());
        let committed_dir = committed_dir();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::create_dir_all(&committed_dir).unwrap();
            for name in ts_files(&committed_dir).keys() {
                std::fs::remove_file(committed_dir.join(name)).unwrap();
            }
            crate::ipc::export_bindings(&committed_dir).unwrap();
            return;
        }
        let committed = ts_files(&committed_dir);
        assert!(
            generated == committed,
            "ui/src/lib/bindings is out of date with the Rust IPC types; run \
             `UPDATE_BINDINGS=1 cargo test -p countersign-app bindings` and commit the result.\n\
             generated: {generated:#?}\ncommitted: {committed:#?}"
        );
    }
}
