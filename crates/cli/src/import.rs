//! `stockbook import products|stock FILE.csv`: every row is validated first and every bad
//! row reported with its line number; only a file without errors is applied, in one
//! transaction. Stock rows become `count` movements whose ids derive from the file's
//! content and line, so importing the same file twice changes nothing the second time.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use domain::FieldError;
use domain::catalog::ProductInput;
use domain::stock::MovementInput;
use sha2::{Digest, Sha256};
use store::{Store, StoreError};

/// A row's line number and what is wrong with it.
struct RowError {
    line: u64,
    field: String,
    message: String,
}

pub(crate) async fn products(store: &dyn Store, path: &Path) -> anyhow::Result<ExitCode> {
    let (rows, _) = read(
        path,
        &["sku", "name", "unit", "price"],
        &[
            "currency",
            "gtins",
            "active",
            "packs",
            "min_order_qty",
            "order_multiple",
        ],
    )?;
    let mut errors = Vec::new();
    let mut products = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (line, row) in rows {
        let field = |name: &str| row.get(name).cloned().unwrap_or_default();
        // A field that cannot even be read is reported, and the row's other fields are still
        // checked, so one run lists every problem.
        let mut unreadable = false;
        let price = field("price").trim().parse::<i64>().unwrap_or_else(|_| {
            errors.push(RowError {
                line,
                field: "price".into(),
                message: "price is a whole number of minor units (分)".into(),
            });
            unreadable = true;
            0
        });
        let active = match field("active").trim().to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => {
                errors.push(RowError {
                    line,
                    field: "active".into(),
                    message: "active is true or false".into(),
                });
                unreadable = true;
                true
            }
        };
        // Pack units as `unit:factor` separated by `|`, e.g. `箱:12|盒:6`.
        let packs: Vec<domain::units::Pack> = field("packs")
            .split('|')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let parsed = p.rsplit_once(':').and_then(|(unit, factor)| {
                    Some((unit.trim(), factor.trim().parse::<i64>().ok()?))
                });
                if parsed.is_none() {
                    errors.push(RowError {
                        line,
                        field: "packs".into(),
                        message: format!("pack '{p}' is not unit:factor, e.g. 箱:12"),
                    });
                    unreadable = true;
                }
                parsed.map(|(unit, factor)| domain::units::Pack {
                    unit: unit.to_owned(),
                    factor,
                    gtin: None,
                })
            })
            .collect();
        let steps = ["min_order_qty", "order_multiple"].map(|name| {
            let text = field(name);
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            text.parse::<i64>()
                .map_err(|_| {
                    errors.push(RowError {
                        line,
                        field: name.into(),
                        message: format!("{name} is a whole number of base units"),
                    });
                    unreadable = true;
                })
                .ok()
        });
        let gtins: Vec<String> = field("gtins")
            .split('|')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect();
        let currency = Some(field("currency"))
            .filter(|c| !c.trim().is_empty())
            .map(|c| c.trim().to_owned());
        let input = ProductInput {
            sku: field("sku").trim().to_owned(),
            name: field("name"),
            unit: field("unit"),
            price,
            currency,
            gtins: Some(gtins),
            active: Some(active),
            packs: Some(packs),
            min_order_qty: steps[0],
            order_multiple: steps[1],
        };
        match input.validate() {
            Ok(_) if unreadable => {}
            Ok(p) => {
                if let Some(first) = seen.insert(p.sku.to_string(), line) {
                    errors.push(RowError {
                        line,
                        field: "sku".into(),
                        message: format!("SKU {} is already on line {first}", p.sku),
                    });
                }
                products.push(p);
            }
            Err(field_errors) => {
                errors.extend(field_errors.into_iter().map(|e| row_error(line, e)))
            }
        }
    }
    if !errors.is_empty() {
        return Ok(report(&errors));
    }
    match store.import_products(products).await {
        Ok(summary) => {
            crate::say(format_args!(
                "imported products: {} created, {} updated",
                summary.created, summary.updated
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::Conflict { message, .. }) => {
            eprintln!("import refused, nothing changed: {message}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e).context("importing products"),
    }
}

pub(crate) async fn stock(store: &dyn Store, path: &Path) -> anyhow::Result<ExitCode> {
    let (rows, digest) = read(path, &["location", "sku", "qty"], &[])?;
    let mut errors = Vec::new();
    let mut inputs = Vec::new();
    let mut lines = Vec::new();
    for (line, row) in rows {
        let field = |name: &str| {
            row.get(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let Ok(qty) = field("qty").parse::<i64>() else {
            errors.push(RowError {
                line,
                field: "qty".into(),
                message: "qty is a whole number of base units".into(),
            });
            continue;
        };
        inputs.push(MovementInput {
            id: format!("import-{digest}-{line}"),
            sku: field("sku"),
            location: field("location"),
            kind: "count".into(),
            qty,
            reason: Some("stock import".into()),
            occurred_at: None,
        });
        lines.push(line);
    }
    let now = Utc::now();
    let mut movements = Vec::new();
    for (input, &line) in inputs.iter().zip(&lines) {
        match input.validate(now) {
            Ok(m) => movements.push(m),
            Err(field_errors) => {
                errors.extend(field_errors.into_iter().map(|e| row_error(line, e)))
            }
        }
    }
    if !errors.is_empty() {
        return Ok(report(&errors));
    }
    match store.apply_movements(movements).await {
        Ok(outcomes) => {
            let applied = outcomes
                .iter()
                .filter(|o| matches!(o, domain::stock::Outcome::Applied(_)))
                .count();
            crate::say(format_args!(
                "imported stock: {applied} levels counted, {} already imported",
                outcomes.len() - applied
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::Invalid(field_errors)) => {
            // Fields are named movements[i].x; map i back to its line.
            let errors: Vec<RowError> = field_errors
                .into_iter()
                .map(|e| {
                    let index = e
                        .field
                        .strip_prefix("movements[")
                        .and_then(|r| r.split(']').next())
                        .and_then(|i| i.parse::<usize>().ok());
                    let line = index.and_then(|i| lines.get(i)).copied().unwrap_or(0);
                    let field = e.field.rsplit('.').next().unwrap_or("").to_owned();
                    RowError {
                        line,
                        field,
                        message: e.message,
                    }
                })
                .collect();
            Ok(report(&errors))
        }
        Err(e) => Err(e).context("importing stock"),
    }
}

fn row_error(line: u64, e: FieldError) -> RowError {
    RowError {
        line,
        field: e.field,
        message: e.message,
    }
}

fn report(errors: &[RowError]) -> ExitCode {
    for e in errors {
        eprintln!("line {}: {}: {}", e.line, e.field, e.message);
    }
    let rows: std::collections::BTreeSet<u64> = errors.iter().map(|e| e.line).collect();
    eprintln!(
        "import refused, nothing changed: {} errors in {} rows",
        errors.len(),
        rows.len()
    );
    ExitCode::from(1)
}

type Rows = Vec<(u64, HashMap<String, String>)>;

/// Reads a CSV with a header naming `required` and optionally `optional` columns; returns
/// each row with its line number, and a short digest of the file's bytes.
fn read(path: &Path, required: &[&str], optional: &[&str]) -> anyhow::Result<(Rows, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::Headers)
        .from_reader(bytes.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .context("reading the header row")?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for name in &headers {
        if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
            anyhow::bail!(
                "line 1: unknown column '{name}' (expected {} and optionally {})",
                required.join(","),
                optional.join(",")
            );
        }
    }
    for name in required {
        if !headers.iter().any(|h| h == name) {
            anyhow::bail!("line 1: missing column '{name}'");
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.context("reading a row")?;
        let line = record.position().map_or(0, csv::Position::line);
        rows.push((
            line,
            headers
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect(),
        ));
    }
    Ok((rows, digest))
}
