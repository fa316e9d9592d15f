//! Tauri commands: thin adapters from IPC to the rest of the app.

use std::path::Path;

use crate::config::Config;
use crate::ipc::{self, codes, AppInfo, IpcError};
use crate::service::{self, Shared};
use countersign_engine::ConsoleRole;

pub fn app_info_for(config: &Config) -> Result<AppInfo, IpcError> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        kiosk_mode: config.kiosk,
        console_mode: config.console,
        data_dir: config.data_dir.display().to_string(),
        data_dir_initialized: is_initialized(&config.data_dir)?,
    })
}

mod client_ts;

pub use client_ts::{client_ts, CLIENT_PATH};

// The app state a command may take, by the short names table.rs uses.
type St<'a> = tauri::State<'a, Shared>;
type Cap<'a> = tauri::State<'a, crate::capture::Capture>;
type Fp<'a> = tauri::State<'a, crate::finger::Fingers>;
type SyncW<'a> = tauri::State<'a, service::SyncWorker>;
type Fleet<'a> = tauri::State<'a, service::FleetState>;
type Cfg<'a> = tauri::State<'a, Config>;

/// One IPC command as the TypeScript client sees it (from table.rs).
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: &'static str,
    /// The doc comment's lines.
    pub docs: Vec<&'static str>,
    /// Each IPC argument: its Rust name and its Rust type (for ts-rs).
    pub args: Vec<(&'static str, TsType)>,
    pub ret: TsType,
}

/// A Rust type's TypeScript name and the bindings it needs imported.
#[derive(Debug, Clone)]
pub struct TsType {
    pub ts: String,
    /// (type name, file under ui/src/lib/bindings/)
    pub imports: Vec<(String, String)>,
}

impl TsType {
    fn of<T: ts_rs::TS + 'static + ?Sized>() -> TsType {
        let cfg = client_ts::ts_config();
        let mut imports = Vec::new();
        if let Some(path) = T::output_path() {
            imports.push((T::ident(&cfg), path.display().to_string()));
        }
        // `Vec<T>` / `Option<T>`: the types inside.
        struct Generics<'a>(&'a ts_rs::Config, &'a mut Vec<(String, String)>);
        impl ts_rs::TypeVisitor for Generics<'_> {
            fn visit<U: ts_rs::TS + 'static + ?Sized>(&mut self) {
                if let Some(path) = U::output_path() {
                    self.1.push((U::ident(self.0), path.display().to_string()));
                }
            }
        }
        T::visit_generics(&mut Generics(&cfg, &mut imports));
        TsType {
            ts: T::name(&cfg),
            imports,
        }
    }
}

/// Declares every command (see table.rs): the functions, the name list,
/// the handler and the signatures the TypeScript client is made from.
macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident [$($s:ident : $sty:ident),*] ($($a:ident : $aty:ty),*) -> $ret:ty => $body:expr;
    )*) => {
        $(
            $(#[doc = $doc])*
            #[tauri::command(async)]
            pub fn $name($($s: $sty<'_>,)* $($a: $aty),*) -> Result<$ret, IpcError> {
                $body
            }
        )*

        /// Every command the webview may call, in table.rs's order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// The invoke handler over every command (the app and the test bridge).
        pub fn handler<R: tauri::Runtime>(
        ) -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// Each command's IPC signature, for the TypeScript client.
        pub fn signatures() -> Vec<Signature> {
            vec![$(Signature {
                name: stringify!($name),
                docs: vec![$($doc),*],
                args: vec![$((stringify!($a), TsType::of::<$aty>())),*],
                ret: TsType::of::<$ret>(),
            }),*]
        }
    };
}

include!("commands/table.rs");

/// The engine's rule (its marker), not a key file's presence.
fn is_initialized(data_dir: &Path) -> Result<bool, IpcError> {
    countersign_engine::DataDir::new(data_dir.to_path_buf())
        .check_initialized()
        .map_err(|e| IpcError::new(codes::DATA_DIR, e.to_string()))
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
    fn the_engines_marker_not_a_key_file_marks_the_data_dir_initialised() {
        let tmp = tempfile::tempdir().unwrap();
        // A key file alone is not a data dir the engine would open.
        std::fs::create_dir_all(tmp.path().join("keys")).unwrap();
        std::fs::write(tmp.path().join("keys/kiosk.pub"), "key").unwrap();
        assert!(
            !app_info_for(&config(tmp.path(), false))
                .unwrap()
                .data_dir_initialized
        );
        let dir = tmp.path().join("real");
        countersign_engine::use_test_state_dir();
        countersign_engine::DataDir::new(dir.clone())
            .init(&Default::default(), &countersign_engine::SystemClock)
            .unwrap();
        assert!(
            app_info_for(&config(&dir, false))
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
        assert_eq!(err.code, crate::ipc::Code::AppDataDir);
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
        let err = IpcError::new(crate::ipc::Code::AppInternal, "m");
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            serde_json::json!({"code":"app.internal","message":"m"})
        );
    }
}

#[cfg(test)]
mod table_tests {
    use super::COMMANDS;

    /// The capability grants exactly the table's commands, in its order
    /// (build.rs writes it from table.rs; this fails if it was edited by
    /// hand or build.rs stopped reading the table).
    #[test]
    fn the_capability_grants_every_command_of_the_table() {
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
            build.contains("include!(\"src/commands/table.rs\")"),
            "build.rs must take its list from src/commands/table.rs"
        );
    }

    /// Names are unique and snake case (they become permission ids and TS
    /// method names).
    #[test]
    fn command_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(seen.insert(c), "{c} is declared twice");
            assert!(
                c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit()),
                "{c}"
            );
        }
        assert_eq!(super::signatures().len(), COMMANDS.len());
    }
}
