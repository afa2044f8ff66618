//! The showcase: the sample users signed in one by one (a table of verdicts), then smart
//! lockout locking one of them in the cloud without asking the directory again.

use std::net::{IpAddr, Ipv4Addr};

use pta_service::{
    ClientContext, Clock, DecidedBy, Password, Service, SignInResult, SystemClock, TenantId,
};

use crate::sample::{CASES, LOCKOUT_USER, SAMPLE_PASSWORD, SampleDirectory, WRONG_PASSWORD};

/// The name the API gives a verdict (the registry's name; `unknown_<n>` for a code without
/// one).
fn verdict_name(v: pta_wire::Verdict) -> String {
    v.name()
        .map_or_else(|| format!("unknown_{}", v.code()), str::to_owned)
}

fn decided_by(result: &SignInResult) -> (&'static str, String) {
    match result.decided_by {
        DecidedBy::Agent(id) => ("agent", id.to_string()),
        DecidedBy::Lockout { .. } => ("lockout", "-".into()),
        DecidedBy::RepeatRejected => ("repeat_rejected", "-".into()),
    }
}

fn warnings(result: &SignInResult) -> String {
    if result.warnings.is_empty() {
        return String::new();
    }
    let list: Vec<String> = result
        .warnings
        .iter()
        .map(|w| match w.kind {
            pta_wire::WarningKind::PasswordExpiresInDays => {
                format!("password expires in {} days", w.value)
            }
            pta_wire::WarningKind::Unknown(n) => format!("warning {n}: {}", w.value),
        })
        .collect();
    list.join(", ")
}

async fn sign_in(
    service: &Service,
    tenant: &TenantId,
    login: &str,
    password: &str,
    source: IpAddr,
) -> Result<SignInResult, String> {
    service
        .sign_in(
            tenant,
            login,
            Password::new(password.as_bytes().to_vec()),
            ClientContext::new(source),
        )
        .await
        .map_err(|e| format!("no verdict: {e}"))
}

/// Signs in every sample case and prints the table; whether every row was as expected.
pub(crate) async fn verdict_table(service: &Service, tenant: &TenantId) -> bool {
    let source = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let mut ok = true;
    println!();
    println!(
        "{:<18} {:<9} {:<24} {:<16} {:<38} {:>7}  note",
        "login", "password", "verdict", "decided by", "agent", "latency"
    );
    for case in CASES {
        let password = if case.right_password {
            SAMPLE_PASSWORD
        } else {
            WRONG_PASSWORD
        };
        let shown = if case.right_password {
            "right"
        } else {
            "wrong"
        };
        match sign_in(service, tenant, case.login, password, source).await {
            Ok(result) => {
                let verdict = verdict_name(result.verdict);
                let (by, agent) = decided_by(&result);
                let as_expected = verdict == case.expected && by == case.decided_by;
                ok &= as_expected;
                let mut note = warnings(&result);
                if !as_expected {
                    note = format!("EXPECTED {} by {} {note}", case.expected, case.decided_by);
                }
                println!(
                    "{:<18} {:<9} {:<24} {:<16} {:<38} {:>5}ms  {}",
                    case.login, shown, verdict, by, agent, result.latency_ms, note
                );
            }
            Err(e) => {
                ok = false;
                println!(
                    "{:<18} {:<9} {e} (EXPECTED {})",
                    case.login, shown, case.expected
                );
            }
        }
    }
    ok
}

/// Bad passwords until the cloud locks the account; then shows that the next attempt, even
/// with the right password, is answered by the cloud and never reaches the directory.
pub(crate) async fn lockout_showcase(
    service: &Service,
    tenant: &TenantId,
    sample: &SampleDirectory,
) -> bool {
    let source = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    println!();
    println!("Smart lockout: different wrong passwords for {LOCKOUT_USER} from {source} ...");
    let mut failures = 0;
    for attempt in 1..=20u32 {
        // Each wrong password differs: a repeat of the same one would not count.
        let wrong = format!("{WRONG_PASSWORD}-{attempt}");
        match sign_in(service, tenant, LOCKOUT_USER, &wrong, source).await {
            Ok(result) if matches!(result.decided_by, DecidedBy::Agent(_)) => failures += 1,
            Ok(result) if matches!(result.decided_by, DecidedBy::Lockout { .. }) => {
                let checks_before = sample.checks(LOCKOUT_USER);
                let right = sign_in(service, tenant, LOCKOUT_USER, SAMPLE_PASSWORD, source).await;
                let checks_after = sample.checks(LOCKOUT_USER);
                let locked = matches!(
                    &right,
                    Ok(r) if matches!(r.decided_by, DecidedBy::Lockout { .. })
                        && r.verdict == pta_wire::Verdict::AccountLocked
                );
                let until = match result.decided_by {
                    DecidedBy::Lockout { until_ms } => until_ms,
                    _ => 0,
                };
                let seconds = until.saturating_sub(SystemClock.unix_ms()) / 1000;
                println!(
                    "lockout: {LOCKOUT_USER} locked by the cloud after {failures} bad passwords \
                     (for about {seconds} s); attempt {} and then the right password were \
                     answered account_locked by the cloud; the directory was not asked \
                     (directory checks of {LOCKOUT_USER}: {checks_after}, {failures} before the lock)",
                    attempt
                );
                let untouched = checks_before == checks_after && checks_after == failures;
                if !(locked && untouched) {
                    println!(
                        "lockout: NOT AS EXPECTED (the directory was asked, or the lock did not hold)"
                    );
                }
                return locked && untouched;
            }
            Ok(result) => {
                println!(
                    "lockout: unexpected decider for attempt {attempt}: {}",
                    decided_by(&result).0
                );
                return false;
            }
            Err(e) => {
                println!("lockout: attempt {attempt}: {e}");
                return false;
            }
        }
    }
    println!("lockout: NOT AS EXPECTED: {LOCKOUT_USER} was never locked by the cloud");
    false
}
