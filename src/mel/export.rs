//! The export: a scenario as a MEL, lossless. The header block first (name, start,
//! zone, defaults, vars, aliases, objectives), then one row per inject as the scenario
//! writes it (its recurrence in Repeat, its fan-out in Team, its template text, its
//! persona and team aliases), then one per expected action of no inject. A `Fields`
//! cell holds, as JSON, exactly what the row's columns do not give back on import.

use serde_json::{Map, Value};

use super::block::{self, Block};
use super::import::{Cells, Columns, Derived, Import};
use super::written::{cell_of, diff, normal_offset, time_cell};
use super::{COLUMNS, mel_method};
use crate::scenario::Scenario;

/// The scenario as MEL CSV: the header block, a blank row, then the rows under
/// [`COLUMNS`]; with a UTF-8 byte-order mark, so that Excel shows é and emoji as they
/// are (`import` skips it).
pub fn export(s: &Scenario, start: Option<&str>) -> String {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer("\u{feff}".as_bytes().to_vec());
    for row in block::rows(s, start) {
        let _ = w.write_record(row);
    }
    let _ = w.write_record(["", ""]);
    let (header, rows) = records(s);
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The MEL's header and rows: [`COLUMNS`], then a column for each note the injects
/// keep besides faction, tag and expected action (a column of another sheet, kept by
/// an import, goes back out as itself); one row per inject in file order, then one per
/// expected action of no inject.
pub fn records(s: &Scenario) -> (Vec<String>, Vec<Vec<String>>) {
    let root = crate::yaml::parse(&s.source).ok();
    let list = |name: &str| -> Vec<Map<String, Value>> {
        root.as_ref()
            .and_then(|r| r.as_map())
            .and_then(|m| m.iter().find(|(k, _)| k.scalar_text() == name))
            .map(|(_, v)| v.to_json())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_object().cloned())
            .collect()
    };
    let block_rows: super::Rows = block::rows(s, None)
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r))
        .collect();
    let block = Block::read(&block_rows, "", &mut Vec::new());
    let defaults = block.defaults.clone();
    let injects = list("injects");
    let mut header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_string()).collect();
    for w in &injects {
        for (k, v) in w
            .get("notes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if v.is_string()
                && !["faction", "tag", "expected_action"].contains(&k.as_str())
                && !super::import::is_column(k)
                && !k.trim().is_empty()
                && !header.contains(k)
            {
                header.push(k.clone());
            }
        }
    }
    let Ok(mut import) = Import::new(&s.name, block, None) else {
        return (header, Vec::new());
    };
    let Ok(mut cols) = Columns::of(&header) else {
        return (header, Vec::new());
    };
    cols.keep(&header, &header[COLUMNS.len()..]);
    let mut rows = Vec::new();
    for w in injects {
        let w = normalized(w);
        let mut cells = inject_cells(s, &w, &defaults, &header);
        finish_row(&mut import, &cols, &mut cells, &w, rows.len() + 1);
        rows.push(cells);
    }
    // A crowd is one row, its definition (not its posts): Time the window's start,
    // Repeat the window and count, From its voices, Message its posts, one a line.
    for w in list("crowds") {
        let w = normalized(w);
        let mut as_inject = w.clone();
        as_inject.insert(
            "persona".into(),
            Value::String(joined(w.get("personas"), ", ")),
        );
        as_inject.insert("body".into(), Value::String(joined(w.get("posts"), "\n")));
        let start = w
            .get("between")
            .and_then(Value::as_array)
            .and_then(|b| b.first())
            .map(normal_offset);
        as_inject.insert("at".into(), start.unwrap_or(Value::Null));
        let mut cells = inject_cells(s, &as_inject, &defaults, &header);
        // As people write it: `between: [20m, 1h10m], count: 150, curve: burst at 35m`.
        let cell = |v: &Value| match v {
            Value::Array(items) => format!(
                "[{}]",
                items.iter().map(plain).collect::<Vec<_>>().join(", ")
            ),
            Value::String(t)
                if t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '/') =>
            {
                t.clone()
            }
            other => plain(other),
        };
        let repeat: Vec<String> = ["between", "count", "rate", "curve"]
            .iter()
            .filter_map(|k| w.get(*k).map(|v| format!("{k}: {}", cell(v))))
            .collect();
        set(&mut cells, "Repeat", repeat.join(", "));
        finish_row(&mut import, &cols, &mut cells, &w, rows.len() + 1);
        rows.push(cells);
    }
    for w in list("expectations") {
        let w = normalized(w);
        let mut cells = vec![String::new(); header.len()];
        set(&mut cells, "Time", offset_text(w.get("by")));
        set(&mut cells, "Expected action", text(w.get("action")));
        set(&mut cells, "Expectation", text(w.get("id")));
        set(&mut cells, "Expected of", text(w.get("team")));
        set(&mut cells, "Objective", ids(w.get("objectives")));
        finish_row(&mut import, &cols, &mut cells, &w, rows.len() + 1);
        rows.push(cells);
    }
    (header, rows)
}

/// The row's `Fields`: what `w` has that the row's columns, as the import reads them,
/// do not give.
fn finish_row(
    import: &mut Import,
    cols: &Columns,
    cells: &mut [String],
    w: &Map<String, Value>,
    n: usize,
) {
    let derived = match import.derive(cols, n, &Cells(cells)) {
        Ok(Derived::Inject(d) | Derived::Expectation(d) | Derived::Crowd(d)) => d,
        Err(_) => Map::new(),
    };
    let fields = diff(w, &derived);
    if !fields.is_empty() {
        set(
            cells,
            "Fields",
            serde_json::to_string(&fields).unwrap_or_default(),
        );
    }
}

/// An inject's cells, from what the scenario wrote (`w`) and its defaults.
fn inject_cells(
    s: &Scenario,
    w: &Map<String, Value>,
    defaults: &Map<String, Value>,
    header: &[String],
) -> Vec<String> {
    let mut cells = vec![String::new(); header.len()];
    let get = |k: &str| w.get(k);
    let notes = get("notes").and_then(Value::as_object);
    let note = |k: &str| text(notes.and_then(|n| n.get(k)));
    set(&mut cells, "ID", text(get("id")));
    set(&mut cells, "Phase", text(get("phase")));
    let (time, repeat_keys): (Option<&Value>, &[&str]) = if get("when").is_some() {
        (get("after"), &["every", "from", "count", "until"])
    } else if get("every").is_some() {
        (get("from"), &["every", "count", "until"])
    } else if get("cron").is_some() {
        (None, &["cron", "count", "until"])
    } else {
        (get("at"), &[])
    };
    let time = match time {
        Some(v) => offset_text(Some(v)),
        None if get("cron").is_some() => String::new(),
        None => time_cell(std::time::Duration::ZERO),
    };
    set(&mut cells, "Time", time);
    let repeat: Vec<String> = repeat_keys
        .iter()
        .filter_map(|k| get(k).map(|v| format!("{k}: {}", plain(v))))
        .collect();
    set(&mut cells, "Repeat", repeat.join(", "));
    let or_default = |k: &str| get(k).or_else(|| defaults.get(k));
    // A list of personas taking turns, as people write it.
    let from = joined(or_default("persona"), ", ");
    set(&mut cells, "From", from);
    set(&mut cells, "Faction", note("faction"));
    let to = if let Some(p) = get("position") {
        format!("position: {}", text(Some(p)))
    } else if let Some(r) = get("role") {
        format!("role: {}", text(Some(r)))
    } else {
        text(get("to"))
    };
    set(&mut cells, "To", to);
    let team = joined(get("team_id"), ", ");
    set(&mut cells, "Team", team);
    let gps = get("gps").and_then(Value::as_object);
    let method = match gps {
        Some(_) => "gps".to_string(),
        None => or_default("channel")
            .and_then(Value::as_str)
            .map_or(String::new(), mel_method),
    };
    set(&mut cells, "Method", method);
    set(
        &mut cells,
        "Subject",
        text(get("subject").or_else(|| get("title"))),
    );
    let message = match gps {
        Some(g) => text(g.get("location")),
        None => text(get("body")),
    };
    set(&mut cells, "Message", message);
    match get("expect").and_then(Value::as_object) {
        Some(e) => {
            set(&mut cells, "Expected action", text(e.get("action")));
            set(&mut cells, "Deadline", offset_text(e.get("within")));
            set(&mut cells, "Expectation", text(e.get("id")));
            set(&mut cells, "Expected of", text(e.get("team")));
        }
        None => set(&mut cells, "Expected action", note("expected_action")),
    }
    if let Some(c) = get("when") {
        set(&mut cells, "Condition", c.to_string());
    }
    set(&mut cells, "Tag", note("tag"));
    set(&mut cells, "Objective", ids(get("objectives")));
    set(
        &mut cells,
        "Core Capability",
        capabilities(s, get("objectives")),
    );
    set(&mut cells, "Responsible Controller", text(get("owner")));
    for (i, h) in header.iter().enumerate().skip(COLUMNS.len()) {
        cells[i] = note(h);
    }
    cells
}

/// What the scenario wrote, its offsets in the form Time and Deadline cells give back.
fn normalized(mut w: Map<String, Value>) -> Map<String, Value> {
    for k in ["at", "after", "from"] {
        if let Some(v) = w.get_mut(k) {
            *v = normal_offset(v);
        }
    }
    for k in ["within", "by"] {
        if let Some(v) = w
            .get_mut("expect")
            .and_then(Value::as_object_mut)
            .and_then(|e| e.get_mut(k))
        {
            *v = normal_offset(v);
        }
        if let Some(v) = w.get_mut(k) {
            *v = normal_offset(v);
        }
    }
    w
}

fn set(cells: &mut [String], column: &str, value: String) {
    if let Some(i) = COLUMNS.iter().position(|c| *c == column) {
        cells[i] = value;
    }
}

/// A list as one cell holds it, its items `sep` apart (a persona list `a, b`, a fan-out's
/// teams, a crowd's posts one a line); anything else as [`text`] holds it.
fn joined(v: Option<&Value>, sep: &str) -> String {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| text(Some(i)))
            .collect::<Vec<_>>()
            .join(sep),
        other => text(other),
    }
}

/// A value as a text column holds it: a string as it is, else nothing (left to `Fields`).
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Number(_)) => v.to_string(),
        _ => String::new(),
    }
}

/// An offset as a Time cell holds it (already in that form when it parsed).
fn offset_text(v: Option<&Value>) -> String {
    v.map(cell_of).unwrap_or_default()
}

/// A value in a Repeat cell: plain where YAML reads it back as it is, else quoted.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s)
            if !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                && s.starts_with(|c: char| c.is_ascii_digit())
                && s.chars().any(|c| c.is_ascii_alphabetic()) =>
        {
            s.clone()
        }
        other => super::written::flow(other),
    }
}

/// A list of ids as the Objective column holds it: `O1, O2`.
fn ids(v: Option<&Value>) -> String {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The capabilities of the objectives named, each once: `Public Information and
/// Warning; Operational Coordination`.
fn capabilities(s: &Scenario, objectives: Option<&Value>) -> String {
    let mut out: Vec<&str> = Vec::new();
    for id in objectives
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(c) = s.objective(id).and_then(|o| o.capability.as_deref())
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    out.join("; ")
}
