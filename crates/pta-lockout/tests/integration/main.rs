//! Integration tests of pta-lockout: scenarios, the async store trait, and property tests of the
//! policy's invariants.

mod properties;
mod scenarios;
mod store_trait;

pub use support::{SEC, attempt, store};

/// Helpers shared by the test modules.
#[cfg(test)]
mod support {
    use pta_lockout::UserKey;
    use pta_lockout::{
        Attempt, Location, MemoryStore, MemoryStoreLimits, PasswordTag, Policy, Source,
    };

    /// Milliseconds in a second.
    pub const SEC: u64 = 1_000;

    /// An attempt from small integer keys.
    pub fn attempt(user: u64, source: u128, location: u64, tag: u32) -> Attempt {
        Attempt::new(
            UserKey::from_raw(user),
            Source::from_raw(source),
            Location::from_raw(location),
            PasswordTag::from_raw(tag),
        )
    }

    /// A store with `policy` and generous limits.
    pub fn store(policy: Policy) -> MemoryStore {
        MemoryStore::new(policy, MemoryStoreLimits::default()).unwrap()
    }
}
