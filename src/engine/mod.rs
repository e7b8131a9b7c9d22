//! The scheduler: fires a precomputed list of occurrences at their instants.
//!
//! Each occurrence fires at an absolute wall-clock instant. Waiting is done against the
//! wall clock in chunks of at most a second, so a suspended laptop or a clock step is
//! noticed within a second and handled by the late policy; the last stretch sleeps to
//! just before the instant and then yields until it, so no drift accumulates and a
//! send starts within about a millisecond of its instant. Occurrences due at the same
//! instant are prepared together (bodies built, `sending` entries journaled with one
//! `fsync`) a little ahead of time, then started in file order, at most `concurrency`
//! in flight. Every step is an [`Event`], emitted in one way: journaled through
//! [`Journal`] (a `sending` line must be durable before its request starts), then handed
//! to a [`Listener`]; output is the listener's business, never the engine's. Live
//! [`crate::action::Action`]s arrive as [`Command`]s.
//!
//! # Layout
//! - here: the engine's types and the first stage, the producer (instants, groups,
//!   quiet windows, waiting for commands);
//! - `requests`: late ones decided, requests made ready, `sending` journaled,
//!   connections opened ahead; `senders`: the second stage, gates, outcomes, retried
//!   attempts journaled;
//! - `actions` carries out live actions, `previews` considers them first, `judgments`
//!   judges, corrects and undoes, `words` finds occurrences by people's keys and says
//!   them in people's words; `control`: commands, replies, the clock state, the cursor;
//! - `adaptive`: the engine's side of [`crate::adaptive`]; `clock` and `queue`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};

mod actions;
mod adaptive;
mod applied;
mod clock;
mod control;
mod improvised;
mod judgments;
mod previews;
mod queue;
mod requests;
mod senders;
mod words;

use adaptive::BranchCursor;
pub use adaptive::Branching;
pub use applied::{Applier, Carried, Handback, LastApply, Rebuilt, Text, sha256};
pub use clock::Clock;
use control::Cursor;
pub use control::{Ask, ClockState, Command, Consequence, Control, Preview, Reply, When};
use queue::Queue;

use crate::client::Outcome;
use crate::event::Event;
use crate::gate::{Gate, Opener};
use crate::journal::{Entry, Journal};
use crate::timeline::Timeline;

/// How long before its instant an occurrence is prepared and journaled.
pub const PREPARE_LEAD: Duration = Duration::from_millis(50);
/// Later than this past its instant, an occurrence counts as late.
pub const LATE_GRACE: Duration = Duration::from_secs(1);
/// With `--speed max`, how many occurrences are prepared (and journaled with one
/// `fsync`) together.
const MAX_SPEED_GROUP: usize = 512;
/// How long before a group its connections are opened (unless `--no-preconnect`).
pub const PRECONNECT_LEAD: Duration = Duration::from_secs(2);
/// How long before its instant a group's `started` line is written: a process killed in
/// between leaves the group uncertain though nothing went (before the gate, 0.05-0.1 ms
/// lay between the line and the requests' writes, their tasks being woken).
const STARTED_AHEAD: Duration = Duration::from_micros(200);
/// No group is prepared, nor connections opened, from this long before a group's instant
/// until [`QUIET_AFTER`] after it, so that the work of one group never delays another's
/// send (they run on one thread): two groups 50 ms apart would otherwise have the second
/// prepared at the first's instant.
const QUIET_BEFORE: Duration = Duration::from_millis(3);
const QUIET_AFTER: Duration = Duration::from_millis(2);
/// Groups closer than this are one burst: the quiet around the first is not kept.
const QUIET_APART: Duration = Duration::from_millis(10);

/// Hears of every event once the engine has journaled it (`run`'s board, log and
/// stdout). It is called on the engine's own tasks, sends included: it must be quick
/// and never wait (on a terminal, say), or it would delay sends.
pub trait Listener: Send + Sync + 'static {
    fn heard(&self, event: Event);
}

/// Events passed on as they come, for a task to take in at its own pace.
impl Listener for mpsc::UnboundedSender<Event> {
    fn heard(&self, event: Event) {
        let _ = self.send(event);
    }
}

/// Journal `event` without waiting for the disk, then tell `listener`; the line's
/// sequence number (for [`Journal::durable`]). The one way an event leaves the engine.
fn emit_queued(journal: &Journal, listener: &dyn Listener, event: Event) -> std::io::Result<u64> {
    let written = journal.record(&Entry::from(&event));
    listener.heard(event);
    written
}

/// Sends one body; the real one is HTTP ([`crate::client::Client`]).
pub trait Dispatch: Send + Sync + 'static {
    /// A body made ready to go, ahead of its instant (for HTTP, the serialized body),
    /// so that little work is left for the instant itself.
    type Ready: Send + 'static;
    fn ready(&self, to: crate::message::Endpoint, body: Map<String, Value>) -> Self::Ready;
    /// [`Dispatch::ready`] for a body already serialized (compact JSON of such a map);
    /// by default, read back into a map.
    fn ready_json(&self, to: crate::message::Endpoint, json: bytes::Bytes) -> Self::Ready {
        self.ready(to, serde_json::from_slice(&json).unwrap_or_default())
    }
    fn send(&self, ready: Self::Ready) -> impl Future<Output = Outcome> + Send;
    /// Send at the instant `gate` opens: handed over now, held until then (for HTTP, the
    /// request waits on its connection, serialized). By default, a wait for the gate,
    /// then [`Dispatch::send`]; nothing goes when it is abandoned.
    fn send_at(
        &self,
        ready: Self::Ready,
        gate: &crate::gate::Gate,
    ) -> impl Future<Output = Outcome> + Send {
        async move {
            match gate.opened().await {
                Some(_) => self.send(ready).await,
                None => Outcome::Failed {
                    status: None,
                    error: crate::gate::ABANDONED.into(),
                    response: None,
                    attempts: 0,
                    maybe_delivered: false,
                },
            }
        }
    }
    /// [`Dispatch::send_at`] (or, without a gate, [`Dispatch::send`]) telling `report` of
    /// each retried attempt. By default, nothing is told.
    fn send_reporting(
        &self,
        ready: Self::Ready,
        gate: Option<&crate::gate::Gate>,
        report: &dyn crate::client::Attempts,
    ) -> impl Future<Output = Outcome> + Send {
        let _ = report;
        async move {
            match gate {
                Some(gate) => self.send_at(ready, gate).await,
                None => self.send(ready).await,
            }
        }
    }
    /// Have `n` connections open and ready for the next sends, those open counting
    /// (nothing is sent that changes anything); called ahead of every group, so it must
    /// be quick when they are open. By default, nothing to do.
    fn preconnect(&self, n: usize) -> impl Future<Output = ()> + Send {
        let _ = n;
        async {}
    }
}

impl Dispatch for crate::client::Client {
    type Ready = Result<(crate::message::Endpoint, bytes::Bytes), String>;

    fn ready(&self, to: crate::message::Endpoint, body: Map<String, Value>) -> Self::Ready {
        self.message_body(&body).map(|json| (to, json))
    }

    fn ready_json(&self, to: crate::message::Endpoint, json: bytes::Bytes) -> Self::Ready {
        Ok((to, json))
    }

    async fn send(&self, ready: Self::Ready) -> Outcome {
        self.post_body(ready, None, None).await
    }

    async fn send_at(&self, ready: Self::Ready, gate: &crate::gate::Gate) -> Outcome {
        self.post_body(ready, Some(gate), None).await
    }

    async fn send_reporting(
        &self,
        ready: Self::Ready,
        gate: Option<&crate::gate::Gate>,
        report: &dyn crate::client::Attempts,
    ) -> Outcome {
        self.post_body(ready, gate, Some(report)).await
    }

    async fn preconnect(&self, n: usize) {
        crate::client::Client::preconnect(self, n).await;
    }
}

/// What to do with an occurrence whose instant has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatePolicy {
    /// Send it at once, marked late.
    Fire,
    /// Journal it as skipped.
    Skip,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub late: LatePolicy,
    /// Later than this, an occurrence is skipped whatever the policy.
    pub late_max: Duration,
    pub concurrency: usize,
    /// Fire in order as fast as the target accepts, ignoring instants.
    pub max_speed: bool,
    /// Send every message to this team instead.
    pub redirect_team: Option<Value>,
    /// Open a group's connections [`PRECONNECT_LEAD`] ahead of it, so that a burst
    /// does not wait for connections (and TLS handshakes) at its instant.
    pub preconnect: bool,
    /// After a stop, how long in-flight requests may take to finish.
    pub drain: Duration,
    /// With live control: once every occurrence is handled, wait for a director's
    /// `end` (judgments, notes and undo stay possible) instead of ending by itself.
    pub wait_for_end: bool,
}

/// One occurrence to fire.
#[derive(Clone, Debug)]
pub struct Item {
    /// Index into the timeline's occurrences.
    pub occ: usize,
    /// The instant it fires at (moved by holds and shifts).
    pub fire_at: DateTime<Utc>,
    /// The instant the timeline planned; `ts` moves with the difference.
    pub planned: DateTime<Utc>,
    /// The exact body as compact JSON, serialized before the run (with the plan's
    /// digests): sent as it is while the instant has not moved, else built again.
    pub body: Option<bytes::Bytes>,
    /// Its send (or its end without one) matters to a branch: the producer hears of it.
    pub watched: bool,
}

impl Item {
    pub fn new(occ: usize, fire_at: DateTime<Utc>) -> Item {
        Item {
            occ,
            fire_at,
            planned: fire_at,
            body: None,
            watched: false,
        }
    }
}

/// What ended the producer's wait.
enum Wake {
    Command(Command),
    Outcome(adaptive::Outcome),
    /// The instant waited for came.
    Due,
    Stop,
}

/// How the engine's work ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// Stopped by a signal; these occurrences were never started.
    Interrupted {
        pending: usize,
    },
    /// Ended by a director (`end`); these occurrences were never started.
    Ended {
        pending: usize,
    },
    /// The journal took a line that changes the exercise's model (an apply, an ad hoc
    /// inject with branches): the run is to be rebuilt from it and go on, with this
    /// live control.
    Replan(Box<Handback>),
}

pub struct Engine<D: Dispatch> {
    /// The run's timeline, which ad hoc injects join as the run goes on.
    pub timeline: Arc<crate::timeline::Shared>,
    pub dispatch: Arc<D>,
    pub journal: Arc<Journal>,
    pub clock: Clock,
    pub config: Config,
    /// Hears of every entry, once journaled.
    pub events: Arc<dyn Listener>,
    /// The next occurrence and its instant, for a countdown.
    pub next: watch::Sender<Option<(String, DateTime<Utc>)>>,
}

/// Occurrences whose last send failed in this part of the run (what `retry` may send
/// again), each with whether it may have arrived all the same.
type Failures = Arc<std::sync::Mutex<std::collections::HashMap<usize, bool>>>;

/// The sender tasks, and how the first of them to end early ended.
type Senders = tokio::task::JoinSet<std::io::Result<()>>;
type SenderEnd = Result<std::io::Result<()>, tokio::task::JoinError>;

/// An occurrence ready to send, with its request.
type Ready<D> = (Item, <D as Dispatch>::Ready);
/// Queued for a sender: with the gate it waits behind (none at `--speed max`).
type Queued<D> = (Ready<D>, Option<Arc<Gate>>);
/// A group ready to send, from the producer to the senders.
struct Prepared<D: Dispatch> {
    /// Its instant.
    at: DateTime<Utc>,
    /// Each item with its request.
    ready: Vec<Ready<D>>,
    /// The journal's sequence number that must be durable before any of them is sent.
    durable: u64,
    /// Its `started` line, made ahead so that only its write is left for the instant.
    started: Vec<u8>,
}

/// A group for the first stage to hand over: every item due at one instant (with
/// `--speed max`, a batch).
struct Group {
    /// Its instant, moved by the clock's shift.
    at: DateTime<Utc>,
    /// Its items (those not fired by hand).
    items: Vec<Item>,
    /// Where the fixed part of the timeline ends after it.
    end: usize,
    /// How many triggered items it takes.
    extras: usize,
}

/// Publish the cursor's clock, with its branches' views, to the run's state.
fn publish_clock(publish: &watch::Sender<ClockState>, cursor: &mut Cursor) {
    if let Some(b) = &cursor.branch {
        cursor.clock.branches = crate::adaptive::Views::of(&b.model, &b.state, cursor.clock.shift);
    }
    publish.send_replace(cursor.clock.clone());
}

impl<D: Dispatch> Engine<D> {
    /// The run's timeline as it stands.
    pub fn timeline(&self) -> Arc<Timeline> {
        self.timeline.get()
    }

    /// Fire `items` (sorted by instant, ties in file order) until done or stopped.
    pub async fn run(
        &self,
        items: Vec<Item>,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<Ending> {
        self.run_controlled(items, stop, None, None).await
    }

    /// [`Engine::run`], steered live by `control`: two stages joined by a short queue,
    /// so that preparing the next group (bodies, `sending` lines, one `fsync`) overlaps
    /// with sending the current one.
    pub async fn run_controlled(
        &self,
        items: Vec<Item>,
        stop: watch::Receiver<bool>,
        control: Option<Control>,
        branching: Option<Branching>,
    ) -> std::io::Result<Ending> {
        let (tx, rx) = mpsc::channel::<Prepared<D>>(4);
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let (branch, extra) = match branching.map(|b| BranchCursor::new(b, outcomes_rx)) {
            Some((b, extra)) => (Some(b), extra),
            None => (None, Vec::new()),
        };
        let outcomes = branch.is_some().then_some(outcomes_tx);
        let failed = Failures::default();
        let (produced, consumed) = tokio::join!(
            self.produce(&items, stop, control, (branch, extra), tx, failed.clone()),
            self.consume(rx, outcomes, failed.clone())
        );
        let (mut senders, failed) = consumed?;
        if let Some(done) = failed {
            done.map_err(std::io::Error::other)??;
        }
        let mut cursor = produced?;
        let drain = async {
            while let Some(done) = senders.join_next().await {
                done.map_err(std::io::Error::other)??;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Some(handback) = cursor.handback.take() {
            // What is in flight finishes first: the next part reads how it went.
            drain.await?;
            return Ok(Ending::Replan(handback));
        }
        if !cursor.stopped {
            drain.await?;
            return Ok(Ending::Completed);
        }
        if cursor.ended {
            drain.await?;
            return Ok(Ending::Ended {
                pending: cursor.pending(items.len()) + cursor.extra.len(),
            });
        }
        if tokio::time::timeout(self.config.drain, drain)
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still in flight after {:?}; they stay `sending` (uncertain) in the journal",
                self.config.drain
            );
        }
        Ok(Ending::Interrupted {
            pending: cursor.pending(items.len()) + cursor.extra.len(),
        })
    }

    /// The first stage: wait for each group's instant (or a deadline's, a command, a
    /// watched send's outcome, or a stop), carry out commands and branch steps, prepare
    /// the group and hand it to the senders.
    async fn produce(
        &self,
        items: &[Item],
        mut stop: watch::Receiver<bool>,
        control: Option<Control>,
        (branch, extra): (Option<BranchCursor>, Vec<Item>),
        tx: mpsc::Sender<Prepared<D>>,
        failed: Failures,
    ) -> std::io::Result<Cursor> {
        let (mut commands, initial, publish, applier, carried) = match control {
            Some(c) => (
                Some(c.commands),
                c.initial,
                Some(c.state),
                c.applier,
                c.carried,
            ),
            None => (None, ClockState::default(), None, None, None),
        };
        let mut cursor = self.cursor(initial, branch, extra, failed);
        cursor.applier = applier;
        if let Some(c) = carried {
            self.carry_over(&mut cursor, c);
        }
        let mut outcomes = cursor.branch.as_mut().and_then(|b| b.outcomes.take());
        if let Some(b) = cursor.branch.as_mut() {
            let now = self.clock.now();
            let effects = b.state.on_start(&b.model, now, cursor.clock.base(now));
            self.branch_effects(&mut cursor, effects, now).await?;
        }
        loop {
            let has_fixed = cursor.advance(items.len());
            let timer = cursor.branch.as_ref().and_then(|b| {
                b.state
                    .next_timer(&b.model)
                    .map(|(base, t)| (moved(base, cursor.clock.shift), t))
            });
            let group = (has_fixed || Self::next_extra(&cursor).is_some())
                .then(|| self.group(items, &cursor));
            let lead = chrono::TimeDelta::from_std(PREPARE_LEAD).unwrap_or_default();
            // A deadline before the next group's preparation comes first.
            let timer = timer.filter(|(at, _)| group.as_ref().is_none_or(|g| *at < g.at - lead));
            let in_flight = cursor.branch.as_ref().map_or(0, |b| b.in_flight);
            let idle = group.is_none() && timer.is_none() && in_flight == 0;
            // Everything handled: with live control, the run waits for its director.
            let waiting = idle && self.config.wait_for_end && commands.is_some();
            if idle && !waiting {
                break;
            }
            if waiting && !cursor.clock.waiting {
                tracing::warn!(
                    "nothing left to send: the run stays open for judgments, notes and undo until a director ends it (`injector ctl --control URL end`, `--yes` without a terminal, or the page's End button; --end-when-done ends by itself)"
                );
            }
            cursor.clock.waiting = waiting;
            if let Some(p) = &publish {
                publish_clock(p, &mut cursor);
            }
            let _ = self.next.send(group.as_ref().and_then(|g| {
                let occ = g.items.first().or(items.get(cursor.next))?.occ;
                Some((self.timeline().occurrences[occ].key.clone(), g.at))
            }));
            let held = cursor.clock.held_since.is_some();
            let wait = async {
                match (&group, &timer) {
                    _ if held => {
                        let _ = stop.changed().await;
                        true
                    }
                    (_, Some((at, _))) => {
                        !self.config.max_speed && self.clock.sleep_until(*at, Some(&mut stop)).await
                            || *stop.borrow()
                    }
                    (Some(g), None) => self.wait_for(g.at, g.items.len(), &cursor, &mut stop).await,
                    (None, None) => {
                        // Only sends in flight: wait for their outcomes.
                        let _ = stop.changed().await;
                        true
                    }
                }
            };
            let wake = tokio::select! {
                biased;
                c = async { commands.as_mut().expect("guarded").recv().await }, if commands.is_some() => match c {
                    Some(c) => Wake::Command(c),
                    None => { commands = None; continue; }
                },
                o = async { outcomes.as_mut().expect("guarded").recv().await }, if in_flight > 0 && outcomes.is_some() => match o {
                    Some(o) => Wake::Outcome(o),
                    None => continue,
                },
                interrupted = wait => if interrupted { Wake::Stop } else { Wake::Due },
            };
            match wake {
                // Waiting for the director with nothing left: a stop ends it, completed.
                Wake::Stop if waiting => break,
                Wake::Stop => {
                    cursor.stopped = true;
                    break;
                }
                Wake::Command(cmd) => {
                    let reply = self
                        .apply(
                            cmd.action,
                            &cmd.ask,
                            (cmd.source, cmd.by),
                            items,
                            &mut cursor,
                            &tx,
                        )
                        .await?;
                    let _ = cmd.reply.send(reply);
                    if cursor.ended || cursor.replan {
                        break;
                    }
                    continue;
                }
                Wake::Outcome(o) => {
                    self.heard(&mut cursor, o).await?;
                    continue;
                }
                Wake::Due => {}
            }
            if *stop.borrow() {
                cursor.stopped = true;
                break;
            }
            if let Some((at, t)) = timer {
                if let Some(b) = cursor.branch.as_mut() {
                    let effects = b.state.on_timer(&b.model, t, at, cursor.clock.base(at));
                    self.branch_effects(&mut cursor, effects, at).await?;
                }
                continue;
            }
            let Some(group) = group else {
                continue;
            };
            if !self.hand_over(&mut cursor, group, &tx).await? {
                break;
            }
        }
        if cursor.replan {
            // The next part takes up the live control where this one leaves it.
            let carried = self.carried(&cursor);
            cursor.handback = match (commands, publish) {
                (Some(commands), Some(state)) => Some(Box::new(Handback {
                    control: Control {
                        commands,
                        initial: ClockState::default(),
                        state,
                        applier: cursor.applier.take(),
                        carried: Some(carried),
                    },
                })),
                _ => None,
            };
            return Ok(cursor);
        }
        self.finish(&mut cursor, publish.as_ref()).await?;
        Ok(cursor)
    }

    /// What this part of the run hands on to the next, by key.
    fn carried(&self, cursor: &Cursor) -> Carried {
        let t = self.timeline();
        let key = |occ: usize| t.occurrences.get(occ).map(|o| o.key.clone());
        Carried {
            began: Some(cursor.began),
            went: cursor
                .went
                .iter()
                .filter_map(|(occ, at)| Some((key(*occ)?, *at)))
                .collect(),
            passed: cursor.passed.iter().filter_map(|occ| key(*occ)).collect(),
            failed: cursor
                .failed
                .lock()
                .map(|f| {
                    f.iter()
                        .filter_map(|(occ, maybe)| Some((key(*occ)?, *maybe)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Take in what the part of the run before this one handed on.
    fn carry_over(&self, cursor: &mut Cursor, carried: Carried) {
        let t = self.timeline();
        let occ_of: std::collections::HashMap<&str, usize> = t
            .occurrences
            .iter()
            .enumerate()
            .map(|(i, o)| (o.key.as_str(), i))
            .collect();
        if let Some(began) = carried.began {
            cursor.began = began;
        }
        cursor.went = carried
            .went
            .iter()
            .filter_map(|(k, at)| Some((*occ_of.get(k.as_str())?, *at)))
            .collect();
        cursor.passed = carried
            .passed
            .iter()
            .filter_map(|k| occ_of.get(k.as_str()).copied())
            .collect();
        if let Ok(mut failed) = cursor.failed.lock() {
            failed.extend(
                carried
                    .failed
                    .iter()
                    .filter_map(|(k, maybe)| Some((*occ_of.get(k.as_str())?, *maybe))),
            );
        }
    }

    /// The producer's cursor at the start of a run: at the clock's `initial` state, with
    /// the run's branches and the triggered items already waiting (`extra`).
    fn cursor(
        &self,
        initial: ClockState,
        branch: Option<BranchCursor>,
        extra: Vec<Item>,
        failed: Failures,
    ) -> Cursor {
        let mut cursor = Cursor {
            next: 0,
            fired: std::collections::HashSet::new(),
            clock: initial,
            stopped: false,
            last_fired: None,
            branch,
            ended: false,
            ended_by: None,
            went: Vec::new(),
            passed: Vec::new(),
            began: self.clock.now(),
            failed,
            extra: Vec::new(),
            replan: false,
            applier: None,
            handback: None,
        };
        for item in extra {
            cursor.insert_extra(item);
        }
        cursor
    }

    /// Prepare `group` (bodies, `sending` lines, one `fsync`), move the cursor past it
    /// and hand it to the senders; `false` when the senders are gone.
    async fn hand_over(
        &self,
        cursor: &mut Cursor,
        group: Group,
        tx: &mpsc::Sender<Prepared<D>>,
    ) -> std::io::Result<bool> {
        let (prepared, durable) = self.prepare(&group.items, &cursor.clock).await?;
        cursor.note_went(prepared.iter().map(|(i, _)| i), group.at);
        cursor.note_passed(&group.items, &prepared);
        cursor.last_fired = Some(group.at);
        cursor.next = group.end;
        cursor.extra.drain(..group.extras);
        self.dispatched(cursor, &group.items, &prepared).await?;
        let started = self.started_line(&prepared, group.at);
        Ok(tx
            .send(Prepared {
                at: group.at,
                ready: prepared,
                durable,
                started,
            })
            .await
            .is_ok())
    }

    /// The end of the first stage: the branches' finish (unless stopped), no next group,
    /// and the clock's last state published with the words for how the run ended.
    async fn finish(
        &self,
        cursor: &mut Cursor,
        publish: Option<&watch::Sender<ClockState>>,
    ) -> std::io::Result<()> {
        if !cursor.stopped
            && let Some(b) = cursor.branch.as_mut()
        {
            let now = self.clock.now();
            let effects = b.state.on_finish(&b.model, cursor.clock.base(now));
            self.branch_effects(cursor, effects, now).await?;
        }
        let _ = self.next.send(None);
        if let Some(p) = publish {
            cursor.clock.waiting = false;
            cursor.clock.ended = Some(self.ending_words(cursor));
            publish_clock(p, cursor);
        }
        Ok(())
    }

    /// The next group from the cursor: every item due at the same instant (with
    /// `--speed max`, a batch), fixed and triggered, moved by the clock's shift.
    fn group(&self, items: &[Item], cursor: &Cursor) -> Group {
        let shift = cursor.clock.shift;
        let fixed_at =
            (cursor.next < items.len()).then(|| moved(items[cursor.next].fire_at, shift));
        let extra_at = Self::next_extra(cursor);
        let fire_at = match (fixed_at, extra_at) {
            (Some(f), Some(e)) => f.min(e),
            (Some(f), None) => f,
            (None, Some(e)) => e,
            (None, None) => unreachable!("a group is asked for only when there is one"),
        };
        let cap = if self.config.max_speed {
            MAX_SPEED_GROUP
        } else {
            usize::MAX
        };
        let mut group: Vec<Item> = Vec::new();
        let mut end = cursor.next;
        // At `--speed max`, triggered items go first when due no later than the rest.
        let fixed_first = fixed_at.is_some_and(|f| extra_at.is_none_or(|e| f < e));
        if !self.config.max_speed || fixed_first {
            while end < items.len()
                && group.len() < cap
                && (self.config.max_speed || moved(items[end].fire_at, shift) == fire_at)
            {
                if !cursor.fired.contains(&end) {
                    group.push(Item {
                        fire_at: moved(items[end].fire_at, shift),
                        ..items[end].clone()
                    });
                }
                end += 1;
            }
        }
        let mut extras = 0;
        if !self.config.max_speed || !fixed_first {
            for item in &cursor.extra {
                let at = moved(item.fire_at, shift);
                if group.len() >= cap || (!self.config.max_speed && at != fire_at) {
                    break;
                }
                group.push(Item {
                    fire_at: at,
                    ..item.clone()
                });
                extras += 1;
            }
        }
        Group {
            at: fire_at,
            items: group,
            end,
            extras,
        }
    }

    /// Wait until a group of `size` due at `fire_at` is to be prepared (opening its
    /// connections first with `--preconnect`); `true` when stopped first. While held,
    /// only a stop ends the wait (a command ends it from outside).
    async fn wait_for(
        &self,
        fire_at: DateTime<Utc>,
        size: usize,
        cursor: &Cursor,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        if cursor.clock.held_since.is_some() {
            let _ = stop.changed().await;
            return true;
        }
        if self.config.max_speed {
            return *stop.borrow();
        }
        let lead = chrono::TimeDelta::from_std(PREPARE_LEAD).unwrap_or_default();
        let connections = self.connections_for(size);
        if connections > 0 {
            let warm_lead = chrono::TimeDelta::from_std(PRECONNECT_LEAD).unwrap_or_default();
            if self
                .clock
                .sleep_until(fire_at - warm_lead, Some(&mut *stop))
                .await
                || self.quiet(cursor.last_fired, fire_at, stop).await
            {
                return true;
            }
            self.preconnect(connections, fire_at - lead).await;
        }
        self.clock
            .sleep_until(fire_at - lead, Some(&mut *stop))
            .await
            || self.quiet(cursor.last_fired, fire_at, stop).await
    }

    /// Wait out the quiet around `previous` (a group handed to the senders, due at it)
    /// when now is in it, unless the group due at `fire_at` is part of the same burst;
    /// `true` when stopped first.
    async fn quiet(
        &self,
        previous: Option<DateTime<Utc>>,
        fire_at: DateTime<Utc>,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let Some(previous) = previous else {
            return false;
        };
        let delta = |d: Duration| chrono::TimeDelta::from_std(d).unwrap_or_default();
        let now = self.clock.now();
        if fire_at - previous < delta(QUIET_APART)
            || now < previous - delta(QUIET_BEFORE)
            || now >= previous + delta(QUIET_AFTER)
        {
            return false;
        }
        self.clock
            .sleep_until(previous + delta(QUIET_AFTER), Some(stop))
            .await
    }

    /// Journal `event` durably, then tell the listener.
    async fn emit(&self, event: Event) -> std::io::Result<()> {
        let seq = emit_queued(&self.journal, &*self.events, event)?;
        self.journal.durable(seq).await
    }
}

pub use crate::timeline::moved;
