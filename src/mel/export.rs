//! The export: a scenario's timeline as MEL CSV, one row per occurrence, with a
//! `Fields` column for every body field the MEL's own columns do not carry.

use super::{ARTICLE_CHANNELS, COLUMNS, channel_of};
use crate::timeline::Timeline;

/// The timeline as MEL CSV: one row per occurrence, in firing order; with a UTF-8
/// byte-order mark, so that Excel shows é and emoji as they are (`import` skips it).
pub fn export(t: &Timeline) -> String {
    let mut w = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
    let _ = w.write_record(COLUMNS);
    for row in records(t) {
        let _ = w.write_record(row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The MEL's rows under [`COLUMNS`]: one per occurrence in firing order, then one per
/// expected action of no inject.
pub fn records(t: &Timeline) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut expected = std::collections::HashSet::new();
    for occ in &t.occurrences {
        let inject = t.inject(occ);
        // Its expected action, on its first row only (an id is unique).
        let expect = inject
            .expect
            .filter(|e| expected.insert(*e))
            .map(|e| &t.scenario.expectations[e]);
        let (action, deadline, expectation, expected_of) = match expect {
            Some(e) => (
                e.action.clone(),
                match e.deadline {
                    crate::scenario::Deadline::Within(d) | crate::scenario::Deadline::By(d) => {
                        crate::plan::show_offset(d)
                            .trim_start_matches("T+")
                            .to_string()
                    }
                },
                e.id.clone(),
                team_id(t, e),
            ),
            None => (
                note_of(inject, "expected_action"),
                String::new(),
                String::new(),
                String::new(),
            ),
        };
        let condition = inject
            .condition
            .as_ref()
            .map(|c| condition_json(&c.condition).to_string())
            .unwrap_or_default();
        let body = t.body(occ).unwrap_or_default();
        let wire = |name: &str| crate::message::field_text(&body, name);
        let note = |k: &str| note_of(inject, k);
        // Ids, not aliases: the spreadsheet has no alias maps, so an import of it validates.
        // Both columns carry their fields as they are (a team message may name an
        // address in `to` too), so that an import gives the same body back.
        let team = if wire("type") == "team" {
            wire("team_id")
        } else {
            String::new()
        };
        let endpoint = crate::message::endpoint(&body);
        // Who it goes to: an address, or a position or role as `position: CEO`.
        let to = match endpoint {
            crate::message::Endpoint::Position => format!("position: {}", wire("position")),
            crate::message::Endpoint::Role => format!("role: {}", wire("role")),
            crate::message::Endpoint::Gps => String::new(),
            crate::message::Endpoint::Messages if wire("player_email").is_empty() => wire("to"),
            crate::message::Endpoint::Messages => wire("player_email"),
        };
        let subject = if wire("subject").is_empty() {
            wire("title")
        } else {
            wire("subject")
        };
        let ts = t.fire_at(occ).timestamp();
        let fields = extra_fields(t.ts_pinned(inject), ts, &body, &team, &to, &subject);
        // A persona move: Method `gps`, the place in Message, coordinates in Fields.
        let (channel, message) = if endpoint == crate::message::Endpoint::Gps {
            ("gps".to_string(), wire("location"))
        } else {
            (wire("channel"), wire("body"))
        };
        rows.push(vec![
            occ.key.clone(),
            crate::plan::show_offset(occ.offset)
                .trim_start_matches("T+")
                .to_string(),
            wire("persona"),
            note("faction"),
            to,
            team,
            channel,
            subject,
            message,
            action,
            deadline,
            expectation,
            expected_of,
            condition,
            note("tag"),
            objective_ids(inject),
            capabilities(t, inject),
            inject.owner.clone().unwrap_or_default(),
            fields,
        ]);
    }
    // Expected actions of no inject: a row each, due by its Time, without From or Method.
    for e in t.scenario.expectations.iter().filter(|e| e.owner.is_none()) {
        let by = match e.deadline {
            crate::scenario::Deadline::Within(d) | crate::scenario::Deadline::By(d) => d,
        };
        let by = crate::plan::show_offset(by)
            .trim_start_matches("T+")
            .to_string();
        let team = team_id(t, e);
        let mut row = vec![String::new(); COLUMNS.len()];
        for (column, value) in [
            ("Time", by),
            ("Expected action", e.action.clone()),
            ("Expectation", e.id.clone()),
            ("Expected of", team),
        ] {
            if let Some(i) = COLUMNS.iter().position(|c| *c == column) {
                row[i] = value;
            }
        }
        rows.push(row);
    }
    rows
}

/// The objectives an inject exercises, as the Objective column holds them: `O1, O2`.
fn objective_ids(inject: &crate::scenario::Inject) -> String {
    inject
        .objectives
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The capabilities of an inject's objectives, each once: `Public Information and
/// Warning; Operational Coordination`.
fn capabilities(t: &Timeline, inject: &crate::scenario::Inject) -> String {
    let mut out: Vec<&str> = Vec::new();
    for r in &inject.objectives {
        if let Some(c) = t
            .scenario
            .objective(&r.name)
            .and_then(|o| o.capability.as_deref())
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    out.join("; ")
}

/// Whose action, as a team id (the spreadsheet has no alias maps).
fn team_id(t: &Timeline, e: &crate::scenario::Expectation) -> String {
    e.team.as_ref().map_or(String::new(), |(team, _)| {
        t.scenario.teams.get(team).map_or(team.clone(), |id| {
            id.as_str().map_or(id.to_string(), String::from)
        })
    })
}

fn note_of(inject: &crate::scenario::Inject, k: &str) -> String {
    inject
        .notes
        .as_ref()
        .and_then(|n| n.get(k))
        .map(|v| v.as_str().map_or(v.to_string(), String::from))
        .unwrap_or_default()
}

/// A condition as the Condition column holds it: the scenario's own shape, as JSON.
fn condition_json(c: &crate::scenario::Condition) -> serde_json::Value {
    use crate::scenario::Condition;
    use serde_json::json;
    match c {
        Condition::Met(r) => json!({ "met": r.name }),
        Condition::Missed(r) => json!({ "missed": r.name }),
        Condition::Sent(r) => json!({ "sent": r.name }),
        Condition::Any(cs) => json!({ "any": cs.iter().map(condition_json).collect::<Vec<_>>() }),
        Condition::All(cs) => json!({ "all": cs.iter().map(condition_json).collect::<Vec<_>>() }),
    }
}

/// The `Fields` cell of a row: every body field that the MEL's columns, as [`import`]
/// reads them back, would not give exactly, as a JSON object (empty when there are none).
/// `ts` goes along when the scenario pins it or it is not the instant's (`ts_at_instant`).
fn extra_fields(
    ts_pinned: bool,
    ts_at_instant: i64,
    body: &serde_json::Map<String, serde_json::Value>,
    team: &str,
    to: &str,
    subject: &str,
) -> String {
    use serde_json::Value;
    let text = |name: &str| crate::message::field_text(body, name);
    let channel = text("channel");
    let gps = crate::message::endpoint(body) == crate::message::Endpoint::Gps;
    // What the columns give back on import.
    let mut carried: Vec<(&str, Value)> = vec![("persona", Value::String(text("persona")))];
    if gps {
        carried.push(("location", Value::String(text("location"))));
    } else {
        carried.push(("channel", Value::String(channel_of(&channel))));
    }
    if !team.is_empty() {
        carried.push(("type", Value::String("team".into())));
        let id = team
            .parse::<u64>()
            .map_or_else(|_| Value::String(team.into()), Value::from);
        carried.push(("team_id", id));
    } else if !to.is_empty() && !to.starts_with("position: ") && !to.starts_with("role: ") {
        carried.push(("type", Value::String("individual".into())));
    }
    if let Some(p) = to.strip_prefix("position: ") {
        carried.push(("position", Value::String(p.into())));
    } else if let Some(r) = to.strip_prefix("role: ") {
        carried.push(("role", Value::String(r.into())));
    } else if !to.is_empty() && text("player_email") != to {
        carried.push(("to", Value::String(to.into())));
    }
    if !subject.is_empty() {
        let field = if ARTICLE_CHANNELS.contains(&channel.as_str()) {
            "title"
        } else {
            "subject"
        };
        carried.push((field, Value::String(subject.into())));
    }
    if !text("body").is_empty() {
        carried.push(("body", Value::String(text("body"))));
    }
    let mut extra = serde_json::Map::new();
    for (key, value) in body {
        // `ts` follows T0 and the offset, unless the scenario pins or moves it
        // (`ts_offset`): then the exported instant's value goes along.
        if key == "ts" && !ts_pinned && value.as_i64() == Some(ts_at_instant) {
            continue;
        }
        if carried.iter().any(|(k, v)| k == key && v == value) {
            continue;
        }
        extra.insert(key.clone(), value.clone());
    }
    // A field the columns would add that the body lacks: cleared.
    for (key, _) in &carried {
        if !body.contains_key(*key) {
            extra.insert((*key).to_string(), Value::Null);
        }
    }
    if extra.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&extra).unwrap_or_default()
    }
}
