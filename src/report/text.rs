//! The report as text (a title, the summary, tables in the exercise's order and words),
//! CSV (one row per occurrence, judgment, note, rating, improvement and action, with a
//! `kind` column) and JSON.

use std::fmt::Write as _;

use super::clock::lateness_text;
use super::{Expected, Note, Report, Row};
use crate::table::text_table;

/// The occurrences' columns, in the text and (after `kind`) in the CSV.
pub(super) const ROW_HEADER: [&str; 10] = [
    "T+", "AT", "LATENESS", "KEY", "CHANNEL", "PERSONA", "TO", "SUBJECT", "STATUS", "HOW",
];

/// An occurrence's cells under [`ROW_HEADER`]: its planned scenario time, when it went
/// (or, for one that did not, `-`), its lateness, and the rest.
pub(super) fn row_cells(r: &Row) -> [String; 10] {
    [
        r.offset.clone().unwrap_or_default(),
        r.sent_local.clone().unwrap_or_else(|| "-".into()),
        r.lateness.clone().unwrap_or_default(),
        r.key.clone(),
        r.channel.clone(),
        r.persona.clone(),
        r.to.clone(),
        shortened(&r.subject),
        r.status.to_string(),
        r.how.clone(),
    ]
}

/// A subject as a table shows it: at most 48 characters.
fn shortened(s: &str) -> String {
    if s.chars().count() > 48 {
        format!("{}…", s.chars().take(47).collect::<String>())
    } else {
        s.to_string()
    }
}

/// An expected action's cells under [`EXPECTED_HEADER`].
pub(super) fn expected_cells(x: &Expected) -> [String; 9] {
    let judged_by = match (&x.by, &x.source) {
        (Some(b), Some(s)) => format!("{b} ({s})"),
        (None, Some(s)) => s.clone(),
        _ => String::new(),
    };
    let mut note = x.note.clone().unwrap_or_default();
    if x.history.len() > 1 {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&format!("history: {}", x.history.join(" / ")));
    }
    [
        x.id.clone(),
        x.action.clone(),
        x.deadline.clone(),
        x.outcome.word().to_string(),
        judged_by,
        x.local.clone().unwrap_or_default(),
        x.response.clone().unwrap_or_default(),
        x.then.join(", "),
        note,
    ]
}

pub(super) const EXPECTED_HEADER: [&str; 9] = [
    "ID",
    "ACTION",
    "DEADLINE",
    "OUTCOME",
    "JUDGED BY",
    "AT",
    "RESPONSE",
    "THEN",
    "NOTE",
];

/// What a note is about: its occurrence, expected action, objectives.
pub(super) fn about(n: &Note) -> String {
    let mut parts: Vec<String> = n.key.iter().chain(n.expectation.iter()).cloned().collect();
    parts.extend(n.objectives.iter().cloned());
    parts.join(", ")
}

/// A note's kind word: its rating (`rated S`), its tag, or `note`.
pub(super) fn note_kind(n: &Note) -> String {
    match (n.rating, n.tag) {
        (Some(r), _) => format!("rated {r}"),
        (None, Some(t)) => t.to_string(),
        (None, None) => "note".into(),
    }
}

/// A note's (or rating's) cells: when, T+, who, its kind, what about, its text.
pub(super) fn note_cells(n: &Note) -> [String; 6] {
    [
        n.local.clone(),
        n.offset.clone().unwrap_or_default(),
        format!("{} ({})", n.by.as_deref().unwrap_or("-"), n.source),
        note_kind(n),
        about(n),
        n.text.clone(),
    ]
}

/// A restart's cells: stopped, resumed, down, what was due while down.
pub(super) fn restart_cells(r: &super::Restart) -> [String; 4] {
    [
        r.stopped_at.clone(),
        r.resumed_at.clone(),
        r.downtime.clone(),
        if r.late.is_empty() {
            "none".into()
        } else {
            r.late.join(", ")
        },
    ]
}

/// An action's cells: when, T+, what, its detail.
pub(super) fn action_cells(a: &super::Action) -> [String; 4] {
    [
        a.local.clone(),
        a.t_plus.clone().unwrap_or_default(),
        a.what.clone(),
        a.detail.clone(),
    ]
}

/// A contingency's cells: its inject, condition, outcome, why, T+.
pub(super) fn contingency_cells(c: &super::Contingency) -> [String; 5] {
    [
        c.inject.clone(),
        c.condition.clone(),
        c.outcome.word().to_string(),
        c.because.clone().unwrap_or_default(),
        c.t_plus.clone().unwrap_or_default(),
    ]
}

/// An improvement plan row's cells.
pub(super) fn improvement_cells(i: &super::Improvement) -> [String; 5] {
    [
        i.objective.clone().unwrap_or_else(|| "(none named)".into()),
        i.capability.clone().unwrap_or_default(),
        i.area.clone(),
        i.by.clone().unwrap_or_default(),
        i.rating.clone(),
    ]
}

impl Report {
    pub(super) fn title(&self) -> String {
        let name = match (&self.name, self.scenario.is_empty()) {
            (Some(name), _) => name.as_str(),
            (None, true) => "(no run in this journal)",
            (None, false) => &self.scenario,
        };
        let mut t = name.to_string();
        if self.dry_run {
            t.push_str(" — dry run");
        }
        if !self.scenario.is_empty() {
            t.push_str(" — ");
            t.push_str(&self.outcome.title);
        }
        t
    }

    /// The scenario's file, T0 and the zone times are in.
    pub(super) fn subtitle(&self) -> String {
        format!(
            "{} · T0 {} · times in {}",
            self.scenario,
            self.t0_local
                .as_deref()
                .or(self.t0.as_deref())
                .unwrap_or("-"),
            self.timezone
        )
    }

    pub(super) fn lateness_line(&self) -> String {
        let l = &self.lateness;
        let v = |v: Option<f64>| v.map_or("-".to_string(), lateness_text);
        format!(
            "lateness of the sends (wall clock): median {}, p95 {}, p99 {}, worst {}",
            v(l.p50_ms),
            v(l.p95_ms),
            v(l.p99_ms),
            v(l.max_ms)
        )
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title());
        if !self.scenario.is_empty() {
            let _ = writeln!(out, "{}", self.subtitle());
        }
        for p in &self.problems {
            let _ = writeln!(out, "journal problem: {p}");
        }
        out.push('\n');
        for s in &self.summary {
            let _ = writeln!(out, "{s}");
        }
        let _ = writeln!(out, "{}", self.lateness_line());
        let _ = writeln!(out, "\noccurrences, in the order they went:");
        let cells: Vec<[String; 10]> = self.rows.iter().map(row_cells).collect();
        out.push_str(&text_table(ROW_HEADER, &cells));
        self.branch_text(&mut out);
        self.restarts_text(&mut out);
        self.objectives_text(&mut out);
        self.actions_text(&mut out);
        self.notes_text(&mut out);
        out
    }

    /// The expected actions and contingencies as tables (nothing without any).
    fn branch_text(&self, out: &mut String) {
        if !self.expectations.is_empty() {
            out.push_str("\nexpected actions:\n");
            let cells: Vec<[String; 9]> = self.expectations.iter().map(expected_cells).collect();
            out.push_str(&text_table(EXPECTED_HEADER, &cells));
        }
        if !self.contingencies.is_empty() {
            let cells: Vec<[String; 5]> =
                self.contingencies.iter().map(contingency_cells).collect();
            out.push_str("\ncontingencies:\n");
            out.push_str(&text_table(
                ["INJECT", "WHEN", "OUTCOME", "BECAUSE", "T+"],
                &cells,
            ));
        }
    }

    fn restarts_text(&self, out: &mut String) {
        if self.restarts.is_empty() {
            return;
        }
        out.push_str("\nrestarts:\n");
        let cells: Vec<[String; 4]> = self.restarts.iter().map(restart_cells).collect();
        out.push_str(&text_table(
            ["STOPPED (LAST LINE)", "RESUMED", "DOWN", "DUE WHILE DOWN"],
            &cells,
        ));
    }

    /// Each objective: what exercised it, its ratings and notes; then the improvement
    /// plan (nothing without objectives).
    fn objectives_text(&self, out: &mut String) {
        if self.objectives.is_empty() && self.improvement_plan.is_empty() {
            return;
        }
        if !self.objectives.is_empty() {
            out.push_str("\nobjectives:\n");
        }
        for o in &self.objectives {
            let cap = o
                .capability
                .as_deref()
                .map_or(String::new(), |c| format!(" [{c}]"));
            let _ = writeln!(out, "  {} {}{cap}", o.id, o.text);
            let _ = writeln!(
                out,
                "    injects: {} of {} sent{}",
                o.sent,
                o.planned,
                if o.injects.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", o.injects.join(", "))
                }
            );
            if !o.expectations.is_empty() {
                let _ = writeln!(out, "    expected actions: {}", o.expectations.join("; "));
            }
            if o.ratings.is_empty() {
                let _ = writeln!(out, "    ratings: none");
            }
            for r in &o.ratings {
                let _ = writeln!(
                    out,
                    "    rated {} ({}) by {} at {}{}{}",
                    r.rating,
                    r.words,
                    r.by,
                    r.at,
                    r.note
                        .as_deref()
                        .map_or(String::new(), |n| format!(": {n}")),
                    if r.history.is_empty() {
                        String::new()
                    } else {
                        format!(" (earlier: {})", r.history.join(", "))
                    }
                );
            }
            for n in &o.notes {
                let _ = writeln!(out, "    note: {n}");
            }
        }
        out.push_str("\nimprovement plan:\n");
        if self.improvement_plan.is_empty() {
            out.push_str("  (no area for improvement noted)\n");
            return;
        }
        let cells: Vec<[String; 5]> = self
            .improvement_plan
            .iter()
            .map(improvement_cells)
            .collect();
        out.push_str(&text_table(
            [
                "OBJECTIVE",
                "CAPABILITY",
                "AREA FOR IMPROVEMENT",
                "NOTED BY",
                "RATING",
            ],
            &cells,
        ));
    }

    fn actions_text(&self, out: &mut String) {
        out.push_str("\nwhat the run and the white cell did:\n");
        let cells: Vec<[String; 4]> = self.actions.iter().map(action_cells).collect();
        out.push_str(&text_table(["AT", "T+", "WHAT", "DETAIL"], &cells));
    }

    fn notes_text(&self, out: &mut String) {
        if self.notes.is_empty() {
            return;
        }
        out.push_str("\nnotes and ratings:\n");
        let cells: Vec<[String; 6]> = self.notes.iter().map(note_cells).collect();
        out.push_str(&text_table(
            ["AT", "T+", "BY", "KIND", "ABOUT", "TEXT"],
            &cells,
        ));
    }

    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "kind",
            "t_plus",
            "at",
            "lateness",
            "key",
            "channel",
            "persona",
            "to",
            "subject",
            "status",
            "how",
            "by",
            "objectives",
            "text",
            "planned",
            "lateness_ms",
            "message_id",
            "error",
        ];
        let _ = w.write_record(header);
        for r in &self.rows {
            let [
                t_plus,
                _,
                lateness,
                key,
                channel,
                persona,
                to,
                _,
                status,
                how,
            ] = row_cells(r);
            // A spreadsheet gets whole dates, and the whole subject.
            let full = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or(String::new(), |t| self.clock.local_full(t))
            };
            let _ = w.write_record([
                "occurrence".to_string(),
                t_plus,
                full(r.sent_at),
                lateness,
                key,
                channel,
                persona,
                to,
                r.subject.clone(),
                status,
                how,
                r.by.clone().unwrap_or_default(),
                r.objectives.join(" "),
                String::new(),
                full(r.planned_at),
                r.lateness_ms.map_or(String::new(), |l| format!("{l:.3}")),
                r.message_id.clone().unwrap_or_default(),
                // Why it failed; a skip's reason is in `how`.
                if matches!(r.status, "failed" | "uncertain") {
                    r.error.clone().unwrap_or_default()
                } else {
                    String::new()
                },
            ]);
        }
        for x in &self.expectations {
            // What was expected, of whom, by when, how fast, and what followed: in
            // words, in `how`; the note in `text`.
            let mut how = vec![format!("expected: {}", x.action)];
            if let Some(team) = &x.team {
                how.push(format!("of {team}"));
            }
            how.push(format!("deadline {}", x.deadline));
            if let Some(r) = &x.response {
                how.push(format!("response {r}"));
            }
            if !x.then.is_empty() {
                how.push(format!("then {}", x.then.join(", ")));
            }
            let mut row: [String; 18] = Default::default();
            row[0] = "judgment".into();
            row[1] = x.t_plus.clone().unwrap_or_default();
            row[2] = self.full(x.at.as_deref());
            row[4] = x.id.clone();
            row[9] = x.outcome.word().into();
            row[10] = how.join("; ");
            // Who, by name (or where the judgment came from: `deadline`, `assumed`).
            row[11] = x.by.clone().or(x.source.clone()).unwrap_or_default();
            row[12] = x.objectives.join(" ");
            row[13] = x.note.clone().unwrap_or_default();
            let _ = w.write_record(row);
        }
        for n in &self.notes {
            let mut row: [String; 18] = Default::default();
            row[0] = if n.rating.is_some() { "rating" } else { "note" }.into();
            row[1] = n.offset.clone().unwrap_or_default();
            row[2] = self.full(Some(&n.at));
            row[4] = n
                .key
                .clone()
                .or(n.expectation.clone())
                .unwrap_or_else(|| n.objectives.join(" "));
            row[9] = match (n.rating, n.tag) {
                (Some(r), _) => r.to_string(),
                (None, Some(t)) => t.to_string(),
                (None, None) => String::new(),
            };
            row[10] = n
                .rating
                .and_then(|r| crate::action::Rating::parse(r).ok())
                .map_or(String::new(), |r| r.words().to_string());
            row[11] = n.by.clone().unwrap_or_else(|| n.source.clone());
            row[12] = n.objectives.join(" ");
            row[13] = n.text.clone();
            let _ = w.write_record(row);
        }
        // The improvement plan: an area for improvement per row, its objective's
        // capability in `how`, its ratings in `status`.
        for i in &self.improvement_plan {
            let mut row: [String; 18] = Default::default();
            row[0] = "improvement".into();
            row[4] = i.objective.clone().unwrap_or_default();
            row[9] = i.rating.clone();
            row[10] = i
                .capability
                .as_ref()
                .map_or(String::new(), |c| format!("capability: {c}"));
            row[11] = i.by.clone().unwrap_or_default();
            row[12] = i.objective.clone().unwrap_or_default();
            row[13] = i.area.clone();
            let _ = w.write_record(row);
        }
        for a in &self.actions {
            let mut row: [String; 18] = Default::default();
            row[0] = "action".into();
            row[4] = a.key.clone().unwrap_or_default();
            row[1] = a.t_plus.clone().unwrap_or_default();
            row[2] = self.full(Some(&a.at));
            row[9] = a.what.clone();
            row[11] = a.by.clone().unwrap_or_default();
            row[13] = a.detail.clone();
            let _ = w.write_record(row);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// An instant as the journal writes it, with its date in the scenario's zone.
    fn full(&self, at: Option<&str>) -> String {
        at.and_then(crate::journal::parse_time)
            .map_or(String::new(), |t| self.clock.local_full(t))
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
