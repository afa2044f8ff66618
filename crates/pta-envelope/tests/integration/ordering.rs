//! PendingGrants across threads: a grant opened on another thread while an envelope sealed
//! under its session key has already missed the key.

use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use pta_envelope::{Opener, OpenerConfig, PendingGrants, RsaIdentity, Sealer, SealerConfig};

use crate::{BOUND, rsa};

/// Runs a future on this thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn a_miss_during_a_grant_open_on_another_thread_waits_and_opens() {
    let agent = rsa(2048).to_recipient();
    let opener: Arc<Mutex<Opener<&'static RsaIdentity>>> =
        Arc::new(Mutex::new(Opener::new(rsa(2048), OpenerConfig::default())));
    let pending = PendingGrants::new();
    let mut sealer = Sealer::new(SealerConfig::default());
    for round in 0..3u64 {
        // A new epoch each round: the first envelope carries the grant.
        if round > 0 {
            sealer = Sealer::new(SealerConfig::default());
        }
        let grant = sealer
            .seal(round, &agent, b"grant", BOUND)
            .unwrap()
            .envelope;
        let next = sealer.seal(round, &agent, b"next", BOUND).unwrap().envelope;
        let by_grant = pending.arrive(&grant);
        let by_next = pending.arrive(&next);

        let (missed_tx, missed_rx) = mpsc::channel();
        let grant_opener = opener.clone();
        let grant_thread = std::thread::spawn(move || {
            // Starts only once the session-key envelope has missed its key.
            missed_rx.recv().unwrap();
            by_grant
                .open(|| grant_opener.lock().unwrap().open(round, &grant, BOUND))
                .map(|o| o.secret.expose().to_vec())
        });
        let mut tries = 0;
        let opened = block_on(by_next.open_after_grants(|| {
            let r = opener.lock().unwrap().open(round, &next, BOUND);
            tries += 1;
            if tries == 1 {
                assert!(r.is_err(), "the grant is not opened yet");
                missed_tx.send(()).unwrap();
            }
            r
        }));
        assert_eq!(opened.unwrap().secret.expose(), b"next");
        assert_eq!(tries, 2);
        assert_eq!(grant_thread.join().unwrap().unwrap(), b"grant");
        assert_eq!(pending.in_flight(), 0);
    }
}
