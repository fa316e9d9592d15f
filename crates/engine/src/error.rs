use std::path::PathBuf;

use countersign_codes::Code;
use countersign_core::auth::{AuthRefusal, CredentialError};
use countersign_core::{PolicyError, Refusal};
use countersign_ledger::LedgerError;

/// Errors of the application layer. [`EngineError::code`] is stable and is
/// what crosses to the UI; the message is for people.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Auth(#[from] AuthRefusal),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("unknown person {0}")]
    UnknownPerson(String),
    #[error("unknown override {0}")]
    UnknownOverride(String),
    #[error("{} is not an initialised Countersign data dir (no {}); run `countersign init` first", .0.display(), crate::datadir::MARKER)]
    NotInitialized(PathBuf),
    #[error("{} is already initialised", .0.display())]
    AlreadyInitialized(PathBuf),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error(transparent)]
    Matcher(#[from] countersign_matcher::MatcherError),
    #[error(transparent)]
    Capture(countersign_capture::CaptureError),
    #[error("{message}")]
    Biometric { code: Code, message: String },
    /// A reviewer or admin command refused by the console's gate
    /// (`console.*`, see `Engine::console_check`).
    #[error("{message}")]
    Console { code: Code, message: String },
    /// A key backup or a restore from the bucket was refused (`keys.*`,
    /// `restore.*`, see `recovery.rs`).
    #[error("{message}")]
    Recovery { code: Code, message: String },
    /// Opening a sealed sample was refused (`sample.*`).
    #[error("{message}")]
    Sample { code: Code, message: String },
    #[error("client authentication failed")]
    ClientAuth,
    /// Too many failed authentications for this client id or source.
    #[error(
        "too many failed authentications for this client or source; retry in {retry_after_s} s"
    )]
    ClientRateLimited { retry_after_s: i64 },
    #[error("unknown principal {0}")]
    UnknownPrincipal(String),
    #[error("no step-up request {0} for this client")]
    UnknownRequest(String),
    #[error("scope {scope} is not registered for client {client}")]
    ClientScope { client: String, scope: String },
    /// A signed request refused for its shape, its time or its nonce.
    #[error(transparent)]
    SignedRequest(#[from] countersign_assertion::AssertionError),
    #[error(
        "client {client} may not ask break-glass for {principal} (not named in its registration)"
    )]
    ClientNotAllowed { client: String, principal: String },
    #[error("this kiosk issues none of the requested acr_values {} (it issues urn:countersign:acr:biometric and urn:countersign:acr:supervised-override)", requested.join(" "))]
    AcrUnsatisfiable { requested: Vec<String> },
    #[error("request {0} expired before it was completed")]
    RequestExpired(String),
    /// The data dir, or something in it, can be written by other users.
    #[error("{} has mode {mode:04o}: group or other may write it, so someone else could have changed the kiosk's policy, registries or keys; inspect it, then `chmod go-w` (the data dir is 0700, its files 0600)", path.display())]
    Insecure { path: PathBuf, mode: u32 },
    /// A person's row differs from what their registry events say.
    #[error("the people registry does not match the evidence chain ({0}); nothing is done for this person until it does (see `countersign log verify`)")]
    RegistryTampered(String),
    #[error("the administrator's sign-in has expired or is for another kiosk: sign in again with two factors")]
    AdminPassExpired,
    /// `breakglass reconcile` named a person's override: those close only
    /// with the person's own successful step-up.
    #[error("{0} is not a break-glass grant: a person's override is reconciled only by their own successful step-up")]
    NotBreakGlass(String),
    /// Test input, a replay or a virtual reader on a data dir that is not
    /// a demo one (`countersign init --demo`).
    #[error("{0}: only a demo data dir (countersign init --demo) accepts it")]
    DemoOnly(String),
    #[error("{context} ({}): {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    /// The error's stable code (see `countersign-codes`).
    pub fn code(&self) -> Code {
        match self {
            EngineError::Refused(r) => r.error_code(),
            EngineError::Auth(a) => a.error_code(),
            EngineError::Policy(p) => p.code,
            EngineError::Ledger(LedgerError::DiskFull { .. }) => Code::LedgerDiskFull,
            EngineError::Ledger(LedgerError::ClockBehind { .. }) => crate::CLOCK_BEHIND_CODE,
            // The local anchor (crates/ledger/src/anchor.rs, engine/src/anchor.rs):
            // `anchor.ledger_behind` (the head is behind the anchor: a restored
            // copy, a cut tail, a lost WAL), `anchor.fork` (another chain at the
            // anchored seq), `anchor.missing` (a ledger with events and no
            // anchor), `anchor.invalid` (the anchor's signature fails),
            // `anchor.remote_ahead` / `anchor.remote_fork` (the alarm raised by
            // the sync pass: the bucket holds more of this kiosk's chain, or
            // another branch of it). Each names both heads; each refuses writes
            // until an admin runs `countersign anchor reseed`.
            EngineError::Ledger(LedgerError::Anchor { code, .. }) => *code,
            EngineError::Ledger(_) => Code::LedgerError,
            EngineError::Credential(_) => Code::CredentialInvalid,
            EngineError::UnknownPerson(_) => Code::PersonUnknown,
            EngineError::UnknownOverride(_) => Code::OverrideUnknown,
            EngineError::NotInitialized(_) => Code::DatadirNotInitialized,
            EngineError::AlreadyInitialized(_) => Code::DatadirAlreadyInitialized,
            EngineError::Invalid(_) => Code::InputInvalid,
            EngineError::Matcher(m) => m.code(),
            EngineError::Capture(c) => c.code(),
            EngineError::Biometric { code, .. }
            | EngineError::Sample { code, .. }
            | EngineError::Console { code, .. }
            | EngineError::Recovery { code, .. } => *code,
            EngineError::ClientAuth => Code::ClientAuthFailed,
            EngineError::ClientRateLimited { .. } => Code::ClientRateLimited,
            EngineError::UnknownPrincipal(_) => Code::PrincipalUnknown,
            EngineError::UnknownRequest(_) => Code::RequestUnknown,
            EngineError::ClientScope { .. } => Code::ClientScopeNotAllowed,
            EngineError::SignedRequest(a) => match a {
                countersign_assertion::AssertionError::RequestMalformed(_) => {
                    Code::ClientAuthMalformed
                }
                countersign_assertion::AssertionError::RequestClockSkew { .. } => {
                    Code::ClientClockSkew
                }
                countersign_assertion::AssertionError::RequestNonceReplayed(_) => {
                    Code::ClientNonceReplayed
                }
                countersign_assertion::AssertionError::RequestBadSignature => {
                    Code::ClientAuthFailed
                }
                other => other.code(),
            },
            EngineError::ClientNotAllowed { .. } => Code::ClientPrincipalNotAllowed,
            EngineError::RequestExpired(_) => Code::RequestExpired,
            EngineError::AcrUnsatisfiable { .. } => Code::RequestAcrUnsatisfiable,
            EngineError::Insecure { .. } => Code::DatadirInsecure,
            EngineError::RegistryTampered(_) => Code::RegistryTampered,
            EngineError::AdminPassExpired => Code::AdminPassExpired,
            EngineError::NotBreakGlass(_) => Code::OverrideNotBreakglass,
            EngineError::DemoOnly(_) => Code::RefusedDemoOnly,
            EngineError::Io { .. } => Code::IoError,
        }
    }

    pub(crate) fn io<'a>(
        context: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> EngineError + 'a {
        move |source| EngineError::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }
}
