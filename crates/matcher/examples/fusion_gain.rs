//! The gain of fusing (issue 16, item 2), measured on the committed photos
//! and the demo's replay scenes: the score the kiosk decides on, before
//! (the best frame of the burst against the best enrollment capture) and
//! now ([`countersign_matcher::FUSION`]: the quality-weighted mean of the
//! burst's embeddings against the mean of the enrollment captures, through
//! `Matcher::verify` itself).
//!
//!     cargo build --workspace --all-targets
//!     $CARGO_TARGET_DIR/debug/examples/fusion_gain
//!
//! Prints one row per comparison and a summary: the lowest genuine score,
//! the highest impostor score, and the margin between them.

use std::path::{Path, PathBuf};

use countersign_matcher::{cosine, decode_file, Matcher, Template, TEMPLATE_FORMAT};
use image::RgbImage;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(rel: &str) -> RgbImage {
    decode_file(&repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn embed(m: &Matcher, img: &RgbImage) -> Vec<f32> {
    m.embed_image(img)
        .unwrap()
        .and_then(|a| a.embedding)
        .expect("a face")
}

fn main() {
    let m = Matcher::load_default().expect("models (scripts/setup.sh)");
    let fx = |n: &str| format!("crates/matcher/tests/fixtures/{n}");
    let demo = |n: &str| format!("assets/demo/faces/{n}");
    // (template name, enrollment photos)
    let templates: Vec<(&str, Vec<String>)> = vec![
        (
            "olga (demo enrollment: obama + obama3)",
            vec![demo("enroll/olga/1.jpg"), demo("enroll/olga/2.jpg")],
        ),
        (
            "obama: obama + obama2",
            vec![fx("obama.jpg"), fx("obama2.jpg")],
        ),
        // (obama + obama3 is Olga's enrollment above.)
        (
            "obama: obama2 + obama3",
            vec![fx("obama2.jpg"), fx("obama3.jpg")],
        ),
    ];
    // (burst name, frames, genuine for which templates: all obama/olga ones)
    let bursts: Vec<(&str, Vec<String>, bool)> = vec![
        (
            "scene genuine-olga (2 frames)",
            vec![
                demo("scenes/genuine-olga/1.jpg"),
                demo("scenes/genuine-olga/2.jpg"),
            ],
            true,
        ),
        ("obama.jpg", vec![fx("obama.jpg")], true),
        ("obama2.jpg", vec![fx("obama2.jpg")], true),
        ("obama3.jpg", vec![fx("obama3.jpg")], true),
        (
            "scene impostor frame 1 (biden)",
            vec![demo("scenes/impostor/1.jpg")],
            false,
        ),
        (
            "scene impostor frame 2 (collins)",
            vec![demo("scenes/impostor/2.png")],
            false,
        ),
    ];
    println!("| template | probe | genuine | before: best of bests | now: fused |");
    println!("|---|---|---|---|---|");
    let (mut g_before, mut g_now, mut i_before, mut i_now) = (vec![], vec![], vec![], vec![]);
    for (tname, photos) in &templates {
        let imgs: Vec<RgbImage> = photos.iter().map(|p| load(p)).collect();
        let embs: Vec<Vec<f32>> = imgs.iter().map(|i| embed(&m, i)).collect();
        let template = Template {
            format: TEMPLATE_FORMAT.into(),
            recognizer_sha256: m.recognizer_sha256().into(),
            embeddings: embs.clone(),
        };
        for (bname, frames, genuine) in &bursts {
            // A probe photo that is one of the template's is not a test.
            if frames.iter().any(|f| photos.contains(f)) {
                continue;
            }
            // The demo's photos are copies of the fixtures' (README of
            // assets/demo/faces): Olga's are obama.jpg and obama3.jpg, the
            // genuine scene is obama2.jpg (and a crop of it).
            if tname.starts_with("olga") && bname.starts_with("obama") {
                continue;
            }
            if bname.starts_with("scene genuine") && photos.contains(&fx("obama2.jpg")) {
                continue;
            }
            let fimgs: Vec<RgbImage> = frames.iter().map(|p| load(p)).collect();
            let before = fimgs
                .iter()
                .map(|f| {
                    let e = embed(&m, f);
                    embs.iter().map(|t| cosine(&e, t)).fold(f32::MIN, f32::max)
                })
                .fold(f32::MIN, f32::max);
            let now = m
                .verify(&fimgs, &template, None)
                .unwrap()
                .score
                .expect("the frames pass the gates");
            println!("| {tname} | {bname} | {genuine} | {before:.3} | {now:.3} |");
            if *genuine {
                g_before.push(before);
                g_now.push(now);
            } else {
                i_before.push(before);
                i_now.push(now);
            }
        }
    }
    let min = |v: &[f32]| v.iter().cloned().fold(f32::MAX, f32::min);
    let max = |v: &[f32]| v.iter().cloned().fold(f32::MIN, f32::max);
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    println!();
    println!("| rule | genuine: n, min, mean | impostor: n, max, mean | margin (lowest genuine - highest impostor) |");
    println!("|---|---|---|---|");
    for (rule, g, i) in [
        ("before: best frame vs best capture", &g_before, &i_before),
        ("now: fused burst vs mean template", &g_now, &i_now),
    ] {
        println!(
            "| {rule} | {}, {:.3}, {:.3} | {}, {:.3}, {:.3} | {:.3} |",
            g.len(),
            min(g),
            mean(g),
            i.len(),
            max(i),
            mean(i),
            min(g) - max(i)
        );
    }
}
