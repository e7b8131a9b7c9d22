//! The terminal during a run: one live line, and single keys for control.
//!
//! The line shows the clock (running or held, and any shift), the next inject with its
//! countdown, and the last send with its status; logs print above it. When stdin is a
//! terminal too, it is switched to single-key input (no echo, no Enter; Ctrl-C still
//! interrupts) and restored afterwards: space holds or resumes, `s` skips the next
//! inject, `f` fires it now, `m` / `x` judge the expected action shown (the open one
//! with the nearest deadline) met or missed, `?` shows the keys. Nothing of this appears in pipes or CI.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::action::{Action, Source};
use crate::engine::{ClockState, Command, Reply};
use crate::fold::Status;

type Next = watch::Receiver<Option<(String, DateTime<Utc>)>>;

/// The `n` most recent outcomes: time, key, what happened, HTTP status.
fn last_sends(view: &crate::control::View, n: usize) -> Vec<String> {
    let Ok(board) = view.board.lock() else {
        return Vec::new();
    };
    board
        .recent()
        .take(n)
        .map(|(key, slot)| {
            let status = slot.http_status.map_or(String::new(), |s| format!(" {s}"));
            format!(
                "{} {key} {}{status}",
                slot.at
                    .map_or(String::new(), |t| t.format("%H:%M:%S").to_string()),
                slot.status.name()
            )
        })
        .collect()
}

/// The `n` next occurrences not yet started, with their countdowns.
fn next_up(view: &crate::control::View, state: &ClockState, n: usize) -> Vec<String> {
    let Ok(board) = view.board.lock() else {
        return Vec::new();
    };
    // While held, countdowns stand still: the hold so far will be added on resume.
    let shift = state.shift
        + state
            .held_since
            .map_or(chrono::TimeDelta::zero(), |since| Utc::now() - since);
    // Slots are in firing order, and holds and shifts move them all alike.
    let timeline = view.timeline.get();
    board
        .fired()
        .filter(|(_, slot)| slot.status == Status::Pending)
        .take(n)
        .map(|(fired, _)| {
            let k = &timeline.occurrences[fired.occ].key;
            let skip = if state.skips(k, timeline.id_of(&timeline.occurrences[fired.occ])) {
                " (will skip)"
            } else {
                ""
            };
            // What it is: channel, to whom, and its subject.
            let o = &timeline.occurrences[fired.occ];
            let inject = timeline.inject(o);
            let channel = timeline.field_text(inject, "channel");
            let mut what = format!(" {} {channel}", crate::plan::show_offset(o.offset));
            let persona = timeline.persona_text(o);
            if !persona.is_empty() {
                what.push_str(&format!(" from {persona}"));
            }
            if let Some(to) = crate::control::list(&view.to).get(fired.occ) {
                what.push_str(&format!(" to {to}"));
            }
            if let Some(subject) = crate::control::list(&view.subjects)
                .get(fired.occ)
                .filter(|s| !s.is_empty())
            {
                what.push_str(&format!(" \"{subject}\""));
            }
            let skip = format!("{what}{skip}");
            if view.max_speed {
                // Planned instants are the scenario's; nothing waits for them.
                return format!("in turn    {k}{skip}");
            }
            let left = (crate::engine::moved(fired.planned, shift) - Utc::now())
                .num_seconds()
                .max(0);
            format!(
                "in {:02}:{:02}:{:02}  {k}{skip}",
                left / 3600,
                left / 60 % 60,
                left % 60
            )
        })
        .collect()
}

/// Start the live view; it keeps itself current until the bar is finished.
pub fn start_view(
    mut next: Next,
    view: crate::control::View,
    keys: bool,
) -> indicatif::ProgressBar {
    let clock = view.clock.clone();
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    crate::term::set_progress(Some(bar.clone()));
    let shown = bar.clone();
    tokio::spawn(async move {
        loop {
            let state = clock.borrow().clone();
            let mut msg = match state.held_since {
                Some(since) => format!("HELD {}", crate::human::duration(Utc::now() - since)),
                None if state.waiting => "NOTHING LEFT TO SEND".to_string(),
                None => "RUNNING".to_string(),
            };
            if !state.shift.is_zero() {
                msg.push_str(&format!(
                    " (moved {})",
                    crate::human::moved_ms(state.shift.num_milliseconds())
                ));
            }
            if keys {
                msg.push_str(
                    "   keys: [space] hold/release  [s] skip next  [u] unskip it  [f] fire next now  [z] undo  [n] note  [?] help",
                );
            }
            for r in view.restarts.iter() {
                msg.push_str(&format!(
                    "\n  restarted {} after {} down",
                    r.resumed_at.format("%H:%M:%S"),
                    crate::human::duration(r.resumed_at - r.stopped_at)
                ));
            }
            let next_lines = next_up(&view, &state, 3);
            if state.waiting {
                msg.push_str("\n  nothing left to send: end the exercise when the hot wash is done (`injector ctl --control URL --yes end`, or the page's End)");
            } else if next_lines.is_empty() && next.borrow().is_none() {
                msg.push_str("\n  finishing");
            }
            for line in next_lines {
                msg.push_str(&format!("\n  next  {line}"));
            }
            for line in last_sends(&view, 3) {
                msg.push_str(&format!("\n  last  {line}"));
            }
            if let Some((rating, text)) = typing() {
                msg.push_str(&if rating {
                    format!(
                        "\n  rate  {text}_   (an objective, P/S/M/U, then why: `O1 S warning 4m late`; Enter: rate, Esc: drop)"
                    )
                } else {
                    format!("\n  note  {text}_   (Enter: add it, Esc: drop it)")
                });
            }
            if let Some(e) = state.branches.next_open() {
                let until = state.held_since.unwrap_or_else(Utc::now);
                let due = e.due.map_or("when its inject is sent".to_string(), |d| {
                    let left = (d - until).num_seconds().max(0);
                    format!(
                        "due in {:02}:{:02}:{:02}",
                        left / 3600,
                        left / 60 % 60,
                        left % 60
                    )
                });
                let keys = if keys { "   [m] met  [x] missed" } else { "" };
                msg.push_str(&format!("\n  expect  {}: {} ({due}){keys}", e.id, e.action));
            }
            shown.set_message(msg);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                changed = next.changed() => if changed.is_err() { break },
            }
        }
    });
    bar
}

/// The note (or rating, `true`) being typed at the terminal, shown in the live view.
static TYPING: Mutex<Option<(bool, String)>> = Mutex::new(None);

fn set_typing(typing: Option<(bool, &[u8])>) {
    if let Ok(mut t) = TYPING.lock() {
        *t = typing.map(|(rating, text)| (rating, String::from_utf8_lossy(text).into_owned()));
    }
}

fn typing() -> Option<(bool, String)> {
    TYPING.lock().ok().and_then(|t| t.clone())
}

/// A rating as typed at the terminal: `O1 S why…`; else what is wrong, with the shape.
fn typed_rating(text: &str) -> Result<Action, String> {
    let mut words = text.split_whitespace();
    let (Some(objective), Some(letter)) = (words.next(), words.next()) else {
        return Err(format!(
            "`{}`: type an objective and its rating, e.g. `O1 S warning went out 4m late`",
            text.trim()
        ));
    };
    let note = words.collect::<Vec<_>>().join(" ");
    Ok(Action::Rate {
        objective: objective.to_string(),
        rating: crate::action::Rating::parse(letter)?,
        note: Some(note).filter(|n| !n.is_empty()),
    })
}

/// The key reader; `stop` restores the terminal.
pub struct Keys {
    task: tokio::task::JoinHandle<()>,
    _raw: Option<RawMode>,
}

impl Keys {
    pub fn stop(self) {
        self.task.abort();
    }
}

/// How long a key's preview waits for the same key again, to confirm it.
const CONFIRM_WITHIN: Duration = Duration::from_secs(10);

/// A key as the help names it.
fn key_name(key: u8) -> String {
    match key {
        b' ' => "space".into(),
        b'\n' | b'\r' => "Enter".into(),
        k => format!("`{}`", k as char),
    }
}

/// Read single keys from the terminal and turn them into commands.
pub fn spawn_keys(
    commands: mpsc::Sender<Command>,
    next: Next,
    clock: watch::Receiver<ClockState>,
) -> Keys {
    let raw = RawMode::enable();
    let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
    std::thread::Builder::new()
        .name("keys".into())
        .spawn(move || {
            use std::io::Read;
            let mut byte = [0u8; 1];
            while let Ok(1) = std::io::stdin().read(&mut byte) {
                if tx.send(byte[0]).is_err() {
                    break;
                }
            }
        })
        .ok();
    let task = tokio::spawn(async move {
        // While a note (or a rating, `true`) is being typed: its text so far.
        let mut typing: Option<(bool, Vec<u8>)> = None;
        // A key whose action showed its consequences, and when: the same key again
        // within CONFIRM_WITHIN confirms exactly that preview.
        let mut armed: Option<(u8, String, std::time::Instant)> = None;
        while let Some(key) = rx.recv().await {
            if let Some((rating, text)) = typing.as_mut() {
                match key {
                    b'\n' | b'\r' => {}
                    // Escape drops it; backspace takes a byte back.
                    0x1b => {
                        typing = None;
                        set_typing(None);
                        tracing::info!("note dropped");
                        continue;
                    }
                    0x7f | 0x08 => {
                        text.pop();
                        set_typing(Some((*rating, text)));
                        continue;
                    }
                    b => {
                        text.push(b);
                        set_typing(Some((*rating, text)));
                        continue;
                    }
                }
            }
            let next_key = next.borrow().as_ref().map(|(k, _)| k.clone());
            let action = match key {
                // Enter ends a note or a rating being typed.
                b'\n' | b'\r' if typing.is_some() => {
                    let (rating, bytes) = typing.take().unwrap_or_default();
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    set_typing(None);
                    if rating {
                        match typed_rating(&text) {
                            Ok(rate) => Some(rate),
                            Err(why) => {
                                tracing::warn!("not rated: {why}");
                                None
                            }
                        }
                    } else {
                        (!text.trim().is_empty()).then(|| Action::Note {
                            objectives: Vec::new(),
                            tag: None,
                            text: text.trim().to_string(),
                            key: None,
                            expectation: None,
                        })
                    }
                }
                b'n' | b'r' => {
                    typing = Some((key == b'r', Vec::new()));
                    set_typing(Some((key == b'r', &[])));
                    continue;
                }
                b' ' | b'\n' | b'\r' => Some(if clock.borrow().held_since.is_some() {
                    Action::Resume
                } else {
                    Action::Hold
                }),
                b's' => next_key.map(Action::Skip),
                b'u' => next_key.map(Action::Unskip),
                b'f' => next_key.map(Action::Fire),
                b'z' => Some(Action::undo()),
                // The open expected action with the nearest deadline, as the view shows it.
                b'm' | b'x' => {
                    let open = clock.borrow().branches.next_open().map(|e| e.id.clone());
                    if open.is_none() {
                        tracing::warn!("no expected action is open to judge");
                    }
                    open.map(|id| {
                        if key == b'm' {
                            Action::Met(id, None)
                        } else {
                            Action::Missed(id, None)
                        }
                    })
                }
                _ => {
                    tracing::info!(
                        "keys: [space] hold or release the hold, [s] skip the next inject, [u] undo that skip, [f] fire it now, [m] met / [x] missed for the expected action shown, [z] undo the last hold, release, shift or skip, [n] a note (Enter ends it, Esc drops it), [r] rate an objective (`O1 S why`, evaluators); an action that needs a confirmation shows what it would do first: press its key again to do it"
                    );
                    None
                }
            };
            let Some(action) = action else { continue };
            // The same key again, soon after its preview: confirmed, for that preview.
            let confirmed = match armed.take() {
                Some((k, id, when)) if k == key && when.elapsed() < CONFIRM_WITHIN => Some(id),
                _ => None,
            };
            let (reply, answer) = tokio::sync::oneshot::channel();
            if commands
                .send(Command {
                    action,
                    source: Source::Terminal,
                    // Whoever sits at the terminal that started the run.
                    by: std::env::var("USER").ok().filter(|u| !u.is_empty()),
                    ask: crate::engine::Ask {
                        confirmed,
                        ..Default::default()
                    },
                    reply,
                })
                .await
                .is_err()
            {
                break;
            }
            match answer.await {
                Ok(Reply::Done(m)) => tracing::info!("{m}"),
                Ok(Reply::Refused(e)) => tracing::warn!("{e}"),
                Ok(Reply::Preview(p)) => {
                    tracing::warn!(
                        "this {}: press {} again within {} s to do it, any other key to leave it",
                        p.text,
                        key_name(key),
                        CONFIRM_WITHIN.as_secs()
                    );
                    armed = Some((key, p.id, std::time::Instant::now()));
                }
                Err(_) => break,
            }
        }
    });
    Keys { task, _raw: raw }
}

/// Single-key terminal input (no line buffering, no echo) until dropped.
pub struct RawMode {
    #[cfg(unix)]
    saved: libc::termios,
}

impl RawMode {
    #[cfg(unix)]
    fn enable() -> Option<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on stdin with a termios we own; an error leaves
        // the terminal untouched.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            raw.c_lflag &= !(libc::ICANON | libc::ECHO);
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            SAVED.lock().map(|mut s| *s = Some(saved)).ok();
            Some(RawMode { saved })
        }
    }

    #[cfg(not(unix))]
    fn enable() -> Option<RawMode> {
        None
    }
}

#[cfg(unix)]
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Put the terminal back as it was (also from an exit that skips destructors).
pub fn restore_terminal() {
    #[cfg(unix)]
    if let Ok(mut saved) = SAVED.lock()
        && let Some(t) = saved.take()
    {
        // SAFETY: restoring the attributes read from this same descriptor.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t);
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let _ = self.saved;
            restore_terminal();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_rating_typed_at_the_terminal() {
        use crate::action::{Action, Rating};
        assert_eq!(
            super::typed_rating(" O1  s warning went out late "),
            Ok(Action::Rate {
                objective: "O1".into(),
                rating: Rating::S,
                note: Some("warning went out late".into()),
            })
        );
        assert!(super::typed_rating("O1").unwrap_err().contains("`O1 S"));
        assert!(
            super::typed_rating("O1 good")
                .unwrap_err()
                .contains("P (performed")
        );
    }

    use chrono::{DateTime, Utc};

    use super::next_up;
    use crate::board::Board;
    use crate::control::View;
    use crate::engine::{ClockState, Item};

    fn view(max_speed: bool) -> View {
        let yaml = "name: L\ndefaults:\n  type: team\n  team_id: 1\n  persona: \"3-1\"\n  channel: microblog\ninjects:\n  - id: a\n    at: 1h\n    body: b\n  - id: c\n    at: 2h\n    body: d\n";
        let t0: DateTime<Utc> = Utc::now();
        let checked = crate::validate::check(
            "l.yaml",
            Arc::new(yaml.to_string()),
            Some(t0.fixed_offset()),
            1.0,
            Utc::now(),
        );
        let timeline = Arc::new(checked.timeline.expect("a timeline"));
        let items: Vec<Item> = timeline
            .occurrences
            .iter()
            .enumerate()
            .map(|(i, o)| Item::new(i, timeline.fire_at(o).to_utc()))
            .collect();
        let keys = items
            .iter()
            .map(|i| timeline.occurrences[i.occ].key.clone());
        let board = Board::new(&timeline, keys, [].iter(), &items);
        let (_tx, clock) = tokio::sync::watch::channel(ClockState::default());
        let (_changed_tx, changed) = tokio::sync::watch::channel(0u64);
        View {
            timeline: crate::timeline::Shared::new(timeline),
            clock,
            changed,
            board: Arc::new(Mutex::new(board)),
            dry_run: false,
            max_speed,
            to: Arc::default(),
            subjects: Arc::default(),
            restarts: Arc::new(Vec::new()),
        }
    }

    #[test]
    fn the_next_injects_count_down_except_at_max_speed() {
        let timed = next_up(&view(false), &ClockState::default(), 3);
        assert_eq!(timed.len(), 2);
        // An hour away, give or take the second the test takes.
        assert!(
            timed[0].starts_with("in 00:59:5") || timed[0].starts_with("in 01:00:00"),
            "{timed:?}"
        );
        // The key, then what it is: its scenario time and channel.
        assert!(
            timed[0].ends_with("  a T+01:00:00 microblog from 3-1"),
            "{timed:?}"
        );
        let max = next_up(&view(true), &ClockState::default(), 3);
        assert_eq!(
            max,
            [
                "in turn    a T+01:00:00 microblog from 3-1",
                "in turn    c T+02:00:00 microblog from 3-1"
            ]
        );
    }
}
