//! Grants in flight: a session-key open that misses its key waits for the grants that arrived
//! before it, then tries once more.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::{Envelope, OpenError, Opened, Stanza};

/// The order in which envelopes arrived, as far as session-key grants are concerned.
///
/// The first envelope of an epoch carries a [`Stanza::SessionKeyGrant`]: opening it costs an
/// RSA decryption (milliseconds, so an agent runs it on a thread that may block), and only then
/// does the [`Opener`](crate::Opener) know the session key. The envelopes sealed right after it
/// under that session key open in microseconds; on a multi-threaded agent they can reach the
/// opener before the grant has finished, miss the key and be answered `UnknownSessionKey`, so
/// the service resends them with a grant of their own (a second RSA open). `PendingGrants`
/// records which grants are being opened, in arrival order, so that such an open waits for the
/// grants that arrived before it and then tries once more.
///
/// It does no I/O and needs no particular async runtime: the wait is a plain [`Future`] woken
/// when a grant's open finishes. Clones share the same record.
///
/// # Call order
///
/// ```text
///  envelope arrives --> arrive(&envelope) -> Arrival     (in arrival order, before handing
///                          |                              the envelope to another task)
///          needs_rsa()? ---+--- yes --> Arrival::open(f)  (on a thread that may block; the
///                          |                               grant counts as opened when f
///                          |                               returns or the Arrival drops)
///                          +--- no ---> Arrival::open_after_grants(f).await
///                                         f(); on UnknownSessionKey, wait for the grants
///                                         that arrived earlier, then f() once more
/// ```
///
/// `f` opens the envelope with the caller's [`Opener`](crate::Opener) (or several, one per
/// agent key), whatever lock the caller keeps it behind.
///
/// # Example
///
/// ```
/// use std::sync::Mutex;
/// use pta_envelope::{Opener, OpenerConfig, PendingGrants, RsaIdentity, Sealer, SealerConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let der = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/rsa2048.pk8.der"))?;
/// let key = RsaIdentity::from_pkcs8_der(&der)?;
/// let agent = key.to_recipient();
/// let opener = Mutex::new(Opener::new(key, OpenerConfig::default()));
/// let pending = PendingGrants::new();
/// let mut sealer = Sealer::new(SealerConfig::default());
///
/// let grant = sealer.seal(0, &agent, b"first", b"bound")?.envelope; // carries the grant
/// let next = sealer.seal(1, &agent, b"second", b"bound")?.envelope; // session key only
/// let (a, b) = (pending.arrive(&grant), pending.arrive(&next));
/// assert!(a.needs_rsa() && !b.needs_rsa());
///
/// // Usually on two tasks; `b` would wait here until `a` is opened.
/// let first = a.open(|| opener.lock().unwrap().open(0, &grant, b"bound"))?;
/// assert_eq!(first.secret.expose(), b"first");
/// # let second = b.open(|| opener.lock().unwrap().open(1, &next, b"bound"))?;
/// # assert_eq!(second.secret.expose(), b"second");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct PendingGrants {
    ledger: Arc<Mutex<Ledger>>,
}

impl std::fmt::Debug for PendingGrants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingGrants")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

#[derive(Default)]
struct Ledger {
    /// The number the next grant gets.
    next: u64,
    /// The grants arrived and not opened yet.
    open: BTreeSet<u64>,
    /// Opens waiting for some of them.
    waiters: Vec<Waker>,
}

fn lock(ledger: &Mutex<Ledger>) -> MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PendingGrants {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `envelope` arrived. Call it for every envelope in the order they arrived,
    /// before opening any of them.
    pub fn arrive(&self, envelope: &Envelope) -> Arrival {
        let stanzas = envelope.stanzas();
        let kind = if stanzas
            .iter()
            .any(|s| matches!(s, Stanza::SessionKeyGrant { .. }))
        {
            let mut ledger = lock(&self.ledger);
            let n = ledger.next;
            ledger.next += 1;
            ledger.open.insert(n);
            Kind::Grant(n)
        } else if stanzas.iter().any(|s| matches!(s, Stanza::RsaOaep { .. })) {
            Kind::Rsa
        } else {
            Kind::SessionKey {
                after: lock(&self.ledger).next,
            }
        };
        Arrival {
            ledger: self.ledger.clone(),
            kind,
        }
    }

    /// How many grants arrived and are not opened yet.
    pub fn in_flight(&self) -> usize {
        lock(&self.ledger).open.len()
    }
}

/// One envelope's place in the arrival order, from [`PendingGrants::arrive`]. For a grant, the
/// grant counts as in flight until [`Arrival::open`] (or [`Arrival::open_after_grants`])
/// returns or the `Arrival` is dropped, whatever the outcome.
#[must_use = "an Arrival holds its grant in flight until it is opened or dropped"]
pub struct Arrival {
    ledger: Arc<Mutex<Ledger>>,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Carries a grant: the number it holds in the ledger.
    Grant(u64),
    /// Carries an RSA content-key stanza, no grant.
    Rsa,
    /// Session-key stanzas only; the grants numbered below `after` arrived before it.
    SessionKey { after: u64 },
}

impl std::fmt::Debug for Arrival {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrival").field("kind", &self.kind).finish()
    }
}

impl Arrival {
    /// Whether opening may cost an RSA decryption (the envelope carries a grant or an RSA
    /// stanza): run [`Arrival::open`] where blocking for milliseconds is acceptable.
    pub fn needs_rsa(&self) -> bool {
        !matches!(self.kind, Kind::SessionKey { .. })
    }

    /// Opens with `open`, once, without waiting; a grant counts as opened when it returns.
    /// For envelopes that [`need RSA`](Arrival::needs_rsa).
    ///
    /// # Errors
    ///
    /// What `open` returns.
    pub fn open<F>(self, open: F) -> Result<Opened, OpenError>
    where
        F: FnOnce() -> Result<Opened, OpenError>,
    {
        let opened = open();
        drop(self);
        opened
    }

    /// Opens with `open`; if that answers [`OpenError::UnknownSessionKey`] while grants that
    /// arrived before this envelope are still being opened, waits for them and calls `open`
    /// once more. Without such grants the first answer stands (the sealer resends with a
    /// grant). For envelopes that do not [`need RSA`](Arrival::needs_rsa); any other envelope
    /// is opened once, as by [`Arrival::open`].
    ///
    /// # Errors
    ///
    /// What the last call of `open` returns.
    pub async fn open_after_grants<F>(self, mut open: F) -> Result<Opened, OpenError>
    where
        F: FnMut() -> Result<Opened, OpenError>,
    {
        let first = open();
        let Kind::SessionKey { after } = self.kind else {
            return first;
        };
        match first {
            Err(OpenError::UnknownSessionKey(_)) if self.earlier_grants_open(after) => {
                GrantsOpened {
                    ledger: &self.ledger,
                    before: after,
                }
                .await;
                open()
            }
            other => other,
        }
    }

    fn earlier_grants_open(&self, before: u64) -> bool {
        lock(&self.ledger).open.range(..before).next().is_some()
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        let Kind::Grant(n) = self.kind else {
            return;
        };
        let waiters = {
            let mut ledger = lock(&self.ledger);
            ledger.open.remove(&n);
            std::mem::take(&mut ledger.waiters)
        };
        // Every waiter checks again; those still waiting for another grant register again.
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// Ready once no grant numbered below `before` is in flight.
struct GrantsOpened<'a> {
    ledger: &'a Mutex<Ledger>,
    before: u64,
}

impl Future for GrantsOpened<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut ledger = lock(self.ledger);
        if ledger.open.range(..self.before).next().is_none() {
            return Poll::Ready(());
        }
        if !ledger.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            ledger.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::Mutex;
    use std::task::{Context, Poll, Waker};

    use crate::{OpenError, Opener, OpenerConfig, PendingGrants, RsaIdentity, Sealer};

    const BOUND: &[u8] = b"bound";

    fn identity() -> RsaIdentity {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/rsa2048.pk8.der");
        RsaIdentity::from_pkcs8_der(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn a_session_key_open_waits_for_the_grant_that_arrived_first() {
        let key = identity();
        let agent = key.to_recipient();
        let opener = Mutex::new(Opener::new(key, OpenerConfig::default()));
        let pending = PendingGrants::new();
        let mut sealer = Sealer::new(crate::SealerConfig::default());
        let grant = sealer.seal(0, &agent, b"one", BOUND).unwrap().envelope;
        let next = sealer.seal(1, &agent, b"two", BOUND).unwrap().envelope;

        let a = pending.arrive(&grant);
        let b = pending.arrive(&next);
        assert!(a.needs_rsa() && !b.needs_rsa());
        assert_eq!(pending.in_flight(), 1);

        // The session-key envelope reaches the opener first: it misses, and waits.
        let tries = std::cell::Cell::new(0);
        let mut waiting = pin!(b.open_after_grants(|| {
            tries.set(tries.get() + 1);
            opener.lock().unwrap().open(1, &next, BOUND)
        }));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());

        let opened = a.open(|| opener.lock().unwrap().open(0, &grant, BOUND));
        assert_eq!(opened.unwrap().secret.expose(), b"one");
        assert_eq!(pending.in_flight(), 0);
        match waiting.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(o)) => assert_eq!(o.secret.expose(), b"two"),
            other => panic!("expected the second open to succeed, got {other:?}"),
        }
        assert_eq!(tries.get(), 2);
    }

    #[test]
    fn only_earlier_grants_are_waited_for_and_a_dropped_grant_releases() {
        let key = identity();
        let agent = key.to_recipient();
        let opener = Mutex::new(Opener::new(key, OpenerConfig::default()));
        let pending = PendingGrants::new();
        let mut old = Sealer::new(crate::SealerConfig::default());
        let _lost = old.seal(0, &agent, b"lost grant", BOUND).unwrap();
        let early = old.seal(1, &agent, b"early", BOUND).unwrap().envelope;
        let mut fresh = Sealer::new(crate::SealerConfig::default());
        let grant = fresh.seal(2, &agent, b"g", BOUND).unwrap().envelope;

        // Arrived before the grant: answered at once, without waiting for it.
        let e = pending.arrive(&early);
        let g = pending.arrive(&grant);
        let mut cx = Context::from_waker(Waker::noop());
        let mut f = pin!(e.open_after_grants(|| opener.lock().unwrap().open(3, &early, BOUND)));
        assert!(matches!(
            f.as_mut().poll(&mut cx),
            Poll::Ready(Err(OpenError::UnknownSessionKey(_)))
        ));

        // Arrived after a grant whose open is abandoned: released when the Arrival drops,
        // and the retry's answer stands.
        let late = old.seal(4, &agent, b"late", BOUND).unwrap().envelope;
        let l = pending.arrive(&late);
        let mut f = pin!(l.open_after_grants(|| opener.lock().unwrap().open(5, &late, BOUND)));
        assert!(f.as_mut().poll(&mut cx).is_pending());
        drop(g);
        assert!(matches!(
            f.as_mut().poll(&mut cx),
            Poll::Ready(Err(OpenError::UnknownSessionKey(_)))
        ));
    }
}
