//! The report's SVG timeline: a lane per channel or recipient, the expected actions'
//! and the notes' lanes, ticks of time, and a mark per occurrence.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Expected, Note, Report, Row, colour, esc};
use crate::adaptive::Verdict;
use crate::journal::parse_time;

impl Report {
    /// The timeline: a lane per channel (or per recipient, `by_team`), a lane for the
    /// expected actions and one for the notes when there are any, ticks of time, and a
    /// mark per occurrence from its planned instant to its sent one.
    pub(super) fn svg(&self, by_team: bool) -> String {
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
            .flatten()
            .collect();
        let (Some(start), Some(end)) = (times.iter().min().copied(), times.iter().max().copied())
        else {
            return "<p>No timed occurrences.</p>\n".into();
        };
        let span = ((end - start).num_milliseconds().max(1)) as f64;
        let mut lanes: Vec<String> = Vec::new();
        for (r, _) in self
            .rows
            .iter()
            .zip(&points)
            .filter(|(_, (p, a))| p.is_some() || a.is_some())
        {
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
        svg_ticks(&mut out, &scale, &self.clock);
        for (r, span) in self
            .rows
            .iter()
            .zip(&points)
            .filter(|(_, (p, a))| p.is_some() || a.is_some())
        {
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
                esc(x_.local.as_deref().unwrap_or("")),
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
fn svg_mark(out: &mut String, scale: &Scale, lane: usize, r: &Row, (planned, actual): &Span) {
    let (lane_h, top) = (LANE_H, TOP);
    let x = |t: DateTime<Utc>| scale.x(t);
    let y = top + lane as f64 * lane_h + lane_h / 2.0;
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
    out.push_str("</g>\n");
}
