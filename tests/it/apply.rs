//! A changed scenario applied to a running exercise (`ctl apply`), and ad hoc injects
//! that grow the run's branches (an expected action, a condition): previewed, journaled
//! whole, the run rebuilt from its journal in the same process; a crash right after the
//! journal line, then a resume, sends each occurrence once, as changed.

use std::time::Duration;

use crate::run::{ctl, journal, key_of};
use crate::slips::{keys_sent, live, steered};

/// Four injects at 20 s, 30 s, 10 min and 20 min to team blue; the last expects an
/// answer.
fn scenario() -> String {
    let mut s = String::from(
        "name: Applied\npersonas:\n  hm: \"3-49786\"\nteams:\n  blue: 3437866\ndefaults:\n  type: team\n  team_id: blue\n  persona: hm\n  channel: microblog\ninjects:\n",
    );
    for (id, at) in [("i0", "20s"), ("i1", "30s"), ("i2", "10m"), ("i3", "20m")] {
        s.push_str(&format!(
            "  - id: {id}\n    at: {at}\n    body: \"inject {id}\"\n"
        ));
    }
    s.push_str("    expect: { id: e3, action: Blue answers, within: 5m }\n");
    s
}

/// The scenario as the director changes it: i0 (already sent) gets likes, i2 moves to
/// 6 s with likes, i3 (and its expected action) is removed, i5 is added at 7 s.
fn changed() -> String {
    scenario()
        .replace(
            "at: 20s\n    body: \"inject i0\"\n",
            "at: 20s\n    body: \"inject i0\"\n    likes: 3\n",
        )
        .replace(
            "at: 10m\n    body: \"inject i2\"\n",
            "at: 6s\n    body: \"inject i2\"\n    likes: 5\n",
        )
        .replace(
            "  - id: i3\n    at: 20m\n    body: \"inject i3\"\n    expect: { id: e3, action: Blue answers, within: 5m }\n",
            "  - id: i5\n    at: 7s\n    body: \"inject i5\"\n",
        )
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    crate::common::wait_until(what, Duration::from_secs(20), done).await;
}

fn count(server: &injector::stand_in::StandIn, key: &str) -> usize {
    crate::run::sent(server)
        .into_iter()
        .filter(|r| key_of(r) == key)
        .count()
}

/// What `apply` refuses, saying why: the running scenario itself, a file that changes
/// only what went, an empty file.
async fn refusals(dir: &std::path::Path, control: &str, token: &str) {
    // The running scenario itself; one that changes only what went; an empty file.
    let same = ctl(dir, control, token, &["--yes", "apply", "s.yaml"]).await;
    assert_eq!(same.code, 1);
    assert!(
        same.stderr
            .contains("s.yaml is the exercise as it runs: nothing to apply"),
        "{}",
        same.stderr
    );
    crate::common::write(
        dir,
        "sent-only.yaml",
        &scenario().replace(
            "at: 20s\n    body: \"inject i0\"\n",
            "at: 20s\n    body: \"inject i0\"\n    likes: 3\n",
        ),
    );
    let went = ctl(dir, control, token, &["--yes", "apply", "sent-only.yaml"]).await;
    assert_eq!(went.code, 1);
    assert!(
        went.stderr.contains(
            "sent-only.yaml changes only what went, and that is left as it went: i0 (sent at "
        ),
        "{}",
        went.stderr
    );
    crate::common::write(dir, "empty.yaml", "\n");
    let empty = ctl(dir, control, token, &["--yes", "apply", "empty.yaml"]).await;
    assert_eq!(
        empty.code, 2,
        "a usage error, found before the run is asked"
    );
    assert!(
        empty
            .stderr
            .contains("empty.yaml is empty: `apply` takes a whole scenario"),
        "{}",
        empty.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_scenario_is_applied_to_what_has_not_gone_even_across_a_crash() {
    let (s, server, mut child, control, token) = live(&scenario()).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(ctl(dir, &control, &token, &["fire", "i0"]).await.code, 0);
    wait_for("i0 went", || keys_sent(&server).contains("i0")).await;
    // A mistake in the file: where it is, and nothing changes.
    crate::common::write(
        dir,
        "bad.yaml",
        &changed().replace(
            "body: \"inject i5\"\n",
            "body: \"inject i5\"\n    persona: nobody\n",
        ),
    );
    let bad = ctl(dir, &control, &token, &["--yes", "apply", "bad.yaml"]).await;
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("bad.yaml:26:14") && bad.stderr.contains("nothing was applied"),
        "{}",
        bad.stderr
    );
    refusals(dir, &control, &token).await;
    // `--dry`: what it would do, on stdout; nothing changes.
    crate::common::write(dir, "new.yaml", &changed());
    let dry = ctl(dir, &control, &token, &["apply", "new.yaml", "--dry"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    for said in [
        "`apply` applies new.yaml: 1 added, 1 moved and changed, 1 removed; 1 change to what went is left as it went (i0)",
        "i0 \"inject i0\": left: sent at ",
        "i2 \"inject i2\": moved and changed: ",
        "(T+00:10:00) -> ",
        "(T+00:00:06); likes",
        "i5 \"inject i5\": added: ",
        "i3 \"inject i3\": removed: ",
    ] {
        assert!(dry.stdout.contains(said), "{said}\n{}", dry.stdout);
    }
    let applied = |dir: &std::path::Path| {
        journal(dir, "s.journal.jsonl")
            .into_iter()
            .filter(|e| e["type"] == "applied")
            .collect::<Vec<_>>()
    };
    assert!(applied(dir).is_empty(), "a dry apply journals nothing");
    // Confirmed: journaled whole, then killed at once, before anything of it went.
    let done = ctl(dir, &control, &token, &["--yes", "apply", "new.yaml"]).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    child.start_kill().unwrap();
    let _ = child.wait().await;
    assert!(
        done.stdout
            .starts_with("applied new.yaml: 1 added, 1 moved and changed, 1 removed"),
        "{}",
        done.stdout
    );
    let lines = applied(dir);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["file"], "new.yaml");
    assert_eq!(lines[0]["text"], changed());
    let effects: Vec<(String, String)> = lines[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["effect"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (key, effect) in [
        ("i0", "left"),
        ("i2", "moved and changed"),
        ("i5", "added"),
        ("i3", "removed"),
    ] {
        assert!(
            effects.contains(&(key.to_string(), effect.to_string())),
            "{key} {effect}: {effects:?}"
        );
    }
    assert!(!keys_sent(&server).contains("i2"));
    // The resume, with the file the run began with: the exercise as applied.
    let (child, control, token) = steered(&s, &server, &["--resume"]).await;
    wait_for("i2 and i5 went after the resume", || {
        let k = keys_sent(&server);
        k.contains("i2") && k.contains("i5")
    })
    .await;
    let i2 = crate::run::sent(&server)
        .into_iter()
        .find(|r| key_of(r) == "i2")
        .unwrap();
    assert_eq!(i2.body["likes"], 5, "sent as changed");
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert!(
        !status.stdout.contains("i3") && !status.stdout.contains("e3"),
        "removed with its expected action: {}",
        status.stdout
    );
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    for key in ["i0", "i2", "i5"] {
        assert_eq!(count(&server, key), 1, "{key} once");
    }
    assert_eq!(count(&server, "i3"), 0);
    server.shutdown(Duration::from_secs(1)).await;
    let report = crate::common::injector_in(dir, &["report", "s.journal.jsonl"]);
    assert!(
        report.stdout.lines().any(|l| l.contains(" apply ")
            && l.contains("new.yaml: added i5; moved and changed i2; removed i3; left as it went: i0 (sent at ")),
        "{}",
        report.stdout
    );
    for said in [
        "moved and changed by an apply (director (command))",
        "added by an apply (director (command))",
    ] {
        assert!(report.stdout.contains(said), "{said}\n{}", report.stdout);
    }
    assert!(
        !report
            .stdout
            .lines()
            .any(|l| l.contains(" i3 ") || l.starts_with("e3 ")),
        "removed, with its expected action: {}",
        report.stdout
    );
}

/// An ad hoc inject that expects an answer, and an ad hoc contingency on it: the
/// branches grow while the run goes on; a crash and a resume keep them; judged missed,
/// the contingency goes, once.
#[tokio::test(flavor = "multi_thread")]
async fn ad_hoc_branches_grow_the_run_and_survive_a_crash() {
    let (s, server, mut child, control, token) = live(&scenario()).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    crate::common::write(
        dir,
        "q.yaml",
        "id: q\nbody: \"inject q\"\nexpect: { id: sitrep, action: Blue sends a sitrep, within: 10m }\n",
    );
    crate::common::write(
        dir,
        "chase.yaml",
        "id: chase\nbody: \"inject chase\"\nwhen: { missed: sitrep }\nafter: 2s\n",
    );
    let at = ctl(
        dir,
        &control,
        &token,
        &["--yes", "send", "chase.yaml", "--in", "1m"],
    )
    .await;
    assert_eq!(at.code, 1);
    assert!(
        at.stderr.contains("chase.yaml:3:1") && at.stderr.contains("goes when its condition holds"),
        "{}",
        at.stderr
    );
    // The slip of naming the inject where its expected action is meant.
    crate::common::write(
        dir,
        "wrong.yaml",
        "id: wrong\nbody: \"inject wrong\"\nwhen: { missed: i3 }\n",
    );
    let wrong = ctl(dir, &control, &token, &["--yes", "send", "wrong.yaml"]).await;
    assert_eq!(wrong.code, 1);
    assert!(
        wrong
            .stderr
            .contains("`i3` is an inject; its expected action is `e3`: write `missed: e3`"),
        "{}",
        wrong.stderr
    );
    // Its preview says what it expects; no line it did not write is shown.
    let asked = ctl(dir, &control, &token, &["send", "q.yaml"]).await;
    assert!(
        asked
            .stderr
            .contains("it expects `sitrep`: Blue sends a sitrep, 10m after q is sent"),
        "{}",
        asked.stderr
    );
    crate::common::write(
        dir,
        "unit.yaml",
        "id: unit\nbody: \"inject unit\"\nexpect: { id: u, action: x, within: 10 }\n",
    );
    let unit = ctl(dir, &control, &token, &["--yes", "send", "unit.yaml"]).await;
    assert_eq!(unit.code, 1);
    assert!(
        unit.stderr.contains("unit.yaml:3") && !unit.stderr.contains("at: \"T+"),
        "{}",
        unit.stderr
    );
    let q = ctl(dir, &control, &token, &["--yes", "send", "q.yaml"]).await;
    assert_eq!(q.code, 0, "{}", q.stderr);
    let asked = ctl(dir, &control, &token, &["send", "chase.yaml"]).await;
    assert!(
        asked.stderr.contains(
            "chase \"inject chase\": armed: sent 2 s after its condition holds (missed: sitrep)"
        ),
        "{}",
        asked.stderr
    );
    let chase = ctl(dir, &control, &token, &["--yes", "send", "chase.yaml"]).await;
    assert_eq!(chase.code, 0, "{}", chase.stderr);
    assert_eq!(
        chase.stdout.trim(),
        "chase armed: it is sent 2 s after its condition holds (missed: sitrep)"
    );
    wait_for("q went", || keys_sent(&server).contains("q")).await;
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert!(
        status
            .stdout
            .contains("expect sitrep: Blue sends a sitrep — open")
            && status
                .stdout
                .contains("contingency chase when missed: sitrep: armed"),
        "{}",
        status.stdout
    );
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let (child, control, token) = steered(&s, &server, &["--resume"]).await;
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert!(
        status
            .stdout
            .contains("expect sitrep: Blue sends a sitrep — open")
            && status
                .stdout
                .contains("contingency chase when missed: sitrep: armed"),
        "{}",
        status.stdout
    );
    let missed = ctl(dir, &control, &token, &["--yes", "missed", "sitrep"]).await;
    assert_eq!(missed.code, 0, "{}", missed.stderr);
    wait_for("chase went", || keys_sent(&server).contains("chase")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert!(
        status.stdout.contains("chase (ad hoc)") && status.stdout.contains("q (ad hoc)"),
        "{}",
        status.stdout
    );
    assert_eq!(count(&server, "q"), 1);
    assert_eq!(count(&server, "chase"), 1);
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
    let report = crate::common::injector_in(dir, &["report", "s.journal.jsonl"]);
    assert!(
        report.stdout.lines().any(|l| l.starts_with("sitrep ")
            && l.contains("Blue sends a sitrep")
            && l.contains("missed")),
        "{}",
        report.stdout
    );
    assert!(
        report.stdout.lines().any(|l| l.contains(" chase ")
            && l.contains("ad hoc, by director (command)")
            && l.contains("contingency (when missed: sitrep)")),
        "{}",
        report.stdout
    );
}

/// The director's slip: the wrong file applied. `undo` takes it back while nothing it
/// changed has gone out (everything as it was, to the key); once something it changed
/// went, the undo is refused and says what went.
#[tokio::test(flavor = "multi_thread")]
async fn an_apply_is_undone_while_nothing_it_changed_has_gone() {
    let (s, server, child, control, token) = live(&scenario()).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    crate::common::write(dir, "new.yaml", &changed());
    let pending = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .filter(|l| l.ends_with("pending"))
            .filter_map(|l| l.split_whitespace().nth(2).map(String::from))
            .collect()
    };
    let before = pending(&ctl(dir, &control, &token, &["status"]).await.stdout);
    assert_eq!(before, ["i0", "i1", "i2", "i3"]);
    let done = ctl(dir, &control, &token, &["--yes", "apply", "new.yaml"]).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let asked = ctl(dir, &control, &token, &["undo"]).await;
    assert_eq!(asked.code, 1);
    assert!(
        asked
            .stderr
            .contains("`undo` undoes the apply of new.yaml by director at ")
            && asked.stderr.contains("i5 \"inject i5\": removed: ")
            && asked.stderr.contains("i3 \"inject i3\": added: "),
        "{}",
        asked.stderr
    );
    let undone = ctl(dir, &control, &token, &["--yes", "undo"]).await;
    assert_eq!(undone.code, 0, "{}", undone.stderr);
    assert!(
        undone
            .stdout
            .starts_with("undone: the apply of new.yaml by director at "),
        "{}",
        undone.stdout
    );
    let after = pending(&ctl(dir, &control, &token, &["status"]).await.stdout);
    assert_eq!(after, before, "as it was");
    // Applied again; once i2 (moved to 6 s by it) went, the undo is refused.
    let again = ctl(dir, &control, &token, &["--yes", "apply", "new.yaml"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    wait_for("i2 went", || keys_sent(&server).contains("i2")).await;
    let refused = ctl(dir, &control, &token, &["--yes", "undo"]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("cannot undo the apply of new.yaml")
            && refused
                .stderr
                .contains("1 occurrence it changed went out (i2 at "),
        "{}",
        refused.stderr
    );
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    assert_eq!(count(&server, "i2"), 1);
    server.shutdown(Duration::from_secs(1)).await;
    let report = crate::common::injector_in(dir, &["report", "s.journal.jsonl"]);
    // Removed, put back by the undo, removed again: not a row of the report.
    assert!(
        !report
            .stdout
            .lines()
            .any(|l| l.starts_with("T+") && l.contains(" i3 ")),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .lines()
            .any(|l| l.contains(" undo ")
                && l.contains("taken back, s.yaml as before it: added i3;")),
        "{}",
        report.stdout
    );
}
