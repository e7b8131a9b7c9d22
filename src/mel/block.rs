//! The scenario's header block: what a MEL's rows have no column for (its name,
//! description, start, time zone, defaults, vars, persona and team aliases, objectives,
//! extra channels, seed, phases), one row per item, `Key | value | ...`. In a CSV the block stands
//! above the column header; in a workbook it is the `Scenario` sheet.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::written::{cell_of, flow, key, quote, value_of};
use super::{RowProblem, Rows};
use crate::scenario::Scenario;

/// The block's keys, as its rows' first cells write them.
pub const KEYS: &[&str] = &[
    "Scenario",
    "Description",
    "Start",
    "Time zone",
    "Default",
    "Var",
    "Persona",
    "Team",
    "Objective",
    "Extra channel",
    "GPS longitude",
    "Seed",
    "Phase",
];

/// Whether a row's first cell is a key of the block.
pub fn is_key(cell: &str) -> bool {
    let c = cell.trim();
    KEYS.iter().any(|k| k.eq_ignore_ascii_case(c))
}

/// The block of a scenario: rows of cells; `start` (`export --start-at`) over its own.
pub fn rows(s: &Scenario, start: Option<&str>) -> Vec<Vec<String>> {
    let root = crate::yaml::parse(&s.source).ok();
    let top = |name: &str| -> Option<Value> {
        root.as_ref()?
            .as_map()?
            .iter()
            .find(|(k, _)| k.scalar_text() == name)
            .map(|(_, v)| v.to_json())
    };
    let text = |v: Option<Value>| v.map(|v| cell_of(&v));
    let mut out: Vec<Vec<String>> = vec![vec!["Scenario".into(), s.name.clone()]];
    for (k, v) in [
        ("Description", text(top("description"))),
        (
            "Start",
            start.map(String::from).or_else(|| text(top("start"))),
        ),
        ("Time zone", text(top("timezone"))),
    ] {
        if let Some(v) = v {
            out.push(vec![k.into(), v]);
        }
    }
    for (k, name) in [
        ("Default", "defaults"),
        ("Var", "vars"),
        ("Persona", "personas"),
        ("Team", "teams"),
    ] {
        if let Some(Value::Object(map)) = top(name) {
            for (field, v) in map {
                out.push(vec![k.into(), field, cell_of(&v)]);
            }
        }
    }
    for o in &s.objectives {
        out.push(vec![
            "Objective".into(),
            o.id.clone(),
            o.text.clone(),
            o.capability.clone().unwrap_or_default(),
        ]);
    }
    for c in &s.extra_channels {
        out.push(vec!["Extra channel".into(), c.clone()]);
    }
    if let Some(v) = top("gps_longitude") {
        out.push(vec!["GPS longitude".into(), cell_of(&v)]);
    }
    if let Some(v) = top("seed") {
        out.push(vec!["Seed".into(), cell_of(&v)]);
    }
    for p in &s.phases {
        let at = top("phases")
            .and_then(|v| v.as_array().cloned())
            .and_then(|list| {
                list.into_iter()
                    .find(|x| x.get("id").and_then(Value::as_str) == Some(&p.id))
            })
            .and_then(|x| x.get("at").map(cell_of))
            .unwrap_or_else(|| crate::human::show_offset(p.at));
        out.push(vec![
            "Phase".into(),
            p.id.clone(),
            at,
            p.text.clone().unwrap_or_default(),
        ]);
    }
    out
}

/// The block as read: the scenario's text before `injects:`, and what the rows' import
/// needs of it.
#[derive(Debug, Default)]
pub struct Block {
    pub name: Option<String>,
    /// T0 as written, for dates and clock times in the rows.
    pub start: Option<String>,
    pub timezone: Option<String>,
    pub defaults: Map<String, Value>,
    /// Objectives declared here, with their capability (the Objective column's ids
    /// then need no declaring).
    pub objectives: Vec<(String, String)>,
    pub gps_longitude: Option<String>,
    /// The YAML of everything but the name, the start and the objectives.
    yaml: String,
    objectives_yaml: String,
}

impl Block {
    /// Read the block's rows (`sheet` names where they are, for problems).
    pub fn read(rows: &Rows, sheet: &str, problems: &mut Vec<RowProblem>) -> Block {
        let mut b = Block::default();
        let (mut vars, mut personas, mut teams) = (Map::new(), Map::new(), Map::new());
        let mut channels = Vec::new();
        let mut phases: Vec<String> = Vec::new();
        for (n, cells) in rows {
            let cell = |i: usize| cells.get(i).map_or("", |c| c.trim());
            let k = cell(0);
            let Some(k) = KEYS.iter().find(|key| key.eq_ignore_ascii_case(k)) else {
                if !k.is_empty() && !k.eq_ignore_ascii_case("field") {
                    problems.push(RowProblem {
                        row: *n,
                        reason: format!(
                            "{sheet}`{k}` is not a scenario field (they are {}); left out",
                            KEYS.join(", ")
                        ),
                    });
                }
                continue;
            };
            let pair = |map: &mut Map<String, Value>| {
                if !cell(1).is_empty() {
                    map.insert(cell(1).to_string(), value_of(cell(2)));
                }
            };
            match *k {
                "Scenario" => b.name = Some(cell(1).to_string()),
                "Description" => {
                    let _ = writeln!(b.yaml, "description: {}", quote(cell(1)));
                }
                "Start" => b.start = Some(cell(1).to_string()),
                "Time zone" => b.timezone = Some(cell(1).to_string()),
                "Default" => pair(&mut b.defaults),
                "Var" => pair(&mut vars),
                "Persona" => pair(&mut personas),
                "Team" => pair(&mut teams),
                "Objective" => {
                    let cap = match cell(3) {
                        "" => String::new(),
                        c => format!(", capability: {}", quote(c)),
                    };
                    let _ = writeln!(
                        b.objectives_yaml,
                        "  - {{ id: {}, text: {}{cap} }}",
                        quote(cell(1)),
                        quote(cell(2))
                    );
                    b.objectives
                        .push((cell(1).to_string(), cell(3).to_string()));
                }
                "Extra channel" => channels.push(Value::String(cell(1).to_string())),
                "Seed" => {
                    let _ = writeln!(b.yaml, "seed: {}", cell(1));
                }
                "Phase" => {
                    let text = match cell(3) {
                        "" => String::new(),
                        t => format!(", text: {}", quote(t)),
                    };
                    phases.push(format!(
                        "  - {{ id: {}, at: {}{text} }}",
                        quote(cell(1)),
                        quote(cell(2))
                    ));
                }
                _ => b.gps_longitude = Some(cell(1).to_string()),
            }
        }
        if let Some(z) = &b.timezone {
            let _ = writeln!(b.yaml, "timezone: {}", quote(z));
        }
        for (name, map) in [
            ("personas", personas),
            ("teams", teams),
            ("vars", vars),
            ("defaults", b.defaults.clone()),
        ] {
            if !map.is_empty() {
                let _ = writeln!(b.yaml, "{name}:");
                for (k, v) in map {
                    let _ = writeln!(b.yaml, "  {}: {}", key(&k), flow(&v));
                }
            }
        }
        if !channels.is_empty() {
            let _ = writeln!(b.yaml, "extra_channels: {}", flow(&Value::Array(channels)));
        }
        if !phases.is_empty() {
            let _ = writeln!(b.yaml, "phases:\n{}", phases.join("\n"));
        }
        b
    }

    /// The scenario's text before its `injects:` (the objectives go after them).
    pub fn head(&self) -> &str {
        &self.yaml
    }

    /// The declared objectives as lines of `objectives:`.
    pub fn objectives_yaml(&self) -> &str {
        &self.objectives_yaml
    }
}
