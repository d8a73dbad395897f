//! The few statistics a benchmark report needs: medians and spreads of per-pair ratios,
//! and percentiles of latencies kept as a sorted `Vec` of microseconds (exact, and small
//! enough at the request counts a bench run reaches).

use serde::Serialize;

/// The median of `values` (the mean of the two middle ones for an even count), or `None`
/// when there are none. NaNs sort last, so they never become the median of real values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The nearest-rank `q` percentile (`q` in 0..=100) of an ascending slice, or `None` when
/// it is empty. Nearest-rank returns a value that was observed, never an interpolation.
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Median, lowest and highest of a few repeated measurements: the spread says how far the
/// median can be trusted on a machine shared with other work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The lowest value.
    pub min: f64,
    /// The highest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, or `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        Some(Self {
            median: median(values)?,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two_middle_ones() {
        let cases: &[(&[f64], Option<f64>)] = &[
            (&[], None),
            (&[3.0], Some(3.0)),
            (&[5.0, 1.0, 3.0], Some(3.0)),
            (&[4.0, 1.0, 3.0, 2.0], Some(2.5)),
            (&[1.0, 1.0, 9.0], Some(1.0)),
        ];
        for (values, expected) in cases {
            assert_eq!(median(values), *expected, "median of {values:?}");
        }
    }

    #[test]
    fn percentiles_are_observed_values_by_nearest_rank() {
        let latencies: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&latencies, 50.0), Some(50));
        assert_eq!(percentile(&latencies, 99.0), Some(99));
        assert_eq!(percentile(&latencies, 100.0), Some(100));
        assert_eq!(percentile(&latencies, 0.0), Some(1));
        assert_eq!(percentile(&[7, 9], 50.0), Some(7));
        assert_eq!(percentile(&[7, 9], 99.0), Some(9));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_spread_keeps_the_median_and_both_extremes() {
        let spread = Spread::of(&[0.9, 0.5, 0.7]).expect("three values");
        assert_eq!(
            spread,
            Spread {
                median: 0.7,
                min: 0.5,
                max: 0.9
            }
        );
        assert_eq!(Spread::of(&[]), None);
    }
}
