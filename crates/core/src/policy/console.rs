//! `[console]`: the reviewers' and admins' console (issue 15). Optional;
//! absent, the defaults hold.

use serde::{Deserialize, Serialize};

use super::Seg::{self, K};

/// Default idle expiry of a console session, minutes.
pub const DEFAULT_CONSOLE_IDLE_MINUTES: u64 = 15;
/// Longest idle expiry a policy may set: an unattended console signed in
/// for longer is a standing door.
pub const MAX_CONSOLE_IDLE_MINUTES: u64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsolePolicy {
    /// A console session idle this long ends (1 to 60).
    #[serde(default = "default_idle")]
    pub idle_minutes: u64,
}

fn default_idle() -> u64 {
    DEFAULT_CONSOLE_IDLE_MINUTES
}

impl Default for ConsolePolicy {
    fn default() -> Self {
        ConsolePolicy {
            idle_minutes: DEFAULT_CONSOLE_IDLE_MINUTES,
        }
    }
}

impl ConsolePolicy {
    pub(super) fn validate(&self) -> Result<(), (Vec<Seg>, String, countersign_codes::Code)> {
        let m = self.idle_minutes;
        if !(1..=MAX_CONSOLE_IDLE_MINUTES).contains(&m) {
            return Err((
                vec![K("console"), K("idle_minutes")],
                format!("{m} is outside 1 to {MAX_CONSOLE_IDLE_MINUTES} minutes"),
                super::INVALID_CODE,
            ));
        }
        Ok(())
    }
}
