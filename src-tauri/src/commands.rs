//! Tauri commands: thin adapters from IPC to the rest of the app.

use std::io::ErrorKind;
use std::path::Path;

use crate::config::Config;
use crate::ipc::{codes, AppInfo, IpcError};

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
        data_dir: config.data_dir.display().to_string(),
        data_dir_initialized: is_initialized(&config.data_dir)?,
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, kiosk: bool) -> Config {
        Config {
            kiosk,
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
            data_dir: "/d".into(),
            data_dir_initialized: false,
        };
        assert_eq!(
            serde_json::to_value(info).unwrap(),
            serde_json::json!({"version":"1","kioskMode":true,"dataDir":"/d","dataDirInitialized":false})
        );
        let err = IpcError::new("E_X", "m");
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            serde_json::json!({"code":"E_X","message":"m"})
        );
    }
}
