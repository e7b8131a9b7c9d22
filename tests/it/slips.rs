//! The slips people make on exercise day, against a real run through `ctl`: a shift in
//! the wrong unit, a whole inject skipped, both branches of one judgment fired, an end
//! before the hot wash, a resume without its controls. Each shows its consequences
//! first, needs a confirmation, and can be undone while nothing it caused has gone out.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::run::{
    Ran, command, control_actions, ctl, journal, key_of, run_with_control, setup, stand_in, t0_in,
};

/// A scenario named `name` whose injects (YAML list items) go to team blue.
fn scenario_of(name: &str, injects: &str) -> String {
    format!(
        "name: {name}\nteams:\n  blue: 3437866\ndefaults:\n  type: team\n  team_id: blue\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n{injects}"
    )
}

/// `warn` at T0 expecting `e0` within 10 min, `good` when it is met and `bad` when it is
/// missed (each `after` late), `last` at 20 min.
fn branches(name: &str, after: &str) -> String {
    scenario_of(
        name,
        &format!(
            "  - id: warn\n    at: 0s\n    body: \"inject warn\"\n    expect: {{ id: e0, action: Blue answers, within: 10m }}\n  - id: good\n    when: {{ met: e0 }}\n    after: {after}\n    body: \"inject good\"\n  - id: bad\n    when: {{ missed: e0 }}\n    after: {after}\n    body: \"inject bad\"\n  - id: last\n    at: 20m\n    body: \"inject last\"\n"
        ),
    )
}

/// Four injects at 20 s, 30 s, 10 min and 20 min (scenario time, speed 1).
fn four() -> String {
    let mut s = scenario_of("Slips", "");
    for (id, at) in [("i0", "20s"), ("i1", "30s"), ("i2", "10m"), ("i3", "20m")] {
        s.push_str(&format!(
            "  - id: {id}\n    at: {at}\n    body: \"inject {id}\"\n"
        ));
    }
    s
}

/// A live run of `yaml` against a fresh stand-in, with control, T0 a second away,
/// waiting for its director at the end.
pub(crate) async fn live(yaml: &str) -> Live {
    live_with(yaml, injector::stand_in::Faults::default()).await
}

/// The setup, the stand-in, the run, its control URL and token.
pub(crate) type Live = (
    crate::run::Setup,
    injector::stand_in::StandIn,
    tokio::process::Child,
    String,
    String,
);

/// [`live`] against a stand-in with these faults.
pub(crate) async fn live_with(yaml: &str, faults: injector::stand_in::Faults) -> Live {
    let server = stand_in(faults).await;
    let s = setup(yaml);
    let t0 = t0_in(1);
    let (child, control, token) = steered(&s, &server, &["--start-at", &t0]).await;
    (s, server, child, control, token)
}

/// `run s.yaml` against `server` with `more` flags, with control, waiting for its
/// director at the end: the child, its control URL and token.
pub(crate) async fn steered(
    s: &crate::run::Setup,
    server: &injector::stand_in::StandIn,
    more: &[&str],
) -> (tokio::process::Child, String, String) {
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap().to_string();
    let mut args = vec!["run", "s.yaml", "--base-url", &url, "--token-file", &tf];
    args.extend_from_slice(more);
    args.push("--wait-for-end");
    run_with_control(s.dir.path(), &args).await
}

pub(crate) fn keys_sent(server: &injector::stand_in::StandIn) -> BTreeSet<String> {
    crate::run::sent(server).iter().map(key_of).collect()
}

/// `ctl status --format json`: each pending occurrence's effective instant, by key.
async fn effective(dir: &Path, control: &str, token: &str) -> Vec<(String, String)> {
    let status = ctl(dir, control, token, &["--format", "json", "status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    let doc: Value = serde_json::from_str(&status.stdout).unwrap();
    doc["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "pending")
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_string(),
                o["effective_at"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[track_caller]
fn refused(r: &Ran, words: &[&str]) {
    assert_eq!(
        r.code, 1,
        "refused\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    for w in words {
        assert!(r.stderr.contains(w), "{w:?} in:\n{}", r.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shift_of_minus_2h_at_t0_is_refused_and_late_fire_sends_exactly_what_its_preview_listed()
{
    let (s, server, child, control, token) = live(&four()).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The slip: `-2h` meant two minutes. Refused, naming the largest shift that keeps
    // every pending occurrence in the future, and the explicit ways on.
    let slip = ctl(dir, &control, &token, &["shift", "-2h"]).await;
    refused(
        &slip,
        &[
            "would move 4 pending occurrences into the past",
            "the largest shift earlier that keeps every one in the future is -",
            "--late fire",
            "--late skip",
        ],
    );
    assert!(
        !slip.stderr.contains(" ms"),
        "no raw milliseconds: {}",
        slip.stderr
    );
    // `--yes` confirms what it shows; it does not choose for the late ones.
    refused(
        &ctl(dir, &control, &token, &["--yes", "shift", "-2h"]).await,
        &["into the past"],
    );
    // A harmless shift still shows what it moves, and without a terminal to ask on
    // and without --yes it is not carried out.
    refused(
        &ctl(dir, &control, &token, &["shift", "5m"]).await,
        &[
            "moves 4 pending occurrences 5m later",
            "needs a confirmation",
            "--yes",
        ],
    );
    assert!(
        control_actions(dir, "s.journal.jsonl").is_empty(),
        "nothing journaled"
    );
    assert!(
        keys_sent(&server).is_empty(),
        "nothing sent, nothing skipped"
    );
    let pending = effective(dir, &control, &token).await;
    assert_eq!(
        pending.len(),
        4,
        "every occurrence still pending: {pending:?}"
    );

    // The preview of a shift that sends the late ones lists exactly what goes at once.
    let preview = ctl(
        dir,
        &control,
        &token,
        &[
            "--preview",
            "--format",
            "json",
            "shift",
            "-1m",
            "--late",
            "fire",
        ],
    )
    .await;
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    let p: Value = serde_json::from_str(&preview.stdout).unwrap();
    let listed = |effect: &str| -> BTreeSet<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["effect"] == effect)
            .map(|i| i["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        listed("sent at once"),
        BTreeSet::from(["i0".into(), "i1".into()])
    );
    assert_eq!(listed("moves"), BTreeSet::from(["i2".into(), "i3".into()]));
    assert!(
        p["text"]
            .as_str()
            .unwrap()
            .starts_with("moves 4 pending occurrences 1m earlier: 2 would be due in the past"),
        "{p}"
    );
    let done = ctl(
        dir,
        &control,
        &token,
        &["--yes", "shift", "-1m", "--late", "fire"],
    )
    .await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stdout.contains("moves 1m earlier")
            && done
                .stdout
                .contains("2 occurrences shifted into the past sent at once"),
        "{}",
        done.stdout
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(keys_sent(&server), listed("sent at once"));
    assert_eq!(control_actions(dir, "s.journal.jsonl"), ["shift command"]);
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "i2 and i3 never went");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_of_a_shift_restores_every_instant_to_the_millisecond_and_refuses_once_something_went()
{
    let (s, server, child, control, token) = live(&four()).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    refused(
        &ctl(dir, &control, &token, &["undo"]).await,
        &["nothing to undo"],
    );
    let before = effective(dir, &control, &token).await;
    let shifted = ctl(dir, &control, &token, &["--yes", "shift", "5m"]).await;
    assert_eq!(shifted.code, 0, "{}", shifted.stderr);
    let moved = effective(dir, &control, &token).await;
    for ((k, b), (k2, m)) in before.iter().zip(&moved) {
        assert_eq!(k, k2);
        let b = chrono::DateTime::parse_from_rfc3339(b).unwrap();
        let m = chrono::DateTime::parse_from_rfc3339(m).unwrap();
        assert_eq!(m - b, chrono::TimeDelta::minutes(5), "{k}");
    }
    // An undo moves everything back: it shows what and asks first.
    refused(
        &ctl(dir, &control, &token, &["undo"]).await,
        &[
            "undoes the shift of 5m later by director",
            "move 5m earlier",
        ],
    );
    let undone = ctl(dir, &control, &token, &["--yes", "undo"]).await;
    assert_eq!(undone.code, 0, "{}", undone.stderr);
    assert!(
        undone
            .stdout
            .starts_with("undone: the shift of 5m later by director at "),
        "{}",
        undone.stdout
    );
    assert_eq!(
        effective(dir, &control, &token).await,
        before,
        "to the millisecond"
    );
    // A skip of one occurrence is undone without a question.
    assert_eq!(ctl(dir, &control, &token, &["skip", "i2"]).await.code, 0);
    let undo_skip = ctl(dir, &control, &token, &["undo"]).await;
    assert_eq!(undo_skip.code, 0, "{}", undo_skip.stderr);
    assert!(
        undo_skip.stdout.contains("the skip of i2"),
        "{}",
        undo_skip.stdout
    );
    let status = ctl(dir, &control, &token, &["--format", "json", "status"]).await;
    assert!(
        !status.stdout.contains("will skip"),
        "i2 fires again: {}",
        status.stdout
    );
    // A shift that brings i0 closer: once i0 went, the shift can no longer be undone.
    assert_eq!(
        ctl(dir, &control, &token, &["--yes", "shift", "-15s"])
            .await
            .code,
        0
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !keys_sent(&server).contains("i0") && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    refused(
        &ctl(dir, &control, &token, &["--yes", "undo"]).await,
        &[
            "cannot undo the shift of 15 s earlier",
            "i0 \"inject i0\"",
            "went out",
        ],
    );
    assert_eq!(
        control_actions(dir, "s.journal.jsonl"),
        [
            "shift command",
            "undo command",
            "skip command",
            "undo command",
            "shift command"
        ]
    );
    // A resume replays the undos: nothing of the undone shift remains.
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await.unwrap();
    let text = std::fs::read_to_string(dir.join("s.journal.jsonl")).unwrap();
    let replay = injector::journal::Replay::parse(&text);
    let state = injector::engine::ClockState::replay(replay.events());
    assert_eq!(state.shift, chrono::TimeDelta::seconds(-15));
    assert!(state.skipped.is_empty());
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn firing_the_missed_branch_after_the_met_branch_is_refused_unless_forced() {
    let yaml = &branches("Branches", "0s");
    let (s, server, child, control, token) = live(yaml).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    // Firing a branch by hand judges its expectation and disarms the other: asked first.
    refused(
        &ctl(dir, &control, &token, &["fire", "good"]).await,
        &[
            "before its condition `met: e0` holds",
            "this judges e0 met",
            "disarms bad",
            "needs a confirmation",
        ],
    );
    let fired = ctl(dir, &control, &token, &["--yes", "fire", "good"]).await;
    assert_eq!(fired.code, 0, "{}", fired.stderr);
    assert!(
        fired
            .stdout
            .starts_with("good fired (and judged e0 met, so its other branch will not fire)"),
        "{}",
        fired.stdout
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(keys_sent(&server).contains("good"));
    let other = ctl(dir, &control, &token, &["--yes", "fire", "bad"]).await;
    refused(
        &other,
        &[
            "bad will not fire",
            "can no longer hold",
            "good \"inject good\" went at",
            "--force",
        ],
    );
    assert!(!keys_sent(&server).contains("bad"));
    let forced = ctl(dir, &control, &token, &["--yes", "fire", "bad", "--force"]).await;
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(keys_sent(&server).contains("bad"));
    let judged: Vec<Value> = journal(dir, "s.journal.jsonl")
        .into_iter()
        .filter(|e| e["type"] == "control" && e["action"] == "met")
        .collect();
    assert_eq!(judged.len(), 1);
    assert_eq!(judged[0]["note"], "judged by firing good by hand");
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_with_control_stays_open_after_its_last_send_until_a_director_ends_it() {
    let s = setup(&crate::run::scenario(2, 200));
    let dir = s.dir.path();
    let t0 = t0_in(1);
    let (mut child, control, token) = run_with_control(
        dir,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--start-at",
            &t0,
            "--wait-for-end",
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert!(child.try_wait().unwrap().is_none(), "still open");
    let status = ctl(dir, &control, &token, &["status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status
            .stdout
            .contains("nothing left to send: end the exercise when the hot wash is done"),
        "{}",
        status.stdout
    );
    // The table names each inject in people's words: scenario time, channel, subject.
    let row = status.stdout.lines().find(|l| l.contains("i1")).unwrap();
    assert!(
        row.contains("T+00:00:00.200") && row.contains("microblog") && row.contains("sent"),
        "{row}"
    );
    // Notes are still taken; the end shows what it does and asks first.
    assert_eq!(
        ctl(dir, &control, &token, &["note", "hot wash: blue was quick"])
            .await
            .code,
        0
    );
    refused(
        &ctl(dir, &control, &token, &["end"]).await,
        &["ends the exercise: nothing is left to send or judge"],
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "an unconfirmed end ends nothing"
    );
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "everything was sent");
    let entries = journal(dir, "s.dry-run.journal.jsonl");
    let end = entries.last().unwrap();
    assert_eq!(end["type"], "end");
    assert_eq!(end["reason"], "completed", "nothing was left: {end}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_printed_resume_command_run_as_printed_can_be_steered_and_a_held_run_needs_control() {
    let s = setup(&crate::run::scenario(3, 60_000));
    let dir = s.dir.path();
    crate::common::write(dir, "ctl.token", "a-control-token-for-tests\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("http://{addr}/");
    let token = "a-control-token-for-tests";
    let t0 = t0_in(1);
    let child = command(
        dir,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--start-at",
            &t0,
            "--control",
            &addr,
            "--control-token-file",
            "ctl.token",
        ],
        &[],
    )
    .spawn()
    .unwrap();
    // After i0 went at T0.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut held = 1;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        held = ctl(dir, &url, token, &["hold"]).await.code;
        if held == 0 {
            break;
        }
    }
    assert_eq!(held, 0, "held");
    // SAFETY: kill(2) on the child's pid.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGINT) };
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130));
    // A token of one's own is never printed.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(token) && stderr.contains("TOKEN: the one in ctl.token"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed = stdout
        .lines()
        .find_map(|l| l.split("to resume: ").nth(1))
        .unwrap_or_else(|| panic!("a resume command: {stdout}"))
        .to_string();
    assert!(
        printed.contains(&format!("--control {addr}"))
            && printed.contains("--control-token-file ctl.token"),
        "{printed}"
    );
    // Held, without a control endpoint: nothing could release it. Refused, journal
    // untouched.
    let before = std::fs::read(dir.join("s.dry-run.journal.jsonl")).unwrap();
    let bare =
        crate::run::injector_run(dir, &["run", "s.yaml", "--dry-run", "--resume"], &[]).await;
    assert_eq!(bare.code, 2, "{}", bare.stderr);
    assert!(
        bare.stderr.contains("held") && bare.stderr.contains("--control"),
        "{}",
        bare.stderr
    );
    assert_eq!(
        std::fs::read(dir.join("s.dry-run.journal.jsonl")).unwrap(),
        before
    );
    // As printed: the same controls, so the same ctl steers it.
    let words: Vec<&str> = printed.split_whitespace().skip(1).collect();
    let resumed = command(dir, &words, &[]).spawn().unwrap();
    let mut status = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = ctl(dir, &url, token, &["--format", "json", "status"]).await;
        if r.code == 0 {
            status = r.stdout;
            break;
        }
    }
    let doc: Value = serde_json::from_str(&status).unwrap_or_else(|_| panic!("{status}"));
    assert_eq!(doc["held"], true, "it restarted held");
    // The whole exercise, what went before the stop included, and the restart itself.
    let rows = doc["occurrences"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{doc}");
    assert_eq!(rows[0]["key"], "i0");
    assert_eq!(rows[0]["status"], "sent", "sent before the stop: {doc}");
    assert_eq!(doc["restarts"].as_array().unwrap().len(), 1, "{doc}");
    assert!(
        doc["restarts"][0]["downtime"]
            .as_str()
            .unwrap()
            .ends_with(" s")
    );
    assert_eq!(ctl(dir, &url, token, &["resume"]).await.code, 0);
    assert_eq!(ctl(dir, &url, token, &["--yes", "end"]).await.code, 0);
    let out = resumed.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "ended with two never sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn skipping_a_whole_inject_asks_first_and_a_repeated_skip_says_who_did_it() {
    let yaml = &scenario_of(
        "Gauges",
        "  - id: first\n    at: 0s\n    body: \"inject first\"\n  - id: gauge\n    every: 5m\n    from: 5m\n    count: 4\n    body: \"inject gauge\"\n",
    );
    let (s, server, child, control, token) = live(yaml).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    refused(
        &ctl(dir, &control, &token, &["skip", "gauge"]).await,
        &[
            "skips 4 pending occurrences of gauge",
            "gauge#1 \"inject gauge\" at",
            "needs a confirmation",
        ],
    );
    assert_eq!(
        ctl(dir, &control, &token, &["--yes", "skip", "gauge"])
            .await
            .code,
        0
    );
    refused(
        &ctl(dir, &control, &token, &["skip", "gauge"]).await,
        &["`gauge` is already skipped (by director at"],
    );
    refused(
        &ctl(dir, &control, &token, &["skip", "gauge#2"]).await,
        &["`gauge#2` is already skipped: `gauge` was skipped by director at"],
    );
    refused(
        &ctl(dir, &control, &token, &["unskip", "gauge#9"]).await,
        &["no occurrence `gauge#9`"],
    );
    refused(
        &ctl(dir, &control, &token, &["retry", "guage"]).await,
        &["no occurrence `guage`", "gauge"],
    );
    let unit = ctl(dir, &control, &token, &["shift", "2"]).await;
    assert_eq!(unit.code, 2, "a usage error: {}", unit.stderr);
    assert!(
        unit.stderr
            .contains("`2` has no unit: write 2m for 2 minutes"),
        "{}",
        unit.stderr
    );
    // What went says when; a typo gets a suggestion.
    refused(
        &ctl(dir, &control, &token, &["fire", "first"]).await,
        &["first \"inject first\" already went at", "(T+00:00:00)"],
    );
    refused(
        &ctl(dir, &control, &token, &["fire", "gauge#9"]).await,
        &["no occurrence `gauge#9`"],
    );
    refused(
        &ctl(dir, &control, &token, &["skip", "guage"]).await,
        &["no occurrence `guage`", "gauge"],
    );
    let skips = control_actions(dir, "s.journal.jsonl");
    assert_eq!(skips, ["skip command"], "journaled once");
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn controllers_remove_and_rotate_change_one_name_and_keep_the_rest() {
    let dir = crate::common::tempdir();
    let d = dir.path();
    let add = |name: &str, role: &str| {
        let r = crate::common::injector_in(
            d,
            &[
                "controllers",
                "add",
                name,
                "--role",
                role,
                "--file",
                "team.yaml",
            ],
        );
        r.code(0);
        r.stdout.trim().to_string()
    };
    add("Dana", "director");
    add("Cory", "controller");
    let olive = add("Olive", "observer");
    let file = |_: ()| std::fs::read_to_string(d.join("team.yaml")).unwrap();
    let before = file(());
    let rotated = crate::common::injector_in(
        d,
        &["controllers", "rotate", "Olive", "--file", "team.yaml"],
    );
    rotated.code(0);
    let new_token = rotated.stdout.trim().to_string();
    assert_eq!(new_token.len(), 32);
    assert_ne!(new_token, olive);
    let after = file(());
    let sha = |t: &str| {
        use sha2::Digest;
        sha2::Sha256::digest(t.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(after.contains(&sha(&new_token)) && !after.contains(&sha(&olive)));
    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "one line changed"
    );
    let removed =
        crate::common::injector_in(d, &["controllers", "remove", "Cory", "--file", "team.yaml"]);
    removed.code(0);
    let list = crate::common::injector_in(d, &["controllers", "list", "--file", "team.yaml"]);
    list.code(0);
    assert_eq!(list.stdout, "Dana\tdirector\nOlive\tobserver\n");
    let typo = crate::common::injector_in(
        d,
        &["controllers", "remove", "Olvie", "--file", "team.yaml"],
    );
    typo.code(2);
    assert!(
        typo.stderr.contains("no one named `Olvie`")
            && typo.stderr.contains("did you mean `Olive`?"),
        "{}",
        typo.stderr
    );
    let last =
        crate::common::injector_in(d, &["controllers", "remove", "Dana", "--file", "team.yaml"]);
    last.code(0);
    assert!(
        last.stderr
            .contains("no one in team.yaml is a director now"),
        "{}",
        last.stderr
    );
}

#[test]
fn rehearsals_archived_within_one_second_keep_distinct_names() {
    let s = setup(&crate::run::scenario(2, 0));
    let d = s.dir.path();
    for _ in 0..3 {
        crate::common::injector_in(d, &["run", "s.yaml", "--dry-run", "--speed", "max"]).code(0);
    }
    let mut archived: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("s.dry-run.journal.") && n != "s.dry-run.journal.jsonl")
        .collect();
    archived.sort();
    assert_eq!(
        archived.len(),
        2,
        "two earlier rehearsals kept: {archived:?}"
    );
    for name in &archived {
        let text = std::fs::read_to_string(d.join(name)).unwrap();
        assert_eq!(
            text.matches("\"type\":\"run\"").count(),
            1,
            "{name}: one rehearsal each"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_judgment_is_corrected_or_undone_while_its_branch_sent_nothing_and_a_resume_agrees() {
    let yaml = &branches("Judged", "5m");
    let (s, server, child, control, token) = live(yaml).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    // Its branch fires in 5 minutes: no question asked.
    let met = ctl(dir, &control, &token, &["met", "e0"]).await;
    assert_eq!(met.code, 0, "{}", met.stderr);
    refused(
        &ctl(dir, &control, &token, &["missed", "e0"]).await,
        &["first judgment stands", "--correct"],
    );
    let state = |doc: &Value| -> (Value, Value, Value) {
        (
            doc["expectations"][0]["outcome"].clone(),
            doc["contingencies"][0]["state"].clone(),
            doc["contingencies"][1]["state"].clone(),
        )
    };
    let status = |dir: &Path| {
        let (control, token) = (control.clone(), token.clone());
        let dir = dir.to_path_buf();
        async move {
            let r = ctl(&dir, &control, &token, &["--format", "json", "status"]).await;
            serde_json::from_str::<Value>(&r.stdout).unwrap()
        }
    };
    assert_eq!(
        state(&status(dir).await),
        ("met".into(), "triggered".into(), "not triggered".into())
    );
    // The correction shows what it takes back and what follows, and asks.
    refused(
        &ctl(dir, &control, &token, &["missed", "e0", "--correct"]).await,
        &[
            "corrects the judgment of e0 (met, by director at",
            "to missed",
            "good will not fire",
            "bad is armed again",
            "bad fires",
        ],
    );
    let corrected = ctl(
        dir,
        &control,
        &token,
        &["--yes", "missed", "e0", "--correct"],
    )
    .await;
    assert_eq!(corrected.code, 0, "{}", corrected.stderr);
    assert!(
        corrected.stdout.contains("corrected"),
        "{}",
        corrected.stdout
    );
    assert_eq!(
        state(&status(dir).await),
        ("missed".into(), "not triggered".into(), "triggered".into())
    );
    // Undo takes the judgment back altogether: open, both branches armed.
    let undone = ctl(dir, &control, &token, &["--yes", "undo"]).await;
    assert_eq!(undone.code, 0, "{}", undone.stderr);
    assert!(
        undone
            .stdout
            .starts_with("undone: the judgment of e0 (missed, by director"),
        "{}",
        undone.stdout
    );
    assert_eq!(
        state(&status(dir).await),
        (Value::Null, "armed".into(), "armed".into())
    );
    refused(
        &ctl(dir, &control, &token, &["missed", "e0", "--correct"]).await,
        &["`e0` is not judged yet"],
    );
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    assert_eq!(
        keys_sent(&server),
        BTreeSet::from(["warn".to_string()]),
        "no branch went"
    );
    // A resume replays the correction and the undo: open, both armed.
    let (child, control, token) = steered(&s, &server, &["--resume"]).await;
    let r = ctl(dir, &control, &token, &["--format", "json", "status"]).await;
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(state(&doc), (Value::Null, "armed".into(), "armed".into()));
    let report = crate::run::injector_run(dir, &["report", "s.journal.jsonl"], &[]).await;
    assert!(report.stdout.contains("taken back"), "{}", report.stdout);
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_occurrence_is_sent_again_once_and_a_skipped_one_can_still_go() {
    let faults = injector::stand_in::Faults {
        refuse_once: Some("inject i0".into()),
        ..Default::default()
    };
    let (s, server, child, control, token) = live_with(&four(), faults).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // i1 skipped by hand; then everything moves 31 s earlier: i0 and i1 are due now.
    assert_eq!(ctl(dir, &control, &token, &["skip", "i1"]).await.code, 0);
    refused(
        &ctl(dir, &control, &token, &["retry", "i0"]).await,
        &["`i0` has not failed"],
    );
    let shifted = ctl(dir, &control, &token, &["--yes", "shift", "-19s"]).await;
    assert_eq!(shifted.code, 0, "{}", shifted.stderr);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut failed = false;
    while std::time::Instant::now() < deadline && !failed {
        tokio::time::sleep(Duration::from_millis(200)).await;
        failed = journal(dir, "s.journal.jsonl")
            .iter()
            .any(|e| e["type"] == "failed" && e["key"] == "i0");
    }
    assert!(failed, "i0 refused once by the server");
    // The page offers what the state says its holder may: Send again included.
    let status = ctl(dir, &control, &token, &["--format", "json", "status"]).await;
    let doc: Value = serde_json::from_str(&status.stdout).unwrap();
    let may: Vec<&str> = doc["you"]["may"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(may.contains(&"retry") && may.contains(&"undo"), "{may:?}");
    let row = doc["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == "i0")
        .unwrap();
    assert_eq!(row["status"], "failed", "{row}");
    let retried = ctl(dir, &control, &token, &["retry", "i0"]).await;
    assert_eq!(retried.code, 0, "{}", retried.stderr);
    assert_eq!(retried.stdout.trim(), "i0 sent again");
    refused(
        &ctl(dir, &control, &token, &["retry", "i0"]).await,
        &["`i0` has not failed", "went at"],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted: Vec<String> = crate::run::sent(&server)
        .iter()
        .filter(|r| r.status == Some(200))
        .map(key_of)
        .collect();
    assert_eq!(accepted, ["i0"], "sent once, after its refusal");
    // i1 was skipped when its instant came; unskip sends it now, after asking.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline
        && !journal(dir, "s.journal.jsonl")
            .iter()
            .any(|e| e["type"] == "skipped" && e["key"] == "i1")
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    refused(
        &ctl(dir, &control, &token, &["unskip", "i1"]).await,
        &[
            "sends i1 \"inject i1\"",
            "skipped when its instant came",
            "needs a confirmation",
        ],
    );
    let unskipped = ctl(dir, &control, &token, &["--yes", "unskip", "i1"]).await;
    assert_eq!(unskipped.code, 0, "{}", unskipped.stderr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(keys_sent(&server).contains("i1"));
    assert_eq!(
        control_actions(dir, "s.journal.jsonl"),
        [
            "skip command",
            "shift command",
            "retry command",
            "unskip command"
        ]
    );
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_occurrence_unskipped_at_a_time_given_goes_then_even_across_a_crash() {
    let (s, server, mut child, control, token) = live(&four()).await;
    let dir = s.dir.path();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // i0 skipped by hand, then due now (its instant passes, it is skipped).
    assert_eq!(ctl(dir, &control, &token, &["skip", "i0"]).await.code, 0);
    assert_eq!(
        ctl(dir, &control, &token, &["--yes", "shift", "-19s"])
            .await
            .code,
        0
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !journal(dir, "s.journal.jsonl")
        .iter()
        .any(|e| e["type"] == "skipped" && e["key"] == "i0")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "i0 skipped at its instant"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    refused(
        &ctl(dir, &control, &token, &["unskip", "i1", "--in", "5s"]).await,
        &["--at and --in are for an occurrence skipped when its instant came"],
    );
    refused(
        &ctl(
            dir,
            &control,
            &token,
            &["unskip", "i0", "--at", "T+00:00:00"],
        )
        .await,
        &["is already past"],
    );
    refused(
        &ctl(dir, &control, &token, &["unskip", "i0", "--in", "-5s"]).await,
        &["`in` `-5s` is negative: give how long from now"],
    );
    let later = ctl(dir, &control, &token, &["unskip", "i0", "--in", "4s"]).await;
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert!(
        later
            .stdout
            .starts_with("1 occurrence skipped before will go at "),
        "{}",
        later.stdout
    );
    // A crash before it goes: the resume keeps the time given.
    child.start_kill().unwrap();
    let _ = child.wait().await;
    assert!(!keys_sent(&server).contains("i0"));
    let (child, control, token) = steered(&s, &server, &["--resume"]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !keys_sent(&server).contains("i0") {
        assert!(
            std::time::Instant::now() < deadline,
            "i0 went at its new time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let i0: Vec<_> = crate::run::sent(&server)
        .into_iter()
        .filter(|r| key_of(r) == "i0")
        .collect();
    assert_eq!(i0.len(), 1, "once");
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
}
