//! The after-action report: snapshots of text and CSV, and the HTML page in a real browser.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{fixture, injector, injector_in, root, scenario, tempdir};

#[test]
fn text_and_csv_of_a_complete_run() {
    let path = fixture("journals/complete.jsonl");
    let run = injector(&["report", path.to_str().unwrap()]);
    run.code(0);
    insta::assert_snapshot!("complete_text", run.stdout);
    let run = injector(&["report", path.to_str().unwrap(), "--format", "csv"]);
    run.code(0);
    insta::assert_snapshot!("complete_csv", run.stdout);
}

#[test]
fn a_crashed_dry_run_with_a_torn_line() {
    let path = fixture("journals/crashed.jsonl");
    let run = injector(&["report", path.to_str().unwrap()]);
    run.code(0);
    assert!(
        run.stderr.contains("line 5: torn last line"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!("crashed_text", run.stdout);
    let run = injector(&["report", path.to_str().unwrap(), "--format", "json"]);
    let doc = run.json();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["finished"], false);
    assert_eq!(doc["totals"]["sent"], 1);
    assert_eq!(doc["totals"]["uncertain"], 1);
    assert_eq!(doc["totals"]["pending"], 1);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 1);
}

#[test]
fn not_a_journal() {
    let dir = tempdir();
    std::fs::write(dir.path().join("x.jsonl"), "hello\n").unwrap();
    let run = injector_in(dir.path(), &["report", "x.jsonl"]);
    run.code(2);
    assert!(
        run.stderr
            .contains("x.jsonl is not a journal: it holds no run")
            && run
                .stderr
                .contains(".dry-run.journal.jsonl for a rehearsal"),
        "{}",
        run.stderr
    );
    injector_in(dir.path(), &["report", "missing.jsonl"]).code(2);
}

/// Debian's chromium, headless, as root, with no network chatter.
fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new(crate::common::tool("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

pub(crate) fn artifacts() -> PathBuf {
    let dir = root().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_html_report_in_a_real_browser() {
    // A real dry run of the full example, then its report.
    let dir = tempdir();
    let scenario = scenario("harbour-flood.yaml");
    let run = injector_in(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--dry-run",
            "--speed",
            "3000",
            "--format",
            "json",
        ],
    );
    run.code(0);
    let html = dir.path().join("report.html");
    injector_in(
        dir.path(),
        &[
            "report",
            "harbour-flood.dry-run.journal.jsonl",
            "--format",
            "html",
            "-o",
            html.to_str().unwrap(),
        ],
    )
    .code(0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://") || !page.contains("<link"),
        "self-contained"
    );
    assert!(
        !page.contains("<script src") && !page.contains("<link"),
        "no external resources"
    );

    let profile = tempdir();
    let dom = chromium(
        &["--dump-dom", &format!("file://{}", html.display())],
        profile.path(),
    );
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let marks = dom.matches("<g class=\"mark\"").count();
    // 94 planned (40 of them the crowd's); of the 4 contingencies, nobody judged: the evacuation and the shelters
    // expired (their branches sent), the press chaser followed its query, the police
    // confirmation was not triggered (no instant: no mark).
    assert_eq!(
        marks, 97,
        "one mark per occurrence that was due in the browser's DOM"
    );
    assert_eq!(dom.matches("data-status=\"sent\"><title>").count(), 97);
    assert_eq!(
        dom.matches("<tr class=\"row\"").count(),
        98,
        "a row per occurrence"
    );
    assert!(
        dom.contains("data-occurrences=\"98\" data-sent=\"97\" data-failed=\"0\""),
        "totals"
    );
    assert!(dom.contains(
        "<tr class=\"expectation\" data-id=\"evacuation-ordered\" data-outcome=\"expired\""
    ));
    assert!(dom.contains(
        "<tr class=\"contingency\" data-inject=\"police-confirm\" data-outcome=\"not triggered\""
    ));
    assert!(dom.contains(
        "<tr class=\"contingency\" data-inject=\"flood-worsens\" data-outcome=\"triggered\""
    ));
    // In the timeline: each deadline, and each judgment where it fell.
    assert!(dom.contains("<g class=\"deadline\" data-id=\"evacuation-ordered\">"));
    assert!(
        dom.contains("<g class=\"judgment\" data-id=\"shelters-opened\" data-outcome=\"expired\">")
    );
    for key in [
        "met-warning",
        "brief-per-team@blue",
        "gauge-reading#8",
        "final-popup",
    ] {
        assert!(dom.contains(&format!("data-key=\"{key}\"")), "{key}");
    }
    // In the controller's words: the scenario's name as the title, aliases beside ids,
    // T+ offsets, and a colour of its own for every status.
    assert!(
        dom.contains(">Operation Harbour Flood — dry run — completed</h1>"),
        "the scenario's name as the title"
    );
    assert!(
        dom.contains("<th>T+</th>") && dom.contains("T+00:00:00"),
        "offsets"
    );
    assert!(
        dom.contains("tidewatch (3-"),
        "a persona's alias beside its id"
    );
    let legend: Vec<&str> = report_colours(&dom);
    let mut distinct = legend.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(legend.len(), 8, "{legend:?}");
    assert_eq!(distinct.len(), 8, "every status its own colour: {legend:?}");
    // Every kind of mark the timeline draws is in the legend.
    for mark in ["span", "deadline", "judgment", "note"] {
        assert!(
            dom.contains(&format!("data-mark=\"{mark}\"")),
            "{mark} in the legend"
        );
    }

    let shot = artifacts().join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,1400",
            &format!("file://{}", html.display()),
        ],
        profile.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.len() > 10_000 && png.starts_with(b"\x89PNG"),
        "a real picture"
    );
}

#[test]
fn the_fixture_report_page_marks_every_status() {
    let path = fixture("journals/complete.jsonl");
    let dir = tempdir();
    let html = dir.path().join("r.html");
    injector(&[
        "report",
        path.to_str().unwrap(),
        "--format",
        "html",
        "--lanes",
        "team",
        "-o",
        html.to_str().unwrap(),
    ])
    .code(0);
    let page = std::fs::read_to_string(html).unwrap();
    for status in ["sent", "possible duplicate", "failed", "skipped"] {
        assert!(
            page.contains(&format!("data-status=\"{status}\"")),
            "{status}"
        );
    }
    assert!(page.contains("team 3437872"), "team lanes");
}

/// The legend's colours, in order.
fn report_colours(dom: &str) -> Vec<&str> {
    let legend = &dom[dom.find("class=\"legend\"").unwrap()..];
    let legend = &legend[..legend.find("</p>").unwrap()];
    legend
        .split("<i style=\"background:")
        .skip(1)
        .map(|c| &c[..7])
        .collect()
}

#[test]
fn offsets_are_the_scenarios_to_the_millisecond() {
    // T0 "now" carries nanoseconds, journaled instants microseconds: no offset may read a
    // microsecond short (T+00:01:59.999).
    let dir = tempdir();
    let quickstart = scenario("quickstart.yaml");
    injector_in(
        dir.path(),
        &[
            "run",
            quickstart.to_str().unwrap(),
            "--dry-run",
            "--speed",
            "max",
        ],
    )
    .code(0);
    let run = injector_in(dir.path(), &["report", "quickstart.dry-run.journal.jsonl"]);
    run.code(0);
    for offset in ["T+00:00:00 ", "T+00:02:00 ", "T+00:04:30 "] {
        assert!(run.stdout.contains(offset), "{offset}: {}", run.stdout);
    }
    assert!(!run.stdout.contains(".999"), "{}", run.stdout);
}
