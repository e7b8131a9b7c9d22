//! The engine's wall clock: real, or following tokio's paused clock in tests, and the
//! one way the engine waits for an instant.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// The longest single sleep: how soon a clock jump is noticed.
const CHUNK: Duration = Duration::from_secs(1);
/// An exact wait sleeps to this long before its instant, then spins: two milliseconds
/// of one core per instant, and none between instants.
const SPIN: Duration = Duration::from_millis(2);

/// Wall-clock time, real or following tokio's (paused) clock in tests.
#[derive(Clone, Debug)]
pub enum Clock {
    Real,
    /// `wall0` at the tokio instant `inst0`; advances with tokio time.
    Virtual {
        wall0: DateTime<Utc>,
        inst0: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `wall0` now and then follows tokio's clock.
    pub fn following_tokio(wall0: DateTime<Utc>) -> Clock {
        Clock::Virtual {
            wall0,
            inst0: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Real => Utc::now(),
            Clock::Virtual { wall0, inst0 } => {
                *wall0
                    + chrono::TimeDelta::from_std(inst0.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
            }
        }
    }

    /// Wait until the wall clock reads `when`, give or take a millisecond late (the
    /// timer's resolution), sleeping all the while; `true` when stopped first. Without
    /// `stop`, nothing interrupts the wait. For everything but a send's instant.
    pub async fn sleep_until(
        &self,
        when: DateTime<Utc>,
        stop: Option<&mut watch::Receiver<bool>>,
    ) -> bool {
        self.wait(when, stop).await
    }

    /// At `ahead` before the instant `when`, do `fire`, given `at`, which waits out the
    /// rest to the microsecond and says when that was; return what `fire` did. On the real
    /// clock, from a thread of the blocking pool that sleeps to [`SPIN`] short (the
    /// system's timer is precise) and spins the rest, like the floor (`bench floor`):
    /// nothing else waits on that thread, and a late wake-up of the runtime's thread
    /// (1-2 ms is common; its timer rounds to the millisecond) cannot make the instant
    /// late. On a virtual clock, all at `when`. Only for a send's instant.
    pub async fn at_exactly<F>(
        &self,
        when: DateTime<Utc>,
        ahead: Duration,
        fire: F,
    ) -> std::io::Result<()>
    where
        F: FnOnce(&dyn Fn() -> DateTime<Utc>) -> std::io::Result<()> + Send + 'static,
    {
        match self {
            Clock::Virtual { .. } => {
                self.sleep_until(when, None).await;
                let now = self.now();
                fire(&|| now)
            }
            Clock::Real => tokio::task::spawn_blocking(move || {
                let ahead = chrono::TimeDelta::from_std(ahead).unwrap_or_default();
                spin_until(when - ahead);
                fire(&|| {
                    spin_until(when);
                    Utc::now()
                })
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e))),
        }
    }

    async fn wait(
        &self,
        when: DateTime<Utc>,
        mut stop: Option<&mut watch::Receiver<bool>>,
    ) -> bool {
        loop {
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                return true;
            }
            let remaining = (when - self.now()).to_std().unwrap_or(Duration::ZERO);
            if remaining.is_zero() {
                return false;
            }
            let (nap, last) = match self {
                Clock::Virtual { .. } => (remaining, true),
                // Re-read the wall clock at least every CHUNK.
                Clock::Real if remaining > CHUNK + Duration::from_millis(5) => (CHUNK, false),
                // Else sleep it all, and look at the wall clock again.
                Clock::Real => (remaining, false),
            };
            match stop.as_mut() {
                Some(stop) => tokio::select! {
                    () = tokio::time::sleep(nap) => {}
                    _ = stop.changed() => return true,
                },
                None => tokio::time::sleep(nap).await,
            }
            if last {
                return false;
            }
        }
    }
}

/// Block this thread until the wall clock reads `when`: asleep to [`SPIN`] short (in
/// [`CHUNK`]s, so that a clock jump is noticed), then spinning.
fn spin_until(when: DateTime<Utc>) {
    loop {
        let left = (when - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return;
        }
        if left > SPIN {
            std::thread::sleep((left - SPIN).min(CHUNK));
        } else {
            std::hint::spin_loop();
        }
    }
}
