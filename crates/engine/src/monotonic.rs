//! Time a wall clock cannot bend: a grant's life is judged by the larger of
//! the wall-clock time and the kernel's boot time elapsed since it was
//! granted.
//!
//! Every `override.granted` event carries an `anchor`: the kernel's boot id
//! (`/proc/sys/kernel/random/boot_id`) and the time since boot
//! (`/proc/uptime`) when it was granted. Both are file reads, so neither a
//! changed wall clock nor libfaketime (which fakes `clock_gettime`, the
//! monotonic clocks included) moves them. While the kiosk has not rebooted,
//! the time elapsed since the grant is `max(wall elapsed, boot elapsed)`:
//!
//! * a clock set **back** after the grant cannot re-open it (the boot time
//!   elapsed still says it has expired);
//! * a clock set **forward** at the grant cannot lengthen it in real time
//!   (the grant's `expires_at` is far in the future, but the boot time
//!   elapsed since the grant counts down its real duration).
//!
//! After a reboot the boot id differs and the wall clock alone decides (the
//! clock guard, `CLOCK_TOLERANCE_MS`, still refuses writes under a clock
//! behind the ledger). The core stays pure: the engine computes the time to
//! judge by ([`judged_now`]) and passes it in.

use countersign_core::{Grant, Ms};
use serde::{Deserialize, Serialize};

/// The kernel's boot id and the time since boot, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootAnchor {
    pub boot_id: String,
    pub uptime_ms: i64,
}

/// The current boot anchor, or `None` where `/proc` does not give one.
pub fn boot_anchor() -> Option<BootAnchor> {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    Some(BootAnchor {
        boot_id: boot_id.trim().to_string(),
        uptime_ms: (secs * 1000.0) as i64,
    })
}

/// The time to judge something anchored at (`at`, `anchor`) by, given the
/// wall clock `now` and the current anchor: `at + max(now - at, boot
/// elapsed)` while the boot is the same, else `now`.
pub fn judged_now(
    now: Ms,
    at: Ms,
    anchor: Option<&BootAnchor>,
    current: Option<&BootAnchor>,
) -> Ms {
    match (anchor, current) {
        (Some(a), Some(c)) if a.boot_id == c.boot_id && c.uptime_ms >= a.uptime_ms => {
            at.saturating_add((now - at).max(c.uptime_ms - a.uptime_ms))
        }
        _ => now,
    }
}

/// The body of an `override.granted` event: the grant, plus its anchor.
pub fn granted_body(g: &Grant, anchor: Option<BootAnchor>) -> serde_json::Value {
    let mut v = serde_json::to_value(g).expect("serialisable");
    if let (Some(obj), Some(a)) = (v.as_object_mut(), anchor) {
        obj.insert(
            "anchor".into(),
            serde_json::to_value(a).expect("serialisable"),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: &str, up: i64) -> BootAnchor {
        BootAnchor {
            boot_id: id.into(),
            uptime_ms: up,
        }
    }

    #[test]
    fn boot_time_wins_when_the_wall_clock_lags() {
        // Granted at 1_000; 10 min of boot time later, the wall clock says
        // only 5 min passed (it was set back 5 min).
        let at = 1_000;
        let now = at + 5 * 60_000;
        assert_eq!(
            judged_now(now, at, Some(&a("b", 0)), Some(&a("b", 600_000))),
            at + 600_000
        );
    }

    #[test]
    fn a_grant_made_under_a_clock_ahead_counts_real_time() {
        // Granted under +1 day; 1 min of boot time later, the wall clock is
        // right again (a day "before" the grant).
        let day = 86_400_000;
        let at = 10 * day;
        let now = 9 * day + 60_000;
        assert_eq!(
            judged_now(now, at, Some(&a("b", 5_000)), Some(&a("b", 65_000))),
            at + 60_000
        );
    }

    #[test]
    fn another_boot_or_no_anchor_falls_back_to_the_wall_clock() {
        assert_eq!(judged_now(7, 1, Some(&a("b", 0)), Some(&a("c", 99))), 7);
        assert_eq!(judged_now(7, 1, None, Some(&a("c", 99))), 7);
        assert_eq!(judged_now(7, 1, Some(&a("b", 0)), None), 7);
    }

    #[test]
    fn this_machine_has_an_anchor() {
        let x = boot_anchor().expect("/proc gives a boot anchor on Linux");
        assert!(!x.boot_id.is_empty() && x.uptime_ms > 0);
    }
}
