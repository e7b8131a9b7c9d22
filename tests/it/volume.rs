//! Authoring at volume (issue 34): seeded jitter, `one_of`, crowds, phases and
//! per-team expectations. Every draw is a function of the seed and the occurrence's
//! key, so plans are byte-identical across runs and machines (a snapshot pins them),
//! and adding an inject moves or changes no other occurrence (a property test).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use crate::common::{injector_in, tempdir, wait_until, write};
use crate::run::ctl;
use crate::slips::{keys_sent, live};

const HEAD: &str = "name: Volume
start: 2026-03-28T09:00:00+00:00
personas: { resident: \"3-1\", tidewatch: \"3-2\", \"@portmere_news\": \"3-3\" }
teams: { blue: 11, red: 12 }
";

fn volume(seed: &str) -> String {
    format!(
        "{HEAD}{seed}defaults: {{ jitter: 90s, channel: microblog, type: team, team_id: blue }}
phases:
  - {{ id: afternoon, at: 3h }}
injects:
  - id: tide-post
    persona: tidewatch
    every: 10m
    count: 12
    jitter: {{ before: 0s, after: 4m }}
    body: \"{{{{ one_of(['Water at the quay again', 'Quay flooded, avoid Harbour Road']) }}}}\"
  - id: pm-brief
    phase: afternoon
    at: 10m
    persona: resident
    jitter: null
    body: Afternoon brief
crowds:
  - id: public-reaction
    between: [20m, 1h10m]
    count: 150
    curve: burst at 35m
    personas: [resident, tidewatch, \"@portmere_news\"]
    posts:
      - \"Anyone know if {{{{ one_of(['the school', 'the hospital', 'the station']) }}}} is open?\"
      - \"{{{{ one_of(['Saw', 'Heard about']) }}}} water over the east wall #Portmere\"
    likes: [0, 40]
    reposts: [0, 10]
"
    )
}

/// Each occurrence's offset and exact body, by key.
fn occurrences(text: &str) -> BTreeMap<String, (Duration, serde_json::Value)> {
    let checked = injector::validate::check(
        "v.yaml",
        Arc::new(text.to_string()),
        None,
        1.0,
        chrono::Utc::now(),
    );
    assert!(
        checked
            .diags
            .items
            .iter()
            .all(|d| d.level != injector::diag::Level::Error),
        "{:?}",
        checked
            .diags
            .items
            .iter()
            .map(|d| &d.message)
            .collect::<Vec<_>>()
    );
    let t = checked.timeline.expect("a timeline");
    t.occurrences
        .iter()
        .map(|o| {
            let body = t.body(o).expect("a body");
            (o.key.clone(), (o.offset, serde_json::Value::Object(body)))
        })
        .collect()
}

#[test]
fn a_seed_gives_the_same_plan_byte_for_byte_and_another_seed_another() {
    let d = tempdir();
    write(d.path(), "v.yaml", &volume("seed: 20260328\n"));
    let plan = |more: &[&str]| {
        let mut args = vec!["plan", "v.yaml", "--format", "json"];
        args.extend_from_slice(more);
        let r = injector_in(d.path(), &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    let v = injector_in(d.path(), &["validate", "v.yaml"]);
    assert!(
        v.stdout.contains("0 error(s), 0 warning(s)"),
        "a crowd's alike posts are no copy-paste: {}{}",
        v.stdout,
        v.stderr
    );
    let first = plan(&[]);
    assert_eq!(first, plan(&[]), "the same file and seed, the same plan");
    assert_eq!(first, plan(&["--seed", "20260328"]));
    // A seed that is no seed is a usage error naming the range (exit 2), for plan and run.
    for (bad, said) in [
        (
            "-1",
            "`-1` is out of range: a seed is a whole number from 0 to 9223372036854775807",
        ),
        ("9223372036854775808", "is out of range"),
        ("seven", "`seven` is not a whole number"),
    ] {
        for args in [
            vec!["plan", "v.yaml", "--seed", bad],
            vec!["run", "v.yaml", "--dry-run", "--seed", bad],
        ] {
            let r = injector_in(d.path(), &args);
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            assert!(r.stderr.contains(said), "{}", r.stderr);
        }
    }
    let other = plan(&["--seed", "7"]);
    assert_ne!(first, other, "another seed draws another plan");
    let doc: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(doc["seed"], 20_260_328);
    // Across machines: the draws are fixed functions, pinned here by their text.
    let text = injector_in(d.path(), &["plan", "v.yaml"]);
    let head: Vec<&str> = text.stdout.lines().take(12).collect();
    insta::assert_snapshot!("volume_plan_head", head.join("\n"));
    // A file without `seed:` draws from its name: the same on every run.
    write(d.path(), "n.yaml", &volume(""));
    let a = injector_in(d.path(), &["plan", "n.yaml", "--format", "json"]);
    let b = injector_in(d.path(), &["plan", "n.yaml", "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn jitter_stays_in_its_bounds_and_never_early_when_asked() {
    let all = occurrences(&volume("seed: 1\n"));
    let mut moved = 0;
    for n in 1..=12u32 {
        let (offset, _) = &all[&format!("tide-post#{n}")];
        let planned = Duration::from_secs(600) * (n - 1);
        assert!(*offset >= planned, "never early: #{n} at {offset:?}");
        assert!(
            *offset <= planned + Duration::from_secs(240),
            "#{n} at {offset:?}"
        );
        moved += usize::from(*offset != planned);
    }
    assert!(moved >= 10, "jitter moves them: {moved} of 12 moved");
    // The defaults' 90s both ways, taken back by `jitter: null`.
    let text = volume("seed: 1\n").replace("    jitter: null\n", "");
    let (brief, _) = &occurrences(&text)["pm-brief"];
    let planned = Duration::from_secs(3 * 3600 + 600);
    assert!(
        *brief >= planned - Duration::from_secs(90) && *brief <= planned + Duration::from_secs(90)
    );
    let (brief, _) = &occurrences(&volume("seed: 1\n"))["pm-brief"];
    assert_eq!(
        *brief, planned,
        "a phase moves it to 3h10m; `jitter: null`, no jitter"
    );
    // Each draw across many seeds stays in [-90s, +90s], and reaches both sides.
    let (mut early, mut late) = (false, false);
    for seed in 0..40 {
        let text = volume(&format!("seed: {seed}\n")).replace("    jitter: null\n", "");
        let (b, _) = occurrences(&text)["pm-brief"].clone();
        assert!(b >= planned - Duration::from_secs(90) && b <= planned + Duration::from_secs(90));
        early |= b < planned;
        late |= b > planned;
    }
    assert!(early && late);
}

#[test]
fn a_crowd_posts_inside_its_window_shaped_by_its_curve() {
    let all = occurrences(&volume("seed: 20260328\n"));
    let crowd: Vec<(&String, &(Duration, serde_json::Value))> = all
        .iter()
        .filter(|(k, _)| k.starts_with("public-reaction#"))
        .collect();
    assert_eq!(crowd.len(), 150);
    let (from, to) = (Duration::from_secs(20 * 60), Duration::from_secs(70 * 60));
    let mut bins = [0usize; 5];
    let mut voices = std::collections::BTreeSet::new();
    let mut texts = std::collections::BTreeSet::new();
    for (key, (offset, body)) in &crowd {
        assert!(*offset >= from && *offset <= to, "{key} at {offset:?}");
        bins[(((*offset - from).as_secs() / 600) as usize).min(4)] += 1;
        voices.insert(body["persona"].as_str().unwrap().to_string());
        texts.insert(body["body"].as_str().unwrap().to_string());
        let likes = body["likes"].as_i64().unwrap();
        assert!((0..=40).contains(&likes), "{key}: {likes} likes");
        assert!((0..=10).contains(&body["reposts"].as_i64().unwrap()));
        assert!(!body["body"].as_str().unwrap().contains("{{"));
    }
    // A burst at 35m: the bin of 30m-40m holds the most, the last the fewest.
    let peak = bins.iter().enumerate().max_by_key(|(_, n)| **n).unwrap().0;
    assert_eq!(peak, 1, "per 10 minutes from 20m: {bins:?}");
    assert!(bins[4] < bins[1], "{bins:?}");
    assert_eq!(voices.len(), 3, "every voice posts: {voices:?}");
    assert!(texts.len() >= 5, "the variants and their one_of: {texts:?}");
    // Numbered in the order they go.
    let mut by_n: Vec<(u32, Duration)> = crowd
        .iter()
        .map(|(k, (o, _))| (k.rsplit('#').next().unwrap().parse().unwrap(), *o))
        .collect();
    by_n.sort();
    assert!(by_n.windows(2).all(|w| w[0].1 <= w[1].1));
    // Rising: more at the end than at the start.
    let rising = occurrences(&volume("").replace("curve: burst at 35m", "curve: rising"));
    let mut bins = [0usize; 5];
    for (k, (o, _)) in &rising {
        if k.starts_with("public-reaction#") {
            bins[(((*o - from).as_secs() / 600) as usize).min(4)] += 1;
        }
    }
    assert!(bins[4] > 2 * bins[0], "rising: {bins:?}");
}

#[test]
fn mistakes_in_a_crowd_are_said_where_they_are() {
    let d = tempdir();
    let bad = volume("")
        .replace("count: 150", "count: 10000000")
        .replace("\"@portmere_news\"]", "tidewach]")
        .replace("is open?", "is {{ wether }}?")
        .replace("likes: [0, 40]", "likes: [40, 0]")
        .replace("curve: burst at 35m", "curve: burst at 2h")
        .replace("phase: afternoon", "phase: afternon");
    write(d.path(), "bad.yaml", &bad);
    let r = injector_in(d.path(), &["validate", "bad.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for said in [
        "a crowd of 10000000 is more than the limit of 1000000 occurrences",
        "unknown persona `tidewach`",
        "did you mean `tidewatch`?",
        "`wether` is undefined",
        "`likes` must be a number or a range [low, high] from 0 up, found [40,0]",
        "unknown phase `afternon`",
        "did you mean `afternoon`?",
    ] {
        assert!(r.stderr.contains(said), "{said}\n{}", r.stderr);
    }
    // The template error is said at the variant's line.
    let line = bad.lines().position(|l| l.contains("wether")).unwrap() + 1;
    assert!(
        r.stderr.contains(&format!("bad.yaml:{line}:")),
        "{}",
        r.stderr
    );
    let odd = volume("seed: -4\n")
        .replace("between: [20m, 1h10m]", "between: [1h, 20m]")
        .replace("count: 150", "rate: 3/fortnight")
        .replace("jitter: 90s,", "jitter: 90,");
    write(d.path(), "odd.yaml", &odd);
    let r = injector_in(d.path(), &["validate", "odd.yaml"]);
    assert_eq!(r.code, 1);
    for said in [
        "`seed` must be a whole number from 0 up, found -4",
        "`between` is empty: its end is not after its start",
        "swap its ends: `between: [20m, 1h]`",
        "bad `rate` `3/fortnight`",
        "bad `jitter`: `90` has no unit",
    ] {
        assert!(r.stderr.contains(said), "{said}\n{}", r.stderr);
    }
}

/// A fan-out with an expected action is judged team by team: `sitrep@blue` and
/// `sitrep@red`; `missed: sitrep` on a fan-out fires for the team that missed.
const PER_TEAM: &str = "name: Per team
personas: { cmd: \"3-49786\" }
teams: { blue: 3437866, red: 3437872 }
defaults: { channel: mail, persona: cmd, type: team }
injects:
  - id: status-report
    at: 1s
    team_id: [blue, red]
    subject: \"Status please, {{ team }}\"
    body: \"inject status-report@{{ team }}\"
    expect:
      id: sitrep
      action: \"{{ team }} sends a status report\"
      within: 10m
  - id: chase
    when: { missed: sitrep }
    team_id: [blue, red]
    subject: \"Still waiting, {{ team }}\"
    body: \"inject chase@{{ team }}\"
  - id: thanks
    when: { met: sitrep@blue }
    team_id: blue
    subject: Thanks
    body: inject thanks
";

#[test]
fn per_team_expectations_show_in_the_plan_and_branch_apart() {
    let d = tempdir();
    write(d.path(), "t.yaml", PER_TEAM);
    let r = injector_in(d.path(), &["plan", "t.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for said in [
        "sitrep@blue  blue",
        "blue sends a status report",
        "red sends a status report",
        "chase@red   missed: sitrep@red",
    ] {
        assert!(r.stdout.contains(said), "{said}\n{}", r.stdout);
    }
    let r = injector_in(
        d.path(),
        &[
            "plan",
            "t.yaml",
            "--assume",
            "missed:sitrep@red,met:sitrep@blue@5m",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("chase@red "), "{}", r.stdout);
    assert!(r.stdout.contains("thanks "), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("chase@blue  `missed: sitrep@blue` can no longer hold"),
        "{}",
        r.stdout
    );
    // The picture draws each team's contingency as its own alternative.
    let r = injector_in(d.path(), &["plan", "t.yaml", "--format", "html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for key in ["chase@blue", "chase@red", "thanks"] {
        assert!(
            r.stdout
                .contains(&format!("<g class=\"alternative\" data-key=\"{key}\">")),
            "{key}"
        );
    }
    // A typo or a team not in the fan-out after `@` is an id, not a time.
    let r = injector_in(
        d.path(),
        &["plan", "t.yaml", "--assume", "missed:sitrep@gren"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "`sitrep` is not judged for `gren`: it is judged per team, `sitrep@blue`, `sitrep@red`"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not a duration"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("e.g. --assume met:sitrep@blue@45m,missed:sitrep@red"),
        "{}",
        r.stderr
    );
    let r = injector_in(d.path(), &["plan", "t.yaml", "--assume", "missed:sitrep"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`sitrep` is judged per team: name one, `sitrep@blue`, `sitrep@red`"),
        "{}",
        r.stderr
    );
    // `{{ team }}` with no team at all is said at the expected action.
    let none = PER_TEAM.replace(
        "    team_id: [blue, red]\n    subject: \"Status",
        "    subject: \"Status",
    );
    write(
        d.path(),
        "none.yaml",
        &none
            .replace(
                "defaults: { channel: mail, persona: cmd, type: team }",
                "defaults: { channel: mail, persona: cmd, type: team, team_id: blue }",
            )
            .replace("{{ team }} sends", "{{ teem }} sends"),
    );
    let r = injector_in(d.path(), &["validate", "none.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("template error in the expected action of `sitrep`"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn per_team_expectations_are_judged_apart_in_a_run() {
    let (s, server, child, control, token) = live(PER_TEAM).await;
    let dir = s.dir.path();
    let fan_out = || keys_sent(&server).len() >= 2;
    wait_until("the fan-out went", Duration::from_secs(20), fan_out).await;
    let blue = ctl(dir, &control, &token, &["--yes", "met", "sitrep@blue"]).await;
    assert_eq!(blue.code, 0, "{}", blue.stderr);
    let red = ctl(dir, &control, &token, &["--yes", "missed", "sitrep@red"]).await;
    assert_eq!(red.code, 0, "{}", red.stderr);
    let branches = || keys_sent(&server).len() >= 4;
    wait_until(
        "red's chase and blue's thanks went",
        Duration::from_secs(20),
        branches,
    )
    .await;
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    let sent = keys_sent(&server);
    let want: std::collections::BTreeSet<String> = [
        "status-report@blue",
        "status-report@red",
        "chase@red",
        "thanks",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(
        sent, want,
        "blue met: no chase for blue; red missed: chase for red"
    );
    let report = injector_in(dir, &["report", "s.journal.jsonl"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(
        report
            .stdout
            .contains("chase@blue  missed: sitrep@blue  not triggered"),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("chase@red   missed: sitrep@red   triggered"),
        "{}",
        report.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn skipping_a_crowd_by_its_id_skips_what_is_left_of_it() {
    // Thirty posts over 10 s; the crowd skipped after the first went.
    let yaml = "name: Crowd
personas: { resident: \"3-49795\", tidewatch: \"3-49790\" }
teams: { blue: 3437866 }
defaults: { channel: microblog, type: team, team_id: blue }
crowds:
  - id: public-reaction
    between: [3s, 12s]
    count: 30
    personas: [resident, tidewatch]
    posts: [\"Water at the quay\", \"Harbour Road closed?\"]
";
    let (s, server, child, control, token) = live(yaml).await;
    let dir = s.dir.path();
    let began = || !crate::run::sent(&server).is_empty();
    wait_until("the crowd began", Duration::from_secs(30), began).await;
    let preview = ctl(dir, &control, &token, &["skip", "public-reaction"]).await;
    assert!(
        preview.stdout.contains("public-reaction#") || preview.stderr.contains("public-reaction#"),
        "{}\n{}",
        preview.stdout,
        preview.stderr
    );
    let skip = ctl(dir, &control, &token, &["--yes", "skip", "public-reaction"]).await;
    assert_eq!(skip.code, 0, "{}", skip.stderr);
    let went = crate::run::sent(&server).len();
    // Each left is journaled skipped as its instant comes.
    let settled = || {
        let journal = std::fs::read_to_string(dir.join("s.journal.jsonl")).unwrap_or_default();
        journal.matches("\"type\":\"skipped\"").count()
            + journal.matches("\"type\":\"sent\"").count()
            >= 30
    };
    wait_until(
        "every post sent or skipped",
        Duration::from_secs(30),
        settled,
    )
    .await;
    assert_eq!(ctl(dir, &control, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    let after = crate::run::sent(&server).len();
    assert!(
        after <= went + 1,
        "at most one in flight went after the skip: {went} then {after}"
    );
    assert!(after < 30);
    let journal = crate::run::journal(dir, "s.journal.jsonl");
    assert!(
        journal.iter().any(|e| e["type"] == "control"
            && e["action"] == "skip"
            && e["key"] == "public-reaction"),
        "the skip of the crowd is journaled"
    );
    let report = injector_in(dir, &["report", "s.journal.jsonl"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let skipped = 30 - after;
    assert!(
        report.stdout.contains(&format!("{after} sent"))
            && report.stdout.contains(&format!("{skipped} skipped")),
        "{}",
        report.stdout
    );
}

#[test]
fn moving_a_phase_by_one_number_moves_exactly_its_injects() {
    let d = tempdir();
    let old = volume("seed: 3\n").replace(
        "  - id: pm-brief\n",
        "  - id: pm-update\n    phase: afternoon\n    every: 15m\n    count: 3\n    persona: resident\n    body: Update\n  - id: pm-brief\n",
    );
    write(d.path(), "old.yaml", &old);
    write(
        d.path(),
        "new.yaml",
        &old.replace("at: 3h }", "at: 3h30m }"),
    );
    let r = injector_in(d.path(), &["diff", "old.yaml", "new.yaml"]);
    assert_eq!(r.code, 1, "changes: {}", r.stderr);
    let moved: std::collections::BTreeSet<String> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("~ "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    let want: std::collections::BTreeSet<String> =
        ["pm-brief", "pm-update#1", "pm-update#2", "pm-update#3"]
            .into_iter()
            .map(String::from)
            .collect();
    assert_eq!(moved, want, "{}", r.stdout);
    assert!(
        r.stdout.contains("0 added, 0 removed, 4 moved, 0 changed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("T+03:10:00 -> T+03:40:00"),
        "{}",
        r.stdout
    );
    let json = injector_in(
        d.path(),
        &["diff", "old.yaml", "new.yaml", "--format", "json"],
    )
    .json();
    assert!(
        json["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["what"] == "moved"),
        "{json:#}"
    );
    // A crowd in the phase moves with it; a contingency takes no jitter.
    let crowd = old.replace(
        "    between: [20m, 1h10m]\n",
        "    phase: afternoon\n    between: [20m, 1h10m]\n",
    );
    let all = occurrences(&crowd);
    assert!(
        all.iter()
            .filter(|(k, _)| k.starts_with("public-reaction#"))
            .all(|(_, (o, _))| *o >= Duration::from_secs(3 * 3600 + 1200))
    );
    write(d.path(), "c.yaml", &old.replace("  - id: pm-brief\n    phase: afternoon\n    at: 10m\n    persona: resident\n    jitter: null\n", "  - id: pm-brief\n    when: { sent: tide-post }\n    after: 2m\n    persona: resident\n    jitter: 1m\n"));
    let r = injector_in(d.path(), &["validate", "c.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("inject `pm-brief` is a contingency: it goes `after:` its condition holds, and takes no jitter"), "{}", r.stderr);
}

#[test]
fn crowds_phases_seed_and_jitter_survive_the_mel_round_trip() {
    let d = tempdir();
    let original = volume("seed: 20260328\n");
    write(d.path(), "v.yaml", &original);
    for (out, format) in [("mel.csv", "csv"), ("mel.xlsx", "xlsx")] {
        let r = injector_in(d.path(), &["export", "v.yaml", "-o", out]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let back = format!("back-{format}.yaml");
        let r = injector_in(d.path(), &["import", out, "-o", &back]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let diff = injector_in(d.path(), &["diff", "v.yaml", &back]);
        assert_eq!(diff.code, 0, "no change: {}\n{}", diff.stdout, diff.stderr);
        let a = injector_in(d.path(), &["plan", "v.yaml", "--format", "json"]);
        let b = injector_in(d.path(), &["plan", &back, "--format", "json"]);
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.contains("\"scenario\""))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            strip(&a.stdout),
            strip(&b.stdout),
            "the same plan, post for post"
        );
    }
    // The crowd is one row of the sheet (its definition), not 150.
    let csv = std::fs::read_to_string(d.path().join("mel.csv")).unwrap();
    assert_eq!(csv.matches("public-reaction").count(), 1, "{csv}");
    assert!(
        csv.contains("between: [20m, 1h10m], count: 150, curve: burst at 35m"),
        "{csv}"
    );
    assert!(csv.contains("Phase,afternoon,3h"), "{csv}");
    assert!(csv.contains("Seed,20260328"), "{csv}");
}

/// A scenario of `n` jittered injects (some with `one_of`) and a small crowd.
fn generated(n: usize, seed: u64) -> String {
    let mut s = format!(
        "{HEAD}seed: {seed}\ndefaults: {{ jitter: 2m, channel: microblog, type: team, team_id: [blue, red], persona: resident }}\ninjects:\n"
    );
    for i in 0..n {
        s.push_str(&format!(
            "  - id: i{i}\n    every: 7m\n    from: {}m\n    count: 3\n    body: \"{{{{ one_of(['a{i}', 'b{i}', 'c{i}']) }}}} {i}\"\n",
            i * 3
        ));
    }
    s.push_str(
        "crowds:\n  - id: crowd\n    between: [5m, 50m]\n    count: 20\n    personas: [resident, tidewatch]\n    posts: [\"x {{ one_of(['p', 'q']) }}\", \"y\"]\n    likes: [0, 9]\n",
    );
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Adding an inject anywhere (with its own draws) moves or changes no other
    /// occurrence: draws are keyed by occurrence, never by position.
    #[test]
    fn adding_an_inject_changes_no_other_occurrence(n in 1usize..6, at in 0usize..6, seed in 0u64..1000) {
        let before = generated(n, seed);
        let added = "  - id: added\n    every: 5m\n    count: 4\n    jitter: { before: 1m, after: 3m }\n    body: \"{{ one_of(['new', 'fresh']) }}\"\n";
        // Insert it before inject `at` (or at the end).
        let mut lines: Vec<&str> = before.lines().collect();
        let place = lines
            .iter()
            .position(|l| *l == format!("  - id: i{}", at.min(n)))
            .unwrap_or_else(|| lines.iter().position(|l| *l == "crowds:").unwrap());
        lines.insert(place, added.trim_end());
        let after = lines.join("\n") + "\n";
        let (a, b) = (occurrences(&before), occurrences(&after));
        prop_assert_eq!(b.len(), a.len() + 8);
        for (key, was) in &a {
            prop_assert_eq!(Some(was), b.get(key), "{} moved or changed", key);
        }
    }
}

/// A list of personas takes turns on a one-team recurrence too, whose bodies are
/// otherwise built once and shared but for `ts`.
#[test]
fn a_persona_list_takes_turns_on_a_recurrence_without_templates() {
    let text = format!(
        "{HEAD}defaults: {{ channel: microblog, type: team, team_id: blue }}\ninjects:\n  - id: r\n    every: 5m\n    count: 4\n    persona: [resident, tidewatch]\n    body: the same text\n"
    );
    let all = occurrences(&text);
    let voices: Vec<&str> = (1..=4)
        .map(|n| all[&format!("r#{n}")].1["persona"].as_str().unwrap())
        .collect();
    assert_eq!(voices, ["3-1", "3-2", "3-1", "3-2"]);
}
