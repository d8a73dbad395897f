//! What a bench run reports: every figure with its ceiling and per-pair ratios, the
//! environment and each database's settings, as a Markdown table (stdout) and as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::pairs::{FigureSpec, Pair, RatioOf};
use super::stats::{Spread, median};
use super::sysinfo::{CpuPerOp, Environment};

/// One measured figure: Stockbook's value, its ceiling and the ratio between them.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Backend name.
    pub backend: String,
    /// Figure key, e.g. `movements_batch100`.
    pub key: String,
    /// What was measured.
    pub title: String,
    /// Unit of `value` and `ceiling`.
    pub unit: String,
    /// Concurrent clients.
    pub clients: usize,
    /// What the ratio compares: `rate` (Stockbook's over the ceiling's) or `p99` (the
    /// ceiling's p99 latency over Stockbook's). Either way higher is better, 1.0 at best.
    pub ratio_of: &'static str,
    /// Median over the pairs of Stockbook's rate, or of its p99 latency in ms when
    /// `ratio_of` is `p99`.
    pub value: f64,
    /// The same for the ceiling.
    pub ceiling: f64,
    /// Which ceiling was the lower one, pair by pair, when there were several candidates.
    pub ceiling_basis: String,
    /// Name of the ratio: `<key>_ratio`.
    pub ratio_name: String,
    /// Median and min–max of the per-pair ratios (Stockbook / ceiling).
    pub ratio: Spread,
    /// Median over pairs of Stockbook's p50 latency, in ms.
    pub p50_ms: Option<f64>,
    /// Median over pairs of Stockbook's p99 latency, in ms.
    pub p99_ms: Option<f64>,
    /// Median over pairs of the ceiling's p50 latency, in ms.
    pub ceiling_p50_ms: Option<f64>,
    /// Median over pairs of the ceiling's p99 latency, in ms.
    pub ceiling_p99_ms: Option<f64>,
    /// Median over pairs of the CPU per operation while Stockbook ran.
    pub cpu: CpuPerOp,
    /// Median over pairs of the CPU per operation while the ceiling ran (every candidate's
    /// work over every candidate's operations).
    pub ceiling_cpu: CpuPerOp,
    /// Remarks on this figure (what a latency is measured from, checks, …).
    pub notes: Vec<String>,
    /// Failed calls (Stockbook and ceiling); a benchmark reports them, it does not fail.
    pub errors: u64,
    /// The first failure seen, if any.
    pub first_error: Option<String>,
    /// Every pair, in the order run.
    pub pairs: Vec<PairRecord>,
}

/// One pair as reported.
#[derive(Debug, Clone, Serialize)]
pub struct PairRecord {
    /// The ceiling's rate.
    pub ceiling: f64,
    /// Stockbook's rate.
    pub product: f64,
    /// Stockbook / ceiling.
    pub ratio: f64,
    /// Every ceiling candidate's rate.
    pub ceiling_candidates: Vec<(String, f64)>,
    /// Calls Stockbook made in this pair.
    pub product_calls: usize,
}

fn ms(us: Option<u64>) -> Option<f64> {
    us.map(|us| us as f64 / 1000.0)
}

fn median_of(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    median(&values.flatten().collect::<Vec<_>>())
}

impl Figure {
    /// Summarises `pairs` (at least one) under `spec`.
    pub fn from_pairs(spec: &FigureSpec, pairs: &[Pair]) -> Self {
        let ratios: Vec<f64> = pairs.iter().map(|p| p.ratio(spec.ratio_of)).collect();
        let rates = |f: &dyn Fn(&Pair) -> f64| median(&pairs.iter().map(f).collect::<Vec<_>>());
        let p99_ms = |s: &super::load::Sample| s.latency_us(99.0).unwrap_or(0) as f64 / 1000.0;
        let mut bases: Vec<&str> = Vec::new();
        for p in pairs {
            if !bases.contains(&p.ceiling.basis.as_str()) {
                bases.push(&p.ceiling.basis);
            }
        }
        let latency = |f: fn(&Pair) -> Option<u64>| {
            median_of(pairs.iter().map(|p| ms(f(p)))).filter(|_| spec.latency)
        };
        let cpu = |side: fn(&Pair) -> &CpuPerOp| {
            let part = |f: fn(&CpuPerOp) -> f64| {
                median(&pairs.iter().map(|p| f(side(p))).collect::<Vec<_>>()).unwrap_or(0.0)
            };
            CpuPerOp {
                server_ms: part(|c| c.server_ms),
                database_ms: part(|c| c.database_ms),
                load_generator_ms: part(|c| c.load_generator_ms),
                machine_ms: part(|c| c.machine_ms),
            }
        };
        let errors = pairs
            .iter()
            .map(|p| p.product.errors + p.ceiling.sample.errors)
            .sum();
        let first_error = pairs.iter().find_map(|p| {
            p.product
                .first_error
                .clone()
                .map(|e| format!("Stockbook: {e}"))
                .or_else(|| {
                    p.ceiling
                        .sample
                        .first_error
                        .clone()
                        .map(|e| format!("ceiling: {e}"))
                })
        });
        Self {
            backend: spec.backend.to_owned(),
            key: spec.key.clone(),
            title: spec.title.clone(),
            unit: spec.unit.to_owned(),
            clients: spec.clients,
            ratio_of: match spec.ratio_of {
                RatioOf::Rate => "rate",
                RatioOf::P99 => "p99",
            },
            value: match spec.ratio_of {
                RatioOf::Rate => rates(&|p| p.product.rate()),
                RatioOf::P99 => rates(&|p| p99_ms(&p.product)),
            }
            .unwrap_or(0.0),
            ceiling: match spec.ratio_of {
                RatioOf::Rate => rates(&|p| p.ceiling.sample.rate()),
                RatioOf::P99 => rates(&|p| p99_ms(&p.ceiling.sample)),
            }
            .unwrap_or(0.0),
            ceiling_basis: bases.join(" / "),
            ratio_name: format!("{}_ratio", spec.key),
            ratio: Spread::of(&ratios).unwrap_or(Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            }),
            p50_ms: latency(|p| p.product.latency_us(50.0)),
            p99_ms: latency(|p| p.product.latency_us(99.0)),
            ceiling_p50_ms: latency(|p| p.ceiling.sample.latency_us(50.0)),
            ceiling_p99_ms: latency(|p| p.ceiling.sample.latency_us(99.0)),
            cpu: cpu(|p| &p.cpu),
            ceiling_cpu: cpu(|p| &p.ceiling_cpu),
            notes: Vec::new(),
            errors,
            first_error,
            pairs: pairs
                .iter()
                .map(|p| PairRecord {
                    ceiling: p.ceiling.sample.rate(),
                    product: p.product.rate(),
                    ratio: p.ratio(spec.ratio_of),
                    ceiling_candidates: p.ceiling.candidates.clone(),
                    product_calls: p.product.latencies_us.len(),
                })
                .collect(),
        }
    }
}

/// A correctness check made after a figure: a benchmark never fails on a figure, but a
/// run that oversold, lost an event or refused a buyer while stock remained must fail.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked, e.g. `hot_sku`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// Everything measured on one database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackendReport {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The database's own version string.
    pub version: String,
    /// Durability settings, as the database reports them.
    pub durability: Vec<(String, String)>,
    /// The server child's peak resident memory (VmHWM), in MiB.
    pub server_peak_rss_mib: Option<f64>,
    /// The figures, in the order measured.
    pub figures: Vec<Figure>,
    /// Correctness checks made along the way.
    pub checks: Vec<Check>,
    /// What was skipped and why, and other remarks.
    pub notes: Vec<String>,
    /// Why the run on this backend stopped early, if it did.
    pub error: Option<String>,
    /// Wall time spent on this backend, seeding included, in seconds.
    pub seconds: f64,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `quick` or `full`.
    pub mode: &'static str,
    /// (ceiling, product) pairs per figure.
    pub pairs: usize,
    /// Seconds each side of a pair runs (at most; the call budget may end it sooner).
    pub seconds_per_side: f64,
    /// The machine.
    pub environment: Environment,
    /// One report per database.
    pub backends: Vec<BackendReport>,
    /// Wall time of the whole run, in seconds.
    pub total_seconds: f64,
    /// `/proc/loadavg` when the run ended: how busy the machine was with other work.
    pub load_at_end: String,
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Report {
    /// The report as Markdown: the environment, the figures, then CPU and memory.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let env = &self.environment;
        let _ = writeln!(s, "### Environment\n");
        let _ = writeln!(
            s,
            "- {} run, {} pairs × {:.1} s per side, {} build, commit {}, started {}",
            self.mode,
            self.pairs,
            self.seconds_per_side,
            env.build,
            env.git_commit.as_deref().unwrap_or("unknown"),
            env.started_at
        );
        let _ = writeln!(
            s,
            "- {} cores, {}, {} MiB memory, Linux {}",
            env.cores, env.cpu_model, env.memory_mib, env.kernel
        );
        let _ = writeln!(
            s,
            "- load average (1, 5, 15 min) at the start: {}; at the end: {}",
            env.load_at_start, self.load_at_end
        );
        for b in &self.backends {
            let settings: Vec<String> = b
                .durability
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(
                s,
                "- {} {}: {}; {:.0} s",
                b.backend,
                b.version,
                settings.join(", "),
                b.seconds
            );
        }
        let _ = writeln!(s, "- whole run: {:.0} s\n", self.total_seconds);
        let _ = writeln!(s, "### Figures\n");
        let _ = writeln!(
            s,
            "| backend | figure | value | ceiling | ratio | median | min–max | p50 / p99 ms (ceiling) |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---|---:|---:|---:|");
        for b in &self.backends {
            for f in &b.figures {
                let latency = if f.p50_ms.is_some() {
                    format!(
                        "{} / {} ({} / {})",
                        opt_ms(f.p50_ms),
                        opt_ms(f.p99_ms),
                        opt_ms(f.ceiling_p50_ms),
                        opt_ms(f.ceiling_p99_ms)
                    )
                } else {
                    "–".to_owned()
                };
                let errors = if f.errors > 0 {
                    format!(" ({} failed calls)", f.errors)
                } else {
                    String::new()
                };
                let value = |v: f64| {
                    if f.ratio_of == "p99" {
                        format!("{v:.2}")
                    } else {
                        rate(v)
                    }
                };
                let _ = writeln!(
                    s,
                    "| {} | {}{} | {} {} | {} ({}) | `{}` | {:.3} | {:.3}–{:.3} | {} |",
                    f.backend,
                    f.title,
                    errors,
                    value(f.value),
                    f.unit,
                    value(f.ceiling),
                    f.ceiling_basis,
                    f.ratio_name,
                    f.ratio.median,
                    f.ratio.min,
                    f.ratio.max,
                    latency
                );
            }
        }
        let _ = writeln!(s, "\n### CPU per operation (ms) and memory\n");
        let _ = writeln!(
            s,
            "| backend | figure | server | database | load generator | whole machine | ceiling: bench process | ceiling: database | ceiling: whole machine |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for b in &self.backends {
            for f in &b.figures {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                    f.backend,
                    f.key,
                    f.cpu.server_ms,
                    f.cpu.database_ms,
                    f.cpu.load_generator_ms,
                    f.cpu.machine_ms,
                    f.ceiling_cpu.load_generator_ms,
                    f.ceiling_cpu.database_ms,
                    f.ceiling_cpu.machine_ms
                );
            }
        }
        let _ = writeln!(s);
        for b in &self.backends {
            if let Some(rss) = b.server_peak_rss_mib {
                let _ = writeln!(
                    s,
                    "- {}: server peak resident memory {rss:.1} MiB",
                    b.backend
                );
            }
            for note in &b.notes {
                let _ = writeln!(s, "- {}: {note}", b.backend);
            }
            if let Some(error) = &b.error {
                let _ = writeln!(s, "- {}: **stopped early**: {error}", b.backend);
            }
            for f in &b.figures {
                for note in &f.notes {
                    let _ = writeln!(s, "- {} {}: {note}", b.backend, f.key);
                }
            }
            for f in b.figures.iter().filter(|f| f.first_error.is_some()) {
                let _ = writeln!(
                    s,
                    "- {} {}: first failure: {}",
                    b.backend,
                    f.key,
                    f.first_error.as_deref().unwrap_or_default()
                );
            }
        }
        let _ = writeln!(s, "\n### Correctness checks\n");
        for b in &self.backends {
            for c in &b.checks {
                let verdict = if c.passed { "ok" } else { "**FAILED**" };
                let _ = writeln!(s, "- {} {}: {verdict}: {}", b.backend, c.name, c.detail);
            }
        }
        if self.backends.iter().all(|b| b.checks.is_empty()) {
            let _ = writeln!(s, "- none made (no backend got that far)");
        }
        s
    }

    /// Whether any correctness check failed (the run must then exit non-zero).
    pub fn violated(&self) -> bool {
        self.backends
            .iter()
            .any(|b| b.checks.iter().any(|c| !c.passed))
    }
}
