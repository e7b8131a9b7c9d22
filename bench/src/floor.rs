//! Precision against the floor: what this machine allows at all.
//!
//! The floor is the client with nothing in its way: raw keep-alive TCP connections
//! opened ahead (one per request of the largest group), every request serialized ahead
//! as HTTP/1.1 bytes, and a busy-wait to each instant, then one `write` per request,
//! each on its own connection; a thread per connection reads the answers. No journal, no
//! scheduler, no HTTP library. It runs in the same run as injector, against the same
//! kind of server (a stand-in recording arrivals), on the same timeline: 100 singles
//! 100 ms apart and 5 bursts of 20 due at one instant each, so every figure is also a
//! ratio to the floor's.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::firing::{
    Planned, Server, TOKEN, body, client, largest_group, lateness_of, percentile, run_args,
    scenario_yaml, warm,
};
use crate::{Measure, Settings};

/// 100 singles 100 ms apart, and 5 bursts of 20 between them.
fn plan(smoke: bool) -> Vec<Planned> {
    let (singles, bursts, burst) = if smoke { (10, 1, 5) } else { (100, 5, 20) };
    let mut out: Vec<Planned> = (0..singles)
        .map(|i| Planned {
            key: format!("s{i}"),
            offset_ms: 100 * i as u64,
        })
        .collect();
    for b in 0..bursts {
        // Halfway between two singles.
        let at = 100 * (singles as u64 * (b as u64 + 1) / (bursts as u64 + 1)) + 50;
        out.extend((0..burst).map(|j| Planned {
            key: format!("b{b}x{j}"),
            offset_ms: at,
        }));
    }
    out.sort_by_key(|p| p.offset_ms);
    out
}

/// Singles p50, p99, max; each burst's first and last arrival (ms after its instant);
/// every single's lateness.
fn summary(
    plan: &[Planned],
    late: &HashMap<String, f64>,
) -> ([f64; 3], Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut singles: Vec<f64> = plan
        .iter()
        .filter(|p| p.key.starts_with('s'))
        .filter_map(|p| late.get(&p.key).copied())
        .collect();
    let mut bursts: HashMap<&str, (f64, f64)> = HashMap::new();
    for p in plan.iter().filter(|p| p.key.starts_with('b')) {
        let b = p.key.split('x').next().unwrap_or("");
        if let Some(l) = late.get(&p.key) {
            let e = bursts.entry(b).or_insert((f64::MAX, f64::MIN));
            *e = (e.0.min(*l), e.1.max(*l));
        }
    }
    let first: Vec<f64> = bursts.values().map(|b| b.0).collect();
    let last: Vec<f64> = bursts.values().map(|b| b.1).collect();
    (
        [
            percentile(&mut singles, 0.50),
            percentile(&mut singles, 0.99),
            percentile(&mut singles, 1.0),
        ],
        first,
        last,
        singles,
    )
}

/// Figures in round order, two decimals.
fn rounds(v: impl Iterator<Item = f64>) -> String {
    v.map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ")
}

/// The stand-in's `host:port` and base path, from its URL.
fn host_and_base(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("http://").expect("an http stand-in");
    rest.split_at(rest.find('/').unwrap_or(rest.len()))
}

/// Each instant of `plan` in order: when it is due, and where its requests are in `plan`.
fn instants(
    plan: &[Planned],
    t0: chrono::DateTime<chrono::Utc>,
) -> Vec<(chrono::DateTime<chrono::Utc>, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut start = 0;
    for group in plan.chunk_by(|a, b| a.offset_ms == b.offset_ms) {
        let due = t0 + chrono::TimeDelta::milliseconds(group[0].offset_ms as i64);
        out.push((due, start..start + group.len()));
        start += group.len();
    }
    out
}

/// Every request of `plan`, serialized as HTTP/1.1.
fn serialized(
    plan: &[Planned],
    t0: chrono::DateTime<chrono::Utc>,
    host: &str,
    base: &str,
) -> Vec<Vec<u8>> {
    plan.iter()
        .map(|p| {
            let due = t0 + chrono::TimeDelta::milliseconds(p.offset_ms as i64);
            let json = body(&p.key, due.timestamp()).to_string();
            format!(
                "POST {base}/messages HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                json.len()
            )
            .into_bytes()
        })
        .collect()
}

/// On a tokio runtime: asleep to 2 ms before `due`, then yielding until it.
async fn spin_to(due: chrono::DateTime<chrono::Utc>) {
    let left = (due - chrono::Utc::now() - chrono::TimeDelta::milliseconds(2))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left).await;
    while chrono::Utc::now() < due {
        tokio::task::yield_now().await;
    }
}

/// The floor: raw connections, requests ready, a busy-wait to each instant.
fn floor_fire(plan: &[Planned], t0: chrono::DateTime<chrono::Utc>, url: &str) {
    let (host, base) = host_and_base(url);
    let largest = largest_group(plan);
    let answered = Arc::new(AtomicUsize::new(0));
    let conns: Vec<TcpStream> = (0..largest)
        .map(|_| {
            let c = TcpStream::connect(host).expect("connect to the stand-in");
            c.set_nodelay(true).ok();
            let mut reader = c.try_clone().expect("a reader");
            let answered = answered.clone();
            std::thread::spawn(move || {
                // Count answers: each ends its headers with a blank line, then a body of
                // its Content-Length.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match reader.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            break;
                        }
                        buf.drain(..end + 4 + len);
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            c
        })
        .collect();
    let requests = serialized(plan, t0, host, base);
    let mut conns = conns;
    for (due, group) in instants(plan, t0) {
        // Sleep to 2 ms before, then spin.
        loop {
            let left = due - chrono::Utc::now();
            if left <= chrono::TimeDelta::zero() {
                break;
            }
            if left > chrono::TimeDelta::milliseconds(2) {
                std::thread::sleep(
                    (left - chrono::TimeDelta::milliseconds(2))
                        .to_std()
                        .unwrap_or_default(),
                );
            } else {
                std::hint::spin_loop();
            }
        }
        for (j, request) in requests[group].iter().enumerate() {
            let _ = conns[j].write_all(request);
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while answered.load(Ordering::Relaxed) < plan.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    for c in &conns {
        let _ = c.shutdown(std::net::Shutdown::Both);
    }
}

/// The floor's schedule with reqwest in place of raw sockets: connections warmed ahead,
/// bodies built ahead, a busy-wait to each instant, then a task per request. What is left
/// between it and the floor is the HTTP client's own path.
async fn reqwest_fire(plan: &[Planned], t0: chrono::DateTime<chrono::Utc>, url: &str) {
    let c = client();
    warm(&c, url, largest_group(plan)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (due, group) in instants(plan, t0) {
        let bodies: Vec<String> = plan[group]
            .iter()
            .map(|p| body(&p.key, due.timestamp()).to_string())
            .collect();
        spin_to(due).await;
        for b in bodies {
            let (c, url) = (c.clone(), format!("{url}/messages"));
            tasks.spawn(async move {
                if let Ok(r) = c
                    .post(url)
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await
                {
                    let _ = r.bytes().await;
                }
            });
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// The floor's schedule on a current-thread tokio runtime: tokio sockets opened ahead,
/// requests serialized ahead, a sleep to 2 ms before and a `yield_now` spin (as
/// injector's clock does), then one write per request. What is left between it and the
/// floor is the runtime's.
async fn tokio_raw_fire(plan: &[Planned], t0: chrono::DateTime<chrono::Utc>, url: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, base) = host_and_base(url);
    let largest = largest_group(plan);
    let mut writers = Vec::new();
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..largest {
        let c = tokio::net::TcpStream::connect(host).await.expect("connect");
        c.set_nodelay(true).ok();
        let (mut r, w) = c.into_split();
        readers.spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = r.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
            }
        });
        writers.push(w);
    }
    let requests = serialized(plan, t0, host, base);
    for (due, group) in instants(plan, t0) {
        spin_to(due).await;
        for (j, request) in requests[group].iter().enumerate() {
            let _ = writers[j].write_all(request).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(writers);
    readers.abort_all();
}

/// The floor's schedule through hyper's own HTTP/1.1 connections (no pool), one per
/// request of the largest group, on a current-thread runtime.
async fn hyper_fire(plan: &[Planned], t0: chrono::DateTime<chrono::Utc>, url: &str) {
    let (host, base) = host_and_base(url);
    let largest = largest_group(plan);
    let mut senders = Vec::new();
    for _ in 0..largest {
        let c = tokio::net::TcpStream::connect(host).await.expect("connect");
        c.set_nodelay(true).ok();
        let (tx, conn) = hyper::client::conn::http1::handshake::<
            _,
            http_body_util::Full<bytes::Bytes>,
        >(hyper_util::rt::TokioIo::new(c))
        .await
        .expect("handshake");
        tokio::spawn(conn);
        senders.push(tx);
    }
    let senders: Vec<_> = senders
        .into_iter()
        .map(|s| std::rc::Rc::new(tokio::sync::Mutex::new(s)))
        .collect();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let mut tasks = Vec::new();
            for (due, group) in instants(plan, t0) {
                let bodies: Vec<bytes::Bytes> = plan[group]
                    .iter()
                    .map(|p| bytes::Bytes::from(body(&p.key, due.timestamp()).to_string()))
                    .collect();
                spin_to(due).await;
                for (j, b) in bodies.into_iter().enumerate() {
                    let sender = senders[j].clone();
                    let uri = format!("{base}/messages");
                    let host = host.to_string();
                    tasks.push(tokio::task::spawn_local(async move {
                        let mut s = sender.lock().await;
                        let _ = s.ready().await;
                        let req = hyper::Request::post(uri)
                            .header("host", host)
                            .header("authorization", format!("Bearer {TOKEN}"))
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(b))
                            .expect("a request");
                        if let Ok(r) = s.send_request(req).await {
                            let _ = http_body_util::BodyExt::collect(r.into_body()).await;
                        }
                    }));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

pub fn floor(s: &Settings) -> Vec<Measure> {
    let plan = plan(s.smoke);
    let scenario = s.out_dir.join("floor.yaml");
    std::fs::write(&scenario, scenario_yaml(&plan)).expect("write the scenario");
    let token_file = s.out_dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("write the token");
    let contenders = contenders();
    let inputs = Inputs {
        plan: &plan,
        scenario: &scenario,
        token_file: &token_file,
    };
    let mut gathered = Gathered::default();
    for _ in 0..s.runs {
        for &(who, extra) in &contenders {
            // A server that closes the connection after refusing a request, such as
            // injector's warming `HEAD`.
            let server = if who.contains("closing") {
                Server::start_with(s, "floor", None, &["--close-refused"])
            } else {
                Server::start(s, "floor")
            };
            let t0 = chrono::Utc::now() + chrono::TimeDelta::seconds(3);
            let command = fire(s, &inputs, (who, extra), &server, t0);
            gathered.commands.insert(who, command);
            let late = lateness_of(&plan, t0, &server.finish());
            gathered.add(who, &plan, &late);
        }
    }
    measures(&contenders, &gathered)
}

/// The contenders, each with its extra flags for `injector run`: all of them, or with
/// `FLOOR_ONLY` (names or parts of names, `|` between them) those it names and the floor.
fn contenders() -> Vec<(&'static str, &'static [&'static str])> {
    let contenders: [(&str, &[&str]); 8] = [
        ("injector, defaults", &[]),
        ("injector, --no-preconnect", &["--no-preconnect"]),
        ("injector, multi-thread runtime", &[]),
        ("injector, defaults, a server closing refused requests", &[]),
        ("reqwest, spinning, one thread", &[]),
        ("hyper connections, one thread", &[]),
        ("tokio, raw writes, one thread", &[]),
        ("floor", &[]),
    ];
    let only = std::env::var("FLOOR_ONLY").unwrap_or_default();
    contenders
        .into_iter()
        .filter(|(who, _)| {
            *who == "floor" || only.is_empty() || only.split('|').any(|o| who.contains(o))
        })
        .collect()
}

/// What every contender fires: the plan, and for `injector run` its scenario and token
/// files.
struct Inputs<'a> {
    plan: &'a [Planned],
    scenario: &'a Path,
    token_file: &'a Path,
}

/// Fire the plan at `server` from `t0` as the contender `who` (with its extra flags for
/// `injector run`) does; how it was run, for the report.
fn fire(
    s: &Settings,
    inputs: &Inputs,
    (who, extra): (&str, &[&str]),
    server: &Server,
    t0: chrono::DateTime<chrono::Utc>,
) -> String {
    let plan = inputs.plan;
    if who == "reqwest, spinning, one thread" {
        current_thread().block_on(reqwest_fire(plan, t0, &server.url.clone()));
        "in-process: reqwest on a current-thread runtime, connections warmed ahead, bodies built ahead, a sleep then a yielding spin to each instant, a task per request".into()
    } else if who == "hyper connections, one thread" {
        current_thread().block_on(hyper_fire(plan, t0, &server.url.clone()));
        "in-process: hyper's HTTP/1.1 connections opened ahead (no pool), bodies built ahead, a sleep then a yielding spin to each instant, a task per request".into()
    } else if who == "tokio, raw writes, one thread" {
        current_thread().block_on(tokio_raw_fire(plan, t0, &server.url.clone()));
        "in-process: tokio sockets opened ahead, requests serialized ahead, a sleep then a yielding spin to each instant".into()
    } else if who == "floor" {
        let url = server.url.clone();
        floor_fire(plan, t0, &url);
        "in-process: raw keep-alive TCP opened ahead, requests serialized ahead, a busy-wait to each instant".into()
    } else {
        let journal = s.out_dir.join("floor.journal.jsonl");
        let mut flags = vec!["--start-at".to_string(), t0.to_rfc3339()];
        flags.extend(extra.iter().map(|f| f.to_string()));
        let args = run_args(inputs.scenario, server, inputs.token_file, &journal, &flags);
        let command = format!("RUST_LOG=warn {} {}", s.injector.display(), args.join(" "));
        let status = Command::new(&s.injector)
            .args(&args)
            .env("RUST_LOG", "warn")
            .env(
                "INJECTOR_RUNTIME",
                if who.contains("multi-thread") {
                    "multi-thread"
                } else {
                    ""
                },
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|st| st.success()) {
            eprintln!("warning: the injector run did not succeed");
        }
        command
    }
}

/// What the rounds gathered, per contender.
#[derive(Default)]
struct Gathered<'a> {
    /// Singles p50, p99, max, and burst last and first arrivals (median of the bursts),
    /// a figure per round.
    samples: HashMap<&'a str, [Vec<f64>; 5]>,
    /// How it was run.
    commands: HashMap<&'a str, String>,
    /// Every single of every round. A round's p99 of 100 singles is its second latest:
    /// one stall of the machine more or less decides it.
    pooled: HashMap<&'a str, Vec<f64>>,
}

impl<'a> Gathered<'a> {
    /// Add a round of `who`, its lateness per key `late`.
    fn add(&mut self, who: &'a str, plan: &[Planned], late: &HashMap<String, f64>) {
        let ([p50, p99, max], mut first, mut last, singles) = summary(plan, late);
        self.pooled.entry(who).or_default().extend(singles);
        let entry = self.samples.entry(who).or_default();
        entry[0].push(p50);
        entry[1].push(p99);
        entry[2].push(max);
        entry[3].push(percentile(&mut last, 0.5));
        entry[4].push(percentile(&mut first, 0.5));
    }
}

/// The measures of every contender, each also over the floor's.
fn measures(contenders: &[(&str, &[&str])], gathered: &Gathered) -> Vec<Measure> {
    let Gathered {
        samples,
        commands,
        pooled,
    } = gathered;
    let mut out = Vec::new();
    let floor = samples.get("floor").cloned().unwrap_or_default();
    let floor_pooled = percentile(&mut pooled.get("floor").cloned().unwrap_or_default(), 0.99);
    for &(who, _) in contenders {
        let s = samples.get(who).cloned().unwrap_or_default();
        let cmd = commands.get(who).cloned().unwrap_or_default();
        for (i, what) in [
            "singles p50",
            "singles p99",
            "singles max",
            "burst of 20, last arrival",
            "burst of 20, first arrival",
        ]
        .into_iter()
        .enumerate()
        {
            out.push(Measure {
                label: format!("floor: {who}, {what}"),
                command: cmd.clone(),
                unit: "ms",
                seconds: s[i].clone(),
                peak_mib: Vec::new(),
                note: if i == 1 {
                    format!("rounds: {}", rounds(s[i].iter().copied()))
                } else {
                    String::new()
                },
            });
            if who != "floor" && (i == 1 || i == 3) {
                out.push(Measure {
                    label: format!("floor: {who}, {what}, over the floor's"),
                    command: cmd.clone(),
                    unit: "×",
                    seconds: s[i]
                        .iter()
                        .zip(&floor[i])
                        .filter(|(_, f)| **f > 0.0)
                        .map(|(x, f)| x / f)
                        .collect(),
                    peak_mib: Vec::new(),
                    note: format!(
                        "each round's ratio; goal at most 1.5; rounds: {}",
                        rounds(s[i].iter().zip(&floor[i]).map(|(x, f)| x / f))
                    ),
                });
            }
        }
        let p99 = percentile(&mut pooled.get(who).cloned().unwrap_or_default(), 0.99);
        out.push(Measure {
            label: format!("floor: {who}, singles p99, all rounds' singles"),
            command: cmd.clone(),
            unit: "ms",
            seconds: vec![p99],
            peak_mib: Vec::new(),
            note: format!("{} singles", pooled.get(who).map_or(0, Vec::len)),
        });
        if who != "floor" && floor_pooled > 0.0 {
            out.push(Measure {
                label: format!("floor: {who}, singles p99, all rounds' singles, over the floor's"),
                command: cmd,
                unit: "×",
                seconds: vec![p99 / floor_pooled],
                peak_mib: Vec::new(),
                note: "goal at most 1.5".into(),
            });
        }
    }
    out
}
