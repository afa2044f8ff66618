//! The change signal of a PostgreSQL store: one dedicated connection that `LISTEN`s on the
//! feed's channel and fires the store's [`ChangeNotifier`] on every notification.
//!
//! ```text
//!   connect --ok--> LISTEN pta_changes --> notify (changes may have been missed)
//!      ^                                      |
//!      |  backoff 100 ms .. 10 s              v
//!      '------- connection lost <----- Notification -> notify
//! ```
//!
//! The task ends when the store (every clone) is dropped: the store holds the sending half of
//! a oneshot channel whose closing the task watches. It never panics; failures are retried
//! with backoff and are invisible to callers (the feed is still read by the fallback poll).

use std::future::poll_fn;
use std::time::Duration;

use pta_store::ChangeNotifier;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel writers `NOTIFY` (`pg_notify('pta_changes', '')`) and the listener `LISTEN`s on.
pub(crate) const CHANNEL: &str = "pta_changes";

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Held by the store: dropping the last clone stops the listener task.
#[derive(Debug)]
pub(crate) struct ListenerGuard {
    _stop: oneshot::Sender<()>,
}

/// Starts the listener task on the current tokio runtime.
pub(crate) fn spawn(config: tokio_postgres::Config, notifier: ChangeNotifier) -> ListenerGuard {
    let (stop_tx, stop_rx) = oneshot::channel();
    tokio::spawn(run(config, notifier, stop_rx));
    ListenerGuard { _stop: stop_tx }
}

async fn run(
    config: tokio_postgres::Config,
    notifier: ChangeNotifier,
    mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            listened = listen_once(&config, &notifier) => {
                if listened {
                    backoff = BACKOFF_MIN;
                }
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection's life: connect, `LISTEN`, fire the notifier on each notification until the
/// connection ends. Returns whether `LISTEN` succeeded (the backoff starts over then).
async fn listen_once(config: &tokio_postgres::Config, notifier: &ChangeNotifier) -> bool {
    let Ok((client, mut connection)) = config.connect(NoTls).await else {
        return false;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The connection must be polled for `LISTEN` to complete and for notifications to arrive.
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if tx.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let _abort = AbortOnDrop(driver);
    if client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .is_err()
    {
        return false;
    }
    // Changes made while no connection listened were not announced.
    notifier.notify();
    while rx.recv().await.is_some() {
        notifier.notify();
    }
    true
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
