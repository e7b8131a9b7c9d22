//! After-action report: what a journal says happened, in the order and the words of
//! the exercise, and whether its objectives were met.
//!
//! [`Report::from_journal`] reads a journal (complete, unfinished, crashed or dry) and
//! folds its entries into one row per occurrence in the order they went (or were due),
//! each with its scenario time (T+), its wall time in the scenario's zone, its lateness
//! in people's units and how it went (on schedule, fired by hand, after a hold, after a
//! restart, a contingency); the expected actions with who judged and how fast players
//! answered; the restarts with their downtime; the notes; the objectives with their
//! evaluators' ratings, and the improvement plan. A summary paragraph comes first.
//! Rendering is text, CSV, JSON or one self-contained HTML page (an AAR that prints on
//! A4) with an SVG timeline. A damaged journal is reported line by line; the rest is
//! still used. Nothing here touches the network.
//!
//! Its parts: `clock` (wall and scenario time), `from_journal` (the fold),
//! `story` (how each occurrence went, the restarts, the summary), `judged` (expected
//! actions and contingencies), `objectives` (ratings and the improvement plan), `text`
//! (text, CSV and JSON), `html` (the page) and `svg` (the page's timeline).

mod clock;
mod from_journal;
mod from_plan;
mod html;
mod judged;
mod objectives;
mod story;
mod svg;
mod text;

pub use from_plan::PlanLayout;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adaptive::{Standing, Verdict};
use crate::fold::{Lateness, Totals};
use crate::journal::time_text;

/// An instant in the report's JSON: as the journal writes it ([`time_text`], UTC).
fn instant<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&time_text(*t)),
        None => s.serialize_none(),
    }
}

/// One occurrence in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub key: String,
    /// The inject it is an occurrence of.
    pub inject: String,
    /// Its planned scenario time: `T+01:30:00` (a contingency's, once triggered).
    pub offset: Option<String>,
    /// The same in milliseconds.
    #[serde(skip)]
    pub offset_ms: Option<i64>,
    /// When it went (or failed), in scenario time.
    pub sent_t_plus: Option<String>,
    pub channel: String,
    pub persona: String,
    pub to: String,
    /// Its subject or title.
    pub subject: String,
    /// The controller who watches it (`owner:`).
    pub owner: Option<String>,
    /// The objectives its inject exercises.
    pub objectives: Vec<String>,
    #[serde(serialize_with = "instant")]
    pub planned_at: Option<DateTime<Utc>>,
    /// When it was planned to go, in the scenario's zone.
    pub planned_local: Option<String>,
    /// When its request started; none for one skipped, not triggered or never sent.
    #[serde(serialize_with = "instant")]
    pub sent_at: Option<DateTime<Utc>>,
    /// When it went (or failed), in the scenario's zone, to the second.
    pub sent_local: Option<String>,
    pub lateness_ms: Option<f64>,
    /// Its lateness in people's units: `+0.4 s`, `+3m 12s`, `-1m 48s`.
    pub lateness: Option<String>,
    /// sent, possible duplicate, failed, skipped, uncertain, pending or not triggered.
    pub status: &'static str,
    /// Sent later than a second past its instant.
    pub late: bool,
    /// How it went, in words: `on schedule`, `fired by hand by cory, 1m 48s early`,
    /// `after a hold of 5m`, `after a restart (down 2m 10s)`, a contingency's condition.
    pub how: String,
    /// Whoever acted on it by hand (fired, retried, skipped, unskipped).
    pub by: Option<String>,
    pub fired_by_hand: bool,
    pub attempts: Option<u32>,
    pub http_status: Option<u16>,
    pub message_id: Option<String>,
    pub error: Option<String>,
    /// Its exact request body, pretty (the plan's page shows it).
    #[serde(skip)]
    pub body: Option<String>,
}

/// Something the run did, with its time.
#[derive(Clone, Debug, Serialize)]
pub struct Action {
    pub at: String,
    /// Its wall time in the scenario's zone.
    pub local: String,
    /// Its scenario time.
    pub t_plus: Option<String>,
    pub what: String,
    /// The occurrence key, inject, expected action or objective it names.
    pub key: Option<String>,
    pub by: Option<String>,
    pub detail: String,
}

/// A stop of the process and the resume after it.
#[derive(Clone, Debug, Serialize)]
pub struct Restart {
    /// The last line the stopped process journaled, in the scenario's zone.
    pub stopped_at: String,
    pub resumed_at: String,
    /// The same instants as the journal writes them (UTC).
    #[serde(serialize_with = "instant")]
    pub stopped_utc: Option<DateTime<Utc>>,
    #[serde(serialize_with = "instant")]
    pub resumed_utc: Option<DateTime<Utc>>,
    pub downtime: String,
    pub downtime_ms: i64,
    /// The occurrences due while it was down (late because of it).
    pub late: Vec<String>,
}

/// How the run came out: `completed`, `ended` (by a director, something left) or
/// `unfinished`, in words.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    pub word: &'static str,
    pub ended_by: Option<String>,
    pub ended_at: Option<String>,
    /// `completed`, `ended by dana (page) at 11:55:02 GMT; completed`, `unfinished (its
    /// journal stops at 09:00:01 GMT with no end line…): 1 uncertain`.
    pub text: String,
    /// As the title says it: `unfinished: 1 uncertain`.
    pub title: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The scenario's file.
    pub scenario: String,
    /// The scenario's name, when the run recorded it.
    pub name: Option<String>,
    pub dry_run: bool,
    /// T0 as the run header states it (RFC 3339).
    pub t0: Option<String>,
    /// T0 in the scenario's zone: `2026-03-28 09:00:00 GMT`.
    pub t0_local: Option<String>,
    /// The zone wall times are given in.
    pub timezone: String,
    /// The run's speed (none: `--speed max`).
    pub speed: Option<f64>,
    pub runs: usize,
    /// Everything was handled: nothing pending or uncertain.
    pub finished: bool,
    pub outcome: Outcome,
    /// The summary, as sentences.
    pub summary: Vec<String>,
    pub totals: Totals,
    pub lateness: Lateness,
    pub actions: Vec<Action>,
    pub restarts: Vec<Restart>,
    /// What was wrong with the journal (unreadable lines), in file order.
    pub problems: Vec<String>,
    /// The occurrences, in the order they went (or were due).
    pub rows: Vec<Row>,
    /// Each expected action and how it was judged.
    pub expectations: Vec<Expected>,
    /// Each contingency inject and what its condition came to.
    pub contingencies: Vec<Contingency>,
    /// The white cell's notes (ratings too), in time order.
    pub notes: Vec<Note>,
    /// Each objective: what exercised it, its ratings, its notes.
    pub objectives: Vec<ObjectiveReport>,
    /// The improvement plan: an area for improvement per row.
    pub improvement_plan: Vec<Improvement>,
    /// The run's clocks, for the page's times.
    #[serde(skip)]
    clock: clock::Clock,
}

/// A note (or an evaluator's rating) in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    pub at: String,
    pub local: String,
    /// T+ in scenario time.
    pub offset: Option<String>,
    pub by: Option<String>,
    pub source: String,
    pub text: String,
    pub key: Option<String>,
    pub expectation: Option<String>,
    pub objectives: Vec<String>,
    /// `strength` or `improvement`.
    pub tag: Option<&'static str>,
    /// An evaluator's rating of the objective it names: `P`, `S`, `M` or `U`.
    pub rating: Option<&'static str>,
}

/// An expected action in the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Expected {
    pub id: String,
    pub action: String,
    pub team: Option<String>,
    /// The inject whose send starts it.
    pub inject: Option<String>,
    pub objectives: Vec<String>,
    /// The deadline's instant once its inject was sent, else as the scenario states it.
    pub deadline: String,
    /// The deadline's instant, once its inject was sent.
    pub deadline_at: Option<String>,
    /// `met`, `missed`, `expired`, `void`, or `open`.
    pub outcome: Verdict,
    pub at: Option<String>,
    /// When it was judged, in the scenario's zone.
    pub local: Option<String>,
    /// When it was judged, in scenario time.
    pub t_plus: Option<String>,
    /// Where the judgment came from: `page`, `command`, `terminal`, `assumed`, or
    /// `deadline`.
    pub source: Option<String>,
    /// Who judged it (a controller's name).
    pub by: Option<String>,
    pub note: Option<String>,
    /// The players' response time: from its inject's send to the judgment.
    pub response: Option<String>,
    pub response_ms: Option<i64>,
    /// What followed: each contingency on it and what it came to.
    pub then: Vec<String>,
    /// Its judgments in time order, those taken back included.
    pub history: Vec<String>,
    /// Later judgments and take-backs (kept for older readers of the JSON).
    pub later: Vec<String>,
}

/// A contingency inject in the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Contingency {
    pub inject: String,
    pub condition: String,
    /// `triggered`, `not triggered`, or `armed` (the run stopped first).
    pub outcome: Standing,
    /// Which condition triggered it, or why it could not.
    pub because: Option<String>,
    pub at: Option<String>,
    /// When its condition came to something, in scenario time.
    pub t_plus: Option<String>,
}

/// An evaluator's standing rating of an objective.
#[derive(Clone, Debug, Serialize)]
pub struct Rated {
    pub by: String,
    pub rating: &'static str,
    /// The rating's meaning: `performed with some challenges`.
    pub words: &'static str,
    pub note: Option<String>,
    /// When, in the scenario's zone.
    pub at: String,
    /// When, as the journal writes it (UTC).
    pub at_utc: String,
    /// Earlier ratings by the same evaluator, oldest first: `M at 10:12:00 GMT`.
    pub history: Vec<String>,
}

/// An objective in the report.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectiveReport {
    pub id: String,
    pub text: String,
    pub capability: Option<String>,
    /// The occurrences of the injects that exercise it: `key status`.
    pub injects: Vec<String>,
    pub sent: usize,
    pub planned: usize,
    /// The expected actions that evaluate it: `id outcome (response)`.
    pub expectations: Vec<String>,
    /// The latest rating of each evaluator.
    pub ratings: Vec<Rated>,
    /// The notes tagged with it: `[strength] text (by)`.
    pub notes: Vec<String>,
}

/// A row of the improvement plan.
#[derive(Clone, Debug, Serialize)]
pub struct Improvement {
    /// Its objective; none for an area noted without one.
    pub objective: Option<String>,
    pub capability: Option<String>,
    /// The area for improvement, as the `improvement` note says it.
    pub area: String,
    pub by: Option<String>,
    /// The objective's standing ratings: `S (eve)`.
    pub rating: String,
}

/// The status words, with the colour each has in the HTML page.
/// Each is told apart from the others by hue, not only by shade.
pub const STATUSES: &[(&str, &str)] = &[
    ("sent", "#2e7d32"),
    ("late", "#b8860b"),
    ("possible duplicate", "#ef6c00"),
    ("failed", "#c62828"),
    ("skipped", "#6d4c41"),
    ("uncertain", "#6a1b9a"),
    ("pending", "#1565c0"),
    ("not triggered", "#78909c"),
];

impl Row {
    /// The word its colour goes by: its status, or `late` for one sent late.
    fn shade(&self) -> &'static str {
        if self.status == "sent" && self.late {
            "late"
        } else {
            self.status
        }
    }
}

fn colour(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or("#000000", |(_, c)| c)
}

/// Escape text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
