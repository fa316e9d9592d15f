//! Step-up assertions: what a relying application gets back from the kiosk,
//! and everything it needs to trust it.
//!
//! An assertion is a compact JWT (RFC 7519) signed with EdDSA (Ed25519, RFC
//! 8037) by the kiosk's key. Its header `kid` is the key's RFC 7638
//! thumbprint; the kiosk publishes the key as a JWKS. Claims: `iss`, `sub`,
//! `aud`, `iat`, `exp`, `auth_time`, `nonce`, `jti`, `acr`, `amr` (RFC 8176
//! values), `scope`, and for an override-backed step-up the
//! [`ACR_SUPERVISED_OVERRIDE`] acr and an `override` object naming the
//! override, its supervisor, reason code, expiry and compensating control.
//! A demo kiosk (`countersign init --demo`: published credentials, test
//! inputs, replayed faces) adds `"countersign_demo": true`, and [`check`]
//! refuses such a token unless the verifier opts in
//! ([`Expectations::accept_demo`]).
//!
//! [`verify`] checks signature, issuer, audience, times, lifetime cap,
//! nonce, `max_age`, acr, scope, the override's live status (through an
//! [`OverrideStatusSource`], e.g. [`client::ApiClient`]) and, last, single use
//! of `jti` (a [`ReplayStore`]). Each refusal is an [`AssertionError`] with a
//! stable [`AssertionError::code`].

pub mod client;
pub mod pin;
mod replay;
pub mod signed_request;

/// The key types a relying application signs requests with.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

pub use replay::{write_atomic, FileReplayStore, MemoryReplayStore, ReplayStore};

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The acr of an assertion backed by the operator's own biometric match.
pub const ACR_BIOMETRIC: &str = "urn:countersign:acr:biometric";
/// The acr of an assertion backed by a supervisor's time-bound override:
/// the operator did not prove who they are; a supervisor vouched.
pub const ACR_SUPERVISED_OVERRIDE: &str = "urn:countersign:acr:supervised-override";
/// RFC 9470's error code for a step-up challenge.
pub const INSUFFICIENT_USER_AUTHENTICATION: &str = "insufficient_user_authentication";
/// Longest lifetime a verifier accepts by default (the policy's cap).
pub const DEFAULT_MAX_LIFETIME_S: i64 = 3600;

/// Why an assertion (or a call around it) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("the assertion is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("algorithm {0} is not accepted (EdDSA only)")]
    UnsupportedAlg(String),
    #[error("no published key has kid {0}")]
    UnknownKey(String),
    #[error("the signature does not verify (forged, or the claims were altered)")]
    BadSignature,
    #[error("issuer {found} is not the expected {expected}")]
    WrongIssuer { expected: String, found: String },
    #[error("the assertion is for audience {found}, not {expected}")]
    WrongAudience { expected: String, found: String },
    #[error("the assertion expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("the assertion is not valid before {iat} (now {now})")]
    NotYetValid { iat: i64, now: i64 },
    #[error("the assertion lasts {lifetime_s} s, over the cap of {cap_s} s")]
    OverCap { lifetime_s: i64, cap_s: i64 },
    #[error("the assertion outlives its override (exp {exp} > override expiry {override_exp})")]
    OutlivesOverride { exp: i64, override_exp: i64 },
    #[error("the nonce does not match the one this application sent")]
    NonceMismatch,
    #[error("the authentication at {auth_time} is older than max_age {max_age} s")]
    AuthTooOld { auth_time: i64, max_age: i64 },
    #[error("insufficient_user_authentication: acr {found} is not one of {accepted:?}")]
    InsufficientAcr {
        found: String,
        accepted: Vec<String>,
    },
    #[error("scope {0} was not granted by this assertion")]
    ScopeMissing(String),
    #[error("an override-backed assertion must name its override")]
    MissingOverride,
    #[error("override {0} was revoked")]
    OverrideRevoked(String),
    #[error("override {0} has expired")]
    OverrideExpired(String),
    #[error("override {0} is unknown to the kiosk")]
    OverrideUnknown(String),
    #[error("the override's status could not be checked: {0}")]
    StatusUnavailable(String),
    #[error("assertion {0} was already used (replay)")]
    Replayed(String),
    #[error("replay store: {0}")]
    ReplayStore(String),
    #[error("kiosk API: {0}")]
    Api(String),
    #[error("{address} is not the pinned kiosk: its TLS certificate has SHA-256 {presented}, the pin says {pinned}; nothing was sent to it")]
    NotPinnedKiosk {
        address: String,
        presented: String,
        pinned: String,
    },
    #[error("the kiosk API serves key(s) [{served}], not the pinned key {pinned}; nothing it signs is trusted")]
    KeyMismatch { pinned: String, served: String },
    #[error("kiosk pin: {0}")]
    PinInvalid(String),
    #[error("malformed signed-request authorization: {0}")]
    RequestMalformed(String),
    #[error("the request signature does not verify under the registered key")]
    RequestBadSignature,
    #[error("the request was signed at {ts}, more than {max_skew_s} s from the kiosk's clock ({now}); check the clock and sign again")]
    RequestClockSkew { ts: i64, now: i64, max_skew_s: i64 },
    #[error("nonce {0} was already used by this client (replayed request)")]
    RequestNonceReplayed(String),
    #[error("invalid key: {0}")]
    KeyInvalid(String),
    #[error("the assertion comes from a demo kiosk (countersign_demo: its credentials are published and it accepts test inputs); refused unless the verifier accepts demo assertions")]
    Demo,
}

impl AssertionError {
    /// Stable, machine-readable code.
    pub fn code(&self) -> countersign_codes::Code {
        use AssertionError::*;
        match self {
            Malformed(_) => countersign_codes::Code::AssertionMalformed,
            UnsupportedAlg(_) => countersign_codes::Code::AssertionUnsupportedAlg,
            UnknownKey(_) => countersign_codes::Code::AssertionUnknownKey,
            BadSignature => countersign_codes::Code::AssertionBadSignature,
            WrongIssuer { .. } => countersign_codes::Code::AssertionWrongIssuer,
            WrongAudience { .. } => countersign_codes::Code::AssertionWrongAudience,
            Expired { .. } => countersign_codes::Code::AssertionExpired,
            NotYetValid { .. } => countersign_codes::Code::AssertionNotYetValid,
            OverCap { .. } => countersign_codes::Code::AssertionOverCap,
            OutlivesOverride { .. } => countersign_codes::Code::AssertionOverCap,
            NonceMismatch => countersign_codes::Code::AssertionNonceMismatch,
            AuthTooOld { .. } => countersign_codes::Code::AssertionAuthTooOld,
            InsufficientAcr { .. } => {
                countersign_codes::Code::AssertionInsufficientUserAuthentication
            }
            ScopeMissing(_) => countersign_codes::Code::AssertionScopeMissing,
            MissingOverride => countersign_codes::Code::AssertionMalformed,
            OverrideRevoked(_) => countersign_codes::Code::AssertionOverrideRevoked,
            OverrideExpired(_) => countersign_codes::Code::AssertionOverrideExpired,
            OverrideUnknown(_) => countersign_codes::Code::AssertionOverrideUnknown,
            StatusUnavailable(_) => countersign_codes::Code::AssertionStatusUnavailable,
            Replayed(_) => countersign_codes::Code::AssertionReplayed,
            ReplayStore(_) => countersign_codes::Code::AssertionReplayStore,
            Api(_) => countersign_codes::Code::ApiError,
            NotPinnedKiosk { .. } => countersign_codes::Code::KioskNotPinned,
            KeyMismatch { .. } => countersign_codes::Code::KioskKeyMismatch,
            PinInvalid(_) => countersign_codes::Code::KioskPinInvalid,
            RequestMalformed(_) => countersign_codes::Code::SignedRequestMalformed,
            RequestBadSignature => countersign_codes::Code::SignedRequestBadSignature,
            RequestClockSkew { .. } => countersign_codes::Code::SignedRequestClockSkew,
            RequestNonceReplayed(_) => countersign_codes::Code::SignedRequestNonceReplayed,
            KeyInvalid(_) => countersign_codes::Code::KeyInvalid,
            Demo => countersign_codes::Code::AssertionDemo,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    pub typ: String,
    pub kid: String,
}

/// What an override-backed assertion says about its override, so the
/// relying application can apply its own rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideClaims {
    pub id: String,
    pub supervisor: String,
    pub reason_code: String,
    /// NumericDate (seconds).
    pub expires_at: i64,
    pub compensating_control: String,
    pub trigger: String,
    /// `human`, `service_account`, `api_key` or `agent`.
    #[serde(default = "human")]
    pub principal_kind: String,
}

fn human() -> String {
    "human".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub auth_time: i64,
    pub nonce: String,
    pub jti: String,
    pub acr: String,
    pub amr: Vec<String>,
    /// Space-separated granted scopes.
    pub scope: String,
    #[serde(rename = "override", default, skip_serializing_if = "Option::is_none")]
    pub override_: Option<OverrideClaims>,
    /// True when a demo data dir (`countersign init --demo`) signed it:
    /// its people's credentials are published and it accepts test inputs
    /// and replays, so it proves nothing about anybody. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub countersign_demo: bool,
}

impl Claims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

/// One JSON Web Key (OKP / Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(rename = "use", default)]
    pub use_: String,
    #[serde(default)]
    pub alg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    pub fn for_key(vk: &VerifyingKey) -> Jwks {
        Jwks {
            keys: vec![jwk(vk)],
        }
    }

    fn find(&self, kid: &str) -> Option<VerifyingKey> {
        let k = self
            .keys
            .iter()
            .find(|k| k.kid == kid && k.kty == "OKP" && k.crv == "Ed25519")?;
        let bytes = BASE64URL_NOPAD.decode(k.x.as_bytes()).ok()?;
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        let vk = VerifyingKey::from_bytes(&arr).ok()?;
        // A key whose kid is not its own thumbprint is not trusted.
        (thumbprint(&vk) == kid).then_some(vk)
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 key.
pub fn thumbprint(vk: &VerifyingKey) -> String {
    let x = BASE64URL_NOPAD.encode(vk.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    BASE64URL_NOPAD.encode(&Sha256::digest(canonical.as_bytes()))
}

pub fn jwk(vk: &VerifyingKey) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: BASE64URL_NOPAD.encode(vk.as_bytes()),
        kid: thumbprint(vk),
        use_: "sig".into(),
        alg: "EdDSA".into(),
    }
}

/// Signs `claims` as a compact JWT with the kiosk key.
pub fn sign(claims: &Claims, key: &SigningKey) -> String {
    let header = Header {
        alg: "EdDSA".into(),
        typ: "JWT".into(),
        kid: thumbprint(&key.verifying_key()),
    };
    let h = BASE64URL_NOPAD.encode(&serde_json::to_vec(&header).expect("serialisable"));
    let c = BASE64URL_NOPAD.encode(&serde_json::to_vec(claims).expect("serialisable"));
    let input = format!("{h}.{c}");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", BASE64URL_NOPAD.encode(&sig.to_bytes()))
}

/// Splits and decodes a token without checking anything (for display).
pub fn decode_unverified(token: &str) -> Result<(Header, Claims), AssertionError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(AssertionError::Malformed(format!(
            "{} parts, expected 3",
            parts.len()
        )));
    }
    let dec = |p: &str, what: &str| {
        BASE64URL_NOPAD
            .decode(p.as_bytes())
            .map_err(|e| AssertionError::Malformed(format!("{what}: {e}")))
    };
    let header: Header = serde_json::from_slice(&dec(parts[0], "header")?)
        .map_err(|e| AssertionError::Malformed(format!("header: {e}")))?;
    let claims: Claims = serde_json::from_slice(&dec(parts[1], "claims")?)
        .map_err(|e| AssertionError::Malformed(format!("claims: {e}")))?;
    Ok((header, claims))
}

/// The live status of an override as the kiosk reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideStatus {
    pub id: String,
    /// `active`, `used`, `expired` or `revoked`.
    pub status: String,
    /// NumericDate (seconds).
    pub expires_at: i64,
}

/// Where a verifier learns whether an override is still good.
pub trait OverrideStatusSource {
    fn override_status(&self, id: &str) -> Result<Option<OverrideStatus>, AssertionError>;
}

/// What the relying application expects of an assertion.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// This application's client id.
    pub audience: String,
    /// The kiosk's issuer string (`None`: any).
    pub issuer: Option<String>,
    /// The nonce sent with the request (`None`: not checked).
    pub nonce: Option<String>,
    /// Seconds since the epoch.
    pub now_s: i64,
    /// The freshest authentication the application accepts, in seconds.
    pub max_age_s: Option<i64>,
    /// Accepted acr values; empty accepts both Countersign values.
    pub accepted_acr: Vec<String>,
    /// A scope the assertion must grant.
    pub required_scope: Option<String>,
    pub max_lifetime_s: i64,
    /// Allowed clock difference, seconds.
    pub leeway_s: i64,
    /// Accept assertions of a demo kiosk (`countersign_demo: true`).
    /// Off by default: only a verifier that knows it is talking to a demo
    /// turns it on.
    pub accept_demo: bool,
}

impl Expectations {
    pub fn new(audience: &str, now_s: i64) -> Expectations {
        Expectations {
            audience: audience.into(),
            issuer: None,
            nonce: None,
            now_s,
            max_age_s: None,
            accepted_acr: vec![],
            required_scope: None,
            max_lifetime_s: DEFAULT_MAX_LIFETIME_S,
            leeway_s: 0,
            accept_demo: false,
        }
    }
}

/// Verifies everything except single use: signature, issuer, audience,
/// times, caps, nonce, `max_age`, acr, scope, the demo flag and the
/// override's status.
pub fn check(
    token: &str,
    jwks: &Jwks,
    x: &Expectations,
    overrides: Option<&dyn OverrideStatusSource>,
) -> Result<Claims, AssertionError> {
    let (header, claims) = decode_unverified(token)?;
    if header.alg != "EdDSA" {
        return Err(AssertionError::UnsupportedAlg(header.alg));
    }
    let vk = jwks
        .find(&header.kid)
        .ok_or_else(|| AssertionError::UnknownKey(header.kid.clone()))?;
    let token = token.trim();
    let (input, sig_b64) = token.rsplit_once('.').expect("three parts");
    let sig = BASE64URL_NOPAD
        .decode(sig_b64.as_bytes())
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(AssertionError::BadSignature)?;
    vk.verify(input.as_bytes(), &sig)
        .map_err(|_| AssertionError::BadSignature)?;
    if let Some(iss) = &x.issuer {
        if &claims.iss != iss {
            return Err(AssertionError::WrongIssuer {
                expected: iss.clone(),
                found: claims.iss,
            });
        }
    }
    if claims.aud != x.audience {
        return Err(AssertionError::WrongAudience {
            expected: x.audience.clone(),
            found: claims.aud,
        });
    }
    if x.now_s >= claims.exp + x.leeway_s {
        return Err(AssertionError::Expired {
            exp: claims.exp,
            now: x.now_s,
        });
    }
    if claims.iat > x.now_s + x.leeway_s {
        return Err(AssertionError::NotYetValid {
            iat: claims.iat,
            now: x.now_s,
        });
    }
    if claims.exp - claims.iat > x.max_lifetime_s {
        return Err(AssertionError::OverCap {
            lifetime_s: claims.exp - claims.iat,
            cap_s: x.max_lifetime_s,
        });
    }
    let is_override = claims.acr == ACR_SUPERVISED_OVERRIDE;
    if is_override {
        let o = claims
            .override_
            .as_ref()
            .ok_or(AssertionError::MissingOverride)?;
        if claims.exp > o.expires_at {
            return Err(AssertionError::OutlivesOverride {
                exp: claims.exp,
                override_exp: o.expires_at,
            });
        }
    }
    if let Some(n) = &x.nonce {
        if &claims.nonce != n {
            return Err(AssertionError::NonceMismatch);
        }
    }
    if let Some(max_age) = x.max_age_s {
        if x.now_s - claims.auth_time > max_age + x.leeway_s {
            return Err(AssertionError::AuthTooOld {
                auth_time: claims.auth_time,
                max_age,
            });
        }
    }
    let accepted: Vec<String> = if x.accepted_acr.is_empty() {
        vec![ACR_BIOMETRIC.into(), ACR_SUPERVISED_OVERRIDE.into()]
    } else {
        x.accepted_acr.clone()
    };
    if !accepted.contains(&claims.acr) {
        return Err(AssertionError::InsufficientAcr {
            found: claims.acr,
            accepted,
        });
    }
    if let Some(s) = &x.required_scope {
        if !claims.scopes().any(|c| c == s) {
            return Err(AssertionError::ScopeMissing(s.clone()));
        }
    }
    if claims.countersign_demo && !x.accept_demo {
        return Err(AssertionError::Demo);
    }
    if is_override {
        let o = claims.override_.as_ref().expect("checked above");
        let src = overrides.ok_or_else(|| {
            AssertionError::StatusUnavailable(
                "an override-backed assertion needs the kiosk's override status".into(),
            )
        })?;
        match src.override_status(&o.id)? {
            None => return Err(AssertionError::OverrideUnknown(o.id.clone())),
            Some(st) => match st.status.as_str() {
                "revoked" => return Err(AssertionError::OverrideRevoked(o.id.clone())),
                "expired" => return Err(AssertionError::OverrideExpired(o.id.clone())),
                _ if x.now_s >= st.expires_at => {
                    return Err(AssertionError::OverrideExpired(o.id.clone()))
                }
                _ => {}
            },
        }
    }
    Ok(claims)
}

/// [`check`], then marks the `jti` as used: a second presentation of the
/// same assertion is refused as a replay.
pub fn verify(
    token: &str,
    jwks: &Jwks,
    x: &Expectations,
    overrides: Option<&dyn OverrideStatusSource>,
    replay: &mut dyn ReplayStore,
) -> Result<Claims, AssertionError> {
    let claims = check(token, jwks, x, overrides)?;
    if !replay.first_use(&claims.jti, claims.exp, x.now_s)? {
        return Err(AssertionError::Replayed(claims.jti));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn thumbprint_is_rfc7638_shape_and_stable() {
        let t = thumbprint(&key().verifying_key());
        assert_eq!(t.len(), 43);
        assert_eq!(t, thumbprint(&key().verifying_key()));
        assert_eq!(jwk(&key().verifying_key()).kid, t);
    }

    #[test]
    fn sign_then_decode_round_trips() {
        let c = Claims {
            iss: "k".into(),
            sub: "olga".into(),
            aud: "app".into(),
            iat: 10,
            exp: 20,
            auth_time: 9,
            nonce: "n".into(),
            jti: "j".into(),
            acr: ACR_BIOMETRIC.into(),
            amr: vec!["face".into()],
            scope: "a b".into(),
            override_: None,
            countersign_demo: false,
        };
        let t = sign(&c, &key());
        let (h, d) = decode_unverified(&t).unwrap();
        assert_eq!(h.alg, "EdDSA");
        assert_eq!(d, c);
        assert!(!t.contains("override"));
        let jwks = Jwks::for_key(&key().verifying_key());
        let x = Expectations::new("app", 15);
        assert_eq!(check(&t, &jwks, &x, None).unwrap().scopes().count(), 2);
    }

    #[test]
    fn kid_must_be_the_keys_thumbprint() {
        let mut jwks = Jwks::for_key(&key().verifying_key());
        let other = SigningKey::from_bytes(&[8u8; 32]);
        jwks.keys[0].x = BASE64URL_NOPAD.encode(other.verifying_key().as_bytes());
        assert!(jwks.find(&thumbprint(&key().verifying_key())).is_none());
    }
}
