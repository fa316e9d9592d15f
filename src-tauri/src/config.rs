//! Start-up configuration: kiosk mode and the data directory.
//!
//! Read once from the environment and the command line, then kept in Tauri's
//! managed state. Parsing is a pure function of its inputs so it can be tested
//! without touching the process environment.

use std::path::PathBuf;

use crate::ipc::{codes, IpcError};

/// `1`/`true`/`yes`/`on` turns kiosk mode on; `0`/`false`/`no`/`off`/empty leaves it off.
pub const ENV_KIOSK: &str = "COUNTERSIGN_KIOSK";
/// Where the kiosk keeps its keys and ledger.
pub const ENV_DATA_DIR: &str = "COUNTERSIGN_DATA_DIR";
/// Set by tauri-driver; when it is `true` the Tauri runtime lets a WebDriver
/// client drive the webview (even in release builds). See [`Config::automation_refusal`].
pub const ENV_WEBVIEW_AUTOMATION: &str = "TAURI_WEBVIEW_AUTOMATION";

pub const USAGE: &str = "usage: countersign-app [--kiosk | --console]

  --kiosk     run fullscreen, undecorated, always on top, and refuse to close
              (same as COUNTERSIGN_KIOSK=1): the operator and supervisor
              screens only; reviewer and admin commands are refused
  --console   the reviewers' and admins' console: their screens only, each
              after a two-factor sign-in

environment:
  COUNTERSIGN_KIOSK     1/true/yes/on for kiosk mode
  COUNTERSIGN_DATA_DIR  data directory (default: $XDG_DATA_HOME/countersign,
                        else ~/.local/share/countersign)";

/// What the app was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub kiosk: bool,
    /// The reviewers' and admins' console (`--console`).
    pub console: bool,
    pub data_dir: PathBuf,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Run(Config),
    Help,
}

impl Config {
    /// Builds the configuration from an environment lookup and the arguments
    /// (without the program name).
    pub fn from_sources<E, A>(env: E, args: A) -> Result<Invocation, IpcError>
    where
        E: Fn(&str) -> Option<String>,
        A: IntoIterator<Item = String>,
    {
        let mut kiosk = match env(ENV_KIOSK) {
            None => false,
            Some(v) => parse_bool(&v).ok_or_else(|| {
                IpcError::new(
                    codes::CONFIG,
                    format!("{ENV_KIOSK}={v:?}: expected 1/0, true/false, yes/no or on/off"),
                )
            })?,
        };
        let mut console = false;
        for arg in args {
            match arg.as_str() {
                "--kiosk" => kiosk = true,
                "--console" => console = true,
                "-h" | "--help" => return Ok(Invocation::Help),
                other => {
                    return Err(IpcError::new(
                        codes::CONFIG,
                        format!("unknown argument {other:?}\n\n{USAGE}"),
                    ))
                }
            }
        }
        if kiosk && console {
            return Err(IpcError::new(
                codes::CONFIG,
                format!("--console and kiosk mode exclude each other: a kiosk never opens the console\n\n{USAGE}"),
            ));
        }
        let data_dir = data_dir(&env)?;
        Ok(Invocation::Run(Config {
            kiosk,
            console,
            data_dir,
        }))
    }

    /// Why this configuration must not start, if WebDriver automation was
    /// requested for a kiosk.
    ///
    /// The Tauri runtime enables WebKit's automation (remote control of the
    /// webview by a WebDriver client) whenever `TAURI_WEBVIEW_AUTOMATION=true`,
    /// in debug and release builds alike. A hardened kiosk must never be
    /// drivable that way, so in kiosk mode the app refuses to start while the
    /// variable is set to anything, unless it was built with the
    /// `webview-automation` feature (for end-to-end test builds only). Outside
    /// kiosk mode (development, tests) the variable is left to Tauri.
    pub fn automation_refusal(&self, automation_env: Option<&str>) -> Option<IpcError> {
        let requested = automation_env.is_some_and(|v| !v.is_empty());
        if self.kiosk && requested && !cfg!(feature = "webview-automation") {
            Some(IpcError::new(
                codes::CONFIG,
                format!(
                    "{ENV_WEBVIEW_AUTOMATION} is set: a kiosk build refuses to start with \
                     WebDriver automation enabled (unset it, or run without kiosk mode)"
                ),
            ))
        } else {
            None
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn data_dir<E: Fn(&str) -> Option<String>>(env: &E) -> Result<PathBuf, IpcError> {
    if let Some(dir) = non_empty(env(ENV_DATA_DIR)) {
        return Ok(PathBuf::from(dir));
    }
    // XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
    if let Some(xdg) = non_empty(env("XDG_DATA_HOME")).map(PathBuf::from) {
        if xdg.is_absolute() {
            return Ok(xdg.join("countersign"));
        }
    }
    match non_empty(env("HOME")) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/countersign")),
        None => Err(IpcError::new(
            codes::DATA_DIR,
            format!(
                "no data directory: set {ENV_DATA_DIR} (neither XDG_DATA_HOME nor HOME is set)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::Code;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    fn run(pairs: &[(&str, &str)], a: &[&str]) -> Result<Config, IpcError> {
        match Config::from_sources(env(pairs), args(a))? {
            Invocation::Run(c) => Ok(c),
            Invocation::Help => panic!("unexpected help"),
        }
    }

    #[test]
    fn defaults_to_normal_window_and_xdg_data_home() {
        let c = run(&[("XDG_DATA_HOME", "/xdg"), ("HOME", "/home/k")], &[]).unwrap();
        assert_eq!(
            c,
            Config {
                kiosk: false,
                console: false,
                data_dir: "/xdg/countersign".into()
            }
        );
    }

    #[test]
    fn falls_back_to_home_when_xdg_is_unset_empty_or_relative() {
        for xdg in [None, Some(""), Some("relative/dir")] {
            let mut pairs = vec![("HOME", "/home/k")];
            if let Some(x) = xdg {
                pairs.push(("XDG_DATA_HOME", x));
            }
            let c = run(&pairs, &[]).unwrap();
            assert_eq!(
                c.data_dir,
                PathBuf::from("/home/k/.local/share/countersign")
            );
        }
    }

    #[test]
    fn explicit_data_dir_wins() {
        let c = run(
            &[
                ("COUNTERSIGN_DATA_DIR", "/srv/cs"),
                ("XDG_DATA_HOME", "/xdg"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/cs"));
    }

    #[test]
    fn no_home_is_a_data_dir_error() {
        let e = run(&[], &[]).unwrap_err();
        assert_eq!(e.code, Code::AppDataDir);
    }

    #[test]
    fn kiosk_from_env_or_flag() {
        let base = [("HOME", "/h")];
        assert!(!run(&base, &[]).unwrap().kiosk);
        assert!(run(&base, &["--kiosk"]).unwrap().kiosk);
        for on in ["1", "true", "YES", "on"] {
            assert!(
                run(&[("HOME", "/h"), ("COUNTERSIGN_KIOSK", on)], &[])
                    .unwrap()
                    .kiosk
            );
        }
        for off in ["0", "false", "no", "off", ""] {
            assert!(
                !run(&[("HOME", "/h"), ("COUNTERSIGN_KIOSK", off)], &[])
                    .unwrap()
                    .kiosk
            );
        }
    }

    #[test]
    fn bad_kiosk_value_and_unknown_argument_are_config_errors() {
        let e = run(&[("HOME", "/h"), ("COUNTERSIGN_KIOSK", "maybe")], &[]).unwrap_err();
        assert_eq!(e.code, Code::AppConfig);
        let e = run(&[("HOME", "/h")], &["--fullscreen"]).unwrap_err();
        assert_eq!(e.code, Code::AppConfig);
        assert!(e.message.contains("usage:"));
    }

    #[test]
    fn help_flag() {
        let inv = Config::from_sources(env(&[("HOME", "/h")]), args(&["--help"])).unwrap();
        assert_eq!(inv, Invocation::Help);
    }

    #[test]
    fn kiosk_refuses_webview_automation() {
        let kiosk = Config {
            kiosk: true,
            console: false,
            data_dir: "/d".into(),
        };
        let normal = Config {
            kiosk: false,
            console: false,
            ..kiosk.clone()
        };
        assert_eq!(kiosk.automation_refusal(None), None);
        assert_eq!(kiosk.automation_refusal(Some("")), None);
        assert_eq!(normal.automation_refusal(Some("true")), None);
        let refused = kiosk.automation_refusal(Some("true"));
        if cfg!(feature = "webview-automation") {
            assert_eq!(refused, None);
        } else {
            assert_eq!(refused.map(|e| e.code), Some(Code::AppConfig));
        }
    }
}
