//! Per-stage latency of the face pipeline (decode, detect, align, embed)
//! at 320x240 and 640x480, single thread, on the committed fixtures; prints
//! a Markdown table for BENCHMARKS.md.
//!
//!     cargo run --release -p countersign-matcher --example bench [-- REPEATS]

use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

use countersign_matcher::{decode_file, Matcher, MatcherConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let photos = ["obama.jpg", "obama2.jpg", "biden.jpg"];
    let profile = if cfg!(debug_assertions) {
        "debug (deps at opt-level 1)"
    } else {
        "release"
    };
    println!("| resolution | detector input | decode ms | detect ms | align ms | embed ms | total ms | model load ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for (w, h) in [(320u32, 240u32), (640, 480)] {
        let cfg = MatcherConfig {
            det_width: w as usize,
            det_height: h as usize,
            ..Default::default()
        };
        let m = Matcher::load(&countersign_matcher::default_models_dir(), cfg)
            .unwrap_or_else(|e| panic!("{e}"));
        let (mut dec, mut det, mut ali, mut emb) = (vec![], vec![], vec![], vec![]);
        for p in photos {
            // the frame a camera at this resolution would give, as JPEG
            let full = decode_file(&fx.join(p)).unwrap();
            let frame = image::imageops::resize(&full, w, h, image::imageops::FilterType::Triangle);
            let mut jpg = Cursor::new(Vec::new());
            frame.write_to(&mut jpg, image::ImageFormat::Jpeg).unwrap();
            let jpg = jpg.into_inner();
            for _ in 0..repeats {
                let t = Instant::now();
                let img = image::load_from_memory(&jpg).unwrap().to_rgb8();
                dec.push(t.elapsed().as_secs_f64() * 1000.0);
                let mut a = m.analyze(&img).unwrap();
                m.embed_analysis(&mut a).unwrap();
                det.push(a.times.detect_ms);
                ali.push(a.times.align_ms);
                emb.push(a.times.embed_ms);
            }
        }
        let (d0, d1, d2, d3) = (median(dec), median(det), median(ali), median(emb));
        println!(
            "| {w}x{h} | {}x{} | {d0:.1} | {d1:.1} | {d2:.2} | {d3:.1} | {:.1} | {:.0} |",
            m.detector_size().0,
            m.detector_size().1,
            d0 + d1 + d2 + d3,
            m.load_ms()
        );
    }
    println!();
    println!(
        "Medians of {repeats} runs x {} photos, one thread, {profile} build.",
        photos.len()
    );
}
