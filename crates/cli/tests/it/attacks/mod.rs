//! Issue 13's attacks on the exception path, as a hostile insider would try
//! them (a shell on the kiosk, or its screen): each test drives the real
//! `countersign` binary (or its API server) across processes where the
//! attack uses processes, and is named after the attack it stops. README's
//! "What the fallback guarantees" lists each guarantee with its test.
//!
//! One module per item of the issue; add yours below in item order.
mod admin_acts;
mod api_leaks;
mod api_server;
mod attempt_race;
mod breakglass_requester;
mod case_actions;
mod clock;
mod demo_inputs;
mod offer_expiry;
mod private_files;
mod socket_activation;
mod totp_race;
mod verify_without_replay_store;
