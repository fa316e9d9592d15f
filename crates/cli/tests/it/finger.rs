//! The fingerprint path of the binary on the real libfprint
//! (`virtual_image` reader fed with synthetic prints from `fpgen`):
//! witnessed enrollment, genuine and impostor step-ups, an unplugged and a
//! missing reader, eval. Nothing is mocked.

use std::path::Path;

use crate::helpers::{expect_exit, expect_ok, stdout, totp, Cs, SAM, SCOPE};

fn set(cs: &Cs, fingers: &str, impressions: &str, seed: &str) -> std::path::PathBuf {
    let dir = cs.root().join(format!("prints-{seed}"));
    let out = cs.ok(&[
        "fpgen",
        dir.to_str().unwrap(),
        "--fingers",
        fingers,
        "--impressions",
        impressions,
        "--seed",
        seed,
    ]);
    assert!(out.contains("synthetic impressions"), "{out}");
    dir
}

fn imgs(dir: &Path, finger: u64, ns: &[u32]) -> String {
    ns.iter()
        .map(|n| {
            dir.join(format!("f{finger:04}/{n:02}.png"))
                .display()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn stepup(cs: &Cs, images: &str) -> std::process::Output {
    cs.run(&[
        "stepup",
        "--operator",
        "olga",
        "--scope",
        SCOPE,
        "--finger",
        "--finger-images",
        images,
    ])
}

#[test]
fn enroll_then_genuine_passes_impostor_and_unplugged_reader_do_not() {
    let cs = Cs::demo();
    let dir = set(&cs, "2", "8", "500");
    let code = totp(SAM.totp);
    let out = expect_ok(
        &cs.run_env(
            &[
                "enroll",
                "olga",
                "--finger",
                "right-index-finger",
                "--witness",
                "sam",
                "--otp",
                &code,
                "--finger-images",
                &imgs(&dir, 500, &[0, 1, 2, 3, 4]),
            ],
            &[("COUNTERSIGN_SECRET", SAM.pass)],
        ),
        "enroll olga's finger",
    );
    assert!(out.contains("VIRTUAL"), "fed images are labelled: {out}");
    assert!(out.contains("enrolled olga's right-index-finger"), "{out}");

    let o = stepup(&cs, &imgs(&dir, 500, &[7]));
    let out = expect_ok(&o, "genuine finger");
    assert!(
        out.contains("libfprint decision (no score exposed): match"),
        "{out}"
    );
    assert!(out.contains("succeeded"), "{out}");

    let o = stepup(&cs, &imgs(&dir, 501, &[1]));
    expect_exit(&o, 3, "another finger does not pass");
    assert!(stdout(&o).contains(": no match"), "{}", stdout(&o));

    let o = stepup(&cs, "remove");
    expect_exit(&o, 3, "an unplugged reader offers the fallback");
    assert!(
        stdout(&o).contains("fallback offered: device_unavailable"),
        "{}",
        stdout(&o)
    );
    let log = cs.ok(&["log", "list", "--kind", "match.attempt"]);
    assert!(log.contains("matched") && log.contains("no_match"), "{log}");
    cs.ok(&["log", "verify"]);
}

#[test]
fn a_missing_reader_fires_device_unavailable() {
    let cs = Cs::demo();
    let o = cs.run(&[
        "stepup",
        "--operator",
        "olga",
        "--scope",
        SCOPE,
        "--finger",
        "--reader",
        "libfprint:no_such_driver:0",
    ]);
    expect_exit(&o, 3, "no reader: fallback offered");
    assert!(
        stdout(&o).contains("fallback offered: device_unavailable"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn too_few_images_for_enrollment_is_refused_before_any_factor() {
    let cs = Cs::demo();
    let dir = set(&cs, "1", "2", "510");
    let o = cs.run_env(
        &[
            "enroll",
            "olga",
            "--finger",
            "--witness",
            "sam",
            "--otp",
            "000000",
            "--finger-images",
            &imgs(&dir, 510, &[0, 1]),
        ],
        &[("COUNTERSIGN_SECRET", SAM.pass)],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("takes 5 impressions"),
        "{o:?}"
    );
}

#[test]
fn eval_finger_reports_fmr_fnmr_at_libfprints_threshold() {
    let cs = Cs::uninit();
    std::fs::create_dir_all(cs.root()).unwrap();
    let dir = set(&cs, "3", "7", "1");
    let json = cs.root().join("eval.json");
    let out = cs.ok(&[
        "eval",
        "--finger",
        dir.to_str().unwrap(),
        "--json-out",
        json.to_str().unwrap(),
    ]);
    assert!(out.contains("FNMR") && out.contains("FMR"), "{out}");
    assert!(out.contains("exposes no score"), "{out}");
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(rep["enrolled"], 3, "{rep}");
    assert!(rep["genuine"]["compared"].as_u64().unwrap() >= 4, "{rep}");
    // Issue 16: every impression of every other finger is an impostor probe
    // (3 fingers x 14 other impressions), not only the last one (6).
    let imp = &rep["impostor"];
    assert_eq!(
        imp["compared"].as_u64().unwrap() + imp["failed_to_capture"].as_u64().unwrap(),
        3 * 14,
        "{rep}"
    );
    // The presses of an enrollment, and the FNMR by distinct impressions.
    assert_eq!(rep["enroll_stages"], 5);
    let rows = rep["by_presses"].as_array().unwrap();
    let distinct: Vec<u64> = rows
        .iter()
        .map(|r| r["distinct"].as_u64().unwrap())
        .collect();
    assert_eq!(distinct, [1, 2, 3, 4, 5], "{rep}");
    assert!(rows.iter().all(|r| r["presses"] == 5));
    let full = &rows[4]["genuine"];
    assert_eq!(full["compared"], rep["genuine"]["compared"], "{rep}");
    assert!(out.contains("distinct impression"), "{out}");
    assert!(out.contains("95 % CI"), "{out}");
}
