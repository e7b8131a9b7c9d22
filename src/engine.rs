//! The scheduler: fires a precomputed list of occurrences at their instants.
//!
//! Each occurrence fires at an absolute wall-clock instant. Waiting is done against the
//! wall clock in chunks of at most a second, so a suspended laptop or a clock step is
//! noticed within a second and handled by the late policy; the last stretch sleeps to
//! just before the instant and then yields until it, so no drift accumulates and a
//! send starts within about a millisecond of its instant. Occurrences due at the same
//! instant are prepared together (bodies built, `sending` entries journaled with one
//! `fsync`) a little ahead of time, then started in file order, at most `concurrency`
//! in flight. The engine journals through [`Journal`] (it must wait for each
//! `sending` entry to be durable before sending) and publishes every entry on an
//! event channel; output is the listeners' business, never the engine's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::client::Outcome;
use crate::journal::{Entry, Journal};
use crate::timeline::Timeline;

/// How long before its instant an occurrence is prepared and journaled.
pub const PREPARE_LEAD: Duration = Duration::from_millis(50);
/// Later than this past its instant, an occurrence counts as late.
pub const LATE_GRACE: Duration = Duration::from_secs(1);
/// The longest single sleep: how soon a clock jump is noticed.
const CHUNK: Duration = Duration::from_secs(1);

/// Sends one body; the real one is HTTP ([`crate::client::Client`]).
pub trait Dispatch: Send + Sync + 'static {
    fn send(&self, body: Map<String, Value>) -> impl Future<Output = Outcome> + Send;
}

impl Dispatch for crate::client::Client {
    async fn send(&self, body: Map<String, Value>) -> Outcome {
        self.post_message(&body).await
    }
}

/// Wall-clock time, real or following tokio's (paused) clock in tests.
#[derive(Clone, Debug)]
pub enum Clock {
    Real,
    /// `wall0` at the tokio instant `inst0`; advances with tokio time.
    Virtual {
        wall0: DateTime<Utc>,
        inst0: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `wall0` now and then follows tokio's clock.
    pub fn following_tokio(wall0: DateTime<Utc>) -> Clock {
        Clock::Virtual {
            wall0,
            inst0: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Real => Utc::now(),
            Clock::Virtual { wall0, inst0 } => {
                *wall0
                    + chrono::TimeDelta::from_std(inst0.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
            }
        }
    }

    /// Wait until the wall clock reads `when`; `true` when stopped first.
    /// Without `stop`, nothing interrupts the wait.
    pub async fn sleep_until(
        &self,
        when: DateTime<Utc>,
        mut stop: Option<&mut watch::Receiver<bool>>,
    ) -> bool {
        loop {
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                return true;
            }
            let remaining = (when - self.now()).to_std().unwrap_or(Duration::ZERO);
            if remaining.is_zero() {
                return false;
            }
            let (nap, last) = match self {
                Clock::Virtual { .. } => (remaining, true),
                // Re-read the wall clock at least every CHUNK.
                Clock::Real if remaining > CHUNK + Duration::from_millis(5) => (CHUNK, false),
                // Sleep to 2 ms short (the timer's resolution is 1 ms), then yield.
                Clock::Real => (remaining.saturating_sub(Duration::from_millis(2)), true),
            };
            match stop.as_mut() {
                Some(stop) => tokio::select! {
                    () = tokio::time::sleep(nap) => {}
                    _ = stop.changed() => return true,
                },
                None => tokio::time::sleep(nap).await,
            }
            if last {
                if let Clock::Real = self {
                    while Utc::now() < when {
                        tokio::task::yield_now().await;
                    }
                }
                return false;
            }
        }
    }
}

/// What to do with an occurrence whose instant has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
    /// After a stop, how long in-flight requests may take to finish.
    pub drain: Duration,
}

/// One occurrence to fire.
#[derive(Clone, Debug)]
pub struct Item {
    /// Index into the timeline's occurrences.
    pub occ: usize,
    pub fire_at: DateTime<Utc>,
}

/// How the engine's work ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// Stopped by a signal; these occurrences were never started.
    Interrupted {
        pending: usize,
    },
}

pub struct Engine<D: Dispatch> {
    pub timeline: Arc<Timeline>,
    pub dispatch: Arc<D>,
    pub journal: Arc<Journal>,
    pub clock: Clock,
    pub config: Config,
    /// Every entry, once journaled.
    pub events: mpsc::UnboundedSender<Entry>,
    /// The next occurrence and its instant, for a countdown.
    pub next: watch::Sender<Option<(String, DateTime<Utc>)>>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl<D: Dispatch> Engine<D> {
    /// Fire `items` (sorted by instant, ties in file order) until done or stopped.
    pub async fn run(
        &self,
        items: Vec<Item>,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<Ending> {
        // Two stages joined by a short queue, so that preparing the next group (bodies,
        // `sending` entries, one fsync) overlaps with sending the current one.
        let (tx, mut rx) = mpsc::channel::<(DateTime<Utc>, Vec<(Item, Map<String, Value>)>)>(4);
        let producer = async {
            let mut stop = stop;
            let mut i = 0;
            let mut stopped = false;
            while i < items.len() {
                // A group: every item due at the same instant (with --speed max, a batch).
                let fire_at = items[i].fire_at;
                let cap = if self.config.max_speed {
                    128
                } else {
                    usize::MAX
                };
                let mut j = i + 1;
                while j < items.len()
                    && j - i < cap
                    && (self.config.max_speed || items[j].fire_at == fire_at)
                {
                    j += 1;
                }
                let key = self.timeline.occurrences[items[i].occ].key.clone();
                let _ = self.next.send(Some((key, fire_at)));
                if !self.config.max_speed {
                    let lead = chrono::TimeDelta::from_std(PREPARE_LEAD).unwrap_or_default();
                    if self
                        .clock
                        .sleep_until(fire_at - lead, Some(&mut stop))
                        .await
                    {
                        stopped = true;
                        break;
                    }
                }
                if *stop.borrow() {
                    stopped = true;
                    break;
                }
                let prepared = self.prepare(&items[i..j]).await?;
                i = j;
                if tx.send((fire_at, prepared)).await.is_err() {
                    break;
                }
            }
            drop(tx);
            let _ = self.next.send(None);
            Ok::<_, std::io::Error>((items.len() - i, stopped))
        };
        let consumer = async {
            let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
            let mut inflight = tokio::task::JoinSet::new();
            while let Some((fire_at, prepared)) = rx.recv().await {
                if !self.config.max_speed {
                    // Journaled as sending: the group goes out even if a stop comes now.
                    self.clock.sleep_until(fire_at, None).await;
                }
                for (item, body) in prepared {
                    let permit = permits
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    let dispatch = self.dispatch.clone();
                    let journal = self.journal.clone();
                    let events = self.events.clone();
                    let clock = self.clock.clone();
                    let key = self.timeline.occurrences[item.occ].key.clone();
                    inflight.spawn(async move {
                        let started = clock.now();
                        let outcome = dispatch.send(body).await;
                        // The permit bounds requests in flight, not journal writes.
                        drop(permit);
                        let entry = outcome_entry(key, item.fire_at, started, clock.now(), outcome);
                        let written = journal.append(&entry).await;
                        let _ = events.send(entry);
                        written
                    });
                }
                // Collect finished sends as we go, surfacing journal failures.
                while let Some(done) = inflight.try_join_next() {
                    done.map_err(std::io::Error::other)??;
                }
            }
            Ok::<_, std::io::Error>(inflight)
        };
        let (produced, consumed) = tokio::join!(producer, consumer);
        let mut inflight = consumed?;
        let (pending, stopped) = produced?;
        let drain = async {
            while let Some(done) = inflight.join_next().await {
                done.map_err(std::io::Error::other)??;
            }
            Ok::<(), std::io::Error>(())
        };
        if stopped {
            if tokio::time::timeout(self.config.drain, drain)
                .await
                .is_err()
            {
                tracing::warn!(
                    "requests still in flight after {:?}; they stay `sending` (uncertain) in the journal",
                    self.config.drain
                );
            }
            Ok(Ending::Interrupted { pending })
        } else {
            drain.await?;
            Ok(Ending::Completed)
        }
    }

    /// Decide late ones, build bodies, journal `sending` for the rest (one fsync).
    async fn prepare(&self, group: &[Item]) -> std::io::Result<Vec<(Item, Map<String, Value>)>> {
        let now = self.clock.now();
        let mut ready = Vec::with_capacity(group.len());
        let mut acks = Vec::with_capacity(group.len());
        for item in group {
            let occ = &self.timeline.occurrences[item.occ];
            let late_by = (now - item.fire_at).to_std().unwrap_or(Duration::ZERO);
            let skip = if self.config.max_speed {
                None
            } else if late_by > self.config.late_max {
                Some(format!(
                    "too late: {} past its instant (--late-max {})",
                    show(late_by),
                    show(self.config.late_max)
                ))
            } else if late_by > LATE_GRACE && self.config.late == LatePolicy::Skip {
                Some(format!(
                    "late: {} past its instant (--late skip)",
                    show(late_by)
                ))
            } else {
                None
            };
            if let Some(reason) = skip {
                let entry = Entry::Skipped {
                    key: occ.key.clone(),
                    reason,
                    planned_at: rfc3339(item.fire_at),
                    at: rfc3339(now),
                };
                self.journal.append(&entry).await?;
                let _ = self.events.send(entry);
                continue;
            }
            let mut body = match self.timeline.body(occ) {
                Ok(body) => body,
                Err(errors) => {
                    let error = errors
                        .into_iter()
                        .map(|e| e.message)
                        .collect::<Vec<_>>()
                        .join("; ");
                    let entry = Entry::Failed {
                        key: occ.key.clone(),
                        status: None,
                        error: format!("cannot build the body: {error}"),
                        response: None,
                        planned_at: rfc3339(item.fire_at),
                        at: rfc3339(now),
                        attempts: 0,
                        maybe_delivered: false,
                    };
                    self.journal.append(&entry).await?;
                    let _ = self.events.send(entry);
                    continue;
                }
            };
            if let Some(team) = &self.config.redirect_team {
                body.insert("type".into(), Value::String("team".into()));
                body.insert("team_id".into(), team.clone());
                body.remove("player_email");
            }
            let entry = Entry::Sending {
                key: occ.key.clone(),
                planned_at: rfc3339(item.fire_at),
                at: rfc3339(now),
            };
            acks.push(self.journal.append_later(&entry)?);
            let _ = self.events.send(entry);
            ready.push((item.clone(), body));
        }
        for ack in acks {
            ack.await
                .unwrap_or_else(|_| Err(std::io::Error::other("the journal writer stopped")))?;
        }
        Ok(ready)
    }
}

fn show(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

fn outcome_entry(
    key: String,
    planned: DateTime<Utc>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    outcome: Outcome,
) -> Entry {
    let lateness = (started - planned).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0;
    match outcome {
        Outcome::Sent {
            status,
            message_id,
            attempts,
            possible_duplicate,
        } => Entry::Sent {
            key,
            status,
            message_id,
            planned_at: rfc3339(planned),
            sent_at: rfc3339(started),
            lateness_ms: lateness,
            attempts,
            possible_duplicate,
            late: lateness > LATE_GRACE.as_millis() as f64,
        },
        Outcome::Failed {
            status,
            error,
            response,
            attempts,
            maybe_delivered,
        } => Entry::Failed {
            key,
            status,
            error,
            response,
            planned_at: rfc3339(planned),
            at: rfc3339(now),
            attempts,
            maybe_delivered,
        },
    }
}
