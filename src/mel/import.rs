//! The import: MEL rows to scenario YAML. Above the header (the first non-blank row
//! that is not the scenario's header block), the block; below it each row an inject,
//! an expected action of no inject, or a problem with its row number. What a row's
//! columns give ([`Import::derive`]) with its `Fields` laid over it is the inject:
//! `export` writes as `Fields` exactly what the columns do not give, so a round trip
//! gives back the scenario.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use super::block::{self, Block};
use super::written::{flow, key, merge, quote, time_cell};
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
    (
        "Clock time",
        &[
            "local time",
            "wall clock",
            "wall time",
            "clock",
            "date/time",
            "date time",
            "datetime",
        ],
    ),
    ("Repeat", &["recurrence", "repeats"]),
];

/// Columns an import reads that an export does not write: a time of day (or a date
/// and time) of each row, made an offset from the start.
const IMPORT_COLUMNS: &[&str] = &["Clock time"];

/// How a sheet's header row is read: the header names the user maps to MEL columns
/// (`--map "Inject=Message"`), and which row is the header (`--header-row`).
#[derive(Debug, Default)]
pub struct Options {
    pub map: Vec<(String, String)>,
    pub header_row: Option<usize>,
    /// The scenario's name (`--name`), over the block's.
    pub name: Option<String>,
    /// The exercise's start (`--start`), over the block's: what dates and clock times
    /// in the rows count from.
    pub start: Option<String>,
    /// The header block from elsewhere: a workbook's `Scenario` sheet.
    pub block: Rows,
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
                .chain(IMPORT_COLUMNS)
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
        return COLUMNS
            .iter()
            .chain(IMPORT_COLUMNS)
            .copied()
            .find(|c| *c == to.as_str());
    }
    COLUMNS
        .iter()
        .chain(IMPORT_COLUMNS)
        .copied()
        .find(|c| header_name(c) == h)
        .or_else(|| {
            SYNONYMS
                .iter()
                .find(|(_, names)| names.contains(&h.as_str()))
                .map(|(c, _)| *c)
        })
}

/// Turn MEL rows into a scenario: the header block (rows whose first cell is one of
/// its keys), then the header, the first non-blank row after it or the row `options`
/// names; header cells are mapped to MEL columns (see [`canonical`]); a column that
/// maps to nothing is kept in each inject's `notes`.
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
    let mut block_rows: Rows = options.block.clone();
    while let Some((n, r)) = rows.peek() {
        let header_like = r
            .iter()
            .any(|c| matches!(canonical(c, &options.map), Some("Time" | "Clock time")));
        if options.header_row.is_some()
            || header_like
            || !r.first().is_some_and(|c| block::is_key(c))
        {
            break;
        }
        block_rows.push((*n, r.clone()));
        rows.next();
    }
    let (header_row, written) = rows.next().ok_or("the spreadsheet is empty")?;
    let header: Vec<String> = written
        .iter()
        .map(|h| canonical(h, &options.map).map_or_else(|| h.clone(), String::from))
        .collect();
    let mut warnings = Vec::new();
    for (from, to) in &options.map {
        if !written.iter().any(|w| header_name(w) == header_name(from)) {
            warnings.push(RowProblem {
                row: *header_row,
                reason: format!(
                    "--map names `{from}` (as {to}), but no header cell is `{from}`; the header's cells are {}",
                    written
                        .iter()
                        .filter(|w| !w.trim().is_empty())
                        .map(|w| format!("`{w}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    for (i, h) in header.iter().enumerate() {
        if let Some(j) = header[..i]
            .iter()
            .position(|o| !h.trim().is_empty() && header_name(o) == header_name(h))
            && (COLUMNS.contains(&h.as_str()) || IMPORT_COLUMNS.contains(&h.as_str()))
        {
            return Err(format!(
                "two columns are read as {h}: `{}` and `{}` (row {header_row}); map one elsewhere with --map, or rename it",
                written[j], written[i]
            ));
        }
    }
    let ignored_columns = ignored_columns(&header);
    let mut columns = Columns::of(&header).map_err(|e| {
        let mapped: Vec<String> = written
            .iter()
            .zip(&header)
            .filter(|(w, h)| w != h)
            .map(|(w, h)| format!("{w} as {h}"))
            .collect();
        let e = format!("{e} (row {header_row} was read as the header)");
        if mapped.is_empty() {
            e
        } else {
            format!("{e} (read {})", mapped.join(", "))
        }
    })?;
    columns.keep(&header, &ignored_columns);
    let mut problems = Vec::new();
    let sheet = if options.block.is_empty() {
        ""
    } else {
        "the Scenario sheet: "
    };
    let block = Block::read(&block_rows, sheet, &mut problems);
    let name = options
        .name
        .clone()
        .or_else(|| block.name.clone())
        .unwrap_or_else(|| name.to_string());
    let mut import = Import::new(&name, block, options.start.as_deref())?;
    import.problems = problems;
    import.remarks = warnings;
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

/// Whether a header cell names a MEL column (by its name or a known synonym).
pub(super) fn is_column(cell: &str) -> bool {
    canonical(cell, &[]).is_some()
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
            !h.trim().is_empty()
                && !COLUMNS
                    .iter()
                    .chain(IMPORT_COLUMNS)
                    .any(|c| header_name(c) == header_name(h))
        })
        .cloned()
        .collect()
}

/// Where each column the import reads is in the header row.
pub(super) struct Columns {
    phase: Option<usize>,
    time: Option<usize>,
    clock: Option<usize>,
    repeat: Option<usize>,
    from: Option<usize>,
    method: Option<usize>,
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
    /// Keep the columns `ignored` (no MEL column) in each inject's `notes`.
    pub(super) fn keep(&mut self, header: &[String], ignored: &[String]) {
        self.kept = header
            .iter()
            .enumerate()
            .filter(|(_, h)| ignored.contains(h))
            .map(|(i, h)| (i, h.trim().to_string()))
            .collect();
    }

    /// Where each column is in `header`; an error naming those it lacks: a time (Time
    /// or Clock time), From and Method.
    pub(super) fn of(header: &[String]) -> Result<Columns, String> {
        let col = |name: &str| {
            header
                .iter()
                .position(|h| header_name(h) == header_name(name))
        };
        let (time, clock) = (col("Time"), col("Clock time"));
        let mut missing: Vec<&str> = ["From", "Method"]
            .into_iter()
            .filter(|c| col(c).is_none())
            .collect();
        if time.is_none() && clock.is_none() {
            missing.insert(0, "Time");
        }
        if !missing.is_empty() {
            return Err(format!(
                "the header row lacks the column(s) {}; found {:?}",
                missing.join(", "),
                header
            ));
        }
        Ok(Columns {
            phase: col("Phase"),
            time,
            clock,
            repeat: col("Repeat"),
            from: col("From"),
            method: col("Method"),
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
pub(super) struct Cells<'a>(pub(super) &'a [String]);

impl Cells<'_> {
    /// The cell in column `c`, trimmed; empty when there is no such column or cell.
    fn get(&self, c: Option<usize>) -> String {
        c.and_then(|c| self.0.get(c))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The cell in column `c` as it is (a message's line breaks and indentation are its
    /// own); empty when it is blank.
    fn raw(&self, c: Option<usize>) -> String {
        c.and_then(|c| self.0.get(c))
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .unwrap_or_default()
    }
}

/// What a row's columns give, before its `Fields` are laid over it.
pub(super) enum Derived {
    Inject(Map<String, Value>),
    /// A crowd (`crowds:`): a row whose Repeat gives its window (`between`).
    Crowd(Map<String, Value>),
    /// An expected action of no inject (`expectations:`).
    Expectation(Map<String, Value>),
}

/// An import under way: the scenario written so far and what was said of the rows.
pub(super) struct Import {
    name: String,
    block: Block,
    /// T0, for dates and clock times in the rows, and as the scenario writes it.
    start: Option<(String, DateTime<FixedOffset>)>,
    injects_yaml: String,
    /// The crowds, as `crowds:` lists them.
    crowds_yaml: String,
    injects: usize,
    crowds: usize,
    problems: Vec<RowProblem>,
    remarks: Vec<RowProblem>,
    /// Expected actions of no inject, each as a line of `expectations:`.
    free: Vec<String>,
    /// Whether a move's longitude came as `lng` (the scenario then says so).
    lng: bool,
    /// The inject ids given so far, with their rows.
    used_ids: std::collections::HashMap<String, usize>,
    /// The objectives the rows name that the block does not declare, in order, each
    /// with the capability first given and its first row.
    objectives: Vec<(String, String, usize)>,
    /// Rows whose Time is a date or a clock time, read with no start to count from.
    unstarted: Vec<usize>,
    /// The persona and team names the rows use, with their rows.
    personas: Vec<(String, usize)>,
    teams: Vec<(String, usize)>,
    /// Each inject's first line in `injects_yaml` (0-based), with its row.
    lines: Vec<(usize, usize)>,
    /// The first date a Time cell holds, for an example of `--start`.
    first_date: Option<String>,
    /// Whether a Time cell holds a date, and the rows whose Time reads like a clock
    /// (`10:30`), each read as an offset: said when the sheet mixes the two.
    dated: bool,
    clock_like: Vec<(usize, String)>,
}

impl Import {
    /// An import of a scenario called `name`, with its header `block` read and nothing
    /// else; `start` (`--start`) over the block's.
    pub(super) fn new(name: &str, block: Block, start: Option<&str>) -> Result<Import, String> {
        let zone = match block.timezone.as_deref() {
            Some(z) => Some(z.parse::<chrono_tz::Tz>().map_err(|_| {
                format!("the time zone `{z}` is not one of the IANA zones (e.g. Europe/London)")
            })?),
            None => None,
        };
        let start = match start.map(str::to_string).or_else(|| block.start.clone()) {
            Some(text) => {
                let t0 = crate::scenario::parse_start(&text, zone).map_err(|(m, h)| {
                    if zone.is_none() && !text.contains('+') && !text.ends_with('Z') {
                        format!(
                            "the start `{text}` has no UTC offset: write it with one (`{text}+01:00`, `{text}Z`), or give the sheet a `Time zone` row (Europe/London)"
                        )
                    } else {
                        format!(
                            "the start {m}{}",
                            h.map_or(String::new(), |h| format!(" ({h})"))
                        )
                    }
                })?;
                Some((text, t0))
            }
            None => None,
        };
        Ok(Import {
            name: name.to_string(),
            block,
            start,
            injects_yaml: String::new(),
            crowds_yaml: String::new(),
            injects: 0,
            crowds: 0,
            problems: Vec::new(),
            remarks: Vec::new(),
            free: Vec::new(),
            lng: false,
            used_ids: std::collections::HashMap::new(),
            objectives: Vec::new(),
            unstarted: Vec::new(),
            personas: Vec::new(),
            teams: Vec::new(),
            lines: Vec::new(),
            first_date: None,
            dated: false,
            clock_like: Vec::new(),
        })
    }

    /// Read row `n`: an inject, or an expected action of no inject; the reason when it
    /// can be neither (what was written of it stays).
    fn row(&mut self, cols: &Columns, n: usize, row: &Cells) -> Result<(), String> {
        let fields = match fields_cell(row.get(cols.fields)) {
            Ok(f) => f,
            Err(why) => {
                // The row is kept without them (what names it stays whole), said as a
                // problem of its own.
                self.problems.push(RowProblem {
                    row: n,
                    reason: format!("{why}; the row was imported without its Fields"),
                });
                Map::new()
            }
        };
        match self.derive(cols, n, row)? {
            Derived::Expectation(mut e) => {
                merge(&mut e, fields);
                self.free.push(format!("  - {}\n", flow(&Value::Object(e))));
            }
            Derived::Crowd(mut crowd) => {
                merge(&mut crowd, fields);
                let mut entries = crowd.into_iter();
                if let Some((k, v)) = entries.next() {
                    let _ = writeln!(self.crowds_yaml, "  - {}: {}", key(&k), flow(&v));
                }
                for (k, v) in entries {
                    let _ = writeln!(self.crowds_yaml, "    {}: {}", key(&k), flow(&v));
                }
                self.crowds += 1;
            }
            Derived::Inject(mut inject) => {
                let fields = self.old_gps_fields(&inject, fields);
                merge(&mut inject, fields);
                let line = self.injects_yaml.lines().count();
                self.lines.push((line, n));
                let mut entries = inject.into_iter();
                if let Some((k, v)) = entries.next() {
                    let _ = writeln!(self.injects_yaml, "  - {}: {}", key(&k), flow(&v));
                }
                for (k, v) in entries {
                    let _ = writeln!(self.injects_yaml, "    {}: {}", key(&k), flow(&v));
                }
                self.injects += 1;
            }
        }
        Ok(())
    }

    /// An older export's `Fields` for a persona move held its coordinates at the top
    /// (`lat`, `lon` or `lng`): they go into `gps`.
    fn old_gps_fields(
        &mut self,
        inject: &Map<String, Value>,
        mut fields: Map<String, Value>,
    ) -> Map<String, Value> {
        if !inject.contains_key("gps") || !fields.contains_key("lat") {
            return fields;
        }
        let mut gps = Map::new();
        gps.insert(
            "lat".into(),
            fields.shift_remove("lat").unwrap_or(Value::Null),
        );
        let lon = match fields.shift_remove("lng") {
            Some(v) => {
                self.lng = true;
                v
            }
            None => fields.shift_remove("lon").unwrap_or(Value::Null),
        };
        gps.insert("lon".into(), lon);
        fields.shift_remove("location");
        fields.insert("gps".into(), Value::Object(gps));
        fields
    }

    /// What row `n`'s columns give: an inject's fields in order, or an expected action
    /// of no inject.
    pub(super) fn derive(
        &mut self,
        cols: &Columns,
        n: usize,
        row: &Cells,
    ) -> Result<Derived, String> {
        let repeat = repeat_cell(&row.get(cols.repeat))?;
        let cron = repeat.contains_key("cron");
        let time = if cron && row.get(cols.time).is_empty() && row.get(cols.clock).is_empty() {
            None
        } else {
            Some(self.offset(cols, n, row)?)
        };
        let (persona, method) = (row.get(cols.from), row.get(cols.method));
        // A row with an Expected action and nothing to send: an expected action of no
        // inject, due by its Time (`expectations:`).
        if persona.is_empty()
            && method.is_empty()
            && row.get(cols.message).is_empty()
            && row.get(cols.subject).is_empty()
            && !row.get(cols.action).is_empty()
        {
            let id = expectation_id(&row.get(cols.expectation), || format!("row-{n}-expected"));
            let mut e = Map::new();
            e.insert("id".into(), Value::String(id));
            e.insert("action".into(), Value::String(row.get(cols.action)));
            e.insert(
                "by".into(),
                Value::String(time_cell(time.unwrap_or_default())),
            );
            self.whose(&mut e, cols, n, row);
            self.objectives_of(&mut e, cols, n, row);
            return Ok(Derived::Expectation(e));
        }
        let id = self.id(cols, n, row);
        let condition = condition_cell(row.get(cols.condition))?;
        let mut m = Map::new();
        m.insert("id".into(), Value::String(id.clone()));
        let t = || Value::String(time_cell(time.unwrap_or_default()));
        let zero = time.is_none_or(|d| d.is_zero());
        match &condition {
            Some(c) => {
                m.insert("when".into(), c.clone());
                if !zero {
                    m.insert("after".into(), t());
                }
            }
            None if repeat.contains_key("every") => {
                if !zero {
                    m.insert("from".into(), t());
                }
            }
            None if cron => {
                if time.is_some() {
                    return Err("Time is set, but Repeat has a cron pattern, which sets the times: clear one".into());
                }
            }
            None => {
                m.insert("at".into(), t());
            }
        }
        m.extend(repeat);
        let default = |k: &str| self.block.defaults.get(k).cloned();
        if persona.is_empty() {
            if default("persona").is_none() {
                return Err("From is empty: every inject needs a persona".into());
            }
        } else if default("persona") != Some(Value::String(persona.clone())) {
            // A crowd's From lists its voices.
            if m.contains_key("between") {
                for voice in persona.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                    self.personas.push((voice.to_string(), n));
                }
            } else {
                self.personas.push((persona.clone(), n));
            }
            m.insert("persona".into(), Value::String(persona));
        }
        let gps = method.trim().eq_ignore_ascii_case("gps");
        let channel = channel_of(&method);
        if gps {
        } else if channel.is_empty() {
            if default("channel").is_none() {
                return Err("Method is empty: every inject needs a channel".into());
            }
        } else if default("channel") != Some(Value::String(channel.clone())) {
            m.insert("channel".into(), Value::String(channel.clone()));
        }
        let channel = if channel.is_empty() {
            default("channel")
                .and_then(|c| c.as_str().map(String::from))
                .unwrap_or_default()
        } else {
            channel
        };
        self.recipient(&mut m, cols, n, row, &channel);
        let message = row.raw(cols.message);
        if gps {
            let mut g = Map::new();
            g.insert("location".into(), Value::String(message));
            m.insert("gps".into(), Value::Object(g));
        } else if !message.is_empty() {
            m.insert("body".into(), Value::String(message));
        }
        let action_note = self.expect(&mut m, cols, n, row, &id)?;
        self.objectives_of(&mut m, cols, n, row);
        let owner = row.get(cols.owner);
        if !owner.is_empty() {
            m.insert("owner".into(), Value::String(owner));
        }
        let mut notes = Map::new();
        for (k, v) in [
            ("faction", row.get(cols.faction)),
            ("expected_action", action_note),
            ("tag", row.get(cols.tag)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        // Columns that map to nothing, kept by their header.
        .chain(
            cols.kept
                .iter()
                .map(|(i, h)| (h.clone(), row.get(Some(*i)))),
        ) {
            if !v.is_empty() {
                notes.insert(k, Value::String(v));
            }
        }
        if !notes.is_empty() {
            m.insert("notes".into(), Value::Object(notes));
        }
        let phase = row.get(cols.phase);
        if !phase.is_empty() {
            m.insert("phase".into(), Value::String(phase));
        }
        if m.contains_key("between") {
            return Ok(Derived::Crowd(crowd_of(m)));
        }
        Ok(Derived::Inject(m))
    }

    /// Row `n`'s inject id: its ID (characters no id has made `-`), else `row-N`, said.
    fn id(&mut self, cols: &Columns, n: usize, row: &Cells) -> String {
        let written = row.get(cols.id);
        let mut id = written.replace(['#', '@', ',', ' '], "-");
        if !id.is_empty() && id != written {
            self.remark(
                n,
                format!("ID `{written}` is not an inject id: written `{id}`"),
            );
        }
        if id.is_empty() {
            id = format!("row-{n}");
            if cols.id.is_some() {
                self.remark(n, format!("no ID: named `{id}`"));
            }
        } else if let Some(first) = self.used_ids.get(&id) {
            let first = *first;
            let again = format!("row-{n}");
            self.remark(
                n,
                format!("ID `{id}` is row {first}'s too: named `{again}`"),
            );
            id = again;
        }
        self.used_ids.insert(id.clone(), n);
        id
    }

    fn remark(&mut self, row: usize, reason: String) {
        self.remarks.push(RowProblem { row, reason });
    }

    /// Row `n`'s Time as an offset from T0: an elapsed time (`00:05:00`, `26:15:00`,
    /// `5m`), or a date and time (or, in Clock time, a time of day) counted from the
    /// start.
    fn offset(&mut self, cols: &Columns, n: usize, row: &Cells) -> Result<Duration, String> {
        let (time, clock) = (row.get(cols.time), row.get(cols.clock));
        if !time.is_empty() && !looks_like_date(&time) {
            if time.contains(':') {
                self.clock_like.push((n, time.clone()));
            }
            return crate::scenario::parse_offset_str(&time).map_err(|(m, _)| {
                format!("Time: {m}; write an offset from the start (00:05:00, 26:15:00, 5m, 1h30m) or a date and time (2026-03-28 10:30)")
            });
        }
        if looks_like_date(&time) {
            self.dated = true;
        }
        let (column, text) = if time.is_empty() {
            ("Clock time", clock)
        } else {
            ("Time", time)
        };
        if text.is_empty() {
            return Err("Time is empty: every row needs one (an offset such as 00:05:00, or a date and time)".into());
        }
        let Some((start_text, t0)) = self.start.clone() else {
            self.unstarted.push(n);
            if looks_like_date(&text) && self.first_date.is_none() {
                self.first_date = Some(text.chars().take(10).collect());
            }
            return Err(format!(
                "{column} `{text}` is a date or a clock time, and the sheet gives no start to count from"
            ));
        };
        let zone = self
            .block
            .timezone
            .as_deref()
            .and_then(|z| z.parse::<chrono_tz::Tz>().ok());
        // A date and time without an offset is in the scenario's zone, else the start's.
        let local = |text: &str| {
            crate::scenario::parse_start(text, zone).or_else(|e| {
                [
                    "%Y-%m-%d %H:%M:%S",
                    "%Y-%m-%dT%H:%M:%S",
                    "%Y-%m-%d %H:%M",
                    "%Y-%m-%dT%H:%M",
                ]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(text.trim(), f).ok())
                .and_then(|n| n.and_local_timezone(*t0.offset()).single())
                .ok_or(e)
            })
        };
        let (at, what) = if looks_like_date(&text) {
            let at = local(&text).map_err(|(m, _)| format!("{column}: {m}"))?;
            (at, "a date and time")
        } else {
            // A time of day: on the start's day.
            let clock = crate::scenario::parse_offset_str(&text)
                .ok()
                .filter(|d| d.as_secs() < 24 * 3600)
                .ok_or(format!(
                    "{column} `{text}` is not a time of day such as 09:30"
                ))?;
            let day = t0.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default()
                + chrono::Duration::from_std(clock).unwrap_or_default();
            let at = local(&day.format("%Y-%m-%d %H:%M:%S").to_string())
                .map_err(|_| format!("{column} `{text}` does not exist on the start's day"))?;
            (at, "a time of day")
        };
        let d = (at - t0)
            .to_std()
            .map_err(|_| format!("{column} `{text}` is before the start ({start_text})"))?;
        self.remark(
            n,
            format!(
                "{column} `{text}` read as {what}: {} from the start ({start_text})",
                crate::human::show_offset(d)
            ),
        );
        Ok(d)
    }

    /// Who the row goes to: a team (Team: an id, a name, or several, comma-separated),
    /// an address, a position or role (`position: CEO` in To); and its Subject, an
    /// article's title on an article channel.
    fn recipient(
        &mut self,
        m: &mut Map<String, Value>,
        cols: &Columns,
        n: usize,
        row: &Cells,
        channel: &str,
    ) {
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
        let typed = self.block.defaults.contains_key("type");
        if !team.is_empty() {
            if !typed {
                m.insert("type".into(), Value::String("team".into()));
            }
            let teams: Vec<Value> = team.split(',').map(|t| team_value(t.trim())).collect();
            for t in teams.iter().filter_map(Value::as_str) {
                self.teams.push((t.to_string(), n));
            }
            let value = if teams.len() == 1 {
                teams.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(teams)
            };
            m.insert("team_id".into(), value);
        } else if !to.is_empty() && !typed {
            m.insert("type".into(), Value::String("individual".into()));
        }
        if !to.is_empty() {
            m.insert("to".into(), Value::String(to));
        }
        let subject = row.get(cols.subject);
        if !subject.is_empty() {
            let field = if ARTICLE_CHANNELS.contains(&channel) {
                "title"
            } else {
                "subject"
            };
            m.insert(field.into(), Value::String(subject));
        }
        if let Some((field, value)) = addressee {
            m.insert(field.into(), Value::String(value));
        }
    }

    /// The row's expected action: with a Deadline (`15m`, `00:15:00`) judged live
    /// (`expect`); without one, the note it returns (and a remark says so).
    fn expect(
        &mut self,
        m: &mut Map<String, Value>,
        cols: &Columns,
        n: usize,
        row: &Cells,
        id: &str,
    ) -> Result<String, String> {
        let (action, deadline) = (row.get(cols.action), row.get(cols.deadline));
        if action.is_empty() {
            return Ok(String::new());
        }
        if deadline.is_empty() {
            self.remark(
                n,
                "Expected action has no Deadline beside it: kept as a note, not judged live".into(),
            );
            return Ok(action);
        }
        let d = crate::scenario::parse_offset_str(&deadline)
            .map_err(|(m, _)| format!("Deadline: {m}"))?;
        let mut e = Map::new();
        e.insert(
            "id".into(),
            Value::String(expectation_id(&row.get(cols.expectation), || {
                format!("{id}-expected")
            })),
        );
        e.insert("action".into(), Value::String(action));
        e.insert("within".into(), Value::String(time_cell(d)));
        self.whose(&mut e, cols, n, row);
        m.insert("expect".into(), Value::Object(e));
        Ok(String::new())
    }

    /// An expected action's team, from Expected of.
    fn whose(&mut self, e: &mut Map<String, Value>, cols: &Columns, n: usize, row: &Cells) {
        let team = row.get(cols.expected_of);
        if !team.is_empty() {
            let value = team_value(&team);
            if value.is_string() {
                self.teams.push((team.clone(), n));
            }
            e.insert("team".into(), value);
        }
    }

    /// The row's Objective (ids, comma separated) as `objectives`, each kept to declare
    /// (unless the block does) with the capability beside it.
    fn objectives_of(&mut self, m: &mut Map<String, Value>, cols: &Columns, n: usize, row: &Cells) {
        let ids: Vec<String> = row
            .get(cols.objective)
            .split([',', ';'])
            .map(|s| s.trim().replace(['#', '@', ' '], "-"))
            .filter(|s| !s.is_empty())
            .collect();
        let capability = row.get(cols.capability);
        for id in &ids {
            if let Some((_, declared)) = self.block.objectives.iter().find(|(o, _)| o == id) {
                // The block declares it: a capability written otherwise here is said.
                if ids.len() == 1 && !capability.is_empty() && capability != *declared {
                    let said = format!(
                        "Core Capability `{capability}` is not objective {id}'s (`{declared}`, in the header block): the block's stands; change it there"
                    );
                    self.remark(n, said);
                }
            } else if !self.objectives.iter().any(|(o, _, _)| o == id) {
                // A row of one objective says its capability; several share theirs.
                let cap = if ids.len() == 1 || !capability.contains(';') {
                    capability.clone()
                } else {
                    String::new()
                };
                self.objectives.push((id.clone(), cap, n));
            }
        }
        if !ids.is_empty() {
            m.insert(
                "objectives".into(),
                Value::Array(ids.into_iter().map(Value::String).collect()),
            );
        }
    }

    /// The import's outcome: the scenario's text in order (name, header block,
    /// injects, objectives, expected actions of no inject).
    fn finish(mut self, ignored_columns: Vec<String>) -> Imported {
        let mut yaml = format!(
            "# yaml-language-server: $schema=../injector.schema.json\n# Imported from a Master Events List.\nname: {}\n",
            quote(&self.name)
        );
        if let Some((start, _)) = &self.start {
            let _ = writeln!(yaml, "start: {}", quote(start));
        }
        yaml.push_str(self.block.head());
        yaml.push_str("injects:\n");
        let base = yaml.lines().count();
        yaml.push_str(&self.injects_yaml);
        if !self.crowds_yaml.is_empty() {
            yaml.push_str("crowds:\n");
            yaml.push_str(&self.crowds_yaml);
        }
        match &self.block.gps_longitude {
            Some(g) => {
                let _ = writeln!(yaml, "gps_longitude: {}", quote(g));
            }
            None if self.lng => yaml.push_str("gps_longitude: lng\n"),
            None => {}
        }
        if !self.objectives.is_empty() || !self.block.objectives.is_empty() {
            yaml.push_str("objectives:\n");
            yaml.push_str(self.block.objectives_yaml());
        }
        if !self.objectives.is_empty() {
            // The MEL names objectives, not what they say: each is declared with its id
            // as its text, for the designer to write out.
            for (id, capability, _) in &self.objectives {
                let cap = if capability.is_empty() {
                    String::new()
                } else {
                    format!(", capability: {}", quote(capability))
                };
                let _ = writeln!(
                    yaml,
                    "  - {{ id: {}, text: {}{cap} }}",
                    quote(id),
                    quote(id)
                );
            }
            let named: Vec<String> = self
                .objectives
                .iter()
                .map(|(id, _, row)| format!("{id} (row {row})"))
                .collect();
            self.remarks.push(RowProblem {
                row: self.objectives[0].2,
                reason: format!(
                    "{} named in the Objective column and not declared: {}; each is declared under `objectives:` with its id as its text: write out what each evaluates",
                    crate::human::count(self.objectives.len(), "objective", "objectives"),
                    named.join(", ")
                ),
            });
        }
        if !self.free.is_empty() {
            yaml.push_str("expectations:\n");
            for e in &self.free {
                yaml.push_str(e);
            }
        }
        if self.dated && !self.clock_like.is_empty() {
            // Other rows give dates: a bare `10:30` may have meant a time of day.
            let (row, text) = &self.clock_like[0];
            let others: Vec<String> = self.clock_like[1..]
                .iter()
                .map(|(r, _)| r.to_string())
                .collect();
            let also = if others.is_empty() {
                " is read as an offset".to_string()
            } else {
                format!(
                    " (and the Time of row {}) are read as offsets",
                    others.join(", ")
                )
            };
            self.remarks.push(RowProblem {
                row: *row,
                reason: format!(
                    "Time `{text}`{also} from the start, though other rows give dates and times: for a time of day write the date too (2026-03-28 {text}), or use a Clock time column"
                ),
            });
        }
        if let Some(first) = self.unstarted.first() {
            let rows: Vec<String> = self.unstarted.iter().map(ToString::to_string).collect();
            // One problem for them all, first among the problems of its rows.
            self.problems.retain(|p| !self.unstarted.contains(&p.row));
            self.problems.push(RowProblem {
                row: *first,
                reason: format!(
                    "{} ({} {}) {} a date or a clock time, and the sheet gives no start to count from: give the exercise's start with its UTC offset, e.g. --start {}T09:00:00+00:00, or a `Start` row above the header",
                    crate::human::count(rows.len(), "row", "rows"),
                    if rows.len() == 1 { "row" } else { "rows" },
                    rows.join(", "),
                    if rows.len() == 1 { "holds" } else { "hold" },
                    self.first_date.as_deref().unwrap_or("2026-03-28")
                ),
            });
            self.problems.sort_by_key(|p| p.row);
        }
        Imported {
            yaml,
            injects: self.injects,
            crowds: self.crowds,
            problems: self.problems,
            remarks: self.remarks,
            ignored_columns,
            personas: self.personas,
            teams: self.teams,
            lines: self
                .lines
                .iter()
                .map(|(l, row)| (base + l + 1, *row))
                .collect(),
        }
    }
}

/// Whether a Time cell is a date (and time): `2026-03-28 09:30`, `2026-03-28T09:30:00Z`.
fn looks_like_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
}

/// A team as a Team or Expected of cell names it: an id (digits) as a number, else the
/// name or alias.
fn team_value(t: &str) -> Value {
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>()
            .map_or_else(|_| Value::String(t.into()), Value::from)
    } else {
        Value::String(t.into())
    }
}

/// A crowd's row as the inject the columns read: its Time (the window's start) left
/// out, From its voices, Message its posts (one a line), `between`, `count` or `rate`
/// and `curve` from Repeat.
fn crowd_of(m: Map<String, Value>) -> Map<String, Value> {
    let mut c = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "at" | "from" => {}
            "persona" => {
                let voices: Vec<Value> = v
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .map(|p| Value::String(p.trim().to_string()))
                    .filter(|p| p.as_str() != Some(""))
                    .collect();
                c.insert("personas".into(), Value::Array(voices));
            }
            "body" => {
                let posts: Vec<Value> = v
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect();
                c.insert("posts".into(), Value::Array(posts));
            }
            _ => {
                c.insert(k, v);
            }
        }
    }
    c
}

/// A Repeat cell (`every: 10m, count: 6`, `cron: "0 9 * * *"`, a crowd's `between:
/// [20m, 1h10m], count: 150`): its fields (none when empty).
fn repeat_cell(text: &str) -> Result<Map<String, Value>, String> {
    const KNOWN: &[&str] = &[
        "every", "count", "until", "cron", "from", "between", "rate", "curve",
    ];
    if text.is_empty() {
        return Ok(Map::new());
    }
    let bad = || {
        format!(
            "Repeat `{text}` is not a recurrence such as `every: 10m, count: 6` or `cron: \"0 9 * * *\"`"
        )
    };
    let node = crate::yaml::parse(&format!("{{{text}}}")).map_err(|_| bad())?;
    let Value::Object(map) = node.to_json() else {
        return Err(bad());
    };
    if let Some(k) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("Repeat: `{k}` is not one of {}", KNOWN.join(", ")));
    }
    Ok(map)
}

/// A `Fields` cell: what an export's columns do not carry, a JSON object (none when
/// empty).
fn fields_cell(text: String) -> Result<Map<String, Value>, String> {
    if text.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("Fields is not a JSON object (as `export` writes it)".into()),
    }
}

/// A `Condition` cell: a contingency's condition, a JSON object (none when empty).
fn condition_cell(text: String) -> Result<Option<Value>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        _ => Err(
            "Condition is not a JSON object such as {\"missed\": \"evacuation-ordered\"}".into(),
        ),
    }
}
