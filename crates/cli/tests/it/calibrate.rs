//! `countersign calibrate` (issue 16, item 4) on a demo kiosk with real
//! witnessed face enrollments (the committed public-domain photos): a signed
//! report recorded in the ledger, "needs N impostor pairs" when the data are
//! short, and a policy that cites an unsupported report refused.

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
