//! Each validation rule has a failing fixture whose diagnostic names the right line.

use std::sync::Arc;

use injector::diag::Level;

use crate::common::{injector, tempdir, write};

/// A valid preamble; each case appends injects (line 9 is the first inject line).
const HEAD: &str = "name: Rules
personas:
  hm: \"3-49786\"
teams:
  blue: 3437866
defaults:
  type: team
injects:
";

/// An inject that is valid on its own, to append fields to.
const OK: &str = "  - id: ok
    at: 1m
    persona: hm
    channel: microblog
    team_id: blue
    body: hello
";

struct Found {
    level: Level,
    line: usize,
    column: usize,
    message: String,
    hint: Option<String>,
}

fn check(text: &str) -> Vec<Found> {
    let now = chrono::Utc::now();
    let checked =
        injector::validate::check("case.yaml", Arc::new(text.to_string()), None, 1.0, now);
    checked
        .diags
        .items
        .iter()
        .map(|d| Found {
            level: d.level,
            line: d.line,
            column: d.column,
            message: d.message.clone(),
            hint: d.hint.clone(),
        })
        .collect()
}

/// Assert that `text` has a diagnostic of `level` on `line` whose message holds `needle`.
#[track_caller]
fn expect(text: &str, level: Level, line: usize, needle: &str) -> Found {
    let found = check(text);
    let summary: Vec<String> = found
        .iter()
        .map(|f| format!("{:?} {}:{} {}", f.level, f.line, f.column, f.message))
        .collect();
    let i = found
        .iter()
        .position(|f| f.level == level && f.line == line && f.message.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "no {level:?} on line {line} containing {needle:?}; found:\n{}",
                summary.join("\n")
            )
        });
    found.into_iter().nth(i).unwrap()
}

#[track_caller]
fn error(text: &str, line: usize, needle: &str) -> Found {
    expect(text, Level::Error, line, needle)
}

fn case(inject_lines: &str) -> String {
    format!("{HEAD}{OK}{inject_lines}")
}

/// An inject like OK but named `x`, with `extra` lines appended (the first at line 15+6=21).
fn with(extra: &str) -> String {
    case(&format!(
        "  - id: x\n    at: 2m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: hi\n{extra}"
    ))
}

#[test]
fn the_base_case_is_valid() {
    assert!(
        check(&case("")).is_empty(),
        "{:?}",
        check(&case(""))
            .iter()
            .map(|f| &f.message)
            .collect::<Vec<_>>()
    );
}

#[test]
fn yaml_syntax() {
    error(
        &format!("{HEAD}  - id: [x\n    at: 1m\n"),
        10,
        "invalid YAML",
    );
}

#[test]
fn unknown_fields_with_did_you_mean() {
    let f = error(
        &format!("nmae: x\n{}", &case("")[..]),
        1,
        "unknown field `nmae` in scenario",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `name`?"));
    let f = error(
        &with("    subjet: y\n"),
        21,
        "unknown field `subjet` in inject",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `subject`?"));
    assert_eq!(f.column, 5);
    // A field indented out of its block says where it belongs.
    let f = error(
        &with("    expect:\n      id: e1\n      action: Blue acts\n    within: 20m\n"),
        24,
        "unknown field `within` in inject",
    );
    assert_eq!(
        f.hint.as_deref(),
        Some(
            "`within` belongs inside `expect:`: indent it under this inject's `expect:` (line 21), as far as the fields beside it"
        )
    );
    let f = error(
        &with("    missed: e1\n"),
        21,
        "unknown field `missed` in inject",
    );
    assert_eq!(
        f.hint.as_deref(),
        Some("`missed` belongs inside `when:`: put it inside a `when:` block")
    );
}

#[test]
fn wrong_types() {
    error(
        &with("    likes: many\n"),
        21,
        "`likes` must be a non-negative integer",
    );
    error(
        &with("    subject: [a, b]\n"),
        21,
        "`subject` must be a string",
    );
    error(
        &case("  - just a string\n"),
        15,
        "an inject must be a mapping",
    );
    error(
        &with("    count: 3\n"),
        21,
        "`count` goes with `every` or `cron`",
    );
}

#[test]
fn bad_durations_and_times() {
    error(
        &case(
            "  - id: x\n    at: 5 parsecs\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        16,
        "bad `at`",
    );
    error(
        &case(
            "  - id: x\n    at: 90\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        16,
        "has no unit",
    );
    error(
        &case(
            "  - id: x\n    at: -5m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        16,
        "negative",
    );
    error(
        &format!("start: tomorrow\n{}", case("")),
        1,
        "not a date-time",
    );
    error(
        &format!("start: 2026-03-28 09:00\n{}", case("")),
        1,
        "has no UTC offset",
    );
    let f = error(
        &format!("timezone: Europe/Londn\n{}", case("")),
        1,
        "unknown time zone",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `Europe/London`?"));
    error(&with("    ts_offset: yesterday\n"), 21, "bad `ts_offset`");
    // `5:00` is five hours to one reader and five minutes to another: refused.
    let f = error(
        &case(
            "  - id: x\n    at: 5:00\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        16,
        "`5:00` is ambiguous",
    );
    assert_eq!(
        f.hint.as_deref(),
        Some("write `5h` or `5m`, or the full clock `00:05:00` (HH:MM:SS)")
    );
    assert_eq!(f.column, 9, "at the value");
}

#[test]
fn timing_shapes() {
    error(
        &case(
            "  - id: x\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        15,
        "has no time",
    );
    error(
        &case(
            "  - id: x\n    at: 1m\n    every: 5m\n    count: 2\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        17,
        "only one of",
    );
    error(
        &case(
            "  - id: x\n    every: 0s\n    count: 3\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        16,
        "longer than zero",
    );
    error(
        &case(
            "  - id: x\n    every: 5m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        15,
        "needs `count:` or `until:`",
    );
    error(
        &case(
            "  - id: x\n    cron: \"61 * * * *\"\n    count: 2\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        16,
        "bad cron pattern",
    );
    error(
        &case(
            "  - id: x\n    every: 1s\n    count: 2000000\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        17,
        "the limit is 1000000",
    );
}

#[test]
fn duplicate_ids() {
    let f = error(
        &case(
            "  - id: ok\n    at: 3m\n    persona: hm\n    channel: mail\n    team_id: blue\n    body: b\n",
        ),
        15,
        "duplicate inject id `ok`",
    );
    assert!(f.hint.unwrap().contains("line 9"));
}

#[test]
fn undefined_aliases_and_variables() {
    let f = error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hn\n    channel: microblog\n    team_id: blue\n    body: b\n",
        ),
        17,
        "unknown persona `hn`",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `hm`?"));
    let f = error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hm\n    channel: microblog\n    team_id: bleu\n    body: b\n",
        ),
        19,
        "unknown team `bleu`",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `blue`?"));
    error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hm\n    channel: microblog\n    team_id: [blue, purple]\n    body: b\n",
        ),
        19,
        "unknown team `purple`",
    );
    error(
        &with("    subject: \"{{ wether }}\"\n"),
        21,
        "`wether` is undefined",
    );
}

#[test]
fn persona_and_channel_present_after_defaults() {
    error(
        &case("  - id: x\n    at: 2m\n    channel: microblog\n    team_id: blue\n    body: b\n"),
        15,
        "`persona` is missing",
    );
    error(
        &case("  - id: x\n    at: 2m\n    persona: hm\n    team_id: blue\n    body: b\n"),
        15,
        "`channel` is missing",
    );
    // Supplied by defaults: no error.
    let text = HEAD.replace(
        "  type: team\n",
        "  type: team\n  persona: hm\n  channel: mail\n",
    ) + "  - id: x\n    at: 2m\n    team_id: blue\n    body: b\n";
    assert!(check(&text).iter().all(|f| f.level != Level::Error));
}

#[test]
fn channels_documented_or_declared() {
    let f = error(
        &with("").replace(
            "channel: microblog\n    team_id: blue\n    body: hi",
            "channel: microblgo\n    team_id: blue\n    body: hi",
        ),
        18,
        "unknown channel `microblgo`",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `microblog`?"));
    let declared = format!(
        "extra_channels: [radio]\n{}",
        with("").replace(
            "channel: microblog\n    team_id: blue\n    body: hi",
            "channel: radio\n    team_id: blue\n    body: hi"
        )
    );
    assert!(check(&declared).iter().all(|f| f.level != Level::Error));
}

#[test]
fn website_articles_and_hacks() {
    error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hm\n    channel: websites\n    team_id: blue\n    body: b\n",
        ),
        18,
        "website article needs a `title`",
    );
    error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hm\n    channel: websites\n    team_id: blue\n    hacked_image: https://x.org/a.png\n",
        ),
        20,
        "needs `is_hacked`",
    );
    error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hm\n    channel: websites\n    team_id: blue\n    is_hacked: 1\n    hacked_image: a.png\n",
        ),
        21,
        "`hacked_image` must be an http(s) URL",
    );
    error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hm\n    channel: websites\n    team_id: blue\n    is_hacked: maybe\n",
        ),
        20,
        "`is_hacked` must be 1 or 0",
    );
}

#[test]
fn recipient_types() {
    error(
        &with("    type: crowd\n"),
        21,
        "`type` must be `individual` or `team`",
    );
    error(
        &case("  - id: x\n    at: 2m\n    persona: hm\n    channel: microblog\n    body: b\n"),
        7,
        "needs `team_id`",
    );
    error(
        &with("    type: individual\n"),
        21,
        "needs `to` or `player_email`",
    );
    error(
        &case(
            "  - id: x\n    at: 2m\n    persona: hm\n    channel: websites\n    team_id: blue\n    body: b\n",
        ),
        18,
        "website article needs a `title`",
    );
    let no_type = HEAD.replace("defaults:\n  type: team\n", "") + OK;
    error(&no_type, 7, "`type` is missing");
}

#[test]
fn sentiment_assets_addresses_counts() {
    let f = error(
        &with("    sentiment: postive\n"),
        21,
        "`sentiment` must be positive, negative or neutral",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `positive`?"));
    error(
        &with("    assets:\n      - type: gif\n        assetUrl: https://x.org/a.gif\n"),
        22,
        "`type` must be image, video, audio or document",
    );
    error(
        &with("    assets:\n      - type: image\n        assetUrl: /a.png\n"),
        22,
        "absolute http(s) URL",
    );
    error(
        &with("    to: nobody\n"),
        21,
        "`to` has a malformed address `nobody`",
    );
    error(
        &with("    cc: [a@b.org, bad]\n"),
        21,
        "`cc` has a malformed address `bad`",
    );
    error(
        &with("    bcc: \"a@b.org, also bad\"\n"),
        21,
        "`bcc` has a malformed address `also bad`",
    );
    error(
        &with("    player_email: x@\n"),
        21,
        "`player_email` has a malformed address",
    );
    error(
        &with("    replies: -1\n"),
        21,
        "`replies` must be a non-negative integer",
    );
    error(
        &with("    reposts: 1.5\n"),
        21,
        "`reposts` must be a non-negative integer",
    );
}

#[test]
fn warnings_copy_paste_empty_body_long_scenario() {
    let copy = case(
        "  - id: twin\n    at: 1m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: hello\n  - id: other\n    at: 1m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: a different post\n",
    );
    expect(
        &copy,
        Level::Warning,
        15,
        "same persona on the same channel at the same time as `ok`",
    );
    expect(
        &with("").replace("body: hi", "body: \"  \""),
        Level::Warning,
        20,
        "has an empty body",
    );
    expect(
        &case(
            "  - id: late\n    at: 8d\n    persona: hm\n    channel: mail\n    team_id: blue\n    body: b\n",
        ),
        Level::Warning,
        15,
        "longer than 7 days",
    );
}

/// The copy-paste warning needs all five alike: persona, channel, recipient, body, instant.
#[test]
fn copy_paste_needs_every_part_alike() {
    let copies = |inject_lines: &str| {
        check(&case(inject_lines))
            .into_iter()
            .filter(|f| f.level == Level::Warning && f.message.contains("same body"))
            .map(|f| (f.line, f.message))
            .collect::<Vec<_>>()
    };
    let twin = "  - id: twin\n    at: 1m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: hello\n";
    assert_eq!(copies(twin).len(), 1);
    for (from, to) in [
        ("at: 1m", "at: 2m"),
        ("persona: hm", "persona: \"3-1\""),
        ("channel: microblog", "channel: forum"),
        ("team_id: blue", "team_id: 3437867"),
        ("body: hello", "body: hello!"),
    ] {
        assert!(
            copies(&twin.replace(from, to)).is_empty(),
            "{to}: {:?}",
            copies(&twin.replace(from, to))
        );
    }
    // One team however written: by name, by number, or in a fan-out list.
    for team in ["3437866", "\"3437866\"", "[blue]", "[3437866, 3437867]"] {
        let found = copies(&twin.replace("team_id: blue", &format!("team_id: {team}")));
        assert_eq!(found.len(), 1, "{team}: {found:?}");
    }
    // Fanned out to a team the other also reaches: warned once, naming the first.
    let fan = "  - id: fan\n    at: 3m\n    persona: hm\n    channel: microblog\n    team_id: [blue]\n    body: hi\n";
    let found = copies(&format!("{fan}{}", fan.replace("id: fan", "id: fan2")));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 21);
    assert!(found[0].1.contains("inject `fan2`") && found[0].1.contains("as `fan`"));
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let text = case(
        "  - id: a\n    at: nope\n    persona: who\n    channel: mial\n    team_id: blue\n    sentiment: meh\n    body: b\n",
    );
    let errors: Vec<_> = check(&text)
        .into_iter()
        .filter(|f| f.level == Level::Error)
        .collect();
    assert_eq!(
        errors.len(),
        4,
        "{:?}",
        errors.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
}

#[test]
fn exit_codes_json_and_strict() {
    let dir = tempdir();
    let good = write(dir.path(), "good.yaml", &case(""));
    let warn = write(
        dir.path(),
        "warn.yaml",
        &with("").replace("body: hi", "body: \"\""),
    );
    let bad = write(dir.path(), "bad.yaml", &with("    likes: -1\n"));
    injector(&["validate", good.to_str().unwrap()]).code(0);
    injector(&["validate", warn.to_str().unwrap()]).code(0);
    injector(&["validate", "--strict", warn.to_str().unwrap()]).code(1);
    let run = injector(&["validate", bad.to_str().unwrap()]);
    run.code(1);
    assert!(run.stderr.contains("bad.yaml:21:12"), "{}", run.stderr);
    injector(&[
        "validate",
        dir.path().join("missing.yaml").to_str().unwrap(),
    ])
    .code(2);
    injector(&["validate"]).code(2);

    let run = injector(&[
        "validate",
        "--format",
        "json",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    run.code(1);
    let doc = run.json();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["files"][0]["valid"], true);
    assert_eq!(doc["files"][0]["injects"], 1);
    assert_eq!(doc["files"][0]["occurrences"], 1);
    assert_eq!(doc["files"][0]["duration_ms"], 60_000);
    let err = &doc["files"][1]["errors"][0];
    assert_eq!(err["line"], 21);
    assert_eq!(err["column"], 12);
    assert!(err["message"].as_str().unwrap().contains("likes"));
    assert!(err["file"].as_str().unwrap().ends_with("bad.yaml"));
}

#[test]
fn text_diagnostics_snapshot() {
    let dir = tempdir();
    write(
        dir.path(),
        "bad.yaml",
        &case(
            "  - id: x\n    at: 2m\n    persona: hn\n    channel: mial\n    team_id: blue\n    body: b\n    subjet: s\n",
        ),
    );
    let run = crate::common::injector_in(dir.path(), &["validate", "bad.yaml"]);
    run.code(1);
    insta::assert_snapshot!(run.stderr);
}

/// A contingency named `c` (line 15) with `when` and `after` lines; `ok` expects
/// `e1` within 20m when `expect` is set (its line 15, shifting `c` to 16).
fn branching(expect: bool, contingency: &str) -> String {
    let expect_line = if expect {
        "    expect: { id: e1, action: Blue acts, within: 20m, team: blue }\n"
    } else {
        ""
    };
    format!(
        "{HEAD}{OK}{expect_line}  - id: c\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: then\n{contingency}"
    )
}

#[test]
fn branches() {
    // A valid branch, and each expectation used.
    let ok = branching(true, "    when: { missed: e1 }\n    after: 2m\n");
    assert!(
        check(&ok).is_empty(),
        "{:?}",
        check(&ok).iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    // Unknown expectation, with did-you-mean; an inject named where an expectation goes.
    let f = error(
        &branching(true, "    when: { missed: e2 }\n"),
        21,
        "`missed: e2` names no expected action",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `e1`?"));
    let f = error(
        &branching(true, "    when: { met: ok }\n"),
        21,
        "`met: ok` names no expected action",
    );
    // It expects e1: that is what `met:` means to name (or its send).
    let hint = f.hint.unwrap();
    assert!(
        hint.contains("its expected action is `e1`: write `met: e1` (or `sent: ok`)"),
        "{hint}"
    );
    // Unknown inject or occurrence key for `sent`.
    let f = error(
        &branching(false, "    when: { sent: okk }\n"),
        20,
        "`sent: okk` names no inject",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `ok`?"));
    error(
        &branching(false, "    when: { sent: \"ok#3\" }\n"),
        20,
        "`ok` has no occurrence `ok#3`",
    );
    // `when` with `at`; `after` without `when`; `cron` under a condition.
    error(
        &branching(false, "    when: { sent: ok }\n    at: 5m\n"),
        21,
        "an inject with `when` has no `at`",
    );
    error(&with("    after: 2m\n"), 21, "`after` goes with `when`");
    // Duplicate expectation ids, at the second, naming the first's line.
    let dup = format!(
        "{}expectations:\n  - {{ id: e1, action: again, by: 1h }}\n",
        branching(true, "    when: { missed: e1 }\n")
    );
    let f = error(&dup, 23, "duplicate expectation id `e1`");
    assert!(f.hint.unwrap().contains("line 15"));
    // A condition that can never hold.
    error(
        &branching(true, "    when: { all: [ { met: e1 }, { missed: e1 } ] }\n"),
        21,
        "can never hold",
    );
    // A cycle: c waits on d, d on c.
    let cycle = format!(
        "{}  - id: d\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: d\n    when: {{ sent: c }}\n",
        branching(false, "    when: { sent: d }\n")
    );
    error(&cycle, 20, "`c` waits on itself: c → d → c");
    // An expectation nothing depends on: a warning on its id.
    expect(
        &branching(true, "    when: { sent: ok }\n"),
        Level::Warning,
        15,
        "no condition depends on expected action `e1`",
    );
    // No deadline; an unknown condition key with did-you-mean; an unknown team.
    error(
        &format!("{}expectations:\n  - {{ id: e9, action: A }}\n", case("")),
        16,
        "has no deadline (`by`)",
    );
    let f = error(
        &branching(false, "    when: { mised: x }\n"),
        20,
        "unknown condition `mised`",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `missed`?"));
    error(
        &format!(
            "{}expectations:\n  - {{ id: e9, action: A, by: 1h, team: bleu }}\n",
            case("")
        ),
        16,
        "unknown team `bleu`",
    );
}

#[test]
fn positions_roles_and_moves() {
    // Not both; not with an address; roles named as the API names them.
    error(
        &with("    position: CEO\n    role: Role2\n"),
        22,
        "to a position or to a role, not both",
    );
    error(
        &with("    position: CEO\n    to: ceo@example.org\n"),
        22,
        "a message to a position names no `to`",
    );
    let f = error(
        &with("    role: role2\n"),
        21,
        "`role` must be one of Role1…Role5",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `Role2`?"));
    error(&with("    position: \"\"\n"), 21, "`position` is empty");
    // One position spelled two ways: a warning at the second.
    let two = case(
        "  - id: a\n    at: 2m\n    persona: hm\n    channel: mail\n    team_id: blue\n    body: a\n    position: Press Officer\n  - id: b\n    at: 3m\n    persona: hm\n    channel: mail\n    team_id: blue\n    body: b\n    position: press officer\n",
    );
    expect(
        &two,
        Level::Warning,
        28,
        "differs only in case from `Press Officer` (line 21)",
    );
    // Moves: coordinates in range, a place, the session team, no message fields.
    let mv = |extra: &str| case(&format!("  - id: m\n    at: 2m\n    persona: hm\n{extra}"));
    error(
        &mv("    team_id: blue\n    gps: { lat: 91, lon: 0, location: Quay }\n"),
        19,
        "`lat` must be between -90 and 90",
    );
    error(
        &mv("    team_id: blue\n    gps: { lat: 1, lon: 0 }\n"),
        19,
        "`gps` lacks location",
    );
    error(
        &mv(
            "    team_id: blue\n    channel: microblog\n    gps: { lat: 1, lon: 0, location: Quay }\n",
        ),
        19,
        "a persona move carries no `channel`",
    );
    error(
        &mv("    gps: { lat: 1, lon: 0, location: Quay }\n"),
        15,
        "a persona move needs `team_id`",
    );
    let f = error(
        &mv("    team_id: blue\n    gps: { lat: 1, lon: 0, locaton: Quay }\n"),
        19,
        "unknown field `locaton` in `gps`",
    );
    assert_eq!(f.hint.as_deref(), Some("did you mean `location`?"));
    error(
        &format!("gps_longitude: long\n{}", case("")),
        1,
        "`gps_longitude` is `lon` or `lng`",
    );
    // A valid move: persona, place, team; no body needed.
    let ok = mv(
        "    team_id: blue\n    gps: { lat: 51.5, lon: -0.09, location: \"Merril Bay, Goldland\" }\n",
    );
    assert!(
        check(&ok).is_empty(),
        "{:?}",
        check(&ok).iter().map(|f| &f.message).collect::<Vec<_>>()
    );
}

/// HEAD with `objectives:` declared before the injects, then `injects`.
fn with_objectives(objectives: &str, injects: &str) -> String {
    let head = HEAD.replace("injects:\n", &format!("{objectives}injects:\n"));
    format!("{head}{OK}{injects}")
}

#[test]
fn objectives() {
    let declared = "objectives:\n  - { id: O1, text: Warn the public, capability: Public Information and Warning }\n  - { id: O2, text: Decide on evacuation }\n";
    // Each named: valid, no warning.
    let ok = with_objectives(
        declared,
        "    objectives: [O1]\n  - id: e\n    at: 2m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n    expect: { id: x, action: Blue acts, within: 5m, objectives: [O2] }\n",
    );
    let found = check(&ok);
    assert!(
        found.iter().all(|f| !f.message.contains("objective")),
        "{:?}",
        found.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    // An unknown objective on an inject, with did-you-mean (line 17: the inject's list).
    let f = error(
        &with_objectives(declared, "    objectives: [O3]\n"),
        18,
        "unknown objective `O3` for inject `ok`",
    );
    assert!(f.hint.unwrap().contains("did you mean"));
    // On an expected action.
    error(
        &with_objectives(
            declared,
            "    objectives: [O1]\n    expect: { id: x, action: Blue acts, within: 5m, objectives: [O9] }\n",
        ),
        19,
        "unknown objective `O9` for expected action `x`",
    );
    // Named with none declared: the hint says how to declare it.
    let f = error(
        &with("    objectives: [O1]\n"),
        21,
        "unknown objective `O1`",
    );
    assert!(f.hint.unwrap().contains("objectives: [{ id: O1"));
    // One nothing exercises: a warning at its id.
    expect(
        &with_objectives(declared, "    objectives: [O1]\n"),
        Level::Warning,
        10,
        "nothing exercises objective `O2`",
    );
    // A duplicate id, one without text, one not a mapping, a list that is not one.
    error(
        &with_objectives(
            "objectives:\n  - { id: O1, text: a }\n  - { id: O1, text: b }\n",
            "    objectives: [O1]\n",
        ),
        10,
        "duplicate objective id `O1`",
    );
    error(
        &with_objectives("objectives:\n  - { id: O1 }\n", "    objectives: [O1]\n"),
        9,
        "objective `O1` has no `text`",
    );
    error(
        &with_objectives("objectives:\n  - O1\n", ""),
        9,
        "an objective must be a mapping",
    );
    error(
        &with_objectives(declared, "    objectives: { O1: yes }\n"),
        18,
        "`objectives` must be a list of ids",
    );
    error(
        &with_objectives(declared, "    owner: [a, b]\n"),
        18,
        "`owner`",
    );
}

/// `5M` is humantime's five months: in an exercise it is a slip for minutes, refused
/// with the way to say it; years likewise.
#[test]
fn months_and_years_are_slips_not_units() {
    let at = |offset: &str| {
        case(&format!(
            "  - id: y\n    at: {offset}\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: b\n"
        ))
    };
    let f = error(&at("5M"), 16, "`5M`: `M` is not a unit");
    assert!(f.message.contains("5m is 5 minutes"), "{}", f.message);
    error(&at("1y"), 16, "`y` is not a unit");
    // Weeks and the usual units stay.
    assert!(check(&at("1w")).iter().all(|f| f.level != Level::Error));
    assert!(check(&at("1h 30m")).iter().all(|f| f.level != Level::Error));
}

/// An unquoted text with ` #Tag` after it loses the tag to YAML's comments: warned,
/// with the quoted line to write; a real comment, a quoted text and a block keep quiet.
#[test]
fn a_hashtag_read_as_a_comment_is_warned() {
    let text = case(
        "  - id: leak\n    at: 2m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: We showed everyone. #PortmereLeaks\n    subject: Fine   # a note to ourselves\n  - id: quoted\n    at: 3m\n    persona: hm\n    channel: microblog\n    team_id: blue\n    body: \"Kept #Portmere\"\n",
    );
    let found = expect(&text, Level::Warning, 20, "ends before `#PortmereLeaks`");
    assert_eq!(found.column, 11);
    assert_eq!(
        found.hint.as_deref(),
        Some("quote the text: body: \"We showed everyone. #PortmereLeaks\"")
    );
    assert_eq!(
        check(&text).len(),
        1,
        "only the lost tag: {:?}",
        check(&text).iter().map(|f| &f.message).collect::<Vec<_>>()
    );
}

/// YAML anchors and merge keys reuse a block as other YAML tools do, and `x-` keys at the
/// top hold the anchors without being the scenario's; a problem in a merged block is said
/// where the block is written.
#[test]
fn merge_keys_and_x_keys_reuse_blocks() {
    let text = "name: Blocks
x-post: &post
  persona: hm
  channel: microblog
  team_id: blue
teams:
  blue: 3437866
personas:
  hm: \"3-49786\"
defaults:
  type: team
injects:
  - <<: *post
    id: a
    at: 1m
    body: first
  - <<: *post
    id: b
    at: 2m
    channel: mail
    subject: Mail
    body: second
";
    let found = check(text);
    assert!(
        found.iter().all(|f| f.level != Level::Error),
        "{:?}",
        found.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    let now = chrono::Utc::now();
    let checked =
        injector::validate::check("case.yaml", Arc::new(text.to_string()), None, 1.0, now);
    let t = checked.timeline.unwrap();
    let bodies: Vec<_> = t.occurrences.iter().map(|o| t.body(o).unwrap()).collect();
    assert_eq!(bodies[0]["channel"], "microblog");
    assert_eq!(bodies[0]["persona"], "3-49786");
    assert_eq!(bodies[1]["channel"], "mail", "its own field stands");
    assert_eq!(bodies[1]["team_id"], 3437866);
    // A mistake inside the anchored block: said on the block's line, once (not once
    // per inject that merges it).
    let bad = text.replace("  channel: microblog\n", "  chanel: microblog\n");
    let e = error(&bad, 4, "unknown field `chanel`");
    assert_eq!(e.column, 3);
    let said = check(&bad)
        .iter()
        .filter(|f| f.message.contains("unknown field `chanel`"))
        .count();
    assert_eq!(said, 1);
    // `x-` keys are the author's own at the top only; `x_` is not one.
    let nested = text.replace("    id: a\n", "    id: a\n    x-note: mine\n");
    let e = error(&nested, 15, "unknown field `x-note` in inject");
    assert!(e.hint.unwrap().contains("only at the top of the file"));
    let underscore = text.replace("x-post: &post", "x_post: &post");
    let e = error(&underscore, 2, "unknown field `x_post` in scenario");
    assert!(e.hint.unwrap().contains("`x-post`"));
    // Two merge keys in one mapping: one key takes a list.
    let twice = text.replace("    id: a\n", "    id: a\n    <<: *post\n");
    error(
        &twice,
        15,
        "merge several blocks with one key, `<<: [*a, *b]`",
    );
}

/// The timeline of a valid scenario with teams blue, red and green, and one inject
/// `post` recurring twice, 30m apart, with `fields` (asserted free of errors).
fn fan_out_of_three(fields: &str) -> injector::timeline::Timeline {
    let text =
        format!("{HEAD}  - id: post\n    every: 30m\n    count: 2\n{fields}    body: hello\n")
            .replace(
                "teams:\n  blue: 3437866\n",
                "teams:\n  blue: 3437866\n  red: 3437867\n  green: 3437868\n",
            );
    let found = check(&text);
    assert!(
        found.iter().all(|f| f.level != Level::Error),
        "{:?}",
        found.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    let now = chrono::Utc::now();
    injector::validate::check("case.yaml", Arc::new(text), None, 1.0, now)
        .timeline
        .unwrap()
}

/// `stagger` spaces the occurrences a fan-out puts at one instant, in team order (each
/// recurrence again); one without a fan-out, or of 0s, is refused where it is written.
#[test]
fn stagger_spaces_a_fan_outs_teams() {
    let t = fan_out_of_three(
        "    persona: hm\n    channel: microblog\n    team_id: [blue, red, green]\n    stagger: 2m\n",
    );
    let at: Vec<(String, u64)> = t
        .occurrences
        .iter()
        .map(|o| (o.key.clone(), o.offset.as_secs() / 60))
        .collect();
    let want: Vec<(String, u64)> = [
        ("post#1@blue", 0),
        ("post#1@red", 2),
        ("post#1@green", 4),
        ("post#2@blue", 30),
        ("post#2@red", 32),
        ("post#2@green", 34),
    ]
    .iter()
    .map(|(k, m)| (k.to_string(), *m))
    .collect();
    assert_eq!(at, want);
    // One team: nothing to space; `stagger: null` takes back a merged block's.
    let one = case("    stagger: 2m\n");
    let e = error(
        &one,
        15,
        "`stagger` spaces a fan-out's teams, and inject `ok` goes to one",
    );
    assert!(e.hint.unwrap().contains("two or more teams"));
    let taken_back = case("    stagger: null\n");
    assert!(check(&taken_back).iter().all(|f| f.level != Level::Error));
    let e = error(&case("    stagger: -2m\n"), 15, "bad `stagger`");
    assert!(
        e.hint
            .unwrap()
            .contains("the time between two teams' posts")
    );
    error(
        &case("    stagger: 0s\n"),
        15,
        "`stagger` of 0s spaces nothing",
    );
    error(&case("    stagger: soon\n"), 15, "bad `stagger`");
}

/// `persona: [a, b]` takes turns, occurrence after occurrence (recurrence by recurrence,
/// a fan-out's teams in order); each persona of the list is checked where it is written.
#[test]
fn a_persona_list_takes_turns() {
    let t = fan_out_of_three(
        "    persona: [hm, \"3-49792\"]\n    channel: microblog\n    team_id: [blue, red, green]\n",
    );
    let personas: Vec<(String, String)> = t
        .occurrences
        .iter()
        .map(|o| {
            let body = t.body(o).unwrap();
            (o.key.clone(), body["persona"].as_str().unwrap().to_string())
        })
        .collect();
    let (a, b) = ("3-49786", "3-49792");
    let want = [
        ("post#1@blue", a),
        ("post#1@red", b),
        ("post#1@green", a),
        ("post#2@blue", b),
        ("post#2@red", a),
        ("post#2@green", b),
    ];
    assert_eq!(
        personas,
        want.iter()
            .map(|(k, p)| (k.to_string(), p.to_string()))
            .collect::<Vec<_>>()
    );
    // An unknown one in the list: said at it.
    let bad = case("").replace("    persona: hm\n", "    persona: [hm, hmm]\n");
    let e = error(&bad, 11, "unknown persona `hmm`");
    assert_eq!(e.column, 19);
    error(
        &case("").replace("    persona: hm\n", "    persona: []\n"),
        11,
        "`persona` is an empty list",
    );
}
