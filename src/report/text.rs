//! The report as text (a title, totals, actions, tables), CSV and JSON.

use std::fmt::Write as _;

use super::{Report, Row};
use crate::journal::time_text;

impl Report {
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

    pub(super) fn title(&self) -> String {
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

    pub(super) fn totals_line(&self) -> String {
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

    pub(super) fn lateness_line(&self) -> String {
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
}

pub(super) fn row_cells(r: &Row) -> [String; 13] {
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
