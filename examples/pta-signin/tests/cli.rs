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
