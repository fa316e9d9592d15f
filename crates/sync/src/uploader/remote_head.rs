//! The bucket as an anchor: before a pass, this kiosk's newest events in
//! the bucket are compared with the local chain, so a rolled-back or forked
//! kiosk raises the alarm and never uploads a fork (issue 14 item 2).

use super::*;

/// What [`Syncer::check_remote`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteHead {
    /// The newest event of this kiosk in the bucket, among those listed.
    pub remote_seq: Option<u64>,
    pub remote_hash: Option<String>,
    /// The local chain head.
    pub local_seq: u64,
    pub local_hash: Option<String>,
}

impl Syncer {
    /// Compares this kiosk's newest events in the bucket with the local
    /// chain (a LIST of the event keys after the last one the ledger knows
    /// it uploaded, so it stays small): an event past the local head
    /// (`anchor.remote_ahead`) or a different hash at a local seq
    /// (`anchor.remote_fork`) raises the alarm in the state dir (when the
    /// ledger has an anchor guard: then the kiosk signs nothing until an
    /// admin re-seeds) and refuses the pass, so a fork is never uploaded.
    /// A ledger the local anchor already refuses is refused here too.
    pub async fn check_remote(&self) -> Result<RemoteHead, SyncError> {
        self.with_ledger(|l| l.anchor_check())
            .map_err(|e| match e {
                SyncError::Ledger(countersign_ledger::LedgerError::Anchor { code, message }) => {
                    SyncError::Anchor { code, message }
                }
                e => e,
            })?;
        let (head, disagreement) = self.compare_remote().await?;
        let Some((code, message)) = disagreement else {
            return Ok(head);
        };
        let detail = serde_json::to_value(&head).unwrap_or_default();
        self.with_ledger(|l| {
            if let Some(g) = l.anchor() {
                g.raise(&countersign_ledger::Alarm {
                    code: code.as_str().into(),
                    message: message.clone(),
                    detected_ms: now_ms(),
                    detail,
                })?;
            }
            Ok(())
        })?;
        Err(SyncError::Anchor { code, message })
    }

    /// Whether the bucket agrees with the local chain, whatever the local
    /// anchor says, raising nothing: for an admin's re-seed, which must not
    /// accept a ledger behind or off the bucket (`Err(SyncError::Anchor)`
    /// with `anchor.remote_ahead` or `anchor.remote_fork` then).
    pub async fn bucket_agrees(&self) -> Result<RemoteHead, SyncError> {
        match self.compare_remote().await? {
            (head, None) => Ok(head),
            (_, Some((code, message))) => Err(SyncError::Anchor { code, message }),
        }
    }

    /// The comparison behind [`Syncer::check_remote`]: the bucket's newest
    /// events against the chain, and the disagreement, if any, as (code,
    /// message).
    pub(crate) async fn compare_remote(
        &self,
    ) -> Result<(RemoteHead, Option<(countersign_codes::Code, String)>), SyncError> {
        let (local_seq, local_hash, after) = self.with_ledger(|l| {
            let head = l.head()?;
            let local_seq = head.as_ref().map_or(0, |h| h.seq);
            let b = l.sync_backlog()?;
            let after = b
                .oldest_pending_seq
                .map_or(local_seq, |s| s.saturating_sub(1));
            Ok((local_seq, head.map(|h| h.hash_hex), after))
        })?;
        let prefix = format!("{}events/", self.layout.root);
        let offset = format!("{prefix}{after:012}");
        let listed = self.remote.list_after(&prefix, &offset).await?;
        let mut head = RemoteHead {
            local_seq,
            local_hash: local_hash.clone(),
            ..Default::default()
        };
        // A fork (another hash at a seq the ledger holds) is named before
        // "ahead": it is the worse news, and usually both are true.
        let mut fork: Option<String> = None;
        let mut ahead = false;
        for m in &listed {
            let name = m.location.filename().unwrap_or_default();
            let Some((seq, hash)) = name
                .strip_suffix(".json")
                .and_then(|n| n.split_once('-'))
                .and_then(|(s, h)| Some((s.parse::<u64>().ok()?, h.to_string())))
                .filter(|(_, h)| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            else {
                // Not an event key of ours (`sync verify` reports it as extra).
                continue;
            };
            if head.remote_seq.is_none_or(|r| seq >= r) {
                head.remote_seq = Some(seq);
                head.remote_hash = Some(hash.clone());
            }
            if seq > local_seq {
                ahead = true;
                continue;
            }
            if fork.is_some() {
                continue;
            }
            let here = self.with_ledger(|l| l.get(seq))?.map(|r| r.hash_hex);
            if here.as_deref() != Some(hash.as_str()) {
                fork = Some(format!(
                    "; at seq {seq} the bucket holds {} where the ledger holds {}",
                    short(&hash),
                    here.as_deref().map_or("nothing", short)
                ));
            }
        }
        let (code, detail) = match (fork, ahead) {
            (Some(d), _) => (countersign_codes::Code::AnchorRemoteFork, d),
            (None, true) => (countersign_codes::Code::AnchorRemoteAhead, String::new()),
            (None, false) => return Ok((head, None)),
        };
        let what = if code == countersign_codes::Code::AnchorRemoteAhead {
            "the bucket holds more of this kiosk's chain than its ledger"
        } else {
            "the bucket holds another branch of this kiosk's chain"
        };
        let message = format!(
            "{what} (bucket newest seq {} hash {}, ledger head seq {} hash {}{detail}): the ledger was rolled back or replaced; nothing is uploaded and nothing new is signed",
            head.remote_seq.unwrap_or_default(),
            head.remote_hash.as_deref().map_or("-", short),
            local_seq,
            local_hash.as_deref().map_or("-", short),
        );
        Ok((head, Some((code, message))))
    }
}
