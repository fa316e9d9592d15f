//! What relying applications are waiting for, so the kiosk window can come
//! to the front: [`Engine::open_stepup_requests`] is cheap enough to poll
//! (three indexed ledger queries over the last [`REQUEST_TTL_MS`] and one
//! read of `clients.json`, whatever the ledger's size).

use std::collections::{BTreeSet, HashMap, HashSet};

use countersign_ledger::Filter;
use serde::{Deserialize, Serialize};

use crate::assertions::REQUEST_TTL_MS;
use crate::evidence::kinds;
use crate::{Engine, EngineError};

/// A relying application's step-up request the kiosk has not completed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    /// The step-up session id (`stp-…`), what `stepup --request` and the
    /// window's step-up take.
    pub request_id: String,
    pub client_id: String,
    /// The client's registered display name (its id if it is no longer registered).
    pub client_name: String,
    pub scope: BTreeSet<String>,
    pub acr_values: Vec<String>,
    /// Seconds, as the client asked.
    pub max_age: Option<i64>,
    pub created_ms: i64,
    /// When it stops being open if nobody completes it.
    pub expires_ms: i64,
    /// A fallback was offered: the request waits for a supervisor.
    pub fallback_offered: bool,
}

impl Engine {
    /// Open step-up requests from relying applications, oldest first: asked
    /// through the API, not completed (no success, override, cancellation
    /// or answer yet) and not expired ([`REQUEST_TTL_MS`]).
    pub fn open_stepup_requests(&self) -> Result<Vec<OpenRequest>, EngineError> {
        let now = self.now();
        let since = now - REQUEST_TTL_MS + 1;
        let requested = self.ledger.all(&Filter {
            kinds: vec![kinds::ASSERTION_REQUESTED.into()],
            from_ms: Some(since),
            ..Default::default()
        })?;
        if requested.is_empty() {
            return Ok(vec![]);
        }
        // Everything that ends or advances a session, since the oldest
        // open candidate; filed under the session id except grants.
        let later = self.ledger.all(&Filter {
            kinds: vec![
                kinds::STEPUP_SUCCEEDED.into(),
                kinds::STEPUP_CANCELLED.into(),
                kinds::ASSERTION_ISSUED.into(),
                kinds::ASSERTION_REFUSED.into(),
                kinds::FALLBACK_TRIGGERED.into(),
            ],
            from_ms: Some(since),
            ..Default::default()
        })?;
        let mut done: HashSet<String> = HashSet::new();
        let mut fallback: HashSet<String> = HashSet::new();
        for r in &later {
            let Some(case) = r.index.case_id.clone() else {
                continue;
            };
            if r.kind == kinds::FALLBACK_TRIGGERED {
                if r.index.outcome.as_deref() == Some("fallback_offered") {
                    fallback.insert(case);
                }
            } else {
                done.insert(case);
            }
        }
        let grants = self.ledger.all(&Filter {
            kinds: vec![kinds::OVERRIDE_GRANTED.into()],
            from_ms: Some(since),
            ..Default::default()
        })?;
        done.extend(
            grants
                .iter()
                .filter_map(|g| g.body["session_id"].as_str().map(String::from)),
        );
        let names: HashMap<String, String> = self
            .list_clients()?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        Ok(requested
            .into_iter()
            .filter_map(|r| {
                let id = r.index.case_id.clone()?;
                if done.contains(&id) {
                    return None;
                }
                let b = &r.body;
                let client_id = b["client_id"].as_str().unwrap_or_default().to_string();
                Some(OpenRequest {
                    client_name: names.get(&client_id).cloned().unwrap_or(client_id.clone()),
                    client_id,
                    scope: serde_json::from_value(b["scope"].clone()).unwrap_or_default(),
                    acr_values: serde_json::from_value(b["acr_values"].clone()).unwrap_or_default(),
                    max_age: b["max_age"].as_i64(),
                    created_ms: r.ts_ms,
                    expires_ms: r.ts_ms + REQUEST_TTL_MS,
                    fallback_offered: fallback.contains(&id),
                    request_id: id,
                })
            })
            .collect())
    }
}

impl Engine {
    /// An override's live status as `client_id` may see it: only an
    /// override granted on a request that client made (a step-up it asked
    /// for, or break-glass it asked for). Any other id, existing or not, is
    /// `None`, so a client cannot learn which overrides exist, or their
    /// state, from another client's ids.
    pub fn client_override_status(
        &self,
        client_id: &str,
        override_id: &str,
    ) -> Result<Option<countersign_assertion::OverrideStatus>, EngineError> {
        let case = match self.load_case(override_id) {
            Ok(c) => c,
            Err(EngineError::UnknownOverride(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let asked = self.session_rows(
            &case.grant.session_id,
            &[kinds::ASSERTION_REQUESTED, kinds::BREAKGLASS_REQUESTED],
        )?;
        if !asked
            .iter()
            .any(|r| r.body["client_id"].as_str() == Some(client_id))
        {
            return Ok(None);
        }
        self.override_status(override_id)
    }
}
