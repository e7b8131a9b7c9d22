//! `run`'s output: the listener that keeps the board and shows events, and the summary.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::board::Board;
use crate::cli::{ReportFormat, RunArgs};
use crate::engine;
use crate::error::Error;
use crate::event::Event;
use crate::fold::Totals;
use crate::journal::{Entry, Summary, time_text};

/// What `run` does with each event. The board takes it in at once (the summary, the
/// live view and the control page read it). What is shown (log lines, `--format json`)
/// goes to a task of its own, so that a slow terminal or pipe never holds up a send;
/// a `sent` event goes there only when it shows anywhere.
pub struct Listener {
    pub board: Arc<Mutex<Board>>,
    pub shown: mpsc::UnboundedSender<Event>,
    /// Whether a `sent` event shows: logged (info level) or printed as JSON.
    pub sent_shown: bool,
    /// The HTTP status of the first send the target refused for its token (401 or 403):
    /// every later send would be refused too, so the run stops there.
    pub refused: Arc<std::sync::OnceLock<u16>>,
    /// Stops the run (as a signal does).
    pub stop: Arc<tokio::sync::watch::Sender<bool>>,
    /// Bumped when the board changes, for the pages' live push.
    pub changed: tokio::sync::watch::Sender<u64>,
    /// The view's per-occurrence lists, which an ad hoc inject's occurrences join.
    pub to: Arc<std::sync::RwLock<Vec<String>>>,
    pub subjects: Arc<std::sync::RwLock<Vec<String>>>,
}

type Written<'a> = std::sync::RwLockWriteGuard<'a, Vec<String>>;

impl Listener {
    /// The view's per-occurrence lists, to change (a poisoned lock's too: they are
    /// only ever appended to or overwritten whole).
    fn lists(&self) -> (Written<'_>, Written<'_>) {
        fn write(l: &std::sync::RwLock<Vec<String>>) -> Written<'_> {
            l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
        }
        (write(&self.to), write(&self.subjects))
    }
}

impl engine::Listener for Listener {
    fn heard(&self, event: Event) {
        if let Event::AdHoc { rows, .. } = &event {
            let (mut to, mut subjects) = self.lists();
            // Lists past the plan's size limit stay empty.
            if !to.is_empty() || !subjects.is_empty() {
                for r in rows {
                    to.push(crate::control::to_words(r));
                    subjects.push(crate::message::short(r.subject.as_deref().unwrap_or("")));
                }
            }
        }
        let occ = {
            let mut board = self.board.lock().unwrap_or_else(|e| e.into_inner());
            board.record(&event);
            match &event {
                Event::Amended { key, .. } => board.occ_of(key),
                _ => None,
            }
        };
        // An amended occurrence's recipient and subject, as the page lists them.
        if let (Some(occ), Event::Amended { after, .. }) = (occ, &event) {
            let (mut to, mut subjects) = self.lists();
            if let Some(slot) = to.get_mut(occ) {
                *slot = crate::control::to_words(after);
            }
            if let Some(slot) = subjects.get_mut(occ) {
                *slot = crate::message::short(after.subject.as_deref().unwrap_or(""));
            }
        }
        // Pages follow by live push; a request about to start changes nothing they show.
        if !matches!(event, Event::Sending { .. } | Event::Started { .. }) {
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
        if let Event::Failed {
            status: Some(code @ (401 | 403)),
            ..
        } = &event
            && self.refused.set(*code).is_ok()
        {
            let _ = self.stop.send(true);
        }
        let shown = match event {
            Event::Sending { .. } | Event::Started { .. } => false,
            Event::Sent { .. } => self.sent_shown,
            _ => true,
        };
        if shown {
            let _ = self.shown.send(event);
        }
    }
}

/// Show events as they come: a log line each, and with `--format json` a JSON line on
/// stdout (the journal's line, and `dry_run`) for each outcome.
pub async fn show_events(
    mut rx: mpsc::UnboundedReceiver<Event>,
    format: ReportFormat,
    dry_run: bool,
    mut labels: Labels,
) {
    let tag = if dry_run { "[dry run] " } else { "" };
    // Whatever has arrived, taken at once: one wake-up for a burst.
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        for event in batch.drain(..) {
            labels.heard(&event);
            log_event(&event, tag, &labels);
            if format == ReportFormat::Json
                && !matches!(
                    event,
                    Event::Control { .. } | Event::Attempt { .. } | Event::Rescheduled { .. }
                )
            {
                let mut v = serde_json::to_value(Entry::from(&event)).unwrap_or(Value::Null);
                v["dry_run"] = Value::Bool(dry_run);
                println!("{v}");
            }
        }
    }
}

/// What a log line says of an occurrence beside its key: its scenario time and its
/// subject (`T+00:02:00 "Storm warning"`; a contingency's delay: `10m after its
/// condition "Re: ..."`), by key.
#[derive(Default)]
pub struct Labels(std::collections::HashMap<String, String>);

impl Labels {
    /// Each occurrence's label; none past the plan's size limit (`subjects` empty).
    pub fn new(t: &crate::timeline::Timeline, subjects: &[String]) -> Labels {
        if subjects.is_empty() {
            return Labels::default();
        }
        Labels(
            t.occurrences
                .iter()
                .zip(subjects)
                .map(|(o, subject)| {
                    // A contingency's offset is its delay once its condition holds, not
                    // a time of the exercise: said as what it is.
                    let t_plus = if t.is_contingent(o) {
                        format!(
                            "{} after its condition",
                            crate::human::duration_ms(o.offset.as_millis() as i64)
                        )
                    } else {
                        crate::plan::show_offset(o.offset)
                    };
                    let label = if subject.is_empty() {
                        t_plus
                    } else {
                        format!("{t_plus} \"{subject}\"")
                    };
                    (o.key.clone(), label)
                })
                .collect(),
        )
    }

    /// An inject written or amended during the run: its occurrences' labels as they are
    /// now (a label is kept only where the plan's are).
    fn heard(&mut self, event: &Event) {
        let rows: Vec<&crate::journal::PlanRow> = match event {
            Event::AdHoc { rows, .. } => rows.iter().collect(),
            Event::Amended { after, .. } => vec![after.as_ref()],
            Event::Applied { rows, .. } => rows.iter().collect(),
            _ => return,
        };
        if self.0.is_empty() {
            return;
        }
        for r in rows {
            let t_plus = r.t_plus_ms.map_or(String::new(), |ms| {
                crate::plan::show_offset(std::time::Duration::from_millis(ms))
            });
            let label = match r.subject.as_deref() {
                Some(s) if !s.is_empty() => {
                    format!("{t_plus} \"{}\"", crate::message::short(s))
                }
                _ => t_plus,
            };
            self.0.insert(r.key.clone(), label);
        }
    }

    /// ` (T+00:02:00 "Storm warning")`, or nothing for a key it lacks.
    fn of(&self, key: &str) -> String {
        self.0.get(key).map_or(String::new(), |l| format!(" ({l})"))
    }
}

/// One line on stderr for an event (at info level for sends).
fn log_event(event: &Event, tag: &str, labels: &Labels) {
    match event {
        Event::Sending { .. } | Event::Started { .. } => {}
        Event::Sent {
            key,
            status,
            message_id,
            planned,
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
            // A dry run's send is written by the gate at its instant: nothing to measure
            // there (the summary measures the arrival at the stand-in).
            let lateness = match lateness_ms {
                Some(l) if tag.is_empty() => format!(" lateness {l:+.3} ms"),
                _ => String::new(),
            };
            // A dry run's request is written at its instant by the gate itself: its
            // `sent` is the instant, so only the instant is said.
            let sent = if tag.is_empty() {
                format!(" sent {}", time_text(*sent_at))
            } else {
                String::new()
            };
            tracing::info!(
                "{tag}sent {key}{} planned {}{sent}{lateness} status {status} message_id {message_id}{notes}",
                labels.of(key),
                time_text(*planned),
            );
        }
        Event::Failed {
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
                "{tag}FAILED {key} status {status} after {attempts} attempt(s): {error}{maybe}{}",
                labels.of(key)
            );
        }
        Event::Rescheduled { key, due, .. } => tracing::warn!(
            "{tag}unskipped {key}{}: it goes at {}",
            labels.of(key),
            time_text(*due)
        ),
        Event::Attempt {
            key,
            status,
            error,
            reached,
            ..
        } => {
            let status = status.map_or("-".to_string(), |s| s.to_string());
            let arrived = if *reached {
                "it may have arrived"
            } else {
                "it did not arrive"
            };
            tracing::warn!(
                "{tag}retrying {key}{}: status {status}, {error} ({arrived})",
                labels.of(key)
            );
        }
        Event::Skipped { key, reason, .. } => {
            tracing::warn!("{tag}skipped {key}{}: {reason}", labels.of(key))
        }
        Event::Note {
            text,
            key,
            expectation,
            source,
            by,
            ..
        } => {
            let about = key
                .as_deref()
                .or(expectation.as_deref())
                .map_or(String::new(), |k| format!(" on {k}"));
            tracing::info!(
                "{tag}note ({}{}){about}: {text}",
                source.name(),
                by.as_deref().map_or(String::new(), |b| format!(", {b}"))
            );
        }
        Event::Control {
            action,
            moved_ms,
            source,
            by,
            ..
        } => {
            let what = action
                .key()
                .map(String::from)
                .or_else(|| moved_ms.map(crate::human::moved_ms))
                .map_or(String::new(), |w| format!(" {w}"));
            let note = action.note().map_or(String::new(), |n| format!(" ({n})"));
            tracing::warn!(
                "{tag}control ({}{}): {}{what}{note}",
                source.name(),
                by.as_deref().map_or(String::new(), |b| format!(", {b}")),
                action.name()
            );
        }
        Event::Due {
            expectation, due, ..
        } => tracing::info!("{tag}expected: {expectation}, judge by {}", time_text(*due)),
        Event::Expired { expectation, .. } => {
            tracing::warn!("{tag}MISSED {expectation}: its deadline passed unjudged")
        }
        Event::Void {
            expectation,
            reason,
            ..
        } => tracing::warn!("{tag}not judged {expectation}: {reason}"),
        Event::Triggered {
            inject, because, ..
        } => tracing::info!("{tag}triggered {inject}: {because}"),
        Event::NotTriggered {
            inject, because, ..
        } => tracing::info!("{tag}not triggered {inject}: {because}"),
        Event::AdHoc { .. } | Event::Amended { .. } | Event::Applied { .. } => {
            log_improvised(event, tag);
        }
    }
}

/// The log line of an inject written or amended during the run.
fn log_improvised(event: &Event, tag: &str) {
    match event {
        Event::AdHoc {
            id,
            rows,
            by,
            declared,
            ..
        } => {
            let by = by.as_ref().map_or(String::new(), |b| format!(" (by {b})"));
            // A contingency has no instant yet: it is armed on its condition.
            match declared
                .as_ref()
                .and_then(|d| d.contingencies.iter().find(|c| c.inject == *id))
            {
                Some(c) => tracing::info!(
                    "{tag}ad hoc contingency {id}{by} joined the run: armed (when {})",
                    c.condition
                ),
                None => tracing::info!(
                    "{tag}ad hoc inject {id}{by} joined the run: {}",
                    rows.iter()
                        .map(|r| format!("{} at {}", r.key, r.planned_at))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        Event::Amended {
            key, fields, by, ..
        } => tracing::info!(
            "{tag}amended {key}{}: {}",
            by.as_ref().map_or(String::new(), |b| format!(" (by {b})")),
            fields.join(", ")
        ),
        Event::Applied {
            file,
            changes,
            by,
            undoes,
            ..
        } => tracing::warn!(
            "{tag}{}{}: {}",
            match undoes {
                Some(made) => format!("undid the apply made at {made}, back to {file}"),
                None => format!("applied {file}"),
            },
            by.as_ref().map_or(String::new(), |b| format!(" (by {b})")),
            changes
                .iter()
                .map(|c| format!("{} {}", c.key, c.effect))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => {}
    }
}

/// The command that resumes this run (sending the failed ones again too, with
/// `retry_failed`).
/// `control_at`: where the control endpoint listened (the same address again, so that
/// every page and `ctl` find it, even when `--control` asked for port 0).
pub fn resume_command(
    args: &RunArgs,
    journal: &Path,
    retry_failed: bool,
    control_at: Option<std::net::SocketAddr>,
) -> String {
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
    if retry_failed {
        cmd.push_str(" --retry-failed");
    }
    // Everything needed to steer it again: a resumed run keeps its controls.
    match (control_at, &args.control) {
        (Some(bound), _) => cmd.push_str(&format!(" --control {bound}")),
        (None, Some(addr)) => cmd.push_str(&format!(" --control {addr}")),
        (None, None) => {}
    }
    if let Some(path) = &args.controllers {
        cmd.push_str(&format!(" --controllers {}", path.display()));
    }
    if let Some(path) = &args.control_token_file {
        cmd.push_str(&format!(" --control-token-file {}", path.display()));
    }
    if args.control_tls.is_some() {
        cmd.push_str(" --control-tls self-signed");
    }
    if let (Some(cert), Some(key)) = (&args.control_tls_cert, &args.control_tls_key) {
        cmd.push_str(&format!(
            " --control-tls-cert {} --control-tls-key {}",
            cert.display(),
            key.display()
        ));
    }
    if args.end_when_done {
        cmd.push_str(" --end-when-done");
    }
    cmd
}

/// `, N not yet sent` when some are, else nothing.
fn not_yet_sent(pending: usize) -> String {
    if pending > 0 {
        format!(", {pending} not yet sent")
    } else {
        String::new()
    }
}

/// The run's summary on stdout: the whole run's counts (as `report` has them), what a
/// resumed part did itself, and how to resume when it stopped early.
pub fn print_summary(
    s: &Summary,
    part: Option<&Totals>,
    args: &RunArgs,
    journal: &Path,
    resume: Option<&str>,
    ended: bool,
) -> Result<(), Error> {
    // Under a second in milliseconds (the floor is a fraction of one); above, as people
    // write durations (`11.2 s`, `2m 5s`).
    let ms = |v: Option<f64>| {
        v.map_or("-".to_string(), |v| {
            if v.abs() < 1000.0 {
                format!("{v:.2} ms")
            } else {
                let sign = if v < 0.0 { "-" } else { "" };
                format!("{sign}{}", crate::human::duration_ms(v.round() as i64))
            }
        })
    };
    let text = match args.format {
        ReportFormat::Json => {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            v["type"] = json!("summary");
            v["dry_run"] = json!(args.dry_run);
            v["journal"] = json!(journal.display().to_string());
            v["interrupted"] = json!(resume.is_some());
            v["resume_command"] = json!(resume);
            if let Some(part) = part {
                v["this_part"] = json!(part);
            }
            format!("{v}\n")
        }
        ReportFormat::Text => {
            let not_triggered = if s.not_triggered > 0 {
                format!(", {} not triggered", s.not_triggered)
            } else {
                String::new()
            };
            let mut t = format!(
                "{}{} sent, {} failed, {} skipped, {} uncertain, {} possible duplicate(s), {} late{}{}\n{}journal: {}\n",
                if args.dry_run { "dry run: " } else { "" },
                s.sent,
                s.failed,
                s.skipped,
                s.uncertain,
                s.possible_duplicates,
                s.late,
                not_triggered,
                not_yet_sent(s.pending),
                if args.speed.as_deref() == Some("max") {
                    "lateness: not measured with --speed max\n".to_string()
                } else if args.dry_run {
                    // What a dry run can measure: the arrival at its stand-in (the send
                    // itself is written by the gate at the instant).
                    format!(
                        "arrival at the stand-in after each instant: p50 {}, p99 {}, max {}\n",
                        ms(s.arrival_p50_ms),
                        ms(s.arrival_p99_ms),
                        ms(s.arrival_max_ms)
                    )
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
            if let Some(p) = part {
                t.push_str(&format!(
                    "of which this resumed part: {} sent, {} failed, {} skipped, {} uncertain{}\n",
                    p.sent,
                    p.failed,
                    p.skipped,
                    p.uncertain,
                    not_yet_sent(p.pending)
                ));
            }
            if let Some(cmd) = resume {
                let token_note = if args.control.is_some()
                    && args.controllers.is_none()
                    && args.control_token_file.is_none()
                {
                    " (it prints a new control token: pass --control-token-file FILE to keep one across a resume)"
                } else {
                    ""
                };
                if ended {
                    t.push_str(&format!(
                        "ended by a director before everything was sent; to take it up again: {cmd}{token_note}\n"
                    ));
                } else {
                    t.push_str(&format!("stopped early; to resume: {cmd}{token_note}\n"));
                }
            }
            t
        }
    };
    super::super::write_output(None, &text)
}

/// What `--preflight-only` found: everything a run checks before it writes or sends.
pub fn print_preflight(args: &RunArgs, p: &super::Prepared) -> Result<(), Error> {
    let target = match &p.client {
        Some(c) => c.target().base_url.clone(),
        None => "the stand-in (dry run)".to_string(),
    };
    let journal = match (&p.resume_of, &p.journal) {
        (Some(h), _) => format!("resumes run {}", h.run_id),
        (None, super::JournalStart::Archive(_)) => "archives the old run and starts anew".into(),
        (None, super::JournalStart::Keep(_)) => "starts a new run".into(),
    };
    let t0 = crate::timeline::show_time(p.timeline.t0, p.timeline.scenario.timezone);
    let text = match args.format {
        ReportFormat::Json => {
            let v = json!({
                "type": "preflight",
                "ready": true,
                "dry_run": args.dry_run,
                "target": target,
                "teams": p.workspace.map(|w| w.0),
                "personas": p.workspace.map(|w| w.1),
                "scenario": p.shown,
                "t0": p.timeline.t0.to_rfc3339(),
                "occurrences": p.timeline.occurrences.len(),
                "to_fire": p.items.len(),
                "journal": p.journal_path.display().to_string(),
                "journal_action": journal,
            });
            format!("{v}\n")
        }
        ReportFormat::Text => {
            let token = match p.workspace {
                Some((teams, personas)) => format!(
                    " (token accepted; {teams} team(s), {personas} persona(s), every id in the scenario known)"
                ),
                None => String::new(),
            };
            format!(
                "preflight: ready; nothing was sent and the journal was not touched\n  target    {target}{token}\n  scenario  {}: {} occurrence(s), {} to fire, T0 {t0}\n  journal   {}: {journal}\n",
                p.shown,
                p.timeline.occurrences.len(),
                p.items.len(),
                p.journal_path.display(),
            )
        }
    };
    super::super::write_output(None, &text)
}
