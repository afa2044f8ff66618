//! Authentication throughput against a real slapd ({SSHA} bulk users): raw ldap3 rebinds on one
//! connection per task (the directory's own ceiling) against `LdapDirectory` through its pool,
//! with 1, 2, 4 and 8 concurrent tasks, all over StartTLS, in the same run.
//!
//! `cargo bench -p pta-benches --bench directory`

// A benchmark that cannot set up its server must stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ldap3::{LdapConnAsync, LdapConnSettings};
use pta_directory::{
    Dialect, Directory, LdapConfig, LdapDirectory, LoginResolution, ServiceAccount, Verdict,
};
use pta_testkit::{Role, SLAPD_BULK_PASSWORD, Slapd, SlapdOptions};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

const TASKS: [usize; 4] = [1, 2, 4, 8];
const USERS: usize = 300;

fn tls(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Runs `per_task(task, n)` on `tasks` tasks sharing `iters` operations; returns the wall time.
async fn spread<F, Fut>(iters: u64, tasks: usize, per_task: F) -> Duration
where
    F: Fn(usize, u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let per = iters.div_ceil(tasks as u64);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks).map(|t| tokio::spawn(per_task(t, per))).collect();
    for h in handles {
        h.await.unwrap();
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut options = SlapdOptions::default();
    options.bulk_users = USERS;
    let slapd = Slapd::start_with(options).expect("slapd starts");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dns: Arc<Vec<String>> =
        Arc::new((0..USERS).map(|i| slapd.bulk_user(i).unwrap().1).collect());
    let uids: Arc<Vec<String>> =
        Arc::new((0..USERS).map(|i| slapd.bulk_user(i).unwrap().0).collect());
    let tls = tls(slapd.ca_pem());

    let base = |resolution| {
        let mut config = LdapConfig::new([slapd.ldap_url()]);
        config.ca_pem = Some(slapd.ca_pem().to_owned());
        config.dialect = Dialect::OpenLdap;
        config.base_dn = Some(slapd.base_dn().to_owned());
        config.resolution = resolution;
        config.bind_pool_size = 8;
        config.search_pool_size = 8;
        let svc = slapd.user(Role::Service).unwrap();
        config.service_account = Some(ServiceAccount {
            bind_name: svc.dn.into(),
            password: svc.password.into(),
        });
        Arc::new(LdapDirectory::new(config).unwrap())
    };
    let direct = base(LoginResolution::Direct);
    let search = base(LoginResolution::Search);

    let mut group = c.benchmark_group("directory_authenticate");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    for tasks in TASKS {
        group.bench_with_input(
            BenchmarkId::new("raw_ldap3_rebind", tasks),
            &tasks,
            |b, &tasks| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        // Connections are opened before the clock starts.
                        let mut conns = Vec::new();
                        for _ in 0..tasks {
                            let settings = LdapConnSettings::new()
                                .set_config(tls.clone())
                                .set_starttls(true);
                            let (conn, ldap) =
                                LdapConnAsync::with_settings(settings, &slapd.ldap_url())
                                    .await
                                    .unwrap();
                            ldap3::drive!(conn);
                            conns.push(ldap);
                        }
                        let conns = Arc::new(std::sync::Mutex::new(conns));
                        let dns = dns.clone();
                        spread(iters, tasks, move |t, n| {
                            let mut ldap = conns.lock().unwrap().pop().unwrap();
                            let dns = dns.clone();
                            async move {
                                for i in 0..n as usize {
                                    let dn = &dns[(t * 37 + i) % USERS];
                                    let res =
                                        ldap.simple_bind(dn, SLAPD_BULK_PASSWORD).await.unwrap();
                                    assert_eq!(res.rc, 0);
                                }
                            }
                        })
                        .await
                    })
                });
            },
        );
        for (name, dir, logins) in [
            ("pool_direct_dn", &direct, &dns),
            ("pool_search_then_bind", &search, &uids),
        ] {
            group.bench_with_input(BenchmarkId::new(name, tasks), &tasks, |b, &tasks| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let dir = dir.clone();
                        let logins = logins.clone();
                        spread(iters, tasks, move |t, n| {
                            let dir = dir.clone();
                            let logins = logins.clone();
                            async move {
                                for i in 0..n as usize {
                                    let login = &logins[(t * 37 + i) % USERS];
                                    let out = dir
                                        .authenticate(login, &SLAPD_BULK_PASSWORD.into())
                                        .await
                                        .unwrap();
                                    assert_eq!(out.verdict, Verdict::Success);
                                }
                            }
                        })
                        .await
                    })
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
