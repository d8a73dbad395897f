//! The interleaved-pairs runner: each figure is measured as pairs (ceiling, then product)
//! taken back to back, so both sides of a ratio see the same machine (the same cache state,
//! the same background noise) and a disturbance spoils one pair rather than one side.
//!
//! The ratio of each pair is kept; a figure reports their median with min–max. A ceiling
//! may be the lower of several candidates measured in the same pair (reads compare against
//! both a database point read and a bare HTTP handler).

use std::future::Future;

use super::load::{Limits, Sample};
use super::report::Figure;
use super::sysinfo::{CpuPerOp, CpuSnapshot};

/// What CPU accounting needs to know: whose time is the server's, and the tick rate.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The server child's pid.
    pub server_pid: u32,
    /// `/proc` clock ticks per second.
    pub ticks_per_second: u64,
    /// On PostgreSQL, the bench database: its backends and the server's shared background
    /// processes are the database under test; backends of other databases are not.
    pub postgres: Option<String>,
}

/// One ceiling measurement: the lowest candidate wins, the others are kept for the report.
#[derive(Debug, Clone)]
pub struct Ceiling {
    /// The winning (lowest) candidate's measurement.
    pub sample: Sample,
    /// Which candidate that was.
    pub basis: String,
    /// Every candidate and its rate, including the winner.
    pub candidates: Vec<(String, f64)>,
    /// Operations of every candidate together, for CPU per operation.
    pub all_ops: u64,
}

impl Ceiling {
    /// The lower of `candidates` (name, measurement) by rate.
    pub fn lowest(candidates: Vec<(String, Sample)>) -> anyhow::Result<Self> {
        let rates = candidates
            .iter()
            .map(|(name, s)| (name.clone(), s.rate()))
            .collect();
        let all_ops = candidates.iter().map(|(_, s)| s.ops).sum();
        let (basis, sample) = candidates
            .into_iter()
            .min_by(|a, b| a.1.rate().total_cmp(&b.1.rate()))
            .ok_or_else(|| anyhow::anyhow!("a ceiling needs at least one candidate"))?;
        Ok(Self {
            sample,
            basis,
            candidates: rates,
            all_ops,
        })
    }

    /// A ceiling with a single candidate.
    pub fn single(name: &str, sample: Sample) -> Self {
        Self {
            candidates: vec![(name.to_owned(), sample.rate())],
            basis: name.to_owned(),
            all_ops: sample.ops,
            sample,
        }
    }
}

/// One (ceiling, product) pair.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The ceiling's measurement.
    pub ceiling: Ceiling,
    /// Stockbook's measurement.
    pub product: Sample,
    /// CPU per operation while the product side ran.
    pub cpu: CpuPerOp,
    /// CPU per operation while the ceiling side ran.
    pub ceiling_cpu: CpuPerOp,
}

/// What a figure's ratio compares. Every ratio is "higher is better", 1.0 meaning that
/// Stockbook costs nothing on top of its ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatioOf {
    /// Stockbook's rate over the ceiling's rate.
    Rate,
    /// The ceiling's p99 latency over Stockbook's (a latency figure: lower latency is
    /// better, so the ratio is inverted to stay "higher is better").
    P99,
}

impl Pair {
    /// The pair's ratio, by `of`: 1.0 would be Stockbook costing nothing on top.
    pub fn ratio(&self, of: RatioOf) -> f64 {
        match of {
            RatioOf::Rate => self.product.rate() / self.ceiling.sample.rate().max(1e-9),
            RatioOf::P99 => {
                let p99 = |s: &Sample| s.latency_us(99.0).unwrap_or(0) as f64;
                p99(&self.ceiling.sample).max(1.0) / p99(&self.product).max(1.0)
            }
        }
    }
}

/// How long each side runs and how often: a short unmeasured warm-up of each side (to
/// open connections and warm caches), then the measured pairs.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Measured pairs.
    pub pairs: usize,
    /// Bounds of the warm-up of each side.
    pub warmup: Limits,
    /// Bounds of each measured side.
    pub side: Limits,
}

/// One run of one side: a tag that keeps its movement ids apart from every other run's,
/// and its bounds.
#[derive(Debug, Clone)]
pub struct Round {
    /// `w` for the warm-up, then `0`, `1`, … for the pairs.
    pub tag: String,
    /// How long and how many calls.
    pub limits: Limits,
}

/// Runs the warm-up and then the pairs of `schedule`. A closure's error (a setup that
/// failed) stops the figure; failed calls inside a measurement are only counted.
pub async fn interleaved<C, CF, P, PF>(
    probe: &Probe,
    schedule: Schedule,
    mut ceiling: C,
    mut product: P,
) -> anyhow::Result<Vec<Pair>>
where
    C: FnMut(Round) -> CF,
    CF: Future<Output = anyhow::Result<Ceiling>>,
    P: FnMut(Round) -> PF,
    PF: Future<Output = anyhow::Result<Sample>>,
{
    let warmup = Round {
        tag: "w".to_owned(),
        limits: schedule.warmup,
    };
    ceiling(warmup.clone()).await?;
    product(warmup).await?;
    let mut out = Vec::with_capacity(schedule.pairs);
    for pair in 0..schedule.pairs {
        let round = Round {
            tag: pair.to_string(),
            limits: schedule.side,
        };
        let before = CpuSnapshot::take(probe.server_pid, probe.postgres.as_deref());
        let ceiling = ceiling(round.clone()).await?;
        let between = CpuSnapshot::take(probe.server_pid, probe.postgres.as_deref());
        let product = product(round).await?;
        let after = CpuSnapshot::take(probe.server_pid, probe.postgres.as_deref());
        out.push(Pair {
            cpu: between.per_op(&after, product.ops, probe.ticks_per_second),
            ceiling_cpu: before.per_op(&between, ceiling.all_ops, probe.ticks_per_second),
            ceiling,
            product,
        });
    }
    Ok(out)
}

/// Names and units of a figure, before it has numbers.
#[derive(Debug, Clone)]
pub struct FigureSpec {
    /// Backend name.
    pub backend: &'static str,
    /// Figure key, e.g. `movements_single`; the ratio is `<key>_ratio`.
    pub key: String,
    /// What was measured, for the table.
    pub title: String,
    /// Unit of the value and the ceiling, e.g. `movements/s`.
    pub unit: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// Whether latency percentiles mean something for this figure.
    pub latency: bool,
    /// What the ratio compares.
    pub ratio_of: RatioOf,
}

impl FigureSpec {
    /// The figure these pairs make.
    pub fn figure(&self, pairs: &[Pair]) -> Figure {
        Figure::from_pairs(self, pairs)
    }
}
