//! The journal: what a run did, durably, one JSON object per line.
//!
//! A run appends a `run` header, then per occurrence a `sending` entry before its
//! request and a `sent`, `failed` or `skipped` entry after; an `end` entry closes it.
//! An append can wait until its line is on disk: a writer thread writes whatever is
//! queued, calls `fsync` once, then tells every waiter (group commit), so a burst of
//! fifty injects costs one `fsync`, not fifty. The file is locked
//! exclusively while a run holds it. [`Replay`] reads a journal back for `--resume`
//! and reports; a torn last line (a crash mid-write) is tolerated and reported.
//!
//! [`Entry`] is the line as it is on disk, times as text; the run's in-memory events
//! ([`Event`]) become lines here and are read back here, and nowhere else.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod writer;

pub use writer::{Journal, LINGER, OpenError};

use crate::action::{Action, Source};
use crate::event::Event;
use crate::fold::{Fold, Lateness, Totals};

/// One line of the journal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    Run(RunHeader),
    Sending {
        key: String,
        planned_at: String,
        at: String,
    },
    /// The requests of these keys go out now (written at once, not synced).
    Started {
        keys: Vec<String>,
        at: String,
    },
    Sent {
        key: String,
        status: u16,
        message_id: String,
        planned_at: String,
        sent_at: String,
        /// Request start minus planned instant, in milliseconds; absent with `--speed
        /// max`, where nothing waits for its instant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lateness_ms: Option<f64>,
        attempts: u32,
        possible_duplicate: bool,
        late: bool,
    },
    Failed {
        key: String,
        status: Option<u16>,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response: Option<String>,
        planned_at: String,
        at: String,
        attempts: u32,
        maybe_delivered: bool,
    },
    Skipped {
        key: String,
        reason: String,
        planned_at: String,
        at: String,
    },
    /// A skipped occurrence unskipped to go at `due` (before holds and shifts).
    Rescheduled {
        key: String,
        due: String,
        at: String,
    },
    /// An attempt's answer that is retried, before the wait for the next attempt.
    Attempt {
        key: String,
        at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        error: String,
        reached: bool,
    },
    /// A live action: hold, resume, skip, unskip, fire, shift ([`Action`]'s names).
    Control {
        at: String,
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// For resume, the hold's length; for shift, the shift.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_ms: Option<i64>,
        /// A judgment's note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        source: Source,
        /// Who did it: a controller's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// An observation for the after-action report.
    Note {
        at: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expectation: Option<String>,
        source: Source,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// An expectation's deadline, set when its inject was sent.
    Due {
        expectation: String,
        due: String,
        at: String,
    },
    /// An expectation's deadline passed unjudged: missed.
    Expired {
        expectation: String,
        at: String,
    },
    /// An expectation whose inject was never sent.
    Void {
        expectation: String,
        reason: String,
        at: String,
    },
    /// A contingency's condition held.
    Triggered {
        inject: String,
        because: String,
        at: String,
    },
    /// A contingency's condition can no longer hold.
    NotTriggered {
        inject: String,
        because: String,
        at: String,
    },
    End {
        at: String,
        /// `completed` or `interrupted`.
        reason: String,
        summary: Summary,
    },
}

impl From<&Event> for Entry {
    /// An event as its journal line: times written as [`time_text`].
    #[expect(
        clippy::too_many_lines,
        reason = "one flat match, one arm per event variant, each field copied as it is or its time written"
    )]
    fn from(event: &Event) -> Entry {
        let t = |t: &chrono::DateTime<chrono::Utc>| time_text(*t);
        match event {
            Event::Sending { key, planned, at } => Entry::Sending {
                key: key.clone(),
                planned_at: t(planned),
                at: t(at),
            },
            Event::Started { key, at } => Entry::Started {
                keys: vec![key.clone()],
                at: t(at),
            },
            Event::Sent {
                key,
                status,
                message_id,
                planned,
                sent_at,
                lateness_ms,
                attempts,
                possible_duplicate,
                late,
            } => Entry::Sent {
                key: key.clone(),
                status: *status,
                message_id: message_id.clone(),
                planned_at: t(planned),
                sent_at: t(sent_at),
                lateness_ms: *lateness_ms,
                attempts: *attempts,
                possible_duplicate: *possible_duplicate,
                late: *late,
            },
            Event::Failed {
                key,
                status,
                error,
                response,
                planned,
                at,
                attempts,
                maybe_delivered,
            } => Entry::Failed {
                key: key.clone(),
                status: *status,
                error: error.clone(),
                response: response.clone(),
                planned_at: t(planned),
                at: t(at),
                attempts: *attempts,
                maybe_delivered: *maybe_delivered,
            },
            Event::Rescheduled { key, due, at } => Entry::Rescheduled {
                key: key.clone(),
                due: t(due),
                at: t(at),
            },
            Event::Attempt {
                key,
                at,
                status,
                error,
                reached,
            } => Entry::Attempt {
                key: key.clone(),
                at: t(at),
                status: *status,
                error: error.clone(),
                reached: *reached,
            },
            Event::Skipped {
                key,
                reason,
                planned,
                at,
            } => Entry::Skipped {
                key: key.clone(),
                reason: reason.clone(),
                planned_at: t(planned),
                at: t(at),
            },
            Event::Control {
                at,
                action,
                moved_ms,
                source,
                by,
            } => Entry::Control {
                at: t(at),
                action: action.name().into(),
                key: action.key().map(String::from),
                by_ms: *moved_ms,
                note: action.note().map(String::from),
                source: *source,
                by: by.clone(),
            },
            Event::Note {
                at,
                text,
                key,
                expectation,
                source,
                by,
            } => Entry::Note {
                at: t(at),
                text: text.clone(),
                key: key.clone(),
                expectation: expectation.clone(),
                source: *source,
                by: by.clone(),
            },
            Event::Due {
                expectation,
                due,
                at,
            } => Entry::Due {
                expectation: expectation.clone(),
                due: t(due),
                at: t(at),
            },
            Event::Expired { expectation, at } => Entry::Expired {
                expectation: expectation.clone(),
                at: t(at),
            },
            Event::Void {
                expectation,
                reason,
                at,
            } => Entry::Void {
                expectation: expectation.clone(),
                reason: reason.clone(),
                at: t(at),
            },
            Event::Triggered {
                inject,
                because,
                at,
            } => Entry::Triggered {
                inject: inject.clone(),
                because: because.clone(),
                at: t(at),
            },
            Event::NotTriggered {
                inject,
                because,
                at,
            } => Entry::NotTriggered {
                inject: inject.clone(),
                because: because.clone(),
                at: t(at),
            },
        }
    }
}

impl Entry {
    /// The event a line records; `None` for a run's header and end, an error for a
    /// line whose times or action cannot be read (it is reported and left out).
    #[expect(
        clippy::too_many_lines,
        reason = "one flat match, one arm per entry variant, each field copied as it is or its time read"
    )]
    pub fn event(&self) -> Option<Result<Event, String>> {
        let time = |field: &str, text: &str| {
            parse_time(text).ok_or_else(|| format!("`{field}` `{text}` is not a time"))
        };
        let event = || -> Result<Option<Event>, String> {
            Ok(Some(match self {
                Entry::Sending {
                    key,
                    planned_at,
                    at,
                } => Event::Sending {
                    key: key.clone(),
                    planned: time("planned_at", planned_at)?,
                    at: time("at", at)?,
                },
                Entry::Sent {
                    key,
                    status,
                    message_id,
                    planned_at,
                    sent_at,
                    lateness_ms,
                    attempts,
                    possible_duplicate,
                    late,
                } => Event::Sent {
                    key: key.clone(),
                    status: *status,
                    message_id: message_id.clone(),
                    planned: time("planned_at", planned_at)?,
                    sent_at: time("sent_at", sent_at)?,
                    lateness_ms: *lateness_ms,
                    attempts: *attempts,
                    possible_duplicate: *possible_duplicate,
                    late: *late,
                },
                Entry::Failed {
                    key,
                    status,
                    error,
                    response,
                    planned_at,
                    at,
                    attempts,
                    maybe_delivered,
                } => Event::Failed {
                    key: key.clone(),
                    status: *status,
                    error: error.clone(),
                    response: response.clone(),
                    planned: time("planned_at", planned_at)?,
                    at: time("at", at)?,
                    attempts: *attempts,
                    maybe_delivered: *maybe_delivered,
                },
                Entry::Rescheduled { key, due, at } => Event::Rescheduled {
                    key: key.clone(),
                    due: time("due", due)?,
                    at: time("at", at)?,
                },
                Entry::Attempt {
                    key,
                    at,
                    status,
                    error,
                    reached,
                } => Event::Attempt {
                    key: key.clone(),
                    at: time("at", at)?,
                    status: *status,
                    error: error.clone(),
                    reached: *reached,
                },
                Entry::Skipped {
                    key,
                    reason,
                    planned_at,
                    at,
                } => Event::Skipped {
                    key: key.clone(),
                    reason: reason.clone(),
                    planned: time("planned_at", planned_at)?,
                    at: time("at", at)?,
                },
                Entry::Control {
                    at,
                    action,
                    key,
                    by_ms,
                    note,
                    source,
                    by,
                } => Event::Control {
                    by: by.clone(),
                    at: time("at", at)?,
                    moved_ms: match by_ms {
                        Some(ms) if !crate::action::move_in_range(*ms) => {
                            return Err(format!("`by_ms` {ms} is out of range"));
                        }
                        _ => *by_ms,
                    },
                    action: Action::from_parts(action, key.as_deref(), *by_ms, note.as_deref())
                        .ok_or_else(|| format!("`{action}` is not an action injector knows"))?,
                    source: *source,
                },
                Entry::Started { keys, at } => Event::Started {
                    key: keys.first().cloned().unwrap_or_default(),
                    at: time("at", at)?,
                },
                Entry::Note {
                    at,
                    text,
                    key,
                    expectation,
                    source,
                    by,
                } => Event::Note {
                    at: time("at", at)?,
                    text: text.clone(),
                    key: key.clone(),
                    expectation: expectation.clone(),
                    source: *source,
                    by: by.clone(),
                },
                Entry::Due {
                    expectation,
                    due,
                    at,
                } => Event::Due {
                    expectation: expectation.clone(),
                    due: time("due", due)?,
                    at: time("at", at)?,
                },
                Entry::Expired { expectation, at } => Event::Expired {
                    expectation: expectation.clone(),
                    at: time("at", at)?,
                },
                Entry::Void {
                    expectation,
                    reason,
                    at,
                } => Event::Void {
                    expectation: expectation.clone(),
                    reason: reason.clone(),
                    at: time("at", at)?,
                },
                Entry::Triggered {
                    inject,
                    because,
                    at,
                } => Event::Triggered {
                    inject: inject.clone(),
                    because: because.clone(),
                    at: time("at", at)?,
                },
                Entry::NotTriggered {
                    inject,
                    because,
                    at,
                } => Event::NotTriggered {
                    inject: inject.clone(),
                    because: because.clone(),
                    at: time("at", at)?,
                },
                Entry::Run(_) | Entry::End { .. } => return Ok(None),
            }))
        };
        event().transpose()
    }
}

/// The first line of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunHeader {
    pub run_id: String,
    /// The scenario's file, as given.
    pub scenario: String,
    /// The scenario's `name`, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub scenario_sha256: String,
    pub t0: String,
    /// `null` for `--speed max`.
    pub speed: Option<f64>,
    pub base_url: String,
    pub dry_run: bool,
    pub started_at: String,
    pub injector_version: String,
    /// The machine's boot id when the run began: a resume on the same boot knows the
    /// page cache survived, so a missing `started` line means a request never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// The run this one resumes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<String>,
    pub occurrences: usize,
    /// Every occurrence of the run, in firing order: what a report needs for the ones
    /// never started, and a digest of planned time and body so a resume can tell which
    /// occurrences an edit changed. Left out above 100,000 occurrences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanRow>>,
    /// The scenario's expected actions, as the report shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<ExpectationRow>,
    /// Its contingency injects and their conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contingencies: Vec<ContingencyRow>,
}

/// An expected action, as the run header lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExpectationRow {
    pub id: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `20m after evacuation-order is sent`, `by T+01:50:00`.
    pub deadline: String,
}

/// A contingency inject, as the run header lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ContingencyRow {
    pub inject: String,
    pub condition: String,
}

/// One planned occurrence, as the run header lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlanRow {
    pub key: String,
    pub planned_at: String,
    pub channel: String,
    pub persona: String,
    /// The team or address it goes to.
    pub to: String,
    pub digest: String,
    /// The persona's alias or handle in the scenario, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_name: Option<String>,
    /// The team's alias in the scenario, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_name: Option<String>,
}

/// Counts and lateness of a run, as the `end` entry and the summary show them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub sent: usize,
    pub failed: usize,
    pub skipped: usize,
    pub uncertain: usize,
    pub possible_duplicates: usize,
    pub late: usize,
    pub pending: usize,
    pub lateness_p50_ms: Option<f64>,
    pub lateness_p99_ms: Option<f64>,
    pub lateness_max_ms: Option<f64>,
    /// Contingency occurrences whose condition never held.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_triggered: usize,
    /// A dry run's measure: from each message's instant to its arrival at the
    /// in-process stand-in (its own lateness is the gate's, which opens at the instant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_max_ms: Option<f64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// The summary of a fold's totals.
    pub fn new(totals: &Totals, lateness: &Lateness) -> Summary {
        Summary {
            sent: totals.sent,
            failed: totals.failed,
            skipped: totals.skipped,
            uncertain: totals.uncertain,
            possible_duplicates: totals.possible_duplicates,
            late: totals.late,
            pending: totals.pending,
            lateness_p50_ms: lateness.p50_ms,
            lateness_p99_ms: lateness.p99_ms,
            lateness_max_ms: lateness.max_ms,
            not_triggered: totals.not_triggered,
            arrival_p50_ms: None,
            arrival_p99_ms: None,
            arrival_max_ms: None,
        }
    }

    /// With each message's lateness on arrival (ms), as a dry run measures them.
    pub fn with_arrivals(mut self, mut arrivals: Vec<f64>) -> Summary {
        arrivals.sort_by(f64::total_cmp);
        self.arrival_p50_ms = crate::fold::percentile(&arrivals, 0.5);
        self.arrival_p99_ms = crate::fold::percentile(&arrivals, 0.99);
        self.arrival_max_ms = arrivals.last().copied();
        self
    }
}

/// An instant as the journal writes it: RFC 3339 in UTC, to the microsecond
/// (`2026-11-28T20:00:00.000000Z`). The same text as chrono's `to_rfc3339_opts`, written
/// digit by digit: a run writes two or three per send.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let nanos = t.nanosecond();
    let year = t.year();
    // Leap seconds and years outside four digits: chrono's own way.
    if nanos >= 1_000_000_000 || !(0..=9999).contains(&year) {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    }
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, nanos / 1000);
    text.iter().map(|&b| b as char).collect()
}

/// Read an instant back from the journal: [`time_text`]'s shape at once, any other
/// RFC 3339 text through chrono.
pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let b = text.as_bytes();
    let shaped = b.len() == 27
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z';
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let fast = shaped
        .then(|| {
            let date = chrono::NaiveDate::from_ymd_opt(
                number(0, 4)? as i32,
                number(5, 7)?,
                number(8, 10)?,
            )?;
            let time = chrono::NaiveTime::from_hms_micro_opt(
                number(11, 13)?,
                number(14, 16)?,
                number(17, 19)?,
                number(20, 26)?,
            )?;
            Some(date.and_time(time).and_utc())
        })
        .flatten();
    fast.or_else(|| {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.to_utc())
    })
}

/// One line of a journal read back: a run's header, an event, or a run's end.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Run(Box<RunHeader>),
    Event(Event),
    End {
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// `completed` or `interrupted`.
        reason: String,
    },
}

/// A journal read back.
#[derive(Debug, Default)]
pub struct Replay {
    /// Every run header, oldest first.
    pub runs: Vec<RunHeader>,
    /// Every line of all runs in file order (headers and ends included).
    pub records: Vec<Record>,
    /// Whether the last run wrote its `end` with reason `completed`.
    pub last_completed: bool,
    /// Whether the last run wrote an `end` at all.
    pub last_ended: bool,
    /// Problems: unreadable lines (with their 1-based line numbers).
    pub problems: Vec<String>,
}

impl Replay {
    pub fn parse(text: &str) -> Replay {
        let mut r = Replay::default();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry = match serde_json::from_str::<Entry>(line) {
                Ok(entry) => entry,
                Err(e) => {
                    let torn = i + 1 == lines.len() && !text.ends_with('\n');
                    r.problems.push(if torn {
                        format!(
                            "line {}: torn last line (a crash while writing), ignored",
                            i + 1
                        )
                    } else {
                        format!("line {}: not a journal entry ({e}), ignored", i + 1)
                    });
                    continue;
                }
            };
            let record = match entry {
                Entry::Run(h) => {
                    r.runs.push(h.clone());
                    r.last_ended = false;
                    r.last_completed = false;
                    Record::Run(Box::new(h))
                }
                Entry::End { at, reason, .. } => {
                    r.last_ended = true;
                    r.last_completed = reason == "completed";
                    Record::End {
                        at: parse_time(&at),
                        reason,
                    }
                }
                Entry::Started { keys, at } => {
                    let Some(at) = parse_time(&at) else {
                        r.problems.push(format!(
                            "line {}: `at` `{at}` is not a time, ignored",
                            i + 1
                        ));
                        continue;
                    };
                    for key in keys {
                        r.records.push(Record::Event(Event::Started { key, at }));
                    }
                    continue;
                }
                other => match other.event() {
                    Some(Ok(event)) => Record::Event(event),
                    Some(Err(e)) => {
                        r.problems.push(format!("line {}: {e}, ignored", i + 1));
                        continue;
                    }
                    None => continue,
                },
            };
            r.records.push(record);
        }
        r
    }

    /// Every event of every run, in file order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.records.iter().filter_map(|r| match r {
            Record::Event(e) => Some(e),
            _ => None,
        })
    }

    /// Where every key that has any event stands. A request journaled as `sending`
    /// with no `started` line, by a run on this same boot of the machine, never started
    /// (the process stopped, the page cache stayed): it is pending, not uncertain.
    pub fn fold(&self) -> Fold {
        self.fold_into(Fold::new())
    }

    /// [`Replay::fold`] into `fold` (seeded with keys, say).
    pub fn fold_into(&self, fold: Fold) -> Fold {
        self.fold_on(fold, boot_id().as_deref())
    }

    /// [`Replay::fold_into`] as if on the boot `now` (`None`: unknown, nothing proven).
    pub fn fold_on(&self, mut fold: Fold, now: Option<&str>) -> Fold {
        let mut boot: Option<&str> = None;
        let mut same_boot = Vec::new();
        for record in &self.records {
            match record {
                Record::Run(h) => boot = h.boot_id.as_deref(),
                Record::Event(e) => {
                    let changed = fold.apply(e);
                    if let (Event::Sending { .. }, Some(i)) = (e, changed) {
                        same_boot.resize(fold.len(), false);
                        same_boot[i] = now.is_some() && boot == now;
                    }
                }
                Record::End { .. } => {}
            }
        }
        same_boot.resize(fold.len(), false);
        fold.unstarted(|i| same_boot[i]);
        fold
    }
}

/// This machine's boot id (Linux), which changes at every boot.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Where an old journal goes when `--fresh` starts anew: beside it, stamped.
pub fn archive_path(path: &Path, stamp: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    path.with_file_name(format!("{stem}.{stamp}.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_text_is_chronos_text_and_reads_back() {
        use chrono::{DateTime, SecondsFormat, TimeZone, Timelike, Utc};
        // Instants spread over years 0 to 9999 (a fixed sequence), plus the edges.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut instants = vec![
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap(),
            DateTime::from_timestamp(0, 999_999_999).unwrap(),
        ];
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let secs = (seed >> 11) as i64 % 315_537_897_600 - 62_167_219_200;
            let nanos = (seed % 1_000_000_000) as u32;
            instants.push(DateTime::from_timestamp(secs, nanos).unwrap());
        }
        for t in instants {
            let text = time_text(t);
            assert_eq!(text, t.to_rfc3339_opts(SecondsFormat::Micros, true));
            let micros = t.timestamp_subsec_micros() * 1000;
            let truncated = t.with_nanosecond(micros).unwrap();
            assert_eq!(parse_time(&text), Some(truncated), "{text}");
        }
        // Outside four-digit years, chrono's text; other RFC 3339 shapes, chrono's reading.
        let far = Utc.with_ymd_and_hms(12345, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            time_text(far),
            far.to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        assert_eq!(
            parse_time("2026-11-28T21:00:00+01:00"),
            Some(Utc.with_ymd_and_hms(2026, 11, 28, 20, 0, 0).unwrap())
        );
        assert_eq!(parse_time("2026-02-30T00:00:00.000000Z"), None);
        assert_eq!(parse_time("2026-11-28T2x:00:00.000000Z"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn a_torn_last_line_is_reported_and_the_rest_used() {
        let text = "{\"type\":\"sending\",\"key\":\"a\",\"planned_at\":\"2026-03-28T09:00:00Z\",\"at\":\"2026-03-28T08:59:59Z\"}\n{\"type\":\"sent\",\"key\":\"a\",\"sta";
        let r = Replay::parse(text);
        assert_eq!(r.records.len(), 1);
        assert_eq!(r.problems.len(), 1);
        assert!(r.problems[0].contains("torn"));
        assert_eq!(
            r.fold().get("a").unwrap().status,
            crate::fold::Status::Uncertain
        );
    }

    #[test]
    fn archive_names() {
        assert_eq!(
            archive_path(Path::new("/x/q.journal.jsonl"), "20260101T000000Z"),
            PathBuf::from("/x/q.journal.20260101T000000Z.jsonl")
        );
    }
}
