use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{Directory, DirectoryError, Outcome, Password, upn_suffix};

/// Several directories (forests), chosen by the login's UPN suffix.
///
/// A login with a UPN suffix (see [`upn_suffix`]: the part after the last `@`, compared without
/// ASCII case) goes to the directory routed for that suffix. A login without one
/// (`DOMAIN\user`, a DN, a bare uid) goes to the default directory, if there is one.
///
/// ```text
///  login ──► password bindable? ──no──► InvalidCredentials
///                 │ yes
///                 ▼
///            upn_suffix(login)
///            ├─ Some(s), s routed     ──► routes[s]
///            ├─ Some(s), s not routed ──► InvalidCredentials  (even with a default)
///            ├─ None, default set     ──► default
///            └─ None, no default      ──► InvalidCredentials
/// ```
///
/// # Security contract
///
/// - A password that is not bindable ([`Password::is_bindable`]) is
///   [`Verdict::InvalidCredentials`](crate::Verdict::InvalidCredentials) before any routing:
///   no directory is called.
/// - A login whose suffix no route names is `InvalidCredentials` without calling any
///   directory, not even the default: an unknown suffix cannot make the router send a password
///   to a forest the login does not name.
/// - A login without a suffix and no default directory is `InvalidCredentials`, also without
///   I/O.
/// - Otherwise the chosen directory's answer (verdict or [`DirectoryError`]) is returned as it
///   is.
///
/// # Example
///
/// ```
/// # use std::sync::Arc;
/// # use pta_directory::{Directory, SuffixRouter};
/// # fn forests(a: Arc<dyn Directory>, b: Arc<dyn Directory>) -> SuffixRouter {
/// SuffixRouter::new()
///     .route("a.test", a.clone())
///     .route("B.Test", b) // stored as "b.test"
///     .default_directory(a)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct SuffixRouter {
    routes: HashMap<String, Arc<dyn Directory>>,
    default: Option<Arc<dyn Directory>>,
}

impl SuffixRouter {
    /// A router with no routes and no default: every login is invalid credentials until routes
    /// are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes logins whose UPN suffix is `suffix` to `directory`.
    ///
    /// The suffix is stored ASCII-lower-cased (as [`upn_suffix`] lower-cases the login's), and
    /// one leading `@` is dropped, so `"@Example.TEST"` routes `alice@example.test`. A suffix
    /// is routed once: routing the same suffix again replaces the earlier directory (a
    /// configuration loader that wants to refuse duplicates should check
    /// [`is_routed`](Self::is_routed) first). An empty suffix never matches a login.
    #[must_use]
    pub fn route(mut self, suffix: &str, directory: Arc<dyn Directory>) -> Self {
        self.routes.insert(normalise(suffix), directory);
        self
    }

    /// Sets the directory for logins without a UPN suffix (`DOMAIN\user`, a DN, a bare uid).
    /// It is never used for a login whose suffix is not routed. Setting it again replaces it.
    #[must_use]
    pub fn default_directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.default = Some(directory);
        self
    }

    /// Whether `suffix` (compared as [`route`](Self::route) stores it) has a route.
    pub fn is_routed(&self, suffix: &str) -> bool {
        self.routes.contains_key(&normalise(suffix))
    }

    /// The directory for `login`, or `None` when the login must be refused without I/O.
    fn select(&self, login: &str) -> Option<&Arc<dyn Directory>> {
        match upn_suffix(login) {
            Some(suffix) => self.routes.get(&suffix),
            None => self.default.as_ref(),
        }
    }
}

fn normalise(suffix: &str) -> String {
    suffix
        .strip_prefix('@')
        .unwrap_or(suffix)
        .to_ascii_lowercase()
}

impl std::fmt::Debug for SuffixRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut suffixes: Vec<&str> = self.routes.keys().map(String::as_str).collect();
        suffixes.sort_unstable();
        f.debug_struct("SuffixRouter")
            .field("suffixes", &suffixes)
            .field("has_default", &self.default.is_some())
            .finish()
    }
}

#[async_trait]
impl Directory for SuffixRouter {
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError> {
        if !password.is_bindable() {
            return Ok(Outcome::invalid());
        }
        match self.select(login) {
            Some(directory) => directory.authenticate(login, password).await,
            None => Ok(Outcome::invalid()),
        }
    }

    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError> {
        if !old.is_bindable() {
            return Ok(Outcome::invalid());
        }
        match self.select(login) {
            Some(directory) => directory.change_password(login, old, new).await,
            None => Ok(Outcome::invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::SuffixRouter;
    use crate::{Directory, DirectoryError, MatchedUser, Outcome, Password, Verdict};

    /// Answers Success naming itself, and counts calls.
    struct Named(&'static str, AtomicUsize);

    impl Named {
        fn new(name: &'static str) -> Arc<Self> {
            Arc::new(Self(name, AtomicUsize::new(0)))
        }
        fn calls(&self) -> usize {
            self.1.load(Ordering::SeqCst)
        }
        fn outcome(&self) -> Outcome {
            self.1.fetch_add(1, Ordering::SeqCst);
            Outcome::new(Verdict::Success).with_user(MatchedUser::new(self.0, None))
        }
    }

    #[async_trait]
    impl Directory for Named {
        async fn authenticate(&self, _: &str, _: &Password) -> Result<Outcome, DirectoryError> {
            Ok(self.outcome())
        }
        async fn change_password(
            &self,
            _: &str,
            _: &Password,
            _: &Password,
        ) -> Result<Outcome, DirectoryError> {
            Ok(self.outcome())
        }
    }

    fn who(outcome: &Outcome) -> Option<&str> {
        outcome.user.as_ref().map(|u| u.dn.as_str())
    }

    #[tokio::test]
    async fn routes_by_suffix_and_default() {
        let (a, b, d) = (Named::new("a"), Named::new("b"), Named::new("d"));
        let router = SuffixRouter::new()
            .route("@A.test", a.clone())
            .route("b.test", b.clone())
            .default_directory(d.clone());
        let pw = Password::new("pw");
        let ask = |login: &'static str| {
            let router = &router;
            let pw = &pw;
            async move { router.authenticate(login, pw).await.unwrap() }
        };
        assert_eq!(who(&ask("alice@a.TEST").await), Some("a"));
        assert_eq!(who(&ask("bob@b.test").await), Some("b"));
        assert_eq!(who(&ask("EXAMPLE\\carol").await), Some("d"));
        assert_eq!(who(&ask("uid=dave,dc=x").await), Some("d"));
        assert_eq!(ask("eve@c.test").await, Outcome::invalid());
        assert_eq!((a.calls(), b.calls(), d.calls()), (1, 1, 2));
        assert!(router.is_routed("A.TEST"));
        assert!(!router.is_routed("c.test"));
    }

    #[tokio::test]
    async fn unbindable_and_no_default_touch_nothing() {
        let a = Named::new("a");
        let router = SuffixRouter::new().route("a.test", a.clone());
        for pw in ["", "x\0y"] {
            let pw = Password::new(pw);
            assert_eq!(
                router.authenticate("alice@a.test", &pw).await.unwrap(),
                Outcome::invalid()
            );
            let new = Password::new("new password");
            let changed = router
                .change_password("alice@a.test", &pw, &new)
                .await
                .unwrap();
            assert_eq!(changed, Outcome::invalid());
        }
        let pw = Password::new("pw");
        assert_eq!(
            router.authenticate("alice", &pw).await.unwrap(),
            Outcome::invalid()
        );
        assert_eq!(a.calls(), 0);
        let changed = router
            .change_password("alice@a.test", &pw, &pw)
            .await
            .unwrap();
        assert_eq!(who(&changed), Some("a"));
        assert_eq!(a.calls(), 1);
    }

    #[tokio::test]
    async fn later_route_replaces_and_debug_lists_suffixes() {
        let router = SuffixRouter::new()
            .route("a.test", Named::new("first"))
            .route("A.TEST", Named::new("second"));
        let outcome = router
            .authenticate("alice@a.test", &Password::new("pw"))
            .await
            .unwrap();
        assert_eq!(who(&outcome), Some("second"));
        assert_eq!(
            format!("{router:?}"),
            r#"SuffixRouter { suffixes: ["a.test"], has_default: false }"#
        );
    }
}
