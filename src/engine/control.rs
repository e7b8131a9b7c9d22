//! Live control of a running engine: the commands it takes, the clock state it
//! publishes (and a resume replays from the journal), and the producer's cursor.

use std::sync::atomic::AtomicUsize;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::action::{Action, Source};
use crate::event::Event;

/// An action, where it came from, and where to say how it went.
pub struct Command {
    pub action: Action,
    pub source: Source,
    pub reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}

/// The clock's state, published for the control view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClockState {
    pub held_since: Option<DateTime<Utc>>,
    /// The total shift of everything not yet fired (holds and shifts).
    pub shift: chrono::TimeDelta,
    pub skipped: Vec<String>,
}

impl ClockState {
    /// The state a journal's actions leave behind: holds (one still open stays open),
    /// resumes and shifts summed into the shift, skips not undone.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> ClockState {
        let mut state = ClockState::default();
        for e in events {
            let Event::Control {
                at,
                action,
                moved_ms,
                ..
            } = e
            else {
                continue;
            };
            let moved = chrono::TimeDelta::milliseconds(moved_ms.unwrap_or(0));
            match action {
                Action::Hold => state.held_since = Some(*at),
                Action::Resume => {
                    state.held_since = None;
                    state.shift += moved;
                }
                Action::Shift(_) => state.shift += moved,
                Action::Skip(k) => {
                    if !state.skipped.contains(k) {
                        state.skipped.push(k.clone());
                    }
                }
                Action::Unskip(k) => state.skipped.retain(|s| s != k),
                Action::Fire(_) => {}
            }
        }
        state
    }
}

/// The producer's place in a run: what is done, the clock, what is warm.
pub(super) struct Cursor {
    /// The first item not yet prepared; those before it are done.
    pub(super) next: usize,
    /// Items fired by hand (fire now) ahead of their turn.
    pub(super) fired: std::collections::HashSet<usize>,
    pub(super) clock: ClockState,
    /// Stopped by a signal (or a hold ended by one).
    pub(super) stopped: bool,
    /// With `--preconnect`: connections known open, and when the last group fired.
    pub(super) warm: AtomicUsize,
    pub(super) last_fired: Option<DateTime<Utc>>,
}

impl Cursor {
    /// Past items already fired by hand; whether any item is left.
    pub(super) fn advance(&mut self, len: usize) -> bool {
        while self.next < len && self.fired.contains(&self.next) {
            self.next += 1;
        }
        self.next < len
    }

    /// Items never started.
    pub(super) fn pending(&self, len: usize) -> usize {
        (self.next..len).filter(|k| !self.fired.contains(k)).count()
    }
}

/// Live control of a run: where commands arrive, and the state to start from (a resume
/// replays the journal's actions into it).
pub struct Control {
    pub commands: mpsc::Receiver<Command>,
    pub initial: ClockState,
    pub state: watch::Sender<ClockState>,
}
