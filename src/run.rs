//! `injector run`: validate, open the journal, decide what to fire, fire it, report.
//!
//! This module turns the command line into a run: the target (or an in-process
//! stand-in for `--dry-run`), T0, the journal and what a resume must skip; it starts
//! the [`crate::engine::Engine`], hears each of its entries (the board, the terminal, stdout),
//! and maps the result to an exit code. The engine itself knows nothing of flags.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::Digest;
use tokio::sync::{mpsc, watch};

use crate::board::{Board, Progress};
use crate::cli::{ReportFormat, RunArgs};
use crate::client::{self, Client, Target};
use crate::engine::{self, Clock, Engine, Item};
use crate::journal::{self, Entry, Journal, PlanRow, Replay, RunHeader, State, Summary};
use crate::timeline::Timeline;
use crate::{Error, exit, stand_in, validate};

/// Exit code of an interrupted run.
pub const INTERRUPTED: i32 = 130;

pub async fn run_cmd(args: RunArgs) -> Result<i32, Error> {
    let now = Utc::now();
    let source = crate::read_scenario(&args.file)?;
    let scenario_sha = hex(&sha2::Sha256::digest(source.as_bytes()));
    let shown = args.file.display().to_string();
    let max_speed = args.speed.as_deref() == Some("max");
    let speed = match args.speed.as_deref() {
        None | Some("max") => 1.0,
        Some(s) => match s.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => f,
            _ => {
                return Err(Error::usage(
                    format!("--speed `{s}` is not a positive number or `max`"),
                    None,
                ));
            }
        },
    };
    if args.concurrency == 0 {
        return Err(Error::usage("--concurrency must be at least 1", None));
    }

    // The target: never a flag for the token; the env var or a file.
    let target = if args.dry_run {
        None
    } else {
        Some(crate::target_from(&args.target)?)
    };

    // The journal, and what it already holds.
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| default_journal(&args.file, args.dry_run));
    let fsync = !args.no_fsync;
    let (mut journal, text) = open_journal(&journal_path, fsync)?;
    let mut replay = Replay::parse(&text);
    for p in &replay.problems {
        tracing::warn!("journal {}: {p}", journal_path.display());
    }
    let mut resume_of: Option<RunHeader> = None;
    if let Some(last) = replay.runs.last().cloned() {
        if args.fresh {
            journal.close()?;
            let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
            let archived = journal::archive_path(&journal_path, &stamp);
            fs_err::rename(&journal_path, &archived)?;
            tracing::info!("archived the old journal as {}", archived.display());
            let (fresh, _) = open_journal(&journal_path, fsync)?;
            journal = fresh;
            replay = Replay::default();
        } else if args.resume {
            if last.dry_run != args.dry_run {
                return Err(Error::usage(
                    format!(
                        "the journal {} holds a {} run; this one is {}",
                        journal_path.display(),
                        mode(last.dry_run),
                        mode(args.dry_run)
                    ),
                    Some("a dry run never shares a journal with a live run"),
                ));
            }
            if args.start_at.is_some() {
                return Err(Error::usage(
                    "--start-at cannot be combined with --resume",
                    Some("a resumed run keeps its T0"),
                ));
            }
            resume_of = Some(last);
        } else {
            let state = if replay.last_completed {
                "a completed run"
            } else {
                "an unfinished run"
            };
            return Err(Error::usage(
                format!(
                    "the journal {} holds {state} of {}",
                    journal_path.display(),
                    last.scenario
                ),
                Some(
                    "pass --resume to continue it (nothing sent is sent again), or --fresh to archive it and start anew",
                ),
            ));
        }
    } else if args.resume {
        tracing::warn!(
            "--resume: the journal {} holds no run; starting anew",
            journal_path.display()
        );
    }

    // T0 and speed: a resume keeps the original run's.
    let (start_at, speed, max_speed) = match &resume_of {
        Some(h) => {
            let t0 = DateTime::parse_from_rfc3339(&h.t0)
                .map_err(|e| Error::usage(format!("the journal's T0 is unreadable: {e}"), None))?;
            (Some(t0), h.speed.unwrap_or(1.0), h.speed.is_none())
        }
        None => (
            crate::parse_start_at(args.start_at.as_deref(), now)?,
            speed,
            max_speed,
        ),
    };
    let mut checked = validate::check(&shown, source.clone(), start_at, speed, now);
    // A rehearsal of a scenario whose `start` has passed would skip everything as too
    // late: a dry run then starts now instead (the live run keeps the scenario's start).
    if args.dry_run
        && start_at.is_none()
        && let Some(t) = &checked.timeline
        && checked.t0_known
        && t.t0.to_utc() < now
    {
        tracing::info!(
            "dry run: the scenario's start {} has passed; T0 is now",
            t.t0.to_rfc3339()
        );
        let now_t0 = (now + crate::START_LEAD).fixed_offset();
        checked = validate::check(&shown, source.clone(), Some(now_t0), speed, now);
    }
    // `@handles` the scenario's map lacks are resolved through the workspace (live runs).
    let unknown_handle = |c: &validate::Checked| {
        c.diags
            .items
            .iter()
            .any(|d| d.message.starts_with("unknown persona `@"))
    };
    if let Some(target) = &target
        && unknown_handle(&checked)
    {
        let client = Client::new(target.clone(), client::Settings::default())
            .map_err(|e| Error::usage(e, None))?;
        match crate::workspace::cached(&client).await {
            Ok(ws) => {
                let t0 = checked
                    .timeline
                    .as_ref()
                    .filter(|_| checked.t0_known)
                    .map(|t| t.t0);
                checked = validate::check_online(&shown, source, t0.or(start_at), speed, now, &ws);
            }
            Err(e) => tracing::warn!("cannot read the workspace to resolve @handles: {e}"),
        }
    }
    if !checked.is_valid(false) {
        eprint!("{}", checked.diags.render(crate::stderr_color()));
        eprintln!(
            "{shown}: invalid: {} error(s); nothing was sent",
            checked.diags.error_count()
        );
        return Ok(exit::USAGE);
    }
    for d in checked.diags.items.iter() {
        tracing::warn!("{}:{}:{}: {}", d.file, d.line, d.column, d.message);
    }
    let timeline = Arc::new(checked.timeline.expect("a valid scenario has a timeline"));
    let (plan, mut bodies) = plan_rows(&timeline, max_speed);

    // What to fire.
    let only = only_keys(&args.only, &timeline)?;
    let prior = replay.states();
    let mut skipped_uncertain = Vec::new();
    let mut items = Vec::new();
    for (index, occ) in timeline.occurrences.iter().enumerate() {
        let chosen = only.as_ref().is_none_or(|o| o.contains(occ.key.as_str()));
        if !chosen {
            continue;
        }
        match prior.get(&occ.key) {
            Some(State::Uncertain) if !args.resend_uncertain => {
                skipped_uncertain.push(occ.key.clone());
                continue;
            }
            Some(State::Sent { message_id }) if only.is_some() => {
                tracing::warn!(key = %occ.key, %message_id, "re-sending by hand (--only): it was sent before");
            }
            Some(State::Sent { .. } | State::Failed | State::Skipped) if only.is_none() => continue,
            _ => {}
        }
        // With --speed max the instant is still the scenario's: journals and reports show
        // it; the engine just does not wait for it.
        items.push(Item {
            body: bodies.get_mut(index).and_then(Option::take),
            ..Item::new(index, timeline.fire_at(occ).to_utc())
        });
    }
    if let Some(h) = &resume_of {
        report_resume(
            h,
            &scenario_sha,
            &plan,
            &prior,
            &skipped_uncertain,
            &timeline,
        );
    }

    // The target, real or stand-in.
    let (target, stand_in) = match target {
        Some(t) => (t, None),
        None => {
            let token = stand_in::random_token();
            let server = stand_in::StandIn::start(stand_in::Options::local(token.clone())).await?;
            let t = Target::new(&server.base_url(), token).map_err(|e| Error::usage(e, None))?;
            (t, Some(server))
        }
    };
    let settings = client::Settings {
        connect_timeout: args.connect_timeout,
        request_timeout: args.timeout,
        retry: args.retry,
        ..client::Settings::default()
    };
    let base_url = target.base_url.clone();
    let client = Client::new(target, settings).map_err(|e| Error::usage(e, None))?;

    let header = RunHeader {
        run_id: uuid::Uuid::new_v4().to_string(),
        scenario: shown.clone(),
        scenario_sha256: scenario_sha,
        t0: timeline.t0.to_rfc3339(),
        speed: (!max_speed).then_some(speed),
        base_url: if args.dry_run {
            "stand-in (dry run)".into()
        } else {
            base_url.clone()
        },
        dry_run: args.dry_run,
        started_at: now.to_rfc3339(),
        injector_version: env!("CARGO_PKG_VERSION").into(),
        resumes: resume_of.as_ref().map(|h| h.run_id.clone()),
        occurrences: timeline.occurrences.len(),
        plan,
    };
    let journal = Arc::new(journal);
    journal.append(&Entry::Run(header)).await?;
    let dry = if args.dry_run { "dry run: " } else { "" };
    tracing::info!(
        "{dry}{} occurrence(s) to fire from {shown}; T0 {}; journal {}",
        items.len(),
        crate::timeline::show_time(timeline.t0, timeline.scenario.timezone),
        journal_path.display()
    );

    // Listeners: the terminal and stdout.
    let (shown_tx, shown_rx) = mpsc::unbounded_channel();
    let (next_tx, next_rx) = watch::channel(None);
    let board = Arc::new(std::sync::Mutex::new(Board::new(&timeline, &items)));
    let reporter = tokio::spawn(show_entries(shown_rx, args.format, args.dry_run));
    let report = Report {
        board: board.clone(),
        shown: shown_tx,
        sent_shown: args.format == ReportFormat::Json || tracing::enabled!(tracing::Level::INFO),
    };

    // Live control: the journal's earlier actions first (a resume keeps holds, shifts, skips).
    let initial = match &resume_of {
        Some(_) => engine::ClockState::replay(&replay.entries),
        None => engine::ClockState::default(),
    };
    if initial.held_since.is_some() {
        tracing::warn!(
            "the run was held when it stopped: it stays held until resumed (`injector ctl ... resume`)"
        );
    }
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let (clock_tx, clock_rx) = watch::channel(initial.clone());
    let keys_clock = clock_rx.clone();
    let control = engine::Control {
        commands: commands_rx,
        initial,
        state: clock_tx,
    };
    let view = crate::control::View {
        timeline: timeline.clone(),
        clock: clock_rx,
        board: board.clone(),
        dry_run: args.dry_run,
        max_speed,
    };
    let live_view = view.clone();
    let control_server = match &args.control {
        Some(addr) => Some(start_control(addr, &args, commands_tx.clone(), view).await?),
        None => None,
    };
    // On a terminal: a live line (clock, next inject, last send) and single-key control.
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let countdown = (args.format == ReportFormat::Text && std::io::stderr().is_terminal())
        .then(|| crate::live::start_view(next_rx, live_view, interactive));
    let terminal_keys = interactive
        .then(|| crate::live::spawn_keys(commands_tx.clone(), next_tx.subscribe(), keys_clock));
    drop(commands_tx);

    // Signals: the first stops scheduling, the second exits at once.
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(async move {
        crate::interrupted().await;
        tracing::warn!(
            "stopping: no new sends; waiting for those in flight (Ctrl-C again to quit at once)"
        );
        let _ = stop_tx.send(true);
        crate::interrupted().await;
        eprintln!("quitting at once; the journal is intact");
        crate::live::restore_terminal();
        std::process::exit(INTERRUPTED);
    });

    let engine = Engine {
        timeline: timeline.clone(),
        dispatch: Arc::new(client),
        journal: journal.clone(),
        clock: Clock::Real,
        config: engine::Config {
            late: args.late,
            late_max: args.late_max,
            concurrency: args.concurrency,
            max_speed,
            redirect_team: args.redirect_team.as_deref().map(team_value),
            preconnect: args.preconnect,
            drain: Duration::from_secs(10),
        },
        events: Arc::new(report),
        next: next_tx,
    };
    // On the runtime's workers, with the senders: handing work between the thread that
    // blocks on this command and the workers costs a futex wake-up each time.
    let ending =
        tokio::spawn(async move { engine.run_controlled(items, stop_rx, Some(control)).await })
            .await
            .map_err(std::io::Error::other)??;
    signals.abort();
    if let Some(task) = control_server {
        task.abort();
    }
    if let Some(keys) = terminal_keys {
        keys.stop();
    }
    if let Some(bar) = countdown {
        bar.finish_and_clear();
        crate::set_progress(None);
    }
    reporter.await.map_err(std::io::Error::other)?;

    // The summary over every key this run was about.
    let keys: Vec<&str> = timeline
        .occurrences
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| only.as_ref().is_none_or(|o| o.contains(*k)))
        .collect();
    let summary = summarize(&keys, &prior, &board.lock().expect("board lock"));
    let interrupted = matches!(ending, engine::Ending::Interrupted { .. });
    journal
        .append(&Entry::End {
            at: Utc::now().to_rfc3339(),
            reason: if interrupted {
                "interrupted".into()
            } else {
                "completed".into()
            },
            summary: summary.clone(),
        })
        .await?;
    if let Some(server) = stand_in {
        server.shutdown(Duration::from_secs(1)).await;
    }
    let resume_command = interrupted.then(|| resume_command(&args, &journal_path));
    print_summary(&summary, &args, &journal_path, resume_command.as_deref())?;
    if let Ok(j) = Arc::try_unwrap(journal) {
        j.close()?;
    }
    Ok(if interrupted {
        INTERRUPTED
    } else if summary.failed + summary.skipped + summary.uncertain + summary.pending > 0 {
        exit::INVALID
    } else {
        exit::OK
    })
}

/// Start the control endpoint on a loopback address (others need --control-allow-remote).
async fn start_control(
    addr: &str,
    args: &RunArgs,
    commands: mpsc::Sender<engine::Command>,
    view: crate::control::View,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let listen = tokio::net::lookup_host(addr)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::usage(
                format!("--control `{addr}` is not an address"),
                Some("write HOST:PORT, e.g. 127.0.0.1:8790"),
            )
        })?;
    if !listen.ip().is_loopback() && !args.control_allow_remote {
        return Err(Error::usage(
            format!("--control {listen} is not a loopback address"),
            Some(
                "anyone who can reach it can steer the exercise: add --control-allow-remote if you mean it",
            ),
        ));
    }
    let token = match &args.control_token_file {
        Some(path) => crate::read_token_file(path)?,
        None => stand_in::random_token(),
    };
    let (bound, task) = crate::control::serve(listen, token.clone(), commands, view).await?;
    eprintln!("control: http://{bound}/");
    eprintln!("control page: http://{bound}/#token={token}");
    eprintln!("control token: {token}");
    Ok(task)
}

fn mode(dry: bool) -> &'static str {
    if dry { "dry" } else { "live" }
}

fn open_journal(path: &Path, fsync: bool) -> Result<(Journal, String), Error> {
    Journal::open(path, fsync).map_err(|e| match e {
        journal::OpenError::Locked(p) => Error::usage(
            format!("the journal {} is in use by another run", p.display()),
            Some("wait for that run to end, or pass a different --journal"),
        ),
        journal::OpenError::Io(_, e) => Error::Io(e),
    })
}

/// `<stem>.journal.jsonl`, or `<stem>.dry-run.journal.jsonl`, in the working directory.
pub fn default_journal(file: &Path, dry_run: bool) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    PathBuf::from(if dry_run {
        format!("{stem}.dry-run.journal.jsonl")
    } else {
        format!("{stem}.journal.jsonl")
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// At most this many bytes of bodies serialized before a run; the rest are built when sent.
const SERIALIZED_BODIES: usize = 64 << 20;

/// The run's plan for the header: each occurrence's instant, channel, persona, recipient
/// and a digest of offset and body (for spotting edits on resume). And, from the same
/// build, each occurrence's exact body serialized (compact JSON), which the run sends as
/// it is unless its instant moves: a body is built once, not once more at its send.
fn plan_rows(t: &Timeline, max_speed: bool) -> (Option<Vec<PlanRow>>, Vec<Option<bytes::Bytes>>) {
    if t.occurrences.len() > 100_000 {
        return (None, Vec::new());
    }
    let text = |b: &serde_json::Map<String, Value>, k: &str| match b.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let mut budget = SERIALIZED_BODIES;
    let mut bodies = Vec::with_capacity(t.occurrences.len());
    let rows = t
        .occurrences
        .iter()
        .map(|o| {
            let built = t.body(o);
            let built_ok = built.is_ok();
            let mut body = built.unwrap_or_default();
            let to = match (
                body.get("type").and_then(Value::as_str),
                body.get("team_id"),
            ) {
                (Some("team"), Some(team)) => format!(
                    "team {}",
                    team.as_str().map_or(team.to_string(), String::from)
                ),
                _ => {
                    let player = text(&body, "player_email");
                    if player.is_empty() {
                        text(&body, "to")
                    } else {
                        player
                    }
                }
            };
            let (channel, persona) = (text(&body, "channel"), text(&body, "persona"));
            let json = serde_json::to_vec(&body).unwrap_or_default();
            // The digest of `offset|body`, without `ts` at --speed max.
            let mut digest = sha2::Sha256::new();
            digest.update(format!("{}|", o.offset.as_millis()));
            if max_speed && body.remove("ts").is_some() {
                digest.update(serde_json::to_vec(&body).unwrap_or_default());
            } else {
                digest.update(&json);
            }
            let keep = built_ok && json.len() <= budget;
            bodies.push(keep.then(|| {
                budget -= json.len();
                bytes::Bytes::from(json)
            }));
            PlanRow {
                key: o.key.clone(),
                planned_at: journal::time_text(t.fire_at(o).to_utc()),
                channel,
                persona,
                to,
                digest: hex(&digest.finalize()[..6]),
            }
        })
        .collect();
    (Some(rows), bodies)
}

fn report_resume(
    h: &RunHeader,
    sha: &str,
    plan: &Option<Vec<PlanRow>>,
    prior: &HashMap<String, State>,
    uncertain: &[String],
    t: &Timeline,
) {
    let done = prior
        .values()
        .filter(|s| !matches!(s, State::Uncertain))
        .count();
    tracing::info!(
        "resuming run {} (T0 {}): {done} occurrence(s) already done are not sent again",
        h.run_id,
        h.t0
    );
    if h.scenario_sha256 != sha {
        let digests = |rows: &Vec<PlanRow>| -> BTreeMap<String, String> {
            rows.iter()
                .map(|r| (r.key.clone(), r.digest.clone()))
                .collect()
        };
        match (h.plan.as_ref().map(digests), plan.as_ref().map(digests)) {
            (Some(old), Some(new)) => {
                let added: Vec<&str> = new
                    .keys()
                    .filter(|k| !old.contains_key(*k))
                    .map(String::as_str)
                    .collect();
                let removed: Vec<&str> = old
                    .keys()
                    .filter(|k| !new.contains_key(*k))
                    .map(String::as_str)
                    .collect();
                let changed: Vec<&str> = new
                    .iter()
                    .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
                    .map(|(k, _)| k.as_str())
                    .collect();
                tracing::warn!(
                    "the scenario changed since the run began: added {:?}, removed {:?}, changed {:?}; matching by key",
                    added,
                    removed,
                    changed
                );
            }
            _ => tracing::warn!(
                "the scenario changed since the run began; matching occurrences by key"
            ),
        }
    }
    let known: HashSet<&str> = t.occurrences.iter().map(|o| o.key.as_str()).collect();
    for key in uncertain {
        if known.contains(key.as_str()) {
            tracing::warn!(
                key = %key,
                "UNCERTAIN: a request was started before the crash and its outcome is unknown; not sent again (--resend-uncertain sends it)"
            );
        }
    }
}

fn only_keys(only: &[String], t: &Timeline) -> Result<Option<HashSet<String>>, Error> {
    if only.is_empty() {
        return Ok(None);
    }
    let mut keys = HashSet::new();
    for want in only.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let matching: Vec<&str> = t
            .occurrences
            .iter()
            .filter(|o| o.key == want || t.inject(o).id == want)
            .map(|o| o.key.as_str())
            .collect();
        if matching.is_empty() {
            let hint = crate::diag::suggest(want, t.occurrences.iter().map(|o| o.key.as_str()));
            return Err(Error::Usage {
                message: format!("--only: no occurrence or inject `{want}`"),
                hint,
            });
        }
        keys.extend(matching.into_iter().map(String::from));
    }
    Ok(Some(keys))
}

/// A team id as the API takes it: a number when it is all digits.
fn team_value(s: &str) -> Value {
    s.trim()
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(s.trim().to_string()))
}

/// What `run` does with each entry. The board takes it in at once (the summary, the
/// live view and the control page read it). What is shown (log lines, `--format json`)
/// goes to a task of its own, so that a slow terminal or pipe never holds up a send;
/// a `sent` entry goes there only when it shows anywhere.
struct Report {
    board: Arc<std::sync::Mutex<Board>>,
    shown: mpsc::UnboundedSender<Entry>,
    /// Whether a `sent` entry shows: logged (info level) or printed as JSON.
    sent_shown: bool,
}

impl engine::Listener for Report {
    fn heard(&self, entry: Entry) {
        self.board.lock().expect("board lock").record(&entry);
        let shown = match entry {
            Entry::Sending { .. } => false,
            Entry::Sent { .. } => self.sent_shown,
            _ => true,
        };
        if shown {
            let _ = self.shown.send(entry);
        }
    }
}

/// Show entries as they come: a log line each, and with `--format json` a JSON line on
/// stdout for each outcome.
async fn show_entries(mut rx: mpsc::UnboundedReceiver<Entry>, format: ReportFormat, dry_run: bool) {
    let tag = if dry_run { "[dry run] " } else { "" };
    // Whatever has arrived, taken at once: one wake-up for a burst.
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        for entry in batch.drain(..) {
            log_entry(&entry, tag);
            if format == ReportFormat::Json && entry.key().is_some() {
                let mut v = serde_json::to_value(&entry).unwrap_or(Value::Null);
                v["dry_run"] = Value::Bool(dry_run);
                println!("{v}");
            }
        }
    }
}

/// One line on stderr for an entry (at info level for sends).
fn log_entry(entry: &Entry, tag: &str) {
    match entry {
        Entry::Sending { .. } => {}
        Entry::Sent {
            key,
            status,
            message_id,
            planned_at,
            sent_at,
            lateness_ms,
            attempts,
            possible_duplicate,
            late,
        } => {
            let mut notes = String::new();
            if *late {
                notes.push_str(" LATE");
            }
            if *possible_duplicate {
                notes.push_str(" POSSIBLE DUPLICATE");
            }
            if *attempts > 1 {
                notes.push_str(&format!(" after {attempts} attempts"));
            }
            let lateness = lateness_ms.map_or(String::new(), |l| format!(" lateness {l:+.3} ms"));
            tracing::info!(
                "{tag}sent {key} planned {planned_at} sent {sent_at}{lateness} status {status} message_id {message_id}{notes}"
            );
        }
        Entry::Failed {
            key,
            status,
            error,
            attempts,
            maybe_delivered,
            ..
        } => {
            let maybe = if *maybe_delivered {
                " (may have been delivered)"
            } else {
                ""
            };
            let status = status.map_or("-".to_string(), |s| s.to_string());
            tracing::error!(
                "{tag}FAILED {key} status {status} after {attempts} attempt(s): {error}{maybe}"
            );
        }
        Entry::Skipped { key, reason, .. } => tracing::warn!("{tag}skipped {key}: {reason}"),
        Entry::Control {
            action,
            key,
            by_ms,
            source,
            ..
        } => {
            let what = key
                .clone()
                .or_else(|| by_ms.map(|ms| format!("{ms} ms")))
                .unwrap_or_default();
            tracing::warn!("{tag}control ({source}): {action} {what}");
        }
        Entry::Run(_) | Entry::End { .. } => {}
    }
}

fn summarize(keys: &[&str], prior: &HashMap<String, State>, this: &Board) -> Summary {
    let mut s = Summary::default();
    for key in keys {
        // What this run did to the key; else (not started here) what earlier runs did.
        let (progress, possible_duplicate, late) = this
            .get(key)
            .map_or((Progress::Pending, false, false), |slot| {
                (slot.progress, slot.possible_duplicate, slot.late)
            });
        match (progress, prior.get(*key)) {
            (Progress::Sent, _) => {
                s.sent += 1;
                s.possible_duplicates += usize::from(possible_duplicate);
                s.late += usize::from(late);
            }
            (Progress::Failed, _) => s.failed += 1,
            (Progress::Skipped, _) => s.skipped += 1,
            (Progress::Sending, _) => s.uncertain += 1,
            (Progress::Pending, Some(State::Sent { .. })) => s.sent += 1,
            (Progress::Pending, Some(State::Failed)) => s.failed += 1,
            (Progress::Pending, Some(State::Skipped)) => s.skipped += 1,
            (Progress::Pending, Some(State::Uncertain)) => s.uncertain += 1,
            (Progress::Pending, None) => s.pending += 1,
        }
    }
    let mut l = this.lateness().to_vec();
    l.sort_by(f64::total_cmp);
    let pick = |q: f64| journal::percentile(&l, q);
    s.lateness_p50_ms = pick(0.50);
    s.lateness_p99_ms = pick(0.99);
    s.lateness_max_ms = l.last().copied();
    s
}

fn resume_command(args: &RunArgs, journal: &Path) -> String {
    let mut cmd = format!(
        "injector run {} --resume --journal {}",
        args.file.display(),
        journal.display()
    );
    if args.dry_run {
        cmd.push_str(" --dry-run");
    }
    if let Some(url) = &args.target.base_url {
        cmd.push_str(&format!(" --base-url {url}"));
    }
    if let Some(path) = &args.target.token_file {
        cmd.push_str(&format!(" --token-file {}", path.display()));
    }
    cmd
}

fn print_summary(
    s: &Summary,
    args: &RunArgs,
    journal: &Path,
    resume: Option<&str>,
) -> Result<(), Error> {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} ms"));
    let text = match args.format {
        ReportFormat::Json => {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            v["type"] = json!("summary");
            v["dry_run"] = json!(args.dry_run);
            v["journal"] = json!(journal.display().to_string());
            v["interrupted"] = json!(resume.is_some());
            v["resume_command"] = json!(resume);
            format!("{v}\n")
        }
        ReportFormat::Text => {
            let mut t = format!(
                "{}{} sent, {} failed, {} skipped, {} uncertain, {} possible duplicate(s), {} late{}\n{}journal: {}\n",
                if args.dry_run { "dry run: " } else { "" },
                s.sent,
                s.failed,
                s.skipped,
                s.uncertain,
                s.possible_duplicates,
                s.late,
                if s.pending > 0 {
                    format!(", {} not yet sent", s.pending)
                } else {
                    String::new()
                },
                if args.speed.as_deref() == Some("max") {
                    "lateness: not measured with --speed max\n".to_string()
                } else {
                    format!(
                        "lateness p50 {}, p99 {}, max {}\n",
                        ms(s.lateness_p50_ms),
                        ms(s.lateness_p99_ms),
                        ms(s.lateness_max_ms)
                    )
                },
                journal.display()
            );
            if let Some(cmd) = resume {
                t.push_str(&format!("interrupted; to resume: {cmd}\n"));
            }
            t
        }
    };
    crate::write_output(None, &text)
}
