//! The pace's rules, one event at a time (no clock: instants are passed in).

use futures::FutureExt;

use super::*;

const REFUSED: Signal = Signal::Refused {
    status: 429,
    hint: None,
};

/// Takes `n` tickets that are free now (panics if one is not).
fn take(pace: &Pace, n: usize) -> Vec<Ticket<'_>> {
    (0..n)
        .map(|_| pace.ticket().now_or_never().expect("a free permit"))
        .collect()
}

/// How many tickets could start now.
fn free(pace: &Pace) -> usize {
    let mut held = Vec::new();
    while let Some(t) = pace.ticket().now_or_never() {
        held.push(t);
    }
    held.len()
}

/// One request is sent and refused at `now`.
fn refuse(pace: &Pace, status: u16, hint: Option<Duration>, now: Instant) {
    let epoch = take(pace, 1).pop().unwrap().epoch;
    pace.refused(status, hint, epoch, now);
}

/// The server says stop: [`DENSE_REFUSALS`] requests in a row are sent and refused, the
/// last of which lowers the limit once.
fn refuse_dense(pace: &Pace, status: u16, hint: Option<Duration>, now: Instant) {
    let epoch = pace.epoch.load(Relaxed);
    for _ in 0..DENSE_REFUSALS {
        refuse(pace, status, hint, now);
    }
    assert_eq!(pace.epoch.load(Relaxed), epoch + 1, "one decrease");
}

/// Serves whole rounds: `rounds` times, `limit` requests succeed one after the other.
fn serve_rounds(pace: &Pace, rounds: usize) {
    for _ in 0..rounds {
        for t in take(pace, pace.limit()) {
            t.settle(Signal::Served);
        }
    }
}

#[test]
fn refusals_spread_among_answers_are_noise_the_limit_stays_and_nobody_waits() {
    // One answer in 10 refused, over 2,000: 8 refusals span 70 answers, not dense.
    let pace = Pace::new(16);
    let now = Instant::now();
    for i in 1..=2000 {
        match i % 10 {
            0 => refuse(&pace, 429, Some(Duration::from_secs(1)), now),
            _ => take(&pace, 1).pop().unwrap().settle(Signal::Served),
        }
    }
    assert_eq!(
        (pace.limit(), pace.lowest(), pace.rate_limited()),
        (16, 16, 200)
    );
    assert!(pace.pause_end().is_none(), "only the refused requests wait");
    assert_eq!(free(&pace), 16);
    // Once those are 64 answers old, the same refusals one after the other: the server as
    // a whole says stop.
    for _ in 0..DENSE_SPAN {
        take(&pace, 1).pop().unwrap().settle(Signal::Served);
    }
    for _ in 0..DENSE_REFUSALS - 1 {
        refuse(&pace, 429, Some(Duration::from_secs(1)), now);
    }
    assert_eq!(pace.limit(), 16);
    assert!(pace.pause_end().is_none());
    refuse(&pace, 429, Some(Duration::from_secs(1)), now);
    assert_eq!(pace.limit(), 8, "halved");
    assert!(
        pace.pause_end().is_some(),
        "everyone waits out the Retry-After"
    );
}

#[test]
fn refusals_are_dense_when_8_fall_within_64_answers() {
    // Refusals every 9th answer: the 8th is 63 answers after the first.
    let pace = Pace::new(16);
    let now = Instant::now();
    for i in 1..=8 * 9 {
        match i % 9 {
            0 => refuse(&pace, 503, None, now),
            _ => take(&pace, 1).pop().unwrap().settle(Signal::Served),
        }
    }
    assert_eq!((pace.limit(), pace.rate_limited()), (8, 0));
}

#[test]
fn a_burst_of_refusals_from_one_window_is_one_decrease_down_to_what_it_served() {
    // 56 of 64 refused: the server allows about 8; one decrease (one epoch), straight there.
    let pace = Pace::new(64);
    let mut window = take(&pace, 64);
    let served = window.split_off(56);
    let epoch = window[0].epoch;
    for t in window.drain(..DENSE_REFUSALS - 1) {
        t.settle(REFUSED);
    }
    assert_eq!(pace.limit(), 64, "7 refusals are not dense yet");
    window.remove(0).settle(REFUSED);
    assert_eq!(pace.limit(), 32, "the 8th halves");
    for t in served {
        t.settle(Signal::Served);
    }
    for t in window {
        t.settle(REFUSED);
    }
    assert_eq!(
        (pace.limit(), pace.lowest(), pace.rate_limited()),
        (8, 8, 56)
    );
    assert_eq!(pace.epoch.load(Relaxed), epoch + 1, "one decrease");
    assert_eq!(free(&pace), 8);
}

#[test]
fn a_window_refused_whole_goes_no_lower_than_an_eighth_of_it() {
    let pace = Pace::new(64);
    for t in take(&pace, 64) {
        t.settle(REFUSED);
    }
    assert_eq!((pace.limit(), pace.rate_limited()), (8, 64));
    assert_eq!(free(&pace), 8);
}

#[test]
fn a_few_refusals_in_a_window_are_noise_and_a_dense_few_only_halve_it() {
    let pace = Pace::new(64);
    let mut window = take(&pace, 64);
    for t in window.drain(..DENSE_REFUSALS - 1) {
        t.settle(REFUSED);
    }
    assert_eq!(pace.lowest(), 64, "7 refusals: noise");
    window.remove(0).settle(REFUSED);
    for t in window {
        t.settle(Signal::Served);
    }
    assert_eq!(
        pace.lowest(),
        32,
        "halved once, not down to what was served"
    );
}

#[test]
fn refusals_of_requests_sent_after_a_decrease_lower_it_again_down_to_one() {
    let pace = Pace::new(8);
    let now = Instant::now();
    for want in [4, 2, 1, 1] {
        refuse_dense(&pace, 429, None, now);
        assert_eq!(pace.limit(), want);
    }
    assert_eq!(free(&pace), 1);
}

#[test]
fn permits_in_flight_during_a_decrease_are_taken_back_as_they_return() {
    let pace = Pace::new(20);
    let mut ts = take(&pace, 20);
    for t in ts.drain(..DENSE_REFUSALS) {
        t.settle(REFUSED);
    }
    assert_eq!(pace.limit(), 10);
    assert!(pace.ticket().now_or_never().is_none(), "12 still in flight");
    ts.truncate(10);
    assert!(pace.ticket().now_or_never().is_none(), "10 in flight");
    ts.pop();
    assert_eq!(free(&pace), 1);
}

#[test]
fn rounds_without_refusals_grow_the_limit_back_to_the_ceiling_and_no_further() {
    let pace = Pace::new(6);
    refuse_dense(&pace, 429, None, Instant::now());
    assert_eq!(pace.limit(), 3);
    serve_rounds(&pace, 1);
    assert_eq!(pace.limit(), 4);
    serve_rounds(&pace, 10);
    assert_eq!((pace.limit(), pace.lowest()), (6, 3));
    assert_eq!(free(&pace), 6);
}

#[test]
fn a_refused_level_is_tried_again_only_after_a_hold_that_doubles() {
    let pace = Pace::new(64);
    let now = Instant::now();
    // Down to 8; rounds pass at 8 and 9; 10 is refused.
    for _ in 0..3 {
        refuse_dense(&pace, 429, None, now);
    }
    assert_eq!(pace.limit(), 8);
    serve_rounds(&pace, 2);
    assert_eq!(pace.limit(), 10);
    refuse_dense(&pace, 429, None, now);
    assert_eq!(pace.limit(), 9, "back to the last level that passed");
    // 10 failed; rounds at 9 hold for HOLD_MIN rounds, then 10 is tried, and one refusal
    // takes it back to 9.
    serve_rounds(&pace, HOLD_MIN as usize - 1);
    assert_eq!(pace.limit(), 9);
    serve_rounds(&pace, 1);
    assert_eq!(pace.limit(), 10);
    refuse(&pace, 429, None, now);
    assert_eq!(
        pace.limit(),
        9,
        "a known limit tried again: one refusal is enough"
    );
    serve_rounds(&pace, 2 * HOLD_MIN as usize - 1);
    assert_eq!(pace.limit(), 9, "the hold doubled");
    serve_rounds(&pace, 1);
    assert_eq!(pace.limit(), 10);
    // 10 passes now: the limit grows on, one per round.
    serve_rounds(&pace, 2);
    assert_eq!(pace.limit(), 12);
}

#[tokio::test]
async fn a_long_retry_after_postpones_the_next_try_of_a_refused_level() {
    let pace = Pace::new(4);
    refuse_dense(&pace, 503, Some(Duration::from_secs(5)), Instant::now());
    assert_eq!(
        (pace.limit(), pace.rate_limited()),
        (2, 0),
        "503 is not a 429"
    );
    assert!(
        pace.pause_end().is_some(),
        "everyone waits out the Retry-After"
    );
    assert!(pace.ticket().now_or_never().is_none());
    // While the pause and PROBE_COST × it run, 4 is not tried however many rounds pass.
    pace.paused_until.store(0, Relaxed);
    serve_rounds(&pace, 3 * HOLD_MAX as usize);
    assert_eq!(pace.limit(), 3);
}

#[test]
fn the_pace_gives_up_after_patience_of_nothing_but_refusals() {
    let pace = Pace::new(2);
    let t0 = Instant::now();
    pace.refused(429, None, 99, t0);
    pace.refused(429, None, 99, t0 + PATIENCE / 2);
    assert!(!pace.exhausted());
    take(&pace, 1).pop().unwrap().settle(Signal::Served);
    pace.refused(429, None, 99, t0 + PATIENCE + Duration::from_secs(1));
    assert!(!pace.exhausted(), "a success starts the patience again");
    pace.refused(429, None, 99, t0 + PATIENCE * 2 + Duration::from_secs(1));
    assert!(pace.exhausted());
}
