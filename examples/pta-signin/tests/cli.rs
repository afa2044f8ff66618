//! pta-signin's usage errors, its refusal of a password on the command line, and its exit code
//! for a service it cannot reach. (Sign-ins against a running service: pta-demo's tests.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs pta-signin with `args`, `stdin` as standard input and PTA_API_KEY set or not.
fn pta_signin(args: &[&str], stdin: &str, api_key: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pta-signin"));
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("PTA_API_KEY");
    if let Some(key) = api_key {
        command.env("PTA_API_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    // The process may exit before reading its input: ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const BASE: &[&str] = &["--tenant", "demo", "--user", "alice@demo.test"];

fn with_base(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend_from_slice(extra);
    args
}

#[test]
fn help_documents_the_exit_codes_and_the_password_sources() {
    let output = pta_signin(&["--help"], "", None);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "Exit codes",
        "0  the verdict is success",
        "1  any other verdict",
        "2  usage error",
        "3  no verdict",
        "--ca-sha256",
        "--insecure-loopback-http",
        "PTA_API_KEY",
        "never taken from the command line",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
    assert!(!text.contains("--password"), "{text}");
}

#[test]
fn a_password_on_the_command_line_is_refused() {
    for args in [
        with_base(&[
            "--service",
            "http://127.0.0.1:9",
            "--insecure-loopback-http",
            "--password",
            "s3cret-pw",
        ]),
        with_base(&[
            "--service",
            "http://127.0.0.1:9",
            "--insecure-loopback-http",
            "s3cret-pw",
        ]),
        with_base(&[
            "--service",
            "http://127.0.0.1:9",
            "--insecure-loopback-http",
            "--password=s3cret-pw",
        ]),
    ] {
        let output = pta_signin(&args, "", Some("demo-api-key-0123456789"));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("unexpected argument"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let key = Some("demo-api-key-0123456789");
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec![], key, "--service"),
        (vec!["--service", "https://127.0.0.1:9"], key, "--tenant"),
        (
            with_base(&["--service", "http://127.0.0.1:9"]),
            key,
            "--insecure-loopback-http",
        ),
        (
            with_base(&[
                "--service",
                "http://10.1.2.3:80",
                "--insecure-loopback-http",
            ]),
            key,
            "only http://127.0.0.1",
        ),
        (
            with_base(&["--service", "https://127.0.0.1:9"]),
            key,
            "--ca-file PEM or --ca-sha256",
        ),
        (
            with_base(&["--service", "ftp://127.0.0.1:9", "--ca-sha256", "00"]),
            key,
            "the scheme must be https://",
        ),
        (
            with_base(&["--service", "https://127.0.0.1:9", "--ca-sha256", "abc"]),
            key,
            "64 hexadecimal digits",
        ),
        (
            with_base(&[
                "--service",
                "https://127.0.0.1:9",
                "--ca-sha256",
                "ab",
                "--ca-file",
                "/x",
            ]),
            key,
            "cannot be used with",
        ),
        (
            with_base(&[
                "--service",
                "https://127.0.0.1:9",
                "--ca-file",
                "/nonexistent/ca.pem",
            ]),
            key,
            "--ca-file /nonexistent/ca.pem",
        ),
        (
            with_base(&[
                "--service",
                "http://127.0.0.1:9",
                "--insecure-loopback-http",
            ]),
            None,
            "no API key",
        ),
        (
            with_base(&[
                "--service",
                "http://127.0.0.1:9",
                "--insecure-loopback-http",
                "--api-key-file",
                "/nonexistent/key",
            ]),
            None,
            "--api-key-file /nonexistent/key",
        ),
        (
            with_base(&[
                "--service",
                "http://127.0.0.1:9",
                "--insecure-loopback-http",
                "--client-ip",
                "not-an-ip",
            ]),
            key,
            "--client-ip",
        ),
    ];
    for (args, api_key, needle) in cases {
        let output = pta_signin(&args, "a-password\n", api_key);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(needle),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn an_empty_password_on_stdin_is_a_usage_error() {
    let args = with_base(&[
        "--service",
        "http://127.0.0.1:9",
        "--insecure-loopback-http",
    ]);
    for stdin in ["", "\n", "\r\n"] {
        let output = pta_signin(&args, stdin, Some("demo-api-key-0123456789"));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{stdin:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("empty password"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn an_unreachable_service_exits_3_without_echoing_secrets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}");
    let args = with_base(&["--insecure-loopback-http", "--service"]);
    let mut args: Vec<&str> = args;
    args.push(&url);
    let output = pta_signin(&args, "pw-Unreachable-1\n", Some("demo-api-key-0123456789"));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(
        !err.contains("pw-Unreachable-1") && !err.contains("demo-api-key"),
        "{err}"
    );
    assert!(output.stdout.is_empty());
}

/// A one-shot HTTP server on 127.0.0.1: answers `status` with `body` and hands back the
/// request it received.
fn one_shot_server(status: u16, body: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed mid-request");
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let reason = if status == 200 { "OK" } else { "Error" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).unwrap();
        String::from_utf8(request).unwrap()
    });
    (port, handle)
}

fn loopback_args(port: u16) -> Vec<String> {
    [
        "--service",
        &format!("http://127.0.0.1:{port}"),
        "--insecure-loopback-http",
        "--tenant",
        "my tenant",
        "--user",
        "alice@demo.test",
        "--client-ip",
        "198.51.100.4",
        "--location",
        "device-17",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

#[test]
fn sends_the_documented_request_and_prints_a_success_with_warnings() {
    let (port, server) = one_shot_server(
        200,
        r#"{"request_id":"00112233","verdict":"success","warnings":[{"kind":"password_expires_in_days","value":5}],"decided_by":"agent","agent_id":"0b0e6c1e-7d7e-4a53-9d3c-1f2a3b4c5d6e","latency_ms":42}"#,
    );
    let args = loopback_args(port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = pta_signin(&args, "Pa\"ss w\\ord-1\n", Some("demo-api-key-0123456789"));
    let request = server.join().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(out.contains("verdict:    success"), "{out}");
    assert!(
        out.contains("warnings:   password_expires_in_days=5"),
        "{out}"
    );
    assert!(out.contains("decided by: agent"), "{out}");
    assert!(
        out.contains("agent:      0b0e6c1e-7d7e-4a53-9d3c-1f2a3b4c5d6e"),
        "{out}"
    );
    assert!(out.contains("latency:    42 ms"), "{out}");
    assert!(!out.contains("Pa\"ss"), "{out}");

    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("POST /v1/tenants/my%20tenant/sign-in HTTP/1.1\r\n"),
        "{head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("authorization: bearer demo-api-key-0123456789"),
        "{head}"
    );
    assert!(lower.contains("content-type: application/json"), "{head}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["password"], "Pa\"ss w\\ord-1");
    assert_eq!(json["login"], "alice@demo.test");
    assert_eq!(json["client_ip"], "198.51.100.4");
    assert_eq!(json["location"], "device-17");
}

#[test]
fn a_cloud_lockout_exits_1_and_says_the_directory_was_not_asked() {
    let (port, server) = one_shot_server(
        200,
        r#"{"request_id":"00112233","verdict":"account_locked","warnings":[],"decided_by":"lockout","locked_until_ms":1700000060000,"latency_ms":0}"#,
    );
    let args = loopback_args(port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = pta_signin(&args, "pw\n", Some("demo-api-key-0123456789"));
    server.join().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("verdict:    account_locked"), "{out}");
    assert!(out.contains("decided by: lockout"), "{out}");
    assert!(out.contains("the directory was not asked"), "{out}");
    assert!(out.contains("agent:      -"), "{out}");
}

#[test]
fn an_api_error_exits_3_with_its_code() {
    for (status, body, needle) in [
        (
            503,
            r#"{"error":"no_agent_available","message":"no agent of the tenant is connected"}"#,
            "HTTP 503 no_agent_available",
        ),
        (
            502,
            r#"{"error":"agent_error","message":"the agent reported an error","agent_error":"directory_unavailable"}"#,
            "(agent error: directory_unavailable)",
        ),
        (
            504,
            r#"{"error":"timeout","message":"no verdict before the deadline"}"#,
            "HTTP 504 timeout",
        ),
        (
            429,
            r#"{"error":"source_blocked","message":"blocked","retry_after_secs":1800}"#,
            "(retry after 1800 s)",
        ),
    ] {
        let (port, server) = one_shot_server(status, body);
        let args = loopback_args(port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = pta_signin(&args, "pw\n", Some("demo-api-key-0123456789"));
        server.join().unwrap();
        assert_eq!(
            output.status.code(),
            Some(3),
            "{status}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(needle),
            "{status}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty());
    }
}

/// On a terminal (a pseudo-terminal made by util-linux `script`), the password is prompted for
/// on standard error and not echoed.
#[test]
fn the_terminal_prompt_does_not_echo_the_password() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let command = format!(
        "{} --service http://127.0.0.1:{port} --insecure-loopback-http --tenant demo --user alice@demo.test",
        env!("CARGO_BIN_EXE_pta-signin")
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("PTA_API_KEY", "demo-api-key-0123456789")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // Type only once the prompt is shown (echo is off by then).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("Password for alice@demo.test: ") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        seen.extend(rx.recv_timeout(left).expect("no prompt within 30 s"));
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"Typed-Secret-9\n").unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    while let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_secs(2)) {
        seen.extend(chunk);
    }
    let transcript = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(3), "{transcript}");
    assert!(transcript.contains("cannot connect"), "{transcript}");
    assert!(
        !transcript.contains("Typed-Secret-9"),
        "echoed: {transcript}"
    );
}
