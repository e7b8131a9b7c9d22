//! The plan: a timeline shown as a table, CSV, or JSON with each exact request body.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value as J, json};

use crate::timeline::{Occurrence, Timeline, show_time};

/// `T+01:30:00`, with milliseconds when not whole seconds.
pub fn show_offset(d: Duration) -> String {
    let secs = d.as_secs();
    let mut s = format!(
        "T+{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    let ms = d.subsec_millis();
    if ms != 0 {
        let _ = write!(s, ".{ms:03}");
    }
    s
}

/// One plan row's columns, shared by the text and CSV shapes.
struct Row {
    key: String,
    offset: String,
    fire_at: String,
    channel: String,
    persona: String,
    recipient: String,
    subject: String,
}

fn row(t: &Timeline, occ: &Occurrence) -> Row {
    let inject = t.inject(occ);
    let text = |name: &str| t.field_text(inject, name);
    let body = t.body(occ).ok();
    let wire = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .map(|v| match v {
                J::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let persona_written = text("persona");
    let persona_id = wire("persona");
    let persona = if persona_id.is_empty() || persona_id == persona_written {
        persona_written
    } else {
        format!("{persona_written} ({persona_id})")
    };
    let recipient = match &occ.team {
        Some((label, _)) => format!("team {label} ({})", wire("team_id")),
        None => {
            let player = wire("player_email");
            let to = wire("to");
            if !player.is_empty() {
                player
            } else if wire("type") == "individual" || (!to.is_empty() && wire("team_id").is_empty())
            {
                to
            } else {
                let team = text("team_id");
                let id = wire("team_id");
                if team == id || team.is_empty() {
                    format!("team {id}")
                } else {
                    format!("team {team} ({id})")
                }
            }
        }
    };
    let mut subject = wire("subject");
    if subject.is_empty() {
        subject = wire("title");
    }
    if subject.is_empty() {
        subject = wire("body");
    }
    if subject.is_empty() && body.as_ref().is_some_and(crate::message::is_hack) {
        subject = if wire("is_hacked") == "1" {
            "[hack]".into()
        } else {
            "[restore]".into()
        };
    }
    Row {
        key: occ.key.clone(),
        offset: show_offset(occ.offset),
        fire_at: show_time(t.fire_at(occ), t.scenario.timezone),
        channel: wire("channel"),
        persona,
        recipient,
        subject,
    }
}

pub fn text(t: &Timeline, t0_known: bool) -> String {
    let mut out = String::new();
    let s = &t.scenario;
    let _ = writeln!(out, "{}", if s.name.is_empty() { &s.file } else { &s.name });
    let _ = writeln!(
        out,
        "T0 {}{}  speed {}  {} occurrences over {}",
        show_time(t.t0, s.timezone),
        if t0_known { "" } else { " (not fixed: now)" },
        t.speed,
        t.occurrences.len(),
        show_offset(t.duration()).trim_start_matches("T+"),
    );
    let rows: Vec<Row> = t.occurrences.iter().map(|o| row(t, o)).collect();
    let headers = [
        "KEY", "OFFSET", "FIRES AT", "CHANNEL", "PERSONA", "TO", "SUBJECT",
    ];
    let cols = |r: &Row| -> [String; 7] {
        [
            r.key.clone(),
            r.offset.clone(),
            r.fire_at.clone(),
            r.channel.clone(),
            r.persona.clone(),
            r.recipient.clone(),
            clip(&r.subject, 60),
        ]
    };
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(cols(r)) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&headers.map(String::from)));
    for r in &rows {
        let _ = writeln!(out, "{}", line(&cols(r)));
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        let mut c: String = one_line.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}

pub fn csv(t: &Timeline) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "key", "offset", "fires_at", "channel", "persona", "to", "subject",
    ]);
    for occ in &t.occurrences {
        let r = row(t, occ);
        let _ = w.write_record([
            r.key,
            r.offset,
            r.fire_at,
            r.channel,
            r.persona,
            r.recipient,
            r.subject,
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The plan as JSON; each occurrence with its exact request body. It serializes one
/// occurrence at a time (see [`write_json`]): 100,000 bodies never sit in memory at once.
struct Json<'a> {
    timeline: &'a Timeline,
    t0_known: bool,
}

impl serde::Serialize for Json<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let t = self.timeline;
        let s = &t.scenario;
        let mut m = ser.serialize_map(Some(7))?;
        m.serialize_entry("scenario", &s.file)?;
        m.serialize_entry("name", &s.name)?;
        m.serialize_entry("t0", &show_time(t.t0, s.timezone))?;
        m.serialize_entry("t0_fixed", &self.t0_known)?;
        m.serialize_entry("speed", &t.speed)?;
        m.serialize_entry("duration", &show_offset(t.duration()))?;
        m.serialize_entry("occurrences", &Occurrences(t))?;
        m.end()
    }
}

struct Occurrences<'a>(&'a Timeline);

impl serde::Serialize for Occurrences<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let t = self.0;
        let mut seq = ser.serialize_seq(Some(t.occurrences.len()))?;
        for occ in &t.occurrences {
            seq.serialize_element(&json!({
                "key": occ.key,
                "inject": t.inject(occ).id,
                "occurrence": occ.n,
                "team": occ.team.as_ref().map(|(l, _)| l),
                "offset": show_offset(occ.offset),
                "offset_ms": occ.offset.as_millis() as u64,
                "fires_at": show_time(t.fire_at(occ), t.scenario.timezone),
                "body": t.body(occ).map(J::Object).unwrap_or(J::Null),
            }))?;
        }
        seq.end()
    }
}

/// [`Json`], pretty-printed to `out`, with a final newline.
pub fn write_json(
    t: &Timeline,
    t0_known: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let plan = Json {
        timeline: t,
        t0_known,
    };
    serde_json::to_writer_pretty(&mut *out, &plan).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}
