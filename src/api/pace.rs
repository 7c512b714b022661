//! The pace of result requests: how many may be in flight, found as the run goes, since
//! Sail publishes no limits. A 429 or 503 alone is noise: only the refused request waits
//! (its own `Retry-After`, in the client's retry loop). Refusals that come densely
//! ([`DENSE_REFUSALS`] within [`DENSE_SPAN`] answers) are the server as a whole saying
//! stop: their `Retry-After` holds back every new request and the limit is lowered (once
//! per window, so one window's burst of refusals counts once). Once a level was refused
//! that way, one refusal when it is tried again lowers the limit back. Rounds without a
//! decrease let the limit grow back towards the ceiling (`-j`). The client takes a
//! [`Ticket`] for each attempt and settles it with what came back.
//!
//! The hot path (a free permit, no pause, a success) is a few atomic operations: the
//! limit's bookkeeping takes the lock once per round and on refusals only.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Share of the limit kept after a refusal, unless a higher level passed a round since.
const KEEP: f64 = 0.5;
/// A burst of refusals from one window lowers the limit to no less than this fraction of
/// the window (1/8: 64 → 8 at once).
const WINDOW_FLOOR: usize = 8;
/// Rounds spent just below a level that was refused before that level is tried again; it
/// doubles with every failed try, up to [`HOLD_MAX`], so a fixed server limit costs a
/// refusal now and then, not every few rounds.
const HOLD_MIN: u32 = 4;
/// The longest hold, in rounds.
const HOLD_MAX: u32 = 256;
/// A refused try can cost a pause of `Retry-After`: the next try waits at least this many
/// times that pause, which bounds what probing costs to about 1/8.
const PROBE_COST: u32 = 8;
/// Refusals that, within [`DENSE_SPAN`] answers, show the server as a whole saying stop (a
/// share of 1/8 or more). Fewer, or further apart, are noise: with refusals at random, 8
/// within 64 answers comes about 0.1 times per 100,000 answers at 1.5 % refused, 0.3 at
/// 2 %, 4.7 at 3 % (docs/design.md), while a server over its limit refuses most requests
/// above it at once.
pub(crate) const DENSE_REFUSALS: usize = 8;
/// The answers (served or refused) within which [`DENSE_REFUSALS`] must fall.
pub(crate) const DENSE_SPAN: u64 = 64;
/// Ids in progress per request allowed in flight: an id waiting out its `Retry-After` or a
/// backoff holds no permit, and the others keep the wire busy meanwhile.
const ROOM: usize = 2;
/// The run stops when, while being refused, no request has succeeded for this long.
pub(crate) const PATIENCE: Duration = Duration::from_secs(300);

/// What one answer says about the pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// An answer the server was willing to give (2xx, 404): a success for the pace.
    Served,
    /// 429 or 503: too fast; `hint` is the `Retry-After`, capped.
    Refused {
        /// The status (429 is counted in the summary).
        status: u16,
        /// How long the refused request waits; every new request too when refusals are dense.
        hint: Option<Duration>,
    },
    /// Anything else (a lost connection, a 500): says nothing about the pace.
    Neutral,
}

/// The limiter one run shares between its requests.
pub(crate) struct Pace {
    sem: Semaphore,
    ceiling: usize,
    start: Instant,
    /// Permits to forget as they come back: the part of a decrease that was in flight.
    debt: AtomicUsize,
    /// Requests served so far.
    served: AtomicU64,
    /// The `served` count that ends the current round (`u64::MAX`: not counting).
    round_end: AtomicU64,
    /// Decreases so far: a refusal of a request sent before the last one is not news.
    epoch: AtomicU64,
    /// Milliseconds after `start` before which no request starts (0: never paused).
    paused_until: AtomicU64,
    /// 429 answers.
    rate_limited: AtomicU64,
    /// 429 and 503 answers.
    refusals: AtomicU64,
    /// Set once [`PATIENCE`] ran out: the client sends nothing more.
    exhausted: AtomicBool,
    state: Mutex<State>,
}

/// The limit and what is known about it; changed under the lock.
struct State {
    limit: usize,
    lowest: usize,
    /// The `served` count when the current round began.
    round_mark: u64,
    /// The highest limit a whole round passed at without a refusal (0: none).
    good: usize,
    /// The limit at the last refusal, while no round has passed at it since (0: none).
    bad: usize,
    /// Rounds to hold just below `bad`, and rounds held so far.
    hold: u32,
    held: u32,
    /// No try of `bad` before this.
    probe_after: Instant,
    /// The `served` count at the first refusal since the last success, and when.
    quiet_mark: u64,
    quiet_since: Instant,
    /// The limit before the last decrease, while no increase has come since (0: none), and
    /// how many requests of that window were refused so far.
    window: usize,
    window_refused: usize,
    /// Where the latest refusals fell, in answers (served + refused) so far, oldest first;
    /// at most [`DENSE_REFUSALS`].
    recent: VecDeque<u64>,
    /// Where the last decrease fell, in answers.
    decreased_at: u64,
}

/// A permit to send one request; settle it with [`Ticket::settle`] once answered. Dropped
/// unsettled (the request failed before an answer), it counts as [`Signal::Neutral`].
pub(crate) struct Ticket<'a> {
    pace: &'a Pace,
    permit: Option<SemaphorePermit<'a>>,
    epoch: u64,
}

impl Pace {
    /// A limiter starting at `ceiling` requests in flight, which it never exceeds.
    pub(crate) fn new(ceiling: usize) -> Pace {
        let ceiling = ceiling.max(1);
        let start = Instant::now();
        Pace {
            sem: Semaphore::new(ceiling),
            ceiling,
            start,
            debt: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            round_end: AtomicU64::new(u64::MAX),
            epoch: AtomicU64::new(0),
            paused_until: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            state: Mutex::new(State {
                limit: ceiling,
                lowest: ceiling,
                round_mark: 0,
                good: 0,
                bad: 0,
                hold: HOLD_MIN,
                held: 0,
                probe_after: start,
                quiet_mark: 0,
                quiet_since: start,
                window: 0,
                window_refused: 0,
                recent: VecDeque::with_capacity(DENSE_REFUSALS),
                decreased_at: 0,
            }),
        }
    }

    /// Waits until a request may start: no pause in force and a permit free.
    pub(crate) async fn ticket(&self) -> Ticket<'_> {
        loop {
            self.wait_out_pause().await;
            let permit = match self.sem.try_acquire() {
                Ok(p) => p,
                Err(_) => self
                    .sem
                    .acquire()
                    .await
                    .expect("the semaphore is never closed"),
            };
            let ticket = Ticket {
                pace: self,
                permit: Some(permit),
                epoch: self.epoch.load(Relaxed),
            };
            // A pause that began while this waited for its permit holds it back too.
            if self.pause_end().is_none() {
                return ticket;
            }
        }
    }

    /// Requests allowed in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.lock().limit
    }

    /// The lowest limit so far.
    pub(crate) fn lowest(&self) -> usize {
        self.lock().lowest
    }

    /// 429 answers so far.
    pub(crate) fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Relaxed)
    }

    /// True once the API refused everything for [`PATIENCE`]: send nothing more.
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted.load(Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the pause in force ends, if one is.
    fn pause_end(&self) -> Option<Instant> {
        let until = self.paused_until.load(Relaxed);
        if until == 0 {
            return None;
        }
        let end = self.start + Duration::from_millis(until);
        (end > Instant::now()).then_some(end)
    }

    async fn wait_out_pause(&self) {
        while let Some(end) = self.pause_end() {
            tokio::time::sleep_until(end.into()).await;
        }
    }

    /// Holds back every new request for `d` from now (a longer pause in force stays).
    fn pause(&self, d: Option<Duration>) {
        let Some(d) = d.filter(|d| !d.is_zero()) else {
            return;
        };
        // Rounded up, so the pause never ends before `d` has passed.
        let until = (self.start.elapsed() + d).as_millis() as u64 + 1;
        self.paused_until.fetch_max(until, Relaxed);
    }

    /// One request was served: it counts towards the round, whose end may raise the limit.
    fn served(&self) {
        let n = self.served.fetch_add(1, Relaxed) + 1;
        if n >= self.round_end.load(Relaxed) {
            self.end_round(n, Instant::now());
        }
    }

    /// A round passed without a refusal: `limit` is good, and the limit may grow by one,
    /// unless that is the level refused last and the hold is not over yet.
    fn end_round(&self, served: u64, now: Instant) {
        let mut st = self.lock();
        if served < st.round_mark + st.limit as u64 {
            return; // a change began a new round meanwhile
        }
        st.good = st.good.max(st.limit);
        if st.bad != 0 && st.limit >= st.bad {
            // A level refused before passed: whatever limited it is gone.
            (st.bad, st.hold) = (0, HOLD_MIN);
        }
        let next = st.limit + 1;
        if st.bad != 0 && next >= st.bad {
            st.held += 1;
            if st.held < st.hold || now < st.probe_after {
                self.new_round(&mut st);
                return;
            }
            st.held = 0;
        }
        st.window = 0;
        self.set_limit(&mut st, next.min(self.ceiling));
    }

    /// A 429 or 503. Alone it is noise: only the refused request waits (the client's retry
    /// loop). When it makes the latest refusals dense, everyone pauses for `hint`. The limit
    /// is lowered by a refusal of a request sent after the last decrease, when the
    /// refusals since that decrease are dense, or when it was sent at a level refused
    /// before that no round has passed at since (the probe of a known limit).
    fn refused(&self, status: u16, hint: Option<Duration>, epoch: u64, now: Instant) {
        if status == 429 {
            self.rate_limited.fetch_add(1, Relaxed);
        }
        let refusals = self.refusals.fetch_add(1, Relaxed) + 1;
        let mut st = self.lock();
        let served = self.served.load(Relaxed);
        if served != st.quiet_mark {
            (st.quiet_mark, st.quiet_since) = (served, now);
        } else if now.duration_since(st.quiet_since) >= PATIENCE {
            self.exhausted.store(true, Relaxed);
        }
        let at = served + refusals;
        let dense = dense(&mut st.recent, at);
        if dense {
            self.pause(hint);
        }
        let current = self.epoch.load(Relaxed);
        if epoch != current {
            if epoch + 1 == current && st.window != 0 {
                self.late_refusal(&mut st);
            }
            return;
        }
        let l = st.limit;
        let since_decrease = dense && st.recent.front().is_some_and(|&f| f > st.decreased_at);
        let probe = st.bad != 0 && l >= st.bad;
        if !since_decrease && !probe {
            return;
        }
        st.hold = match probe {
            true => (st.hold * 2).min(HOLD_MAX),
            false => HOLD_MIN,
        };
        let good = if st.good < l { st.good } else { 0 };
        (st.good, st.bad, st.held) = (good, l, 0);
        st.probe_after = now + hint.unwrap_or_default() * PROBE_COST;
        let keep = ((l as f64 * KEEP) as usize).max(good).max(1);
        let refused = if since_decrease { DENSE_REFUSALS } else { 1 };
        (st.window, st.window_refused, st.decreased_at) = (l, refused, at);
        self.set_limit(&mut st, keep);
        self.epoch.fetch_add(1, Relaxed);
    }

    /// Another refusal from the window that was just decreased: the requests of it that
    /// were not refused are about what the server allows, so the limit goes down to that at
    /// once instead of halving again after each pause (one `Retry-After` saved per halving),
    /// but to no less than an eighth of the window or the last level that passed.
    fn late_refusal(&self, st: &mut State) {
        st.window_refused += 1;
        let served = st.window.saturating_sub(st.window_refused);
        let target = served.max(st.window / WINDOW_FLOOR).max(st.good).max(1);
        if target < st.limit {
            self.set_limit(st, target);
        }
    }

    /// Moves the limit to `new`: permits are added, or taken back (now if free, else as
    /// they return); a new round begins.
    fn set_limit(&self, st: &mut State, new: usize) {
        let old = st.limit;
        if new > old {
            let more = new - old;
            let owed = self
                .debt
                .fetch_update(Relaxed, Relaxed, |d| Some(d.saturating_sub(more)))
                .unwrap_or(0);
            self.sem.add_permits(more - owed.min(more));
        } else if new < old {
            // Owed first, so a permit released meanwhile is forgotten, not handed out;
            // then what is free is taken at once, and any surplus (the releases paid part
            // of the debt meanwhile) goes back.
            let less = old - new;
            self.debt.fetch_add(less, Relaxed);
            let taken = self.sem.forget_permits(less);
            let owed = self
                .debt
                .fetch_update(Relaxed, Relaxed, |d| Some(d.saturating_sub(taken)))
                .unwrap_or(0);
            self.sem.add_permits(taken - owed.min(taken));
        }
        st.limit = new;
        st.lowest = st.lowest.min(new);
        self.new_round(st);
    }

    fn new_round(&self, st: &mut State) {
        st.round_mark = self.served.load(Relaxed);
        let end = match st.limit < self.ceiling {
            true => st.round_mark + st.limit as u64,
            false => u64::MAX,
        };
        self.round_end.store(end, Relaxed);
    }
}

/// Records a refusal at `at` answers among `recent` and says whether it makes them dense:
/// [`DENSE_REFUSALS`] of them within [`DENSE_SPAN`] answers.
fn dense(recent: &mut VecDeque<u64>, at: u64) -> bool {
    if recent.len() == DENSE_REFUSALS {
        recent.pop_front();
    }
    recent.push_back(at);
    // Refusals settled at once can be recorded one answer out of order: saturating.
    let within = |&first: &u64| at.saturating_sub(first) < DENSE_SPAN;
    recent.len() == DENSE_REFUSALS && recent.front().is_some_and(within)
}

/// How many ids may be in progress with `ceiling` requests in flight at most.
pub(crate) fn ids_in_progress(ceiling: usize) -> usize {
    ceiling.max(1).saturating_mul(ROOM)
}

impl Ticket<'_> {
    /// Hands back the permit and tells the pace what the answer said.
    pub(crate) fn settle(mut self, signal: Signal) {
        self.release();
        match signal {
            Signal::Served => self.pace.served(),
            Signal::Refused { status, hint } => {
                self.pace.refused(status, hint, self.epoch, Instant::now())
            }
            Signal::Neutral => {}
        }
    }

    /// Returns the permit, or forgets it while a decrease is still owed.
    fn release(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let debt = &self.pace.debt;
        if debt.load(Relaxed) > 0
            && debt
                .fetch_update(Relaxed, Relaxed, |d| d.checked_sub(1))
                .is_ok()
        {
            permit.forget();
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
#[path = "pace_tests.rs"]
mod tests;
