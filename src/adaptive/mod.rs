//! The adaptive exercise as a pure state machine: expected actions judged (or expired
//! at their deadlines), and contingency injects triggered when their conditions hold.
//! The syntax is [`crate::scenario::contingency`]'s; the engine's glue is
//! `engine::adaptive`. Below the engine: it knows the clock only as a [`ReplayClock`].
//!
//! [`Model`] is what the scenario says, resolved to indices once. [`State`] is where a
//! run stands: each expectation open (with its deadline once known), met, missed or
//! void; each contingency armed, triggered (and from when) or not triggered. Its `on_*`
//! steps take one fact (a send, an end without a send, a judgment, a deadline, an
//! assumed judgment) and return the [`Effect`]s that follow, already applied; the
//! engine journals them and fires what they trigger, `plan --assume` simulates them,
//! and a resume rebuilds the state from the journal's lines ([`State::replay`]). Times
//! here are a run's *base* instants: wall-clock instants before holds and shifts
//! (`moved(base, shift)` is when they happen). Pure: no I/O, no clock reads.
//!
//! Its parts: `model` (the model and the types the steps speak in), `state` (where a
//! run stands, and the steps), `replay` (each effect as the journal's event, and the
//! state a journal leaves), `simulation` (`--assume` read, a run simulated) and `views`
//! (what people read).

mod model;
mod replay;
mod simulation;
mod state;
mod views;

pub use model::{
    Assumption, ConditionalModel, ConditionalState, Effect, ExpectationModel, ExpectationState,
    Judged, Model, Outcome, Standing, Timer, Verdict,
};
pub use replay::{ReplayClock, effect_event};
pub use simulation::{Simulation, assume_example, parse_assumptions, simulate};
pub use state::State;
pub use views::{ContingencyView, ExpectationView, Views};

#[cfg(test)]
mod tests;
