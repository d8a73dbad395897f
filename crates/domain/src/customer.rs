//! B2B customers (订货客户): who may order, where goods go, at which price tier, within
//! which credit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::{self, Errors, FieldError, Validated};

/// Whether a customer may place orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// May order.
    Active,
    /// May not order; existing orders continue.
    Suspended,
}

impl CustomerStatus {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerStatus::Active => "active",
            CustomerStatus::Suspended => "suspended",
        }
    }

    /// Parses a stored or submitted status.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        match value {
            "active" => Ok(CustomerStatus::Active),
            "suspended" => Ok(CustomerStatus::Suspended),
            _ => Err(FieldError::new(
                field,
                "unknown_status",
                "status is 'active' or 'suspended'",
            )),
        }
    }
}

/// A person to call about orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Full name.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<100>"))]
    pub name: String,
    /// Phone number as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Where goods are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Receiver's name.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<100>"))]
    pub name: String,
    /// Receiver's phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Street address.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<200>"))]
    pub line1: String,
    /// More street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// City.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<100>"))]
    pub city: String,
    /// Province or state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166 alpha-2 country code; CN when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

fn optional(
    errors: &mut Errors,
    field: &str,
    value: &Option<String>,
    max: usize,
) -> Option<String> {
    value
        .as_ref()
        .and_then(|v| errors.take(validation::text(field, v, max)))
}

impl Contact {
    /// Checks and trims every field.
    pub fn validate(&self) -> Validated<Contact> {
        let mut errors = Errors::default();
        let name = errors.take(validation::text("name", &self.name, 100));
        let phone = optional(&mut errors, "phone", &self.phone, 40);
        let email = optional(&mut errors, "email", &self.email, 200);
        if let Some(e) = &email
            && (!e.contains('@') || e.contains(char::is_whitespace))
        {
            errors.push(FieldError::new(
                "email",
                "bad_format",
                "email is an address such as buyer@example.com",
            ));
        }
        errors.finish(|| {
            Some(Contact {
                name: name?,
                phone,
                email,
            })
        })
    }
}

impl Address {
    /// Checks and trims every field.
    pub fn validate(&self) -> Validated<Address> {
        let mut errors = Errors::default();
        let name = errors.take(validation::text("name", &self.name, 100));
        let phone = optional(&mut errors, "phone", &self.phone, 40);
        let line1 = errors.take(validation::text("line1", &self.line1, 200));
        let line2 = optional(&mut errors, "line2", &self.line2, 200);
        let city = errors.take(validation::text("city", &self.city, 100));
        let province = optional(&mut errors, "province", &self.province, 100);
        let postal_code = optional(&mut errors, "postal_code", &self.postal_code, 20);
        let country = optional(&mut errors, "country", &self.country, 2);
        if let Some(c) = &country
            && (c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            errors.push(FieldError::new(
                "country",
                "bad_format",
                "country is a two-letter ISO 3166 code such as CN",
            ));
        }
        errors.finish(|| {
            Some(Address {
                name: name?,
                phone,
                line1: line1?,
                line2,
                city: city?,
                province,
                postal_code,
                country,
            })
        })
    }
}

fn list<T>(
    errors: &mut Errors,
    field: &str,
    items: &[T],
    max: usize,
    check: impl Fn(&T) -> Validated<T>,
) -> Vec<T> {
    if items.len() > max {
        errors.push(FieldError::new(
            field,
            "too_many",
            format!("at most {max} {field}"),
        ));
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| errors.nested(&format!("{field}[{i}]"), check(item)))
        .collect()
}

/// A customer as submitted for creation.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// Unique code, used in URLs.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub code: String,
    /// Company name.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<200>"))]
    pub name: String,
    /// People to contact.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Delivery addresses; the first is the default.
    #[serde(default)]
    pub ship_to: Vec<Address>,
    /// `active` (default) or `suspended`.
    #[cfg_attr(feature = "schemars", schemars(with = "Option<CustomerStatus>"))]
    pub status: Option<String>,
    /// Code of the price list this customer buys from.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<32>>")
    )]
    pub price_tier: Option<String>,
    /// Most the customer may have in open orders, in minor units; none means no limit.
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = crate::money::MAX_UNIT_PRICE)))]
    pub credit_limit: Option<i64>,
    /// Orders skip review and are confirmed at once (unless over credit).
    pub auto_confirm: Option<bool>,
}

/// A customer, validated or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Customer {
    /// Unique code.
    pub code: String,
    /// Company name.
    pub name: String,
    /// People to contact.
    pub contacts: Vec<Contact>,
    /// Delivery addresses; the first is the default.
    pub ship_to: Vec<Address>,
    /// Whether it may order.
    pub status: CustomerStatus,
    /// Price list code.
    pub price_tier: Option<String>,
    /// Credit limit in minor units.
    pub credit_limit: Option<i64>,
    /// Orders are confirmed without review.
    pub auto_confirm: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

fn credit(field: &str, limit: i64) -> Result<i64, FieldError> {
    crate::money::unit_price(field, limit)
        .map_err(|e| FieldError::new(field, e.code, "credit_limit is 0 or more minor units"))
}

impl CustomerInput {
    /// Checks every field; the result carries `now` as its creation time.
    pub fn validate(&self, now: DateTime<Utc>) -> Validated<Customer> {
        let mut errors = Errors::default();
        let code = errors.take(validation::code("code", &self.code, 32));
        let name = errors.take(validation::text("name", &self.name, 200));
        let contacts = list(
            &mut errors,
            "contacts",
            &self.contacts,
            20,
            Contact::validate,
        );
        let ship_to = list(&mut errors, "ship_to", &self.ship_to, 50, Address::validate);
        let status = errors.take(CustomerStatus::parse(
            "status",
            self.status.as_deref().unwrap_or("active"),
        ));
        let price_tier = self
            .price_tier
            .as_ref()
            .and_then(|t| errors.take(validation::code("price_tier", t, 32)));
        let credit_limit = self
            .credit_limit
            .and_then(|c| errors.take(credit("credit_limit", c)));
        errors.finish(|| {
            Some(Customer {
                code: code?,
                name: name?,
                contacts,
                ship_to,
                status: status?,
                price_tier,
                credit_limit,
                auto_confirm: self.auto_confirm.unwrap_or(false),
                created_at: now,
                updated_at: now,
            })
        })
    }
}

/// A partial update of a customer. `price_tier` and `credit_limit` may be set to `null`
/// to remove them.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// New name.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<200>>")
    )]
    pub name: Option<String>,
    /// Replaces all contacts.
    pub contacts: Option<Vec<Contact>>,
    /// Replaces all addresses.
    pub ship_to: Option<Vec<Address>>,
    /// New status.
    #[cfg_attr(feature = "schemars", schemars(with = "Option<CustomerStatus>"))]
    pub status: Option<String>,
    /// New price list; `null` removes it.
    #[serde(default, deserialize_with = "double_option::deserialize")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub price_tier: Option<Option<String>>,
    /// New credit limit; `null` removes it.
    #[serde(default, deserialize_with = "double_option::deserialize")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<i64>"))]
    pub credit_limit: Option<Option<i64>>,
    /// New auto-confirm flag.
    pub auto_confirm: Option<bool>,
}

impl CustomerPatch {
    /// The customer after this patch, or every field error.
    pub fn apply(&self, mut c: Customer, now: DateTime<Utc>) -> Validated<Customer> {
        let mut errors = Errors::default();
        if let Some(name) = &self.name {
            c.name = errors
                .take(validation::text("name", name, 200))
                .unwrap_or_default();
        }
        if let Some(contacts) = &self.contacts {
            c.contacts = list(&mut errors, "contacts", contacts, 20, Contact::validate);
        }
        if let Some(ship_to) = &self.ship_to {
            c.ship_to = list(&mut errors, "ship_to", ship_to, 50, Address::validate);
        }
        if let Some(status) = &self.status {
            c.status = errors
                .take(CustomerStatus::parse("status", status))
                .unwrap_or(c.status);
        }
        if let Some(tier) = &self.price_tier {
            c.price_tier = tier
                .as_ref()
                .and_then(|t| errors.take(validation::code("price_tier", t, 32)));
        }
        if let Some(limit) = self.credit_limit {
            c.credit_limit = limit.and_then(|l| errors.take(credit("credit_limit", l)));
        }
        c.auto_confirm = self.auto_confirm.unwrap_or(c.auto_confirm);
        c.updated_at = now;
        errors.finish(|| Some(c))
    }
}

/// Tells "absent" (keep) from `null` (remove) for optional fields of a patch.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_is_validated_field_by_field() {
        let input: CustomerInput = serde_json::from_str(
            r#"{"code":"C-1","name":"Acme","contacts":[{"name":"Li","email":"nope"}],
                "ship_to":[{"name":"Li","line1":"1 Road","city":"","country":"cn"}],"credit_limit":-5}"#,
        )
        .unwrap();
        let fields: Vec<_> = input
            .validate(Utc::now())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "contacts[0].email",
                "ship_to[0].city",
                "ship_to[0].country",
                "credit_limit"
            ]
        );
    }

    #[test]
    fn a_patch_can_remove_the_tier_and_keep_the_rest() {
        let input: CustomerInput = serde_json::from_str(
            r#"{"code":"C-1","name":"Acme","price_tier":"GOLD","credit_limit":100}"#,
        )
        .unwrap();
        let c = input.validate(Utc::now()).unwrap();
        let patch: CustomerPatch = serde_json::from_str(r#"{"price_tier":null}"#).unwrap();
        let c = patch.apply(c, Utc::now()).unwrap();
        assert_eq!((c.price_tier, c.credit_limit), (None, Some(100)));
    }
}
