//! `import` and `export`: the Master Events List spreadsheet, both ways.

use std::sync::Arc;

use chrono::Utc;

use crate::cli::{ExportArgs, ExportFormat, ImportArgs};
use crate::error::{Error, Exit};
use crate::{mel, validate};

pub fn import(args: ImportArgs) -> Result<Exit, Error> {
    // Checked before anything is read: an existing scenario is not replaced by a slip.
    if let Some(out) = args.output.output.as_deref()
        && out.exists()
        && !args.force
    {
        return Err(Error::usage(
            format!(
                "{} exists: an import does not replace it (its aliases and edits would be lost)",
                out.display()
            ),
            Some("write to another file with -o, or pass --force to replace it"),
        ));
    }
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
    let (rows, from) = match ext.as_str() {
        "xlsx" | "xlsm" => mel::xlsx_rows(&bytes, args.sheet.as_deref())
            .map(|(rows, sheet)| (rows, format!("{} (sheet `{sheet}`)", args.file.display()))),
        "csv" | "txt" => match String::from_utf8(bytes) {
            Ok(text) => mel::csv_rows(&text).map(|rows| (rows, args.file.display().to_string())),
            Err(_) => Err("the CSV is not UTF-8 text".into()),
        },
        _ => Err(format!(
            "`.{ext}` is not a spreadsheet injector reads; give a .csv or .xlsx file"
        )),
    }
    .map_err(|e| Error::usage(format!("{}: {e}", args.file.display()), None))?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let options = mel::ImportOptions {
        map,
        header_row: args.header_row.and_then(|n| usize::try_from(n).ok()),
    };
    let imported = mel::import_with(&rows, &name, &options).map_err(|e| {
        Error::usage(
            format!("{from}: {e}"),
            Some("name the columns with --map \"HEADER=COLUMN,...\", the header's row with --header-row N, a workbook's sheet with --sheet NAME"),
        )
    })?;
    for c in &imported.ignored_columns {
        eprintln!("note: column `{c}` is not a MEL column: kept in each inject's notes");
    }
    for r in &imported.remarks {
        eprintln!("{}: row {}: {}", args.file.display(), r.row, r.reason);
    }
    for p in &imported.problems {
        eprintln!(
            "{}: row {}: {}; left out",
            args.file.display(),
            p.row,
            p.reason
        );
    }
    super::write_output(args.output.output.as_deref(), &imported.yaml)?;
    // The result must pass validation, or say why not.
    let shown = args
        .output
        .output
        .as_ref()
        .map_or("(imported)".to_string(), |p| p.display().to_string());
    let checked = validate::check(
        &shown,
        Arc::new(imported.yaml.clone()),
        None,
        1.0,
        Utc::now(),
    );
    let valid = super::valid_timeline(
        checked,
        &shown,
        "fix them in the scenario, or in the spreadsheet and import again",
    )
    .is_some();
    eprintln!(
        "{} inject(s) imported, {} row(s) left out",
        imported.injects,
        imported.problems.len()
    );
    Ok(if imported.problems.is_empty() && valid {
        Exit::Ok
    } else {
        Exit::Invalid
    })
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
    match args.format {
        ExportFormat::MelCsv => super::write_output(output, &mel::export(&timeline))?,
        ExportFormat::MelXlsx => {
            // A workbook is bytes for a file, not text for a terminal.
            if output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(Error::usage(
                    "a workbook is not shown in a terminal: write it to a file",
                    Some("add -o events.xlsx"),
                ));
            }
            let bytes = mel::export_xlsx(&timeline).map_err(|e| Error::usage(e, None))?;
            super::write_output_with(output, |out| out.write_all(&bytes))?;
        }
    }
    Ok(Exit::Ok)
}
