//! Failed client authentications at the local API: limited per client id
//! and per source address, and recorded as aggregates.
//!
//! A [`ClientAuthGuard`] lives as long as the API server (it is the
//! server's memory; the engine is opened per request). It keeps, per
//! claimed client id and per source address, a fixed window of
//! [`AuthLimits::window_ms`] that starts at the first failure:
//!
//! - **Limit.** Once a client id has [`AuthLimits::per_client`] failures
//!   in its window, or a source [`AuthLimits::per_source`], every request
//!   naming that id or coming from that source is answered
//!   `client.rate_limited` (HTTP 429 with `Retry-After`, the seconds left
//!   in the window) *before* any secret is checked: no argon2 runs for it.
//!   A legitimate client sharing the id or the loopback source waits at
//!   most one window; that is the price of not letting a local process
//!   guess secrets at argon2's speed.
//! - **Evidence.** Failures are aggregated per known client (unknown ids
//!   share one aggregate, which names up to 16 of the ids tried). The
//!   first failure of a window is written at once as a `client.auth_failed`
//!   event (`aggregate: "first"`, count 1, its reason, method and source),
//!   so an attack is in the ledger from its first request. Everything else
//!   in the window (further failures and the rate-limited requests) is one
//!   more `client.auth_failed` event (`aggregate: "rest"`: count, reasons
//!   with their counts, methods, sources, the window's start and end),
//!   written by the first request or idle tick of the server after the
//!   window ends ([`Engine::flush_client_auth_failures`]), and by the
//!   server's shutdown (SIGTERM / Ctrl-C) for windows still open. So 200
//!   bad requests in a minute are 2 events, not 200; what a SIGKILL loses
//!   is the count of the open window's tail, never its first failure.
//!
//! Known and unknown ids take the same work: an unknown id (or a client
//! registered with a key, tried with Basic) is checked against a dummy
//! argon2id hash made with the same parameters as real ones
//! ([`ClientAuthGuard::secret_verifies`] counts every check, for tests).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use countersign_ledger::NewEvent;
use serde_json::json;

use crate::evidence::{kinds, Ev};

/// The limits of a [`ClientAuthGuard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Length of a window, ms (fixed, from the window's first failure).
    pub window_ms: i64,
    /// Failures per client id per window before requests naming it get 429.
    pub per_client: u32,
    /// Failures per source address per window before its requests get 429.
    pub per_source: u32,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            window_ms: 60_000,
            per_client: 10,
            per_source: 30,
        }
    }
}

/// Keys tracked per map; beyond it, new ids or sources share one overflow
/// window (so spraying ids or 127.x addresses is limited as one).
const MAX_KEYS: usize = 4096;
const OVERFLOW: &str = "\u{0}overflow";
/// Ids kept as written in the evidence, at most this long.
const MAX_ID_LEN: usize = 64;
const MAX_SAMPLED_IDS: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: i64,
    failures: u32,
}

#[derive(Debug, Default)]
struct Aggregate {
    start_ms: i64,
    known: bool,
    first_recorded: bool,
    /// Failures and rate-limited requests not in the "first" event.
    rest: u64,
    reasons: BTreeMap<String, u64>,
    methods: BTreeSet<String>,
    sources: BTreeSet<String>,
    ids: BTreeSet<String>,
}

/// One failed authentication, as the guard records it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure<'a> {
    /// The id the request claimed ("" when the header named none).
    pub claimed_id: &'a str,
    pub known: bool,
    pub method: &'a str,
    pub reason: &'a str,
    pub source: &'a str,
}

/// The API server's memory of failed client authentications. See the
/// module docs.
#[derive(Debug)]
pub struct ClientAuthGuard {
    limits: AuthLimits,
    clients: HashMap<String, Window>,
    sources: HashMap<String, Window>,
    pending: BTreeMap<String, Aggregate>,
    known_ids: BTreeSet<String>,
    dummy_phc: String,
    secret_verifies: u64,
}

pub(crate) fn clip(id: &str) -> String {
    id.chars().take(MAX_ID_LEN).collect()
}

impl ClientAuthGuard {
    /// A guard with `limits`. Makes the dummy hash (one argon2id hash).
    pub fn new(limits: AuthLimits) -> ClientAuthGuard {
        let secret = hex::encode(rand::random::<[u8; 24]>());
        let dummy_phc = countersign_core::auth::hash_secret(&secret, rand::random())
            .expect("a 48-character secret hashes");
        ClientAuthGuard {
            limits,
            clients: HashMap::new(),
            sources: HashMap::new(),
            pending: BTreeMap::new(),
            known_ids: BTreeSet::new(),
            dummy_phc,
            secret_verifies: 0,
        }
    }

    pub fn limits(&self) -> AuthLimits {
        self.limits
    }

    /// How many argon2 secret checks ran (real and dummy): a known id with
    /// a wrong secret and an unknown id each add exactly one.
    pub fn secret_verifies(&self) -> u64 {
        self.secret_verifies
    }

    /// Checks `secret` against `phc`, or against the dummy hash when there
    /// is no real one, so both take argon2's time.
    pub(crate) fn verify_secret(&mut self, phc: Option<&str>, secret: &str) -> bool {
        self.secret_verifies += 1;
        match phc {
            Some(p) => countersign_core::auth::verify_secret(p, secret),
            None => {
                let _ = countersign_core::auth::verify_secret(&self.dummy_phc, secret);
                false
            }
        }
    }

    fn window_key<'a>(map: &HashMap<String, Window>, key: &'a str) -> &'a str {
        if map.contains_key(key) || map.len() < MAX_KEYS {
            key
        } else {
            OVERFLOW
        }
    }

    fn prune(&mut self, now: i64) {
        let w = self.limits.window_ms;
        let live = |v: &Window| now >= v.start_ms && now < v.start_ms + w;
        self.clients.retain(|_, v| live(v));
        self.sources.retain(|_, v| live(v));
    }

    /// Seconds until `claimed_id` and `source` may try again, when either
    /// is over its limit; `None` when the request may be checked. A limited
    /// request is counted in its aggregate (reason `rate_limited`) and
    /// checks nothing.
    pub fn check_limit(&mut self, claimed_id: &str, source: &str, now: i64) -> Option<i64> {
        self.prune(now);
        let id = clip(claimed_id);
        let over = |map: &HashMap<String, Window>, key: &str, limit: u32| {
            map.get(Self::window_key(map, key))
                .filter(|w| w.failures >= limit)
                .map(|w| w.start_ms + self.limits.window_ms - now)
        };
        let wait = [
            over(&self.clients, &id, self.limits.per_client),
            over(&self.sources, source, self.limits.per_source),
        ]
        .into_iter()
        .flatten()
        .max()?;
        let known = self.known_ids.contains(&id);
        self.aggregate(
            &Failure {
                claimed_id: &id,
                known,
                method: "any",
                reason: "rate_limited",
                source,
            },
            now,
        );
        Some((wait + 999).div_euclid(1000).max(1))
    }

    fn aggregate(&mut self, f: &Failure<'_>, now: i64) -> &mut Aggregate {
        let key = if f.known {
            clip(f.claimed_id)
        } else {
            String::new()
        };
        let a = self.pending.entry(key).or_insert_with(|| Aggregate {
            start_ms: now,
            known: f.known,
            ..Default::default()
        });
        if a.ids.len() < MAX_SAMPLED_IDS {
            a.ids.insert(clip(f.claimed_id));
        }
        a.sources.insert(f.source.to_string());
        a.methods.insert(f.method.to_string());
        if a.first_recorded || f.reason == "rate_limited" {
            a.rest += 1;
            *a.reasons.entry(f.reason.to_string()).or_default() += 1;
        }
        a
    }

    /// Counts a failed check against the client id's and the source's
    /// windows and aggregates it; returns the event to write at once when
    /// it is the first failure of its aggregate's window.
    pub(crate) fn failed(&mut self, f: &Failure<'_>, now: i64) -> Option<NewEvent> {
        self.prune(now);
        let id = clip(f.claimed_id);
        if f.known {
            self.known_ids.insert(id.clone());
        }
        for (map, key) in [
            (&mut self.clients, id.as_str()),
            (&mut self.sources, f.source),
        ] {
            let k = Self::window_key(map, key).to_string();
            map.entry(k)
                .or_insert(Window {
                    start_ms: now,
                    failures: 0,
                })
                .failures += 1;
        }
        let a = self.aggregate(f, now);
        if a.first_recorded {
            return None;
        }
        a.first_recorded = true;
        let start = a.start_ms;
        Some(
            Ev::new(
                kinds::CLIENT_AUTH_FAILED,
                now,
                json!({ "aggregate": "first", "count": 1, "client_id": id, "known_client": f.known, "method": f.method, "reason": f.reason, "source": f.source, "window_start_ms": start }),
            )
            .outcome("refused")
            .build(),
        )
    }

    /// When the next aggregate's window ends (ms), if any is open.
    pub fn next_due(&self) -> Option<i64> {
        self.pending
            .values()
            .map(|a| a.start_ms + self.limits.window_ms)
            .min()
    }

    /// The aggregates whose window ended by `now` (all of them with
    /// `all`), as events, removed from the guard.
    pub(crate) fn due(&mut self, now: i64, all: bool) -> Vec<NewEvent> {
        let w = self.limits.window_ms;
        let keys: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, a)| all || now >= a.start_ms + w || now < a.start_ms)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = vec![];
        for k in keys {
            let a = self.pending.remove(&k).expect("listed");
            if a.rest == 0 {
                continue;
            }
            let client_id = a.known.then(|| k.clone());
            let end_ms = (a.start_ms + w).min(now.max(a.start_ms));
            out.push(
                Ev::new(
                    kinds::CLIENT_AUTH_FAILED,
                    now,
                    json!({ "aggregate": "rest", "count": a.rest, "client_id": client_id, "known_client": a.known, "client_ids": a.ids, "reasons": a.reasons, "methods": a.methods, "sources": a.sources, "window_start_ms": a.start_ms, "window_end_ms": end_ms }),
                )
                .outcome("refused")
                .build(),
            );
        }
        out
    }
}
