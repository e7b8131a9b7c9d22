//! `plan` of a branching scenario: contingencies with their conditions, and
//! `plan --assume` resolving each branch into a concrete timeline with exact bodies.

use crate::common::{injector, scenario};

#[test]
fn the_plan_lists_contingencies_and_expected_actions_and_assume_resolves_each_branch() {
    let file = scenario("harbour-flood.yaml");
    let file = file.to_str().unwrap();
    let plain = injector(&["plan", file]);
    plain.code(0);
    assert!(plain.stdout.contains("Contingencies"), "{}", plain.stdout);
    assert!(plain.stdout.contains("missed: evacuation-ordered"));
    assert!(plain.stdout.contains("Expected actions"));
    // The met branch: the thanks go out at the judgment, the flood never worsens.
    let met = injector(&[
        "plan",
        file,
        "--assume",
        "met:evacuation-ordered@1h15m",
        "--format",
        "json",
    ]);
    met.code(0);
    let json = met.json();
    let keys: Vec<&str> = json["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"police-confirm"), "{keys:?}");
    assert!(!keys.contains(&"flood-worsens"), "{keys:?}");
    let confirm = json["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == "police-confirm")
        .unwrap();
    assert_eq!(confirm["offset"], "T+01:15:00");
    // Its body's `ts` is its instant: T0 (09:00 London, 08:00Z) plus 1h15m.
    assert_eq!(confirm["body"]["ts"], 1774688400 + 4500);
    // The missed branch: at the deadline (20m after the call at 1h10m) plus 2m.
    let missed = injector(&["plan", file, "--assume", "all-missed"]);
    missed.code(0);
    let line = missed
        .stdout
        .lines()
        .find(|l| l.starts_with("flood-worsens"))
        .unwrap_or_else(|| panic!("{}", missed.stdout));
    assert!(line.contains("T+01:32:00"), "{line}");
    assert!(missed.stdout.contains("Not triggered"));
    // Judged after its deadline (the call at 1h10m, within 20m): refused, the deadline
    // named, not silently turned into an expiry.
    let late = injector(&["plan", file, "--assume", "met:evacuation-ordered@1h45m"]);
    late.code(2);
    assert!(
        late.stderr
            .contains("`evacuation-ordered` is due by T+01:30:00")
            && late
                .stderr
                .contains("at T+01:45:00 it would already be missed"),
        "{}",
        late.stderr
    );
    // A mistyped id is a usage error with a did-you-mean.
    let bad = injector(&["plan", file, "--assume", "met:evacuation-orderd"]);
    bad.code(2);
    assert!(
        bad.stderr.contains("did you mean `evacuation-ordered`"),
        "{}",
        bad.stderr
    );
}

/// `diff` names a changed condition and a changed deadline, as fields of their own.
#[test]
fn diff_shows_a_changed_condition_and_deadline() {
    let dir = crate::common::tempdir();
    let old = std::fs::read_to_string(scenario("harbour-flood.yaml")).unwrap();
    let new = old
        .replace(
            "when: { missed: evacuation-ordered }",
            "when: { missed: shelters-opened }",
        )
        .replace("within: 20m", "within: 25m");
    crate::common::write(dir.path(), "old.yaml", &old);
    crate::common::write(dir.path(), "new.yaml", &new);
    let run = crate::common::injector_in(dir.path(), &["diff", "old.yaml", "new.yaml"]);
    run.code(1);
    assert!(
        run.stdout.contains(
            "~ flood-worsens  when: \"missed: evacuation-ordered\" -> \"missed: shelters-opened\""
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("~ evacuation-order  expect.within: \"20m\" -> \"25m\""),
        "{}",
        run.stdout
    );
}

/// The plan's JSON tells the truth about branches: a contingency has its condition and
/// delay, no offset from T0 and no `ts` (both are known once its condition holds);
/// the expected actions are listed with their deadlines; `diff` says a changed `after:`
/// is a new delay, not a move.
#[test]
fn the_plans_json_tells_the_truth_about_branches() {
    let file = scenario("harbour-flood.yaml");
    let run = crate::common::injector(&["plan", file.to_str().unwrap(), "--format", "json"]);
    run.code(0);
    let doc = run.json();
    let chaser = doc["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == "press-chaser")
        .unwrap();
    assert!(
        chaser["offset"].is_null() && chaser["offset_ms"].is_null(),
        "{chaser}"
    );
    assert!(chaser["fires_at"].is_null(), "{chaser}");
    assert_eq!(chaser["delay"], "10m");
    assert_eq!(chaser["delay_ms"], 600_000);
    assert_eq!(chaser["condition"], "sent: press-query");
    assert!(
        chaser["body"]["ts"].is_null(),
        "no ts before it fires: {chaser}"
    );
    assert_eq!(
        doc["contingencies"][0],
        serde_json::json!({"inject": "press-chaser", "condition": "sent: press-query", "delay": "10m", "delay_ms": 600_000})
    );
    let evac = &doc["expectations"][0];
    assert_eq!(evac["id"], "evacuation-ordered");
    assert_eq!(evac["deadline"], "20m after evacuation-order is sent");
    assert_eq!(
        (&evac["deadline_kind"], &evac["deadline_ms"]),
        (&serde_json::json!("within"), &serde_json::json!(1_200_000))
    );
    assert_eq!(doc["expectations"][1]["deadline"], "by T+01:50:00");
    // Those due at an offset first, in order; the contingencies after them.
    let occ = doc["occurrences"].as_array().unwrap();
    let first_contingent = occ.iter().position(|o| o["condition"].is_string()).unwrap();
    assert_eq!(first_contingent, occ.len() - 4, "the 4 contingencies last");
    assert!(
        occ[..first_contingent]
            .windows(2)
            .all(|w| w[0]["offset_ms"].as_u64() <= w[1]["offset_ms"].as_u64())
    );
    // Objectives and who watches each inject.
    let order = occ.iter().find(|o| o["key"] == "evacuation-order").unwrap();
    assert_eq!(
        (&order["objectives"], &order["owner"]),
        (&serde_json::json!(["O2"]), &serde_json::json!("cory"))
    );
    assert_eq!(doc["objectives"].as_array().unwrap().len(), 3);
    assert_eq!(evac["objectives"], serde_json::json!(["O1", "O2"]));
    // A changed `after:` is a new delay.
    let dir = crate::common::tempdir();
    let old = std::fs::read_to_string(&file).unwrap();
    let new = old.replacen("    after: 10m\n", "    after: 15m\n", 1);
    assert_ne!(old, new);
    crate::common::write(dir.path(), "old.yaml", &old);
    crate::common::write(dir.path(), "new.yaml", &new);
    let diff = crate::common::injector_in(dir.path(), &["diff", "old.yaml", "new.yaml"]);
    diff.code(1);
    assert!(
        diff.stdout
            .contains("0 moved, 0 changed, 1 with a new delay")
            && diff
                .stdout
                .contains("~ press-chaser  delay 10m -> 15m after its condition"),
        "{}",
        diff.stdout
    );
    let json = crate::common::injector_in(
        dir.path(),
        &["diff", "old.yaml", "new.yaml", "--format", "json"],
    );
    assert!(
        json.stdout.contains("\"contingent\": true"),
        "{}",
        json.stdout
    );
}
