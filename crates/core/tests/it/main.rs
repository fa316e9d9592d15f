//! Data-driven tests of the state machines: a script of events in, the
//! transcript of states, effects and refusals out (expect-test snapshots;
//! `UPDATE_EXPECT=1 cargo test` rewrites them after a deliberate change).

mod breakglass_scripts;
mod override_scripts;
mod script;
mod session_scripts;
