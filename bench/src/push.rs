//! Live push at scale: what open control pages cost a run.
//!
//! A dry run of 20,000 occurrences (one a second, at `--speed 1000`: about 20 s) with its
//! control endpoint on, run with no page open and with three, each page a client reading
//! `/api/events` to the end and counting what it receives. The run's own CPU time (user +
//! system, from `wait4`) with three pages over the same without any is the cost of the
//! pages; the bytes are what a remote controller's page pulls over the venue's Wi-Fi.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{Measure, Settings};

const CONTROL_TOKEN: &str = "bench-control-token";

/// One run: its CPU seconds, wall seconds, and the bytes each page received.
struct Ran {
    cpu: f64,
    wall: f64,
    pages: Vec<u64>,
}

pub fn push(s: &Settings) -> Vec<Measure> {
    let n = if s.smoke { 300 } else { 20_000 };
    let scenario = s.out_dir.join(format!("push-{n}.yaml"));
    std::fs::write(&scenario, crate::recurrence(n)).expect("write the scenario");
    let token_file = s.out_dir.join("control-token");
    std::fs::write(&token_file, CONTROL_TOKEN).expect("write the control token");
    let journal = s.out_dir.join("push.journal.jsonl");
    let args: Vec<String> = [
        "run",
        &scenario.display().to_string(),
        "--dry-run",
        "--speed",
        "1000",
        "--journal",
        &journal.display().to_string(),
        "--control",
        "127.0.0.1:0",
        "--control-token-file",
        &token_file.display().to_string(),
        "--end-when-done",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let command = format!("RUST_LOG=warn {} {}", s.injector.display(), args.join(" "));
    let measure = |label: String, unit: &'static str, note: &str| Measure {
        label,
        command: command.clone(),
        unit,
        seconds: Vec::new(),
        peak_mib: Vec::new(),
        note: note.into(),
    };
    let mut cpu0 = measure(
        format!("push: run CPU, no page ({n} occurrences, --speed 1000)"),
        "s",
        "user + system time of the run",
    );
    let mut cpu3 = measure(
        format!("push: run CPU, three pages ({n} occurrences, --speed 1000)"),
        "s",
        "user + system time of the run",
    );
    let mut ratio = measure(
        "push: run CPU with three pages over with none".into(),
        "×",
        "each round's ratio; goal below 1.10",
    );
    let mut wall = measure(
        format!("push: wall time, three pages ({n} occurrences)"),
        "s",
        "",
    );
    let mut bytes = measure(
        "push: received by the busiest page".into(),
        "MiB",
        "goal below 10 MB",
    );
    // Rounds, each running both: the machine's drift hits both alike.
    for _ in 0..s.runs {
        let none = run(s, &args, &journal, 0);
        let three = run(s, &args, &journal, 3);
        cpu0.seconds.push(none.cpu);
        cpu3.seconds.push(three.cpu);
        wall.seconds.push(three.wall);
        if none.cpu > 0.0 {
            ratio.seconds.push(three.cpu / none.cpu);
        }
        let most = three.pages.iter().copied().max().unwrap_or(0);
        bytes.seconds.push(most as f64 / 1048576.0);
    }
    vec![cpu0, cpu3, ratio, wall, bytes]
}

/// One dry run with `pages` clients following its live push from the moment its
/// control endpoint is up.
fn run(s: &Settings, args: &[String], journal: &std::path::Path, pages: usize) -> Ran {
    let _ = std::fs::remove_file(journal);
    let started = Instant::now();
    let mut child = Command::new(&s.injector)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn injector");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if let Some(u) = line.strip_prefix("control: ") {
            url = u.trim().to_string();
            break;
        }
    }
    // Keep draining stderr so the run never blocks on a full pipe.
    let drain = std::thread::spawn(move || for _ in lines {});
    let readers: Vec<_> = (0..pages)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || follow(&url))
        })
        .collect();
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; both pointers are valid.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    std::mem::forget(child);
    let _ = drain.join();
    let pages = readers.into_iter().map(|r| r.join().unwrap_or(0)).collect();
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Ran {
        cpu: t(usage.ru_utime) + t(usage.ru_stime),
        wall,
        pages,
    }
}

/// Read `/api/events` at `url` (`http://127.0.0.1:PORT/`) to its end, as a page does;
/// the bytes received.
fn follow(url: &str) -> u64 {
    let Some(addr) = url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
    else {
        return 0;
    };
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    let request = format!(
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {CONTROL_TOKEN}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(k) => total += k as u64,
        }
    }
}
