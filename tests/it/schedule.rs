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

/// Fire every occurrence of `timeline` on `recorder` until the run completes (the
/// journal in a temporary folder); the entries the engine published.
async fn run_to_end(
    timeline: &Arc<injector::timeline::Timeline>,
    clock: &Clock,
    recorder: &Arc<Recorder>,
    preconnect: bool,
) -> Vec<injector::journal::Entry> {
    let dir = tempdir();
    // Written in the engine's own task: a cross-thread wait would let virtual time jump.
    let journal = Journal::open_inline(&dir.path().join("j.jsonl")).unwrap();
    let (events, mut events_rx) = mpsc::unbounded_channel();
    let (next, _next_rx) = watch::channel(None);
    let engine = Engine {
        timeline: injector::timeline::Shared::new(timeline.clone()),
        dispatch: recorder.clone(),
        journal: Arc::new(journal),
        clock: clock.clone(),
        config: config(Duration::from_secs(600), preconnect),
        events: Arc::new(events),
        next,
    };
    let (_stop_tx, stop_rx) = watch::channel(false);
    let ending = engine
        .run(every_occurrence(timeline), stop_rx)
        .await
        .unwrap();
    assert_eq!(ending, injector::engine::Ending::Completed);
    let mut published = Vec::new();
    while let Ok(e) = events_rx.try_recv() {
        published.push(injector::journal::Entry::from(&e));
    }
    published
}

/// Every occurrence of `timeline`, at its planned instant.
fn every_occurrence(timeline: &injector::timeline::Timeline) -> Vec<Item> {
    timeline
        .occurrences
        .iter()
        .enumerate()
        .map(|(i, o)| Item::new(i, timeline.fire_at(o).to_utc()))
        .collect()
}

/// The tests' engine settings: late ones fire, 16 in flight.
/// Asked as `ctl --yes` does: carried out whatever it would do (a shift's late ones
/// sent at once).
pub fn confirmed() -> injector::engine::Ask {
    injector::engine::Ask {
        confirmed: Some(String::new()),
        late: Some(injector::engine::LatePolicy::Fire),
        ..Default::default()
    }
}

/// A reply as the tests read it: what was done, or why not.
pub fn replied(r: injector::engine::Reply) -> Result<String, String> {
    match r {
        injector::engine::Reply::Done(m) => Ok(m),
        injector::engine::Reply::Refused(m) => Err(m),
        injector::engine::Reply::Preview(p) => Err(format!("needs a confirmation: {}", p.text)),
    }
}

pub fn config(late_max: Duration, preconnect: bool) -> Config {
    Config {
        late: LatePolicy::Fire,
        late_max,
        concurrency: 16,
        max_speed: false,
        redirect_team: None,
        preconnect,
        drain: Duration::from_secs(10),
        wait_for_end: false,
    }
}

/// Notes the (virtual) wall-clock time of every send, preparation and preconnect;
/// accepts all.
pub struct Recorder {
    clock: Clock,
    pub sent: Mutex<Vec<(DateTime<Utc>, Value)>>,
    prepared: Mutex<Vec<DateTime<Utc>>>,
    preconnects: Mutex<Vec<(DateTime<Utc>, usize)>>,
    /// How long opening connections takes.
    preconnect_takes: Duration,
}

impl Recorder {
    pub fn new(clock: &Clock) -> Recorder {
        Recorder {
            clock: clock.clone(),
            sent: Mutex::new(Vec::new()),
            prepared: Mutex::new(Vec::new()),
            preconnects: Mutex::new(Vec::new()),
            preconnect_takes: Duration::ZERO,
        }
    }
}

impl Dispatch for Recorder {
    type Ready = Map<String, Value>;

    fn ready(
        &self,
        _to: injector::message::Endpoint,
        body: Map<String, Value>,
    ) -> Map<String, Value> {
        self.prepared.lock().unwrap().push(self.clock.now());
        body
    }

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

    async fn preconnect(&self, n: usize) {
        self.preconnects.lock().unwrap().push((self.clock.now(), n));
        tokio::time::sleep(self.preconnect_takes).await;
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
    let recorder = Arc::new(Recorder::new(&clock));
    let started = tokio::time::Instant::now();
    let published = run_to_end(&timeline, &clock, &recorder, false).await;
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
    for e in &published {
        let v = serde_json::to_value(e).unwrap();
        *kinds
            .entry(v["type"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(kinds["sending"], timeline.occurrences.len());
    assert_eq!(kinds["sent"], timeline.occurrences.len());
    // Without --preconnect, no connection is opened ahead.
    assert!(recorder.preconnects.lock().unwrap().is_empty());
}

/// Run `groups` (offset in seconds, how many injects at it) with --preconnect, opening
/// connections taking `takes`; the preconnects and sends, as offsets from T0 in ms.
async fn run_preconnected(
    groups: &[(i64, usize)],
    takes: Duration,
) -> (Vec<(i64, usize)>, Vec<i64>) {
    let groups: Vec<(i64, usize)> = groups.iter().map(|(s, n)| (s * 1000, *n)).collect();
    let (preconnects, _, sent) = run_groups_ms(&groups, takes).await;
    (preconnects, sent)
}

/// [`run_preconnected`] with offsets in ms; the preconnects, preparations and sends.
async fn run_groups_ms(
    groups: &[(i64, usize)],
    takes: Duration,
) -> (Vec<(i64, usize)>, Vec<i64>, Vec<i64>) {
    let mut yaml = String::from(
        "name: P\ndefaults:\n  type: team\n  team_id: 1\n  persona: \"3-1\"\n  channel: microblog\ninjects:\n",
    );
    for (at, n) in groups {
        for j in 0..*n {
            yaml.push_str(&format!("  - id: g{at}x{j}\n    at: {at}ms\n    body: b\n"));
        }
    }
    let t0 = DateTime::parse_from_rfc3339("2026-03-28T09:00:00Z").unwrap();
    let checked = injector::validate::check("p.yaml", Arc::new(yaml), Some(t0), 1.0, Utc::now());
    let timeline = Arc::new(checked.timeline.unwrap());
    let clock = Clock::following_tokio(t0.to_utc() - chrono::TimeDelta::seconds(1));
    let mut recorder = Recorder::new(&clock);
    recorder.preconnect_takes = takes;
    let recorder = Arc::new(recorder);
    run_to_end(&timeline, &clock, &recorder, true).await;
    let ms = |t: DateTime<Utc>| (t - t0.to_utc()).num_milliseconds();
    let preconnects = recorder.preconnects.lock().unwrap();
    let prepared = recorder.prepared.lock().unwrap();
    let sent = recorder.sent.lock().unwrap();
    (
        preconnects.iter().map(|(t, n)| (ms(*t), *n)).collect(),
        prepared.iter().map(|t| ms(*t)).collect(),
        sent.iter().map(|(t, _)| ms(*t)).collect(),
    )
}

/// No group is prepared in the few milliseconds around another's instant (they share a
/// thread): one 50 ms after a single waits until 2 ms after it, one 5 ms after is the
/// same burst and does not; every send is at its instant.
#[tokio::test(start_paused = true)]
async fn no_group_is_prepared_at_another_groups_instant() {
    let groups = [(10_000, 1), (10_050, 3), (10_055, 1), (11_000, 1)];
    let (_, prepared, sent) = run_groups_ms(&groups, Duration::ZERO).await;
    assert_eq!(
        prepared,
        [9_950, 10_002, 10_002, 10_002, 10_005, 10_950],
        "10 050: 50 ms ahead is 10 000, the single's instant; 10 055: 5 ms after the burst"
    );
    assert_eq!(sent, [10_000, 10_050, 10_050, 10_050, 10_055, 11_000]);
}

/// A group's connections are opened two seconds ahead of it: as many as it sends at
/// once (at most --concurrency), asked before every group (those open count, which the
/// dispatcher knows); the sends still go at their instants.
#[tokio::test(start_paused = true)]
async fn preconnect_opens_a_groups_connections_ahead_of_it() {
    let groups = [(10, 1), (20, 5), (25, 3), (30, 20), (90, 1)];
    let (preconnects, sent) = run_preconnected(&groups, Duration::ZERO).await;
    // 30 s: 20 capped at --concurrency.
    assert_eq!(
        preconnects,
        [
            (8_000, 1),
            (18_000, 5),
            (23_000, 3),
            (28_000, 16),
            (88_000, 1)
        ]
    );
    assert_eq!(sent.len(), 30);
    for at in &sent {
        assert!(
            groups.iter().any(|(s, _)| *at == s * 1000),
            "sent at {at} ms"
        );
    }
}

/// Opening connections that takes too long never delays a group.
#[tokio::test(start_paused = true)]
async fn a_slow_preconnect_delays_nothing_and_is_tried_again() {
    let groups = [(10, 5), (15, 5)];
    let (preconnects, sent) = run_preconnected(&groups, Duration::from_secs(3)).await;
    assert_eq!(preconnects, [(8_000, 5), (13_000, 5)]);
    assert_eq!(
        sent,
        [10_000; 5]
            .into_iter()
            .chain([15_000; 5])
            .collect::<Vec<_>>()
    );
}

mod control {
    //! Live control under the paused clock: hold, resume, skip, fire now, shift — and the
    //! failures OpenBAS users reported, each guarded.

    use super::*;
    use injector::action::{Action, Source};
    use injector::engine::{ClockState, Command, Control};
    use tokio::sync::oneshot;

    const T0: &str = "2026-03-28T09:00:00Z";

    struct Rig {
        engine: Engine<Recorder>,
        recorder: Arc<Recorder>,
        items: Vec<Item>,
        t0: DateTime<Utc>,
        _dir: tempfile::TempDir,
        events: mpsc::UnboundedReceiver<injector::event::Event>,
    }

    /// Ten injects a minute apart, the virtual clock one second before T0.
    fn rig(late_max: Duration) -> Rig {
        let mut yaml = String::from(
            "name: C\ndefaults:\n  type: team\n  team_id: 1\n  persona: \"3-1\"\n  channel: microblog\ninjects:\n",
        );
        for i in 0..10 {
            yaml.push_str(&format!("  - id: i{i}\n    at: {i}m\n    body: b{i}\n"));
        }
        let t0 = DateTime::parse_from_rfc3339(T0).unwrap();
        let checked =
            injector::validate::check("c.yaml", Arc::new(yaml), Some(t0), 1.0, Utc::now());
        let timeline = Arc::new(checked.timeline.unwrap());
        let clock = Clock::following_tokio(t0.to_utc() - chrono::TimeDelta::seconds(1));
        let dir = tempdir();
        // Written in the engine's own task: a cross-thread wait would let virtual time jump.
        let journal = Journal::open_inline(&dir.path().join("j.jsonl")).unwrap();
        let recorder = Arc::new(Recorder::new(&clock));
        let (events, events_rx) = mpsc::unbounded_channel();
        let (next, _) = watch::channel(None);
        // Bodies serialized ahead, as `run` has them: what holds, shifts and fire-now move
        // must be built again (its `ts` moved), never sent as serialized.
        let items = every_occurrence(&timeline)
            .into_iter()
            .map(|item| {
                let body = timeline.body(&timeline.occurrences[item.occ]).unwrap();
                Item {
                    body: Some(serde_json::to_vec(&body).unwrap().into()),
                    ..item
                }
            })
            .collect();
        let engine = Engine {
            timeline: injector::timeline::Shared::new(timeline),
            dispatch: recorder.clone(),
            journal: Arc::new(journal),
            clock,
            config: config(late_max, false),
            events: Arc::new(events),
            next,
        };
        Rig {
            engine,
            recorder,
            items,
            t0: t0.to_utc(),
            _dir: dir,
            events: events_rx,
        }
    }

    async fn send(tx: &mpsc::Sender<Command>, action: Action) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        tx.send(Command {
            action,
            source: Source::Command,
            by: None,
            ask: confirmed(),
            reply,
        })
        .await
        .unwrap();
        super::replied(answer.await.unwrap())
    }

    /// (body, milliseconds after T0 it was sent, its ts in seconds after T0), in send order.
    fn sends(r: &Rig) -> Vec<(String, i64, i64)> {
        r.recorder
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(at, body)| {
                (
                    body["body"].as_str().unwrap().to_string(),
                    (*at - r.t0).num_milliseconds(),
                    body["ts"].as_i64().unwrap() - r.t0.timestamp(),
                )
            })
            .collect()
    }

    /// Run the rig with a script of (seconds after T0, action).
    async fn script(
        mut r: Rig,
        initial: ClockState,
        steps: Vec<(i64, Action)>,
    ) -> (Rig, Vec<Result<String, String>>) {
        let (tx, rx) = mpsc::channel(8);
        let (state, _) = watch::channel(ClockState::default());
        let (_stop_tx, stop_rx) = watch::channel(false);
        let t0 = r.t0;
        let clock = r.engine.clock.clone();
        let driver = tokio::spawn(async move {
            let mut replies = Vec::new();
            for (at, action) in steps {
                let when = t0 + chrono::TimeDelta::seconds(at);
                tokio::time::sleep((when - clock.now()).to_std().unwrap_or_default()).await;
                replies.push(send(&tx, action).await);
            }
            replies
        });
        let items = std::mem::take(&mut r.items);
        let ending = r
            .engine
            .run_controlled(
                items,
                stop_rx,
                Some(Control {
                    commands: rx,
                    initial,
                    state,
                    applier: None,
                    carried: None,
                }),
                None,
            )
            .await
            .unwrap();
        assert_eq!(ending, injector::engine::Ending::Completed);
        let replies = driver.await.unwrap();
        (r, replies)
    }

    #[tokio::test(start_paused = true)]
    async fn a_ten_minute_hold_moves_every_remaining_send_by_exactly_ten_minutes() {
        // Hold at T+2m30s, resume at T+12m30s.
        let (r, replies) = script(
            rig(Duration::from_secs(600)),
            ClockState::default(),
            vec![(150, Action::Hold), (750, Action::Resume)],
        )
        .await;
        assert!(replies.iter().all(Result::is_ok), "{replies:?}");
        let got = sends(&r);
        assert_eq!(got.len(), 10);
        for (i, (body, at_ms, ts)) in got.iter().enumerate() {
            let planned = i as i64 * 60;
            let expected = if i <= 2 { planned } else { planned + 600 };
            assert_eq!(body, &format!("b{i}"));
            assert_eq!(
                *at_ms,
                expected * 1000,
                "{body}: exactly on the moved instant"
            );
            assert_eq!(*ts, expected, "{body}: ts follows the moved time");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_burst_no_lost_first_send_no_too_old_after_a_long_hold() {
        // A 20-minute hold, longer than --late-max (10m): after resume nothing is skipped as
        // too old, the first inject after the pause is sent, and the rest keep their spacing.
        let (r, _) = script(
            rig(Duration::from_secs(600)),
            ClockState::default(),
            vec![(30, Action::Hold), (1230, Action::Resume)],
        )
        .await;
        let got = sends(&r);
        assert_eq!(got.len(), 10, "none lost, none skipped as too old");
        let times: Vec<i64> = got.iter().map(|(_, at, _)| *at / 1000).collect();
        assert_eq!(times[0], 0);
        assert_eq!(
            times[1],
            60 + 1200,
            "the first send after the pause goes out at its moved instant"
        );
        for w in times[1..].windows(2) {
            assert_eq!(w[1] - w[0], 60, "no burst: spacing kept after the pause");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fire_now_while_held_sends_at_once_and_its_slot_stays_silent() {
        let (r, replies) = script(
            rig(Duration::from_secs(600)),
            ClockState::default(),
            vec![
                (90, Action::Hold),
                (300, Action::Fire("i5".into())),
                (400, Action::Resume),
            ],
        )
        .await;
        assert_eq!(replies[1], Ok("i5 fired".into()));
        let got = sends(&r);
        assert_eq!(got.len(), 10);
        let fires: Vec<&(String, i64, i64)> = got.iter().filter(|(b, _, _)| b == "b5").collect();
        assert_eq!(fires.len(), 1, "sent exactly once");
        assert_eq!(
            fires[0].1, 300_000,
            "fired when asked, not delayed by the hold"
        );
        // i5's slot stays silent; i4 and i6 keep their moved times (a 310 s hold).
        let at = |b: &str| got.iter().find(|(x, _, _)| x == b).unwrap().1 / 1000;
        assert_eq!(at("b4"), 240 + 310);
        assert_eq!(at("b6"), 360 + 310);
    }

    #[tokio::test(start_paused = true)]
    async fn skips_are_journaled_and_never_sent_unskip_and_shift_work() {
        let (mut r, replies) = script(
            rig(Duration::from_secs(600)),
            ClockState::default(),
            vec![
                (10, Action::Skip("i3".into())),
                (20, Action::Skip("i4".into())),
                (30, Action::Unskip("i4".into())),
                (40, Action::Shift(-30_000)),
                (50, Action::Skip("nope".into())),
            ],
        )
        .await;
        assert!(replies[..4].iter().all(Result::is_ok), "{replies:?}");
        assert!(
            replies[4]
                .as_ref()
                .unwrap_err()
                .contains("no occurrence `nope`")
        );
        let got = sends(&r);
        assert_eq!(got.len(), 9);
        assert!(!got.iter().any(|(b, _, _)| b == "b3"), "skipped");
        let at = |b: &str| got.iter().find(|(x, _, _)| x == b).unwrap().1 / 1000;
        assert_eq!(at("b0"), 0);
        assert_eq!(
            at("b1"),
            40,
            "moved to 30 s, already past at the shift: sent at once"
        );
        assert_eq!(at("b2"), 90, "shifted 30 s earlier");
        let mut entries = Vec::new();
        while let Ok(e) = r.events.try_recv() {
            entries.push(serde_json::to_value(injector::journal::Entry::from(&e)).unwrap());
        }
        let skipped = entries.iter().find(|e| e["type"] == "skipped").unwrap();
        assert_eq!(skipped["key"], "i3");
        let actions: Vec<&str> = entries
            .iter()
            .filter(|e| e["type"] == "control")
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["skip", "skip", "unskip", "shift"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_resume_after_a_crash_during_a_hold_keeps_the_shift() {
        // The journal of a crashed run: a 2-minute hold and resume, a skip, then a hold still open.
        let entries: Vec<injector::journal::Entry> = serde_json::from_str(
            r#"[{"type":"control","at":"2026-03-28T09:01:00Z","action":"hold","source":"page"},
                {"type":"control","at":"2026-03-28T09:03:00Z","action":"resume","by_ms":120000,"source":"page"},
                {"type":"control","at":"2026-03-28T09:04:00Z","action":"skip","key":"i9","source":"terminal"},
                {"type":"control","at":"2026-03-28T09:05:30Z","action":"hold","source":"command"}]"#,
        )
        .unwrap();
        let events: Vec<_> = entries.iter().filter_map(|e| e.event()?.ok()).collect();
        let state = ClockState::replay(&events);
        assert_eq!(state.shift, chrono::TimeDelta::seconds(120));
        assert_eq!(state.skipped, vec!["i9".to_string()]);
        assert!(state.held_since.is_some(), "the open hold is still held");
        // Restarted just before T0, still held; resumed at T+10m.
        let (r, _) = script(
            rig(Duration::from_secs(3600)),
            state,
            vec![(600, Action::Resume)],
        )
        .await;
        let got = sends(&r);
        assert_eq!(got.len(), 9, "i9 stays skipped");
        // The open hold began at 09:05:30 and ended at 09:10: 270 s more on top of 120 s.
        let at = |b: &str| got.iter().find(|(x, _, _)| x == b).unwrap().1 / 1000;
        assert_eq!(at("b0"), 600, "nothing fired while held");
        assert_eq!(at("b8"), 480 + 120 + 270);
    }
}
