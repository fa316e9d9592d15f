include!("src/command_names.rs");

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
