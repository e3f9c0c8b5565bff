//! How long the background sync waits before its next poll.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::status::Status;

/// The intervals, overridable in `config.toml` (`[sync]`) and by `TFPILOT_SYNC_INTERVAL_*_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollIntervals {
    /// A plan, apply or destroy run is in flight.
    pub active_ms: u64,
    /// Something is pending, nothing is running.
    pub idle_ms: u64,
    /// The terminal does not have focus.
    pub unfocused_ms: u64,
    /// GitHub said we are rate limited.
    pub rate_limited_ms: u64,
}

impl Default for PollIntervals {
    fn default() -> Self {
        PollIntervals {
            active_ms: 3_000,
            idle_ms: 10_000,
            unfocused_ms: 60_000,
            rate_limited_ms: 60_000,
        }
    }
}

/// What the poller knows when it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollContext<'a> {
    /// Statuses of the requests being watched.
    pub watched: &'a [Status],
    pub focused: bool,
    pub rate_limited: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollDecision {
    After(Duration),
    /// Every watched request is terminal: nothing will change until someone acts.
    Stop,
}

/// Rate limiting wins (back off); then nothing to watch stops; then lost focus slows down; then
/// a running workflow speeds up.
pub fn next_poll(intervals: &PollIntervals, context: PollContext<'_>) -> PollDecision {
    let ms = if context.rate_limited {
        intervals.rate_limited_ms
    } else if context.watched.iter().all(|s| s.is_terminal()) {
        return PollDecision::Stop;
    } else if !context.focused {
        intervals.unfocused_ms
    } else if context.watched.iter().any(|s| s.is_active()) {
        intervals.active_ms
    } else {
        intervals.idle_ms
    };
    PollDecision::After(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(watched: &[Status], focused: bool, rate_limited: bool) -> PollDecision {
        next_poll(
            &PollIntervals::default(),
            PollContext {
                watched,
                focused,
                rate_limited,
            },
        )
    }

    fn after(ms: u64) -> PollDecision {
        PollDecision::After(Duration::from_millis(ms))
    }

    #[test]
    fn defaults_match_the_policy() {
        assert_eq!(decide(&[Status::Applying], true, false), after(3_000));
        assert_eq!(
            decide(&[Status::PlanReady, Status::Approved], true, false),
            after(10_000)
        );
        assert_eq!(decide(&[Status::Applying], false, false), after(60_000));
        assert_eq!(decide(&[Status::Applying], true, true), after(60_000));
        assert_eq!(
            decide(&[Status::Applied, Status::Failed], true, false),
            PollDecision::Stop
        );
        assert_eq!(decide(&[], true, false), PollDecision::Stop);
    }

    #[test]
    fn one_live_request_among_terminal_ones_keeps_polling() {
        assert_eq!(
            decide(&[Status::Applied, Status::Destroying], true, false),
            after(3_000)
        );
        assert_eq!(
            decide(&[Status::Failed, Status::Merged], true, false),
            after(10_000)
        );
    }

    #[test]
    fn overrides_are_used() {
        let intervals = PollIntervals {
            active_ms: 500,
            ..PollIntervals::default()
        };
        let decision = next_poll(
            &intervals,
            PollContext {
                watched: &[Status::Planning],
                focused: true,
                rate_limited: false,
            },
        );
        assert_eq!(decision, after(500));
    }
}
