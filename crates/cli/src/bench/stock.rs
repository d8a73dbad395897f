//! The stock figures: movements in through `POST /api/v1/stock/movements` against an
//! idempotent insert-and-update ceiling, and availability reads through
//! `GET /api/v1/stock/{location}/{sku}` against the lower of a database point read and a
//! bare HTTP handler, at a growing number of stock levels.

use std::sync::Arc;

use super::Setup;
use super::db::{Move, Scratch};
use super::load::{Limits, Rng, Sample, drive, http_load};
use super::pairs::{Ceiling, FigureSpec, RatioOf, Round, interleaved};
use super::report::Figure;
use super::seed::{BASE_PRODUCTS, LOCATIONS, location_code, sku_code};

/// Picks `size` movements (receipts of 1) on random levels of the starting catalog, in
/// (location, SKU) order: the order Stockbook applies them in, which the PostgreSQL
/// ceiling needs too so that concurrent batches cannot deadlock.
fn random_moves(rng: &mut Rng, size: usize, id_prefix: &str) -> Vec<Move> {
    let mut moves: Vec<Move> = (0..size)
        .map(|j| Move {
            id: format!("{id_prefix}-{j}"),
            location: location_code(rng.below(LOCATIONS as u64) as usize),
            sku: sku_code(rng.below(BASE_PRODUCTS as u64) as usize),
            qty: 1,
        })
        .collect();
    moves.sort_by(|a, b| (&a.location, &a.sku).cmp(&(&b.location, &b.sku)));
    moves
}

/// Runs a ceiling's database operation from `clients` clients; `op` gets the client's
/// random sequence and an id prefix unique to the call.
pub(super) async fn db_load<F, Fut>(
    setup: &Setup,
    clients: usize,
    limits: Limits,
    tag: String,
    op: F,
) -> Sample
where
    F: Fn(Arc<Scratch>, &mut Rng, String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
{
    drive(clients, limits, |client| {
        let scratch = Arc::clone(&setup.scratch);
        let mut rng = Rng::new(client as u64 + 1);
        let (op, tag) = (op.clone(), tag.clone());
        move |call| {
            op(
                Arc::clone(&scratch),
                &mut rng,
                format!("{tag}-{client}-{call}"),
            )
        }
    })
    .await
}

/// Movements through the API in batches of `batch`, against the same batches through
/// the scratch ceiling.
pub async fn movements(setup: &Setup, batch: usize) -> anyhow::Result<Figure> {
    let key = if batch == 1 {
        "movements_single".to_owned()
    } else {
        format!("movements_batch{batch}")
    };
    let spec = FigureSpec {
        backend: setup.backend,
        key: key.clone(),
        title: format!(
            "movements, {} per request, {} clients",
            batch, setup.clients
        ),
        unit: "movements/s",
        clients: setup.clients,
        latency: true,
        ratio_of: RatioOf::Rate,
    };
    let url = setup.server.url("/api/v1/stock/movements");
    let token = setup.token.clone();
    let pairs = interleaved(
        &setup.probe,
        setup.schedule,
        |round: Round| {
            let tag = format!("{key}-c{}", round.tag);
            async move {
                let sample = db_load(
                    setup,
                    setup.clients,
                    round.limits,
                    tag,
                    move |scratch, rng, prefix| {
                        let moves = random_moves(rng, batch, &prefix);
                        async move { scratch.apply(&moves).await }
                    },
                )
                .await;
                Ok(Ceiling::single("sqlx insert+update", sample))
            }
        },
        |round: Round| {
            let (url, token) = (url.clone(), token.clone());
            let tag = format!("{key}-p{}", round.tag);
            async move {
                http_load(
                    setup.clients,
                    round.limits,
                    tag,
                    move |http, rng, prefix| {
                        let moves: Vec<serde_json::Value> = random_moves(rng, batch, &prefix)
                            .into_iter()
                            .map(|m| {
                                serde_json::json!({
                                    "id": m.id, "sku": m.sku, "location": m.location,
                                    "kind": "receipt", "qty": m.qty,
                                })
                            })
                            .collect();
                        let body = serde_json::json!({ "movements": moves });
                        (
                            http.post(&url).bearer_auth(&token).json(&body),
                            batch as u64,
                        )
                    },
                )
                .await
            }
        },
    )
    .await?;
    Ok(spec.figure(&pairs))
}

/// Availability reads of random levels among `products` × [`LOCATIONS`], against the
/// lower of a database point read and the bare HTTP handler.
pub async fn reads(setup: &Setup, key: &str, products: usize) -> anyhow::Result<Figure> {
    let spec = FigureSpec {
        backend: setup.backend,
        key: key.to_owned(),
        title: format!(
            "availability reads, {} levels, {} clients",
            products * LOCATIONS,
            setup.clients
        ),
        unit: "reads/s",
        clients: setup.clients,
        latency: true,
        ratio_of: RatioOf::Rate,
    };
    let level_path = move |rng: &mut Rng| {
        format!(
            "/api/v1/stock/{}/{}",
            location_code(rng.below(LOCATIONS as u64) as usize),
            sku_code(rng.below(products as u64) as usize)
        )
    };
    let get = |base: String, token: String| {
        move |http: &reqwest::Client, rng: &mut Rng, _: String| {
            let url = format!("{base}{}", level_path(rng));
            (http.get(url).bearer_auth(&token), 1)
        }
    };
    let pairs = interleaved(
        &setup.probe,
        setup.schedule,
        |round: Round| {
            let bare = get(setup.bare_url.clone(), setup.token.clone());
            async move {
                let db = db_load(
                    setup,
                    setup.clients,
                    round.limits,
                    round.tag.clone(),
                    move |scratch, rng, _| {
                        let (l, s) = (
                            location_code(rng.below(LOCATIONS as u64) as usize),
                            sku_code(rng.below(products as u64) as usize),
                        );
                        async move { scratch.point_read(&l, &s).await }
                    },
                )
                .await;
                let http = http_load(setup.clients, round.limits, round.tag, bare).await?;
                Ceiling::lowest(vec![
                    ("db point read".to_owned(), db),
                    ("bare HTTP".to_owned(), http),
                ])
            }
        },
        |round: Round| {
            let product = get(setup.server.url(""), setup.token.clone());
            async move { http_load(setup.clients, round.limits, round.tag, product).await }
        },
    )
    .await?;
    Ok(spec.figure(&pairs))
}
