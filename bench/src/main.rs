//! injector's benchmarks. They measure and print; they assert nothing.
//!
//! `cargo run --release -p injector-bench -- scale` times `injector validate` and
//! `injector plan` (the release binary, as a user runs it) on generated scenarios and
//! records wall time and peak resident memory of each run. Each figure is the median
//! of several runs, with min and max. Results are printed as a table and written to
//! `bench/results.md` together with the machine and the exact commands.
//!
//! `--smoke` shrinks every size so the test suite can run the whole thing quickly.

mod firing;
mod floor;
mod kills;
mod push;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub(crate) struct Settings {
    pub(crate) smoke: bool,
    pub(crate) runs: usize,
    pub(crate) injector: PathBuf,
    pub(crate) out_dir: PathBuf,
    pub(crate) results: Option<PathBuf>,
}

/// One measured command: its label, the exact command line and samples.
pub(crate) struct Measure {
    pub(crate) label: String,
    pub(crate) command: String,
    /// Unit of `seconds`' samples: "s" for times, or a rate such as "req/s".
    pub(crate) unit: &'static str,
    pub(crate) seconds: Vec<f64>,
    pub(crate) peak_mib: Vec<f64>,
    pub(crate) note: String,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args
        .first()
        .map(String::as_str)
        .unwrap_or("all")
        .to_string();
    let flag_value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let smoke = args.iter().any(|a| a == "--smoke");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is inside the repo")
        .to_path_buf();
    let injector = flag_value("--injector")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/injector"));
    if !injector.exists() {
        eprintln!(
            "error: {} does not exist; build it first: cargo build --release",
            injector.display()
        );
        std::process::exit(2);
    }
    let out_dir = flag_value("--out-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("bench/out"));
    std::fs::create_dir_all(&out_dir).expect("create the output folder");
    let settings = Settings {
        smoke,
        runs: flag_value("--runs")
            .and_then(|r| r.parse().ok())
            .unwrap_or(if smoke { 1 } else { 5 }),
        injector,
        out_dir,
        results: if smoke {
            None
        } else {
            Some(root.join("bench/results.md"))
        },
    };
    if what == "bare-loop" {
        // For profiling by hand: the throughput benchmark's ceiling alone, against a
        // stand-in that is already running (`--url`), `--sends` of them.
        let url = flag_value("--url").unwrap_or_else(|| {
            eprintln!("error: bare-loop needs --url BASE_URL (a running stand-in)");
            std::process::exit(2);
        });
        let sends = flag_value("--sends")
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        firing::bare_loop_alone(&url, sends);
        return;
    }
    let mut measures = Vec::new();
    match what.as_str() {
        "scale" => measures.extend(scale(&settings)),
        "stand-in" => measures.extend(stand_in(&settings)),
        "precision" => measures.extend(firing::precision(&settings)),
        "floor" => measures.extend(floor::floor(&settings)),
        "throughput" => measures.extend(firing::throughput(&settings)),
        "soak" => measures.extend(firing::soak(&settings)),
        "push" => measures.extend(push::push(&settings)),
        "kills" => measures.extend(kills::kills(&settings)),
        "all" => {
            measures.extend(firing::precision(&settings));
            measures.extend(floor::floor(&settings));
            measures.extend(firing::throughput(&settings));
            measures.extend(firing::soak(&settings));
            measures.extend(scale(&settings));
            measures.extend(stand_in(&settings));
            measures.extend(push::push(&settings));
            measures.extend(kills::kills(&settings));
        }
        other => {
            eprintln!(
                "error: unknown benchmark `{other}`; try precision, floor, throughput, soak, push, kills, scale, stand-in or all"
            );
            std::process::exit(2);
        }
    }
    let table = table(&measures);
    print!("{table}");
    if let Some(path) = &settings.results {
        // One section per benchmark (and tag): a run replaces its own section and keeps
        // the others', so `push --tag before` and `push --tag after` stand side by side.
        let name = match flag_value("--tag") {
            Some(tag) => format!("{what} ({tag})"),
            None => what.clone(),
        };
        let mut command = format!("cargo run --release -p injector-bench -- {what}");
        if let Some(tag) = flag_value("--tag") {
            command.push_str(&format!(" --tag {tag}"));
        }
        if flag_value("--injector").is_some() {
            command.push_str(" --injector BINARY");
        }
        let section = format!(
            "## {name}\n\nProduced by `{command}` on {}.\n\n{}\nEach figure is the median of {} runs (min and max in brackets).\n\n{table}\nCommands:\n\n{}",
            now_utc(),
            machine(),
            settings.runs,
            measures
                .iter()
                .map(|m| format!("- {}: `{}`\n", m.label, m.command))
                .collect::<String>()
        );
        // Commands relative to the repository: no machine's absolute paths in the file.
        let mut section = section;
        if flag_value("--injector").is_some() {
            section = section.replace(&settings.injector.display().to_string(), "BINARY");
        }
        let section = section
            .replace(&format!("{}/", root.display()), "")
            .replace(&format!("{}/", settings.out_dir.display()), "bench/out/");
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, with_section(&old, &name, &section)).expect("write bench/results.md");
        eprintln!("wrote {}", path.display());
    }
}

/// `doc` (bench/results.md) with its section `name` replaced by `section`, or added.
fn with_section(doc: &str, name: &str, section: &str) -> String {
    const TITLE: &str = "# injector benchmark results\n\n";
    let begin = format!("<!-- bench: {name} -->\n");
    let end = format!("<!-- /bench: {name} -->\n");
    let mut body = doc.strip_prefix(TITLE).unwrap_or("").to_string();
    let block = format!("{begin}{section}{end}");
    match (body.find(&begin), body.find(&end)) {
        (Some(b), Some(e)) if e > b => body.replace_range(b..e + end.len(), &block),
        _ => {
            if !body.is_empty() && !body.ends_with("\n\n") {
                body.push('\n');
            }
            body.push_str(&block);
        }
    }
    format!("{TITLE}{body}")
}

/// Ten crowds of `posts / 10` posts each over the first hours, with three voices, two
/// templated variants and drawn likes and reposts.
fn crowds(posts: usize) -> String {
    let mut s = String::from(
        "name: Crowds\nstart: 2026-03-28T09:00:00+00:00\nseed: 1\npersonas:\n  resident: \"3-49795\"\n  tidewatch: \"3-49790\"\n  news: \"3-49792\"\nteams:\n  blue: 3437866\ndefaults:\n  channel: microblog\n  type: team\n  team_id: blue\ncrowds:\n",
    );
    for c in 0..10 {
        s.push_str(&format!(
            "  - id: crowd-{c}\n    between: [{}m, {}m]\n    count: {}\n    curve: rising\n    personas: [resident, tidewatch, news]\n    posts:\n      - \"Anyone know if {{{{ one_of(['the school', 'the hospital', 'the station']) }}}} is open? ({c})\"\n      - \"{{{{ one_of(['Saw', 'Heard about']) }}}} water over the east wall #Portmere\"\n    likes: [0, 40]\n    reposts: [0, 10]\n",
            c * 20,
            c * 20 + 90,
            posts / 10
        ));
    }
    s
}

/// Scale: validate and plan a generated 100,000-inject scenario and a one-million
/// occurrence recurrence.
fn scale(s: &Settings) -> Vec<Measure> {
    let injects = if s.smoke { 200 } else { 100_000 };
    let occurrences = if s.smoke { 1_000 } else { 1_000_000 };
    let big = s.out_dir.join(format!("generated-{injects}.yaml"));
    std::fs::write(&big, generate(injects)).expect("write generated scenario");
    let recurring = s.out_dir.join(format!("recurring-{occurrences}.yaml"));
    std::fs::write(&recurring, recurrence(occurrences)).expect("write generated scenario");
    // One mapping of many keys beside one list of as many items: both stay linear.
    let keys = if s.smoke { 1_000 } else { 100_000 };
    let mapping = s.out_dir.join(format!("mapping-{keys}.yaml"));
    let list = s.out_dir.join(format!("list-{keys}.yaml"));
    let vars: String = (0..keys).map(|i| format!("  k{i}: {i}\n")).collect();
    std::fs::write(&mapping, format!("name: M\nvars:\n{vars}injects: []\n"))
        .expect("write generated scenario");
    let items: String = (0..keys).map(|i| format!("    - {i}\n")).collect();
    std::fs::write(
        &list,
        format!("name: L\nvars:\n  list:\n{items}injects: []\n"),
    )
    .expect("write generated scenario");
    // Crowds of as many posts as the plain scenario has injects, each drawing its
    // instant, voice, text (a template with `one_of`) and counts.
    let crowded = s.out_dir.join(format!("crowds-{injects}.yaml"));
    std::fs::write(&crowded, crowds(injects)).expect("write generated scenario");
    let size_mib = std::fs::metadata(&big)
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0);
    let bin = s.injector.display().to_string();
    let cases: Vec<(String, Vec<String>, String)> = vec![
        (
            format!("validate {injects} injects"),
            vec!["validate".into(), big.display().to_string()],
            format!("{size_mib:.1} MiB of YAML"),
        ),
        (
            format!("plan {injects} injects (json)"),
            vec![
                "plan".into(),
                big.display().to_string(),
                "--format".into(),
                "json".into(),
                "-o".into(),
                "/dev/null".into(),
            ],
            "every exact body".into(),
        ),
        (
            format!("validate crowds of {injects} posts"),
            vec!["validate".into(), crowded.display().to_string()],
            "10 crowds, seeded instants, voices, templates and counts".into(),
        ),
        (
            format!("plan crowds of {injects} posts (json)"),
            vec![
                "plan".into(),
                crowded.display().to_string(),
                "--format".into(),
                "json".into(),
                "-o".into(),
                "/dev/null".into(),
            ],
            "every exact body, each post's `one_of` rendered".into(),
        ),
        (
            format!("validate a {keys}-key mapping"),
            vec!["validate".into(), mapping.display().to_string()],
            "keys checked for duplicates by hash".into(),
        ),
        (
            format!("validate a {keys}-item list"),
            vec!["validate".into(), list.display().to_string()],
            "for comparison".into(),
        ),
        (
            format!("validate {occurrences}-occurrence recurrence"),
            vec!["validate".into(), recurring.display().to_string()],
            String::new(),
        ),
        (
            format!("plan {occurrences}-occurrence recurrence (csv)"),
            vec![
                "plan".into(),
                recurring.display().to_string(),
                "--format".into(),
                "csv".into(),
                "-o".into(),
                "/dev/null".into(),
            ],
            String::new(),
        ),
    ];
    cases
        .into_iter()
        .map(|(label, args, note)| {
            let mut m = Measure {
                label,
                unit: "s",
                command: format!("{bin} {}", args.join(" ")),
                seconds: Vec::new(),
                peak_mib: Vec::new(),
                note,
            };
            for _ in 0..s.runs {
                let (secs, peak, ok) = run_measured(&s.injector, &args);
                if !ok {
                    eprintln!("warning: `{}` failed", m.command);
                }
                m.seconds.push(secs);
                m.peak_mib.push(peak);
            }
            m
        })
        .collect()
}

const WRK_SCRIPT: &str = r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-token"
wrk.body = '{"persona":"3-49786","channel":"microblog","subject":"hello world","body":"message body to team","assets":[],"replies":1,"likes":3,"reposts":2,"sentiment":"positive","team_id":3437866,"type":"team","ts":1738686056}'
"#;

/// Stand-in throughput: `wrk` posts the API page's social-media example to
/// `injector mock-server` with recording on (and its per-request log to /dev/null).
fn stand_in(s: &Settings) -> Vec<Measure> {
    use std::io::BufRead;
    if Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "warning: skipping the stand-in benchmark: `wrk` is not installed (apt-get install wrk)"
        );
        return Vec::new();
    }
    let script = s.out_dir.join("post.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("write the wrk script");
    let record = s.out_dir.join("stand-in-record.jsonl");
    let seconds = if s.smoke { 1 } else { 5 };
    let (threads, conns) = (1, 16);
    let mut m = Measure {
        label: format!("stand-in POST /messages, recording on ({conns} connections)"),
        unit: "req/s",
        command: String::new(),
        seconds: Vec::new(),
        peak_mib: Vec::new(),
        note: "the server's peak memory is not measured here".into(),
    };
    for _ in 0..s.runs {
        let _ = std::fs::remove_file(&record);
        let mut server = Command::new(&s.injector)
            .args([
                "mock-server",
                "--listen",
                "127.0.0.1:0",
                "--token",
                "bench-token",
                "--record",
            ])
            .arg(&record)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the stand-in");
        let mut url = String::new();
        std::io::BufReader::new(server.stdout.take().expect("stdout"))
            .read_line(&mut url)
            .expect("its base URL");
        let url = format!("{}/messages", url.trim());
        let args = [
            format!("-t{threads}"),
            format!("-c{conns}"),
            format!("-d{seconds}s"),
            "-s".into(),
            script.display().to_string(),
            url,
        ];
        m.command = format!(
            "wrk {}  (against `{} mock-server --listen 127.0.0.1:0 --record FILE`)",
            args.join(" "),
            s.injector.display()
        );
        let out = Command::new("wrk").args(&args).output().expect("run wrk");
        let text = String::from_utf8_lossy(&out.stdout);
        let rps = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
        let _ = server.wait();
        let recorded = std::fs::read_to_string(&record)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if recorded == 0 {
            eprintln!("warning: the stand-in recorded nothing");
        }
        m.seconds.push(rps);
    }
    vec![m]
}

/// A scenario of `n` injects over several channels, one every 5 seconds.
pub fn generate(n: usize) -> String {
    let mut s = String::with_capacity(n * 200);
    s.push_str("name: Generated\nstart: 2026-01-01T09:00:00Z\npersonas:\n  a: \"3-1\"\n  b: \"3-2\"\nteams:\n  blue: 3437866\ndefaults:\n  type: team\n  team_id: blue\ninjects:\n");
    for i in 0..n {
        let secs = i * 5;
        let (channel, extra) = match i % 4 {
            0 => ("mail", "    subject: Update\n    to: ops@example.org\n"),
            1 => ("microblog", "    likes: 3\n    sentiment: neutral\n"),
            2 => ("websites", "    title: News item\n"),
            _ => ("notifications", "    subject: Pop-up\n"),
        };
        let persona = if i % 2 == 0 { "a" } else { "b" };
        let _ = write!(
            s,
            "  - id: inject-{i}\n    at: {}h{}m{}s\n    persona: {persona}\n    channel: {channel}\n    body: Message number {i}.\n{extra}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    s
}

pub(crate) fn recurrence(count: usize) -> String {
    format!(
        "name: Recurring\nstart: 2026-01-01T09:00:00Z\ninjects:\n  - id: tick\n    every: 1s\n    count: {count}\n    persona: \"3-1\"\n    channel: microblog\n    type: team\n    team_id: 1\n    body: \"tick {{{{ occurrence }}}}\"\n"
    )
}

/// Run the binary, returning wall seconds, peak RSS in MiB, and success.
fn run_measured(bin: &Path, args: &[String]) -> (f64, f64, bool) {
    let started = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn injector");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; both pointers are valid.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = started.elapsed().as_secs_f64();
    std::mem::forget(child);
    let ok = rc == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (secs, usage.ru_maxrss as f64 / 1024.0, ok)
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let median = if s.is_empty() { 0.0 } else { s[s.len() / 2] };
    (
        median,
        *s.first().unwrap_or(&0.0),
        *s.last().unwrap_or(&0.0),
    )
}

fn table(measures: &[Measure]) -> String {
    let mut out = String::from(
        "| benchmark | median [min–max] | peak memory, MiB | note |\n|---|---|---|---|\n",
    );
    for m in measures {
        let (t, tmin, tmax) = stats(&m.seconds);
        let value = if m.unit == "s" || m.unit == "ms" || m.unit == "MiB" {
            format!("{t:.3} {} [{tmin:.3}–{tmax:.3}]", m.unit)
        } else if m.unit == "×" {
            format!("{t:.2}{} [{tmin:.2}–{tmax:.2}]", m.unit)
        } else if m.unit == "µs" {
            format!("{t:.1} {} [{tmin:.1}–{tmax:.1}]", m.unit)
        } else {
            format!("{t:.0} {} [{tmin:.0}–{tmax:.0}]", m.unit)
        };
        let memory = if m.peak_mib.is_empty() {
            "–".to_string()
        } else {
            let (p, pmin, pmax) = stats(&m.peak_mib);
            format!("{p:.0} [{pmin:.0}–{pmax:.0}]")
        };
        let _ = writeln!(out, "| {} | {value} | {memory} | {} |", m.label, m.note);
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
                    / 1024
            })
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "- CPU: {cpu}, {cores} cores\n- Memory: {mem} GiB\n- Kernel: {}\n",
        kernel.trim()
    )
}

fn now_utc() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
