//! After-action report: what a journal says happened, occurrence by occurrence.
//!
//! [`Report::from_journal`] reads a journal (complete, unfinished, crashed or dry) and
//! folds its entries into one row per occurrence (the last outcome wins; keys never
//! started are `pending`), the totals, lateness percentiles and the run's actions
//! (starts, resumes, ends). Rendering is text, CSV, JSON or one self-contained HTML
//! page with an SVG timeline. A damaged journal is reported line by line; the rest is
//! still used. Nothing here touches the network.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adaptive::{Standing, Verdict};
use crate::event::Event;
use crate::fold::{Fold, Lateness, Slot, Status, Totals};
use crate::journal::{PlanRow, Record, Replay, RunHeader, parse_time, time_text};

/// An instant in the report's JSON: as the report shows every instant ([`time_text`]).
fn instant<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&time_text(*t)),
        None => s.serialize_none(),
    }
}

/// An optional instant as the report's text shows it, `-` when absent.
fn shown(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".to_string(), time_text)
}

/// An instant as the report shows every instant ([`time_text`]); `raw` when unreadable.
fn show(t: Option<DateTime<Utc>>, raw: &str) -> String {
    t.map_or_else(|| raw.to_string(), time_text)
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

/// A run's expected actions and contingencies, as the journal's events judge them.
struct Judged {
    expectations: Vec<Expected>,
    contingencies: Vec<Contingency>,
}

impl Judged {
    /// Those of the newest run in `runs` that has any, none judged yet.
    fn declared(runs: &[RunHeader]) -> Judged {
        let head = runs
            .iter()
            .rev()
            .find(|h| !h.expectations.is_empty() || !h.contingencies.is_empty());
        let expectations: Vec<Expected> = head
            .map(|h| {
                h.expectations
                    .iter()
                    .map(|e| Expected {
                        id: e.id.clone(),
                        action: e.action.clone(),
                        team: e.team.clone(),
                        deadline: e.deadline.clone(),
                        ..Expected::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let contingencies: Vec<Contingency> = head
            .map(|h| {
                h.contingencies
                    .iter()
                    .map(|c| Contingency {
                        inject: c.inject.clone(),
                        condition: c.condition.clone(),
                        ..Contingency::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Judged {
            expectations,
            contingencies,
        }
    }

    /// Where the expected action `id` is.
    fn expected(&self, id: &str) -> Option<usize> {
        self.expectations.iter().position(|x| x.id == id)
    }

    /// Take in one event: a deadline set, a judgment made or taken back, an expected
    /// action expired or void, a contingency's condition come to something.
    fn heard(&mut self, e: &Event) {
        match e {
            Event::Due {
                expectation, due, ..
            } => {
                if let Some(i) = self.expected(expectation) {
                    self.expectations[i].deadline = time_text(*due);
                }
            }
            Event::Control {
                at,
                action:
                    crate::action::Action::Met(id, note) | crate::action::Action::Missed(id, note),
                source,
                ..
            } => {
                if let Some(i) = self.expected(id) {
                    let x = &mut self.expectations[i];
                    let verdict = if matches!(
                        e,
                        Event::Control {
                            action: crate::action::Action::Met(..),
                            ..
                        }
                    ) {
                        Verdict::Met
                    } else {
                        Verdict::Missed
                    };
                    let word = verdict.word();
                    if x.outcome == Verdict::Open {
                        x.outcome = verdict;
                        x.at = Some(time_text(*at));
                        x.source = Some(source.name().into());
                        x.note = note.clone();
                    } else {
                        x.later.push(format!(
                            "{word} at {} ({}){}",
                            time_text(*at),
                            source.name(),
                            note.as_ref().map_or(String::new(), |n| format!(": {n}"))
                        ));
                    }
                }
            }
            // A judgment taken back (undone, or corrected): open again, kept in its
            // history.
            Event::Control {
                at,
                action:
                    crate::action::Action::Undo {
                        judgment: Some(which),
                        ..
                    },
                source,
                ..
            } => {
                if let Some((word, id)) = which.split_once(':')
                    && let Some(i) = self.expected(id)
                    && self.expectations[i].outcome.word() == word
                {
                    let x = &mut self.expectations[i];
                    x.later.push(format!(
                        "{word} taken back at {} ({})",
                        time_text(*at),
                        source.name()
                    ));
                    x.outcome = Verdict::Open;
                    x.at = None;
                    x.source = None;
                    x.note = None;
                }
            }
            Event::Expired { expectation, at }
            | Event::Void {
                expectation, at, ..
            } => {
                if let Some(i) = self.expected(expectation)
                    && self.expectations[i].outcome == Verdict::Open
                {
                    let x = &mut self.expectations[i];
                    x.outcome = if matches!(e, Event::Expired { .. }) {
                        Verdict::Expired
                    } else {
                        Verdict::Void
                    };
                    x.at = Some(time_text(*at));
                    x.source = Some("deadline".into());
                    if let Event::Void { reason, .. } = e {
                        x.note = Some(reason.clone());
                    }
                }
            }
            Event::Triggered {
                inject,
                because,
                at,
            }
            | Event::NotTriggered {
                inject,
                because,
                at,
            } => {
                if let Some(c) = self.contingencies.iter_mut().find(|c| &c.inject == inject) {
                    c.outcome = if matches!(e, Event::Triggered { .. }) {
                        Standing::Triggered
                    } else {
                        Standing::NotTriggered
                    };
                    c.because = Some(because.clone());
                    c.at = Some(time_text(*at));
                }
            }
            _ => {}
        }
    }
}

/// The note an event records, with its instant (its offset from T0 not yet known).
fn note_of(e: &Event) -> Option<(DateTime<Utc>, Note)> {
    let n = crate::board::NoteView::of(e)?;
    Some((
        n.at,
        Note {
            at: time_text(n.at),
            offset: None,
            by: n.by,
            source: n.source.into(),
            text: n.text,
            key: n.key,
            expectation: n.expectation,
        },
    ))
}

/// The run's action a journal line records: a start or restart, an end, a director's
/// control.
fn action_of(record: &Record) -> Option<Action> {
    match record {
        Record::Run(h) => {
            // A run resumed after a stop "restarts"; "resume" is a hold's release.
            let what = if h.resumes.is_some() {
                "restart"
            } else {
                "start"
            };
            let mode = if h.dry_run { "dry run" } else { "live" };
            Some(Action {
                at: show(parse_time(&h.started_at), &h.started_at),
                what: what.into(),
                detail: format!(
                    "run {} ({mode}, T0 {}, {} occurrences)",
                    short(&h.run_id),
                    show(parse_time(&h.t0), &h.t0),
                    h.occurrences
                ),
            })
        }
        Record::End { at, reason } => Some(Action {
            at: show(*at, "-"),
            what: "end".into(),
            detail: reason.clone(),
        }),
        Record::Event(Event::Control {
            at,
            action,
            moved_ms,
            source,
            by,
        }) => {
            let mut detail = action.key().unwrap_or_default().to_string();
            if let Some(ms) = moved_ms {
                let sep = if detail.is_empty() { "" } else { " " };
                detail = format!("{detail}{sep}{:.3} s", *ms as f64 / 1000.0);
            }
            let who = by.as_deref().map_or(String::new(), |b| format!(", by {b}"));
            let detail = format!("{detail} (from the {}{who})", source.name())
                .trim()
                .to_string();
            Some(Action {
                at: time_text(*at),
                what: action.name().into(),
                detail,
            })
        }
        Record::Event(_) => None,
    }
}

/// The run's T0. Instants are journaled to the microsecond; T0 may carry nanoseconds:
/// they are cut, or an offset would read a microsecond short (T+00:01:59.999).
fn t0_of(run: Option<&RunHeader>) -> Option<DateTime<Utc>> {
    run.and_then(|h| chrono::DateTime::parse_from_rfc3339(&h.t0).ok())
        .map(|t| {
            let t = t.to_utc();
            t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000))
        })
}

/// The instant `t` after `t0`: `T+01:30:00` (`T+00:00:00` before it).
fn offset_from(t0: Option<DateTime<Utc>>, t: Option<DateTime<Utc>>) -> Option<String> {
    let micros = (t? - t0?).num_microseconds()?;
    let after = std::time::Duration::from_micros(u64::try_from(micros.max(0)).ok()?);
    Some(crate::plan::show_offset(after))
}

/// The scenario's name for an id, beside the id.
fn named(name: Option<&str>, id: &str) -> String {
    match name {
        Some(n) if !id.is_empty() => format!("{n} ({id})"),
        _ => id.to_string(),
    }
}

/// The row of occurrence `key`: its slot in the fold, with what its row of the plan
/// says of it.
fn row(key: &str, slot: &Slot, plan: Option<&PlanRow>, t0: Option<DateTime<Utc>>) -> Row {
    let planned_at = slot
        .planned
        .or_else(|| plan.and_then(|p| parse_time(&p.planned_at)));
    Row {
        key: key.to_string(),
        offset: offset_from(t0, planned_at),
        channel: plan.map(|p| p.channel.clone()).unwrap_or_default(),
        persona: plan.map_or_else(String::new, |p| {
            named(p.persona_name.as_deref(), &p.persona)
        }),
        to: plan.map_or_else(String::new, |p| named(p.to_name.as_deref(), &p.to)),
        planned_at,
        sent_at: slot.at.filter(|_| slot.status != Status::Skipped),
        lateness_ms: slot.lateness_ms,
        status: slot.word(),
        late: slot.late,
        attempts: slot.attempts,
        http_status: slot.http_status,
        message_id: slot.message_id.as_deref().map(String::from),
        error: slot.error.as_deref().map(String::from),
    }
}

impl Report {
    /// Fold a journal's text into a report.
    pub fn from_journal(text: &str) -> Report {
        let replay = Replay::parse(text);
        let last = replay.runs.last();
        // The newest plan lists every occurrence, started or not.
        let plan = replay.runs.iter().rev().find_map(|h| h.plan.as_ref());
        let mut fold = Fold::new();
        let mut planned: HashMap<&str, &PlanRow> = HashMap::new();
        for p in plan.into_iter().flatten() {
            fold.seed(p.key.clone());
            planned.insert(&p.key, p);
        }
        let mut judged = Judged::declared(&replay.runs);
        let mut notes: Vec<(DateTime<Utc>, Note)> = Vec::new();
        for record in &replay.records {
            let Record::Event(e) = record else { continue };
            notes.extend(note_of(e));
            judged.heard(e);
        }
        let actions = replay.records.iter().filter_map(action_of).collect();
        let runs_seen = replay
            .records
            .iter()
            .filter(|r| matches!(r, Record::Run(_)))
            .count();
        // The same fold a resume makes: a request never started is pending, not uncertain.
        let fold = replay.fold_into(fold);
        let (totals, lateness) = fold.totals();
        let t0 = t0_of(last);
        let rows = fold
            .iter()
            .map(|(key, slot)| row(key, slot, planned.get(key).copied(), t0))
            .collect();
        Report {
            scenario: last.map(|h| h.scenario.clone()).unwrap_or_default(),
            name: replay.runs.iter().rev().find_map(|h| h.name.clone()),
            dry_run: last.is_some_and(|h| h.dry_run),
            t0: last.map(|h| h.t0.clone()),
            runs: runs_seen,
            finished: replay.last_completed,
            totals,
            lateness,
            actions,
            problems: replay.problems,
            rows,
            expectations: judged.expectations,
            contingencies: judged.contingencies,
            notes: notes
                .into_iter()
                .map(|(at, n)| Note {
                    offset: offset_from(t0, Some(at)),
                    ..n
                })
                .collect(),
        }
    }

    /// The notes as text lines.
    fn notes_text(&self) -> String {
        let mut out = String::new();
        if self.notes.is_empty() {
            return out;
        }
        out.push_str("\nnotes:\n");
        for n in &self.notes {
            let about = n
                .key
                .as_deref()
                .or(n.expectation.as_deref())
                .map_or(String::new(), |k| format!(" on {k}"));
            let _ = writeln!(
                out,
                "  {} {}  {} ({}){about}: {}",
                n.at,
                n.offset.as_deref().unwrap_or(""),
                n.by.as_deref().unwrap_or("-"),
                n.source,
                n.text
            );
        }
        out
    }

    /// The expectations and contingencies as text tables (empty without any).
    fn branch_text(&self) -> String {
        let mut out = String::new();
        if !self.expectations.is_empty() {
            let cells: Vec<[String; 8]> = self
                .expectations
                .iter()
                .map(|x| {
                    let mut note = x.note.clone().unwrap_or_default();
                    for l in &x.later {
                        if !note.is_empty() {
                            note.push_str("; ");
                        }
                        note.push_str(&format!("later: {l}"));
                    }
                    [
                        x.id.clone(),
                        x.action.clone(),
                        x.team.clone().unwrap_or_default(),
                        x.deadline.clone(),
                        x.outcome.word().to_string(),
                        x.at.clone().unwrap_or_default(),
                        x.source.clone().unwrap_or_default(),
                        note,
                    ]
                })
                .collect();
            out.push_str("\nexpected actions:\n");
            out.push_str(&crate::table::text_table(
                [
                    "ID", "ACTION", "TEAM", "DEADLINE", "OUTCOME", "WHEN", "SOURCE", "NOTE",
                ],
                &cells,
            ));
        }
        if !self.contingencies.is_empty() {
            let cells: Vec<[String; 5]> = self
                .contingencies
                .iter()
                .map(|c| {
                    [
                        c.inject.clone(),
                        c.condition.clone(),
                        c.outcome.word().to_string(),
                        c.because.clone().unwrap_or_default(),
                        c.at.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            out.push_str("\ncontingencies:\n");
            out.push_str(&crate::table::text_table(
                ["INJECT", "WHEN", "OUTCOME", "BECAUSE", "AT"],
                &cells,
            ));
        }
        out
    }

    fn title(&self) -> String {
        format!(
            "{}{}{}",
            match (&self.name, self.scenario.is_empty()) {
                (Some(name), _) => name.as_str(),
                (None, true) => "(no run in this journal)",
                (None, false) => &self.scenario,
            },
            if self.dry_run { " — dry run" } else { "" },
            if self.finished { "" } else { " — unfinished" }
        )
    }

    fn totals_line(&self) -> String {
        let t = &self.totals;
        format!(
            "{} occurrences: {} sent ({} possible duplicate), {} failed, {} skipped, {} uncertain, {} pending; {} late",
            t.occurrences,
            t.sent,
            t.possible_duplicates,
            t.failed,
            t.skipped,
            t.uncertain,
            t.pending,
            t.late
        )
    }

    fn lateness_line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} ms"));
        let l = &self.lateness;
        format!(
            "lateness p50 {}, p95 {}, p99 {}, max {}",
            ms(l.p50_ms),
            ms(l.p95_ms),
            ms(l.p99_ms),
            ms(l.max_ms)
        )
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title());
        for p in &self.problems {
            let _ = writeln!(out, "journal problem: {p}");
        }
        let _ = writeln!(out, "{}", self.totals_line());
        let _ = writeln!(out, "{}", self.lateness_line());
        let _ = writeln!(out, "\nactions:");
        for a in &self.actions {
            let _ = writeln!(out, "  {}  {:<7} {}", a.at, a.what, a.detail);
        }
        out.push_str(&self.branch_text());
        out.push_str(&self.notes_text());
        let _ = writeln!(out);
        let header = [
            "KEY",
            "T+",
            "CHANNEL",
            "PERSONA",
            "TO",
            "PLANNED",
            "SENT",
            "LATENESS",
            "STATUS",
            "ATTEMPTS",
            "HTTP",
            "MESSAGE_ID",
            "ERROR",
        ];
        let cells: Vec<[String; 13]> = self.rows.iter().map(row_cells).collect();
        out.push_str(&crate::table::text_table(header, &cells));
        out
    }

    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "key",
            "offset",
            "channel",
            "persona",
            "to",
            "planned_at",
            "sent_at",
            "lateness_ms",
            "status",
            "attempts",
            "http_status",
            "message_id",
            "error",
        ]);
        for r in &self.rows {
            let _ = w.write_record(row_cells(r));
        }
        // Notes as rows of their own: status `note`, who in `persona`, where from in `to`,
        // when in `sent_at`, the text in `error`'s place.
        for n in &self.notes {
            let about = n.key.clone().or(n.expectation.clone()).unwrap_or_default();
            let mut cells: [String; 13] = Default::default();
            cells[0] = about;
            cells[1] = n.offset.clone().unwrap_or_default();
            cells[3] = n.by.clone().unwrap_or_default();
            cells[4] = n.source.clone();
            cells[6] = n.at.clone();
            cells[8] = "note".into();
            cells[12] = n.text.clone();
            let _ = w.write_record(cells);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// One self-contained page: summary, an SVG timeline in lanes, the table.
    pub fn html(&self, lanes_by_team: bool) -> String {
        let mut out = String::new();
        self.html_head(&mut out);
        self.html_summary(&mut out);
        out.push_str(&self.svg(lanes_by_team));
        self.html_actions(&mut out);
        self.html_notes(&mut out);
        self.html_expectations(&mut out);
        self.html_contingencies(&mut out);
        self.html_rows(&mut out);
        out.push_str(
            "<p class=\"foot\">Made by injector from the run's journal.</p></body></html>\n",
        );
        out
    }

    /// The page's head, its title, the scenario's file (under its name) and the
    /// journal's problems.
    fn html_head(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
            esc(&format!("injector report: {}", self.title()))
        );
        let _ = writeln!(out, "<h1>{}</h1>", esc(&self.title()));
        if self.name.is_some() {
            let _ = writeln!(out, "<p class=\"file\">{}</p>", esc(&self.scenario));
        }
        for p in &self.problems {
            let _ = writeln!(out, "<p class=\"problem\">Journal problem: {}</p>", esc(p));
        }
    }

    /// The summary: the totals (also as data attributes), the lateness, and the legend
    /// of status colours.
    fn html_summary(&self, out: &mut String) {
        let t = &self.totals;
        let _ = write!(
            out,
            "<section class=\"summary\" id=\"totals\" data-occurrences=\"{}\" data-sent=\"{}\" data-failed=\"{}\" data-skipped=\"{}\" data-uncertain=\"{}\" data-pending=\"{}\">",
            t.occurrences, t.sent, t.failed, t.skipped, t.uncertain, t.pending
        );
        let _ = write!(
            out,
            "<p>{}</p><p>{}</p>",
            esc(&self.totals_line()),
            esc(&self.lateness_line())
        );
        out.push_str("<p class=\"legend\">");
        for (s, c) in STATUSES {
            let _ = write!(out, "<span><i style=\"background:{c}\"></i>{s}</span> ");
        }
        out.push_str("</p></section>\n");
    }

    /// The run's actions as a table (nothing without any).
    fn html_actions(&self, out: &mut String) {
        if self.actions.is_empty() {
            return;
        }
        out.push_str("<h2>Actions</h2><table class=\"actions\"><tr><th>At</th><th>What</th><th>Detail</th></tr>\n");
        for a in &self.actions {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.at),
                esc(&a.what),
                esc(&a.detail)
            );
        }
        out.push_str("</table>\n");
    }

    /// The notes as a table (nothing without any).
    fn html_notes(&self, out: &mut String) {
        if self.notes.is_empty() {
            return;
        }
        out.push_str("<h2>Notes</h2><table class=\"notes\"><tr><th>At</th><th>T+</th><th>By</th><th>About</th><th>Note</th></tr>\n");
        for n in &self.notes {
            let _ = writeln!(
                out,
                "<tr class=\"note\" data-by=\"{}\"><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
                esc(n.by.as_deref().unwrap_or("")),
                esc(&n.at),
                esc(n.offset.as_deref().unwrap_or("")),
                esc(n.by.as_deref().unwrap_or("-")),
                esc(&n.source),
                esc(n.key.as_deref().or(n.expectation.as_deref()).unwrap_or("")),
                esc(&n.text)
            );
        }
        out.push_str("</table>\n");
    }

    /// The expected actions and how each was judged, as a table (nothing without any).
    fn html_expectations(&self, out: &mut String) {
        if self.expectations.is_empty() {
            return;
        }
        out.push_str("<h2>Expected actions</h2><table class=\"expectations\"><tr><th>Id</th><th>Action</th><th>Team</th><th>Deadline</th><th>Outcome</th><th>When</th><th>Source</th><th>Note</th></tr>\n");
        for x in &self.expectations {
            let mut note = x.note.clone().unwrap_or_default();
            for l in &x.later {
                note.push_str(&format!(" later: {l}"));
            }
            let _ = writeln!(
                out,
                "<tr class=\"expectation\" data-id=\"{}\" data-outcome=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&x.id),
                esc(x.outcome.word()),
                esc(&x.id),
                esc(&x.action),
                esc(x.team.as_deref().unwrap_or("")),
                esc(&x.deadline),
                esc(x.outcome.word()),
                esc(x.at.as_deref().unwrap_or("")),
                esc(x.source.as_deref().unwrap_or("")),
                esc(note.trim())
            );
        }
        out.push_str("</table>\n");
    }

    /// The contingencies and what their conditions came to, as a table (nothing without
    /// any).
    fn html_contingencies(&self, out: &mut String) {
        if self.contingencies.is_empty() {
            return;
        }
        out.push_str("<h2>Contingencies</h2><table class=\"contingencies\"><tr><th>Inject</th><th>When</th><th>Outcome</th><th>Because</th><th>At</th></tr>\n");
        for c in &self.contingencies {
            let _ = writeln!(
                out,
                "<tr class=\"contingency\" data-inject=\"{}\" data-outcome=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.inject),
                esc(c.outcome.word()),
                esc(&c.inject),
                esc(&c.condition),
                esc(c.outcome.word()),
                esc(c.because.as_deref().unwrap_or("")),
                esc(c.at.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>\n");
    }

    /// The occurrences as a table, each status in its colour.
    fn html_rows(&self, out: &mut String) {
        out.push_str("<h2>Occurrences</h2><table class=\"rows\"><tr>");
        for h in [
            "Key",
            "T+",
            "Channel",
            "Persona",
            "To",
            "Planned",
            "Sent",
            "Lateness",
            "Status",
            "Attempts",
            "HTTP",
            "Message id",
            "Error",
        ] {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr>\n");
        for r in &self.rows {
            let _ = write!(out, "<tr class=\"row\" data-key=\"{}\">", esc(&r.key));
            for (i, c) in row_cells(r).iter().enumerate() {
                if i == 8 {
                    let _ = write!(
                        out,
                        "<td><span class=\"status\" style=\"color:{}\">{}{}</span></td>",
                        colour(r.shade()),
                        esc(c),
                        if r.late { " (late)" } else { "" }
                    );
                } else {
                    let _ = write!(out, "<td>{}</td>", esc(c));
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }

    /// The timeline: a lane per channel (or per recipient, `by_team`), a lane for the
    /// expected actions and one for the notes when there are any, ticks of time, and a
    /// mark per occurrence from its planned instant to its sent one.
    fn svg(&self, by_team: bool) -> String {
        let points: Vec<Span> = self
            .rows
            .iter()
            .map(|r| (r.planned_at, r.sent_at))
            .collect();
        // Expected actions: each deadline and each judgment, in a lane of their own.
        let marks: Vec<(&Expected, Span)> = self
            .expectations
            .iter()
            .map(|x| {
                (
                    x,
                    (
                        parse_time(&x.deadline),
                        x.at.as_deref().and_then(parse_time),
                    ),
                )
            })
            .collect();
        let note_times: Vec<(&Note, Option<DateTime<Utc>>)> =
            self.notes.iter().map(|n| (n, parse_time(&n.at))).collect();
        let times: Vec<DateTime<Utc>> = points
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .chain(marks.iter().flat_map(|(_, (d, j))| [*d, *j]))
            .chain(note_times.iter().map(|(_, t)| *t))
            .flatten()
            .collect();
        let (Some(start), Some(end)) = (times.iter().min().copied(), times.iter().max().copied())
        else {
            return "<p>No timed occurrences.</p>\n".into();
        };
        let span = ((end - start).num_milliseconds().max(1)) as f64;
        let mut lanes: Vec<String> = Vec::new();
        for r in &self.rows {
            let l = lane_of(r, by_team);
            if !lanes.contains(&l) {
                lanes.push(l);
            }
        }
        let (lane_h, top) = (LANE_H, TOP);
        let expected_lane = !marks.is_empty();
        let notes_lane = !note_times.is_empty();
        let height = top
            + (lanes.len() + usize::from(expected_lane) + usize::from(notes_lane)) as f64 * lane_h
            + 10.0;
        let scale = Scale {
            start,
            span,
            height,
        };
        let mut out = format!(
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 {height}\" width=\"1000\" height=\"{height}\" role=\"img\" aria-label=\"timeline\">\n"
        );
        for (i, name) in lanes.iter().enumerate() {
            let y = top + i as f64 * lane_h;
            let _ = writeln!(
                out,
                "<g class=\"lane\"><rect x=\"0\" y=\"{y}\" width=\"1000\" height=\"{lane_h}\" fill=\"{}\"/><text x=\"6\" y=\"{}\" class=\"lane-name\">{}</text></g>",
                if i % 2 == 0 { "#f5f5f5" } else { "#ffffff" },
                y + 19.0,
                esc(name)
            );
        }
        if expected_lane {
            svg_expected(&mut out, &scale, lanes.len(), &marks);
        }
        if notes_lane {
            svg_notes(
                &mut out,
                &scale,
                lanes.len() + usize::from(expected_lane),
                &note_times,
            );
        }
        svg_ticks(&mut out, &scale);
        for (r, span) in self.rows.iter().zip(&points) {
            let lane = lanes
                .iter()
                .position(|l| *l == lane_of(r, by_team))
                .unwrap_or(0);
            svg_mark(&mut out, &scale, lane, r, span);
        }
        out.push_str("</svg>\n");
        out
    }
}

/// Planned and actual instants of a row.
type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Where the timeline's lanes start, from its left edge.
const LEFT: f64 = 140.0;
/// How wide the time axis is.
const WIDTH: f64 = 840.0;
/// How tall a lane is.
const LANE_H: f64 = 30.0;
/// Where the first lane starts, below the ticks' times.
const TOP: f64 = 30.0;

/// The timeline's scale: where an instant is drawn, and how tall the drawing is.
struct Scale {
    /// The earliest instant, at the left of the time axis.
    start: DateTime<Utc>,
    /// Milliseconds from the earliest instant to the latest (at least 1).
    span: f64,
    height: f64,
}

impl Scale {
    /// Where the instant `t` is drawn across.
    fn x(&self, t: DateTime<Utc>) -> f64 {
        LEFT + (t - self.start).num_milliseconds() as f64 / self.span * WIDTH
    }
}

/// The lane of a row: its channel, or its recipient `by_team`.
fn lane_of(r: &Row, by_team: bool) -> String {
    let name = if by_team {
        r.to.clone()
    } else {
        r.channel.clone()
    };
    if name.is_empty() {
        "(unknown)".to_string()
    } else {
        name
    }
}

/// The expected actions' lane, the `index`th: each deadline a dashed line, each
/// judgment a triangle in its outcome's colour.
fn svg_expected(out: &mut String, scale: &Scale, index: usize, marks: &[(&Expected, Span)]) {
    let (lane_h, top) = (LANE_H, TOP);
    let x = |t: DateTime<Utc>| scale.x(t);
    let y = top + index as f64 * lane_h;
    let _ = writeln!(
        out,
        "<g class=\"lane\"><rect x=\"0\" y=\"{y}\" width=\"1000\" height=\"{lane_h}\" fill=\"#fff8e1\"/><text x=\"6\" y=\"{}\" class=\"lane-name\">expected actions</text></g>",
        y + 19.0
    );
    let mid = y + lane_h / 2.0;
    for (x_, (deadline, judged)) in marks {
        if let Some(d) = deadline {
            let _ = writeln!(
                out,
                "<g class=\"deadline\" data-id=\"{}\"><title>deadline of {}: {}</title><line x1=\"{:.1}\" y1=\"{}\" x2=\"{:.1}\" y2=\"{}\" stroke=\"#c62828\" stroke-dasharray=\"3 2\"/></g>",
                esc(&x_.id),
                esc(&x_.id),
                esc(&x_.deadline),
                x(*d),
                y + 3.0,
                x(*d),
                y + lane_h - 3.0
            );
        }
        if let Some(j) = judged {
            let c = match x_.outcome {
                Verdict::Met => "#2e7d32",
                Verdict::Void => "#6d4c41",
                _ => "#c62828",
            };
            let (cx, top_y) = (x(*j), mid - 5.0);
            let _ = writeln!(
                out,
                "<g class=\"judgment\" data-id=\"{}\" data-outcome=\"{}\"><title>{} {} at {} ({})</title><path d=\"M{cx:.1} {top_y} l5 10 h-10 z\" fill=\"{c}\"/></g>",
                esc(&x_.id),
                esc(x_.outcome.word()),
                esc(&x_.id),
                esc(x_.outcome.word()),
                esc(x_.at.as_deref().unwrap_or("")),
                esc(x_.source.as_deref().unwrap_or(""))
            );
        }
    }
}

/// The notes' lane, the `index`th: a square at each note's instant.
fn svg_notes(
    out: &mut String,
    scale: &Scale,
    index: usize,
    note_times: &[(&Note, Option<DateTime<Utc>>)],
) {
    let (lane_h, top) = (LANE_H, TOP);
    let y = top + index as f64 * lane_h;
    let _ = writeln!(
        out,
        "<g class=\"lane\"><rect x=\"0\" y=\"{y}\" width=\"1000\" height=\"{lane_h}\" fill=\"#e3f2fd\"/><text x=\"6\" y=\"{}\" class=\"lane-name\">notes</text></g>",
        y + 19.0
    );
    for (n, at) in note_times {
        let Some(at) = at else { continue };
        let _ = writeln!(
            out,
            "<g class=\"note-mark\" data-by=\"{}\"><title>{} {}: {}</title><rect x=\"{:.1}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#1565c0\"/></g>",
            esc(n.by.as_deref().unwrap_or("")),
            esc(&n.at),
            esc(n.by.as_deref().unwrap_or(&n.source)),
            esc(&n.text),
            scale.x(*at) - 4.0,
            y + lane_h / 2.0 - 4.0
        );
    }
}

/// Five ticks across the time axis, each a line down the lanes and its time on top
/// (to the millisecond over less than a minute).
fn svg_ticks(out: &mut String, scale: &Scale) {
    let (top, height, span) = (TOP, scale.height, scale.span);
    for k in 0..=4 {
        let t = scale.start + chrono::TimeDelta::milliseconds((span * k as f64 / 4.0) as i64);
        let xx = scale.x(t);
        let _ = writeln!(
            out,
            "<line x1=\"{xx:.1}\" y1=\"{}\" x2=\"{xx:.1}\" y2=\"{height}\" stroke=\"#e0e0e0\"/><text x=\"{xx:.1}\" y=\"16\" class=\"tick\">{}</text>",
            top - 4.0,
            if span < 60_000.0 {
                t.format("%H:%M:%S%.3f").to_string()
            } else {
                t.format("%H:%M:%S").to_string()
            }
        );
    }
}

/// An occurrence's mark in lane `lane`: a line from its planned instant to its sent
/// one, or a circle at the one it has, in its status's colour, with its details as a
/// tooltip.
fn svg_mark(out: &mut String, scale: &Scale, lane: usize, r: &Row, (planned, actual): &Span) {
    let (lane_h, top) = (LANE_H, TOP);
    let x = |t: DateTime<Utc>| scale.x(t);
    let y = top + lane as f64 * lane_h + lane_h / 2.0;
    let c = colour(r.shade());
    let tip = format!(
        "{} — {}\nplanned {}\nsent {}\nlateness {}\n{}{}",
        r.key,
        r.status,
        shown(r.planned_at),
        shown(r.sent_at),
        r.lateness_ms.map_or("-".into(), |l| format!("{l:.3} ms")),
        r.message_id
            .as_deref()
            .map_or(String::new(), |m| format!("message_id {m}\n")),
        r.error.as_deref().unwrap_or("")
    );
    let _ = write!(
        out,
        "<g class=\"mark\" data-key=\"{}\" data-status=\"{}\"><title>{}</title>",
        esc(&r.key),
        r.status,
        esc(tip.trim_end())
    );
    match (planned, actual) {
        (Some(p), Some(a)) => {
            let _ = write!(
                out,
                "<line x1=\"{:.1}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\" stroke=\"{c}\" stroke-width=\"2\"/><circle cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill=\"none\" stroke=\"{c}\"/><circle cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill=\"{c}\"/>",
                x(*p),
                x(*a),
                x(*p),
                x(*a)
            );
        }
        (Some(p), None) | (None, Some(p)) => {
            let fill = if r.status == "pending" { "none" } else { c };
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill=\"{fill}\" stroke=\"{c}\"/>",
                x(*p)
            );
        }
        (None, None) => {}
    }
    out.push_str("</g>\n");
}

fn row_cells(r: &Row) -> [String; 13] {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        r.key.clone(),
        opt(&r.offset),
        r.channel.clone(),
        r.persona.clone(),
        r.to.clone(),
        r.planned_at.map_or(String::new(), time_text),
        r.sent_at.map_or(String::new(), time_text),
        r.lateness_ms.map_or(String::new(), |l| format!("{l:.3}")),
        r.status.to_string(),
        r.attempts.map_or(String::new(), |a| a.to_string()),
        r.http_status.map_or(String::new(), |s| s.to_string()),
        opt(&r.message_id),
        opt(&r.error),
    ]
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
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

const CSS: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#212121}\
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:24px 0 8px}\
.summary p{margin:2px 0}.problem{color:#c62828;font-weight:600}\
.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}\
svg.timeline{display:block;max-width:100%;height:auto;border:1px solid #e0e0e0;margin:12px 0}\
.lane-name{font-size:12px;fill:#424242}.tick{font-size:11px;fill:#616161;text-anchor:middle}\
.mark:hover circle{r:6}\
table{border-collapse:collapse;font-size:12px}th,td{border-bottom:1px solid #eeeeee;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#fafafa}.status{font-weight:600}.foot{color:#757575;font-size:12px}\
@media print{body{margin:0}svg.timeline{border:none}tr{break-inside:avoid}}";

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
