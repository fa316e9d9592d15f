//! `countersign api …`, `client …`, `assertion …`, `principal …` and
//! `breakglass …`: what relying applications and services use.

use std::path::PathBuf;

use clap::Subcommand;

use super::{AdminArgs, SupervisorArgs};

#[derive(Debug, Subcommand)]
pub enum ApiCmd {
    /// Print the kiosk pin (issuer, key thumbprint, TLS certificate
    /// SHA-256) a relying application needs, and write it to a file.
    Pin {
        /// Where to write the pin (JSON).
        #[arg(long, value_name = "FILE", default_value = "kiosk-pin.json")]
        out: PathBuf,
    },
    /// Serve the step-up API over TLS on 127.0.0.1 (never another interface).
    /// Under systemd socket activation (LISTEN_FDS) it serves on the socket
    /// passed in instead of --port, and refuses one not bound to loopback.
    Serve {
        /// Port; 0 picks a free one.
        #[arg(long, default_value_t = 7468)]
        port: u16,
        /// Write the bound port to this file once listening.
        #[arg(long)]
        port_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCmd {
    /// Register a relying application (admin, two factors). The admin's
    /// password comes from COUNTERSIGN_SECRET or the first line of stdin;
    /// the client's secret from COUNTERSIGN_NEW_SECRET or the next line.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// Scopes it may ask for.
        #[arg(long, required = true, value_delimiter = ',')]
        scope: Vec<String>,
        /// Register an Ed25519 public key instead of a secret: a file with
        /// 64 hex characters or a PEM PUBLIC KEY. The app then signs each request.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Where to write the kiosk pin for the application's configuration
        /// (default: kiosk-pin-ID.json in the current directory).
        #[arg(long, value_name = "FILE")]
        pin_out: Option<PathBuf>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List registered applications (never their secrets).
    List,
    /// Step-up requests from relying applications not completed yet (what the kiosk window shows).
    Requests,
}

#[derive(Debug, Subcommand)]
pub enum AssertionCmd {
    /// Verify signature, audience, expiry, nonce, single use and the override's status.
    Verify {
        /// The assertion (compact JWT); `-` reads it from stdin.
        token: String,
        /// This application's client id (the expected `aud`).
        #[arg(long)]
        audience: String,
        #[arg(long)]
        nonce: Option<String>,
        /// A scope the assertion must grant.
        #[arg(long)]
        scope: Option<String>,
        /// Maximum age of the authentication, seconds.
        #[arg(long)]
        max_age: Option<i64>,
        /// Accepted acr values (default: both Countersign values).
        #[arg(long = "acr", value_delimiter = ',')]
        acr: Vec<String>,
        /// The kiosk API (https://127.0.0.1:PORT) for override status, with
        /// --kiosk-pin; default: read the key and the status from the data
        /// dir. The client secret comes from COUNTERSIGN_CLIENT_SECRET and is
        /// sent only to the pinned kiosk.
        #[arg(long, requires = "kiosk_pin")]
        api: Option<String>,
        /// The kiosk pin file (from `client add` or `api pin`): the only key
        /// the assertion is verified with, and the API's TLS certificate.
        #[arg(long, value_name = "FILE")]
        kiosk_pin: Option<PathBuf>,
        /// Remember used jti values in this file (single use across runs).
        /// Without it (or --no-replay-check) no token is called valid.
        #[arg(long)]
        replay_store: Option<PathBuf>,
        /// Check everything but single use, and say the replay check was
        /// skipped (the token may have been presented before).
        #[arg(long, conflicts_with = "replay_store")]
        no_replay_check: bool,
        /// Accept an assertion of a demo kiosk (`countersign_demo: true`,
        /// from `countersign init --demo`); refused by default.
        #[arg(long)]
        accept_demo: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrincipalCmd {
    /// Register a service account, API key or agent (admin, two factors).
    Add {
        id: String,
        /// service_account, api_key or agent
        #[arg(long)]
        kind: String,
        /// The accountable person (never its approver).
        #[arg(long)]
        owner: String,
        #[arg(long, required = true, value_delimiter = ',')]
        scope: Vec<String>,
        /// Registered clients that may ask break-glass for it over the API.
        #[arg(long = "client", value_delimiter = ',')]
        clients: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum BreakglassCmd {
    /// Ask for break-glass for a principal whose credential path failed.
    Request {
        #[arg(long)]
        principal: String,
        /// The person asking (an operator; never the approver), who signs in
        /// with two factors: the password from COUNTERSIGN_SECRET or the first
        /// line of stdin, the TOTP code with --otp.
        #[arg(long)]
        requester: String,
        /// The requester's current TOTP code.
        #[arg(long)]
        otp: String,
        /// issuer_down, certificate_expired or rotation_broken
        #[arg(long)]
        trigger: String,
        #[arg(long, required = true, value_delimiter = ',')]
        scope: Vec<String>,
        /// What failed.
        #[arg(long)]
        detail: String,
    },
    /// Approve and grant (supervisor, two factors; password from COUNTERSIGN_SECRET or stdin).
    Grant {
        request: String,
        #[command(flatten)]
        fallback: SupervisorArgs,
    },
    /// Turn a request down (supervisor, two factors; password from COUNTERSIGN_SECRET or stdin).
    Deny {
        request: String,
        #[arg(long)]
        supervisor: String,
        #[arg(long)]
        otp: String,
        /// Why (the requester sees it).
        #[arg(long)]
        reason: String,
    },
    /// Break-glass requests, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only those waiting for a supervisor (not granted, denied or expired), oldest first.
        #[arg(long)]
        pending: bool,
    },
    /// The principal's credential path works again: reconcile an ended
    /// break-glass grant (supervisor or admin, two factors; password from
    /// COUNTERSIGN_SECRET or stdin).
    Reconcile {
        grant: String,
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "supervisor", value_parser = ["supervisor", "admin"])]
        role: String,
        #[arg(long)]
        otp: String,
    },
}
