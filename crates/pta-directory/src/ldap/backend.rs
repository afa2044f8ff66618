//! The LDAP / Active Directory [`Directory`].

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use ldap3::controls::RawControl;
use ldap3::exop::PasswordModify;
use ldap3::{Ldap, LdapConnSettings, LdapResult, Mod, Scope, SearchEntry};
use tokio::sync::OnceCell;

use super::config::{Dialect, LdapConfig, LoginResolution};
use super::conn::{Connector, Failure, classify, tls_config};
use super::pool::Pool;
use crate::ppolicy::PPOLICY_OID;
use crate::{
    Directory, DirectoryError, DnTemplate, MatchedUser, Misconfiguration, Outcome, Password,
    PasswordRejection, PpolicyError, PpolicyResponse, PpolicyWarning, Verdict, Warnings,
    ad_verdict, escape_filter_value,
};

/// `supportedCapabilities` value of Active Directory (and Samba AD).
const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";
/// Logins longer than this are refused without I/O.
const MAX_LOGIN_LEN: usize = 1024;

/// A directory reached over LDAP: Active Directory, Samba AD or OpenLDAP.
///
/// - Servers are tried in order; a server that cannot be reached is marked down for a
///   back-off that doubles per failure (up to `backoff_max`) and skipped meanwhile. When every
///   server is marked down, all are tried again (so recovery is noticed at once). Nothing is
///   retried after a request reached a server and timed out: a bind may have been counted.
/// - Each server has a pool of bind connections (one user bind at a time each) and a pool of
///   search connections bound as the service account. Broken connections are dropped and
///   replaced on demand.
/// - Logins are resolved by direct bind (AD), by a DN template (the login escaped as an
///   RFC 4514 attribute value) or by search-then-bind with RFC 4515 escaping, exactly one
///   match, referrals never followed.
/// - Empty passwords and passwords with NUL are invalid credentials without any bind.
/// - OpenLDAP user binds carry the password-policy request control; AD's `data XXX`
///   sub-codes are mapped on result 49.
///
/// Needs a tokio runtime; reads the monotonic clock for time-outs and back-off.
pub struct LdapDirectory {
    config: LdapConfig,
    template: Option<DnTemplate>,
    servers: Vec<Server>,
    detected: OnceCell<Detected>,
}

struct Server {
    connector: Connector,
    binds: Pool,
    searches: Pool,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    down_until: Option<Instant>,
    failures: u32,
}

/// What the root DSE said, or the configuration fixed.
#[derive(Debug, Clone)]
struct Detected {
    dialect: Dialect,
    base_dn: Option<String>,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("servers", &self.config.servers)
            .field("dialect", &self.detected.get().map(|d| d.dialect))
            .finish_non_exhaustive()
    }
}

impl LdapDirectory {
    /// Checks the configuration and builds the backend. Opens no connection yet.
    pub fn new(config: LdapConfig) -> Result<Self, DirectoryError> {
        let misconfigured = DirectoryError::Misconfigured;
        if config.servers.is_empty() {
            return Err(misconfigured(Misconfiguration::BadServerUrl));
        }
        let template = config
            .dn_template
            .as_deref()
            .map(DnTemplate::parse)
            .transpose()?;
        if config.resolution == LoginResolution::Template && template.is_none() {
            return Err(misconfigured(Misconfiguration::BadDnTemplate));
        }
        let tls = config.ca_pem.as_deref().map(tls_config).transpose()?;
        let mut servers = Vec::with_capacity(config.servers.len());
        for url in &config.servers {
            let ldaps = url.starts_with("ldaps://");
            if !ldaps && !url.starts_with("ldap://") {
                return Err(misconfigured(Misconfiguration::BadServerUrl));
            }
            let encrypted = ldaps || config.starttls;
            if !encrypted && !config.allow_insecure {
                return Err(misconfigured(Misconfiguration::InsecureTransport));
            }
            let mut settings = LdapConnSettings::new().set_conn_timeout(config.connect_timeout);
            if encrypted {
                let Some(tls) = &tls else {
                    return Err(misconfigured(Misconfiguration::BadCaPem));
                };
                settings = settings.set_config(tls.clone()).set_starttls(!ldaps);
            }
            servers.push(Server {
                connector: Connector {
                    url: url.clone(),
                    settings,
                },
                binds: Pool::new(config.bind_pool_size),
                searches: Pool::new(config.search_pool_size),
                health: Mutex::new(Health::default()),
            });
        }
        let detected = OnceCell::new();
        if config.dialect != Dialect::Detect && config.base_dn.is_some() {
            let _ = detected.set(Detected {
                dialect: config.dialect,
                base_dn: config.base_dn.clone(),
            });
        }
        Ok(Self {
            config,
            template,
            servers,
            detected,
        })
    }

    /// The dialect in use (detected from the root DSE on first use when configured as
    /// [`Dialect::Detect`]).
    pub async fn dialect(&self) -> Result<Dialect, DirectoryError> {
        Ok(self.detect().await?.dialect)
    }

    async fn detect(&self) -> Result<&Detected, DirectoryError> {
        self.detected
            .get_or_try_init(|| async {
                let found = self
                    .on_any_server(|server| self.read_root_dse(server))
                    .await?;
                Ok(Detected {
                    dialect: match self.config.dialect {
                        Dialect::Detect => found.dialect,
                        fixed => fixed,
                    },
                    base_dn: self.config.base_dn.clone().or(found.base_dn),
                })
            })
            .await
    }

    async fn read_root_dse(&self, server: &Server) -> Result<Detected, Failure> {
        let mut lease = server
            .binds
            .lease(self.config.operation_timeout, || server.connector.connect())
            .await?;
        let result = lease
            .conn()
            .with_timeout(self.config.operation_timeout)
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                vec![
                    "supportedCapabilities",
                    "defaultNamingContext",
                    "namingContexts",
                ],
            )
            .await;
        let (entries, res) = match result {
            Ok(r) => (r.0, r.1),
            Err(e) => {
                lease.discard();
                return Err(classify(&e));
            }
        };
        if res.rc != 0 {
            return Err(Failure::Fatal(DirectoryError::Protocol { rc: res.rc }));
        }
        let entry = entries
            .into_iter()
            .find(|e| !e.is_ref())
            .map(SearchEntry::construct);
        let attr = |name: &str| {
            entry
                .as_ref()
                .and_then(|e| e.attrs.get(name))
                .cloned()
                .unwrap_or_default()
        };
        let is_ad = attr("supportedCapabilities")
            .iter()
            .any(|c| c == AD_CAPABILITY);
        let base_dn = attr("defaultNamingContext").into_iter().next().or_else(|| {
            let contexts = attr("namingContexts");
            (contexts.len() == 1).then(|| contexts[0].clone())
        });
        Ok(Detected {
            dialect: if is_ad {
                Dialect::ActiveDirectory
            } else {
                Dialect::OpenLdap
            },
            base_dn,
        })
    }

    /// Runs `attempt` on the first server that can be reached, in failover order.
    async fn on_any_server<'a, T, F, Fut>(&'a self, mut attempt: F) -> Result<T, DirectoryError>
    where
        F: FnMut(&'a Server) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let now = Instant::now();
        let up: Vec<&Server> = self.servers.iter().filter(|s| s.is_up(now)).collect();
        let candidates = if up.is_empty() {
            self.servers.iter().collect()
        } else {
            up
        };
        let tried = candidates.len();
        for server in candidates {
            match attempt(server).await {
                Ok(value) => {
                    server.mark_up();
                    return Ok(value);
                }
                Err(Failure::Unreachable) => server.mark_down(&self.config),
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
        Err(DirectoryError::Unavailable { tried })
    }

    fn resolution(&self, dialect: Dialect) -> Result<LoginResolution, DirectoryError> {
        Ok(match self.config.resolution {
            LoginResolution::Auto if self.template.is_some() => LoginResolution::Template,
            LoginResolution::Auto if self.config.service_account.is_some() => {
                LoginResolution::Search
            }
            LoginResolution::Auto if dialect == Dialect::ActiveDirectory => LoginResolution::Direct,
            LoginResolution::Auto => {
                return Err(DirectoryError::Misconfigured(
                    Misconfiguration::NoSearchBase,
                ));
            }
            other => other,
        })
    }

    fn login_attributes(&self, dialect: Dialect) -> Vec<String> {
        if !self.config.login_attributes.is_empty() {
            return self.config.login_attributes.clone();
        }
        let defaults: &[&str] = match dialect {
            Dialect::ActiveDirectory => &["userPrincipalName", "sAMAccountName", "mail"],
            _ => &["uid", "mail"],
        };
        defaults.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Finds the one entry for `login`, as the service account. `Ok(None)`: no such user.
    async fn resolve(
        &self,
        server: &Server,
        detected: &Detected,
        login: &str,
    ) -> Result<Option<MatchedUser>, Failure> {
        let Some(base) = detected.base_dn.as_deref() else {
            return Err(DirectoryError::Misconfigured(Misconfiguration::NoSearchBase).into());
        };
        let Some(account) = &self.config.service_account else {
            return Err(DirectoryError::Misconfigured(Misconfiguration::NoSearchBase).into());
        };
        let attributes = self.login_attributes(detected.dialect);
        if attributes.is_empty() {
            return Err(DirectoryError::Misconfigured(Misconfiguration::NoSearchBase).into());
        }
        let value = escape_filter_value(login);
        let mut filter = String::from("(|");
        for attr in &attributes {
            filter.push_str(&format!("({attr}={value})"));
        }
        filter.push(')');
        if detected.dialect == Dialect::ActiveDirectory {
            filter = format!("(&(objectCategory=person)(objectClass=user){filter})");
        }

        let timeout = self.config.operation_timeout;
        let mut lease = server
            .searches
            .lease(timeout, || async {
                let mut conn = server.connector.connect().await?;
                let res = conn
                    .with_timeout(timeout)
                    .simple_bind(&account.bind_name, account.password.expose())
                    .await
                    .map_err(|e| classify(&e))?;
                match res.rc {
                    0 => Ok(conn),
                    49 | 50 | 53 => Err(Failure::Fatal(DirectoryError::Misconfigured(
                        Misconfiguration::ServiceAccountRejected,
                    ))),
                    51 | 52 => Err(Failure::Unreachable),
                    rc => Err(Failure::Fatal(DirectoryError::Protocol { rc })),
                }
            })
            .await?;
        let upn_attr = "userPrincipalName";
        let result = lease
            .conn()
            .with_timeout(timeout)
            .search(base, Scope::Subtree, &filter, vec![upn_attr])
            .await;
        let (entries, res) = match result {
            Ok(r) => (r.0, r.1),
            Err(e) => {
                lease.discard();
                return Err(classify(&e));
            }
        };
        match res.rc {
            // 0: done; 10: referral only (not followed); 4: size limit (more than we need).
            0 | 10 | 4 => {}
            32 => return Ok(None),
            50 => return Err(DirectoryError::Misconfigured(Misconfiguration::SearchDenied).into()),
            51 | 52 => {
                lease.discard();
                return Err(Failure::Unreachable);
            }
            rc => return Err(DirectoryError::Protocol { rc }.into()),
        }
        // Continuation references are never followed.
        let mut found: Vec<SearchEntry> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(SearchEntry::construct)
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => {
                let entry = found.remove(0);
                let upn = entry.attrs.get(upn_attr).and_then(|v| v.first()).cloned();
                Ok(Some(MatchedUser::new(entry.dn, upn)))
            }
            n => Err(DirectoryError::Ambiguous { matches: n }.into()),
        }
    }

    /// Binds as `name` on a bind connection and returns the raw result.
    async fn user_bind(
        &self,
        server: &Server,
        name: &str,
        password: &Password,
        ppolicy: bool,
    ) -> Result<LdapResult, Failure> {
        let timeout = self.config.operation_timeout;
        let mut lease = server
            .binds
            .lease(timeout, || server.connector.connect())
            .await?;
        let conn: &mut Ldap = lease.conn();
        if ppolicy {
            conn.with_controls(vec![ppolicy_request()]);
        }
        match conn
            .with_timeout(timeout)
            .simple_bind(name, password.expose())
            .await
        {
            Ok(res) => {
                if matches!(res.rc, 51 | 52) {
                    lease.discard();
                    return Err(Failure::Unreachable);
                }
                Ok(res)
            }
            Err(e) => {
                lease.discard();
                Err(classify(&e))
            }
        }
    }

    /// The name to bind as for `login`, and the entry it resolved to when a search was needed.
    /// `None`: no such user.
    async fn bind_name(
        &self,
        server: &Server,
        detected: &Detected,
        login: &str,
    ) -> Result<Option<(String, Option<MatchedUser>)>, Failure> {
        Ok(match self.resolution(detected.dialect)? {
            LoginResolution::Search => self
                .resolve(server, detected, login)
                .await?
                .map(|user| (user.dn.clone(), Some(user))),
            LoginResolution::Template => self
                .template
                .as_ref()
                .and_then(|template| template.dn_for(login))
                .map(|dn| (dn, None)),
            _ => Some((login.to_owned(), None)),
        })
    }

    async fn authenticate_on(
        &self,
        server: &Server,
        detected: &Detected,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, Failure> {
        let Some((bind_name, user)) = self.bind_name(server, detected, login).await? else {
            return Ok(Outcome::invalid());
        };
        let openldap = detected.dialect == Dialect::OpenLdap;
        let res = self
            .user_bind(server, &bind_name, password, openldap)
            .await?;
        let outcome = bind_outcome(detected.dialect, &res)?;
        Ok(match user {
            Some(user) => outcome.with_user(user),
            None => outcome,
        })
    }

    async fn change_on(
        &self,
        server: &Server,
        detected: &Detected,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, Failure> {
        let Some((bind_name, user)) = self.bind_name(server, detected, login).await? else {
            return Ok(Outcome::invalid());
        };
        let timeout = self.config.operation_timeout;
        // A connection of its own: it ends up bound as the user, with a modification pending.
        let mut conn = server.connector.connect().await?;
        let openldap = detected.dialect == Dialect::OpenLdap;
        if openldap {
            conn.with_controls(vec![ppolicy_request()]);
        }
        let res = conn
            .with_timeout(timeout)
            .simple_bind(&bind_name, old.expose())
            .await
            .map_err(|e| classify(&e))?;
        let outcome = bind_outcome(detected.dialect, &res)?;
        // The old password must be right; an expired or must-change password may be changed.
        let may_change = match detected.dialect {
            Dialect::ActiveDirectory => matches!(
                outcome.verdict,
                Verdict::Success | Verdict::MustChangePassword | Verdict::PasswordExpired
            ),
            _ => res.rc == 0,
        };
        if !may_change {
            let _ = conn.unbind().await;
            return Ok(outcome);
        }
        let result = if openldap {
            let pm = PasswordModify {
                user_id: None,
                old_pass: Some(old.expose()),
                new_pass: Some(new.expose()),
            };
            conn.with_controls(vec![ppolicy_request()]);
            conn.with_timeout(timeout).extended(pm).await.map(|r| r.1)
        } else {
            // AD: delete the old value and add the new one, as quoted UTF-16LE strings; the
            // delete proves the old password. AD refuses the bind of an expired or must-change
            // password, so such a change is made over a connection bound as the service account
            // instead (AD grants every user's "Change Password" right to Everyone).
            if outcome.verdict != Verdict::Success {
                let Some(account) = &self.config.service_account else {
                    let _ = conn.unbind().await;
                    return Ok(outcome);
                };
                let res = conn
                    .with_timeout(timeout)
                    .simple_bind(&account.bind_name, account.password.expose())
                    .await
                    .map_err(|e| classify(&e))?;
                if res.rc != 0 {
                    return Err(DirectoryError::Misconfigured(
                        Misconfiguration::ServiceAccountRejected,
                    )
                    .into());
                }
            }
            let dn = match &user {
                Some(u) => u.dn.clone(),
                None => match self.dn_of(server, detected, &mut conn, login).await? {
                    Some(dn) => dn,
                    None => return Ok(Outcome::invalid()),
                },
            };
            let mods = vec![
                Mod::Delete(b"unicodePwd".to_vec(), HashSet::from([unicode_pwd(old)])),
                Mod::Add(b"unicodePwd".to_vec(), HashSet::from([unicode_pwd(new)])),
            ];
            conn.with_timeout(timeout).modify(&dn, mods).await
        };
        let _ = conn.unbind().await;
        let res = result.map_err(|e| classify(&e))?;
        if res.rc == 0 {
            let outcome = Outcome::new(Verdict::Success);
            return Ok(match user {
                Some(user) => outcome.with_user(user),
                None => outcome,
            });
        }
        Err(Failure::Fatal(change_error(detected.dialect, &res)))
    }

    /// The DN of the entry bound as `login` on AD, through a base search of the user's own
    /// entry: the bind name is a UPN and the modification needs a DN.
    async fn dn_of(
        &self,
        _server: &Server,
        detected: &Detected,
        conn: &mut Ldap,
        login: &str,
    ) -> Result<Option<String>, Failure> {
        let Some(base) = detected.base_dn.as_deref() else {
            return Err(DirectoryError::Misconfigured(Misconfiguration::NoSearchBase).into());
        };
        let value = escape_filter_value(login);
        let filter = format!("(|(userPrincipalName={value})(sAMAccountName={value}))");
        let res = conn
            .with_timeout(self.config.operation_timeout)
            .search(base, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .map_err(|e| classify(&e))?;
        let found: Vec<String> = res
            .0
            .into_iter()
            .filter(|e| !e.is_ref())
            .map(|e| SearchEntry::construct(e).dn)
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            n => Err(DirectoryError::Ambiguous { matches: n }.into()),
        }
    }
}

impl Server {
    fn is_up(&self, now: Instant) -> bool {
        let health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        health.down_until.is_none_or(|t| now >= t)
    }

    fn mark_up(&self) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        *health = Health::default();
    }

    fn mark_down(&self, config: &LdapConfig) {
        self.binds.clear();
        self.searches.clear();
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let factor = 1u32 << health.failures.min(16);
        let backoff = config
            .backoff_initial
            .saturating_mul(factor)
            .min(config.backoff_max);
        health.failures = health.failures.saturating_add(1);
        health.down_until = Some(Instant::now() + backoff);
    }
}

fn ppolicy_request() -> RawControl {
    RawControl {
        ctype: PPOLICY_OID.to_owned(),
        crit: false,
        val: None,
    }
}

/// `"password"` in UTF-16LE, the value format of AD's `unicodePwd`.
fn unicode_pwd(password: &Password) -> Vec<u8> {
    let quoted = format!("\"{}\"", password.expose());
    let bytes = quoted.encode_utf16().flat_map(u16::to_le_bytes).collect();
    drop(zeroize::Zeroizing::new(quoted));
    bytes
}

/// The ppolicy response control of a result, if any (malformed ones are ignored: the result
/// code alone then decides).
fn ppolicy_response(res: &LdapResult) -> Option<PpolicyResponse> {
    res.ctrls
        .iter()
        .find(|c| c.1.ctype == PPOLICY_OID)
        .and_then(|c| PpolicyResponse::decode(c.1.val.as_deref().unwrap_or_default()).ok())
}

fn warnings(response: Option<PpolicyResponse>) -> Warnings {
    let mut w = Warnings::default();
    match response.and_then(|r| r.warning) {
        Some(PpolicyWarning::TimeBeforeExpiration(s)) => {
            w.seconds_until_expiry = Some(u64::from(s))
        }
        Some(PpolicyWarning::GraceAuthNsRemaining(n)) => w.grace_logins_left = Some(n),
        None => {}
    }
    w
}

/// Maps a user bind result to an outcome, or to an error when it is not about the password.
fn bind_outcome(dialect: Dialect, res: &LdapResult) -> Result<Outcome, DirectoryError> {
    let response = ppolicy_response(res);
    let verdict = match (res.rc, dialect) {
        (0, _) => match response.and_then(|r| r.error) {
            Some(PpolicyError::ChangeAfterReset) => Verdict::MustChangePassword,
            _ => Verdict::Success,
        },
        (49, Dialect::ActiveDirectory) => ad_verdict(&res.text),
        (49, _) => match response.and_then(|r| r.error) {
            Some(PpolicyError::PasswordExpired) => Verdict::PasswordExpired,
            Some(PpolicyError::AccountLocked) => Verdict::AccountLocked,
            _ => Verdict::InvalidCredentials,
        },
        // invalidDNSyntax / noSuchObject for a bind name: no such user.
        (34 | 32, _) => Verdict::InvalidCredentials,
        (rc, _) => return Err(DirectoryError::Protocol { rc }),
    };
    Ok(Outcome::new(verdict).with_warnings(warnings(response)))
}

/// The error for a refused password change.
fn change_error(dialect: Dialect, res: &LdapResult) -> DirectoryError {
    if let Some(error) = ppolicy_response(res).and_then(|r| r.error) {
        return DirectoryError::PasswordRejected(match error {
            PpolicyError::PasswordTooShort => PasswordRejection::TooShort,
            PpolicyError::PasswordInHistory => PasswordRejection::InHistory,
            PpolicyError::PasswordTooYoung => PasswordRejection::TooYoung,
            PpolicyError::InsufficientPasswordQuality => PasswordRejection::Quality,
            PpolicyError::PasswordModNotAllowed | PpolicyError::MustSupplyOldPassword => {
                PasswordRejection::NotAllowed
            }
            _ => PasswordRejection::Policy,
        });
    }
    let text = res.text.to_ascii_lowercase();
    match (res.rc, dialect) {
        // constraintViolation (AD: 0000052D), or unwillingToPerform.
        (19 | 53, _) if text.contains("too short") => {
            DirectoryError::PasswordRejected(PasswordRejection::TooShort)
        }
        (19 | 53, _) if text.contains("history") => {
            DirectoryError::PasswordRejected(PasswordRejection::InHistory)
        }
        (19 | 53, _) if text.contains("too young") || text.contains("minimum password age") => {
            DirectoryError::PasswordRejected(PasswordRejection::TooYoung)
        }
        (19 | 53, _) if text.contains("complex") || text.contains("quality") => {
            DirectoryError::PasswordRejected(PasswordRejection::Quality)
        }
        (19, _) => DirectoryError::PasswordRejected(PasswordRejection::Policy),
        (50, _) => DirectoryError::PasswordRejected(PasswordRejection::NotAllowed),
        (rc, _) => DirectoryError::Protocol { rc },
    }
}

/// Whether a login can name a user at all (non-empty, bounded, no control characters).
fn plausible_login(login: &str) -> bool {
    !login.is_empty() && login.len() <= MAX_LOGIN_LEN && !login.chars().any(char::is_control)
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError> {
        if !password.is_bindable() || !plausible_login(login) {
            return Ok(Outcome::invalid());
        }
        let detected = self.detect().await?;
        self.on_any_server(|server| self.authenticate_on(server, detected, login, password))
            .await
    }

    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError> {
        if !old.is_bindable() || !plausible_login(login) {
            return Ok(Outcome::invalid());
        }
        if !new.is_bindable() {
            return Err(DirectoryError::PasswordRejected(PasswordRejection::Quality));
        }
        let detected = self.detect().await?;
        self.on_any_server(|server| self.change_on(server, detected, login, old, new))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn result(rc: u32, text: &str, ppolicy: Option<&[u8]>) -> LdapResult {
        let ctrls = ppolicy
            .map(|v| {
                vec![ldap3::controls::Control(
                    None,
                    RawControl {
                        ctype: PPOLICY_OID.to_owned(),
                        crit: false,
                        val: Some(v.to_vec()),
                    },
                )]
            })
            .unwrap_or_default();
        LdapResult {
            rc,
            matched: String::new(),
            text: text.to_owned(),
            refs: Vec::new(),
            ctrls,
        }
    }

    #[test]
    fn openldap_bind_results() {
        let ol = Dialect::OpenLdap;
        let v = |rc, c: Option<&[u8]>| bind_outcome(ol, &result(rc, "", c)).map(|o| o.verdict);
        assert_eq!(v(0, Some(&[0x30, 0x00])).unwrap(), Verdict::Success);
        assert_eq!(
            v(0, Some(&[0x30, 0x03, 0x81, 0x01, 0x02])).unwrap(),
            Verdict::MustChangePassword
        );
        assert_eq!(
            v(49, Some(&[0x30, 0x03, 0x81, 0x01, 0x00])).unwrap(),
            Verdict::PasswordExpired
        );
        assert_eq!(
            v(49, Some(&[0x30, 0x03, 0x81, 0x01, 0x01])).unwrap(),
            Verdict::AccountLocked
        );
        assert_eq!(v(49, None).unwrap(), Verdict::InvalidCredentials);
        assert_eq!(v(34, None).unwrap(), Verdict::InvalidCredentials);
        assert!(matches!(
            v(53, None),
            Err(DirectoryError::Protocol { rc: 53 })
        ));
        let o = bind_outcome(
            ol,
            &result(0, "", Some(&[0x30, 0x05, 0xa0, 0x03, 0x80, 0x01, 0x3c])),
        )
        .unwrap();
        assert_eq!(o.warnings.seconds_until_expiry, Some(60));
    }

    #[test]
    fn ad_change_errors() {
        let ad = Dialect::ActiveDirectory;
        let short = "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!";
        assert!(matches!(
            change_error(ad, &result(19, short, None)),
            DirectoryError::PasswordRejected(PasswordRejection::TooShort)
        ));
        let hist = "0000052D: Constraint violation - check_password_restrictions: the password was already used (in history)!";
        assert!(matches!(
            change_error(ad, &result(19, hist, None)),
            DirectoryError::PasswordRejected(PasswordRejection::InHistory)
        ));
        assert!(matches!(
            change_error(ad, &result(80, "", None)),
            DirectoryError::Protocol { rc: 80 }
        ));
    }

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        assert_eq!(
            unicode_pwd(&Password::new("ab")),
            vec![b'"', 0, b'a', 0, b'b', 0, b'"', 0]
        );
    }

    #[test]
    fn implausible_logins() {
        assert!(!plausible_login(""));
        assert!(!plausible_login("a\0b"));
        assert!(!plausible_login("a\nb"));
        assert!(!plausible_login(&"a".repeat(2000)));
        assert!(plausible_login("alice)(uid=*"));
    }

    #[test]
    fn configuration_errors() {
        let err = |c: LdapConfig| LdapDirectory::new(c).err();
        assert!(matches!(
            err(LdapConfig::default()),
            Some(DirectoryError::Misconfigured(
                Misconfiguration::BadServerUrl
            ))
        ));
        assert!(matches!(
            err(LdapConfig::new(["http://x"])),
            Some(DirectoryError::Misconfigured(
                Misconfiguration::BadServerUrl
            ))
        ));
        assert!(matches!(
            err(LdapConfig::new(["ldaps://x"])),
            Some(DirectoryError::Misconfigured(Misconfiguration::BadCaPem))
        ));
        let mut plain = LdapConfig::new(["ldap://x"]);
        plain.starttls = false;
        assert!(matches!(
            err(plain.clone()),
            Some(DirectoryError::Misconfigured(
                Misconfiguration::InsecureTransport
            ))
        ));
        plain.allow_insecure = true;
        assert!(LdapDirectory::new(plain).is_ok());
        let mut bad_pem = LdapConfig::new(["ldaps://x"]);
        bad_pem.ca_pem = Some("not a pem".into());
        assert!(matches!(
            err(bad_pem),
            Some(DirectoryError::Misconfigured(Misconfiguration::BadCaPem))
        ));
    }

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let mut config = LdapConfig::new(["ldap://127.0.0.1:1"]);
        config.starttls = false;
        config.allow_insecure = true;
        config.backoff_initial = Duration::from_secs(1);
        config.backoff_max = Duration::from_secs(3);
        let dir = LdapDirectory::new(config.clone()).unwrap();
        let server = &dir.servers[0];
        let t0 = Instant::now();
        assert!(server.is_up(t0));
        server.mark_down(&config);
        assert!(!server.is_up(Instant::now()));
        assert!(server.is_up(t0 + Duration::from_millis(1100)));
        server.mark_down(&config);
        assert!(!server.is_up(Instant::now() + Duration::from_millis(1900)));
        server.mark_down(&config);
        server.mark_down(&config);
        assert!(
            server.is_up(Instant::now() + Duration::from_millis(3100)),
            "capped at 3 s"
        );
        server.mark_up();
        assert!(server.is_up(Instant::now()));
        assert_eq!(server.binds.idle_count(), 0);
    }
}
