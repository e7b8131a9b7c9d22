//! `injector diff OLD NEW`: two versions of a scenario compared by occurrence key.

use crate::common::{injector_in, tempdir, write};

const BASE: &str = "name: D
teams:
  blue: 3437866
  red: 3437872
  green: 3437880
defaults:
  type: team
  team_id: blue
  persona: \"3-49786\"
  channel: microblog
injects:
  - id: warn
    at: 0s
    body: Storm warning
  - id: gauge
    every: 10m
    from: 10m
    count: 3
    body: \"Gauge {{ occurrence }}\"
  - id: brief
    at: 30m
    team_id: [blue, red]
    body: Briefing
  - id: old-name
    at: 40m
    body: Renamed soon
";

/// `diff` of BASE against BASE edited by `edit`, with its exit code.
fn diff(edit: impl Fn(&str) -> String) -> (i32, String) {
    let dir = tempdir();
    write(dir.path(), "old.yaml", BASE);
    write(dir.path(), "new.yaml", &edit(BASE));
    let run = injector_in(
        dir.path(),
        &[
            "diff",
            "old.yaml",
            "new.yaml",
            "--start-at",
            "2026-03-28T09:00:00Z",
        ],
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    (run.code, run.stdout)
}

#[test]
fn the_same_timeline_exits_0() {
    let (code, out) = diff(|s| s.replace("injects:", "# a comment\ninjects:"));
    assert_eq!(code, 0);
    insta::assert_snapshot!("same", out);
}

#[test]
fn a_changed_default_changes_every_body_it_reaches() {
    let (code, out) = diff(|s| s.replace("channel: microblog", "channel: mail\n  subject: News"));
    assert_eq!(code, 1);
    insta::assert_snapshot!("default_changed", out);
}

#[test]
fn a_re_spaced_recurrence_moves_its_occurrences() {
    let (code, out) = diff(|s| s.replace("every: 10m", "every: 15m"));
    assert_eq!(code, 1);
    insta::assert_snapshot!("recurrence_respaced", out);
}

#[test]
fn injects_added_removed_and_renamed() {
    let (code, out) = diff(|s| {
        s.replace("  - id: warn\n    at: 0s\n    body: Storm warning\n", "")
            .replace("id: old-name", "id: new-name")
            + "  - id: extra\n    at: 50m\n    body: Added\n"
    });
    assert_eq!(code, 1);
    insta::assert_snapshot!("added_removed_renamed", out);
}

#[test]
fn a_widened_fan_out_adds_its_new_team() {
    let (code, out) = diff(|s| s.replace("team_id: [blue, red]", "team_id: [blue, red, green]"));
    assert_eq!(code, 1);
    insta::assert_snapshot!("fan_out_widened", out);
}

#[test]
fn json_only_and_errors() {
    let dir = tempdir();
    write(dir.path(), "old.yaml", BASE);
    write(
        dir.path(),
        "new.yaml",
        &BASE.replace("every: 10m", "every: 15m"),
    );
    let run = injector_in(
        dir.path(),
        &[
            "diff", "old.yaml", "new.yaml", "--only", "gauge#3", "--format", "json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["same"], false);
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{doc}");
    assert_eq!(changes[0]["change"], "changed");
    assert_eq!(changes[0]["key"], "gauge#3");
    assert_eq!(
        (
            changes[0]["old_offset_ms"].as_u64(),
            changes[0]["new_offset_ms"].as_u64()
        ),
        (Some(1_800_000), Some(2_400_000))
    );
    // An unknown --only, an invalid version, a missing file: exit 2, with why.
    let unknown = injector_in(
        dir.path(),
        &["diff", "old.yaml", "new.yaml", "--only", "gauje"],
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("did you mean `gauge`?"),
        "{}",
        unknown.stderr
    );
    write(
        dir.path(),
        "bad.yaml",
        &BASE.replace("every: 10m", "every: soon"),
    );
    let invalid = injector_in(dir.path(), &["diff", "old.yaml", "bad.yaml"]);
    assert_eq!(invalid.code, 2);
    assert!(
        invalid.stderr.contains("bad.yaml: invalid"),
        "{}",
        invalid.stderr
    );
    let missing = injector_in(dir.path(), &["diff", "old.yaml", "nope.yaml"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no such file"),
        "{}",
        missing.stderr
    );
}
