//! Issue 17, item 0: the OCSF export is valid OCSF 1.5, checked by an
//! independent validator from PyPI (ocsf-emitter 0.3.0, installed by
//! scripts/ocsf-validate.sh into its own venv), every record of it. The
//! full step-up journey's export is validated in `flows.rs`; this file
//! covers the kiosk's first life: initialisation, policy, people and their
//! factors, a witnessed face and finger enrollment from real photos and the
//! virtual reader, sealed samples, and their purge 91 days later (the
//! clock moved with libfaketime in those processes only).

use std::path::Path;
use std::process::Command;

use super::helpers::Cs;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Runs the independent validator over `file`; panics with its report
/// unless every record is valid. Returns the summary line.
pub fn validate(file: &Path) -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(repo.join("scripts/ocsf-validate.sh"))
        .arg(file)
        .output()
        .expect("running scripts/ocsf-validate.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "invalid OCSF records:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(summary.contains(", 0 invalid"), "{stdout}");
    summary
}

/// The records of `file`, one JSON value per line.
pub fn records(file: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each OCSF line is JSON"))
        .collect()
}

#[test]
fn a_demo_kiosks_first_events_export_as_valid_ocsf_1_5_each_in_its_class() {
    let cs = Cs::uninit();
    let faces = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/faces");
    cs.ok(&[
        "init",
        "--demo",
        "--demo-faces",
        faces.to_str().unwrap(),
        "--demo-fingers",
    ]);
    // 91 days on (the policy keeps samples 90): the samples are purged.
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "libfaketime is missing: scripts/setup.sh installs it"
    );
    let later = [
        ("LD_PRELOAD", LIBFAKETIME),
        ("FAKETIME", "+91d"),
        ("FAKETIME_DONT_RESET", "1"),
    ];
    let o = cs.run_env(&["log", "purge"], &later);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("purged") && !out.contains("purged 0"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let file = cs.root().join("events.ocsf");
    let path = file.to_str().unwrap();
    let o = cs.run_env(
        &["log", "export", "--format", "ocsf", "--out", path],
        &later,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = validate(&file);
    assert!(summary.starts_with("ocsf 1.5.0:"), "{summary}");

    let recs = records(&file);
    let class_of = |kind: &str| {
        recs.iter()
            .find(|r| r["unmapped"]["kind"] == kind)
            .unwrap_or_else(|| panic!("a {kind} record"))["class_uid"]
            .as_u64()
    };
    assert_eq!(class_of("kiosk.initialized"), Some(5019));
    assert_eq!(class_of("policy.loaded"), Some(5019));
    assert_eq!(class_of("person.added"), Some(3001));
    assert_eq!(class_of("biometric.enrolled"), Some(3001));
    assert_eq!(class_of("blob.sealed"), Some(1001));
    assert_eq!(class_of("blob.purged"), Some(1001));
    assert_eq!(class_of("supervisor.auth"), Some(3002));
    // No record is the old catch-all: only events that are authentication are 3002.
    for r in recs.iter().filter(|r| r["class_uid"] == 3002) {
        let kind = r["unmapped"]["kind"].as_str().unwrap();
        assert!(
            kind.starts_with("supervisor.")
                || kind.starts_with("stepup.")
                || kind.starts_with("match."),
            "{kind} is not an authentication"
        );
    }
}
