//! Issue 13, item 7: a clock set back is refused, recorded, and said on
//! screen. The window asks `kiosk_health` on every screen; these tests drive
//! the same service functions over a real demo data dir (SQLite file) whose
//! ledger was written under a clock an hour ahead (the engine's manual
//! clock), then read it with the app's own system clock, as a kiosk whose
//! clock was set back an hour would.

use countersign_app::ipc::StartStepupRequest;
use countersign_app::service::{self, Shared};
use countersign_engine::{Clock, Engine, InitOptions, ManualClock, SystemClock};

const HOUR_MS: i64 = 3_600_000;

fn data_dir_written_at(offset_ms: i64) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let dir = tmp.path().join("data");
    let clock = ManualClock::at(SystemClock.now_ms() + offset_ms);
    countersign_engine::DataDir::new(dir.clone())
        .init(
            &InitOptions {
                demo: true,
                ..Default::default()
            },
            &clock,
        )
        .unwrap();
    (tmp, dir)
}

fn stepup() -> StartStepupRequest {
    StartStepupRequest {
        scope: vec!["payments.approve".into()],
        requester: "clock-test".into(),
    }
}

#[test]
fn a_clock_an_hour_behind_the_ledger_refuses_writes_and_the_window_is_told() {
    let (_tmp, dir) = data_dir_written_at(HOUR_MS);
    // The app as it runs: system clock, engine opened on first use.
    let sh = Shared::new(dir.clone());

    let health = service::kiosk_health(&sh).unwrap();
    assert!(health.writes_refused, "{health:?}");
    assert_eq!(
        health.code,
        Some(countersign_engine::Code::ClockBehindLedger)
    );
    assert!(
        health.behind_ms > HOUR_MS - 60_000 && health.behind_ms <= HOUR_MS,
        "{health:?}"
    );
    assert_eq!(health.last_refusal_seq, None, "nothing refused yet");

    // The operator starts a step-up: refused with the stable code, and the
    // refusal is recorded and then shown.
    let err = service::start_stepup(&sh, stepup()).unwrap_err();
    assert_eq!(
        err.code,
        countersign_engine::Code::ClockBehindLedger,
        "{err:?}"
    );
    let health = service::kiosk_health(&sh).unwrap();
    assert!(health.writes_refused);
    let seq = health.last_refusal_seq.expect("the refusal is recorded");

    let engine = Engine::open_with_clock(
        &dir,
        Box::new(ManualClock::at(SystemClock.now_ms() + HOUR_MS + 1_000)),
    )
    .unwrap();
    let status = engine.clock_status().unwrap();
    assert_eq!(status.last_refusal.map(|r| r.seq), Some(seq));
}

#[test]
fn a_clock_within_the_tolerance_is_not_refused() {
    // Two seconds ahead: NTP slew, not a clock set back.
    let (_tmp, dir) = data_dir_written_at(2_000);
    let sh = Shared::new(dir);
    let health = service::kiosk_health(&sh).unwrap();
    assert!(!health.writes_refused, "{health:?}");
    assert_eq!(health.code, None);
    service::start_stepup(&sh, stepup()).expect("writes are allowed");
}

/// Issue 14, item 2, in the window: a data dir restored from an older copy
/// is behind the kiosk's local anchor; the engine refuses to open it for
/// writing, and the health the window shows on every screen says why
/// (the anchor's code and both heads) instead of a bare failed command.
#[test]
fn a_rolled_back_data_dir_is_said_on_screen_and_nothing_is_signed() {
    let (tmp, dir) = data_dir_written_at(0);
    let old = tmp.path().join("old-copy");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(&dir)
        .arg(&old)
        .status()
        .unwrap();
    assert!(cp.success());
    {
        let sh = Shared::new(dir.clone());
        service::start_stepup(&sh, stepup()).expect("a step-up on the live data dir");
        assert_eq!(service::kiosk_health(&sh).unwrap().anchor, None);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::rename(&old, &dir).unwrap();

    let sh = Shared::new(dir);
    let health = service::kiosk_health(&sh).unwrap();
    assert!(health.writes_refused, "{health:?}");
    let anchor = health.anchor.expect("the anchor's problem is shown");
    assert_eq!(
        anchor.code,
        countersign_engine::Code::AnchorLedgerBehind,
        "{anchor:?}"
    );
    assert_eq!(
        health.code,
        Some(countersign_engine::Code::AnchorLedgerBehind)
    );
    let err = service::start_stepup(&sh, stepup()).unwrap_err();
    assert!(err.code.as_str().starts_with("anchor."), "{err:?}");
}
