//! The engine's wall clock: real, or following tokio's paused clock in tests, and the
//! one way the engine waits for an instant.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// The longest single sleep: how soon a clock jump is noticed.
const CHUNK: Duration = Duration::from_secs(1);
/// An exact wait sleeps to this long before its instant (the timer's resolution is
/// 1 ms), then spins: yielding to the thread's other tasks, and the last [`BUSY`] busy.
/// Two milliseconds of CPU per instant, and none between instants.
const SPIN: Duration = Duration::from_millis(2);
const BUSY: Duration = Duration::from_micros(500);

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
        self.wait(when, stop, false).await
    }

    /// Wait until the wall clock reads `when` exactly: asleep to [`SPIN`] short, then
    /// spinning. Only for a send's instant: a yielding spin on the thread its other
    /// tasks share kept a burst's writes waiting until it ended (`bench floor`).
    pub async fn sleep_until_exact(&self, when: DateTime<Utc>) -> bool {
        self.wait(when, None, true).await
    }

    async fn wait(
        &self,
        when: DateTime<Utc>,
        mut stop: Option<&mut watch::Receiver<bool>>,
        exact: bool,
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
                // Exact: sleep to SPIN short (the timer's resolution is 1 ms), then spin.
                Clock::Real if exact => (remaining.saturating_sub(SPIN), true),
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
                if let Clock::Real = self {
                    // Yielding, so that the thread's other tasks go on; then busy, so that
                    // nothing else runs in the instant's last moments.
                    let busy = chrono::TimeDelta::from_std(BUSY).unwrap_or_default();
                    while Utc::now() < when - busy {
                        tokio::task::yield_now().await;
                    }
                    while Utc::now() < when {
                        std::hint::spin_loop();
                    }
                }
                return false;
            }
        }
    }
}
