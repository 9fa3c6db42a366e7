//! Recent results in memory and hourly rollups for SQL (SPEC §2: raw results are not kept
//! row by row). A sample is 8 bytes, so the last [`RECENT`] results of 100,000 checks cost
//! about 100 MB at most; an hour's accumulator is a fixed-size latency histogram.

use std::collections::VecDeque;

use crate::check::Verdict;
use crate::store::Rollup;
use crate::web::view::SampleView;

/// Results kept per check in memory (the last hour at a 60 s interval).
pub const RECENT: usize = 60;

/// Upper bounds (ms) of the latency histogram buckets; the last bucket is unbounded.
const BUCKETS_MS: [f32; 15] =
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 30000.0];

/// One result in 6 bytes: the time, and the latency as a bfloat16 (the top half of an
/// `f32`: 8 significant bits, within 0.4 %, plenty for a chart) whose sign carries the
/// verdict (online: the latency; offline: −(latency + 1); error: NaN). The controller keeps
/// [`RECENT`] of these for every check, so each byte here is 6 MB at 100,000 checks.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, packed(2))]
pub struct Sample {
    at_s: u32,
    coded: u16,
}

/// `x` as a bfloat16, rounded to nearest (NaN stays NaN).
fn to_bf16(x: f32) -> u16 {
    if x.is_nan() {
        return 0x7fc0;
    }
    let bits = x.to_bits();
    let rounded = bits.saturating_add(0x7fff + ((bits >> 16) & 1));
    (rounded >> 16) as u16
}

fn from_bf16(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

impl Sample {
    pub fn new(at_ms: i64, latency_ms: f64, verdict: Verdict) -> Self {
        let l = latency_ms.max(0.0) as f32;
        let coded = match verdict {
            Verdict::Online => l,
            Verdict::Offline => -(l + 1.0),
            Verdict::Error => f32::NAN,
        };
        Sample { at_s: (at_ms / 1000).clamp(0, i64::from(u32::MAX)) as u32, coded: to_bf16(coded) }
    }

    /// Unix seconds.
    pub fn at_s(&self) -> u32 {
        self.at_s
    }

    pub fn verdict(&self) -> Verdict {
        let coded = from_bf16(self.coded);
        if coded.is_nan() {
            Verdict::Error
        } else if coded < 0.0 {
            Verdict::Offline
        } else {
            Verdict::Online
        }
    }

    pub fn latency_ms(&self) -> f32 {
        let coded = from_bf16(self.coded);
        match self.verdict() {
            Verdict::Online => coded,
            Verdict::Offline => -coded - 1.0,
            Verdict::Error => 0.0,
        }
    }

    pub fn view(&self) -> SampleView {
        SampleView { at: self.at_s(), verdict: self.verdict(), latency_ms: self.latency_ms() }
    }
}

/// The last results of one check.
#[derive(Debug, Default, Clone)]
pub struct Recent(VecDeque<Sample>);

impl Recent {
    pub fn push(&mut self, s: Sample) {
        // The whole ring at once: growing by doubling would end at 64 slots, and the memory
        // a check costs is then what the first minutes show.
        if self.0.capacity() == 0 {
            self.0.reserve_exact(RECENT);
        }
        if self.0.len() == RECENT {
            self.0.pop_front();
        }
        self.0.push_back(s);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Sample> {
        self.0.iter()
    }
}

/// One check's results in one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct HourAcc {
    /// Unix seconds of the hour's start.
    pub hour: i64,
    pub runs: u32,
    pub failures: u32,
    pub latency_sum_ms: f64,
    pub latency_max_ms: f32,
    /// Counts per bucket; u16 is enough for an hour (a result a second is 3,600) and
    /// saturates rather than wraps.
    hist: [u16; 16],
}

impl HourAcc {
    pub fn new(hour: i64) -> Self {
        HourAcc { hour, runs: 0, failures: 0, latency_sum_ms: 0.0, latency_max_ms: 0.0, hist: [0; 16] }
    }

    /// Counts a result, with its exact latency (not the sample's rounded one). Errors (the
    /// worker could not run the check) are not counted.
    pub fn add(&mut self, verdict: Verdict, latency_ms: f64) {
        if verdict == Verdict::Error {
            return;
        }
        self.runs += 1;
        if verdict == Verdict::Offline {
            self.failures += 1;
        }
        let l = latency_ms.max(0.0) as f32;
        self.latency_sum_ms += f64::from(l);
        self.latency_max_ms = self.latency_max_ms.max(l);
        let b = BUCKETS_MS.iter().position(|ub| l <= *ub).unwrap_or(BUCKETS_MS.len());
        self.hist[b] = self.hist[b].saturating_add(1);
    }

    fn percentile(&self, p: f64) -> f64 {
        let target = (f64::from(self.runs) * p).ceil().max(1.0) as u32;
        let mut seen = 0;
        for (i, n) in self.hist.iter().enumerate() {
            seen += u32::from(*n);
            if seen >= target {
                return f64::from(BUCKETS_MS.get(i).copied().unwrap_or(self.latency_max_ms))
                    .min(f64::from(self.latency_max_ms));
            }
        }
        f64::from(self.latency_max_ms)
    }

    pub fn rollup(&self, check_id: i64) -> Rollup {
        let avg = if self.runs == 0 { 0.0 } else { self.latency_sum_ms / f64::from(self.runs) };
        Rollup {
            check_id,
            hour: self.hour,
            runs: self.runs,
            failures: self.failures,
            latency_avg_ms: avg,
            latency_p50_ms: self.percentile(0.5),
            latency_p95_ms: self.percentile(0.95),
            latency_max_ms: f64::from(self.latency_max_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_rolls_up_counts_and_bucketed_percentiles() {
        let mut h = HourAcc::new(3600);
        for i in 0..100 {
            let v = if i < 10 { Verdict::Offline } else { Verdict::Online };
            h.add(v, if i < 90 { 3.0 } else { 400.0 });
        }
        h.add(Verdict::Error, 1.0);
        let r = h.rollup(9);
        assert_eq!((r.runs, r.failures), (100, 10));
        assert_eq!(r.latency_p50_ms, 5.0, "bucket bound of 3 ms");
        assert_eq!(r.latency_p95_ms, 400.0, "capped at the max seen");
        assert_eq!(r.latency_max_ms, 400.0);
        assert!((r.latency_avg_ms - 42.7).abs() < 0.01, "{}", r.latency_avg_ms);
    }

    #[test]
    fn a_sample_is_6_bytes_and_round_trips_within_half_a_percent() {
        assert_eq!(std::mem::size_of::<Sample>(), 6);
        for (v, l) in [
            (Verdict::Online, 12.5),
            (Verdict::Online, 0.0),
            (Verdict::Online, 0.37),
            (Verdict::Offline, 0.0),
            (Verdict::Offline, 3000.0),
            (Verdict::Online, 29_999.0),
        ] {
            let s = Sample::new(5_000, l, v);
            assert_eq!((s.verdict(), s.at_s()), (v, 5));
            let got = f64::from(s.latency_ms());
            assert!((got - l).abs() <= l * 0.004 + 0.004, "{l} came back as {got}");
        }
        assert_eq!(Sample::new(0, 7.0, Verdict::Error).verdict(), Verdict::Error);
        assert_eq!(Sample::new(0, 7.0, Verdict::Error).latency_ms(), 0.0);
    }

    #[test]
    fn recent_keeps_the_last_results() {
        let mut r = Recent::default();
        for i in 0..(RECENT as i64 + 5) {
            r.push(Sample::new(i * 1000, 1.0, Verdict::Online));
        }
        assert_eq!(r.iter().count(), RECENT);
        assert_eq!(r.iter().next().unwrap().at_s(), 5);
    }
}
