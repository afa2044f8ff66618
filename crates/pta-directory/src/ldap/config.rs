use std::time::Duration;

use crate::Password;

/// Which directory server software a backend talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// Active Directory (or Samba AD): account states in the `data XXX` sub-code of result 49.
    ActiveDirectory,
    /// OpenLDAP with the ppolicy overlay: account states in the password-policy control.
    OpenLdap,
    /// Read the root DSE of the first reachable server: Active Directory if it advertises
    /// `supportedCapabilities: 1.2.840.113556.1.4.800`, OpenLDAP otherwise.
    #[default]
    Detect,
}

/// How a login becomes the name the user binds as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LoginResolution {
    /// [`Template`](Self::Template) when a DN template is configured; otherwise
    /// search-then-bind when a service account is configured; otherwise bind directly with the
    /// login on Active Directory (which accepts a UPN as the bind name), and fail as
    /// misconfigured on OpenLDAP.
    #[default]
    Auto,
    /// Bind with the login as given (Active Directory: UPN, `DOMAIN\name`, DN).
    Direct,
    /// Search for exactly one entry whose login attributes equal the login, as the service
    /// account, then bind as its DN.
    Search,
    /// Bind as [`LdapConfig::dn_template`] with the login, escaped as a DN attribute value
    /// (RFC 4514), in place of `{login}`: one operation per sign-in, no search and no service
    /// account, for directories whose users' DNs follow from their login.
    Template,
}

/// The account a backend binds as to search for users.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// Bind name (DN, or a UPN on Active Directory).
    pub bind_name: String,
    /// Its password.
    pub password: Password,
}

/// Configuration of an [`LdapDirectory`](crate::LdapDirectory).
///
/// Servers are `ldaps://host:port` or `ldap://host:port`. `ldap://` uses StartTLS unless
/// `starttls` is off, which also needs `allow_insecure` (the password would cross the network
/// in clear). TLS trusts only `ca_pem` (no system roots: a directory's CA is private).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LdapConfig {
    /// Server URLs, tried in this order.
    pub servers: Vec<String>,
    /// PEM with the CA certificate(s) that issued the servers' certificates.
    pub ca_pem: Option<String>,
    /// Use StartTLS on `ldap://` URLs. Default on.
    pub starttls: bool,
    /// Allow plain `ldap://` without StartTLS. Default off; for tests and lab set-ups only.
    pub allow_insecure: bool,
    /// Server software. Default [`Dialect::Detect`].
    pub dialect: Dialect,
    /// How logins become bind names. Default [`LoginResolution::Auto`].
    pub resolution: LoginResolution,
    /// The service account for searches.
    pub service_account: Option<ServiceAccount>,
    /// Where users are searched. Default: the root DSE's `defaultNamingContext` (AD) or its
    /// only `namingContexts` value.
    pub base_dn: Option<String>,
    /// The bind DN of a login for [`LoginResolution::Template`], with one `{login}` standing
    /// for a whole attribute value: `uid={login},ou=people,dc=example,dc=org`. Checked by
    /// [`LdapDirectory::new`](crate::LdapDirectory::new) (see [`DnTemplate`](crate::DnTemplate)).
    pub dn_template: Option<String>,
    /// Attributes a login may equal, in search-then-bind. Default: `userPrincipalName`,
    /// `sAMAccountName`, `mail` on AD; `uid`, `mail` on OpenLDAP.
    pub login_attributes: Vec<String>,
    /// Time to connect (TCP and TLS, StartTLS included). Default 5 s.
    pub connect_timeout: Duration,
    /// Time for one operation (bind, search, modify). Default 5 s.
    pub operation_timeout: Duration,
    /// Connections per server for user binds (one bind at a time each). Default 8.
    pub bind_pool_size: usize,
    /// Connections per server for searches, bound as the service account. Default 4.
    pub search_pool_size: usize,
    /// First back-off after a server fails; doubles per failure. Default 1 s.
    pub backoff_initial: Duration,
    /// Longest back-off. Default 60 s.
    pub backoff_max: Duration,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            ca_pem: None,
            starttls: true,
            allow_insecure: false,
            dialect: Dialect::Detect,
            resolution: LoginResolution::Auto,
            service_account: None,
            base_dn: None,
            dn_template: None,
            login_attributes: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(5),
            bind_pool_size: 8,
            search_pool_size: 4,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

impl LdapConfig {
    /// A configuration for these servers, with defaults for everything else.
    pub fn new<I, S>(servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            servers: servers.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}
