//! Hostile input gets a clear error, never a panic, a hang or a memory blow-up.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::common::{injector_in, tempdir};

/// Generous: this guards against hangs, it does not measure speed (see the benchmark).
const HANG: Duration = Duration::from_secs(20);

fn validate_bytes(bytes: &[u8]) -> crate::common::Run {
    let dir = tempdir();
    std::fs::write(dir.path().join("h.yaml"), bytes).unwrap();
    let started = Instant::now();
    let run = injector_in(dir.path(), &["validate", "h.yaml"]);
    assert!(started.elapsed() < HANG, "took {:?}", started.elapsed());
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

#[test]
fn alias_bomb() {
    let mut text = String::from("name: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let run = validate_bytes(text.as_bytes());
    run.code(1);
    assert!(run.stderr.contains("invalid YAML"), "{}", run.stderr);
}

#[test]
fn fifty_megabyte_file() {
    let line = "# padding padding padding padding padding padding padding padding padding\n";
    let text = line.repeat(50 * 1024 * 1024 / line.len() + 1);
    let run = validate_bytes(text.as_bytes());
    run.code(2);
    assert!(run.stderr.contains("limited to 48 MiB"), "{}", run.stderr);
}

#[test]
fn deep_nesting() {
    let text = format!(
        "name: deep\nvars:\n  x: {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    validate_bytes(text.as_bytes()).code(1);
    let mut text = String::from("name: deep\nvars:\n");
    for i in 0..3000 {
        text.push_str(&format!("{}k:\n", " ".repeat(2 + i * 2)));
    }
    validate_bytes(text.as_bytes()).code(1);
}

#[test]
fn binary_file() {
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 256) as u8).collect();
    let run = validate_bytes(&bytes);
    assert!(run.code == 1 || run.code == 2);
    assert!(
        run.stderr.contains("not UTF-8") || run.stderr.contains("not text"),
        "{}",
        run.stderr
    );
    let run = validate_bytes(b"name: x\0\ninjects: []\n");
    run.code(1);
    assert!(run.stderr.contains("not text"), "{}", run.stderr);
}

#[test]
fn zero_interval_and_million_occurrences() {
    let head = "name: h\ndefaults:\n  type: team\n  team_id: 1\n  persona: \"3-1\"\n  channel: mail\n  body: b\ninjects:\n";
    let run = validate_bytes(format!("{head}  - id: z\n    every: 0s\n    until: 1h\n").as_bytes());
    run.code(1);
    assert!(run.stderr.contains("longer than zero"));
    let run =
        validate_bytes(format!("{head}  - id: m\n    every: 1ms\n    until: 100h\n").as_bytes());
    run.code(1);
    assert!(
        run.stderr.contains("the limit is 1000000"),
        "{}",
        run.stderr
    );
    let run = validate_bytes(
        format!("{head}  - id: c\n    cron: \"* * * * * *\"\n    until: 1000h\n").as_bytes(),
    );
    run.code(1);
    assert!(
        run.stderr.contains("more than 1000000 occurrences"),
        "{}",
        run.stderr
    );
    // Exactly a million is allowed.
    validate_bytes(format!("{head}  - id: m\n    every: 1s\n    count: 1000000\n").as_bytes())
        .code(0);
}

fn check_text(text: &str) {
    let checked = injector::validate::check(
        "p.yaml",
        std::sync::Arc::new(text.to_string()),
        None,
        1.0,
        chrono::Utc::now(),
    );
    if let Some(t) = &checked.timeline {
        for occ in t.occurrences.iter().take(50) {
            let _ = t.body(occ);
        }
    }
    let _ = checked.diags.render(false);
}

/// Pieces of valid scenarios, to be shuffled into near-valid ones.
const PIECES: &[&str] = &[
    "name: x\n",
    "injects:\n",
    "  - id: a\n",
    "    at: 5m\n",
    "    every: 1s\n",
    "    count: 3\n",
    "    until: 1h\n",
    "    cron: \"0 * * * *\"\n",
    "    persona: \"3-1\"\n",
    "    channel: websites\n",
    "    team_id: [1, b]\n",
    "    body: \"{{ x }}\"\n",
    "    assets:\n",
    "      - type: image\n",
    "        assetUrl: http://x\n",
    "defaults:\n",
    "  type: team\n",
    "teams:\n  b: 2\n",
    "vars:\n  x: 1\n",
    "start: 2026-01-01T00:00:00Z\n",
    "timezone: Europe/Paris\n",
    "    ts_offset: -1h\n",
    "    is_hacked: 1\n",
    "&a [*a]\n",
    "- \n",
    ": :\n",
    "'\n",
    "{\n",
    "    cc: [a@b.c]\n",
    "\t\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        check_text(&text);
    }

    #[test]
    fn near_valid_yaml_never_panics(picks in proptest::collection::vec(0..PIECES.len(), 0..40)) {
        let text: String = picks.iter().map(|i| PIECES[*i]).collect();
        check_text(&text);
    }
}

/// Strings of any length up to the file-size limit: no panic in any command or output
/// format, diagnostics cut to a window with a marker, and no quadratic typo search.
#[test]
fn very_long_strings_in_ids_aliases_and_reports() {
    let dir = tempdir();
    let long = "x".repeat(70_000);
    std::fs::write(
        dir.path().join("id.yaml"),
        format!("name: L\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n  - id: {long}\n    at: 0s\n    body: b\n  - id: c\n    at: 1s\n    body: b\n    subjct: x\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("alias.yaml"),
        format!("name: L\npersonas:\n  ? {long}\n  : \"3-1\"\ndefaults:\n  type: team\n  team_id: 1\n  persona: {long}y\n  channel: microblog\ninjects:\n  - id: a\n    at: 0s\n    body: b\n"),
    )
    .unwrap();
    for args in [
        &["validate", "alias.yaml"][..],
        &["plan", "alias.yaml"],
        &["validate", "id.yaml"],
        &["validate", "id.yaml", "--format", "json"],
    ] {
        let started = Instant::now();
        let run = injector_in(dir.path(), args);
        assert!(
            started.elapsed() < HANG,
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            run.code,
            1,
            "{args:?}: {}",
            &run.stderr[..run.stderr.len().min(2000)]
        );
        assert!(!run.stderr.contains("panicked"), "{args:?}");
        if args[1] == "alias.yaml" {
            assert!(
                run.stderr.len() < 20_000,
                "{args:?}: {} bytes of diagnostics",
                run.stderr.len()
            );
            assert!(
                run.stderr.contains("… (cut)") || run.stderr.contains("…"),
                "{args:?}"
            );
        }
    }
    // A valid scenario with a long id: every shape of plan, a run, every shape of report.
    std::fs::write(
        dir.path().join("ok.yaml"),
        format!("name: L\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n  - id: {long}\n    at: 0s\n    body: b\n"),
    )
    .unwrap();
    for format in ["text", "csv", "json"] {
        let run = injector_in(dir.path(), &["plan", "ok.yaml", "--format", format]);
        assert_eq!(run.code, 0, "plan {format}: {}", run.stderr);
        assert!(run.stdout.contains(&long));
    }
    injector_in(
        dir.path(),
        &["run", "ok.yaml", "--dry-run", "--speed", "max"],
    )
    .code(0);
    for format in ["text", "csv", "json", "html"] {
        let run = injector_in(
            dir.path(),
            &["report", "ok.dry-run.journal.jsonl", "--format", format],
        );
        assert_eq!(run.code, 0, "report {format}: {}", run.stderr);
        assert!(run.stdout.contains(&long), "report {format}");
    }
}

/// Only what the size limit allows is read, whatever the path: a device, a FIFO.
#[test]
fn endless_inputs_are_read_only_up_to_the_limit() {
    let started = Instant::now();
    let scratch = tempdir();
    let run = injector_in(scratch.path(), &["validate", "/dev/zero"]);
    assert!(started.elapsed() < HANG, "took {:?}", started.elapsed());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("larger than 48 MiB"), "{}", run.stderr);
    assert!(run.stderr.len() < 1_000, "nothing of it echoed");
    // A FIFO with a writer that never stops.
    let dir = tempdir();
    let fifo = dir.path().join("pipe.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let writer = std::thread::spawn({
        let fifo = fifo.clone();
        move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let line = vec![b'#'; 1 << 20];
            while f.write_all(&line).is_ok() {}
        }
    });
    let run = injector_in(dir.path(), &["plan", "pipe.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("larger than 48 MiB"), "{}", run.stderr);
    writer.join().unwrap();
}

/// A mapping of many keys is as linear as a list (the benchmark has the figures).
#[test]
fn a_mapping_of_many_keys_validates_like_a_list() {
    let vars: String = (0..100_000).map(|i| format!("  k{i}: {i}\n")).collect();
    let run = validate_bytes(format!("name: M\nvars:\n{vars}injects: []\n").as_bytes());
    run.code(0);
    // A duplicate far into a large mapping is still found, with the first one's line.
    let vars: String = (0..5_000).map(|i| format!("  k{i}: {i}\n")).collect();
    let run =
        validate_bytes(format!("name: M\nvars:\n{vars}  k4321: again\ninjects: []\n").as_bytes());
    run.code(1);
    assert!(
        run.stderr
            .contains("duplicate key `k4321` (first on line 4324)"),
        "{}",
        run.stderr
    );
}

/// Out-of-range durations and factors are refused where they enter, clearly.
#[test]
fn out_of_range_durations_and_speeds_are_refused_where_they_enter() {
    let dir = tempdir();
    let head = "name: H\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n";
    for (field, value) in [("at", "300000d"), ("at", "367d"), ("ts_offset", "-400d")] {
        let extra = if field == "at" {
            String::new()
        } else {
            "    at: 0s\n".into()
        };
        std::fs::write(
            dir.path().join("h.yaml"),
            format!("{head}  - id: a\n{extra}    {field}: \"{value}\"\n    body: b\n"),
        )
        .unwrap();
        let run = injector_in(dir.path(), &["validate", "h.yaml"]);
        assert_eq!(run.code, 1, "{field}: {value}: {}", run.stderr);
        assert!(
            run.stderr.contains("is more than a year"),
            "{field}: {}",
            run.stderr
        );
    }
    std::fs::write(
        dir.path().join("ok.yaml"),
        format!("{head}  - id: a\n    at: 0s\n    body: b\n"),
    )
    .unwrap();
    for args in [
        &["plan", "ok.yaml", "--speed", "1e-300"][..],
        &["run", "ok.yaml", "--dry-run", "--speed", "1e-9"],
        &["run", "ok.yaml", "--dry-run", "--late-max", "300000y"],
        &[
            "run",
            "ok.yaml",
            "--dry-run",
            "--timeout",
            "99999999999999999999s",
        ],
    ] {
        let run = injector_in(dir.path(), args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("out of range")
                || run.stderr.contains("more than a year")
                || run.stderr.contains("not a duration"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"));
    }
    assert!(
        !dir.path().join("ok.dry-run.journal.jsonl").exists(),
        "nothing journaled"
    );
}
