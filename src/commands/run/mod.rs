//! `injector run`: validate, open the journal, decide what to fire, fire it, report.
//!
//! [`run`] is a list of phases: [`prepare`] (flags, journal, T0, one check of the
//! scenario, what to fire), [`wire`] (the board, the listener, live control, the
//! terminal, signals), [`start`] (the target or the stand-in, and the journal's header),
//! [`fire`] (the engine) and [`finish`] (the summary and the exit code). The engine
//! itself knows nothing of flags.

mod output;
mod prepare;
mod replan;

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::board::Board;
use crate::cli::{LateArg, ReportFormat, RunArgs};
use crate::client::{Client, Target};
use crate::engine::{self, Clock, Engine, LatePolicy};
use crate::error::{Error, Exit};
use crate::journal::{Entry, Journal, RunHeader, Summary, time_text};
use crate::{control, live, stand_in, term};

pub use prepare::default_journal;
pub(crate) use prepare::{JournalStart, Prepared};

pub async fn run(args: RunArgs) -> Result<Exit, Error> {
    let now = Utc::now();
    let prepared = match prepare::prepare(&args, now).await? {
        Ok(prepared) => prepared,
        Err(exit) => return Ok(exit),
    };
    if args.preflight_only {
        output::print_preflight(&args, &prepared)?;
        return Ok(Exit::Ok);
    }
    let wired = wire(&args, &prepared).await?;
    let mut started = start(&args, prepared, now).await?;
    let lists = wired.lists.clone();
    let (mut ending, mut side) = fire(&args, &started, wired.engine_side).await?;
    // A changed scenario applied (or an ad hoc inject with branches): the run is made
    // again from its journal, as a resume would, and goes on.
    while let engine::Ending::Replan(handback) = ending {
        replan::replan(
            &wired.applier,
            &mut started.p,
            &started.journal,
            replan::Swapped {
                board: &wired.run_side.board,
                to: &lists.0,
                subjects: &lists.1,
            },
        )
        .await?;
        let mut control = handback.control;
        control.initial = engine::ClockState::replay(started.p.replay.events());
        side.control = control;
        (ending, side) = fire(&args, &started, side).await?;
    }
    // Its listener's end ends the output task (a finish waits for it).
    drop(side);
    finish(&args, started, wired.run_side, ending).await
}

/// What the engine takes: its listener, live control, the countdown's sender and the stop.
struct EngineSide {
    listener: Arc<output::Listener>,
    control: engine::Control,
    next: watch::Sender<Option<(String, DateTime<Utc>)>>,
    stop: watch::Receiver<bool>,
}

/// What the run keeps to wind down.
struct RunSide {
    board: Arc<Mutex<Board>>,
    refused: Arc<std::sync::OnceLock<u16>>,
    reporter: tokio::task::JoinHandle<()>,
    control_server: Option<ControlServer>,
    countdown: Option<indicatif::ProgressBar>,
    keys: Option<live::Keys>,
    signals: tokio::task::JoinHandle<()>,
}

struct Wired {
    engine_side: EngineSide,
    run_side: RunSide,
    /// The view's per-occurrence lists (whom each goes to, its subject).
    lists: Lists,
    /// How the run is rebuilt with a changed scenario: the engine's, and the run's.
    applier: Arc<replan::RunApplier>,
}

type List = Arc<std::sync::RwLock<Vec<String>>>;
type Lists = (List, List);

/// The board and its listener, live control (the journal's earlier actions first: a
/// resume keeps holds, shifts and skips), the control endpoint (bound before anything
/// is journaled), the terminal's live line and keys, and the signals.
async fn wire(args: &RunArgs, p: &Prepared) -> Result<Wired, Error> {
    let board = Board::new(
        &p.timeline,
        p.keys.iter().cloned(),
        p.replay.events(),
        &p.items,
    );
    let board = Arc::new(Mutex::new(board));
    // Stopped by a signal, or by a target that refuses the token.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let refused = Arc::new(std::sync::OnceLock::new());
    let (shown_tx, shown_rx) = mpsc::unbounded_channel();
    let (changed_tx, changed_rx) = watch::channel(0u64);
    // Made with the plan, from one rendering of each body.
    let labels = output::Labels::new(&p.timeline, &p.subjects);
    // Whom each occurrence goes to, in the plan's words (alias beside the id), and its
    // subject: made once (a page's state never renders a body); an ad hoc inject's
    // join as it does.
    let (to_words, shown) = prepare::lists(p.plan.as_ref(), &p.subjects, &p.replay);
    let to_list = Arc::new(std::sync::RwLock::new(to_words));
    let subjects_list = Arc::new(std::sync::RwLock::new(shown));
    let lists = (to_list.clone(), subjects_list.clone());
    let reporter = tokio::spawn(output::show_events(
        shown_rx,
        args.format,
        args.dry_run,
        labels,
    ));
    let listener = Arc::new(output::Listener {
        board: board.clone(),
        shown: shown_tx,
        sent_shown: args.format == ReportFormat::Json || tracing::enabled!(tracing::Level::INFO),
        refused: refused.clone(),
        stop: stop_tx.clone(),
        changed: changed_tx,
        to: to_list.clone(),
        subjects: subjects_list.clone(),
    });

    let initial = match &p.resume_of {
        Some(_) => engine::ClockState::replay(p.replay.events()),
        None => engine::ClockState::default(),
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if initial.held_since.is_some() {
        if args.control.is_none() && !interactive {
            return Err(Error::usage(
                "the run was held when it stopped, and it would restart held with nothing to release the hold",
                Some(
                    "resume with --control ADDR (the resume command the run printed has it), then release it with `injector ctl --control URL resume`",
                ),
            ));
        }
        tracing::warn!(
            "the run was held when it stopped: it stays held until the hold is released (`injector ctl --control URL resume`{})",
            if interactive { ", or space here" } else { "" }
        );
    }
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let applier = Arc::new(replan::RunApplier::new(args, p));
    let (clock_tx, clock_rx) = watch::channel(initial.clone());
    let view = control::View {
        timeline: p.shared.clone(),
        clock: clock_rx.clone(),
        changed: changed_rx,
        board: board.clone(),
        dry_run: args.dry_run,
        max_speed: p.max_speed,
        to: to_list,
        subjects: subjects_list,
        restarts: Arc::new(control::Restart::of(
            &p.replay.records,
            p.resume_of.is_some(),
            Utc::now(),
        )),
    };
    let control_server = match &args.control {
        Some(addr) => Some(
            start_control(
                addr,
                args,
                &p.journal_path,
                commands_tx.clone(),
                view.clone(),
            )
            .await?,
        ),
        None => None,
    };
    // On a terminal: a live line (clock, next inject, last send) and single-key control.
    let (next_tx, next_rx) = watch::channel(None);
    let countdown = (args.format == ReportFormat::Text && std::io::stderr().is_terminal())
        .then(|| live::start_view(next_rx, view, interactive));
    let keys =
        interactive.then(|| live::spawn_keys(commands_tx.clone(), next_tx.subscribe(), clock_rx));
    drop(commands_tx);

    // Signals: the first stops scheduling, the second exits at once.
    let signals = tokio::spawn(async move {
        term::interrupted().await;
        tracing::warn!(
            "stopping: no new sends; waiting for those in flight (Ctrl-C again to quit at once)"
        );
        let _ = stop_tx.send(true);
        term::interrupted().await;
        eprintln!("quitting at once; the journal is intact");
        live::restore_terminal();
        std::process::exit(i32::from(Exit::Interrupted.code()));
    });
    Ok(Wired {
        engine_side: EngineSide {
            listener,
            control: engine::Control {
                commands: commands_rx,
                initial,
                state: clock_tx,
                applier: Some(applier.clone()),
                carried: None,
            },
            next: next_tx,
            stop: stop_rx,
        },
        run_side: RunSide {
            board,
            refused,
            reporter,
            control_server,
            countdown,
            keys,
            signals,
        },
        lists,
        applier,
    })
}

/// Start the control endpoint: plain HTTP on a loopback address only, TLS anywhere; the
/// controllers file (or one random token, a director's) says who may do what.
/// The control endpoint's task, and how to ask it to stop (answering what it is
/// answering, such as the `end` that ended the run, first).
struct ControlServer {
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
    /// Where it listened: the resume command takes it up there (port 0 included).
    bound: std::net::SocketAddr,
}

async fn start_control(
    addr: &str,
    args: &RunArgs,
    journal: &std::path::Path,
    commands: mpsc::Sender<engine::Command>,
    view: control::View,
) -> Result<ControlServer, Error> {
    let listen = super::listen_address("--control", addr, "127.0.0.1:8790").await?;
    let tls = match (
        &args.control_tls,
        &args.control_tls_cert,
        &args.control_tls_key,
    ) {
        // Kept beside the journal: a resume serves the same certificate.
        (Some(crate::cli::TlsArg::SelfSigned), _, _) => {
            let kept = journal.with_file_name(format!(
                "{}.control-tls.pem",
                journal.file_name().unwrap_or_default().to_string_lossy()
            ));
            Some(
                crate::tls::self_signed_kept(crate::tls::hosts_for(listen), &kept).map_err(
                    |e| {
                        Error::usage(
                            format!("--control-tls self-signed: {e}"),
                            Some("remove that file to have a new certificate made"),
                        )
                    },
                )?,
            )
        }
        (None, Some(cert), Some(key)) => {
            let cert_pem = super::read_file(cert, super::MAX_TOKEN_BYTES * 64, "certificate")?;
            let key_pem = super::read_file(key, super::MAX_TOKEN_BYTES * 64, "key")?;
            Some(crate::tls::from_pem(&cert_pem, &key_pem).map_err(|e| {
                Error::usage(
                    format!("--control-tls-cert {}: {e}", cert.display()),
                    Some("give a PEM certificate chain and its PEM private key"),
                )
            })?)
        }
        _ => None,
    };
    if !listen.ip().is_loopback() && tls.is_none() {
        return Err(Error::usage(
            format!(
                "--control {listen} is not a loopback address, and plain HTTP stays on this machine"
            ),
            Some(
                "anyone on the network could read the token: add --control-tls self-signed (or --control-tls-cert and --control-tls-key)",
            ),
        ));
    }
    let (controllers, token) = match (&args.controllers, &args.control_token_file) {
        (Some(path), _) => {
            let bytes = super::read_file(path, super::MAX_TOKEN_BYTES * 16, "controllers file")?;
            let text = String::from_utf8_lossy(&bytes);
            let c = crate::controllers::read(path, &text).map_err(|e| {
                Error::usage(
                    format!("the controllers file cannot be used:\n{e}"),
                    Some("`injector controllers add NAME --role ROLE --file FILE` writes a valid one"),
                )
            })?;
            (c, None)
        }
        (None, Some(path)) => {
            let token = super::read_token_file(path)?;
            (crate::controllers::Controllers::single(&token), Some(token))
        }
        (None, None) => {
            let token = stand_in::random_token();
            (crate::controllers::Controllers::single(&token), Some(token))
        }
    };
    let listener = std::net::TcpListener::bind(listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| super::cannot_listen("--control", listen, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| super::cannot_listen("--control", listen, e))?;
    let app = control::app(controllers.clone(), commands, view);
    // On a thread of its own: building a page's state for a large run must never hold
    // up a send on the run's thread. (Left running until the process exits.)
    let runtime: &'static tokio::runtime::Runtime = Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("control")
            .enable_all()
            .build()?,
    ));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = tls.as_ref().map(|t| t.config.clone());
    let (stop, mut stopping) = watch::channel(false);
    let task = runtime.spawn(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        match config {
            Some(config) => crate::tls::serve(listener, config, app, stopping).await,
            None => {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopping.changed().await;
                    })
                    .await;
            }
        }
    });
    eprintln!("control: {scheme}://{bound}/");
    if let Some(t) = &tls {
        eprintln!("control fingerprint: {}", t.fingerprint);
    }
    match (token, &args.control_token_file) {
        // A token of one's own stays in its file: never printed.
        (Some(_), Some(path)) => eprintln!(
            "control page: {scheme}://{bound}/#token=TOKEN (TOKEN: the one in {})",
            path.display()
        ),
        (Some(token), None) => {
            eprintln!("control page: {scheme}://{bound}/#token={token}");
            eprintln!("control token: {token}");
        }
        (None, _) => eprintln!(
            "control page: {scheme}://{bound}/#token=YOUR-TOKEN ({} people in the controllers file)",
            controllers.len()
        ),
    }
    Ok(ControlServer { task, stop, bound })
}

/// A run under way: what was prepared, the client, the journal with its header written,
/// and the stand-in of a dry run.
struct Started {
    p: Prepared,
    client: Arc<Client>,
    journal: Arc<Journal>,
    stand_in: Option<stand_in::StandIn>,
}

/// The target (or, for a dry run, a stand-in started now) and its client; then the
/// run's header, the first line it journals.
async fn start(args: &RunArgs, p: Prepared, now: DateTime<Utc>) -> Result<Started, Error> {
    let (client, stand_in) = match &p.client {
        Some(client) => (client.clone(), None),
        None => {
            let token = stand_in::random_token();
            let server = stand_in::StandIn::start(stand_in::Options::local(token.clone())).await?;
            let target = Target::new(&server.base_url(), token)?;
            let client = Arc::new(Client::new(target, prepare::settings(args))?);
            (client, Some(server))
        }
    };
    let base_url = client.target().base_url.clone();
    let mut p = p;
    let journal = std::mem::replace(&mut p.journal, JournalStart::Keep(None)).start(
        &p.journal_path,
        now,
        !args.no_fsync,
    )?;
    let crate::event::Declared {
        expectations,
        contingencies,
        objectives,
    } = crate::journal::declared(&p.timeline.scenario);
    let header = RunHeader {
        run_id: uuid::Uuid::new_v4().to_string(),
        scenario: p.shown.clone(),
        name: Some(p.timeline.scenario.name.clone()).filter(|n| !n.is_empty()),
        scenario_sha256: p.scenario_sha.clone(),
        t0: p.timeline.t0.to_rfc3339(),
        speed: (!p.max_speed).then_some(p.speed),
        base_url: if args.dry_run {
            "stand-in (dry run)".into()
        } else {
            base_url
        },
        dry_run: args.dry_run,
        started_at: time_text(now),
        injector_version: env!("CARGO_PKG_VERSION").into(),
        boot_id: crate::journal::boot_id(),
        resumes: p.resume_of.as_ref().map(|h| h.run_id.clone()),
        occurrences: p.timeline.occurrences.len(),
        plan: p.plan.take(),
        expectations,
        contingencies,
        objectives,
        timezone: p.timeline.scenario.timezone.map(|tz| tz.name().to_string()),
        seed: Some(p.timeline.scenario.seed),
    };
    journal.append(&Entry::Run(header)).await?;
    let dry = if args.dry_run { "dry run: " } else { "" };
    let contingent = p.branching.as_ref().map_or(String::new(), |b| {
        let n: usize = b
            .model
            .conditionals
            .iter()
            .map(|c| c.occurrences.len())
            .sum();
        let e = b.model.expectations.len();
        format!(" (and {n} contingent on {e} expected action(s) and sends)")
    });
    tracing::info!(
        "{dry}{} occurrence(s) to fire{contingent} from {}{}; T0 {}; journal {}",
        p.items.len(),
        p.shown,
        p.applied.as_ref().map_or(String::new(), |f| format!(
            " (as applied during the run: {f})"
        )),
        crate::timeline::show_time(p.timeline.t0, p.timeline.scenario.timezone),
        p.journal_path.display()
    );
    Ok(Started {
        p,
        client,
        journal: Arc::new(journal),
        stand_in,
    })
}

/// Fire: the engine as a task of the runtime, beside its senders. A timed run's runtime
/// has one thread (see `commands::block_on_with`): waiting and sending share it, with no
/// hand-off between threads; at `--speed max` the workers share the sends.
async fn fire(
    args: &RunArgs,
    s: &Started,
    side: EngineSide,
) -> Result<(engine::Ending, EngineSide), Error> {
    let listener = side.listener.clone();
    let stop_rx = side.stop.clone();
    let engine = Engine {
        timeline: s.p.shared.clone(),
        dispatch: s.client.clone(),
        journal: s.journal.clone(),
        clock: Clock::Real,
        config: engine::Config {
            late: match args.late {
                LateArg::Fire => LatePolicy::Fire,
                LateArg::Skip => LatePolicy::Skip,
            },
            late_max: args.late_max,
            concurrency: args.concurrency,
            max_speed: s.p.max_speed,
            redirect_team: args.redirect_team.as_deref().map(team_value),
            preconnect: !args.no_preconnect,
            drain: Duration::from_secs(10),
            wait_for_end: args.control.is_some() && !args.end_when_done,
        },
        events: side.listener,
        next: side.next,
    };
    let items = s.p.items.clone();
    let branching = s.p.branching.clone();
    let (stop, control) = (side.stop, side.control);
    let (ending, next) = tokio::spawn(async move {
        let ending = engine
            .run_controlled(items, stop, Some(control), branching)
            .await;
        (ending, engine.next)
    })
    .await
    .map_err(std::io::Error::other)?;
    // What the next part of a run rebuilt takes up again (its control is handed back).
    let (commands_tx, commands) = mpsc::channel(1);
    drop(commands_tx);
    let (state, _) = watch::channel(engine::ClockState::default());
    Ok((
        ending?,
        EngineSide {
            listener,
            control: engine::Control {
                commands,
                initial: engine::ClockState::default(),
                state,
                applier: None,
                carried: None,
            },
            next,
            stop: stop_rx,
        },
    ))
}

/// Wind down (signals, control, keys, the live line, the output task), write the end
/// with the whole run's summary (this part and the runs it resumes, as `report`
/// counts them), print it, and map it to the exit code.
async fn finish(
    args: &RunArgs,
    s: Started,
    side: RunSide,
    ending: engine::Ending,
) -> Result<Exit, Error> {
    side.signals.abort();
    let control_at = side.control_server.as_ref().map(|c| c.bound);
    if let Some(server) = side.control_server {
        // Answers in flight (the `end` that ended the run) go out first; pages' live
        // streams end with the run. At most a second.
        let _ = server.stop.send(true);
        let abort = server.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), server.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    if let Some(keys) = side.keys {
        keys.stop();
    }
    if let Some(bar) = side.countdown {
        bar.finish_and_clear();
        term::set_progress(None);
    }
    side.reporter.await.map_err(std::io::Error::other)?;
    let (summary, part) = {
        let board = side.board.lock().unwrap_or_else(|e| e.into_inner());
        let (totals, lateness) = board.fold().totals();
        // What a resumed run did itself: the occurrences it fired.
        let part =
            s.p.resume_of
                .is_some()
                .then(|| crate::fold::totals(board.fired().map(|(_, slot)| slot)).0);
        (Summary::new(&totals, &lateness), part)
    };
    let interrupted = matches!(ending, engine::Ending::Interrupted { .. });
    // Ended by a director: not completed (a resume can take it up), not an interruption.
    let ended = matches!(ending, engine::Ending::Ended { .. });
    let Started {
        p,
        journal,
        stand_in,
        ..
    } = s;
    // A dry run measures each message's arrival at its stand-in, after its instant.
    let summary = match &stand_in {
        Some(server) if !p.max_speed => {
            let arrived: std::collections::HashMap<String, u64> = server
                .requests()
                .into_iter()
                .filter_map(|r| Some((r.message_id?, r.received_unix_ns)))
                .collect();
            let board = side.board.lock().unwrap_or_else(|e| e.into_inner());
            let arrivals = board
                .fold()
                .iter()
                .filter_map(|(_, slot)| {
                    let at = *arrived.get(slot.message_id.as_deref()?)?;
                    let planned = slot.planned?.timestamp_nanos_opt()?;
                    Some((at as i64 - planned) as f64 / 1e6)
                })
                .collect();
            // Its sends' own lateness is the gate's, 0 by construction: not said.
            let mut summary = summary.with_arrivals(arrivals);
            summary.lateness_p50_ms = None;
            summary.lateness_p99_ms = None;
            summary.lateness_max_ms = None;
            summary
        }
        _ => summary,
    };
    journal
        .append(&Entry::End {
            at: time_text(Utc::now()),
            reason: if interrupted {
                "interrupted".into()
            } else if ended && summary.pending > 0 {
                "ended".into()
            } else {
                "completed".into()
            },
            summary: summary.clone(),
        })
        .await?;
    if let Some(server) = stand_in {
        server.shutdown(Duration::from_secs(1)).await;
    }
    let journal_path = &p.journal_path;
    let refused = side.refused.get().copied();
    let resume_command = (interrupted || ended && summary.pending > 0)
        .then(|| output::resume_command(args, journal_path, refused.is_some(), control_at));
    if ended {
        tracing::warn!("the exercise was ended from the control endpoint");
    }
    output::print_summary(
        &summary,
        part.as_ref(),
        args,
        journal_path,
        resume_command.as_deref(),
        ended,
    )?;
    if let Some(code) = refused {
        tracing::error!(
            "stopped: the target refused the API token (HTTP {code}), so nothing more was sent; once CONDUCTTR_TOKEN or --token-file is right, resume with --retry-failed (the command above) to send the failed ones again and go on"
        );
    }
    if let Ok(j) = Arc::try_unwrap(journal) {
        j.close()?;
    }
    Ok(if refused.is_some() {
        Exit::Usage
    } else if interrupted {
        Exit::Interrupted
    } else if summary.failed + summary.skipped + summary.uncertain + summary.pending > 0 {
        Exit::Invalid
    } else {
        Exit::Ok
    })
}

/// A team id as the API takes it: a number when it is all digits.
fn team_value(s: &str) -> Value {
    s.trim()
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(s.trim().to_string()))
}
