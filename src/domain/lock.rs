//! The request lock: one mutation at a time per request, across processes and machines. The
//! lock lives in the request document, so taking it is a conditional write of the document;
//! these functions only decide, on the document read, what that write should be.

use serde::Serialize;

use super::request::{Lock, Request};
use super::time::Timestamp;

/// How long a lock lives without a heartbeat. A crashed holder blocks others this long at most.
pub const LOCK_TTL_SECONDS: i64 = 120;
/// How often a holder renews its lock while a step runs.
pub const HEARTBEAT_SECONDS: i64 = 30;

/// Someone else holds the lock and it has not expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBy {
    pub holder: String,
    pub operation: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Display for HeldBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "locked by {} ({}) until {}",
            self.holder,
            self.operation,
            self.expires_at.to_rfc3339()
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Acquired {
    Fresh,
    /// The previous holder's lock had expired (a crash, a lost connection): it is taken over.
    TookOver(Lock),
}

pub fn is_expired(lock: &Lock, now: Timestamp) -> bool {
    lock.expires_at <= now
}

/// Takes the lock for `token` unless someone else holds a live one. Re-taking one's own lock
/// (same token) renews it.
pub fn acquire(
    request: &mut Request,
    holder: &str,
    token: &str,
    operation: &str,
    now: Timestamp,
    ttl_seconds: i64,
) -> Result<Acquired, HeldBy> {
    let outcome = match &request.lock {
        Some(lock) if lock.token.as_deref() == Some(token) => Acquired::Fresh,
        Some(lock) if !is_expired(lock, now) => {
            return Err(HeldBy {
                holder: lock.holder.clone(),
                operation: lock.operation.clone(),
                expires_at: lock.expires_at,
            });
        }
        Some(lock) => Acquired::TookOver((**lock).clone()),
        None => Acquired::Fresh,
    };
    request.lock = Some(Box::new(Lock {
        holder: holder.to_string(),
        operation: operation.to_string(),
        acquired_at: now,
        expires_at: now.plus_seconds(ttl_seconds),
        token: Some(token.to_string()),
    }));
    Ok(outcome)
}

/// Extends the lock `token` holds. `Err` when it was lost (expired and taken over).
pub fn renew(
    request: &mut Request,
    token: &str,
    now: Timestamp,
    ttl_seconds: i64,
) -> Result<(), String> {
    match &mut request.lock {
        Some(lock) if lock.token.as_deref() == Some(token) => {
            lock.expires_at = now.plus_seconds(ttl_seconds);
            Ok(())
        }
        Some(lock) => Err(format!(
            "the lock was taken over by {} ({}) after it expired",
            lock.holder, lock.operation
        )),
        None => Err("the lock was released by someone else".into()),
    }
}

/// Removes the lock if `token` still holds it; someone else's lock is left alone.
pub fn release(request: &mut Request, token: &str) {
    if request
        .lock
        .as_ref()
        .is_some_and(|lock| lock.token.as_deref() == Some(token))
    {
        request.lock = None;
    }
}

/// An expired lock, removed by reconcile; `None` if there is none to remove.
pub fn clear_expired(request: &mut Request, now: Timestamp) -> Option<Lock> {
    if request.lock.as_deref().is_some_and(|l| is_expired(l, now)) {
        request.lock.take().map(|lock| *lock)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000 + seconds).unwrap()
    }

    fn request() -> Request {
        Request::new("req_1", "p", "dev", "m", "alice", at(0))
    }

    #[test]
    fn a_live_lock_keeps_others_out_until_it_expires() {
        let mut request = request();
        assert_eq!(
            acquire(&mut request, "alice@a", "t1", "apply", at(0), 120),
            Ok(Acquired::Fresh)
        );
        let held = acquire(&mut request, "bob@b", "t2", "merge", at(119), 120).unwrap_err();
        assert_eq!(held.holder, "alice@a");
        assert_eq!(held.operation, "apply");
        assert!(
            held.to_string()
                .starts_with("locked by alice@a (apply) until")
        );
        match acquire(&mut request, "bob@b", "t2", "merge", at(120), 120) {
            Ok(Acquired::TookOver(old)) => assert_eq!(old.holder, "alice@a"),
            other => panic!("expected a takeover, got {other:?}"),
        }
        assert_eq!(request.lock.as_deref().unwrap().holder, "bob@b");
    }

    #[test]
    fn renewal_extends_and_detects_a_takeover() {
        let mut request = request();
        acquire(&mut request, "alice@a", "t1", "apply", at(0), 120).unwrap();
        renew(&mut request, "t1", at(100), 120).unwrap();
        assert_eq!(request.lock.as_deref().unwrap().expires_at, at(220));
        assert!(acquire(&mut request, "bob@b", "t2", "merge", at(200), 120).is_err());
        acquire(&mut request, "bob@b", "t2", "merge", at(220), 120).unwrap();
        let lost = renew(&mut request, "t1", at(221), 120).unwrap_err();
        assert!(lost.contains("taken over by bob@b"), "{lost}");
    }

    #[test]
    fn release_only_removes_ones_own_lock() {
        let mut request = request();
        acquire(&mut request, "alice@a", "t1", "apply", at(0), 120).unwrap();
        release(&mut request, "t2");
        assert!(request.lock.is_some());
        release(&mut request, "t1");
        assert!(request.lock.is_none());
    }

    #[test]
    fn reconcile_clears_only_expired_locks() {
        let mut request = request();
        acquire(&mut request, "alice@a", "t1", "apply", at(0), 120).unwrap();
        assert!(clear_expired(&mut request, at(60)).is_none());
        assert_eq!(
            clear_expired(&mut request, at(120)).unwrap().holder,
            "alice@a"
        );
        assert!(request.lock.is_none());
    }
}
