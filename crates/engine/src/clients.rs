//! Relying applications allowed to ask for step-up through the local API,
//! and the non-human principals break-glass may be granted for. Each
//! registry is its own JSON file in the data dir (`clients.json`,
//! `principals.json`, mode 0600), rewritten atomically (temporary file,
//! fsync, rename); every change is a ledger event.
//!
//! A client authenticates with HTTP Basic (id and secret) or, if it
//! registered an Ed25519 public key, with signed requests
//! ([`Engine::authenticate_signed_request`]); used request nonces are kept in
//! `api-nonces.json` for as long as their timestamp would pass the skew
//! check, so a restarted API still refuses a replay.

use std::collections::BTreeSet;
use std::path::PathBuf;

use countersign_assertion::signed_request::{parse_public_key, RequestSignature, MAX_SKEW_S};
use countersign_assertion::{AssertionError, ReplayStore};
use countersign_core::people::validate_id;
use countersign_core::{Principal, PrincipalKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client_auth::{ClientAuthGuard, Failure};
use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError};

pub const CLIENTS_FILE: &str = "clients.json";
pub const PRINCIPALS_FILE: &str = "principals.json";
/// Nonces of signed requests seen recently (not secret).
pub const NONCES_FILE: &str = "api-nonces.json";

/// A request as the API received it, for [`Engine::authenticate_signed_request`].
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The `Authorization` header's value (`Countersign-Ed25519 ...`).
    pub authorization: &'a str,
    pub method: &'a str,
    /// Path and query, exactly as sent.
    pub path: &'a str,
    pub body: &'a [u8],
}

/// A principal's registration: the core's [`Principal`] and the relying
/// applications allowed to ask break-glass for it over the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredPrincipal {
    #[serde(flatten)]
    pub principal: Principal,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub clients: BTreeSet<String>,
}

/// How a relying application proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ClientCredential {
    /// HTTP Basic; the secret is stored as an argon2id PHC string.
    Secret { phc: String },
    /// An Ed25519 public key (hex) for signed requests.
    PublicKey { ed25519_hex: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub scopes: BTreeSet<String>,
    pub credential: ClientCredential,
    pub created_ms: i64,
}

/// A client as shown: never the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    pub id: String,
    pub name: String,
    pub scopes: BTreeSet<String>,
    pub auth_method: String,
    pub created_ms: i64,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        ClientView {
            id: c.id.clone(),
            name: c.name.clone(),
            scopes: c.scopes.clone(),
            auth_method: match c.credential {
                ClientCredential::Secret { .. } => "client_secret_basic".into(),
                ClientCredential::PublicKey { .. } => "ed25519_public_key".into(),
            },
            created_ms: c.created_ms,
        }
    }
}

/// What to register a client with.
#[derive(Debug, Clone)]
pub enum NewClientCredential {
    Secret(String),
    PublicKeyHex(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry<T> {
    #[serde(default = "Vec::new")]
    entries: Vec<T>,
}

impl Engine {
    fn registry_path(&self, file: &str) -> PathBuf {
        self.dir.root().join(file)
    }

    fn load_registry<T: for<'de> Deserialize<'de>>(
        &self,
        file: &str,
    ) -> Result<Vec<T>, EngineError> {
        let p = self.registry_path(file);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice::<Registry<T>>(&b)
                .map(|r| r.entries)
                .map_err(|e| EngineError::Invalid(format!("{} is corrupt: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(EngineError::Io {
                context: "reading a registry",
                path: p,
                source: e,
            }),
        }
    }

    fn save_registry<T: Serialize>(&self, file: &str, entries: &[T]) -> Result<(), EngineError> {
        let p = self.registry_path(file);
        let bytes =
            serde_json::to_vec_pretty(&json!({ "entries": entries })).expect("serialisable");
        // Created 0600 before a byte is written (not narrowed afterwards).
        crate::datadir::write_private(&p, &bytes)
    }

    fn check_scopes(&self, scopes: &BTreeSet<String>) -> Result<(), EngineError> {
        if scopes.is_empty() {
            return Err(EngineError::Invalid("at least one scope is needed".into()));
        }
        if let Some(s) = scopes.iter().find(|s| self.policy.scope(s).is_none()) {
            return Err(countersign_core::Refusal::UnknownScope { scope: s.clone() }.into());
        }
        Ok(())
    }

    /// Registers a relying application (an admin's act). The change is
    /// logged (`client.added`, `by` the signed-in admin).
    pub fn add_client(
        &mut self,
        pass: &crate::AdminPass,
        id: &str,
        name: &str,
        scopes: BTreeSet<String>,
        cred: NewClientCredential,
    ) -> Result<ClientView, EngineError> {
        let by = self.admin_act(pass)?;
        let by = by.as_str();
        validate_id(id).map_err(|e| EngineError::Invalid(e.replace("person id", "client id")))?;
        self.check_scopes(&scopes)?;
        let mut all: Vec<Client> = self.load_registry(CLIENTS_FILE)?;
        if all.iter().any(|c| c.id == id) {
            return Err(EngineError::Invalid(format!("client {id} already exists")));
        }
        let credential = match cred {
            NewClientCredential::Secret(s) => {
                if s.len() < 16 {
                    return Err(EngineError::Invalid(
                        "a client secret must be at least 16 characters".into(),
                    ));
                }
                let salt: [u8; 16] = rand::random();
                ClientCredential::Secret {
                    phc: countersign_core::auth::hash_secret(&s, salt)?,
                }
            }
            NewClientCredential::PublicKeyHex(h) => {
                let key = parse_public_key(&h).map_err(|e| {
                    EngineError::Invalid(format!(
                        "{e} (an Ed25519 public key: 64 hex characters or a PEM PUBLIC KEY)"
                    ))
                })?;
                ClientCredential::PublicKey {
                    ed25519_hex: countersign_assertion::signed_request::public_key_hex(&key),
                }
            }
        };
        let now = self.now();
        let c = Client {
            id: id.into(),
            name: name.into(),
            scopes,
            credential,
            created_ms: now,
        };
        let view = ClientView::from(&c);
        // Evidence first: if the event cannot be written, the file is untouched.
        self.ledger.append(
            &Ev::new(
                kinds::CLIENT_ADDED,
                now,
                json!({ "client": view, "by": by }),
            )
            .case(id)
            .outcome("added")
            .build(),
        )?;
        all.push(c);
        self.save_registry(CLIENTS_FILE, &all)?;
        Ok(view)
    }

    /// One registered client, as shown.
    pub fn client(&self, id: &str) -> Result<Option<ClientView>, EngineError> {
        Ok(self
            .load_registry::<Client>(CLIENTS_FILE)?
            .iter()
            .find(|c| c.id == id)
            .map(ClientView::from))
    }

    pub fn list_clients(&self) -> Result<Vec<ClientView>, EngineError> {
        Ok(self
            .load_registry::<Client>(CLIENTS_FILE)?
            .iter()
            .map(ClientView::from)
            .collect())
    }

    /// Checks a client's id and secret (HTTP Basic), within `guard`'s
    /// limits (see [`crate::client_auth`]): over the limit for this id or
    /// `source`, `client.rate_limited` without checking anything. A failure
    /// never says whether the id or the secret was wrong, and takes the
    /// same argon2 check either way; it is recorded through `guard`.
    pub fn authenticate_client(
        &mut self,
        guard: &mut ClientAuthGuard,
        source: &str,
        id: &str,
        secret: &str,
    ) -> Result<ClientView, EngineError> {
        const METHOD: &str = "client_secret_basic";
        let now = self.now();
        self.flush_client_auth_failures(guard, false)?;
        if let Some(retry_after_s) = guard.check_limit(id, source, now) {
            return Err(EngineError::ClientRateLimited { retry_after_s });
        }
        let all: Vec<Client> = self.load_registry(CLIENTS_FILE)?;
        let client = all.iter().find(|c| c.id == id);
        let phc = client.and_then(|c| match &c.credential {
            ClientCredential::Secret { phc } => Some(phc.as_str()),
            ClientCredential::PublicKey { .. } => None,
        });
        // Unknown ids and key clients are checked against the dummy hash.
        if guard.verify_secret(phc, secret) {
            if let Some(c) = client {
                return Ok(ClientView::from(c));
            }
        }
        let reason = match (client, phc) {
            (None, _) => "unknown_client",
            (Some(_), None) => "wrong_method",
            (Some(_), Some(_)) => "bad_secret",
        };
        let failure = Failure {
            claimed_id: id,
            known: client.is_some(),
            method: METHOD,
            reason,
            source,
        };
        Err(self.client_auth_failed(guard, &failure, EngineError::ClientAuth))
    }

    /// Records a failed client authentication through `guard` (the first of
    /// a window at once, the rest as an aggregate) and returns `err`.
    fn client_auth_failed(
        &mut self,
        guard: &mut ClientAuthGuard,
        failure: &Failure<'_>,
        err: EngineError,
    ) -> EngineError {
        let now = self.now();
        match guard.failed(failure, now) {
            Some(ev) => match self.ledger.append(&ev) {
                Ok(_) => err,
                Err(e) => EngineError::Ledger(e),
            },
            None => err,
        }
    }

    /// Writes the aggregated `client.auth_failed` events whose window has
    /// ended (all of them with `all`, at the server's shutdown). Returns
    /// how many events were written.
    pub fn flush_client_auth_failures(
        &mut self,
        guard: &mut ClientAuthGuard,
        all: bool,
    ) -> Result<usize, EngineError> {
        let due = guard.due(self.now(), all);
        if !due.is_empty() {
            self.ledger.append_batch(&due)?;
        }
        Ok(due.len())
    }

    /// Checks an Ed25519 signed request, within `guard`'s limits: the
    /// header's shape, its timestamp within [`MAX_SKEW_S`] of the kiosk
    /// clock, the signature under the client's registered key (an unknown
    /// id is checked against a dummy key, the same work), then that the
    /// nonce is new for that client. Every refusal is recorded through
    /// `guard`. An unknown client, a client registered with a secret and a
    /// bad signature are all `client.auth_failed` to the caller (the log
    /// says which); a stale request is `client.clock_skew`, a replayed
    /// nonce `client.nonce_replayed`.
    pub fn authenticate_signed_request(
        &mut self,
        guard: &mut ClientAuthGuard,
        source: &str,
        req: &SignedRequest<'_>,
    ) -> Result<ClientView, EngineError> {
        const METHOD: &str = "ed25519_signed_request";
        let now = self.now();
        self.flush_client_auth_failures(guard, false)?;
        let parsed = RequestSignature::parse(req.authorization);
        let claimed = parsed
            .as_ref()
            .map(|s| s.client_id.clone())
            .unwrap_or_default();
        if let Some(retry_after_s) = guard.check_limit(&claimed, source, now) {
            return Err(EngineError::ClientRateLimited { retry_after_s });
        }
        let all: Vec<Client> = self.load_registry(CLIENTS_FILE)?;
        let known = all.iter().any(|c| c.id == claimed);
        let fail = |reason: &'static str| Failure {
            claimed_id: &claimed,
            known,
            method: METHOD,
            reason,
            source,
        };
        let sig = match parsed {
            Ok(s) => s,
            Err(e) => {
                return Err(self.client_auth_failed(guard, &fail("malformed"), e.into()));
            }
        };
        let id = sig.client_id.clone();
        let now_s = now.div_euclid(1000);
        if let Err(e) = sig.check_time(now_s, MAX_SKEW_S) {
            return Err(self.client_auth_failed(guard, &fail("clock_skew"), e.into()));
        }
        let client = all.iter().find(|c| c.id == id);
        let registered = match client.map(|c| &c.credential) {
            Some(ClientCredential::PublicKey { ed25519_hex }) => {
                Some(parse_public_key(ed25519_hex).map_err(|_| {
                    EngineError::Invalid(format!("the registered key of client {id} is corrupt"))
                })?)
            }
            _ => None,
        };
        // Unknown ids and secret clients: the same check, on a key nobody holds.
        let key = registered.unwrap_or_else(dummy_key);
        let good = sig.verify(&key, req.method, req.path, req.body).is_ok();
        let (Some(client), true, true) = (client, registered.is_some(), good) else {
            let reason = match (client, registered) {
                (None, _) => "unknown_client",
                (Some(_), None) => "wrong_method",
                (Some(_), Some(_)) => "bad_signature",
            };
            return Err(self.client_auth_failed(guard, &fail(reason), EngineError::ClientAuth));
        };
        let view = ClientView::from(client);
        let mut nonces = PrivateNonceStore(self.registry_path(NONCES_FILE));
        match nonces.first_use(&sig.replay_key(), sig.ts + MAX_SKEW_S, now_s) {
            Ok(true) => Ok(view),
            Ok(false) => {
                let e = AssertionError::RequestNonceReplayed(sig.nonce.clone());
                Err(self.client_auth_failed(guard, &fail("nonce_replayed"), e.into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Registers a service account, API key or agent for break-glass (an
    /// admin's act). `clients` are the relying applications that may ask
    /// break-glass for it over the API (each must be registered and may ask
    /// for those scopes).
    #[allow(clippy::too_many_arguments)]
    pub fn add_principal(
        &mut self,
        pass: &crate::AdminPass,
        id: &str,
        kind: PrincipalKind,
        owner: &str,
        scopes: BTreeSet<String>,
        clients: BTreeSet<String>,
        description: &str,
    ) -> Result<RegisteredPrincipal, EngineError> {
        let by = self.admin_act(pass)?;
        let by = by.as_str();
        validate_id(id)
            .map_err(|e| EngineError::Invalid(e.replace("person id", "principal id")))?;
        if kind.is_human() {
            return Err(EngineError::Invalid(
                "people are added with `people add`; a principal is a service account, API key or agent".into(),
            ));
        }
        self.person(owner)?;
        if self.person(id).is_ok() {
            return Err(EngineError::Invalid(format!(
                "{id} is already a person's id"
            )));
        }
        self.check_scopes(&scopes)?;
        let registered = self.list_clients()?;
        for c in &clients {
            let Some(v) = registered.iter().find(|v| &v.id == c) else {
                return Err(EngineError::Invalid(format!(
                    "client {c} is not registered (countersign client add)"
                )));
            };
            if let Some(s) = scopes.iter().find(|s| !v.scopes.contains(*s)) {
                return Err(EngineError::ClientScope {
                    client: c.clone(),
                    scope: s.clone(),
                });
            }
        }
        let mut all: Vec<RegisteredPrincipal> = self.load_registry(PRINCIPALS_FILE)?;
        if all.iter().any(|p| p.principal.id == id) {
            return Err(EngineError::Invalid(format!(
                "principal {id} already exists"
            )));
        }
        let p = RegisteredPrincipal {
            principal: Principal {
                id: id.into(),
                kind,
                owner: owner.into(),
                scopes,
                description: description.into(),
            },
            clients,
        };
        let now = self.now();
        self.ledger.append(
            &Ev::new(
                kinds::PRINCIPAL_ADDED,
                now,
                json!({ "principal": p.principal, "clients": p.clients, "by": by }),
            )
            .person(id)
            .outcome("added")
            .build(),
        )?;
        all.push(p.clone());
        self.save_registry(PRINCIPALS_FILE, &all)?;
        Ok(p)
    }

    pub fn list_principals(&self) -> Result<Vec<RegisteredPrincipal>, EngineError> {
        self.load_registry(PRINCIPALS_FILE)
    }

    pub fn registered_principal(&self, id: &str) -> Result<RegisteredPrincipal, EngineError> {
        self.list_principals()?
            .into_iter()
            .find(|p| p.principal.id == id)
            .ok_or_else(|| EngineError::UnknownPrincipal(id.into()))
    }

    pub fn principal(&self, id: &str) -> Result<Principal, EngineError> {
        Ok(self.registered_principal(id)?.principal)
    }
}

/// `api-nonces.json`: the same format as the assertion crate's
/// `FileReplayStore` (a JSON map of key to expiry, seconds), written 0600
/// through [`crate::datadir::write_private`].
#[derive(Debug)]
struct PrivateNonceStore(PathBuf);

impl ReplayStore for PrivateNonceStore {
    fn first_use(&mut self, key: &str, exp_s: i64, now_s: i64) -> Result<bool, AssertionError> {
        let mut seen: std::collections::BTreeMap<String, i64> = match std::fs::read(&self.0) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                AssertionError::ReplayStore(format!("{} is corrupt: {e}", self.0.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => {
                return Err(AssertionError::ReplayStore(format!(
                    "reading {}: {e}",
                    self.0.display()
                )))
            }
        };
        seen.retain(|_, exp| *exp > now_s);
        if seen.contains_key(key) {
            return Ok(false);
        }
        seen.insert(key.into(), exp_s);
        let bytes = serde_json::to_vec(&seen).expect("serialisable");
        crate::datadir::write_private(&self.0, &bytes)
            .map_err(|e| AssertionError::ReplayStore(e.to_string()))?;
        Ok(true)
    }
}

/// The key an unknown id's signature is checked against (nobody holds its
/// private half: it is derived from a fixed public string by hashing).
fn dummy_key() -> countersign_assertion::VerifyingKey {
    use sha2::Digest;
    let seed: [u8; 32] = sha2::Sha256::digest(b"countersign: no client has this key").into();
    countersign_assertion::SigningKey::from_bytes(&seed).verifying_key()
}
