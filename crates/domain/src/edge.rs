//! The one rule that keeps an edge node's stock figure equal to HQ's without counting
//! anything twice.
//!
//! An edge node sells at one store while HQ may be unreachable. Its local figure for a SKU
//! is always *HQ's last known figure plus the edge's own movements that HQ's stream has not
//! shown back yet*. HQ's `stock.changed` events carry the figure after each movement and
//! the movement's id, so when HQ's figure moves from `before` to `after`:
//!
//! - for a movement made elsewhere (a receipt booked at HQ), the edge adds `after - before`;
//! - for one of the edge's own movements, the edge already counted its own change when the
//!   movement happened; it adds only the difference between what HQ applied and what the
//!   edge applied (zero for a sale; not zero for a count that met another figure at HQ).
//!
//! A movement HQ refused is taken back locally ([`refused_delta`]), since HQ's figure will
//! never include it. See `docs/decisions/0009-edge-sync.md`.

/// How much the edge changes its local on_hand when HQ's figure moves from `hq_before` to
/// `hq_after`: the whole change for a movement made elsewhere (`own_delta` is `None`), and
/// only the part the edge did not already apply for one of its own (`Some(delta applied
/// at the edge)`).
pub fn mirror_delta(hq_before: i64, hq_after: i64, own_delta: Option<i64>) -> i64 {
    (hq_after - hq_before) - own_delta.unwrap_or(0)
}

/// How much the edge changes its local on_hand when HQ refused one of its movements: the
/// movement's local effect, taken back.
pub fn refused_delta(own_delta: i64) -> i64 {
    -own_delta
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    /// What happens next in a simulated store and HQ.
    #[derive(Debug, Clone)]
    enum Step {
        /// A sale at the edge (may go negative).
        EdgeSale(i64),
        /// A count at the edge: on_hand set to this figure.
        EdgeCount(i64),
        /// A correction at the edge that HQ may refuse when its stock is short.
        EdgeAdjustment(i64),
        /// A movement booked at HQ for the store (a receipt, a sale through another path).
        HqMovement(i64),
        /// The edge pushes its next `n` queued movements, HQ applies them in order.
        Push(usize),
        /// The edge reads HQ's next `n` events.
        Pull(usize),
    }

    #[derive(Debug, Clone, Copy)]
    enum Kind {
        Delta(i64),
        Count(i64),
        Adjustment(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1..5i64).prop_map(Step::EdgeSale),
            (0..20i64).prop_map(Step::EdgeCount),
            (-6..6i64)
                .prop_filter("non-zero", |q| *q != 0)
                .prop_map(Step::EdgeAdjustment),
            (-5..10i64).prop_map(Step::HqMovement),
            (0..4usize).prop_map(Step::Push),
            (0..4usize).prop_map(Step::Pull),
        ]
    }

    /// A store and HQ exchanging movements, as the edge node and HQ do.
    #[derive(Default)]
    struct World {
        hq: i64,
        /// HQ's events for the store: its figure after, and which own movement it was.
        events: VecDeque<(i64, Option<usize>)>,
        local: i64,
        hq_known: i64,
        /// The edge's own movements: what HQ is asked to do, and the delta the edge applied.
        own: Vec<(Kind, i64)>,
        queue: VecDeque<usize>,
        unreflected: Vec<usize>,
    }

    impl World {
        fn record(&mut self, kind: Kind, delta: i64) {
            self.own.push((kind, delta));
            self.local += delta;
            self.queue.push_back(self.own.len() - 1);
            self.unreflected.push(self.own.len() - 1);
        }

        fn push(&mut self, n: usize) {
            for _ in 0..n {
                let Some(id) = self.queue.pop_front() else {
                    return;
                };
                let applied = match self.own[id].0 {
                    Kind::Delta(d) => Some(d),
                    Kind::Count(target) => Some(target - self.hq),
                    Kind::Adjustment(q) => (q > 0 || self.hq + q >= 0).then_some(q),
                };
                if let Some(d) = applied {
                    self.hq += d;
                    self.events.push_back((self.hq, Some(id)));
                } else {
                    self.local += refused_delta(self.own[id].1);
                    self.unreflected.retain(|u| *u != id);
                }
            }
        }

        fn pull(&mut self, n: usize) {
            for _ in 0..n {
                let Some((after, id)) = self.events.pop_front() else {
                    return;
                };
                self.local += mirror_delta(self.hq_known, after, id.map(|i| self.own[i].1));
                self.hq_known = after;
                if let Some(i) = id {
                    self.unreflected.retain(|u| *u != i);
                }
            }
        }

        fn step(&mut self, s: &Step) {
            match *s {
                Step::EdgeSale(q) => self.record(Kind::Delta(-q), -q),
                Step::EdgeCount(target) => self.record(Kind::Count(target), target - self.local),
                // An adjustment that would go below zero is refused at the edge already.
                Step::EdgeAdjustment(q) if q < 0 && self.local + q < 0 => {}
                Step::EdgeAdjustment(q) => self.record(Kind::Adjustment(q), q),
                Step::HqMovement(d) => {
                    self.hq += d;
                    self.events.push_back((self.hq, None));
                }
                Step::Push(n) => self.push(n),
                Step::Pull(n) => self.pull(n),
            }
        }
    }

    /// At every step the edge's figure is HQ's last known figure plus its unreflected own
    /// movements; once everything is pushed and pulled, the two figures are equal.
    fn simulate(start: i64, steps: &[Step]) {
        let mut w = World {
            hq: start,
            local: start,
            hq_known: start,
            ..World::default()
        };
        for s in steps {
            w.step(s);
            let pending: i64 = w.unreflected.iter().map(|i| w.own[*i].1).sum();
            assert_eq!(w.local, w.hq_known + pending, "invariant after {s:?}");
        }
        w.push(usize::MAX);
        w.pull(usize::MAX);
        assert_eq!(w.local, w.hq, "converged after {steps:?}");
    }

    #[test]
    fn a_sale_is_counted_once_whichever_side_sees_it_first() {
        simulate(
            3,
            &[
                Step::EdgeSale(5),
                Step::HqMovement(10),
                Step::Pull(1),
                Step::Push(1),
                Step::Pull(1),
            ],
        );
    }

    #[test]
    fn a_count_that_met_another_figure_at_hq_is_corrected_by_the_difference() {
        // HQ received 10 before the edge's count of 5 arrived: HQ's count removes 15.
        assert_eq!(mirror_delta(20, 5, Some(-5)), -10);
        simulate(
            10,
            &[
                Step::EdgeCount(5),
                Step::HqMovement(10),
                Step::Push(1),
                Step::Pull(2),
            ],
        );
    }

    #[test]
    fn a_refused_correction_is_taken_back() {
        assert_eq!(refused_delta(-3), 3);
        simulate(
            5,
            &[
                Step::HqMovement(-5),
                Step::EdgeAdjustment(-3),
                Step::Push(1),
                Step::Pull(1),
            ],
        );
    }

    proptest! {
        #[test]
        fn any_interleaving_converges_to_hqs_figure(
            start in 0..30i64,
            steps in prop::collection::vec(step(), 0..40),
        ) {
            simulate(start, &steps);
        }
    }
}
