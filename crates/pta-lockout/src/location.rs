//! Where an attempt comes from: its location (for familiar / unfamiliar counting) and its
//! source (for spray detection).

use std::net::IpAddr;

/// An opaque location key, compared only for equality.
///
/// A location is familiar to a user after a successful sign-in from it (see [`Policy`]); failures
/// from familiar and from unfamiliar locations are counted and locked separately, so an attacker
/// elsewhere cannot lock the user out where the user usually signs in.
///
/// [`Location::from_ip`] maps an address to its network prefix without collisions; callers with
/// their own notion (a device id, a named site) pass any 64-bit value through
/// [`Location::from_raw`]. Use one scheme per deployment: raw values may coincide with prefixes.
///
/// [`Policy`]: crate::Policy
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Location(u64);

impl Location {
    /// No location known: never familiar, so attempts count as unfamiliar, and a success from it
    /// remembers nothing.
    pub const UNKNOWN: Self = Self(0);

    const V4: u64 = 1 << 62;
    const V6: u64 = 2 << 62;

    /// Wraps a caller-defined key. `0` is [`Location::UNKNOWN`].
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The location of an address: its IPv4 /24 or its IPv6 /48 (an IPv4-mapped IPv6 address
    /// counts as IPv4). Distinct prefixes give distinct locations.
    #[must_use]
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(Self::V4 | u64::from(u32::from(v4) >> 8)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::from_ip(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) >> 80;
                    Self(Self::V6 | (bits as u64))
                }
            },
        }
    }

    /// The key's value.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        self.0
    }

    pub(crate) const fn is_unknown(self) -> bool {
        self.0 == 0
    }
}

/// The network source of an attempt, for spray detection.
///
/// [`Source::from_ip`] keeps a whole IPv4 address and an IPv6 /64 (one host usually owns a
/// whole /64, so counting per address would let it rotate addresses). Callers behind a proxy
/// must pass the client's address, not the proxy's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Source(u128);

impl Source {
    /// Wraps a caller-defined key.
    #[must_use]
    pub const fn from_raw(raw: u128) -> Self {
        Self(raw)
    }

    /// The source of an address: the IPv4 address, or the IPv6 /64 (an IPv4-mapped IPv6 address
    /// counts as IPv4).
    #[must_use]
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(u128::from(v4.to_ipv6_mapped())),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::from_ip(IpAddr::V4(v4)),
                None => Self(u128::from(v6) & !u128::from(u64::MAX)),
            },
        }
    }

    /// The key's value.
    #[must_use]
    pub const fn to_raw(self) -> u128 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_locations_are_slash_24() {
        assert_eq!(
            Location::from_ip(ip("192.0.2.1")),
            Location::from_ip(ip("192.0.2.254"))
        );
        assert_ne!(
            Location::from_ip(ip("192.0.2.1")),
            Location::from_ip(ip("192.0.3.1"))
        );
        assert_eq!(
            Location::from_ip(ip("::ffff:192.0.2.9")),
            Location::from_ip(ip("192.0.2.1"))
        );
    }

    #[test]
    fn ipv6_locations_are_slash_48() {
        assert_eq!(
            Location::from_ip(ip("2001:db8:1::1")),
            Location::from_ip(ip("2001:db8:1:ffff::2"))
        );
        assert_ne!(
            Location::from_ip(ip("2001:db8:1::1")),
            Location::from_ip(ip("2001:db8:2::1"))
        );
    }

    #[test]
    fn families_never_collide_and_never_unknown() {
        let v4 = Location::from_ip(ip("0.0.0.0"));
        let v6 = Location::from_ip(ip("::"));
        assert_ne!(v4, v6);
        assert!(!v4.is_unknown());
        assert!(!v6.is_unknown());
        assert!(Location::UNKNOWN.is_unknown());
    }

    #[test]
    fn sources_are_address_or_slash_64() {
        assert_ne!(
            Source::from_ip(ip("192.0.2.1")),
            Source::from_ip(ip("192.0.2.2"))
        );
        assert_eq!(
            Source::from_ip(ip("2001:db8::1")),
            Source::from_ip(ip("2001:db8::ffff:2"))
        );
        assert_ne!(
            Source::from_ip(ip("2001:db8:0:1::1")),
            Source::from_ip(ip("2001:db8:0:2::1"))
        );
        assert_eq!(
            Source::from_ip(ip("::ffff:192.0.2.1")),
            Source::from_ip(ip("192.0.2.1"))
        );
    }
}
