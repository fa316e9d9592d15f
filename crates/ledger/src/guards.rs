//! The write path's guards, as `Ledger` methods: the clock guard (no
//! write stamped before the newest event), the local anchor (checked in
//! every write transaction, advanced after it), and the write transactions
//! that run both.

use super::*;

impl Ledger {
    /// Turns on the clock guard: from now on a write whose events are
    /// timestamped more than `tolerance_ms` before the newest event already
    /// in the ledger is refused with [`LedgerError::ClockBehind`] (and rolled
    /// back), and the refusal itself is recorded as a
    /// [`KIND_CLOCK_BEHIND_LEDGER`] event stamped with the newest time (so
    /// the ledger's times never run backwards), at most once per
    /// [`CLOCK_RECORD_INTERVAL`] per process. The check runs inside the
    /// write transaction, so no other writer can slip in between.
    pub fn guard_clock(&mut self, tolerance_ms: i64) {
        self.clock_tolerance_ms = Some(tolerance_ms.max(0));
    }

    /// The newest event time in the ledger (`None` when empty).
    pub fn newest_ts_ms(&self) -> Result<Option<i64>, LedgerError> {
        newest_ts(&self.conn)
    }

    pub(crate) fn write_tx<T>(
        &mut self,
        context: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &Keys) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        self.write_tx_e(context, f)
    }

    /// A write that signs nothing and appends no event (the sync
    /// bookkeeping): not held back by the anchor, which guards the chain.
    pub(crate) fn write_tx_unsigned<T>(
        &mut self,
        context: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &Keys) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::sql(context, e))?;
        let out = f(&tx, &self.keys)?;
        tx.commit().map_err(|e| LedgerError::sql(context, e))?;
        Ok(out)
    }

    /// Puts the ledger under a local anchor (see `anchor.rs`): from now on
    /// every write first checks the alarm and the anchor inside its
    /// transaction, and every commit that moved the head advances the anchor.
    pub fn set_anchor(&mut self, guard: AnchorGuard) {
        self.anchor = Some(guard);
    }

    /// The anchor guard, if any.
    pub fn anchor(&self) -> Option<&AnchorGuard> {
        self.anchor.as_ref()
    }

    /// Checks the ledger as it is now against the alarm and the anchor
    /// (`Ok` without an anchor guard).
    pub fn anchor_check(&self) -> Result<(), LedgerError> {
        match &self.anchor {
            Some(g) => g.check(&self.conn, &self.keys),
            None => Ok(()),
        }
    }

    /// Lets writes through without the anchor check, and without advancing
    /// the anchor, for the admin's re-seed in this process only; it ends
    /// with [`Ledger::reseed_anchor`].
    pub fn bypass_anchor(&mut self, on: bool) {
        if let Some(g) = &mut self.anchor {
            g.bypass = on;
        }
    }

    /// Writes the anchor for the current head whatever the stored one
    /// says, and clears the alarm (an admin's re-seed, already recorded).
    pub fn reseed_anchor(&mut self, now_ms: i64) -> Result<(), LedgerError> {
        let Some(g) = &mut self.anchor else {
            return Ok(());
        };
        let head = chain_head::read(&self.conn)?
            .ok_or_else(|| LedgerError::Invalid("an empty ledger has nothing to anchor".into()))?;
        g.advance(&self.keys, head.seq, &head.hash, now_ms, true)?;
        g.clear_alarm()?;
        g.bypass = false;
        Ok(())
    }

    pub(crate) fn advance_anchor(&self, head: Option<chain_head::Head>) -> Result<(), LedgerError> {
        if let (Some(g), Some(h)) = (&self.anchor, head) {
            if !g.bypass {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                g.advance(&self.keys, h.seq, &h.hash, now, false)?;
            }
        }
        Ok(())
    }

    /// One `BEGIN IMMEDIATE` transaction around `f`, then the clock guard,
    /// then commit. Any error (the caller's own included) rolls back.
    pub(crate) fn write_tx_e<T, E: From<LedgerError>>(
        &mut self,
        context: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &Keys) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::sql(context, e))?;
        if let Some(g) = self.anchor.as_ref().filter(|g| !g.bypass) {
            g.check(&tx, &self.keys)?; // drop of tx rolls back
        }
        let head_before = chain_head::read(&tx)?.map(|h| h.seq);
        let before = match self.clock_tolerance_ms {
            Some(_) => Some((
                newest_ts(&tx)?,
                chain_head::read(&tx)?.map(|h| h.seq).unwrap_or(0),
            )),
            None => None,
        };
        let out = f(&tx, &self.keys)?; // drop of tx rolls back on error
        if let (Some(tol), Some((Some(newest_ms), head_seq))) = (self.clock_tolerance_ms, before) {
            let observed: Option<i64> = tx
                .query_row(
                    "SELECT MIN(ts_ms) FROM events WHERE seq > ?1",
                    [head_seq as i64],
                    |r| r.get(0),
                )
                .map_err(|e| LedgerError::sql(context, e))?;
            if let Some(observed_ms) = observed.filter(|o| *o < newest_ms - tol) {
                drop(tx); // roll back the refused write
                self.record_clock_refusal(context, observed_ms, newest_ms, tol);
                return Err(LedgerError::ClockBehind {
                    observed_ms,
                    newest_ms,
                    tolerance_ms: tol,
                }
                .into());
            }
        }
        let head_after = match &self.anchor {
            Some(_) => chain_head::read(&tx)?.filter(|h| Some(h.seq) != head_before),
            None => None,
        };
        tx.commit().map_err(|e| LedgerError::sql(context, e))?;
        self.advance_anchor(head_after)?;
        Ok(out)
    }

    /// Best effort: the refusal is reported to the caller whether or not
    /// this record could be written.
    pub(crate) fn record_clock_refusal(
        &mut self,
        context: &str,
        observed_ms: i64,
        newest_ms: i64,
        tol: i64,
    ) {
        {
            let mut last = LAST_CLOCK_RECORD.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < CLOCK_RECORD_INTERVAL) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let ev = NewEvent {
            ts_ms: newest_ms,
            kind: KIND_CLOCK_BEHIND_LEDGER.into(),
            index: EventIndex {
                outcome: Some("refused".into()),
                ..Default::default()
            },
            body: serde_json::json!({
                "observed_ms": observed_ms, "newest_ms": newest_ms,
                "behind_ms": newest_ms - observed_ms, "tolerance_ms": tol, "context": context,
            }),
        };
        let _ = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(LedgerError::from)
            .and_then(|tx| {
                events::append_in_tx(&tx, &self.keys, std::slice::from_ref(&ev))?;
                let head = chain_head::read(&tx)?;
                tx.commit()?;
                Ok(head)
            })
            .and_then(|head| self.advance_anchor(head));
    }
}
