//! Outstanding requests with deadlines, and a bounded memory of expired ids so that late
//! answers are told apart from answers to ids that never existed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use crate::codes::RequestId;

/// What kind of request an entry is (responses must match).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReqKind {
    SignIn,
    PasswordChange,
}

/// Result of looking up an answered id.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    Outstanding(ReqKind),
    /// Expired recently: the answer is late.
    Late,
    Unknown,
}

pub(crate) struct InFlight {
    map: HashMap<RequestId, (u64, ReqKind)>,
    heap: BinaryHeap<Reverse<(u64, RequestId)>>,
    expired: VecDeque<RequestId>,
    expired_set: HashSet<RequestId>,
    expired_cap: usize,
}

impl InFlight {
    pub(crate) fn new(expired_cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            heap: BinaryHeap::new(),
            expired: VecDeque::new(),
            expired_set: HashSet::new(),
            expired_cap,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn footprint(&self) -> usize {
        self.map.len() + self.heap.len() + self.expired.len() + self.expired_set.len()
    }

    pub(crate) fn contains(&self, id: &RequestId) -> bool {
        self.map.contains_key(id)
    }

    /// Adds an entry; `false` if the id is already outstanding.
    pub(crate) fn insert(&mut self, id: RequestId, deadline: u64, kind: ReqKind) -> bool {
        if self.map.contains_key(&id) {
            return false;
        }
        self.map.insert(id, (deadline, kind));
        // A fresh id must not be mistaken for a late one.
        if self.expired_set.remove(&id) {
            self.expired.retain(|x| *x != id);
        }
        self.heap.push(Reverse((deadline, id)));
        if self.heap.len() > 2 * self.map.len() + 64 {
            self.heap = self
                .map
                .iter()
                .map(|(id, (d, _))| Reverse((*d, *id)))
                .collect();
        }
        true
    }

    pub(crate) fn lookup(&self, id: &RequestId) -> Lookup {
        match self.map.get(id) {
            Some((_, kind)) => Lookup::Outstanding(*kind),
            None if self.expired_set.contains(id) => Lookup::Late,
            None => Lookup::Unknown,
        }
    }

    /// Removes an outstanding entry (answered); a late id is forgotten so that a second late
    /// answer with the same id counts as unknown.
    pub(crate) fn remove(&mut self, id: &RequestId) {
        if self.map.remove(id).is_none() && self.expired_set.remove(id) {
            self.expired.retain(|x| x != id);
        }
        self.clean_top();
    }

    fn clean_top(&mut self) {
        while let Some(Reverse((d, id))) = self.heap.peek() {
            if self.map.get(id).is_some_and(|(dd, _)| dd == d) {
                break;
            }
            self.heap.pop();
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// Removes every entry whose deadline is at or before `now`, calling `f` once for each.
    pub(crate) fn expire(&mut self, now: u64, mut f: impl FnMut(RequestId)) -> u64 {
        let mut expired = 0u64;
        self.clean_top();
        while let Some(Reverse((d, id))) = self.heap.peek().copied() {
            if d > now {
                break;
            }
            self.heap.pop();
            if self.map.get(&id).is_some_and(|(dd, _)| *dd == d) {
                self.map.remove(&id);
                self.remember_expired(id);
                expired += 1;
                f(id);
            }
            self.clean_top();
        }
        expired
    }

    fn remember_expired(&mut self, id: RequestId) {
        if self.expired_cap == 0 {
            return;
        }
        if self.expired.len() >= self.expired_cap
            && let Some(old) = self.expired.pop_front()
        {
            self.expired_set.remove(&old);
        }
        self.expired.push_back(id);
        self.expired_set.insert(id);
    }

    /// Removes every outstanding entry (the session closed), in deadline order.
    pub(crate) fn take_all(&mut self) -> Vec<RequestId> {
        let mut v: Vec<(u64, RequestId)> = self.map.drain().map(|(id, (d, _))| (d, id)).collect();
        v.sort_unstable();
        self.heap.clear();
        v.into_iter().map(|(_, id)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> RequestId {
        RequestId::from(n)
    }

    #[test]
    fn expires_once_in_deadline_order_and_recognises_late() {
        let mut f = InFlight::new(2);
        assert!(f.insert(id(1), 30, ReqKind::SignIn));
        assert!(f.insert(id(2), 10, ReqKind::SignIn));
        assert!(f.insert(id(3), 20, ReqKind::PasswordChange));
        assert!(!f.insert(id(3), 25, ReqKind::SignIn));
        assert_eq!(f.next_deadline(), Some(10));
        let mut got = Vec::new();
        f.expire(20, |i| got.push(i));
        assert_eq!(got, vec![id(2), id(3)]);
        f.expire(20, |i| got.push(i));
        assert_eq!(got.len(), 2);
        assert_eq!(f.lookup(&id(2)), Lookup::Late);
        assert_eq!(f.lookup(&id(1)), Lookup::Outstanding(ReqKind::SignIn));
        assert_eq!(f.lookup(&id(9)), Lookup::Unknown);
        f.remove(&id(2));
        assert_eq!(f.lookup(&id(2)), Lookup::Unknown);
        f.remove(&id(1));
        assert_eq!(f.next_deadline(), None);
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn expired_memory_is_bounded() {
        let mut f = InFlight::new(3);
        for n in 0..10 {
            f.insert(id(n), n as u64, ReqKind::SignIn);
        }
        f.expire(100, |_| {});
        assert_eq!(f.lookup(&id(9)), Lookup::Late);
        assert_eq!(f.lookup(&id(6)), Lookup::Unknown);
        assert!(f.footprint() <= 6);
    }

    #[test]
    fn heap_stays_bounded_when_answers_come_early() {
        let mut f = InFlight::new(0);
        // A long-lived entry at the top keeps answered entries' heap slots from being popped.
        f.insert(id(u128::MAX), 1, ReqKind::SignIn);
        for n in 0..10_000u128 {
            f.insert(id(n), 1_000 + n as u64, ReqKind::SignIn);
            f.remove(&id(n));
        }
        assert_eq!(f.len(), 1);
        assert!(f.footprint() <= 1 + 2 + 64 + 1, "{}", f.footprint());
    }
}
