//! Branches end to end: `ctl met` on a live run firing at the stand-in, and each branch
//! of the example rehearsed with `run --dry-run --assume`.

use std::time::Duration;

use injector::stand_in::Faults;

use crate::common::{injector_in, scenario as example};
use crate::run::{ctl, journal, run_with_control, sent, setup, stand_in, t0_in};

const LIVE: &str = "name: Live branch
teams:
  blue: 3437866
defaults:
  type: team
  team_id: blue
  persona: \"3-49786\"
  channel: microblog
injects:
  - id: evac-call
    at: 1s
    body: Decide on the evacuation
    expect: { id: evacuation-ordered, action: Blue orders the evacuation, within: 30s, team: blue }
  - id: well-done
    when: { met: evacuation-ordered }
    after: 1500ms
    body: Police confirm the evacuation
  - id: flood-worsens
    when: { missed: evacuation-ordered }
    body: The flood worsens
";

#[tokio::test(flavor = "multi_thread")]
async fn ctl_met_on_a_live_run_fires_the_met_branch_at_the_stand_in_on_time() {
    let server = stand_in(Faults::default()).await;
    let s = setup(LIVE);
    let dir = s.dir.path();
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let (mut child, control, token) = run_with_control(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0_in(1),
        ],
    )
    .await;
    // After the call (T0 + 1 s): the expectation is open, with its deadline.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let status = ctl(dir, &control, &token, &["--format", "json", "status"]).await;
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["expectations"][0]["id"], "evacuation-ordered");
    assert!(doc["expectations"][0]["due"].is_string(), "{doc}");
    assert!(doc["expectations"][0]["outcome"].is_null());
    assert_eq!(doc["contingencies"][0]["state"], "armed");
    // Mistyped: refused with a did-you-mean; then judged met with a note.
    let typo = ctl(dir, &control, &token, &["met", "evacuation-orderd"]).await;
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr.contains("did you mean `evacuation-ordered`"),
        "{}",
        typo.stderr
    );
    // Its branch would fire within a minute: shown first, and not done unconfirmed.
    let unconfirmed = ctl(dir, &control, &token, &["met", "evacuation-ordered"]).await;
    assert_eq!(unconfirmed.code, 1, "{}", unconfirmed.stderr);
    assert!(
        unconfirmed
            .stderr
            .contains("judges evacuation-ordered met: well-done")
            && unconfirmed.stderr.contains("fires in 1.")
            && unconfirmed.stderr.contains("needs a confirmation"),
        "{}",
        unconfirmed.stderr
    );
    let met = ctl(
        dir,
        &control,
        &token,
        &[
            "--yes",
            "met",
            "evacuation-ordered",
            "--note",
            "orders given by radio",
        ],
    )
    .await;
    assert_eq!(met.code, 0, "{}", met.stderr);
    assert_eq!(
        met.stdout.trim(),
        "evacuation-ordered judged met; triggered well-done"
    );
    let again = ctl(dir, &control, &token, &["missed", "evacuation-ordered"]).await;
    assert_eq!(again.code, 1, "refused: {}", again.stdout);
    assert!(
        again.stderr.contains("first judgment stands")
            && again.stderr.contains("this one was not made")
            && again.stderr.contains("--correct"),
        "{}",
        again.stderr
    );
    let status = child.wait().await.unwrap();
    assert!(status.success());
    // The branch's body arrived 1.5 s after the judgment, to the millisecond or so.
    let requests = sent(&server);
    let bodies: Vec<&str> = requests
        .iter()
        .map(|r| r.body["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["Decide on the evacuation", "Police confirm the evacuation"]
    );
    let lines = journal(dir, "s.journal.jsonl");
    let judged = lines
        .iter()
        .find(|l| l["type"] == "control" && l["action"] == "met")
        .unwrap();
    assert_eq!(judged["note"], "orders given by radio");
    assert_eq!(judged["source"], "command");
    let at = chrono::DateTime::parse_from_rfc3339(judged["at"].as_str().unwrap()).unwrap();
    let arrived = requests[1].received_unix_ns as i64;
    let late_ns = arrived - (at.timestamp_nanos_opt().unwrap() + 1_500_000_000);
    // At its instant, not before, and not a beat late: how close to it is the
    // benchmarks' to measure (against the floor), not a test's sharing two cores with
    // the whole suite (a run of it saw 65 ms).
    assert!(
        (0..500_000_000).contains(&late_ns),
        "arrived {late_ns} ns after its instant"
    );
    // Its `ts` is when it went.
    assert_eq!(
        requests[1].body["ts"].as_i64().unwrap(),
        (at + chrono::TimeDelta::milliseconds(1500)).timestamp()
    );
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "not_triggered" && l["inject"] == "flood-worsens")
    );
    // The report tells it: met, by whom, with the note; the refused second judgment
    // is not in it.
    let report = injector_in(dir, &["report", "s.journal.jsonl"]);
    report.code(0);
    assert!(
        report.stdout.contains("evacuation-ordered"),
        "{}",
        report.stdout
    );
    assert!(report.stdout.contains("orders given by radio"));
    assert!(
        !report.stdout.contains("later: missed"),
        "{}",
        report.stdout
    );
    assert!(report.stdout.contains("not triggered"));
}

#[test]
fn each_branch_of_the_example_rehearses_at_speed_with_assume() {
    let file = example("harbour-flood.yaml");
    let file = file.to_str().unwrap();
    for (assume, sent_key, not_key) in [
        ("met:evacuation-ordered", "police-confirm", "flood-worsens"),
        ("all-missed", "flood-worsens", "police-confirm"),
    ] {
        let dir = crate::common::tempdir();
        let run = injector_in(
            dir.path(),
            &[
                "run",
                file,
                "--dry-run",
                "--speed",
                "2000",
                "--journal",
                "j.jsonl",
                "--assume",
                assume,
            ],
        );
        run.code(0);
        assert!(run.stdout.contains("1 not triggered"), "{}", run.stdout);
        // The log says a contingency's delay as what it is, not as a time of the
        // exercise (its offset is not a T+).
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&format!("sent {sent_key} ("))
                    && l.contains("after its condition")),
            "{}",
            run.stderr
        );
        let lines = journal(dir.path(), "j.jsonl");
        assert!(
            lines
                .iter()
                .any(|l| l["type"] == "sent" && l["key"] == sent_key),
            "{assume}: {sent_key} sent"
        );
        assert!(
            lines
                .iter()
                .any(|l| l["type"] == "not_triggered" && l["inject"] == not_key),
            "{assume}: {not_key} not triggered"
        );
        assert!(
            lines
                .iter()
                .any(|l| l["type"] == "control" && l["source"] == "assumed")
        );
    }
    // --assume is for rehearsals.
    let dir = crate::common::tempdir();
    let live = injector_in(dir.path(), &["run", file, "--assume", "all-met"]);
    live.code(2);
    assert!(live.stderr.contains("--dry-run"), "{}", live.stderr);
}

/// A MEL's Expected action with a Deadline imports as `expect` (without one it stays a
/// note, and the import says so); export writes expectations and conditions back, so
/// both branches of the example resolve the same after a round trip.
#[test]
fn expected_actions_and_contingencies_survive_a_mel_round_trip() {
    let dir = crate::common::tempdir();
    let mel = "Time,From,Method,Team,Message,Expected action,Deadline,Expectation,Condition\n\
        00:10:00,3-49786,social,3437866,Decide now,Blue orders the evacuation,15m,evac,\n\
        00:02:00,3-49786,social,3437866,Worse,,,,\"{\"\"missed\"\": \"\"evac\"\"}\"\n\
        00:20:00,3-49786,social,3437866,Report,Blue reports,,,\n";
    crate::common::write(dir.path(), "mel.csv", mel);
    let import = injector_in(dir.path(), &["import", "mel.csv", "-o", "s.yaml"]);
    import.code(0);
    assert!(
        import
            .stderr
            .contains("row 4: Expected action has no Deadline beside it: kept as a note"),
        "{}",
        import.stderr
    );
    let yaml = std::fs::read_to_string(dir.path().join("s.yaml")).unwrap();
    assert!(
        yaml.contains(
            "expect: { id: \"evac\", action: \"Blue orders the evacuation\", within: \"00:15:00\" }"
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains("when: { missed: \"evac\" }") && yaml.contains("after: \"00:02:00\""),
        "{yaml}"
    );
    assert!(
        yaml.contains("notes: { expected_action: \"Blue reports\" }"),
        "{yaml}"
    );
    let plan = injector_in(
        dir.path(),
        &[
            "plan",
            "s.yaml",
            "--assume",
            "all-missed",
            "--start-at",
            "2026-03-28T09:00:00Z",
        ],
    );
    plan.code(0);
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.starts_with("row-3") && l.contains("T+00:27:00")),
        "{}",
        plan.stdout
    );

    let file = example("harbour-flood.yaml");
    let export = injector_in(
        dir.path(),
        &[
            "export",
            file.to_str().unwrap(),
            "--format",
            "mel-csv",
            "-o",
            "hf.csv",
            "--start-at",
            "2026-03-28T09:00:00Z",
        ],
    );
    export.code(0);
    injector_in(dir.path(), &["import", "hf.csv", "-o", "hf.yaml"]).code(0);
    for assume in [
        "all-met",
        "all-missed",
        "met:evacuation-ordered@1h20m,missed:shelters-opened",
    ] {
        let resolved = |f: &str| {
            let run = injector_in(
                dir.path(),
                &[
                    "plan",
                    f,
                    "--assume",
                    assume,
                    "--format",
                    "json",
                    "--start-at",
                    "2026-03-28T09:00:00Z",
                ],
            );
            run.code(0);
            run.json()["occurrences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o["offset_ms"].clone(), o["body"].clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            resolved(file.to_str().unwrap()),
            resolved("hf.yaml"),
            "{assume}"
        );
    }
}
