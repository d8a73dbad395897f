//! The route table and the OpenAPI 3.1 document made from it.
//!
//! Every route of the server is one [`Operation`] of [`OPERATIONS`]: method, path, operation
//! id, tag, summary, parameters, request body, replies, errors and whether it needs a bearer
//! token. The router is built from the same table ([`Routes::op`] takes the method and path
//! from the entry), so a route cannot exist without its description, and a test sends a
//! request to every entry to prove that each one is routed. Request and response bodies
//! are described by their Rust types (`schemars`, honouring their serde attributes), so the
//! schemas follow the code. See docs/decisions/0010-openapi.md.
//!
//! The document is served at `GET /api/v1/openapi.json`, and a small self-contained page
//! that reads it and can send requests is served at `GET /api/docs`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::api::{
    alerts, audit, customers, devices, edge, events, orders, rfid, scan, sinks, stock, transfers,
    users, webhooks,
};
use crate::auth::Caller;
use crate::error::Problem;
use crate::page::{Page, PageQuery};
use domain::auth::Action;
use domain::catalog::{Location, LocationInput, Product, ProductInput, ProductPatchInput};
use domain::customer::{Customer, CustomerInput, CustomerPatch};
use domain::order::{Order, OrderInput, OrderPatchInput, ReturnInput, ShipInput};
use domain::pricing::{PriceList, PriceListInput};
use domain::schema::Code;
use domain::stock::{Level, Movement};

/// Describes a schema by asking a generator (which collects named schemas as it goes).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, a `$ref` to `#/components/schemas/…` for named types.
fn of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET (axum answers HEAD too).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Verb {
    /// The method as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// Who may call an operation, as far as authentication goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No token needed (probes, metrics, the document and the docs page).
    Public,
    /// `Authorization: Bearer <token>`; a missing or unknown token gets 401.
    Bearer,
}

/// A header parameter of a request, or a header of a reply.
#[derive(Debug)]
pub struct Header {
    /// The header's name.
    pub name: &'static str,
    /// Whether a request without it is refused.
    pub required: bool,
    /// What it carries.
    pub description: &'static str,
    /// The pattern its value matches, or "".
    pub pattern: &'static str,
}

/// A Rust type the table names as a request body or query: its schema, and its name, which
/// [`Routes::op`] checks against the handler's extractors.
#[derive(Debug, Clone, Copy)]
pub struct Typed {
    /// Its JSON Schema.
    pub schema: SchemaFn,
    /// Its Rust type name.
    pub name: fn() -> &'static str,
}

const fn typed<T: JsonSchema>() -> Typed {
    Typed {
        schema: of::<T>,
        name: std::any::type_name::<T>,
    }
}

/// The body an operation takes.
#[derive(Debug)]
pub enum Body {
    /// None.
    None,
    /// A JSON body, required (the handler extracts `extract::Json<T>`).
    Json(Typed),
    /// A JSON body that may be left out (the handler extracts `extract::OptionalJson<T>`).
    OptionalJson(Typed),
}

/// What a reply carries.
#[derive(Debug)]
pub enum Content {
    /// A JSON body of this schema.
    Json(SchemaFn),
    /// Text of this media type.
    Text(&'static str),
    /// No body (204).
    Empty,
}

/// The successful reply of an operation.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: u16,
    /// What it means.
    pub description: &'static str,
    /// Its body.
    pub content: Content,
    /// Headers it carries.
    pub headers: &'static [Header],
    /// Other success statuses with the same body (e.g. 200 for a replayed creation).
    pub also: &'static [(u16, &'static str)],
}

/// One route: everything the OpenAPI document says about it, and the permission the
/// authorization layer will check.
#[derive(Debug)]
pub struct Operation {
    /// Unique id, used by [`Routes::op`] to register the handler.
    pub id: &'static str,
    /// The method.
    pub method: Verb,
    /// The full path template, with `{name}` path parameters, as axum routes it.
    pub path: &'static str,
    /// The group it is listed under.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More, in Markdown; may be empty.
    pub description: &'static str,
    /// Whether it needs a bearer token.
    pub auth: Auth,
    /// The action of the permission table (`domain::auth::permission`) a caller needs
    /// somewhere: checked before the handler runs, so a caller without it gets 403 before
    /// its body or parameters are read. The handler narrows it to a location, a customer
    /// or everything. `None`: any valid token (or no token, for public routes).
    pub action: Option<Action>,
    /// The query parameters: the struct the handler extracts with `extract::Query`, whose
    /// fields are the parameters.
    pub query: Option<Typed>,
    /// Header parameters.
    pub headers: &'static [Header],
    /// The request body.
    pub body: Body,
    /// The successful reply.
    pub reply: Reply,
    /// Error statuses besides those implied by the rest of the entry (401 for a bearer
    /// route, 400/413/415/422 for a body, 422 for query parameters, 404/422 for path
    /// parameters).
    pub errors: &'static [u16],
}

impl Operation {
    /// The defaults entries start from: a bearer-token GET with a JSON object reply.
    const DEFAULT: Operation = Operation {
        id: "",
        method: Verb::Get,
        path: "",
        tag: "",
        summary: "",
        description: "",
        auth: Auth::Bearer,
        action: None,
        query: None,
        headers: &[],
        body: Body::None,
        reply: ok(any_object),
        errors: &[],
    };

    /// The `{name}` parameters of the path template, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }
}

const fn ok(schema: SchemaFn) -> Reply {
    Reply {
        status: 200,
        description: "OK",
        content: Content::Json(schema),
        headers: &[],
        also: &[],
    }
}

const fn created(schema: SchemaFn) -> Reply {
    Reply {
        status: 201,
        description: "Created",
        content: Content::Json(schema),
        headers: &[],
        also: &[],
    }
}

fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object" })
}

const IDEMPOTENCY_KEY: Header = Header {
    name: "Idempotency-Key",
    required: true,
    description: "1 to 128 visible ASCII characters. A retry with the same key and body answers with the first result; the same key with another body gets 422 `idempotency_key_reused`.",
    pattern: "^[!-~]{1,128}$",
};
const IF_MATCH: Header = Header {
    name: "If-Match",
    required: false,
    description: "The order's version (its `ETag`, e.g. `\"3\"`). When sent, an order at another version is refused with 412 `version_mismatch`.",
    pattern: "^(W/)?\"?[0-9]{1,18}\"?$",
};
const IF_MATCH_REQUIRED: Header = Header {
    required: true,
    ..IF_MATCH
};
const ETAG: Header = Header {
    name: "ETag",
    required: true,
    description: "The order's version, for the next `If-Match`.",
    pattern: "",
};
const LOCATION: Header = Header {
    name: "Location",
    required: true,
    description: "The new order's URL.",
    pattern: "",
};

/// A reply carrying an order and its version.
const ORDER: Reply = Reply {
    headers: &[ETAG],
    ..ok(of::<Order>)
};

/// An order command: `POST /api/v1/orders/{id}/<action>`.
const ORDER_ACTION: Operation = Operation {
    method: Verb::Post,
    tag: "orders",
    headers: &[IF_MATCH],
    reply: ORDER,
    errors: &[409, 412],
    ..Operation::DEFAULT
};

/// A reply without a body.
const NO_CONTENT: Reply = Reply {
    status: 204,
    description: "No Content",
    content: Content::Empty,
    headers: &[],
    also: &[],
};

/// A POS receipt: 201 when recorded now, 200 when the same sale was sent before.
const RECEIPT: Reply = Reply {
    headers: &[Header {
        name: "Location",
        required: true,
        description: "The receipt's URL.",
        pattern: "",
    }],
    also: &[(200, "The same sale or return was recorded before")],
    ..created(of::<domain::pos::Receipt>)
};

/// Every route of the server.
pub static OPERATIONS: &[Operation] = &[
    // health and documentation
    Operation {
        id: "healthz",
        path: "/healthz",
        tag: "operations",
        summary: "Liveness: the process is up",
        auth: Auth::Public,
        reply: ok(|_| {
            json_schema!({
                "type": "object",
                "properties": { "status": { "const": "ok" } },
                "required": ["status"]
            })
        }),
        ..Operation::DEFAULT
    },
    Operation {
        id: "readyz",
        path: "/readyz",
        tag: "operations",
        summary: "Readiness: the process can reach its database",
        description: "Answers 503 `unavailable` when the database cannot be reached.",
        auth: Auth::Public,
        reply: ok(|_| {
            json_schema!({
                "type": "object",
                "properties": {
                    "status": { "const": "ready" },
                    "backend": { "type": "string", "examples": ["sqlite", "postgres"] }
                },
                "required": ["status", "backend"]
            })
        }),
        errors: &[503],
        ..Operation::DEFAULT
    },
    Operation {
        id: "getMetrics",
        path: "/metrics",
        tag: "operations",
        summary: "Prometheus metrics of this process",
        description: "Scrape it from the internal network only.",
        auth: Auth::Public,
        reply: Reply {
            content: Content::Text("text/plain"),
            ..ok(any_object)
        },
        ..Operation::DEFAULT
    },
    Operation {
        id: "getOpenApi",
        path: "/api/v1/openapi.json",
        tag: "operations",
        summary: "This OpenAPI 3.1 document",
        auth: Auth::Public,
        ..Operation::DEFAULT
    },
    Operation {
        id: "getApiDocs",
        path: "/api/docs",
        tag: "operations",
        summary: "Interactive documentation of this API (HTML)",
        auth: Auth::Public,
        reply: Reply {
            content: Content::Text("text/html"),
            ..ok(any_object)
        },
        ..Operation::DEFAULT
    },
    // locations and products
    Operation {
        id: "createLocation",
        action: Some(Action::CatalogWrite),
        method: Verb::Post,
        path: "/api/v1/locations",
        tag: "catalog",
        summary: "Create a warehouse or store",
        body: Body::Json(typed::<LocationInput>()),
        reply: created(of::<Location>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listLocations",
        action: Some(Action::CatalogRead),
        path: "/api/v1/locations",
        tag: "catalog",
        summary: "List locations by code",
        query: Some(typed::<PageQuery>()),
        reply: ok(of::<Page<Location>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "createProduct",
        action: Some(Action::CatalogWrite),
        method: Verb::Post,
        path: "/api/v1/products",
        tag: "catalog",
        summary: "Create a product",
        description: "A GTIN that belongs to another product gets 409 `gtin_taken`.",
        body: Body::Json(typed::<ProductInput>()),
        reply: created(of::<Product>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listProducts",
        action: Some(Action::CatalogRead),
        path: "/api/v1/products",
        tag: "catalog",
        summary: "List products by SKU",
        query: Some(typed::<PageQuery>()),
        reply: ok(of::<Page<Product>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getProduct",
        action: Some(Action::CatalogRead),
        path: "/api/v1/products/{sku}",
        tag: "catalog",
        summary: "One product",
        reply: ok(of::<Product>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "updateProduct",
        action: Some(Action::CatalogWrite),
        method: Verb::Patch,
        path: "/api/v1/products/{sku}",
        tag: "catalog",
        summary: "Change a product; absent fields stay as they are",
        body: Body::Json(typed::<ProductPatchInput>()),
        reply: ok(of::<Product>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    // stock
    Operation {
        id: "applyMovements",
        action: Some(Action::StockWrite),
        method: Verb::Post,
        path: "/api/v1/stock/movements",
        tag: "stock",
        summary: "Apply a batch of stock movements in one transaction",
        description: "A batch with any invalid movement is refused whole (422 naming `movements[i].field`). Otherwise each movement is `applied`, a `duplicate` of one applied before under its id, or `rejected` for the state it met.",
        body: Body::Json(typed::<stock::Batch>()),
        reply: ok(of::<stock::Results>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "listStockLevels",
        action: Some(Action::StockRead),
        path: "/api/v1/stock",
        tag: "stock",
        summary: "List stock levels by location and SKU",
        query: Some(typed::<stock::LevelQuery>()),
        reply: ok(of::<Page<Level>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getStockLevel",
        action: Some(Action::StockRead),
        path: "/api/v1/stock/{location}/{sku}",
        tag: "stock",
        summary: "The stock figures of one SKU at one location",
        reply: ok(of::<Level>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "listLedger",
        action: Some(Action::StockRead),
        path: "/api/v1/stock/{location}/{sku}/movements",
        tag: "stock",
        summary: "The ledger of one stock level, newest first",
        query: Some(typed::<PageQuery>()),
        reply: ok(of::<Page<Movement>>),
        ..Operation::DEFAULT
    },
    // customers and prices
    Operation {
        id: "createCustomer",
        action: Some(Action::CustomersWrite),
        method: Verb::Post,
        path: "/api/v1/customers",
        tag: "customers",
        summary: "Create a B2B customer",
        body: Body::Json(typed::<CustomerInput>()),
        reply: created(of::<Customer>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listCustomers",
        action: Some(Action::CustomersRead),
        path: "/api/v1/customers",
        tag: "customers",
        summary: "List customers by code",
        query: Some(typed::<PageQuery>()),
        reply: ok(of::<Page<Customer>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getCustomer",
        action: Some(Action::CustomersRead),
        path: "/api/v1/customers/{code}",
        tag: "customers",
        summary: "One customer",
        reply: ok(of::<Customer>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "updateCustomer",
        action: Some(Action::CustomersWrite),
        method: Verb::Patch,
        path: "/api/v1/customers/{code}",
        tag: "customers",
        summary: "Change a customer; absent fields stay as they are",
        body: Body::Json(typed::<CustomerPatch>()),
        reply: ok(of::<Customer>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "getCustomerPrices",
        action: Some(Action::PricesRead),
        path: "/api/v1/customers/{code}/prices",
        tag: "customers",
        summary: "The prices the customer pays today",
        description: "For one SKU (`?sku=`, one item, no paging) or page by page over the catalog, at `?qty=` base units.",
        query: Some(typed::<customers::PriceQuery>()),
        reply: ok(of::<Page<store::Quote>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "putCustomerPriceRules",
        action: Some(Action::PricesWrite),
        method: Verb::Put,
        path: "/api/v1/customers/{code}/price-rules",
        tag: "customers",
        summary: "Replace every price agreed with this customer",
        body: Body::Json(typed::<customers::Rules>()),
        reply: ok(of::<customers::Entries>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getCustomerPriceRules",
        action: Some(Action::PricesRead),
        path: "/api/v1/customers/{code}/price-rules",
        tag: "customers",
        summary: "The prices agreed with this customer",
        reply: ok(of::<customers::Entries>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "putPriceList",
        action: Some(Action::PricesWrite),
        method: Verb::Put,
        path: "/api/v1/price-lists/{code}",
        tag: "customers",
        summary: "Create or replace a price list (tier) with all its entries",
        body: Body::Json(typed::<PriceListInput>()),
        reply: ok(of::<PriceList>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "getPriceList",
        action: Some(Action::PricesRead),
        path: "/api/v1/price-lists/{code}",
        tag: "customers",
        summary: "One price list",
        reply: ok(of::<PriceList>),
        ..Operation::DEFAULT
    },
    // orders
    Operation {
        id: "placeOrder",
        action: Some(Action::OrdersPlace),
        method: Verb::Post,
        path: "/api/v1/orders",
        tag: "orders",
        summary: "Place an order: price, check and reserve every line in one transaction",
        description: "The same `Idempotency-Key` with the same body answers with the same order (201).",
        headers: &[IDEMPOTENCY_KEY],
        body: Body::Json(typed::<OrderInput>()),
        reply: Reply {
            headers: &[ETAG, LOCATION],
            ..created(of::<Order>)
        },
        errors: &[404, 409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listOrders",
        action: Some(Action::OrdersRead),
        path: "/api/v1/orders",
        tag: "orders",
        summary: "List orders, newest first, filtered",
        query: Some(typed::<orders::ListQuery>()),
        reply: ok(of::<orders::OrderPage>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getOrder",
        action: Some(Action::OrdersRead),
        path: "/api/v1/orders/{id}",
        tag: "orders",
        summary: "One order with its lines, shipments and timeline",
        reply: ORDER,
        ..Operation::DEFAULT
    },
    Operation {
        id: "editOrder",
        action: Some(Action::OrdersChange),
        method: Verb::Patch,
        path: "/api/v1/orders/{id}",
        tag: "orders",
        summary: "Change the lines, address or note of an order that has not shipped",
        headers: &[IF_MATCH_REQUIRED],
        body: Body::Json(typed::<OrderPatchInput>()),
        errors: &[409, 412, 428],
        ..ORDER_ACTION
    },
    Operation {
        id: "approveOrder",
        action: Some(Action::OrdersReview),
        path: "/api/v1/orders/{id}/approve",
        summary: "Approve an order that waits for review",
        ..ORDER_ACTION
    },
    Operation {
        id: "rejectOrder",
        action: Some(Action::OrdersReview),
        path: "/api/v1/orders/{id}/reject",
        summary: "Reject an order under review, releasing its reservation",
        body: Body::OptionalJson(typed::<orders::Reason>()),
        ..ORDER_ACTION
    },
    Operation {
        id: "cancelOrder",
        action: Some(Action::OrdersChange),
        path: "/api/v1/orders/{id}/cancel",
        summary: "Cancel an order before its first shipment, releasing its reservation",
        body: Body::OptionalJson(typed::<orders::Reason>()),
        ..ORDER_ACTION
    },
    Operation {
        id: "closeOrder",
        action: Some(Action::OrdersFulfil),
        path: "/api/v1/orders/{id}/close",
        summary: "Close a partially shipped order, releasing what will not ship",
        body: Body::OptionalJson(typed::<orders::Reason>()),
        ..ORDER_ACTION
    },
    Operation {
        id: "shipOrder",
        action: Some(Action::OrdersFulfil),
        path: "/api/v1/orders/{id}/ship",
        summary: "Ship some or all of an order's lines",
        body: Body::Json(typed::<ShipInput>()),
        ..ORDER_ACTION
    },
    Operation {
        id: "deliverOrder",
        action: Some(Action::OrdersFulfil),
        path: "/api/v1/orders/{id}/deliver",
        summary: "Mark a shipped order delivered",
        ..ORDER_ACTION
    },
    Operation {
        id: "returnOrder",
        action: Some(Action::OrdersFulfil),
        path: "/api/v1/orders/{id}/return",
        summary: "Take back goods of a delivered order",
        body: Body::Json(typed::<ReturnInput>()),
        ..ORDER_ACTION
    },
    Operation {
        id: "reorder",
        action: Some(Action::OrdersPlace),
        path: "/api/v1/orders/{id}/reorder",
        summary: "Place a new order with the lines of an old one, priced and checked as of now",
        headers: &[IDEMPOTENCY_KEY],
        reply: Reply {
            headers: &[ETAG, LOCATION],
            ..created(of::<Order>)
        },
        errors: &[409],
        ..ORDER_ACTION
    },
    // events
    Operation {
        id: "listEvents",
        action: Some(Action::EventsRead),
        path: "/api/v1/events",
        tag: "events",
        summary: "Events after a seq, oldest first",
        query: Some(typed::<events::EventQuery>()),
        reply: ok(of::<events::EventPage>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "streamEvents",
        action: Some(Action::EventsRead),
        path: "/api/v1/events/stream",
        tag: "events",
        summary: "Live events as Server-Sent Events",
        description: "`id:` is the seq, `event:` the type, `data:` the JSON event. Starts after `Last-Event-ID` (a reconnecting client resumes where it stopped), else after `?after=`, else at the present. The stream does not end.",
        query: Some(typed::<events::EventQuery>()),
        headers: &[Header {
            name: "Last-Event-ID",
            required: false,
            description: "The seq of the last event received; the stream resumes after it.",
            pattern: "^[0-9]{1,18}$",
        }],
        reply: Reply {
            content: Content::Text("text/event-stream"),
            ..ok(any_object)
        },
        ..Operation::DEFAULT
    },
    // scanning
    Operation {
        id: "scanCode",
        action: Some(Action::CatalogRead),
        path: "/api/v1/scan",
        tag: "scan",
        summary: "Decode a scanned barcode or RFID tag, and find its product",
        description: "An undecodable code is answered with `valid: false` and the reason, not an error. `product` is there when the catalog knows the code's GTIN.",
        query: Some(typed::<scan::ScanQuery>()),
        reply: ok(|g| {
            let (barcode, epc, product) = (
                g.subschema_for::<gs1::ScanReport>(),
                g.subschema_for::<gs1::EpcReport>(),
                g.subschema_for::<scan::Found>(),
            );
            json_schema!({
                "anyOf": [barcode, epc],
                "properties": { "product": product }
            })
        }),
        ..Operation::DEFAULT
    },
    // users, login, tokens and the audit trail
    Operation {
        id: "createUser",
        action: Some(Action::UsersManage),
        method: Verb::Post,
        path: "/api/v1/users",
        tag: "auth",
        summary: "Create a user with a role and its bindings",
        description: "Passwords are 10 to 256 characters. A `customer` binds the user to one customer, `locations` to locations, `scopes` an integration to actions.",
        body: Body::Json(typed::<users::NewUserInput>()),
        reply: created(of::<store::User>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listUsers",
        action: Some(Action::UsersManage),
        path: "/api/v1/users",
        tag: "auth",
        summary: "List users by name",
        query: Some(typed::<PageQuery>()),
        reply: ok(of::<Page<store::User>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "disableUser",
        action: Some(Action::UsersManage),
        method: Verb::Post,
        path: "/api/v1/users/{username}/disable",
        tag: "auth",
        summary: "Disable a user and revoke its tokens",
        reply: ok(of::<store::User>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "logIn",
        method: Verb::Post,
        path: "/api/v1/auth/login",
        tag: "auth",
        summary: "Log in with a username and password: a token for 12 hours",
        description: "Wrong credentials answer 401 without saying which part was wrong; after 5 failures in a row the user must wait (429 with `Retry-After`), doubling each time.",
        auth: Auth::Public,
        body: Body::Json(typed::<users::LoginInput>()),
        reply: created(of::<users::Session>),
        errors: &[401, 429],
        ..Operation::DEFAULT
    },
    Operation {
        id: "logOut",
        method: Verb::Post,
        path: "/api/v1/auth/logout",
        tag: "auth",
        summary: "Revoke the token this request carries",
        reply: NO_CONTENT,
        ..Operation::DEFAULT
    },
    Operation {
        id: "getMe",
        path: "/api/v1/auth/me",
        tag: "auth",
        summary: "Who the token is and what it is granted",
        reply: ok(of::<users::Me>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "createToken",
        action: Some(Action::TokensManage),
        method: Verb::Post,
        path: "/api/v1/tokens",
        tag: "auth",
        summary: "Issue an API token (the secret is shown once)",
        body: Body::Json(typed::<users::NewTokenInput>()),
        reply: created(of::<users::IssuedToken>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "listTokens",
        action: Some(Action::TokensManage),
        path: "/api/v1/tokens",
        tag: "auth",
        summary: "Every API token, without its secret",
        reply: ok(of::<Page<users::TokenView>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "revokeToken",
        action: Some(Action::TokensManage),
        method: Verb::Post,
        path: "/api/v1/tokens/{id}/revoke",
        tag: "auth",
        summary: "Revoke a token",
        reply: ok(of::<users::TokenView>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "listAudit",
        action: Some(Action::AuditRead),
        path: "/api/v1/audit",
        tag: "auth",
        summary: "The audit trail, oldest first",
        description: "`actor` matches exactly, `target` is a path prefix, `from` and `to` are RFC 3339 times or dates.",
        query: Some(typed::<audit::AuditQuery>()),
        reply: ok(of::<Page<store::AuditEntry>>),
        ..Operation::DEFAULT
    },
    // alerts, thresholds, sinks
    Operation {
        id: "listSinks",
        action: Some(Action::AlertsRead),
        path: "/api/v1/sinks",
        tag: "alerts",
        summary: "Where each broker relay stands: cursor, lag, lease, last error",
        description: "Only for callers who see every location.",
        reply: ok(of::<sinks::Sinks>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "listAlerts",
        action: Some(Action::AlertsRead),
        path: "/api/v1/alerts",
        tag: "alerts",
        summary: "Alerts, newest first, filtered",
        description: "A caller bound to several locations names one in `location`.",
        query: Some(typed::<alerts::AlertQuery>()),
        reply: ok(of::<Page<store::alerts::Alert>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getAlert",
        action: Some(Action::AlertsRead),
        path: "/api/v1/alerts/{id}",
        tag: "alerts",
        summary: "One alert",
        reply: ok(of::<store::alerts::Alert>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "acknowledgeAlert",
        action: Some(Action::AlertsManage),
        method: Verb::Post,
        path: "/api/v1/alerts/{id}/acknowledge",
        tag: "alerts",
        summary: "Acknowledge an open alert (again: unchanged)",
        reply: ok(of::<store::alerts::Alert>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listThresholds",
        action: Some(Action::AlertsRead),
        path: "/api/v1/stock/thresholds",
        tag: "alerts",
        summary: "Low-stock thresholds by location and SKU",
        query: Some(typed::<alerts::ThresholdQuery>()),
        reply: ok(of::<Page<store::alerts::Threshold>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getThreshold",
        action: Some(Action::AlertsRead),
        path: "/api/v1/stock/{location}/{sku}/threshold",
        tag: "alerts",
        summary: "The low-stock threshold of one level",
        reply: ok(of::<store::alerts::Threshold>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "setThreshold",
        action: Some(Action::AlertsManage),
        method: Verb::Put,
        path: "/api/v1/stock/{location}/{sku}/threshold",
        tag: "alerts",
        summary: "Set a level's low-stock threshold",
        description: "A level already at or below it raises its alert at once.",
        body: Body::Json(typed::<domain::alert::ThresholdInput>()),
        reply: ok(of::<store::alerts::Threshold>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "removeThreshold",
        action: Some(Action::AlertsManage),
        method: Verb::Delete,
        path: "/api/v1/stock/{location}/{sku}/threshold",
        tag: "alerts",
        summary: "Remove a level's low-stock threshold",
        reply: NO_CONTENT,
        ..Operation::DEFAULT
    },
    // webhooks
    Operation {
        id: "createWebhook",
        action: Some(Action::WebhooksManage),
        method: Verb::Post,
        path: "/api/v1/webhooks",
        tag: "webhooks",
        summary: "Subscribe a URL to events (the signing secret is shown once)",
        body: Body::Json(typed::<domain::webhook::WebhookInput>()),
        reply: created(of::<webhooks::Created>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "listWebhooks",
        action: Some(Action::WebhooksManage),
        path: "/api/v1/webhooks",
        tag: "webhooks",
        summary: "List subscriptions",
        query: Some(typed::<PageQuery>()),
        reply: ok(of::<Page<webhooks::WebhookView>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getWebhook",
        action: Some(Action::WebhooksManage),
        path: "/api/v1/webhooks/{id}",
        tag: "webhooks",
        summary: "One subscription",
        reply: ok(of::<webhooks::WebhookView>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "updateWebhook",
        action: Some(Action::WebhooksManage),
        method: Verb::Patch,
        path: "/api/v1/webhooks/{id}",
        tag: "webhooks",
        summary: "Change a subscription; absent fields stay as they are",
        body: Body::Json(typed::<domain::webhook::WebhookPatchInput>()),
        reply: ok(of::<webhooks::WebhookView>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "deleteWebhook",
        action: Some(Action::WebhooksManage),
        method: Verb::Delete,
        path: "/api/v1/webhooks/{id}",
        tag: "webhooks",
        summary: "Delete a subscription",
        reply: NO_CONTENT,
        ..Operation::DEFAULT
    },
    Operation {
        id: "listWebhookDeliveries",
        action: Some(Action::WebhooksManage),
        path: "/api/v1/webhooks/{id}/deliveries",
        tag: "webhooks",
        summary: "The delivery log of a subscription, newest first",
        query: Some(typed::<PageQuery>()),
        reply: ok(of::<Page<store::webhooks::Delivery>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "redeliverWebhook",
        action: Some(Action::WebhooksManage),
        method: Verb::Post,
        path: "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        tag: "webhooks",
        summary: "Send a logged attempt's event once more, now",
        reply: ok(of::<store::webhooks::Delivery>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "replayWebhook",
        action: Some(Action::WebhooksManage),
        method: Verb::Post,
        path: "/api/v1/webhooks/{id}/replay",
        tag: "webhooks",
        summary: "Deliver again, in order, every wanted event from `from_seq` on",
        query: Some(typed::<webhooks::ReplayQuery>()),
        reply: Reply {
            status: 202,
            description: "Accepted",
            ..ok(of::<webhooks::WebhookView>)
        },
        ..Operation::DEFAULT
    },
    // the shop floor
    Operation {
        id: "registerDevice",
        action: Some(Action::DevicesManage),
        method: Verb::Post,
        path: "/api/v1/devices",
        tag: "devices",
        summary: "Register a device with a token bound to its location (shown once)",
        body: Body::Json(typed::<domain::device::DeviceInput>()),
        reply: created(of::<devices::Registered>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listDevices",
        action: Some(Action::DevicesManage),
        path: "/api/v1/devices",
        tag: "devices",
        summary: "List devices by id",
        query: Some(typed::<devices::ListQuery>()),
        reply: ok(of::<Page<domain::device::Device>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getDevice",
        action: Some(Action::DevicesManage),
        path: "/api/v1/devices/{id}",
        tag: "devices",
        summary: "One device",
        reply: ok(of::<domain::device::Device>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "disableDevice",
        action: Some(Action::DevicesManage),
        method: Verb::Post,
        path: "/api/v1/devices/{id}/disable",
        tag: "devices",
        summary: "Disable a device: its token stops working",
        reply: ok(of::<domain::device::Device>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "recordSale",
        action: Some(Action::PosSell),
        method: Verb::Post,
        path: "/api/v1/pos/sales",
        tag: "pos",
        summary: "Record a sale, idempotent by `sale_id`",
        description: "Applied even when it drives stock negative. The same `sale_id` with the same body answers 200 with the first receipt; with another body 409.",
        body: Body::Json(typed::<domain::pos::SaleInput>()),
        reply: RECEIPT,
        errors: &[404, 409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "recordReturn",
        action: Some(Action::PosSell),
        method: Verb::Post,
        path: "/api/v1/pos/returns",
        tag: "pos",
        summary: "Record a return, of a known sale or without one",
        body: Body::Json(typed::<domain::pos::ReturnInput>()),
        reply: RECEIPT,
        errors: &[404, 409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "getSale",
        action: Some(Action::PosSell),
        path: "/api/v1/pos/sales/{id}",
        tag: "pos",
        summary: "A sale with the units returned of each line since",
        reply: ok(of::<domain::pos::Receipt>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getReturn",
        action: Some(Action::PosSell),
        path: "/api/v1/pos/returns/{id}",
        tag: "pos",
        summary: "A return",
        reply: ok(of::<domain::pos::Receipt>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "recordRfidReads",
        action: Some(Action::RfidRead),
        method: Verb::Post,
        path: "/api/v1/rfid/reads",
        tag: "rfid",
        summary: "Record a batch of tag reads",
        description: "Each read is accepted, a duplicate within the window, of an unknown GTIN, or invalid; the answer counts every class. Reads feed the open count at the location.",
        body: Body::Json(typed::<domain::rfid::ReadsInput>()),
        reply: ok(of::<store::ReadSummary>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "listRfidTags",
        action: Some(Action::StockRead),
        path: "/api/v1/rfid/tags",
        tag: "rfid",
        summary: "The tags seen at a location, by EPC",
        query: Some(typed::<rfid::TagQuery>()),
        reply: ok(of::<Page<store::SeenTag>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "openCount",
        action: Some(Action::CountsManage),
        method: Verb::Post,
        path: "/api/v1/counts",
        tag: "counts",
        summary: "Open a cycle count with a snapshot of the book figures in scope",
        body: Body::Json(typed::<domain::count::CountInput>()),
        reply: created(of::<domain::count::Count>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "getCount",
        action: Some(Action::CountsManage),
        path: "/api/v1/counts/{id}",
        tag: "counts",
        summary: "Expected, counted and variance per SKU",
        reply: ok(of::<domain::count::Count>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "addCountScans",
        action: Some(Action::CountsManage),
        method: Verb::Post,
        path: "/api/v1/counts/{id}/scans",
        tag: "counts",
        summary: "Add scanned quantities; a `batch_id` sent again is not counted twice",
        body: Body::Json(typed::<domain::count::ScansInput>()),
        reply: ok(of::<domain::count::Count>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "approveCount",
        action: Some(Action::CountsManage),
        method: Verb::Post,
        path: "/api/v1/counts/{id}/approve",
        tag: "counts",
        summary: "Approve: post a count correction per SKU that differs",
        reply: ok(of::<domain::count::Count>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "cancelCount",
        action: Some(Action::CountsManage),
        method: Verb::Post,
        path: "/api/v1/counts/{id}/cancel",
        tag: "counts",
        summary: "Cancel: nothing is posted",
        reply: ok(of::<domain::count::Count>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "createTransfer",
        action: Some(Action::TransfersManage),
        method: Verb::Post,
        path: "/api/v1/transfers",
        tag: "transfers",
        summary: "Create a transfer between two locations",
        description: "The same `id` with the same body answers 200 with the first transfer.",
        body: Body::Json(typed::<domain::transfer::TransferInput>()),
        reply: Reply {
            also: &[(200, "The same transfer was created before")],
            ..created(of::<domain::transfer::Transfer>)
        },
        errors: &[404, 409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "listTransfers",
        action: Some(Action::TransfersManage),
        path: "/api/v1/transfers",
        tag: "transfers",
        summary: "List transfers by id, filtered",
        query: Some(typed::<transfers::ListQuery>()),
        reply: ok(of::<Page<domain::transfer::Transfer>>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "getTransfer",
        action: Some(Action::TransfersManage),
        path: "/api/v1/transfers/{id}",
        tag: "transfers",
        summary: "One transfer",
        reply: ok(of::<domain::transfer::Transfer>),
        ..Operation::DEFAULT
    },
    Operation {
        id: "shipTransfer",
        action: Some(Action::TransfersManage),
        method: Verb::Post,
        path: "/api/v1/transfers/{id}/ship",
        tag: "transfers",
        summary: "Ship: out at the source, incoming at the destination",
        description: "The source's available stock must cover every line, or nothing ships (409 with the shortages).",
        reply: ok(of::<domain::transfer::Transfer>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "receiveTransfer",
        action: Some(Action::TransfersManage),
        method: Verb::Post,
        path: "/api/v1/transfers/{id}/receive",
        tag: "transfers",
        summary: "Receive what arrived (no body: exactly what was shipped)",
        body: Body::OptionalJson(typed::<domain::transfer::ReceiveInput>()),
        reply: ok(of::<domain::transfer::Transfer>),
        errors: &[409],
        ..Operation::DEFAULT
    },
    Operation {
        id: "getEdgeStatus",
        action: Some(Action::StockRead),
        path: "/api/v1/edge/status",
        tag: "edge",
        summary: "This edge node's sync state (404 on a node that is not one)",
        reply: ok(of::<crate::edge::Status>),
        errors: &[404],
        ..Operation::DEFAULT
    },
    Operation {
        id: "getEdgeSnapshot",
        action: Some(Action::StockRead),
        path: "/api/v1/edge/snapshot",
        tag: "edge",
        summary: "A store's levels with the event head they reflect, for a new edge node",
        query: Some(typed::<edge::SnapshotQuery>()),
        reply: ok(of::<store::edge::StockSnapshot>),
        ..Operation::DEFAULT
    },
];

/// The table entry with this id.
pub fn operation(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// Routes made only from entries of [`OPERATIONS`]: the table decides each route's method
/// and path, so what is routed is what is documented.
pub struct Routes(Router<AppState>);

impl Default for Routes {
    fn default() -> Self {
        Self(Router::new())
    }
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes the operation `id` of [`OPERATIONS`] to `handler`.
    ///
    /// # Panics
    /// When `id` is not in the table (so every test that builds the app fails), or when it
    /// is routed twice (axum refuses overlapping routes).
    pub fn op<H, T>(self, id: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let op = operation(id).unwrap_or_else(|| {
            panic!("operation `{id}` is not in the route table (crates/server/src/openapi.rs)")
        });
        #[cfg(debug_assertions)]
        if let Err(mismatch) = check_extractors(op, std::any::type_name::<T>()) {
            panic!(
                "the handler of `{id}` does not match its route table entry: {mismatch}\n(extractors: {})",
                std::any::type_name::<T>()
            );
        }
        let route = match op.auth {
            Auth::Public => on(op.method.filter(), handler),
            Auth::Bearer => on(
                op.method.filter(),
                Guarded {
                    handler,
                    action: op.action,
                },
            ),
        };
        Self(self.0.route(op.path, route))
    }

    /// These routes and `other`'s.
    pub fn merge(self, other: Routes) -> Self {
        Self(self.0.merge(other.0))
    }

    /// The axum router.
    pub fn into_router(self) -> Router<AppState> {
        self.0
    }
}

/// A bearer route's handler behind its entry's permission: the token is authenticated (401)
/// and, when the entry names an action, the caller's role must allow it somewhere (403)
/// before any of the handler's extractors read the path, the query or the body. The
/// [`Caller`] is left in the request's extensions, where the handler's `Caller` extractor
/// takes it from (so the token is looked up and rate-limited once).
#[derive(Clone)]
struct Guarded<H> {
    handler: H,
    action: Option<Action>,
}

impl<H, T> Handler<T, AppState> for Guarded<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, request: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let caller = match Caller::from_request_parts(&mut parts, &state).await {
                Ok(caller) => caller,
                Err(refused) => return refused.into_response(),
            };
            if let Some(action) = self.action
                && let Err(refused) = caller.may(action)
            {
                return refused.into_response();
            }
            parts.extensions.insert(caller);
            self.handler
                .call(Request::from_parts(parts, body), state)
                .await
        })
    }
}

/// Checks that a handler extracts what its entry documents: a bearer token (`Caller`) for
/// a bearer route only, the documented body and query types, and path parameters when the
/// path has some. `extractors` is the name of the handler's extractor tuple. Type names
/// are only meant for diagnostics, so this runs in debug builds (tests) only.
#[cfg(debug_assertions)]
fn check_extractors(op: &Operation, extractors: &str) -> Result<(), String> {
    let has = |needle: &str| extractors.contains(needle);
    let expect = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
    expect(
        has("::Caller") == (op.auth == Auth::Bearer),
        format!("auth is {:?}", op.auth),
    )?;
    match op.query {
        Some(query) => expect(
            has(&format!("extract::Query<{}>", (query.name)())),
            format!("query is {}", (query.name)()),
        )?,
        None => expect(!has("extract::Query<"), "no query documented".to_owned())?,
    }
    match op.body {
        Body::Json(body) => expect(
            has(&format!("extract::Json<{}>", (body.name)())),
            format!("body is {}", (body.name)()),
        )?,
        Body::OptionalJson(body) => expect(
            has(&format!("extract::OptionalJson<{}>", (body.name)())),
            format!("optional body is {}", (body.name)()),
        )?,
        Body::None => expect(
            !has("extract::Json<") && !has("extract::OptionalJson<"),
            "no body documented".to_owned(),
        )?,
    }
    expect(
        has("extract::path::Path<") == op.path_params().next().is_some(),
        "path parameters".to_owned(),
    )
}

/// The routes of the document and the docs page.
pub(crate) fn routes() -> Routes {
    Routes::new()
        .op("getOpenApi", serve_document)
        .op("getApiDocs", serve_docs_page)
}

async fn serve_document() -> Response {
    static TEXT: LazyLock<String> = LazyLock::new(|| document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], TEXT.as_str()).into_response()
}

/// The docs page: HTML with its style and script inline, allowed by their hashes in a
/// Content-Security-Policy that allows nothing else but requests to this server.
async fn serve_docs_page() -> Response {
    static PAGE: LazyLock<(String, HeaderValue)> = LazyLock::new(|| {
        let (style, script) = (include_str!("docs/docs.css"), include_str!("docs/docs.js"));
        let html = include_str!("docs/docs.html")
            .replace("/*STYLE*/", style)
            .replace("/*SCRIPT*/", script);
        let hash = |text: &str| format!("'sha256-{}'", base64(&Sha256::digest(text)));
        let policy = format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash(script),
            hash(style)
        );
        let policy = HeaderValue::from_str(&policy)
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        (html, policy)
    });
    let (html, policy) = &*PAGE;
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, policy.clone()),
        ],
        html.as_str(),
    )
        .into_response()
}

/// Standard base64 with padding, for CSP hashes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The OpenAPI document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(build);
    &DOCUMENT
}

const TAGS: &[(&str, &str)] = &[
    ("catalog", "Locations and products."),
    ("stock", "Stock movements in; levels and the ledger out."),
    ("customers", "B2B customers and the prices they pay."),
    (
        "orders",
        "Placing, reviewing, shipping and returning orders.",
    ),
    ("events", "The event log, as pages and as a live stream."),
    ("scan", "Barcodes and RFID tags."),
    (
        "auth",
        "Users, logging in and out, API tokens, and the audit trail.",
    ),
    (
        "alerts",
        "Alerts, low-stock thresholds, and the state of the broker relays.",
    ),
    (
        "webhooks",
        "Subscriptions to the event log and their deliveries.",
    ),
    (
        "devices",
        "POS terminals and RFID readers with their device tokens.",
    ),
    ("pos", "Sales and returns from the tills."),
    ("rfid", "RFID tag reads and the tags seen per location."),
    ("counts", "Cycle counts."),
    ("transfers", "Stock moved between locations."),
    (
        "edge",
        "Store edge nodes: their sync state and HQ's snapshot for them.",
    ),
    (
        "operations",
        "Probes, metrics and this documentation; no token needed.",
    ),
];

fn generator(contract: Contract, inline: bool) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
            s.contract = contract;
            s.inline_subschemas = inline;
        })
        .into_generator()
}

fn build() -> Value {
    // Requests are described as they are read, replies as they are written: a field with a
    // default may be left out of a request but is always in a reply.
    let mut requests = generator(Contract::Deserialize, false);
    let mut replies = generator(Contract::Serialize, false);
    let mut queries = generator(Contract::Deserialize, true);
    let problem = replies.subschema_for::<Problem<'static>>();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for op in OPERATIONS {
        let mut parameters: Vec<Value> = op
            .path_params()
            .map(|name| path_parameter(op, name))
            .collect();
        if let Some(query) = op.query {
            parameters.extend(query_parameters((query.schema)(&mut queries)));
        }
        parameters.extend(op.headers.iter().map(|h| {
            json!({
                "name": h.name, "in": "header", "required": h.required,
                "description": h.description, "schema": string(h.pattern)
            })
        }));
        let mut operation = json!({
            "operationId": op.id,
            "tags": [op.tag],
            "summary": op.summary,
            "security": match op.auth {
                Auth::Public => json!([]),
                Auth::Bearer => json!([{ "bearer": [] }]),
            },
            "responses": responses(op, &mut replies, &problem),
        });
        if !op.description.is_empty() {
            operation["description"] = json!(op.description);
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(action) = op.action {
            operation["x-stockbook-action"] = json!(action.as_str());
        }
        if let Body::Json(body) | Body::OptionalJson(body) = op.body {
            operation["requestBody"] = json!({
                "required": matches!(op.body, Body::Json(_)),
                "content": { "application/json": { "schema": (body.schema)(&mut requests) } }
            });
        }
        paths
            .entry(op.path)
            .or_default()
            .insert(op.method.as_str().to_ascii_lowercase(), operation);
    }
    let mut schemas = replies.take_definitions(true);
    let mut request_schemas = requests.take_definitions(true);
    // A type read and written under one name may differ between the two (defaults): the
    // request side of such a type gets its own name.
    let renames: BTreeMap<String, String> = request_schemas
        .iter()
        .filter(|(name, schema)| schemas.get(*name).is_some_and(|s| s != *schema))
        .map(|(name, _)| (name.clone(), format!("{name}Request")))
        .collect();
    for (name, mut schema) in std::mem::take(&mut request_schemas) {
        rename_refs(&mut schema, &renames);
        schemas.insert(renames.get(&name).cloned().unwrap_or(name), schema);
    }
    for item in paths.values_mut() {
        for operation in item.values_mut() {
            if let Some(body) = operation.get_mut("requestBody") {
                rename_refs(body, &renames);
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Stockbook API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "B2B ordering and store inventory. Errors are `application/problem+json` (RFC 9457) with a stable `code`; a 4xx response means the request changed nothing. Interactive documentation: `/api/docs`.",
        },
        "tags": TAGS.iter().map(|(name, description)| json!({ "name": name, "description": description })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `stockbook token issue`: `sb_` and 64 hex digits.",
                }
            }
        }
    })
}

/// A string schema, with a pattern unless it is "".
fn string(pattern: &str) -> Value {
    match pattern {
        "" => json!({ "type": "string" }),
        pattern => json!({ "type": "string", "pattern": pattern }),
    }
}

fn path_parameter(op: &Operation, name: &str) -> Value {
    let mut codes = generator(Contract::Deserialize, true);
    let number = || json_schema!({ "type": "string", "pattern": "^[1-9][0-9]{0,17}$" });
    let (description, schema) = match (name, op.tag) {
        ("sku", _) => ("The product's SKU.", of::<Code<64>>(&mut codes)),
        ("location", _) => ("The location's code.", of::<Code<32>>(&mut codes)),
        ("code", _) => (
            "The customer's or price list's code.",
            of::<Code<32>>(&mut codes),
        ),
        ("username", _) => (
            "The user's name.",
            json_schema!({ "type": "string", "pattern": "^[A-Za-z0-9._@-]{3,64}$" }),
        ),
        ("delivery_id", _) => ("The logged delivery attempt's id.", number()),
        ("id", "orders") => ("The order's id.", of::<Code<64>>(&mut codes)),
        ("id", "alerts") => ("The alert's id.", number()),
        ("id", "webhooks") => ("The subscription's id.", number()),
        ("id", "auth") => ("The token's id.", number()),
        ("id", "devices") => ("The device's id.", of::<Code<64>>(&mut codes)),
        ("id", "pos") => ("The sale's or return's id.", of::<Code<128>>(&mut codes)),
        ("id", "counts") => ("The count's id.", of::<Code<64>>(&mut codes)),
        ("id", "transfers") => ("The transfer's id.", of::<Code<64>>(&mut codes)),
        _ => ("", json_schema!({ "type": "string", "minLength": 1 })),
    };
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": schema
    })
}

/// One parameter per property of a query struct's schema.
fn query_parameters(schema: Schema) -> Vec<Value> {
    let object = schema.as_object().cloned().unwrap_or_default();
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(Value::Object(properties)) = object.get("properties") else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            let description = schema
                .as_object_mut()
                .and_then(|s| s.remove("description"))
                .unwrap_or(json!(""));
            not_null(&mut schema);
            json!({
                "name": name, "in": "query", "required": required.contains(&name.as_str()),
                "description": description, "schema": schema
            })
        })
        .collect()
}

/// Removes `null` from a parameter schema: a query parameter is absent, never null.
fn not_null(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [one] = types.as_slice() {
            let one = one.clone();
            object.insert("type".to_owned(), one);
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = object.get_mut(key) {
            options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
            if let [one] = options.as_slice() {
                let one = one.clone();
                object.remove(key);
                if let Value::Object(one) = one {
                    object.extend(one);
                }
            }
        }
    }
}

fn rename_refs(value: &mut Value, renames: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref"
                    && let Some(name) = v
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    && let Some(new) = renames.get(name)
                {
                    *v = json!(format!("#/components/schemas/{new}"));
                } else {
                    rename_refs(v, renames);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renames)),
        _ => {}
    }
}

fn responses(op: &Operation, replies: &mut SchemaGenerator, problem: &Schema) -> Value {
    let mut out = Map::new();
    let reply = &op.reply;
    let mut success = json!({ "description": reply.description });
    match reply.content {
        Content::Json(schema) => {
            success["content"] = json!({ "application/json": { "schema": schema(replies) } });
        }
        Content::Text(media) => {
            success["content"] = json!({ media: { "schema": { "type": "string" } } });
        }
        Content::Empty => {}
    }
    if !reply.headers.is_empty() {
        success["headers"] = reply
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    json!({ "description": h.description, "required": h.required, "schema": { "type": "string" } }),
                )
            })
            .collect::<Map<_, _>>()
            .into();
    }
    for (status, description) in reply.also {
        let mut also = success.clone();
        also["description"] = json!(description);
        out.insert(status.to_string(), also);
    }
    out.insert(reply.status.to_string(), success);
    let mut errors: Vec<u16> = op.errors.to_vec();
    if op.auth == Auth::Bearer {
        // Every token is rate limited.
        errors.extend([401, 429]);
    }
    if op.action.is_some() {
        errors.push(403);
    }
    if !matches!(op.body, Body::None) {
        errors.extend([400, 413, 415, 422]);
    }
    if op.query.is_some() || op.path_params().next().is_some() {
        errors.push(422);
    }
    if op.path_params().next().is_some() {
        errors.push(404);
    }
    errors.sort_unstable();
    errors.dedup();
    let problem_content = json!({ "application/problem+json": { "schema": problem } });
    for status in errors {
        out.insert(
            status.to_string(),
            json!({ "description": error_description(status), "content": problem_content }),
        );
    }
    out.insert(
        "default".to_owned(),
        json!({
            "description": "Any other error, e.g. 405 `method_not_allowed`, 503 `unavailable` or 500 `internal`.",
            "content": problem_content
        }),
    );
    Value::Object(out)
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => {
            "The body is not valid JSON (`malformed_json`) or could not be read (`malformed_body`)."
        }
        401 => "No valid bearer token (`unauthorized`).",
        403 => {
            "The caller's role, scopes or locations do not allow this (`forbidden`, naming the action or the location)."
        }
        404 => "Not found (`not_found`).",
        409 => {
            "The request conflicts with the stored state; `code` says how (`already_exists`, `gtin_taken`, `insufficient_stock` with `shortages`, `price_changed` with `prices`, `invalid_transition`, `customer_suspended`, `credit_limit_exceeded`)."
        }
        412 => "`If-Match` names another version (`version_mismatch`, with `current_version`).",
        413 => "The body is over 2 MiB (`payload_too_large`).",
        415 => "The body is not sent as JSON (`unsupported_media_type`).",
        422 => {
            "Invalid input (`validation_failed`, with `errors` naming each field; or `idempotency_key_reused`)."
        }
        428 => "`If-Match` is required (`if_match_required`).",
        429 => {
            "Too many requests for this token, or too many failed logins (`rate_limited`); `Retry-After` says when to retry."
        }
        503 => "The database cannot be reached; retry later (`unavailable`).",
        _ => "Error.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }

    #[test]
    fn operation_ids_are_unique_and_every_path_parameter_is_described() {
        let mut ids: Vec<&str> = OPERATIONS.iter().map(|op| op.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "duplicate operation ids");
        for op in OPERATIONS {
            assert!(!op.summary.is_empty() && !op.tag.is_empty(), "{}", op.id);
            assert!(TAGS.iter().any(|(t, _)| *t == op.tag), "{}: tag", op.id);
            for name in op.path_params() {
                assert_ne!(
                    path_parameter(op, name)["description"],
                    "",
                    "{}: {name}",
                    op.id
                );
            }
        }
    }
}
