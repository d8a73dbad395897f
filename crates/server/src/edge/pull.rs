//! Following HQ: the first copy of its catalog and the store's figures, then its event
//! stream for the store's `stock.changed` and for catalog changes, each resumed after its
//! persisted cursor.
//!
//! The first copy starts from HQ's snapshot (levels and the event head they reflect, read
//! together), so the stream picks up exactly after it. Stock events are mirrored in one
//! transaction with their cursor, so each is applied exactly once; catalog changes are
//! upserts, applied then recorded, so applying one twice after a crash is harmless.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::catalog::NewProduct;
use domain::ids::{MovementId, Sku};
use futures_util::StreamExt;
use serde::Deserialize;
use store::edge::{EdgeNote, HqFigure, HqMovement, HqStock};
use store::{Event, StoreError};

use super::catalog;
use super::sse::SseParser;
use super::{Backoff, Ctx, HqError, SyncError};

/// A stream that sends nothing, not even HQ's 15 s heartbeat, for this long is dead.
const SILENCE: Duration = Duration::from_secs(45);
/// Interval of polling when the stream is not used.
const POLL: Duration = Duration::from_secs(1);
/// Events per poll.
const PAGE: usize = 1000;
/// Products per local import transaction.
const IMPORT_CHUNK: usize = 500;
/// HQ figures per local transaction of the first copy.
const MIRROR_CHUNK: usize = 1000;

const STOCK_TYPES: &str = "stock.changed";
const CATALOG_TYPES: &str = "product.created,product.updated,location.created";

#[derive(Clone, Copy, Debug)]
enum Feed {
    Stock,
    Catalog,
}

pub(super) async fn run(ctx: Arc<Ctx>, bootstrapped: bool) {
    let mut backoff = Backoff::default();
    if !bootstrapped {
        while let Err(e) = bootstrap(&ctx).await {
            ctx.link.down(ctx.store.as_ref(), &e).await;
            backoff.wait().await;
        }
    }
    tokio::spawn(follow(ctx.clone(), Feed::Catalog));
    follow(ctx, Feed::Stock).await;
}

/// Copies HQ's locations, products and the store's figures.
async fn bootstrap(ctx: &Ctx) -> Result<(), SyncError> {
    let location = &ctx.config.location;
    let snapshot = ctx.hq.snapshot(location).await?;
    ctx.link.up(ctx.store.as_ref()).await;
    for l in ctx.hq.locations().await? {
        catalog::create_location(ctx, l.code.as_str(), &l.name, l.kind.as_str(), &l.time_zone)
            .await?;
    }
    let products: Vec<NewProduct> = ctx
        .hq
        .products()
        .await?
        .into_iter()
        .map(catalog::new_product)
        .collect();
    for chunk in products.chunks(IMPORT_CHUNK) {
        catalog::import(ctx, chunk.to_vec()).await?;
    }
    let figures = snapshot
        .levels
        .into_iter()
        .map(|l| HqFigure {
            sku: l.sku,
            on_hand: l.on_hand,
            movement: None,
        })
        .collect::<Vec<_>>();
    let n = figures.len();
    // In chunks, to keep each transaction short; the last one marks the node bootstrapped.
    // A crash in between starts over, which is harmless: each figure only moves a level
    // from HQ's figure the node already holds to the one HQ sent.
    let chunks: Vec<&[HqFigure]> = figures.chunks(MIRROR_CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        ctx.store
            .edge_mirror(HqStock {
                figures: chunk.to_vec(),
                stock_seq: snapshot.head,
                bootstrap: last.then_some(snapshot.head),
                now: Utc::now(),
            })
            .await?;
    }
    if chunks.is_empty() {
        ctx.store
            .edge_mirror(HqStock {
                figures: Vec::new(),
                stock_seq: snapshot.head,
                bootstrap: Some(snapshot.head),
                now: Utc::now(),
            })
            .await?;
    }
    tracing::info!(levels = n, head = snapshot.head, %location, "edge node bootstrapped from HQ");
    Ok(())
}

async fn follow(ctx: Arc<Ctx>, feed: Feed) {
    let mut backoff = Backoff::default();
    let mut poll = ctx.config.poll;
    loop {
        let result = if poll {
            poll_once(&ctx, feed).await
        } else {
            stream_once(&ctx, feed).await
        };
        match result {
            Ok(()) => backoff.reset(),
            Err(SyncError::Hq(HqError::Refused {
                status: 404..=406, ..
            })) if !poll => {
                tracing::warn!(?feed, "HQ offers no event stream here; polling instead");
                poll = true;
            }
            Err(e) => {
                ctx.metrics.edge("pull_failures", "", 1);
                ctx.link.down(ctx.store.as_ref(), &e).await;
                backoff.wait().await;
            }
        }
    }
}

async fn cursor(ctx: &Ctx, feed: Feed) -> Result<i64, SyncError> {
    let state = ctx
        .store
        .edge_state()
        .await?
        .ok_or_else(|| StoreError::not_found("edge binding"))?;
    Ok(match feed {
        Feed::Stock => state.sync.stock_seq,
        Feed::Catalog => state.sync.catalog_seq,
    })
}

fn filter(ctx: &Ctx, feed: Feed) -> (&'static str, Option<&domain::ids::LocationCode>) {
    match feed {
        Feed::Stock => (STOCK_TYPES, Some(&ctx.config.location)),
        Feed::Catalog => (CATALOG_TYPES, None),
    }
}

/// Reads the live stream until it ends or falls silent; `Ok` when HQ closed it.
async fn stream_once(ctx: &Ctx, feed: Feed) -> Result<(), SyncError> {
    let after = cursor(ctx, feed).await?;
    let (types, location) = filter(ctx, feed);
    let response = ctx.hq.stream(after, types, location).await?;
    ctx.link.up(ctx.store.as_ref()).await;
    let mut body = response.bytes_stream();
    let mut parser = SseParser::default();
    loop {
        let chunk = match tokio::time::timeout(SILENCE, body.next()).await {
            Err(_) => {
                return Err(HqError::Unreachable("the event stream fell silent".into()).into());
            }
            Ok(None) => {
                return Err(HqError::Unreachable("HQ closed the event stream".into()).into());
            }
            Ok(Some(Err(e))) => {
                return Err(HqError::Unreachable(format!("the event stream broke: {e}")).into());
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        let mut events = Vec::new();
        for sse in parser.feed(&chunk) {
            match serde_json::from_str::<Event>(&sse.data) {
                Ok(e) => events.push(e),
                Err(e) => {
                    tracing::warn!(error = %e, id = ?sse.id, "edge sync: skipping an unreadable event")
                }
            }
        }
        if !events.is_empty() {
            apply(ctx, feed, events).await?;
        }
    }
}

/// Reads pages until caught up, then waits a little.
async fn poll_once(ctx: &Ctx, feed: Feed) -> Result<(), SyncError> {
    let mut after = cursor(ctx, feed).await?;
    let (types, location) = filter(ctx, feed);
    loop {
        let events = ctx.hq.events(after, types, location, PAGE).await?;
        ctx.link.up(ctx.store.as_ref()).await;
        let full = events.len() == PAGE;
        if let Some(last) = events.last() {
            after = last.seq;
            apply(ctx, feed, events).await?;
        }
        if !full {
            tokio::time::sleep(POLL).await;
            return Ok(());
        }
    }
}

async fn apply(ctx: &Ctx, feed: Feed, events: Vec<Event>) -> Result<(), SyncError> {
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(());
    };
    match feed {
        Feed::Stock => {
            ctx.metrics.edge("pulled", "stock", events.len() as u64);
            mirror(ctx, &events, last).await
        }
        Feed::Catalog => {
            ctx.metrics.edge("pulled", "catalog", events.len() as u64);
            catalog::apply(ctx, &events).await?;
            ctx.store.edge_note(EdgeNote::CatalogSeq(last)).await?;
            Ok(())
        }
    }
}

/// The part of a `stock.changed` event the mirror needs.
#[derive(Deserialize)]
struct StockChanged {
    sku: String,
    location: String,
    on_hand: i64,
    movement: ChangedMovement,
}

#[derive(Deserialize)]
struct ChangedMovement {
    id: String,
    kind: String,
    qty: i64,
    on_hand_delta: i64,
    reason: Option<String>,
}

fn figure(ctx: &Ctx, event: &Event) -> Option<HqFigure> {
    if event.kind != "stock.changed" {
        return None;
    }
    let data: StockChanged = match serde_json::from_value(event.data.clone()) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(seq = event.seq, error = %e, "edge sync: skipping an unreadable stock event");
            return None;
        }
    };
    if data.location != ctx.config.location.as_str() {
        return None;
    }
    Some(HqFigure {
        sku: Sku::from_trusted(data.sku),
        on_hand: data.on_hand,
        movement: Some(HqMovement {
            event_seq: event.seq,
            id: MovementId::from_trusted(data.movement.id),
            kind: data.movement.kind,
            qty: data.movement.qty,
            on_hand_delta: data.movement.on_hand_delta,
            reason: data.movement.reason,
        }),
    })
}

/// Mirrors HQ's figures; a SKU this node does not know yet (HQ's catalog stream is
/// behind) is fetched from HQ first.
async fn mirror(ctx: &Ctx, events: &[Event], last: i64) -> Result<(), SyncError> {
    let figures: Vec<HqFigure> = events.iter().filter_map(|e| figure(ctx, e)).collect();
    let stock = HqStock {
        figures,
        stock_seq: last,
        bootstrap: None,
        now: Utc::now(),
    };
    let done = match ctx.store.edge_mirror(stock.clone()).await {
        Err(StoreError::Invalid(errors)) => {
            let mut missing = Vec::new();
            for e in errors.iter().filter(|e| e.code == "unknown_sku") {
                let i: Option<usize> = e
                    .field
                    .strip_prefix("figures[")
                    .and_then(|f| f.split(']').next())
                    .and_then(|i| i.parse().ok());
                if let Some(f) = i.and_then(|i| stock.figures.get(i)) {
                    missing.push(catalog::new_product(ctx.hq.product(&f.sku).await?));
                }
            }
            catalog::import(ctx, missing).await?;
            ctx.store.edge_mirror(stock).await?
        }
        other => other?,
    };
    ctx.metrics.edge("mirrored", "foreign", done.foreign as u64);
    ctx.metrics.edge("mirrored", "own", done.own as u64);
    ctx.metrics
        .edge("mirrored", "corrected", done.corrected as u64);
    Ok(())
}
