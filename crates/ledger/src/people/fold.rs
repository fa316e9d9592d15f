//! The registry as the chain says it should be.
//!
//! The `people` table is mutable and outside the hash chain, so on its own
//! it proves nothing: `UPDATE people SET locked = 0` leaves no trace in the
//! chain. What makes it evidence is that every change to it is also a
//! signed event written in the same transaction
//! ([`crate::Ledger::change_people`]). Folding a person's events in order
//! gives the row the table must hold; [`check_person`] compares the two.
//! `log verify` does it for everyone ([`crate::Ledger::verify`]); the engine
//! does it for one person before it acts on them
//! ([`crate::Ledger::verify_person`]).
//!
//! What each event sets (the engine writes them; see `crates/engine/src/people.rs`):
//! - `person.added`: `display_name`, `roles`; no credentials, 0 failures, unlocked.
//! - `person.roles_changed`: `to` (the new roles).
//! - `person.credentials_set` / `person.credentials_attested`:
//!   `credentials_digest` (see [`credentials_digest`]); failures back to 0
//!   (attested: unchanged).
//! - `person.credentials_cleared`: no credentials (a restore from the
//!   bucket, which holds only their digest); failures and lock unchanged.
//! - `person.unlocked`: unlocked, 0 failures.
//! - `supervisor.auth`: success → 0 failures; failure → `failed` and
//!   `locked` from the body (the state the engine stored).
//!
//! A `person.credentials_set` event written before digests existed has no
//! `credentials_digest`; such a person's credentials cannot be checked
//! ([`CredentialState::Unrecorded`]) until the engine attests them once
//! (`person.credentials_attested`, written when a data dir from before this
//! check is opened; see the engine's `attest_unrecorded_credentials`).

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::{Keys, PersonRecord};

pub const KIND_PERSON_ADDED: &str = "person.added";
pub const KIND_PERSON_ROLES_CHANGED: &str = "person.roles_changed";
pub const KIND_PERSON_CREDENTIALS_SET: &str = "person.credentials_set";
pub const KIND_PERSON_CREDENTIALS_ATTESTED: &str = "person.credentials_attested";
pub const KIND_PERSON_UNLOCKED: &str = "person.unlocked";
/// Credentials the kiosk no longer holds (a restore from the bucket: the
/// chain keeps only their keyed digest), cleared with the reason.
pub const KIND_PERSON_CREDENTIALS_CLEARED: &str = "person.credentials_cleared";
pub const KIND_SUPERVISOR_AUTH: &str = "supervisor.auth";

/// The event kinds that change a person's row.
pub const PEOPLE_KINDS: [&str; 7] = [
    KIND_PERSON_ADDED,
    KIND_PERSON_CREDENTIALS_CLEARED,
    KIND_PERSON_ROLES_CHANGED,
    KIND_PERSON_CREDENTIALS_SET,
    KIND_PERSON_CREDENTIALS_ATTESTED,
    KIND_PERSON_UNLOCKED,
    KIND_SUPERVISOR_AUTH,
];

/// What the chain says about a person's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialState {
    /// Never set.
    None,
    /// Set, with this digest (hex).
    Digest(String),
    /// Set by an event written before digests were recorded.
    Unrecorded,
}

/// A person's row as their events say it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPerson {
    pub id: String,
    pub display_name: String,
    pub roles: BTreeSet<String>,
    pub credentials: CredentialState,
    pub failed_auths: u32,
    pub locked: bool,
    /// The last event folded in.
    pub last_seq: u64,
}

/// The fold of people events, in chain order.
#[derive(Debug, Default, Clone)]
pub struct PeopleFold {
    people: BTreeMap<String, ExpectedPerson>,
    /// Events that do not fit (an event about someone never added, a
    /// second `person.added`, a body without its fields): (seq, person, what).
    pub problems: Vec<(u64, String, String)>,
}

fn roles_of(v: Option<&Value>) -> Option<BTreeSet<String>> {
    v?.as_array()?
        .iter()
        .map(|r| r.as_str().map(str::to_string))
        .collect()
}

impl PeopleFold {
    pub fn new() -> PeopleFold {
        PeopleFold::default()
    }

    /// Folds one event; events of other kinds are ignored.
    pub fn apply(&mut self, seq: u64, kind: &str, person: Option<&str>, body: &Value) {
        if !PEOPLE_KINDS.contains(&kind) {
            return;
        }
        let Some(id) = person else {
            self.problems
                .push((seq, String::new(), format!("{kind} event names no person")));
            return;
        };
        let mut bad = |what: String| self.problems.push((seq, id.to_string(), what));
        if kind == KIND_PERSON_ADDED {
            if self.people.contains_key(id) {
                bad(format!("person {id} is added a second time"));
                return;
            }
            let (Some(name), Some(roles)) = (
                body.get("display_name").and_then(Value::as_str),
                roles_of(body.get("roles")),
            ) else {
                bad(format!("person.added for {id} lacks display_name or roles"));
                return;
            };
            self.people.insert(
                id.to_string(),
                ExpectedPerson {
                    id: id.to_string(),
                    display_name: name.to_string(),
                    roles,
                    credentials: CredentialState::None,
                    failed_auths: 0,
                    locked: false,
                    last_seq: seq,
                },
            );
            return;
        }
        let Some(p) = self.people.get_mut(id) else {
            // An authentication of an unknown id writes no event, so every
            // one of these names someone who was added.
            self.problems.push((
                seq,
                id.to_string(),
                format!("{kind} event for {id}, who was never added"),
            ));
            return;
        };
        p.last_seq = seq;
        match kind {
            KIND_PERSON_ROLES_CHANGED => match roles_of(body.get("to")) {
                Some(r) => p.roles = r,
                None => self.problems.push((
                    seq,
                    id.to_string(),
                    format!("person.roles_changed for {id} lacks `to`"),
                )),
            },
            KIND_PERSON_CREDENTIALS_SET | KIND_PERSON_CREDENTIALS_ATTESTED => {
                p.credentials = match body.get("credentials_digest").and_then(Value::as_str) {
                    Some(d) => CredentialState::Digest(d.to_string()),
                    None => CredentialState::Unrecorded,
                };
                if kind == KIND_PERSON_CREDENTIALS_SET {
                    p.failed_auths = 0;
                }
            }
            KIND_PERSON_CREDENTIALS_CLEARED => p.credentials = CredentialState::None,
            KIND_PERSON_UNLOCKED => {
                p.locked = false;
                p.failed_auths = 0;
            }
            _ => {
                // supervisor.auth
                if body.get("refusal").is_none() {
                    p.failed_auths = 0;
                } else {
                    let failed = body.get("failed").and_then(Value::as_u64);
                    let locked = body.get("locked").and_then(Value::as_bool);
                    match (failed, locked) {
                        (Some(f), Some(l)) => {
                            p.failed_auths = f as u32;
                            p.locked = l;
                        }
                        _ => self.problems.push((
                            seq,
                            id.to_string(),
                            format!("failed supervisor.auth for {id} lacks failed/locked"),
                        )),
                    }
                }
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&ExpectedPerson> {
        self.people.get(id)
    }

    pub fn people(&self) -> impl Iterator<Item = &ExpectedPerson> {
        self.people.values()
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// A keyed digest of a person's credentials: HMAC-SHA256 under a key
/// derived from the kiosk's data key, over the id, the PHC string and the
/// TOTP secret. Written in `person.credentials_set`, it lets `log verify`
/// see a swapped hash or TOTP secret without revealing anything about
/// either: events are exported and synced, and a plain hash over a PHC
/// string would be one more offline guessing target for the password.
pub fn credentials_digest(
    keys: &Keys,
    id: &str,
    secret_phc: Option<&str>,
    totp_secret: Option<&[u8]>,
) -> String {
    let key = hmac(
        &keys.data_key,
        b"countersign-ledger/people/credentials-digest/v1",
    );
    let mut msg = Vec::new();
    for part in [
        Some(id.as_bytes()),
        secret_phc.map(str::as_bytes),
        totp_secret,
    ] {
        match part {
            None => msg.push(0u8),
            Some(b) => {
                msg.push(1u8);
                msg.extend_from_slice(&(b.len() as u64).to_be_bytes());
                msg.extend_from_slice(b);
            }
        }
    }
    hex::encode(hmac(&key, &msg))
}

/// Compares a row with what the chain says; `Err` says what differs,
/// naming the person.
pub fn check_person(
    keys: &Keys,
    row: Option<&PersonRecord>,
    expected: Option<&ExpectedPerson>,
) -> Result<(), String> {
    let (r, e) = match (row, expected) {
        (None, None) => return Ok(()),
        (Some(r), None) => {
            return Err(format!(
                "person {}: in the people table but no person.added event",
                r.id
            ))
        }
        (None, Some(e)) => {
            return Err(format!(
                "person {}: added by the chain but missing from the people table",
                e.id
            ))
        }
        (Some(r), Some(e)) => (r, e),
    };
    let id = &r.id;
    let mut diffs = vec![];
    let roles: BTreeSet<String> = r.roles.iter().cloned().collect();
    if roles != e.roles || roles.len() != r.roles.len() {
        diffs.push(format!(
            "roles {:?} (the chain says {:?})",
            r.roles, e.roles
        ));
    }
    if r.display_name != e.display_name {
        diffs.push(format!(
            "display name {:?} (the chain says {:?})",
            r.display_name, e.display_name
        ));
    }
    if r.locked != e.locked {
        diffs.push(format!("locked {} (the chain says {})", r.locked, e.locked));
    }
    if r.failed_auths != e.failed_auths {
        diffs.push(format!(
            "{} failed authentications (the chain says {})",
            r.failed_auths, e.failed_auths
        ));
    }
    let has = r.secret_phc.is_some() || r.totp_secret.is_some();
    match &e.credentials {
        CredentialState::None if has => {
            diffs.push("credentials that no event set".into());
        }
        CredentialState::None => {}
        CredentialState::Digest(d) => {
            let got =
                credentials_digest(keys, id, r.secret_phc.as_deref(), r.totp_secret.as_deref());
            if &got != d {
                diffs.push("credentials differ from those the chain recorded".into());
            }
        }
        CredentialState::Unrecorded => diffs
            .push("credentials set before their digest was recorded (not attested since)".into()),
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!("person {id}: {}", diffs.join("; ")))
    }
}
