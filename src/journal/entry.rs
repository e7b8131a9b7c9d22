//! The entry types: each line as it is on disk (times as text), the run's header and
//! summary, and the conversions between a line and the run's [`Event`].

use serde::{Deserialize, Serialize};

use super::{parse_time, time_text};
use crate::action::{Action, Source};
use crate::event::{AppliedChange, Declared, Event, PlanRow};
pub use crate::event::{ContingencyRow, ExpectationRow, ObjectiveRow};
use crate::fold::{Lateness, Totals};

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
    /// An observation for the after-action report; with a `rating`, an evaluator's
    /// rating of the objective it names.
    Note {
        at: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expectation: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        objectives: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<crate::action::NoteTag>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rating: Option<crate::action::Rating>,
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
    /// An ad hoc inject joined the run: its YAML as it joined the scenario, and its
    /// occurrences' rows.
    #[serde(rename = "adhoc")]
    AdHoc {
        at: String,
        id: String,
        inject: String,
        rows: Vec<PlanRow>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        declared: Option<Box<Declared>>,
        source: Source,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// An occurrence amended before it went: the hidden inject that makes it now.
    Amended {
        at: String,
        key: String,
        id: String,
        inject: String,
        fields: Vec<String>,
        before: Box<PlanRow>,
        after: Box<PlanRow>,
        source: Source,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// A changed scenario applied to the run: its text whole, its digest, what it
    /// changed, and its added or changed occurrences' rows.
    Applied {
        at: String,
        file: String,
        sha256: String,
        text: String,
        #[serde(default)]
        before_sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undoes: Option<String>,
        changes: Vec<AppliedChange>,
        rows: Vec<PlanRow>,
        #[serde(default)]
        declared: Box<Declared>,
        source: Source,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
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
                objectives,
                tag,
                rating,
                source,
                by,
            } => Entry::Note {
                at: t(at),
                text: text.clone(),
                key: key.clone(),
                expectation: expectation.clone(),
                objectives: objectives.clone(),
                tag: *tag,
                rating: *rating,
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
            Event::AdHoc {
                at,
                id,
                inject,
                rows,
                declared,
                source,
                by,
            } => Entry::AdHoc {
                at: t(at),
                id: id.clone(),
                inject: inject.clone(),
                rows: rows.clone(),
                declared: declared.clone(),
                source: *source,
                by: by.clone(),
            },
            Event::Amended {
                at,
                key,
                id,
                inject,
                fields,
                before,
                after,
                source,
                by,
            } => Entry::Amended {
                at: t(at),
                key: key.clone(),
                id: id.clone(),
                inject: inject.clone(),
                fields: fields.clone(),
                before: before.clone(),
                after: after.clone(),
                source: *source,
                by: by.clone(),
            },
            Event::Applied {
                at,
                file,
                sha256,
                text,
                before_sha256,
                undoes,
                changes,
                rows,
                declared,
                source,
                by,
            } => Entry::Applied {
                at: t(at),
                file: file.clone(),
                sha256: sha256.clone(),
                text: text.clone(),
                before_sha256: before_sha256.clone(),
                undoes: undoes.clone(),
                changes: changes.clone(),
                rows: rows.clone(),
                declared: declared.clone(),
                source: *source,
                by: by.clone(),
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
                    objectives,
                    tag,
                    rating,
                    source,
                    by,
                } => Event::Note {
                    at: time("at", at)?,
                    text: text.clone(),
                    key: key.clone(),
                    expectation: expectation.clone(),
                    objectives: objectives.clone(),
                    tag: *tag,
                    rating: *rating,
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
                Entry::AdHoc {
                    at,
                    id,
                    inject,
                    rows,
                    declared,
                    source,
                    by,
                } => Event::AdHoc {
                    at: time("at", at)?,
                    id: id.clone(),
                    inject: inject.clone(),
                    rows: rows.clone(),
                    declared: declared.clone(),
                    source: *source,
                    by: by.clone(),
                },
                Entry::Amended {
                    at,
                    key,
                    id,
                    inject,
                    fields,
                    before,
                    after,
                    source,
                    by,
                } => Event::Amended {
                    at: time("at", at)?,
                    key: key.clone(),
                    id: id.clone(),
                    inject: inject.clone(),
                    fields: fields.clone(),
                    before: before.clone(),
                    after: after.clone(),
                    source: *source,
                    by: by.clone(),
                },
                Entry::Applied {
                    at,
                    file,
                    sha256,
                    text,
                    before_sha256,
                    undoes,
                    changes,
                    rows,
                    declared,
                    source,
                    by,
                } => Event::Applied {
                    at: time("at", at)?,
                    file: file.clone(),
                    sha256: sha256.clone(),
                    text: text.clone(),
                    before_sha256: before_sha256.clone(),
                    undoes: undoes.clone(),
                    changes: changes.clone(),
                    rows: rows.clone(),
                    declared: declared.clone(),
                    source: *source,
                    by: by.clone(),
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
    /// The scenario's objectives, with what exercises each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<ObjectiveRow>,
    /// The scenario's time zone, for the report's wall times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The seed the run's draws (jitter, `one_of`, crowds) were made with: a resume
    /// makes the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
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
