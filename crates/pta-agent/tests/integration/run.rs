//! Sign-ins over a live session: verdicts with valid MACs, the request checks, directory
//! failures.

use std::sync::Arc;
use std::time::Duration;

use pta_agent::{Agent, LdapSection, LdapTls};
use pta_testkit::{Role, Slapd};
use pta_wire::{ErrorCode, Operation, Verdict};

use crate::support::*;

async fn memory_agent() -> (Arc<Pki>, Listener, ServiceConn, Running, tempfile::TempDir) {
    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (tmp, dir, config) = provisioned(&pki, vec![listener.addr.clone()]);
    let agent = Agent::with_directory(&dir, config, memory_directory()).unwrap();
    let running = Running::start(agent);
    let conn = listener.next_conn().await;
    (pki, listener, conn, running, tmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_directory_verdicts_carry_valid_macs() {
    let (_pki, _l, conn, running, _tmp) = memory_agent().await;
    let mut sealer = sealer();
    let cases = [
        (GOOD.0, GOOD.1, Verdict::Success),
        (GOOD.0, "wrong", Verdict::InvalidCredentials),
        ("nobody@example.test", GOOD.1, Verdict::InvalidCredentials),
        ("locked@example.test", GOOD.1, Verdict::AccountLocked),
        ("disabled@example.test", GOOD.1, Verdict::AccountDisabled),
        ("expired@example.test", GOOD.1, Verdict::PasswordExpired),
        ("change@example.test", GOOD.1, Verdict::MustChangePassword),
        (GOOD.0, "", Verdict::InvalidCredentials),
    ];
    for (login, password, want) in cases {
        assert_eq!(
            conn.verdict(&mut sealer, login, password).await,
            want,
            "{login}"
        );
    }
    // A forged verdict does not verify with the request's reply key.
    let (mut r, key) = conn.send(&mut sealer, Req::sign_in(GOOD.0, "wrong")).await;
    r.outcome = pta_wire::Outcome::Verdict(Verdict::Success);
    assert!(
        key.verify(
            &pta_envelope::Reply {
                request_id: &r.request_id.0,
                verdict: 0,
                warnings: &[]
            },
            &r.mac
        )
        .is_err()
    );
    assert_eq!(
        running
            .metrics
            .count(pta_wire::Outcome::Verdict(Verdict::Success)),
        1
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_over_the_session() {
    let (_pki, _l, conn, running, _tmp) = memory_agent().await;
    let mut sealer = sealer();
    let mut secret = (GOOD.1.len() as u32).to_be_bytes().to_vec();
    secret.extend_from_slice(GOOD.1.as_bytes());
    secret.extend_from_slice(b"New-Passw0rd!x");
    let mut req = Req::sign_in(GOOD.0, "");
    req.op = Operation::PasswordChange;
    req.secret = secret;
    let (r, key) = conn.send(&mut sealer, req).await;
    assert_eq!(verified(&r, &key), Verdict::Success);
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, "New-Passw0rd!x").await,
        Verdict::Success
    );
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::InvalidCredentials
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_replay_binding_and_session_keys() {
    let (_pki, _l, conn, running, _tmp) = memory_agent().await;
    let mut sealer = sealer();

    // A request held in transit past its deadline: the agent answers DeadlinePassed (which
    // the service drops as late: it already timed the request out).
    let mut late = Req::sign_in(GOOD.0, GOOD.1);
    late.deadline_in_ms = 150;
    late.delay = Duration::from_millis(600);
    let (rx, _) = conn.submit(&mut sealer, late);
    assert!(
        tokio::time::timeout(WAIT, rx).await.unwrap().is_err(),
        "no answer for a late request"
    );
    let deadline_passed = pta_wire::Outcome::Error(ErrorCode::DeadlinePassed);
    let start = std::time::Instant::now();
    while running.metrics.count(deadline_passed) == 0 && start.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(running.metrics.count(deadline_passed), 1);
    assert_eq!(
        running
            .metrics
            .count(pta_wire::Outcome::Verdict(Verdict::Success)),
        0
    );

    // Replay of an answered request id.
    // (The late request's grant was never opened: this one carries the grant again.)
    let mut first = Req::sign_in(GOOD.0, GOOD.1);
    first.grant = true;
    let id = first.id;
    let (r, key) = conn.send(&mut sealer, first).await;
    assert_eq!(verified(&r, &key), Verdict::Success);
    let mut again = Req::sign_in(GOOD.0, GOOD.1);
    again.id = id;
    let (r, _) = conn.send(&mut sealer, again).await;
    assert_eq!(error_of(&r), ErrorCode::Replay);

    // Wrong tenant or login in the binding.
    let mut wrong_tenant = Req::sign_in(GOOD.0, GOOD.1);
    wrong_tenant.bind_tenant = Some("fabrikam");
    let (r, _) = conn.send(&mut sealer, wrong_tenant).await;
    assert_eq!(error_of(&r), ErrorCode::DecryptFailed);
    let mut wrong_login = Req::sign_in(GOOD.0, GOOD.1);
    wrong_login.bind_login = Some("mallory@example.test");
    let (r, _) = conn.send(&mut sealer, wrong_login).await;
    assert_eq!(error_of(&r), ErrorCode::DecryptFailed);

    // A new sealer whose grant never reached the agent: unknown session key, then success
    // after the grant.
    let mut fresh = pta_envelope::Sealer::new(pta_envelope::SealerConfig::default());
    let _lost_grant = fresh.seal(unix_ms(), &conn.recipient, b"x", b"y").unwrap();
    let (r, _) = conn.send(&mut fresh, Req::sign_in(GOOD.0, GOOD.1)).await;
    assert_eq!(error_of(&r), ErrorCode::UnknownSessionKey);
    let mut with_grant = Req::sign_in(GOOD.0, GOOD.1);
    with_grant.grant = true;
    let (r, key) = conn.send(&mut fresh, with_grant).await;
    assert_eq!(verified(&r, &key), Verdict::Success);
    let (r, key) = conn.send(&mut fresh, Req::sign_in(GOOD.0, GOOD.1)).await;
    assert_eq!(verified(&r, &key), Verdict::Success);
    running.stop().await.unwrap();
}

/// The envelopes sent right behind a grant use its session key and open in microseconds,
/// while the grant takes an RSA decryption on the blocking pool: they wait for it (in arrival
/// order) instead of missing the key and costing the service a resend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_behind_a_grant_being_opened_wait_for_it() {
    let (_pki, _l, conn, running, _tmp) = memory_agent().await;
    for _epoch in 0..3 {
        let mut fresh = pta_envelope::Sealer::new(pta_envelope::SealerConfig::default());
        let mut with_grant = Req::sign_in(GOOD.0, GOOD.1);
        with_grant.grant = true;
        let mut sent = vec![conn.submit(&mut fresh, with_grant)];
        for _ in 0..4 {
            sent.push(conn.submit(&mut fresh, Req::sign_in(GOOD.0, GOOD.1)));
        }
        for (rx, key) in sent {
            let r = tokio::time::timeout(WAIT, rx).await.unwrap().unwrap();
            assert_eq!(verified(&r, &key), Verdict::Success);
        }
    }
    let unknown = pta_wire::Outcome::Error(ErrorCode::UnknownSessionKey);
    assert_eq!(running.metrics.count(unknown), 0);
    running.stop().await.unwrap();
}

fn slapd_section(url: String, ca_pem: &str, dir: &std::path::Path) -> LdapSection {
    let ca = dir.join("ldap-ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let pw = dir.join("bind-password");
    std::fs::write(&pw, "Service-Passw0rd!\n").unwrap();
    let mut l = LdapSection::default();
    l.urls = vec![url];
    l.ca_file = Some(ca);
    l.tls = LdapTls::Auto;
    l.bind_dn = Some("cn=svc-pta,ou=services,dc=example,dc=test".into());
    l.bind_password_file = Some(pw);
    l.base_dn = Some(pta_testkit::SLAPD_BASE_DN.into());
    l.connect_timeout = Duration::from_secs(2);
    l.operation_timeout = Duration::from_secs(3);
    l.server_backoff = Duration::from_millis(100);
    l
}

/// A running agent with the LDAP section `section` builds in the agent's temporary directory.
async fn ldap_agent(
    section: impl FnOnce(&std::path::Path) -> LdapSection,
) -> (Arc<Pki>, Listener, ServiceConn, Running, tempfile::TempDir) {
    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (tmp, dir, mut config) = provisioned(&pki, vec![listener.addr.clone()]);
    config.directory.ldap = Some(section(tmp.path()));
    let running = Running::start(Agent::new(&dir, config).unwrap());
    let conn = listener.next_conn().await;
    (pki, listener, conn, running, tmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_matrix_good_wrong_locked_expired() {
    let slapd = Slapd::start().expect("slapd starts");
    let (_pki, _l, conn, running, _tmp) =
        ldap_agent(|tmp| slapd_section(slapd.ldaps_url(), slapd.ca_pem(), tmp)).await;
    let mut sealer = sealer();
    let user = |r| slapd.user(r).unwrap();
    let good = user(Role::Good);
    assert_eq!(
        conn.verdict(&mut sealer, good.login, good.password).await,
        Verdict::Success
    );
    assert_eq!(
        conn.verdict(&mut sealer, good.login, "not-the-password")
            .await,
        Verdict::InvalidCredentials
    );
    let locked = user(Role::AdminLocked);
    assert_eq!(
        conn.verdict(&mut sealer, locked.login, locked.password)
            .await,
        Verdict::AccountLocked
    );
    let expired = user(Role::PasswordExpired);
    assert_eq!(
        conn.verdict(&mut sealer, expired.login, expired.password)
            .await,
        Verdict::PasswordExpired
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_dn_template_without_a_service_account() {
    let slapd = Slapd::start().expect("slapd starts");
    let (_pki, _l, conn, running, _tmp) = ldap_agent(|tmp| {
        let mut ldap = slapd_section(slapd.ldap_url(), slapd.ca_pem(), tmp);
        ldap.bind_dn = None;
        ldap.bind_password_file = None;
        ldap.dialect = pta_agent::DialectSetting::Openldap;
        ldap.resolution = pta_agent::ResolutionSetting::Template;
        ldap.dn_template = Some(format!(
            "uid={{login}},ou=people,{}",
            pta_testkit::SLAPD_BASE_DN
        ));
        ldap
    })
    .await;
    let mut sealer = sealer();
    let user = |r| slapd.user(r).unwrap();
    let good = user(Role::Good);
    assert_eq!(
        conn.verdict(&mut sealer, good.login, good.password).await,
        Verdict::Success
    );
    assert_eq!(
        conn.verdict(&mut sealer, good.login, "not-the-password")
            .await,
        Verdict::InvalidCredentials
    );
    // A login that would name another entry if it were not escaped.
    let injected = format!("{},ou=people", good.login);
    assert_eq!(
        conn.verdict(&mut sealer, &injected, good.password).await,
        Verdict::InvalidCredentials
    );
    let locked = user(Role::AdminLocked);
    assert_eq!(
        conn.verdict(&mut sealer, locked.login, locked.password)
            .await,
        Verdict::AccountLocked
    );
    running.stop().await.unwrap();
}

/// A TCP relay the test can cut and restore: "the directory is down" without losing its
/// port.
struct Relay {
    port: u16,
    target: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(target: u16) -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let mut r = Self {
            port,
            target,
            task: None,
        };
        r.serve(l);
        r
    }

    fn serve(&mut self, l: tokio::net::TcpListener) {
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut a, _)) = l.accept().await else {
                    continue;
                };
                conns.spawn(async move {
                    if let Ok(mut b) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                    }
                });
            }
        }));
    }

    /// Cuts every relayed connection and refuses new ones.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restore(&mut self) {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(l);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_down_gives_directory_unavailable_and_recovers() {
    let slapd = Slapd::start().expect("slapd starts");
    let mut relay = Relay::start(slapd.ldaps_port()).await;
    let url = format!("ldaps://127.0.0.1:{}", relay.port);
    let (_pki, _l, conn, running, _tmp) =
        ldap_agent(|tmp| slapd_section(url, slapd.ca_pem(), tmp)).await;
    let mut sealer = sealer();
    let good = slapd.user(Role::Good).unwrap();
    assert_eq!(
        conn.verdict(&mut sealer, good.login, good.password).await,
        Verdict::Success
    );

    relay.cut();
    let (r, _) = conn
        .send(&mut sealer, Req::sign_in(good.login, good.password))
        .await;
    assert_eq!(error_of(&r), ErrorCode::DirectoryUnavailable);

    relay.restore().await;
    // The backend retries the server after its back-off (100 ms here); no agent restart.
    let mut verdict = None;
    for _ in 0..50 {
        let (r, key) = conn
            .send(&mut sealer, Req::sign_in(good.login, good.password))
            .await;
        if let pta_wire::Outcome::Verdict(_) = r.outcome {
            verdict = Some(verified(&r, &key));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(verdict, Some(Verdict::Success));
    running.stop().await.unwrap();
}
