//! Truth after a crash: runs killed at random against a failing server, then resumed.
//!
//! A live run of 300 injects 15 ms apart against a stand-in that answers a fifth of the
//! messages with a 5xx (500, 502, 503 or 504, each retried), killed (`SIGKILL`) at a random
//! instant while it fires. What its journal then calls uncertain is read back (`report
//! --format json`), and set beside what the stand-in saw of each before the kill: an
//! uncertain occurrence whose every arrival was refused (503 or 429: surely not delivered)
//! is one the journal could have known. The run is then resumed to its end, and every
//! occurrence the stand-in accepted more than once is counted.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::firing::{Planned, Server, TOKEN, run_args, scenario_yaml};
use crate::{Measure, Settings};

pub fn kills(s: &Settings) -> Vec<Measure> {
    let rounds = if s.smoke { 2 } else { s.runs * 4 };
    let plan: Vec<Planned> = (0..300)
        .map(|i| Planned {
            key: format!("k{i}"),
            offset_ms: 15 * i as u64,
        })
        .collect();
    let scenario = s.out_dir.join("kills.yaml");
    std::fs::write(&scenario, scenario_yaml(&plan)).expect("write the scenario");
    let token_file = s.out_dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("write the token");
    let journal = s.out_dir.join("kills.journal.jsonl");
    let measure = |label: &str, unit: &'static str, note: &str| Measure {
        label: label.into(),
        command: String::new(),
        unit,
        seconds: Vec::new(),
        peak_mib: Vec::new(),
        note: note.into(),
    };
    let mut uncertain = measure(
        "kills: uncertain after a kill (300 injects, 1 in 5 answered 5xx)",
        "occurrences",
        "per kill: occurrences the journal cannot tell were delivered",
    );
    let mut refused = measure(
        "kills: of those, only ever refused (503 or 429) before the kill",
        "occurrences",
        "per kill: the journal could have known: goal under 1 in 5 of the uncertain",
    );
    let mut twice = measure(
        "kills: accepted twice after the resume",
        "occurrences",
        "per kill: sent twice (an uncertain one is never re-sent without --resend-uncertain)",
    );
    // A seeded walk, so every run of the benchmark kills at the same instants.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..rounds {
        let server = Server::start_with(s, "kills", None, &["--fail-rate", "0.2"]);
        let args = run_args(
            &scenario,
            &server,
            &token_file,
            &journal,
            &["--start-at".into(), "now".into()],
        );
        let command = format!("RUST_LOG=warn {} {}", s.injector.display(), args.join(" "));
        uncertain.command = command.clone();
        refused.command = command.clone();
        twice.command = format!("{command} --resume");
        let mut child = Command::new(&s.injector)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the run");
        // T0 is a second after start; the sends take 4.5 s, with retries more.
        let wait_ms = 1_200 + next() % 3_500;
        std::thread::sleep(Duration::from_millis(wait_ms));
        let _ = child.kill();
        let _ = child.wait();
        let killed_ns = unix_ns_now();
        let report = Command::new(&s.injector)
            .args(["report", &journal.display().to_string(), "--format", "json"])
            .output()
            .expect("report");
        let report: Value = serde_json::from_slice(&report.stdout).unwrap_or(Value::Null);
        let unsure: Vec<String> = report["rows"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|r| r["status"] == "uncertain")
            .filter_map(|r| r["key"].as_str().map(String::from))
            .collect();
        let mut resumed = args.clone();
        resumed.push("--resume".into());
        resumed.retain(|a| a != "--start-at" && a != "now");
        let _ = Command::new(&s.injector)
            .args(&resumed)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let mut before: HashMap<String, Vec<u64>> = HashMap::new();
        let mut accepted: HashMap<String, usize> = HashMap::new();
        for r in server.records() {
            let Some(key) = r["body"]["body"]
                .as_str()
                .and_then(|b| b.strip_prefix("inject "))
            else {
                continue;
            };
            let status = r["status"].as_u64().unwrap_or(0);
            if r["received_unix_ns"].as_u64().unwrap_or(u64::MAX) < killed_ns {
                before.entry(key.to_string()).or_default().push(status);
            }
            if status == 200 {
                *accepted.entry(key.to_string()).or_default() += 1;
            }
        }
        let only_refused = unsure
            .iter()
            .filter(|k| {
                before
                    .get(*k)
                    .is_some_and(|st| st.iter().all(|s| matches!(s, 503 | 429)))
            })
            .count();
        uncertain.seconds.push(unsure.len() as f64);
        refused.seconds.push(only_refused as f64);
        twice
            .seconds
            .push(accepted.values().filter(|&&n| n > 1).count() as f64);
    }
    vec![uncertain, refused, twice]
}

fn unix_ns_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
