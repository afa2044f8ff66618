//! docs/DEPLOY.md against the real configuration types and command lines: every TOML block
//! parses with the service's or the agent's configuration (unknown keys are refused), and
//! every flag of every `pta-service`, `pta-agent` and `pta-signin` command appears in that
//! command's `--help`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use super::workspace_binary;

fn deploy_md() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/DEPLOY.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced blocks with this info string.
fn blocks(text: &str, info: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == format!("```{info}") => current = Some(String::new()),
            Some(block) if line.trim() == "```" => {
                out.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn every_toml_block_parses_with_the_real_configuration_types() {
    let text = deploy_md();
    let tomls = blocks(&text, "toml");
    assert!(tomls.len() >= 4, "{tomls:?}");
    let env = HashMap::new();
    let (mut service, mut agent) = (0, 0);
    for block in &tomls {
        if block.contains("data_dir") {
            pta_service_cli::Config::parse(block, &env)
                .unwrap_or_else(|e| panic!("service block:\n{block}\n{e}"));
            // The check is strict: an unknown key fails.
            let bad = format!("{block}\n[log]\nbogus = 1\n");
            assert!(pta_service_cli::Config::parse(&bad, &env).is_err());
            service += 1;
        } else {
            pta_agent::Config::from_toml(block)
                .unwrap_or_else(|e| panic!("agent block:\n{block}\n{e}"));
            let bad = format!("{block}\n[limits]\nbogus = 1\n");
            assert!(pta_agent::Config::from_toml(&bad).is_err());
            agent += 1;
        }
    }
    assert_eq!(service, 1);
    assert!(agent >= 3, "{agent}");
}

#[test]
fn every_command_flag_exists() {
    let text = deploy_md();
    let binaries: HashMap<&str, PathBuf> = [
        (
            "pta-service",
            workspace_binary("pta-service-cli", "pta-service"),
        ),
        ("pta-agent", workspace_binary("pta-agent-cli", "pta-agent")),
        (
            "pta-signin",
            workspace_binary("pta-signin-cli", "pta-signin"),
        ),
    ]
    .into_iter()
    .collect();
    // Shell lines, continuation lines joined.
    let mut commands = Vec::new();
    for block in blocks(&text, "sh") {
        let mut joined = String::new();
        for line in block.lines() {
            let line = line.split(" #").next().unwrap_or("");
            if let Some(start) = line.strip_suffix('\\') {
                joined.push_str(start);
                continue;
            }
            joined.push_str(line);
            commands.push(std::mem::take(&mut joined));
        }
    }
    let mut checked = 0;
    for command in commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        // The binary, not a user of the same name (`sudo -u pta-agent pta-agent ...`).
        let Some(at) = (0..words.len())
            .position(|i| binaries.contains_key(words[i]) && (i == 0 || words[i - 1] != "-u"))
        else {
            continue;
        };
        let binary = &binaries[words[at]];
        let rest = &words[at + 1..];
        let subcommand: Vec<&str> = rest
            .iter()
            .take_while(|w| !w.starts_with('-'))
            .take(2)
            .copied()
            .collect();
        let mut help = None;
        for n in (0..=subcommand.len()).rev() {
            let output = Command::new(binary)
                .args(&subcommand[..n])
                .arg("--help")
                .output()
                .unwrap();
            if output.status.success() {
                help = Some(String::from_utf8_lossy(&output.stdout).into_owned());
                break;
            }
        }
        let help = help.unwrap_or_else(|| panic!("no help for {command:?}"));
        for flag in rest.iter().filter(|w| w.starts_with("--")) {
            let flag = flag.split('=').next().unwrap_or(flag);
            assert!(
                help.contains(flag),
                "{command:?}: {flag} is not in the help:\n{help}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} flags checked");
}
