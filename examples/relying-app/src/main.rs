//! `relying-app`: a pretend payments tool that will not approve a payment
//! until the person at the keyboard has stepped up at the Countersign kiosk.
//!
//! ```text
//! relying-app approve --amount 100   # refused: step-up required (exit 3)
//! relying-app request                # asks the kiosk API; prints the request id
//! (the operator steps up at the kiosk, or `countersign stepup --request ID ...`)
//! relying-app wait                   # polls, verifies the assertion, keeps it
//! relying-app approve --amount 100   # approved while the assertion is fresh
//! ```
//! The app trusts one kiosk: the pin file `countersign client add` wrote
//! (`--kiosk-pin`, `RELYING_APP_KIOSK_PIN`). It talks to the API only over
//! TLS to the pinned certificate, so its secret never reaches a stand-in
//! on the kiosk's port, and it verifies assertions with the pinned key
//! only: the key the API serves must be that one, or nothing is accepted.
//!
//! The app authenticates to the kiosk API with its client secret
//! (`RELYING_APP_SECRET`) or, with `--key FILE` (`RELYING_APP_KEY`), by
//! signing every request with its Ed25519 key (`relying-app keygen` makes
//! one; register the `.pub` file with `countersign client add --public-key`).
//! A service whose own credential path failed asks break-glass instead:
//! `relying-app breakglass --principal svc-batch --trigger issuer_down ...`,
//! then `wait` as for a step-up. State (the pending nonce, the held
//! assertion, used jti values) lives in `--state-dir`.
//!
//! Against a demo kiosk (`countersign init --demo`, as in `scripts/run.sh`)
//! pass `--accept-demo`: a demo's assertions say `countersign_demo` (its
//! credentials are published and it accepts test inputs) and this app, like
//! every verifier by default, refuses them otherwise. Never pass it in front
//! of anything real.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use countersign_assertion::client::{ApiClient, BreakGlassRequest, StepUpRequest};
use countersign_assertion::pin::KioskPin;
use countersign_assertion::signed_request::{parse_signing_key, public_key_hex, signing_key_hex};
use countersign_assertion::{check, verify, Expectations, FileReplayStore, SigningKey};
use serde::{Deserialize, Serialize};

/// Exit status when the action needs a (new) step-up.
const EXIT_STEP_UP_REQUIRED: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "relying-app",
    about = "Example Countersign relying application"
)]
struct Cli {
    /// The kiosk API.
    #[arg(
        long,
        env = "RELYING_APP_API",
        default_value = "https://127.0.0.1:7468"
    )]
    api: String,
    /// The kiosk pin (written by `countersign client add` or `countersign
    /// api pin`): the kiosk's issuer, key and TLS certificate.
    #[arg(long, env = "RELYING_APP_KIOSK_PIN", value_name = "FILE")]
    kiosk_pin: Option<PathBuf>,
    /// This application's registered client id.
    #[arg(long, env = "RELYING_APP_CLIENT_ID", default_value = "payments-app")]
    client_id: String,
    #[arg(long, env = "RELYING_APP_STATE_DIR", default_value = ".relying-app")]
    state_dir: PathBuf,
    /// Sign requests with this Ed25519 private key (hex seed or PEM)
    /// instead of sending RELYING_APP_SECRET.
    #[arg(long, env = "RELYING_APP_KEY", value_name = "FILE")]
    key: Option<PathBuf>,
    /// The scope the privileged action needs.
    #[arg(long, default_value = "payments.approve")]
    scope: String,
    /// How fresh the authentication must be, seconds.
    #[arg(long, default_value_t = 600)]
    max_age: i64,
    /// Accept assertions of a demo kiosk (`countersign init --demo`,
    /// claim `countersign_demo`). For trying the example against the demo
    /// only: a demo proves nothing about anybody.
    #[arg(long, env = "RELYING_APP_ACCEPT_DEMO")]
    accept_demo: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Ask the kiosk for a step-up.
    Request {
        /// Accept only these acr values (default: biometric or supervised override).
        #[arg(long = "acr", value_delimiter = ',')]
        acr: Vec<String>,
    },
    /// Ask break-glass for a service principal whose credential path failed.
    Breakglass {
        #[arg(long)]
        principal: String,
        /// issuer_down, certificate_expired or rotation_broken
        #[arg(long)]
        trigger: String,
        /// What failed.
        #[arg(long)]
        detail: String,
        /// How long the grant should last, seconds (at most the policy's cap).
        #[arg(long)]
        duration_s: Option<i64>,
    },
    /// Make an Ed25519 key pair for signed requests: FILE (private, 0600) and FILE.pub.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Poll for the answer, verify it and keep it.
    Wait {
        #[arg(long, default_value_t = 60)]
        timeout_s: u64,
    },
    /// The privileged action: approve a payment.
    Approve {
        #[arg(long)]
        amount: u64,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    request_id: Option<String>,
    /// `breakglass` when the pending request is one.
    #[serde(default)]
    breakglass: bool,
    nonce: Option<String>,
    assertion: Option<String>,
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn load(dir: &Path) -> anyhow::Result<State> {
    match std::fs::read(dir.join("state.json")) {
        Ok(b) => Ok(serde_json::from_slice(&b)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e.into()),
    }
}

fn save(dir: &Path, s: &State) -> anyhow::Result<()> {
    countersign_assertion::write_atomic(&dir.join("state.json"), &serde_json::to_vec_pretty(s)?)
        .context("saving state")
}

fn pin(cli: &Cli) -> anyhow::Result<KioskPin> {
    let f = cli.kiosk_pin.as_ref().context(
        "set --kiosk-pin FILE (RELYING_APP_KIOSK_PIN): the pin `countersign client add` wrote",
    )?;
    coded(KioskPin::load(f))
}

fn client(cli: &Cli) -> anyhow::Result<ApiClient> {
    let pin = pin(cli)?;
    if let Some(f) = &cli.key {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let key = parse_signing_key(&text)?;
        return coded(ApiClient::with_key(&cli.api, &pin, &cli.client_id, key));
    }
    let secret = std::env::var("RELYING_APP_SECRET").context("set RELYING_APP_SECRET")?;
    coded(ApiClient::new(&cli.api, &pin, &cli.client_id, &secret))
}

/// Any refusal by the client with its stable code.
fn coded<T>(r: Result<T, countersign_assertion::AssertionError>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("refused[{}]: {e}", e.code()))
}

/// What the assertion must be; the issuer is the pinned kiosk's (the
/// client's pin, already loaded and validated).
fn expectations(cli: &Cli, c: &ApiClient, nonce: Option<String>) -> Expectations {
    let mut x = Expectations::new(&cli.client_id, now_s());
    x.issuer = Some(c.pin().issuer.clone());
    x.nonce = nonce;
    x.required_scope = Some(cli.scope.clone());
    x.max_age_s = Some(cli.max_age);
    x.accept_demo = cli.accept_demo;
    x
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    let mut st = load(&cli.state_dir)?;
    match &cli.cmd {
        Cmd::Request { acr } => {
            let nonce = hex::encode(rand::random::<[u8; 16]>());
            let t = coded(client(cli)?.request_stepup(&StepUpRequest {
                scope: vec![cli.scope.clone()],
                acr_values: acr.clone(),
                max_age: Some(cli.max_age),
                nonce: nonce.clone(),
            }))?;
            st.request_id = Some(t.request_id.clone());
            st.breakglass = false;
            st.nonce = Some(nonce);
            save(&cli.state_dir, &st)?;
            println!("step-up requested: {}", t.request_id);
            Ok(0)
        }
        Cmd::Breakglass {
            principal,
            trigger,
            detail,
            duration_s,
        } => {
            let nonce = hex::encode(rand::random::<[u8; 16]>());
            let t = coded(client(cli)?.request_breakglass(&BreakGlassRequest {
                principal: principal.clone(),
                trigger: trigger.clone(),
                scope: vec![cli.scope.clone()],
                detail: detail.clone(),
                duration_s: *duration_s,
                nonce: nonce.clone(),
            }))?;
            st.request_id = Some(t.request_id.clone());
            st.breakglass = true;
            st.nonce = Some(nonce);
            save(&cli.state_dir, &st)?;
            println!("break-glass requested: {}", t.request_id);
            Ok(0)
        }
        Cmd::Keygen { out } => {
            let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
            let mut pub_path = out.clone().into_os_string();
            pub_path.push(".pub");
            write_private(out, signing_key_hex(&key).as_bytes())?;
            std::fs::write(&pub_path, public_key_hex(&key.verifying_key()) + "\n")?;
            println!(
                "private key {} (keep it), public key {}",
                out.display(),
                PathBuf::from(pub_path).display()
            );
            Ok(0)
        }
        Cmd::Wait { timeout_s } => {
            let id = st
                .request_id
                .clone()
                .context("no pending request; run `request` first")?;
            let c = client(cli)?;
            let deadline = Instant::now() + Duration::from_secs(*timeout_s);
            loop {
                let s = coded(if st.breakglass {
                    c.breakglass_status(&id)
                } else {
                    c.stepup_status(&id)
                })?;
                match s.status.as_str() {
                    "complete" => {
                        let token = s.assertion.context("complete without an assertion")?;
                        // The pinned key, once the served one is found to be it.
                        let jwks = coded(c.jwks())?;
                        let mut replay = FileReplayStore::new(cli.state_dir.join("used-jti.json"));
                        let claims = verify(
                            &token,
                            &jwks,
                            &expectations(cli, &c, st.nonce.clone()),
                            Some(&c),
                            &mut replay,
                        )
                        .map_err(|e| anyhow::anyhow!("assertion refused[{}]: {e}", e.code()))?;
                        println!(
                            "assertion accepted: {} stepped up with {} ({}) until {}",
                            claims.sub,
                            claims.amr.join("+"),
                            claims.acr,
                            claims.exp
                        );
                        st.assertion = Some(token);
                        st.request_id = None;
                        save(&cli.state_dir, &st)?;
                        return Ok(0);
                    }
                    "failed" => bail!(
                        "step-up failed: {}: {}",
                        s.error.unwrap_or_default(),
                        s.error_description.unwrap_or_default()
                    ),
                    _ if Instant::now() >= deadline => {
                        println!("still waiting: the kiosk session is {}", s.state);
                        return Ok(EXIT_STEP_UP_REQUIRED);
                    }
                    _ => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        }
        Cmd::Approve { amount } => {
            let Some(token) = st.assertion.clone() else {
                println!("refused: insufficient_user_authentication: no step-up assertion held for {} (acr_values any, max_age {}); run `relying-app request`", cli.scope, cli.max_age);
                return Ok(EXIT_STEP_UP_REQUIRED);
            };
            let c = client(cli)?;
            // Not the pinned kiosk, or not its key: an error, nothing approved.
            let jwks = coded(c.jwks())?;
            // Already accepted once (single use was checked then); every
            // action re-checks freshness, scope and the override's status.
            match check(
                &token,
                &jwks,
                &expectations(cli, &c, st.nonce.clone()),
                Some(&c),
            ) {
                Ok(claims) => {
                    let how = match &claims.override_ {
                        Some(o) => format!(
                            "supervised override {} by {} ({}, control: {})",
                            o.id, o.supervisor, o.reason_code, o.compensating_control
                        ),
                        None => format!("biometric ({})", claims.amr.join("+")),
                    };
                    println!("payment of {amount} approved by {} via {how}", claims.sub);
                    Ok(0)
                }
                Err(e) => {
                    println!("refused[{}]: {e}; step-up required", e.code());
                    st.assertion = None;
                    save(&cli.state_dir, &st)?;
                    Ok(EXIT_STEP_UP_REQUIRED)
                }
            }
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(c) => ExitCode::from(c),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
