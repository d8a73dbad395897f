//! Who may do what: roles, grants and the one permission table.
//!
//! Every request is made by a [`Principal`] holding a [`Grant`]: a [`Role`] and, depending
//! on it, the customer it acts for, the locations it is assigned to, or the scopes of an
//! integration token. What a role may do is decided in exactly one place,
//! [`permission`], as a [`Reach`] per (role, [`Action`]); handlers ask it through
//! [`Principal::reach`] / [`Principal::check`] and never decide ad hoc. The same table is
//! printed in `docs/security.md`, and a server test walks every route × every role.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::ids::LocationCode;
use crate::validation::{Errors, FieldError, Validated};

/// The role a user or token acts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, tokens and the audit trail.
    Admin,
    /// All business operations at all locations; no user administration.
    Manager,
    /// Order desk and warehouse work at its assigned locations.
    Staff,
    /// Point of sale at its assigned stores.
    Clerk,
    /// A B2B customer's user: only its own customer's orders, prices and events.
    Customer,
    /// A system (ERP, WMS) with explicit scopes such as `stock:write`.
    Integration,
    /// A POS terminal or RFID reader bound to one location.
    Device,
}

impl Role {
    /// Every role, in the order of the permission table.
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Manager,
        Role::Staff,
        Role::Clerk,
        Role::Customer,
        Role::Integration,
        Role::Device,
    ];

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Staff => "staff",
            Role::Clerk => "clerk",
            Role::Customer => "customer",
            Role::Integration => "integration",
            Role::Device => "device",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role '{s}' (known: admin, manager, staff, clerk, customer, integration, device)"
                )
            })
    }
}

/// Something a request does, at the granularity the permission table decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read products, locations, pack units; resolve a scanned code.
    CatalogRead,
    /// Create or change products and locations, import the catalog.
    CatalogWrite,
    /// Read stock levels and the ledger.
    StockRead,
    /// Post stock movements (receipts, adjustments, …).
    StockWrite,
    /// Read customers.
    CustomersRead,
    /// Create or change customers.
    CustomersWrite,
    /// Read price lists, customer prices and quotes.
    PricesRead,
    /// Set price lists and customer prices.
    PricesWrite,
    /// Read orders and their history.
    OrdersRead,
    /// Place an order (or reorder one).
    OrdersPlace,
    /// Edit or cancel an open order.
    OrdersChange,
    /// Approve or reject an order under review.
    OrdersReview,
    /// Ship, deliver, take back or close an order.
    OrdersFulfil,
    /// Read the event log and its live stream.
    EventsRead,
    /// Create, list and disable users.
    UsersManage,
    /// Issue, list and revoke API tokens.
    TokensManage,
    /// Read the audit trail.
    AuditRead,
    /// Manage webhook subscriptions and their deliveries.
    WebhooksManage,
    /// Read alerts and the state of event sinks.
    AlertsRead,
    /// Acknowledge alerts, set stock thresholds.
    AlertsManage,
    /// Record POS sales and returns.
    PosSell,
    /// Report RFID reads.
    RfidRead,
    /// Open, feed, approve or cancel cycle counts.
    CountsManage,
    /// Create, ship and receive transfers.
    TransfersManage,
    /// Register devices and issue their tokens.
    DevicesManage,
}

impl Action {
    /// Every action, in the order of the permission table.
    pub const ALL: [Action; 25] = [
        Action::CatalogRead,
        Action::CatalogWrite,
        Action::StockRead,
        Action::StockWrite,
        Action::CustomersRead,
        Action::CustomersWrite,
        Action::PricesRead,
        Action::PricesWrite,
        Action::OrdersRead,
        Action::OrdersPlace,
        Action::OrdersChange,
        Action::OrdersReview,
        Action::OrdersFulfil,
        Action::EventsRead,
        Action::UsersManage,
        Action::TokensManage,
        Action::AuditRead,
        Action::WebhooksManage,
        Action::AlertsRead,
        Action::AlertsManage,
        Action::PosSell,
        Action::RfidRead,
        Action::CountsManage,
        Action::TransfersManage,
        Action::DevicesManage,
    ];

    /// The action's name in errors, the audit trail and the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CatalogRead => "catalog_read",
            Action::CatalogWrite => "catalog_write",
            Action::StockRead => "stock_read",
            Action::StockWrite => "stock_write",
            Action::CustomersRead => "customers_read",
            Action::CustomersWrite => "customers_write",
            Action::PricesRead => "prices_read",
            Action::PricesWrite => "prices_write",
            Action::OrdersRead => "orders_read",
            Action::OrdersPlace => "orders_place",
            Action::OrdersChange => "orders_change",
            Action::OrdersReview => "orders_review",
            Action::OrdersFulfil => "orders_fulfil",
            Action::EventsRead => "events_read",
            Action::UsersManage => "users_manage",
            Action::TokensManage => "tokens_manage",
            Action::AuditRead => "audit_read",
            Action::WebhooksManage => "webhooks_manage",
            Action::AlertsRead => "alerts_read",
            Action::AlertsManage => "alerts_manage",
            Action::PosSell => "pos_sell",
            Action::RfidRead => "rfid_read",
            Action::CountsManage => "counts_manage",
            Action::TransfersManage => "transfers_manage",
            Action::DevicesManage => "devices_manage",
        }
    }

    /// The integration-token scope that allows this action, if integrations may do it at all.
    pub fn scope(self) -> Option<&'static str> {
        Some(match self {
            Action::CatalogRead => "catalog:read",
            Action::CatalogWrite => "catalog:write",
            Action::StockRead => "stock:read",
            Action::StockWrite => "stock:write",
            Action::CustomersRead => "customers:read",
            Action::CustomersWrite => "customers:write",
            Action::PricesRead => "prices:read",
            Action::PricesWrite => "prices:write",
            Action::OrdersRead => "orders:read",
            Action::OrdersPlace | Action::OrdersChange => "orders:write",
            Action::OrdersReview | Action::OrdersFulfil => "orders:fulfil",
            Action::EventsRead => "events:read",
            Action::WebhooksManage => "webhooks:manage",
            Action::AlertsRead => "alerts:read",
            Action::PosSell => "pos:write",
            Action::RfidRead => "rfid:write",
            Action::TransfersManage => "transfers:write",
            Action::UsersManage
            | Action::TokensManage
            | Action::AuditRead
            | Action::AlertsManage
            | Action::CountsManage
            | Action::DevicesManage => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every scope an integration token may carry.
pub fn known_scopes() -> Vec<&'static str> {
    let mut scopes: Vec<_> = Action::ALL.iter().filter_map(|a| a.scope()).collect();
    scopes.dedup();
    scopes
}

/// How far a permission reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Every location and every customer.
    All,
    /// Only the principal's assigned locations.
    Locations,
    /// Only the principal's own customer.
    OwnCustomer,
}

/// THE permission table: how far `role` may do `action`, or `None` when it may not at all.
///
/// For `Integration` the answer is `All` when the token carries the action's scope (checked
/// by [`Principal::reach`]), so this table says what integrations may ever be granted.
pub fn permission(role: Role, action: Action) -> Option<Reach> {
    use Action as A;
    use Reach::{All, Locations, OwnCustomer};
    match role {
        Role::Admin => Some(All),
        Role::Manager => match action {
            A::UsersManage | A::TokensManage | A::AuditRead => None,
            _ => Some(All),
        },
        Role::Staff => match action {
            A::CatalogRead | A::CustomersRead | A::PricesRead => Some(All),
            A::StockRead
            | A::StockWrite
            | A::OrdersRead
            | A::OrdersPlace
            | A::OrdersChange
            | A::OrdersReview
            | A::OrdersFulfil
            | A::EventsRead
            | A::AlertsRead
            | A::AlertsManage
            | A::PosSell
            | A::RfidRead
            | A::CountsManage
            | A::TransfersManage => Some(Locations),
            _ => None,
        },
        Role::Clerk => match action {
            A::CatalogRead => Some(All),
            A::StockRead
            | A::StockWrite
            | A::EventsRead
            | A::AlertsRead
            | A::PosSell
            | A::RfidRead
            | A::CountsManage => Some(Locations),
            _ => None,
        },
        Role::Customer => match action {
            A::CatalogRead => Some(All),
            A::CustomersRead
            | A::PricesRead
            | A::OrdersRead
            | A::OrdersPlace
            | A::OrdersChange
            | A::EventsRead => Some(OwnCustomer),
            _ => None,
        },
        Role::Integration => action.scope().map(|_| All),
        Role::Device => match action {
            A::CatalogRead => Some(All),
            A::StockRead | A::EventsRead | A::PosSell | A::RfidRead => Some(Locations),
            _ => None,
        },
    }
}

/// The permission table as Markdown, one row per action, one column per role: `all`,
/// `own locations`, `own customer`, a scope name for integrations, or `—`. The same text
/// is in `docs/security.md`; a test keeps them equal.
pub fn permission_table_markdown() -> String {
    let mut out = String::from("| action |");
    for role in Role::ALL {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Role::ALL.len()));
    out.push('\n');
    for action in Action::ALL {
        out.push_str(&format!("| {action} |"));
        for role in Role::ALL {
            let cell = match (role, permission(role, action)) {
                (_, None) => "—".to_owned(),
                (Role::Integration, Some(_)) => format!("`{}`", action.scope().unwrap_or_default()),
                (_, Some(Reach::All)) => "all".to_owned(),
                (_, Some(Reach::Locations)) => "own locations".to_owned(),
                (_, Some(Reach::OwnCustomer)) => "own customer".to_owned(),
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

/// What a user or token is allowed: a role and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// The customer a `customer` acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The locations a `staff`, `clerk` or `device` is assigned to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationCode>,
    /// The scopes of an `integration` token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

impl Grant {
    /// A grant of a role bound to nothing (admin, manager).
    pub fn role(role: Role) -> Self {
        Self {
            role,
            customer: None,
            locations: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// Checks that the bindings fit the role: a customer for `customer`, one or more
    /// locations for `staff` and `clerk`, exactly one for `device`, known scopes for
    /// `integration`, and nothing a role does not use.
    pub fn validate(self) -> Validated<Grant> {
        let mut errors = Errors::default();
        let needs_customer = self.role == Role::Customer;
        match (&self.customer, needs_customer) {
            (None, true) => errors.push(FieldError::new(
                "customer",
                "required",
                "a customer user names its customer",
            )),
            (Some(_), false) => errors.push(FieldError::new(
                "customer",
                "not_allowed",
                format!("a {} is not bound to a customer", self.role),
            )),
            _ => {}
        }
        let locations = self.locations.len();
        match self.role {
            Role::Staff | Role::Clerk if locations == 0 => errors.push(FieldError::new(
                "locations",
                "required",
                format!("a {} is assigned to at least one location", self.role),
            )),
            Role::Device if locations != 1 => errors.push(FieldError::new(
                "locations",
                "exactly_one",
                "a device is bound to exactly one location",
            )),
            Role::Admin | Role::Manager | Role::Customer | Role::Integration if locations > 0 => {
                errors.push(FieldError::new(
                    "locations",
                    "not_allowed",
                    format!("a {} is not bound to locations", self.role),
                ))
            }
            _ => {}
        }
        if self.role == Role::Integration {
            if self.scopes.is_empty() {
                errors.push(FieldError::new(
                    "scopes",
                    "required",
                    "an integration token names its scopes",
                ));
            }
            let known = known_scopes();
            for (i, scope) in self.scopes.iter().enumerate() {
                if !known.contains(&scope.as_str()) {
                    errors.push(FieldError::new(
                        format!("scopes[{i}]"),
                        "unknown_scope",
                        format!("unknown scope '{scope}' (known: {})", known.join(", ")),
                    ));
                }
            }
        } else if !self.scopes.is_empty() {
            errors.push(FieldError::new(
                "scopes",
                "not_allowed",
                "only integration tokens carry scopes",
            ));
        }
        errors.finish(|| Some(self))
    }
}

/// The caller of a request: who it is and what it is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token the request carried.
    pub token_id: i64,
    /// Who acts, for timelines and the audit trail: the username, or the token's name.
    pub actor: String,
    /// What it may do.
    pub grant: Grant,
}

/// Why a principal may not do something; answered as 403 (or 404 where the mere existence
/// of another customer's resource must not show).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The role may not do this at all (or the token lacks the scope).
    #[error("a {role} may not {action}")]
    Action {
        /// The principal's role.
        role: Role,
        /// What it tried.
        action: Action,
    },
    /// The principal may do this, but not at this location.
    #[error("not assigned to location {location}")]
    Location {
        /// The location it tried to act at.
        location: String,
    },
    /// The resource belongs to another customer.
    #[error("belongs to another customer")]
    Customer,
}

/// What a request acts on, for [`Principal::check`].
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Nothing bound to a location or customer (the catalog, a list the caller filters).
    Any,
    /// A location.
    Location(&'a LocationCode),
    /// A customer's resource.
    Customer(&'a str),
    /// An order: its customer and its fulfilling location.
    Order {
        /// The order's customer.
        customer: &'a str,
        /// Where it is fulfilled.
        location: &'a str,
    },
}

/// What a list may show to a principal, from its reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible<'a> {
    /// Everything.
    All,
    /// Only these locations.
    Locations(&'a [LocationCode]),
    /// Only this customer.
    Customer(&'a str),
}

impl Principal {
    fn at_location(&self, location: &str) -> Result<(), Denied> {
        if self.grant.locations.iter().any(|l| l.as_str() == location) {
            Ok(())
        } else {
            Err(Denied::Location {
                location: location.to_owned(),
            })
        }
    }

    /// How far this principal may do `action`, or why it may not at all.
    pub fn reach(&self, action: Action) -> Result<Reach, Denied> {
        let denied = || Denied::Action {
            role: self.grant.role,
            action,
        };
        let reach = permission(self.grant.role, action).ok_or_else(denied)?;
        if self.grant.role == Role::Integration
            && !action
                .scope()
                .is_some_and(|s| self.grant.scopes.iter().any(|have| have == s))
        {
            return Err(denied());
        }
        Ok(reach)
    }

    /// What of a list this principal may see when doing `action`.
    pub fn visible(&self, action: Action) -> Result<Visible<'_>, Denied> {
        Ok(match self.reach(action)? {
            Reach::All => Visible::All,
            Reach::Locations => Visible::Locations(&self.grant.locations),
            Reach::OwnCustomer => {
                Visible::Customer(self.grant.customer.as_deref().unwrap_or_default())
            }
        })
    }

    /// Whether this principal may do `action` on `target`.
    pub fn check(&self, action: Action, target: Target<'_>) -> Result<(), Denied> {
        match (self.reach(action)?, target) {
            (Reach::All, _) | (_, Target::Any) => Ok(()),
            (Reach::Locations, Target::Location(location)) => self.at_location(location.as_str()),
            (Reach::Locations, Target::Order { location, .. }) => self.at_location(location),
            (Reach::OwnCustomer, Target::Customer(customer))
            | (Reach::OwnCustomer, Target::Order { customer, .. }) => {
                if self.grant.customer.as_deref() == Some(customer) {
                    Ok(())
                } else {
                    Err(Denied::Customer)
                }
            }
            (Reach::Locations, Target::Customer(_)) => Err(Denied::Action {
                role: self.grant.role,
                action,
            }),
            (Reach::OwnCustomer, Target::Location(location)) => Err(Denied::Location {
                location: location.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(code: &str) -> LocationCode {
        LocationCode::from_trusted(code.to_owned())
    }

    fn principal(grant: Grant) -> Principal {
        Principal {
            token_id: 1,
            actor: "t".into(),
            grant,
        }
    }

    #[test]
    fn only_admin_manages_users_tokens_and_reads_the_audit_trail() {
        for role in Role::ALL {
            for action in [Action::UsersManage, Action::TokensManage, Action::AuditRead] {
                assert_eq!(
                    permission(role, action).is_some(),
                    role == Role::Admin,
                    "{role} {action:?}"
                );
            }
        }
    }

    #[test]
    fn a_clerk_moves_stock_only_at_its_own_store() {
        let clerk = principal(Grant {
            locations: vec![loc("ST-1")],
            ..Grant::role(Role::Clerk)
        });
        assert_eq!(
            clerk.check(Action::StockWrite, Target::Location(&loc("ST-1"))),
            Ok(())
        );
        assert_eq!(
            clerk.check(Action::StockWrite, Target::Location(&loc("ST-2"))),
            Err(Denied::Location {
                location: "ST-2".into()
            })
        );
        assert!(clerk.check(Action::OrdersPlace, Target::Any).is_err());
    }

    #[test]
    fn a_customer_reaches_only_its_own_customer() {
        let c = principal(Grant {
            customer: Some("BJ".into()),
            ..Grant::role(Role::Customer)
        });
        assert_eq!(c.check(Action::OrdersRead, Target::Customer("BJ")), Ok(()));
        assert_eq!(
            c.check(Action::OrdersRead, Target::Customer("HZ")),
            Err(Denied::Customer)
        );
        assert_eq!(c.visible(Action::OrdersRead), Ok(Visible::Customer("BJ")));
        assert!(c.check(Action::StockWrite, Target::Any).is_err());
    }

    #[test]
    fn an_integration_token_does_only_what_its_scopes_say() {
        let erp = principal(Grant {
            scopes: vec!["stock:write".into()],
            ..Grant::role(Role::Integration)
        });
        assert_eq!(erp.reach(Action::StockWrite), Ok(Reach::All));
        assert!(erp.reach(Action::StockRead).is_err());
        assert!(erp.reach(Action::UsersManage).is_err());
    }

    #[test]
    fn grants_must_fit_their_role() {
        let bad = |g: Grant| g.validate().unwrap_err()[0].field.clone();
        assert_eq!(bad(Grant::role(Role::Customer)), "customer");
        assert_eq!(bad(Grant::role(Role::Clerk)), "locations");
        assert_eq!(bad(Grant::role(Role::Device)), "locations");
        assert_eq!(bad(Grant::role(Role::Integration)), "scopes");
        assert_eq!(
            bad(Grant {
                scopes: vec!["nope".into()],
                ..Grant::role(Role::Integration)
            }),
            "scopes[0]"
        );
        assert_eq!(
            bad(Grant {
                customer: Some("X".into()),
                ..Grant::role(Role::Admin)
            }),
            "customer"
        );
        assert!(Grant::role(Role::Manager).validate().is_ok());
    }

    #[test]
    fn the_documented_permission_table_is_the_one_in_code() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/security.md"
        ))
        .unwrap();
        let table = permission_table_markdown();
        assert!(
            doc.contains(&table),
            "docs/security.md must contain the table in code:\n{table}"
        );
    }

    #[test]
    fn role_and_action_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        let names: std::collections::HashSet<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
