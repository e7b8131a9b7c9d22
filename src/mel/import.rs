//! The import: MEL rows (the first non-blank one the header) to scenario YAML, each
//! row an inject, an expected action of no inject, or a problem with its row number.

use std::fmt::Write as _;

use super::{ARTICLE_CHANNELS, COLUMNS, Imported, RowProblem, Rows, channel_of};

/// An expectation's id as an Expectation cell writes it (characters keys use made
/// `-`), else `default`.
fn expectation_id(written: &str, default: impl FnOnce() -> String) -> String {
    if written.is_empty() {
        default()
    } else {
        written.replace(['#', '@', ',', ' '], "-")
    }
}

/// `, team: "…"` for an Expected of cell, or nothing.
fn team_part(written: &str) -> String {
    if written.is_empty() {
        String::new()
    } else {
        format!(", team: {}", q(written))
    }
}

/// Quote any text as a YAML double-quoted scalar (JSON strings are valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Header names other sheets use for a MEL column (HSEEP's MSEL among them), compared as
/// [`header_name`] compares.
const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "ID",
        &[
            "event #",
            "event",
            "event no",
            "event number",
            "inject #",
            "inject no",
            "#",
        ],
    ),
    (
        "Time",
        &["scenario time", "t+", "elapsed", "elapsed time", "offset"],
    ),
    ("From", &["sender", "from persona"]),
    ("To", &["recipient"]),
    ("Method", &["inject mode", "mode", "channel", "medium"]),
    ("Message", &["inject", "inject text", "content", "body"]),
    (
        "Expected action",
        &["expected player action", "expected response"],
    ),
    ("Objective", &["objectives"]),
    ("Core Capability", &["capability", "core capabilities"]),
    ("Responsible Controller", &["controller", "owner"]),
];

/// How a sheet's header row is read: the header names the user maps to MEL columns
/// (`--map "Inject=Message"`), and which row is the header (`--header-row`).
#[derive(Debug, Default)]
pub struct Options {
    pub map: Vec<(String, String)>,
    pub header_row: Option<usize>,
}

/// `--map "Inject=Message,Event #=ID"` as pairs; each target must be a MEL column.
pub fn parse_map(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (from, to) = pair.split_once('=').ok_or(format!(
                "`{}` is not a mapping: write HEADER=COLUMN, e.g. Inject=Message",
                pair.trim()
            ))?;
            let to = COLUMNS
                .iter()
                .find(|c| header_name(c) == header_name(to))
                .ok_or_else(|| {
                    let hint = crate::diag::suggest(to.trim(), COLUMNS.iter().copied())
                        .map_or(String::new(), |h| format!(" ({h})"));
                    format!(
                        "`{}` is not a MEL column{hint}; the columns are {}",
                        to.trim(),
                        COLUMNS.join(", ")
                    )
                })?;
            Ok((from.trim().to_string(), (*to).to_string()))
        })
        .collect()
}

/// The MEL column a header cell names: as the user maps it, by its own name, or by a
/// known synonym.
fn canonical(cell: &str, map: &[(String, String)]) -> Option<&'static str> {
    let h = header_name(cell);
    if let Some((_, to)) = map.iter().find(|(from, _)| header_name(from) == h) {
        return COLUMNS.iter().copied().find(|c| *c == to.as_str());
    }
    COLUMNS
        .iter()
        .copied()
        .find(|c| header_name(c) == h)
        .or_else(|| {
            SYNONYMS
                .iter()
                .find(|(_, names)| names.contains(&h.as_str()))
                .map(|(c, _)| *c)
        })
}

/// Turn MEL rows into a scenario: the header is the first non-blank row, or the row
/// `options` names; header cells are mapped to MEL columns (see [`canonical`]); a
/// column that maps to nothing is kept in each inject's `notes`.
pub fn import_with(rows: &Rows, name: &str, options: &Options) -> Result<Imported, String> {
    let mut rows = rows
        .iter()
        .filter(|(n, r)| {
            r.iter().any(|c| !c.trim().is_empty()) && options.header_row.is_none_or(|h| *n >= h)
        })
        .peekable();
    if let Some(h) = options.header_row
        && rows.peek().is_none_or(|(n, _)| *n != h)
    {
        return Err(format!("row {h} (--header-row) is blank or past the end"));
    }
    let (_, written) = rows.next().ok_or("the spreadsheet is empty")?;
    let header: Vec<String> = written
        .iter()
        .map(|h| canonical(h, &options.map).map_or_else(|| h.clone(), String::from))
        .collect();
    let ignored_columns = ignored_columns(&header);
    let mut columns = Columns::of(&header).map_err(|e| {
        let mapped: Vec<String> = written
            .iter()
            .zip(&header)
            .filter(|(w, h)| w != h)
            .map(|(w, h)| format!("{w} as {h}"))
            .collect();
        if mapped.is_empty() {
            e
        } else {
            format!("{e} (read {})", mapped.join(", "))
        }
    })?;
    columns.kept = header
        .iter()
        .enumerate()
        .filter(|(_, h)| ignored_columns.contains(h))
        .map(|(i, h)| (i, h.trim().to_string()))
        .collect();
    let mut import = Import::new(name);
    for (n, row) in rows {
        let n = *n;
        if let Err(reason) = import.row(&columns, n, &Cells(row)) {
            import.problems.push(RowProblem { row: n, reason });
        }
    }
    Ok(import.finish(ignored_columns))
}

/// [`import_with`] with the first non-blank row as the header and no mapping.
pub fn import(rows: &Rows, name: &str) -> Result<Imported, String> {
    import_with(rows, name, &Options::default())
}

/// A header cell or a column's name, as they are compared: trimmed, lower case, `_`
/// and `-` as spaces.
fn header_name(s: &str) -> String {
    s.trim().to_lowercase().replace(['_', '-'], " ")
}

/// Header cells that are not MEL columns.
fn ignored_columns(header: &[String]) -> Vec<String> {
    header
        .iter()
        .filter(|h| {
            !h.trim().is_empty() && !COLUMNS.iter().any(|c| header_name(c) == header_name(h))
        })
        .cloned()
        .collect()
}

/// Where each column the import reads is in the header row.
struct Columns {
    time: usize,
    from: usize,
    method: usize,
    id: Option<usize>,
    to: Option<usize>,
    team: Option<usize>,
    subject: Option<usize>,
    message: Option<usize>,
    faction: Option<usize>,
    action: Option<usize>,
    tag: Option<usize>,
    fields: Option<usize>,
    deadline: Option<usize>,
    expectation: Option<usize>,
    expected_of: Option<usize>,
    condition: Option<usize>,
    objective: Option<usize>,
    capability: Option<usize>,
    owner: Option<usize>,
    /// Columns that are no MEL column: kept in each inject's `notes`, by their header.
    kept: Vec<(usize, String)>,
}

impl Columns {
    /// Where each column is in `header`; an error naming those of Time, From and Method
    /// it lacks.
    fn of(header: &[String]) -> Result<Columns, String> {
        let col = |name: &str| {
            header
                .iter()
                .position(|h| header_name(h) == header_name(name))
        };
        let (Some(time), Some(from), Some(method)) = (col("Time"), col("From"), col("Method"))
        else {
            let missing: Vec<&str> = ["Time", "From", "Method"]
                .into_iter()
                .filter(|c| col(c).is_none())
                .collect();
            return Err(format!(
                "the header row lacks the column(s) {}; found {:?}",
                missing.join(", "),
                header
            ));
        };
        Ok(Columns {
            time,
            from,
            method,
            id: col("ID"),
            to: col("To"),
            team: col("Team"),
            subject: col("Subject"),
            message: col("Message"),
            faction: col("Faction"),
            action: col("Expected action"),
            tag: col("Tag"),
            fields: col("Fields"),
            deadline: col("Deadline"),
            expectation: col("Expectation"),
            expected_of: col("Expected of"),
            condition: col("Condition"),
            objective: col("Objective"),
            capability: col("Core Capability"),
            owner: col("Responsible Controller"),
            kept: Vec::new(),
        })
    }
}

/// One row's cells.
struct Cells<'a>(&'a [String]);

impl Cells<'_> {
    /// The cell in column `c`, trimmed; empty when there is no such column or cell.
    fn get(&self, c: Option<usize>) -> String {
        c.and_then(|c| self.0.get(c))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }
}

/// An inject row as read before its fields are made: what they are made from besides
/// its cells.
struct Inject {
    /// Time: its offset, or a contingency's delay once its condition holds.
    at: std::time::Duration,
    persona: String,
    channel: String,
    /// A contingency's condition, as JSON text.
    condition: Option<String>,
    /// The extra body fields of an export (`Fields`).
    extra: serde_json::Map<String, serde_json::Value>,
}

/// An import under way: the scenario written so far and what was said of the rows.
struct Import {
    yaml: String,
    injects: usize,
    problems: Vec<RowProblem>,
    remarks: Vec<RowProblem>,
    /// Expected actions of no inject, each as a line of `expectations:`.
    free: Vec<String>,
    /// Whether a move's longitude came as `lng` (the scenario then says so).
    lng: bool,
    /// The inject ids given so far.
    used_ids: std::collections::HashSet<String>,
    /// The objectives the rows name, in order, each with the capability first given.
    objectives: Vec<(String, String)>,
}

impl Import {
    /// An import of a scenario called `name`, with nothing read yet.
    fn new(name: &str) -> Import {
        Import {
            yaml: format!(
                "# yaml-language-server: $schema=../injector.schema.json\n# Imported from a Master Events List.\nname: {}\ninjects:\n",
                q(name)
            ),
            injects: 0,
            problems: Vec::new(),
            remarks: Vec::new(),
            free: Vec::new(),
            lng: false,
            used_ids: std::collections::HashSet::new(),
            objectives: Vec::new(),
        }
    }

    /// Read row `n`: an inject, or an expected action of no inject; the reason when it
    /// can be neither (what was written of it stays).
    fn row(&mut self, cols: &Columns, n: usize, row: &Cells) -> Result<(), String> {
        let at = match crate::scenario::parse_offset_str(&row.get(Some(cols.time))) {
            Ok(d) => d,
            Err((m, _)) if row.get(Some(cols.time)).is_empty() => {
                return Err(format!("Time is empty ({m})"));
            }
            Err((m, _)) => return Err(format!("Time: {m}")),
        };
        let persona = row.get(Some(cols.from));
        // A row with an Expected action and no From or Method: an expected action of no
        // inject, due by its Time (`expectations:`).
        if persona.is_empty()
            && row.get(Some(cols.method)).is_empty()
            && !row.get(cols.action).is_empty()
        {
            self.free.push(free_expectation(cols, n, row, at));
            return Ok(());
        }
        if persona.is_empty() {
            return Err("From is empty: every inject needs a persona".into());
        }
        let channel = channel_of(&row.get(Some(cols.method)));
        if channel.is_empty() {
            return Err("Method is empty: every inject needs a channel".into());
        }
        let mut id = row.get(cols.id).replace(['#', '@', ',', ' '], "-");
        if id.is_empty() || !self.used_ids.insert(id.clone()) {
            id = format!("row-{n}");
            self.used_ids.insert(id.clone());
        }
        let extra = fields_cell(row.get(cols.fields))?;
        let condition = condition_cell(row.get(cols.condition))?;
        let inject = Inject {
            at,
            persona,
            channel,
            condition,
            extra,
        };
        let fields = self.fields(cols, row, inject);
        let _ = writeln!(self.yaml, "  - id: {}", q(&id));
        for (key, value) in fields {
            let _ = writeln!(self.yaml, "    {key}: {value}");
        }
        self.expect_and_notes(cols, n, row, &id)?;
        self.injects += 1;
        Ok(())
    }

    /// An inject's fields in order, each as YAML text; `Fields` has the last word.
    fn fields(&mut self, cols: &Columns, row: &Cells, inject: Inject) -> Vec<(String, String)> {
        let Inject {
            at,
            persona,
            channel,
            condition,
            mut extra,
        } = inject;
        let offset = q(crate::plan::show_offset(at).trim_start_matches("T+"));
        let mut fields: Vec<(String, String)> = match condition {
            Some(c) => vec![("when".into(), c), ("after".into(), offset)],
            None => vec![("at".into(), offset)],
        };
        fields.extend([
            ("persona".into(), q(&persona)),
            ("channel".into(), q(&channel)),
        ]);
        let (to, team) = (row.get(cols.to), row.get(cols.team));
        // `position: CEO` or `role: Role2` in To: a message to a position or a role.
        let addressee = to
            .strip_prefix("position:")
            .map(|p| ("position", p.trim().to_string()))
            .or_else(|| {
                to.strip_prefix("role:")
                    .map(|r| ("role", r.trim().to_string()))
            });
        let to = if addressee.is_some() {
            String::new()
        } else {
            to
        };
        if !team.is_empty() {
            fields.push(("type".into(), "team".into()));
            let team_value = if team.bytes().all(|b| b.is_ascii_digit()) {
                team.clone()
            } else {
                q(&team)
            };
            fields.push(("team_id".into(), team_value));
        } else if !to.is_empty() {
            fields.push(("type".into(), "individual".into()));
        }
        // An address exported from `player_email` goes back there (through `Fields`).
        if !to.is_empty() && extra.get("player_email").and_then(|v| v.as_str()) != Some(&to) {
            fields.push(("to".into(), q(&to)));
        }
        let subject = row.get(cols.subject);
        if !subject.is_empty() {
            let field = if ARTICLE_CHANNELS.contains(&channel.as_str()) {
                "title"
            } else {
                "subject"
            };
            fields.push((field.into(), q(&subject)));
        }
        if let Some((field, value)) = &addressee {
            fields.push((field.to_string(), q(value)));
        }
        let message = row.get(cols.message);
        if channel == "gps" {
            // A persona move: no channel; the place from Message, coordinates from Fields.
            fields.retain(|(k, _)| k != "channel");
            fields.push(("gps".into(), self.gps(&mut extra, &message)));
        } else if !message.is_empty() {
            fields.push(("body".into(), q(&message)));
        }
        for (key, value) in extra {
            let text = serde_json::to_string(&value).unwrap_or_default();
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some(field) => field.1 = text,
                None => fields.push((key, text)),
            }
        }
        fields
    }

    /// A persona move's `gps` field: the place `location`, its coordinates taken out of
    /// `extra` (noting a longitude that came as `lng`).
    fn gps(
        &mut self,
        extra: &mut serde_json::Map<String, serde_json::Value>,
        location: &str,
    ) -> String {
        let lat = extra.remove("lat").unwrap_or(serde_json::Value::Null);
        let lon = match extra.remove("lng") {
            Some(v) => {
                self.lng = true;
                v
            }
            None => extra.remove("lon").unwrap_or(serde_json::Value::Null),
        };
        extra.remove("location");
        format!("{{ lat: {lat}, lon: {lon}, location: {} }}", q(location))
    }

    /// The inject `id`'s expected action and notes: an expected action with a deadline
    /// is judged live (`expect`); without one, a note (and a remark says so).
    fn expect_and_notes(
        &mut self,
        cols: &Columns,
        n: usize,
        row: &Cells,
        id: &str,
    ) -> Result<(), String> {
        let (action, deadline) = (row.get(cols.action), row.get(cols.deadline));
        let mut action_note = String::new();
        if !action.is_empty() && !deadline.is_empty() {
            let within = match crate::scenario::parse_offset_str(&deadline) {
                Ok(d) => q(crate::plan::show_offset(d).trim_start_matches("T+")),
                Err((m, _)) => return Err(format!("Deadline: {m}")),
            };
            let expectation =
                expectation_id(&row.get(cols.expectation), || format!("{id}-expected"));
            let team = team_part(&row.get(cols.expected_of));
            let _ = writeln!(
                self.yaml,
                "    expect: {{ id: {}, action: {}, within: {within}{team} }}",
                q(&expectation),
                q(&action)
            );
        } else if !action.is_empty() {
            action_note = action;
            self.remarks.push(RowProblem {
                row: n,
                reason:
                    "Expected action has no Deadline beside it: kept as a note, not judged live"
                        .into(),
            });
        }
        self.objectives_and_owner(cols, row);
        let mut notes: Vec<(String, String)> = [
            ("faction", row.get(cols.faction)),
            ("expected_action", action_note),
            ("tag", row.get(cols.tag)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // Columns that map to nothing, kept by their header.
        notes.extend(
            cols.kept
                .iter()
                .map(|(i, h)| (h.clone(), row.get(Some(*i)))),
        );
        notes.retain(|(_, v)| !v.is_empty());
        if !notes.is_empty() {
            let _ = writeln!(self.yaml, "    notes:");
            for (k, v) in notes {
                // A header as a key: plain when it is a word, else quoted.
                let key = if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    k
                } else {
                    q(&k)
                };
                let _ = writeln!(self.yaml, "      {key}: {}", q(&v));
            }
        }
        Ok(())
    }

    /// The inject's Objective (ids, comma separated) as its `objectives`, each kept to
    /// declare with the capability beside it; its Responsible Controller as `owner`.
    fn objectives_and_owner(&mut self, cols: &Columns, row: &Cells) {
        let ids: Vec<String> = row
            .get(cols.objective)
            .split([',', ';'])
            .map(|s| s.trim().replace(['#', '@', ' '], "-"))
            .filter(|s| !s.is_empty())
            .collect();
        let capability = row.get(cols.capability);
        for id in &ids {
            if !self.objectives.iter().any(|(o, _)| o == id) {
                // A row of one objective says its capability; several share theirs.
                let cap = if ids.len() == 1 || !capability.contains(';') {
                    capability.clone()
                } else {
                    String::new()
                };
                self.objectives.push((id.clone(), cap));
            }
        }
        if !ids.is_empty() {
            let list: Vec<String> = ids.iter().map(|i| q(i)).collect();
            let _ = writeln!(self.yaml, "    objectives: [{}]", list.join(", "));
        }
        let owner = row.get(cols.owner);
        if !owner.is_empty() {
            let _ = writeln!(self.yaml, "    owner: {}", q(&owner));
        }
    }

    /// The import's outcome, the scenario completed with what goes after its injects.
    fn finish(mut self, ignored_columns: Vec<String>) -> Imported {
        if self.lng {
            self.yaml.push_str("gps_longitude: lng\n");
        }
        if !self.objectives.is_empty() {
            // The MEL names objectives, not what they say: each is declared with its id
            // as its text, for the designer to write out.
            self.yaml.push_str("objectives:\n");
            for (id, capability) in &self.objectives {
                let cap = if capability.is_empty() {
                    String::new()
                } else {
                    format!(", capability: {}", q(capability))
                };
                let _ = writeln!(self.yaml, "  - {{ id: {}, text: {}{cap} }}", q(id), q(id));
            }
            self.remarks.push(RowProblem {
                row: 1,
                reason: format!(
                    "{} named in the Objective column: declared under `objectives:` with its id as its text; write out what each evaluates",
                    crate::human::count(self.objectives.len(), "objective", "objectives")
                ),
            });
        }
        if !self.free.is_empty() {
            self.yaml.push_str("expectations:\n");
            for e in self.free {
                self.yaml.push_str(&e);
            }
        }
        Imported {
            yaml: self.yaml,
            injects: self.injects,
            problems: self.problems,
            remarks: self.remarks,
            ignored_columns,
        }
    }
}

/// Row `n`'s expected action of no inject, due by its Time `at`, as a line of
/// `expectations:`.
fn free_expectation(cols: &Columns, n: usize, row: &Cells, at: std::time::Duration) -> String {
    let id = expectation_id(&row.get(cols.expectation), || format!("row-{n}-expected"));
    let team = team_part(&row.get(cols.expected_of));
    format!(
        "  - {{ id: {}, action: {}, by: {}{team} }}\n",
        q(&id),
        q(&row.get(cols.action)),
        q(crate::plan::show_offset(at).trim_start_matches("T+"))
    )
}

/// A `Fields` cell: the extra body fields of an export, a JSON object (none when empty).
fn fields_cell(text: String) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    if text.is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err("Fields is not a JSON object (as `export` writes it)".into()),
    }
}

/// A `Condition` cell: a contingency's condition, a JSON object, as JSON text (none
/// when empty).
fn condition_cell(text: String) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(Some(v.to_string())),
        _ => Err(
            "Condition is not a JSON object such as {\"missed\": \"evacuation-ordered\"}".into(),
        ),
    }
}
