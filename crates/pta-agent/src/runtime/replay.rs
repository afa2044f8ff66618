//! The replay window: request ids seen recently, each kept until its deadline plus a slack.

use std::collections::{HashMap, VecDeque};

use pta_wire::{ErrorCode, RequestId};

/// How many request ids the replay window holds at most (about 80 bytes each when full).
/// With the default 10 s deadline and [`REPLAY_SLACK_MS`], an id is held 20 s: the window
/// sustains 10,000 sign-ins/s per agent before answering `Overloaded`.
pub(super) const REPLAY_CAPACITY: usize = 200_000;
/// How long an id stays in the replay window after its deadline. A request past its deadline
/// is refused anyway; the slack only covers a change of the service-to-local clock mapping
/// between sessions. (It was 60 s: with 100,000 ids, one agent then answered `Overloaded` to
/// everything above about 1,400 sign-ins/s sustained.)
pub(super) const REPLAY_SLACK_MS: u64 = 10_000;

/// Request ids seen recently, each kept until its deadline plus a slack.
pub(super) struct ReplayWindow {
    seen: HashMap<RequestId, u64>,
    order: VecDeque<(u64, RequestId)>,
    capacity: usize,
}

impl ReplayWindow {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Records `id`; `Replay` if it is still in the window, `Overloaded` when the window is
    /// full of live ids (never evicted early: that would open a replay hole).
    pub(super) fn insert(&mut self, id: RequestId, now: u64, expiry: u64) -> Result<(), ErrorCode> {
        while let Some(&(exp, old)) = self.order.front() {
            if exp > now {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&old) == Some(&exp) {
                self.seen.remove(&old);
            }
        }
        if let Some(&exp) = self.seen.get(&id)
            && exp > now
        {
            return Err(ErrorCode::Replay);
        }
        if self.seen.len() >= self.capacity {
            self.order.retain(|&(exp, _)| exp > now);
            self.seen.retain(|_, exp| *exp > now);
            if self.seen.len() >= self.capacity {
                return Err(ErrorCode::Overloaded);
            }
        }
        self.seen.insert(id, expiry);
        self.order.push_back((expiry, id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_refuses_repeats_until_expiry_and_is_bounded() {
        let mut w = ReplayWindow::new(2);
        let a = RequestId::from(1u128);
        let b = RequestId::from(2u128);
        let c = RequestId::from(3u128);
        w.insert(a, 0, 100).unwrap();
        assert_eq!(w.insert(a, 50, 150), Err(ErrorCode::Replay));
        w.insert(b, 0, 100).unwrap();
        assert_eq!(w.insert(c, 10, 100), Err(ErrorCode::Overloaded));
        w.insert(c, 100, 200).unwrap();
        w.insert(a, 100, 200).unwrap();
    }

    #[test]
    fn replay_window_sustains_the_target_rate() {
        // 5,000 sign-ins/s for 60 s of virtual time, default 10 s deadlines.
        let mut w = ReplayWindow::new(REPLAY_CAPACITY);
        let per_ms = 5u128;
        for ms in 0..60_000u64 {
            for k in 0..per_ms {
                let id = RequestId::from(u128::from(ms) * per_ms + k);
                assert_eq!(
                    w.insert(id, ms, ms + 10_000 + REPLAY_SLACK_MS),
                    Ok(()),
                    "refused at {ms} ms"
                );
            }
        }
        assert!(w.seen.len() <= REPLAY_CAPACITY);
    }
}
