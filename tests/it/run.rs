//! `injector run`, the real binary, against the stand-in on 127.0.0.1:0.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use injector::stand_in::{Faults, Options, Record, StandIn};
use serde_json::Value;

use crate::common::{bin, tempdir, write};

pub const TOKEN: &str = "tok-5f2a9c81-never-printed";

/// A finished (or killed) run of the binary.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `injector ARGS` in `dir` with the token in a file, asynchronously.
pub async fn injector_run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Ran {
    let out = command(dir, args, envs)
        .output()
        .await
        .expect("injector runs");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn command(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin());
    // A test that fails mid-run leaves no run behind (a run with --control waits for
    // its director).
    cmd.kill_on_drop(true);
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CONDUCTTR_TOKEN")
        .env_remove("CONDUCTTR_BASE_URL")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for proxy in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(proxy);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

pub async fn stand_in(faults: Faults) -> StandIn {
    let mut opts = Options::local(TOKEN);
    opts.faults = faults;
    StandIn::start(opts).await.unwrap()
}

/// What a run sent to the stand-in: its requests, less the `GET`s of a live run's
/// preflight (the token and the workspace, checked before T0).
pub fn sent(server: &StandIn) -> Vec<Record> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

/// A scenario of `n` injects `gap_ms` apart, each with a unique body naming its key.
pub fn scenario(n: usize, gap_ms: u64) -> String {
    let mut s = String::from(
        "name: Run test\nteams:\n  blue: 3437866\n  red: 3437872\ndefaults:\n  type: team\n  team_id: blue\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "  - id: i{i}\n    at: {}ms\n    body: \"inject {{{{ id }}}}\"\n",
            i as u64 * gap_ms
        ));
    }
    s
}

pub fn t0_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(secs)).to_rfc3339()
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub token_file: PathBuf,
}

pub fn setup(yaml: &str) -> Setup {
    let dir = tempdir();
    write(dir.path(), "s.yaml", yaml);
    let token_file = write(dir.path(), "token", &format!("{TOKEN}\n"));
    Setup { dir, token_file }
}

/// "action source" of each control entry of a journal, in order.
pub fn control_actions(dir: &Path, name: &str) -> Vec<String> {
    journal(dir, name)
        .iter()
        .filter(|e| e["type"] == "control")
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["source"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn journal(dir: &Path, name: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Key of a recorded request, from the unique body text.
pub fn key_of(r: &Record) -> String {
    r.body["body"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("inject ")
        .to_string()
}

fn accepted_per_key(records: &[Record]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in records.iter().filter(|r| r.status == Some(200)) {
        *m.entry(key_of(r)).or_insert(0) += 1;
    }
    m
}

fn assert_no_token(texts: &[&str]) {
    for t in texts {
        assert!(!t.contains(TOKEN), "the token leaked:\n{t}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_the_planned_bodies_arrive_with_ts_auth_and_matching_ids() {
    let server = stand_in(Faults::default()).await;
    let s = setup(&scenario(6, 200));
    let t0 = t0_in(1);
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let ran = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let plan = injector_run(
        s.dir.path(),
        &["plan", "s.yaml", "--start-at", &t0, "--format", "json"],
        &[],
    )
    .await;
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let records = sent(&server);
    assert_eq!(records.len(), 6);
    for (occ, rec) in plan["occurrences"].as_array().unwrap().iter().zip(&records) {
        assert_eq!(
            rec.body, occ["body"],
            "bodies arrive exactly as planned, in order"
        );
        assert_eq!(rec.auth, "ok");
        assert_eq!(rec.path, "/v1.1/eagle/messages");
        assert_eq!(rec.headers["content-type"], "application/json");
        let planned =
            chrono::DateTime::parse_from_rfc3339(occ["fires_at"].as_str().unwrap()).unwrap();
        assert_eq!(rec.body["ts"], planned.timestamp());
    }
    // The journal's message ids are the server's.
    let entries = journal(s.dir.path(), "s.journal.jsonl");
    let server_ids: HashMap<String, String> = records
        .iter()
        .map(|r| (key_of(r), r.message_id.clone().unwrap()))
        .collect();
    let sent: Vec<&Value> = entries.iter().filter(|e| e["type"] == "sent").collect();
    assert_eq!(sent.len(), 6);
    for e in &sent {
        assert_eq!(
            e["message_id"].as_str().unwrap(),
            server_ids[e["key"].as_str().unwrap()]
        );
    }
    // Each sent entry is preceded by its sending entry; the run has a header and an end.
    assert_eq!(entries[0]["type"], "run");
    assert_eq!(entries.last().unwrap()["type"], "end");
    assert_eq!(entries.last().unwrap()["reason"], "completed");
    for e in &sent {
        let key = &e["key"];
        let sending = entries
            .iter()
            .position(|x| x["type"] == "sending" && &x["key"] == key)
            .unwrap();
        let sent_at = entries
            .iter()
            .position(|x| x["type"] == "sent" && &x["key"] == key)
            .unwrap();
        assert!(sending < sent_at);
    }
    // stdout: one outcome per line, then the summary.
    let lines: Vec<Value> = ran
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[6]["type"], "summary");
    assert_eq!(lines[6]["sent"], 6);
    let journal_text = std::fs::read_to_string(s.dir.path().join("s.journal.jsonl")).unwrap();
    assert_no_token(&[&ran.stdout, &ran.stderr, &journal_text]);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_faults_each_occurrence_is_accepted_once_at_most_and_duplicates_are_flagged() {
    let faults = Faults {
        fail_rate: 0.15,
        throttle_rate: 0.1,
        drop_rate: 0.1,
        latency: None,
        seed: 9,
        close_refused: false,
        idle_close: None,
        refuse_once: None,
        unavailable_first: 0,
    };
    let server = stand_in(faults).await;
    let s = setup(&scenario(30, 0));
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let ran = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--speed",
            "max",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let records = sent(&server);
    assert!(
        records.iter().any(|r| r.fault.is_some()),
        "faults were injected"
    );
    let accepted = accepted_per_key(&records);
    let entries = journal(s.dir.path(), "s.journal.jsonl");
    for i in 0..30 {
        let key = format!("i{i}");
        let outcome = entries
            .iter()
            .rev()
            .find(|e| e["key"] == key.as_str() && e["type"] != "sending")
            .unwrap();
        let times = accepted.get(&key).copied().unwrap_or(0);
        match outcome["type"].as_str().unwrap() {
            "sent" => {
                assert_eq!(times, 1, "{key} accepted once");
                // A drop or an ambiguous 5xx before success makes it a possible duplicate.
                let ambiguous = records.iter().filter(|r| key_of(r) == key).any(|r| {
                    r.fault.as_deref() == Some("drop") || matches!(r.status, Some(500 | 502 | 504))
                });
                assert_eq!(outcome["possible_duplicate"], ambiguous, "{key}");
            }
            "failed" => assert_eq!(times, 0, "{key}"),
            other => panic!("{key}: {other}"),
        }
    }
    assert!(ran.code == 0 || ran.code == 1, "{}", ran.stderr);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_safe_never_retries_what_may_have_arrived() {
    let faults = Faults {
        fail_rate: 0.5,
        throttle_rate: 0.0,
        drop_rate: 0.0,
        latency: None,
        seed: 3,
        close_refused: false,
        idle_close: None,
        refuse_once: None,
        unavailable_first: 0,
    };
    let server = stand_in(faults).await;
    let s = setup(&scenario(20, 0));
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let ran = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--speed",
            "max",
            "--retry",
            "safe",
        ],
        &[],
    )
    .await;
    let records = sent(&server);
    for key in (0..20).map(|i| format!("i{i}")) {
        let attempts: Vec<&Record> = records.iter().filter(|r| key_of(r) == key).collect();
        // After a 500, 502 or 504 nothing more is tried; a 503 may be retried.
        for (n, r) in attempts.iter().enumerate() {
            if matches!(r.status, Some(500 | 502 | 504)) {
                assert_eq!(
                    n + 1,
                    attempts.len(),
                    "{key} was retried after {:?}",
                    r.status
                );
            }
        }
    }
    assert_eq!(ran.code, 1, "some failed: {}", ran.stdout);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_run_then_resumed_sends_nothing_twice_and_loses_nothing() {
    let faults = Faults {
        latency: Some((Duration::from_millis(20), Duration::from_millis(80))),
        ..Faults::default()
    };
    let server = stand_in(faults).await;
    let s = setup(&scenario(40, 50));
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let t0 = t0_in(1);
    let mut child = command(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
        ],
        &[],
    )
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1000 + 40 * 50 / 2)).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let before = sent(&server).len();
    assert!(
        before > 0 && before < 40,
        "killed mid-run: {before} requests"
    );

    // A plain second run refuses: the journal holds an unfinished run.
    let refused = injector_run(
        s.dir.path(),
        &["run", "s.yaml", "--base-url", &url, "--token-file", tf],
        &[],
    )
    .await;
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("unfinished run") && refused.stderr.contains("--resume"),
        "{}",
        refused.stderr
    );

    let resumed = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--resume",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let entries = journal(s.dir.path(), "s.journal.jsonl");
    let mut last: HashMap<String, String> = HashMap::new();
    for e in entries.iter().filter(|e| e["key"].is_string()) {
        last.insert(
            e["key"].as_str().unwrap().to_string(),
            e["type"].as_str().unwrap().to_string(),
        );
    }
    let accepted = accepted_per_key(&sent(&server));
    let mut uncertain = 0;
    for key in (0..40).map(|i| format!("i{i}")) {
        let times = accepted.get(&key).copied().unwrap_or(0);
        assert!(times <= 1, "{key} sent {times} times");
        match last.get(&key).map(String::as_str) {
            Some("sent") => assert_eq!(times, 1, "{key}"),
            Some("sending") => {
                uncertain += 1;
                assert!(
                    resumed.stderr.contains(&format!("key={key}"))
                        && resumed.stderr.contains("UNCERTAIN"),
                    "{}",
                    resumed.stderr
                );
            }
            other => panic!("{key}: {other:?} (lost)"),
        }
    }
    let summary: Value = serde_json::from_str(resumed.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["uncertain"], uncertain);
    assert_eq!(summary["sent"], 40 - uncertain);
    assert_eq!(
        resumed.code,
        if uncertain > 0 { 1 } else { 0 },
        "{}",
        resumed.stderr
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_team_and_only() {
    let server = stand_in(Faults::default()).await;
    let s = setup(&scenario(5, 0));
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let ran = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--speed",
            "max",
            "--redirect-team",
            "999",
            "--only",
            "i1,i3",
        ],
        &[],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let records = sent(&server);
    let mut keys: Vec<String> = records.iter().map(key_of).collect();
    keys.sort();
    assert_eq!(keys, ["i1", "i3"]);
    assert!(
        records
            .iter()
            .all(|r| r.body["team_id"] == 999 && r.body["type"] == "team")
    );
    let bad = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--only",
            "i77",
            "--fresh",
        ],
        &[],
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("no occurrence or inject `i77`"),
        "{}",
        bad.stderr
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_never_touches_the_configured_target() {
    let server = stand_in(Faults::default()).await;
    let s = setup(&scenario(4, 100));
    let url = server.base_url();
    let ran = injector_run(
        s.dir.path(),
        &["run", "s.yaml", "--dry-run", "--speed", "10"],
        &[("CONDUCTTR_BASE_URL", &url), ("CONDUCTTR_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.starts_with("dry run: 4 sent"), "{}", ran.stdout);
    assert!(ran.stderr.contains("[dry run] sent i0"), "{}", ran.stderr);
    // What a dry run can measure, and nothing it cannot: the arrival at its stand-in.
    let arrival = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("arrival at the stand-in after each instant: p50 "))
        .unwrap_or_else(|| panic!("{}", ran.stdout));
    assert!(!arrival.contains(" - "), "measured: {arrival}");
    assert!(!ran.stderr.contains("lateness +"), "{}", ran.stderr);
    assert!(!ran.stdout.contains("lateness p50"), "{}", ran.stdout);
    let end = crate::run::journal(s.dir.path(), "s.dry-run.journal.jsonl")
        .pop()
        .unwrap();
    assert!(
        end["summary"]["arrival_p50_ms"].as_f64().unwrap() >= 0.0,
        "{end}"
    );
    assert!(
        sent(&server).is_empty(),
        "the configured target was contacted"
    );
    let entries = journal(s.dir.path(), "s.dry-run.journal.jsonl");
    assert_eq!(entries[0]["dry_run"], true);
    assert!(
        !s.dir.path().join("s.journal.jsonl").exists(),
        "a dry run keeps its own journal"
    );
    assert_no_token(&[&ran.stdout, &ran.stderr]);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_without_token_over_plain_http_on_invalid_scenarios_and_locked_journals() {
    let s = setup(&scenario(2, 0));
    let dir = s.dir.path();
    let no_token = injector_run(
        dir,
        &["run", "s.yaml", "--base-url", "http://127.0.0.1:9/x"],
        &[],
    )
    .await;
    assert_eq!(no_token.code, 2);
    assert!(
        no_token.stderr.contains("CONDUCTTR_TOKEN") && no_token.stderr.contains("--token-file"),
        "{}",
        no_token.stderr
    );
    let plain = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            "http://api.example.org/v1.1/eagle",
        ],
        &[("CONDUCTTR_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(plain.code, 2);
    assert!(plain.stderr.contains("use https"), "{}", plain.stderr);
    assert_no_token(&[&no_token.stderr, &plain.stderr]);
    write(
        dir,
        "bad.yaml",
        "name: bad\ninjects:\n  - id: a\n    at: soon\n",
    );
    let invalid = injector_run(dir, &["run", "bad.yaml", "--dry-run"], &[]).await;
    assert_eq!(invalid.code, 2);
    assert!(
        invalid.stderr.contains("nothing was sent"),
        "{}",
        invalid.stderr
    );

    // A run holding the journal makes a second one refuse.
    let server = stand_in(Faults::default()).await;
    let url = server.base_url();
    write(dir, "slow.yaml", &scenario(2, 4000));
    let tf = s.token_file.to_str().unwrap();
    let first = command(
        dir,
        &[
            "run",
            "slow.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--journal",
            "shared.jsonl",
        ],
        &[],
    )
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--journal",
            "shared.jsonl",
        ],
        &[],
    )
    .await;
    assert_eq!(second.code, 2);
    assert!(
        second.stderr.contains("in use by another run"),
        "{}",
        second.stderr
    );
    // SIGINT: stops scheduling, exits 130 and says how to resume.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(first.id().unwrap() as i32, libc::SIGINT) };
    let out = first.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("to resume: injector run slow.yaml --resume --journal shared.jsonl"),
        "{stdout}"
    );
    let entries = journal(dir, "shared.jsonl");
    assert_eq!(entries.last().unwrap()["reason"], "interrupted");
    let resumed = injector_run(
        dir,
        &[
            "run",
            "slow.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--journal",
            "shared.jsonl",
            "--resume",
        ],
        &[],
    )
    .await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(accepted_per_key(&sent(&server)).values().sum::<usize>(), 2);
    // --fresh archives the old journal.
    let fresh = injector_run(
        dir,
        &[
            "run",
            "slow.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--journal",
            "shared.jsonl",
            "--fresh",
            "--only",
            "i0",
        ],
        &[],
    )
    .await;
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    let archived = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("shared.")
        })
        .count();
    assert_eq!(archived, 2, "the new journal and the archived one");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn late_policies() {
    let server = stand_in(Faults::default()).await;
    // T0 fifteen minutes ago: `a` is 15 min late, `b` 5 min late.
    let yaml = "name: Late\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n  - id: a\n    at: 0s\n    body: inject a\n  - id: b\n    at: 10m\n    body: inject b\n";
    let s = setup(yaml);
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let t0 = t0_in(-15 * 60);
    // A T0 further back than --late-max (10m) is refused before anything is written,
    // naming both ways forward.
    let refused = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
        ],
        &[],
    )
    .await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("longer than --late-max 10m")
            && refused.stderr.contains("--start-at now")
            && refused.stderr.contains("--late fire --late-max"),
        "{}",
        refused.stderr
    );
    assert!(!s.dir.path().join("s.journal.jsonl").exists());
    assert!(sent(&server).is_empty());
    // With a --late-max beyond it, both fire at once, marked late.
    let fire = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
            "--late-max",
            "20m",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    assert_eq!(fire.code, 0, "{}", fire.stderr);
    let lines: Vec<Value> = fire
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for key in ["a", "b"] {
        let l = lines.iter().find(|l| l["key"] == key).unwrap();
        assert_eq!(l["type"], "sent", "{l}");
        assert_eq!(l["late"], true, "{l}");
    }
    let skip = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
            "--late",
            "skip",
            "--late-max",
            "20m",
            "--fresh",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let lines: Vec<Value> = skip
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .filter(|l| l["key"].is_string())
            .all(|l| l["type"] == "skipped"),
        "{}",
        skip.stdout
    );
    assert_eq!(
        sent(&server).len(),
        2,
        "only the first run's `a` and `b` were sent"
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_run_resolves_handles_through_the_workspace() {
    let server = stand_in(Faults::default()).await;
    let yaml = "name: Handles\ndefaults:\n  type: team\n  team_id: 3437866\n  channel: microblog\ninjects:\n  - id: a\n    at: 0s\n    persona: \"@tidewatch\"\n    body: inject a\n";
    let s = setup(yaml);
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let cache = s.dir.path().join("cache");
    let ran = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--speed",
            "max",
        ],
        &[("XDG_CACHE_HOME", cache.to_str().unwrap())],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let sent: Vec<Record> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/messages"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["persona"], "3-49790");
    server.shutdown(Duration::from_secs(1)).await;
}

/// Start `injector run ... --control 127.0.0.1:0`; returns the child, the control URL and token.
pub async fn run_with_control(
    dir: &Path,
    args: &[&str],
) -> (tokio::process::Child, String, String) {
    use tokio::io::AsyncBufReadExt;
    let mut full = args.to_vec();
    full.extend(["--control", "127.0.0.1:0"]);
    // Ends by itself once everything is handled, unless the test waits to end it.
    if !args.contains(&"--wait-for-end") {
        full.push("--end-when-done");
    }
    full.retain(|a| *a != "--wait-for-end");
    let mut child = command(dir, &full, &[]).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut url, mut token) = (String::new(), String::new());
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(u) = line.strip_prefix("control: ") {
            url = u.trim().to_string();
        }
        if let Some(t) = line.strip_prefix("control token: ") {
            token = t.trim().to_string();
            break;
        }
    }
    // Keep draining stderr so the run never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    assert!(
        !url.is_empty() && !token.is_empty(),
        "the run printed its control URL and token"
    );
    (child, url, token)
}

pub async fn ctl(dir: &Path, url: &str, token: &str, args: &[&str]) -> Ran {
    let mut full = vec!["ctl", "--control", url];
    full.extend_from_slice(args);
    injector_run(dir, &full, &[("INJECTOR_CONTROL_TOKEN", token)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn ctl_steers_a_real_run() {
    let server = stand_in(Faults::default()).await;
    let s = setup(&scenario(6, 1500));
    let dir = s.dir.path();
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let t0 = t0_in(1);
    let (child, control, token) = run_with_control(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
        ],
    )
    .await;
    // After i0 (T0) and before i1 (T0 + 1.5 s): hold.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let held = ctl(dir, &control, &token, &["hold"]).await;
    assert_eq!(
        (held.code, held.stdout.trim()),
        (0, "held: nothing fires until the hold is released"),
        "{}",
        held.stderr
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let sent_while_held = sent(&server).len();
    let status = ctl(dir, &control, &token, &["--format", "json", "status"]).await;
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["held"], true);
    assert_eq!(doc["occurrences"].as_array().unwrap().len(), 6);
    // Fire i4 now (while held), skip i3, refuse nonsense, resume.
    let fired = ctl(dir, &control, &token, &["fire", "i4"]).await;
    assert_eq!(
        (fired.code, fired.stdout.trim()),
        (0, "i4 fired"),
        "{}",
        fired.stderr
    );
    assert_eq!(ctl(dir, &control, &token, &["skip", "i3"]).await.code, 0);
    let refused = ctl(dir, &control, &token, &["skip", "i99"]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("no occurrence `i99`"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        ctl(dir, &control, &token, &["unskip", "i1"]).await.code,
        1,
        "i1 is not skipped"
    );
    assert_eq!(
        ctl(dir, &control, &token, &["hold"]).await.code,
        1,
        "already held"
    );
    let bad_token = ctl(dir, &control, "wrong", &["hold"]).await;
    assert_eq!(bad_token.code, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_fire = sent(&server);
    assert_eq!(
        after_fire.len(),
        sent_while_held + 1,
        "only the fired one went out while held"
    );
    assert_eq!(key_of(after_fire.last().unwrap()), "i4");
    assert_eq!(ctl(dir, &control, &token, &["resume"]).await.code, 0);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "a skip makes the run exit 1");
    let accepted = accepted_per_key(&sent(&server));
    let mut keys: Vec<&String> = accepted.keys().collect();
    keys.sort();
    assert_eq!(keys, ["i0", "i1", "i2", "i4", "i5"]);
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    // Every action is journaled with its source, and the report lists them.
    assert_eq!(
        control_actions(dir, "s.journal.jsonl"),
        [
            "hold command",
            "fire command",
            "skip command",
            "resume command"
        ]
    );
    let report = injector_run(dir, &["report", "s.journal.jsonl"], &[]).await;
    assert!(
        report.stdout.contains("hold")
            && report.stdout.contains("i4 (from the command, by director)"),
        "{}",
        report.stdout
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_after_an_edit_reports_added_removed_and_changed_occurrences() {
    let server = stand_in(Faults::default()).await;
    let s = setup(&scenario(3, 0));
    let dir = s.dir.path();
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let t0 = t0_in(1);
    let first = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
            "--only",
            "i0",
        ],
        &[],
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Edit: i1's body changes, i2 goes, i7 comes.
    let edited = scenario(2, 0).replace(
        "inject {{ id }}\"\n  - id: i1",
        "inject {{ id }}\"\n  - id: i1\n    subject: new",
    ) + "  - id: i7\n    at: 0ms\n    body: \"inject {{ id }}\"\n";
    write(dir, "s.yaml", &edited);
    let resumed = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--resume",
        ],
        &[],
    )
    .await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed
            .stderr
            .contains(r#"added ["i7"], removed ["i2"], changed ["i1"]"#),
        "{}",
        resumed.stderr
    );
    let accepted = accepted_per_key(&sent(&server));
    let mut keys: Vec<&String> = accepted.keys().collect();
    keys.sort();
    assert_eq!(keys, ["i0", "i1", "i7"], "i0 was not sent again");
    assert!(accepted.values().all(|n| *n == 1));
    server.shutdown(Duration::from_secs(1)).await;
}

/// `--speed max` fires at once but keeps the scenario's instants: the journal plans
/// each occurrence at its own time, measures no lateness and marks nothing late, and
/// the summary says lateness was not measured.
#[tokio::test(flavor = "multi_thread")]
async fn max_speed_keeps_planned_instants_and_measures_no_lateness() {
    let server = stand_in(Faults::default()).await;
    // An hour apart: a run that waited would take hours.
    let s = setup(&scenario(3, 3_600_000));
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let start = (chrono::Utc::now() + chrono::TimeDelta::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ran = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &start,
            "--speed",
            "max",
        ],
        &[],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains("lateness: not measured with --speed max"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stderr.contains("LATE"), "{}", ran.stderr);
    let t0 = chrono::DateTime::parse_from_rfc3339(&start).unwrap();
    let entries = journal(s.dir.path(), "s.journal.jsonl");
    for i in 0..3 {
        let sent = entries
            .iter()
            .find(|e| e["type"] == "sent" && e["key"] == format!("i{i}").as_str())
            .unwrap();
        let planned =
            chrono::DateTime::parse_from_rfc3339(sent["planned_at"].as_str().unwrap()).unwrap();
        assert_eq!(planned, t0 + chrono::TimeDelta::hours(i), "i{i}");
        assert!(sent.get("lateness_ms").is_none(), "{sent}");
        assert_eq!(sent["late"], false);
    }
    server.shutdown(Duration::from_secs(1)).await;
}

/// By default a group's connections are opened two seconds ahead of it, one per send,
/// sending nothing on them before the instant; with `--no-preconnect` each opens at its
/// instant. The old `--preconnect` is still taken.
#[tokio::test(flavor = "multi_thread")]
async fn a_bursts_connections_are_opened_ahead_sending_nothing() {
    for flags in [&[][..], &["--preconnect"], &["--no-preconnect"]] {
        let server = stand_in(Faults::default()).await;
        // Four injects due together, three seconds out.
        let s = setup(&scenario(4, 0));
        let url = server.base_url();
        let tf = s.token_file.to_str().unwrap();
        let t0 = t0_in(3);
        let mut args = vec![
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
        ];
        args.extend(flags);
        let ran = injector_run(s.dir.path(), &args, &[]).await;
        assert_eq!(ran.code, 0, "{flags:?}: {}", ran.stderr);
        // The preflight's reads, then the burst, nothing else.
        let records = server.requests();
        let reads = records.iter().take_while(|r| r.method == "GET").count();
        let posts = &records[reads..];
        assert_eq!(posts.len(), 4, "{flags:?}: {records:?}");
        assert!(
            posts.iter().all(|r| r.method == "POST"),
            "{flags:?}: {records:?}"
        );
        let conns: std::collections::BTreeSet<u64> =
            posts.iter().map(|r| r.conn.unwrap()).collect();
        assert_eq!(
            conns.len(),
            4,
            "{flags:?}: one connection per send of the burst"
        );
        let t0 = chrono::DateTime::parse_from_rfc3339(&t0).unwrap();
        let t0_ns = t0.timestamp_nanos_opt().unwrap() as u64;
        for post in posts {
            let at = chrono::DateTime::parse_from_rfc3339(&post.received_at).unwrap();
            assert!(at >= t0, "{} arrived before T0", key_of(post));
            let opened = post.conn_opened_unix_ns.unwrap();
            if flags == ["--no-preconnect"] {
                assert!(opened >= t0_ns, "{flags:?}: opened before T0");
            } else {
                assert!(
                    opened + 1_000_000_000 <= t0_ns,
                    "{flags:?}: opened {} ms before T0",
                    (t0_ns as i64 - opened as i64) / 1_000_000
                );
            }
        }
        let accepted = accepted_per_key(posts);
        assert_eq!(accepted.len(), 4, "{accepted:?}");
        assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
        server.shutdown(Duration::from_secs(1)).await;
    }
}

/// With a proxy configured (`HTTP_PROXY`), everything goes through it, messages
/// included: here a second stand-in, which answers for the first.
#[tokio::test(flavor = "multi_thread")]
async fn a_configured_proxy_carries_the_messages() {
    let target = stand_in(Faults::default()).await;
    let proxy = stand_in(Faults::default()).await;
    let s = setup(&scenario(3, 0));
    let proxy_url = format!("http://{}", proxy.addr());
    let ran = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &target.base_url(),
            "--token-file",
            s.token_file.to_str().unwrap(),
            "--start-at",
            &t0_in(1),
        ],
        &[("HTTP_PROXY", &proxy_url)],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        target.requests().is_empty(),
        "nothing went around the proxy"
    );
    let through = proxy.requests();
    assert_eq!(
        through.iter().filter(|r| r.method == "POST").count(),
        3,
        "{:#?}",
        through
            .iter()
            .map(|r| (&r.method, &r.path, r.status))
            .collect::<Vec<_>>()
    );
    let posts: Vec<Record> = through.into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(accepted_per_key(&posts).len(), 3);
    target.shutdown(Duration::from_secs(1)).await;
    proxy.shutdown(Duration::from_secs(1)).await;
}

/// A server that answers every request under the API's base with a redirect to
/// `/moved/...`, and counts what arrives there. With `gets`, a `GET` (a live run's
/// preflight: the token and the workspace) is answered by that stand-in instead.
async fn redirecting_server(
    status: u16,
    gets: Option<String>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let moved = Arc::new(AtomicUsize::new(0));
    let target = format!("{base}/moved/messages");
    let counter = moved.clone();
    let app = axum::Router::new()
        .route(
            "/v1.1/eagle/{*rest}",
            axum::routing::any(
                move |method: axum::http::Method,
                      uri: axum::http::Uri,
                      headers: axum::http::HeaderMap| {
                    let target = target.clone();
                    let gets = gets.clone();
                    async move {
                        use axum::response::IntoResponse;
                        if let (Some(stand_in), axum::http::Method::GET) = (gets, method) {
                            let rest = uri.path().trim_start_matches("/v1.1/eagle");
                            let mut get =
                                crate::stand_in::client().get(format!("{stand_in}{rest}"));
                            if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
                                get = get.header("authorization", auth.as_bytes());
                            }
                            let resp = get.send().await.unwrap();
                            let code =
                                axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
                            return (code, resp.text().await.unwrap()).into_response();
                        }
                        (
                            axum::http::StatusCode::from_u16(status).unwrap(),
                            [(axum::http::header::LOCATION, target)],
                            "moved",
                        )
                            .into_response()
                    }
                },
            ),
        )
        .route(
            "/moved/{*rest}",
            axum::routing::any(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { axum::Json(serde_json::json!({"message_id": "elsewhere"})) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/v1.1/eagle"), moved)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_is_reported_with_where_it_points_and_never_followed() {
    let server = stand_in(Faults::default()).await;
    for status in [301u16, 307] {
        let (url, moved) = redirecting_server(status, Some(server.base_url())).await;
        let s = setup(&scenario(1, 0));
        let tf = s.token_file.to_str().unwrap();
        let ran = injector_run(
            s.dir.path(),
            &[
                "run",
                "s.yaml",
                "--base-url",
                &url,
                "--token-file",
                tf,
                "--speed",
                "max",
            ],
            &[],
        )
        .await;
        assert_eq!(ran.code, 1, "{status}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(&format!("FAILED i0 status {status}"))
                && ran.stderr.contains("a redirect to http://127.0.0.1:")
                && ran.stderr.contains("/moved/messages")
                && ran.stderr.contains("check --base-url"),
            "{status}: {}",
            ran.stderr
        );
        let failed = journal(s.dir.path(), "s.journal.jsonl")
            .into_iter()
            .find(|e| e["type"] == "failed")
            .unwrap();
        assert_eq!(failed["status"], status, "{failed}");
        assert_eq!(failed["maybe_delivered"], false, "{failed}");

        assert_eq!(
            moved.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{status}: the POST was followed"
        );

        // The GETs of `teams` are not followed either.
        let (url, moved) = redirecting_server(status, None).await;
        let ran = injector_run(
            s.dir.path(),
            &["teams", "--base-url", &url, "--token-file", tf],
            &[],
        )
        .await;
        assert_ne!(ran.code, 0, "{}", ran.stdout);
        assert!(
            ran.stderr.contains(&format!("answered {status}"))
                && ran.stderr.contains("a redirect to")
                && ran.stderr.contains("check --base-url"),
            "{status}: {}",
            ran.stderr
        );
        assert_eq!(
            moved.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{status}: followed"
        );
        assert_no_token(&[&ran.stdout, &ran.stderr]);

        // Nor a run's preflight: refused before T0, nothing journaled.
        let fresh = setup(&scenario(1, 0));
        let ran = injector_run(
            fresh.dir.path(),
            &[
                "run",
                "s.yaml",
                "--base-url",
                &url,
                "--token-file",
                fresh.token_file.to_str().unwrap(),
            ],
            &[],
        )
        .await;
        assert_eq!(ran.code, 2, "{status}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(&format!("answered {status}"))
                && ran.stderr.contains("a redirect to")
                && ran.stderr.contains("nothing was sent"),
            "{status}: {}",
            ran.stderr
        );
        assert!(!fresh.dir.path().join("s.journal.jsonl").exists());
        assert_eq!(moved.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
    server.shutdown(Duration::from_secs(1)).await;
}
