//! The export as a real workbook (`export --format mel-xlsx`): the MEL's rows on an
//! `Injects` sheet (the first: `import` reads it back as it reads the CSV) with a bold,
//! frozen header, widths that fit, times as Excel elapsed times (`[hh]:mm:ss`) and
//! drop-down lists for From, Team and Method from the scenario's own values; the
//! expected actions and contingencies on a sheet of their own, for reading (the
//! Injects sheet is what is read back); the scenario's header block on a third
//! (`Scenario`, read back with the injects). The lists live on a hidden sheet.

use rust_xlsxwriter::{DataValidation, Format, Formula, Workbook, Worksheet, XlsxError};

use super::COLUMNS;
use crate::timeline::Timeline;

/// The widest a column is made: a message or `Fields` wraps past it.
const MAX_WIDTH: f64 = 60.0;

/// Seconds of `HH:MM:SS` (hours may pass 24).
fn seconds(text: &str) -> Option<u64> {
    let mut parts = text.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(h * 3600 + m * 60 + s)
}

/// Where a MEL column is.
fn col(name: &str) -> u16 {
    COLUMNS
        .iter()
        .position(|c| *c == name)
        .and_then(|i| u16::try_from(i).ok())
        .unwrap_or(0)
}

/// The workbook's bytes.
pub fn export_xlsx(t: &Timeline, start: Option<&str>) -> Result<Vec<u8>, String> {
    build(t, start).map_err(|e| format!("the workbook could not be written ({e})"))
}

fn build(t: &Timeline, start: Option<&str>) -> Result<Vec<u8>, XlsxError> {
    let (header, rows) = super::export::records(&t.scenario);
    let mut book = Workbook::new();
    book.push_worksheet(injects_sheet(&header, &rows)?);
    book.push_worksheet(branches_sheet(t)?);
    book.push_worksheet(scenario_sheet(t, start)?);
    book.push_worksheet(lists_sheet(&rows)?);
    book.save_to_buffer()
}

/// The distinct values of column `c` of `rows`, in order of first use.
fn values(rows: &[Vec<String>], c: u16) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for v in rows.iter().filter_map(|r| r.get(usize::from(c))) {
        if !v.is_empty() && !out.contains(&v.as_str()) {
            out.push(v);
        }
    }
    out
}

/// The drop-down lists' sheet, hidden: From, Team and Method, a column each.
fn lists_sheet(rows: &[Vec<String>]) -> Result<Worksheet, XlsxError> {
    let mut sheet = Worksheet::new();
    sheet.set_name("Lists")?;
    for (i, name) in ["From", "Team", "Method"].into_iter().enumerate() {
        let c = u16::try_from(i).unwrap_or(0);
        sheet.write_string(0, c, name)?;
        for (r, v) in values(rows, col(name)).into_iter().enumerate() {
            sheet.write_string(u32::try_from(r + 1).unwrap_or(u32::MAX - 1), c, v)?;
        }
    }
    sheet.set_hidden(true);
    Ok(sheet)
}

fn injects_sheet(header: &[String], rows: &[Vec<String>]) -> Result<Worksheet, XlsxError> {
    let mut sheet = Worksheet::new();
    sheet.set_name("Injects")?;
    let bold = Format::new().set_bold();
    let time = Format::new().set_num_format("[hh]:mm:ss");
    for (c, name) in header.iter().enumerate() {
        sheet.write_string_with_format(0, u16::try_from(c).unwrap_or(0), name, &bold)?;
    }
    let time_col = usize::from(col("Time"));
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX - 1);
        for (c, cell) in row.iter().enumerate() {
            let c16 = u16::try_from(c).unwrap_or(0);
            match seconds(cell).filter(|_| c == time_col) {
                // An elapsed time, as Excel keeps one: a fraction of a day.
                Some(s) => {
                    sheet.write_number_with_format(r, c16, s as f64 / 86_400.0, &time)?;
                }
                None if cell.is_empty() => {}
                None => {
                    sheet.write_string(r, c16, cell)?;
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    for (c, name) in header.iter().enumerate() {
        let widest = rows
            .iter()
            .filter_map(|r| r.get(c))
            .map(|v| v.chars().count())
            .chain([name.chars().count()])
            .max()
            .unwrap_or(8);
        sheet.set_column_width(
            u16::try_from(c).unwrap_or(0),
            (widest as f64 + 2.0).min(MAX_WIDTH),
        )?;
    }
    // Drop-downs for From, Team and Method, from the hidden Lists sheet, for every row
    // and as many again for rows a designer adds.
    let last = u32::try_from(rows.len() * 2 + 100).unwrap_or(1_000);
    for (i, name) in ["From", "Team", "Method"].into_iter().enumerate() {
        let n = values(rows, col(name)).len();
        if n == 0 {
            continue;
        }
        let letter = ["A", "B", "C"][i];
        let list = DataValidation::new()
            .allow_list_formula(Formula::new(format!(
                "=Lists!${letter}$2:${letter}${}",
                n + 1
            )))
            .ignore_blank(true);
        sheet.add_data_validation(1, col(name), last, col(name), &list)?;
    }
    Ok(sheet)
}

/// The expected actions (id, action, deadline, whose, objectives), then the
/// contingencies (inject, condition, delay).
fn branches_sheet(t: &Timeline) -> Result<Worksheet, XlsxError> {
    let s = &t.scenario;
    let mut sheet = Worksheet::new();
    sheet.set_name("Expectations")?;
    let bold = Format::new().set_bold();
    for (c, h) in [
        "Expectation",
        "Expected action",
        "Deadline",
        "Expected of",
        "Objectives",
    ]
    .into_iter()
    .enumerate()
    {
        sheet.write_string_with_format(0, u16::try_from(c).unwrap_or(0), h, &bold)?;
    }
    let mut r = 1u32;
    for e in &s.expectations {
        let cells = [
            e.id.clone(),
            e.action.clone(),
            crate::plan::deadline_text(s, e),
            e.team.as_ref().map(|(t, _)| t.clone()).unwrap_or_default(),
            e.objectives
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ];
        for (c, v) in cells.iter().enumerate() {
            sheet.write_string(r, u16::try_from(c).unwrap_or(0), v)?;
        }
        r += 1;
    }
    r += 1;
    for (c, h) in ["Contingency", "Condition", "Delay"]
        .into_iter()
        .enumerate()
    {
        sheet.write_string_with_format(r, u16::try_from(c).unwrap_or(0), h, &bold)?;
    }
    for (i, c) in s.contingencies() {
        r += 1;
        sheet.write_string(r, 0, &i.id)?;
        sheet.write_string(r, 1, c.condition.text())?;
        sheet.write_string(r, 2, crate::human::duration_ms(c.after.as_millis() as i64))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(sheet)
}

/// The scenario's header block (what `import` reads back): name, description, start,
/// zone, defaults, vars, persona and team aliases, objectives, a row each.
fn scenario_sheet(t: &Timeline, start: Option<&str>) -> Result<Worksheet, XlsxError> {
    let mut sheet = Worksheet::new();
    sheet.set_name("Scenario")?;
    let bold = Format::new().set_bold();
    for (c, h) in ["Field", "Value", "", ""].into_iter().enumerate() {
        sheet.write_string_with_format(0, u16::try_from(c).unwrap_or(0), h, &bold)?;
    }
    for (r, row) in super::block::rows(&t.scenario, start).iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX - 1);
        for (c, v) in row.iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(0);
            if c == 0 {
                sheet.write_string_with_format(r, c, v, &bold)?;
            } else if !v.is_empty() {
                sheet.write_string(r, c, v)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(sheet)
}
