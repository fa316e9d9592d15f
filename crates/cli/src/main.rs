//! `countersign`: administration, headless step-up, overrides, review and
//! the evidence log, over one data dir. Errors are one line on stderr and a
//! non-zero exit: 1 for a refusal or failure, 2 for bad usage.

// `println!` / `print!` for this crate (textual scope: the modules below
// see these instead of std's): a closed stdout, as in `countersign log
// query | head -1`, means the reader has had enough. Exit quietly instead
// of panicking on EPIPE the way std's macros do.
macro_rules! println {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($t)*) {
            $crate::stdout_failed(e);
        }
    }};
}
macro_rules! print {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout();
        if let Err(e) = write!(out, $($t)*).and_then(|()| out.flush()) {
            $crate::stdout_failed(e);
        }
    }};
}

/// Writing to stdout failed: a closed pipe ends the program quietly
/// (exit 0: the output was read as far as wanted); anything else is a bug
/// worth a loud stop, as std's `println!` would.
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    panic!("failed printing to stdout: {e}");
}

mod args;
mod attempt;
mod cmd_anchor;
mod cmd_api;
mod cmd_bench_face;
mod cmd_calibrate;
mod cmd_eval;
mod cmd_face;
mod cmd_finger;
mod cmd_log;
mod cmd_override;
mod cmd_people;
mod cmd_recovery;
mod cmd_status;
mod cmd_stepup;
mod cmd_sync;
mod util;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use countersign_engine::{DataDir, Engine, EngineError, InitOptions, SystemClock};

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(d) = &cli.state_dir {
        countersign_engine::set_state_dir(d);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.chain().find_map(|c| {
                c.downcast_ref::<EngineError>()
                    .map(|x| x.code())
                    .or_else(|| c.downcast_ref::<Coded>().map(|x| x.code))
            });
            match code {
                Some(c) => eprintln!("error[{c}]: {e:#}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// An error of the CLI's own with a stable code (those of the engine carry theirs).
#[derive(Debug)]
pub struct Coded {
    pub code: countersign_engine::Code,
    pub message: String,
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

pub(crate) fn open(cli: &Cli) -> anyhow::Result<Engine> {
    let mut engine = Engine::open(&cli.data_dir)
        .with_context(|| format!("opening {}", cli.data_dir.display()))?;
    // Expiry is enforced by the core whatever happens; this writes the
    // expiry events for grants that ran out while nothing was running.
    engine.expire_due().context("recording expired overrides")?;
    engine.maybe_checkpoint().context("writing a checkpoint")?;
    Ok(engine)
}

/// Opens for reading and investigation: works when the anchor refuses
/// writes (`log`, `status`, `anchor`), and then writes nothing.
pub(crate) fn open_audit(cli: &Cli) -> anyhow::Result<Engine> {
    let mut engine = Engine::open_for_audit(&cli.data_dir)
        .with_context(|| format!("opening {}", cli.data_dir.display()))?;
    if engine.anchor_ok() {
        engine.expire_due().context("recording expired overrides")?;
        engine.maybe_checkpoint().context("writing a checkpoint")?;
    }
    Ok(engine)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Init {
            demo,
            if_missing,
            policy,
            admin,
            admin_name,
            demo_faces,
            demo_fingers,
        } => {
            let policy_toml = match policy {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            let dd = DataDir::new(cli.data_dir.clone());
            // A real kiosk starts with an administrator who signs in with two
            // factors; a demo's is ada with published credentials.
            let admin = match admin {
                Some(id) if !dd.is_initialized() => Some(countersign_engine::FirstAdmin {
                    id: id.clone(),
                    display_name: admin_name.clone().unwrap_or_else(|| id.clone()),
                    secret: crate::util::read_secret(id)?,
                }),
                Some(_) => None,
                None if !(*demo || *if_missing && dd.is_initialized()) => anyhow::bail!(
                    "a data dir needs its first administrator: --admin <id> (password from COUNTERSIGN_SECRET or stdin), or --demo"
                ),
                None => None,
            };
            let report = dd
                .init(
                    &InitOptions {
                        demo: *demo,
                        if_missing: *if_missing,
                        policy_toml,
                        admin,
                    },
                    &SystemClock,
                )
                .with_context(|| format!("initialising {}", cli.data_dir.display()))?;
            if report.already_initialized {
                println!(
                    "{} is already initialised (kiosk {}); nothing changed",
                    report.data_dir.display(),
                    report.kiosk_id
                );
            } else {
                println!(
                    "initialised {} as kiosk {}",
                    report.data_dir.display(),
                    report.kiosk_id
                );
                println!("kiosk public key: {}", report.public_key);
                if let Some(p) = &report.admin {
                    println!("administrator {} created; add this TOTP secret to their authenticator app now (it is not shown again):", p.person);
                    println!("  secret: {}", p.totp_secret_base32);
                    println!("  uri:    {}", p.otpauth_uri);
                }
                if *demo {
                    println!("demo people: {}", report.demo_people.join(", "));
                    println!("demo credentials are published in the README; this data dir must never guard anything real");
                }
            }
            if let Some(faces) = demo_faces {
                cmd_face::install_demo_faces(&cli, faces)?;
            }
            if *demo_fingers {
                cmd_finger::install_demo_fingers(&cli)?;
            }
            Ok(())
        }
        Command::People(c) => cmd_people::run(&cli, c),
        Command::Policy(c) => cmd_people::policy(&cli, c),
        Command::Stepup(a) => cmd_stepup::run(&cli, a),
        Command::Override(c) => cmd_override::run(&cli, c),
        Command::Review(a) => cmd_override::review(&cli, a),
        Command::Log(c) => cmd_log::run(&cli, c),
        Command::Anchor(c) => cmd_anchor::run(&cli, c),
        Command::Keys(c) => cmd_recovery::keys(&cli, c),
        Command::Restore(a) => cmd_recovery::restore(&cli, a),
        Command::Status => cmd_status::status(&cli),
        Command::Sync(c) => cmd_sync::sync(&cli, c),
        Command::Fleet(c) => cmd_sync::fleet(&cli, c),
        Command::Bench(a) if a.face.face => cmd_bench_face::run(&a.face),
        Command::Bench(a) if a.finger => cmd_finger::bench(a.rounds, a.out.as_deref()),
        Command::Bench(a) => cmd_log::bench(a),
        Command::Fpgen(a) => cmd_finger::fpgen(a),
        Command::Enroll(a) => cmd_face::enroll(&cli, a),
        Command::Eval(a) => cmd_eval::eval(&cli, a),
        Command::Calibrate(a) => cmd_calibrate::run(&cli, a),
        Command::Devices => cmd_face::devices(&cli).and_then(|()| cmd_finger::list()),
        Command::Api(c) => cmd_api::api(&cli, c),
        Command::Client(c) => cmd_api::client(&cli, c),
        Command::Assertion(c) => cmd_api::assertion(&cli, c),
        Command::Principal(c) => cmd_api::principal(&cli, c),
        Command::Breakglass(c) => cmd_api::breakglass(&cli, c),
        Command::Totp { secret_base32 } => {
            let key = data_encoding::BASE32_NOPAD
                .decode(
                    secret_base32
                        .trim_end_matches('=')
                        .to_ascii_uppercase()
                        .as_bytes(),
                )
                .context("the secret is not base32")?;
            let now = SystemClock.now_s();
            println!(
                "{}",
                countersign_core::auth::totp::code_at(&key, now, 30, 6)
            );
            Ok(())
        }
    }
}

trait NowS {
    fn now_s(&self) -> i64;
}
impl NowS for SystemClock {
    fn now_s(&self) -> i64 {
        use countersign_engine::Clock;
        self.now_ms() / 1000
    }
}
