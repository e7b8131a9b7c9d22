//! The MEL spreadsheet both ways: objectives and owners through its columns, and the
//! workbook export read back and imported.

use crate::common::{injector_in, scenario, tempdir, write};

/// The header row and the rows under it of a MEL CSV as `export` writes it (the
/// scenario's header block above them).
pub fn mel_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect::<Vec<String>>())
        .skip_while(|r| r.first().is_none_or(|c| c != "ID"));
    let header = rows.next().expect("a header row");
    (header, rows.collect())
}

/// A MEL carries objectives, their capability and who watches each inject, both ways.
#[test]
fn objectives_and_owners_go_through_the_mel() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::copy(scenario("harbour-flood.yaml"), d.join("hf.yaml")).unwrap();
    injector_in(
        d,
        &["export", "hf.yaml", "--format", "mel-csv", "-o", "mel.csv"],
    )
    .code(0);
    let mel = std::fs::read_to_string(d.join("mel.csv")).unwrap();
    let (header, rows) = mel_rows(&mel);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let order = rows
        .iter()
        .find(|r| r[col("ID")] == "evacuation-order")
        .unwrap();
    assert_eq!(&order[col("Objective")], "O2");
    assert_eq!(&order[col("Core Capability")], "Operational Coordination");
    assert_eq!(&order[col("Responsible Controller")], "cory");
    // With its header block, the objectives come back as they were declared.
    injector_in(d, &["import", "mel.csv", "-o", "whole.yaml"]).code(0);
    let whole = std::fs::read_to_string(d.join("whole.yaml")).unwrap();
    assert!(
        whole.contains("  - { id: \"O2\", text: \"Decide on evacuation within the time the police ask for\", capability: \"Operational Coordination\" }"),
        "{whole}"
    );
    // A MEL without the block (another tool's): the Objective column declares them.
    let columns_only = mel
        .trim_start_matches('\u{feff}')
        .split_once("\nID,")
        .map(|(_, rest)| format!("ID,{rest}"))
        .unwrap();
    write(d, "columns.csv", &columns_only);
    let import = injector_in(d, &["import", "columns.csv", "-o", "back.yaml"]);
    // Its aliases undeclared: one message per kind, each name with its rows.
    import.code(1);
    assert!(
        import.stderr.contains("columns.csv: error: 7 personas the scenario maps to no id, used on 46 rows: met_office (rows 2, 29), mayor (rows 3, 11, 18, 24, 30, ...)")
            && import.stderr.contains("run `injector sync back.yaml`")
            && !import.stderr.contains("unknown persona"),
        "{}",
        import.stderr
    );
    assert!(
        import
            .stderr
            .contains("columns.csv: row 2: 3 objectives named in the Objective column and not declared: O1 (row 2), O3 (row 13), O2 (row 18); each is declared under `objectives:` with its id as its text"),
        "{}",
        import.stderr
    );
    let yaml = std::fs::read_to_string(d.join("back.yaml")).unwrap();
    assert!(
        yaml.contains("    objectives: [\"O2\"]\n    owner: \"cory\"\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("  - { id: \"O2\", text: \"O2\", capability: \"Operational Coordination\" }"),
        "{yaml}"
    );
}

/// `export --format mel-xlsx`: a real workbook (read back with calamine): the injects
/// with their times as Excel elapsed times (26:15:00 stays past a day), the expected
/// actions and contingencies, the scenario's header; it imports to the same plan as the
/// CSV does; it is not written to a terminal.
#[test]
fn the_mel_as_a_workbook() {
    use calamine::Reader;
    let dir = tempdir();
    let d = dir.path();
    let yaml = std::fs::read_to_string(scenario("harbour-flood.yaml"))
        .unwrap()
        .replacen(
            "  - id: met-warning\n    at: 0s\n",
            "  - id: met-warning\n    at: 26h15m\n",
            1,
        );
    write(d, "hf.yaml", &yaml);
    injector_in(
        d,
        &["export", "hf.yaml", "--format", "mel-xlsx", "-o", "hf.xlsx"],
    )
    .code(0);
    let mut book = calamine::open_workbook::<calamine::Xlsx<_>, _>(d.join("hf.xlsx")).unwrap();
    assert_eq!(
        book.sheet_names(),
        ["Injects", "Expectations", "Scenario", "Lists"]
    );
    let injects = book.worksheet_range("Injects").unwrap();
    let header: Vec<String> = injects
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[..4], ["ID", "Phase", "Time", "Repeat"]);
    let late = injects.rows().find(|r| r[0] == "met-warning").unwrap();
    let days = match &late[2] {
        calamine::Data::DateTime(t) => t.as_f64(),
        other => panic!("an Excel time, not {other:?}"),
    };
    assert!(
        (days - (26.0 * 3600.0 + 15.0 * 60.0) / 86_400.0).abs() < 1e-9,
        "{days}"
    );
    let branches = book.worksheet_range("Expectations").unwrap();
    let cells: Vec<String> = branches
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(
        cells.contains(&"20m after evacuation-order is sent".to_string()),
        "{cells:?}"
    );
    assert!(
        cells.contains(&"missed: evacuation-ordered".to_string()),
        "{cells:?}"
    );
    let header = book.worksheet_range("Scenario").unwrap();
    let cells: Vec<String> = header
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    for cell in [
        "Operation Harbour Flood",
        "Objective",
        "O2",
        "Operational Coordination",
        "Europe/London",
        "Persona",
        "@portmere_news",
    ] {
        assert!(cells.contains(&cell.to_string()), "{cell}: {cells:?}");
    }
    // Imported back, the same plan as from the CSV; the late one past a day.
    injector_in(
        d,
        &["export", "hf.yaml", "--format", "mel-csv", "-o", "hf.csv"],
    )
    .code(0);
    injector_in(d, &["import", "hf.xlsx", "-o", "from-xlsx.yaml"]).code(0);
    injector_in(d, &["import", "hf.csv", "-o", "from-csv.yaml"]).code(0);
    let plan = |f: &str| {
        let mut doc = injector_in(
            d,
            &[
                "plan",
                f,
                "--start-at",
                "2026-03-28T09:00:00Z",
                "--format",
                "json",
            ],
        )
        .json();
        doc["scenario"] = serde_json::Value::Null;
        doc
    };
    let from_xlsx = plan("from-xlsx.yaml");
    assert_eq!(from_xlsx, plan("from-csv.yaml"));
    let warning = from_xlsx["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == "met-warning")
        .unwrap();
    assert_eq!(warning["offset"], "T+26:15:00");
}

/// A workbook is bytes for a file: asked for on a terminal, it is refused with the way
/// to write it (a real terminal, by `script`).
/// `-o events.xlsx` writes a workbook (CSV under that name would open in nothing), and it
/// imports back to the same exercise.
#[test]
fn an_output_named_xlsx_is_a_workbook() {
    let dir = tempdir();
    let file = scenario("harbour-flood.yaml");
    let out = crate::common::injector_in(
        dir.path(),
        &["export", file.to_str().unwrap(), "-o", "events.xlsx"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = std::fs::read(dir.path().join("events.xlsx")).unwrap();
    assert_eq!(&bytes[..2], b"PK", "a zip, as a workbook is");
    let back =
        crate::common::injector_in(dir.path(), &["import", "events.xlsx", "-o", "back.yaml"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    let diff =
        crate::common::injector_in(dir.path(), &["diff", file.to_str().unwrap(), "back.yaml"]);
    assert_eq!(diff.code, 0, "{}", diff.stdout);
}

#[test]
fn a_workbook_is_not_written_to_a_terminal() {
    if !std::path::Path::new("/usr/bin/script").exists() {
        panic!("this test needs util-linux's script (Debian: bsdutils)");
    }
    let dir = tempdir();
    let file = scenario("quickstart.yaml");
    let command = format!(
        "{} export {} --format mel-xlsx",
        crate::common::bin().display(),
        file.display()
    );
    let out = std::process::Command::new("/usr/bin/script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("a workbook is not shown in a terminal")
            && text.contains("add -o events.xlsx"),
        "{text}"
    );
}

/// An import never replaces a scenario by a slip: `-o` naming an existing file is
/// refused (before anything is read) unless `--force`. The CSV export starts with a
/// byte-order mark (Excel shows é as é) and imports as before.
#[test]
fn an_import_does_not_overwrite_a_scenario_by_a_slip() {
    let dir = tempdir();
    let d = dir.path();
    injector_in(
        d,
        &[
            "export",
            scenario("quickstart.yaml").to_str().unwrap(),
            "-o",
            "mel.csv",
        ],
    )
    .code(0);
    let mel = std::fs::read(d.join("mel.csv")).unwrap();
    assert!(
        mel.starts_with("\u{feff}Scenario,Quickstart".as_bytes()),
        "a BOM, then the header block"
    );
    write(d, "s.yaml", "name: mine, synced\n");
    let refused = injector_in(d, &["import", "mel.csv", "-o", "s.yaml"]);
    refused.code(2);
    assert!(
        refused
            .stderr
            .contains("s.yaml exists: an import does not replace it")
            && refused.stderr.contains("pass --force to replace it"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(d.join("s.yaml")).unwrap(),
        "name: mine, synced\n"
    );
    injector_in(d, &["import", "mel.csv", "-o", "s.yaml", "--force"]).code(0);
    assert!(
        std::fs::read_to_string(d.join("s.yaml"))
            .unwrap()
            .contains("injects:")
    );
}

/// A sheet in HSEEP's words, with a title above its header: read with --header-row,
/// its columns known by their HSEEP names (or mapped with --map), a column that maps
/// to nothing kept in notes; a workbook's sheet picked with --sheet, a wrong one named.
#[test]
fn a_real_sheet_with_hseep_names_a_title_row_and_sheets() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "msel.csv",
        "Harbour exercise MSEL,,,,,,,,,,\n,,,,,,,,,,\nEvent #,Scenario Time,Inject Mode,From,To,Inject,Expected Action,Objective,Core Capability,Responsible Controller,Notes\n1,00:05:00,Email,3-49786,crisis@portmere.example.org,Storm warning for the harbour,Crisis cell convenes,O1,Public Information and Warning,cory,check the hotline\n",
    );
    // The title row is not a header: said, with the way to name the header's row.
    let title = injector_in(d, &["import", "msel.csv", "-o", "a.yaml"]);
    title.code(2);
    assert!(
        title
            .stderr
            .contains("lacks the column(s) Time, From, Method")
            && title.stderr.contains("--header-row N"),
        "{}",
        title.stderr
    );
    let run = injector_in(
        d,
        &["import", "msel.csv", "-o", "b.yaml", "--header-row", "3"],
    );
    run.code(0);
    assert!(
        run.stderr
            .contains("column `Notes` is not a MEL column: kept"),
        "{}",
        run.stderr
    );
    let yaml = std::fs::read_to_string(d.join("b.yaml")).unwrap();
    for want in [
        "  - id: \"1\"\n",
        "    at: \"00:05:00\"\n",
        "    channel: \"mail\"\n",
        "    body: \"Storm warning for the harbour\"\n",
        "    objectives: [\"O1\"]\n    owner: \"cory\"\n",
        "    notes: { expected_action: \"Crisis cell convenes\", Notes: \"check the hotline\" }\n",
    ] {
        assert!(yaml.contains(want), "{want:?} in {yaml}");
    }
    // The kept column goes back out as itself.
    injector_in(d, &["export", "b.yaml", "-o", "again.csv"]).code(0);
    let (header, rows) = mel_rows(&std::fs::read_to_string(d.join("again.csv")).unwrap());
    let notes = header.iter().position(|h| h == "Notes").unwrap();
    assert_eq!(rows[0][notes], "check the hotline");
    assert!(
        rows[0][header.iter().position(|h| h == "Fields").unwrap()].is_empty(),
        "{rows:?}"
    );
    // A header of its own, mapped.
    write(
        d,
        "own.csv",
        "When,Who,How,Text\n00:01:00,3-49786,Email,Hello\n",
    );
    let mapped = injector_in(
        d,
        &[
            "import",
            "own.csv",
            "-o",
            "c.yaml",
            "--map",
            "When=Time,Who=From,How=Method,Text=Message",
        ],
    );
    assert!(
        std::fs::read_to_string(d.join("c.yaml"))
            .unwrap()
            .contains("    body: \"Hello\"\n"),
        "{}",
        mapped.stderr
    );
    let bad = injector_in(
        d,
        &["import", "own.csv", "-o", "d.yaml", "--map", "When=Tmie"],
    );
    bad.code(2);
    assert!(
        bad.stderr
            .contains("`Tmie` is not a MEL column (did you mean `Time`?)"),
        "{}",
        bad.stderr
    );
    // A workbook's sheets.
    injector_in(
        d,
        &[
            "export",
            scenario("quickstart.yaml").to_str().unwrap(),
            "--format",
            "mel-xlsx",
            "-o",
            "q.xlsx",
        ],
    )
    .code(0);
    let wrong = injector_in(d, &["import", "q.xlsx", "-o", "e.yaml", "--sheet", "Nope"]);
    wrong.code(2);
    assert!(
        wrong
            .stderr
            .contains("no sheet `Nope`; its sheets are Injects, Expectations, Scenario, Lists"),
        "{}",
        wrong.stderr
    );
    let other = injector_in(
        d,
        &[
            "import",
            "q.xlsx",
            "-o",
            "f.yaml",
            "--sheet",
            "Expectations",
        ],
    );
    other.code(2);
    assert!(
        other.stderr.contains("(sheet `Expectations`)"),
        "{}",
        other.stderr
    );
    injector_in(
        d,
        &["import", "q.xlsx", "-o", "g.yaml", "--sheet", "Injects"],
    )
    .code(0);
    let not_a_book = injector_in(
        d,
        &["import", "own.csv", "-o", "h.yaml", "--sheet", "Injects"],
    );
    not_a_book.code(2);
}

/// A workbook as a designer leaves it after editing it in a spreadsheet program: rows
/// reordered, a row added without an ID, a Time that is a formula's result, a Time
/// typed as a date and time, an elapsed time past a day. It imports with a report of
/// what was inferred, and the plan is the exported one plus exactly those edits.
#[test]
fn a_hand_edited_workbook_imports_with_what_was_inferred() {
    use calamine::Reader;
    use rust_xlsxwriter::{Format, Formula, Workbook};
    let dir = tempdir();
    let d = dir.path();
    std::fs::copy(scenario("harbour-flood.yaml"), d.join("hf.yaml")).unwrap();
    injector_in(
        d,
        &["export", "hf.yaml", "--format", "mel-xlsx", "-o", "hf.xlsx"],
    )
    .code(0);
    let mut book = calamine::open_workbook::<calamine::Xlsx<_>, _>(d.join("hf.xlsx")).unwrap();
    let text = |c: &calamine::Data| match c {
        calamine::Data::DateTime(t) => {
            let s = (t.as_f64() * 86_400.0).round() as u64;
            format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        }
        other => other.to_string(),
    };
    let grid = |range: calamine::Range<calamine::Data>| -> Vec<Vec<String>> {
        range.rows().map(|r| r.iter().map(text).collect()).collect()
    };
    let injects = grid(book.worksheet_range("Injects").unwrap());
    let block = grid(book.worksheet_range("Scenario").unwrap());
    let (header, mut rows) = (injects[0].clone(), injects[1..].to_vec());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // Reordered: the last row first. (tide-post-1's Time becomes a formula whose result
    // is its own 00:08:00: no change.)
    rows.rotate_right(1);
    // Added by hand, with no ID.
    let mut added = vec![String::new(); header.len()];
    added[col("Time")] = "01:10:00".into();
    added[col("From")] = "mayor".into();
    added[col("Method")] = "Social".into();
    added[col("Message")] = "Added in the review meeting".into();
    rows.push(added);
    let formula_id = "tide-post-1";
    let date_id = "mayor-statement";
    let late_id = "resident-worried";
    let mut out = Workbook::new();
    let sheet = out.add_worksheet();
    sheet.set_name("Injects").unwrap();
    let elapsed = Format::new().set_num_format("[hh]:mm:ss");
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            if c as usize == col("Time") && row[col("ID")] == formula_id {
                // =5 minutes + 3 minutes, saved with its result as Excel keeps it.
                let f = Formula::new("=TIME(0,5,0)+TIME(0,3,0)").set_result("0.00555555555555556");
                sheet.write_formula_with_format(r, c, f, &elapsed).unwrap();
            } else if c as usize == col("Time") && row[col("ID")] == date_id {
                // Typed as 28/03/2026 10:15: a date (days since 1899-12-30) and a time.
                let serial = 46_109.0 + (10.0 * 3600.0 + 15.0 * 60.0) / 86_400.0;
                sheet.write_number_with_format(r, c, serial, &date).unwrap();
            } else if c as usize == col("Time") && row[col("ID")] == late_id {
                sheet
                    .write_number_with_format(r, c, (26.0 * 60.0 + 15.0) / 1440.0, &elapsed)
                    .unwrap();
            } else if c as usize == col("Time") {
                let s: Vec<f64> = v.split(':').map(|p| p.parse().unwrap()).collect();
                let days = (s[0] * 3600.0 + s[1] * 60.0 + s[2]) / 86_400.0;
                sheet
                    .write_number_with_format(r, c, days, &elapsed)
                    .unwrap();
            } else if !v.is_empty() {
                sheet.write_string(r, c, v).unwrap();
            }
        }
    }
    let scenario_sheet = out.add_worksheet();
    scenario_sheet.set_name("Scenario").unwrap();
    for (r, row) in block.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                scenario_sheet.write_string(r as u32, c as u16, v).unwrap();
            }
        }
    }
    out.save(d.join("edited.xlsx")).unwrap();

    let import = injector_in(d, &["import", "edited.xlsx", "-o", "edited.yaml"]);
    import.code(0);
    let added_row = rows.len() + 1;
    let date_row = rows.iter().position(|r| r[col("ID")] == date_id).unwrap() + 2;
    for said in [
        format!("edited.xlsx (sheet `Injects`): row {added_row}: no ID: named `row-{added_row}`"),
        format!(
            "edited.xlsx (sheet `Injects`): row {date_row}: Time `2026-03-28 10:15:00` read as a date and time: T+01:15:00 from the start (2026-03-28T09:00:00)"
        ),
    ] {
        assert!(import.stderr.contains(&said), "{said}\n{}", import.stderr);
    }
    let diff = injector_in(d, &["diff", "hf.yaml", "edited.yaml"]);
    diff.code(1);
    let changes: Vec<&str> = diff.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        changes,
        [
            "hf.yaml -> edited.yaml: 1 added, 0 removed, 2 moved, 0 changed",
            &format!("+ row-{added_row}  T+01:10:00  added"),
            "~ mayor-statement  T+00:40:00 -> T+01:15:00  moved",
            "~ resident-worried  T+00:12:00 -> T+26:15:00  moved",
        ][..],
        "{}",
        diff.stdout
    );
}

/// Dates and clock times in a sheet are what they are: counted from the exercise's
/// start (asked for when the sheet gives none, once for all its rows), a second day's
/// row on the second day, never silently from T0.
#[test]
fn dates_and_clock_times_count_from_the_start() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "days.csv",
        "Time,Clock time,From,Method,Team,Message\n\
         2026-03-12 09:30,,3-49786,Social,3437866,Day one\n\
         2026-03-13 10:00,,3-49786,Social,3437866,Day two\n\
         ,11:15,3-49786,Social,3437866,Later on day one\n\
         00:05:00,,3-49786,Social,3437866,An offset as ever\n",
    );
    let asked = injector_in(d, &["import", "days.csv", "-o", "a.yaml"]);
    asked.code(1);
    assert!(
        asked.stderr.contains("days.csv: row 2: 3 rows (rows 2, 3, 4) hold a date or a clock time, and the sheet gives no start to count from: give the exercise's start with its UTC offset, e.g. --start 2026-03-12T09:00:00+00:00, or a `Start` row above the header; left out"),
        "{}",
        asked.stderr
    );
    assert_eq!(
        asked.stderr.matches("a date or a clock time").count(),
        1,
        "{}",
        asked.stderr
    );
    let given = injector_in(
        d,
        &[
            "import",
            "days.csv",
            "-o",
            "b.yaml",
            "--start",
            "2026-03-12T09:00:00+00:00",
        ],
    );
    given.code(0);
    assert!(
        given.stderr.contains("row 3: Time `2026-03-13 10:00` read as a date and time: T+25:00:00 from the start (2026-03-12T09:00:00+00:00)")
            && given.stderr.contains("row 5: Time `00:05:00` is read as an offset from the start, though other rows give dates and times"),
        "{}",
        given.stderr
    );
    let plan = injector_in(d, &["plan", "b.yaml", "--format", "json"]).json();
    let offsets: Vec<(&str, &str)> = plan["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["key"].as_str().unwrap(), o["offset"].as_str().unwrap()))
        .collect();
    assert_eq!(
        offsets,
        [
            ("row-5", "T+00:05:00"),
            ("row-2", "T+00:30:00"),
            ("row-4", "T+02:15:00"),
            ("row-3", "T+25:00:00"),
        ]
    );
    assert_eq!(plan["t0"], "2026-03-12T09:00:00+00:00");
    // A date before the start is the row's problem, said as such.
    let early = injector_in(
        d,
        &[
            "import",
            "days.csv",
            "-o",
            "c.yaml",
            "--start",
            "2026-03-13T09:00:00+00:00",
        ],
    );
    early.code(1);
    assert!(
        early.stderr.contains("row 2: Time `2026-03-12 09:30` is before the start (2026-03-13T09:00:00+00:00); left out"),
        "{}",
        early.stderr
    );
}

/// The workbook opens in a real spreadsheet program: LibreOffice (headless) converts
/// each sheet to the same rows calamine reads, and the workbook it saves again imports
/// to the same scenario.
#[test]
fn the_workbook_opens_in_libreoffice_and_converts_to_the_same_rows() {
    let soffice = crate::common::tool("libreoffice-calc-nogui");
    let dir = tempdir();
    let d = dir.path();
    let yaml = std::fs::read_to_string(scenario("harbour-flood.yaml"))
        .unwrap()
        .replacen(
            "  - id: met-warning\n    at: 0s\n",
            "  - id: met-warning\n    at: 26h15m\n",
            1,
        );
    write(d, "hf.yaml", &yaml);
    injector_in(
        d,
        &["export", "hf.yaml", "--format", "mel-xlsx", "-o", "hf.xlsx"],
    )
    .code(0);
    let office = |args: &[&str]| {
        let out = std::process::Command::new(&soffice)
            .arg(format!(
                "-env:UserInstallation=file://{}",
                d.join("profile").display()
            ))
            .args(["--headless", "--norestore"])
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Every sheet as CSV (UTF-8, formatted as shown: `[hh]:mm:ss` stays 26:15:00).
    office(&[
        "--convert-to",
        "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
        "--outdir",
        "lo",
        "hf.xlsx",
    ]);
    let bytes = std::fs::read(d.join("hf.xlsx")).unwrap();
    let trimmed = |rows: injector::mel::Rows| -> Vec<Vec<String>> {
        rows.into_iter()
            .map(|(_, mut r)| {
                while r.last().is_some_and(String::is_empty) {
                    r.pop();
                }
                r
            })
            .filter(|r| !r.is_empty())
            .collect()
    };
    for sheet in ["Injects", "Scenario"] {
        let text = std::fs::read_to_string(d.join(format!("lo/hf-{sheet}.csv"))).unwrap();
        let from_office = trimmed(injector::mel::csv_rows(&text).unwrap());
        let (ours, _) = injector::mel::xlsx_rows(&bytes, Some(sheet)).unwrap();
        let ours = trimmed(ours);
        assert!(ours.len() > 10, "{sheet}: {ours:?}");
        assert_eq!(from_office, ours, "{sheet}");
        if sheet == "Injects" {
            assert!(
                from_office
                    .iter()
                    .any(|r| r[0] == "met-warning" && r[2] == "26:15:00"),
                "{from_office:?}"
            );
        }
    }
    // Saved again by LibreOffice as a workbook of its own: the same scenario.
    office(&[
        "--convert-to",
        "xlsx:Calc MS Excel 2007 XML",
        "--outdir",
        "resaved",
        "hf.xlsx",
    ]);
    injector_in(d, &["import", "resaved/hf.xlsx", "-o", "back.yaml"]).code(0);
    injector_in(d, &["diff", "hf.yaml", "back.yaml"]).code(0);
}

/// The slips a designer makes with a sheet, each answered in the sheet's terms: the
/// spreadsheet itself as `-o`, a folder, a missing folder; a `--map` naming no header
/// cell, two columns read as one; a broken `Fields` cell; a capability that is not its
/// objective's; a start without an offset; a problem of the scenario, named by its row.
#[test]
fn the_slips_a_designer_makes_with_a_sheet() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "mel.csv",
        "Scenario,Slips\nObjective,O1,Warn the public,Public Information and Warning\n,\nID,Time,From,Method,Team,Message,Objective,Core Capability,Fields\n\
         warn,00:05:00,3-49786,Social,3437866,\"Water rising,\nfast\",O1,Mass Care,\n\
         next,00:10:00,3-49786,Social,3437866,Again,,,{not json\n\
         bad,00:15:00,3-49786,Social,3437866,{{ nope }},,,\n",
    );
    std::fs::create_dir(d.join("folder")).unwrap();
    for (out, said) in [
        ("mel.csv", "-o mel.csv is the spreadsheet being imported"),
        ("folder", "-o folder is a folder"),
        ("nowhere/s.yaml", "there is no folder nowhere"),
    ] {
        let run = injector_in(d, &["import", "mel.csv", "-o", out, "--force"]);
        run.code(2);
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert!(
        std::fs::read_to_string(d.join("mel.csv"))
            .unwrap()
            .starts_with("Scenario,Slips"),
        "the spreadsheet is untouched"
    );
    let run = injector_in(d, &["import", "mel.csv", "-o", "s.yaml"]);
    run.code(1);
    for said in [
        // The message's own line break does not move the rows after it.
        "mel.csv: row 5: Core Capability `Mass Care` is not objective O1's (`Public Information and Warning`, in the header block): the block's stands; change it there",
        "mel.csv: row 6: Fields is not a JSON object (as `export` writes it); the row was imported without its Fields\n",
        "row 7 of mel.csv: template error in `body`",
        "s.yaml: invalid: 1 error(s)",
    ] {
        assert!(run.stderr.contains(said), "{said}\n{}", run.stderr);
    }
    let mapped = injector_in(
        d,
        &[
            "import",
            "mel.csv",
            "-o",
            "m.yaml",
            "--map",
            "Injekt=Message",
        ],
    );
    assert!(
        mapped.stderr.contains("--map names `Injekt` (as Message), but no header cell is `Injekt`; the header's cells are `ID`, `Time`"),
        "{}",
        mapped.stderr
    );
    let twice = injector_in(
        d,
        &["import", "mel.csv", "-o", "t.yaml", "--map", "ID=Time"],
    );
    twice.code(2);
    assert!(
        twice
            .stderr
            .contains("two columns are read as Time: `ID` and `Time` (row 4)"),
        "{}",
        twice.stderr
    );
    write(
        d,
        "days.csv",
        "Time,From,Method,Team,Message\n2026-03-12 09:30,3-49786,Social,3437866,Day one\n",
    );
    let naive = injector_in(
        d,
        &[
            "import",
            "days.csv",
            "-o",
            "n.yaml",
            "--start",
            "2026-03-12T09:00:00",
        ],
    );
    naive.code(2);
    assert!(
        naive.stderr.contains("the start `2026-03-12T09:00:00` has no UTC offset: write it with one (`2026-03-12T09:00:00+01:00`")
            && !naive.stderr.contains("--map"),
        "{}",
        naive.stderr
    );
}
