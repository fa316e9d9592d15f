//! A libfprint reader helper process: JSON lines on stdin/stdout
//! (`countersign_fingerprint::helper`). The desktop app runs the same loop
//! as `countersign-app --fingerprint-helper`; this binary is for tests.

fn main() {
    std::process::exit(countersign_fingerprint::helper::serve_stdio());
}
