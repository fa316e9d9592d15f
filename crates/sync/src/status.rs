//! The sync status of one kiosk, for `countersign sync status` and the
//! desktop app: queued, in flight, last success, oldest unsynced event age
//! and the alert state against the policy's `[sync] unsynced_alert_minutes`.
//!
//! [`kiosk_status`] reads only the ledger (and `sync.toml`, if any, for the
//! endpoint and bucket): no network, no credentials needed, so a screen can
//! call it every few seconds from any process. The uploading process gets
//! the same plus its live in-flight count from [`crate::Syncer::status`].

use std::path::Path;

use countersign_core::policy::SyncPolicy;
use countersign_ledger::Ledger;
use serde::{Deserialize, Serialize};

use crate::{SyncConfig, SyncError};

/// Sync status for the CLI and the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Kiosk id.
    pub kiosk: String,
    /// Whether the kiosk has a sync config (`<data dir>/sync.toml`). Without
    /// one nothing is uploaded, and the alert fires all the same.
    pub configured: bool,
    /// The endpoint, without credentials (`AWS S3 (<region>)` when none is set).
    pub endpoint: Option<String>,
    /// Bucket.
    pub bucket: Option<String>,
    /// Events queued (not yet remote).
    pub queued_events: u64,
    /// Blobs queued.
    pub queued_blobs: u64,
    /// Checkpoints queued.
    pub queued_checkpoints: u64,
    /// Events already remote.
    pub synced_events: u64,
    /// Blobs purged by retention before they could be uploaded.
    pub blobs_purged_unsynced: u64,
    /// Uploads in flight (only known inside the syncing process; else 0).
    pub in_flight: u64,
    /// Last pass started (Unix ms).
    pub last_attempt_ms: Option<i64>,
    /// Last pass that left nothing pending (Unix ms).
    pub last_success_ms: Option<i64>,
    /// Last error (never contains credentials).
    pub last_error: Option<String>,
    /// When.
    pub last_error_ms: Option<i64>,
    /// Lowest unsynced seq.
    pub oldest_unsynced_seq: Option<u64>,
    /// Age of the oldest unsynced event (now - its ts), ms.
    pub oldest_unsynced_age_ms: Option<i64>,
    /// The alert limit from the policy, ms.
    pub alert_after_ms: i64,
    /// `true` when the oldest unsynced event is older than the limit.
    pub alert: bool,
}

/// The status of the kiosk `kiosk` whose ledger is `ledger`, against the
/// policy's alert limit, at `now_ms`. `target` is its sync config, if any
/// (only the endpoint and bucket are read). `in_flight` is the live count
/// of a syncer in this process (0 otherwise).
pub fn status_at(
    ledger: &Ledger,
    kiosk: &str,
    target: Option<&SyncConfig>,
    policy: &SyncPolicy,
    in_flight: u64,
    now_ms: i64,
) -> Result<SyncStatus, SyncError> {
    let b = ledger.sync_backlog()?;
    let s = ledger.sync_status()?;
    let age = b.oldest_pending_ts_ms.map(|t| (now_ms - t).max(0));
    let limit = policy.alert_after_ms();
    Ok(SyncStatus {
        kiosk: kiosk.into(),
        configured: target.is_some(),
        endpoint: target.map(SyncConfig::endpoint_display),
        bucket: target.map(|c| c.bucket.clone()),
        queued_events: b.events_pending,
        queued_blobs: b.blobs_pending,
        queued_checkpoints: b.checkpoints_pending,
        synced_events: b.events_synced,
        blobs_purged_unsynced: b.blobs_purged_unsynced,
        in_flight,
        last_attempt_ms: s.last_attempt_ms,
        last_success_ms: s.last_success_ms,
        last_error: s.last_error,
        last_error_ms: s.last_error_ms,
        oldest_unsynced_seq: b.oldest_pending_seq,
        oldest_unsynced_age_ms: age,
        alert_after_ms: limit,
        alert: age.is_some_and(|a| a > limit),
    })
}

/// The status of the kiosk whose data dir is `data_dir`, for a screen or
/// the CLI, now: the app passes its engine's ledger, kiosk id and policy
/// (`engine.ledger()`, `engine.kiosk_id()`, `&engine.policy().sync`,
/// `engine.data_dir()`). Reads `<data dir>/sync.toml` if present (a broken
/// one is an error; a missing one is "not configured").
pub fn kiosk_status(
    ledger: &Ledger,
    kiosk: &str,
    data_dir: &Path,
    policy: &SyncPolicy,
) -> Result<SyncStatus, SyncError> {
    let target = SyncConfig::load_for_status(data_dir)?;
    status_at(
        ledger,
        kiosk,
        target.as_ref(),
        policy,
        0,
        crate::uploader::now_ms(),
    )
}

#[cfg(test)]
mod tests {
    use countersign_ledger::{EventIndex, Keys, NewEvent};

    use super::*;

    fn ev(ts_ms: i64) -> NewEvent {
        NewEvent {
            ts_ms,
            kind: "test.event".into(),
            index: EventIndex::default(),
            body: serde_json::json!({}),
        }
    }

    #[test]
    fn alert_follows_the_policy_limit_and_config_is_optional() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open_in_memory(Keys::for_tests()).unwrap();
        let p = SyncPolicy {
            unsynced_alert_minutes: 10,
        };
        // Nothing queued: no alert, whatever the time.
        let st = kiosk_status(&l, "k1", dir.path(), &p).unwrap();
        assert!(!st.alert && !st.configured && st.endpoint.is_none());
        assert_eq!(st.oldest_unsynced_age_ms, None);

        l.append(&ev(1_000_000)).unwrap();
        let at = |now| status_at(&l, "k1", None, &p, 0, now).unwrap();
        let st = at(1_000_000 + 10 * 60_000);
        assert_eq!((st.queued_events, st.alert_after_ms), (1, 600_000));
        assert!(!st.alert, "exactly at the limit is not yet an alert");
        let st = at(1_000_000 + 10 * 60_000 + 1);
        assert!(st.alert);
        assert_eq!(st.oldest_unsynced_seq, Some(1));
        let longer = SyncPolicy {
            unsynced_alert_minutes: 11,
        };
        assert!(
            !status_at(&l, "k1", None, &longer, 0, 1_000_000 + 10 * 60_000 + 1)
                .unwrap()
                .alert
        );

        // With a sync.toml, the endpoint is shown without its credentials,
        // and none are needed to show the status.
        std::fs::write(
            dir.path().join(crate::config::CONFIG_FILE),
            "endpoint = \"https://AKIAUSER:hunter22@s3.example.internal\"\nbucket = \"ev\"\n",
        )
        .unwrap();
        let st = kiosk_status(&l, "k1", dir.path(), &p).unwrap();
        assert!(st.configured);
        assert_eq!(st.endpoint.as_deref(), Some("https://s3.example.internal"));
        assert_eq!(st.bucket.as_deref(), Some("ev"));
        let shown = format!("{st:?}{}", serde_json::to_string(&st).unwrap());
        assert!(!shown.contains("hunter22") && !shown.contains("AKIAUSER"));
        // A broken one is an error naming the file.
        std::fs::write(dir.path().join(crate::config::CONFIG_FILE), "bukket = 1\n").unwrap();
        let e = kiosk_status(&l, "k1", dir.path(), &p).unwrap_err();
        assert!(e.to_string().contains("sync.toml"), "{e}");
    }
}
