//! `countersign calibrate` (issue 16, item 4) on a demo kiosk with real
//! witnessed face enrollments (the committed public-domain photos): a signed
//! report recorded in the ledger, "needs N impostor pairs" when the data are
//! short, and a policy that cites an unsupported report refused; then, on a
//! kiosk with enough people for FMR 1e-4, the accepting path end to end: the
//! proposed line applied citing the report, in force and in the ledger with
//! the report's hash, and a wrong hash, a tampered report, another kiosk's
//! report and a threshold below the report's all refused with nothing applied.

use std::path::Path;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{expect_error, expect_ok, totp, Cs, ADA, SAM};

fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn calibrate_signs_and_records_its_report_and_says_what_is_missing() {
    let cs = Cs::uninit();
    // Olga enrolled from two photos (witnessed by sue), as the demo does.
    expect_ok(
        &cs.run(&["init", "--demo", "--demo-faces", &repo("assets/demo/faces")]),
        "init --demo --demo-faces",
    );
    // Otto from one photo of someone else, witnessed by sam.
    expect_ok(
        &cs.run_env(
            &[
                "enroll",
                "otto",
                "--witness",
                "sam",
                "--otp",
                &totp(SAM.totp),
                "--replay",
                &repo("crates/matcher/tests/fixtures/biden.jpg"),
                "--captures",
                "1",
                "--replay-fps",
                "0",
            ],
            &[("COUNTERSIGN_SECRET", SAM.pass)],
        ),
        "enroll otto",
    );
    let out_file = cs.root().join("report.json");
    let out = cs.admin_ok(&["calibrate", "--out", out_file.to_str().unwrap()], &[]);
    assert!(
        out.contains(
            "2 people with a face template, 3 captures: 1 genuine pairs, 2 impostor pairs"
        ),
        "{out}"
    );
    assert!(out.contains("not supported"), "{out}");
    assert!(
        out.contains("needs 36887 impostor pairs, has 2"),
        "says how many pairs FMR 1e-4 needs: {out}"
    );

    // The file: the report's bytes, their SHA-256, and the kiosk's signature.
    let file: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let report_json = file["report"].as_str().unwrap();
    let sha = hex::encode(Sha256::digest(report_json.as_bytes()));
    assert_eq!(file["sha256"], sha);
    let events = cs.events();
    let init = events
        .iter()
        .find(|e| e["kind"] == "kiosk.initialized")
        .unwrap();
    assert_eq!(
        file["public_key_ed25519"], init["body"]["public_key"],
        "signed with the kiosk's own key"
    );
    let key: [u8; 32] = hex::decode(file["public_key_ed25519"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let sig: [u8; 64] = hex::decode(file["signature_ed25519"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&key).unwrap();
    key.verify(report_json.as_bytes(), &Signature::from_bytes(&sig))
        .expect("the signature verifies");
    let tampered = report_json.replace("\"supported\":false", "\"supported\":true");
    assert_ne!(tampered, report_json);
    assert!(key
        .verify(tampered.as_bytes(), &Signature::from_bytes(&sig))
        .is_err());
    let report: Value = serde_json::from_str(report_json).unwrap();
    assert_eq!(report["target_fmr"], 1e-4);
    assert_eq!(report["impostor_pairs_needed"], 36887);
    assert!(report["models"]
        .to_string()
        .contains(countersign_core::policy::FACE_FLOOR_MODEL_SHA256));
    assert_eq!(report["genuine"]["count"], 1);
    assert_eq!(report["histogram"].as_array().unwrap().len(), 100);

    // Recorded in the ledger, with the admin who asked.
    let rec = events
        .iter()
        .find(|e| e["kind"] == "calibration.report")
        .expect("a calibration.report event");
    assert_eq!(rec["body"]["sha256"], sha);
    assert_eq!(rec["body"]["by"], "ada");
    assert_eq!(rec["body"]["supported"], false);

    // Citing it to go below the floor is refused: it does not support the target.
    let policy = cs.data.join("policy.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    let cited = cs.root().join("cited.toml");
    std::fs::write(
        &cited,
        text.replace(
            "face_threshold = 0.48",
            &format!("face_threshold = 0.40\ncalibration_report_sha256 = \"{sha}\""),
        ),
    )
    .unwrap();
    let o = cs.admin_run(ADA, &["policy", "apply", cited.to_str().unwrap()], &[]);
    let e = expect_error(
        &o,
        "policy.calibration_unsupported",
        "an unsupported report",
    );
    assert!(e.contains("36887"), "{e}");
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), text);

    // A target that is not a rate is refused before anything is recorded.
    let n = cs.events().len();
    let o = cs.admin_run(
        ADA,
        &["calibrate", "--target-fmr", "0", "--out", "x.json"],
        &[],
    );
    expect_error(&o, "input.invalid", "a zero target");
    assert!(cs.events().len() <= n + 1);
}

/// Serialises the in-process seeding below: the engine's state dir is a
/// process-wide setting (every other test here runs the binary).
static SEEDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Adds `n` operators, each with a face template of two captures, to the
/// data dir of `cs`, through the engine library on the real SQLite files.
///
/// Why not real photos: a report that supports FMR 1e-4 needs 36,887
/// impostor pairs (about 137 people with two captures), and the repository
/// holds photos of a handful of people. So the people are added by the
/// engine's own admin path (ada's two factors), and only their templates
/// are synthetic: deterministic random directions (SplitMix64 +
/// Box–Muller) with per-capture noise, made by the pinned recogniser's
/// hash and of `dim` dimensions, appended as `biometric.enrolled` with the
/// template blob like an enrollment. Everything the test checks
/// (`calibrate`, `policy apply`, `policy show`, the ledger) runs through
/// the binary.
fn seed_synthetic_people(cs: &Cs, n: usize, seed: u64, dim: usize) {
    use countersign_engine::{anchor, kinds, Engine, TEMPLATE_MEDIA_TYPE};
    use countersign_ledger::{EventIndex, NewEvent};
    use countersign_matcher::model::KNOWN_MODELS;
    use countersign_matcher::{ModelRole, Template, TEMPLATE_FORMAT};

    let _g = SEEDING.lock().unwrap_or_else(|p| p.into_inner());
    anchor::set_state_dir(&cs.state);
    let mut e = Engine::open(&cs.data).expect("open the data dir");
    let pass = e
        .admin_sign_in(
            ADA.id,
            ADA.pass,
            &cs.fresh_code(ADA),
            "seed calibration people",
        )
        .expect("ada signs in");
    let recogniser = KNOWN_MODELS
        .iter()
        .find(|m| m.role == ModelRole::Recognizer)
        .unwrap()
        .sha256;
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut gauss = move || {
        let (u, v) = (next().max(1e-12), next());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    };
    let unit = |v: Vec<f32>| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    for p in 0..n {
        let id = format!("cal{p:03}");
        e.add_person(&pass, &id, &id, [countersign_core::Role::Operator])
            .expect("add an operator");
        let base: Vec<f32> = (0..dim).map(|_| gauss()).collect();
        let template = Template {
            format: TEMPLATE_FORMAT.into(),
            recognizer_sha256: recogniser.into(),
            embeddings: (0..2)
                .map(|_| unit(base.iter().map(|b| b + 0.6 * gauss()).collect()))
                .collect(),
        };
        let index = EventIndex {
            person: Some(id.clone()),
            ..Default::default()
        };
        let now = e.now();
        let blob = e
            .ledger_mut()
            .put_blob(
                &template.to_bytes(),
                TEMPLATE_MEDIA_TYPE,
                now,
                index.clone(),
            )
            .unwrap();
        e.ledger_mut()
            .append(&NewEvent {
                ts_ms: now,
                kind: kinds::BIOMETRIC_ENROLLED.into(),
                index,
                body: serde_json::json!({
                    "person": id, "modality": "face", "template_sha256": blob.sha256_hex,
                    "embeddings": 2, "witness": "sam", "synthetic": "calibration test",
                }),
            })
            .unwrap();
    }
}

/// The policy file of `cs` with `[matching]` set to `face_threshold` and
/// citing `sha`, written beside the data dir.
fn cite(cs: &Cs, name: &str, face_threshold: &str, sha: &str) -> String {
    let text = std::fs::read_to_string(cs.data.join("policy.toml")).unwrap();
    assert!(text.contains("face_threshold = 0.48"), "{text}");
    let path = cs.root().join(name);
    std::fs::write(
        &path,
        text.replace(
            "face_threshold = 0.48",
            &format!("face_threshold = {face_threshold}\ncalibration_report_sha256 = \"{sha}\""),
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// `[matching]` of the policy in force (`policy show`).
fn in_force(cs: &Cs) -> Value {
    let v: Value = serde_json::from_str(&cs.ok(&["policy", "show"])).unwrap();
    v["matching"].clone()
}

fn applied(cs: &Cs) -> Vec<Value> {
    cs.events()
        .into_iter()
        .filter(|e| e["kind"] == "policy.loaded" && e["body"]["why"] == "applied")
        .collect()
}

#[test]
fn a_policy_citing_this_kiosks_supported_report_is_applied_and_recorded() {
    let cs = Cs::uninit();
    expect_ok(
        &cs.run(&["init", "--demo", "--demo-faces", &repo("assets/demo/faces")]),
        "init --demo --demo-faces",
    );
    // The real demo template (olga, two photos) gives the embedding size.
    let dim = {
        let _g = SEEDING.lock().unwrap_or_else(|p| p.into_inner());
        countersign_engine::anchor::set_state_dir(&cs.state);
        let mut e = countersign_engine::Engine::open(&cs.data).unwrap();
        let (t, _) = e.face_template("olga").unwrap().expect("olga is enrolled");
        t.embeddings[0].len()
    };
    seed_synthetic_people(&cs, 136, 11, dim);

    let out_file = cs.root().join("report.json");
    let out = cs.admin_ok(&["calibrate", "--out", out_file.to_str().unwrap()], &[]);
    // 137 people x 2 captures: 4 * 137 * 136 / 2 impostor pairs.
    assert!(
        out.contains("137 people with a face template, 274 captures: 137 genuine pairs, 37264 impostor pairs"),
        "{out}"
    );
    let file: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let report_json = file["report"].as_str().unwrap().to_string();
    let sha = file["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha, hex::encode(Sha256::digest(report_json.as_bytes())));
    let report: Value = serde_json::from_str(&report_json).unwrap();
    assert_eq!(report["supported"], true, "{out}");
    let t = report["threshold"].as_f64().unwrap();
    assert!(
        t < countersign_core::policy::FACE_THRESHOLD_FLOOR,
        "the report supports a threshold below the model's floor: {t}"
    );
    // The proposed lines, as printed, are what the admin applies.
    let line = report["proposed_policy"].as_str().unwrap().to_string();
    assert_eq!(line, format!("face_threshold = {t:.4}"));
    assert!(out.contains(&format!("  {line}\n")), "{out}");
    assert!(
        out.contains(&format!("  calibration_report_sha256 = \"{sha}\"")),
        "{out}"
    );
    let proposed = line.trim_start_matches("face_threshold = ").to_string();
    let policy_path = cs.data.join("policy.toml");
    let before = std::fs::read_to_string(&policy_path).unwrap();
    let applied_before = applied(&cs).len();

    // (c) Refused, each with its code, nothing applied: a wrong hash...
    let refused = |file: &str, code: &str, why: &str| {
        let o = cs.admin_run(ADA, &["policy", "apply", file], &[]);
        let e = expect_error(&o, code, why);
        assert_eq!(
            std::fs::read_to_string(&policy_path).unwrap(),
            before,
            "{why}"
        );
        assert_eq!(applied(&cs).len(), applied_before, "{why}");
        assert_eq!(in_force(&cs)["face_threshold"], 0.48, "{why}");
        e
    };
    let mut wrong = sha.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    refused(
        &cite(&cs, "wrong.toml", &proposed, &wrong),
        "policy.calibration_report_unknown",
        "a hash no report here has",
    );
    // ... a tampered report (one byte changed: its signature no longer
    // verifies, and its hash is no report this kiosk recorded) ...
    let tampered = report_json.replacen("\"impostor_pairs\":37264", "\"impostor_pairs\":97264", 1);
    assert_eq!(tampered.len(), report_json.len());
    assert_ne!(tampered, report_json);
    let key: [u8; 32] = hex::decode(file["public_key_ed25519"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let sig: [u8; 64] = hex::decode(file["signature_ed25519"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&key).unwrap();
    let sig = Signature::from_bytes(&sig);
    key.verify(report_json.as_bytes(), &sig).unwrap();
    assert!(key.verify(tampered.as_bytes(), &sig).is_err());
    let tampered_sha = hex::encode(Sha256::digest(tampered.as_bytes()));
    refused(
        &cite(&cs, "tampered.toml", &proposed, &tampered_sha),
        "policy.calibration_report_unknown",
        "a tampered report",
    );
    // ... a supported report signed by another kiosk's key ...
    let other = Cs::demo();
    seed_synthetic_people(&other, 137, 12, dim);
    let other_file = other.root().join("other.json");
    other.admin_ok(&["calibrate", "--out", other_file.to_str().unwrap()], &[]);
    let other_file: Value = serde_json::from_slice(&std::fs::read(&other_file).unwrap()).unwrap();
    let other_report: Value = serde_json::from_str(other_file["report"].as_str().unwrap()).unwrap();
    assert_eq!(other_report["supported"], true);
    assert_ne!(other_file["public_key_ed25519"], file["public_key_ed25519"]);
    let other_t = other_report["threshold"].as_f64().unwrap();
    refused(
        &cite(
            &cs,
            "other.toml",
            &format!("{:.4}", other_t.max(t)),
            other_file["sha256"].as_str().unwrap(),
        ),
        "policy.calibration_report_unknown",
        "another kiosk's report",
    );
    // (d) ... and a threshold below the one the report supports.
    let e = refused(
        &cite(&cs, "below.toml", &format!("{:.4}", t - 0.01), &sha),
        "policy.face_threshold_below_calibration",
        "a threshold below the report's",
    );
    assert!(e.contains(&t.to_string()), "{e}");

    // (a) The proposed line citing the report: applied, in force...
    let good = cite(&cs, "good.toml", &proposed, &sha);
    expect_ok(
        &cs.admin_run(ADA, &["policy", "apply", &good], &[]),
        "policy apply citing the report",
    );
    let m = in_force(&cs);
    assert_eq!(
        m["face_threshold"].as_f64(),
        Some(proposed.parse().unwrap()),
        "{m}"
    );
    assert!(m["face_threshold"].as_f64().unwrap() < 0.46, "{m}");
    assert_eq!(m["calibration_report_sha256"], sha, "{m}");
    assert_eq!(
        std::fs::read_to_string(&policy_path).unwrap(),
        std::fs::read_to_string(&good).unwrap()
    );
    // (b) ... and recorded in the ledger with the report's hash and the admin.
    let now_applied = applied(&cs);
    assert_eq!(now_applied.len(), applied_before + 1);
    let ev = now_applied.last().unwrap();
    assert_eq!(ev["body"]["calibration_report_sha256"], sha);
    assert_eq!(ev["body"]["by"], "ada");
    assert!(ev["body"]["policy"].as_str().unwrap().contains(&line));
    // The report it rests on is in the same ledger, recorded before it.
    let events = cs.events();
    let rec = events
        .iter()
        .position(|e| e["kind"] == "calibration.report" && e["body"]["sha256"] == sha)
        .expect("the report is recorded");
    let app = events
        .iter()
        .position(|e| e["body"]["calibration_report_sha256"] == sha)
        .unwrap();
    assert!(rec < app);
}
