use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod relying;
mod sync;
pub use relying::{ApiCmd, AssertionCmd, BreakglassCmd, ClientCmd, PrincipalCmd};
pub use sync::{FleetCmd, SyncCmd};

#[derive(Debug, Parser)]
#[command(
    name = "countersign",
    version,
    about = "Biometric step-up with a supervised, time-bound fallback and a tamper-evident evidence log"
)]
pub struct Cli {
    /// The data dir (policy, keys, ledger).
    #[arg(long, global = true, env = "COUNTERSIGN_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// The state dir holding each kiosk's local anchor, outside the data dir
    /// (default: $XDG_STATE_HOME/countersign or ~/.local/state/countersign).
    #[arg(long, global = true, env = "COUNTERSIGN_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("countersign");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/countersign"))
        .unwrap_or_else(|| PathBuf::from("countersign-data"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The kiosk's health: the clock against the ledger (exit 1, clock.behind_ledger, when writes are refused).
    Status,
    /// Create a data dir: kiosk keys, the default policy, an empty ledger.
    Init {
        /// Add the demo people (olga, otto: operators; sam, sue: supervisors; rita: reviewer; ada: admin).
        #[arg(long)]
        demo: bool,
        /// Succeed without changes if the data dir already exists.
        #[arg(long)]
        if_missing: bool,
        /// Install this policy file instead of the default.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// With --demo: enroll the demo people from DIR/enroll/<person>/ (witnessed
        /// by sue) and install the replay camera's scenes from DIR/scenes/<name>/
        /// (e.g. assets/demo/faces). Needs the face models.
        #[arg(long, requires = "demo")]
        demo_faces: Option<PathBuf>,
        /// The first administrator's id (required without --demo). Their
        /// password comes from COUNTERSIGN_SECRET or the first line of stdin;
        /// their TOTP secret is printed once.
        #[arg(long, conflicts_with = "demo")]
        admin: Option<String>,
        /// The first administrator's display name (default: the id).
        #[arg(long, requires = "admin")]
        admin_name: Option<String>,
        /// With --demo: enroll otto's right index finger (witnessed by sue) on
        /// libfprint's virtual_image reader from synthetic prints, and write
        /// the desktop app's demo impressions to <data dir>/fingers/<scene>/.
        #[arg(long, requires = "demo")]
        demo_fingers: bool,
    },
    #[command(subcommand)]
    People(PeopleCmd),
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Run a step-up headless: identify, intent, capture, match, and the supervised fallback if a trigger fires.
    Stepup(StepupArgs),
    #[command(subcommand)]
    Override(OverrideCmd),
    /// Review an ended override (reviewer, two factors).
    Review(ReviewArgs),
    #[command(subcommand)]
    Log(LogCmd),
    /// The local anchor of the chain (outside the data dir): status, and an admin's re-seed.
    #[command(subcommand)]
    Anchor(AnchorCmd),
    /// The kiosk's keys: `keys backup DIR` writes them for a restore (an admin with two factors; recorded).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Rebuild a kiosk whose disk died into a fresh data dir: evidence from the bucket, keys from their backup.
    Restore(RestoreArgs),
    /// Copy this kiosk's evidence to write-once S3 storage (config: <data dir>/sync.toml).
    #[command(subcommand)]
    Sync(SyncCmd),
    /// Open a central evidence bucket read-only: list kiosks, verify them from the objects alone, browse events.
    #[command(subcommand)]
    Fleet(FleetCmd),
    /// Measure the ledger (append, verify, query over 1,000,000 events) in a scratch dir; prints Markdown.
    Bench(crate::cmd_bench_face::BenchArgs),
    /// The local step-up API for relying applications (loopback only).
    #[command(subcommand)]
    Api(ApiCmd),
    /// Relying applications registered to use the API.
    #[command(subcommand)]
    Client(ClientCmd),
    /// Check a step-up assertion the way a relying application does.
    #[command(subcommand)]
    Assertion(AssertionCmd),
    /// Service accounts, API keys and agents that break-glass may be granted for.
    #[command(subcommand)]
    Principal(PrincipalCmd),
    /// Time-bound break-glass grants for non-human identities whose credential path failed.
    #[command(subcommand)]
    Breakglass(BreakglassCmd),
    /// Enroll an operator's face from a camera or a replay, witnessed by a supervisor (two factors).
    Enroll(crate::cmd_face::EnrollArgs),
    /// Evaluate the face matcher on DIR/<person>/<photo>: score distributions, FMR/FNMR, DET curve (SVG); --kiosk: through the quality gates, with FTA and confidence intervals.
    Eval(crate::cmd_eval::EvalArgs),
    /// This kiosk's face threshold from its own enrollments (admin, two factors): a signed report, recorded.
    Calibrate(crate::cmd_calibrate::CalibrateArgs),
    /// List capture devices (cameras and fingerprint readers) with their stable ids.
    Devices,
    /// Write synthetic fingerprint impressions (DIR/f<seed>/<n>.png) for `eval --finger`.
    Fpgen(crate::cmd_finger::FpgenArgs),
    /// Print the current TOTP code for a base32 secret (for the demo people; an authenticator app does this in real use).
    Totp { secret_base32: String },
}

/// An administrator acting with two factors: the password from
/// COUNTERSIGN_SECRET or the first line of stdin, the TOTP code here.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The administrator making the change (signs in with two factors; recorded).
    #[arg(long)]
    pub by: String,
    /// The administrator's current TOTP code.
    #[arg(long)]
    pub otp: String,
}

#[derive(Debug, Subcommand)]
pub enum PeopleCmd {
    /// Add a person (admin, two factors).
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// operator, supervisor, reviewer or admin; repeat or comma-separate.
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List people and their roles.
    List,
    /// Replace a person's roles (admin, two factors).
    Role {
        id: String,
        #[arg(long = "set", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Enroll a password/PIN and a new TOTP secret (admin, two factors). The
    /// admin's password comes from COUNTERSIGN_SECRET or the first line of
    /// stdin; the person's new password from COUNTERSIGN_NEW_SECRET or the next line.
    Credentials {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Clear a lockout after failed authentications (admin, two factors).
    Unlock {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Validate a policy file (default: the data dir's), naming the key and line of any error.
    Check { file: Option<PathBuf> },
    /// Print the policy in force.
    Show,
    /// Put a policy file in force (admin, two factors). Editing policy.toml
    /// by hand changes nothing: the engine keeps the last applied policy and
    /// logs the refusal.
    Apply {
        file: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(Debug, Args)]
pub struct SupervisorArgs {
    /// Supervisor id; the password comes from COUNTERSIGN_SECRET or the first line of stdin.
    #[arg(long)]
    pub supervisor: Option<String>,
    /// The supervisor's current TOTP code.
    #[arg(long)]
    pub otp: Option<String>,
    /// Scopes to grant (subset of the requested ones; default: all requested).
    #[arg(long = "grant-scope", value_delimiter = ',')]
    pub grant_scope: Vec<String>,
    /// Override duration, e.g. 15m, 90s, 1h (default: the policy's).
    #[arg(long)]
    pub duration: Option<String>,
    /// Reason code from the policy.
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    #[arg(long)]
    pub ticket: Option<String>,
    /// The compensating control in place while the override lasts.
    #[arg(long)]
    pub control: Option<String>,
}

#[derive(Debug, Args)]
pub struct StepupArgs {
    /// The operator who steps up.
    #[arg(long)]
    pub operator: String,
    /// Requested scopes (named privileges).
    #[arg(long, required_unless_present = "request", value_delimiter = ',')]
    pub scope: Vec<String>,
    /// Run the step-up a relying application asked for through the API
    /// (its request id) instead of a new one; scope and acr come from the request.
    #[arg(long, conflicts_with_all = ["scope", "acr"])]
    pub request: Option<String>,
    /// Requested assurance (acr_values).
    #[arg(long = "acr", value_delimiter = ',')]
    pub acr: Vec<String>,
    /// The relying application that asked.
    #[arg(long, default_value = "cli")]
    pub requester: String,
    #[arg(long, default_value = "face", value_parser = ["face", "finger"])]
    pub modality: String,
    /// Capture device id recorded in the evidence.
    #[arg(long, default_value = "replay:cli")]
    pub device: String,
    /// TEST INPUT, demo data dirs only (refused.demo_only elsewhere): the match score of each attempt, in order (e.g. 0.1,0.2,0.9).
    #[arg(long = "test-scores", value_delimiter = ',')]
    pub test_scores: Vec<f64>,
    /// TEST INPUT, demo data dirs only: presentation-attack detection result for every attempt (pass or fail).
    #[arg(long = "test-pad", value_parser = ["pass", "fail"])]
    pub test_pad: Option<String>,
    /// TEST INPUT, demo data dirs only: the capture device is unavailable (fires the device_unavailable trigger).
    #[arg(long = "test-device-unavailable")]
    pub test_device_unavailable: bool,
    /// TEST INPUT, demo data dirs only: this many captures fail the quality gates before any scores.
    #[arg(long = "test-quality-failures", default_value_t = 0)]
    pub test_quality_failures: u32,
    /// The real face matcher: where frames come from (--replay or --camera).
    #[command(flatten)]
    pub face: Box<crate::cmd_face::FaceSourceArgs>,
    /// The fingerprint path: --finger with a reader or fed images.
    #[command(flatten)]
    pub finger: Box<crate::cmd_finger::FingerSourceArgs>,
    #[command(flatten)]
    pub fallback: SupervisorArgs,
}

#[derive(Debug, Subcommand)]
pub enum OverrideCmd {
    /// List overrides, newest first.
    List {
        #[arg(long)]
        pending_review: bool,
        #[arg(long)]
        active: bool,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        supervisor_id: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one override with its evidence trail.
    Show { id: String },
    /// Grant an override for a step-up whose fallback was offered (supervisor, two factors).
    Grant {
        /// The step-up session id printed by `countersign stepup`.
        #[arg(long)]
        session: String,
        #[command(flatten)]
        fallback: SupervisorArgs,
    },
    /// Revoke a live override (supervisor, admin or reviewer; two factors).
    Revoke {
        id: String,
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "supervisor", value_parser = ["supervisor", "admin", "reviewer"])]
        role: String,
        #[arg(long)]
        otp: String,
        #[arg(long)]
        reason: String,
    },
    /// Write expiry events for overrides past their expiry (every command also does this).
    ExpireDue,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The override id.
    pub id: String,
    #[arg(long)]
    pub reviewer: String,
    #[arg(long)]
    pub otp: String,
    /// justified, unjustified or needs_follow_up
    #[arg(long)]
    pub disposition: String,
    #[arg(long, default_value = "")]
    pub notes: String,
}

#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// From (inclusive): RFC 3339 or Unix ms.
    #[arg(long)]
    pub from: Option<String>,
    /// To (exclusive): RFC 3339 or Unix ms.
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long = "kind", value_delimiter = ',')]
    pub kinds: Vec<String>,
    #[arg(long)]
    pub person: Option<String>,
    #[arg(long)]
    pub supervisor: Option<String>,
    #[arg(long)]
    pub outcome: Option<String>,
    #[arg(long)]
    pub trigger: Option<String>,
    #[arg(long = "case")]
    pub case_id: Option<String>,
    /// Only overrides not yet reviewed.
    #[arg(long)]
    pub pending_review: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Write the kiosk key and the data key to DIR (new or empty; 0700, files 0600) for
    /// `countersign restore`. Keep DIR offline, not on the kiosk.
    Backup {
        dir: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Restore from the write-once bucket (the only source there is).
    #[arg(long, required = true)]
    pub from_bucket: bool,
    /// The key backup made by `countersign keys backup`.
    #[arg(long)]
    pub keys: PathBuf,
    /// The bucket's sync config (as `sync` takes it); copied into the new data dir.
    #[arg(long)]
    pub config: PathBuf,
    /// An admin of this kiosk who gets new credentials: password from
    /// COUNTERSIGN_SECRET or stdin, TOTP secret printed once. The bucket
    /// holds no credentials, so everyone else's are cleared (recorded);
    /// this admin re-issues them.
    #[arg(long)]
    pub admin: String,
    /// Why (recorded in kiosk.restored).
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum AnchorCmd {
    /// The anchor, the ledger head and any alarm (exit 1 with the anchor's code when writes are refused).
    Status,
    /// After investigation: anchor the ledger as it is now and clear the alarm (an admin with two factors; recorded as anchor.reseeded).
    Reseed {
        #[command(flatten)]
        admin: AdminArgs,
        /// Why (recorded).
        #[arg(long, default_value = "")]
        reason: String,
        /// With sync configured, re-seed without first checking that the
        /// bucket is not ahead of or off the ledger (recorded).
        #[arg(long)]
        no_bucket_check: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// List events (filters, keyset paging).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue after this seq (printed as `next` by the previous page).
        #[arg(long)]
        after: Option<u64>,
        #[arg(long)]
        newest_first: bool,
    },
    /// Show one event in full.
    Show { seq: u64 },
    /// Recompute the hash chain, signatures, checkpoints and blob seals; name the first bad row.
    Verify,
    /// Export events as JSON lines or OCSF 1.5 records (each kind in its class; docs/ocsf-mapping.md).
    Export {
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "ocsf"])]
        format: String,
        /// Output file (default: stdout). Written to a temporary file and renamed when complete.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Write a signed Merkle checkpoint over the events since the last one.
    Checkpoint,
    /// Purge sealed biometric samples older than the policy's retention (hashes and a purge event stay).
    Purge,
}
