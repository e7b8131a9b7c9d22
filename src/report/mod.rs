//! After-action report: what a journal says happened, occurrence by occurrence.
//!
//! [`Report::from_journal`] reads a journal (complete, unfinished, crashed or dry) and
//! folds its entries into one row per occurrence (the last outcome wins; keys never
//! started are `pending`), the totals, lateness percentiles and the run's actions
//! (starts, resumes, ends). Rendering is text, CSV, JSON or one self-contained HTML
//! page with an SVG timeline. A damaged journal is reported line by line; the rest is
//! still used. Nothing here touches the network.
//!
//! Its parts: `from_journal` (the fold), `text` (text, CSV and JSON), `html` (the page)
//! and `svg` (the page's timeline).

mod from_journal;
mod html;
mod svg;
mod text;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adaptive::{Standing, Verdict};
use crate::fold::{Lateness, Totals};
use crate::journal::time_text;

/// An instant in the report's JSON: as the report shows every instant ([`time_text`]).
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
    /// Its planned instant after T0: `T+01:30:00`.
    pub offset: Option<String>,
    pub channel: String,
    pub persona: String,
    pub to: String,
    #[serde(serialize_with = "instant")]
    pub planned_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "instant")]
    pub sent_at: Option<DateTime<Utc>>,
    pub lateness_ms: Option<f64>,
    /// sent, possible duplicate, failed, skipped, uncertain or pending.
    pub status: &'static str,
    /// Sent later than a second past its instant.
    pub late: bool,
    pub attempts: Option<u32>,
    pub http_status: Option<u16>,
    pub message_id: Option<String>,
    pub error: Option<String>,
}

/// Something the run did, with its time.
#[derive(Clone, Debug, Serialize)]
pub struct Action {
    pub at: String,
    pub what: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The scenario's file.
    pub scenario: String,
    /// The scenario's name, when the run recorded it.
    pub name: Option<String>,
    pub dry_run: bool,
    pub t0: Option<String>,
    pub runs: usize,
    pub finished: bool,
    pub totals: Totals,
    pub lateness: Lateness,
    pub actions: Vec<Action>,
    /// What was wrong with the journal (unreadable lines), in file order.
    pub problems: Vec<String>,
    pub rows: Vec<Row>,
    /// Each expected action and how it was judged.
    pub expectations: Vec<Expected>,
    /// Each contingency inject and what its condition came to.
    pub contingencies: Vec<Contingency>,
    /// The white cell's notes, in time order.
    pub notes: Vec<Note>,
}

/// A note in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    pub at: String,
    /// T+ from T0.
    pub offset: Option<String>,
    pub by: Option<String>,
    pub source: String,
    pub text: String,
    pub key: Option<String>,
    pub expectation: Option<String>,
}

/// An expected action in the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Expected {
    pub id: String,
    pub action: String,
    pub team: Option<String>,
    /// The deadline's instant once its inject was sent, else as the scenario states it.
    pub deadline: String,
    /// `met`, `missed`, `expired`, `void`, or `open`.
    pub outcome: Verdict,
    pub at: Option<String>,
    /// Who judged: `page`, `command`, `terminal`, `assumed`, or `deadline`.
    pub source: Option<String>,
    pub note: Option<String>,
    /// Later judgments, kept as notes (the first stands).
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
