//! Conducttr's Master Events List (MEL) spreadsheet, both ways.
//!
//! [`import`] turns MEL rows (CSV, or the first sheet of an XLSX) into scenario YAML:
//! Time to `at`, From to `persona`, Method to `channel`, To and Team to the recipient,
//! Subject, Message to `body`; an Expected action with a Deadline beside it to `expect`
//! (its id from Expectation, else `<ID>-expected`; its team from Expected of), without
//! a Deadline to a note (and the import says so); a Condition (a JSON object such as
//! `{"missed": "evacuation-ordered"}`) makes the row a contingency, Time then its delay
//! once the condition holds; Faction and Tag become `notes`. Columns
//! are found by header name, case-insensitively, in any order; blank rows are passed
//! over; a row that cannot be mapped is reported with its row number and the reason.
//! [`export`] writes a scenario's timeline as MEL CSV: one row per occurrence, with an
//! `ID` column, and a `Fields` column holding, as a JSON object, every body field the
//! MEL's own columns do not carry (assets, hack flags, counts, sentiment, cc, a pinned
//! `ts`, ...), so that export then import gives back the same timeline for every kind
//! of inject. Conducttr's own columns keep their meaning; a spreadsheet without
//! `Fields` imports as before.

use std::fmt::Write as _;

use crate::timeline::Timeline;

/// MEL columns, as Conducttr names them, plus our ID.
pub const COLUMNS: &[&str] = &[
    "ID",
    "Time",
    "From",
    "Faction",
    "To",
    "Team",
    "Method",
    "Subject",
    "Message",
    "Expected action",
    "Deadline",
    "Expectation",
    "Expected of",
    "Condition",
    "Tag",
    "Fields",
];

/// Channels whose Subject is an article's title.
const ARTICLE_CHANNELS: &[&str] = &["websites", "news", "blog", "bulletin"];

/// A row that could not be mapped: its 1-based spreadsheet row and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    pub row: usize,
    pub reason: String,
}

/// The scenario YAML and the rows left out.
#[derive(Debug)]
pub struct Imported {
    pub yaml: String,
    pub injects: usize,
    pub problems: Vec<RowProblem>,
    /// Rows imported with something worth saying (an expected action kept as a note).
    pub remarks: Vec<RowProblem>,
    /// Header cells that are not MEL columns (ignored).
    pub ignored_columns: Vec<String>,
}

/// Rows of cells, each with its 1-based row number in the spreadsheet.
pub type Rows = Vec<(usize, Vec<String>)>;

/// Read a CSV text into rows of cells (a UTF-8 BOM and Windows line ends are fine).
pub fn csv_rows(text: &str) -> Result<Rows, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        // The row's line in the file, counted from its byte offset (blank lines count).
        let line = record.position().map_or(rows.len() + 1, |p| {
            // After a CRLF the reader's position can rest on the LF: count it too.
            let end = (p.byte() as usize + 1).min(text.len());
            text.as_bytes()[..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        });
        rows.push((line, record.iter().map(|c| c.to_string()).collect()));
    }
    Ok(rows)
}

/// Read the first sheet of an XLSX workbook into rows of cells.
pub fn xlsx_rows(bytes: &[u8]) -> Result<Rows, String> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable XLSX workbook ({e})"))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| format!("cannot read the first sheet ({e})"))?;
    let first = range.start().map_or(0, |(row, _)| row as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let cells = row
                .iter()
                .map(|cell| match cell {
                    calamine::Data::Empty => String::new(),
                    calamine::Data::String(s) => s.clone(),
                    calamine::Data::Int(i) => i.to_string(),
                    // A time of day in Excel is a fraction of a day.
                    calamine::Data::Float(f) if (0.0..1.0).contains(f) => {
                        clock(((f * 86_400.0).round()) as u64)
                    }
                    calamine::Data::Float(f) => f.to_string(),
                    calamine::Data::Bool(b) => b.to_string(),
                    calamine::Data::DateTime(d) => {
                        clock(((d.as_f64().fract() * 86_400.0).round()) as u64)
                    }
                    other => other.to_string(),
                })
                .collect();
            (first + i + 1, cells)
        })
        .collect())
}

fn clock(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A Method as written in a MEL to a Conducttr channel.
pub fn channel_of(method: &str) -> String {
    let m = method.trim().to_lowercase();
    match m.as_str() {
        "email" | "e-mail" | "mail" => "mail".into(),
        "social" | "social media" | "twitter" | "x" | "post" => "microblog".into(),
        "website" | "web" | "article" | "website article" => "websites".into(),
        "pop-up" | "popup" | "media pop-up" | "media popup" | "notification" => {
            "notifications".into()
        }
        "chat" | "message" | "messenger" => "msngr".into(),
        "video" => "videoblog".into(),
        _ => m,
    }
}

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

/// Turn MEL rows (the first non-blank row is the header) into a scenario.
pub fn import(rows: &Rows, name: &str) -> Result<Imported, String> {
    let mut rows = rows
        .iter()
        .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()));
    let (_, header) = rows.next().ok_or("the spreadsheet is empty")?;
    let ignored_columns = ignored_columns(header);
    let columns = Columns::of(header)?;
    let mut import = Import::new(name);
    for (n, row) in rows {
        let n = *n;
        if let Err(reason) = import.row(&columns, n, &Cells(row)) {
            import.problems.push(RowProblem { row: n, reason });
        }
    }
    Ok(import.finish(ignored_columns))
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
        let notes: Vec<(&str, String)> = [
            ("faction", row.get(cols.faction)),
            ("expected_action", action_note),
            ("tag", row.get(cols.tag)),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        if !notes.is_empty() {
            let _ = writeln!(self.yaml, "    notes:");
            for (k, v) in notes {
                let _ = writeln!(self.yaml, "      {k}: {}", q(&v));
            }
        }
        Ok(())
    }

    /// The import's outcome, the scenario completed with what goes after its injects.
    fn finish(mut self, ignored_columns: Vec<String>) -> Imported {
        if self.lng {
            self.yaml.push_str("gps_longitude: lng\n");
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

/// The timeline as MEL CSV: one row per occurrence, in firing order.
pub fn export(t: &Timeline) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(COLUMNS);
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
        let note = |k: &str| {
            inject
                .notes
                .as_ref()
                .and_then(|n| n.get(k))
                .map(|v| v.as_str().map_or(v.to_string(), String::from))
                .unwrap_or_default()
        };
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
        let _ = w.write_record([
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
        let _ = w.write_record(row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messy_rows_map_or_are_reported() {
        let text = "\u{feff}tag,MESSAGE,time,From,Method,extra\r\n\r\nt1,Hello,0:05,hm,Email,x\r\n,Bye,00:10:00,hm,social,\r\n,Oops,soon,hm,mail,\r\n,,+15m,,mail,\r\n";
        let rows = csv_rows(text).unwrap();
        let got = import(&rows, "T").unwrap();
        assert_eq!(got.injects, 2);
        assert_eq!(got.ignored_columns, vec!["extra"]);
        assert_eq!(got.problems.len(), 2);
        assert_eq!(got.problems[0].row, 5);
        assert!(got.problems[0].reason.contains("Time"));
        assert_eq!(got.problems[1].row, 6);
        assert!(got.yaml.contains("at: \"00:05:00\""), "{}", got.yaml);
        assert!(got.yaml.contains("channel: \"microblog\""));
        assert!(got.yaml.contains("tag: \"t1\""));
        // The same rows with Unix line ends are numbered the same.
        let unix = import(&csv_rows(&text.replace("\r\n", "\n")).unwrap(), "T").unwrap();
        assert_eq!(unix.problems, got.problems);
    }
}
