//! Truth under faults: what a journal knows when the process stops in the middle of a
//! send's retries.

use std::time::Duration;

use crate::run::{TOKEN, command, injector_run, journal, key_of, scenario, sent, setup};

/// Killed (kill -9) while waiting to retry a message the server answered 503: the 503
/// proved it did not arrive, so the resume sends it, once, and nothing is uncertain.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_while_waiting_to_retry_a_503_sends_it_once_on_resume() {
    let mut opts = injector::stand_in::Options::local(TOKEN);
    opts.faults.unavailable_first = 1;
    let server = injector::stand_in::StandIn::start(opts).await.unwrap();
    let s = setup(&scenario(1, 0));
    let dir = s.dir.path();
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap().to_string();
    let t0 = crate::run::t0_in(1);
    let mut child = command(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            &tf,
            "--start-at",
            &t0,
        ],
        &[],
    )
    .spawn()
    .unwrap();
    // The 503's line is on record before the wait for the next attempt: kill then.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let path = dir.join("s.journal.jsonl");
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("\"type\":\"attempt\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt line:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let lines = journal(dir, "s.journal.jsonl");
    let attempt = lines.iter().find(|l| l["type"] == "attempt").unwrap();
    assert_eq!(attempt["status"], 503);
    assert_eq!(attempt["reached"], false);
    assert!(
        !lines
            .iter()
            .any(|l| l["type"] == "sent" || l["type"] == "failed"),
        "killed before an outcome"
    );
    assert_eq!(sent(&server).len(), 1, "one attempt, refused");
    // The report before the resume: pending, not uncertain.
    let report = injector_run(dir, &["report", "s.journal.jsonl", "--format", "json"], &[]).await;
    let doc: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(doc["totals"]["uncertain"], 0, "{}", report.stdout);
    assert_eq!(doc["totals"]["pending"], 1, "{}", report.stdout);
    let resumed = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--resume",
            "--base-url",
            &url,
            "--token-file",
            &tf,
        ],
        &[],
    )
    .await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed
            .stdout
            .contains("1 sent, 0 failed, 0 skipped, 0 uncertain"),
        "{}",
        resumed.stdout
    );
    let accepted: Vec<String> = sent(&server)
        .iter()
        .filter(|r| r.status == Some(200))
        .map(key_of)
        .collect();
    assert_eq!(accepted, ["i0"], "sent once");
    server.shutdown(Duration::from_secs(1)).await;
}

/// A journal written before this version (no attempt lines, no undos) still resumes
/// and reports.
#[tokio::test(flavor = "multi_thread")]
async fn an_old_journal_still_resumes_and_reports() {
    let dir = crate::common::tempdir();
    let d = dir.path();
    std::fs::create_dir_all(d.join("scenarios")).unwrap();
    std::fs::copy(
        crate::common::scenario("quickstart.yaml"),
        d.join("scenarios/quickstart.yaml"),
    )
    .unwrap();
    std::fs::copy(
        crate::common::fixture("journals/crashed.jsonl"),
        d.join("j.jsonl"),
    )
    .unwrap();
    let resumed = injector_run(
        d,
        &[
            "run",
            "scenarios/quickstart.yaml",
            "--dry-run",
            "--resume",
            "--journal",
            "j.jsonl",
        ],
        &[],
    )
    .await;
    assert_eq!(resumed.code, 1, "one was too late: {}", resumed.stderr);
    assert!(
        resumed
            .stdout
            .contains("1 sent, 0 failed, 1 skipped, 1 uncertain"),
        "{}",
        resumed.stdout
    );
    let report = injector_run(d, &["report", "j.jsonl"], &[]).await;
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(report.stdout.contains("storm-warning"), "{}", report.stdout);
}
