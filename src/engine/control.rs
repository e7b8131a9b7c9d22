//! Live control of a running engine: the commands it takes, the clock state it
//! publishes (and a resume replays from the journal), and the producer's cursor.

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::action::{Action, Source};
use crate::event::Event;

/// An action, where it came from, and where to say how it went.
pub struct Command {
    pub action: Action,
    pub source: Source,
    /// Who asked (a controller's name), when known.
    pub by: Option<String>,
    pub reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}

/// The clock's state, published for the control view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClockState {
    pub held_since: Option<DateTime<Utc>>,
    /// The total shift of everything not yet fired (holds and shifts).
    pub shift: chrono::TimeDelta,
    /// Occurrence keys and inject ids to skip.
    pub skipped: Vec<String>,
    /// Occurrence keys unskipped one by one while their inject's id is skipped.
    pub unskipped: Vec<String>,
    /// Where the expected actions and contingencies stand (empty without branches).
    pub branches: crate::branch::Views,
}

use crate::action::of_inject as belongs;

impl ClockState {
    /// Whether occurrence `key` of inject `inject_id` is to be skipped.
    pub fn skips(&self, key: &str, inject_id: &str) -> bool {
        self.skipped.iter().any(|k| k == key || k == inject_id)
            && !self.unskipped.iter().any(|k| k == key)
    }

    /// Skip `key`, an occurrence key or an inject id (all its occurrences, even those
    /// unskipped one by one before).
    pub fn skip(&mut self, key: &str) {
        if !self.skipped.iter().any(|k| k == key) {
            self.skipped.push(key.to_string());
        }
        self.unskipped.retain(|u| !belongs(u, key));
    }

    /// Undo exactly what a skip did to `key`: a skip of the key itself (or of the inject
    /// id it is), or, for one occurrence of a skipped inject, that occurrence alone.
    /// Whether anything was skipped.
    pub fn unskip(&mut self, key: &str) -> bool {
        if self.skipped.iter().any(|k| k == key) {
            self.skipped.retain(|k| k != key);
            self.unskipped.retain(|u| !belongs(u, key));
            return true;
        }
        if self.skipped.iter().any(|id| belongs(key, id))
            && !self.unskipped.iter().any(|u| u == key)
        {
            self.unskipped.push(key.to_string());
            return true;
        }
        false
    }

    /// The state a journal's actions leave behind: holds (one still open stays open),
    /// resumes and shifts summed into the shift, skips and unskips as they were done.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> ClockState {
        let mut state = ClockState::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// The base instant (before holds and shifts) of wall-clock instant `at`: while
    /// held, the exercise's clock stands at the hold's start.
    pub fn base(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        super::moved(self.held_since.unwrap_or(at), -self.shift)
    }

    /// Take in one journaled event (only actions change the clock).
    pub fn apply(&mut self, e: &Event) {
        let state = self;
        {
            let Event::Control {
                at,
                action,
                moved_ms,
                ..
            } = e
            else {
                return;
            };
            // Each move is in range (the journal checks); their sum is kept so too.
            let limit = crate::action::MAX_MOVE_MS;
            let moved = |shift: chrono::TimeDelta| {
                chrono::TimeDelta::milliseconds(
                    shift
                        .num_milliseconds()
                        .saturating_add(moved_ms.unwrap_or(0))
                        .clamp(-limit, limit),
                )
            };
            match action {
                Action::Hold => state.held_since = Some(*at),
                Action::Resume => {
                    state.held_since = None;
                    state.shift = moved(state.shift);
                }
                Action::Shift(_) => state.shift = moved(state.shift),
                Action::Skip(k) => state.skip(k),
                Action::Unskip(k) => {
                    state.unskip(k);
                }
                Action::Fire(_)
                | Action::Met(..)
                | Action::Missed(..)
                | Action::Note { .. }
                | Action::End => {}
            }
        }
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
    /// When the last group handed to the senders is due.
    pub(super) last_fired: Option<DateTime<Utc>>,
    /// The run's branches, when the scenario has any.
    pub(super) branch: Option<super::branching::BranchCursor>,
    /// Ended by a director's `end`.
    pub(super) ended: bool,
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

#[cfg(test)]
mod tests {
    use super::ClockState;

    #[test]
    fn unskip_undoes_exactly_what_skip_did() {
        let mut s = ClockState::default();
        s.skip("gauge");
        assert!(s.skips("gauge#1", "gauge") && s.skips("gauge#2@red", "gauge"));
        assert!(
            !s.skips("gauges#1", "gauges"),
            "another inject with a longer id"
        );
        // One occurrence of a skipped inject, by its key.
        assert!(s.unskip("gauge#2"));
        assert!(!s.skips("gauge#2", "gauge") && s.skips("gauge#3", "gauge"));
        assert!(!s.unskip("gauge#2"), "already unskipped");
        // The inject again: every occurrence, the one unskipped before too.
        s.skip("gauge");
        assert!(s.skips("gauge#2", "gauge"));
        assert!(s.unskip("gauge"));
        assert!(!s.skips("gauge#3", "gauge"));
        assert!(!s.unskip("gauge"), "not skipped any more");
        // A key skipped by itself.
        s.skip("alarm#4");
        assert!(s.skips("alarm#4", "alarm") && !s.skips("alarm#5", "alarm"));
        assert!(s.unskip("alarm#4") && !s.skips("alarm#4", "alarm"));
        assert!(!s.unskip("other"));
    }
}
