//! The after-action report a director hands over: an exercise day of the example run
//! live against the stand-in by a director, a controller and an evaluator (a hold, a
//! hand-fired inject, a skip, a kill -9 and a resume, a judgment, ratings and notes),
//! its report's facts asserted in every format; the same day's journal (kept as a
//! fixture) pinned by snapshots; one regression test per defect a director met.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{fixture, injector, injector_in, scenario, tempdir, write};
use crate::run::{TOKEN, command, ctl, journal, stand_in, t0_in};
use crate::white_cell::add_controllers;

/// Start a live run of `harbour-flood.yaml` at speed 300 against `base`, steered through
/// `--control` by the controllers file; the child and its control URL.
async fn start(dir: &Path, base: &str, extra: &[&str]) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut args = vec![
        "run",
        "harbour-flood.yaml",
        "--base-url",
        base,
        "--token-file",
        "token",
        "--journal",
        "day.jsonl",
        "--speed",
        "300",
        "--control",
        "127.0.0.1:0",
        "--controllers",
        "controllers.yaml",
    ];
    args.extend_from_slice(extra);
    let mut child = command(dir, &args, &[]).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(u) = line.strip_prefix("control: ") {
            url = u.trim().to_string();
        }
        if line.starts_with("control page: ") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    assert!(!url.is_empty(), "the run printed its control URL");
    (child, url)
}

/// Wait (up to a minute) until the journal says occurrence `key` was sent.
async fn until_sent(dir: &Path, key: &str) {
    for _ in 0..600 {
        let text = std::fs::read_to_string(dir.join("day.jsonl")).unwrap_or_default();
        if text.lines().any(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["type"] == "sent" && v["key"] == key)
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{key} was never sent");
}

/// `ctl --yes ARGS` as someone with `token`; must succeed.
async fn act(dir: &Path, url: &str, token: &str, args: &[&str]) {
    let mut full = vec!["--yes"];
    full.extend_from_slice(args);
    let run = ctl(dir, url, token, &full).await;
    assert_eq!(run.code, 0, "ctl {args:?}: {}{}", run.stdout, run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exercise_day_reported_as_a_director_hands_it_over() {
    let server = stand_in(injector::stand_in::Faults::default()).await;
    let base = server.base_url();
    let dir = tempdir();
    let d = dir.path();
    std::fs::copy(scenario("harbour-flood.yaml"), d.join("harbour-flood.yaml")).unwrap();
    write(d, "token", &format!("{TOKEN}\n"));
    let tokens = add_controllers(
        d,
        &[
            ("Dana", "director"),
            ("Cory", "controller"),
            ("Eve", "evaluator"),
        ],
    );
    let (dana, cory, eve) = (&tokens[0], &tokens[1], &tokens[2]);
    let t0 = t0_in(2);
    let (mut child, url) = start(d, &base, &["--start-at", &t0]).await;

    // Before T+15m: Cory fires the mayor's statement (planned T+40m) by hand; Eve notes
    // a strength; an evaluator may not fire.
    act(d, &url, cory, &["fire", "mayor-statement"]).await;
    act(
        d,
        &url,
        eve,
        &[
            "note",
            "Crisis cell convened within 3 minutes",
            "--objective",
            "O1",
            "--strength",
        ],
    )
    .await;
    let refused = ctl(d, &url, eve, &["--yes", "fire", "tide-post-1"]).await;
    assert_ne!(refused.code, 0, "an evaluator may not fire");
    assert!(refused.stderr.contains("evaluator"), "{}", refused.stderr);
    // A hold of a second and a half (seven and a half minutes of the exercise).
    until_sent(d, "harbour-status").await;
    act(d, &url, dana, &["hold"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    act(d, &url, dana, &["resume"]).await;
    act(d, &url, cory, &["skip", "resident-question"]).await;
    // The decision the evacuation order asks for, judged met by Cory; before it, the
    // status lists the rows in the order they went or go (the statement fired by hand
    // first).
    until_sent(d, "evacuation-order").await;
    let status = ctl(d, &url, dana, &["status"]).await;
    let times: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.starts_with("T+0") || l.starts_with("T+1") || l.starts_with("T+2"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let unordered: Vec<&[&str]> = times.windows(2).filter(|w| w[0] > w[1]).collect();
    assert!(
        times.len() > 50 && unordered.is_empty(),
        "{unordered:?}: {}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .lines()
            .nth(2)
            .unwrap()
            .contains(" mayor-statement "),
        "{}",
        status.stdout
    );
    act(
        d,
        &url,
        cory,
        &["met", "evacuation-ordered", "--note", "ordered by radio"],
    )
    .await;
    // kill -9 after the status requests, two seconds down.
    until_sent(d, "status-request@green").await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (child, url) = start(d, &base, &["--resume"]).await;
    for (objective, rating, note) in [
        ("O1", "M", "warning reached the press office late"),
        (
            "O1",
            "S",
            "warning out in time; the hotline was slow to staff",
        ),
        (
            "O2",
            "P",
            "evacuation ordered inside the police's 15 minutes",
        ),
        ("O3", "U", "no statement before the story ran"),
    ] {
        act(d, &url, eve, &["rate", objective, rating, "--note", note]).await;
    }
    act(
        d,
        &url,
        eve,
        &[
            "note",
            "No holding statement ready for the press",
            "--objective",
            "O3",
            "--improvement",
        ],
    )
    .await;
    // Everything still to come a second later (five minutes of the exercise).
    act(d, &url, dana, &["shift", "1s"]).await;
    until_sent(d, "debrief-call").await;
    act(d, &url, dana, &["end"]).await;
    let _ = child.wait_with_output().await;
    server.shutdown(Duration::from_secs(1)).await;
    if let Ok(keep) = std::env::var("INJECTOR_KEEP_DAY") {
        std::fs::copy(d.join("day.jsonl"), keep).unwrap();
    }

    let doc = injector_in(d, &["report", "day.jsonl", "--format", "json"]).json();
    facts_of_the_day(&doc);
    for format in ["text", "csv", "html"] {
        let run = injector_in(d, &["report", "day.jsonl", "--format", format]);
        run.code(0);
        assert!(run.stdout.contains("fired by hand by Cory"), "{format}");
        let ended = if format == "csv" {
            "end,,Dana,"
        } else {
            "ended by Dana"
        };
        assert!(run.stdout.contains(ended), "{format}: {}", run.stdout);
        assert!(!run.stdout.contains(dana.as_str()) && !run.stdout.contains(TOKEN));
    }
    let journal_text = std::fs::read_to_string(d.join("day.jsonl")).unwrap();
    for secret in [dana, cory, eve] {
        assert!(
            !journal_text.contains(secret.as_str()),
            "no token in the journal"
        );
    }
    assert!(
        journal(d, "day.jsonl")
            .iter()
            .any(|l| l["rating"] == "S" && l["by"] == "Eve")
    );
}

/// What the day's report must say, whatever its exact instants.
fn facts_of_the_day(doc: &Value) {
    let rows = doc["rows"].as_array().unwrap();
    let row = |key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no row {key}"))
    };
    // In the order they went (or were due): the hand-fired statement first among the
    // early ones, never-due rows last.
    let times: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["sent_at"].as_str().or(r["planned_at"].as_str()))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    let due: Vec<&Value> = rows
        .iter()
        .filter(|r| r["status"] != "not triggered")
        .collect();
    assert!(
        due.windows(2).all(|w| {
            let t = |r: &Value| {
                r["sent_at"]
                    .as_str()
                    .or(r["planned_at"].as_str())
                    .map(String::from)
            };
            t(w[0]) <= t(w[1])
        }),
        "rows in the order they went"
    );
    // Scenario time, not elapsed wall time: the run took under a minute.
    assert_eq!(row("final-popup")["offset"], "T+02:55:00");
    assert_eq!(row("met-warning")["offset"], "T+00:00:00");
    let statement = row("mayor-statement");
    assert_eq!(statement["offset"], "T+00:40:00");
    assert_eq!(statement["fired_by_hand"], true);
    assert_eq!(statement["by"], "Cory");
    let how = statement["how"].as_str().unwrap();
    assert!(
        how.starts_with("fired by hand by Cory (command), ")
            && how.ends_with(" early (exercise time)"),
        "{how}"
    );
    assert!(statement["sent_t_plus"].as_str().unwrap() < "T+00:15:00");
    let skipped = row("resident-question");
    assert_eq!(skipped["status"], "skipped");
    assert!(skipped["sent_at"].is_null() && skipped["sent_local"].is_null());
    assert_eq!(skipped["how"], "skipped by Cory (command)");
    let not_triggered = row("flood-worsens");
    assert_eq!(not_triggered["status"], "not triggered");
    assert!(not_triggered["sent_at"].is_null() && not_triggered["offset"].is_null());
    assert_eq!(rows.last().unwrap()["status"], "not triggered");
    assert!(
        row("police-confirm")["how"]
            .as_str()
            .unwrap()
            .starts_with("contingency (when met: evacuation-ordered): triggered at T+01:")
    );
    assert!(
        rows.iter()
            .any(|r| r["how"].as_str().unwrap().contains("after a hold of 1."))
    );
    // The restart: its downtime, what was due while down, said on those rows.
    let restarts = doc["restarts"].as_array().unwrap();
    assert_eq!(restarts.len(), 1);
    assert!(restarts[0]["downtime_ms"].as_i64().unwrap() >= 2000);
    let late = restarts[0]["late"].as_array().unwrap();
    assert!(!late.is_empty(), "something was due while down");
    let first_late = row(late[0].as_str().unwrap());
    assert!(
        first_late["how"]
            .as_str()
            .unwrap()
            .contains("after a restart (down ")
    );
    // Ended by the director with nothing left: completed, once.
    assert_eq!(doc["outcome"]["word"], "completed");
    assert_eq!(doc["outcome"]["ended_by"], "Dana");
    let ends = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["what"] == "end" || a["what"] == "stop")
        .count();
    assert_eq!(ends, 1, "the end said once");
    // The judgment: who, the players' response time, what followed.
    let x = &doc["expectations"][0];
    assert_eq!(x["id"], "evacuation-ordered");
    assert_eq!(
        (&x["outcome"], &x["by"]),
        (&Value::from("met"), &Value::from("Cory"))
    );
    assert!(x["response"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        x["then"]
            .as_array()
            .unwrap()
            .contains(&Value::from("police-confirm triggered"))
    );
    // The objectives: the latest rating of each evaluator, the earlier as history; the
    // improvement plan from the improvement note.
    let o1 = &doc["objectives"][0];
    assert_eq!(o1["id"], "O1");
    assert_eq!(o1["ratings"][0]["rating"], "S");
    assert_eq!(o1["ratings"][0]["by"], "Eve");
    assert!(
        o1["ratings"][0]["history"][0]
            .as_str()
            .unwrap()
            .starts_with("M at ")
    );
    assert!(
        o1["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("[strength] Crisis cell convened")
    );
    let plan = doc["improvement_plan"].as_array().unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0]["objective"], "O3");
    assert_eq!(plan[0]["area"], "No holding statement ready for the press");
    assert_eq!(plan[0]["rating"], "U (Eve)");
    let summary = doc["summary"].as_array().unwrap();
    let said = |needle: &str| summary.iter().any(|s| s.as_str().unwrap().contains(needle));
    assert!(said("; held 1.") && said(" s in 1 hold"), "{summary:?}");
    assert!(
        said("1 fired by hand ahead of time") && said("1 skipped (by Cory)"),
        "{summary:?}"
    );
    assert!(
        said("1 restart: down ")
            && said("Who acted: Cory, Eve, Dana")
            && said("; shifted 1 s later"),
        "{summary:?}"
    );
}

/// The fixture: a journal of the same day (kept from a run of the test above).
fn day() -> String {
    fixture("journals/exercise-day.jsonl")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_days_report_in_every_format() {
    for (format, name) in [
        ("text", "day_text"),
        ("csv", "day_csv"),
        ("json", "day_json"),
        ("html", "day_html"),
    ] {
        let run = injector(&["report", &day(), "--format", format]);
        run.code(0);
        insta::assert_snapshot!(name, run.stdout);
    }
    let doc = injector(&["report", &day(), "--format", "json"]).json();
    facts_of_the_day(&doc);
}

/// The day's report, as `format`.
fn day_report(format: &str) -> String {
    let run = injector(&["report", &day(), "--format", format]);
    run.code(0);
    run.stdout.clone()
}

// One regression test per defect a director met reading the old report.

#[test]
fn rows_are_in_time_order_not_contingencies_second() {
    let doc = injector(&["report", &day(), "--format", "json"]).json();
    let keys: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    // The branch of the evacuation order goes after the order, the chaser after its
    // query; the not-triggered branch last.
    assert!(at("police-confirm") > at("evacuation-order"), "{keys:?}");
    assert!(at("press-chaser") > at("press-query"), "{keys:?}");
    assert!(at("met-warning") < at("brief-per-team@blue"), "{keys:?}");
    assert_eq!(keys.last(), Some(&"flood-worsens"));
    let text = day_report("text");
    let table = &text[text.find("occurrences, in the order they went:").unwrap()..];
    assert!(table.find("police-confirm").unwrap() > table.find("evacuation-order").unwrap());
}

#[test]
fn t_plus_is_scenario_time_not_elapsed_wall_time() {
    // The day ran at speed 300: under a minute of wall time, 2h55m of the exercise.
    let text = day_report("text");
    let last = text.lines().find(|l| l.contains(" final-popup ")).unwrap();
    assert!(last.starts_with("T+02:55:00 "), "{last}");
    assert!(text.contains("at 300× speed"), "{text}");
}

#[test]
fn a_hand_fired_inject_says_it_was_fired_by_hand_by_whom_and_how_early() {
    let text = day_report("text");
    let line = text
        .lines()
        .find(|l| l.contains(" mayor-statement "))
        .unwrap();
    assert!(line.starts_with("T+00:40:00 "), "planned T+ kept: {line}");
    assert!(
        line.contains("fired by hand by Cory (command), ")
            && line.ends_with(" early (exercise time)"),
        "{line}"
    );
    let html = day_report("html");
    assert!(
        html.contains("data-key=\"mayor-statement\" data-status=\"sent\" data-by-hand=\"true\"")
    );
}

#[test]
fn a_not_triggered_contingency_has_no_send_time_and_no_unexplained_bar() {
    let text = day_report("text");
    let line = text
        .lines()
        .find(|l| l.contains(" flood-worsens "))
        .unwrap();
    assert!(
        line.trim_start().starts_with("- "),
        "no T+, no send time: {line}"
    );
    assert!(line.contains("not triggered"), "{line}");
    let html = day_report("html");
    assert!(
        !html.contains("<g class=\"mark\" data-key=\"flood-worsens\""),
        "no mark"
    );
    // The hold and the downtime are drawn, as bands the legend names.
    assert!(
        html.contains("<g class=\"band hold\"><title>held 1.5 s</title>"),
        "a hold band"
    );
    assert!(html.contains("<g class=\"band down\"><title>down 2.1 s (a restart)</title>"));
    // Every mark the timeline draws is in its legend.
    for mark in [
        "span",
        "deadline",
        "judgment",
        "note",
        "not triggered",
        "skipped",
        "hold",
        "down",
    ] {
        assert!(html.contains(&format!("data-mark=\"{mark}\"")), "{mark}");
    }
}

#[test]
fn a_director_ended_run_with_everything_handled_is_completed_and_ends_once() {
    let text = day_report("text");
    let title = text.lines().next().unwrap();
    assert!(
        title.starts_with("Operation Harbour Flood — ended by Dana (command) at ")
            && title.ends_with("; completed"),
        "{title}"
    );
    assert!(!text.contains("unfinished"), "{text}");
    let actions = &text[text.find("what the run and the white cell did:").unwrap()..];
    let ends = actions
        .lines()
        .filter(|l| l.contains("  end  ") || l.contains("  stop  "))
        .count();
    assert_eq!(ends, 1, "{actions}");
}

#[test]
fn a_crash_shows_its_downtime_not_only_a_restart() {
    let text = day_report("text");
    let restarts = &text[text.find("\nrestarts:\n").unwrap()..];
    let row = restarts.lines().nth(3).unwrap();
    assert!(
        row.contains(" 2.1 s ") && row.contains("news-evacuation"),
        "{row}"
    );
    assert!(text.contains("1 restart: down 2.1 s in all; 3 occurrences were due while down."));
    assert!(
        text.lines()
            .any(|l| l.contains(" news-evacuation ") && l.ends_with("after a restart (down 2.1 s)"))
    );
}

#[test]
fn the_expected_actions_say_who_judged_when_and_how_fast() {
    let text = day_report("text");
    let table = &text[text.find("expected actions:").unwrap()..];
    let header = table.lines().nth(1).unwrap();
    assert!(header.contains("JUDGED BY") && header.contains("RESPONSE") && header.contains("THEN"));
    let line = table
        .lines()
        .find(|l| l.starts_with("evacuation-ordered"))
        .unwrap();
    assert!(
        line.contains("met")
            && line.contains("Cory (command)")
            && line.contains("police-confirm triggered"),
        "{line}"
    );
    assert!(line.contains("ordered by radio"), "{line}");
}

#[test]
fn the_csv_has_a_kind_a_subject_judgments_and_notes_in_their_own_columns() {
    let csv = day_report("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let kinds: std::collections::BTreeSet<&str> = rows.iter().map(|r| &r[col("kind")]).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "action",
            "improvement",
            "judgment",
            "note",
            "occurrence",
            "rating"
        ]
    );
    let of = |kind: &str, key: &str| {
        rows.iter()
            .find(|r| &r[col("kind")] == kind && &r[col("key")] == key)
            .unwrap_or_else(|| panic!("no {kind} {key}"))
    };
    let warning = of("occurrence", "met-warning");
    assert_eq!(
        &warning[col("subject")],
        "Amber warning: storm surge for Portmere"
    );
    assert_eq!(&warning[col("persona")], "met_office (3-49796)");
    let judged = of("judgment", "evacuation-ordered");
    assert_eq!(&judged[col("status")], "met");
    assert_eq!(&judged[col("by")], "Cory");
    assert_eq!(&judged[col("text")], "ordered by radio");
    let note = rows
        .iter()
        .find(|r| &r[col("kind")] == "note" && r[col("text")].starts_with("Crisis cell"))
        .unwrap();
    assert_eq!(
        (&note[col("persona")], &note[col("to")]),
        ("", ""),
        "nothing in the wrong column"
    );
    assert_eq!(&note[col("status")], "strength");
    assert_eq!(&note[col("objectives")], "O1");
    let rated = rows.iter().filter(|r| &r[col("kind")] == "rating").count();
    assert_eq!(rated, 4);
    let plan = of("improvement", "O3");
    assert_eq!(
        &plan[col("text")],
        "No holding statement ready for the press"
    );
    assert_eq!(&plan[col("status")], "U (Eve)");
    assert_eq!(
        &plan[col("how")],
        "capability: Public Information and Warning"
    );
}

#[test]
fn lateness_and_shifts_are_in_peoples_units() {
    for format in ["text", "html", "csv"] {
        let out = day_report(format);
        let raw_ms = out
            .split(|c: char| c.is_whitespace() || c == ',' || c == '"')
            .zip(
                out.split(|c: char| c.is_whitespace() || c == ',' || c == '"')
                    .skip(1),
            )
            .any(|(n, unit)| {
                unit == "ms"
                    && n.trim_start_matches(['+', '-'])
                        .parse::<f64>()
                        .is_ok_and(|v| v >= 1000.0)
            });
        assert!(!raw_ms, "{format}: no milliseconds past a second");
        assert!(!out.contains("000.000 s"), "{format}");
    }
    let text = day_report("text");
    assert!(text.contains("; shifted 1 s later"), "{text}");
    assert!(
        text.contains("lateness of the sends (wall clock): median +"),
        "{text}"
    );
}

#[test]
fn an_old_journal_still_reports_without_objectives() {
    let run = injector(&[
        "report",
        fixture("journals/complete.jsonl").to_str().unwrap(),
        "--format",
        "json",
    ]);
    run.code(0);
    let doc = run.json();
    assert_eq!(doc["objectives"], serde_json::json!([]));
    assert_eq!(doc["improvement_plan"], serde_json::json!([]));
    assert_eq!(doc["rows"].as_array().unwrap().len(), 4);
    let text = injector(&[
        "report",
        fixture("journals/complete.jsonl").to_str().unwrap(),
    ]);
    assert!(!text.stdout.contains("objectives:") && !text.stdout.contains("improvement plan"));
}

/// The AAR as printed: Chromium (over WebDriver) lays the page out for print at A4's
/// width, nothing runs off the right edge, no row is cut across pages, and it prints
/// to a PDF; a screenshot of the print layout is kept.
#[tokio::test(flavor = "multi_thread")]
async fn the_aar_prints_on_a4_without_cut_rows() {
    use base64::Engine as _;
    let dir = tempdir();
    let html = dir.path().join("aar.html");
    std::fs::write(&html, day_report("html")).unwrap();
    let profile = tempdir();
    let driver = crate::control_page::Driver::start(profile.path()).await;
    driver
        .session(
            "POST",
            "/goog/cdp/execute",
            Some(serde_json::json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": "print"}})),
        )
        .await;
    // A4 less 12 mm margins each side, at 96 px to the inch: 186 mm, 703 px.
    driver
        .session(
            "POST",
            "/window/rect",
            Some(serde_json::json!({"width": 703 + 16, "height": 1000})),
        )
        .await;
    driver
        .session(
            "POST",
            "/url",
            Some(serde_json::json!({"url": format!("file://{}", html.display())})),
        )
        .await;
    let facts = driver
        .session(
            "POST",
            "/execute/sync",
            Some(
                serde_json::json!({"script": "const d = document.documentElement; \
                const rows = [...document.querySelectorAll('tr')]; \
                return {width: d.clientWidth, scroll: d.scrollWidth, rows: rows.length, \
                  uncut: rows.filter(r => getComputedStyle(r).breakInside === 'avoid').length, \
                  print: matchMedia('print').matches};", "args": []}),
            ),
        )
        .await;
    assert_eq!(facts["print"], true, "laid out for print: {facts}");
    assert!(
        facts["scroll"].as_i64() <= facts["width"].as_i64(),
        "nothing off the edge: {facts}"
    );
    assert!(facts["rows"].as_i64().unwrap() > 60, "{facts}");
    assert_eq!(
        facts["uncut"], facts["rows"],
        "no row cut across pages: {facts}"
    );
    let shot = driver.session("GET", "/screenshot", None).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    std::fs::write(crate::report::artifacts().join("aar-print.png"), &png).unwrap();
    let pdf = driver
        .session(
            "POST",
            "/print",
            Some(serde_json::json!({"page": {"width": 21.0, "height": 29.7}, "background": true})),
        )
        .await;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(pdf.as_str().unwrap_or_else(|| panic!("no PDF: {pdf}")))
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    std::fs::write(crate::report::artifacts().join("aar.pdf"), &pdf).unwrap();
    driver.session("DELETE", "", None).await;
}

/// A judgment made before its inject went has no response time, and says so; an area for
/// improvement noted without an objective is still in the improvement plan; a hand-fired
/// send is not counted on time.
#[test]
fn a_judgment_ahead_of_its_inject_and_an_improvement_of_no_objective() {
    let journal = r#"{"type":"run","run_id":"22222222-0000-0000-0000-000000000000","scenario":"s.yaml","name":"Early","scenario_sha256":"ab","t0":"2026-03-28T09:00:00+00:00","speed":1.0,"base_url":"stand-in (dry run)","dry_run":true,"started_at":"2026-03-28T08:59:59+00:00","injector_version":"0.1.0","occurrences":2,"plan":[{"key":"call","planned_at":"2026-03-28T09:10:00.000000Z","channel":"mail","persona":"3-1","to":"team 1","digest":"a1","t_plus_ms":600000,"subject":"Decide now"},{"key":"news","planned_at":"2026-03-28T09:20:00.000000Z","channel":"websites","persona":"3-1","to":"team 1","digest":"a2","t_plus_ms":1200000,"subject":"A very long headline that a table shortens but a spreadsheet keeps whole"}],"expectations":[{"id":"decided","action":"Blue decides","deadline":"20m after call is sent","inject":"call"}]}
{"type":"control","at":"2026-03-28T09:02:00.000000Z","action":"met","key":"decided","source":"page","by":"cory"}
{"type":"control","at":"2026-03-28T09:03:00.000000Z","action":"fire","key":"news","source":"page","by":"cory"}
{"type":"sending","key":"news","planned_at":"2026-03-28T09:03:00.000000Z","at":"2026-03-28T09:03:00.000000Z"}
{"type":"sent","key":"news","status":200,"message_id":"m1","planned_at":"2026-03-28T09:03:00.000000Z","sent_at":"2026-03-28T09:03:00.001000Z","lateness_ms":1.0,"attempts":1,"possible_duplicate":false,"late":false}
{"type":"note","at":"2026-03-28T09:04:00.000000Z","text":"Nobody owned the press line","tag":"improvement","source":"command","by":"eve"}
{"type":"sending","key":"call","planned_at":"2026-03-28T09:10:00.000000Z","at":"2026-03-28T09:10:00.000000Z"}
{"type":"sent","key":"call","status":200,"message_id":"m2","planned_at":"2026-03-28T09:10:00.000000Z","sent_at":"2026-03-28T09:10:00.001000Z","lateness_ms":1.0,"attempts":1,"possible_duplicate":false,"late":false}
{"type":"end","at":"2026-03-28T09:11:00.000000Z","reason":"completed","summary":{"sent":2,"failed":0,"skipped":0,"uncertain":0,"possible_duplicates":0,"late":0,"pending":0}}
"#;
    let dir = tempdir();
    write(dir.path(), "j.jsonl", journal);
    let doc = injector_in(dir.path(), &["report", "j.jsonl", "--format", "json"]).json();
    let x = &doc["expectations"][0];
    assert_eq!(x["response"], "judged before call went");
    assert!(x["response_ms"].is_null());
    assert!(
        doc["improvement_plan"][0]["objective"].is_null(),
        "none named"
    );
    assert_eq!(
        doc["improvement_plan"][0]["area"],
        "Nobody owned the press line"
    );
    let news = &doc["rows"][0];
    assert_eq!(news["key"], "news");
    assert_eq!(
        news["planned_at"], "2026-03-28T09:20:00.000000Z",
        "the plan's instant"
    );
    assert!(news["lateness"].is_null());
    assert_eq!(news["how"], "fired by hand by cory (page), 17m early");
    let summary = doc["summary"].as_array().unwrap();
    assert!(
        summary[1]
            .as_str()
            .unwrap()
            .contains("2 sent (1 on time, 1 fired by hand ahead of time)"),
        "{summary:?}"
    );
    let text = injector_in(dir.path(), &["report", "j.jsonl"]).stdout;
    assert!(
        text.contains("A very long headline that a table shortens but …"),
        "{text}"
    );
    assert!(text.contains("improvement plan:"), "{text}");
    let csv = injector_in(dir.path(), &["report", "j.jsonl", "--format", "csv"]).stdout;
    assert!(
        csv.contains(",A very long headline that a table shortens but a spreadsheet keeps whole,")
    );
    assert!(
        csv.contains(",2026-03-28 09:03:00 +00:00,"),
        "whole dates: {csv}"
    );
}
