//! Engine integration tests: a real data dir on disk (SQLite file, key
//! files), the demo people, a manual clock.

mod breakglass;
mod clients;
mod face;
mod finger;
mod flows;
mod samples;

use countersign_core::auth::totp;
use countersign_engine::{Engine, InitOptions, ManualClock, DEMO_PEOPLE};

pub const T0: i64 = 1_800_000_000_000;

#[allow(missing_debug_implementations)]
pub struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub engine: Engine,
    pub clock: ManualClock,
}

pub fn demo() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
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
