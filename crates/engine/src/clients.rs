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
use countersign_assertion::{AssertionError, FileReplayStore, ReplayStore};
use countersign_core::people::validate_id;
use countersign_core::{Principal, PrincipalKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

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
        use std::os::unix::fs::PermissionsExt;
        let p = self.registry_path(file);
        let bytes =
            serde_json::to_vec_pretty(&json!({ "entries": entries })).expect("serialisable");
        countersign_assertion::write_atomic(&p, &bytes)
            .map_err(EngineError::io("writing a registry", &p))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
            .map_err(EngineError::io("setting registry file mode", &p))
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

    /// Registers a relying application. The change is logged (`client.added`).
    pub fn add_client(
        &mut self,
        id: &str,
        name: &str,
        scopes: BTreeSet<String>,
        cred: NewClientCredential,
        by: &str,
    ) -> Result<ClientView, EngineError> {
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

    /// Checks a client's id and secret (HTTP Basic). A failure is logged
    /// and never says whether the id or the secret was wrong.
    pub fn authenticate_client(
        &mut self,
        id: &str,
        secret: &str,
    ) -> Result<ClientView, EngineError> {
        let all: Vec<Client> = self.load_registry(CLIENTS_FILE)?;
        let ok = all
            .iter()
            .find(|c| c.id == id)
            .filter(|c| match &c.credential {
                ClientCredential::Secret { phc } => {
                    countersign_core::auth::verify_secret(phc, secret)
                }
                ClientCredential::PublicKey { .. } => false,
            });
        match ok {
            Some(c) => Ok(ClientView::from(c)),
            None => {
                let reason = match all.iter().find(|c| c.id == id) {
                    None => "unknown_client",
                    Some(c) if matches!(c.credential, ClientCredential::PublicKey { .. }) => {
                        "wrong_method"
                    }
                    Some(_) => "bad_secret",
                };
                Err(self.client_auth_failed(
                    id,
                    "client_secret_basic",
                    reason,
                    EngineError::ClientAuth,
                ))
            }
        }
    }

    /// Logs a failed client authentication (`client.auth_failed`, with the
    /// precise reason for reviewers) and returns `err` for the caller.
    fn client_auth_failed(
        &mut self,
        id: &str,
        method: &str,
        reason: &str,
        err: EngineError,
    ) -> EngineError {
        let now = self.now();
        let known = reason != "unknown_client" && !id.is_empty();
        let ev = Ev::new(
            kinds::CLIENT_AUTH_FAILED,
            now,
            json!({ "client_id": id, "known_client": known, "method": method, "reason": reason }),
        )
        .outcome("refused")
        .build();
        match self.ledger.append(&ev) {
            Ok(_) => err,
            Err(e) => EngineError::Ledger(e),
        }
    }

    /// Checks an Ed25519 signed request: the header's shape, its timestamp
    /// within [`MAX_SKEW_S`] of the kiosk clock, the signature under the
    /// client's registered key, then that the nonce is new for that client.
    /// Every refusal is logged. An unknown client, a client registered with
    /// a secret and a bad signature are all `client.auth_failed` to the
    /// caller (the log says which); a stale request is `client.clock_skew`,
    /// a replayed nonce `client.nonce_replayed`.
    pub fn authenticate_signed_request(
        &mut self,
        req: &SignedRequest<'_>,
    ) -> Result<ClientView, EngineError> {
        const METHOD: &str = "ed25519_signed_request";
        let sig = match RequestSignature::parse(req.authorization) {
            Ok(s) => s,
            Err(e) => return Err(self.client_auth_failed("", METHOD, "malformed", e.into())),
        };
        let id = sig.client_id.clone();
        let now_s = self.now().div_euclid(1000);
        if let Err(e) = sig.check_time(now_s, MAX_SKEW_S) {
            return Err(self.client_auth_failed(&id, METHOD, "clock_skew", e.into()));
        }
        let all: Vec<Client> = self.load_registry(CLIENTS_FILE)?;
        let Some(client) = all.iter().find(|c| c.id == id) else {
            return Err(self.client_auth_failed(
                &id,
                METHOD,
                "unknown_client",
                EngineError::ClientAuth,
            ));
        };
        let ClientCredential::PublicKey { ed25519_hex } = &client.credential else {
            return Err(self.client_auth_failed(
                &id,
                METHOD,
                "wrong_method",
                EngineError::ClientAuth,
            ));
        };
        let key = match parse_public_key(ed25519_hex) {
            Ok(k) => k,
            Err(_) => {
                return Err(EngineError::Invalid(format!(
                    "the registered key of client {id} is corrupt"
                )))
            }
        };
        if sig.verify(&key, req.method, req.path, req.body).is_err() {
            return Err(self.client_auth_failed(
                &id,
                METHOD,
                "bad_signature",
                EngineError::ClientAuth,
            ));
        }
        let view = ClientView::from(client);
        let mut nonces = FileReplayStore::new(self.registry_path(NONCES_FILE));
        match nonces.first_use(&sig.replay_key(), sig.ts + MAX_SKEW_S, now_s) {
            Ok(true) => Ok(view),
            Ok(false) => {
                let e = AssertionError::RequestNonceReplayed(sig.nonce.clone());
                Err(self.client_auth_failed(&id, METHOD, "nonce_replayed", e.into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Registers a service account, API key or agent for break-glass.
    /// `clients` are the relying applications that may ask break-glass for
    /// it over the API (each must be registered and may ask for those scopes).
    #[allow(clippy::too_many_arguments)]
    pub fn add_principal(
        &mut self,
        id: &str,
        kind: PrincipalKind,
        owner: &str,
        scopes: BTreeSet<String>,
        clients: BTreeSet<String>,
        description: &str,
        by: &str,
    ) -> Result<RegisteredPrincipal, EngineError> {
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
