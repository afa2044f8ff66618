//! A directory whose checks are CPU work, run on tokio's blocking pool.
//!
//! The memory directory computes Argon2id on the calling task (tens of milliseconds per check
//! in a release build). The `pta-agent` binary runs everything else on one thread (a
//! current-thread runtime): done there, one check would hold up the session and every other
//! request for its whole duration. [`OnBlockingPool`] moves each call to the blocking pool.

use std::sync::Arc;

use async_trait::async_trait;
use pta_directory::{Directory, DirectoryError, Outcome, Password};

/// Runs every call of the wrapped directory on tokio's blocking pool.
pub(crate) struct OnBlockingPool<D>(Arc<D>);

impl<D> OnBlockingPool<D> {
    pub(crate) fn new(directory: D) -> Self {
        Self(Arc::new(directory))
    }
}

/// Runs `work` (a call of the wrapped directory) on the blocking pool of the current runtime.
/// Outside a runtime (never the case in the agent) it runs on the caller's thread.
async fn offload<D, F, Fut>(directory: &Arc<D>, work: F) -> Result<Outcome, DirectoryError>
where
    D: Directory + 'static,
    F: FnOnce(Arc<D>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Outcome, DirectoryError>> + Send,
{
    let directory = directory.clone();
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return work(directory).await;
    };
    let runtime = handle.clone();
    handle
        .spawn_blocking(move || runtime.block_on(work(directory)))
        .await
        // The check panicked or the runtime is shutting down: no verdict was reached.
        .unwrap_or(Err(DirectoryError::Unavailable { tried: 1 }))
}

#[async_trait]
impl<D: Directory + 'static> Directory for OnBlockingPool<D> {
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError> {
        let (login, password) = (login.to_owned(), password.clone());
        offload(&self.0, move |d| async move {
            d.authenticate(&login, &password).await
        })
        .await
    }

    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError> {
        let (login, old, new) = (login.to_owned(), old.clone(), new.clone());
        offload(&self.0, move |d| async move {
            d.change_password(&login, &old, &new).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pta_directory::{Directory, MemoryDirectory, MemoryUser, Password, Verdict};

    use super::OnBlockingPool;

    fn directory() -> MemoryDirectory {
        // Argon2's default cost: a check takes long enough to hold up a single thread.
        let hash = MemoryDirectory::hash_password(&Password::new("correct horse")).unwrap();
        MemoryDirectory::from_users(vec![MemoryUser::new("alice@example.test", hash)]).unwrap()
    }

    /// On a current-thread runtime a task spawned after the check runs before the check ends:
    /// the check does not hold the runtime's one thread. Inline, the check would finish first.
    #[test]
    fn a_check_does_not_hold_up_a_current_thread_runtime() {
        for (offloaded, other_runs_first) in [(true, true), (false, false)] {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let dir: Arc<dyn Directory> = if offloaded {
                Arc::new(OnBlockingPool::new(directory()))
            } else {
                Arc::new(directory())
            };
            let order = Arc::new(AtomicUsize::new(0));
            let (check_at, other_at) = runtime.block_on(async {
                let (o1, o2) = (order.clone(), order.clone());
                let check = tokio::spawn(async move {
                    let outcome = dir
                        .authenticate("alice@example.test", &Password::new("correct horse"))
                        .await
                        .unwrap();
                    assert_eq!(outcome.verdict, Verdict::Success);
                    o1.fetch_add(1, Ordering::SeqCst)
                });
                let other = tokio::spawn(async move { o2.fetch_add(1, Ordering::SeqCst) });
                (check.await.unwrap(), other.await.unwrap())
            });
            assert_eq!(
                other_at < check_at,
                other_runs_first,
                "offloaded: {offloaded}"
            );
        }
    }

    #[tokio::test]
    async fn verdicts_and_changes_pass_through() {
        let dir = OnBlockingPool::new(directory());
        let wrong = dir
            .authenticate("alice@example.test", &Password::new("wrong"))
            .await
            .unwrap();
        assert_eq!(wrong.verdict, Verdict::InvalidCredentials);
        let changed = dir
            .change_password(
                "alice@example.test",
                &Password::new("correct horse"),
                &Password::new("battery staple"),
            )
            .await
            .unwrap();
        assert_eq!(changed.verdict, Verdict::Success);
        let after = dir
            .authenticate("alice@example.test", &Password::new("battery staple"))
            .await
            .unwrap();
        assert_eq!(after.verdict, Verdict::Success);
    }
}
