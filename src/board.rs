//! What a run has done so far, occurrence by occurrence: the summary, the terminal's live
//! view and the control page read it.
//!
//! The run's event listener keeps it current from the engine's journal entries. It is
//! sized once, from the occurrences the run fires, and keeps a few fixed-size facts per
//! occurrence (no copy of the entries), so its memory does not grow with the run's
//! length beyond the message ids. It never decides anything: the engine and the journal
//! do.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::engine::Item;
use crate::journal::Entry;
use crate::timeline::Timeline;

/// How many finished occurrences [`Board::recent`] remembers.
const RECENT: usize = 8;

/// Where one occurrence stands in this run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// Not started by this run.
    #[default]
    Pending,
    /// Journaled as `sending`; no outcome yet.
    Sending,
    Sent,
    Failed,
    Skipped,
}

impl Progress {
    /// The journal's word for it (`pending` when never started).
    pub fn name(self) -> &'static str {
        match self {
            Progress::Pending => "pending",
            Progress::Sending => "sending",
            Progress::Sent => "sent",
            Progress::Failed => "failed",
            Progress::Skipped => "skipped",
        }
    }
}

/// One occurrence of the run.
#[derive(Clone, Debug)]
pub struct Slot {
    /// Index into the timeline's occurrences.
    pub occ: usize,
    /// The instant the run started from (before holds and shifts).
    pub planned: DateTime<Utc>,
    pub progress: Progress,
    /// When it was sent (or failed, or skipped).
    pub at: Option<DateTime<Utc>>,
    pub status: Option<u16>,
    pub message_id: Option<Box<str>>,
    pub possible_duplicate: bool,
    pub late: bool,
}

/// Every occurrence of a run, in firing order, with where it stands.
pub struct Board {
    slots: Vec<Slot>,
    /// Key to slot, hashed with foldhash: looked up twice per send.
    index: foldhash::HashMap<String, usize>,
    /// Lateness of every send of this run, in milliseconds.
    lateness: Vec<f64>,
    /// The most recently finished slots, newest last.
    recent: VecDeque<usize>,
}

impl Board {
    /// A board for `items` (in firing order), all pending.
    pub fn new(timeline: &Timeline, items: &[Item]) -> Board {
        let slots: Vec<Slot> = items
            .iter()
            .map(|i| Slot {
                occ: i.occ,
                planned: i.fire_at,
                progress: Progress::Pending,
                at: None,
                status: None,
                message_id: None,
                possible_duplicate: false,
                late: false,
            })
            .collect();
        let index = slots
            .iter()
            .enumerate()
            .map(|(n, s)| (timeline.occurrences[s.occ].key.clone(), n))
            .collect();
        Board {
            lateness: Vec::with_capacity(slots.len()),
            slots,
            index,
            recent: VecDeque::with_capacity(RECENT + 1),
        }
    }

    /// Take in one journal entry; entries for keys outside the run are ignored.
    pub fn record(&mut self, entry: &Entry) {
        let Some(&n) = entry.key().and_then(|k| self.index.get(k)) else {
            return;
        };
        let slot = &mut self.slots[n];
        let time = crate::journal::parse_time;
        match entry {
            Entry::Sending { .. } => {
                slot.progress = Progress::Sending;
                return;
            }
            Entry::Sent {
                status,
                message_id,
                sent_at,
                lateness_ms,
                possible_duplicate,
                late,
                ..
            } => {
                slot.progress = Progress::Sent;
                slot.at = time(sent_at);
                slot.status = Some(*status);
                slot.message_id = Some(message_id.as_str().into());
                slot.possible_duplicate = *possible_duplicate;
                slot.late = *late;
                if let Some(l) = lateness_ms {
                    self.lateness.push(*l);
                }
            }
            Entry::Failed { status, at, .. } => {
                slot.progress = Progress::Failed;
                slot.at = time(at);
                slot.status = *status;
            }
            Entry::Skipped { at, .. } => {
                slot.progress = Progress::Skipped;
                slot.at = time(at);
            }
            Entry::Run(_) | Entry::Control { .. } | Entry::End { .. } => return,
        }
        self.recent.push_back(n);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// The occurrence with this key, if the run fires it.
    pub fn get(&self, key: &str) -> Option<&Slot> {
        self.index.get(key).map(|&n| &self.slots[n])
    }

    /// Every occurrence of the run, in firing order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Finished occurrences, newest first (at most a few).
    pub fn recent(&self) -> impl Iterator<Item = &Slot> {
        self.recent.iter().rev().map(|&n| &self.slots[n])
    }

    /// The lateness of every send so far, in milliseconds, in the order they finished.
    pub fn lateness(&self) -> &[f64] {
        &self.lateness
    }
}
