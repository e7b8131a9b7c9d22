//! The second stage: a pool of senders, each taking the next prepared request; a
//! group's gate opened at its instant; each outcome journaled, watched ones reported
//! back; retried attempts journaled as they go.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::*;

/// Journals a send's retried attempts, each line written at once (unsynced, as the
/// `started` line is): the answer before the wait, a `started` before each retry.
struct Reporter<'a> {
    key: &'a str,
    journal: &'a Journal,
    events: &'a dyn Listener,
    clock: &'a Clock,
}

impl Reporter<'_> {
    fn write(&self, event: Event) {
        // A write that fails here fails the run at its next append.
        let line = Journal::line(&Entry::from(&event)).unwrap_or_default();
        let _ = self.journal.write_now(&line);
        self.events.heard(event);
    }
}

impl crate::client::Attempts for Reporter<'_> {
    fn answered(&self, status: Option<u16>, error: &str, reached: bool) {
        self.write(Event::Attempt {
            key: self.key.to_string(),
            at: self.clock.now(),
            status,
            error: error.to_string(),
            reached,
        });
    }

    fn retrying(&self) {
        self.write(Event::Started {
            key: self.key.to_string(),
            at: self.clock.now(),
        });
    }
}

/// Say at `debug` when a group's gate opened late for its instant `due`: when its thread
/// woke for the `started` line, when that was written, and when the gate opened.
fn slow_instant(due: DateTime<Utc>, [woke, journaled, opened]: [DateTime<Utc>; 3]) {
    let ms = |t: DateTime<Utc>| (t - due).num_microseconds().unwrap_or(0) as f64 / 1000.0;
    if opened - due > chrono::TimeDelta::microseconds(500) {
        tracing::debug!(
            "a gate opened {} ms after its instant (its thread woke at {} ms, the journal's started line was written at {} ms)",
            ms(opened),
            ms(woke),
            ms(journaled)
        );
    }
}

/// The event of a finished send. With `--speed max` nothing waits for its instant, so
/// lateness is not measured and nothing is late.
fn outcome_event(
    key: String,
    item: &Item,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    outcome: Outcome,
    max_speed: bool,
) -> Event {
    let planned = item.fire_at;
    let lateness = (!max_speed)
        .then(|| (started - planned).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
    match outcome {
        Outcome::Sent {
            status,
            message_id,
            attempts,
            possible_duplicate,
        } => Event::Sent {
            key,
            status,
            message_id,
            planned,
            sent_at: started,
            lateness_ms: lateness,
            attempts,
            possible_duplicate,
            late: lateness.is_some_and(|l| l > LATE_GRACE.as_millis() as f64),
        },
        Outcome::Failed {
            status,
            error,
            response,
            attempts,
            maybe_delivered,
        } => Event::Failed {
            key,
            status,
            error,
            response,
            planned,
            at: now,
            attempts,
            maybe_delivered,
        },
    }
}

impl<D: Dispatch> Engine<D> {
    /// The second stage: a pool of `concurrency` senders, each taking the next prepared
    /// request as soon as it is free (no task or wake-up per send). A group goes to them
    /// once its `sending` lines are durable, ahead of its instant, behind a gate: each
    /// request is handed to its connection and held there; at the instant its `started`
    /// line is written and the gate opens, from the thread that waited for it (with
    /// `--no-preconnect`, the group goes to them at its instant, to connect then). Ends
    /// when the producer does, or when a sender fails (the journal cannot be written).
    pub(super) async fn consume(
        &self,
        mut rx: mpsc::Receiver<Prepared<D>>,
        outcomes: Option<mpsc::UnboundedSender<adaptive::Outcome>>,
        failed: Failures,
    ) -> std::io::Result<(Senders, Option<SenderEnd>)> {
        let queue = Arc::new(Queue::<Queued<D>>::default());
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..self.config.concurrency.max(1) {
            let queue = queue.clone();
            let dispatch = self.dispatch.clone();
            let journal = self.journal.clone();
            let events = self.events.clone();
            let clock = self.clock.clone();
            // The run's timeline, as it stands at each send (ad hoc injects join it).
            let timeline = self.timeline.clone();
            let max_speed = self.config.max_speed;
            let outcomes = outcomes.clone();
            let failed = failed.clone();
            senders.spawn(async move {
                while let Some(((item, body), gate)) = queue.next().await {
                    let key = timeline.get().occurrences[item.occ].key.clone();
                    let taken = clock.now();
                    let report = Reporter {
                        key: &key,
                        journal: &journal,
                        events: &*events,
                        clock: &clock,
                    };
                    let outcome = dispatch
                        .send_reporting(body, gate.as_deref(), &report)
                        .await;
                    // Started when its gate opened, or when taken after that.
                    let started = gate
                        .and_then(|g| g.opened_at())
                        .map_or(taken, |opened| opened.max(taken));
                    let event = outcome_event(key, &item, started, clock.now(), outcome, max_speed);
                    let heard = (item.watched).then(|| {
                        (
                            item.occ,
                            matches!(event, Event::Sent { .. }).then_some(started),
                        )
                    });
                    // What `retry` may send again: failed, and whether it may have
                    // arrived all the same.
                    // (A retry takes its occurrence out before sending it again: a
                    // send that went needs nothing here.)
                    if let Event::Failed {
                        maybe_delivered, ..
                    } = &event
                        && let Ok(mut f) = failed.lock()
                    {
                        f.insert(item.occ, *maybe_delivered);
                    }
                    // Synced with the writer's next group, not waited for here: a
                    // failure to write stops the run at the next append.
                    emit_queued(&journal, &*events, event)?;
                    // After its line: the producer's lines that follow from it come later.
                    if let (Some(heard), Some(outcomes)) = (heard, &outcomes) {
                        let _ = outcomes.send(heard);
                    }
                }
                Ok::<(), std::io::Error>(())
            });
        }
        let mut failed = None;
        while let Some(Prepared {
            at: fire_at,
            ready: prepared,
            durable,
            started,
        }) = rx.recv().await
        {
            // Every `sending` line on disk before a send; the `fsync` overlaps the
            // wait for the instant, or the sending of the groups before.
            self.journal.durable(durable).await?;
            let synced = self.clock.now();
            if synced > fire_at && !self.config.max_speed {
                tracing::debug!(
                    "the journal was synced {} ms after a group's instant",
                    (synced - fire_at).num_microseconds().unwrap_or(0) as f64 / 1000.0
                );
            }
            if self.config.max_speed {
                // Keep about a group queued ahead of the senders, no more.
                queue.drained().await;
                self.journal.write_now(&started)?;
                queue.push(prepared.into_iter().map(|r| (r, None)).collect());
            } else if !self.config.preconnect {
                // Nothing opened ahead: the senders connect at the instant, so the group
                // goes to them then. Journaled as sending: it goes even if a stop comes now.
                let journal = self.journal.clone();
                self.clock
                    .at_exactly(fire_at, Duration::ZERO, move |at| {
                        at();
                        journal.write_now(&started)?;
                        Ok(())
                    })
                    .await?;
                queue.push(prepared.into_iter().map(|r| (r, None)).collect());
            } else {
                // Journaled as sending: the group goes out even if a stop comes now.
                let gate = Arc::new(Gate::default());
                queue.push(
                    prepared
                        .into_iter()
                        .map(|r| (r, Some(gate.clone())))
                        .collect(),
                );
                // Marked as going out, unsynced, just before the gate opens: after a
                // killed process, a `sending` without it never started. Written
                // [`STARTED_AHEAD`] before the instant, so that its write (0.03-0.05 ms
                // here) does not hold the requests back. A gate left shut (the line could
                // not be written) is abandoned: nothing goes.
                let opener = Opener(gate);
                let journal = self.journal.clone();
                let clock = self.clock.clone();
                self.clock
                    .at_exactly(fire_at, STARTED_AHEAD, move |at| {
                        let woke = clock.now();
                        journal.write_now(&started)?;
                        let journaled = clock.now();
                        let now = at();
                        opener.0.open(now);
                        slow_instant(fire_at, [woke, journaled, now]);
                        Ok(())
                    })
                    .await?;
            }
            // A sender that failed (the journal cannot be written) ends the run.
            if let Some(done) = senders.try_join_next() {
                failed = Some(done);
                break;
            }
        }
        queue.close();
        Ok((senders, failed))
    }

    /// The `started` line of a prepared group due at `at` (empty for an empty group).
    pub(super) fn started_line(&self, prepared: &[Ready<D>], at: DateTime<Utc>) -> Vec<u8> {
        if prepared.is_empty() {
            return Vec::new();
        }
        let keys = prepared
            .iter()
            .map(|(item, _)| self.timeline().occurrences[item.occ].key.clone())
            .collect();
        let entry = Entry::Started {
            keys,
            at: crate::journal::time_text(at),
        };
        Journal::line(&entry).unwrap_or_default()
    }
}
