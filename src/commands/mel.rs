//! `import` and `export`: the Master Events List spreadsheet, both ways.

use std::sync::Arc;

use chrono::Utc;

use crate::cli::{ExportArgs, ExportFormat, ImportArgs};
use crate::error::{Error, Exit};
use crate::{mel, validate};

pub fn import(args: ImportArgs) -> Result<Exit, Error> {
    check_output(&args)?;
    let bytes = super::read_file(
        &args.file,
        crate::yaml::MAX_FILE_BYTES as u64,
        "spreadsheet",
    )?;
    let ext = args
        .file
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let map = args
        .map
        .as_deref()
        .map(mel::parse_map)
        .transpose()
        .map_err(|e| {
            Error::usage(
                format!("--map: {e}"),
                Some("e.g. --map \"Inject=Message,Event #=ID\""),
            )
        })?
        .unwrap_or_default();
    if args.sheet.is_some() && !matches!(ext.as_str(), "xlsx" | "xlsm") {
        return Err(Error::usage(
            "--sheet picks a workbook's sheet: this is not a workbook",
            Some("give an .xlsx file, or leave --sheet out"),
        ));
    }
    // Where the rows come from, for messages: the file, and the sheet of a workbook.
    let mut block = Vec::new();
    let (rows, from) = match ext.as_str() {
        "xlsx" | "xlsm" => mel::xlsx_rows(&bytes, args.sheet.as_deref()).map(|(rows, sheet)| {
            block = mel::xlsx_block(&bytes, &sheet);
            (rows, format!("{} (sheet `{sheet}`)", args.file.display()))
        }),
        "csv" | "txt" => match String::from_utf8(bytes) {
            Ok(text) => mel::csv_rows(&text).map(|rows| (rows, args.file.display().to_string())),
            Err(_) => Err("the CSV is not UTF-8 text".into()),
        },
        "" => Err("has no extension: injector reads a .csv or .xlsx file".into()),
        _ => Err(format!(
            "`.{ext}` is not a spreadsheet injector reads; give a .csv or .xlsx file (a spreadsheet program saves either)"
        )),
    }
    .map_err(|e| Error::usage(format!("{}: {e}", args.file.display()), None))?;
    // The name when neither --name nor the sheet's header block gives one.
    let name = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let options = mel::ImportOptions {
        map,
        header_row: args.header_row.and_then(|n| usize::try_from(n).ok()),
        name: args.name.clone(),
        start: args.start.clone(),
        block,
    };
    let imported = mel::import_with(&rows, &name, &options).map_err(|e| {
        // The way to name the header's columns, where they are the problem.
        let about_header = e.contains("header") || e.contains("empty");
        Error::usage(
            format!("{from}: {e}"),
            about_header.then_some("name the columns with --map \"HEADER=COLUMN,...\", the header's row with --header-row N, a workbook's sheet with --sheet NAME"),
        )
    })?;
    for c in &imported.ignored_columns {
        eprintln!("note: column `{c}` is not a MEL column: kept in each inject's notes");
    }
    for r in &imported.remarks {
        eprintln!("{from}: row {}: {}", r.row, r.reason);
    }
    for p in &imported.problems {
        // A row imported all the same says so itself.
        let left_out = if p.reason.contains("was imported") {
            ""
        } else {
            "; left out"
        };
        eprintln!("{from}: row {}: {}{left_out}", p.row, p.reason);
    }
    super::write_output(args.output.output.as_deref(), &imported.yaml)?;
    // The result must pass validation, or say why not.
    let shown = args
        .output
        .output
        .as_ref()
        .map_or("(imported)".to_string(), |p| p.display().to_string());
    let mut checked = validate::check(
        &shown,
        Arc::new(imported.yaml.clone()),
        None,
        1.0,
        Utc::now(),
    );
    let groups = unmapped_names(&mut checked, &imported, &shown);
    // Each problem of an inject says the sheet's row it came from.
    let free_from = imported.lines.last().map_or(usize::MAX, |(l, _)| *l);
    for d in &mut checked.diags.items {
        if let Some(row) = imported.row_of_line(d.line)
            && (d.line <= free_from
                || imported
                    .yaml
                    .lines()
                    .nth(d.line - 1)
                    .is_some_and(|l| l.starts_with("    ")))
        {
            d.message = format!("row {row} of {from}: {}", d.message);
        }
    }
    let valid = if groups.is_empty() {
        super::valid_timeline(
            checked,
            &shown,
            &format!("fix them in the scenario, or in the spreadsheet and import again (--force to replace {shown})"),
        )
        .is_some()
    } else {
        eprint!("{}", checked.diags.render(crate::term::stderr_color()));
        for g in &groups {
            eprintln!("{}: {g}", args.file.display());
        }
        eprintln!(
            "{shown}: invalid: {} error(s); fix them in the scenario, or in the spreadsheet and import again (--force to replace {shown})",
            checked.diags.error_count() + groups.len(),
        );
        false
    };
    let crowds = match imported.crowds {
        0 => String::new(),
        n => format!(" and {}", crate::human::count(n, "crowd", "crowds")),
    };
    eprintln!(
        "{} inject(s){crowds} imported, {} row(s) left out",
        imported.injects,
        imported.problems.len()
    );
    Ok(if imported.problems.is_empty() && valid {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}

/// `-o` checked before anything is read: an existing scenario is not replaced by a
/// slip, the spreadsheet itself never, and the folder written to is there.
fn check_output(args: &ImportArgs) -> Result<(), Error> {
    if let Some(out) = args.output.output.as_deref() {
        let same = out == args.file
            || matches!(
                (std::fs::canonicalize(out), std::fs::canonicalize(&args.file)),
                (Ok(a), Ok(b)) if a == b
            );
        if same {
            return Err(Error::usage(
                format!(
                    "-o {} is the spreadsheet being imported: the import would replace it with YAML",
                    out.display()
                ),
                Some("write the scenario to a .yaml file: -o scenario.yaml"),
            ));
        }
        if out.is_dir() {
            return Err(Error::usage(
                format!("-o {} is a folder", out.display()),
                Some("give a file name: -o scenario.yaml"),
            ));
        }
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(Error::usage(
                format!(
                    "-o {}: there is no folder {}",
                    out.display(),
                    parent.display()
                ),
                Some("create it first, or write elsewhere"),
            ));
        }
        if out.exists() && !args.force {
            return Err(Error::usage(
                format!(
                    "{} exists: an import does not replace it (its aliases and edits would be lost)",
                    out.display()
                ),
                Some("write to another file with -o, or pass --force to replace it"),
            ));
        }
    }
    Ok(())
}

pub fn export(args: ExportArgs) -> Result<Exit, Error> {
    let now = Utc::now();
    let start_at = super::parse_start_at(args.start_at.as_deref(), now)?;
    let source = super::read_scenario(&args.file)?;
    let shown = args.file.display().to_string();
    let checked = validate::check(&shown, source, start_at, 1.0, now);
    let Some((timeline, _)) = super::valid_timeline(checked, &shown, "fix them to export it")
    else {
        return Ok(Exit::Invalid);
    };
    let output = args.output.output.as_deref();
    // `--start-at` becomes the sheet's Start.
    let start = start_at.map(|t| t.to_rfc3339());
    // `-o events.xlsx` is a workbook: CSV under that name opens in nothing.
    let xlsx_named = output.is_some_and(|o| {
        o.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
    });
    let format = match args.format {
        ExportFormat::MelCsv if xlsx_named => ExportFormat::MelXlsx,
        f => f,
    };
    match format {
        ExportFormat::MelCsv => {
            super::write_output(output, &mel::export(&timeline.scenario, start.as_deref()))?
        }
        ExportFormat::MelXlsx => {
            // A workbook is bytes for a file, not text for a terminal.
            if output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(Error::usage(
                    "a workbook is not shown in a terminal: write it to a file",
                    Some("add -o events.xlsx"),
                ));
            }
            let bytes =
                mel::export_xlsx(&timeline, start.as_deref()).map_err(|e| Error::usage(e, None))?;
            super::write_output_with(output, |out| out.write_all(&bytes))?;
        }
    }
    Ok(Exit::Ok)
}

/// The personas and teams the rows name that the scenario maps to no id: one message
/// for each kind, naming each with its rows, instead of an error per row (taken out of
/// `checked`).
fn unmapped_names(
    checked: &mut validate::Checked,
    imported: &mel::Imported,
    shown: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, kinds, prefix, used, map, lists) in [
        (
            "persona",
            "personas",
            "unknown persona `",
            &imported.personas,
            "personas",
            "injector personas",
        ),
        (
            "team",
            "teams",
            "unknown team `",
            &imported.teams,
            "teams",
            "injector teams",
        ),
    ] {
        let mut names: Vec<String> = Vec::new();
        checked.diags.items.retain(|d| {
            let name = d
                .message
                .strip_prefix(prefix)
                .and_then(|rest| rest.split_once('`'))
                .map(|(name, _)| name.to_string());
            match name {
                Some(name) if used.iter().any(|(u, _)| *u == name) => {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                    false
                }
                _ => true,
            }
        });
        if names.is_empty() {
            continue;
        }
        let mut all_rows: Vec<usize> = Vec::new();
        let listed: Vec<String> = names
            .iter()
            .map(|name| {
                let mut rows: Vec<usize> = used
                    .iter()
                    .filter(|(u, _)| u == name)
                    .map(|(_, r)| *r)
                    .collect();
                rows.dedup();
                all_rows.extend(&rows);
                let shown_rows: Vec<String> =
                    rows.iter().take(5).map(ToString::to_string).collect();
                let more = if rows.len() > 5 { ", ..." } else { "" };
                let word = if rows.len() == 1 { "row" } else { "rows" };
                format!("{name} ({word} {}{more})", shown_rows.join(", "))
            })
            .collect();
        all_rows.sort_unstable();
        all_rows.dedup();
        out.push(format!(
            "error: {} the scenario maps to no id, used on {}: {}\n  hint: give each its id under `{map}:` in {shown} (`{}: <id>`; `{lists}` lists them), or run `injector sync {shown}` to add the workspace's own names",
            crate::human::count(names.len(), kind, kinds),
            crate::human::count(all_rows.len(), "row", "rows"),
            listed.join(", "),
            crate::mel::yaml_key(&names[0]),
        ));
    }
    out
}
