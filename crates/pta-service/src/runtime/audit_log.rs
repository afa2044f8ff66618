//! Audit events off the hot path: a bounded queue and one writer task that appends them in
//! batches.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use crate::{AuditEvent, Store};

use super::metrics::Metrics;

/// Most events appended in one transaction.
const BATCH: usize = 256;

/// What the writer receives.
#[derive(Debug)]
pub(crate) enum AuditMsg {
    /// An event to append.
    Event(AuditEvent),
    /// Answer once every event queued before this one was handed to the store.
    Flush(oneshot::Sender<()>),
}

/// Appends queued events until every sender is gone. A failed append is counted as dropped
/// events (and logged), never retried: the store is down and the queue must not grow.
pub(crate) async fn writer(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<AuditMsg>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                AuditMsg::Event(e) => batch.push(e),
                AuditMsg::Flush(done) => flushes.push(done),
            }
            next = if batch.len() < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            if let Err(e) = store.append_audit(&batch).await {
                tracing::error!(error = %e, events = batch.len(), "audit append failed");
                metrics
                    .audit_dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use tokio::sync::{mpsc, oneshot};

    use super::{AuditMsg, writer};
    use crate::runtime::metrics::Metrics;
    use crate::{AuditEvent, AuditKind, AuditOutcome, AuditQuery, MemoryStore, Store, TenantId};

    #[tokio::test]
    async fn writes_in_order_and_answers_flushes() {
        let store = Arc::new(MemoryStore::new());
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = mpsc::channel(1_000);
        let task = tokio::spawn(writer(store.clone(), metrics.clone(), rx));
        let tenant = TenantId::from_bytes([7; 16]);
        for i in 0..600 {
            let e = AuditEvent::new(i, AuditKind::SignIn, AuditOutcome::Ok).with_tenant(tenant);
            assert!(tx.send(AuditMsg::Event(e)).await.is_ok());
        }
        let (done, wait) = oneshot::channel();
        assert!(tx.send(AuditMsg::Flush(done)).await.is_ok());
        assert!(wait.await.is_ok());
        let events = store
            .audit_events(&AuditQuery::new(tenant, 0, u64::MAX, 1_000))
            .await
            .unwrap_or_default();
        assert_eq!(events.len(), 600);
        assert!(events.windows(2).all(|w| w[0].time < w[1].time));
        drop(tx);
        assert!(task.await.is_ok());
        assert_eq!(metrics.audit_dropped.load(Ordering::Relaxed), 0);
    }
}
