//! Branches under tokio's paused clock: expected actions judged or expired, contingency
//! injects fired on time, holds moving deadlines, chains on actual sends, and a stop
//! and resume at every stage that never fires anything twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use injector::action::{Action, Source};
use injector::adaptive::{Assumption, Model};
use injector::engine::{Branching, Clock, ClockState, Command, Control, Ending, Engine, Item};
use injector::event::Event;
use injector::journal::{Journal, Replay};
use injector::timeline::Timeline;
use tokio::sync::{mpsc, oneshot, watch};

use crate::common::tempdir;
use crate::schedule::{Recorder, config};

const T0: &str = "2026-03-28T09:00:00Z";

/// The test scenario's head: injects as microblog posts from one persona to one team.
fn scenario(injects: &str) -> String {
    format!(
        "name: B\ndefaults:\n  type: team\n  team_id: 1\n  persona: \"3-1\"\n  channel: microblog\n{injects}"
    )
}

fn timeline(yaml: &str) -> Arc<Timeline> {
    let t0 = DateTime::parse_from_rfc3339(T0).unwrap();
    let checked =
        injector::validate::check("b.yaml", Arc::new(yaml.into()), Some(t0), 1.0, Utc::now());
    assert_eq!(
        checked.diags.error_count(),
        0,
        "{}",
        checked.diags.render(false)
    );
    Arc::new(checked.timeline.unwrap())
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc()
}

/// One part of a run (a fresh start, or a resume of the journal at `path`): the clock
/// starts at `start` seconds after T0; `script` acts at its times; `stop` (seconds)
/// stops it. The sends (body, milliseconds after T0), and how it ended.
struct Part {
    start: f64,
    script: Vec<(f64, Action)>,
    stop: Option<f64>,
    assume: Vec<Assumption>,
}

impl Part {
    fn new() -> Part {
        Part {
            start: -1.0,
            script: Vec::new(),
            stop: None,
            assume: Vec::new(),
        }
    }
    fn at(mut self, secs: f64, action: Action) -> Part {
        self.script.push((secs, action));
        self
    }
    fn from(mut self, secs: f64) -> Part {
        self.start = secs;
        self
    }
    fn stop(mut self, secs: f64) -> Part {
        self.stop = Some(secs);
        self
    }
}

fn instant(secs: f64) -> DateTime<Utc> {
    t0() + TimeDelta::milliseconds((secs * 1000.0) as i64)
}

async fn run_part(
    timeline: &Arc<Timeline>,
    path: &std::path::Path,
    part: Part,
) -> (Vec<(String, i64)>, Ending, Vec<Result<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let replay = Replay::parse(&text);
    let prior = replay.fold();
    let model = Arc::new(Model::new(timeline).expect("a branching scenario"));
    let items: Vec<Item> = timeline
        .occurrences
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            !model.is_conditional(timeline, *i)
                && prior
                    .get(&o.key)
                    .is_none_or(|s| s.status == injector::fold::Status::Pending)
        })
        .map(|(i, o)| Item {
            watched: model.watched[i],
            ..Item::new(i, timeline.fire_at(o).to_utc())
        })
        .collect();
    let keys: HashSet<&str> = timeline
        .occurrences
        .iter()
        .map(|o| o.key.as_str())
        .collect();
    let branching = Branching::resume(timeline, model, replay.events(), &prior, &keys, part.assume);
    let initial = ClockState::replay(replay.events());
    let clock = Clock::following_tokio(instant(part.start));
    let recorder = Arc::new(Recorder::new(&clock));
    let (events, _events_rx) = mpsc::unbounded_channel::<Event>();
    let (next, _) = watch::channel(None);
    let engine = Engine {
        timeline: injector::timeline::Shared::new(timeline.clone()),
        dispatch: recorder.clone(),
        journal: Arc::new(Journal::open_inline(path).unwrap()),
        clock: clock.clone(),
        config: config(Duration::from_secs(600), false),
        events: Arc::new(events),
        next,
    };
    let (tx, rx) = mpsc::channel(8);
    let (state, _) = watch::channel(ClockState::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let driver_clock = clock.clone();
    let script = part.script;
    let stop_at = part.stop;
    let driver = tokio::spawn(async move {
        let mut replies = Vec::new();
        for (at, action) in script {
            if stop_at.is_some_and(|s| s <= at) {
                break;
            }
            let wait = (instant(at) - driver_clock.now())
                .to_std()
                .unwrap_or_default();
            tokio::time::sleep(wait).await;
            let (reply, answer) = oneshot::channel();
            if tx
                .send(Command {
                    action,
                    source: Source::Command,
                    by: None,
                    ask: crate::schedule::confirmed(),
                    reply,
                })
                .await
                .is_err()
            {
                break;
            }
            replies.push(
                answer
                    .await
                    .map_or(Err("the run has finished".into()), crate::schedule::replied),
            );
        }
        replies
    });
    let stopper_clock = clock.clone();
    let stopper = tokio::spawn(async move {
        if let Some(at) = stop_at {
            let wait = (instant(at) - stopper_clock.now())
                .to_std()
                .unwrap_or_default();
            tokio::time::sleep(wait).await;
            let _ = stop_tx.send(true);
        }
        // Keep the sender alive until the run ends.
        std::future::pending::<()>().await;
    });
    let ending = engine
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
            Some(branching),
        )
        .await
        .unwrap();
    stopper.abort();
    let replies = driver.await.unwrap();
    let sends = recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(at, body)| {
            (
                body["body"].as_str().unwrap().to_string(),
                (*at - t0()).num_milliseconds(),
            )
        })
        .collect();
    (sends, ending, replies)
}

/// The journal's lines of a kind, as JSON.
fn lines(path: &std::path::Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == kind)
        .collect()
}

/// The evacuation call at 10 s expects an order within 20 s; a missed branch 2 s after,
/// a met branch at once, a follow-up 5 s after the call's actual send.
const EVAC: &str = "injects:
  - id: evac-call
    at: 10s
    body: call
    expect: { id: evacuation-ordered, action: Blue orders the evacuation, within: 20s }
  - id: flood-worsens
    when: { missed: evacuation-ordered }
    after: 2s
    body: worse
  - id: well-done
    when: { met: evacuation-ordered }
    body: well done
  - id: follow-up
    when: { sent: evac-call }
    after: 5s
    body: follow-up
";

fn met(id: &str) -> Action {
    Action::Met(id.into(), None)
}

fn missed(id: &str) -> Action {
    Action::Missed(id.into(), Some("no word from blue".into()))
}

#[tokio::test(start_paused = true)]
async fn met_before_the_deadline_fires_the_met_branch_at_the_judgment_and_never_the_missed_one() {
    let t = timeline(&scenario(EVAC));
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (sends, ending, replies) =
        run_part(&t, &path, Part::new().at(14.5, met("evacuation-ordered"))).await;
    assert_eq!(ending, Ending::Completed);
    assert_eq!(
        sends,
        vec![
            ("call".into(), 10_000),
            ("well done".into(), 14_500),
            ("follow-up".into(), 15_000),
        ]
    );
    assert!(
        replies[0].as_ref().unwrap().contains("triggered well-done"),
        "{replies:?}"
    );
    let not = lines(&path, "not_triggered");
    assert_eq!(not.len(), 1);
    assert_eq!(not[0]["inject"], "flood-worsens");
    assert!(lines(&path, "expired").is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unjudged_deadline_fires_the_missed_branch_at_the_deadline_plus_after() {
    let t = timeline(&scenario(EVAC));
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (sends, _, _) = run_part(&t, &path, Part::new()).await;
    assert_eq!(
        sends,
        vec![
            ("call".into(), 10_000),
            ("follow-up".into(), 15_000),
            ("worse".into(), 32_000),
        ]
    );
    let expired = lines(&path, "expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["at"], "2026-03-28T09:00:30.000000Z");
    let due = lines(&path, "due");
    assert_eq!(due[0]["due"], "2026-03-28T09:00:30.000000Z");
}

#[tokio::test(start_paused = true)]
async fn an_early_missed_by_hand_fires_the_missed_branch_then_and_a_late_change_of_mind_is_a_note()
{
    let t = timeline(&scenario(EVAC));
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (sends, _, replies) = run_part(
        &t,
        &path,
        Part::new()
            .at(12.0, missed("evacuation-ordered"))
            .at(13.0, met("evacuation-ordered")),
    )
    .await;
    assert_eq!(
        sends,
        vec![
            ("call".into(), 10_000),
            ("worse".into(), 14_000),
            ("follow-up".into(), 15_000),
        ]
    );
    assert!(
        replies[1]
            .as_ref()
            .unwrap_err()
            .contains("first judgment stands"),
        "{replies:?}"
    );
    // Only the judgment that stands is journaled, with its note.
    let controls = lines(&path, "control");
    assert_eq!(controls.len(), 1);
    assert_eq!(controls[0]["note"], "no word from blue");
    assert!(
        lines(&path, "triggered")
            .iter()
            .all(|l| l["inject"] != "well-done")
    );
}

#[tokio::test(start_paused = true)]
async fn a_hold_during_an_open_deadline_moves_it_by_the_hold() {
    let t = timeline(&scenario(EVAC));
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    // Held from 20 s to 80 s: the deadline (30 s) moves to 90 s, the branch to 92 s.
    let (sends, _, _) = run_part(
        &t,
        &path,
        Part::new().at(20.0, Action::Hold).at(80.0, Action::Resume),
    )
    .await;
    assert_eq!(
        sends,
        vec![
            ("call".into(), 10_000),
            ("follow-up".into(), 15_000),
            ("worse".into(), 92_000),
        ]
    );
    assert_eq!(
        lines(&path, "expired")[0]["at"],
        "2026-03-28T09:01:30.000000Z"
    );
}

#[tokio::test(start_paused = true)]
async fn a_chain_follows_the_actual_send_after_fire_now_and_after_a_late_send() {
    let t = timeline(&scenario(EVAC));
    // Fired by hand at 3 s: the follow-up 5 s after, the deadline 20 s after.
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (sends, _, _) = run_part(
        &t,
        &path,
        Part::new().at(3.0, Action::Fire("evac-call".into())),
    )
    .await;
    assert_eq!(
        sends,
        vec![
            ("call".into(), 3_000),
            ("follow-up".into(), 8_000),
            ("worse".into(), 25_000),
        ]
    );
    // Started late (the call due at 10 s goes at 12 s): the chain counts from 12 s.
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (sends, _, _) = run_part(&t, &path, Part::new().from(12.0)).await;
    assert_eq!(
        sends,
        vec![
            ("call".into(), 12_000),
            ("follow-up".into(), 17_000),
            ("worse".into(), 34_000),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn any_and_all_and_a_recurrence_and_a_fan_out_under_a_condition() {
    let yaml = scenario(
        "teams: { red: 11, blue: 12 }
expectations:
  - { id: a, action: A happens, by: 10s }
  - { id: b, action: B happens, by: 20s }
injects:
  - id: either
    when: { any: [ { met: a }, { met: b } ] }
    body: either
  - id: both
    when: { all: [ { met: a }, { met: b } ] }
    after: 1s
    every: 2s
    count: 3
    body: \"both {{ occurrence }}\"
  - id: each-team
    when: { all: [ { met: a }, { met: b } ] }
    team_id: [red, blue]
    body: each
  - id: never
    when: { all: [ { met: a }, { missed: b } ] }
    body: never
",
    );
    let t = timeline(&yaml);
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (sends, _, _) = run_part(&t, &path, Part::new().at(4.0, met("a")).at(6.0, met("b"))).await;
    assert_eq!(
        sends,
        vec![
            ("either".into(), 4_000),
            ("each".into(), 6_000),
            ("each".into(), 6_000),
            ("both 1".into(), 7_000),
            ("both 2".into(), 9_000),
            ("both 3".into(), 11_000),
        ]
    );
    let not = lines(&path, "not_triggered");
    assert_eq!(not.len(), 1, "{not:?}");
    assert_eq!(not[0]["inject"], "never");
    let triggered = lines(&path, "triggered");
    assert_eq!(triggered[0]["because"], "met: a");
    // The journal keeps every occurrence key of the fan-out.
    let sent: Vec<String> = lines(&path, "sent")
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect();
    assert!(
        sent.contains(&"each-team@red".to_string()) && sent.contains(&"each-team@blue".to_string())
    );
    assert!(sent.contains(&"both#3".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_condition_that_can_no_longer_hold_ends_as_not_triggered_and_the_run_ends() {
    let yaml = scenario(
        "injects:
  - id: call
    at: 1s
    body: call
    expect: { id: e, action: X, within: 5s }
  - id: skipped-parent
    at: 2s
    body: p
  - id: chained
    when: { sent: skipped-parent }
    body: chained
  - id: on-met
    when: { met: e }
    body: met
",
    );
    let t = timeline(&yaml);
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (sends, ending, _) = run_part(
        &t,
        &path,
        Part::new().at(0.5, Action::Skip("skipped-parent".into())),
    )
    .await;
    assert_eq!(ending, Ending::Completed);
    assert_eq!(sends, vec![("call".into(), 1_000)]);
    let not: Vec<String> = lines(&path, "not_triggered")
        .iter()
        .map(|l| l["inject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(not, vec!["chained", "on-met"]);
    let keys = t
        .occurrences
        .iter()
        .map(|o| o.key.clone())
        .collect::<Vec<_>>();
    let fold = Replay::parse(&std::fs::read_to_string(&path).unwrap())
        .fold_into(injector::fold::Fold::of_keys(keys.into_iter()));
    assert_eq!(fold.get("chained").unwrap().word(), "not triggered");
}

#[tokio::test(start_paused = true)]
async fn a_stop_and_resume_at_every_stage_never_fires_twice_and_keeps_every_judgment() {
    let t = timeline(&scenario(EVAC));
    // Judged missed at 12 s by hand: the branch at 14 s, the follow-up at 15 s.
    let whole = vec![
        ("call".to_string(), 10_000),
        ("worse".to_string(), 14_000),
        ("follow-up".to_string(), 15_000),
    ];
    for stop in [5.0, 10.5, 12.5, 14.5, 15.5, 40.0] {
        let dir = tempdir();
        let path = dir.path().join("j.jsonl");
        let (first, ending, _) = run_part(
            &t,
            &path,
            Part::new()
                .at(12.0, missed("evacuation-ordered"))
                .stop(stop),
        )
        .await;
        let mut all = first.clone();
        if matches!(ending, Ending::Interrupted { .. }) {
            // Resumed at once: the judgment stays, nothing is sent twice.
            let (second, ending, _) = run_part(
                &t,
                &path,
                Part::new()
                    .from(stop)
                    .at(12.0, missed("evacuation-ordered")),
            )
            .await;
            assert_eq!(ending, Ending::Completed);
            all.extend(second);
        }
        assert_eq!(all, whole, "stopped at {stop} s");
        let judgments = lines(&path, "control");
        assert!(
            judgments.iter().filter(|l| l["action"] == "missed").count() >= 1,
            "stopped at {stop} s"
        );
        assert_eq!(
            lines(&path, "triggered")
                .iter()
                .filter(|l| l["inject"] == "flood-worsens")
                .count(),
            1
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_deadline_that_passed_while_the_run_was_down_expires_on_resume_and_its_branch_follows_the_late_policy()
 {
    let t = timeline(&scenario(EVAC));
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let (_, ending, _) = run_part(&t, &path, Part::new().stop(20.0)).await;
    assert!(matches!(ending, Ending::Interrupted { .. }));
    // Down from 20 s to 60 s: the deadline (30 s) passed; the branch (32 s) fires late.
    let (sends, ending, _) = run_part(&t, &path, Part::new().from(60.0)).await;
    assert_eq!(ending, Ending::Completed);
    assert_eq!(sends, vec![("worse".into(), 60_000)]);
    assert_eq!(
        lines(&path, "expired")[0]["at"],
        "2026-03-28T09:00:30.000000Z"
    );
}

#[tokio::test(start_paused = true)]
async fn assumed_judgments_rehearse_a_branch_by_themselves() {
    let t = timeline(&scenario(EVAC));
    let model = Model::new(&t).unwrap();
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let part = Part {
        assume: injector::adaptive::parse_assumptions("met:evacuation-ordered@18s", &model)
            .unwrap(),
        ..Part::new()
    };
    let (sends, _, _) = run_part(&t, &path, part).await;
    assert_eq!(
        sends,
        vec![
            ("call".into(), 10_000),
            ("follow-up".into(), 15_000),
            ("well done".into(), 18_000),
        ]
    );
    assert_eq!(lines(&path, "control")[0]["source"], "assumed");
    // Untimed: met as soon as the deadline opens.
    let dir = tempdir();
    let path = dir.path().join("j.jsonl");
    let part = Part {
        assume: injector::adaptive::parse_assumptions("all-met", &model).unwrap(),
        ..Part::new()
    };
    let (sends, _, _) = run_part(&t, &path, part).await;
    assert_eq!(sends[1], ("well done".into(), 10_000));
    assert!(
        injector::adaptive::parse_assumptions("met:evacuation-orderd", &model)
            .unwrap_err()
            .contains("did you mean `evacuation-ordered`")
    );
}
