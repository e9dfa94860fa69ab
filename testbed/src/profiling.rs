//! The profiling pool: when each profile request's samples come back, in simulated time.
//!
//! Why it exists: a search that needs many profiles costs its query time before the query has
//! a plan, and a query without a plan meets no SLO. Without a pool every request is answered
//! at once, so the search's cost shows in GPU-seconds only, never in goodput.
//!
//! The model: `gpus` reference GPUs; a request runs its inputs one after another on one GPU
//! (its duration is the sum of its samples' GPU-seconds) and starts on the GPU that frees up
//! first, in the order requests were made. The planner reacts in rounds: each round moves the
//! clock to the next finish, but at least one `tick_s` on, and releases every request done by
//! then. Nothing crosses the window's end: what is still running then comes back in a later
//! window. Without a pool ([`Pool::instant`]) every request comes back in the round it was made.

use compass_schemas::ProfileSample;

/// A request in flight: when it is done, and what it measured.
#[derive(Debug, Clone)]
struct Running {
    finish_s: f64,
    seq: u64,
    samples: Vec<ProfileSample>,
}

#[derive(Debug, Clone)]
pub struct Pool {
    /// When each GPU is free again; empty for the instant pool.
    free_at: Vec<f64>,
    tick_s: f64,
    clock_s: f64,
    window_end_s: f64,
    running: Vec<Running>,
    seq: u64,
}

impl Pool {
    /// Every request answered in the round it was made.
    pub fn instant() -> Self {
        Pool {
            free_at: Vec::new(),
            tick_s: 0.0,
            clock_s: 0.0,
            window_end_s: f64::INFINITY,
            running: Vec::new(),
            seq: 0,
        }
    }

    /// `gpus` GPUs (at least one); the planner looks at least `tick_s` apart.
    pub fn new(gpus: usize, tick_s: f64) -> Self {
        Pool {
            free_at: vec![0.0; gpus.max(1)],
            tick_s: tick_s.max(0.0),
            ..Pool::instant()
        }
    }

    pub fn is_instant(&self) -> bool {
        self.free_at.is_empty()
    }

    /// A new window `[start_s, end_s)` begins.
    pub fn window(&mut self, start_s: f64, end_s: f64) {
        self.clock_s = self.clock_s.max(start_s);
        if !self.is_instant() {
            self.window_end_s = end_s;
        }
    }

    /// The simulated time of the planner's current round (the window's start for the
    /// instant pool).
    pub fn now_s(&self) -> f64 {
        self.clock_s
    }

    /// Requests still running.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// Start a request that measured `samples` now.
    pub fn start(&mut self, samples: Vec<ProfileSample>) {
        let duration: f64 = samples.iter().map(|s| s.gpu_seconds.max(0.0)).sum();
        let finish_s = match self.free_at.iter_mut().min_by(|a, b| a.total_cmp(b)) {
            Some(gpu) => {
                let finish = gpu.max(self.clock_s) + duration;
                *gpu = finish;
                finish
            }
            None => self.clock_s,
        };
        self.seq += 1;
        self.running.push(Running {
            finish_s,
            seq: self.seq,
            samples,
        });
    }

    /// End the round: the samples of every request done by the next planner round, one list
    /// per request, in the order the requests were made. Empty when nothing is done before
    /// the window ends.
    pub fn release(&mut self) -> Vec<Vec<ProfileSample>> {
        if self.is_instant() {
            return self.running.drain(..).map(|r| r.samples).collect();
        }
        let Some(next) = self
            .running
            .iter()
            .map(|r| r.finish_s)
            .min_by(f64::total_cmp)
        else {
            return Vec::new();
        };
        let at = next.max(self.clock_s + self.tick_s);
        if at > self.window_end_s {
            return Vec::new();
        }
        self.clock_s = at;
        let (mut done, running): (Vec<Running>, Vec<Running>) =
            self.running.drain(..).partition(|r| r.finish_s <= at);
        self.running = running;
        done.sort_by_key(|r| r.seq);
        done.into_iter().map(|r| r.samples).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(gpu_seconds: f64, id: &str) -> ProfileSample {
        ProfileSample {
            plan_key: id.into(),
            app_id: "a".into(),
            hardware_class: "g".into(),
            request_id: Some(id.into()),
            operators: Vec::new(),
            input_id: id.into(),
            stratum: "s".into(),
            accuracy: None,
            gpu_seconds,
            event_time_ms: 0,
        }
    }

    fn ids(s: &[Vec<ProfileSample>]) -> Vec<&str> {
        s.iter().flatten().map(|x| x.input_id.as_str()).collect()
    }

    #[test]
    fn instant_answers_in_the_same_round() {
        let mut p = Pool::instant();
        p.start(vec![sample(100.0, "a")]);
        p.start(vec![sample(1.0, "b")]);
        assert_eq!(ids(&p.release()), ["a", "b"]);
        assert!(p.release().is_empty());
    }

    #[test]
    fn requests_queue_for_the_gpus_and_cross_windows() {
        let mut p = Pool::new(2, 0.5);
        p.window(0.0, 10.0);
        // Three 4-second requests on two GPUs: two finish at 4 s, the third at 8 s.
        for id in ["a", "b", "c"] {
            p.start(vec![sample(2.0, id), sample(2.0, id)]);
        }
        assert_eq!(ids(&p.release()), ["a", "a", "b", "b"]);
        // A new 3-second request starts at 4 s on the free GPU: done at 7 s, before c.
        p.start(vec![sample(3.0, "d")]);
        assert_eq!(ids(&p.release()), ["d"]);
        assert_eq!(ids(&p.release()), ["c", "c"]);
        // 12 s of work starting at 8 s ends in the next window, not this one.
        p.start(vec![sample(12.0, "e")]);
        assert!(p.release().is_empty());
        assert_eq!(p.in_flight(), 1);
        p.window(10.0, 20.0);
        assert_eq!(ids(&p.release()), ["e"]);
        assert_eq!(p.in_flight(), 0);
    }

    #[test]
    fn a_round_moves_the_clock_at_least_one_tick() {
        let mut p = Pool::new(4, 1.0);
        p.window(0.0, 10.0);
        p.start(vec![sample(0.1, "a")]);
        assert_eq!(ids(&p.release()), ["a"]);
        // Starts at 1 s (the clock), done at 1.2 s; released at the next tick, 2 s, with c,
        // done at 1.9 s.
        p.start(vec![sample(0.2, "b")]);
        p.start(vec![sample(0.9, "c")]);
        assert_eq!(ids(&p.release()), ["b", "c"]);
    }
}
