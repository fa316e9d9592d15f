//! Relying applications allowed to ask for step-up through the local API,
//! and the non-human principals break-glass may be granted for. Each
//! registry is its own JSON file in the data dir (`clients.json`,
//! `principals.json`, mode 0600), rewritten atomically (temporary file,
//! fsync, rename); every change is a ledger event.

use std::collections::BTreeSet;
use std::path::PathBuf;

use countersign_core::people::validate_id;
use countersign_core::{Principal, PrincipalKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError};

pub const CLIENTS_FILE: &str = "clients.json";
pub const PRINCIPALS_FILE: &str = "principals.json";

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
                let ok = hex::decode(h.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                    .is_some();
                if !ok {
                    return Err(EngineError::Invalid(
                        "the public key must be 32 bytes of Ed25519, in hex".into(),
                    ));
                }
                ClientCredential::PublicKey {
                    ed25519_hex: h.trim().to_ascii_lowercase(),
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
                let now = self.now();
                let known = all.iter().any(|c| c.id == id);
                self.ledger.append(
                    &Ev::new(
                        kinds::CLIENT_AUTH_FAILED,
                        now,
                        json!({ "client_id": id, "known_client": known }),
                    )
                    .outcome("refused")
                    .build(),
                )?;
                Err(EngineError::ClientAuth)
            }
        }
    }

    /// Registers a service account, API key or agent for break-glass.
    pub fn add_principal(
        &mut self,
        id: &str,
        kind: PrincipalKind,
        owner: &str,
        scopes: BTreeSet<String>,
        description: &str,
        by: &str,
    ) -> Result<Principal, EngineError> {
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
        let mut all: Vec<Principal> = self.load_registry(PRINCIPALS_FILE)?;
        if all.iter().any(|p| p.id == id) {
            return Err(EngineError::Invalid(format!(
                "principal {id} already exists"
            )));
        }
        let p = Principal {
            id: id.into(),
            kind,
            owner: owner.into(),
            scopes,
            description: description.into(),
        };
        let now = self.now();
        self.ledger.append(
            &Ev::new(
                kinds::PRINCIPAL_ADDED,
                now,
                json!({ "principal": p, "by": by }),
            )
            .person(id)
            .outcome("added")
            .build(),
        )?;
        all.push(p.clone());
        self.save_registry(PRINCIPALS_FILE, &all)?;
        Ok(p)
    }

    pub fn list_principals(&self) -> Result<Vec<Principal>, EngineError> {
        self.load_registry(PRINCIPALS_FILE)
    }

    pub fn principal(&self, id: &str) -> Result<Principal, EngineError> {
        self.list_principals()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| EngineError::UnknownPrincipal(id.into()))
    }
}
