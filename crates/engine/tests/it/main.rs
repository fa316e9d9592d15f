//! Engine integration tests: a real data dir on disk (SQLite file, key
//! files), the demo people, a manual clock.

mod admin_flows;
mod breakglass;
mod clients;
mod demo_inputs;
mod face;
mod finger;
mod flows;
mod samples;

use countersign_core::auth::totp;
use countersign_engine::{AdminPass, Engine, InitOptions, ManualClock, DEMO_PEOPLE};

pub const T0: i64 = 1_800_000_000_000;

#[allow(missing_debug_implementations)]
pub struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub engine: Engine,
    pub clock: ManualClock,
}

pub fn demo() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let dir = tmp.path().join("data");
    let clock = ManualClock::at(T0);
    countersign_engine::DataDir::new(dir.clone())
        .init(
            &InitOptions {
                demo: true,
                ..Default::default()
            },
            &clock,
        )
        .unwrap();
    let engine = Engine::open_with_clock(&dir, Box::new(clock.clone())).unwrap();
    Fixture {
        _tmp: tmp,
        engine,
        clock,
    }
}

/// The demo password and the current TOTP code of a demo person.
pub fn factors(f: &Fixture, id: &str) -> (&'static str, String) {
    let p = DEMO_PEOPLE
        .iter()
        .find(|p| p.id == id)
        .expect("demo person");
    let (secret, b32) = p.credentials.expect("demo person has credentials");
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    (secret, totp::code_at(&key, f.engine.now() / 1000, 30, 6))
}

/// ada (the demo admin) signed in with her two factors, with the code of
/// the previous TOTP step (within the policy's skew), so that a later act
/// of hers with [`factors`] still has a fresh code. A code is good once: a
/// second call needs the clock moved a step on.
pub fn admin(f: &mut Fixture) -> AdminPass {
    let p = DEMO_PEOPLE.iter().find(|p| p.id == "ada").unwrap();
    let (secret, b32) = p.credentials.unwrap();
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    let code = totp::code_at(&key, f.engine.now() / 1000 - 30, 30, 6);
    f.engine
        .admin_sign_in("ada", secret, &code, "test setup")
        .unwrap()
}
