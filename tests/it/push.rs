//! Live push sends changes, not the board: the state once, then deltas. Followed to
//! the end (through skips, a shift and a note), the deltas make exactly the state the
//! run reports; a message missed is noticed.

use std::time::Duration;

use serde_json::Value;

use crate::common::{tempdir, write};
use crate::run::{ctl, run_with_control};

/// Every SSE message of `resp` as (name, data), until `enough` says stop.
async fn follow(
    mut resp: reqwest::Response,
    mut enough: impl FnMut(&str, &Value) -> bool,
) -> Vec<(String, Value)> {
    let mut got = Vec::new();
    let mut pending = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let name = event
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map_or("", str::trim)
                .to_string();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let data: Value = serde_json::from_str(data.trim_start()).unwrap();
            let stop = enough(&name, &data);
            got.push((name, data));
            if stop {
                return got;
            }
        }
    }
    got
}

fn without_clock_reading(mut state: Value) -> Value {
    let o = state.as_object_mut().unwrap();
    o.remove("now");
    o.remove("seq");
    state
}

#[tokio::test(flavor = "multi_thread")]
async fn deltas_make_the_state_the_run_reports() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "s.yaml",
        "name: Push\ndefaults:\n  type: team\n  team_id: 1\n  channel: microblog\n  persona: \"3-1\"\ninjects:\n  - id: tick\n    every: 1s\n    count: 40\n    body: \"tick {{ occurrence }}\"\n  - id: last\n    at: 45s\n    body: the last word\n",
    );
    let (mut child, url, token) = run_with_control(
        d,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--speed",
            "10",
            "--wait-for-end",
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{url}api/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    // Steer while it runs: a skip, a shift that moves what is still to come, a note.
    let steering = {
        let (d, url, token) = (d.to_path_buf(), url.clone(), token.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            assert_eq!(ctl(&d, &url, &token, &["skip", "tick#30"]).await.code, 0);
            assert_eq!(
                ctl(&d, &url, &token, &["--yes", "shift", "5s"]).await.code,
                0
            );
            assert_eq!(
                ctl(&d, &url, &token, &["note", "blue is slow to answer"])
                    .await
                    .code,
                0
            );
        })
    };
    let mut state = None;
    let messages = tokio::time::timeout(
        Duration::from_secs(60),
        follow(resp, |name, data| {
            assert!(
                injector::control::take_pushed(&mut state, name, data.clone()),
                "message {name} could not be placed: {data}"
            );
            state.as_ref().is_some_and(|s| s["waiting"] == true)
        }),
    )
    .await
    .expect("the run handled everything");
    steering.await.unwrap();
    // One whole state, then deltas numbered one by one.
    assert_eq!(messages[0].0, "state");
    assert!(messages.len() > 3, "{}", messages.len());
    let mut shift = messages[0].1["shift_ms"].clone();
    for (i, (name, data)) in messages.iter().enumerate().skip(1) {
        assert_eq!(data["seq"], i as u64 + 1, "{name} {data}");
        assert_eq!(name, "delta");
        // A delta carries what changed, not every row: all that is to come only when
        // a shift moved it.
        let rows = data["occurrences"].as_array().unwrap().len();
        if data["head"]["shift_ms"] == shift {
            assert!(rows < 20, "{data}");
        }
        shift = data["head"]["shift_ms"].clone();
    }
    let whole: Value = http
        .get(format!("{url}api/state"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let merged = state.unwrap();
    assert_eq!(merged["occurrences"][29]["status"], "skipped");
    assert_eq!(merged["notes"][0]["text"], "blue is slow to answer");
    assert_eq!(merged["shift_ms"], 5000);
    assert_eq!(without_clock_reading(merged), without_clock_reading(whole));
    assert_eq!(ctl(d, &url, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait().await;
}

#[test]
fn a_missed_message_is_noticed() {
    use serde_json::json;
    let mut state = None;
    let take = |state: &mut Option<Value>, name: &str, m: Value| {
        injector::control::take_pushed(state, name, m)
    };
    // A delta before any state has nothing to go into.
    assert!(!take(
        &mut state,
        "delta",
        json!({"seq": 1, "head": {}, "occurrences": []})
    ));
    let first = json!({"seq": 1, "held": false, "occurrences": [
        {"key": "a", "status": "pending", "sent_at": null, "message_id": null}
    ], "notes": []});
    assert!(take(&mut state, "state", first));
    let sent = json!({"seq": 2, "head": {"held": true}, "occurrences": [
        {"key": "a", "status": "sent", "sent_at": "T", "message_id": "m"}
    ], "notes": [{"text": "n"}]});
    assert!(take(&mut state, "delta", sent));
    let s = state.as_ref().unwrap();
    assert_eq!(s["held"], true);
    assert_eq!(s["occurrences"][0]["message_id"], "m");
    assert_eq!(s["notes"][0]["text"], "n");
    // Seq 4 after 2: one was missed.
    assert!(!take(
        &mut state,
        "delta",
        json!({"seq": 4, "head": {}, "occurrences": []})
    ));
    // A row the state does not have: missed too (rows were added).
    assert!(!take(
        &mut state,
        "delta",
        json!({"seq": 3, "head": {}, "occurrences": [{"key": "zz", "status": "sent"}]})
    ));
    // A retried row that failed loses what a sent one had.
    let mut state = Some(json!({"seq": 1, "occurrences": [
        {"key": "a", "status": "sent", "sent_at": "T", "message_id": "m"}
    ], "notes": []}));
    assert!(take(
        &mut state,
        "delta",
        json!({"seq": 2, "head": {}, "occurrences": [{"key": "a", "status": "failed"}], "notes": []})
    ));
    assert_eq!(state.unwrap()["occurrences"][0]["sent_at"], Value::Null);
}
