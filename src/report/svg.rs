//! The report's SVG timeline: a lane per channel or recipient, the expected actions'
//! and the notes' lanes, ticks of time, and a mark per occurrence.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Expected, Note, Report, Row, colour, esc};
use crate::adaptive::Verdict;
use crate::journal::parse_time;

/// A contingency drawn as an alternative: the window in which its condition may hold
/// (plus its delay), and what it waits on.
#[derive(Clone, Debug)]
pub(super) struct Alternative {
    pub key: String,
    pub label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// How a timeline is drawn: the report's (one mark per occurrence), or the plan's (each
/// mark labelled with its key on a row of its own where labels would overlap, linked to
/// its row of the page, and the contingencies as alternatives).
#[derive(Clone, Debug, Default)]
pub(super) struct Layout {
    pub labels: bool,
    pub alternatives: Vec<Alternative>,
    /// The crowds (id, posts): labelled once, at their first post, not post by post.
    pub crowds: Vec<(String, u64)>,
}

impl Layout {
    /// The label of a mark: its key, a crowd's id and size at its first post, none for
    /// the crowd's other posts (their key is in their tooltip and their row).
    fn label(&self, key: &str) -> Option<String> {
        let Some((id, n)) = key
            .split_once('#')
            .and_then(|(id, _)| self.crowds.iter().find(|(c, _)| c == id))
        else {
            return Some(key.to_string());
        };
        (key == format!("{id}#1")).then(|| format!("{id} ({n} posts)"))
    }
}

/// A mark's label, when it has one: its row below the marks, and its text.
type Label = Option<(usize, String)>;

/// A label's width on the drawing: 10 px monospace, 6.1 px a character, and a margin.
fn label_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.1 + 8.0
}

/// Where a label of a mark at `x` goes: from `x` rightwards, or leftwards to end at `x`
/// when it would run off the drawing's right edge; its extent.
fn label_span(x: f64, text: &str) -> (f64, f64) {
    let w = label_width(text);
    if x + w > 998.0 {
        (x - w, x)
    } else {
        (x, x + w)
    }
}

/// Rows for labels of the given extents (in order of where they start), so that no two
/// on a row overlap: each goes on the first row where it fits.
fn label_rows(items: &[(f64, f64)]) -> Vec<usize> {
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    items
        .iter()
        .map(|(from, to)| {
            let fits = |row: &Vec<(f64, f64)>| row.iter().all(|(a, b)| *to <= *a || *from >= *b);
            let row = rows.iter().position(fits).unwrap_or(rows.len());
            if row == rows.len() {
                rows.push(Vec::new());
            }
            rows[row].push((*from, *to));
            row
        })
        .collect()
}

/// In a labelled lane: where its marks are, below its top; where its first row of
/// labels is, below its marks; how far apart rows are.
const MARKS: f64 = 10.0;
const ROW0: f64 = 24.0;
const ROW_H: f64 = 13.0;

impl Report {
    /// The report's timeline: a lane per channel (or per recipient, `by_team`), a lane
    /// for the expected actions and one for the notes when there are any, ticks of
    /// time, and a mark per occurrence from its planned instant to its sent one.
    pub(super) fn svg(&self, by_team: bool) -> String {
        self.svg_with(by_team, &Layout::default())
    }

    /// The timeline as `layout` says.
    pub(super) fn svg_with(&self, by_team: bool, layout: &Layout) -> String {
        // One never due (not triggered) has no instant to draw.
        let points: Vec<Span> = self
            .rows
            .iter()
            .map(|r| match r.status {
                "not triggered" => (None, None),
                _ => (r.planned_at, r.sent_at),
            })
            .collect();
        // Expected actions: each deadline and each judgment, in a lane of their own.
        let marks: Vec<(&Expected, Span)> = self
            .expectations
            .iter()
            .map(|x| {
                (
                    x,
                    (
                        x.deadline_at.as_deref().and_then(parse_time),
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
            .chain(
                layout
                    .alternatives
                    .iter()
                    .flat_map(|a| [Some(a.from), Some(a.to)]),
            )
            .flatten()
            .collect();
        let (Some(start), Some(end)) = (times.iter().min().copied(), times.iter().max().copied())
        else {
            return "<p>No timed occurrences.</p>\n".into();
        };
        let span = ((end - start).num_milliseconds().max(1)) as f64;
        let drawn: Vec<(&Row, &Span)> = self
            .rows
            .iter()
            .zip(&points)
            .filter(|(_, (p, a))| p.is_some() || a.is_some())
            .collect();
        let mut lanes: Vec<String> = Vec::new();
        for (r, _) in &drawn {
            let l = lane_of(r, by_team);
            if !lanes.contains(&l) {
                lanes.push(l);
            }
        }
        let x_of = |t: DateTime<Utc>| LEFT + (t - start).num_milliseconds() as f64 / span * WIDTH;
        // Each mark's label row within its lane, and each lane's height.
        let mut rows_of: Vec<Label> = vec![None; drawn.len()];
        let mut heights: Vec<f64> = vec![LANE_H; lanes.len()];
        if layout.labels {
            for (lane, name) in lanes.iter().enumerate() {
                let mut mine: Vec<(usize, f64, f64, String)> = drawn
                    .iter()
                    .enumerate()
                    .filter(|(_, (r, _))| lane_of(r, by_team) == *name)
                    .filter_map(|(i, (r, (p, a)))| {
                        let text = layout.label(&r.key)?;
                        let (from, to) = label_span(x_of((*a).or(*p)?) - 2.0, &text);
                        Some((i, from, to, text))
                    })
                    .collect();
                mine.sort_by(|a, b| a.1.total_cmp(&b.1));
                let rows =
                    label_rows(&mine.iter().map(|(_, a, b, _)| (*a, *b)).collect::<Vec<_>>());
                for ((i, _, _, text), row) in mine.into_iter().zip(&rows) {
                    rows_of[i] = Some((*row, text));
                }
                let n = rows.iter().max().map_or(1, |m| m + 1);
                heights[lane] = (ROW0 + n as f64 * ROW_H - 4.0).max(LANE_H);
            }
        }
        let mut tops: Vec<f64> = Vec::with_capacity(lanes.len());
        let mut y = TOP;
        for h in &heights {
            tops.push(y);
            y += h;
        }
        let expected_y = (!marks.is_empty()).then(|| {
            let at = y;
            y += LANE_H;
            at
        });
        let notes_y = (!note_times.is_empty()).then(|| {
            let at = y;
            y += LANE_H;
            at
        });
        let alternatives_y = (!layout.alternatives.is_empty()).then(|| {
            let at = y;
            y += MARKS + layout.alternatives.len() as f64 * 2.0 * ROW_H + 6.0;
            at
        });
        let height = y + 10.0;
        let scale = Scale {
            start,
            span,
            height,
        };
        let mut out = format!(
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 {height}\" width=\"1000\" height=\"{height}\" role=\"img\" aria-label=\"timeline\">\n"
        );
        for (i, name) in lanes.iter().enumerate() {
            let _ = writeln!(
                out,
                "<g class=\"lane\"><rect x=\"0\" y=\"{}\" width=\"1000\" height=\"{}\" fill=\"{}\"/><text x=\"6\" y=\"{}\" class=\"lane-name\">{}</text></g>",
                tops[i],
                heights[i],
                if i % 2 == 0 { "#f5f5f5" } else { "#ffffff" },
                tops[i] + 19.0,
                esc(name)
            );
        }
        if let Some(y) = expected_y {
            svg_expected(&mut out, &scale, y, &marks);
        }
        if let Some(y) = notes_y {
            svg_notes(&mut out, &scale, y, &note_times);
        }
        if let Some(y) = alternatives_y {
            svg_alternatives(&mut out, &scale, y, &layout.alternatives);
        }
        self.svg_bands(&mut out, &scale, y);
        svg_ticks(&mut out, &scale, &self.clock);
        // Labels after every mark and leader line: on top of them, each with a halo.
        let mut labels = String::new();
        for (i, (r, span)) in drawn.iter().enumerate() {
            let lane = lanes
                .iter()
                .position(|l| *l == lane_of(r, by_team))
                .unwrap_or(0);
            let label = (layout.labels, rows_of[i].take());
            svg_mark(&mut out, &scale, tops[lane], r, span, (label, &mut labels));
        }
        out.push_str(&labels);
        out.push_str("</svg>\n");
        out
    }
}

impl Report {
    /// The holds and the downtimes of restarts: bands across every lane (to `bottom`),
    /// each with what it was.
    fn svg_bands(&self, out: &mut String, scale: &Scale, bottom: f64) {
        let holds = self.clock.holds.iter().filter_map(|(from, until)| {
            let until = (*until)?;
            Some((
                "hold",
                *from,
                until,
                format!("held {}", crate::human::duration(until - *from)),
            ))
        });
        let downs = self.restarts.iter().filter_map(|r| {
            Some((
                "down",
                r.stopped_utc?,
                r.resumed_utc?,
                format!("down {} (a restart)", r.downtime),
            ))
        });
        for (class, from, until, words) in holds.chain(downs) {
            let (x1, x2) = (scale.x(from), scale.x(until));
            let fill = if class == "hold" {
                "#ffe0b2"
            } else {
                "#ef9a9a"
            };
            let _ = writeln!(
                out,
                "<g class=\"band {class}\"><title>{}</title><rect x=\"{x1:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" fill-opacity=\"0.6\"/></g>",
                esc(&words),
                (x2 - x1).max(1.5),
                bottom - TOP
            );
        }
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

/// The expected actions' lane, at `y`: each deadline a dashed line, each
/// judgment a triangle in its outcome's colour.
fn svg_expected(out: &mut String, scale: &Scale, y: f64, marks: &[(&Expected, Span)]) {
    let lane_h = LANE_H;
    let x = |t: DateTime<Utc>| scale.x(t);
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
                esc(x_.local.as_deref().unwrap_or("")),
                esc(x_.source.as_deref().unwrap_or(""))
            );
        }
    }
}

/// The notes' lane, at `y`: a square at each note's instant.
fn svg_notes(
    out: &mut String,
    scale: &Scale,
    y: f64,
    note_times: &[(&Note, Option<DateTime<Utc>>)],
) {
    let lane_h = LANE_H;
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
            esc(&n.local),
            esc(n.by.as_deref().unwrap_or(&n.source)),
            esc(&n.text),
            scale.x(*at) - 4.0,
            y + lane_h / 2.0 - 4.0
        );
    }
}

/// Five ticks across the time axis, each a line down the lanes and on top its wall time
/// in the scenario's zone and its scenario time (T+).
fn svg_ticks(out: &mut String, scale: &Scale, clock: &super::clock::Clock) {
    let (top, height, span) = (TOP, scale.height, scale.span);
    for k in 0..=4 {
        let t = scale.start + chrono::TimeDelta::milliseconds((span * k as f64 / 4.0) as i64);
        let xx = scale.x(t);
        // The last tick's time ends at its line: centred, it would run off the edge.
        let anchor = if k == 4 {
            " style=\"text-anchor:end\""
        } else {
            ""
        };
        let t_plus = clock.t_plus(t).unwrap_or_default();
        let _ = writeln!(
            out,
            "<line x1=\"{xx:.1}\" y1=\"{}\" x2=\"{xx:.1}\" y2=\"{height}\" stroke=\"#e0e0e0\"/><text x=\"{xx:.1}\" y=\"11\" class=\"tick\"{anchor}>{}<tspan x=\"{xx:.1}\" dy=\"12\">{t_plus}</tspan></text>",
            top - 4.0,
            clock.local(t)
        );
    }
}

/// An occurrence's mark in lane `lane`: a line from its planned instant to its sent
/// one, or a circle at the one it has, in its status's colour, with its details as a
/// tooltip.
fn svg_mark(
    out: &mut String,
    scale: &Scale,
    lane_top: f64,
    r: &Row,
    (planned, actual): &Span,
    ((labelled, label), labels): ((bool, Label), &mut String),
) {
    let x = |t: DateTime<Utc>| scale.x(t);
    let y = if labelled {
        lane_top + MARKS
    } else {
        lane_top + LANE_H / 2.0
    };
    let c = colour(r.shade());
    let tip = format!(
        "{} — {}\n{}\nplanned {} ({})\nwent {}\nlateness {}\n{}{}",
        r.key,
        r.status,
        r.how,
        r.offset.as_deref().unwrap_or("-"),
        r.planned_local.as_deref().unwrap_or("-"),
        r.sent_local.as_deref().unwrap_or("-"),
        r.lateness.as_deref().unwrap_or("-"),
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
    // The plan's: its key on its row below the marks, joined to its mark by a line; a
    // link to its row of the page (the exact body).
    if let (Some((row, text)), Some(at)) = (label, (*actual).or(*planned)) {
        let (from, _) = label_span(x(at) - 2.0, &text);
        let ly = y + ROW0 - MARKS + row as f64 * ROW_H;
        let anchor = if from < x(at) - 2.0 {
            " style=\"text-anchor:end\""
        } else {
            ""
        };
        let lx = if anchor.is_empty() { from } else { x(at) + 2.0 };
        let _ = write!(
            out,
            "<line x1=\"{:.1}\" y1=\"{}\" x2=\"{:.1}\" y2=\"{}\" stroke=\"#bdbdbd\"/>",
            x(at),
            y + 4.0,
            x(at),
            ly - 9.0
        );
        let _ = writeln!(
            labels,
            "<a href=\"#occ-{}\"><text class=\"label\" data-key=\"{}\" x=\"{lx:.1}\" y=\"{ly}\"{anchor}>{}</text></a>",
            esc(&r.key),
            esc(&r.key),
            esc(&text)
        );
    }
    out.push_str("</g>\n");
}

/// The contingencies' lane, at `y`: each a dashed bar over the window in which it may
/// fire, on a row of its own, with what it waits on.
fn svg_alternatives(out: &mut String, scale: &Scale, y: f64, alternatives: &[Alternative]) {
    let height = MARKS + alternatives.len() as f64 * 2.0 * ROW_H + 6.0;
    let _ = writeln!(
        out,
        "<g class=\"lane\"><rect x=\"0\" y=\"{y}\" width=\"1000\" height=\"{height}\" fill=\"#f3e5f5\"/><text x=\"6\" y=\"{}\" class=\"lane-name\">contingencies</text></g>",
        y + 19.0
    );
    for (i, a) in alternatives.iter().enumerate() {
        // Its bar, and its words on the row below, kept inside the time axis.
        let bar_y = y + MARKS - 3.0 + i as f64 * 2.0 * ROW_H;
        let (x1, x2) = (scale.x(a.from), scale.x(a.to).max(scale.x(a.from) + 3.0));
        let lx = x1.min(998.0 - label_width(&a.label)).max(LEFT);
        let _ = writeln!(
            out,
            "<g class=\"alternative\" data-key=\"{}\"><title>{}</title><rect x=\"{x1:.1}\" y=\"{bar_y}\" width=\"{:.1}\" height=\"6\" fill=\"#e1bee7\" stroke=\"#6a1b9a\" stroke-dasharray=\"3 2\"/><a href=\"#occ-{}\"><text class=\"label\" x=\"{lx:.1}\" y=\"{}\">{}</text></a></g>",
            esc(&a.key),
            esc(&a.label),
            x2 - x1,
            esc(&a.key),
            bar_y + 16.0,
            esc(&a.label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_the_first_row_where_they_fit() {
        // b starts inside a: a row below; c fits after a on the first row.
        assert_eq!(
            label_rows(&[(0.0, 50.0), (10.0, 60.0), (55.0, 70.0)]),
            [0, 1, 0]
        );
        // Near the right edge a label ends at its mark.
        assert_eq!(
            label_span(990.0, "abc"),
            (990.0 - label_width("abc"), 990.0)
        );
        assert_eq!(
            label_span(100.0, "abc"),
            (100.0, 100.0 + label_width("abc"))
        );
    }
}
