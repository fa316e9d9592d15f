//! The kiosk pin (issue 14, item 1): what a relying application knows of
//! its kiosk before it ever talks to it, written by `countersign client
//! add` (or `countersign api pin`) into a file the application's
//! configuration points to.
//!
//! - `issuer` and `jwk` (with its RFC 7638 thumbprint): the only key an
//!   assertion is verified with. A JWKS the API serves at run time is
//!   compared with it ([`KioskPin::check_served`]) and never used on its own.
//! - `tls_cert_sha256`: the SHA-256 of the API's self-signed TLS
//!   certificate (DER). The client's TLS handshake accepts that certificate
//!   and no other, so a stand-in on the kiosk's port fails the handshake
//!   before a single request byte, and so before any secret, is sent.

use std::path::Path;
use std::sync::{Arc, Mutex};

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::VerifyingKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{thumbprint, AssertionError, Jwk, Jwks};

/// What a relying application pins of its kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskPin {
    /// The `iss` of every assertion the kiosk signs.
    pub issuer: String,
    /// RFC 7638 thumbprint (base64url SHA-256) of the kiosk's Ed25519 key;
    /// also the `kid` of its assertions.
    pub key_thumbprint: String,
    /// The kiosk's public key itself.
    pub jwk: Jwk,
    /// Lowercase hex SHA-256 of the API's TLS certificate (DER), the
    /// transport pin.
    pub tls_cert_sha256: String,
}

/// Lowercase hex SHA-256 of a certificate's DER bytes.
pub fn cert_sha256(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn jwk_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
        return None;
    }
    let bytes = BASE64URL_NOPAD.decode(jwk.x.as_bytes()).ok()?;
    let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
    VerifyingKey::from_bytes(&arr).ok()
}

impl KioskPin {
    /// The pin of a kiosk whose key is `vk` and whose TLS certificate is `cert_der`.
    pub fn new(issuer: &str, vk: &VerifyingKey, cert_der: &[u8]) -> KioskPin {
        KioskPin {
            issuer: issuer.into(),
            key_thumbprint: thumbprint(vk),
            jwk: crate::jwk(vk),
            tls_cert_sha256: cert_sha256(cert_der),
        }
    }

    /// Checks the pin is whole: the JWK is an Ed25519 key whose
    /// thumbprint (and kid) is `key_thumbprint`, and the certificate
    /// digest is 64 hex characters.
    pub fn validate(&self) -> Result<(), AssertionError> {
        let bad = |w: &str| AssertionError::PinInvalid(w.into());
        let vk = jwk_key(&self.jwk).ok_or_else(|| bad("jwk is not an Ed25519 public key"))?;
        if thumbprint(&vk) != self.key_thumbprint || self.jwk.kid != self.key_thumbprint {
            return Err(bad("key_thumbprint is not the RFC 7638 thumbprint of jwk"));
        }
        if self.tls_cert_sha256.len() != 64
            || !self
                .tls_cert_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("tls_cert_sha256 is not 64 lowercase hex characters"));
        }
        if self.issuer.is_empty() {
            return Err(bad("issuer is empty"));
        }
        Ok(())
    }

    /// Reads and validates a pin file.
    pub fn load(path: &Path) -> Result<KioskPin, AssertionError> {
        let bytes = std::fs::read(path)
            .map_err(|e| AssertionError::PinInvalid(format!("reading {}: {e}", path.display())))?;
        let pin: KioskPin = serde_json::from_slice(&bytes).map_err(|e| {
            AssertionError::PinInvalid(format!("{} is not a kiosk pin: {e}", path.display()))
        })?;
        pin.validate()?;
        Ok(pin)
    }

    /// The one key assertions are verified with.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk.clone()],
        }
    }

    /// Compares a JWKS served at run time with the pin: it must be the
    /// pinned key and nothing else. Returns the pinned JWKS.
    pub fn check_served(&self, served: &Jwks) -> Result<Jwks, AssertionError> {
        let served_thumbprints: Vec<String> = served
            .keys
            .iter()
            .map(|k| jwk_key(k).map(|vk| thumbprint(&vk)).unwrap_or_default())
            .collect();
        if served_thumbprints != [self.key_thumbprint.clone()] {
            return Err(AssertionError::KeyMismatch {
                pinned: self.key_thumbprint.clone(),
                served: served_thumbprints.join(","),
            });
        }
        Ok(self.jwks())
    }

    /// A TLS client configuration that accepts only the pinned certificate.
    /// The verifier records the digest of what the server presented.
    pub(crate) fn tls_config(&self) -> (Arc<rustls::ClientConfig>, Arc<PinnedCert>) {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(PinnedCert {
            pin: self.tls_cert_sha256.clone(),
            seen: Mutex::new(None),
            provider: provider.clone(),
        });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the provider's default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        (Arc::new(config), verifier)
    }
}

/// Accepts exactly one certificate, by its SHA-256, and checks the
/// handshake signatures with its key (so the server must hold the private
/// key, not just a copy of the certificate). Names, dates and chains do
/// not matter: the pin is the trust.
#[derive(Debug)]
pub(crate) struct PinnedCert {
    pin: String,
    /// The digest of the certificate the server presented.
    pub(crate) seen: Mutex<Option<String>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = cert_sha256(end_entity.as_ref());
        let ok = got == self.pin;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
        if ok {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
