/// Keep in step with `commands::COMMANDS` (a test checks) and capabilities/default.json.
const COMMANDS: &[&str] = &[
    "app_info",
    "list_people",
    "policy_view",
    "demo_credentials",
    "start_stepup",
    "stepup_status",
    "identify",
    "verify_me",
    "cancel_stepup",
    "supervisor_login",
    "grant_override",
    "list_overrides",
    "revoke_override",
    "review_override",
    "query_events",
    "verify_ledger",
    "export_events",
    "capture_status",
    "set_replay_scene",
    "preview_frame",
    "enroll_face",
    "open_requests",
    "take_request",
];

fn main() {
    // Declaring the app's commands here makes Tauri generate an `allow-<command>`
    // permission for each of them; a command is then callable from the webview
    // only if a capability (capabilities/*.json) grants it. Without this list
    // every registered command would be reachable from the UI.
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
