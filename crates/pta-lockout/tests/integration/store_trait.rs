//! The store through its async trait object, as a service would hold it.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use pta_lockout::{Decision, LockoutError, LockoutStore, Outcome, Policy};

use crate::{attempt, store};

#[cfg(test)]
/// Polls a future once: the in-memory store's futures are ready at once, and a test that
/// received `Pending` must fail rather than hang.
fn ready<T>(f: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("memory store future was not ready"),
    }
}

#[test]
fn memory_store_through_the_trait() -> Result<(), LockoutError> {
    let mut policy = Policy::default();
    policy.threshold = 2;
    let s = store(policy);
    let dyn_store: &dyn LockoutStore = &s;
    let a = attempt(1, 1, 1, 1);
    assert_eq!(ready(dyn_store.check(0, &a))?, Decision::Allow);
    ready(dyn_store.record(0, &a, Outcome::InvalidCredentials))?;
    ready(dyn_store.record(0, &attempt(1, 1, 1, 2), Outcome::InvalidCredentials))?;
    assert!(matches!(
        ready(dyn_store.check(0, &attempt(1, 1, 1, 3)))?,
        Decision::Locked { until: 60_000 }
    ));
    let status = ready(dyn_store.user_status(0, a.user))?;
    assert_eq!(status.unfamiliar.locked_until, Some(60_000));
    assert!(ready(dyn_store.unlock_user(a.user))?);
    assert!(ready(dyn_store.check(0, &attempt(1, 1, 1, 3)))?.is_allow());
    assert_eq!(
        ready(dyn_store.source_status(0, a.source))?.distinct_users,
        1
    );
    assert!(ready(dyn_store.unblock_source(a.source))?);
    assert!(!ready(dyn_store.unblock_source(a.source))?);
    Ok(())
}

#[test]
fn backend_error_keeps_its_cause() {
    let cause = std::io::Error::other("connection refused");
    let err = LockoutError::Backend(Box::new(cause));
    assert_eq!(err.to_string(), "lockout store backend failed");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("connection refused"));
}
