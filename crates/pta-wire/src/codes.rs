//! Stable numeric registries: verdicts, error codes, close reasons, warnings, capabilities.
//!
//! The numbers are part of the wire format (`docs/PROTOCOL.md`, "Registries") and never change
//! meaning. A code this version does not know decodes to the `Unknown(n)` variant and encodes
//! back to the same `n`, so a newer peer's codes survive a round trip.

macro_rules! registry {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $code:literal => $label:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A code this version does not know (sent by a newer peer).
            Unknown(u32),
        }

        impl $name {
            /// The code's number on the wire.
            pub fn code(self) -> u32 {
                match self {
                    $( Self::$variant => $code, )*
                    Self::Unknown(n) => n,
                }
            }

            /// The value for a wire number; unknown numbers give `Unknown(n)`.
            pub fn from_code(n: u32) -> Self {
                match n {
                    $( $code => Self::$variant, )*
                    n => Self::Unknown(n),
                }
            }

            /// The stable `snake_case` name: the one table that the service's JSON fields,
            /// metric labels and audit codes all take their names from. `None` for `Unknown`.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($label), )*
                    Self::Unknown(_) => None,
                }
            }

            /// The value with this [`name`](Self::name), if any.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $label => Some(Self::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

registry! {
    /// What the directory said about the credentials. Only `Success` lets the user in; only
    /// `InvalidCredentials` counts toward lockout. An `Unknown` verdict must be handled as a
    /// failure (not a success, not a lockout count).
    Verdict {
        /// The credentials are valid.
        Success = 0 => "success",
        /// Unknown user or wrong password (the two are deliberately the same verdict).
        InvalidCredentials = 1 => "invalid_credentials",
        /// The directory account is locked out.
        AccountLocked = 2 => "account_locked",
        /// The password has expired.
        PasswordExpired = 3 => "password_expired",
        /// The password is valid but must be changed at next logon.
        MustChangePassword = 4 => "must_change_password",
        /// The account is disabled.
        AccountDisabled = 5 => "account_disabled",
        /// The account has expired.
        AccountExpired = 6 => "account_expired",
        /// Logon is not allowed at this time of day.
        LogonHoursRestricted = 7 => "logon_hours_restricted",
        /// Logon is not allowed from this workstation.
        WorkstationRestricted = 8 => "workstation_restricted",
        /// Password change only: the directory refused the new password (complexity, history,
        /// minimum age).
        NewPasswordRejected = 9 => "new_password_rejected",
    }
}

registry! {
    /// Why no verdict could be reached. Never a verdict, never counted toward lockout.
    ErrorCode {
        /// The directory could not be reached or did not answer.
        DirectoryUnavailable = 1 => "directory_unavailable",
        /// The directory operation timed out inside the agent.
        Timeout = 2 => "timeout",
        /// The agent is misconfigured (no directory for this login's domain, bad bind account).
        Misconfigured = 3 => "misconfigured",
        /// The envelope names a session key the agent does not hold: resend with the
        /// RSA-wrapped session key.
        UnknownSessionKey = 4 => "unknown_session_key",
        /// The envelope could not be opened (any cryptographic failure).
        DecryptFailed = 5 => "decrypt_failed",
        /// The request arrived after its deadline.
        DeadlinePassed = 6 => "deadline_passed",
        /// The request id was already seen in the replay window.
        Replay = 7 => "replay",
        /// The agent is overloaded: try another agent.
        Overloaded = 8 => "overloaded",
        /// The message or operation is not supported by the receiver.
        Unsupported = 9 => "unsupported",
        /// An internal error in the sender.
        Internal = 10 => "internal",
        /// The request was malformed (for example an empty login).
        InvalidRequest = 11 => "invalid_request",
        /// The sender is draining and takes no new work.
        Draining = 12 => "draining",
        /// Renewal refused (revoked agent, bad CSR, policy).
        RenewRefused = 13 => "renew_refused",
    }
}

registry! {
    /// Why a session was closed (the `Close` message, and local closes).
    CloseReason {
        /// Orderly close without a more specific reason.
        Normal = 0 => "normal",
        /// The agent's certificate was revoked: the agent must not reconnect.
        Revoked = 1 => "revoked",
        /// A newer connection of the same agent replaced this one.
        Superseded = 2 => "superseded",
        /// The sender is shutting down (or finished draining).
        ShuttingDown = 3 => "shutting_down",
        /// The receiver of this reason broke the protocol.
        ProtocolError = 4 => "protocol_error",
        /// No protocol version in common.
        VersionMismatch = 5 => "version_mismatch",
        /// Nothing was received for the idle timeout.
        IdleTimeout = 6 => "idle_timeout",
        /// The handshake did not complete in time.
        HandshakeTimeout = 7 => "handshake_timeout",
    }
}

registry! {
    /// Warning kinds attached to a `SignInResponse`; each carries an unsigned value.
    WarningKind {
        /// The password expires in `value` days.
        PasswordExpiresInDays = 1 => "password_expires_in_days",
    }
}

/// A warning attached to a verdict: a kind and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Warning {
    /// What the warning is about.
    pub kind: WarningKind,
    /// Its value (days for `PasswordExpiresInDays`).
    pub value: u32,
}

/// Capability bits announced by the agent in `Hello`. Unknown bits are kept as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(pub u64);

impl Capabilities {
    /// The agent handles `PasswordChangeRequest`.
    pub const PASSWORD_CHANGE: Self = Self(1);
    /// The agent renews its certificate over the session (`RenewRequest`).
    pub const RENEW: Self = Self(2);

    /// Whether every bit of `other` is set in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// A 128-bit request id, chosen at random by the requester.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId(pub [u8; 16]);

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl From<u128> for RequestId {
    fn from(v: u128) -> Self {
        Self(v.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_survives() {
        for n in 0..40 {
            assert_eq!(Verdict::from_code(n).code(), n);
            assert_eq!(ErrorCode::from_code(n).code(), n);
            assert_eq!(CloseReason::from_code(n).code(), n);
        }
        assert_eq!(Verdict::from_code(1), Verdict::InvalidCredentials);
        assert_eq!(
            Verdict::InvalidCredentials.name(),
            Some("invalid_credentials")
        );
        assert_eq!(Verdict::Unknown(77).name(), None);
        assert_eq!(
            ErrorCode::from_name("renew_refused"),
            Some(ErrorCode::RenewRefused)
        );
        assert_eq!(CloseReason::from_name("Revoked"), None);
        assert_eq!(Verdict::from_code(77), Verdict::Unknown(77));
        assert_eq!(ErrorCode::from_code(4), ErrorCode::UnknownSessionKey);
        assert_eq!(CloseReason::from_code(1), CloseReason::Revoked);
    }

    #[test]
    fn request_id_debug_is_hex() {
        let id = RequestId::from(0x0102u128);
        assert_eq!(
            format!("{id:?}"),
            "RequestId(00000000000000000000000000000102)"
        );
    }

    #[test]
    fn capabilities_contains() {
        let c = Capabilities::PASSWORD_CHANGE | Capabilities::RENEW;
        assert!(c.contains(Capabilities::RENEW));
        assert!(!Capabilities::RENEW.contains(Capabilities::PASSWORD_CHANGE));
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            values: impl Iterator<Item = T>,
            name: fn(T) -> Option<&'static str>,
            from_name: fn(&str) -> Option<T>,
        ) {
            let mut seen = std::collections::HashSet::new();
            for v in values {
                if let Some(n) = name(v) {
                    assert!(seen.insert(n), "{n} twice");
                    assert_eq!(from_name(n), Some(v));
                    assert!(
                        n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                        "{n}"
                    );
                }
            }
            assert!(!seen.is_empty());
        }
        check(
            (0..64).map(Verdict::from_code),
            Verdict::name,
            Verdict::from_name,
        );
        check(
            (0..64).map(ErrorCode::from_code),
            ErrorCode::name,
            ErrorCode::from_name,
        );
        check(
            (0..64).map(CloseReason::from_code),
            CloseReason::name,
            CloseReason::from_name,
        );
        check(
            (0..64).map(WarningKind::from_code),
            WarningKind::name,
            WarningKind::from_name,
        );
    }
}
