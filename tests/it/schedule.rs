//! The scheduler under tokio's paused clock: a three-hour scenario fires to the millisecond.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use injector::client::Outcome;
use injector::engine::{Clock, Config, Dispatch, Engine, Item, LatePolicy};
use injector::journal::Journal;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};

use crate::common::{scenario, tempdir};

/// Notes the (virtual) wall-clock time of every send; accepts all.
struct Recorder {
    clock: Clock,
    sent: Mutex<Vec<(DateTime<Utc>, Value)>>,
}

impl Dispatch for Recorder {
    async fn send(&self, body: Map<String, Value>) -> Outcome {
        self.sent
            .lock()
            .unwrap()
            .push((self.clock.now(), Value::Object(body)));
        Outcome::Sent {
            status: 200,
            message_id: "m".into(),
            attempts: 1,
            possible_duplicate: false,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_three_hour_scenario_fires_exactly_on_schedule() {
    let path = scenario("harbour-flood.yaml");
    let text = std::sync::Arc::new(std::fs::read_to_string(&path).unwrap());
    let checked = injector::validate::check("harbour-flood.yaml", text, None, 1.0, Utc::now());
    let timeline = Arc::new(checked.timeline.unwrap());
    assert!(timeline.duration() >= Duration::from_secs(2 * 3600 + 50 * 60));
    // The virtual wall clock starts ten seconds before T0.
    let clock = Clock::following_tokio(timeline.t0.to_utc() - chrono::TimeDelta::seconds(10));
    let dir = tempdir();
    let (journal, _) = Journal::open(&dir.path().join("j.jsonl"), false).unwrap();
    let recorder = Arc::new(Recorder {
        clock: clock.clone(),
        sent: Mutex::new(Vec::new()),
    });
    let (events, mut events_rx) = mpsc::unbounded_channel();
    let (next, _next_rx) = watch::channel(None);
    let engine = Engine {
        timeline: timeline.clone(),
        dispatch: recorder.clone(),
        journal: Arc::new(journal),
        clock: clock.clone(),
        config: Config {
            late: LatePolicy::Fire,
            late_max: Duration::from_secs(600),
            concurrency: 16,
            max_speed: false,
            redirect_team: None,
            drain: Duration::from_secs(10),
        },
        events,
        next,
    };
    let items: Vec<Item> = timeline
        .occurrences
        .iter()
        .enumerate()
        .map(|(i, o)| Item {
            occ: i,
            fire_at: timeline.fire_at(o).to_utc(),
        })
        .collect();
    let (_stop_tx, stop_rx) = watch::channel(false);
    let started = tokio::time::Instant::now();
    let ending = engine.run(items, stop_rx).await.unwrap();
    assert_eq!(ending, injector::engine::Ending::Completed);
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), timeline.occurrences.len());
    // Sends happen in timeline order (ties in file order), each at its planned instant.
    let mut by_time = sent.clone();
    by_time.sort_by_key(|(t, _)| *t);
    for ((at, body), occ) in by_time.iter().zip(&timeline.occurrences) {
        let planned = timeline.fire_at(occ).to_utc();
        assert_eq!(
            (*at - planned).num_milliseconds(),
            0,
            "{} fired at {at}, planned {planned}",
            occ.key
        );
        let shift = timeline.inject(occ).ts_offset.map_or(0, |(s, _)| s);
        assert_eq!(body["ts"], planned.timestamp() + shift, "{}", occ.key);
    }
    // The whole scenario took its length in virtual time (and no real time to speak of).
    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeline.duration() && elapsed < timeline.duration() + Duration::from_secs(11),
        "{elapsed:?}"
    );
    let mut kinds = std::collections::HashMap::new();
    while let Ok(e) = events_rx.try_recv() {
        let v = serde_json::to_value(&e).unwrap();
        *kinds
            .entry(v["type"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(kinds["sending"], timeline.occurrences.len());
    assert_eq!(kinds["sent"], timeline.occurrences.len());
}
