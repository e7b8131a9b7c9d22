//! Live control of a running engine: the commands it takes, the clock state it
//! publishes (and a resume replays from the journal), and the producer's cursor.

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::action::{Action, Source};
use crate::event::Event;

/// An action, where it came from, how it was asked for, and where to say how it went.
pub struct Command {
    pub action: Action,
    pub source: Source,
    /// Who asked (a controller's name), when known.
    pub by: Option<String>,
    pub ask: Ask,
    pub reply: tokio::sync::oneshot::Sender<Reply>,
}

/// How a person asked for an action: to see what it would do, or to do it (with the
/// preview seen or not), and the choices some actions take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    /// Only say what it would do; nothing changes.
    pub preview: bool,
    /// The consequences were seen: carry it out. `Some(id)`: the preview with this id
    /// (refused with the new preview when the consequences changed since); `Some("")`:
    /// whatever they are now (`ctl --yes`).
    pub confirmed: Option<String>,
    /// For a shift: what happens to occurrences it would move into the past (without
    /// it, such a shift is refused).
    pub late: Option<super::LatePolicy>,
    /// Fire a contingency whose condition can no longer hold (its alternative was
    /// judged or sent).
    pub force: bool,
    /// For a judgment: replace the judgment made before (while its branch sent nothing).
    pub correct: bool,
    /// For an unskip of one skipped when its instant came: when it goes (else now).
    pub at: Option<When>,
}

/// A time a person gives for an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Scenario time from T0 (`T+1h05m`), moved by holds and shifts like the rest.
    Offset(std::time::Duration),
    /// This long from now (`in 5m`).
    In(std::time::Duration),
}

/// How an action went.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Carried out; what happened, in words.
    Done(String),
    /// Not carried out, and why (nothing journaled).
    Refused(String),
    /// What it would do: asked for, or needed before it is carried out
    /// ([`Preview::confirm`]) and not yet confirmed.
    Preview(Preview),
}

/// What an action would do, in words and as a list, before it is done.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Preview {
    /// Its name (`shift`, `end`, ...).
    pub action: String,
    /// In words: "moves 14 pending occurrences 2h earlier: ...".
    pub text: String,
    /// Whether it needs a confirmation to be carried out.
    pub confirm: bool,
    /// A digest of what it would change and how (keys and effects): a confirmation
    /// naming it is carried out only while the consequences are still these.
    pub id: String,
    /// Each occurrence or expected action it changes.
    pub items: Vec<Consequence>,
    /// The scenario's time zone (IANA), in which a person reads the items' instants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// One thing an action changes.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Consequence {
    /// The occurrence key (or expected action id, or contingency inject id).
    pub key: String,
    /// What happens to it: `moves`, `sent at once`, `skipped`, `expires`, `fires`,
    /// `judged`, `not triggered`, `never sent`, `left open`.
    pub effect: String,
    /// Its subject, title or text, as a person knows it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// When it was due, and when it would be (RFC 3339), where it has an instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The exact request body it would send (an ad hoc inject's preview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl Preview {
    /// A preview of `action` saying `text`, its id made from what it says.
    pub fn new(action: &Action, text: String, confirm: bool, items: Vec<Consequence>) -> Preview {
        use sha2::Digest;
        // What it changes and how, not when: a preview a second old names the same
        // consequences though its countdowns moved on.
        let mut h = sha2::Sha256::new();
        h.update(action.name().as_bytes());
        for i in &items {
            h.update(format!("{}|{}\n", i.key, i.effect).as_bytes());
        }
        let id = h
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Preview {
            action: action.name().into(),
            text,
            confirm,
            id,
            items,
            timezone: None,
        }
    }
}

/// A clock action or skip that `undo` can revert: what it was, when, by whom, and the
/// clock as it stood before it.
#[derive(Clone, Debug, PartialEq)]
pub struct Undoable {
    pub action: Action,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    /// A resume's hold or a shift: how far it moved everything.
    pub moved_ms: Option<i64>,
    before: Hands,
}

/// The part of the clock a person's action sets, and an undo puts back.
#[derive(Clone, Debug, Default, PartialEq)]
struct Hands {
    held_since: Option<DateTime<Utc>>,
    shift: chrono::TimeDelta,
    skipped: Vec<String>,
    unskipped: Vec<String>,
}

/// Who skipped a key, and when.
#[derive(Clone, Debug, PartialEq)]
pub struct SkippedBy {
    pub key: String,
    pub by: Option<String>,
    pub at: DateTime<Utc>,
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
    /// Who skipped each key in `skipped`, and when.
    pub skipped_by: Vec<SkippedBy>,
    /// What `undo` can revert, latest last.
    pub undoable: Vec<Undoable>,
    /// Every occurrence is handled: the run waits for a director to end it.
    pub waiting: bool,
    /// How the run ended, in words (`ended by dana at 10:42:13`, `completed at ...`),
    /// once it has: the last state every open page receives.
    pub ended: Option<String>,
    /// Where the expected actions and contingencies stand (empty without branches).
    pub branches: crate::adaptive::Views,
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
        crate::timeline::moved(self.held_since.unwrap_or(at), -self.shift)
    }

    /// Take in one journaled event (only actions change the clock): the one way the
    /// clock changes, live and in a resume's replay alike.
    pub fn apply(&mut self, e: &Event) {
        let Event::Control {
            at,
            action,
            moved_ms,
            by,
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
        if matches!(
            action,
            Action::Hold | Action::Resume | Action::Shift(_) | Action::Skip(_) | Action::Unskip(_)
        ) {
            self.undoable.push(Undoable {
                action: action.clone(),
                at: *at,
                by: by.clone(),
                moved_ms: *moved_ms,
                before: self.hands(),
            });
        }
        match action {
            Action::Hold => self.held_since = Some(*at),
            Action::Resume => {
                self.held_since = None;
                self.shift = moved(self.shift);
            }
            Action::Shift(_) => self.shift = moved(self.shift),
            Action::Skip(k) => {
                self.skip(k);
                self.skipped_by.retain(|s| &s.key != k);
                self.skipped_by.push(SkippedBy {
                    key: k.clone(),
                    by: by.clone(),
                    at: *at,
                });
            }
            Action::Unskip(k) => {
                self.unskip(k);
            }
            // A judgment's undo is the branches' business.
            Action::Undo {
                judgment: Some(_), ..
            } => {}
            Action::Undo { judgment: None, .. } => {
                if let Some(last) = self.undoable.pop() {
                    self.set_hands(last.before);
                }
            }
            Action::Fire(_)
            | Action::Send { .. }
            | Action::Amend { .. }
            | Action::Apply { .. }
            | Action::Retry(_)
            | Action::Met(..)
            | Action::Missed(..)
            | Action::Note { .. }
            | Action::Rate { .. }
            | Action::End => {}
        }
    }

    fn hands(&self) -> Hands {
        Hands {
            held_since: self.held_since,
            shift: self.shift,
            skipped: self.skipped.clone(),
            unskipped: self.unskipped.clone(),
        }
    }

    fn set_hands(&mut self, h: Hands) {
        self.held_since = h.held_since;
        self.shift = h.shift;
        self.skipped = h.skipped;
        self.unskipped = h.unskipped;
        let skipped = &self.skipped;
        self.skipped_by.retain(|s| skipped.contains(&s.key));
    }

    /// The clock as it would stand once the last undoable action is undone.
    pub fn undone(&self) -> Option<ClockState> {
        let last = self.undoable.last()?;
        let mut after = self.clone();
        after.undoable.pop();
        after.set_hands(last.before.clone());
        Some(after)
    }
}

impl crate::adaptive::ReplayClock for ClockState {
    fn take_in(&mut self, event: &Event) {
        self.apply(event);
    }

    fn base(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        ClockState::base(self, at)
    }

    fn shift(&self) -> chrono::TimeDelta {
        self.shift
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
    pub(super) branch: Option<super::adaptive::BranchCursor>,
    /// Ended by a director's `end`, and who.
    pub(super) ended: bool,
    pub(super) ended_by: Option<String>,
    /// Occurrences handed to the senders in this part of the run, with their instants
    /// (what an undo must not have caused, and a refusal names).
    pub(super) went: Vec<(usize, DateTime<Utc>)>,
    /// Occurrences that passed without going (skipped, or failed at once).
    pub(super) passed: Vec<usize>,
    /// When this part of the run began: what was done before a resume is not undone.
    pub(super) began: DateTime<Utc>,
    /// Occurrences whose last send failed, told by the senders.
    pub(super) failed: super::Failures,
    /// Occurrences added during the run, by instant (ties in timeline order): triggered
    /// contingencies, and skipped ones sent again at a time given.
    pub(super) extra: Vec<super::Item>,
    /// The journal holds a line that changes the exercise's model (an apply, an ad hoc
    /// inject with branches): this part of the run ends to be rebuilt from it.
    pub(super) replan: bool,
    /// How the run rebuilds the exercise with a changed scenario.
    pub(super) applier: Option<std::sync::Arc<dyn super::Applier>>,
    /// Set when the producer ends to be rebuilt: the live control it hands on.
    pub(super) handback: Option<Box<super::Handback>>,
}

impl Cursor {
    /// Past items already fired by hand; whether any item is left.
    pub(super) fn advance(&mut self, len: usize) -> bool {
        while self.next < len && self.fired.contains(&self.next) {
            self.next += 1;
        }
        self.next < len
    }

    /// Add an occurrence to fire at its item's instant (before holds and shifts).
    pub(super) fn insert_extra(&mut self, item: super::Item) {
        let at = self
            .extra
            .partition_point(|i| (i.fire_at, i.occ) <= (item.fire_at, item.occ));
        self.extra.insert(at, item);
    }

    /// Items handed to the senders, going at `at`.
    pub(super) fn note_went<'a>(
        &mut self,
        items: impl Iterator<Item = &'a super::Item>,
        at: DateTime<Utc>,
    ) {
        self.went.extend(items.map(|i| (i.occ, at)));
    }

    /// Items of `group` that did not go (skipped, or their body could not be built).
    pub(super) fn note_passed<R>(&mut self, group: &[super::Item], went: &[(super::Item, R)]) {
        let went: std::collections::HashSet<usize> = went.iter().map(|(i, _)| i.occ).collect();
        self.passed
            .extend(group.iter().map(|i| i.occ).filter(|o| !went.contains(o)));
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
    /// How the run rebuilds the exercise with a changed scenario (`apply`).
    pub applier: Option<std::sync::Arc<dyn super::Applier>>,
    /// What the part of the run before this one (ended to be rebuilt) hands on.
    pub carried: Option<super::Carried>,
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
