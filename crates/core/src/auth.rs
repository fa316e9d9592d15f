//! Supervisor authentication: a memorised secret (password or PIN, argon2id)
//! and a TOTP code (RFC 6238) as two independent factors. Both are always
//! checked, and a refusal never says which one failed.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::people::{Person, Role};
use crate::policy::Policy;
use crate::Ms;

/// RFC 8176 authentication method references.
pub mod amr {
    pub const PWD: &str = "pwd";
    pub const PIN: &str = "pin";
    pub const OTP: &str = "otp";
    pub const FACE: &str = "face";
    pub const FPT: &str = "fpt";
    pub const MFA: &str = "mfa";
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the secret must be at least {min} characters")]
    TooShort { min: usize },
    #[error("could not hash the secret: {0}")]
    Hash(String),
}

/// Minimum memorised-secret length (a PIN for a kiosk supervisor is at least 6 digits).
pub const MIN_SECRET_LEN: usize = 6;

/// Hashes a password or PIN with argon2id. The 16-byte salt comes from the caller
/// (the core takes no randomness of its own).
pub fn hash_secret(secret: &str, salt: [u8; 16]) -> Result<String, CredentialError> {
    if secret.chars().count() < MIN_SECRET_LEN {
        return Err(CredentialError::TooShort {
            min: MIN_SECRET_LEN,
        });
    }
    let salt = SaltString::encode_b64(&salt).map_err(|e| CredentialError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CredentialError::Hash(e.to_string()))
}

/// Checks a secret against an argon2 PHC string. A malformed hash never verifies.
pub fn verify_secret(phc: &str, secret: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// TOTP (RFC 6238) with HMAC-SHA1, the algorithm every authenticator app supports.
pub mod totp {
    use super::*;

    type HmacSha1 = Hmac<sha1::Sha1>;

    /// The HOTP value (RFC 4226) for `counter`, as `digits` decimal digits.
    pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
        let mut mac = HmacSha1::new_from_slice(secret).expect("HMAC accepts any key length");
        mac.update(&counter.to_be_bytes());
        let h = mac.finalize().into_bytes();
        let off = (h[19] & 0x0f) as usize;
        let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
        let code = bin % 10u32.pow(digits);
        format!("{code:0width$}", width = digits as usize)
    }

    /// The code for Unix time `unix_s`.
    pub fn code_at(secret: &[u8], unix_s: i64, step_s: u32, digits: u32) -> String {
        hotp(secret, (unix_s.max(0) as u64) / step_s as u64, digits)
    }

    /// What a code matched.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Match {
        /// A step in the window not used before.
        Fresh(u64),
        /// Only steps already used (a replay).
        Used(u64),
        NoMatch,
    }

    /// The steps within ±`skew` of `unix_s`'s step.
    pub fn window(unix_s: i64, step_s: u32, skew: u32) -> std::ops::RangeInclusive<u64> {
        let now = (unix_s.max(0) as u64) / step_s as u64;
        now.saturating_sub(skew as u64)..=now + skew as u64
    }

    /// Matches `code` against the steps within ±`skew` steps. A step in
    /// `used_steps` is good no more: exactly the steps used are refused, so
    /// a code accepted under a wrong clock (a step far from now) does not
    /// make every later code look like a replay.
    pub fn check(
        secret: &[u8],
        code: &str,
        unix_s: i64,
        step_s: u32,
        digits: u32,
        skew: u32,
        used_steps: &[u64],
    ) -> Match {
        if code.len() != digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Match::NoMatch;
        }
        let mut found = Match::NoMatch;
        for step in window(unix_s, step_s, skew) {
            // Compare every candidate, so timing does not reveal which step matched.
            let candidate = hotp(secret, step, digits);
            let eq = candidate
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            if eq {
                if !used_steps.contains(&step) {
                    if !matches!(found, Match::Fresh(_)) {
                        found = Match::Fresh(step);
                    }
                } else if found == Match::NoMatch {
                    found = Match::Used(step);
                }
            }
        }
        found
    }

    /// Returns the time step that `code` matches within ±`skew` steps,
    /// refusing the steps in `used_steps` (a code is good once).
    pub fn verify(
        secret: &[u8],
        code: &str,
        unix_s: i64,
        step_s: u32,
        digits: u32,
        skew: u32,
        used_steps: &[u64],
    ) -> Option<u64> {
        match check(secret, code, unix_s, step_s, digits, skew, used_steps) {
            Match::Fresh(s) => Some(s),
            _ => None,
        }
    }

    /// Base32 (RFC 4648, no padding) for provisioning into an authenticator app.
    pub fn secret_base32(secret: &[u8]) -> String {
        data_encoding::BASE32_NOPAD.encode(secret)
    }

    /// An `otpauth://` URI for a QR code.
    pub fn provisioning_uri(
        secret: &[u8],
        account: &str,
        issuer: &str,
        step_s: u32,
        digits: u32,
    ) -> String {
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={digits}&period={step_s}",
            secret_base32(secret)
        )
    }
}

/// What the kiosk remembers about a supervisor's authentications.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthState {
    pub failed: u32,
    pub locked: bool,
    /// The TOTP steps already accepted within the acceptance window around
    /// now (the engine reads them from the ledger), so a code cannot be
    /// replayed. Exactly these steps are refused, not every step before the
    /// newest one: a sign-in under a clock set forward must not turn every
    /// later real code into a "replay" and lock the person out.
    pub used_totp_steps: Vec<u64>,
}

/// The stored factors of a supervisor.
#[derive(Debug, Clone)]
pub struct Factors<'a> {
    pub secret_phc: &'a str,
    pub totp_secret: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticated {
    pub supervisor: String,
    /// RFC 8176 values of the factors that passed.
    pub amr: Vec<String>,
    pub at: Ms,
    pub totp_step: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AuthRefusal {
    #[error("{person} does not hold the {role} role")]
    NotPermitted { person: String, role: Role },
    #[error("{0} is locked out after too many failed authentications; an admin must unlock")]
    Locked(String),
    #[error("{0} has no enrolled second factor")]
    NotEnrolled(String),
    #[error("authentication failed ({failed} of {limit} failures before lockout)")]
    Failed { failed: u32, limit: u32 },
    /// The secret was right and the code was right, but its time step was
    /// already used (a replay, or a second request racing the first). It
    /// still counts as a failure. Said only with the right secret, so it
    /// tells nothing to someone guessing.
    #[error("this one-time code was already used ({failed} of {limit} failures before lockout); wait for the next code")]
    Replayed { failed: u32, limit: u32 },
}

impl AuthRefusal {
    /// The refusal's error code (`auth.*`).
    pub fn error_code(&self) -> countersign_codes::Code {
        use countersign_codes::Code as C;
        match self {
            AuthRefusal::NotPermitted { .. } => C::AuthNotPermitted,
            AuthRefusal::Locked(_) => C::AuthLocked,
            AuthRefusal::NotEnrolled(_) => C::AuthNotEnrolled,
            AuthRefusal::Failed { .. } => C::AuthAuthFailed,
            AuthRefusal::Replayed { .. } => C::AuthTotpReplayed,
        }
    }

    /// The short reason the evidence records; the error code is `auth.`
    /// followed by it ([`AuthRefusal::error_code`]).
    pub fn code(&self) -> &'static str {
        match self {
            AuthRefusal::NotPermitted { .. } => "not_permitted",
            AuthRefusal::Locked(_) => "locked",
            AuthRefusal::NotEnrolled(_) => "not_enrolled",
            AuthRefusal::Failed { .. } => "auth_failed",
            AuthRefusal::Replayed { .. } => "totp_replayed",
        }
    }
}

/// Decides a supervisor authentication. See [`authenticate`].
pub fn authenticate_supervisor(
    policy: &Policy,
    person: &Person,
    factors: Option<Factors<'_>>,
    state: &AuthState,
    secret: &str,
    code: &str,
    now: Ms,
) -> (AuthState, Result<Authenticated, AuthRefusal>) {
    authenticate(
        policy,
        person,
        Role::Supervisor,
        factors,
        state,
        secret,
        code,
        now,
    )
}

/// Decides a two-factor authentication of someone acting in `role`
/// (supervisor, reviewer, admin). Returns the new [`AuthState`] to store
/// whatever the outcome, and either the authenticated factors or the refusal.
#[allow(clippy::too_many_arguments)]
pub fn authenticate(
    policy: &Policy,
    person: &Person,
    role: Role,
    factors: Option<Factors<'_>>,
    state: &AuthState,
    secret: &str,
    code: &str,
    now: Ms,
) -> (AuthState, Result<Authenticated, AuthRefusal>) {
    let mut next = state.clone();
    if !person.has(role) {
        return (
            next,
            Err(AuthRefusal::NotPermitted {
                person: person.id.clone(),
                role,
            }),
        );
    }
    if state.locked {
        return (next, Err(AuthRefusal::Locked(person.id.clone())));
    }
    let Some(f) = factors else {
        return (next, Err(AuthRefusal::NotEnrolled(person.id.clone())));
    };
    let s = &policy.supervisor;
    // Both factors are evaluated before deciding, so neither result leaks alone.
    let secret_ok = verify_secret(f.secret_phc, secret);
    let m = totp::check(
        f.totp_secret,
        code,
        now.div_euclid(1000),
        s.totp_step_seconds,
        s.totp_digits,
        s.totp_skew_steps,
        &state.used_totp_steps,
    );
    match (secret_ok, m) {
        (true, totp::Match::Fresh(step)) => {
            next.failed = 0;
            next.used_totp_steps.push(step);
            let first = if secret.bytes().all(|b| b.is_ascii_digit()) {
                amr::PIN
            } else {
                amr::PWD
            };
            let auth = Authenticated {
                supervisor: person.id.clone(),
                amr: vec![first.into(), amr::OTP.into(), amr::MFA.into()],
                at: now,
                totp_step: step,
            };
            (next, Ok(auth))
        }
        (ok, m) => {
            next.failed += 1;
            if next.failed >= s.lockout_after_failures {
                next.locked = true;
            }
            let (failed, limit) = (next.failed, s.lockout_after_failures);
            let refusal = match (ok, m) {
                (true, totp::Match::Used(_)) => AuthRefusal::Replayed { failed, limit },
                _ => AuthRefusal::Failed { failed, limit },
            };
            (next, Err(refusal))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits, 30 s steps).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(totp::code_at(secret, t, 30, 8), want, "t={t}");
        }
    }

    #[test]
    fn totp_skew_and_replay() {
        let secret = b"supervisor-secret-bytes";
        let code = totp::code_at(secret, 1_000_000, 30, 6);
        let step = 1_000_000 / 30;
        assert_eq!(
            totp::verify(secret, &code, 1_000_000 + 30, 30, 6, 1, &[]),
            Some(step)
        );
        assert_eq!(
            totp::verify(secret, &code, 1_000_000 + 90, 30, 6, 1, &[]),
            None,
            "two steps late is outside skew 1"
        );
        assert_eq!(
            totp::verify(secret, &code, 1_000_000, 30, 6, 1, &[step]),
            None,
            "a used code is refused"
        );
        assert_eq!(
            totp::check(secret, &code, 1_000_000, 30, 6, 1, &[step]),
            totp::Match::Used(step)
        );
        assert_eq!(
            totp::verify(secret, &code, 1_000_000, 30, 6, 1, &[step + 2_880]),
            Some(step),
            "a step used under a clock a day ahead does not refuse today's code"
        );
        assert_eq!(
            totp::verify(secret, "12ab56", 1_000_000, 30, 6, 1, &[]),
            None
        );
    }

    fn supervisor() -> Person {
        Person::new("sam", "Sam", [Role::Supervisor])
    }

    #[test]
    fn two_factors_required_and_lockout() {
        let policy = Policy::default_policy();
        let phc = hash_secret("correct horse", [7; 16]).unwrap();
        let totp_secret = b"0123456789abcdef0123".to_vec();
        let f = || {
            Some(Factors {
                secret_phc: &phc,
                totp_secret: &totp_secret,
            })
        };
        let now: Ms = 1_700_000_000_000;
        let good = totp::code_at(&totp_secret, now / 1000, 30, 6);

        let (st, r) = authenticate_supervisor(
            &policy,
            &supervisor(),
            f(),
            &AuthState::default(),
            "correct horse",
            &good,
            now,
        );
        let ok = r.unwrap();
        assert_eq!(ok.amr, vec!["pwd", "otp", "mfa"]);
        assert_eq!(st.failed, 0);

        // Same code again: replay refused even with the right password.
        let (st2, r) = authenticate_supervisor(
            &policy,
            &supervisor(),
            f(),
            &st,
            "correct horse",
            &good,
            now,
        );
        assert!(matches!(r, Err(AuthRefusal::Replayed { failed: 1, .. })));

        // Password right, OTP wrong; and OTP right, password wrong: both fail.
        let (_, r) = authenticate_supervisor(
            &policy,
            &supervisor(),
            f(),
            &AuthState::default(),
            "correct horse",
            "000000",
            now,
        );
        assert!(r.is_err());
        let (_, r) = authenticate_supervisor(
            &policy,
            &supervisor(),
            f(),
            &AuthState::default(),
            "wrong horse",
            &good,
            now,
        );
        assert!(r.is_err());

        let mut st = st2;
        for _ in 1..policy.supervisor.lockout_after_failures {
            st = authenticate_supervisor(
                &policy,
                &supervisor(),
                f(),
                &st,
                "nope nope",
                "000000",
                now,
            )
            .0;
        }
        assert!(
            st.locked,
            "locked after {} failures",
            policy.supervisor.lockout_after_failures
        );
        let later = now + 60_000;
        let code = totp::code_at(&totp_secret, later / 1000, 30, 6);
        let (_, r) = authenticate_supervisor(
            &policy,
            &supervisor(),
            f(),
            &st,
            "correct horse",
            &code,
            later,
        );
        assert_eq!(
            r.unwrap_err(),
            AuthRefusal::Locked("sam".into()),
            "a locked supervisor stays locked even with good factors"
        );
    }

    #[test]
    fn operator_cannot_authenticate_as_supervisor() {
        let policy = Policy::default_policy();
        let p = Person::new("olga", "Olga", [Role::Operator]);
        let (_, r) = authenticate_supervisor(&policy, &p, None, &AuthState::default(), "x", "y", 0);
        assert_eq!(r.unwrap_err().code(), "not_permitted");
    }

    #[test]
    fn pin_is_reported_as_pin_and_short_secret_refused() {
        assert!(matches!(
            hash_secret("12345", [1; 16]),
            Err(CredentialError::TooShort { .. })
        ));
        let policy = Policy::default_policy();
        let phc = hash_secret("246810", [1; 16]).unwrap();
        let ts = b"abcdefghijabcdefghij";
        let now = 1_800_000_000_000;
        let code = totp::code_at(ts, now / 1000, 30, 6);
        let (_, r) = authenticate_supervisor(
            &policy,
            &supervisor(),
            Some(Factors {
                secret_phc: &phc,
                totp_secret: ts,
            }),
            &AuthState::default(),
            "246810",
            &code,
            now,
        );
        assert_eq!(r.unwrap().amr[0], "pin");
        assert!(!verify_secret("not a phc", "246810"));
    }
}
