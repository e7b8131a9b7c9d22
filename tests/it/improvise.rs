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
    // A branch, so that the run has expected actions an ad hoc inject is not part of.
    s.push_str("    expect: { id: e3, action: Blue answers, within: 5m }\n");
    s
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    crate::common::wait_until(what, Duration::from_secs(15), done).await;
}

/// The slips with an improvised inject: a negative or huge time, refused with why; one
/// sent for later by mistake is taken back by a skip before it goes; a mistyped key to
/// amend has a did-you-mean.
async fn slips(dir: &std::path::Path, control: &str, token: &str) {
    crate::common::write(dir, "oops.yaml", "id: oops\nbody: \"inject oops\"\n");
    for (flag, value, said) in [
        ("--in", "-5m", "`in` `-5m` is negative"),
        ("--at", "T+400d", "is more than a year"),
    ] {
        let r = ctl(
            dir,
            control,
            token,
            &["--yes", "send", "oops.yaml", flag, value],
        )
        .await;
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(said), "{said}: {}", r.stderr);
    }
    let later = ctl(
        dir,
        control,
        token,
        &["--yes", "send", "oops.yaml", "--in", "3s"],
    )
    .await;
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert_eq!(ctl(dir, control, token, &["skip", "oops"]).await.code, 0);
    let typo = ctl(
        dir,
        control,
        token,
        &["--yes", "amend", "oopz", "--in", "1s"],
    )
    .await;
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr.contains("no occurrence `oopz`") && typo.stderr.contains("did you mean `oops`"),
        "{}",
        typo.stderr
    );
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
    assert!(
        again.stderr.contains("press.yaml:1:5")
            && again
                .stderr
                .contains("`press-followup` is already an inject of the running exercise"),
        "{}",
        again.stderr
    );
    slips(dir, &control, &token).await;
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
    assert_eq!(adhoc.len(), 3, "{lines:?}");
    assert_eq!(adhoc[2]["id"], "adhoc-1");
    assert!(
        adhoc[2]["inject"].as_str().unwrap().starts_with("at: \"T+"),
        "{}",
        adhoc[2]["inject"]
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
    assert_eq!(count("oops"), 0, "skipped before it went");
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert!(
        status.stdout.contains("press-followup (ad hoc)")
            && status.stdout.contains("adhoc-1 (ad hoc)"),
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
    assert!(
        report.stdout.contains(
            "ad hoc inject press-followup \"Statement on Portmere?\" (from the command, by director)"
        ),
        "{}",
        report.stdout
    );
}

/// An occurrence not yet sent is amended (a field, its instant): shown old to new,
/// sent as amended, once; one that went is refused, naming when; an amendment survives
/// a crash and a resume.
#[tokio::test(flavor = "multi_thread")]
async fn an_amendment_changes_what_has_not_gone_even_across_a_crash() {
    let (s, server, mut child, control, token) = live(&scenario()).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(ctl(dir, &control, &token, &["fire", "i0"]).await.code, 0);
    wait_for("i0 went", || keys_sent(&server).contains("i0")).await;
    crate::common::write(dir, "more.yaml", "likes: 7\nin: 3s\n");
    let went = ctl(
        dir,
        &control,
        &token,
        &["--yes", "amend", "i0", "--file", "more.yaml"],
    )
    .await;
    assert_eq!(went.code, 1);
    assert!(
        went.stderr.contains("i0") && went.stderr.contains("went"),
        "{}",
        went.stderr
    );
    // Without a terminal: its changes old to new, and nothing changes.
    let asked = ctl(
        dir,
        &control,
        &token,
        &["amend", "i1", "--file", "more.yaml"],
    )
    .await;
    assert_eq!(asked.code, 1);
    assert!(
        asked
            .stderr
            .contains("`amend` amends i1: likes (none) -> 7; instant ")
            && asked.stderr.contains("(T+00:00:30) -> ")
            && asked.stderr.contains("\"likes\": 7"),
        "{}",
        asked.stderr
    );
    let done = ctl(
        dir,
        &control,
        &token,
        &["--yes", "amend", "i1", "--file", "more.yaml"],
    )
    .await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stdout.starts_with("i1 amended: it goes at "),
        "{}",
        done.stdout
    );
    wait_for("i1 went at its amended time", || {
        keys_sent(&server).contains("i1")
    })
    .await;
    let i1: Vec<_> = crate::run::sent(&server)
        .into_iter()
        .filter(|r| key_of(r) == "i1")
        .collect();
    assert_eq!(i1.len(), 1);
    assert_eq!(i1[0].body["likes"], 7);
    // Only its time: the occurrence keeps its expected action, whose deadline opens
    // when it goes.
    let sooner = ctl(
        dir,
        &control,
        &token,
        &["--yes", "amend", "i3", "--in", "2s"],
    )
    .await;
    assert_eq!(sooner.code, 0, "{}", sooner.stderr);
    wait_for("i3 went early", || keys_sent(&server).contains("i3")).await;
    wait_for("e3's deadline opened", || {
        journal(dir, "s.journal.jsonl")
            .iter()
            .any(|e| e["type"] == "due" && e["expectation"] == "e3")
    })
    .await;
    // Amended, then a crash before it goes: the resume sends the amended body.
    crate::common::write(dir, "nine.yaml", "likes: 9\n");
    let nine = ctl(
        dir,
        &control,
        &token,
        &["--yes", "amend", "i2", "--file", "nine.yaml"],
    )
    .await;
    assert_eq!(nine.code, 0, "{}", nine.stderr);
    let lines = journal(dir, "s.journal.jsonl");
    let amended: Vec<&serde_json::Value> =
        lines.iter().filter(|e| e["type"] == "amended").collect();
    assert_eq!(amended.len(), 3, "{lines:?}");
    assert_eq!(amended[1]["fields"], serde_json::json!(["at"]));
    assert_eq!(amended[2]["key"], "i2");
    assert_eq!(amended[2]["fields"], serde_json::json!(["likes"]));
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let (child, control, token) = steered(&s, &server, &["--resume"]).await;
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert!(
        status.stdout.contains("i2 (amended)") && status.stdout.contains("i1 (amended)"),
        "{}",
        status.stdout
    );
    assert_eq!(ctl(dir, &control, &token, &["fire", "i2"]).await.code, 0);
    wait_for("i2 went", || keys_sent(&server).contains("i2")).await;
    let i2 = crate::run::sent(&server)
        .into_iter()
        .find(|r| key_of(r) == "i2")
        .unwrap();
    assert_eq!(i2.body["likes"], 9);
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
    let report = crate::common::injector_in(dir, &["report", "s.journal.jsonl"]);
    assert!(
        report
            .stdout
            .lines()
            .any(|l| l.contains(" i1 ") && l.contains("amended by director (command): likes, at")),
        "{}",
        report.stdout
    );
}
