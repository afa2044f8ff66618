//! Raw simple binds with ldap3: the directory's own ceiling, measured like the sign-ins.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::time::{Instant, timeout};

use crate::Failure;
use crate::args::{RawLdapArgs, secret_env};
use crate::plan::{Limits, Plan};
use crate::report::{Stats, Summary};
use crate::users::UserSet;

/// The `raw-ldap` command: simple binds of `--users` with `PTA_LOAD_PASSWORD`.
pub(crate) async fn raw_ldap(a: &RawLdapArgs, limits: Limits) -> Result<Summary, Failure> {
    let users = UserSet::parse(&a.users).map_err(Failure::Usage)?;
    let target = Target::new(
        &a.url,
        a.ca.as_deref(),
        secret_env("PTA_LOAD_PASSWORD")?,
        a.common.timeout,
    )
    .map_err(Failure::Usage)?;
    let (plan, stats) = run(Arc::new(target), Arc::new(users), limits, a.common.workers)
        .await
        .map_err(Failure::Run)?;
    Ok(Summary::new("raw-ldap", &plan, a.common.workers, stats))
}

/// The directory and how to reach it.
struct Target {
    url: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    starttls: bool,
    password: String,
    timeout: Duration,
}

impl Target {
    fn new(
        url: &str,
        ca: Option<&Path>,
        password: String,
        timeout: Duration,
    ) -> Result<Self, String> {
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            return Err(format!("--url must start with ldap:// or ldaps://: {url}"));
        }
        let tls = match ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca)
                    .map_err(|e| format!("cannot read {}: {e}", ca.display()))?
                {
                    let cert = cert.map_err(|e| format!("bad PEM in {}: {e}", ca.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("bad CA in {}: {e}", ca.display()))?;
                }
                Some(Arc::new(
                    rustls::ClientConfig::builder_with_provider(Arc::new(
                        rustls::crypto::aws_lc_rs::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("tls: {e}"))?
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
                ))
            }
            None => None,
        };
        Ok(Self {
            starttls: tls.is_some() && url.starts_with("ldap://"),
            url: url.to_owned(),
            tls,
            password,
            timeout,
        })
    }

    async fn connect(&self) -> Result<Ldap, String> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| format!("connect {}: {e}", self.url))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }
}

/// Opens one connection per worker, then starts the plan's clock and runs the workers until
/// it ends; returns the plan and what the workers saw.
async fn run(
    target: Arc<Target>,
    users: Arc<UserSet>,
    limits: Limits,
    workers: usize,
) -> Result<(Arc<Plan>, Stats), String> {
    let mut opening = Vec::with_capacity(workers);
    for _ in 0..workers {
        let target = target.clone();
        opening.push(tokio::spawn(async move { target.connect().await }));
    }
    let mut conns = Vec::with_capacity(workers);
    for task in opening {
        conns.push(
            task.await
                .map_err(|e| format!("connect task failed: {e}"))??,
        );
    }
    let plan = Arc::new(Plan::new(limits));
    let progress = plan.progress();
    let mut tasks = Vec::with_capacity(workers);
    for (w, ldap) in conns.into_iter().enumerate() {
        let (target, users, plan) = (target.clone(), users.clone(), plan.clone());
        tasks.push(tokio::spawn(async move {
            worker(&target, ldap, &users, &plan, w as u64).await
        }));
    }
    let mut all = Stats::new()?;
    let hard_stop = plan.deadline() + target.timeout * 2 + Duration::from_secs(5);
    for task in tasks {
        match tokio::time::timeout_at(hard_stop, task).await {
            Ok(Ok(stats)) => all.merge(stats?),
            Ok(Err(e)) => return Err(format!("worker failed: {e}")),
            Err(_) => return Err("workers did not stop in time".into()),
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    Ok((plan, all))
}

async fn worker(
    target: &Target,
    mut ldap: Ldap,
    users: &UserSet,
    plan: &Plan,
    w: u64,
) -> Result<Stats, String> {
    let mut stats = Stats::new()?;
    while let Some((i, due)) = plan.take() {
        tokio::time::sleep_until(due).await;
        let (_, dn) = users.get(i.wrapping_add(w * 37));
        let outcome = timeout(target.timeout, ldap.simple_bind(dn, &target.password)).await;
        let latency = Instant::now() - due;
        match outcome {
            Ok(Ok(res)) if res.rc == 0 => stats.verdict(latency, "success", true),
            Ok(Ok(res)) => stats.verdict(latency, &format!("rc_{}", res.rc), false),
            Ok(Err(e)) => {
                stats.error(latency, "ldap_io".into());
                return Err(format!("ldap: {e}"));
            }
            Err(_) => {
                stats.error(latency, "client_timeout".into());
                return Err("ldap bind timed out".into());
            }
        }
        plan.finished();
    }
    let _ = ldap.unbind().await;
    Ok(stats)
}
