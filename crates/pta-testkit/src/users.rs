//! The user matrix of both fixtures: who exists, with which password, and what a bind gives.

/// What a user is in the matrix for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// An ordinary user whose correct password binds.
    Good,
    /// A user with a second login name: a `mail` attribute (OpenLDAP), or a UPN in the forest's
    /// alternate suffix `alt.test` plus a `mail` attribute (AD).
    AlternateLogin,
    /// Locked by an administrator (`pwdAccountLockedTime: 000001010000Z`; OpenLDAP only).
    AdminLocked,
    /// Locked by too many bad passwords.
    FailureLocked,
    /// Password past its maximum age.
    PasswordExpired,
    /// Must change the password at next logon (ppolicy `pwdReset`, AD `pwdLastSet=0`).
    MustChange,
    /// Account disabled (AD only).
    Disabled,
    /// Account past its `accountExpires` date (AD only).
    AccountExpired,
    /// A good user that tests may lock out (three bad passwords): each fixture starts fresh.
    Spare,
    /// The service (search) account a directory backend binds as to resolve login names.
    Service,
}

/// The password-policy response control (OID 1.3.6.1.4.1.42.2.27.8.5.1) a bind that asked for it
/// receives from OpenLDAP's ppolicy overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ppolicy {
    /// No control in the response.
    Absent,
    /// The control with no error (`30 00`).
    NoError,
    /// The control with error `passwordExpired` (0): `30 03 81 01 00`.
    PasswordExpired,
    /// The control with error `accountLocked` (1): `30 03 81 01 01`.
    AccountLocked,
    /// The control with error `changeAfterReset` (2): `30 03 81 01 02`.
    ChangeAfterReset,
}

impl Ppolicy {
    /// The exact BER value of the control, or `None` for [`Ppolicy::Absent`].
    pub fn ber(self) -> Option<&'static [u8]> {
        match self {
            Ppolicy::Absent => None,
            Ppolicy::NoError => Some(&[0x30, 0x00]),
            Ppolicy::PasswordExpired => Some(&[0x30, 0x03, 0x81, 0x01, 0x00]),
            Ppolicy::AccountLocked => Some(&[0x30, 0x03, 0x81, 0x01, 0x01]),
            Ppolicy::ChangeAfterReset => Some(&[0x30, 0x03, 0x81, 0x01, 0x02]),
        }
    }
}

/// The raw outcome of a simple bind with the user's correct password, as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expected {
    /// LDAP result code (0 success, 49 invalidCredentials, ...).
    pub rc: u32,
    /// Active Directory's `data XXX` sub-code in the diagnostic message of result 49, as the
    /// hexadecimal number it is written as (`0x52e`, `0x775`, ...).
    pub ad_data: Option<u16>,
    /// The ppolicy response control when the bind requested it (OpenLDAP).
    pub ppolicy: Ppolicy,
}

/// One user of a fixture's matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestUser {
    /// What the user is for.
    pub role: Role,
    /// The login a person types: the `uid` on OpenLDAP, the UPN on AD.
    pub login: &'static str,
    /// The entry's distinguished name.
    pub dn: &'static str,
    /// The `mail` attribute, if set.
    pub mail: Option<&'static str>,
    /// The correct password.
    pub password: &'static str,
    /// What a bind as `dn` with `password` gives.
    pub expected: Expected,
}

const fn ok(ppolicy: Ppolicy) -> Expected {
    Expected {
        rc: 0,
        ad_data: None,
        ppolicy,
    }
}

const fn invalid(ppolicy: Ppolicy) -> Expected {
    Expected {
        rc: 49,
        ad_data: None,
        ppolicy,
    }
}

const fn ad(rc: u32, data: Option<u16>) -> Expected {
    Expected {
        rc,
        ad_data: data,
        ppolicy: Ppolicy::Absent,
    }
}

/// Base DN of the OpenLDAP fixture.
pub const SLAPD_BASE_DN: &str = "dc=example,dc=test";

/// The OpenLDAP fixture's users (besides the bulk users). Binds as `dn`.
pub const SLAPD_USERS: &[TestUser] = &[
    TestUser {
        role: Role::Good,
        login: "alice",
        dn: "uid=alice,ou=people,dc=example,dc=test",
        mail: Some("alice@example.test"),
        password: "Alice-Passw0rd!",
        expected: ok(Ppolicy::NoError),
    },
    TestUser {
        role: Role::AlternateLogin,
        login: "bob",
        dn: "uid=bob,ou=people,dc=example,dc=test",
        mail: Some("bob.smith@mail.example.test"),
        password: "Bob-Passw0rd!",
        expected: ok(Ppolicy::NoError),
    },
    TestUser {
        role: Role::AdminLocked,
        login: "carol",
        dn: "uid=carol,ou=people,dc=example,dc=test",
        mail: None,
        password: "Carol-Passw0rd!",
        expected: invalid(Ppolicy::AccountLocked),
    },
    TestUser {
        role: Role::FailureLocked,
        login: "dave",
        dn: "uid=dave,ou=people,dc=example,dc=test",
        mail: None,
        password: "Dave-Passw0rd!",
        expected: invalid(Ppolicy::AccountLocked),
    },
    TestUser {
        role: Role::PasswordExpired,
        login: "erin",
        dn: "uid=erin,ou=people,dc=example,dc=test",
        mail: None,
        password: "Erin-Passw0rd!",
        expected: invalid(Ppolicy::PasswordExpired),
    },
    TestUser {
        role: Role::MustChange,
        login: "frank",
        dn: "uid=frank,ou=people,dc=example,dc=test",
        mail: None,
        password: "Frank-Passw0rd!",
        expected: ok(Ppolicy::ChangeAfterReset),
    },
    TestUser {
        role: Role::Spare,
        login: "grace",
        dn: "uid=grace,ou=people,dc=example,dc=test",
        mail: None,
        password: "Grace-Passw0rd!",
        expected: ok(Ppolicy::NoError),
    },
    TestUser {
        role: Role::Service,
        login: "svc-pta",
        dn: "cn=svc-pta,ou=services,dc=example,dc=test",
        mail: None,
        password: "Service-Passw0rd!",
        expected: ok(Ppolicy::NoError),
    },
];

/// Password of every bulk user of the OpenLDAP fixture (`uid=bulk00000` ... under
/// `ou=bulk,dc=example,dc=test`).
pub const SLAPD_BULK_PASSWORD: &str = "Bulk-Passw0rd!";

/// Base DN of the Samba AD fixture.
pub const SAMBA_BASE_DN: &str = "DC=example,DC=test";
/// Kerberos realm (and UPN suffix) of the Samba AD fixture.
pub const SAMBA_REALM: &str = "EXAMPLE.TEST";
/// NetBIOS domain name of the Samba AD fixture (`EXAMPLE\alice` binds).
pub const SAMBA_DOMAIN: &str = "EXAMPLE";
/// The forest's alternate UPN suffix.
pub const SAMBA_ALT_SUFFIX: &str = "alt.test";

/// The Samba AD fixture's users. Active Directory accepts the UPN as the bind name, so `login`
/// binds directly; `dn`, `EXAMPLE\name` and `name@example.test` bind too.
pub const SAMBA_USERS: &[TestUser] = &[
    TestUser {
        role: Role::Good,
        login: "alice@example.test",
        dn: "CN=alice,CN=Users,DC=example,DC=test",
        mail: Some("alice@example.test"),
        password: "Alice-Passw0rd!",
        expected: ad(0, None),
    },
    TestUser {
        role: Role::AlternateLogin,
        login: "bob@alt.test",
        dn: "CN=bob,CN=Users,DC=example,DC=test",
        mail: Some("bob.smith@alt.test"),
        password: "Bob-Passw0rd!",
        expected: ad(0, None),
    },
    TestUser {
        role: Role::Disabled,
        login: "carol@example.test",
        dn: "CN=carol,CN=Users,DC=example,DC=test",
        mail: None,
        password: "Carol-Passw0rd!",
        expected: ad(49, Some(0x533)),
    },
    TestUser {
        role: Role::FailureLocked,
        login: "dave@example.test",
        dn: "CN=dave,CN=Users,DC=example,DC=test",
        mail: None,
        password: "Dave-Passw0rd!",
        expected: ad(49, Some(0x775)),
    },
    TestUser {
        role: Role::PasswordExpired,
        login: "erin@example.test",
        dn: "CN=erin,CN=Users,DC=example,DC=test",
        mail: None,
        password: "Erin-Passw0rd!",
        expected: ad(49, Some(0x532)),
    },
    TestUser {
        role: Role::MustChange,
        login: "frank@example.test",
        dn: "CN=frank,CN=Users,DC=example,DC=test",
        mail: None,
        password: "Frank-Passw0rd!",
        expected: ad(49, Some(0x773)),
    },
    TestUser {
        role: Role::AccountExpired,
        login: "ivan@example.test",
        dn: "CN=ivan,CN=Users,DC=example,DC=test",
        mail: None,
        password: "Ivan-Passw0rd!",
        expected: ad(49, Some(0x701)),
    },
    TestUser {
        role: Role::Spare,
        login: "grace@example.test",
        dn: "CN=grace,CN=Users,DC=example,DC=test",
        mail: None,
        password: "Grace-Passw0rd!",
        expected: ad(0, None),
    },
    TestUser {
        role: Role::Service,
        login: "svc-pta@example.test",
        dn: "CN=svc-pta,CN=Users,DC=example,DC=test",
        mail: None,
        password: "Service-Passw0rd!",
        expected: ad(0, None),
    },
];

/// The user with `role` in `users`, or `None` if that fixture has no such user (AD has no
/// [`Role::AdminLocked`], OpenLDAP no [`Role::Disabled`] or [`Role::AccountExpired`]).
pub(crate) fn by_role(users: &'static [TestUser], role: Role) -> Option<&'static TestUser> {
    users.iter().find(|u| u.role == role)
}

/// The `name` part of a UPN or the value of a DN's first RDN (`alice` for both
/// `alice@example.test` and `CN=alice,CN=Users,...`).
pub(crate) fn short_name(user: &TestUser) -> &'static str {
    let rdn = user.dn.split(',').next().unwrap_or(user.dn);
    rdn.split_once('=').map_or(rdn, |(_, v)| v)
}
