// The command names, from the one table of commands (src/commands/table.rs,
// also included by src/commands.rs, which defines its own `commands!`).
// This one keeps only the names.
macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident [$($s:ident : $sty:ident),*] ($($a:ident : $aty:ty),*) -> $ret:ty => $body:expr;
    )*) => {
        const COMMANDS: &[&str] = &[$(stringify!($name)),*];
    };
}
include!("src/commands/table.rs");

/// The window's capability: this app's own commands and nothing else.
const CAPABILITY: &str = "capabilities/default.json";
const CAPABILITY_DESCRIPTION: &str = "The kiosk window may call only this app's own commands. No core plugin permissions are granted: add one here only when the UI needs it. Written by build.rs from src/commands/table.rs; do not edit.";

/// capabilities/default.json as the table makes it.
fn capability() -> String {
    let mut s = String::from("{\n  \"identifier\": \"default\",\n");
    s.push_str(&format!(
        "  \"description\": \"{CAPABILITY_DESCRIPTION}\",\n"
    ));
    s.push_str("  \"windows\": [\n    \"main\"\n  ],\n  \"permissions\": [\n");
    let perms: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("    \"allow-{}\"", c.replace('_', "-")))
        .collect();
    s.push_str(&perms.join(",\n"));
    s.push_str("\n  ]\n}\n");
    s
}

fn main() {
    println!("cargo:rerun-if-changed=src/commands/table.rs");
    // Derived, never edited: rewritten only when the table changed, so a
    // clean checkout builds without touching its files.
    let want = capability();
    if std::fs::read_to_string(CAPABILITY).ok().as_deref() != Some(want.as_str()) {
        std::fs::write(CAPABILITY, want).expect("writing capabilities/default.json");
    }
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
