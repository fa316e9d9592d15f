//! The service over a real demo data dir (SQLite file, the face models, the
//! replay scenes of assets/demo/faces) with a manual clock.
use super::*;
use crate::capture::SourceSpec;
use crate::ipc::Code;
use crate::ipc::*;
use countersign_engine::{InitOptions, ManualClock, DEMO_PEOPLE};

const T0: i64 = 1_800_000_000_000;

struct Fx {
    _tmp: tempfile::TempDir,
    sh: Shared,
    cap: Capture,
    clock: ManualClock,
}

fn demo_faces() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo/faces")
}

impl Fx {
    /// Points the replay camera at one of the demo scenes.
    fn scene(&self, name: &str) {
        let st = self.cap.set_scene(name).unwrap();
        assert!(
            st.replay && st.device.as_ref().is_some_and(|d| d.replay),
            "{st:?}"
        );
    }
}

fn demo() -> Fx {
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
    let mut engine = Engine::open_with_clock(&dir, Box::new(clock.clone())).unwrap();
    let cap = Capture::new(
        SourceSpec::Replay {
            root: dir.join(countersign_engine::REPLAY_DIR),
        },
        countersign_matcher::default_models_dir(),
    );
    let models = cap
        .matcher()
        .expect("the face models (scripts/setup.sh puts them in assets/models)");
    let faces = engine.install_demo_faces(&demo_faces(), &models).unwrap();
    assert_eq!(faces.enrolled.len(), 1, "olga is the demo enrollment");
    clock.advance(60_000); // past the witness's TOTP step
    Fx {
        _tmp: tmp,
        sh: Shared::with_engine(engine),
        cap: Capture::new(
            SourceSpec::Replay {
                root: dir.join(countersign_engine::REPLAY_DIR),
            },
            countersign_matcher::default_models_dir(),
        ),
        clock,
    }
}

/// A step-up for `payments.approve`, as the demo request asks.
fn request(fx: &Fx, requester: &str) -> StepupView {
    start_stepup(
        &fx.sh,
        StartStepupRequest {
            scope: vec!["payments.approve".into()],
            requester: requester.into(),
        },
    )
    .unwrap()
}

fn creds(sh: &Shared, id: &str) -> (String, String) {
    let c = demo_credentials(sh).unwrap();
    let c = c.iter().find(|c| c.id == id).unwrap();
    (c.secret.clone(), c.otp.clone())
}

/// Rita signs in to the console as reviewer with the demo credentials.
fn rita_signs_in(sh: &Shared) -> ConsoleSession {
    let (secret, otp) = creds(sh, "rita");
    console_sign_in(
        sh,
        ConsoleSignIn {
            person: "rita".into(),
            role: crate::ipc::ConsoleRole::Reviewer,
            secret,
            otp,
        },
    )
    .unwrap()
}

fn stepup_to_fallback(fx: &Fx) -> StepupView {
    let v = request(fx, "ledger-app");
    assert_eq!(v.state, crate::ipc::StepupState::Requested);
    let id = v.session_id.clone();
    let v = identify(&fx.sh, &id, "olga").unwrap();
    assert_eq!(v.operator_name.as_deref(), Some("Olga Operator"));
    fx.scene("impostor");
    let mut v = v;
    for _ in 0..v.failure_limit {
        // The throttle applies from the limit on; wait it out if asked.
        if let Some(at) = v.next_attempt_at_ms {
            fx.clock.advance(at - v.now_ms);
        }
        v = verify_me(&fx.sh, &fx.cap, &id).unwrap();
    }
    v
}

#[test]
fn policy_people_and_demo_credentials() {
    let fx = demo();
    let p = policy_view(&fx.sh).unwrap();
    assert!(p.demo);
    assert!(p.default_duration_minutes <= p.max_duration_minutes);
    assert!(p.scopes.iter().any(|s| s.name == "payments.approve"));
    let people = list_people(&fx.sh).unwrap();
    let olga = people.iter().find(|p| p.id == "olga").unwrap();
    assert_eq!(olga.roles, vec!["operator".to_string()]);
    let with_creds = DEMO_PEOPLE.iter().filter(|p| p.credentials.is_some());
    assert_eq!(demo_credentials(&fx.sh).unwrap().len(), with_creds.count());
}

#[test]
fn a_replayed_genuine_face_succeeds_with_the_matcher_score() {
    let fx = demo();
    fx.scene("genuine-olga");
    let v = request(&fx, "ledger-app");
    identify(&fx.sh, &v.session_id, "olga").unwrap();
    let v = verify_me(&fx.sh, &fx.cap, &v.session_id).unwrap();
    assert_eq!(v.state, crate::ipc::StepupState::Succeeded, "{v:?}");
    assert_eq!(v.attempts.len(), 1);
    let a = &v.attempts[0];
    assert_eq!(a.outcome, "matched");
    assert_eq!(a.score_source.as_deref(), Some(SCORE_SOURCE));
    assert!(a.score.unwrap() >= a.threshold.unwrap(), "{a:?}");
}

#[test]
fn a_still_photo_is_refused_by_pad() {
    let fx = demo();
    fx.scene("still-photo");
    let v = request(&fx, "ledger-app");
    identify(&fx.sh, &v.session_id, "olga").unwrap();
    let v = verify_me(&fx.sh, &fx.cap, &v.session_id).unwrap();
    assert_eq!(
        v.state,
        crate::ipc::StepupState::Identified,
        "a refused attempt, not a success: {v:?}"
    );
    assert_eq!(v.attempts[0].outcome, "no_match", "{:?}", v.attempts);
}

#[test]
fn unknown_session_and_unknown_operator_have_stable_codes() {
    let fx = demo();
    assert_eq!(
        identify(&fx.sh, "stp-nope", "olga").unwrap_err().code,
        codes::NO_SESSION
    );
    let v = request(&fx, "r");
    assert_eq!(
        identify(&fx.sh, &v.session_id, "nobody").unwrap_err().code,
        Code::PersonUnknown
    );
}

#[test]
fn device_unavailable_offers_the_fallback_with_its_reason() {
    let fx = demo();
    let v = request(&fx, "r");
    identify(&fx.sh, &v.session_id, "olga").unwrap();
    // The replay folder disappears: an unplugged camera.
    let root = fx.sh.data_dir.join(countersign_engine::REPLAY_DIR);
    std::fs::remove_dir_all(root.join("genuine-olga")).unwrap();
    let v = verify_me(&fx.sh, &fx.cap, &v.session_id).unwrap();
    assert_eq!(v.state, crate::ipc::StepupState::FallbackOffered);
    assert_eq!(v.trigger.as_deref(), Some("device_unavailable"));
    assert_eq!(v.attempts[0].outcome, "unavailable");
}

/// A live camera that is absent (no /dev/video* here) fires the same
/// trigger, and the evidence names the camera, not a replay.
#[test]
fn an_absent_live_camera_offers_the_fallback_and_names_the_camera() {
    if std::path::Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera");
        return;
    }
    let fx = demo();
    let cam = Capture::new(
        SourceSpec::Camera {
            id: "v4l2:usb-missing".into(),
        },
        countersign_matcher::default_models_dir(),
    );
    let v = request(&fx, "r");
    identify(&fx.sh, &v.session_id, "olga").unwrap();
    let v = verify_me(&fx.sh, &cam, &v.session_id).unwrap();
    assert_eq!(v.state, crate::ipc::StepupState::FallbackOffered);
    assert_eq!(v.trigger.as_deref(), Some("device_unavailable"));
    let ev = events_of(&fx.sh, kinds::CAPTURE_DEVICE_UNAVAILABLE);
    let body = &ev.first().expect("a device_unavailable event").body;
    assert!(
        body.to_string().contains("v4l2:usb-missing"),
        "the evidence names the camera: {body}"
    );
}

#[test]
fn a_relying_apps_request_is_listed_taken_and_completed_here() {
    use countersign_engine::{AssertionRequest, NewClientCredential};
    let fx = demo();
    fx.scene("genuine-olga");
    let id = fx
        .sh
        .run(|e, _| {
            let (secret, b32) = DEMO_PEOPLE
                .iter()
                .find(|p| p.id == "ada")
                .and_then(|p| p.credentials)
                .unwrap();
            let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
            let code = countersign_core::auth::totp::code_at(&key, e.now() / 1000, 30, 6);
            let pass = e.admin_sign_in("ada", secret, &code, "register ledger-app")?;
            e.add_client(
                &pass,
                "ledger-app",
                "Ledger",
                ["payments.approve".to_string()].into_iter().collect(),
                NewClientCredential::Secret("s3cret-s3cret-s3cret".into()),
            )?;
            let c = e.client("ledger-app")?.expect("registered");
            let s = e.open_assertion_request(
                &c,
                AssertionRequest {
                    scope: ["payments.approve".to_string()].into_iter().collect(),
                    acr_values: vec![],
                    max_age_s: None,
                    nonce: "n-app-1".into(),
                },
            )?;
            Ok(s.session.id)
        })
        .unwrap();
    let open = open_requests(&fx.sh).unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].request_id, id);
    assert_eq!(open[0].client_name, "Ledger");
    let v = take_request(&fx.sh, &id).unwrap();
    assert_eq!(v.session_id, id);
    assert_eq!(v.scope, vec!["payments.approve".to_string()]);
    identify(&fx.sh, &id, "olga").unwrap();
    let v = verify_me(&fx.sh, &fx.cap, &id).unwrap();
    assert_eq!(v.state, crate::ipc::StepupState::Succeeded, "{v:?}");
    assert!(
        open_requests(&fx.sh).unwrap().is_empty(),
        "a completed request leaves the list"
    );
    assert_eq!(
        take_request(&fx.sh, &id).unwrap_err().code,
        Code::InputInvalid,
        "a request runs once"
    );
}

#[test]
fn full_journey_fallback_grant_expiry_review() {
    let fx = demo();
    let v = stepup_to_fallback(&fx);
    assert_eq!(v.state, crate::ipc::StepupState::FallbackOffered, "{v:?}");
    assert_eq!(v.trigger.as_deref(), Some("failure_limit"));
    let id = v.session_id.clone();

    // A wrong factor is refused without saying which.
    let (secret, otp) = creds(&fx.sh, "sam");
    let bad = supervisor_login(
        &fx.sh,
        SupervisorLogin {
            session_id: id.clone(),
            supervisor: "sam".into(),
            secret: "wrong".into(),
            otp: otp.clone(),
        },
    )
    .unwrap_err();
    assert!(bad.code.as_str().starts_with("auth."), "{bad:?}");
    let v = supervisor_login(
        &fx.sh,
        SupervisorLogin {
            session_id: id.clone(),
            supervisor: "sam".into(),
            secret,
            otp,
        },
    )
    .unwrap();
    assert_eq!(v.state, crate::ipc::StepupState::SupervisorAuthenticated);
    assert_eq!(v.supervisor.as_deref(), Some("sam"));

    let policy = policy_view(&fx.sh).unwrap();
    let grant = |minutes| GrantInput {
        session_id: id.clone(),
        scope: vec!["payments.approve".into()],
        duration_minutes: Some(minutes),
        reason_code: policy.reason_codes[0].code.clone(),
        note: "camera fogged".into(),
        ticket: Some("INC-1".into()),
        compensating_control: "second approver on each payment".into(),
    };
    let over = grant_override(&fx.sh, grant(policy.max_duration_minutes + 1)).unwrap_err();
    assert_eq!(over.code, Code::RefusedOverCap);
    let g = grant_override(&fx.sh, grant(10)).unwrap();
    assert_eq!(g.status, crate::ipc::GrantState::Active);
    assert_eq!(g.expires_at_ms - g.granted_at_ms, 10 * 60_000);
    assert_eq!(g.remaining_ms, 10 * 60_000);
    assert_eq!(
        stepup_status(&fx.sh, &id).unwrap().grant_id,
        Some(g.id.clone())
    );

    // The grant ends by the clock; the timer's expire_due writes it down.
    fx.clock.advance(10 * 60_000 + 1);
    assert_eq!(expire_due(&fx.sh).unwrap(), vec![g.id.clone()]);
    let pending = list_overrides_ungated(
        &fx.sh,
        OverrideQuery {
            pending_review: true,
            limit: 50,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, crate::ipc::GrantState::Expired);

    fx.clock.advance(60_000);
    // The reviewer signs in to the console, then reviews with two factors
    // (the demo credentials give the next step's code: this one is used).
    rita_signs_in(&fx.sh);
    let (secret, otp) = creds(&fx.sh, "rita");
    let r = review_override(
        &fx.sh,
        ReviewSubmission {
            grant_id: g.id.clone(),
            reviewer: "rita".into(),
            secret,
            otp,
            disposition: crate::ipc::ReviewDisposition::Justified,
            notes: "camera replaced".into(),
        },
    )
    .unwrap();
    assert_eq!(
        r.review.unwrap().disposition,
        crate::ipc::ReviewDisposition::Justified
    );

    // The evidence log pages by keyset and the chain verifies.
    let first = query_events(
        &fx.sh,
        EventQuery {
            limit: 5,
            newest_first: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(first.rows.len(), 5);
    let next = query_events(
        &fx.sh,
        EventQuery {
            limit: 5,
            newest_first: true,
            after_seq: first.next_after,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(next.rows[0].seq < first.rows[4].seq);
    let only = query_events(
        &fx.sh,
        EventQuery {
            kinds: vec!["override.granted".into()],
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(only.rows.len(), 1);
    assert_eq!(only.rows[0].case_id.as_deref(), Some(g.id.as_str()));
    assert!(verify_ledger(&fx.sh).unwrap().ok);

    let out = export_events(
        &fx.sh,
        ExportRequest {
            format: "ocsf".into(),
            query: EventQuery::default(),
        },
    )
    .unwrap();
    assert!(out.count > 10);
    let text = std::fs::read_to_string(&out.path).unwrap();
    assert_eq!(text.lines().count() as u64, out.count);
}

#[test]
fn revoke_needs_two_factors_and_ends_the_grant() {
    let fx = demo();
    let v = stepup_to_fallback(&fx);
    let (secret, otp) = creds(&fx.sh, "sam");
    supervisor_login(
        &fx.sh,
        SupervisorLogin {
            session_id: v.session_id.clone(),
            supervisor: "sam".into(),
            secret: secret.clone(),
            otp,
        },
    )
    .unwrap();
    let g = grant_override(
        &fx.sh,
        GrantInput {
            session_id: v.session_id.clone(),
            scope: vec!["payments.approve".into()],
            duration_minutes: None,
            reason_code: policy_view(&fx.sh).unwrap().reason_codes[0].code.clone(),
            note: "n".into(),
            ticket: None,
            compensating_control: "c".into(),
        },
    )
    .unwrap();
    let policy = policy_view(&fx.sh).unwrap();
    assert_eq!(
        g.expires_at_ms - g.granted_at_ms,
        policy.default_duration_minutes * 60_000
    );
    fx.clock.advance(60_000);
    let (_, otp) = creds(&fx.sh, "sam");
    let r = revoke_override(
        &fx.sh,
        RevokeInput {
            grant_id: g.id.clone(),
            by: "sam".into(),
            role: "supervisor".into(),
            secret,
            otp,
            reason: "operator back".into(),
        },
    )
    .unwrap();
    assert_eq!(r.status, crate::ipc::GrantState::Revoked);
    assert_eq!(r.remaining_ms, 0);
}

#[test]
fn export_refuses_an_unknown_format() {
    let fx = demo();
    let e = export_events_ungated(
        &fx.sh,
        ExportRequest {
            format: "csv".into(),
            query: EventQuery::default(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, Code::InputInvalid);
}

fn events_of(sh: &Shared, kind: &str) -> Vec<EventRow> {
    query_events_ungated(
        sh,
        EventQuery {
            kinds: vec![kind.into()],
            limit: 100,
            ..Default::default()
        },
    )
    .unwrap()
    .rows
}

#[test]
fn samples_open_for_the_deciding_supervisor_and_a_signed_in_reviewer() {
    let fx = demo();
    let v = stepup_to_fallback(&fx);
    let id = v.session_id.clone();
    let sha = v.attempts[0]
        .sample
        .clone()
        .expect("each scored attempt seals its frame");

    // Before a supervisor has authenticated, nobody opens it here.
    let e = open_session_sample(&fx.sh, &id, &sha).unwrap_err();
    assert_eq!(e.code, Code::SampleNoSupervisor, "{e:?}");
    let (secret, otp) = creds(&fx.sh, "sam");
    supervisor_login(
        &fx.sh,
        SupervisorLogin {
            session_id: id.clone(),
            supervisor: "sam".into(),
            secret,
            otp,
        },
    )
    .unwrap();
    let img = open_session_sample(&fx.sh, &id, &sha).unwrap();
    assert!(
        img.data_url.starts_with("data:image/png;base64,"),
        "an <img> source"
    );
    assert_eq!(img.sha256, sha);

    // The reviewer: nothing without a console sign-in, then samples from the log.
    let e = open_sample(&fx.sh, &sha, None).unwrap_err();
    assert_eq!(e.code, Code::ConsoleNoSession);
    fx.clock.advance(30_000); // a fresh TOTP step
    let s = rita_signs_in(&fx.sh);
    assert_eq!(s.person, "rita");
    assert_eq!(console_session(&fx.sh).unwrap(), Some(s.clone()));
    let attempts = events_of(&fx.sh, kinds::MATCH_ATTEMPT);
    let row = attempts.first().expect("attempt events");
    assert_eq!(row.samples.len(), 1, "the log lists the attempt's sample");
    let img = open_sample(&fx.sh, &row.samples[0].sha256, Some(row.seq)).unwrap();
    assert!(img.data_url.starts_with("data:image/png;base64,"));
    assert_eq!(img.person.as_deref(), Some("olga"));

    let viewed = events_of(&fx.sh, kinds::SAMPLE_VIEWED);
    let who: Vec<_> = viewed
        .iter()
        .map(|r| r.body["viewer"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(who, ["sam", "rita"], "every look is evidence");

    // Sign-out ends the session; the sample pass also expires on its own.
    console_sign_out(&fx.sh).unwrap();
    assert_eq!(console_session(&fx.sh).unwrap(), None);
    let e = open_sample(&fx.sh, &sha, None).unwrap_err();
    assert_eq!(e.code, Code::ConsoleNoSession);
    fx.clock.advance(30_000);
    rita_signs_in(&fx.sh);
    fx.clock.advance(countersign_engine::REVIEWER_PASS_MS);
    let e = open_sample(&fx.sh, &sha, None).unwrap_err();
    assert_eq!(e.code, Code::SamplePassExpired, "the sample pass expired");
}

mod real_kiosk;
