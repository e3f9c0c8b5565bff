//! Where the engine reads the time. The domain never reads a clock; the engine reads this one,
//! so tests can run lock expiry and heartbeats on tokio's paused clock.

use std::sync::Arc;

use crate::domain::Timestamp;

#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Clock(Arc::new(|| Timestamp(chrono::Utc::now())))
    }

    /// `start` plus the time tokio's clock has moved since now: follows
    /// `tokio::time::pause`/`advance` in tests, and real time otherwise.
    pub fn tokio_from(start: Timestamp) -> Self {
        let origin = tokio::time::Instant::now();
        Clock(Arc::new(move || {
            let elapsed = origin.elapsed();
            let millis = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
            Timestamp(start.0 + chrono::Duration::milliseconds(millis))
        }))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now().to_rfc3339())
    }
}
