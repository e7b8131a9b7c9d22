//! Hostile servers, control actions and journals against the real binary: a server
//! that echoes the token, a client that hangs up, extreme shifts, edited journals.

use std::time::Duration;

use injector::stand_in::Faults;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::write;
use crate::run::{
    TOKEN, ctl, injector_run, journal, run_with_control, scenario, setup, stand_in, t0_in,
};

/// A server that answers `GET /teams` with the request's `Authorization` header inside
/// a team's name, `POST /messages` with a 400 that echoes it (in the body and a header),
/// and passes `GET /personas` on to a stand-in.
async fn echoing_server(stand_in: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1.1/eagle", listener.local_addr().unwrap());
    let auth = |h: &axum::http::HeaderMap| {
        h.get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let app = axum::Router::new()
        .route(
            "/v1.1/eagle/teams",
            axum::routing::get(move |h: axum::http::HeaderMap| async move {
                axum::Json(json!([
                    {"id": 3437866, "name": format!("Team Blue {}", auth(&h))},
                    {"id": 3437872, "name": "Team Red"}
                ]))
            }),
        )
        .route(
            "/v1.1/eagle/personas",
            axum::routing::get(move |h: axum::http::HeaderMap| {
                let stand_in = stand_in.clone();
                async move {
                    let r = crate::stand_in::client()
                        .get(format!("{stand_in}/personas"))
                        .header("authorization", auth(&h))
                        .send()
                        .await
                        .unwrap();
                    axum::Json(r.json::<Value>().await.unwrap())
                }
            }),
        )
        .route(
            "/v1.1/eagle/messages",
            axum::routing::post(move |h: axum::http::HeaderMap| async move {
                let echo = auth(&h);
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    [("x-echo", echo.clone())],
                    axum::Json(json!({"error": "Invalid request", "you_sent": echo})),
                )
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_echoes_the_token_never_gets_it_printed_journaled_or_reported() {
    let server = stand_in(Faults::default()).await;
    let echo = echoing_server(server.base_url()).await;
    let s = setup(&scenario(2, 0));
    let dir = s.dir.path();
    let tf = s.token_file.to_str().unwrap();
    let ran = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &echo,
            "--token-file",
            tf,
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    assert_eq!(ran.code, 1, "both failed: {}", ran.stderr);
    assert!(
        ran.stderr.contains("[redacted]"),
        "the echo is shown, redacted: {}",
        ran.stderr
    );
    let mut outputs = vec![ran.stdout, ran.stderr];
    outputs.push(std::fs::read_to_string(dir.join("s.journal.jsonl")).unwrap());
    for format in ["text", "csv", "json", "html"] {
        let report =
            injector_run(dir, &["report", "s.journal.jsonl", "--format", format], &[]).await;
        assert_eq!(report.code, 0);
        outputs.push(report.stdout);
        outputs.push(report.stderr);
    }
    for args in [
        &["teams"][..],
        &["teams", "--format", "json"],
        &["personas"],
    ] {
        let run = injector_run(
            dir,
            &[args, &["--base-url", &echo, "--token-file", tf]].concat(),
            &[],
        )
        .await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        outputs.push(run.stdout);
        outputs.push(run.stderr);
    }
    assert!(
        outputs
            .iter()
            .any(|o| o.contains("Team Blue Bearer [redacted]"))
    );
    for o in &outputs {
        assert!(!o.contains(TOKEN), "the token leaked:\n{o}");
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stand_in_records_a_request_its_client_abandoned() {
    let server = stand_in(Faults {
        latency: Some((Duration::from_millis(1500), Duration::from_millis(1500))),
        ..Faults::default()
    })
    .await;
    injector::client::install_crypto();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let sent = client
        .post(format!("{}/messages", server.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"persona": "3-49786", "channel": "microblog", "body": "x", "type": "team", "team_id": 3437866}))
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up first");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let records = server.requests();
    assert_eq!(records.len(), 1, "recorded though abandoned");
    assert_eq!(records[0].fault.as_deref(), Some("abandoned"));
    assert_eq!(records[0].seq, 1);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn extreme_shifts_are_refused_and_an_edited_journal_never_bricks_a_resume() {
    let s = setup(&scenario(3, 2000));
    let dir = s.dir.path();
    let t0 = t0_in(1);
    let (child, control, token) =
        run_with_control(dir, &["run", "s.yaml", "--dry-run", "--start-at", &t0]).await;
    for by in ["300000y", "-367d", "99999999999999999999s"] {
        let refused = ctl(dir, &control, &token, &["shift", by]).await;
        assert_eq!(refused.code, 2, "{by}: {}", refused.stderr);
        assert!(
            refused.stderr.contains("is more than a shift can be")
                || refused.stderr.contains("not a duration")
                || refused
                    .stderr
                    .contains("is not a unit of an exercise's times"),
            "{by}: {}",
            refused.stderr
        );
    }
    // The endpoint itself refuses what ctl would not send, and journals nothing.
    let http = crate::stand_in::client();
    let answer = http
        .post(format!("{control}api/shift"))
        .bearer_auth(&token)
        .json(&json!({"by": "300000y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    // Many shifts that add up past a year: the last is refused, the run goes on.
    for _ in 0..2 {
        assert_eq!(
            ctl(dir, &control, &token, &["--yes", "shift", "200d"])
                .await
                .code,
            0
        );
        assert_eq!(
            ctl(dir, &control, &token, &["--yes", "shift", "-200d"])
                .await
                .code,
            0
        );
    }
    assert_eq!(
        ctl(dir, &control, &token, &["--yes", "shift", "300d"])
            .await
            .code,
        0
    );
    assert_eq!(
        ctl(dir, &control, &token, &["--yes", "shift", "100d"])
            .await
            .code,
        1
    );
    assert_eq!(
        ctl(dir, &control, &token, &["--yes", "shift", "-300d"])
            .await
            .code,
        0
    );
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shifts = journal(dir, "s.dry-run.journal.jsonl")
        .iter()
        .filter(|e| e["action"] == "shift")
        .count();
    assert_eq!(shifts, 6, "only the accepted shifts are journaled");

    // A journal edited by hand: an absurd shift, an unknown action, a bad time, a torn
    // line. The resume reports them, skips them, and goes on.
    let path = dir.join("s.dry-run.journal.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let end = text.trim_end().rfind('\n').unwrap();
    text.truncate(end + 1); // drop the `end`: the run looks interrupted
    text.push_str(&format!(
        "{}\n{}\n{}\n{}\n{{\"type\":\"sent\",\"key\":\"i",
        json!({"type":"control","at":"2026-03-28T09:00:00Z","action":"shift","by_ms": i64::MAX,"source":"command"}),
        json!({"type":"control","at":"2026-03-28T09:00:00Z","action":"resume","by_ms": i64::MIN,"source":"page"}),
        json!({"type":"control","at":"2026-03-28T09:00:00Z","action":"explode","source":"page"}),
        json!({"type":"skipped","key":"i9","reason":"x","planned_at":"yesterday","at":"now"}),
    ));
    std::fs::write(&path, text).unwrap();
    let resumed = injector_run(dir, &["run", "s.yaml", "--dry-run", "--resume"], &[]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(!resumed.stderr.contains("panicked"));
    for problem in [
        "out of range",
        "is not an action",
        "is not a time",
        "torn last line",
    ] {
        assert!(
            resumed.stderr.contains(problem),
            "{problem}: {}",
            resumed.stderr
        );
    }
    let report = injector_run(dir, &["report", "s.dry-run.journal.jsonl"], &[]).await;
    assert_eq!(report.code, 0, "{}", report.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_with_another_scenario_file_is_refused_unless_asked() {
    let s = setup(&scenario(2, 0));
    let dir = s.dir.path();
    let first = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--speed",
            "max",
            "--journal",
            "j.jsonl",
        ],
        &[],
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    write(
        dir,
        "other.yaml",
        &scenario(2, 0).replace("inject {{ id }}", "changed {{ id }}"),
    );
    let refused = injector_run(
        dir,
        &[
            "run",
            "other.yaml",
            "--dry-run",
            "--resume",
            "--journal",
            "j.jsonl",
        ],
        &[],
    )
    .await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("holds a run of s.yaml, not of other.yaml")
            && refused.stderr.contains("--allow-other-scenario"),
        "{}",
        refused.stderr
    );
    let allowed = injector_run(
        dir,
        &[
            "run",
            "other.yaml",
            "--dry-run",
            "--resume",
            "--journal",
            "j.jsonl",
            "--allow-other-scenario",
        ],
        &[],
    )
    .await;
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    for key in ["i0", "i1"] {
        assert!(
            allowed.stderr.contains(&format!(
                "changed after it was sent: its new body is not sent (--only {key}"
            )),
            "{key}: {}",
            allowed.stderr
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any control request and any journal lines, replayed: never a panic.
    #[test]
    fn any_action_and_any_journal_line_replays_without_panic(
        names in prop::collection::vec(prop::sample::select(vec!["hold", "resume", "skip", "unskip", "fire", "shift", "explode", ""]), 1..12),
        keys in prop::collection::vec("[a-z#@0-9]{0,6}", 12),
        ms in prop::collection::vec(any::<i64>(), 12),
        texts in prop::collection::vec(".{0,12}", 12),
    ) {
        let mut lines = Vec::new();
        let mut state = injector::engine::ClockState::default();
        for (i, name) in names.iter().enumerate() {
            let body = json!({"key": keys[i], "by": texts[i]});
            if let Ok(action) = injector::action::Action::from_request(name, &body) {
                match &action {
                    injector::action::Action::Skip(k) => state.skip(k),
                    injector::action::Action::Unskip(k) => { state.unskip(k); }
                    _ => {}
                }
                let _ = state.skips(&keys[i], &texts[i]);
            }
            let at = if i % 3 == 0 { texts[i].clone() } else { "2026-03-28T09:00:00Z".into() };
            lines.push(json!({"type": "control", "at": at, "action": name, "key": keys[i], "by_ms": ms[i], "source": "page"}).to_string());
            lines.push(json!({"type": "sent", "key": keys[i], "status": 200, "message_id": texts[i], "planned_at": at, "sent_at": at, "lateness_ms": ms[i] as f64, "attempts": 1, "possible_duplicate": false, "late": ms[i] % 2 == 0}).to_string());
            lines.push(texts[i].clone());
        }
        let text = lines.join("\n");
        let replay = injector::journal::Replay::parse(&text);
        let state = injector::engine::ClockState::replay(replay.events());
        prop_assert!(state.shift.num_milliseconds().abs() <= injector::action::MAX_MOVE_MS);
        let _ = replay.fold().totals();
        let report = injector::report::Report::from_journal(&text);
        let _ = (report.text(), report.csv(), report.json(), report.html(true));
    }
}

/// Killed at random moments, many times, against a real server, then resumed: nothing
/// arrives twice, nothing is silently lost, and an occurrence is left uncertain only
/// when its request had started (a `started` line after its last `sending`).
#[tokio::test(flavor = "multi_thread")]
async fn killed_at_random_moments_nothing_twice_nothing_lost_uncertain_only_when_started() {
    let mut rng = rand::rng();
    let (mut uncertain_total, mut resent_unstarted) = (0, 0);
    for round in 0..8 {
        let server = stand_in(Faults {
            latency: Some((Duration::from_millis(5), Duration::from_millis(60))),
            seed: round,
            ..Faults::default()
        })
        .await;
        let s = setup(&scenario(30, 40));
        let dir = s.dir.path();
        let url = server.base_url();
        let tf = s.token_file.to_str().unwrap();
        let t0 = t0_in(1);
        let mut child = crate::run::command(
            dir,
            &[
                "run",
                "s.yaml",
                "--base-url",
                &url,
                "--token-file",
                tf,
                "--start-at",
                &t0,
            ],
            &[],
        )
        .spawn()
        .unwrap();
        // Somewhere between the preflight and the last send.
        let wait = rng.random_range(700..2300);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        let resumed = injector_run(
            dir,
            &[
                "run",
                "s.yaml",
                "--base-url",
                &url,
                "--token-file",
                tf,
                "--resume",
                "--late-max",
                "1h",
            ],
            &[],
        )
        .await;
        assert!([0, 1].contains(&resumed.code), "{}", resumed.stderr);
        resent_unstarted += resumed.stderr.matches("never started").count();
        let entries = journal(dir, "s.journal.jsonl");
        let accepted: Vec<String> = crate::run::sent(&server)
            .iter()
            .filter(|r| r.status == Some(200))
            .map(crate::run::key_of)
            .collect();
        for key in (0..30).map(|i| format!("i{i}")) {
            let times = accepted.iter().filter(|k| **k == key).count();
            assert!(times <= 1, "round {round}: {key} arrived {times} times");
            let mine: Vec<&Value> = entries
                .iter()
                .filter(|e| {
                    e["key"] == key.as_str()
                        || e["keys"]
                            .as_array()
                            .is_some_and(|k| k.iter().any(|k| k == key.as_str()))
                })
                .collect();
            let last_sending = mine.iter().rposition(|e| e["type"] == "sending");
            let outcome = mine.last().map(|e| e["type"].as_str().unwrap_or(""));
            match outcome {
                Some("sent") => assert_eq!(times, 1, "round {round}: {key}"),
                Some("started") | Some("sending") => {
                    uncertain_total += 1;
                    let started = last_sending
                        .is_some_and(|i| mine[i + 1..].iter().any(|e| e["type"] == "started"));
                    assert!(
                        started,
                        "round {round}: {key} uncertain though never started"
                    );
                }
                other => panic!("round {round}: {key}: {other:?} (lost)"),
            }
        }
        server.shutdown(Duration::from_secs(1)).await;
    }
    eprintln!(
        "8 kills: {uncertain_total} uncertain (each had started), {resent_unstarted} sent on resume because they never started"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_with_very_long_names_lists_without_panic() {
    let long = "h".repeat(70_000);
    let mut opts = injector::stand_in::Options::local(TOKEN);
    opts.world
        .personas
        .push(injector::stand_in::world::Persona {
            hash: "3-77777".into(),
            handle: long.clone(),
            name: long.clone(),
            job_title: long.clone(),
            ..opts.world.personas[0].clone()
        });
    let server = injector::stand_in::StandIn::start(opts).await.unwrap();
    let s = setup(&scenario(1, 0));
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    for format in ["text", "json", "yaml"] {
        let run = injector_run(
            s.dir.path(),
            &[
                "personas",
                "--base-url",
                &url,
                "--token-file",
                tf,
                "--format",
                format,
            ],
            &[],
        )
        .await;
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
        assert!(run.stdout.contains(&long), "{format}");
    }
    server.shutdown(Duration::from_secs(1)).await;
}
