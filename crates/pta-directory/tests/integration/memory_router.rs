#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The in-memory directory's verdicts and password changes, and the suffix router in front of
//! it.
#![cfg(feature = "memory")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use proptest::prelude::*;
use pta_directory::{
    Directory, DirectoryError, MemoryDirectory, MemoryUser, Misconfiguration, Outcome, Password,
    PasswordRejection, SuffixRouter, Verdict, upn_suffix,
};

const RIGHT: &str = "right password";
const WRONG: &str = "wrong password";

/// An Argon2id hash at cheap parameters, so the tests stay fast. Hashes of [`RIGHT`] and
/// [`WRONG`] are made once.
fn cheap_hash(password: &str) -> String {
    static RIGHT_HASH: OnceLock<String> = OnceLock::new();
    static WRONG_HASH: OnceLock<String> = OnceLock::new();
    let make = || cheap_hash_with(password, Algorithm::Argon2id);
    match password {
        RIGHT => RIGHT_HASH.get_or_init(make).clone(),
        WRONG => WRONG_HASH.get_or_init(make).clone(),
        _ => make(),
    }
}

fn cheap_hash_with(password: &str, algorithm: Algorithm) -> String {
    let params = Params::new(256, 1, 1, None).unwrap();
    let salt = SaltString::encode_b64(b"pta test salt 16").unwrap();
    Argon2::new(algorithm, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

fn user(login: &str, set: impl FnOnce(&mut MemoryUser)) -> MemoryUser {
    let mut user = MemoryUser::new(login, cheap_hash(RIGHT))
        .with_dn(format!("uid={login},dc=test"))
        .with_upn(format!("{login}@upn.test"));
    set(&mut user);
    user
}

/// One user per account state, and some with several states to check which one wins.
fn directory() -> MemoryDirectory {
    MemoryDirectory::from_users([
        user("ok", |_| {}),
        user("disabled", |u| u.disabled = true),
        user("locked", |u| u.locked = true),
        user("account-expired", |u| u.account_expired = true),
        user("password-expired", |u| u.password_expired = true),
        user("must-change", |u| u.must_change = true),
        user("everything", |u| {
            u.disabled = true;
            u.locked = true;
            u.account_expired = true;
            u.password_expired = true;
            u.must_change = true;
        }),
        user("all-but-locked", |u| {
            u.disabled = true;
            u.account_expired = true;
            u.password_expired = true;
            u.must_change = true;
        }),
        user("expired-both", |u| {
            u.account_expired = true;
            u.password_expired = true;
            u.must_change = true;
        }),
        user("expired-and-must-change", |u| {
            u.password_expired = true;
            u.must_change = true;
        }),
    ])
    .unwrap()
}

async fn auth(dir: &dyn Directory, login: &str, password: &str) -> Outcome {
    dir.authenticate(login, &Password::new(password))
        .await
        .unwrap()
}

async fn change(
    dir: &dyn Directory,
    login: &str,
    old: &str,
    new: &str,
) -> Result<Outcome, DirectoryError> {
    dir.change_password(login, &Password::new(old), &Password::new(new))
        .await
}

fn is_bad_users<T: std::fmt::Debug>(result: Result<T, DirectoryError>) -> bool {
    matches!(
        result,
        Err(DirectoryError::Misconfigured(
            Misconfiguration::BadUsersFile
        ))
    )
}

#[tokio::test]
async fn every_account_state_gives_its_verdict() {
    let dir = directory();
    let cases = [
        ("ok", Verdict::Success),
        ("disabled", Verdict::AccountDisabled),
        ("account-expired", Verdict::AccountExpired),
        ("password-expired", Verdict::PasswordExpired),
        ("must-change", Verdict::MustChangePassword),
        ("all-but-locked", Verdict::AccountDisabled),
        ("expired-both", Verdict::AccountExpired),
        ("expired-and-must-change", Verdict::PasswordExpired),
    ];
    for (login, verdict) in cases {
        let right = auth(&dir, login, RIGHT).await;
        assert_eq!(right.verdict, verdict, "{login} with the right password");
        let matched = right.user.expect("a known login names its entry");
        assert_eq!(matched.dn, format!("uid={login},dc=test"));
        assert_eq!(matched.upn, Some(format!("{login}@upn.test")));

        let wrong = auth(&dir, login, WRONG).await;
        assert_eq!(
            wrong.verdict,
            Verdict::InvalidCredentials,
            "{login} with a wrong password"
        );
        assert!(wrong.user.is_some());
    }
    for login in ["locked", "everything"] {
        for password in [RIGHT, WRONG] {
            let outcome = auth(&dir, login, password).await;
            assert_eq!(outcome.verdict, Verdict::AccountLocked, "{login}");
            assert!(outcome.user.is_some());
        }
    }
}

#[tokio::test]
async fn logins_match_without_case() {
    let dir = directory();
    assert_eq!(auth(&dir, "OK", RIGHT).await.verdict, Verdict::Success);
    assert_eq!(
        auth(&dir, "Must-Change", RIGHT).await.verdict,
        Verdict::MustChangePassword
    );
}

#[tokio::test]
async fn unknown_user_and_unusable_passwords_are_invalid_credentials() {
    let dir = directory();
    assert_eq!(auth(&dir, "nobody", RIGHT).await, Outcome::invalid());
    assert_eq!(auth(&dir, "", RIGHT).await, Outcome::invalid());
    // No lookup for an unusable password: not even the matched entry comes back.
    for login in ["ok", "locked", "nobody"] {
        assert_eq!(auth(&dir, login, "").await, Outcome::invalid(), "{login}");
        assert_eq!(
            auth(&dir, login, "right\0password").await,
            Outcome::invalid(),
            "{login}"
        );
        assert_eq!(auth(&dir, login, "\0").await, Outcome::invalid(), "{login}");
    }
    // A password equal to the hash itself is not the password.
    assert_eq!(
        auth(&dir, "ok", &cheap_hash(RIGHT)).await.verdict,
        Verdict::InvalidCredentials
    );
}

#[tokio::test]
async fn change_password_then_only_the_new_one_works() {
    let dir = directory();
    let outcome = change(&dir, "ok", RIGHT, "brand new password")
        .await
        .unwrap();
    assert_eq!(outcome.verdict, Verdict::Success);
    assert_eq!(outcome.user.unwrap().dn, "uid=ok,dc=test");
    assert_eq!(
        auth(&dir, "ok", "brand new password").await.verdict,
        Verdict::Success
    );
    assert_eq!(
        auth(&dir, "ok", RIGHT).await.verdict,
        Verdict::InvalidCredentials
    );
    // The old password no longer changes it either.
    let again = change(&dir, "ok", RIGHT, "another password").await.unwrap();
    assert_eq!(again.verdict, Verdict::InvalidCredentials);
    assert_eq!(
        auth(&dir, "ok", "brand new password").await.verdict,
        Verdict::Success
    );
}

#[tokio::test]
async fn change_password_policy() {
    let dir = directory();
    let rejected = |r: Result<Outcome, DirectoryError>| match r {
        Err(DirectoryError::PasswordRejected(why)) => why,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(
        rejected(change(&dir, "ok", RIGHT, "short").await),
        PasswordRejection::TooShort
    );
    assert_eq!(
        rejected(change(&dir, "ok", RIGHT, "").await),
        PasswordRejection::TooShort
    );
    // Seven characters, more than seven bytes: length is in characters.
    assert_eq!(
        rejected(change(&dir, "ok", RIGHT, "ééééééé").await),
        PasswordRejection::TooShort
    );
    assert_eq!(
        rejected(change(&dir, "ok", RIGHT, RIGHT).await),
        PasswordRejection::InHistory
    );
    assert_eq!(
        rejected(change(&dir, "ok", RIGHT, "long enough\0but NUL").await),
        PasswordRejection::Quality
    );
    // Nothing changed.
    assert_eq!(auth(&dir, "ok", RIGHT).await.verdict, Verdict::Success);
    // Exactly eight characters is enough.
    assert_eq!(
        change(&dir, "ok", RIGHT, "éééééééé").await.unwrap().verdict,
        Verdict::Success
    );
}

#[tokio::test]
async fn wrong_old_password_is_judged_before_the_policy() {
    let dir = directory();
    let outcome = change(&dir, "ok", WRONG, "x").await.unwrap();
    assert_eq!(outcome.verdict, Verdict::InvalidCredentials);
    assert_eq!(
        change(&dir, "nobody", RIGHT, "a long new one")
            .await
            .unwrap(),
        Outcome::invalid()
    );
    assert_eq!(
        change(&dir, "ok", "", "a long new one").await.unwrap(),
        Outcome::invalid()
    );
}

#[tokio::test]
async fn must_change_and_expired_users_may_change() {
    let dir = directory();
    for login in ["must-change", "password-expired", "expired-and-must-change"] {
        assert_ne!(auth(&dir, login, RIGHT).await.verdict, Verdict::Success);
        let outcome = change(&dir, login, RIGHT, "a fresh password")
            .await
            .unwrap();
        assert_eq!(outcome.verdict, Verdict::Success, "{login}");
        assert_eq!(
            auth(&dir, login, "a fresh password").await.verdict,
            Verdict::Success
        );
    }
}

#[tokio::test]
async fn locked_disabled_and_expired_accounts_may_not_change() {
    let dir = directory();
    let cases = [
        ("locked", RIGHT, Verdict::AccountLocked),
        ("locked", WRONG, Verdict::AccountLocked),
        ("disabled", RIGHT, Verdict::AccountDisabled),
        ("account-expired", RIGHT, Verdict::AccountExpired),
        ("expired-both", RIGHT, Verdict::AccountExpired),
    ];
    for (login, old, verdict) in cases {
        let outcome = change(&dir, login, old, "a fresh password").await.unwrap();
        assert_eq!(outcome.verdict, verdict, "{login}");
        assert!(outcome.user.is_some());
    }
    // Nothing changed: the old password still gives the state, the new one is wrong.
    for (login, verdict) in [
        ("disabled", Verdict::AccountDisabled),
        ("account-expired", Verdict::AccountExpired),
        ("expired-both", Verdict::AccountExpired),
    ] {
        assert_eq!(auth(&dir, login, RIGHT).await.verdict, verdict);
        let fresh = auth(&dir, login, "a fresh password").await.verdict;
        assert_eq!(fresh, Verdict::InvalidCredentials);
    }
}

#[test]
fn concurrent_changes_of_one_password_cannot_both_win() {
    let dir = Arc::new(directory());
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (dir, start) = (dir.clone(), start.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let new = format!("new password {i}");
                start.wait();
                let outcome = rt
                    .block_on(change(dir.as_ref(), "ok", RIGHT, &new))
                    .unwrap();
                (outcome.verdict, new)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for thread in threads {
        let (verdict, new) = thread.join().unwrap();
        if verdict == Verdict::Success {
            winners.push(new);
        } else {
            assert_eq!(verdict, Verdict::InvalidCredentials);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(auth(dir.as_ref(), "ok", &winners[0])).verdict,
        Verdict::Success
    );
}

/// The least time of three runs of `f`.
fn least_time(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn unknown_logins_cost_an_argon2_computation_too() {
    // Costlier parameters than the other tests, so a hash stands out from everything else.
    let params = Params::new(4096, 2, 1, None).unwrap();
    let salt = SaltString::encode_b64(b"pta test salt 16").unwrap();
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(RIGHT.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let dir = MemoryDirectory::from_users([MemoryUser::new("known", hash)]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let known = least_time(|| {
        assert_eq!(
            rt.block_on(auth(&dir, "known", WRONG)).verdict,
            Verdict::InvalidCredentials
        );
    });
    let unknown = least_time(|| {
        assert_eq!(
            rt.block_on(auth(&dir, "unknown", WRONG)),
            Outcome::invalid()
        );
    });
    // Both do one Argon2id computation at the same parameters; without the dummy work an
    // unknown login would answer a thousand times faster.
    assert!(unknown * 4 > known, "unknown {unknown:?}, known {known:?}");
}

#[test]
fn users_file_round_trip() {
    let text = format!(
        r#"
[[user]]
login = "alice@example.test"
password = "{}"
must_change = true

[[user]]
login = "bob"
dn = "uid=bob,dc=test"
upn = "bob@example.test"
password = "{}"
"#,
        cheap_hash(RIGHT),
        cheap_hash(WRONG),
    );
    let dir = MemoryDirectory::from_toml_str(&text).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let alice = rt.block_on(auth(&dir, "ALICE@example.test", RIGHT));
    assert_eq!(alice.verdict, Verdict::MustChangePassword);
    assert_eq!(alice.user.unwrap().dn, "cn=alice@example.test");
    let bob = rt.block_on(auth(&dir, "bob", WRONG));
    assert_eq!(bob.verdict, Verdict::Success);
    assert_eq!(bob.user.unwrap().upn.as_deref(), Some("bob@example.test"));

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    let from_file = MemoryDirectory::from_toml_file(file.path()).unwrap();
    assert_eq!(
        rt.block_on(auth(&from_file, "bob", WRONG)).verdict,
        Verdict::Success
    );
}

#[test]
fn bad_users_files() {
    let hash = cheap_hash(RIGHT);
    let bad = [
        "this is not toml".to_owned(),
        "[[user]]\nlogin = \"alice\"\n".to_owned(),
        format!("[[user]]\npassword = \"{hash}\"\n"),
        format!("[[user]]\nlogin = \"alice\"\npassword = \"{hash}\"\nlocked = \"yes\"\n"),
        format!("[[user]]\nlogin = \"alice\"\npassword = \"{hash}\"\nadmin = true\n"),
        format!("[users]\nlogin = \"alice\"\npassword = \"{hash}\"\n"),
        "[[user]]\nlogin = \"alice\"\npassword = \"right password\"\n".to_owned(),
        format!(
            "[[user]]\nlogin = \"alice\"\npassword = \"{}\"\n",
            cheap_hash_with(RIGHT, Algorithm::Argon2i)
        ),
        "[[user]]\nlogin = \"alice\"\npassword = \"$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\"\n"
            .to_owned(),
        format!(
            "[[user]]\nlogin = \"a\"\npassword = \"{hash}\"\n[[user]]\nlogin = \"A\"\npassword = \"{hash}\"\n"
        ),
    ];
    for text in &bad {
        let result = MemoryDirectory::from_toml_str(text);
        assert!(is_bad_users(result), "accepted:\n{text}");
    }
    let missing = std::env::temp_dir().join("pta-directory-no-such-users-file.toml");
    assert!(is_bad_users(MemoryDirectory::from_toml_file(missing)));
}

/// Counts the calls that reach the directory it wraps.
struct Counting {
    inner: Arc<dyn Directory>,
    calls: AtomicUsize,
}

impl Counting {
    fn new(inner: Arc<dyn Directory>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Directory for Counting {
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.authenticate(login, password).await
    }

    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.change_password(login, old, new).await
    }
}

struct Forests {
    a: Arc<Counting>,
    b: Arc<Counting>,
    default: Arc<Counting>,
}

impl Forests {
    fn new() -> Self {
        let a = MemoryDirectory::from_users([MemoryUser::new("alice@a.test", cheap_hash(RIGHT))]);
        let b = MemoryDirectory::from_users([MemoryUser::new("bob@b.test", cheap_hash(RIGHT))]);
        let default = MemoryDirectory::from_users([
            MemoryUser::new("carol", cheap_hash(RIGHT)),
            MemoryUser::new("EXAMPLE\\dave", cheap_hash(RIGHT)),
            // Only reachable if a routed or unrouted suffix wrongly fell through to the default.
            MemoryUser::new("alice@a.test", cheap_hash(WRONG)),
            MemoryUser::new("eve@c.test", cheap_hash(RIGHT)),
        ]);
        Self {
            a: Counting::new(Arc::new(a.unwrap())),
            b: Counting::new(Arc::new(b.unwrap())),
            default: Counting::new(Arc::new(default.unwrap())),
        }
    }

    fn router(&self, with_default: bool) -> SuffixRouter {
        let router = SuffixRouter::new()
            .route("a.test", self.a.clone())
            .route("B.TEST", self.b.clone());
        if with_default {
            router.default_directory(self.default.clone())
        } else {
            router
        }
    }

    fn calls(&self) -> (usize, usize, usize) {
        (self.a.calls(), self.b.calls(), self.default.calls())
    }
}

#[tokio::test]
async fn router_picks_the_forest_by_suffix() {
    let forests = Forests::new();
    let router = forests.router(true);
    assert_eq!(
        auth(&router, "alice@a.test", RIGHT).await.verdict,
        Verdict::Success
    );
    assert_eq!(
        auth(&router, "bob@b.test", RIGHT).await.verdict,
        Verdict::Success
    );
    assert_eq!(forests.calls(), (1, 1, 0));
    // Case-insensitive suffixes (and logins, in the memory directory).
    assert_eq!(
        auth(&router, "alice@A.Test", RIGHT).await.verdict,
        Verdict::Success
    );
    assert_eq!(
        auth(&router, "BOB@b.TEST", RIGHT).await.verdict,
        Verdict::Success
    );
    assert_eq!(forests.calls(), (2, 2, 0));
    // Each forest knows only its own users.
    assert_eq!(
        auth(&router, "bob@a.test", RIGHT).await.verdict,
        Verdict::InvalidCredentials
    );
    assert_eq!(
        auth(&router, "alice@a.test", WRONG).await.verdict,
        Verdict::InvalidCredentials
    );
    assert_eq!(forests.calls(), (4, 2, 0));
}

#[tokio::test]
async fn unknown_suffix_touches_no_directory() {
    let forests = Forests::new();
    for with_default in [true, false] {
        let router = forests.router(with_default);
        for login in [
            "eve@c.test",
            "alice@a.test.evil",
            "alice@a",
            "x@y@c.test",
            "a@b.test ",
        ] {
            assert_eq!(
                auth(&router, login, RIGHT).await,
                Outcome::invalid(),
                "{login}"
            );
            let changed = change(&router, login, RIGHT, "a fresh password")
                .await
                .unwrap();
            assert_eq!(changed, Outcome::invalid(), "{login}");
        }
    }
    assert_eq!(forests.calls(), (0, 0, 0));
}

#[tokio::test]
async fn no_suffix_goes_to_the_default() {
    let forests = Forests::new();
    let router = forests.router(true);
    assert_eq!(
        auth(&router, "carol", RIGHT).await.verdict,
        Verdict::Success
    );
    assert_eq!(
        auth(&router, "example\\DAVE", RIGHT).await.verdict,
        Verdict::Success
    );
    assert_eq!(
        auth(&router, "uid=nobody,dc=test", RIGHT).await,
        Outcome::invalid()
    );
    assert_eq!(forests.calls(), (0, 0, 3));
    let changed = change(&router, "carol", RIGHT, "a fresh password")
        .await
        .unwrap();
    assert_eq!(changed.verdict, Verdict::Success);
    assert_eq!(
        auth(&router, "carol", "a fresh password").await.verdict,
        Verdict::Success
    );
    assert_eq!(forests.calls(), (0, 0, 5));
}

#[tokio::test]
async fn no_default_means_invalid_credentials() {
    let forests = Forests::new();
    let router = forests.router(false);
    for login in [
        "carol",
        "EXAMPLE\\dave",
        "uid=carol,dc=test",
        "@a.test",
        "alice@",
    ] {
        assert_eq!(
            auth(&router, login, RIGHT).await,
            Outcome::invalid(),
            "{login}"
        );
    }
    assert_eq!(forests.calls(), (0, 0, 0));
    assert_eq!(
        auth(&router, "alice@a.test", RIGHT).await.verdict,
        Verdict::Success
    );
    assert_eq!(forests.calls(), (1, 0, 0));
}

#[tokio::test]
async fn router_change_password_routes_the_same_way() {
    let forests = Forests::new();
    let router = forests.router(true);
    let changed = change(&router, "alice@A.TEST", RIGHT, "a fresh password")
        .await
        .unwrap();
    assert_eq!(changed.verdict, Verdict::Success);
    assert_eq!(forests.calls(), (1, 0, 0));
    assert_eq!(
        auth(forests.a.as_ref(), "alice@a.test", "a fresh password")
            .await
            .verdict,
        Verdict::Success
    );
    // The policy error comes through from the forest.
    let short = change(&router, "bob@b.test", RIGHT, "short").await;
    assert!(matches!(
        short,
        Err(DirectoryError::PasswordRejected(
            PasswordRejection::TooShort
        ))
    ));
    assert_eq!(forests.calls(), (2, 1, 0));
}

#[tokio::test]
async fn router_refuses_unusable_passwords_before_routing() {
    let forests = Forests::new();
    let router = forests.router(true);
    for login in ["alice@a.test", "carol", "eve@c.test"] {
        for password in ["", "right\0password"] {
            assert_eq!(auth(&router, login, password).await, Outcome::invalid());
            let changed = change(&router, login, password, "a fresh password")
                .await
                .unwrap();
            assert_eq!(changed, Outcome::invalid());
        }
    }
    assert_eq!(forests.calls(), (0, 0, 0));
}

/// Logins worth trying: anything, and shapes near the routed suffixes.
fn login() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z\\\\=,@ ]{0,6}",
        (
            "[a-zA-Z@]{0,4}",
            "[aAbBcC]",
            "(\\.[tT][eE][sS][tT])?",
            "[ .@]?"
        )
            .prop_map(|(name, forest, tld, tail)| format!("{name}@{forest}{tld}{tail}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn router_never_panics_and_unrouted_suffixes_reach_nothing(
        login in login(),
        password in prop_oneof![Just(String::new()), Just(RIGHT.to_owned()), any::<String>()],
        with_default in any::<bool>(),
    ) {
        let forests = Forests::new();
        let router = forests.router(with_default);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outcome = rt.block_on(router.authenticate(&login, &Password::new(password.clone())));
        let outcome = outcome.unwrap();

        let expected = if !Password::new(password).is_bindable() {
            (0, 0, 0)
        } else {
            match upn_suffix(&login).as_deref() {
                Some("a.test") => (1, 0, 0),
                Some("b.test") => (0, 1, 0),
                Some(_) => (0, 0, 0),
                None if with_default => (0, 0, 1),
                None => (0, 0, 0),
            }
        };
        prop_assert_eq!(forests.calls(), expected, "login {:?}", login);
        if expected == (0, 0, 0) {
            prop_assert_eq!(outcome, Outcome::invalid());
        }
    }
}
