//! The tidy test: what ARCHITECTURE.md says about the code itself, checked
//! on the sources (rust-analyzer's `tidy.rs` is the model). Each check names
//! the file and the line it objects to, so a failure says what to fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The longest a source file (Rust, TypeScript, Svelte) may be.
const MAX_LINES: usize = 600;

/// Files allowed over [`MAX_LINES`] for now, each with why and until when.
const OVER_LONG: &[(&str, &str)] = &[];

/// The only files where `unsafe` may appear in code (ARCHITECTURE.md,
/// invariant "`unsafe` only where a boundary needs it").
const UNSAFE_FILES: &[&str] = &["crates/matcher/src/conv/kernels.rs"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every file under `dir`, skipping build output, dependencies and VCS data.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                let skip = name.starts_with('.') && name != ".ci"
                    || matches!(name.as_str(), "target" | "node_modules" | "dist" | "build");
                if !skip {
                    stack.push(p);
                }
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn is_source(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("rs" | "ts" | "svelte")
    ) && !rel(p).starts_with("ui/src/lib/bindings/")
}

/// Code without `//` comments (line and doc comments), so a word in prose
/// is not taken for a use. Strings stay: a path in a string is a use.
fn code_lines(src: &str) -> impl Iterator<Item = (usize, &str)> {
    src.lines().enumerate().filter_map(|(i, l)| {
        let code = match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        };
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

/// The code lines outside `#[cfg(test)]` items (a test module may use the
/// clock and temporary files), by brace depth.
fn outside_tests(src: &str) -> Vec<(usize, &str)> {
    let mut out = vec![];
    let mut pending = false;
    let mut depth = 0i64;
    let mut skipping = false;
    for (n, line) in code_lines(src) {
        if !skipping && line.trim_start().starts_with("#[cfg(test)]") {
            pending = true;
            continue;
        }
        if pending || skipping {
            let opens = line.matches('{').count() as i64;
            let closes = line.matches('}').count() as i64;
            if pending {
                pending = false;
                // `mod tests;` or a one-line item: nothing more to skip.
                if opens == 0 {
                    continue;
                }
                skipping = true;
            }
            depth += opens - closes;
            if depth <= 0 {
                skipping = false;
                depth = 0;
            }
            continue;
        }
        out.push((n, line));
    }
    out
}

/// The dependency names of a Cargo.toml, in every dependency table.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = vec![];
    let mut in_deps = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t.contains("dependencies");
            if let Some(name) = t
                .strip_prefix("[dependencies.")
                .or_else(|| t.strip_prefix("[dev-dependencies."))
                .or_else(|| t.strip_prefix("[build-dependencies."))
            {
                out.push(name.trim_end_matches(']').to_string());
                in_deps = false;
            }
            continue;
        }
        if in_deps {
            if let Some((name, _)) = t.split_once('=') {
                let name = name.trim();
                if !name.is_empty() && !name.starts_with('#') {
                    out.push(name.trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_core_uses_no_clock_disk_network_or_randomness() {
    let core = root().join("crates/core");
    let forbidden = [
        "std::time",
        "Instant",
        "SystemTime",
        "std::fs",
        "File::",
        "std::net",
        "std::env",
        "std::process",
        "std::thread",
        "rand::",
        "getrandom",
        "OsRng",
        "thread_rng",
        "tokio",
    ];
    let mut found = vec![];
    for p in files(&core.join("src"))
        .into_iter()
        .filter(|p| is_source(p))
    {
        // Unit tests may use the clock and temporary files.
        if rel(&p).ends_with("/tests.rs") {
            continue;
        }
        let src = read(&p);
        for (n, line) in outside_tests(&src) {
            for f in forbidden {
                if line.contains(f) {
                    found.push(format!("{}:{n}: {f}", rel(&p)));
                }
            }
        }
    }
    let manifest = read(&core.join("Cargo.toml"));
    let normal = manifest
        .split("[dev-dependencies]")
        .next()
        .unwrap_or_default();
    for dep in dependencies(normal) {
        if [
            "rand",
            "rand_core",
            "getrandom",
            "tokio",
            "rusqlite",
            "reqwest",
            "uuid",
            "tempfile",
        ]
        .contains(&dep.as_str())
        {
            found.push(format!("crates/core/Cargo.toml: depends on {dep}"));
        }
    }
    assert!(
        found.is_empty(),
        "crates/core must stay pure (time and randomness are passed in):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_crate_under_crates_depends_on_tauri() {
    let mut found = vec![];
    for p in files(&root().join("crates")) {
        if p.file_name().is_some_and(|n| n == "Cargo.toml") {
            for dep in dependencies(&read(&p)) {
                if dep.starts_with("tauri") {
                    found.push(format!("{}: {dep}", rel(&p)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "Tauri belongs to src-tauri/ only:\n{}",
        found.join("\n")
    );
}

#[test]
fn unsafe_appears_only_in_the_files_named() {
    let mut found = BTreeSet::new();
    for p in files(&root())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !rel(p).starts_with("crates/tidy/"))
    {
        for (n, line) in code_lines(&read(&p)) {
            let words = line.split(|c: char| !(c.is_alphanumeric() || c == '_'));
            if words.into_iter().any(|w| w == "unsafe") && !line.contains("unsafe_code") {
                found.insert((rel(&p), n));
            }
        }
    }
    let stray: Vec<String> = found
        .iter()
        .filter(|(f, _)| !UNSAFE_FILES.contains(&f.as_str()))
        .map(|(f, n)| format!("{f}:{n}"))
        .collect();
    assert!(
        stray.is_empty(),
        "`unsafe` outside {UNSAFE_FILES:?} (name the file in ARCHITECTURE.md and here, with a SAFETY comment):\n{}",
        stray.join("\n")
    );
    let arch = read(&root().join("ARCHITECTURE.md"));
    for f in UNSAFE_FILES {
        let short = f.rsplit_once("src/").map_or(*f, |(_, s)| s);
        assert!(arch.contains(short), "ARCHITECTURE.md does not name {f}");
        assert!(
            found.iter().any(|(g, _)| g == f),
            "{f} is allowed `unsafe` but has none: take it off the list"
        );
        assert!(
            read(&root().join(f)).contains("SAFETY"),
            "{f}: no SAFETY comment"
        );
    }
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut over = vec![];
    for p in files(&root()).into_iter().filter(|p| is_source(p)) {
        let n = read(&p).lines().count();
        let r = rel(&p);
        let exempt = OVER_LONG.iter().any(|(f, _)| *f == r);
        if n > MAX_LINES && !exempt {
            over.push(format!("{r}: {n} lines"));
        }
        if exempt && n <= MAX_LINES {
            over.push(format!("{r} is {n} lines: take it off OVER_LONG"));
        }
    }
    for (f, _) in OVER_LONG {
        if !root().join(f).exists() {
            over.push(format!("{f} is gone: take it off OVER_LONG"));
        }
    }
    assert!(
        over.is_empty(),
        "split these files (at most {MAX_LINES} lines):\n{}",
        over.join("\n")
    );
}

/// Backticked tokens of ARCHITECTURE.md that name a file of the repository:
/// a path from the root (`crates/...`) or a source file's name.
fn named_paths(doc: &str) -> Vec<(usize, String)> {
    const ROOTS: &[&str] = &[
        "crates/",
        "src-tauri/",
        "ui/",
        "scripts/",
        "assets/",
        "examples/",
        "fuzz/",
        ".ci/",
        "docs/",
        "packaging/",
        "debian/",
    ];
    // Runtime files (`policy.toml`, `kiosk.json`, ...) are named bare; a
    // source file's name is checked wherever it is in the tree.
    const EXTS: &[&str] = &[".rs", ".ts", ".svelte", ".sh", ".py"];
    let mut out = vec![];
    for (i, line) in doc.lines().enumerate() {
        for (k, tok) in line.split('`').enumerate() {
            if k % 2 == 0 || tok.is_empty() {
                continue;
            }
            let plain = tok
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
            let from_root = ROOTS.iter().any(|r| tok.starts_with(r));
            let source = EXTS.iter().any(|e| tok.ends_with(e)) && !tok.starts_with('.');
            if plain && (from_root || source) {
                out.push((i + 1, tok.trim_end_matches('/').to_string()));
            }
        }
    }
    out
}

#[test]
fn every_path_architecture_md_names_exists() {
    let root = root();
    let all: Vec<String> = files(&root).iter().map(|p| rel(p)).collect();
    let doc = read(&root.join("ARCHITECTURE.md"));
    let mut missing = vec![];
    for (line, path) in named_paths(&doc) {
        let exists = root.join(&path).exists()
            || all
                .iter()
                .any(|f| f.ends_with(&format!("/{path}")) || f.contains(&format!("/{path}/")));
        if !exists {
            missing.push(format!("ARCHITECTURE.md:{line}: {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "named but not found:\n{}",
        missing.join("\n")
    );
}

/// The `## Invariants` section's numbered items.
fn invariants(doc: &str) -> Vec<String> {
    let section = doc
        .split("\n## Invariants")
        .nth(1)
        .expect("ARCHITECTURE.md has an Invariants section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut items: Vec<String> = vec![];
    for line in section.lines() {
        let starts_item = line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if starts_item {
            items.push(String::new());
        }
        if let Some(last) = items.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    items
}

#[test]
fn each_invariant_names_a_test_that_exists() {
    let root = root();
    let sources: Vec<(String, String)> = files(&root)
        .into_iter()
        .filter(|p| is_source(p))
        .map(|p| (rel(&p), read(&p)))
        .collect();
    let test_exists = |name: &str| {
        sources.iter().any(|(path, src)| {
            let is_test_file = path.contains("/tests/")
                || path.ends_with("tests.rs")
                || path.ends_with(".test.ts");
            (is_test_file || src.contains("#[test]"))
                && (src.contains(&format!("fn {name}("))
                    || src.contains(&format!("fn {name}<"))
                    || src.contains(&format!("test('{name}")))
        }) || {
            // A test file or directory named by its path.
            let p = name.trim_end_matches('/');
            (p.contains("/tests/") || p.contains("tests/") || p.ends_with(".test.ts"))
                && (root.join(p).exists() || sources.iter().any(|(f, _)| f.ends_with(p)))
        }
    };
    let doc = read(&root.join("ARCHITECTURE.md"));
    let items = invariants(&doc);
    assert!(items.len() >= 10, "found {} invariants", items.len());
    let mut untested = vec![];
    for item in &items {
        let named: Vec<&str> = item
            .split('`')
            .enumerate()
            .filter(|(k, _)| k % 2 == 1)
            .map(|(_, t)| t.rsplit("::").next().unwrap_or(t))
            .collect();
        if !named.iter().any(|t| test_exists(t)) {
            let title = item.lines().next().unwrap_or_default();
            untested.push(title.to_string());
        }
    }
    assert!(
        untested.is_empty(),
        "each invariant names (in backticks) a test function or test file that exists; these do not:\n{}",
        untested.join("\n")
    );
}

#[test]
fn dependencies_are_read_from_every_table() {
    let manifest = r#"
[package]
name = "x"

[dependencies]
serde = "1"
"tauri" = { version = "2" }

[dev-dependencies]
tempfile.workspace = true

[target.'cfg(unix)'.dependencies]
tauri-build = "2"

[dependencies.tauri-plugin-shell]
version = "2"
"#;
    assert_eq!(
        dependencies(manifest),
        [
            "serde",
            "tauri",
            "tempfile.workspace",
            "tauri-build",
            "tauri-plugin-shell"
        ]
    );
}

#[test]
fn code_in_a_test_module_is_skipped_and_code_after_it_is_not() {
    let src = "use a;\n#[cfg(test)]\nmod tests {\n    fn t() { clock(); }\n}\nfn after() {}\n#[cfg(test)]\nmod more;\nfn last() {}\n";
    let kept: Vec<&str> = outside_tests(src)
        .into_iter()
        .map(|(_, l)| l.trim())
        .collect();
    assert_eq!(kept, ["use a;", "fn after() {}", "fn last() {}"]);
}
