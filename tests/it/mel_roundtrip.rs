//! The MEL is lossless: for every example scenario and for 200 generated ones,
//! `import(export(S))` has the same plan (`plan --format json`, but for the file's name)
//! and no difference by `diff`, through CSV and through XLSX.

use std::fmt::Write as _;
use std::sync::Arc;

use injector::mel;
use injector::timeline::Timeline;

const START: &str = "2026-03-28T09:00:00Z";

fn checked(file: &str, yaml: &str) -> Timeline {
    let start = chrono::DateTime::parse_from_rfc3339(START).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-28T08:00:00Z")
        .unwrap()
        .to_utc();
    let c = injector::validate::check(file, Arc::new(yaml.to_string()), Some(start), 1.0, now);
    assert!(
        c.is_valid(false),
        "{file}:\n{}\n{yaml}",
        c.diags.render(false)
    );
    c.timeline.unwrap()
}

fn plan(t: &Timeline) -> serde_json::Value {
    let mut out = Vec::new();
    injector::plan::write_json(t, true, &mut out).unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    doc["scenario"] = serde_json::Value::Null;
    doc
}

/// The scenario back from its MEL CSV and from its workbook.
fn round_trips(t: &Timeline) -> [(&'static str, String); 2] {
    let csv = mel::export(&t.scenario, None);
    let rows = mel::csv_rows(&csv).unwrap();
    let from_csv = mel::import(&rows, "mel").unwrap();
    assert!(from_csv.problems.is_empty(), "{:?}", from_csv.problems);
    let book = mel::export_xlsx(t, None).unwrap();
    let (rows, sheet) = mel::xlsx_rows(&book, None).unwrap();
    let options = mel::ImportOptions {
        block: mel::xlsx_block(&book, &sheet),
        ..Default::default()
    };
    let from_xlsx = mel::import_with(&rows, "mel", &options).unwrap();
    assert!(from_xlsx.problems.is_empty(), "{:?}", from_xlsx.problems);
    [("csv", from_csv.yaml), ("xlsx", from_xlsx.yaml)]
}

fn assert_lossless(file: &str, yaml: &str) {
    let before = checked(file, yaml);
    for (how, back) in round_trips(&before) {
        let after = checked(&format!("{file} back from {how}"), &back);
        let changes = injector::diff::compare(&before, &after, &|_| true);
        assert!(
            changes.is_empty(),
            "{file} through {how}: {changes:?}\n{yaml}\n---\n{back}"
        );
        assert_eq!(
            plan(&before),
            plan(&after),
            "{file} through {how}:\n{yaml}\n---\n{back}"
        );
    }
}

#[test]
fn every_example_scenario_survives_its_mel_both_ways() {
    let mut files: Vec<std::path::PathBuf> =
        std::fs::read_dir(crate::common::root().join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
    files.sort();
    files.push(crate::common::root().join("tests/fixtures/api/api-examples.yaml"));
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        assert_lossless(
            &f.display().to_string(),
            &std::fs::read_to_string(&f).unwrap(),
        );
    }
}

#[test]
fn two_hundred_generated_scenarios_survive_their_mel_both_ways() {
    for seed in 1..=200u64 {
        let yaml = Generator::new(seed).scenario();
        assert_lossless(&format!("generated #{seed}"), &yaml);
    }
}

/// A scenario drawn from a seed: aliases or ids, defaults or not, every kind of timing,
/// recipient and channel, templates, fan-out, expected actions, contingencies,
/// objectives, notes and extra body fields.
struct Generator {
    state: u64,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn offset(&mut self) -> String {
        let secs = self.below(4 * 3600);
        match self.below(4) {
            0 => format!("{secs}s"),
            1 => format!("{}m", secs / 60),
            2 => format!("{}h{}m", secs / 3600, secs / 60 % 60),
            _ => format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
        }
    }

    fn scenario(&mut self) -> String {
        let mut y = String::new();
        let n = self.state % 1000;
        let _ = writeln!(y, "name: \"Generated {n}: é ✓\"");
        if self.chance(50) {
            y.push_str("description: >\n  A scenario drawn at random,\n  folded over two lines.\n");
        }
        let zone = self.chance(50);
        if self.chance(50) {
            y.push_str("start: 2026-03-28T09:00:00\n");
            if !zone {
                y.push_str("timezone: UTC\n");
            }
        }
        if zone {
            y.push_str("timezone: Europe/London\n");
        }
        let personas = ["hm", "tide", "@news", "mayor"];
        y.push_str("personas:\n");
        for (i, p) in personas.iter().enumerate() {
            let key = if p.starts_with('@') {
                format!("\"{p}\"")
            } else {
                (*p).to_string()
            };
            let _ = writeln!(y, "  {key}: \"3-4978{i}\"");
        }
        let teams = ["blue", "red", "green"];
        y.push_str("teams:\n  everyone: 3440932\n");
        for (i, t) in teams.iter().enumerate() {
            let _ = writeln!(y, "  {t}: 343786{i}");
        }
        y.push_str("vars:\n  city: Portmere\n  height: \"2.4 m\"\n  count: 3\n");
        let objectives = self.chance(60);
        let typed = self.chance(60);
        let default_persona = self.chance(40);
        let default_channel = self.chance(30);
        y.push_str("defaults:\n");
        if typed {
            y.push_str("  type: team\n  team_id: everyone\n");
        }
        if default_persona {
            y.push_str("  persona: hm\n");
        }
        if default_channel {
            y.push_str("  channel: microblog\n");
        }
        y.push_str("  sentiment: neutral\n");
        if objectives {
            y.push_str("objectives:\n  - id: O1\n    text: Warn the public in time\n    capability: Public Information and Warning\n  - id: O2\n    text: \"Decide: evacuate or not\"\n");
        }
        y.push_str("injects:\n");
        let count = 1 + self.below(7);
        let mut expectations: Vec<String> = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        for i in 0..count {
            let id = format!("inject-{i}");
            let _ = writeln!(y, "  - id: {id}");
            self.timing(&mut y, &expectations, &ids);
            let gps = self.chance(8);
            if !default_persona || self.chance(50) {
                let p = self.pick(&[
                    "hm",
                    "tide",
                    "\"@news\"",
                    "mayor",
                    "\"3-49786\"",
                    "[hm, tide]",
                ]);
                let _ = writeln!(y, "    persona: {p}");
            }
            if gps {
                let _ = writeln!(
                    y,
                    "    gps: {{ lat: 50.{}, lon: -1.98{}, location: \"Quay Street, {{{{ city }}}}\" }}",
                    7000 + self.below(999),
                    self.below(99)
                );
                if !typed {
                    y.push_str("    type: team\n    team_id: everyone\n");
                }
            } else {
                self.message(
                    &mut y,
                    typed,
                    default_channel,
                    &mut expectations,
                    &id,
                    objectives,
                );
            }
            if self.chance(30) {
                let tag = self.pick(&["phase-1", "p2", "12", "true"]);
                let room = self.pick(&["A", "b c"]);
                let _ = writeln!(
                    y,
                    "    notes: {{ tag: \"{tag}\", faction: Press, room: \"{room}\" }}"
                );
            } else if self.chance(15) {
                y.push_str("    notes: { expected_action: Crisis cell convenes }\n");
            }
            if objectives && self.chance(40) {
                let o = self.pick(&["[O1]", "[O2]", "[O1, O2]"]);
                let _ = writeln!(y, "    objectives: {o}");
            }
            if self.chance(25) {
                let o = self.pick(&["cory", "dana"]);
                let _ = writeln!(y, "    owner: {o}");
            }
            ids.push(id);
        }
        if self.chance(40) {
            y.push_str("expectations:\n");
            let team = if self.chance(50) { ", team: red" } else { "" };
            let obj = if objectives && self.chance(50) {
                ", objectives: [O2]"
            } else {
                ""
            };
            let by = self.offset();
            let _ = writeln!(
                y,
                "  - {{ id: free-check, action: Red reports its status, by: \"{by}\"{team}{obj} }}"
            );
        }
        y
    }

    fn timing(&mut self, y: &mut String, expectations: &[String], ids: &[String]) {
        let kind = self.below(10);
        if kind < 2 && (!expectations.is_empty() || !ids.is_empty()) {
            let condition = if !expectations.is_empty() && self.chance(70) {
                let e = &expectations[self.below(expectations.len() as u64) as usize];
                let how = self.pick(&["met", "missed"]);
                format!("{{ {how}: {e} }}")
            } else if ids.is_empty() {
                let e = &expectations[0];
                format!("{{ any: [{{ met: {e} }}, {{ missed: {e} }}] }}")
            } else {
                let i = &ids[self.below(ids.len() as u64) as usize];
                format!("{{ sent: {i} }}")
            };
            let _ = writeln!(y, "    when: {condition}");
            if self.chance(70) {
                let _ = writeln!(y, "    after: {}m", 1 + self.below(30));
            }
            if self.chance(20) {
                let _ = writeln!(y, "    every: 5m\n    count: 2");
            }
            return;
        }
        match kind {
            2 => {
                let _ = writeln!(y, "    every: {}m", 5 + self.below(20));
                if self.chance(50) {
                    let _ = writeln!(y, "    from: {}", self.offset());
                }
                let _ = writeln!(y, "    count: {}", 2 + self.below(3));
            }
            3 => {
                let _ = writeln!(y, "    every: 15m\n    from: 10m\n    until: 1h30m");
            }
            4 => {
                let _ = writeln!(y, "    cron: \"0 */20 9-11 * * *\"\n    count: 3");
            }
            _ => {
                let _ = writeln!(y, "    at: {}", self.offset());
            }
        }
    }

    fn message(
        &mut self,
        y: &mut String,
        typed: bool,
        default_channel: bool,
        expectations: &mut Vec<String>,
        id: &str,
        objectives: bool,
    ) {
        let channel = if default_channel && self.chance(50) {
            "microblog"
        } else {
            let c = self.pick(&["mail", "microblog", "websites", "news", "msngr", "forum"]);
            let _ = writeln!(y, "    channel: {c}");
            c
        };
        let fan_out = self.chance(15);
        let start = y.len();
        match self.below(5) {
            0 if channel == "mail" || channel == "msngr" => {
                let p = self.pick(&["Incident Commander", "Press Officer"]);
                let _ = writeln!(y, "    position: {p}");
                if !typed {
                    y.push_str("    type: team\n    team_id: everyone\n");
                }
            }
            1 if channel == "msngr" => {
                let _ = writeln!(y, "    role: Role{}", 1 + self.below(2));
                if !typed {
                    y.push_str("    type: team\n    team_id: everyone\n");
                }
            }
            _ if fan_out => {
                y.push_str("    team_id: [blue, red, green]\n");
                if self.below(2) == 0 {
                    y.push_str("    stagger: 90s\n");
                }
                if !typed {
                    y.push_str("    type: team\n");
                }
            }
            2 => {
                let t = self.pick(&["blue", "red", "3437866"]);
                let _ = writeln!(y, "    team_id: {t}");
                if !typed {
                    y.push_str("    type: team\n");
                }
            }
            _ if !typed => y.push_str("    type: team\n    team_id: everyone\n"),
            _ => {}
        }
        let positioned = y[start..].contains("    position: ");
        if channel == "mail" && !positioned {
            let to = if fan_out {
                "team-{{ team }}@portmere.example.org"
            } else {
                "ops@portmere.example.org"
            };
            let _ = writeln!(y, "    to: \"{to}\"");
        }
        if channel == "mail" {
            let _ = writeln!(y, "    subject: \"Storm over {{{{ city }}}}\"");
        }
        if channel == "websites" || channel == "news" {
            let _ = writeln!(y, "    title: Water at the quay, {}", self.below(100));
            if self.chance(40) {
                y.push_str("    subtitle: \"Height: {{ height }}\"\n");
            }
        }
        match self.below(3) {
            0 => y.push_str(
                "    body: |\n      Water is rising in {{ city }}.\n      Height {{ height }}.\n",
            ),
            1 => y.push_str("    body: \"Quay flooded, avoid Harbour Road #Portmere\"\n"),
            _ => {
                let _ = writeln!(y, "    body: Reading {} at the gauge", self.below(1000));
            }
        }
        if channel == "microblog" && self.chance(50) {
            let _ = writeln!(
                y,
                "    likes: {}\n    reposts: {}",
                self.below(50),
                self.below(20)
            );
        }
        if self.chance(15) {
            y.push_str("    sentiment: negative\n");
        }
        if channel == "mail" && self.chance(20) {
            y.push_str("    cc: [press@portmere.example.org]\n");
        }
        if !fan_out && self.chance(25) {
            let e = format!("{id}-done");
            let deadline = if self.chance(70) {
                format!("within: {}m", 5 + self.below(30))
            } else {
                format!("within: \"{}\"", self.offset())
            };
            let team = if self.chance(40) { ", team: blue" } else { "" };
            let obj = if objectives && self.chance(50) {
                ", objectives: [O1]"
            } else {
                ""
            };
            let _ = writeln!(
                y,
                "    expect: {{ id: {e}, action: \"Blue answers, in time\", {deadline}{team}{obj} }}"
            );
            expectations.push(e);
        }
    }
}
