//! The demo's sample directory: a `MemoryDirectory` with one user per verdict, wrapped to add
//! the two verdicts it cannot express (logon hours, workstation), a password-expiry warning,
//! and a count of the checks that reached it (to show that a cloud lockout spares it).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use pta_directory::{
    Directory, DirectoryError, MemoryDirectory, MemoryUser, Outcome, Password, Verdict,
};

/// The password of every sample user, but the lockout user's. A demo value, documented in the
/// README and `--help`; the showcase never prints it.
pub(crate) const SAMPLE_PASSWORD: &str = "Demo-Passw0rd-2026";

/// The user whose account the smart-lockout showcase locks in the cloud.
pub(crate) const LOCKOUT_USER: &str = "mallory@demo.test";

/// The user printed for trying `pta-signin`.
pub(crate) const TRY_USER: &str = "alice@demo.test";

/// Days until the password of `ivan@demo.test` expires (a success with a warning).
const IVAN_EXPIRES_IN_DAYS: u64 = 5;

/// One row of the showcase: who signs in, with the right password or not, and the verdict the
/// demo expects.
pub(crate) struct Case {
    /// The login.
    pub(crate) login: &'static str,
    /// Whether the right password is sent.
    pub(crate) right_password: bool,
    /// The expected verdict name (as the API prints it).
    pub(crate) expected: &'static str,
    /// The expected decider (`agent` or `repeat_rejected`).
    pub(crate) decided_by: &'static str,
}

/// The showcase, in order.
pub(crate) const CASES: &[Case] = &[
    Case {
        login: "alice@demo.test",
        right_password: true,
        expected: "success",
        decided_by: "agent",
    },
    Case {
        login: "ivan@demo.test",
        right_password: true,
        expected: "success",
        decided_by: "agent",
    },
    Case {
        login: "alice@demo.test",
        right_password: false,
        expected: "invalid_credentials",
        decided_by: "agent",
    },
    Case {
        login: "alice@demo.test",
        right_password: false,
        expected: "invalid_credentials",
        decided_by: "repeat_rejected",
    },
    Case {
        login: "nobody@demo.test",
        right_password: true,
        expected: "invalid_credentials",
        decided_by: "agent",
    },
    Case {
        login: "bob@demo.test",
        right_password: true,
        expected: "account_locked",
        decided_by: "agent",
    },
    Case {
        login: "carol@demo.test",
        right_password: true,
        expected: "password_expired",
        decided_by: "agent",
    },
    Case {
        login: "dave@demo.test",
        right_password: true,
        expected: "must_change_password",
        decided_by: "agent",
    },
    Case {
        login: "erin@demo.test",
        right_password: true,
        expected: "account_disabled",
        decided_by: "agent",
    },
    Case {
        login: "frank@demo.test",
        right_password: true,
        expected: "account_expired",
        decided_by: "agent",
    },
    Case {
        login: "grace@demo.test",
        right_password: true,
        expected: "logon_hours_restricted",
        decided_by: "agent",
    },
    Case {
        login: "heidi@demo.test",
        right_password: true,
        expected: "workstation_restricted",
        decided_by: "agent",
    },
];

/// A wrong password used by the showcase (never printed either).
pub(crate) const WRONG_PASSWORD: &str = "not-the-Passw0rd";

/// The sample directory.
pub(crate) struct SampleDirectory {
    inner: MemoryDirectory,
    /// Checks that reached the directory, per lower-cased login.
    checks: Mutex<HashMap<String, u64>>,
}

impl SampleDirectory {
    /// Builds the users (Argon2id hashes at the default cost: tens of milliseconds each).
    pub(crate) fn new() -> Result<Self, DirectoryError> {
        let hash = MemoryDirectory::hash_password(&Password::new(SAMPLE_PASSWORD))?;
        let user = |login: &str| MemoryUser::new(login, hash.clone()).with_upn(login);
        let mut users = Vec::new();
        for login in [
            "alice@demo.test",
            "ivan@demo.test",
            "grace@demo.test",
            "heidi@demo.test",
            LOCKOUT_USER,
        ] {
            users.push(user(login));
        }
        let mut bob = user("bob@demo.test");
        bob.locked = true;
        let mut carol = user("carol@demo.test");
        carol.password_expired = true;
        let mut dave = user("dave@demo.test");
        dave.must_change = true;
        let mut erin = user("erin@demo.test");
        erin.disabled = true;
        let mut frank = user("frank@demo.test");
        frank.account_expired = true;
        users.extend([bob, carol, dave, erin, frank]);
        Ok(Self {
            inner: MemoryDirectory::from_users(users)?,
            checks: Mutex::new(HashMap::new()),
        })
    }

    /// How many checks of `login` reached the directory.
    pub(crate) fn checks(&self, login: &str) -> u64 {
        let checks = self
            .checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        checks.get(&login.to_lowercase()).copied().unwrap_or(0)
    }

    fn count(&self, login: &str) {
        let mut checks = self
            .checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *checks.entry(login.to_lowercase()).or_default() += 1;
    }
}

#[async_trait]
impl Directory for SampleDirectory {
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError> {
        self.count(login);
        let mut outcome = self.inner.authenticate(login, password).await?;
        if outcome.verdict == Verdict::Success {
            match login.to_lowercase().as_str() {
                "grace@demo.test" => outcome.verdict = Verdict::LogonHoursRestricted,
                "heidi@demo.test" => outcome.verdict = Verdict::WorkstationRestricted,
                "ivan@demo.test" => {
                    outcome.warnings.seconds_until_expiry = Some(IVAN_EXPIRES_IN_DAYS * 86_400);
                }
                _ => {}
            }
        }
        Ok(outcome)
    }

    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError> {
        self.count(login);
        self.inner.change_password(login, old, new).await
    }
}
