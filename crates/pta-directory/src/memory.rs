use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{self, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use serde::Deserialize;

use crate::{
    Directory, DirectoryError, MatchedUser, Misconfiguration, Outcome, Password, PasswordRejection,
    Verdict,
};

/// The shortest new password [`MemoryDirectory::change_password`] accepts, in characters.
const MIN_PASSWORD_CHARS: usize = 8;

/// The salt of the work done for unknown logins. Its output is thrown away, so it need not be
/// secret or random.
const UNKNOWN_LOGIN_SALT: &[u8] = b"pta-directory unknown login salt";

/// An in-memory directory: users with Argon2id password hashes, from a TOML users file or
/// built in code. It is the embedded default for the demo and what the tests use.
///
/// # Users file
///
/// ```toml
/// [[user]]
/// login = "alice@example.test"                    # matched without case
/// dn = "uid=alice,ou=people,dc=example,dc=test"   # optional; default "cn=<login>"
/// upn = "alice@example.test"                      # optional
/// password = "$argon2id$v=19$m=19456,t=2,p=1$...$..."  # Argon2id PHC string, nothing else
/// disabled = false            # the five account states are optional, default false
/// locked = false
/// account_expired = false
/// password_expired = false
/// must_change = false
/// ```
///
/// Unknown keys, a login given twice (without case), an empty login and a password that is not
/// an Argon2id PHC string (plaintext, bcrypt, argon2i, ...) make the whole file
/// [`Misconfiguration::BadUsersFile`]. Make hashes with [`MemoryDirectory::hash_password`].
///
/// # Verdicts
///
/// The answers mirror Active Directory's:
///
/// ```text
///  password bindable? ──no──► InvalidCredentials            (no lookup, no hashing)
///        │ yes
///  login known? ──no──► Argon2id on a dummy ──► InvalidCredentials
///        │ yes
///  locked? ──yes──► AccountLocked                (whatever the password, no hashing)
///        │ no
///  password right? ──no──► InvalidCredentials
///        │ yes
///  disabled ► AccountDisabled, account_expired ► AccountExpired,
///  password_expired ► PasswordExpired, must_change ► MustChangePassword   (first that holds)
///        │ none
///        ▼
///     Success
/// ```
///
/// Every outcome for a known login names it ([`MatchedUser`] with the DN and UPN). The account
/// states are static flags from the file: this directory counts no failures and never locks an
/// account by itself (that is the lockout layer's job).
///
/// # Security contract
///
/// - It follows the [`Directory`] contract: a wrong password, an unknown login and an unusable
///   password are all [`Verdict::InvalidCredentials`]; a password is never logged, stored or put
///   in an error, and neither is a hash or the users file's text.
/// - An unknown login costs one Argon2id computation, like a known one, so the time of an
///   answer does not tell which logins exist. The dummy work uses the Argon2 parameters of the
///   first user given (Argon2's defaults when there is none): keep all users' hashes at the
///   same parameters, or timing tells them apart.
/// - Verification accepts whatever Argon2id parameters each hash names, so the file's author
///   sets the cost (and the memory each check allocates): the file must be trusted.
///
/// # Cost
///
/// Argon2id is deliberately slow: at the default parameters (19 MiB, 2 passes) one check takes
/// tens of milliseconds of CPU in a release build (much more in a debug build), done on the
/// calling task. Tests can use cheap parameters (say `m=256,t=1,p=1`) in their hashes.
///
/// # Password changes
///
/// [`change_password`](Directory::change_password) checks the old password as above; a user
/// whose password has expired or must change may change it (that is the point), while a
/// locked, disabled or expired account gets its verdict. The new password must have at least 8
/// characters ([`PasswordRejection::TooShort`]), be bindable ([`PasswordRejection::Quality`])
/// and differ from the old one ([`PasswordRejection::InHistory`]; the history holds only the
/// current password). It is stored as a new Argon2id hash with a random salt and the parameters
/// of the first user, and clears `must_change` and `password_expired`. Changes live in memory
/// only: the users file is never written.
///
/// # Concurrency
///
/// Users sit behind a [`std::sync::RwLock`] that is held only to copy or replace an entry,
/// never while hashing and never across an `await`. Two concurrent changes of one password
/// cannot both succeed: the second finds its old password no longer current and gets
/// `InvalidCredentials`.
pub struct MemoryDirectory {
    /// Keyed by the lower-cased login.
    users: RwLock<HashMap<String, MemoryUser>>,
    /// Cost of the work for unknown logins and of new hashes.
    params: Params,
}

/// One user of a [`MemoryDirectory`], as in a `[[user]]` table of the users file.
///
/// Build one with [`MemoryUser::new`], then set the public fields.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MemoryUser {
    /// The login, matched without case (Unicode lower-casing).
    pub login: String,
    /// The entry's DN; `cn=<login>` when absent.
    #[serde(default)]
    pub dn: Option<String>,
    /// The user principal name, when the user has one.
    #[serde(default)]
    pub upn: Option<String>,
    /// The password as an Argon2id PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    /// Its key in the users file is `password`.
    #[serde(rename = "password")]
    pub password_hash: String,
    /// The account is disabled: [`Verdict::AccountDisabled`] with the right password.
    #[serde(default)]
    pub disabled: bool,
    /// The account is locked: [`Verdict::AccountLocked`] whatever the password.
    #[serde(default)]
    pub locked: bool,
    /// The account has expired: [`Verdict::AccountExpired`] with the right password.
    #[serde(default)]
    pub account_expired: bool,
    /// The password has expired: [`Verdict::PasswordExpired`] with the right password.
    #[serde(default)]
    pub password_expired: bool,
    /// The password must be changed: [`Verdict::MustChangePassword`] with the right password.
    #[serde(default)]
    pub must_change: bool,
}

impl MemoryUser {
    /// An enabled user in good standing with this login and Argon2id PHC hash.
    pub fn new(login: impl Into<String>, password_hash: impl Into<String>) -> Self {
        Self {
            login: login.into(),
            dn: None,
            upn: None,
            password_hash: password_hash.into(),
            disabled: false,
            locked: false,
            account_expired: false,
            password_expired: false,
            must_change: false,
        }
    }

    /// The same user with this DN.
    #[must_use]
    pub fn with_dn(mut self, dn: impl Into<String>) -> Self {
        self.dn = Some(dn.into());
        self
    }

    /// The same user with this UPN.
    #[must_use]
    pub fn with_upn(mut self, upn: impl Into<String>) -> Self {
        self.upn = Some(upn.into());
        self
    }

    fn matched(&self) -> MatchedUser {
        let dn = self
            .dn
            .clone()
            .unwrap_or_else(|| format!("cn={}", self.login));
        MatchedUser::new(dn, self.upn.clone())
    }

    /// The verdict for the right password, given the account is not locked.
    fn verdict(&self) -> Verdict {
        if self.disabled {
            Verdict::AccountDisabled
        } else if self.account_expired {
            Verdict::AccountExpired
        } else if self.password_expired {
            Verdict::PasswordExpired
        } else if self.must_change {
            Verdict::MustChangePassword
        } else {
            Verdict::Success
        }
    }
}

impl std::fmt::Debug for MemoryUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryUser")
            .field("login", &self.login)
            .field("dn", &self.dn)
            .field("upn", &self.upn)
            .field("password_hash", &"[redacted]")
            .field("disabled", &self.disabled)
            .field("locked", &self.locked)
            .field("account_expired", &self.account_expired)
            .field("password_expired", &self.password_expired)
            .field("must_change", &self.must_change)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<MemoryUser>,
}

fn bad_users() -> DirectoryError {
    DirectoryError::Misconfigured(Misconfiguration::BadUsersFile)
}

impl MemoryDirectory {
    /// A directory of these users. The first user's Argon2 parameters become the directory's
    /// (see the type's security contract).
    ///
    /// # Errors
    ///
    /// [`Misconfiguration::BadUsersFile`] for an empty login, a login given twice (without
    /// case), or a hash that is not a well-formed Argon2id PHC string.
    pub fn from_users(users: impl IntoIterator<Item = MemoryUser>) -> Result<Self, DirectoryError> {
        let mut map = HashMap::new();
        let mut params = None;
        for user in users {
            let user_params = argon2id_params(&user.password_hash)?;
            params.get_or_insert(user_params);
            if user.login.is_empty() {
                return Err(bad_users());
            }
            match map.entry(user.login.to_lowercase()) {
                Entry::Occupied(_) => return Err(bad_users()),
                Entry::Vacant(slot) => {
                    slot.insert(user);
                }
            }
        }
        Ok(Self {
            users: RwLock::new(map),
            params: params.unwrap_or_default(),
        })
    }

    /// A directory from the text of a users file (see the type's docs for the format).
    ///
    /// # Errors
    ///
    /// [`Misconfiguration::BadUsersFile`] when the text is not TOML of that shape or a user is
    /// refused by [`from_users`](Self::from_users). The error carries nothing from the text.
    pub fn from_toml_str(text: &str) -> Result<Self, DirectoryError> {
        let file: UsersFile = toml::from_str(text).map_err(|_| bad_users())?;
        Self::from_users(file.user)
    }

    /// A directory from a users file on disk.
    ///
    /// # Errors
    ///
    /// [`Misconfiguration::BadUsersFile`] when the file cannot be read, or as
    /// [`from_toml_str`](Self::from_toml_str).
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self, DirectoryError> {
        let text = std::fs::read_to_string(path).map_err(|_| bad_users())?;
        Self::from_toml_str(&text)
    }

    /// An Argon2id PHC string for `password`, with a random salt and Argon2's default
    /// parameters (19 MiB, 2 passes, 1 lane): what a users file should hold. Takes tens of
    /// milliseconds.
    ///
    /// # Errors
    ///
    /// [`DirectoryError::RandomUnavailable`] if the operating system's random generator fails
    /// (no salt can be made).
    pub fn hash_password(password: &Password) -> Result<String, DirectoryError> {
        hash_with(password, &Params::default())
    }

    /// A copy of the user with this login (without case), if any.
    fn lookup(&self, login: &str) -> Option<MemoryUser> {
        let users = self.users.read().unwrap_or_else(PoisonError::into_inner);
        users.get(&login.to_lowercase()).cloned()
    }

    /// The same Argon2id work as a verification, for an unknown login; the result is dropped.
    fn waste_time(&self, password: &Password) {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let mut out = vec![
            0u8;
            self.params
                .output_len()
                .unwrap_or(Params::DEFAULT_OUTPUT_LEN)
        ];
        let done =
            argon2.hash_password_into(password.expose().as_bytes(), UNKNOWN_LOGIN_SALT, &mut out);
        std::hint::black_box((done.is_ok(), out));
    }

    /// Resolves `login` and checks `password` up to the account-state verdict. `Err(outcome)`
    /// is a final answer; `Ok(user)` means the password is right and the account not locked.
    fn check(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Result<MemoryUser, Outcome>, DirectoryError> {
        if !password.is_bindable() {
            return Ok(Err(Outcome::invalid()));
        }
        let Some(user) = self.lookup(login) else {
            self.waste_time(password);
            return Ok(Err(Outcome::invalid()));
        };
        if user.locked {
            return Ok(Err(
                Outcome::new(Verdict::AccountLocked).with_user(user.matched())
            ));
        }
        if !verify(password, &user.password_hash)? {
            return Ok(Err(Outcome::invalid().with_user(user.matched())));
        }
        Ok(Ok(user))
    }
}

impl std::fmt::Debug for MemoryDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users = self
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("MemoryDirectory")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

/// The Argon2 parameters of `phc` if it is a well-formed Argon2id PHC string.
fn argon2id_params(phc: &str) -> Result<Params, DirectoryError> {
    let hash = PasswordHash::new(phc).map_err(|_| bad_users())?;
    if hash.algorithm != Algorithm::Argon2id.ident() || hash.salt.is_none() || hash.hash.is_none() {
        return Err(bad_users());
    }
    if let Some(version) = hash.version {
        Version::try_from(version).map_err(|_| bad_users())?;
    }
    Params::try_from(&hash).map_err(|_| bad_users())
}

/// Whether `password` matches the Argon2id PHC string `phc` (with the parameters it names).
fn verify(password: &Password, phc: &str) -> Result<bool, DirectoryError> {
    let hash = PasswordHash::new(phc).map_err(|_| bad_users())?;
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return Err(bad_users());
    }
    match Argon2::default().verify_password(password.expose().as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(_) => Err(bad_users()),
    }
}

/// An Argon2id PHC string for `password` with a random salt and these parameters.
fn hash_with(password: &Password, params: &Params) -> Result<String, DirectoryError> {
    let mut salt = [0u8; 16];
    // No salt, no hash.
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|_| DirectoryError::RandomUnavailable)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| bad_users())?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let hash = argon2
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|_| bad_users())?;
    Ok(hash.to_string())
}

/// The new-password policy: length, then bindability, then history (of one).
fn check_new_password(old: &Password, new: &Password) -> Result<(), DirectoryError> {
    let rejected = |why| Err(DirectoryError::PasswordRejected(why));
    if new.expose().chars().count() < MIN_PASSWORD_CHARS {
        return rejected(PasswordRejection::TooShort);
    }
    if !new.is_bindable() {
        return rejected(PasswordRejection::Quality);
    }
    if new.expose() == old.expose() {
        return rejected(PasswordRejection::InHistory);
    }
    Ok(())
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError> {
        Ok(match self.check(login, password)? {
            Ok(user) => Outcome::new(user.verdict()).with_user(user.matched()),
            Err(outcome) => outcome,
        })
    }

    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError> {
        let user = match self.check(login, old)? {
            Ok(user) => user,
            Err(outcome) => return Ok(outcome),
        };
        let matched = user.matched();
        // Expired or must-change passwords may be changed; these accounts may not.
        if let verdict @ (Verdict::AccountDisabled | Verdict::AccountExpired) = user.verdict() {
            return Ok(Outcome::new(verdict).with_user(matched));
        }
        check_new_password(old, new)?;
        let new_hash = hash_with(new, &self.params)?;

        let mut users = self.users.write().unwrap_or_else(PoisonError::into_inner);
        match users.get_mut(&login.to_lowercase()) {
            // Still the password we checked: no change slipped in since.
            Some(stored) if stored.password_hash == user.password_hash => {
                stored.password_hash = new_hash;
                stored.must_change = false;
                stored.password_expired = false;
                Ok(Outcome::new(Verdict::Success).with_user(matched))
            }
            _ => Ok(Outcome::invalid().with_user(matched)),
        }
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};

    use super::{MemoryDirectory, MemoryUser};
    use crate::{Directory, DirectoryError, Misconfiguration, Password, Verdict};

    fn cheap_hash(password: &str, algorithm: Algorithm) -> String {
        let params = Params::new(256, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    fn is_bad_users<T: std::fmt::Debug>(result: Result<T, DirectoryError>) -> bool {
        matches!(
            result,
            Err(DirectoryError::Misconfigured(
                Misconfiguration::BadUsersFile
            ))
        )
    }

    #[test]
    fn only_well_formed_argon2id_hashes() {
        let good = cheap_hash("pw", Algorithm::Argon2id);
        assert!(MemoryDirectory::from_users([MemoryUser::new("a", good.clone())]).is_ok());
        let bad = [
            "plaintext password".to_owned(),
            String::new(),
            cheap_hash("pw", Algorithm::Argon2i),
            cheap_hash("pw", Algorithm::Argon2d),
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(),
            "$6$saltsalt$abcdefghijklmnopqrstuvwxyz".to_owned(),
            // Argon2id, but no hash output, or no salt.
            good.rsplit_once('$').unwrap().0.to_owned(),
            "$argon2id$v=19$m=256,t=1,p=1".to_owned(),
            good.replace("v=19", "v=99"),
        ];
        for hash in bad {
            assert!(is_bad_users(MemoryDirectory::from_users([
                MemoryUser::new("a", hash)
            ])));
        }
    }

    #[test]
    fn empty_or_duplicate_logins_are_refused() {
        let h = cheap_hash("pw", Algorithm::Argon2id);
        let two = [
            MemoryUser::new("Alice", h.clone()),
            MemoryUser::new("aLICE", h.clone()),
        ];
        assert!(is_bad_users(MemoryDirectory::from_users(two)));
        assert!(is_bad_users(MemoryDirectory::from_users([
            MemoryUser::new("", h)
        ])));
    }

    #[test]
    fn file_errors_say_nothing_of_the_file() {
        let text = "[[user]]\nlogin = \"alice\"\npassword = \"s3cret-plaintext\"\n";
        let err = MemoryDirectory::from_toml_str(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "directory misconfigured: the users file is invalid"
        );
        assert!(!format!("{err:?}").contains("s3cret"));
        // A typo in an account state must not silently leave the account open.
        let typo = format!(
            "[[user]]\nlogin = \"a\"\npassword = \"{}\"\nlockd = true\n",
            cheap_hash("pw", Algorithm::Argon2id)
        );
        assert!(is_bad_users(MemoryDirectory::from_toml_str(&typo)));
        assert!(MemoryDirectory::from_toml_str("").is_ok());
    }

    #[test]
    fn debug_hides_hashes() {
        let h = cheap_hash("pw", Algorithm::Argon2id);
        let user = MemoryUser::new("alice", h.clone());
        assert!(!format!("{user:?}").contains(&h));
        let dir = MemoryDirectory::from_users([user]).unwrap();
        assert_eq!(format!("{dir:?}"), "MemoryDirectory { users: 1, .. }");
    }

    #[test]
    fn hash_password_makes_default_argon2id_with_random_salt() {
        let pw = Password::new("correct horse");
        let a = MemoryDirectory::hash_password(&pw).unwrap();
        let b = MemoryDirectory::hash_password(&pw).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        // Each default-cost hash takes about a second in a debug build: one check only.
        assert!(super::verify(&pw, &a).unwrap());
    }

    #[tokio::test]
    async fn login_case_dn_default_and_params_follow_first_user() {
        let h = cheap_hash("pw", Algorithm::Argon2id);
        let dir = MemoryDirectory::from_users([
            MemoryUser::new("Alice@Example.TEST", h.clone()),
            MemoryUser::new("bob", h)
                .with_dn("uid=bob,dc=x")
                .with_upn("bob@x.test"),
        ])
        .unwrap();
        assert_eq!(dir.params.m_cost(), 256);
        let pw = Password::new("pw");
        let alice = dir.authenticate("alice@example.test", &pw).await.unwrap();
        assert_eq!(alice.verdict, Verdict::Success);
        let alice = alice.user.unwrap();
        assert_eq!(
            (alice.dn.as_str(), alice.upn),
            ("cn=Alice@Example.TEST", None)
        );
        let bob = dir.authenticate("BOB", &pw).await.unwrap().user.unwrap();
        assert_eq!(
            (bob.dn.as_str(), bob.upn.as_deref()),
            ("uid=bob,dc=x", Some("bob@x.test"))
        );
        // New hashes take the directory's parameters.
        let new = Password::new("a new password");
        dir.change_password("bob", &pw, &new).await.unwrap();
        let stored = dir.lookup("bob").unwrap().password_hash;
        assert!(
            stored.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
            "{stored}"
        );
        assert!(MemoryDirectory::from_users([]).unwrap().params == Params::default());
    }

    #[tokio::test]
    async fn example_users_file_works() {
        let dir = MemoryDirectory::from_toml_str(include_str!("../examples/users.toml")).unwrap();
        let alice = dir
            .authenticate("alice@example.test", &Password::new("alice password"))
            .await;
        assert_eq!(alice.unwrap().verdict, Verdict::Success);
        let carol = dir
            .authenticate("carol@example.test", &Password::new("wrong"))
            .await;
        assert_eq!(carol.unwrap().verdict, Verdict::AccountLocked);
    }
}
