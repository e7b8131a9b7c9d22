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
        import.stderr.contains("columns.csv: error: 7 personas the scenario maps to no id, used on 44 rows: met_office (rows 2, 31), mayor (rows 5, 13, 20, 26, 32, ...)")
            && import.stderr.contains("run `injector sync back.yaml`")
            && !import.stderr.contains("unknown persona"),
        "{}",
        import.stderr
    );
    assert!(
        import
            .stderr
            .contains("3 objectives named in the Objective column: declared under `objectives:`"),
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
    assert_eq!(header[..4], ["ID", "Time", "Repeat", "From"]);
    let late = injects.rows().find(|r| r[0] == "met-warning").unwrap();
    let days = match &late[1] {
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
