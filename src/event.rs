//! What happens in a run, as the engine publishes it: typed times, typed actions.
//!
//! The engine emits an [`Event`] for every step of an occurrence and every live action;
//! the journal writes each as a line ([`crate::journal::Entry`], times as text) and reads
//! it back; the [`crate::fold`] turns events into where each occurrence stands. Nothing
//! here is formatted for a file or a person.

use chrono::{DateTime, Utc};

use crate::action::{Action, Source};

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A request is about to start (journaled, durably, before it does).
    Sending {
        key: String,
        planned: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Its request is about to go out (after the `sending` line is durable): written
    /// to the file at once, unsynced. Without it after a killed process, the request
    /// had not started.
    Started { key: String, at: DateTime<Utc> },
    Sent {
        key: String,
        /// The HTTP status.
        status: u16,
        message_id: String,
        planned: DateTime<Utc>,
        /// When its request started.
        sent_at: DateTime<Utc>,
        /// Request start minus planned instant, in milliseconds; `None` with `--speed
        /// max`, where nothing waits for its instant.
        lateness_ms: Option<f64>,
        attempts: u32,
        possible_duplicate: bool,
        late: bool,
    },
    Failed {
        key: String,
        status: Option<u16>,
        error: String,
        /// What the server answered, if anything.
        response: Option<String>,
        planned: DateTime<Utc>,
        at: DateTime<Utc>,
        attempts: u32,
        maybe_delivered: bool,
    },
    Skipped {
        key: String,
        reason: String,
        planned: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// An occurrence skipped when its instant came, unskipped to go at `due` (its
    /// instant before holds and shifts, which move it like any other).
    Rescheduled {
        key: String,
        due: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// An attempt answered (or not) in a way that is retried: journaled before the wait
    /// for the next attempt, so that a resume knows a refusal proved the message was
    /// not delivered (`reached: false`), and that the next attempt had not gone yet.
    Attempt {
        key: String,
        at: DateTime<Utc>,
        status: Option<u16>,
        error: String,
        /// Whether the request may have reached the server (a timeout after writing it,
        /// a 500, 502 or 504); a 503, a 429 or a refused connection prove it did not.
        reached: bool,
    },
    /// A live action, carried out.
    Control {
        at: DateTime<Utc>,
        action: Action,
        /// How far everything not yet fired moved: a resume's hold, a shift.
        moved_ms: Option<i64>,
        source: Source,
        /// Who did it (a controller's name), when known.
        by: Option<String>,
    },
    /// An observation for the after-action report; with a rating, an evaluator's
    /// rating of the one objective it names.
    Note {
        at: DateTime<Utc>,
        text: String,
        key: Option<String>,
        expectation: Option<String>,
        /// The objectives it is about.
        objectives: Vec<String>,
        tag: Option<crate::action::NoteTag>,
        rating: Option<crate::action::Rating>,
        source: Source,
        by: Option<String>,
    },
    /// An expectation's deadline, set when its inject was sent: unjudged by `due` (moved
    /// by later holds and shifts), it is missed.
    Due {
        expectation: String,
        due: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// An expectation's deadline passed unjudged: it is missed.
    Expired {
        expectation: String,
        at: DateTime<Utc>,
    },
    /// An expectation that cannot be judged: its inject was never sent.
    Void {
        expectation: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// A contingency inject's condition held: its occurrences fire from `at` (plus its
    /// `after`).
    Triggered {
        inject: String,
        because: String,
        at: DateTime<Utc>,
    },
    /// A contingency inject's condition can no longer hold: it never fires.
    NotTriggered {
        inject: String,
        because: String,
        at: DateTime<Utc>,
    },
    /// An inject written during the run joined it (journaled, durably, before any of
    /// its occurrences is sent): its YAML as it joined the scenario (a resume puts it
    /// back), and its occurrences as the plan lists them.
    AdHoc {
        at: DateTime<Utc>,
        id: String,
        inject: String,
        rows: Vec<PlanRow>,
        /// With an expected action or a condition: the run's branches as they are with it.
        declared: Option<Box<Declared>>,
        source: Source,
        by: Option<String>,
    },
    /// An occurrence not yet sent was amended (journaled, durably, before it goes): the
    /// hidden inject `id` (its YAML as it joined the scenario) makes it now; the fields
    /// it changed, and its row as it was and as it is.
    Amended {
        at: DateTime<Utc>,
        key: String,
        id: String,
        inject: String,
        fields: Vec<String>,
        before: Box<PlanRow>,
        after: Box<PlanRow>,
        source: Source,
        by: Option<String>,
    },
    /// A changed scenario was applied to the run (journaled, durably, before anything
    /// of it goes): its text whole (the run, and a resume, rebuild the exercise from it,
    /// with the injects sent ad hoc and the amendments on top), its digest, each change
    /// with what became of it, and the rows of the occurrences it added or changed.
    Applied {
        at: DateTime<Utc>,
        file: String,
        sha256: String,
        text: String,
        /// The digest of the scenario text it replaced.
        before_sha256: String,
        /// An undo's: when the apply it takes back was made (journal time text).
        undoes: Option<String>,
        changes: Vec<AppliedChange>,
        rows: Vec<PlanRow>,
        /// The run's expected actions, contingencies and objectives as they are with it.
        declared: Box<Declared>,
        source: Source,
        by: Option<String>,
    },
}

/// The expected actions, contingencies and objectives of a run, as its header lists
/// them (and an apply's or a branching ad hoc inject's line, as they are after it).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Declared {
    #[serde(default)]
    pub expectations: Vec<ExpectationRow>,
    #[serde(default)]
    pub contingencies: Vec<ContingencyRow>,
    #[serde(default)]
    pub objectives: Vec<ObjectiveRow>,
}

/// One change an apply found, and what became of it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct AppliedChange {
    pub key: String,
    /// `added`, `removed`, `moved`, `changed`, `moved and changed`, or `left` (it went:
    /// the change is not applied).
    pub effect: String,
    /// In words: what changed (`instant T+00:40:00 -> T+00:50:00`, `subject`), and for
    /// one left, when it went.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl AppliedChange {
    /// Whether the change was applied (not left, its occurrence having gone).
    pub fn applied(&self) -> bool {
        self.effect != "left"
    }
}

impl Event {
    /// When it happened (a send: when its request went out).
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Event::Sending { at, .. }
            | Event::Started { at, .. }
            | Event::Failed { at, .. }
            | Event::Skipped { at, .. }
            | Event::Attempt { at, .. }
            | Event::Rescheduled { at, .. }
            | Event::Control { at, .. }
            | Event::Note { at, .. }
            | Event::Due { at, .. }
            | Event::Expired { at, .. }
            | Event::Void { at, .. }
            | Event::Triggered { at, .. }
            | Event::NotTriggered { at, .. }
            | Event::AdHoc { at, .. }
            | Event::Amended { at, .. }
            | Event::Applied { at, .. } => Some(*at),
            Event::Sent { sent_at, .. } => Some(*sent_at),
        }
    }

    /// The occurrence key of a per-occurrence event.
    pub fn key(&self) -> Option<&str> {
        match self {
            Event::Sending { key, .. }
            | Event::Started { key, .. }
            | Event::Sent { key, .. }
            | Event::Failed { key, .. }
            | Event::Skipped { key, .. }
            | Event::Attempt { key, .. }
            | Event::Rescheduled { key, .. } => Some(key),
            Event::Control { .. }
            | Event::Note { .. }
            | Event::Due { .. }
            | Event::Expired { .. }
            | Event::Void { .. }
            | Event::Triggered { .. }
            | Event::NotTriggered { .. }
            | Event::AdHoc { .. }
            | Event::Amended { .. }
            | Event::Applied { .. } => None,
        }
    }
}

/// One planned occurrence, as the run header lists it (and an ad hoc inject's line
/// its own): times as text, as the journal keeps them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
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
    /// Its offset in scenario time, in milliseconds (before any speed factor): from T0,
    /// or, for a contingency, from the moment its condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_plus_ms: Option<u64>,
    /// Its subject or title (its text's start for a post), on one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The controller who watches its inject (`owner:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// An objective, as the run header lists it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ObjectiveRow {
    pub id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// The injects that exercise it, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub injects: Vec<String>,
    /// The expected actions that evaluate it, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<String>,
}

/// An expected action, as the run header lists it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ExpectationRow {
    pub id: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `20m after evacuation-order is sent`, `by T+01:50:00`.
    pub deadline: String,
    /// The inject whose send starts it (`expect:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject: Option<String>,
}

/// A contingency inject, as the run header lists it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ContingencyRow {
    pub inject: String,
    pub condition: String,
    /// The expected actions its condition names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<String>,
}
