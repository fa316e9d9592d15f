//! Sync configuration: where the bucket is, how to reach it, how hard to push.
//!
//! Read from `<data dir>/sync.toml` (strict: unknown keys are errors).
//! Credentials come from the file or from `COUNTERSIGN_S3_ACCESS_KEY_ID` /
//! `COUNTERSIGN_S3_SECRET_ACCESS_KEY`; they are never printed (`Debug`
//! redacts them) and never appear in errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::SyncError;

/// Environment variable overriding `access_key_id`.
pub const ENV_ACCESS_KEY: &str = "COUNTERSIGN_S3_ACCESS_KEY_ID";
/// Environment variable overriding `secret_access_key`.
pub const ENV_SECRET_KEY: &str = "COUNTERSIGN_S3_SECRET_ACCESS_KEY";
/// File name of the sync config in a data dir.
pub const CONFIG_FILE: &str = "sync.toml";

/// S3 credentials. `Debug` shows the key id's first 4 characters only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: String = self.access_key_id.chars().take(4).collect();
        f.debug_struct("Credentials")
            .field("access_key_id", &format!("{shown}…"))
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Where and how to sync.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// S3 endpoint URL (`https://...`); omit for AWS S3 in `region`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region (SigV4 scope).
    #[serde(default = "default_region")]
    pub region: String,
    /// Bucket: versioned, Object Lock enabled, default retention COMPLIANCE.
    pub bucket: String,
    /// Key prefix inside the bucket (e.g. `"site-a/"`); objects go under `<prefix><kiosk>/`.
    #[serde(default)]
    pub prefix: String,
    /// Permit `http://` endpoints (tests only; production uses TLS).
    #[serde(default)]
    pub allow_http: bool,
    /// PEM file with extra CA certificates to trust (private PKI endpoints).
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Trust only `ca_cert`, not the system roots.
    #[serde(default)]
    pub ca_cert_only: bool,
    /// Credentials (or from the environment). The kiosk needs only
    /// PutObject, GetObject and ListBucket.
    #[serde(default)]
    pub access_key_id: String,
    /// Secret access key (never printed).
    #[serde(default)]
    pub secret_access_key: String,
    /// Uploads in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Moved to the policy (`[sync] unsynced_alert_minutes`): refused here
    /// with a message saying so, rather than silently ignored.
    #[serde(default, rename = "alert_after_secs")]
    moved_alert_after_secs: Option<toml::Value>,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// First retry delay after a failed pass (doubles, with jitter).
    #[serde(default = "default_backoff_min")]
    pub backoff_min_ms: u64,
    /// Largest retry delay.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// How often the background task looks for new evidence when idle.
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
}

impl std::fmt::Debug for SyncConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("allow_http", &self.allow_http)
            .field("ca_cert", &self.ca_cert)
            .field("ca_cert_only", &self.ca_cert_only)
            .field("credentials", &self.credentials())
            .field("concurrency", &self.concurrency)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("backoff_min_ms", &self.backoff_min_ms)
            .field("backoff_max_ms", &self.backoff_max_ms)
            .field("poll_ms", &self.poll_ms)
            .finish()
    }
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_concurrency() -> usize {
    16
}
fn default_timeout() -> u64 {
    30
}
fn default_backoff_min() -> u64 {
    200
}
fn default_backoff_max() -> u64 {
    60_000
}
fn default_poll() -> u64 {
    2_000
}

impl SyncConfig {
    /// A config for a local test endpoint (`http://127.0.0.1:PORT`).
    pub fn for_endpoint(endpoint: &str, bucket: &str, key: &str, secret: &str) -> SyncConfig {
        SyncConfig {
            endpoint: Some(endpoint.into()),
            region: default_region(),
            bucket: bucket.into(),
            prefix: String::new(),
            allow_http: endpoint.starts_with("http://"),
            ca_cert: None,
            ca_cert_only: false,
            access_key_id: key.into(),
            secret_access_key: secret.into(),
            concurrency: default_concurrency(),
            moved_alert_after_secs: None,
            request_timeout_secs: default_timeout(),
            backoff_min_ms: default_backoff_min(),
            backoff_max_ms: default_backoff_max(),
            poll_ms: default_poll(),
        }
    }

    /// Parse TOML text; fill credentials from the environment when set.
    pub fn parse(text: &str) -> Result<SyncConfig, SyncError> {
        let c = Self::parse_unchecked(text)?;
        c.validate()?;
        Ok(c)
    }

    /// Parse without [`SyncConfig::validate`] (for showing the status, which
    /// needs no credentials). Unknown keys are still refused.
    pub fn parse_for_status(text: &str) -> Result<SyncConfig, SyncError> {
        Self::parse_unchecked(text)
    }

    fn parse_unchecked(text: &str) -> Result<SyncConfig, SyncError> {
        let mut c: SyncConfig =
            toml::from_str(text).map_err(|e| SyncError::Config(e.to_string()))?;
        if c.moved_alert_after_secs.is_some() {
            return Err(SyncError::Config(
                "alert_after_secs is no longer read from sync.toml: the alert limit is the policy's \
                 `[sync] unsynced_alert_minutes` (policy.toml); remove the key"
                    .into(),
            ));
        }
        if let Ok(v) = std::env::var(ENV_ACCESS_KEY) {
            c.access_key_id = v;
        }
        if let Ok(v) = std::env::var(ENV_SECRET_KEY) {
            c.secret_access_key = v;
        }
        Ok(c)
    }

    fn read(data_dir: &Path) -> Result<Option<(PathBuf, String)>, SyncError> {
        let p = data_dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some((p, t))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SyncError::Config(format!(
                "cannot read {}: {e}",
                p.display()
            ))),
        }
    }

    /// Load `<data dir>/sync.toml`.
    pub fn load(data_dir: &Path) -> Result<SyncConfig, SyncError> {
        let Some((p, text)) = Self::read(data_dir)? else {
            return Err(SyncError::Config(format!(
                "{} does not exist: create it (bucket, endpoint, credentials)",
                data_dir.join(CONFIG_FILE).display()
            )));
        };
        Self::parse(&text).map_err(|e| SyncError::Config(format!("{}: {e}", p.display())))
    }

    /// Load a config file at any path (e.g. a reviewer's fleet config: the
    /// bucket and read-only credentials, no kiosk).
    pub fn load_file(path: &Path) -> Result<SyncConfig, SyncError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SyncError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| SyncError::Config(format!("{}: {e}", path.display())))
    }

    /// Load `<data dir>/sync.toml` for display: `None` when the kiosk has
    /// none (not configured); credentials are not required.
    pub fn load_for_status(data_dir: &Path) -> Result<Option<SyncConfig>, SyncError> {
        let Some((p, text)) = Self::read(data_dir)? else {
            return Ok(None);
        };
        Self::parse_unchecked(&text)
            .map(Some)
            .map_err(|e| SyncError::Config(format!("{}: {e}", p.display())))
    }

    /// The endpoint as it may be shown: without any `user:password@` or
    /// query string (`None` = AWS S3 in `region`).
    pub fn endpoint_display(&self) -> String {
        match &self.endpoint {
            None => format!("AWS S3 ({})", self.region),
            Some(ep) => {
                let ep = ep.split(['?', '#']).next().unwrap_or_default();
                match ep.split_once("://") {
                    Some((scheme, rest)) => {
                        let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
                        format!("{scheme}://{host}")
                    }
                    None => ep
                        .rsplit_once('@')
                        .map(|(_, h)| h)
                        .unwrap_or(ep)
                        .to_string(),
                }
            }
        }
    }

    /// Check the values make sense.
    pub fn validate(&self) -> Result<(), SyncError> {
        if self.bucket.trim().is_empty() {
            return Err(SyncError::Config("bucket must not be empty".into()));
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err(SyncError::Config("concurrency must be 1..=256".into()));
        }
        if let Some(ep) = &self.endpoint {
            if ep.starts_with("http://") && !self.allow_http {
                return Err(SyncError::Config(
                    "endpoint is plain http; use https (or allow_http = true for a local test server)"
                        .into(),
                ));
            }
        }
        if !self.prefix.is_empty() && !self.prefix.ends_with('/') {
            return Err(SyncError::Config("prefix must end with '/'".into()));
        }
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return Err(SyncError::Config(format!(
                "no credentials: set access_key_id/secret_access_key or {ENV_ACCESS_KEY}/{ENV_SECRET_KEY}"
            )));
        }
        Ok(())
    }

    /// The credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret_and_unknown_keys_are_refused() {
        let c = SyncConfig::parse(
            "bucket = \"b\"\nendpoint = \"https://s3.example\"\naccess_key_id = \"AKIAEXAMPLE\"\nsecret_access_key = \"s3cr3t-value\"\n",
        )
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("s3cr3t-value"), "{d}");
        assert!(!d.contains("AKIAEXAMPLE"), "{d}");
        assert_eq!(c.concurrency, 16);
        let e = SyncConfig::parse("bucket = \"b\"\nbukket = 1\n").unwrap_err();
        assert!(e.to_string().contains("bukket"), "{e}");
        let e = SyncConfig::parse(
            "bucket = \"b\"\nendpoint = \"http://x\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("https"), "{e}");
    }

    #[test]
    fn the_alert_limit_is_refused_here_and_points_to_the_policy() {
        let e = SyncConfig::parse(
            "bucket = \"b\"\nalert_after_secs = 60\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("[sync] unsynced_alert_minutes"),
            "{e}"
        );
    }

    #[test]
    fn endpoint_display_drops_userinfo_and_query() {
        let mut c =
            SyncConfig::for_endpoint("https://AKIAX:s3cr3t@s3.example:9000/?x=y", "b", "k", "s");
        assert_eq!(c.endpoint_display(), "https://s3.example:9000/");
        c.endpoint = None;
        c.region = "eu-west-1".into();
        assert_eq!(c.endpoint_display(), "AWS S3 (eu-west-1)");
    }
}
