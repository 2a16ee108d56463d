//! Switch time: real time by default, compressed by a speed factor for fast tests.
//!
//! Every duration the switch waits (rings, playback, scripted far-end steps) goes
//! through [`Clock::sleep`], and every timestamp it reports comes from
//! [`Clock::now_us`], so a switch running at `--speed 50` reports the same call
//! durations (`variable_billsec`, `record_ms`, …) as one running in real time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The switch's clock. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    speed: f64,
    started: Instant,
    started_us: i64,
}

impl Clock {
    /// A clock running `speed` times faster than real time (1.0 = real time).
    pub fn new(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let started_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Self {
            speed,
            started: Instant::now(),
            started_us,
        }
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Switch time in microseconds since the Unix epoch.
    pub fn now_us(&self) -> i64 {
        let elapsed = self.started.elapsed().as_micros() as f64 * self.speed;
        self.started_us + elapsed as i64
    }

    /// The real duration that a switch-time duration takes.
    pub fn real(&self, switch_time: Duration) -> Duration {
        switch_time.div_f64(self.speed)
    }

    /// Waits for a switch-time duration.
    pub async fn sleep(&self, switch_time: Duration) {
        tokio::time::sleep(self.real(switch_time)).await;
    }

    /// The real instant at which a switch-time duration from now elapses.
    pub fn deadline(&self, switch_time: Duration) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.real(switch_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_shrinks_real_waits_by_its_speed() {
        let clock = Clock::new(20.0);
        assert_eq!(
            clock.real(Duration::from_secs(2)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn a_nonsense_speed_falls_back_to_real_time() {
        assert_eq!(Clock::new(0.0).speed(), 1.0);
        assert_eq!(Clock::new(f64::NAN).speed(), 1.0);
    }
}
