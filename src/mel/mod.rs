//! Conducttr's Master Events List (MEL) spreadsheet, both ways.
//!
//! [`import`] turns MEL rows (CSV, or a sheet of an XLSX) into scenario YAML:
//! Time to `at`, From to `persona`, Method to `channel`, To and Team to the recipient,
//! Subject, Message to `body`; an Expected action with a Deadline beside it to `expect`
//! (its id from Expectation, else `<ID>-expected`; its team from Expected of), without
//! a Deadline to a note (and the import says so); a Condition (a JSON object such as
//! `{"missed": "evacuation-ordered"}`) makes the row a contingency, Time then its delay
//! once the condition holds; Faction and Tag become `notes`; Objective (ids, comma
//! separated) the inject's `objectives` (declared with their Core Capability), and
//! Responsible Controller its `owner`. Columns
//! are found by header name, case-insensitively, in any order; blank rows are passed
//! over; a row that cannot be mapped is reported with its row number and the reason.
//! [`export`] writes a scenario as MEL CSV without loss: its header block (name,
//! start, zone, defaults, vars, aliases, objectives: `block`), then one row per inject
//! as the scenario writes it, a `Fields` cell holding, as JSON, exactly what the
//! row's columns do not give back (`written::diff` of what the scenario wrote and what
//! the import derives from the cells), so `import(export(S))` plans as `S` does.
//!
//! Its parts: `import` (rows to YAML), `export` (a scenario to rows), `block` (the
//! header block), `written` (values as cells, the difference and its merge, YAML
//! text), `xlsx` (the workbook).

mod block;
mod export;
mod import;
mod written;
mod xlsx;

pub use export::export;
pub use import::{Options as ImportOptions, import, import_with, parse_map};
pub use xlsx::export_xlsx;

#[cfg(test)]
#[test]
fn methods_read_back_as_their_channels() {
    for c in [
        "mail",
        "microblog",
        "websites",
        "notifications",
        "msngr",
        "videoblog",
        "news",
        "blog",
    ] {
        assert_eq!(channel_of(&mel_method(c)), c);
    }
}

/// MEL columns, as Conducttr names them, plus our ID.
pub const COLUMNS: &[&str] = &[
    "ID",
    "Phase",
    "Time",
    "Repeat",
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
    "Objective",
    "Core Capability",
    "Responsible Controller",
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
    /// The crowds among them (a crowd is one row).
    pub crowds: usize,
    pub problems: Vec<RowProblem>,
    /// Rows imported with something worth saying (an expected action kept as a note).
    pub remarks: Vec<RowProblem>,
    /// Header cells that are not MEL columns (ignored).
    pub ignored_columns: Vec<String>,
    /// The persona names (From) the rows use, each with its row.
    pub personas: Vec<(String, usize)>,
    /// The team names (Team, Expected of) the rows use, each with its row.
    pub teams: Vec<(String, usize)>,
    /// Each inject's first line in the YAML (1-based), with the row it came from.
    pub lines: Vec<(usize, usize)>,
}

impl Imported {
    /// The row the YAML's line `line` came from, if an inject's.
    pub fn row_of_line(&self, line: usize) -> Option<usize> {
        let i = self.lines.partition_point(|(l, _)| *l <= line);
        (i > 0).then(|| self.lines[i - 1].1)
    }
}

/// Rows of cells, each with its 1-based row number in the spreadsheet.
pub type Rows = Vec<(usize, Vec<String>)>;

/// Read a CSV text into rows of cells (a UTF-8 BOM and Windows line ends are fine; a
/// sheet saved with `;` between cells, as Excel does where `,` is the decimal comma, is
/// read as such), each numbered as a spreadsheet numbers it: blank lines are rows, a
/// cell's own line breaks are not.
pub fn csv_rows(text: &str) -> Result<Rows, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    // Line breaks inside the cells of the records read so far.
    let mut inside = 0;
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        // The line the record starts on, counted from its byte offset (blank lines
        // count); the reader's position can rest on the line breaks before it.
        let line = record.position().map_or(rows.len() + 1 + inside, |p| {
            let bytes = text.as_bytes();
            let mut start = (p.byte() as usize).min(bytes.len());
            while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            bytes[..start].iter().filter(|b| **b == b'\n').count() + 1
        });
        let cells: Vec<String> = record.iter().map(|c| c.to_string()).collect();
        rows.push((line - inside, cells));
        inside += record
            .iter()
            .map(|c| c.bytes().filter(|b| *b == b'\n').count())
            .sum::<usize>();
    }
    Ok(rows)
}

/// The cell separator of a CSV text: `;` when its first line has more of them than
/// commas, else `,`.
pub fn delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    }
}

/// Below this many days an Excel time is an elapsed time (a scenario spans at most a
/// year), above it a date.
const ELAPSED_DAYS: f64 = 367.0;

/// Read a sheet of an XLSX workbook into rows of cells: the one named, else the first;
/// with the name of the sheet read.
pub fn xlsx_rows(bytes: &[u8], sheet: Option<&str>) -> Result<(Rows, String), String> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable XLSX workbook ({e})"))?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "the workbook has no sheet `{s}`; its sheets are {}",
                    names.join(", ")
                )
            })?,
        None => names.first().cloned().ok_or("the workbook has no sheet")?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| format!("cannot read the sheet `{name}` ({e})"))?;
    let first = range.start().map_or(0, |(row, _)| row as usize);
    let rows = range
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
                    // An elapsed time (`[hh]:mm:ss`, as `export --format mel-xlsx`
                    // writes it) may pass a day: 26:15:00 is 1.09 days, kept whole. A
                    // date (years of days) is read as the date and time it is.
                    calamine::Data::DateTime(d) if (0.0..ELAPSED_DAYS).contains(&d.as_f64()) => {
                        clock(((d.as_f64() * 86_400.0).round()) as u64)
                    }
                    calamine::Data::DateTime(d) => date_time(d.as_f64()),
                    other => other.to_string(),
                })
                .collect();
            (first + i + 1, cells)
        })
        .collect();
    Ok((rows, name))
}

/// An Excel date (days since 1899-12-30, the time of day its fraction) as
/// `YYYY-MM-DD HH:MM:SS`.
fn date_time(serial: f64) -> String {
    let secs = (serial * 86_400.0).round() as i64;
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d + chrono::Duration::seconds(secs))
        .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// The header block of a workbook: its `Scenario` sheet's rows, when it has one and it
/// is not the sheet read.
pub fn xlsx_block(bytes: &[u8], read: &str) -> Rows {
    if read == "Scenario" {
        return Vec::new();
    }
    xlsx_rows(bytes, Some("Scenario")).map_or_else(|_| Vec::new(), |(rows, _)| rows)
}

fn clock(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A name as a key of a YAML mapping (`resident`, `"@portmere_news"`).
pub fn yaml_key(name: &str) -> String {
    written::key(name)
}

/// A value as YAML flow text (strings double-quoted, mappings `{ k: v }`).
pub fn flow(v: &serde_json::Value) -> String {
    written::flow(v)
}

/// A Conducttr channel as a MEL's Method names it (what [`channel_of`] reads back).
pub fn mel_method(channel: &str) -> String {
    match channel {
        "mail" => "Email".into(),
        "microblog" => "Social".into(),
        "websites" => "Website".into(),
        "notifications" => "Pop-up".into(),
        "msngr" => "Chat".into(),
        "videoblog" => "Video".into(),
        other => other.into(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_numbers_them() {
        // A cell with two line breaks (row 2), a blank line (row 3), then row 4.
        let text = "Time,Message\r\n00:01:00,\"one\r\ntwo\nthree\"\r\n\r\n00:02:00,four\r\n";
        let rows = csv_rows(text).unwrap();
        let numbers: Vec<usize> = rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 2, 4]);
        // Excel's CSV where the comma is the decimal one: `;` between cells.
        let semi = csv_rows("Time;From;Method;Message\n00:01:00;hm;Email;Hello, all\n").unwrap();
        assert_eq!(semi[1].1, ["00:01:00", "hm", "Email", "Hello, all"]);
    }

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
