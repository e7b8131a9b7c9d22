//! Teams and personas from the workspace (the stand-in), validate --online, sync, and
//! the MEL spreadsheet both ways.

use std::time::Duration;

use injector::stand_in::{Options, StandIn};

use crate::common::{fixture, tempdir, write};
use crate::run::injector_run;

const TOKEN: &str = "ws-token-71c3";

async fn server(tweak: impl FnOnce(&mut Options)) -> StandIn {
    let mut opts = Options::local(TOKEN);
    tweak(&mut opts);
    StandIn::start(opts).await.unwrap()
}

fn env<'a>(url: &'a str, cache: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("CONDUCTTR_BASE_URL", url),
        ("CONDUCTTR_TOKEN", TOKEN),
        ("XDG_CACHE_HOME", cache),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_and_personas_as_table_json_and_yaml() {
    let s = server(|_| {}).await;
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let url = s.base_url();
    let env = env(&url, cache.to_str().unwrap());
    let teams = injector_run(dir.path(), &["teams"], &env).await;
    assert_eq!(teams.code, 0, "{}", teams.stderr);
    assert!(
        teams.stdout.starts_with("ID        KIND  NAME\n"),
        "{}",
        teams.stdout
    );
    assert!(
        teams
            .stdout
            .contains("3437866   T     T - Blue - 2026/02/06 03-33-10"),
        "{}",
        teams.stdout
    );
    let json = injector_run(dir.path(), &["teams", "--format", "json"], &env).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == 3440932 && t["kind"] == "S")
    );
    let personas = injector_run(dir.path(), &["personas"], &env).await;
    assert_eq!(personas.code, 0, "{}", personas.stderr);
    assert!(
        personas.stdout.contains("3-49786")
            && personas.stdout.contains("@harbourmaster")
            && personas.stdout.contains("Harbour Master")
    );
    let yaml = injector_run(dir.path(), &["personas", "--format", "yaml"], &env).await;
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    let parsed = injector::yaml::parse(&yaml.stdout).unwrap().to_json();
    assert!(
        parsed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["handle"] == "@tidewatch")
    );
    assert!(!format!("{}{}{}", teams.stderr, personas.stdout, personas.stderr).contains(TOKEN));
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_links_broken_and_empty_archives_are_named() {
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let expired = server(|o| o.link_ttl = Duration::ZERO).await;
    let url = expired.base_url();
    let run = injector_run(
        dir.path(),
        &["personas"],
        &env(&url, cache.to_str().unwrap()),
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    let broken =
        server(|o| o.personas_archive = Some(b"PK\x03\x04 not really a zip".to_vec())).await;
    let url = broken.base_url();
    let run = injector_run(
        dir.path(),
        &["personas"],
        &env(&url, cache.to_str().unwrap()),
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a valid zip"), "{}", run.stderr);
    let empty = server(|o| o.personas_archive = Some(zip_without_data())).await;
    let url = empty.base_url();
    let run = injector_run(
        dir.path(),
        &["personas"],
        &env(&url, cache.to_str().unwrap()),
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("has no data.json"), "{}", run.stderr);
    let run = injector_run(dir.path(), &["teams"], &[("CONDUCTTR_BASE_URL", &url)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("CONDUCTTR_TOKEN"), "{}", run.stderr);
}

fn zip_without_data() -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    z.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(b"nothing here").unwrap();
    z.finish().unwrap();
    buf.into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_online_resolves_handles_and_names_strangers_from_a_cache() {
    let s = server(|_| {}).await;
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let url = s.base_url();
    let env = env(&url, cache.to_str().unwrap());
    let yaml = "name: Online\ndefaults:\n  type: team\n  channel: microblog\ninjects:\n  - id: a\n    at: 0s\n    persona: \"@harbourmaster\"\n    team_id: 3437866\n    body: hello\n  - id: b\n    at: 1m\n    persona: \"3-49799\"\n    team_id: 3437867\n    body: hello\n";
    write(dir.path(), "s.yaml", yaml);
    let offline = injector_run(dir.path(), &["validate", "s.yaml"], &env).await;
    assert_eq!(
        offline.code, 1,
        "offline, @harbourmaster is unknown: {}",
        offline.stderr
    );
    let online = injector_run(
        dir.path(),
        &["validate", "--online", "s.yaml", "--format", "json"],
        &env,
    )
    .await;
    assert_eq!(online.code, 1, "{}", online.stderr);
    let doc: serde_json::Value = serde_json::from_str(&online.stdout).unwrap();
    let errors = doc["files"][0]["errors"].as_array().unwrap();
    let messages: Vec<&str> = errors
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("no persona `3-49799`"), "{messages:?}");
    assert!(
        errors[0]["hint"].as_str().unwrap().contains("did you mean"),
        "{errors:?}"
    );
    assert_eq!(errors[0]["line"], 13);
    assert!(messages[1].contains("no team 3437867"), "{messages:?}");
    assert!(
        errors[1]["hint"].as_str().unwrap().contains("3437866"),
        "{errors:?}"
    );
    let fetched = s.requests().len();
    // A second check within 15 minutes reads the cache.
    let again = injector_run(dir.path(), &["validate", "--online", "s.yaml"], &env).await;
    assert_eq!(again.code, 1);
    assert_eq!(s.requests().len(), fetched, "served from the cache");
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_fills_the_maps_and_keeps_everything_else() {
    let s = server(|_| {}).await;
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let url = s.base_url();
    let env = env(&url, cache.to_str().unwrap());
    let yaml = "# My exercise\nname: Synced\npersonas:\n  harbourmaster: \"3-1\"  # stale id\n  # a persona of our own\n  extra: \"3-777\"\n\ndefaults:\n  type: team\n  team_id: blue\n  channel: microblog\ninjects:\n  - id: a   # first\n    at: 0s\n    persona: tidewatch\n    body: hello\n";
    write(dir.path(), "s.yaml", yaml);
    let check = injector_run(dir.path(), &["sync", "s.yaml", "--check"], &env).await;
    assert_eq!(check.code, 1, "changes are pending: {}", check.stderr);
    let synced = injector_run(dir.path(), &["sync", "s.yaml"], &env).await;
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    let text = std::fs::read_to_string(dir.path().join("s.yaml")).unwrap();
    assert!(text.starts_with("# My exercise\nname: Synced\n"), "{text}");
    assert!(text.contains("  harbourmaster: \"3-49786\"  # stale id\n  # a persona of our own\n  extra: \"3-777\"\n"), "{text}");
    assert!(text.contains("  tidewatch: \"3-49790\"\n"), "{text}");
    assert!(
        text.contains("  extra: \"3-777\"\n  tidewatch: \"3-49790\"\n"),
        "appended at the block's end: {text}"
    );
    assert!(
        text.contains("teams:\n") && text.contains("  blue: 3437866\n"),
        "{text}"
    );
    assert!(text.contains("  - id: a   # first\n"), "{text}");
    assert!(
        synced.stderr.contains("left alone personas.extra"),
        "{}",
        synced.stderr
    );
    let valid = injector_run(dir.path(), &["validate", "s.yaml"], &env).await;
    assert_eq!(valid.code, 0, "{}", valid.stderr);
    let check = injector_run(dir.path(), &["sync", "s.yaml", "--check"], &env).await;
    assert_eq!(check.code, 0, "nothing left to change: {}", check.stderr);
    s.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_a_messy_csv() {
    let dir = tempdir();
    let path = fixture("mel/messy.csv");
    let run = injector_run(
        dir.path(),
        &["import", path.to_str().unwrap(), "-o", "imported.yaml"],
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "two rows cannot be mapped: {}", run.stderr);
    assert!(
        run.stderr.contains("row 7: Time: `soon` is not a duration"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("row 8: From is empty"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("column `Notes from the planner` is not a MEL column"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("3 inject(s) imported, 2 row(s) left out"),
        "{}",
        run.stderr
    );
    let plan = injector_run(
        dir.path(),
        &[
            "plan",
            "imported.yaml",
            "--format",
            "json",
            "--start-at",
            "2026-03-28T09:00:00Z",
        ],
        &[],
    )
    .await;
    assert_eq!(plan.code, 0, "the mapped rows validate: {}", plan.stderr);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let occ = doc["occurrences"].as_array().unwrap();
    let offsets: Vec<u64> = occ
        .iter()
        .map(|o| o["offset_ms"].as_u64().unwrap() / 1000)
        .collect();
    assert_eq!(offsets, [300, 600, 900]);
    assert_eq!(occ[0]["body"]["channel"], "mail");
    assert_eq!(occ[0]["body"]["to"], "ops@harbour.example.org");
    assert_eq!(occ[1]["body"]["channel"], "microblog");
    assert_eq!(occ[2]["body"]["title"], "Flooding at the quay");
    let text = std::fs::read_to_string(dir.path().join("imported.yaml")).unwrap();
    assert!(
        text.contains("expected_action: \"Convene the cell\""),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_an_xlsx() {
    let dir = tempdir();
    let path = dir.path().join("mel.xlsx");
    std::fs::write(
        &path,
        xlsx(&[
            &["Time", "From", "Method", "Team", "Subject", "Message"],
            &["00:05:00", "3-49786", "Email", "3437866", "Hello", "First"],
            &["0:10", "3-49790", "Social", "3437866", "", "Second"],
        ]),
    )
    .unwrap();
    let run = injector_run(dir.path(), &["import", "mel.xlsx", "-o", "s.yaml"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = injector_run(dir.path(), &["plan", "s.yaml", "--format", "json"], &[]).await;
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(doc["occurrences"][1]["body"]["body"], "Second");
    assert_eq!(doc["occurrences"][1]["offset_ms"], 600_000);
    let bad = write(dir.path(), "x.ods", "nope");
    let run = injector_run(dir.path(), &["import", bad.to_str().unwrap()], &[]).await;
    assert_eq!(run.code, 2);
    let run = injector_run(
        dir.path(),
        &[
            "import",
            path.to_str()
                .unwrap()
                .replace("mel.xlsx", "s.yaml")
                .as_str(),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 2);
}

/// A minimal XLSX workbook with inline strings.
fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    use std::io::Write;
    let mut sheet = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!("<row r=\"{}\">", r + 1));
        for (c, cell) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            sheet.push_str(&format!(
                "<c r=\"{col}{}\" t=\"inlineStr\"><is><t>{cell}</t></is></c>",
                r + 1
            ));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        ("[Content_Types].xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>".to_string()),
        ("_rels/.rels", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>".to_string()),
        ("xl/workbook.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"MEL\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>".to_string()),
        ("xl/_rels/workbook.xml.rels", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>".to_string()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for (name, text) in files {
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    buf.into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_import_gives_back_the_same_timeline() {
    let dir = tempdir();
    // Only what a MEL carries: time, persona, channel, recipient, subject or title, body, notes.
    let yaml = "name: Round trip\npersonas:\n  hm: \"3-49786\"\nteams:\n  blue: 3437866\ndefaults:\n  type: team\n  team_id: blue\ninjects:\n  - id: warn\n    at: 0s\n    persona: hm\n    channel: mail\n    to: ops@harbour.example.org\n    subject: Storm\n    body: \"Water, rising \\\"fast\\\"\"\n    notes: {expected_action: Convene, tag: p1}\n  - id: article\n    at: 1h30m\n    persona: \"3-49792\"\n    channel: news\n    title: Flooding\n    body: Residents report water.\n  - id: tip\n    at: 2h\n    persona: hm\n    channel: mail\n    type: individual\n    team_id: null\n    to: duty@harbour.example.org\n    body: A tip.\n";
    let src = write(dir.path(), "orig.yaml", yaml);
    let start = ["--start-at", "2026-03-28T09:00:00Z"];
    let export = injector_run(
        dir.path(),
        &[
            &[
                "export",
                src.to_str().unwrap(),
                "--format",
                "mel-csv",
                "-o",
                "mel.csv",
            ][..],
            &start,
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(export.code, 0, "{}", export.stderr);
    let import = injector_run(dir.path(), &["import", "mel.csv", "-o", "back.yaml"], &[]).await;
    assert_eq!(import.code, 0, "{}", import.stderr);
    let plan = |file: String| {
        let dir = dir.path().to_path_buf();
        async move {
            let run = injector_run(
                &dir,
                &[&["plan", file.as_str(), "--format", "json"][..], &start].concat(),
                &[],
            )
            .await;
            assert_eq!(run.code, 0, "{}", run.stderr);
            let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
            doc["occurrences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o["key"].clone(), o["offset_ms"].clone(), o["body"].clone()))
                .collect::<Vec<_>>()
        }
    };
    let before = plan(src.to_str().unwrap().to_string()).await;
    let after = plan("back.yaml".to_string()).await;
    assert_eq!(before, after);
}

/// Every example scenario and every example of the API page: export to a MEL, import it
/// back, and the timeline is the same, occurrence by occurrence (offset and exact body:
/// hacks, articles, pop-ups with assets, counts, sentiment, flags, pinned `ts`).
#[test]
fn every_inject_kind_survives_export_then_import() {
    let dir = tempdir();
    let mut files: Vec<std::path::PathBuf> =
        std::fs::read_dir(crate::common::root().join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
    files.sort();
    files.push(fixture("api/api-examples.yaml"));
    assert!(files.len() >= 4, "{files:?}");
    let start = "2026-03-28T09:00:00Z";
    let timeline = |file: &str| {
        let run = crate::common::injector_in(
            dir.path(),
            &["plan", file, "--format", "json", "--start-at", start],
        );
        assert_eq!(run.code, 0, "{file}: {}", run.stderr);
        run.json()["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["offset_ms"].clone(), o["body"].clone()))
            .collect::<Vec<_>>()
    };
    for file in files {
        let src = file.to_str().unwrap();
        let export = crate::common::injector_in(
            dir.path(),
            &[
                "export",
                src,
                "--format",
                "mel-csv",
                "-o",
                "mel.csv",
                "--start-at",
                start,
            ],
        );
        assert_eq!(export.code, 0, "{src}: {}", export.stderr);
        // One file after another into the same scenario, replaced on purpose.
        let import = crate::common::injector_in(
            dir.path(),
            &["import", "mel.csv", "-o", "back.yaml", "--force"],
        );
        assert_eq!(import.code, 0, "{src}: {}", import.stderr);
        let (before, after) = (timeline(src), timeline("back.yaml"));
        assert_eq!(before.len(), after.len(), "{src}");
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(b, a, "{src}");
        }
    }
}

/// Positions and roles are checked against the workspace where it lists them (the
/// stand-in's world), before T0: in `validate --online` and in a live run's preflight.
#[tokio::test(flavor = "multi_thread")]
async fn positions_and_roles_are_checked_before_t0_where_the_workspace_lists_them() {
    let s = server(|_| {}).await;
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let url = s.base_url();
    let env = env(&url, cache.to_str().unwrap());
    let yaml = "name: Posts\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n  - id: a\n    at: 0s\n    position: Incident commander\n    body: hello\n  - id: b\n    at: 1m\n    role: Role4\n    body: hello\n  - id: c\n    at: 2m\n    position: Press Officer\n    body: fine\n";
    write(dir.path(), "s.yaml", yaml);
    let offline = injector_run(dir.path(), &["validate", "s.yaml"], &env).await;
    assert_eq!(
        offline.code, 0,
        "offline nothing lists them: {}",
        offline.stderr
    );
    let online = injector_run(
        dir.path(),
        &["validate", "--online", "s.yaml", "--format", "json"],
        &env,
    )
    .await;
    assert_eq!(online.code, 1, "{}", online.stderr);
    let doc: serde_json::Value = serde_json::from_str(&online.stdout).unwrap();
    let errors = doc["files"][0]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("no position `Incident commander` in the workspace")
    );
    assert_eq!(errors[0]["line"], 10);
    assert_eq!(
        errors[0]["hint"],
        "did you mean `Incident Commander`? (positions are case-sensitive)"
    );
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("no role `Role4`"),
        "{errors:?}"
    );
    // A live run finds it in its preflight: exit 2, nothing sent.
    let tf = write(dir.path(), "token", &format!("{TOKEN}\n"));
    let run = injector_run(
        dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf.to_str().unwrap(),
        ],
        &[("XDG_CACHE_HOME", cache.to_str().unwrap())],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no position `Incident commander`"),
        "{}",
        run.stderr
    );
    assert!(crate::run::sent(&s).is_empty(), "nothing sent");
    s.shutdown(Duration::from_secs(1)).await;
}

/// A zip with `entries` (name, bytes), deflated.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in entries {
        z.start_file(*name, options).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    buf.into_inner()
}

/// The personas archive is read within limits, each named when it is passed: a
/// compression bomb, too many entries, a link too slow.
#[tokio::test(flavor = "multi_thread")]
async fn a_personas_archive_over_a_limit_is_refused_with_the_limit_named() {
    let dir = tempdir();
    let cache = dir.path().join("cache");
    // 65 MiB of JSON whitespace: a few hundred KiB packed.
    let mut bomb = vec![b' '; 65 << 20];
    bomb[0] = b'[';
    *bomb.last_mut().unwrap() = b']';
    let bombed = server(|o| o.personas_archive = Some(zip_of(&[("data.json", &bomb)]))).await;
    let run = injector_run(
        dir.path(),
        &["personas"],
        &env(&bombed.base_url(), cache.to_str().unwrap()),
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("data.json in the personas archive is larger than 64 MiB unpacked (a limit)"),
        "{}",
        run.stderr
    );
    bombed.shutdown(Duration::from_secs(1)).await;
    let names: Vec<String> = (0..1001).map(|i| format!("f{i}.txt")).collect();
    let many: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let crowded = server(|o| o.personas_archive = Some(zip_of(&many))).await;
    let run = injector_run(
        dir.path(),
        &["personas"],
        &env(&crowded.base_url(), cache.to_str().unwrap()),
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the personas archive has 1001 entries, more than 1000 (a limit)"),
        "{}",
        run.stderr
    );
    crowded.shutdown(Duration::from_secs(1)).await;
    // A trickle: a byte every 50 ms. The preflight of a live run gives up at the
    // request timeout and says which read was slow; nothing is sent.
    let slow = server(|o| o.archive_trickle = Some(Duration::from_millis(50))).await;
    write(
        dir.path(),
        "s.yaml",
        "name: Slow\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n  - id: a\n    at: 1h\n    body: hello\n",
    );
    let tf = write(dir.path(), "token", &format!("{TOKEN}\n"));
    let run = injector_run(
        dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            &slow.base_url(),
            "--token-file",
            tf.to_str().unwrap(),
            "--timeout",
            "2s",
            "--preflight-only",
        ],
        &[("XDG_CACHE_HOME", cache.to_str().unwrap())],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "downloading the personas archive took longer than 2 s (the limit for one request)"
        ),
        "{}",
        run.stderr
    );
    slow.shutdown(Duration::from_secs(1)).await;
}
