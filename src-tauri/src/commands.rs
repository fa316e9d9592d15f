//! Tauri commands: thin adapters from IPC to the rest of the app.

use std::io::ErrorKind;
use std::path::Path;

use crate::config::Config;
use crate::ipc::{self, codes, AppInfo, IpcError};
use crate::service::{self, Shared};
use countersign_engine::ConsoleRole;

/// Relative path of the kiosk's public key inside the data directory; its
/// presence means the data directory has been initialised.
pub const KIOSK_KEY: &str = "keys/kiosk.pub";

/// Basic facts for the start screen.
#[tauri::command]
pub fn app_info(config: tauri::State<'_, Config>) -> Result<AppInfo, IpcError> {
    app_info_for(&config)
}

pub fn app_info_for(config: &Config) -> Result<AppInfo, IpcError> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        kiosk_mode: config.kiosk,
        console_mode: config.console,
        data_dir: config.data_dir.display().to_string(),
        data_dir_initialized: is_initialized(&config.data_dir)?,
    })
}

// Domain commands: one line each over `service` (which holds the engine).
// `async` runs them off the main thread, so a long ledger query or verify
// never freezes the window.

pub mod admin;
pub mod samples;

type St<'a> = tauri::State<'a, Shared>;
type Cap<'a> = tauri::State<'a, crate::capture::Capture>;

#[tauri::command(async)]
pub fn list_people(st: St<'_>) -> Result<Vec<ipc::Person>, IpcError> {
    service::list_people(&st)
}

#[tauri::command(async)]
pub fn kiosk_health(st: St<'_>) -> Result<ipc::KioskHealth, IpcError> {
    service::kiosk_health(&st)
}

#[tauri::command(async)]
pub fn policy_view(st: St<'_>) -> Result<ipc::PolicyView, IpcError> {
    service::policy_view(&st)
}

#[tauri::command(async)]
pub fn demo_credentials(st: St<'_>) -> Result<Vec<ipc::DemoCredential>, IpcError> {
    service::demo_credentials(&st)
}

#[tauri::command(async)]
pub fn start_stepup(
    st: St<'_>,
    request: ipc::StartStepupRequest,
) -> Result<ipc::StepupView, IpcError> {
    service::start_stepup(&st, request)
}

#[tauri::command(async)]
pub fn stepup_status(st: St<'_>, session_id: String) -> Result<ipc::StepupView, IpcError> {
    service::stepup_status(&st, &session_id)
}

#[tauri::command(async)]
pub fn identify(
    st: St<'_>,
    session_id: String,
    operator: String,
) -> Result<ipc::StepupView, IpcError> {
    service::identify(&st, &session_id, &operator)
}

#[tauri::command(async)]
pub fn verify_me(
    st: St<'_>,
    cap: Cap<'_>,
    session_id: String,
) -> Result<ipc::StepupView, IpcError> {
    service::verify_me(&st, &cap, &session_id)
}

#[tauri::command(async)]
pub fn capture_status(cap: Cap<'_>) -> Result<ipc::CaptureStatus, IpcError> {
    cap.status()
}

#[tauri::command(async)]
pub fn set_replay_scene(cap: Cap<'_>, scene: String) -> Result<ipc::CaptureStatus, IpcError> {
    cap.set_scene(&scene)
}

#[tauri::command(async)]
pub fn open_requests(st: St<'_>) -> Result<Vec<ipc::OpenRequestView>, IpcError> {
    service::open_requests(&st)
}

#[tauri::command(async)]
pub fn take_request(st: St<'_>, request_id: String) -> Result<ipc::StepupView, IpcError> {
    service::take_request(&st, &request_id)
}

#[tauri::command(async)]
pub fn enroll_face(
    st: St<'_>,
    cap: Cap<'_>,
    request: ipc::EnrollRequest,
) -> Result<ipc::EnrollResult, IpcError> {
    service::enroll_face(&st, &cap, request)
}

#[tauri::command(async)]
pub fn preview_frame(cap: Cap<'_>) -> Result<ipc::PreviewFrame, IpcError> {
    cap.preview()
}

#[tauri::command(async)]
pub fn cancel_stepup(
    st: St<'_>,
    session_id: String,
    reason: String,
) -> Result<ipc::StepupView, IpcError> {
    service::cancel_stepup(&st, &session_id, &reason)
}

#[tauri::command(async)]
pub fn supervisor_login(
    st: St<'_>,
    login: ipc::SupervisorLogin,
) -> Result<ipc::StepupView, IpcError> {
    service::supervisor_login(&st, login)
}

#[tauri::command(async)]
pub fn grant_override(st: St<'_>, grant: ipc::GrantInput) -> Result<ipc::OverrideView, IpcError> {
    service::grant_override(&st, grant)
}

#[tauri::command(async)]
pub fn list_overrides(
    st: St<'_>,
    query: ipc::OverrideQuery,
) -> Result<Vec<ipc::OverrideView>, IpcError> {
    service::list_overrides(&st, query)
}

#[tauri::command(async)]
pub fn revoke_override(
    st: St<'_>,
    revoke: ipc::RevokeInput,
) -> Result<ipc::OverrideView, IpcError> {
    service::revoke_override(&st, revoke)
}

#[tauri::command(async)]
pub fn review_override(
    st: St<'_>,
    review: ipc::ReviewSubmission,
) -> Result<ipc::OverrideView, IpcError> {
    service::review_override(&st, review)
}

#[tauri::command(async)]
pub fn query_events(st: St<'_>, query: ipc::EventQuery) -> Result<ipc::EventPage, IpcError> {
    service::query_events(&st, query)
}

#[tauri::command(async)]
pub fn verify_ledger(st: St<'_>) -> Result<ipc::VerifyStatus, IpcError> {
    service::verify_ledger(&st)
}

#[tauri::command(async)]
pub fn export_events(
    st: St<'_>,
    request: ipc::ExportRequest,
) -> Result<ipc::ExportResult, IpcError> {
    service::export_events(&st, request)
}

type Fp<'a> = tauri::State<'a, crate::finger::Fingers>;

#[tauri::command(async)]
pub fn finger_status(st: St<'_>, fp: Fp<'_>) -> Result<ipc::FingerStatus, IpcError> {
    service::finger_status(&st, &fp)
}

#[tauri::command(async)]
pub fn set_finger_scene(
    st: St<'_>,
    fp: Fp<'_>,
    scene: String,
) -> Result<ipc::FingerStatus, IpcError> {
    service::set_finger_scene(&st, &fp, &scene)
}

#[tauri::command(async)]
pub fn finger_progress(fp: Fp<'_>) -> Result<ipc::FingerProgress, IpcError> {
    fp.progress()
}

#[tauri::command(async)]
pub fn verify_finger(
    st: St<'_>,
    fp: Fp<'_>,
    session_id: String,
) -> Result<ipc::StepupView, IpcError> {
    service::verify_finger(&st, &fp, &session_id)
}

#[tauri::command(async)]
pub fn enroll_finger(
    st: St<'_>,
    fp: Fp<'_>,
    request: ipc::FingerEnrollRequest,
) -> Result<ipc::FingerEnrollResult, IpcError> {
    service::enroll_finger(&st, &fp, request)
}

include!("command_names.rs");

fn is_initialized(data_dir: &Path) -> Result<bool, IpcError> {
    let key = data_dir.join(KIOSK_KEY);
    match std::fs::metadata(&key) {
        Ok(meta) => Ok(meta.is_file()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(IpcError::new(
            codes::DATA_DIR,
            format!("cannot read {}: {e}", key.display()),
        )),
    }
}

// Evidence sync (Admin) and the fleet view (Reviewer): service/sync.rs and
// service/fleet.rs.

type Sync<'a> = tauri::State<'a, service::SyncWorker>;
type Fleet<'a> = tauri::State<'a, service::FleetState>;

#[tauri::command(async)]
pub fn sync_status(st: St<'_>, w: Sync<'_>) -> Result<ipc::SyncStatusView, IpcError> {
    service::sync_status(&st, &w)
}

#[tauri::command(async)]
pub fn fleet_overview(st: St<'_>, f: Fleet<'_>) -> Result<ipc::FleetOverview, IpcError> {
    st.require(ConsoleRole::Reviewer, "fleet_overview")?;
    service::fleet_overview(&f)
}

#[tauri::command(async)]
pub fn fleet_open(st: St<'_>, f: Fleet<'_>) -> Result<ipc::FleetOverview, IpcError> {
    st.require(ConsoleRole::Reviewer, "fleet_open")?;
    service::fleet_open(&f)
}

#[tauri::command(async)]
pub fn fleet_events(
    st: St<'_>,
    f: Fleet<'_>,
    query: ipc::FleetQuery,
) -> Result<ipc::FleetEventPage, IpcError> {
    st.require(ConsoleRole::Reviewer, "fleet_events")?;
    service::fleet_events(&f, query)
}

#[tauri::command(async)]
pub fn fleet_export(
    st: St<'_>,
    f: Fleet<'_>,
    request: ipc::FleetExportRequest,
) -> Result<ipc::ExportResult, IpcError> {
    st.require(ConsoleRole::Reviewer, "fleet_export")?;
    service::fleet_export(&f, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, kiosk: bool) -> Config {
        Config {
            kiosk,
            console: false,
            data_dir: dir.to_path_buf(),
        }
    }

    #[test]
    fn missing_or_empty_data_dir_is_not_initialised() {
        let tmp = tempfile::tempdir().unwrap();
        let info = app_info_for(&config(&tmp.path().join("absent"), false)).unwrap();
        assert!(!info.data_dir_initialized);
        assert!(!info.kiosk_mode);
        let info = app_info_for(&config(tmp.path(), true)).unwrap();
        assert!(!info.data_dir_initialized);
        assert!(info.kiosk_mode);
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(info.data_dir, tmp.path().display().to_string());
    }

    #[test]
    fn kiosk_key_marks_data_dir_initialised() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("keys")).unwrap();
        std::fs::write(tmp.path().join(KIOSK_KEY), "key").unwrap();
        assert!(
            app_info_for(&config(tmp.path(), false))
                .unwrap()
                .data_dir_initialized
        );
    }

    #[test]
    fn data_dir_that_is_a_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = app_info_for(&config(&file, false)).unwrap_err();
        assert_eq!(err.code, "E_DATA_DIR");
    }

    #[test]
    fn ipc_types_serialise_in_camel_case() {
        let info = AppInfo {
            version: "1".into(),
            kiosk_mode: true,
            console_mode: false,
            data_dir: "/d".into(),
            data_dir_initialized: false,
        };
        assert_eq!(
            serde_json::to_value(info).unwrap(),
            serde_json::json!({"version":"1","kioskMode":true,"consoleMode":false,"dataDir":"/d","dataDirInitialized":false})
        );
        let err = IpcError::new("E_X", "m");
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            serde_json::json!({"code":"E_X","message":"m"})
        );
    }
}

#[cfg(test)]
mod command_list_tests {
    use super::COMMANDS;

    /// The capability must grant exactly the commands build.rs makes
    /// permissions for (both take them from command_names.rs).
    #[test]
    fn build_rs_and_capability_list_every_command() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let build = std::fs::read_to_string(root.join("build.rs")).unwrap();
        let cap = std::fs::read_to_string(root.join("capabilities/default.json")).unwrap();
        let cap: serde_json::Value = serde_json::from_str(&cap).unwrap();
        let perms: Vec<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = COMMANDS
            .iter()
            .map(|c| format!("allow-{}", c.replace('_', "-")))
            .collect();
        assert_eq!(perms, expected);
        assert!(
            build.contains("include!(\"src/command_names.rs\")"),
            "build.rs must take its list from src/command_names.rs"
        );
    }
}
