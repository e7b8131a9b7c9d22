//! The instant a group's requests go on the wire. Each request of a group is handed to
//! its connection ahead of the instant and held there, serialized, behind the group's
//! gate; at the instant the gate opens and every held request is written at once, from
//! the thread that waited for the instant (`bench floor`: the wake-ups of a sender and
//! of hyper's connection task at the instant were what kept injector off the floor).
//!
//! A gate that never opens (the run ended before the instant: its `started` line could
//! not be written) is abandoned: nothing held behind it is ever written.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// What a request held behind an abandoned gate failed with.
pub const ABANDONED: &str = "not sent: the run ended before its instant";

/// Something held behind a gate: a request serialized on its connection.
pub trait Held: Send + Sync {
    /// Write what is held (`go`), or drop it unsent (the gate was abandoned).
    fn release(&self, go: bool);
}

enum State {
    Shut(Vec<Arc<dyn Held>>),
    Open(DateTime<Utc>),
    Abandoned,
}

/// A group's gate: shut until its instant.
pub struct Gate {
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::new(State::Shut(Vec::new())),
            changed: tokio::sync::Notify::new(),
        }
    }
}

impl Gate {
    /// Hold `held` until the gate opens; when it is open already it goes at once (and
    /// when abandoned, never).
    pub fn hold(&self, held: Arc<dyn Held>) {
        let mut state = self.lock();
        match &mut *state {
            State::Shut(waiting) => waiting.push(held),
            State::Open(_) => {
                drop(state);
                held.release(true);
            }
            State::Abandoned => {
                drop(state);
                held.release(false);
            }
        }
    }

    /// Open at `at`: everything held is written, in the order it was held.
    pub fn open(&self, at: DateTime<Utc>) {
        self.end(State::Open(at));
    }

    /// Never to open: everything held is dropped unsent. Nothing once open.
    pub fn abandon(&self) {
        self.end(State::Abandoned);
    }

    fn end(&self, to: State) {
        let go = matches!(to, State::Open(_));
        let held = {
            let mut state = self.lock();
            let State::Shut(held) = &mut *state else {
                return;
            };
            let held = std::mem::take(held);
            *state = to;
            held
        };
        for h in held {
            h.release(go);
        }
        self.changed.notify_waiters();
    }

    /// When it opened; `None` while shut or once abandoned.
    pub fn opened_at(&self) -> Option<DateTime<Utc>> {
        match &*self.lock() {
            State::Open(at) => Some(*at),
            _ => None,
        }
    }

    pub fn is_abandoned(&self) -> bool {
        matches!(&*self.lock(), State::Abandoned)
    }

    /// Wait until it opens (`Some`, when) or is abandoned (`None`).
    pub async fn opened(&self) -> Option<DateTime<Utc>> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match &*self.lock() {
                State::Open(at) => return Some(*at),
                State::Abandoned => return None,
                State::Shut(_) => {}
            }
            changed.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Abandons its gate when dropped unless the gate opened first: a gate is never left
/// shut with requests waiting behind it.
pub struct Opener(pub Arc<Gate>);

impl Drop for Opener {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0 held, 1 released to go, 2 dropped.
    #[derive(Default)]
    struct Probe(AtomicU8);

    impl Held for Probe {
        fn release(&self, go: bool) {
            self.0.store(if go { 1 } else { 2 }, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn what_is_held_goes_when_the_gate_opens_and_later_holds_go_at_once() {
        let gate = Arc::new(Gate::default());
        let early = Arc::new(Probe::default());
        gate.hold(early.clone());
        assert_eq!(early.0.load(Ordering::SeqCst), 0);
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.opened().await }
        });
        let at = Utc::now();
        gate.open(at);
        assert_eq!(early.0.load(Ordering::SeqCst), 1);
        assert_eq!(waiter.await.unwrap(), Some(at));
        let late = Arc::new(Probe::default());
        gate.hold(late.clone());
        assert_eq!(late.0.load(Ordering::SeqCst), 1);
        // Opening again changes nothing.
        gate.open(Utc::now());
        assert_eq!(gate.opened_at(), Some(at));
    }

    #[tokio::test]
    async fn an_opener_dropped_before_opening_abandons_the_gate() {
        let gate = Arc::new(Gate::default());
        let held = Arc::new(Probe::default());
        gate.hold(held.clone());
        drop(Opener(gate.clone()));
        assert_eq!(held.0.load(Ordering::SeqCst), 2);
        assert!(gate.is_abandoned());
        assert_eq!(gate.opened().await, None);
        let late = Arc::new(Probe::default());
        gate.hold(late.clone());
        assert_eq!(late.0.load(Ordering::SeqCst), 2);

        // Once open, dropping the opener abandons nothing.
        let gate = Arc::new(Gate::default());
        let opener = Opener(gate.clone());
        opener.0.open(Utc::now());
        drop(opener);
        assert!(!gate.is_abandoned());
    }
}
