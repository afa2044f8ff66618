//! Sign-ins over HTTP/1.1 keep-alive connections of `pta-client` (plain, or TLS with the
//! service CA file), one per worker.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use pta_client::{
    ApiKey, Client, ClientConfig, ClientError, ConfigError, Connection, Password, PlainHttp,
    ServiceUrl, SignIn, Trust,
};
use tokio::time::Instant;

use crate::Failure;
use crate::args::{SignInArgs, secret_env};
use crate::plan::{Limits, Plan};
use crate::report::{Stats, Summary};
use crate::users::UserSet;

/// The `sign-in` command: the mix of good and bad sign-ins through the service's API.
pub(crate) async fn sign_in(a: &SignInArgs, limits: Limits) -> Result<Summary, Failure> {
    if !(0.0..=1.0).contains(&a.bad_ratio) {
        return Err(Failure::Usage("--bad-ratio must be within 0 to 1".into()));
    }
    let good = UserSet::parse(&a.users).map_err(Failure::Usage)?;
    let bad = match &a.bad_users {
        Some(p) => UserSet::parse(p).map_err(Failure::Usage)?,
        None => good.clone(),
    };
    let api_key = ApiKey::new(secret_env("PTA_LOAD_API_KEY")?)
        .map_err(|e| Failure::Usage(format!("PTA_LOAD_API_KEY: {e}")))?;
    let password = Password::new(secret_env("PTA_LOAD_PASSWORD")?);
    let client = client(a, api_key).map_err(|e| {
        Failure::Usage(match e {
            ConfigError::Scheme { .. } => {
                format!("--url must start with http:// or https://: {}", a.url)
            }
            ConfigError::NoTrust => "https needs --ca FILE (the service CA)".into(),
            e => e.to_string(),
        })
    })?;
    let mix = Mix {
        good,
        bad,
        bad_ratio: a.bad_ratio,
        password,
    };
    let workers = a.common.workers;
    let (plan, stats) = run(client, Arc::new(mix), limits, workers, a.common.timeout)
        .await
        .map_err(Failure::Run)?;
    Ok(Summary::new("sign-in", &plan, workers, stats))
}

fn client(a: &SignInArgs, api_key: ApiKey) -> Result<Client, ConfigError> {
    let service = ServiceUrl::parse(&a.url, PlainHttp::Any)?;
    let mut config = ClientConfig::new(service, &a.tenant, api_key);
    config.trust = a.ca.clone().map(Trust::CaFile);
    config.timeout = a.common.timeout;
    Client::new(config)
}

/// Who signs in with which password.
struct Mix {
    good: UserSet,
    bad: UserSet,
    bad_ratio: f64,
    /// The good users' password.
    password: Password,
}

impl Mix {
    /// Request `i`: login, whether the password is the right one, client address.
    fn pick(&self, i: u64) -> (&str, bool, IpAddr) {
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
        if unit < self.bad_ratio {
            // Scattered bad logins from scattered sources: no source is blocked for spraying.
            let (_, login) = self.bad.get(h >> 20);
            let ip = Ipv4Addr::new(
                172,
                16 + ((h >> 8) % 16) as u8,
                ((h >> 16) % 256) as u8,
                1 + (h % 254) as u8,
            );
            (login, false, ip.into())
        } else {
            // Each good user always signs in from its own (familiar) address.
            let (n, login) = self.good.get(i);
            let ip = Ipv4Addr::new(
                10,
                ((n >> 16) % 256) as u8,
                ((n >> 8) % 256) as u8,
                1 + (n % 254) as u8,
            );
            (login, true, ip.into())
        }
    }
}

/// Opens one keep-alive connection per worker, then starts the plan's clock and runs the
/// workers until it ends; returns the plan and what the workers saw. Connection set-up (the
/// TLS handshakes) is not counted in the latencies or the throughput.
async fn run(
    client: Client,
    mix: Arc<Mix>,
    limits: Limits,
    workers: usize,
    timeout: Duration,
) -> Result<(Arc<Plan>, Stats), String> {
    let mut opening = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut conn = client.connection();
        opening.push(tokio::spawn(
            async move { conn.connect().await.map(|()| conn) },
        ));
    }
    let mut conns = Vec::with_capacity(workers);
    for task in opening {
        match task
            .await
            .map_err(|e| format!("connect task failed: {e}"))?
        {
            Ok(conn) => conns.push(conn),
            Err(ClientError::Timeout { .. }) => {
                return Err(format!("connect {}: timed out", client.authority()));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let plan = Arc::new(Plan::new(limits));
    let progress = plan.progress();
    let mut tasks = Vec::with_capacity(workers);
    for conn in conns {
        tasks.push(tokio::spawn(worker(mix.clone(), plan.clone(), conn)));
    }
    let mut all = Stats::new()?;
    let hard_stop = plan.deadline() + timeout + Duration::from_secs(5);
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

async fn worker(mix: Arc<Mix>, plan: Arc<Plan>, mut conn: Connection) -> Result<Stats, String> {
    let mut stats = Stats::new()?;
    while let Some((i, due)) = plan.take() {
        tokio::time::sleep_until(due).await;
        let (login, good, client_ip) = mix.pick(i);
        let wrong;
        let password = if good {
            &mix.password
        } else {
            wrong = Password::new(format!("wrong-{i}"));
            &wrong
        };
        // The client's timeout (`--timeout`) covers a reconnection too.
        let outcome = conn.sign_in(&SignIn::new(login, password, client_ip)).await;
        let latency = Instant::now() - due;
        match outcome {
            Ok(answer) => {
                let verdict = answer.verdict.as_str();
                let expected = if good {
                    verdict == "success"
                } else {
                    verdict == "invalid_credentials" || verdict == "account_locked"
                };
                stats.verdict(latency, verdict, expected);
            }
            Err(e) => {
                // After any error the next request opens a new connection.
                conn.close();
                stats.error(latency, error_kind(&e));
            }
        }
        plan.finished();
    }
    Ok(stats)
}

/// The error's key in the summary: `connect`, `client_timeout`, `http_io`,
/// `http_<status>:<code>[:<agent error>]`, `http_<status>:not_json`, ...
fn error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Connect { .. } | ClientError::Tls { .. } | ClientError::PinMismatch { .. } => {
            eprintln!("pta-load: {e}");
            "connect".to_owned()
        }
        ClientError::Timeout { .. } => "client_timeout".to_owned(),
        ClientError::Status { status, body } => {
            let code = body.code.as_deref().unwrap_or("?");
            match &body.agent_error {
                Some(d) => format!("http_{status}:{code}:{d}"),
                None => format!("http_{status}:{code}"),
            }
        }
        ClientError::Malformed { status, kind } => format!("http_{status}:{}", kind.name()),
        _ => "http_io".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_keeps_its_addresses_and_ratio() {
        let mix = Mix {
            good: UserSet::parse("good{0..9}").unwrap(),
            bad: UserSet::parse("bad{0..9}").unwrap(),
            bad_ratio: 0.25,
            password: Password::new("pw"),
        };
        let mut bad = 0;
        for i in 0..4000 {
            let (login, good, ip) = mix.pick(i);
            let IpAddr::V4(ip) = ip else { panic!("{ip}") };
            let [a, b, _, d] = ip.octets();
            if good {
                assert!(login.starts_with("good"));
                assert_eq!(a, 10);
                // Good user n always comes from the same address (10 good logins).
                let (_, again, same) = mix.pick(i + 10);
                assert!(!again || same == IpAddr::V4(ip), "familiar address");
            } else {
                bad += 1;
                assert!(login.starts_with("bad"));
                assert_eq!(a, 172);
                assert!((16..32).contains(&b));
            }
            assert!((1..=254).contains(&d));
        }
        assert!((800..1200).contains(&bad), "{bad}");
    }

    #[test]
    fn error_kinds_name_the_status_and_code() {
        let e = ClientError::Timeout {
            after: Duration::from_secs(1),
        };
        assert_eq!(error_kind(&e), "client_timeout");
        let answer = br#"{"error":"agent_error","message":"m","agent_error":"timeout"}"#;
        let e = pta_client::parse_answer(502, answer).unwrap_err();
        assert_eq!(error_kind(&e), "http_502:agent_error:timeout");
        let e = pta_client::parse_answer(503, b"{}").unwrap_err();
        assert_eq!(error_kind(&e), "http_503:?");
        let e = pta_client::parse_answer(502, b"<html>").unwrap_err();
        assert_eq!(error_kind(&e), "http_502:not_json");
        let e = pta_client::parse_answer(200, b"{}").unwrap_err();
        assert_eq!(error_kind(&e), "http_200:no_verdict");
    }
}
