//! The refusal matrix at the library level: each bad assertion is refused
//! with its own stable code.

use std::cell::RefCell;

use countersign_assertion::{
    check, sign, verify, AssertionError, Claims, Expectations, Jwks, MemoryReplayStore,
    OverrideClaims, OverrideStatus, OverrideStatusSource, ACR_BIOMETRIC, ACR_SUPERVISED_OVERRIDE,
};
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::SigningKey;

const NOW: i64 = 1_800_000_000;

fn kiosk() -> SigningKey {
    SigningKey::from_bytes(&[1u8; 32])
}

fn claims() -> Claims {
    Claims {
        iss: "urn:countersign:kiosk:k1".into(),
        sub: "olga".into(),
        aud: "payments-app".into(),
        iat: NOW,
        exp: NOW + 300,
        auth_time: NOW - 5,
        nonce: "n-123".into(),
        jti: "jti-1".into(),
        acr: ACR_BIOMETRIC.into(),
        amr: vec!["face".into()],
        scope: "payments.approve".into(),
        override_: None,
        countersign_demo: false,
    }
}

fn override_claims() -> Claims {
    Claims {
        acr: ACR_SUPERVISED_OVERRIDE.into(),
        amr: vec!["pwd".into(), "otp".into()],
        exp: NOW + 120,
        override_: Some(OverrideClaims {
            id: "ovr-1".into(),
            supervisor: "sam".into(),
            reason_code: "SENSOR_FAULT".into(),
            expires_at: NOW + 120,
            compensating_control: "second approver".into(),
            trigger: "device_unavailable".into(),
            principal_kind: "human".into(),
        }),
        ..claims()
    }
}

fn expect() -> Expectations {
    let mut x = Expectations::new("payments-app", NOW + 1);
    x.nonce = Some("n-123".into());
    x.issuer = Some("urn:countersign:kiosk:k1".into());
    x.required_scope = Some("payments.approve".into());
    x
}

fn jwks() -> Jwks {
    Jwks::for_key(&kiosk().verifying_key())
}

struct Status(RefCell<Option<OverrideStatus>>);
impl OverrideStatusSource for Status {
    fn override_status(&self, _id: &str) -> Result<Option<OverrideStatus>, AssertionError> {
        Ok(self.0.borrow().clone())
    }
}

fn status(s: &str) -> Status {
    Status(RefCell::new(Some(OverrideStatus {
        id: "ovr-1".into(),
        status: s.into(),
        expires_at: NOW + 120,
    })))
}

fn code(r: Result<Claims, AssertionError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e.code().as_str().into()
        }
    }
}

#[test]
fn good_assertion_passes_once_then_replay_is_refused() {
    let t = sign(&claims(), &kiosk());
    let mut store = MemoryReplayStore::default();
    assert_eq!(code(verify(&t, &jwks(), &expect(), None, &mut store)), "ok");
    let e = verify(&t, &jwks(), &expect(), None, &mut store).unwrap_err();
    assert_eq!(e.code(), countersign_codes::Code::AssertionReplayed);
    assert!(e.to_string().contains("jti-1"), "{e}");
}

#[test]
fn refusal_matrix() {
    let good = sign(&claims(), &kiosk());
    let j = jwks();
    let run =
        |t: &str, x: &Expectations, o: Option<&dyn OverrideStatusSource>| code(check(t, &j, x, o));
    // wrong audience
    let mut x = expect();
    x.audience = "other-app".into();
    assert_eq!(run(&good, &x, None), "assertion.wrong_audience");
    // expired
    let mut x = expect();
    x.now_s = NOW + 300;
    assert_eq!(run(&good, &x, None), "assertion.expired");
    // forged signature: signed by another key with the kiosk's kid
    let forger = SigningKey::from_bytes(&[2u8; 32]);
    let forged = sign(&claims(), &forger);
    let (fh, fc) = forged.split_at(forged.find('.').unwrap());
    let (gh, _) = good.split_at(good.find('.').unwrap());
    let _ = fh;
    let forged_with_kid = format!("{gh}{fc}");
    assert_eq!(
        run(&forged_with_kid, &expect(), None),
        "assertion.bad_signature"
    );
    // forged with its own key: unknown kid
    assert_eq!(run(&forged, &expect(), None), "assertion.unknown_key");
    // altered claims: the scope widened after signing
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims();
    c.scope = "payments.approve admin.keys".into();
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        BASE64URL_NOPAD.encode(&serde_json::to_vec(&c).unwrap()),
        parts[2]
    );
    assert_eq!(run(&altered, &expect(), None), "assertion.bad_signature");
    // nonce from another request
    let mut x = expect();
    x.nonce = Some("n-other".into());
    assert_eq!(run(&good, &x, None), "assertion.nonce_mismatch");
    // authentication too old for max_age
    let mut x = expect();
    x.max_age_s = Some(2);
    assert_eq!(run(&good, &x, None), "assertion.auth_too_old");
    // over-cap lifetime
    let mut c = claims();
    c.exp = NOW + 7200;
    assert_eq!(
        run(&sign(&c, &kiosk()), &expect(), None),
        "assertion.over_cap"
    );
    // not JWT at all, or not EdDSA
    assert_eq!(run("abc", &expect(), None), "assertion.malformed");
    let none_alg = format!(
        "{}.{}.",
        BASE64URL_NOPAD.encode(br#"{"alg":"none","typ":"JWT","kid":"x"}"#),
        parts[1]
    );
    assert_eq!(run(&none_alg, &expect(), None), "assertion.unsupported_alg");
    // scope not granted
    let mut x = expect();
    x.required_scope = Some("records.export".into());
    assert_eq!(run(&good, &x, None), "assertion.scope_missing");
}

#[test]
fn override_backed_assertions() {
    let t = sign(&override_claims(), &kiosk());
    let j = jwks();
    let run =
        |t: &str, x: &Expectations, o: Option<&dyn OverrideStatusSource>| code(check(t, &j, x, o));
    assert_eq!(run(&t, &expect(), Some(&status("active"))), "ok");
    assert_eq!(run(&t, &expect(), Some(&status("used"))), "ok");
    // revoked, expired, unknown, or no way to ask
    assert_eq!(
        run(&t, &expect(), Some(&status("revoked"))),
        "assertion.override_revoked"
    );
    assert_eq!(
        run(&t, &expect(), Some(&status("expired"))),
        "assertion.override_expired"
    );
    assert_eq!(
        run(&t, &expect(), Some(&Status(RefCell::new(None)))),
        "assertion.override_unknown"
    );
    assert_eq!(run(&t, &expect(), None), "assertion.status_unavailable");
    // an app that accepts only the biometric refuses the override (RFC 9470)
    let mut x = expect();
    x.accepted_acr = vec![ACR_BIOMETRIC.into()];
    let e = check(&t, &j, &x, Some(&status("active"))).unwrap_err();
    assert_eq!(
        e.code(),
        countersign_codes::Code::AssertionInsufficientUserAuthentication
    );
    assert!(
        e.to_string()
            .starts_with("insufficient_user_authentication"),
        "{e}"
    );
    // an assertion that outlives its override
    let mut c = override_claims();
    c.exp = NOW + 121;
    assert_eq!(
        run(&sign(&c, &kiosk()), &expect(), Some(&status("active"))),
        "assertion.over_cap"
    );
    // an override acr without override claims
    let mut c = override_claims();
    c.override_ = None;
    assert_eq!(
        run(&sign(&c, &kiosk()), &expect(), Some(&status("active"))),
        "assertion.malformed"
    );
}

/// A demo kiosk's assertion (`countersign_demo: true`) is refused by a
/// default verifier, and accepted only when the verifier opts in; the flag
/// is covered by the signature, so stripping it breaks the token.
#[test]
fn demo_assertions_are_refused_unless_the_verifier_opts_in() {
    let demo = Claims {
        countersign_demo: true,
        ..claims()
    };
    let t = sign(&demo, &kiosk());
    assert!(t.split('.').nth(1).is_some());
    let (_, decoded) = countersign_assertion::decode_unverified(&t).unwrap();
    assert!(decoded.countersign_demo);
    assert_eq!(
        code(check(&t, &jwks(), &expect(), None)),
        "assertion.demo",
        "a default verifier refuses a demo assertion"
    );
    let mut store = MemoryReplayStore::default();
    assert_eq!(
        code(verify(&t, &jwks(), &expect(), None, &mut store)),
        "assertion.demo"
    );
    let mut x = expect();
    x.accept_demo = true;
    assert_eq!(code(verify(&t, &jwks(), &x, None, &mut store)), "ok");
    // Stripping the claim after signing: the signature no longer verifies.
    let parts: Vec<&str> = t.split('.').collect();
    let stripped = format!(
        "{}.{}.{}",
        parts[0],
        BASE64URL_NOPAD.encode(&serde_json::to_vec(&claims()).unwrap()),
        parts[2]
    );
    assert_eq!(
        code(check(&stripped, &jwks(), &expect(), None)),
        "assertion.bad_signature"
    );
    // A production assertion does not carry the claim at all.
    let prod = sign(&claims(), &kiosk());
    let body = BASE64URL_NOPAD
        .decode(prod.split('.').nth(1).unwrap().as_bytes())
        .unwrap();
    assert!(!String::from_utf8(body)
        .unwrap()
        .contains("countersign_demo"));
}
