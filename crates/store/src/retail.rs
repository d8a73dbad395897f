//! What the store keeps for the shop floor: devices, POS sales and returns, RFID tags seen,
//! cycle counts and transfers; the results its use cases answer with and the records a
//! backup carries. The rules themselves are in `domain::{pos, rfid, count, transfer}`.

use chrono::{DateTime, Utc};
use domain::count::{CountLineRecord, CountStatus};
use domain::ids::{CountId, LocationCode, Sku};
use domain::pos::Receipt;
use domain::rfid::InvalidRead;
use domain::transfer::{Transfer, TransferStatus};
use serde::{Deserialize, Serialize};

/// A write that is idempotent by its id: what it answered, and whether this call did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<T> {
    /// The record (the first answer, for a replay).
    pub value: T,
    /// False when the id was recorded before with the same request: nothing changed.
    pub created: bool,
}

/// Who records a sale, return or transfer, and the hash of the request that asked for it
/// (the same id with another hash is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    /// SHA-256 of the canonical request, hex.
    pub request_hash: String,
    /// The principal's actor name, for timelines and events.
    pub actor: String,
}

/// Reads of an SGTIN whose GTIN the catalog does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UnknownGtin {
    /// The GTIN (14 digits).
    pub gtin: String,
    /// Reads of it in the request.
    pub reads: usize,
    /// Distinct tags among them.
    pub tags: usize,
}

/// What became of a batch of RFID reads: every read is in exactly one of `accepted`,
/// `duplicates`, `unknown` (by reads) and `invalid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ReadSummary {
    /// Where.
    pub location: LocationCode,
    /// The reader.
    pub reader: String,
    /// Reads in the request.
    pub received: usize,
    /// Reads that counted (not seen within the window before).
    pub accepted: usize,
    /// Reads within the window of a counted read of the same tag.
    pub duplicates: usize,
    /// Reads of tags whose GTIN the catalog does not know, by GTIN.
    pub unknown: Vec<UnknownGtin>,
    /// Reads that are not of a product tag, with the reason.
    pub invalid: Vec<InvalidRead>,
    /// The open count the reads fed, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_id: Option<CountId>,
    /// Tags new to that count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counted: Option<usize>,
}

/// A tag as last seen at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SeenTag {
    /// Where.
    pub location: LocationCode,
    /// The pure-identity URI.
    pub epc: String,
    /// Its GTIN.
    pub gtin: String,
    /// Its serial.
    pub serial: String,
    /// The product, when the catalog knows the GTIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    /// The reader that saw it last.
    pub reader: String,
    /// Its antenna.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub antenna: Option<i64>,
    /// First seen.
    pub first_seen_at: DateTime<Utc>,
    /// Last seen.
    pub last_seen_at: DateTime<Utc>,
    /// Last read that counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<DateTime<Utc>>,
}

/// Which transfers a listing shows; absent fields match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferFilter {
    /// Only transfers from or to this location.
    pub location: Option<LocationCode>,
    /// Only in this status.
    pub status: Option<TransferStatus>,
    /// Only transfers from or to one of these (a caller bound to locations); empty: all.
    pub within: Vec<LocationCode>,
}

/// A sale or return in a backup: the receipt first answered, the request it answered and
/// how much of each line came back since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SaleRecord {
    /// Hash of the request.
    pub request_hash: String,
    /// The receipt as first answered.
    pub receipt: Receipt,
    /// Units returned since, per line (in line order).
    pub returned: Vec<i64>,
}

/// A cycle count in a backup, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CountRecord {
    /// Its id.
    pub id: CountId,
    /// Where.
    pub location: LocationCode,
    /// Where it stands.
    pub status: CountStatus,
    /// The SKUs in scope, or `None` for all.
    pub skus: Option<Vec<Sku>>,
    /// Who opened it.
    pub opened_by: String,
    /// When.
    pub opened_at: DateTime<Utc>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// When.
    pub closed_at: Option<DateTime<Utc>>,
    /// Its lines.
    pub lines: Vec<CountLineRecord>,
    /// Tags it counted: (EPC, GTIN, SKU if known).
    pub tags: Vec<(String, String, Option<Sku>)>,
    /// Scan batches it took.
    pub batches: Vec<String>,
}

/// A transfer in a backup, with the hash of the request that created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct TransferRecord {
    /// Hash of the creating request.
    pub request_hash: String,
    /// The transfer.
    pub transfer: Transfer,
}
