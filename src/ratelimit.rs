//! The per-profile send limit: at most one email per resend interval and at most N in any
//! 60-minute window. Pure functions over the stored send history.

/// Length of the sliding window of `MAX_RESETS_PER_HOUR`, in seconds.
pub const WINDOW_SECONDS: u64 = 3600;

/// The limits, from `RESEND_INTERVAL_SECONDS` and `MAX_RESETS_PER_HOUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub resend_interval_seconds: u64,
    pub max_per_window: usize,
}

/// Decides whether a profile with `history` (epoch seconds of earlier sends) may get an
/// email at `now`. Returns the history to store after sending, or the number of seconds
/// until a request would be accepted.
pub fn admit(history: &[u64], now: u64, limits: Limits) -> Result<Vec<u64>, u64> {
    let window_start = now.saturating_sub(WINDOW_SECONDS);
    let mut recent: Vec<u64> = history.iter().copied().filter(|&sent| sent > window_start && sent <= now).collect();
    recent.sort_unstable();

    let mut wait = 0;
    if let Some(&last) = recent.last() {
        wait = wait.max((last + limits.resend_interval_seconds).saturating_sub(now));
    }
    if recent.len() >= limits.max_per_window {
        // The send that must leave the window before one more fits.
        let blocking = recent[recent.len() - limits.max_per_window];
        wait = wait.max(blocking + WINDOW_SECONDS - now);
    }
    if wait > 0 {
        return Err(wait);
    }

    recent.push(now);
    let keep_from = recent.len().saturating_sub(limits.max_per_window);
    Ok(recent.split_off(keep_from))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { resend_interval_seconds: 60, max_per_window: 5 };
    const NOW: u64 = 1_000_000;

    #[test]
    fn first_send_is_admitted() {
        assert_eq!(admit(&[], NOW, LIMITS), Ok(vec![NOW]));
    }

    #[test]
    fn resend_interval_applies() {
        assert_eq!(admit(&[NOW - 59], NOW, LIMITS), Err(1));
        assert_eq!(admit(&[NOW - 1], NOW, LIMITS), Err(59));
        assert_eq!(admit(&[NOW - 60], NOW, LIMITS), Ok(vec![NOW - 60, NOW]));
    }

    #[test]
    fn hourly_maximum_applies() {
        let five = [NOW - 3000, NOW - 2000, NOW - 1000, NOW - 500, NOW - 100];

        assert_eq!(admit(&five, NOW, LIMITS), Err(600));
        assert_eq!(admit(&five, NOW + 600, LIMITS), Ok(vec![NOW - 2000, NOW - 1000, NOW - 500, NOW - 100, NOW + 600]));
    }

    #[test]
    fn old_sends_leave_the_window() {
        let old = [NOW - 3600, NOW - 4000, NOW - 7200];

        assert_eq!(admit(&old, NOW, LIMITS), Ok(vec![NOW]));
    }

    #[test]
    fn wait_is_the_larger_limit() {
        let burst = [NOW - 3590, NOW - 300, NOW - 200, NOW - 100, NOW - 10];

        assert_eq!(admit(&burst, NOW, LIMITS), Err(50));
        assert_eq!(admit(&burst, NOW + 50, LIMITS), Ok(vec![NOW - 300, NOW - 200, NOW - 100, NOW - 10, NOW + 50]));
    }

    #[test]
    fn zero_interval_keeps_hourly_limit() {
        let limits = Limits { resend_interval_seconds: 0, max_per_window: 2 };

        assert_eq!(admit(&[NOW], NOW, limits), Ok(vec![NOW, NOW]));
        assert_eq!(admit(&[NOW, NOW], NOW, limits), Err(3600));
    }

    #[test]
    fn future_entries_are_ignored() {
        assert_eq!(admit(&[NOW + 500], NOW, LIMITS), Ok(vec![NOW]));
    }
}
