//! Countersign's error codes: one vocabulary for the engine, the CLI, the
//! desktop app, the UI and the local API.
//!
//! A code is stable: it is what a script, the UI or a relying app branches
//! on, and what the evidence records. Each is a member of [`Code`], written
//! `area.reason` in lower case ([`Code::as_str`]); serde and the TypeScript
//! union (`ui/src/lib/bindings/Code.ts`, feature `ts`) use that string, so a
//! misspelled code does not compile on either side.
//!
//! The table below also says how the local API answers each code
//! ([`ApiAnswer`]): adding a code means deciding its answer, there is no
//! default. This crate is pure data (no I/O), so `countersign-core` may use it.

use serde::{Deserialize, Serialize};

/// How the local API (`crates/api`) answers a refusal with this code: an
/// HTTP status and an OAuth / RFC 9470 `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiAnswer {
    /// 401 `invalid_client`.
    InvalidClient,
    /// 429 `temporarily_unavailable`.
    RateLimited,
    /// 403 `insufficient_scope`.
    InsufficientScope,
    /// 403 `access_denied`.
    AccessDenied,
    /// 404 `not_found`.
    NotFound,
    /// 400 `insufficient_user_authentication` (RFC 9470).
    InsufficientUserAuthentication,
    /// 400 `invalid_request`.
    InvalidRequest,
    /// 413 `invalid_request`.
    TooLarge,
    /// 405 `invalid_request`.
    MethodNotAllowed,
    /// 500 `server_error`: the kiosk could not do it, not the client's fault.
    ServerError,
}

macro_rules! codes {
    ($( $name:ident = $s:literal => $answer:ident, )*) => {
        /// Every stable error code. See the crate documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "Code.ts"))]
        #[non_exhaustive]
        pub enum Code {
            $( #[doc = concat!("`", $s, "`")] #[serde(rename = $s)] $name, )*
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The dotted lower-case string (`refused.over_cap`).
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$name => $s,)* }
            }

            /// How the local API answers this code.
            pub const fn api_answer(self) -> ApiAnswer {
                match self { $(Code::$name => ApiAnswer::$answer,)* }
            }

            /// The code spelled `s`, for codes read back from a file or
            /// another process; `None` for a string that is no code.
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($s => Some(Code::$name),)* _ => None }
            }
        }
    };
}

codes! {
    AdminPassExpired = "admin.pass_expired" => ServerError,
    AnchorAlarm = "anchor.alarm" => ServerError,
    AnchorFork = "anchor.fork" => ServerError,
    AnchorInvalid = "anchor.invalid" => ServerError,
    AnchorLedgerBehind = "anchor.ledger_behind" => ServerError,
    AnchorMissing = "anchor.missing" => ServerError,
    AnchorRemoteAhead = "anchor.remote_ahead" => ServerError,
    AnchorRemoteFork = "anchor.remote_fork" => ServerError,
    ApiBind = "api.bind" => ServerError,
    ApiError = "api.error" => ServerError,
    ApiInternal = "api.internal" => ServerError,
    ApiTls = "api.tls" => ServerError,
    AppConfig = "app.config" => ServerError,
    AppDataDir = "app.data_dir" => ServerError,
    AppExport = "app.export" => ServerError,
    AppFleetNotLoaded = "app.fleet_not_loaded" => ServerError,
    AppInternal = "app.internal" => ServerError,
    AppIpc = "app.ipc" => ServerError,
    AppNoSession = "app.no_session" => ServerError,
    AppNotDemo = "app.not_demo" => ServerError,
    AppNotReplay = "app.not_replay" => ServerError,
    AppNotSignedIn = "app.not_signed_in" => ServerError,
    AppUnknownScene = "app.unknown_scene" => ServerError,
    AssertionAuthTooOld = "assertion.auth_too_old" => ServerError,
    AssertionBadSignature = "assertion.bad_signature" => ServerError,
    AssertionDemo = "assertion.demo" => ServerError,
    AssertionExpired = "assertion.expired" => ServerError,
    AssertionInsufficientUserAuthentication = "assertion.insufficient_user_authentication" => ServerError,
    AssertionMalformed = "assertion.malformed" => ServerError,
    AssertionNoReplayStore = "assertion.no_replay_store" => ServerError,
    AssertionNonceMismatch = "assertion.nonce_mismatch" => ServerError,
    AssertionNotYetValid = "assertion.not_yet_valid" => ServerError,
    AssertionOverCap = "assertion.over_cap" => ServerError,
    AssertionOverrideExpired = "assertion.override_expired" => ServerError,
    AssertionOverrideRevoked = "assertion.override_revoked" => ServerError,
    AssertionOverrideUnknown = "assertion.override_unknown" => ServerError,
    AssertionReplayStore = "assertion.replay_store" => ServerError,
    AssertionReplayed = "assertion.replayed" => ServerError,
    AssertionScopeMissing = "assertion.scope_missing" => ServerError,
    AssertionStatusUnavailable = "assertion.status_unavailable" => ServerError,
    AssertionUnknownKey = "assertion.unknown_key" => ServerError,
    AssertionUnsupportedAlg = "assertion.unsupported_alg" => ServerError,
    AssertionWrongAudience = "assertion.wrong_audience" => ServerError,
    AssertionWrongIssuer = "assertion.wrong_issuer" => ServerError,
    AuthAuthFailed = "auth.auth_failed" => ServerError,
    AuthLocked = "auth.locked" => ServerError,
    AuthNotEnrolled = "auth.not_enrolled" => ServerError,
    AuthNotPermitted = "auth.not_permitted" => ServerError,
    AuthTotpReplayed = "auth.totp_replayed" => ServerError,
    BiometricEnrollDuplicate = "biometric.enroll_duplicate" => ServerError,
    BiometricEnrollmentFailed = "biometric.enrollment_failed" => ServerError,
    BiometricNotEnrolled = "biometric.not_enrolled" => ServerError,
    BiometricNotOperator = "biometric.not_operator" => ServerError,
    BiometricSelfWitness = "biometric.self_witness" => ServerError,
    CaptureBusy = "capture.busy" => ServerError,
    CaptureDecode = "capture.decode" => ServerError,
    CaptureEndOfStream = "capture.end_of_stream" => ServerError,
    CaptureError = "capture.error" => ServerError,
    CaptureNoPermission = "capture.no_permission" => ServerError,
    CaptureNotFound = "capture.not_found" => ServerError,
    CaptureUnplugged = "capture.unplugged" => ServerError,
    ClientAuthFailed = "client.auth_failed" => InvalidClient,
    ClientAuthMalformed = "client.auth_malformed" => InvalidClient,
    ClientAuthRequired = "client.auth_required" => InvalidClient,
    ClientClockSkew = "client.clock_skew" => InvalidClient,
    ClientNonceReplayed = "client.nonce_replayed" => InvalidClient,
    ClientPrincipalNotAllowed = "client.principal_not_allowed" => AccessDenied,
    ClientRateLimited = "client.rate_limited" => RateLimited,
    ClientScopeNotAllowed = "client.scope_not_allowed" => InsufficientScope,
    ClockBehindLedger = "clock.behind_ledger" => ServerError,
    ConsoleExpired = "console.expired" => ServerError,
    ConsoleKioskMode = "console.kiosk_mode" => ServerError,
    ConsoleNoSession = "console.no_session" => ServerError,
    ConsoleRoleChanged = "console.role_changed" => ServerError,
    ConsoleWrongPerson = "console.wrong_person" => ServerError,
    ConsoleWrongRole = "console.wrong_role" => ServerError,
    CredentialInvalid = "credential.invalid" => ServerError,
    DatadirAlreadyInitialized = "datadir.already_initialized" => ServerError,
    DatadirInsecure = "datadir.insecure" => ServerError,
    DatadirNotInitialized = "datadir.not_initialized" => ServerError,
    EvalInsufficientData = "eval.insufficient_data" => ServerError,
    FingerEnrollDuplicate = "finger.enroll_duplicate" => ServerError,
    FingerIo = "finger.io" => ServerError,
    FingerLibfprint = "finger.libfprint" => ServerError,
    FingerNoImage = "finger.no_image" => ServerError,
    FingerRetry = "finger.retry" => ServerError,
    FingerTemplate = "finger.template" => ServerError,
    FingerTimedOut = "finger.timed_out" => ServerError,
    FleetVerifyFailed = "fleet.verify_failed" => ServerError,
    InputInvalid = "input.invalid" => InvalidRequest,
    InputOutOfRange = "input.out_of_range" => ServerError,
    IoError = "io.error" => ServerError,
    KeyInvalid = "key.invalid" => ServerError,
    KeysBackupExists = "keys.backup_exists" => ServerError,
    KioskKeyMismatch = "kiosk.key_mismatch" => ServerError,
    KioskNotPinned = "kiosk.not_pinned" => ServerError,
    KioskPinInvalid = "kiosk.pin_invalid" => ServerError,
    LedgerDiskFull = "ledger.disk_full" => ServerError,
    LedgerError = "ledger.error" => ServerError,
    LedgerVerifyFailed = "ledger.verify_failed" => ServerError,
    MatcherDecode = "matcher.decode" => ServerError,
    MatcherInference = "matcher.inference" => ServerError,
    MatcherModelLoad = "matcher.model_load" => ServerError,
    MatcherModelMissing = "matcher.model_missing" => ServerError,
    MatcherModelUnknown = "matcher.model_unknown" => ServerError,
    MatcherTemplate = "matcher.template" => ServerError,
    OverrideNotBreakglass = "override.not_breakglass" => ServerError,
    OverrideUnknown = "override.unknown" => NotFound,
    PersonUnknown = "person.unknown" => ServerError,
    PolicyCalibrationReportUnknown = "policy.calibration_report_unknown" => ServerError,
    PolicyCalibrationUnsupported = "policy.calibration_unsupported" => ServerError,
    PolicyFaceThresholdBelowCalibration = "policy.face_threshold_below_calibration" => ServerError,
    PolicyFaceThresholdBelowFloor = "policy.face_threshold_below_floor" => ServerError,
    PolicyInvalid = "policy.invalid" => ServerError,
    PrincipalUnknown = "principal.unknown" => InvalidRequest,
    RefusedAlreadyDone = "refused.already_done" => InvalidRequest,
    RefusedBiometricDisabled = "refused.biometric_disabled" => InvalidRequest,
    RefusedDemoOnly = "refused.demo_only" => InvalidRequest,
    RefusedEmptyScope = "refused.empty_scope" => InvalidRequest,
    RefusedExpired = "refused.expired" => InvalidRequest,
    RefusedExtensionRefused = "refused.extension_refused" => InvalidRequest,
    RefusedHumanPrincipal = "refused.human_principal" => InvalidRequest,
    RefusedInvalidTransition = "refused.invalid_transition" => InvalidRequest,
    RefusedMissingField = "refused.missing_field" => InvalidRequest,
    RefusedMissingRole = "refused.missing_role" => InvalidRequest,
    RefusedNoExpiry = "refused.no_expiry" => InvalidRequest,
    RefusedNoTrigger = "refused.no_trigger" => InvalidRequest,
    RefusedOfferExpired = "refused.offer_expired" => InvalidRequest,
    RefusedOverCap = "refused.over_cap" => InvalidRequest,
    RefusedRevoked = "refused.revoked" => InvalidRequest,
    RefusedScopeNotGrantable = "refused.scope_not_grantable" => InvalidRequest,
    RefusedScopeNotGranted = "refused.scope_not_granted" => InvalidRequest,
    RefusedScopeNotRegistered = "refused.scope_not_registered" => InvalidRequest,
    RefusedScopeNotRequested = "refused.scope_not_requested" => InvalidRequest,
    RefusedSelfDealing = "refused.self_dealing" => InvalidRequest,
    RefusedSupervisorNotAuthenticated = "refused.supervisor_not_authenticated" => InvalidRequest,
    RefusedThrottled = "refused.throttled" => InvalidRequest,
    RefusedTriggerNotAllowed = "refused.trigger_not_allowed" => InvalidRequest,
    RefusedUnknownReason = "refused.unknown_reason" => InvalidRequest,
    RefusedUnknownScope = "refused.unknown_scope" => InvalidRequest,
    RegistryTampered = "registry.tampered" => ServerError,
    RequestAcrUnsatisfiable = "request.acr_unsatisfiable" => InsufficientUserAuthentication,
    RequestExpired = "request.expired" => InvalidRequest,
    RequestInvalidField = "request.invalid_field" => InvalidRequest,
    RequestMalformedJson = "request.malformed_json" => InvalidRequest,
    RequestMethodNotAllowed = "request.method_not_allowed" => MethodNotAllowed,
    RequestMissingField = "request.missing_field" => InvalidRequest,
    RequestNoRoute = "request.no_route" => NotFound,
    RequestTooLarge = "request.too_large" => TooLarge,
    RequestUnknown = "request.unknown" => NotFound,
    RequestUnreadable = "request.unreadable" => InvalidRequest,
    RestoreAdminInvalid = "restore.admin_invalid" => ServerError,
    RestoreBucketFork = "restore.bucket_fork" => ServerError,
    RestoreBucketGap = "restore.bucket_gap" => ServerError,
    RestoreBucketInvalid = "restore.bucket_invalid" => ServerError,
    RestoreKeyMismatch = "restore.key_mismatch" => ServerError,
    RestoreKeysInvalid = "restore.keys_invalid" => ServerError,
    RestoreTargetNotEmpty = "restore.target_not_empty" => ServerError,
    SampleNoSupervisor = "sample.no_supervisor" => ServerError,
    SampleNotAnImage = "sample.not_an_image" => ServerError,
    SampleNotFound = "sample.not_found" => ServerError,
    SampleNotInSession = "sample.not_in_session" => ServerError,
    SamplePassExpired = "sample.pass_expired" => ServerError,
    SamplePurged = "sample.purged" => ServerError,
    SignedRequestBadSignature = "signed_request.bad_signature" => ServerError,
    SignedRequestClockSkew = "signed_request.clock_skew" => ServerError,
    SignedRequestMalformed = "signed_request.malformed" => ServerError,
    SignedRequestNonceReplayed = "signed_request.nonce_replayed" => ServerError,
    SyncAlert = "sync.alert" => ServerError,
    SyncConfig = "sync.config" => ServerError,
    SyncConflict = "sync.conflict" => ServerError,
    SyncInternal = "sync.internal" => ServerError,
    SyncLedger = "sync.ledger" => ServerError,
    SyncNotFound = "sync.not_found" => ServerError,
    SyncRemote = "sync.remote" => ServerError,
    SyncVerifyFailed = "sync.verify_failed" => ServerError,
}

impl Code {
    /// A refusal of the local anchor (`anchor.*`): the ledger is not
    /// written until an admin re-seeds.
    pub const fn is_anchor(self) -> bool {
        matches!(
            self,
            Code::AnchorAlarm
                | Code::AnchorFork
                | Code::AnchorInvalid
                | Code::AnchorLedgerBehind
                | Code::AnchorMissing
                | Code::AnchorRemoteAhead
                | Code::AnchorRemoteFork
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_dotted_lower_case_unique_and_round_trips() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            let (area, reason) = s.split_once('.').expect("area.reason");
            for part in [area, reason] {
                assert!(
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{s} is not dotted lower case"
                );
            }
            assert!(seen.insert(s), "{s} twice");
            assert_eq!(Code::parse(s), Some(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), *c);
        }
        assert_eq!(Code::parse("E_DATA_DIR"), None);
        assert_eq!(Code::parse("refused.over_capp"), None);
    }
}
