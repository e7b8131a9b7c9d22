//! Prepared requests waiting for the engine's senders: a queue that wakes a sender per
//! item and the producer only when it runs low.

use super::MAX_SPEED_GROUP;

/// Prepared requests waiting for a free sender, in firing order.
pub(super) struct Queue<T> {
    /// The requests, and whether the queue is closed.
    items: std::sync::Mutex<(std::collections::VecDeque<T>, bool)>,
    /// Items were added, or the queue closed.
    added: tokio::sync::Notify,
    /// The queue fell to [`Queue::LOW`] items.
    drained: tokio::sync::Notify,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            items: std::sync::Mutex::new((std::collections::VecDeque::new(), false)),
            added: tokio::sync::Notify::new(),
            drained: tokio::sync::Notify::new(),
        }
    }
}

impl<T> Queue<T> {
    const LOW: usize = MAX_SPEED_GROUP;

    pub(super) fn push(&self, prepared: Vec<T>) {
        let n = prepared.len();
        self.items.lock().expect("queue lock").0.extend(prepared);
        for _ in 0..n {
            self.added.notify_one();
        }
    }

    pub(super) fn close(&self) {
        self.items.lock().expect("queue lock").1 = true;
        self.added.notify_waiters();
    }

    /// The next item; `None` once closed and empty.
    pub(super) async fn next(&self) -> Option<T> {
        loop {
            // Most calls find an item: no waiter is registered for them.
            if let Some(taken) = self.take() {
                return taken;
            }
            let added = self.added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            // Registered first, then looked again: an item pushed in between is not missed.
            if let Some(taken) = self.take() {
                return taken;
            }
            added.await;
        }
    }

    /// The next item, `Some(None)` once closed and empty, `None` for nothing yet.
    fn take(&self) -> Option<Option<T>> {
        let mut items = self.items.lock().expect("queue lock");
        if let Some(item) = items.0.pop_front() {
            let left = items.0.len();
            drop(items);
            // Only the crossing wakes the producer side, not every send.
            if left == Self::LOW {
                self.drained.notify_one();
            }
            return Some(Some(item));
        }
        items.1.then_some(None)
    }

    /// Wait until at most [`Queue::LOW`] items are queued.
    pub(super) async fn drained(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.items.lock().expect("queue lock").0.len() <= Self::LOW {
                return;
            }
            drained.await;
        }
    }
}
