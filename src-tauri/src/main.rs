//! `countersign-app`: the Countersign kiosk window.

fn main() {
    // The fingerprint reader helper (see finger.rs) runs before anything
    // starts GTK, and never opens a window.
    let args: Vec<String> = std::env::args().collect();
    if countersign_app::finger::is_helper_invocation(&args) {
        std::process::exit(countersign_fingerprint::helper::serve_stdio());
    }
    std::process::exit(countersign_app::run());
}
