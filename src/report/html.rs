//! The report as one self-contained HTML page, an after-action report that prints on
//! A4: title, summary, objectives and the improvement plan, the timeline with a legend
//! of every mark, the occurrences in the order they went, the expected actions, the
//! contingencies, the restarts, what the white cell did, the notes.

use std::fmt::Write as _;

use super::text::{
    EXPECTED_HEADER, ROW_HEADER, action_cells, contingency_cells, expected_cells,
    improvement_cells, note_cells, restart_cells, row_cells,
};
use super::{Report, STATUSES, colour, esc};

/// A table of `header` and `rows` (cells escaped here), with a class, and a class and
/// data attributes per row from `attrs`.
fn table<const N: usize>(
    out: &mut String,
    class: &str,
    header: [&str; N],
    rows: impl Iterator<Item = ([String; N], String)>,
) {
    let _ = write!(out, "<table class=\"{class}\"><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (cells, attrs) in rows {
        let _ = write!(out, "<tr{attrs}>");
        for c in cells {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

impl Report {
    /// One self-contained page: summary, objectives, an SVG timeline in lanes, tables.
    pub fn html(&self, lanes_by_team: bool) -> String {
        let mut out = String::new();
        self.html_head(&mut out);
        self.html_summary(&mut out);
        self.html_objectives(&mut out);
        out.push_str("<section class=\"timeline-part\"><h2>Timeline</h2>\n");
        self.html_legend(&mut out);
        out.push_str(&self.svg(lanes_by_team));
        out.push_str("</section>\n");
        self.html_rows(&mut out);
        self.html_expectations(&mut out);
        self.html_contingencies(&mut out);
        self.html_restarts(&mut out);
        self.html_actions(&mut out);
        self.html_notes(&mut out);
        out.push_str(
            "<p class=\"foot\">Made by injector from the run's journal.</p></body></html>\n",
        );
        out
    }

    /// The page's head, its title, the scenario's file, T0 and zone, and the journal's
    /// problems.
    fn html_head(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
            esc(&format!("injector report: {}", self.title()))
        );
        let _ = writeln!(
            out,
            "<h1 data-outcome=\"{}\">{}</h1>",
            self.outcome.word,
            esc(&self.title())
        );
        if !self.scenario.is_empty() {
            let _ = writeln!(out, "<p class=\"file\">{}</p>", esc(&self.subtitle()));
        }
        for p in &self.problems {
            let _ = writeln!(out, "<p class=\"problem\">Journal problem: {}</p>", esc(p));
        }
    }

    /// The summary paragraph, with the totals as data attributes.
    fn html_summary(&self, out: &mut String) {
        let t = &self.totals;
        let _ = write!(
            out,
            "<section class=\"summary\" id=\"totals\" data-occurrences=\"{}\" data-sent=\"{}\" data-failed=\"{}\" data-skipped=\"{}\" data-uncertain=\"{}\" data-pending=\"{}\"><h2>Summary</h2><p>",
            t.occurrences, t.sent, t.failed, t.skipped, t.uncertain, t.pending
        );
        out.push_str(&esc(&self.summary.join(" ")));
        let _ = writeln!(
            out,
            "</p><p class=\"small\">{}</p></section>",
            esc(&self.lateness_line())
        );
    }

    /// Each objective with its ratings, then the improvement plan (nothing without
    /// objectives).
    fn html_objectives(&self, out: &mut String) {
        if self.objectives.is_empty() && self.improvement_plan.is_empty() {
            return;
        }
        out.push_str("<section class=\"objectives\">");
        if !self.objectives.is_empty() {
            out.push_str("<h2>Objectives</h2>\n");
        }
        for o in &self.objectives {
            let _ = write!(
                out,
                "<div class=\"objective\" data-id=\"{}\"><h3>{} {}</h3><p class=\"small\">{}{} of {} occurrences sent</p>",
                esc(&o.id),
                esc(&o.id),
                esc(&o.text),
                o.capability
                    .as_deref()
                    .map_or(String::new(), |c| format!("{} · ", esc(c))),
                o.sent,
                o.planned
            );
            out.push_str("<ul>");
            for x in &o.expectations {
                let _ = write!(out, "<li>expected action: {}</li>", esc(x));
            }
            if o.ratings.is_empty() {
                out.push_str("<li>not rated</li>");
            }
            for r in &o.ratings {
                let _ = write!(
                    out,
                    "<li class=\"rating\" data-by=\"{}\" data-rating=\"{}\"><b>{}</b> ({}) by {} at {}{}{}</li>",
                    esc(&r.by),
                    r.rating,
                    r.rating,
                    r.words,
                    esc(&r.by),
                    esc(&r.at),
                    r.note
                        .as_deref()
                        .map_or(String::new(), |n| format!(": {}", esc(n))),
                    if r.history.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " <span class=\"small\">(earlier: {})</span>",
                            esc(&r.history.join(", "))
                        )
                    }
                );
            }
            for n in &o.notes {
                let _ = write!(out, "<li>{}</li>", esc(n));
            }
            out.push_str("</ul></div>\n");
        }
        out.push_str("<h2>Improvement plan</h2>\n");
        if self.improvement_plan.is_empty() {
            out.push_str("<p>No area for improvement was noted.</p>\n");
        } else {
            table(
                out,
                "improvement",
                [
                    "Objective",
                    "Capability",
                    "Area for improvement",
                    "Noted by",
                    "Rating",
                ],
                self.improvement_plan
                    .iter()
                    .map(|i| (improvement_cells(i), String::new())),
            );
        }
        out.push_str("</section>\n");
    }

    /// The legend of every mark the timeline draws.
    fn html_legend(&self, out: &mut String) {
        out.push_str("<p class=\"legend\">");
        for (s, c) in STATUSES {
            let _ = write!(
                out,
                "<span class=\"key\" data-mark=\"{s}\"><i style=\"background:{c}\"></i>{s}</span> "
            );
        }
        out.push_str("<span class=\"key\" data-mark=\"span\"><svg width=\"34\" height=\"10\"><line x1=\"4\" y1=\"5\" x2=\"30\" y2=\"5\" stroke=\"#212121\" stroke-width=\"2\"/><circle cx=\"4\" cy=\"5\" r=\"3.5\" fill=\"#fff\" stroke=\"#212121\"/><circle cx=\"30\" cy=\"5\" r=\"3.5\" fill=\"#212121\"/></svg>planned (hollow) to when it went (filled)</span> ");
        out.push_str("<span class=\"key\" data-mark=\"deadline\"><svg width=\"10\" height=\"12\"><line x1=\"5\" y1=\"0\" x2=\"5\" y2=\"12\" stroke=\"#c62828\" stroke-dasharray=\"3 2\"/></svg>an expected action's deadline</span> ");
        out.push_str("<span class=\"key\" data-mark=\"judgment\"><svg width=\"12\" height=\"12\"><path d=\"M6 1 l5 10 h-10 z\" fill=\"#2e7d32\"/></svg>a judgment (green met, red missed, brown void)</span> ");
        out.push_str("<span class=\"key\" data-mark=\"note\"><i class=\"sq\" style=\"background:#1565c0\"></i>a note or a rating</span> ");
        out.push_str("<span class=\"key\" data-mark=\"hold\"><i class=\"sq\" style=\"background:#ffe0b2\"></i>held</span> ");
        out.push_str("<span class=\"key\" data-mark=\"down\"><i class=\"sq\" style=\"background:#ef9a9a\"></i>down (before a restart)</span>");
        out.push_str("</p>\n");
    }

    /// The occurrences, in the order they went, each status in its colour.
    fn html_rows(&self, out: &mut String) {
        out.push_str(
            "<h2>Occurrences, in the order they went</h2><table class=\"rows\"><thead><tr>",
        );
        for h in ROW_HEADER {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr></thead><tbody>\n");
        for r in &self.rows {
            let _ = write!(
                out,
                "<tr class=\"row\" data-key=\"{}\" data-status=\"{}\"{}>",
                esc(&r.key),
                r.status,
                if r.fired_by_hand {
                    " data-by-hand=\"true\""
                } else {
                    ""
                }
            );
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
        out.push_str("</tbody></table>\n");
    }

    /// The expected actions: who judged, when, the players' response, what followed.
    fn html_expectations(&self, out: &mut String) {
        if self.expectations.is_empty() {
            return;
        }
        out.push_str("<h2>Expected actions</h2>\n");
        table(
            out,
            "expectations",
            EXPECTED_HEADER,
            self.expectations.iter().map(|x| {
                (
                    expected_cells(x),
                    format!(
                        " class=\"expectation\" data-id=\"{}\" data-outcome=\"{}\"",
                        esc(&x.id),
                        x.outcome.word()
                    ),
                )
            }),
        );
    }

    fn html_contingencies(&self, out: &mut String) {
        if self.contingencies.is_empty() {
            return;
        }
        out.push_str("<h2>Contingencies</h2>\n");
        table(
            out,
            "contingencies",
            ["Inject", "When", "Outcome", "Because", "T+"],
            self.contingencies.iter().map(|c| {
                (
                    contingency_cells(c),
                    format!(
                        " class=\"contingency\" data-inject=\"{}\" data-outcome=\"{}\"",
                        esc(&c.inject),
                        c.outcome.word()
                    ),
                )
            }),
        );
    }

    fn html_restarts(&self, out: &mut String) {
        if self.restarts.is_empty() {
            return;
        }
        out.push_str("<h2>Restarts</h2>\n");
        table(
            out,
            "restarts",
            ["Stopped (last line)", "Resumed", "Down", "Due while down"],
            self.restarts
                .iter()
                .map(|r| (restart_cells(r), " class=\"restart\"".to_string())),
        );
    }

    fn html_actions(&self, out: &mut String) {
        if self.actions.is_empty() {
            return;
        }
        out.push_str("<h2>What the run and the white cell did</h2>\n");
        table(
            out,
            "actions",
            ["At", "T+", "What", "Detail"],
            self.actions
                .iter()
                .map(|a| (action_cells(a), format!(" data-what=\"{}\"", esc(&a.what)))),
        );
    }

    fn html_notes(&self, out: &mut String) {
        if self.notes.is_empty() {
            return;
        }
        out.push_str("<h2>Notes and ratings</h2>\n");
        table(
            out,
            "notes",
            ["At", "T+", "By", "Kind", "About", "Text"],
            self.notes.iter().map(|n| {
                (
                    note_cells(n),
                    format!(
                        " class=\"note\" data-by=\"{}\"",
                        esc(n.by.as_deref().unwrap_or(""))
                    ),
                )
            }),
        );
    }
}

const CSS: &str = "body{font:13px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#212121;max-width:1100px}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 6px}h3{font-size:14px;margin:10px 0 2px}\
.file,.small{color:#616161;font-size:12px;margin:0}.problem{color:#c62828;font-weight:600}\
.summary p{margin:4px 0}.objective ul{margin:2px 0 6px;padding-left:20px}\
.legend .key{margin-right:14px;white-space:nowrap;display:inline-block}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}\
.legend i.sq{border-radius:0}.legend svg{vertical-align:middle;margin-right:4px}\
svg.timeline{display:block;max-width:100%;height:auto;border:1px solid #e0e0e0;margin:8px 0}\
.lane-name{font-size:12px;fill:#424242}.tick{font-size:11px;fill:#616161;text-anchor:middle}\
.mark:hover circle{r:6}\
table{border-collapse:collapse;font-size:11px;width:100%}th,td{border-bottom:1px solid #eeeeee;padding:2px 6px;text-align:left;vertical-align:top}\
th{background:#fafafa}.status{font-weight:600}.foot{color:#757575;font-size:11px}\
@page{size:A4;margin:12mm}\
@media print{body{margin:0;font-size:10px;max-width:none}.file,.small{font-size:9px}table{font-size:8.5px}th,td{padding:1px 3px}\
svg.timeline{border:none;width:100%}tr,.objective,.legend .key,svg.timeline{break-inside:avoid}thead{display:table-header-group}\
h2,h3{break-after:avoid}td{overflow-wrap:anywhere}}";

impl Report {
    /// The plan as one self-contained page (no script, no network) for the review
    /// meeting: the timeline with every occurrence labelled at its instant (its subject
    /// on hover, a click goes to its exact body), the contingencies as alternatives,
    /// the deadlines; a zoom; the occurrences with their bodies, the expected actions,
    /// the contingencies. It prints on A3, landscape.
    pub fn plan_html(&self, lanes_by_team: bool, layout: &super::PlanLayout) -> String {
        let mut out = String::new();
        let title = format!(
            "Plan: {}",
            self.name.as_deref().unwrap_or(self.scenario.as_str())
        );
        let _ = writeln!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}{PLAN_CSS}</style></head><body>",
            esc(&title)
        );
        let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
        let speed = self
            .speed
            .filter(|s| *s != 1.0)
            .map_or(String::new(), |s| format!(" · at {s}× speed"));
        let _ = writeln!(
            out,
            "<p class=\"file\">{}{speed} · {} occurrences, {} contingencies, {} expected actions</p>",
            esc(&self.subtitle()),
            self.rows.len(),
            self.contingencies.len(),
            self.expectations.len()
        );
        out.push_str("<p class=\"legend\"><span class=\"key\" data-mark=\"planned\"><i style=\"background:#1565c0\"></i>an occurrence at its instant (its key; hover for its subject, click for its body)</span> ");
        out.push_str("<span class=\"key\" data-mark=\"alternative\"><svg width=\"30\" height=\"10\"><rect x=\"1\" y=\"2\" width=\"28\" height=\"6\" fill=\"#e1bee7\" stroke=\"#6a1b9a\" stroke-dasharray=\"3 2\"/></svg>a contingency: when it may fire, if its condition holds</span> ");
        out.push_str("<span class=\"key\" data-mark=\"deadline\"><svg width=\"10\" height=\"12\"><line x1=\"5\" y1=\"0\" x2=\"5\" y2=\"12\" stroke=\"#c62828\" stroke-dasharray=\"3 2\"/></svg>an expected action's deadline</span></p>\n");
        out.push_str("<div class=\"zoom\"><span class=\"zoom-word\">Zoom:</span> <input type=\"radio\" name=\"zoom\" id=\"zoom1\" checked><label for=\"zoom1\">1×</label> <input type=\"radio\" name=\"zoom\" id=\"zoom2\"><label for=\"zoom2\">2×</label> <input type=\"radio\" name=\"zoom\" id=\"zoom4\"><label for=\"zoom4\">4×</label>\n<div class=\"scroller\">");
        out.push_str(&self.svg_with(lanes_by_team, &layout.0));
        out.push_str("</div></div>\n<h2>Occurrences</h2>\n<table class=\"rows\"><thead><tr>");
        for h in [
            "T+", "At", "Key", "Channel", "Persona", "To", "Subject", "Body",
        ] {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr></thead><tbody>\n");
        for r in &self.rows {
            let when = r.offset.clone().unwrap_or_else(|| r.how.clone());
            let _ = writeln!(
                out,
                "<tr class=\"row\" id=\"occ-{}\" data-key=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><details><summary>body</summary><pre>{}</pre></details></td></tr>",
                esc(&r.key),
                esc(&r.key),
                esc(&when),
                esc(r.planned_local.as_deref().unwrap_or("")),
                esc(&r.key),
                esc(&r.channel),
                esc(&r.persona),
                esc(&r.to),
                esc(&r.subject),
                esc(r
                    .body
                    .as_deref()
                    .unwrap_or("(it cannot be built: see validate)"))
            );
        }
        out.push_str("</tbody></table>\n");
        self.html_expectations(&mut out);
        self.html_contingencies(&mut out);
        out.push_str("<p class=\"foot\">Made by injector from the scenario (a plan: nothing sent).</p></body></html>\n");
        out
    }
}

/// The plan page's own rules: a zoom by radio buttons (no script), a scrolling
/// timeline, labels, and an A3 landscape print whose first page holds the whole
/// timeline (scaled to the page's height left under the title).
const PLAN_CSS: &str = ".zoom input{margin-left:8px}.scroller{overflow-x:auto;border:1px solid #e0e0e0}\
.scroller svg.timeline{max-width:none;width:100%;border:none;margin:0}\
#zoom2:checked~.scroller svg.timeline{width:200%}#zoom4:checked~.scroller svg.timeline{width:400%}\
.label{font:10px ui-monospace,'DejaVu Sans Mono',monospace;fill:#212121;paint-order:stroke;stroke:#fff;stroke-width:3px}a .label:hover{fill:#1565c0;text-decoration:underline}\
pre{white-space:pre-wrap;margin:2px 0;font-size:10px}\
@page{size:A3 landscape;margin:10mm}\
@media print{.zoom input,.zoom label,.zoom-word{display:none}.scroller{overflow:visible;border:none}\
.scroller svg.timeline{width:100%!important;height:auto;max-height:235mm}details pre{display:block}}";
