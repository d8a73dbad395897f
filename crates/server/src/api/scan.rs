//! `/scan`: what a scanned barcode or RFID tag says, and which product it is.

use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::Routes;
use domain::auth::Action;

pub(super) fn routes() -> Routes {
    Routes::new().op("scanCode", scan)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanQuery {
    /// What the scanner read: a GTIN, a GS1 element string (with or without symbology
    /// identifier), a variable-measure EAN-13, or an EPC as hex or URI; 1 to 512 characters.
    #[schemars(length(min = 1, max = 512))]
    code: String,
}

/// The product a code names, if the catalog knows its GTIN.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ScannedProduct")]
pub(crate) struct Found {
    /// Its SKU.
    sku: String,
    /// Its name.
    name: String,
    /// Its base unit.
    unit: String,
}

/// Decodes a scanned code — GTIN, GS1 element string (with or without symbology
/// identifier), in-store variable-measure EAN-13, or EPC (hex or URI) — exactly as
/// `stockbook gs1 parse` / `stockbook epc decode` do, adding `product` when the catalog has
/// its GTIN. An undecodable code is answered with `valid: false` and the reason, not an
/// error: the scan happened, the code is just not valid.
async fn scan(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ScanQuery>,
) -> Result<Json<Value>, AppError> {
    caller.may(Action::CatalogRead)?;
    let code = q.code.trim();
    if code.is_empty() || code.len() > 512 {
        return Err(AppError::field(
            "code",
            "bad_length",
            "code is 1 to 512 characters",
        ));
    }
    let (mut report, gtin) = if domain::code::looks_like_epc(code) {
        let report = gs1::decode_epc_report(code);
        let gtin = report.epc.as_ref().and_then(|e| e.gtin.clone());
        (serde_json::to_value(&report), gtin)
    } else {
        let report = gs1::parse_report(code);
        let gtin = report
            .variable_measure
            .as_ref()
            .map(|v| v.lookup_gtin.clone())
            .or_else(|| report.gtin.clone());
        (serde_json::to_value(&report), gtin)
    };
    let report = report
        .as_mut()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(gtin) = gtin
        && let Some(p) = state.store.product_by_gtin(&gtin).await?
    {
        let found = Found {
            sku: p.sku.to_string(),
            name: p.name,
            unit: p.unit,
        };
        report["product"] =
            serde_json::to_value(found).map_err(|e| AppError::Internal(e.to_string()))?;
    }
    Ok(Json(report.take()))
}
