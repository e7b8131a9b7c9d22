//! The views people read: expectations and contingencies as the page, `ctl status` and
//! the terminal show them.

use chrono::{DateTime, TimeDelta, Utc};

use super::model::{Judged, Model, Standing, Verdict};
use super::state::State;

/// An expectation as the page, `ctl status` and the terminal show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExpectationView {
    pub id: String,
    pub action: String,
    pub team: Option<String>,
    /// Its deadline as the clock now stands; `None` until its inject is sent.
    pub due: Option<DateTime<Utc>>,
    /// `met`, `missed`, `expired` or `void`; `None` while open.
    pub outcome: Option<Verdict>,
    pub by: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// A contingency as the page and `ctl status` show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ContingencyView {
    pub id: String,
    pub condition: String,
    /// `armed`, `triggered` or `not triggered`.
    pub state: Standing,
    pub because: Option<String>,
}

/// Where a run's branches stand, for people.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Views {
    pub expectations: Vec<ExpectationView>,
    pub contingencies: Vec<ContingencyView>,
}

impl Views {
    /// The views of `state`, deadlines moved by `shift`.
    pub fn of(model: &Model, state: &State, shift: TimeDelta) -> Views {
        Views {
            expectations: model
                .expectations
                .iter()
                .zip(&state.expectations)
                .map(|(m, s)| ExpectationView {
                    id: m.id.clone(),
                    action: m.action.clone(),
                    team: m.team.clone(),
                    // What is past stays past: an expired deadline stays where it
                    // expired, whatever holds and shifts came after.
                    due: match &s.judged {
                        Some(j) if j.verdict() == Verdict::Expired => Some(j.at),
                        _ => s.due.map(|d| crate::timeline::moved(d, shift)),
                    },
                    outcome: s.judged.as_ref().map(Judged::verdict),
                    by: s
                        .judged
                        .as_ref()
                        .map(|j| j.who.clone().unwrap_or_else(|| j.by.clone())),
                    at: s.judged.as_ref().map(|j| j.at),
                    note: s.judged.as_ref().and_then(|j| j.note.clone()),
                })
                .collect(),
            contingencies: model
                .conditionals
                .iter()
                .zip(&state.conditionals)
                .map(|(m, s)| {
                    let (state, because) = s.standing();
                    ContingencyView {
                        id: m.id.clone(),
                        condition: m.text.clone(),
                        state,
                        because: because.map(String::from),
                    }
                })
                .collect(),
        }
    }

    /// The open expectation with the nearest deadline (unknown deadlines last).
    pub fn next_open(&self) -> Option<&ExpectationView> {
        self.expectations
            .iter()
            .filter(|e| e.outcome.is_none())
            .min_by_key(|e| e.due.unwrap_or(DateTime::<Utc>::MAX_UTC))
    }
}
