//! `countersign-app`: the Countersign kiosk window.

fn main() {
    std::process::exit(countersign_app::run());
}
