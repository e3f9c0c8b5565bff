//! The simulator's clock. Runs progress and rate-limit windows reset against it.
//! The sandbox lets it follow real time; tests freeze it and move it by hand, so
//! a run's progression never depends on how fast the machine is.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<ClockState>>,
}

#[derive(Debug)]
enum ClockState {
    /// Real time plus any manual advances.
    Real {
        offset: chrono::Duration,
    },
    Frozen {
        now: DateTime<Utc>,
    },
}

impl SimClock {
    pub fn real() -> Self {
        Self::with(ClockState::Real {
            offset: chrono::Duration::zero(),
        })
    }

    /// A clock that only moves when told to.
    pub fn frozen_at(now: DateTime<Utc>) -> Self {
        Self::with(ClockState::Frozen { now })
    }

    fn with(state: ClockState) -> Self {
        Self {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &*self.lock() {
            ClockState::Real { offset } => Utc::now() + *offset,
            ClockState::Frozen { now } => *now,
        }
    }

    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        match &mut *self.lock() {
            ClockState::Real { offset } => *offset += by,
            ClockState::Frozen { now } => *now += by,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // The guarded value is plain data that a panicking holder cannot leave
        // half-written, so a poisoned lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = SimClock::frozen_at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!((clock.now() - start).num_seconds(), 90);
    }

    #[test]
    fn real_clock_includes_advances() {
        let clock = SimClock::real();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() > Utc::now() + chrono::Duration::seconds(3500));
    }
}
