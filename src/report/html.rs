//! The report as one self-contained HTML page: summary, timeline, tables, its style.

use std::fmt::Write as _;

use super::text::row_cells;
use super::{Report, STATUSES, colour, esc};

impl Report {
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
