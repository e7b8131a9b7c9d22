//! The timeline: recurrence, cron across DST, fan-out, templates, ts, speed, output shapes.

use crate::common::{injector, injector_in, scenario, tempdir, write};

fn plan_json(dir: &std::path::Path, yaml: &str, extra: &[&str]) -> serde_json::Value {
    write(dir, "s.yaml", yaml);
    let mut args = vec!["plan", "s.yaml", "--format", "json"];
    args.extend_from_slice(extra);
    let run = injector_in(dir, &args);
    run.code(0);
    run.json()
}

/// `plan --format json` of `yaml`, checked to be the bytes of one pretty-printed document
/// (as `serde_json` prints the whole tree, key order kept), parsed.
fn pretty_plan_json(dir: &std::path::Path, yaml: &str) -> serde_json::Value {
    write(dir, "s.yaml", yaml);
    let run = injector_in(dir, &["plan", "s.yaml", "--format", "json"]);
    run.code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        run.stdout,
        serde_json::to_string_pretty(&doc).unwrap() + "\n"
    );
    doc
}

fn keys(plan: &serde_json::Value) -> Vec<String> {
    plan["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_string())
        .collect()
}

const HEAD: &str = "name: T\nstart: 2026-03-28T09:00:00Z\ndefaults:\n  type: team\n  persona: \"3-1\"\n  channel: microblog\n  team_id: 7\ninjects:\n";

#[test]
fn recurrence_with_count_and_until() {
    let dir = tempdir();
    let plan = plan_json(
        dir.path(),
        &format!(
            "{HEAD}  - id: r\n    every: 10m\n    from: 5m\n    count: 3\n    body: \"n{{{{ occurrence }}}}\"\n  - id: u\n    every: 1h\n    until: 2h\n    body: u\n"
        ),
        &[],
    );
    assert_eq!(keys(&plan), ["u#1", "r#1", "r#2", "r#3", "u#2", "u#3"]);
    let occ = plan["occurrences"].as_array().unwrap();
    assert_eq!(occ[1]["offset_ms"], 300_000);
    assert_eq!(occ[3]["offset_ms"], 1_500_000);
    assert_eq!(occ[3]["body"]["body"], "n3");
    assert_eq!(occ[5]["offset"], "T+02:00:00");
}

#[test]
fn ties_keep_file_order() {
    let dir = tempdir();
    let plan = plan_json(
        dir.path(),
        &format!(
            "{HEAD}  - id: b\n    at: 1m\n    body: x\n    persona: \"3-2\"\n  - id: a\n    at: 1m\n    body: y\n  - id: c\n    at: 0s\n    body: z\n"
        ),
        &[],
    );
    assert_eq!(keys(&plan), ["c", "b", "a"]);
}

#[test]
fn cron_keeps_local_time_across_the_dst_change() {
    // Clocks go back in Berlin at 03:00 on 2026-10-25.
    let dir = tempdir();
    let plan = plan_json(
        dir.path(),
        "name: C\nstart: 2026-10-23T07:30:00\ntimezone: Europe/Berlin\ndefaults:\n  type: team\n  persona: \"3-1\"\n  channel: mail\n  team_id: 7\ninjects:\n  - id: brief\n    cron: \"0 8 * * *\"\n    count: 4\n    body: b\n",
        &[],
    );
    let occ = plan["occurrences"].as_array().unwrap();
    let fires: Vec<&str> = occ
        .iter()
        .map(|o| o["fires_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        fires,
        [
            "2026-10-23T08:00:00+02:00",
            "2026-10-24T08:00:00+02:00",
            "2026-10-25T08:00:00+01:00",
            "2026-10-26T08:00:00+01:00"
        ]
    );
    let offsets: Vec<u64> = occ
        .iter()
        .map(|o| o["offset_ms"].as_u64().unwrap() / 1000)
        .collect();
    assert_eq!(
        offsets,
        [
            1800,
            1800 + 86_400,
            1800 + 2 * 86_400 + 3600,
            1800 + 3 * 86_400 + 3600
        ]
    );
    // ts is the planned wall-clock time in unix seconds.
    assert_eq!(
        occ[2]["body"]["ts"],
        chrono::DateTime::parse_from_rfc3339("2026-10-25T08:00:00+01:00")
            .unwrap()
            .timestamp()
    );
}

#[test]
fn cron_with_seconds_and_until_instant() {
    let dir = tempdir();
    let plan = plan_json(
        dir.path(),
        &format!(
            "{HEAD}  - id: s\n    cron: \"*/20 * * * * *\"\n    until: 2026-03-28T09:01:00Z\n    body: b\n"
        ),
        &[],
    );
    assert_eq!(keys(&plan), ["s#1", "s#2", "s#3", "s#4"]);
}

#[test]
fn fan_out_keys_ids_and_templates() {
    let dir = tempdir();
    let yaml = "name: F\nstart: 2026-03-28T09:00:00Z\nteams:\n  blue: 3437866\n  red: \"3437872\"\nvars:\n  city: Portmere\ndefaults:\n  type: team\n  persona: \"3-1\"\n  channel: mail\ninjects:\n  - id: f\n    every: 1m\n    count: 2\n    team_id: [blue, red, 99]\n    subject: \"{{ city }} {{ team }} {{ occurrence }} {{ id }}\"\n    body: \"{{ planned_at }} / {{ t0 }}\"\n";
    let plan = plan_json(dir.path(), yaml, &[]);
    assert_eq!(
        keys(&plan),
        [
            "f#1@blue", "f#1@red", "f#1@99", "f#2@blue", "f#2@red", "f#2@99"
        ]
    );
    let occ = plan["occurrences"].as_array().unwrap();
    assert_eq!(occ[0]["body"]["team_id"], 3437866);
    assert_eq!(occ[1]["body"]["team_id"], "3437872");
    assert_eq!(occ[2]["body"]["team_id"], 99);
    assert_eq!(occ[4]["body"]["subject"], "Portmere red 2 f");
    assert_eq!(
        occ[4]["body"]["body"],
        "2026-03-28T09:01:00+00:00 / 2026-03-28T09:00:00+00:00"
    );
    assert_eq!(occ[4]["team"], "red");
}

#[test]
fn ts_filled_backdated_or_pinned_and_flags_lists() {
    let dir = tempdir();
    let plan = plan_json(
        dir.path(),
        &format!(
            "{HEAD}  - id: filled\n    at: 90s\n    body: b\n  - id: back\n    at: 90s\n    ts_offset: -2h\n    body: b\n    persona: \"3-2\"\n  - id: pinned\n    at: 90s\n    ts: 1700000000\n    body: b\n    persona: \"3-3\"\n    isDraft: true\n    cc: [a@b.org, c@d.org]\n    extra:\n      pinned: yes\n"
        ),
        &[],
    );
    let occ = plan["occurrences"].as_array().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-28T09:00:00Z")
        .unwrap()
        .timestamp();
    assert_eq!(occ[0]["body"]["ts"], t0 + 90);
    assert_eq!(occ[1]["body"]["ts"], t0 + 90 - 7200);
    assert_eq!(occ[2]["body"]["ts"], 1_700_000_000);
    assert_eq!(occ[2]["body"]["isDraft"], 1);
    assert_eq!(occ[2]["body"]["cc"], "a@b.org, c@d.org");
    assert_eq!(occ[2]["body"]["pinned"], "yes");
}

#[test]
fn start_at_and_speed_move_fire_times_and_ts() {
    let dir = tempdir();
    let plan = plan_json(
        dir.path(),
        &format!("{HEAD}  - id: a\n    at: 1h\n    body: b\n"),
        &["--start-at", "2030-01-01T00:00:00Z", "--speed", "60"],
    );
    let occ = &plan["occurrences"][0];
    assert_eq!(occ["offset"], "T+01:00:00");
    assert_eq!(occ["fires_at"], "2030-01-01T00:01:00+00:00");
    assert_eq!(
        occ["body"]["ts"],
        chrono::DateTime::parse_from_rfc3339("2030-01-01T00:01:00Z")
            .unwrap()
            .timestamp()
    );
    assert_eq!(plan["t0_fixed"], true);
}

#[test]
fn plan_refuses_an_invalid_scenario_and_bad_flags() {
    let dir = tempdir();
    write(dir.path(), "bad.yaml", "name: x\ninjects:\n  - id: a\n");
    injector_in(dir.path(), &["plan", "bad.yaml"]).code(1);
    write(
        dir.path(),
        "ok.yaml",
        &format!("{HEAD}  - id: a\n    at: 1m\n    body: b\n"),
    );
    let run = injector_in(dir.path(), &["plan", "ok.yaml", "--start-at", "tomorrow"]);
    run.code(2);
    assert!(
        run.stderr.contains("--start-at `tomorrow`"),
        "{}",
        run.stderr
    );
    injector_in(dir.path(), &["plan", "ok.yaml", "--speed", "0"]).code(2);
}

#[test]
fn text_csv_and_json_snapshots_of_the_quickstart() {
    let path = scenario("quickstart.yaml");
    let args = [
        "plan",
        path.to_str().unwrap(),
        "--start-at",
        "2026-03-28T09:00:00+01:00",
    ];
    let run = injector(&args);
    run.code(0);
    insta::assert_snapshot!("quickstart_text", run.stdout);
    let run = injector(&[&args[..], &["--format", "csv"]].concat());
    run.code(0);
    insta::assert_snapshot!("quickstart_csv", run.stdout);
    // Streamed one occurrence at a time; the same document as a whole-tree pretty print.
    let run = injector(&[&args[..], &["--format", "json"]].concat());
    run.code(0);
    insta::assert_snapshot!(
        "quickstart_json",
        run.stdout
            .replace(path.to_str().unwrap(), "scenarios/quickstart.yaml")
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        run.stdout,
        serde_json::to_string_pretty(&doc).unwrap() + "\n"
    );
}

#[test]
fn json_of_many_occurrences_is_one_document_in_order() {
    // More occurrences than one thread's chunk, with fan-out: the chunks serialized on
    // several threads come back in order, as one pretty-printed document.
    let dir = tempdir();
    let doc = pretty_plan_json(
        dir.path(),
        "name: M\nstart: 2026-03-28T09:00:00Z\nteams:\n  red: 11\n  blue: 12\ndefaults:\n  type: team\n  persona: \"3-1\"\n  channel: microblog\ninjects:\n  - id: r\n    every: 1m\n    count: 700\n    team_id: [red, blue]\n    body: \"n{{ occurrence }}\"\n  - id: one\n    at: 5m\n    team_id: 7\n    body: \"\\\"quoted\\\"\\nline\"\n",
    );
    let keys = keys(&doc);
    assert_eq!(keys.len(), 1401);
    assert_eq!(keys[..3], ["r#1@red", "r#1@blue", "r#2@red"]);
    assert_eq!(keys[1399..], ["r#700@red", "r#700@blue"]);
    let offsets: Vec<u64> = doc["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["offset_ms"].as_u64().unwrap())
        .collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "in firing order");
    let one = &doc["occurrences"][12];
    assert_eq!(one["key"], "one");
    assert_eq!(one["body"]["body"], "\"quoted\"\nline");
    assert_eq!(doc["occurrences"][1400]["body"]["body"], "n700");
    assert_eq!(doc["occurrences"][1400]["body"]["team_id"], 12);
}

#[test]
fn json_of_no_occurrences() {
    let dir = tempdir();
    let doc = pretty_plan_json(
        dir.path(),
        "name: E\nstart: 2026-03-28T09:00:00Z\ninjects: []\n",
    );
    assert_eq!(doc["occurrences"], serde_json::json!([]));
}

#[test]
fn output_to_a_file() {
    let dir = tempdir();
    let out = dir.path().join("plan.json");
    let path = scenario("quickstart.yaml");
    let run = injector(&[
        "plan",
        path.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    run.code(0);
    assert!(run.stdout.is_empty());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(doc["occurrences"].as_array().unwrap().len(), 3);
}

#[test]
fn example_scenarios_are_valid_and_sized_as_documented() {
    for (name, min_injects) in [
        ("quickstart.yaml", 3),
        ("harbour-flood.yaml", 38),
        ("border-week.yaml", 5),
    ] {
        let path = scenario(name);
        let run = injector(&[
            "validate",
            "--strict",
            "--format",
            "json",
            path.to_str().unwrap(),
        ]);
        run.code(0);
        assert!(
            run.json()["files"][0]["injects"].as_u64().unwrap() >= min_injects,
            "{name}"
        );
    }
}

/// Bodies of an inject without templates are built once and reused; `ts` must still
/// follow each occurrence, also where `ts: null` clears a default, and templated or
/// fanned-out injects must still differ per occurrence.
#[test]
fn reused_bodies_still_follow_each_occurrence() {
    let dir = tempdir();
    let plan = plan_json(
        dir.path(),
        "name: T\nstart: 2026-03-28T09:00:00Z\ndefaults:\n  type: team\n  persona: \"3-1\"\n  channel: microblog\n  team_id: 7\n  ts: 1700000000\ninjects:\n  - id: cleared\n    every: 1m\n    count: 3\n    ts: null\n    body: same\n  - id: pinned\n    every: 1m\n    count: 2\n    body: same\n  - id: templated\n    every: 1m\n    count: 2\n    ts: null\n    body: \"n {{ occurrence }}\"\n  - id: fan\n    at: 5m\n    ts: null\n    team_id: [7, 8]\n    body: same\n",
        &[],
    );
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-28T09:00:00Z")
        .unwrap()
        .timestamp();
    let body = |key: &str| {
        plan["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["key"] == key)
            .unwrap_or_else(|| panic!("no {key}"))["body"]
            .clone()
    };
    for (n, key) in ["cleared#1", "cleared#2", "cleared#3"].iter().enumerate() {
        assert_eq!(body(key)["ts"], t0 + 60 * n as i64, "{key}");
        assert_eq!(body(key)["body"], "same");
    }
    assert_eq!(body("pinned#1")["ts"], 1_700_000_000);
    assert_eq!(body("pinned#2")["ts"], 1_700_000_000);
    assert_eq!(body("templated#1")["body"], "n 1");
    assert_eq!(body("templated#2")["body"], "n 2");
    assert_eq!(body("templated#2")["ts"], t0 + 60);
    assert_eq!(body("fan@7")["team_id"], 7);
    assert_eq!(body("fan@8")["team_id"], 8);
    assert_eq!(body("fan@8")["ts"], t0 + 300);
}
