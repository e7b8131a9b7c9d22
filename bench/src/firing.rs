//! Firing benchmarks: precision against peers, and throughput against a bare client.
//!
//! Every contender sends to its own `injector mock-server` (the release binary) with
//! `--record`; lateness is the server's recorded arrival minus the planned instant.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Measure, Settings};

pub(crate) const TOKEN: &str = "bench-token";

/// One planned send: its key and offset from T0 in milliseconds.
#[derive(Clone)]
pub(crate) struct Planned {
    pub(crate) key: String,
    pub(crate) offset_ms: u64,
}

/// `singles` spread over `span_ms` (seeded), plus `bursts` groups of `burst` at one instant.
fn timeline(singles: usize, bursts: usize, burst: usize, span_ms: u64) -> Vec<Planned> {
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out: Vec<Planned> = (0..singles)
        .map(|i| Planned {
            key: format!("s{i}"),
            offset_ms: next() % span_ms,
        })
        .collect();
    for b in 0..bursts {
        let at = span_ms * (b as u64 + 1) / (bursts as u64 + 1);
        out.extend((0..burst).map(|j| Planned {
            key: format!("b{b}x{j}"),
            offset_ms: at,
        }));
    }
    out.sort_by_key(|p| p.offset_ms);
    out
}

pub(crate) fn body(key: &str, ts: i64) -> Value {
    json!({"persona": "3-49786", "channel": "microblog", "body": format!("inject {key}"), "type": "team", "team_id": 3437866, "ts": ts})
}

pub(crate) fn scenario_yaml(plan: &[Planned]) -> String {
    let mut s = String::from(
        "name: Bench\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n",
    );
    for p in plan {
        s.push_str(&format!(
            "  - id: {}\n    at: {}ms\n    body: \"inject {}\"\n",
            p.key, p.offset_ms, p.key
        ));
    }
    s
}

/// A stand-in process with a record file; stopped by `finish` (or killed on drop).
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    record: PathBuf,
}

impl Server {
    pub(crate) fn start(s: &Settings, name: &str) -> Server {
        Server::start_on(s, name, None)
    }

    /// A stand-in, on one CPU only when `cpu` says so.
    fn start_on(s: &Settings, name: &str, cpu: Option<usize>) -> Server {
        Server::start_with(s, name, cpu, &[])
    }

    /// A stand-in with further flags (`--close-refused`, say).
    pub(crate) fn start_with(
        s: &Settings,
        name: &str,
        cpu: Option<usize>,
        flags: &[&str],
    ) -> Server {
        let record = record_dir(s).join(format!("{name}.record.jsonl"));
        let _ = std::fs::remove_file(&record);
        let mut command = Command::new(&s.injector);
        pin(&mut command, cpu);
        let mut child = command
            .args([
                "mock-server",
                "--listen",
                "127.0.0.1:0",
                "--token",
                TOKEN,
                "--record",
            ])
            .arg(&record)
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the stand-in");
        let mut url = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut url)
            .expect("its URL");
        Server {
            child,
            url: url.trim().to_string(),
            record,
        }
    }

    /// Stop it (flushing the record) and return key -> arrival (unix ns) of 200s.
    pub(crate) fn finish(self) -> HashMap<String, i128> {
        self.records()
            .into_iter()
            .filter(|r| r["status"] == 200)
            .filter_map(|r| {
                let key = r["body"]["body"]
                    .as_str()?
                    .strip_prefix("inject ")?
                    .to_string();
                Some((key, r["received_unix_ns"].as_u64()? as i128))
            })
            .collect()
    }

    /// Stop it (flushing the record) and return its records.
    pub(crate) fn records(mut self) -> Vec<Value> {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
        let record = std::mem::take(&mut self.record);
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        let _ = std::fs::remove_file(&record);
        // The tmpfs folder of this bench's records, empty again (see `record_dir`).
        if let Some(dir) = record.parent()
            && dir.starts_with("/dev/shm")
        {
            let _ = std::fs::remove_dir(dir);
        }
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    }
}

/// Where the stand-in writes its record: a tmpfs when the machine has one (`/dev/shm`),
/// else the output folder. On the same disk as the journal, the stand-in's writes share
/// ext4's commits with the journal's `fsync`s, and each `fsync` then also waits for (and
/// writes out) the record: with injector as the client, that made the stand-in spend a
/// third more CPU per request than with the bare loop, which has no journal. Conducttr
/// is another machine and shares no disk with the journal.
fn record_dir(s: &Settings) -> PathBuf {
    // SAFETY: statfs(2) fills the struct we pass; the path is a NUL-terminated literal.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    let on_tmpfs = unsafe { libc::statfs(c"/dev/shm".as_ptr(), &mut fs) } == 0
        && fs.f_type == libc::TMPFS_MAGIC;
    let dir = PathBuf::from(format!("/dev/shm/injector-bench-{}", std::process::id()));
    if on_tmpfs && std::fs::create_dir_all(&dir).is_ok() {
        dir
    } else {
        s.out_dir.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `injector run` of `scenario` against `server`, with a fresh journal at `journal`.
pub(crate) fn run_args(
    scenario: &std::path::Path,
    server: &Server,
    token_file: &std::path::Path,
    journal: &std::path::Path,
    extra: &[String],
) -> Vec<String> {
    let _ = std::fs::remove_file(journal);
    let mut args = vec![
        "run".to_string(),
        scenario.display().to_string(),
        "--base-url".into(),
        server.url.clone(),
        "--token-file".into(),
        token_file.display().to_string(),
        "--journal".into(),
        journal.display().to_string(),
    ];
    args.extend_from_slice(extra);
    args
}

fn unix_ns(t: chrono::DateTime<chrono::Utc>) -> i128 {
    t.timestamp_nanos_opt().unwrap_or(0) as i128
}

/// Lateness in ms of every planned send that arrived; (lateness, missing count).
fn lateness(
    plan: &[Planned],
    t0: chrono::DateTime<chrono::Utc>,
    arrived: &HashMap<String, i128>,
) -> (Vec<f64>, usize) {
    let mut out = Vec::new();
    let mut missing = 0;
    for p in plan {
        match arrived.get(&p.key) {
            Some(at) => {
                out.push((*at - unix_ns(t0) - p.offset_ms as i128 * 1_000_000) as f64 / 1e6)
            }
            None => missing += 1,
        }
    }
    (out, missing)
}

/// Lateness in ms of every planned send that arrived, by key.
pub(crate) fn lateness_of(
    plan: &[Planned],
    t0: chrono::DateTime<chrono::Utc>,
    arrived: &HashMap<String, i128>,
) -> HashMap<String, f64> {
    plan.iter()
        .filter_map(|p| {
            let at = arrived.get(&p.key)?;
            Some((
                p.key.clone(),
                (*at - unix_ns(t0) - p.offset_ms as i128 * 1_000_000) as f64 / 1e6,
            ))
        })
        .collect()
}

pub(crate) fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

pub(crate) fn client() -> reqwest::Client {
    // The workspace builds reqwest without a default TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()
        .expect("a client")
}

/// Open `n` connections in `c`'s pool: `n` concurrent `HEAD`s to the messages URL.
pub(crate) async fn warm(c: &reqwest::Client, url: &str, n: usize) {
    let mut heads = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, url) = (c.clone(), format!("{url}/messages"));
        heads.spawn(async move {
            if let Ok(resp) = c.head(url).send().await {
                let _ = resp.bytes().await;
            }
        });
    }
    heads.join_all().await;
}

/// The most requests due at one instant: how many connections to open.
pub(crate) fn largest_group(plan: &[Planned]) -> usize {
    plan.chunk_by(|a, b| a.offset_ms == b.offset_ms)
        .map(<[Planned]>::len)
        .max()
        .unwrap_or(1)
}

/// POST one message and read the answer's `message_id`, as any sender must (the id is
/// what proves the message arrived); `None` when there is none.
async fn post(c: &reqwest::Client, url: &str, body: &Value) -> Option<String> {
    let resp = c
        .post(format!("{url}/messages"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .ok()?;
    let answer: Value = resp.json().await.ok()?;
    answer["message_id"].as_str().map(String::from)
}

/// Precision: the same timeline fired by injector, tokio-cron-scheduler, a naive loop
/// and a `sleep_until` loop, all sharing the CPUs with the stand-in; then, on a machine
/// with two or more, injector and the `sleep_until` loop with the stand-in on a CPU of
/// its own, as when Conducttr is another machine.
pub fn precision(s: &Settings) -> Vec<Measure> {
    let mut out = precision_placed(s, Placement::Shared);
    if std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
        out.extend(precision_placed(s, Placement::Apart));
    }
    out
}

fn precision_placed(s: &Settings, placement: Placement) -> Vec<Measure> {
    let (singles, bursts, burst, span) = if s.smoke {
        (30, 2, 5, 2_000)
    } else {
        (1_500, 10, 50, 60_000)
    };
    let plan = timeline(singles, bursts, burst, span);
    let n = plan.len();
    let scenario = s.out_dir.join("precision.yaml");
    std::fs::write(&scenario, scenario_yaml(&plan)).expect("write the scenario");
    let token_file = s.out_dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("write the token");
    let place = placement.label();
    let label = |who: &str, what: &str| {
        format!(
            "precision, {who}{place}: lateness {what} ({n} sends over {} s)",
            span / 1000
        )
    };
    // Apart, only the two that keep within milliseconds: the others are off by seconds
    // wherever the stand-in runs.
    let peers: &[&str] = match placement {
        Placement::Shared => &[
            "tokio-cron-scheduler",
            "naive sleep loop",
            "sleep_until loop",
        ],
        Placement::Apart => &["sleep_until loop"],
    };
    let mut samples: HashMap<&str, [Vec<f64>; 5]> = HashMap::new();
    let mut commands: HashMap<&str, String> = HashMap::new();
    for _ in 0..s.runs {
        // injector run
        let server = Server::start_on(s, "precision-injector", placement.server());
        let t0 = chrono::Utc::now() + chrono::TimeDelta::seconds(3);
        let journal = s.out_dir.join("precision.journal.jsonl");
        let args = run_args(
            &scenario,
            &server,
            &token_file,
            &journal,
            &[
                "--start-at".into(),
                t0.to_rfc3339(),
                // The peers start every send at once; injector may have a burst in flight.
                "--concurrency".into(),
                burst.max(16).to_string(),
                // Connections open before a burst's instant (the default now), as the
                // sleep_until loop's.
            ],
        );
        commands.insert(
            "injector",
            format!("RUST_LOG=warn {} {}", s.injector.display(), args.join(" ")),
        );
        let mut command = Command::new(&s.injector);
        pin(&mut command, placement.client());
        let status = command
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|st| st.success()) {
            eprintln!("warning: the injector run did not succeed");
        }
        record(
            &mut samples,
            "injector",
            lateness(&plan, t0, &server.finish()),
        );

        for &peer in peers {
            let server = Server::start_on(s, "precision-peer", placement.server());
            let t0 = chrono::Utc::now() + chrono::TimeDelta::seconds(3);
            let url = server.url.clone();
            let command = on_client_cpu(placement, || {
                let runtime = runtime();
                match peer {
                    "tokio-cron-scheduler" => {
                        runtime.block_on(tcs_fire(&plan, t0, &url, span));
                        "in-process: Job::new_one_shot_at_instant_async per send, reqwest POST"
                    }
                    "naive sleep loop" => {
                        runtime.block_on(naive_fire(&plan, t0, &url));
                        "in-process: sleep(offset[i] - offset[i-1]) then spawn a reqwest POST"
                    }
                    _ => {
                        runtime.block_on(deadline_fire(&plan, t0, &url));
                        "in-process: connections opened ahead, bodies built ahead, tokio::time::sleep_until(each instant), then spawn every POST due"
                    }
                }
            });
            commands.insert(peer, command.into());
            record(&mut samples, peer, lateness(&plan, t0, &server.finish()));
        }
    }
    let mut out = Vec::new();
    // The ratio to each peer, run by run: its p99 error (early or late) over injector's.
    let error = |who: &str| samples.get(who).map(|s| s[4].clone()).unwrap_or_default();
    let ours = error("injector");
    let mut ratios = Vec::new();
    for &peer in peers {
        ratios.push(Measure {
            label: format!(
                "precision{place}: p99 of the error (early or late), {peer} over injector"
            ),
            command: commands.get(peer).cloned().unwrap_or_default(),
            unit: "×",
            seconds: error(peer)
                .iter()
                .zip(&ours)
                .filter(|(_, o)| **o > 0.0)
                .map(|(p, o)| p / o)
                .collect(),
            peak_mib: Vec::new(),
            note: "each run's ratio; the contenders share the run's timeline and machine".into(),
        });
    }
    for &who in std::iter::once(&"injector").chain(peers) {
        let [p50, p99, max, early, _] = samples.remove(who).unwrap_or_default();
        let cmd = commands.get(who).cloned().unwrap_or_default();
        for (what, v) in [("p50", p50), ("p99", p99), ("max", max)] {
            out.push(Measure {
                label: label(who, what),
                command: cmd.clone(),
                unit: "ms",
                seconds: v,
                peak_mib: Vec::new(),
                note: String::new(),
            });
        }
        out.push(Measure {
            label: label(who, "sends arriving early (count)"),
            command: cmd,
            unit: "early",
            seconds: early,
            peak_mib: Vec::new(),
            note: "before their planned instant".into(),
        });
    }
    out.extend(ratios);
    out
}

fn record(
    samples: &mut HashMap<&str, [Vec<f64>; 5]>,
    who: &'static str,
    (mut late, missing): (Vec<f64>, usize),
) {
    if missing > 0 {
        eprintln!("warning: {who}: {missing} planned sends never arrived");
    }
    let early = late.iter().filter(|l| **l < 0.0).count() as f64;
    let entry = samples.entry(who).or_default();
    entry[0].push(percentile(&mut late, 0.50));
    entry[1].push(percentile(&mut late, 0.99));
    entry[2].push(percentile(&mut late, 1.0));
    entry[3].push(early);
    let mut error: Vec<f64> = late.iter().map(|l| l.abs()).collect();
    entry[4].push(percentile(&mut error, 0.99));
}

async fn tcs_fire(plan: &[Planned], t0: chrono::DateTime<chrono::Utc>, url: &str, span_ms: u64) {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let sched = JobScheduler::new().await.expect("a scheduler");
    let c = client();
    let anchor_wall = chrono::Utc::now();
    let anchor = Instant::now();
    for p in plan {
        let due = t0 + chrono::TimeDelta::milliseconds(p.offset_ms as i64);
        let instant = anchor + (due - anchor_wall).to_std().unwrap_or_default();
        let (c, url, body) = (c.clone(), url.to_string(), body(&p.key, due.timestamp()));
        let job = Job::new_one_shot_at_instant_async(instant, move |_, _| {
            let (c, url, body) = (c.clone(), url.clone(), body.clone());
            Box::pin(async move {
                post(&c, &url, &body).await;
            })
        })
        .expect("a job");
        sched.add(job).await.expect("add a job");
    }
    let mut sched = sched;
    sched.start().await.expect("start");
    let end = t0 + chrono::TimeDelta::milliseconds(span_ms as i64 + 3000);
    tokio::time::sleep((end - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    let _ = sched.shutdown().await;
}

async fn naive_fire(plan: &[Planned], t0: chrono::DateTime<chrono::Utc>, url: &str) {
    let c = client();
    tokio::time::sleep((t0 - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    let mut previous = 0;
    let mut tasks = tokio::task::JoinSet::new();
    for p in plan {
        tokio::time::sleep(Duration::from_millis(p.offset_ms - previous)).await;
        previous = p.offset_ms;
        let due = t0 + chrono::TimeDelta::milliseconds(p.offset_ms as i64);
        let (c, url, body) = (c.clone(), url.to_string(), body(&p.key, due.timestamp()));
        tasks.spawn(async move {
            post(&c, &url, &body).await;
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// The simplest sound loop: absolute deadlines (no drift), connections opened and bodies
/// built ahead, no journal.
async fn deadline_fire(plan: &[Planned], t0: chrono::DateTime<chrono::Utc>, url: &str) {
    let c = client();
    // As many connections as the largest group, opened before T0 (3 s away).
    warm(&c, url, largest_group(plan)).await;
    let anchor_wall = chrono::Utc::now();
    let anchor = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0;
    while i < plan.len() {
        let offset = plan[i].offset_ms;
        let due = t0 + chrono::TimeDelta::milliseconds(offset as i64);
        let group: Vec<Value> = plan[i..]
            .iter()
            .take_while(|p| p.offset_ms == offset)
            .map(|p| body(&p.key, due.timestamp()))
            .collect();
        i += group.len();
        tokio::time::sleep_until(anchor + (due - anchor_wall).to_std().unwrap_or_default()).await;
        for body in group {
            let (c, url) = (c.clone(), url.to_string());
            tasks.spawn(async move {
                post(&c, &url, &body).await;
            });
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Where the two sides of a run are: sharing every CPU, or each on its own.
#[derive(Clone, Copy)]
enum Placement {
    Shared,
    /// The client on CPU 0, the stand-in on CPU 1, as when the server is another machine.
    Apart,
}

impl Placement {
    fn client(self) -> Option<usize> {
        match self {
            Placement::Shared => None,
            Placement::Apart => Some(0),
        }
    }

    fn server(self) -> Option<usize> {
        match self {
            Placement::Shared => None,
            Placement::Apart => Some(1),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Placement::Shared => "",
            Placement::Apart => ", client and server on a CPU each",
        }
    }
}

/// Run `command` on `cpu` only (when given).
fn pin(command: &mut Command, cpu: Option<usize>) {
    use std::os::unix::process::CommandExt;
    if let Some(cpu) = cpu {
        // SAFETY: sched_setaffinity(2) is async-signal-safe; nothing else runs here.
        unsafe {
            command.pre_exec(move || set_affinity(cpu));
        }
    }
}

/// Run `f` (an in-process contender) on the client's CPU of `placement`. The runtime's
/// threads keep the affinity of the thread that starts them, so `f` makes its runtime
/// inside; the thread gets its own affinity back afterwards (later benchmarks must not
/// stay pinned).
fn on_client_cpu<T>(placement: Placement, f: impl FnOnce() -> T) -> T {
    let Some(cpu) = placement.client() else {
        return f();
    };
    // Pinned only when the current affinity can be restored afterwards.
    let saved = affinity();
    if saved.is_ok()
        && let Err(e) = set_affinity(cpu)
    {
        eprintln!("warning: cannot pin an in-process contender to CPU {cpu}: {e}");
    }
    let out = f();
    if let Ok(saved) = &saved
        && let Err(e) = set_affinity_mask(saved)
    {
        eprintln!("warning: cannot unpin after an in-process contender: {e}");
    }
    out
}

/// Keep the calling thread (and the threads and processes it starts later) on `cpu`.
/// Runs after fork too: nothing here allocates.
fn set_affinity(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within its fixed size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    set_affinity_mask(&set)
}

fn set_affinity_mask(set: &libc::cpu_set_t) -> std::io::Result<()> {
    // SAFETY: pid 0 is the calling thread; the set is a valid cpu_set_t.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The CPUs the calling thread may run on now.
fn affinity() -> std::io::Result<libc::cpu_set_t> {
    // SAFETY: sched_getaffinity(2) fills the set we pass.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r == 0 {
        Ok(set)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Throughput: `--speed max` with and without fsync against a bare reqwest loop, the
/// two sides sharing the CPUs; then, on a machine with two or more, each on a CPU of
/// its own (fsync on only).
pub fn throughput(s: &Settings) -> Vec<Measure> {
    let mut out = throughput_placed(s, Placement::Shared);
    if std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
        out.extend(throughput_placed(s, Placement::Apart));
    }
    out
}

fn throughput_placed(s: &Settings, placement: Placement) -> Vec<Measure> {
    let n = if s.smoke { 200 } else { 20_000 };
    let concurrency = 16;
    let plan = all_at_once(n);
    let scenario = s.out_dir.join("throughput.yaml");
    std::fs::write(&scenario, scenario_yaml(&plan)).expect("write the scenario");
    let token_file = s.out_dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("write the token");
    let variants = [
        ("injector run --speed max, journal fsync on", vec![]),
        (
            "injector run --speed max, journal fsync off",
            vec!["--no-fsync"],
        ),
    ];
    let variants = match placement {
        Placement::Shared => &variants[..],
        Placement::Apart => &variants[..1],
    };
    let place = placement.label();
    let measure = |label: String, unit: &'static str, note: &str| Measure {
        label,
        command: String::new(),
        unit,
        seconds: Vec::new(),
        peak_mib: Vec::new(),
        note: note.into(),
    };
    // A round takes seconds, and the ratio moves with the machine (±0.15 from one round to
    // the next on a shared VM): five rounds per run.
    let rounds = s.runs * 5;
    // Per variant: its rate, its CPU per send, and its ratio to the bare loop of the same round.
    let mut rates: Vec<Measure> = Vec::new();
    let mut cpus: Vec<Measure> = Vec::new();
    let mut ratios: Vec<Measure> = Vec::new();
    for (label, _) in variants {
        rates.push(measure(
            format!("throughput: {label}{place} ({n} sends)"),
            "sends/s",
            "",
        ));
        cpus.push(measure(
            format!("CPU per send: {label}{place} ({n} sends)"),
            "µs",
            "user + system time of the whole run, start-up included",
        ));
        ratios.push(measure(
            format!("throughput ratio to the ceiling: {label}{place}"),
            "×",
            &format!(
                "median of {rounds} rounds, each its rate over the bare loop's in the same round"
            ),
        ));
    }
    let mut bare = measure(
        format!("throughput: bare reqwest POST loop, {concurrency} in flight{place} ({n} sends)"),
        "sends/s",
        "the ceiling",
    );
    bare.command = "in-process: 16 tasks posting in turn with one pooled reqwest client".into();
    let mut bare_cpu = measure(
        format!("CPU per send: bare reqwest POST loop{place} ({n} sends)"),
        "µs",
        "user + system time of the loop",
    );
    bare_cpu.command = bare.command.clone();
    // Rounds, each running every contender once: the machine's drift (a shared VM's
    // speed moves by a fifth within minutes) hits all of a round alike.
    for _ in 0..rounds {
        let mut round = Vec::new();
        for (v, (_, extra)) in variants.iter().enumerate() {
            settle();
            let server = Server::start_on(s, "throughput", placement.server());
            let journal = s.out_dir.join("throughput.journal.jsonl");
            let mut flags: Vec<String> = vec![
                "--speed".into(),
                "max".into(),
                "--concurrency".into(),
                concurrency.to_string(),
            ];
            flags.extend(extra.iter().map(|a| a.to_string()));
            let args = run_args(&scenario, &server, &token_file, &journal, &flags);
            let command = format!("RUST_LOG=warn {} {}", s.injector.display(), args.join(" "));
            rates[v].command = command.clone();
            cpus[v].command = command.clone();
            ratios[v].command = command;
            let before = cpu_seconds(libc::RUSAGE_CHILDREN);
            let mut command = Command::new(&s.injector);
            pin(&mut command, placement.client());
            let _ = command
                .args(&args)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            // Only the injector child has been waited for so far: the server is still up.
            cpus[v]
                .seconds
                .push((cpu_seconds(libc::RUSAGE_CHILDREN) - before) * 1e6 / n as f64);
            let rate = rate(&server.finish());
            rates[v].seconds.push(rate);
            round.push(rate);
        }
        settle();
        let server = Server::start_on(s, "throughput-bare", placement.server());
        let cpu = on_client_cpu(placement, || {
            let runtime = runtime();
            let before = cpu_seconds(libc::RUSAGE_SELF);
            runtime.block_on(bare_loop(&plan, &server.url, concurrency));
            (cpu_seconds(libc::RUSAGE_SELF) - before) * 1e6 / n as f64
        });
        bare_cpu.seconds.push(cpu);
        let ceiling = rate(&server.finish());
        bare.seconds.push(ceiling);
        for (v, rate) in round.into_iter().enumerate() {
            if ceiling > 0.0 {
                ratios[v].seconds.push(rate / ceiling);
            }
        }
    }
    let mut out = rates;
    out.push(bare);
    out.extend(ratios);
    out.extend(cpus);
    out.push(bare_cpu);
    out
}

/// Write out every dirty page before a contender starts, outside its measured span: a
/// run without `fsync` leaves its 10 MB journal to the kernel's write-back, which would
/// otherwise land on whichever contender runs next (seen: the run with `fsync` after
/// one without lost up to a fifth of its rate to it).
fn settle() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// User plus system CPU seconds of this process (`RUSAGE_SELF`, all its threads) or of
/// its children waited for so far (`RUSAGE_CHILDREN`).
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage(2) fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// Sends per second over the span of arrivals.
fn rate(arrived: &HashMap<String, i128>) -> f64 {
    let (Some(first), Some(last)) = (arrived.values().min(), arrived.values().max()) else {
        return 0.0;
    };
    let span = (*last - *first) as f64 / 1e9;
    if span <= 0.0 {
        0.0
    } else {
        (arrived.len() - 1) as f64 / span
    }
}

/// The bare loop alone, `sends` of them, 16 in flight, against the stand-in at `url`.
pub fn bare_loop_alone(url: &str, sends: usize) {
    runtime().block_on(bare_loop(&all_at_once(sends), url, 16));
}

/// `n` sends (`t0`, `t1`, ...) all due at offset zero: the throughput timeline.
fn all_at_once(n: usize) -> Vec<Planned> {
    (0..n)
        .map(|i| Planned {
            key: format!("t{i}"),
            offset_ms: 0,
        })
        .collect()
}

async fn bare_loop(plan: &[Planned], url: &str, concurrency: usize) {
    let c = client();
    let queue = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
        plan.to_vec(),
    )));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (c, url, queue) = (c.clone(), url.to_string(), queue.clone());
        tasks.spawn(async move {
            loop {
                let next = queue.lock().expect("queue").pop_front();
                let Some(p) = next else { break };
                post(&c, &url, &body(&p.key, 0)).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Soak: a 24-hour recurring scenario at a high speed factor against a stand-in process;
/// the resident memory of `injector run`, sampled every 200 ms.
pub fn soak(s: &Settings) -> Vec<Measure> {
    let (speed, every) = if s.smoke {
        ("86400", "60s")
    } else {
        ("1440", "10s")
    };
    let yaml = format!(
        "name: Soak\ninjects:\n  - id: tick\n    every: {every}\n    until: 24h\n    persona: \"3-49786\"\n    channel: microblog\n    type: team\n    team_id: 3437866\n    body: \"tick {{{{ occurrence }}}}\"\n"
    );
    let scenario = s.out_dir.join("soak.yaml");
    std::fs::write(&scenario, yaml).expect("write the scenario");
    let token_file = s.out_dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("write the token");
    let mut first = Measure {
        label: format!("soak: 24 h every {every} at --speed {speed}: RSS after 10% of the run"),
        command: String::new(),
        unit: "MiB",
        seconds: Vec::new(),
        peak_mib: Vec::new(),
        note: String::new(),
    };
    let mut last = Measure {
        label: format!("soak: 24 h every {every} at --speed {speed}: RSS at the end"),
        command: String::new(),
        unit: "MiB",
        seconds: Vec::new(),
        peak_mib: Vec::new(),
        note: String::new(),
    };
    for _ in 0..s.runs {
        let server = Server::start(s, "soak");
        let journal = s.out_dir.join("soak.journal.jsonl");
        let args = run_args(
            &scenario,
            &server,
            &token_file,
            &journal,
            &["--speed".into(), speed.into()],
        );
        first.command = format!("RUST_LOG=warn {} {}", s.injector.display(), args.join(" "));
        last.command = first.command.clone();
        let mut child = Command::new(&s.injector)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the run");
        let mut samples = Vec::new();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            let status =
                std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            {
                samples.push(kb / 1024.0);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = server.finish();
        if samples.len() >= 2 {
            first.seconds.push(samples[samples.len() / 10]);
            last.seconds.push(*samples.last().expect("samples"));
        }
    }
    vec![first, last]
}
