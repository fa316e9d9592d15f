//! Ed25519 signed requests: how a relying application that registered a
//! public key (instead of a client secret) authenticates to the kiosk API.
//!
//! Each request carries one header:
//!
//! ```text
//! Authorization: Countersign-Ed25519 client_id="payments-app", ts="1800000000", nonce="9f3c…", sig="<base64url>"
//! ```
//!
//! `sig` is the Ed25519 signature, by the client's key, of the
//! [`signing_input`]: the lines `countersign-request-v1`, client id, method
//! (upper case), path with query, hex SHA-256 of the body (of nothing for an
//! empty body), `ts` (Unix seconds) and `nonce`, joined by `\n`. The kiosk
//! checks, in this order: the header's shape, that `ts` is within
//! [`MAX_SKEW_S`] of its clock, the signature under the registered key, and
//! that the nonce was not seen before from that client (it remembers nonces
//! for as long as their `ts` would pass the skew check). A captured request
//! replayed later is thus refused either as stale or as a replayed nonce.

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::AssertionError;

/// The authorization scheme.
pub const SCHEME: &str = "Countersign-Ed25519";
/// First line of every signing input (the format's version).
pub const SIGNING_VERSION: &str = "countersign-request-v1";
/// How far a request's `ts` may be from the kiosk's clock, either way.
pub const MAX_SKEW_S: i64 = 120;

/// A parsed `Countersign-Ed25519` authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSignature {
    pub client_id: String,
    /// Unix seconds.
    pub ts: i64,
    pub nonce: String,
    pub sig: [u8; 64],
}

/// Hex SHA-256 of a request body.
pub fn body_sha256(body: &[u8]) -> String {
    hex_lower(&Sha256::digest(body))
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The exact bytes that are signed.
pub fn signing_input(
    client_id: &str,
    method: &str,
    path: &str,
    body: &[u8],
    ts: i64,
    nonce: &str,
) -> String {
    format!(
        "{SIGNING_VERSION}\n{client_id}\n{}\n{path}\n{}\n{ts}\n{nonce}",
        method.to_ascii_uppercase(),
        body_sha256(body)
    )
}

fn nonce_ok(n: &str) -> bool {
    (16..=128).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Signs a request: returns the `Authorization` header value.
/// `nonce` must be 16 to 128 characters of `[A-Za-z0-9_-]`, fresh per request.
pub fn sign_request(
    key: &SigningKey,
    client_id: &str,
    method: &str,
    path: &str,
    body: &[u8],
    ts: i64,
    nonce: &str,
) -> String {
    let sig = key.sign(signing_input(client_id, method, path, body, ts, nonce).as_bytes());
    format!(
        "{SCHEME} client_id=\"{client_id}\", ts=\"{ts}\", nonce=\"{nonce}\", sig=\"{}\"",
        BASE64URL_NOPAD.encode(&sig.to_bytes())
    )
}

/// Whether an `Authorization` value uses this scheme (case-insensitive).
pub fn is_signed(authorization: &str) -> bool {
    authorization
        .trim_start()
        .get(..SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
}

impl RequestSignature {
    /// Parses the header value. Every parameter is required, once.
    pub fn parse(authorization: &str) -> Result<RequestSignature, AssertionError> {
        let bad = |w: String| AssertionError::RequestMalformed(w);
        let v = authorization.trim();
        if !is_signed(v) {
            return Err(bad(format!("the scheme is not {SCHEME}")));
        }
        let params = &v[SCHEME.len()..];
        let (mut id, mut ts, mut nonce, mut sig) = (None, None, None, None);
        for part in params.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, val) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("parameter {part:?} has no value")))?;
            let val = val
                .trim()
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .ok_or_else(|| bad(format!("parameter {k} must be quoted")))?;
            let slot = match k.trim() {
                "client_id" => &mut id,
                "ts" => &mut ts,
                "nonce" => &mut nonce,
                "sig" => &mut sig,
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            };
            if slot.replace(val.to_string()).is_some() {
                return Err(bad(format!("parameter {} given twice", k.trim())));
            }
        }
        let need = |v: Option<String>, k: &str| v.ok_or_else(|| bad(format!("{k} is missing")));
        let client_id = need(id, "client_id")?;
        let ts = need(ts, "ts")?
            .parse::<i64>()
            .map_err(|_| bad("ts is not Unix seconds".into()))?;
        let nonce = need(nonce, "nonce")?;
        if !nonce_ok(&nonce) {
            return Err(bad(
                "nonce must be 16 to 128 characters of A-Z a-z 0-9 - _".into()
            ));
        }
        let sig = BASE64URL_NOPAD
            .decode(need(sig, "sig")?.as_bytes())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| bad("sig is not a base64url Ed25519 signature".into()))?;
        Ok(RequestSignature {
            client_id,
            ts,
            nonce,
            sig,
        })
    }

    /// Refuses a `ts` more than `max_skew_s` away from `now_s`.
    pub fn check_time(&self, now_s: i64, max_skew_s: i64) -> Result<(), AssertionError> {
        // abs_diff: a `ts` of i64::MIN must be a skew, not an overflow.
        if now_s.abs_diff(self.ts) > max_skew_s.unsigned_abs() {
            return Err(AssertionError::RequestClockSkew {
                ts: self.ts,
                now: now_s,
                max_skew_s,
            });
        }
        Ok(())
    }

    /// Checks the signature over this request under the client's key.
    pub fn verify(
        &self,
        key: &VerifyingKey,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(), AssertionError> {
        let input = signing_input(&self.client_id, method, path, body, self.ts, &self.nonce);
        key.verify(input.as_bytes(), &Signature::from_bytes(&self.sig))
            .map_err(|_| AssertionError::RequestBadSignature)
    }

    /// The key a nonce is remembered under (nonces are per client).
    pub fn replay_key(&self) -> String {
        format!("{}\u{0}{}", self.client_id, self.nonce)
    }
}

/// Reads an Ed25519 public key: 64 hex characters, or a PEM
/// `PUBLIC KEY` (SubjectPublicKeyInfo, as `openssl pkey -pubout` writes).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, AssertionError> {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let t = text.trim();
    let bad = |w: &str| AssertionError::KeyInvalid(format!("public key: {w}"));
    if t.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(t).map_err(|_| bad("not an Ed25519 PEM key"));
    }
    let bytes = decode_hex32(t).ok_or_else(|| bad("expected 64 hex characters or PEM"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid Ed25519 point"))
}

/// Reads an Ed25519 private key: 64 hex characters (the 32-byte seed), or
/// a PEM `PRIVATE KEY` (PKCS#8, as `openssl genpkey -algorithm ed25519` writes).
pub fn parse_signing_key(text: &str) -> Result<SigningKey, AssertionError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(t)
            .map_err(|_| AssertionError::KeyInvalid("private key: not an Ed25519 PEM key".into()));
    }
    decode_hex32(t)
        .map(|b| SigningKey::from_bytes(&b))
        .ok_or_else(|| {
            AssertionError::KeyInvalid(
                "private key: expected 64 hex characters (the seed) or PEM".into(),
            )
        })
}

/// Hex of a public key, as `countersign client add --public-key` stores it.
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex_lower(key.as_bytes())
}

/// Hex of a private key's seed (what [`parse_signing_key`] reads back).
pub fn signing_key_hex(key: &SigningKey) -> String {
    hex_lower(&key.to_bytes())
}

fn decode_hex32(t: &str) -> Option<[u8; 32]> {
    if t.len() != 64 || !t.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A fresh random nonce (32 hex characters).
pub fn new_nonce() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    hex_lower(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9u8; 32])
    }

    const NONCE: &str = "0123456789abcdef0123";

    #[test]
    fn signed_header_round_trips_and_verifies() {
        let h = sign_request(&key(), "app", "post", "/v1/stepup", b"{}", 100, NONCE);
        assert!(is_signed(&h));
        let s = RequestSignature::parse(&h).unwrap();
        assert_eq!(
            (s.client_id.as_str(), s.ts, s.nonce.as_str()),
            ("app", 100, NONCE)
        );
        s.verify(&key().verifying_key(), "POST", "/v1/stepup", b"{}")
            .unwrap();
        s.check_time(100 + MAX_SKEW_S, MAX_SKEW_S).unwrap();
        s.check_time(100 - MAX_SKEW_S, MAX_SKEW_S).unwrap();
    }

    #[test]
    fn any_change_to_what_was_signed_is_a_bad_signature() {
        let h = sign_request(&key(), "app", "POST", "/v1/stepup", b"{}", 100, NONCE);
        let s = RequestSignature::parse(&h).unwrap();
        let vk = key().verifying_key();
        for (m, p, b) in [
            ("GET", "/v1/stepup", &b"{}"[..]),
            ("POST", "/v1/stepup/x", &b"{}"[..]),
            ("POST", "/v1/stepup", &b"{ }"[..]),
        ] {
            let e = s.verify(&vk, m, p, b).unwrap_err();
            assert_eq!(e.code(), countersign_codes::Code::SignedRequestBadSignature);
        }
        let mut later = s.clone();
        later.ts += 1;
        assert!(later.verify(&vk, "POST", "/v1/stepup", b"{}").is_err());
        let other = SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        assert!(s.verify(&other, "POST", "/v1/stepup", b"{}").is_err());
    }

    #[test]
    fn stale_or_future_ts_is_clock_skew() {
        let h = sign_request(&key(), "app", "GET", "/", b"", 1000, NONCE);
        let s = RequestSignature::parse(&h).unwrap();
        for now in [1000 + MAX_SKEW_S + 1, 1000 - MAX_SKEW_S - 1] {
            assert_eq!(
                s.check_time(now, MAX_SKEW_S).unwrap_err().code(),
                countersign_codes::Code::SignedRequestClockSkew
            );
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        let good = sign_request(&key(), "app", "GET", "/", b"", 1, NONCE);
        let sig = good.rsplit_once("sig=").unwrap().1.to_string();
        for h in [
            "Basic abc".to_string(),
            format!("{SCHEME} client_id=\"app\", ts=\"1\", nonce=\"{NONCE}\""),
            format!("{SCHEME} client_id=\"app\", ts=\"x\", nonce=\"{NONCE}\", sig={sig}"),
            format!("{SCHEME} client_id=\"app\", ts=\"1\", nonce=\"short\", sig={sig}"),
            format!("{SCHEME} client_id=\"app\", ts=\"1\", nonce=\"{NONCE}\", sig=\"AAAA\""),
            format!("{SCHEME} client_id=app, ts=\"1\", nonce=\"{NONCE}\", sig={sig}"),
            format!(
                "{SCHEME} client_id=\"a\", client_id=\"b\", ts=\"1\", nonce=\"{NONCE}\", sig={sig}"
            ),
            format!(
                "{SCHEME} client_id=\"app\", ts=\"1\", nonce=\"{NONCE}\", sig={sig}, extra=\"1\""
            ),
        ] {
            let e = RequestSignature::parse(&h).unwrap_err();
            assert_eq!(
                e.code(),
                countersign_codes::Code::SignedRequestMalformed,
                "{h}"
            );
        }
    }

    #[test]
    fn keys_read_from_hex_and_pem() {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let k = key();
        let vk = k.verifying_key();
        assert_eq!(parse_public_key(&public_key_hex(&vk)).unwrap(), vk);
        assert_eq!(
            parse_signing_key(&signing_key_hex(&k)).unwrap().to_bytes(),
            k.to_bytes()
        );
        let pem = vk
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(parse_public_key(&pem).unwrap(), vk);
        let pem = k
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(parse_signing_key(&pem).unwrap().to_bytes(), k.to_bytes());
        for bad in [
            "",
            "zz",
            &"0".repeat(63),
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ] {
            assert_eq!(
                parse_public_key(bad).unwrap_err().code(),
                countersign_codes::Code::KeyInvalid
            );
        }
        assert_ne!(new_nonce(), new_nonce());
        assert!(nonce_ok(&new_nonce()));
    }
}
