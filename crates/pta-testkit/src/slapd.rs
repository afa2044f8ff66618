//! A private OpenLDAP server.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result, io};
use crate::process::{ServerProcess, StartFailure, find_program, free_port, run};
use crate::tls::TestCa;
use crate::users::{Role, SLAPD_BASE_DN, SLAPD_BULK_PASSWORD, SLAPD_USERS, TestUser};

/// How long slapd may take to listen (it takes about 0.1 s).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Start attempts: a free port can be taken by someone else between our probe and slapd's bind.
const START_ATTEMPTS: usize = 3;

/// Options of a [`Slapd`] fixture.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SlapdOptions {
    /// Allow a DN with an empty password to bind (as anonymous), as Windows AD does
    /// (`allow bind_anon_dn`). Off by default: slapd then answers 53 (unwillingToPerform).
    pub allow_empty_password_binds: bool,
    /// Number of bulk users (`uid=bulk00000,ou=bulk,dc=example,dc=test` ...), all with
    /// [`SLAPD_BULK_PASSWORD`]. Default 300.
    pub bulk_users: usize,
    /// Log every operation (slapd's `stats` level) to the fixture's log, so a test can see which
    /// binds the server received ([`Slapd::log`]). Off by default (it costs throughput).
    pub log_operations: bool,
}

impl Default for SlapdOptions {
    fn default() -> Self {
        Self {
            allow_empty_password_binds: false,
            bulk_users: 300,
            log_operations: false,
        }
    }
}

/// A private OpenLDAP server on 127.0.0.1, with LDAP (and StartTLS) and LDAPS on free ports,
/// the ppolicy overlay and the user matrix of [`SLAPD_USERS`]. Stopped, and its directory
/// deleted, on drop.
///
/// Password policy (ppolicy overlay, default policy `cn=default,ou=policies`): lockout after
/// 3 failures for one hour, must-change after an administrative reset, new passwords of at
/// least 8 characters and not among the last 3 (users may change their own through the
/// RFC 3062 Password Modify operation); the password-expired user
/// is under `cn=expiring,ou=policies` (maximum age one day, no grace logins) with a password
/// changed in 2020. ACLs: anonymous may bind and read the root DSE only; the service account
/// reads everything but passwords; users read their own entry.
#[derive(Debug)]
pub struct Slapd {
    process: ServerProcess,
    ldap_port: u16,
    ldaps_port: u16,
    ca: TestCa,
    bulk_users: usize,
    // Last, so the directory goes after the process has stopped.
    dir: tempfile::TempDir,
}

impl Slapd {
    /// Starts a fixture with default options.
    pub fn start() -> Result<Self> {
        Self::start_with(SlapdOptions::default())
    }

    /// Starts a fixture with `options`.
    pub fn start_with(options: SlapdOptions) -> Result<Self> {
        let slapd = find_program("slapd", "slapd")?;
        let slapadd = find_program("slapadd", "slapd")?;
        let slappasswd = find_program("slappasswd", "slapd")?;

        let dir = tempfile::Builder::new()
            .prefix("pta-testkit-slapd-")
            .tempdir()
            .map_err(io("create a temporary directory in", std::env::temp_dir()))?;
        let root = dir.path();
        let ca = TestCa::create(&root.join("tls"))?;
        let db = root.join("db");
        std::fs::create_dir(&db).map_err(io("create", &db))?;

        let conf = root.join("slapd.conf");
        write(&conf, &slapd_conf(root, &ca, &options))?;
        let ldif = root.join("data.ldif");
        write(&ldif, &data_ldif(&slappasswd, options.bulk_users)?)?;
        run(
            Command::new(&slapadd)
                .arg("-q")
                .arg("-f")
                .arg(&conf)
                .arg("-l")
                .arg(&ldif),
            "slapadd",
        )?;

        let log = root.join("slapd.log");
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            let (ldap_port, ldaps_port) = (free_port()?, free_port()?);
            let mut command = Command::new(&slapd);
            command
                .arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(format!(
                    "ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"
                ))
                // Debug mode keeps slapd in the foreground (so the fixture owns the process);
                // level 0 logs only errors, `stats` every operation.
                .args(["-d", if options.log_operations { "stats" } else { "0" }]);
            let mut process = ServerProcess::spawn("slapd", command, log.clone())?;
            match process.wait_listening(&[ldap_port, ldaps_port], START_TIMEOUT) {
                Ok(()) => {
                    return Ok(Self {
                        process,
                        ldap_port,
                        ldaps_port,
                        ca,
                        bulk_users: options.bulk_users,
                        dir,
                    });
                }
                // Most likely a port race: try other ports.
                Err(StartFailure::Exited(e)) => last = Some(e),
                Err(StartFailure::Timeout(e)) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::PortBusy { port: 0 }))
    }

    /// `ldap://127.0.0.1:PORT` (plain LDAP; StartTLS works on it).
    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    /// `ldaps://127.0.0.1:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// The plain LDAP port.
    pub fn ldap_port(&self) -> u16 {
        self.ldap_port
    }

    /// The LDAPS port.
    pub fn ldaps_port(&self) -> u16 {
        self.ldaps_port
    }

    /// The test CA that issued the server certificate (SAN `IP:127.0.0.1`, `DNS:localhost`).
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The test CA certificate as PEM.
    pub fn ca_pem(&self) -> &str {
        self.ca.ca_pem()
    }

    /// Process id of slapd.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What slapd has logged so far (with [`SlapdOptions::log_operations`], one line per
    /// operation, such as `conn=1001 op=0 BIND dn="uid=alice,..." method=128`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// The fixture's directory (configuration, database, log `slapd.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The base DN, `dc=example,dc=test`.
    pub fn base_dn(&self) -> &'static str {
        SLAPD_BASE_DN
    }

    /// The user matrix.
    pub fn users(&self) -> &'static [TestUser] {
        SLAPD_USERS
    }

    /// The matrix user with `role`, if this fixture has one.
    pub fn user(&self, role: Role) -> Option<&'static TestUser> {
        crate::users::by_role(SLAPD_USERS, role)
    }

    /// Number of bulk users.
    pub fn bulk_users(&self) -> usize {
        self.bulk_users
    }

    /// `(uid, dn)` of bulk user `i` (`bulk00042`), if `i` is below [`Slapd::bulk_users`]. Their
    /// password is [`SLAPD_BULK_PASSWORD`].
    pub fn bulk_user(&self, i: usize) -> Option<(String, String)> {
        (i < self.bulk_users).then(|| {
            let uid = format!("bulk{i:05}");
            let dn = format!("uid={uid},ou=bulk,{SLAPD_BASE_DN}");
            (uid, dn)
        })
    }

    /// Stops the server now (as dropping does).
    pub fn stop(self) {}
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(io("write", path))
}

fn slapd_conf(root: &Path, ca: &TestCa, options: &SlapdOptions) -> String {
    let r = root.display();
    let allow = if options.allow_empty_password_binds {
        "allow bind_anon_dn\n"
    } else {
        ""
    };
    let service = crate::users::by_role(SLAPD_USERS, Role::Service).map_or("", |u| u.dn);
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {r}/slapd.pid
argsfile {r}/slapd.args
{allow}TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
suffix \"{SLAPD_BASE_DN}\"
rootdn \"cn=admin,{SLAPD_BASE_DN}\"
directory {r}/db
maxsize 268435456
index objectClass eq
index uid,mail,cn eq

overlay ppolicy
ppolicy_default \"cn=default,ou=policies,{SLAPD_BASE_DN}\"
ppolicy_use_lockout

access to dn.base=\"\" by * read
access to dn.base=\"cn=Subschema\" by * read
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact=\"{service}\" read by self read by anonymous auth by * none
",
        ca = ca.ca_path().display(),
        cert = ca.cert_path().display(),
        key = ca.key_path().display(),
    )
}

/// Generalized time for `now + offset_ms` (negative: in the past), with milliseconds.
fn generalized_time(offset_ms: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let t = now + offset_ms;
    let (secs, ms) = (t.div_euclid(1000), t.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn ssha(slappasswd: &Path, password: &str) -> Result<String> {
    let out = run(
        Command::new(slappasswd).args(["-h", "{SSHA}", "-s", password]),
        "slappasswd -h {SSHA}",
    )?;
    Ok(out.trim().to_owned())
}

fn data_ldif(slappasswd: &Path, bulk_users: usize) -> Result<String> {
    let base = SLAPD_BASE_DN;
    let mut out = format!(
        "dn: {base}
objectClass: dcObject
objectClass: organization
o: pta-testkit
dc: example

dn: ou=policies,{base}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{base}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 3
pwdLockoutDuration: 3600
pwdFailureCountInterval: 0
pwdMustChange: TRUE
pwdMaxAge: 0
pwdAllowUserChange: TRUE
pwdMinLength: 8
pwdCheckQuality: 1
pwdInHistory: 3

dn: cn=expiring,ou=policies,{base}
objectClass: device
objectClass: pwdPolicy
cn: expiring
pwdAttribute: userPassword
pwdMaxAge: 86400
pwdGraceAuthNLimit: 0

dn: ou=people,{base}
objectClass: organizationalUnit
ou: people

dn: ou=services,{base}
objectClass: organizationalUnit
ou: services

dn: ou=bulk,{base}
objectClass: organizationalUnit
ou: bulk

"
    );
    for user in SLAPD_USERS {
        let hash = ssha(slappasswd, user.password)?;
        let name = crate::users::short_name(user);
        let _ = writeln!(out, "dn: {}", user.dn);
        if user.role == Role::Service {
            let _ = writeln!(
                out,
                "objectClass: applicationProcess\nobjectClass: simpleSecurityObject"
            );
            let _ = writeln!(out, "cn: {name}");
        } else {
            let _ = writeln!(
                out,
                "objectClass: inetOrgPerson\nuid: {name}\ncn: {name}\nsn: Test"
            );
        }
        if let Some(mail) = user.mail {
            let _ = writeln!(out, "mail: {mail}");
        }
        let _ = writeln!(out, "userPassword: {hash}");
        match user.role {
            Role::AdminLocked => {
                let _ = writeln!(out, "pwdAccountLockedTime: 000001010000Z");
            }
            Role::FailureLocked => {
                // Three failures a minute ago and the lock they caused: exactly what the overlay
                // writes after three bad binds. All values of one attribute stay together
                // (slapadd keeps only the last run of a split attribute).
                for i in 0..3 {
                    let _ = writeln!(
                        out,
                        "pwdFailureTime: {}",
                        generalized_time(-60_000 + i * 10)
                    );
                }
                let _ = writeln!(out, "pwdAccountLockedTime: {}", generalized_time(-59_000));
            }
            Role::PasswordExpired => {
                let _ = writeln!(
                    out,
                    "pwdPolicySubentry: cn=expiring,ou=policies,{base}\npwdChangedTime: 20200101000000Z"
                );
            }
            Role::MustChange => {
                let _ = writeln!(out, "pwdReset: TRUE");
            }
            _ => {}
        }
        out.push('\n');
    }
    if bulk_users > 0 {
        let hash = ssha(slappasswd, SLAPD_BULK_PASSWORD)?;
        for i in 0..bulk_users {
            let _ = write!(
                out,
                "dn: uid=bulk{i:05},ou=bulk,{base}\nobjectClass: inetOrgPerson\nuid: bulk{i:05}\n\
                 cn: bulk{i:05}\nsn: Bulk\nmail: bulk{i:05}@example.test\nuserPassword: {hash}\n\n"
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
