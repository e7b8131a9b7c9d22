//! The README and `docs/` cannot rot: every command in their `sh` blocks is run here, a
//! page at a time, in order, in a scratch folder holding a copy of `scenarios/`, with
//! `injector` on the `PATH` and `CONDUCTTR_BASE_URL` and `CONDUCTTR_TOKEN` set for a
//! stand-in (as a controller's shell would be for the real platform). Each command must
//! end with 0 or 1 (a usage error, 2, is a command that rotted), and never panic. A line
//! ending in `&` starts in the background, as in a shell, and stays up until the page
//! ends. `cargo run --release --` is the built binary; other cargo commands (the tests
//! themselves, install, build) are not run here. Every relative link of these pages
//! (and bench/'s) points at a file that exists, and at a heading that exists.

use std::path::{Path, PathBuf};
use std::time::Duration;

use injector::stand_in::Faults;

use crate::common::bin;
use crate::run::{TOKEN, stand_in};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README and every page of docs/, in order.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut pages = vec![root().join("README.md")];
    pages.extend(docs);
    pages
}

/// The commands of a page's `sh` blocks, continuation lines joined, blank and comment
/// lines left out.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            inside = line.trim() == "```sh";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            continue;
        }
        pending.push_str(line);
        let command = std::mem::take(&mut pending);
        let command = command.trim();
        if !command.is_empty() && !command.starts_with('#') {
            out.push(command.to_string());
        }
    }
    out
}

/// A command without its trailing comment (a `#` after a space, outside quotes).
fn without_comment(command: &str) -> &str {
    let mut quote = None;
    let bytes = command.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'\'' | b'"') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'#') if i > 0 && bytes[i - 1] == b' ' => return command[..i].trim_end(),
            _ => {}
        }
    }
    command.trim_end()
}

fn shell(dir: &Path, envs: &[(String, String)], command: &str) -> tokio::process::Command {
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = tokio::process::Command::new("bash");
    cmd.kill_on_drop(true)
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for proxy in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"] {
        cmd.env_remove(proxy);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Run one page's commands in order; what was run, for the report of a failure.
async fn run_page(page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap();
    let name = page.strip_prefix(root()).unwrap().display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_dir(&root().join("scenarios"), &d.join("scenarios"));
    let server = stand_in(Faults::default()).await;
    let mut envs = vec![
        ("CONDUCTTR_BASE_URL".to_string(), server.base_url()),
        ("CONDUCTTR_TOKEN".to_string(), TOKEN.to_string()),
    ];
    let mut background = Vec::new();
    let mut ran = Vec::new();
    for command in commands(&text) {
        let bare = without_comment(&command);
        if let Some(assign) = bare.strip_prefix("export ") {
            // `export CONDUCTTR_TOKEN=...`: the page's placeholder for the real thing.
            let (k, v) = assign.split_once('=').expect("export NAME=VALUE");
            if v != "..." {
                envs.retain(|(name, _)| name != k);
                envs.push((k.to_string(), v.to_string()));
            }
            continue;
        }
        let bare = match bare.strip_prefix("cargo run --release -- ") {
            Some(rest) => format!("injector {rest}"),
            None if bare.starts_with("cargo ") => continue,
            None => bare.to_string(),
        };
        ran.push(bare.clone());
        if let Some(first) = bare.strip_suffix('&') {
            let mut child = shell(d, &envs, &format!("exec {}", first.trim()))
                .spawn()
                .unwrap();
            // Up when it says where it listens (or a few seconds on).
            let mut err = tokio::io::BufReader::new(child.stderr.take().unwrap());
            let up = tokio::time::timeout(Duration::from_secs(10), async {
                use tokio::io::AsyncBufReadExt;
                let mut line = String::new();
                loop {
                    line.clear();
                    if err.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line.contains("control: ") || line.contains("listening") {
                        return;
                    }
                }
            })
            .await;
            let _ = up;
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut sink = Vec::new();
                let _ = err.read_to_end(&mut sink).await;
            });
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name}: `{bare}` ended at once with {status}");
            }
            background.push(child);
            continue;
        }
        let out = tokio::time::timeout(Duration::from_secs(120), shell(d, &envs, &bare).output())
            .await
            .unwrap_or_else(|_| panic!("{name}: `{bare}` did not end within 2 minutes"))
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        assert!(
            matches!(code, 0 | 1) && !stderr.contains("panicked"),
            "{name}: `{bare}` exited {code}\nstdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    for mut child in background {
        let _ = child.kill().await;
    }
    ran
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_of_the_readme_and_docs_runs() {
    let mut all = Vec::new();
    for page in pages() {
        all.extend(run_page(&page).await);
    }
    // The pages do show commands: a page whose blocks lost their `sh` would pass empty.
    for expected in [
        "injector run scenarios/quickstart.yaml --dry-run --speed 60",
        "injector validate scenarios/*.yaml",
        "injector controllers list --file team.yaml",
    ] {
        assert!(
            all.iter().any(|c| c == expected),
            "`{expected}` is no longer run: {all:#?}"
        );
    }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside;
        } else if !inside && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_link_of_the_docs_points_at_something() {
    let mut files = pages();
    for f in ["bench/README.md", "bench/HISTORY.md"] {
        files.push(root().join(f));
    }
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.starts_with("http") || target.contains(' ') {
                continue;
            }
            let (path, hash) = target.split_once('#').unwrap_or((target, ""));
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            if !resolved.exists() {
                broken.push(format!("{}: {target} (no such file)", file.display()));
                continue;
            }
            if !hash.is_empty()
                && resolved.extension().is_some_and(|e| e == "md")
                && !anchors(&std::fs::read_to_string(&resolved).unwrap())
                    .iter()
                    .any(|a| a == hash)
            {
                broken.push(format!("{}: {target} (no such heading)", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_stays_short() {
    let lines = std::fs::read_to_string(root().join("README.md"))
        .unwrap()
        .lines()
        .count();
    assert!(
        lines <= 400,
        "README.md has {lines} lines: move the depth to docs/"
    );
}
