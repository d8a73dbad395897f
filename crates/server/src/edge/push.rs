//! Pushing the node's own movements to HQ, in ledger order, at least once; HQ's movement
//! ids make it exactly once in effect.
//!
//! The cursor moves only in the transaction that records HQ's acknowledgement. A node that
//! dies after HQ applied a batch but before that transaction sends the batch again after
//! restart, and HQ answers it with duplicates carrying the first outcomes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::ids::MovementId;
use domain::stock::Movement;
use store::edge::{PushAck, Refusal};

use super::{Backoff, Ctx, HqError, SyncError};

/// How long the pusher sleeps when idle if no local write wakes it.
const IDLE: Duration = Duration::from_secs(1);

pub(super) async fn run(ctx: Arc<Ctx>) {
    let mut wake = ctx.events.subscribe();
    let mut backoff = Backoff::default();
    loop {
        wake.mark_unchanged();
        match push_once(&ctx).await {
            Ok(true) => backoff.reset(),
            Ok(false) => {
                backoff.reset();
                // Woken by the next local write (the hub watches the local event log).
                if matches!(tokio::time::timeout(IDLE, wake.changed()).await, Ok(Err(_))) {
                    tokio::time::sleep(IDLE).await;
                }
            }
            Err(e) => {
                ctx.metrics.edge("push_failures", "", 1);
                ctx.link.down(ctx.store.as_ref(), &e).await;
                backoff.wait().await;
            }
        }
    }
}

/// Pushes the next batch; `false` when there was nothing to push.
async fn push_once(ctx: &Ctx) -> Result<bool, SyncError> {
    let outbox = ctx.store.edge_outbox(ctx.config.batch as i64).await?;
    if outbox.movements.is_empty() && outbox.skipped == 0 {
        return Ok(false);
    }
    let pushed = outbox.movements.len();
    let refused = if pushed == 0 {
        Vec::new()
    } else {
        let refused = send(ctx, &outbox.movements).await?;
        ctx.link.up(ctx.store.as_ref()).await;
        if ctx.config.exit_after_push {
            tracing::error!(
                pushed,
                "STOCKBOOK_EDGE_FAULT=exit_after_push: exiting before the push cursor is saved"
            );
            std::process::exit(3);
        }
        refused
    };
    for r in &refused {
        tracing::warn!(movement = %r.id, code = %r.code, message = %r.message, "HQ refused a movement; taken back locally");
    }
    ctx.store
        .edge_pushed(PushAck {
            up_to: outbox.up_to,
            pushed,
            refused,
            now: Utc::now(),
        })
        .await?;
    Ok(true)
}

/// Sends movements to HQ in order and returns those HQ did not apply. A batch HQ refuses
/// as a whole (422, nothing applied) is sent again without the movements it names; one
/// whose problem names none is sent one movement at a time.
async fn send(ctx: &Ctx, movements: &[Movement]) -> Result<Vec<Refusal>, SyncError> {
    let mut refused = Vec::new();
    let mut chunks: VecDeque<Vec<&Movement>> = VecDeque::from([movements.iter().collect()]);
    while let Some(chunk) = chunks.pop_front() {
        if chunk.is_empty() {
            continue;
        }
        match ctx.hq.push(&chunk).await {
            Ok(results) => {
                ctx.metrics.edge("push_batches", "", 1);
                for (m, r) in chunk.iter().zip(results) {
                    match r.status.as_str() {
                        "applied" => ctx.metrics.edge("pushed", "applied", 1),
                        "duplicate" => ctx.metrics.edge("pushed", "duplicate", 1),
                        _ => {
                            ctx.metrics.edge("pushed", "rejected", 1);
                            let (code, message) =
                                r.error.map_or(("rejected".into(), String::new()), |e| {
                                    (e.code, e.message)
                                });
                            refused.push(Refusal {
                                id: m.id.clone(),
                                code,
                                message,
                            });
                        }
                    }
                }
            }
            Err(HqError::Refused {
                status: 422,
                problem,
            }) => {
                let named = named_movements(&problem, chunk.len());
                if named.is_empty() && chunk.len() > 1 {
                    for m in chunk.into_iter().rev() {
                        chunks.push_front(vec![m]);
                    }
                    continue;
                }
                let (code, message) = first_error(&problem);
                let mut rest = Vec::new();
                for (i, m) in chunk.into_iter().enumerate() {
                    if named.is_empty() || named.contains(&i) {
                        ctx.metrics.edge("pushed", "refused", 1);
                        refused.push(Refusal {
                            id: MovementId::from_trusted(m.id.to_string()),
                            code: code.clone(),
                            message: message.clone(),
                        });
                    } else {
                        rest.push(m);
                    }
                }
                chunks.push_front(rest);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(refused)
}

/// The indexes `i` of `movements[i].…` fields a problem names.
fn named_movements(problem: &serde_json::Value, len: usize) -> Vec<usize> {
    let mut named: Vec<usize> = problem
        .get("errors")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("field")?.as_str())
        .filter_map(|f| {
            f.strip_prefix("movements[")?
                .split(']')
                .next()?
                .parse()
                .ok()
        })
        .filter(|i| *i < len)
        .collect();
    named.sort_unstable();
    named.dedup();
    named
}

fn first_error(problem: &serde_json::Value) -> (String, String) {
    let first = problem
        .get("errors")
        .and_then(|e| e.get(0))
        .cloned()
        .unwrap_or_default();
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|c| c.as_str()).map(str::to_owned);
    (
        text(&first, "code").unwrap_or_else(|| "refused".into()),
        text(&first, "message")
            .or_else(|| text(problem, "detail"))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_the_movements_it_refuses() {
        let problem = serde_json::json!({"errors": [
            {"field": "movements[3].sku", "code": "unknown_sku", "message": "no product X"},
            {"field": "movements[3].location", "code": "unknown_location", "message": "?"},
            {"field": "movements[0].qty", "code": "zero", "message": "?"},
            {"field": "movements[99].qty", "code": "zero", "message": "out of range"},
            {"field": "movements", "code": "too_many", "message": "?"}
        ]});
        assert_eq!(named_movements(&problem, 5), [0, 3]);
        assert_eq!(
            first_error(&problem),
            ("unknown_sku".into(), "no product X".into())
        );
        assert!(named_movements(&serde_json::Value::Null, 5).is_empty());
    }
}
