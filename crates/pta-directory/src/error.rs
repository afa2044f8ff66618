/// A failure to get a verdict from the directory. None of these is a verdict, and none should
/// count toward a lockout: the password was not judged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// No configured server could be reached (connection refused, TLS connection lost, every
    /// server marked down). Retry later or on another agent; alert if it persists.
    #[error("no directory server reachable ({tried} tried)")]
    Unavailable {
        /// How many servers were tried.
        tried: usize,
    },
    /// The directory did not answer within the configured time. Retry later; do not count it.
    #[error("the directory did not answer in time")]
    Timeout,
    /// The configuration does not work against this directory. An administrator must fix it;
    /// retrying will not help.
    #[error("directory misconfigured: {0}")]
    Misconfigured(Misconfiguration),
    /// More than one entry matches the login. Fix the directory data or the login attributes.
    #[error("login matches {matches} directory entries")]
    Ambiguous {
        /// How many entries matched (at least 2).
        matches: usize,
    },
    /// The server answered something this crate does not understand (an unexpected result
    /// code). Report it; the result code is in the message.
    #[error("unexpected directory answer: result code {rc}")]
    Protocol {
        /// The LDAP result code.
        rc: u32,
    },
    /// The directory refused the new password under its policy. Tell the user which rule.
    #[error("new password rejected: {0}")]
    PasswordRejected(PasswordRejection),
    /// The operating system's random number generator failed (needed to salt a new password
    /// hash). Nothing was changed; retry, and check the system if it persists.
    #[error("the system random number generator failed")]
    RandomUnavailable,
    /// This directory cannot do that operation (a read-only directory asked to change a
    /// password, for instance).
    #[error("operation not supported by this directory")]
    NotSupported,
}

/// What is wrong with a directory configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Misconfiguration {
    /// The service (search) account's bind was refused: wrong DN or password, or locked.
    #[error("the service account was rejected")]
    ServiceAccountRejected,
    /// The server's TLS certificate is not trusted by the pinned CA (or the name does not
    /// match).
    #[error("the server's TLS certificate is not trusted")]
    TlsTrust,
    /// The pinned CA PEM holds no usable certificate.
    #[error("the CA PEM holds no usable certificate")]
    BadCaPem,
    /// No server URL, or one that is not `ldap://` or `ldaps://`.
    #[error("bad or missing server URL")]
    BadServerUrl,
    /// Plain `ldap://` without StartTLS was configured without the explicit insecure flag.
    #[error("plain LDAP without TLS needs the explicit insecure flag")]
    InsecureTransport,
    /// Search-then-bind needs a base DN and at least one login attribute.
    #[error("search-then-bind needs a base DN and login attributes")]
    NoSearchBase,
    /// A DN template without exactly one `{login}` standing for a whole attribute value, or
    /// template resolution without a template.
    #[error("the DN template must hold exactly one {{login}} as a whole attribute value")]
    BadDnTemplate,
    /// The service account may not search (insufficient access).
    #[error("the service account may not search the base DN")]
    SearchDenied,
    /// A users file could not be read or parsed.
    #[error("the users file is invalid")]
    BadUsersFile,
}

/// Why a directory refused a new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordRejection {
    /// Shorter than the minimum length.
    #[error("too short")]
    TooShort,
    /// Used recently (in the password history).
    #[error("used recently")]
    InHistory,
    /// The current password was set too recently to be changed again.
    #[error("changed too recently")]
    TooYoung,
    /// Does not meet the quality or complexity rules.
    #[error("does not meet the quality rules")]
    Quality,
    /// The user may not change this password.
    #[error("change not allowed")]
    NotAllowed,
    /// Refused for a reason the directory did not make specific.
    #[error("refused by the directory's policy")]
    Policy,
}
