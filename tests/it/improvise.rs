//! Improvising during the run: an inject written on the spot (`ctl send`), checked as
//! `validate` checks a scenario, previewed with its exact body, journaled whole before
//! it goes, sent with the scenario's aliases resolved, once, even across a crash, and
//! reported as ad hoc, by whom.

use std::time::Duration;

use crate::run::{ctl, journal, key_of};
use crate::slips::{keys_sent, live, steered};

/// Four injects at 20 s, 30 s, 10 min and 20 min to team blue, with the aliases an
/// improvised inject uses.
fn scenario() -> String {
    let mut s = String::from(
        "name: Improvised\npersonas:\n  hm: \"3-49786\"\n  \"@news\": \"3-49792\"\nteams:\n  blue: 3437866\n  green: 3437880\nvars:\n  city: Portmere\ndefaults:\n  type: team\n  team_id: blue\n  persona: hm\n  channel: microblog\ninjects:\n",
    );
    for (id, at) in [("i0", "20s"), ("i1", "30s"), ("i2", "10m"), ("i3", "20m")] {
        s.push_str(&format!(
            "  - id: {id}\n    at: {at}\n    body: \"inject {id}\"\n"
        ));
    }
    s
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_improvised_inject_is_checked_previewed_sent_once_and_reported() {
    let (s, server, mut child, control, token) = live(&scenario()).await;
    let dir = s.dir.path();
    // Past T0 (a second away): "now" is a time of the exercise.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A mistake: its line and column in the file written, with a did-you-mean.
    crate::common::write(
        dir,
        "bad.yaml",
        "persona: \"@news\"\nchannel: mail\nteam_id: grean\nsubject: Statement?\nbody: \"inject bad\"\n",
    );
    let bad = ctl(dir, &control, &token, &["--yes", "send", "bad.yaml"]).await;
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("bad.yaml:3:10")
            && bad.stderr.contains("unknown team `grean`")
            && bad.stderr.contains("green"),
        "{}",
        bad.stderr
    );
    // A valid one: without a terminal to confirm on, its exact body is shown and
    // nothing goes.
    crate::common::write(
        dir,
        "press.yaml",
        "id: press-followup\npersona: \"@news\"\nchannel: mail\nteam_id: green\nto: press@portmere.example.org\nsubject: Statement on {{ city }}?\nbody: \"inject press-followup\"\n",
    );
    let asked = ctl(dir, &control, &token, &["send", "press.yaml"]).await;
    assert_eq!(asked.code, 1, "{}", asked.stderr);
    for said in [
        "`send` sends the ad hoc inject `press-followup` now",
        "press-followup \"Statement on Portmere?\": sent at once",
        "\"persona\": \"3-49792\"",
        "\"team_id\": 3437880",
        "needs a confirmation",
    ] {
        assert!(asked.stderr.contains(said), "{said}\n{}", asked.stderr);
    }
    assert!(!keys_sent(&server).contains("press-followup"));
    let sent = ctl(dir, &control, &token, &["--yes", "send", "press.yaml"]).await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    assert_eq!(sent.stdout.trim(), "press-followup sent");
    wait_for("press-followup reached the stand-in", || {
        keys_sent(&server).contains("press-followup")
    })
    .await;
    let got = crate::run::sent(&server)
        .into_iter()
        .find(|r| key_of(r) == "press-followup")
        .unwrap();
    assert_eq!(got.body["persona"], "3-49792");
    assert_eq!(got.body["team_id"], 3437880);
    assert_eq!(got.body["subject"], "Statement on Portmere?");
    // Its id once more is refused where it stands.
    let again = ctl(dir, &control, &token, &["--yes", "send", "press.yaml"]).await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("press.yaml:1:5"), "{}", again.stderr);
    // One for later, from stdin-like text with `in:`; killed after its journal line,
    // before it goes: the resume sends it, once.
    crate::common::write(dir, "later.yaml", "in: 4s\nbody: \"inject adhoc-1\"\n");
    let later = ctl(dir, &control, &token, &["--yes", "send", "later.yaml"]).await;
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert!(
        later.stdout.starts_with("adhoc-1 goes at "),
        "{}",
        later.stdout
    );
    let lines = journal(dir, "s.journal.jsonl");
    let adhoc: Vec<&serde_json::Value> = lines.iter().filter(|e| e["type"] == "adhoc").collect();
    assert_eq!(adhoc.len(), 2, "{lines:?}");
    assert_eq!(adhoc[1]["id"], "adhoc-1");
    assert!(
        adhoc[1]["inject"].as_str().unwrap().starts_with("at: \"T+"),
        "{}",
        adhoc[1]["inject"]
    );
    child.start_kill().unwrap();
    let _ = child.wait().await;
    assert!(!keys_sent(&server).contains("adhoc-1"));
    let (child, control, token) = steered(&s, &server, &["--resume"]).await;
    wait_for("adhoc-1 went after the resume", || {
        keys_sent(&server).contains("adhoc-1")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let count = |key: &str| {
        crate::run::sent(&server)
            .into_iter()
            .filter(|r| key_of(r) == key)
            .count()
    };
    assert_eq!(count("adhoc-1"), 1, "once");
    assert_eq!(count("press-followup"), 1, "never again");
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert!(
        status.stdout.contains("press-followup") && status.stdout.contains("adhoc-1"),
        "{}",
        status.stdout
    );
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
    let report = crate::common::injector_in(dir, &["report", "s.journal.jsonl"]);
    assert!(
        report.stdout.lines().any(|l| l.contains("press-followup")
            && l.contains("ad hoc, by director (command); on schedule")),
        "{}",
        report.stdout
    );
}
