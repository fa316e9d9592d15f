//! `countersign eval` (issue 16, item 3): every format the `image` crate
//! decodes, the kiosk's own path with FTA / FMR / FNMR and their intervals,
//! and sets that cannot give a rate refused (exit 1). Real photos
//! (crates/matcher/tests/fixtures) and the real models.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::{expect_error, expect_ok, Cs};

fn fx(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../matcher/tests/fixtures")
        .join(name)
}

/// The committed photos as identity folders, each converted to `ext` by
/// `write` (the decoder under test is the binary's, not this one).
fn set_as(root: &Path, name: &str, write: &dyn Fn(&Path, &image::RgbImage)) -> PathBuf {
    let set = root.join(name);
    for (id, files) in [
        ("obama", &["obama.jpg", "obama2.jpg", "obama3.jpg"][..]),
        ("biden", &["biden.jpg"][..]),
        ("collins", &["astronaut.png"][..]),
    ] {
        std::fs::create_dir_all(set.join(id)).unwrap();
        for f in files {
            let img = image::open(fx(f)).unwrap().to_rgb8();
            write(&set.join(id).join(f), &img);
        }
    }
    set
}

/// Binary PGM (P5), written by hand: grey = Rec. 601 luma.
fn write_pgm(p: &Path, img: &image::RgbImage) {
    let mut b = format!("P5\n{} {}\n255\n", img.width(), img.height()).into_bytes();
    b.extend(img.pixels().map(|px| {
        (0.299 * f64::from(px[0]) + 0.587 * f64::from(px[1]) + 0.114 * f64::from(px[2])).round()
            as u8
    }));
    std::fs::write(p.with_extension("pgm"), b).unwrap();
}

/// Binary PPM (P6), by hand.
fn write_ppm(p: &Path, img: &image::RgbImage) {
    let mut b = format!("P6\n{} {}\n255\n", img.width(), img.height()).into_bytes();
    b.extend_from_slice(img.as_raw());
    std::fs::write(p.with_extension("ppm"), b).unwrap();
}

/// Uncompressed 24-bit BMP, by hand (rows bottom-up, padded to 4 bytes).
fn write_bmp(p: &Path, img: &image::RgbImage) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut b = vec![];
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&(size as u32).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&(w as i32).to_le_bytes());
    b.extend_from_slice(&(h as i32).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    for y in (0..h).rev() {
        let start = b.len();
        for x in 0..w {
            let px = img.get_pixel(x as u32, y as u32);
            b.extend_from_slice(&[px[2], px[1], px[0]]);
        }
        b.resize(start + row, 0);
    }
    std::fs::write(p.with_extension("bmp"), b).unwrap();
}

fn json(cs: &Cs, args: &[&str]) -> Value {
    let mut all = vec!["--json", "eval"];
    all.extend_from_slice(args);
    serde_json::from_str(&expect_ok(&cs.run(&all), "eval --json")).unwrap()
}

#[test]
fn a_folder_of_pgm_faces_is_evaluated_not_reported_as_empty() {
    // Before issue 16 this gave "0 identities, 0 images" and exit 0.
    let cs = Cs::uninit();
    let set = set_as(cs.root(), "pgm", &write_pgm);
    let det = cs.root().join("det.svg");
    let (s, d) = (set.to_str().unwrap(), det.to_str().unwrap());
    let r = json(&cs, &[s, "--det", d]);
    assert_eq!(r["identities"], 3, "{r}");
    assert_eq!(r["genuine"]["count"], 3);
    assert_eq!(r["impostor"]["count"], 7);
    assert_eq!(r["at_policy"]["fmr"], 0.0);
    assert_eq!(r["at_policy"]["fnmr"], 0.0);
    let hist = r["histogram"].as_array().unwrap();
    let sum = |k: &str| hist.iter().map(|b| b[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("genuine"), sum("impostor")), (3, 7));
    // And through the kiosk's path.
    let k = json(&cs, &["--kiosk", s, "--det", d]);
    assert_eq!(k["fta"]["trials"], 5, "{k}");
    assert!(k["fmr"]["trials"].as_u64().unwrap() > 0, "{k}");
}

#[test]
fn ppm_and_bmp_folders_are_read_too() {
    let cs = Cs::uninit();
    for (name, w) in [
        ("ppm", &write_ppm as &dyn Fn(&Path, &image::RgbImage)),
        ("bmp", &write_bmp),
    ] {
        let set = set_as(cs.root(), name, w);
        let det = cs.root().join("det.svg");
        let r = json(
            &cs,
            &[set.to_str().unwrap(), "--det", det.to_str().unwrap()],
        );
        assert_eq!(r["identities"], 3, "{name}: {r}");
        assert_eq!(r["genuine"]["count"], 3, "{name}");
        assert_eq!(r["impostor"]["count"], 7, "{name}");
        let skipped = r["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| !i["skipped"].is_null())
            .count();
        assert_eq!(skipped, 0, "{name}: {r}");
    }
}

#[test]
fn kiosk_mode_reports_fta_fmr_fnmr_with_clopper_pearson_intervals() {
    let cs = Cs::uninit();
    let set = set_as(cs.root(), "png", &|p, img| {
        img.save(p.with_extension("png")).unwrap()
    });
    // A frame the gates must refuse: the face far too small to use (a
    // 600x600 canvas with the astronaut's photo shrunk to 40 px).
    let small = image::imageops::resize(
        &image::open(fx("astronaut.png")).unwrap().to_rgb8(),
        40,
        40,
        image::imageops::FilterType::Triangle,
    );
    let mut canvas = image::RgbImage::from_pixel(600, 600, image::Rgb([128, 128, 128]));
    image::imageops::overlay(&mut canvas, &small, 280, 280);
    canvas.save(set.join("collins/far-away.png")).unwrap();
    let det = cs.root().join("det.svg");
    let (s, d) = (set.to_str().unwrap(), det.to_str().unwrap());
    let k = json(&cs, &["--kiosk", s, "--det", d]);
    assert_eq!(k["threshold"], 0.48, "the default policy's threshold");
    assert_eq!(k["identities"], 3);
    // The far-away frame is a failure to acquire, not a comparison.
    let fta = &k["fta"];
    assert_eq!(fta["trials"], 6, "{k}");
    assert!(fta["errors"].as_u64().unwrap() >= 1, "{fta}");
    let far = k["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("far-away.png"))
        .unwrap();
    assert_ne!(far["outcome"], "embedded", "{far}");
    let acquired = 6 - fta["errors"].as_u64().unwrap();
    let pairs = k["fmr"]["trials"].as_u64().unwrap() + k["fnmr"]["trials"].as_u64().unwrap();
    assert_eq!(
        pairs,
        acquired * (acquired - 1) / 2,
        "only acquired images are compared"
    );
    // Zero false matches: the interval's upper end is 1 - 0.025^(1/n), and
    // the rule of three is given.
    let fmr = &k["fmr"];
    let n = fmr["trials"].as_f64().unwrap();
    assert_eq!(fmr["errors"], 0, "{fmr}");
    assert_eq!(fmr["ci95_low"], 0.0);
    let hi = fmr["ci95_high"].as_f64().unwrap();
    assert!((hi - (1.0 - 0.025f64.powf(1.0 / n))).abs() < 1e-6, "{fmr}");
    assert!((fmr["rule_of_three"].as_f64().unwrap() - 3.0 / n).abs() < 1e-12);
    // FTA with errors: a two-sided interval around the rate, no rule of three.
    assert!(fta["ci95_low"].as_f64().unwrap() > 0.0, "{fta}");
    assert!(fta["rule_of_three"].is_null());
    // Histogram and DET points for plotting.
    let hist = k["histogram"].as_array().unwrap();
    assert_eq!(hist.len(), 100);
    let counted: u64 = hist
        .iter()
        .map(|b| b["genuine"].as_u64().unwrap() + b["impostor"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, pairs);
    assert!(k["det"].as_array().unwrap().len() > 100);
    assert!(k["throughput"]["images_per_second"].as_f64().unwrap() > 0.0);
    // The same in words.
    let out = expect_ok(&cs.run(&["eval", "--kiosk", s, "--det", d]), "eval --kiosk");
    for needle in [
        "FTA ",
        "FMR ",
        "FNMR",
        "95 % CI",
        "rule of three",
        "far-away.png",
    ] {
        assert!(out.contains(needle), "{needle:?} in\n{out}");
    }
    assert!(std::fs::read_to_string(det).unwrap().starts_with("<svg"));
}

#[test]
fn an_empty_folder_or_a_single_identity_is_an_error() {
    let cs = Cs::uninit();
    let det = cs.root().join("det.svg");
    let d = det.to_str().unwrap();
    let empty = cs.root().join("empty");
    std::fs::create_dir_all(empty.join("nobody")).unwrap();
    std::fs::write(empty.join("nobody/notes.txt"), "not an image").unwrap();
    let one = cs.root().join("one");
    std::fs::create_dir_all(one.join("obama")).unwrap();
    for f in ["obama.jpg", "obama2.jpg"] {
        std::fs::copy(fx(f), one.join("obama").join(f)).unwrap();
    }
    let junk = cs.root().join("junk");
    for id in ["a", "b"] {
        std::fs::create_dir_all(junk.join(id)).unwrap();
        std::fs::write(junk.join(id).join("x.png"), b"not a png").unwrap();
    }
    for kiosk in [false, true] {
        for (set, needle) in [
            (&empty, "no image"),
            (&one, "at least 2"),
            (&junk, "decoded"),
        ] {
            let mut args = vec!["eval", set.to_str().unwrap(), "--det", d];
            if kiosk {
                args.push("--kiosk");
            }
            let e = expect_error(&cs.run(&args), "eval.insufficient_data", "an unusable set");
            assert!(e.contains(needle), "kiosk {kiosk}, {}: {e}", set.display());
        }
    }
}
