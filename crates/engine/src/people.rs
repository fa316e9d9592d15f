//! People and their credentials. Registry changes are mutable rows in the
//! ledger's `people` table, and each change is also a signed event.
//!
//! Two rules make the registry trustworthy:
//! - Every change is made by an administrator who signed in with two
//!   factors ([`Engine::admin_sign_in`] → [`AdminPass`], which only the
//!   engine makes). The only exceptions are `init` (the first admin) and
//!   `init --demo` (the published demo people).
//! - The table is evidence only as far as the chain backs it: before the
//!   engine looks a person up to act on them ([`Engine::person`],
//!   [`Engine::authenticate`]), it folds that person's registry events and
//!   compares them with the row ([`countersign_ledger::Ledger::verify_person`]).
//!   A row changed outside the engine (`UPDATE people SET roles = ...`) is
//!   refused with `registry.tampered`, and the refusal is recorded.

use crate::Code;
use std::collections::BTreeSet;

use countersign_core::auth::{self, totp, AuthState, Authenticated, Factors};
use countersign_core::people::validate_id;
use countersign_core::{Ms, Person, Role};
use countersign_ledger::{Filter, PersonRecord};
use serde::Serialize;
use serde_json::json;

use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError};

#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub has_credentials: bool,
    pub failed_auths: u32,
    pub locked: bool,
}

/// What an authenticator app needs. Shown once, at enrollment.
#[derive(Debug, Clone, Serialize)]
pub struct Provisioning {
    pub person: String,
    pub totp_secret_base32: String,
    pub otpauth_uri: String,
}

/// How long an administrator's sign-in lasts within one process.
pub const ADMIN_PASS_MS: Ms = 15 * 60 * 1000;

/// An administrator who signed in with two factors. Only the engine makes
/// one ([`Engine::admin_sign_in`]); every registry change takes one, and
/// records its holder as `by`. Each use checks again that the holder is
/// still an unlocked admin whose row verifies, on the kiosk that made it
/// (a pass from a demo data dir opens nothing elsewhere).
#[derive(Debug, Clone)]
pub struct AdminPass {
    admin: String,
    kiosk_id: String,
    signed_in_ms: Ms,
}

impl AdminPass {
    pub fn admin(&self) -> &str {
        &self.admin
    }
    pub fn expires_ms(&self) -> Ms {
        self.signed_in_ms + ADMIN_PASS_MS
    }
}

fn to_person(r: &PersonRecord) -> Result<Person, EngineError> {
    let roles = r
        .roles
        .iter()
        .map(|s| s.parse::<Role>().map_err(EngineError::Invalid))
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(Person {
        id: r.id.clone(),
        display_name: r.display_name.clone(),
        roles,
    })
}

impl Engine {
    /// A person's row, checked against their registry events first: a row
    /// that does not match the chain is refused (`registry.tampered`) and
    /// the refusal is recorded (`registry.refused`).
    pub(crate) fn record(&mut self, id: &str) -> Result<PersonRecord, EngineError> {
        if let Err(why) = self.ledger.verify_person(id)? {
            let now = self.now();
            self.ledger.append(
                &Ev::new(
                    kinds::REGISTRY_REFUSED,
                    now,
                    json!({ "person": id, "refusal": Code::RegistryTampered, "problem": why }),
                )
                .person(id)
                .outcome("refused")
                .build(),
            )?;
            return Err(EngineError::RegistryTampered(why));
        }
        self.ledger
            .people()
            .get(id)?
            .ok_or_else(|| EngineError::UnknownPerson(id.into()))
    }

    /// Signs an administrator in with two factors (a `supervisor.auth`
    /// event with role `admin`, success or failure, like every
    /// authentication). `purpose` is recorded, e.g. `people add mallory`.
    pub fn admin_sign_in(
        &mut self,
        id: &str,
        secret: &str,
        code: &str,
        purpose: &str,
    ) -> Result<AdminPass, EngineError> {
        let (person, _) = self.authenticate(id, Role::Admin, secret, code, purpose)?;
        Ok(AdminPass {
            admin: person.id,
            kiosk_id: self.kiosk_id.clone(),
            signed_in_ms: self.now(),
        })
    }

    /// The admin behind `pass`, if the pass still holds: not expired, and
    /// the holder still an unlocked admin whose row verifies.
    pub(crate) fn admin_act(&mut self, pass: &AdminPass) -> Result<String, EngineError> {
        if self.now() >= pass.expires_ms() || pass.kiosk_id != self.kiosk_id {
            return Err(EngineError::AdminPassExpired);
        }
        let rec = self.record(&pass.admin)?;
        if rec.locked {
            return Err(countersign_core::auth::AuthRefusal::Locked(pass.admin.clone()).into());
        }
        to_person(&rec)?.require(Role::Admin)?;
        Ok(pass.admin.clone())
    }

    pub fn person(&mut self, id: &str) -> Result<Person, EngineError> {
        to_person(&self.record(id)?)
    }

    /// Adds a person (an admin's act).
    pub fn add_person(
        &mut self,
        pass: &AdminPass,
        id: &str,
        display_name: &str,
        roles: impl IntoIterator<Item = Role>,
    ) -> Result<PersonView, EngineError> {
        let by = self.admin_act(pass)?;
        self.add_person_by(id, display_name, roles, &by)
    }

    /// Adds a person on `by`'s word: for `init` only (the first admin, the
    /// demo people), where nobody can sign in yet.
    pub(crate) fn add_person_by(
        &mut self,
        id: &str,
        display_name: &str,
        roles: impl IntoIterator<Item = Role>,
        by: &str,
    ) -> Result<PersonView, EngineError> {
        validate_id(id).map_err(EngineError::Invalid)?;
        if display_name.trim().is_empty() {
            return Err(EngineError::Invalid(
                "display name must not be empty".into(),
            ));
        }
        let roles: BTreeSet<Role> = roles.into_iter().collect();
        if roles.is_empty() {
            return Err(EngineError::Invalid(
                "a person needs at least one role".into(),
            ));
        }
        let now = self.now();
        let rec = PersonRecord {
            id: id.into(),
            display_name: display_name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            secret_phc: None,
            totp_secret: None,
            failed_auths: 0,
            locked: false,
            created_ms: now,
        };
        let ev = Ev::new(
            kinds::PERSON_ADDED,
            now,
            json!({ "id": id, "display_name": display_name, "roles": rec.roles, "by": by }),
        )
        .person(id)
        .build();
        self.ledger.change_people(&[ev], |p| p.insert(&rec))?;
        self.person_view(&rec)
    }

    /// Replaces a person's roles (an admin's act).
    pub fn set_roles(
        &mut self,
        pass: &AdminPass,
        id: &str,
        roles: impl IntoIterator<Item = Role>,
    ) -> Result<PersonView, EngineError> {
        let by = self.admin_act(pass)?;
        let by = by.as_str();
        let before = self.record(id)?;
        let roles: BTreeSet<Role> = roles.into_iter().collect();
        if roles.is_empty() {
            return Err(EngineError::Invalid(
                "a person needs at least one role".into(),
            ));
        }
        let names: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let now = self.now();
        let ev = Ev::new(
            kinds::PERSON_ROLES_CHANGED,
            now,
            json!({ "id": id, "from": before.roles, "to": names, "by": by }),
        )
        .person(id)
        .build();
        self.ledger
            .change_people(&[ev], |p| p.set_roles(id, &names))?;
        let rec = self.record(id)?;
        self.person_view(&rec)
    }

    pub fn list_people(&mut self) -> Result<Vec<PersonView>, EngineError> {
        let recs = self.ledger.people().list()?;
        recs.iter().map(|r| self.person_view(r)).collect()
    }

    fn person_view(&self, r: &PersonRecord) -> Result<PersonView, EngineError> {
        Ok(PersonView {
            id: r.id.clone(),
            display_name: r.display_name.clone(),
            roles: to_person(r)?.roles.into_iter().collect(),
            has_credentials: r.secret_phc.is_some() && r.totp_secret.is_some(),
            failed_auths: r.failed_auths,
            locked: r.locked,
        })
    }

    /// Enrolls a memorised secret and a fresh random TOTP secret; an admin's
    /// act. Supervisors, reviewers and admins act with them; an operator
    /// uses them only to ask for break-glass (their step-up is biometric).
    pub fn set_credentials(
        &mut self,
        pass: &AdminPass,
        id: &str,
        secret: &str,
    ) -> Result<Provisioning, EngineError> {
        let by = self.admin_act(pass)?;
        let totp_secret: [u8; 20] = rand::random();
        self.set_credentials_with(id, secret, totp_secret.to_vec(), &by)
    }

    pub(crate) fn set_credentials_with(
        &mut self,
        id: &str,
        secret: &str,
        totp_secret: Vec<u8>,
        by: &str,
    ) -> Result<Provisioning, EngineError> {
        self.person(id)?;
        let salt: [u8; 16] = rand::random();
        let phc = auth::hash_secret(secret, salt)?;
        let now = self.now();
        let ev = Ev::new(
            kinds::PERSON_CREDENTIALS_SET,
            now,
            json!({
                "id": id,
                "factors": ["pwd", "otp"],
                "by": by,
                "credentials_digest": self.ledger.credentials_digest(id, Some(&phc), Some(&totp_secret)),
            }),
        )
        .person(id)
        .build();
        self.ledger.change_people(&[ev], |p| {
            p.set_credentials(id, Some(&phc), Some(&totp_secret))?;
            p.reset_auth_failures(id)
        })?;
        let s = &self.policy.supervisor;
        Ok(Provisioning {
            person: id.into(),
            totp_secret_base32: totp::secret_base32(&totp_secret),
            otpauth_uri: totp::provisioning_uri(
                &totp_secret,
                id,
                "Countersign",
                s.totp_step_seconds,
                s.totp_digits,
            ),
        })
    }

    /// Clears a lockout (an admin's act).
    pub fn unlock(&mut self, pass: &AdminPass, id: &str) -> Result<PersonView, EngineError> {
        let by = self.admin_act(pass)?;
        let by = by.as_str();
        self.record(id)?;
        let now = self.now();
        let ev = Ev::new(kinds::PERSON_UNLOCKED, now, json!({ "id": id, "by": by }))
            .person(id)
            .build();
        self.ledger.change_people(&[ev], |p| {
            p.set_locked(id, false)?;
            p.reset_auth_failures(id)
        })?;
        let rec = self.record(id)?;
        self.person_view(&rec)
    }

    /// Data dirs from before credential digests: a `person.credentials_set`
    /// event without `credentials_digest` cannot be checked against the row.
    /// On open, each such person's current credentials are attested once
    /// (`person.credentials_attested`, with the digest), so the registry
    /// check covers them from then on. This trusts the rows as they are at
    /// the upgrade, which is all an older data dir could offer; a row
    /// changed after it is refused like any other.
    pub(crate) fn attest_unrecorded_credentials(&mut self) -> Result<(), EngineError> {
        let ids: Vec<String> = self
            .ledger
            .people()
            .list()?
            .into_iter()
            .map(|r| r.id)
            .collect();
        for id in ids {
            let last = self.ledger.latest(&Filter {
                kinds: vec![
                    kinds::PERSON_CREDENTIALS_SET.into(),
                    kinds::PERSON_CREDENTIALS_ATTESTED.into(),
                ],
                person: Some(id.clone()),
                ..Default::default()
            })?;
            let Some(last) = last else { continue };
            if last.body.get("credentials_digest").is_some() {
                continue;
            }
            let Some(rec) = self.ledger.people().get(&id)? else {
                continue;
            };
            let digest = self.ledger.credentials_digest(
                &id,
                rec.secret_phc.as_deref(),
                rec.totp_secret.as_deref(),
            );
            let now = self.now();
            let ev = Ev::new(
                kinds::PERSON_CREDENTIALS_ATTESTED,
                now,
                json!({
                    "id": id,
                    "credentials_digest": digest,
                    "why": "credentials set before their digest was recorded (upgrade)",
                    "credentials_set_seq": last.seq,
                }),
            )
            .person(&id)
            .build();
            self.ledger.append(&ev)?;
        }
        Ok(())
    }

    /// Two-factor authentication of `id` acting in `role`, with lockout and
    /// a `supervisor.auth` event whatever the outcome. `purpose` says what
    /// the authentication was for (e.g. `grant s-12`, `review ovr-3`).
    ///
    /// One ledger write transaction (`BEGIN IMMEDIATE`) reads the person's
    /// failure count, lock and the TOTP steps already used, decides, and
    /// records the outcome: two processes racing with one code cannot both
    /// see the step unused (exactly one succeeds; the other is refused with
    /// `auth.totp_replayed`).
    pub fn authenticate(
        &mut self,
        id: &str,
        role: Role,
        secret: &str,
        code: &str,
        purpose: &str,
    ) -> Result<(Person, Authenticated), EngineError> {
        self.record(id)?;
        let now = self.now();
        let Engine { ledger, policy, .. } = self;
        let (person, result) = ledger.transact("authenticating", |tx| {
            let rec = tx
                .people()
                .get(id)?
                .ok_or_else(|| EngineError::UnknownPerson(id.into()))?;
            let person = to_person(&rec)?;
            let state = AuthState {
                failed: rec.failed_auths,
                locked: rec.locked,
                used_totp_steps: used_totp_steps(tx, policy, id, now)?,
            };
            let factors = match (&rec.secret_phc, &rec.totp_secret) {
                (Some(p), Some(t)) => Some(Factors {
                    secret_phc: p,
                    totp_secret: t,
                }),
                _ => None,
            };
            let (next, result) =
                auth::authenticate(policy, &person, role, factors, &state, secret, code, now);
            let (outcome, body) = match &result {
                Ok(a) => (
                    "success",
                    json!({ "role": role, "purpose": purpose, "amr": a.amr, "totp_step": a.totp_step }),
                ),
                Err(e) => (
                    "failure",
                    json!({ "role": role, "purpose": purpose, "refusal": e.code(), "failed": next.failed, "locked": next.locked }),
                ),
            };
            let ev = Ev::new(kinds::SUPERVISOR_AUTH, now, body)
                .supervisor(id)
                .person(id)
                .outcome(outcome)
                .build();
            // The failure count, the lockout, the used step and their evidence: one transaction.
            let p = tx.people();
            if next.failed != state.failed {
                if next.failed == 0 {
                    p.reset_auth_failures(id)?;
                } else {
                    p.record_auth_failure(id)?;
                }
            }
            if next.locked && !state.locked {
                p.set_locked(id, true)?;
            }
            tx.append(&[ev])?;
            Ok::<_, EngineError>((person, result))
        })?;
        Ok((person, result?))
    }
}

impl Engine {
    /// The TOTP steps `id` used in successful sign-ins that a code could
    /// still match now (read only). For the demo's "fill demo credentials",
    /// which must not hand out a code the engine would refuse as replayed.
    pub fn recent_totp_steps(&self, id: &str) -> Result<Vec<u64>, EngineError> {
        let s = &self.policy.supervisor;
        let step_ms = i64::from(s.totp_step_seconds) * 1000;
        let reach = (2 * i64::from(s.totp_skew_steps) + 1) * step_ms;
        let now = self.now();
        let f = countersign_ledger::Filter {
            kinds: vec![kinds::SUPERVISOR_AUTH.into()],
            supervisor: Some(id.into()),
            outcome: Some("success".into()),
            from_ms: Some(now.saturating_sub(reach)),
            to_ms: Some(now.saturating_add(reach)),
            ..Default::default()
        };
        let page = self.ledger.query(
            &f,
            &countersign_ledger::PageRequest {
                after_seq: None,
                limit: 100,
                newest_first: true,
            },
        )?;
        Ok(page
            .rows
            .iter()
            .filter_map(|r| r.body.get("totp_step").and_then(|v| v.as_u64()))
            .collect())
    }
}

/// The TOTP steps `id` already used that could still match a code now: the
/// `totp_step` of each successful `supervisor.auth` stamped within the
/// window's reach (a step within ±skew of now was accepted at a time within
/// ±2·skew steps of now). Read inside the authentication's transaction.
fn used_totp_steps(
    tx: &countersign_ledger::Tx<'_>,
    policy: &countersign_core::Policy,
    id: &str,
    now: countersign_core::Ms,
) -> Result<Vec<u64>, EngineError> {
    let s = &policy.supervisor;
    let step_ms = i64::from(s.totp_step_seconds) * 1000;
    let reach = (2 * i64::from(s.totp_skew_steps) + 1) * step_ms;
    let f = countersign_ledger::Filter {
        kinds: vec![kinds::SUPERVISOR_AUTH.into()],
        supervisor: Some(id.into()),
        outcome: Some("success".into()),
        from_ms: Some(now.saturating_sub(reach)),
        to_ms: Some(now.saturating_add(reach)),
        ..Default::default()
    };
    Ok(tx
        .all(&f)?
        .iter()
        .filter_map(|r| r.body.get("totp_step").and_then(|v| v.as_u64()))
        .collect())
}
