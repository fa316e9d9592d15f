//! `countersign-app`: the Countersign kiosk window.

fn main() {
    // The fingerprint reader helper (see finger.rs) runs before anything
    // starts GTK, and never opens a window.
    let args: Vec<String> = std::env::args().collect();
    if countersign_app::finger::is_helper_invocation(&args) {
        std::process::exit(countersign_fingerprint::helper::serve_stdio());
    }
    // `--version` answers without GTK or a display: the package's
    // clean-system check (scripts/deb-check.sh) runs it in a bare chroot.
    if args.get(1).map(String::as_str) == Some("--version") {
        println!("countersign-app {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    std::process::exit(countersign_app::run());
}
