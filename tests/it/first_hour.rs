//! The first hour and exercise day: what a newcomer meets, and what must be found out
//! before T0 rather than at it. The real binary, against the stand-in.

use std::time::Duration;

use injector::stand_in::{Faults, Options, StandIn};
use serde_json::Value;

use crate::common::write;
use crate::run::{
    command, ctl, injector_run, journal, run_with_control, scenario, sent, setup, stand_in, t0_in,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_rehearsal_repeats_and_archives_the_finished_one() {
    let s = setup(&scenario(3, 0));
    let dir = s.dir.path();
    let args = ["run", "s.yaml", "--dry-run", "--speed", "max"];
    let first = injector_run(dir, &args, &[]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let again = injector_run(dir, &args, &[]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("held a finished run: archived as"),
        "{}",
        again.stderr
    );
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("s.dry-run.journal"))
        .collect();
    assert_eq!(names.len(), 2, "the journal and its archive: {names:?}");
    // The new journal holds one run only.
    let runs = journal(dir, "s.dry-run.journal.jsonl")
        .iter()
        .filter(|e| e["type"] == "run")
        .count();
    assert_eq!(runs, 1);
}

/// A rehearsal a director ended is over too: the next one archives it and starts anew;
/// a start refused for another reason archives nothing, and does not say it did.
#[tokio::test(flavor = "multi_thread")]
async fn a_rehearsal_a_director_ended_is_archived_by_the_next() {
    let s = setup(&scenario(3, 60_000));
    let dir = s.dir.path();
    let (mut child, url, token) =
        run_with_control(dir, &["run", "s.yaml", "--dry-run", "--wait-for-end"]).await;
    assert_eq!(ctl(dir, &url, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait().await;
    let refused = injector_run(
        dir,
        &["run", "s.yaml", "--dry-run", "--control", "0.0.0.0:0"],
        &[],
    )
    .await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(!refused.stderr.contains("archived"), "{}", refused.stderr);
    let again = injector_run(dir, &["run", "s.yaml", "--dry-run", "--speed", "max"], &[]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("held a finished run: archived as"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_start_leaves_the_journal_byte_for_byte() {
    let s = setup(&scenario(2, 0));
    let dir = s.dir.path();
    // No journal yet: a refused control address creates none.
    let remote = injector_run(
        dir,
        &["run", "s.yaml", "--dry-run", "--control", "0.0.0.0:0"],
        &[],
    )
    .await;
    assert_eq!(remote.code, 2, "{}", remote.stderr);
    assert!(!dir.join("s.dry-run.journal.jsonl").exists());
    // A journal cut off mid-line by a crash: a refused resume leaves it as it was.
    let interrupted =
        injector_run(dir, &["run", "s.yaml", "--dry-run", "--speed", "max"], &[]).await;
    assert_eq!(interrupted.code, 0, "{}", interrupted.stderr);
    let path = dir.join("s.dry-run.journal.jsonl");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"type\":\"sending\",\"key\":\"i");
    std::fs::write(&path, &bytes).unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let taken = injector_run(
        dir,
        &["run", "s.yaml", "--dry-run", "--resume", "--control", &addr],
        &[],
    )
    .await;
    assert_eq!(taken.code, 2, "{}", taken.stderr);
    assert!(
        taken.stderr.contains(&format!("cannot listen on {addr}"))
            && taken.stderr.contains("port 0"),
        "the busy address, and a way out: {}",
        taken.stderr
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "byte for byte");
    let remote = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--resume",
            "--control",
            "0.0.0.0:0",
        ],
        &[],
    )
    .await;
    assert_eq!(remote.code, 2, "{}", remote.stderr);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "byte for byte");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_is_found_before_t0() {
    let server = stand_in(Faults::default()).await;
    let s = setup(&scenario(2, 0));
    let dir = s.dir.path();
    let wrong = write(dir, "wrong", "not-the-token\n");
    let url = server.base_url();
    let ran = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            wrong.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("the API token was refused")
            && ran.stderr.contains("401")
            && ran.stderr.contains("nothing was sent"),
        "{}",
        ran.stderr
    );
    assert!(!dir.join("s.journal.jsonl").exists(), "nothing journaled");
    assert!(sent(&server).is_empty(), "nothing sent");
    // The workspace commands say the same.
    let personas = injector_run(
        dir,
        &[
            "personas",
            "--base-url",
            &url,
            "--token-file",
            wrong.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(personas.code, 2);
    assert!(
        personas.stderr.contains("the API token was refused"),
        "{}",
        personas.stderr
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_only_checks_everything_and_touches_nothing() {
    let server = stand_in(Faults::default()).await;
    let s = setup(&scenario(3, 1000));
    let dir = s.dir.path();
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let t0 = t0_in(3600);
    let base = [
        "run",
        "s.yaml",
        "--base-url",
        &url,
        "--token-file",
        tf,
        "--start-at",
        &t0,
    ];
    let text = injector_run(dir, &[&base[..], &["--preflight-only"]].concat(), &[]).await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("preflight: ready")
            && text.stdout.contains("token accepted")
            && text.stdout.contains("3 to fire"),
        "{}",
        text.stdout
    );
    let json = injector_run(
        dir,
        &[&base[..], &["--preflight-only", "--format", "json"]].concat(),
        &[],
    )
    .await;
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (v["ready"].clone(), v["to_fire"].clone()),
        (Value::Bool(true), 3.into())
    );
    assert!(v["teams"].as_u64().unwrap() > 0, "{v}");
    assert!(
        !dir.join("s.journal.jsonl").exists(),
        "the journal untouched"
    );
    assert!(sent(&server).is_empty(), "nothing sent");
    // An id the workspace does not know is found now, not at its instant.
    let unknown = setup(&scenario(1, 0).replace("3-49786", "3-999999"));
    let ran = injector_run(
        unknown.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            unknown.token_file.to_str().unwrap(),
            "--start-at",
            &t0,
        ],
        &[],
    )
    .await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("no persona `3-999999` in the workspace")
            && ran.stderr.contains("nothing was sent"),
        "{}",
        ran.stderr
    );
    assert!(!unknown.dir.path().join("s.journal.jsonl").exists());
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_refused_during_the_run_stops_it_and_retry_failed_sends_the_rest() {
    let first = stand_in(Faults::default()).await;
    let addr = first.base_url();
    let s = setup(&scenario(4, 300));
    let dir = s.dir.path();
    let tf = s.token_file.to_str().unwrap();
    let t0 = t0_in(4);
    let child = command(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &addr,
            "--token-file",
            tf,
            "--start-at",
            &t0,
        ],
        &[],
    )
    .spawn()
    .unwrap();
    // The preflight passes; then, before T0, the workspace's token is rotated.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let listen = first.addr();
    first.shutdown(Duration::from_millis(100)).await;
    let mut opts = Options::local("rotated-token");
    opts.listen = listen;
    let second = StandIn::start(opts).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refused the API token (HTTP 401)") && stdout.contains("--retry-failed"),
        "{stdout}\n{stderr}"
    );
    let refused = sent(&second)
        .iter()
        .filter(|r| r.status == Some(401))
        .count();
    assert!(
        (1..4).contains(&refused),
        "the run stopped before burning through the timeline: {refused} refused"
    );
    // With the new token, a resume sends the failed ones again and the rest.
    write(dir, "token", "rotated-token\n");
    let resumed = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &addr,
            "--token-file",
            tf,
            "--resume",
            "--retry-failed",
            "--late-max",
            "1h",
        ],
        &[],
    )
    .await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let mut accepted: Vec<String> = sent(&second)
        .iter()
        .filter(|r| r.status == Some(200))
        .map(crate::run::key_of)
        .collect();
    accepted.sort();
    assert_eq!(accepted, ["i0", "i1", "i2", "i3"], "each once");
    second.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_terminal_stops_a_run_like_sigterm() {
    let s = setup(&scenario(8, 1000));
    let dir = s.dir.path();
    let t0 = t0_in(1);
    let child = command(dir, &["run", "s.yaml", "--dry-run", "--start-at", &t0], &[])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2600)).await;
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGHUP) };
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(
        stdout.contains("to resume: injector run s.yaml --resume"),
        "{stdout}"
    );
    let entries = journal(dir, "s.dry-run.journal.jsonl");
    assert_eq!(entries.last().unwrap()["reason"], "interrupted");
    for e in entries.iter().filter(|e| e["type"] == "sending") {
        assert!(
            entries.iter().any(|o| o["key"] == e["key"]
                && ["sent", "failed"].contains(&o["type"].as_str().unwrap())),
            "{} was left uncertain",
            e["key"]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unskip_undoes_a_skip_by_inject_id_one_occurrence_at_a_time() {
    let yaml = "name: Gauges\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n  - id: gauge\n    every: 1s\n    from: 3s\n    until: 5s\n    body: \"inject {{ occurrence }}\"\n";
    let s = setup(yaml);
    let dir = s.dir.path();
    let t0 = t0_in(1);
    let (child, control, token) =
        run_with_control(dir, &["run", "s.yaml", "--dry-run", "--start-at", &t0]).await;
    let skip = ctl(dir, &control, &token, &["--yes", "skip", "gauge"]).await;
    assert_eq!(skip.code, 0, "{}", skip.stderr);
    let unskip = ctl(dir, &control, &token, &["unskip", "gauge#2"]).await;
    assert_eq!(
        (unskip.code, unskip.stdout.trim()),
        (0, "gauge#2 will fire"),
        "{}",
        unskip.stderr
    );
    let again = ctl(dir, &control, &token, &["unskip", "gauge#2"]).await;
    assert_eq!(again.code, 1, "not skipped any more: {}", again.stdout);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the other occurrences were skipped"
    );
    let entries = journal(dir, "s.dry-run.journal.jsonl");
    let outcome = |key: &str| {
        entries
            .iter()
            .rev()
            .find(|e| e["key"] == key && e["type"] != "sending" && e["type"] != "control")
            .map(|e| e["type"].as_str().unwrap().to_string())
    };
    assert_eq!(outcome("gauge#1").as_deref(), Some("skipped"));
    assert_eq!(outcome("gauge#2").as_deref(), Some("sent"));
    assert_eq!(outcome("gauge#3").as_deref(), Some("skipped"));
}

#[test]
fn hints_say_what_to_do() {
    let dir = crate::common::tempdir();
    // A missing file is said as such.
    let missing = crate::common::injector_in(dir.path(), &["validate", "nope.yaml"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read nope.yaml: there is no such file"),
        "{}",
        missing.stderr
    );
    // An unknown @handle: sync or --online, and no example id that is somebody else's.
    write(
        dir.path(),
        "h.yaml",
        "name: H\ndefaults:\n  type: team\n  team_id: 1\n  channel: microblog\ninjects:\n  - id: a\n    at: 0s\n    persona: \"@tidewatch\"\n    body: b\n",
    );
    let handle = crate::common::injector_in(dir.path(), &["validate", "h.yaml"]);
    assert_eq!(handle.code, 1);
    assert!(
        handle.stderr.contains("injector sync")
            && handle.stderr.contains("--online")
            && !handle.stderr.contains("3-49786"),
        "{}",
        handle.stderr
    );
    // Shell completions.
    let bash = crate::common::injector_in(dir.path(), &["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("_injector()"), "{}", bash.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctl_takes_the_address_without_a_scheme() {
    let s = setup(&scenario(2, 3000));
    let dir = s.dir.path();
    let t0 = t0_in(30);
    let (mut child, control, token) =
        run_with_control(dir, &["run", "s.yaml", "--dry-run", "--start-at", &t0]).await;
    let bare = control.trim_start_matches("http://").trim_end_matches('/');
    let status = ctl(dir, bare, &token, &["--format", "json", "status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("\"occurrences\""),
        "{}",
        status.stdout
    );
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_runs_summary_counts_the_whole_run_as_the_report_does() {
    let s = setup(&scenario(6, 700));
    let dir = s.dir.path();
    let t0 = t0_in(1);
    let child = command(dir, &["run", "s.yaml", "--dry-run", "--start-at", &t0], &[])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2300)).await;
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGINT) };
    assert_eq!(
        child.wait_with_output().await.unwrap().status.code(),
        Some(130)
    );
    let resumed = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--resume",
            "--format",
            "json",
            "--late-max",
            "1h",
        ],
        &[],
    )
    .await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let summary: Value = serde_json::from_str(resumed.stdout.lines().last().unwrap()).unwrap();
    let report = injector_run(
        dir,
        &["report", "s.dry-run.journal.jsonl", "--format", "json"],
        &[],
    )
    .await;
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    for field in [
        "sent",
        "failed",
        "skipped",
        "uncertain",
        "possible_duplicates",
        "late",
        "pending",
    ] {
        assert_eq!(
            summary[field], report["totals"][field],
            "{field}: {summary} vs {report}"
        );
    }
    assert_eq!(summary["sent"], 6, "{summary}");
    // A dry run measures arrivals at its stand-in, not the gate's own lateness.
    assert!(summary["lateness_p99_ms"].is_null(), "{summary}");
    assert!(summary["arrival_p99_ms"].is_number(), "{summary}");
    // What this part did: the occurrences the first part had not sent.
    let part = &summary["this_part"];
    assert!(
        part["sent"].as_u64().unwrap() >= 1 && part["sent"].as_u64().unwrap() < 6,
        "{part}"
    );
}

/// `injector completions bash | head -2`: a pipe closed early ends the script quietly,
/// never in a panic.
#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            "\"$0\" completions bash | head -c 10 >/dev/null; exit ${PIPESTATUS[0]}",
        ])
        .arg(crate::common::bin())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// `ctl`'s usual slips: options after the action work as before it; no `--control` and
/// a run that is not there are named, each with the way forward.
#[tokio::test(flavor = "multi_thread")]
async fn ctl_options_go_anywhere_and_a_missing_run_is_named() {
    let dir = crate::common::tempdir();
    let d = dir.path();
    let token = [("INJECTOR_CONTROL_TOKEN", "a-control-token-for-tests")];
    let none = injector_run(d, &["ctl", "status"], &token).await;
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("ctl needs --control URL") && none.stderr.contains("hint: e.g."),
        "{}",
        none.stderr
    );
    // A port nothing listens on, given after the action.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let control = format!("127.0.0.1:{port}");
    let gone = injector_run(d, &["ctl", "hold", "--control", &control], &token).await;
    assert_eq!(gone.code, 2, "{}", gone.stderr);
    assert!(
        gone.stderr.contains("cannot reach the run at")
            && gone.stderr.contains("hint: is the run up, with --control?"),
        "{}",
        gone.stderr
    );
}
