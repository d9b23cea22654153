//! Accounts and their contacts.

use std::collections::BTreeSet;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::fields::{FieldError, Fields, parse_timezone};
use super::{AccountId, EmailAddress, Phone};

/// What a contact is for; a step's recipients are chosen by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Billing,
    Primary,
    Escalation,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "billing" => Ok(Self::Billing),
            "primary" => Ok(Self::Primary),
            "escalation" => Ok(Self::Escalation),
            _ => Err(format!(
                "{s:?} is not a role (billing, primary, escalation)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Billing => "billing",
            Self::Primary => "primary",
            Self::Escalation => "escalation",
        }
    }
}

/// A person at the customer. Every email greets them by this `name`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub email: EmailAddress,
    pub roles: BTreeSet<Role>,
    /// Set when mail to this address bounced, was complained about or was
    /// refused: the contact is skipped until an operator adds it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undeliverable: Option<String>,
    /// Where staff call them (E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// Set when a call found the number wrong: it is shown as such and not
    /// offered for calls until a new number is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_wrong: Option<String>,
}

impl Contact {
    pub fn new(name: &str, email: EmailAddress, roles: BTreeSet<Role>) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("a contact needs a name to be greeted by".into());
        }
        Ok(Self {
            name: name.to_owned(),
            email,
            roles,
            undeliverable: None,
            phone: None,
            phone_wrong: None,
        })
    }

    /// The import file's shape, with the marks mail and calls left.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name, "email": self.email.as_str(),
            "roles": self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        });
        if let Some(why) = &self.undeliverable {
            v["undeliverable"] = json!(why);
        }
        if let Some(phone) = &self.phone {
            v["phone"] = json!(phone.as_str());
        }
        if let Some(why) = &self.phone_wrong {
            v["phone_wrong"] = json!(why);
        }
        v
    }

    /// The number to call, unless a call found it wrong.
    pub fn callable_phone(&self) -> Option<&Phone> {
        self.phone.as_ref().filter(|_| self.phone_wrong.is_none())
    }
}

/// A customer account: who they are, where their dates are, who to write to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    #[serde(with = "tz_name")]
    pub timezone: Tz,
    pub exempt: bool,
    pub contacts: Vec<Contact>,
}

mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        super::parse_timezone(&name).map_err(serde::de::Error::custom)
    }
}

impl Account {
    /// A customer a processor introduces: in UTC and not exempt until
    /// staff say otherwise, its one contact (when it has an address) the
    /// billing and primary one, greeted as `greeted`, with the phone when
    /// `phone` reads as E.164 (processors keep whatever was typed; anything
    /// else is left for staff to add). An empty `greeted` is the error.
    pub fn from_processor(
        id: AccountId,
        name: String,
        contact: Option<(&str, EmailAddress)>,
        phone: Option<&str>,
    ) -> Result<Self, String> {
        let contacts = match contact {
            Some((greeted, email)) => {
                let mut contact =
                    Contact::new(greeted, email, [Role::Billing, Role::Primary].into())?;
                contact.phone = phone.and_then(|p| Phone::parse(p).ok());
                vec![contact]
            }
            None => Vec::new(),
        };
        Ok(Self {
            id,
            name,
            timezone: Tz::UTC,
            exempt: false,
            contacts,
        })
    }

    /// Reads the spec §6 shape: `id`, `name`, `timezone` (default `UTC`),
    /// `exempt` (default false), `contacts`.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let f = Fields::of(value, "account")?;
        let id = f.parsed("id", AccountId::parse)?;
        let name = f.str("name")?.trim().to_owned();
        if name.is_empty() {
            return Err(FieldError::new("name", "empty"));
        }
        let timezone = f.opt_parsed("timezone", parse_timezone)?.unwrap_or(Tz::UTC);
        let exempt = f.opt_bool("exempt")?.unwrap_or(false);
        let mut contacts = Vec::new();
        let items = match f.get("contacts") {
            Some(_) => f.array("contacts")?,
            None => &[],
        };
        for (i, c) in items.iter().enumerate() {
            let at =
                |e: FieldError| FieldError::new(format!("contacts[{i}].{}", e.field), e.reason);
            let cf = Fields::of(c, "contact").map_err(at)?;
            let email = cf.parsed("email", EmailAddress::parse).map_err(at)?;
            let mut roles = BTreeSet::new();
            for (j, r) in cf.array("roles").map_err(at)?.iter().enumerate() {
                let role = r
                    .as_str()
                    .ok_or_else(|| "expected a string".to_owned())
                    .and_then(Role::parse)
                    .map_err(|e| FieldError::new(format!("contacts[{i}].roles[{j}]"), e))?;
                roles.insert(role);
            }
            let name = cf.str("name").map_err(at)?;
            let mut contact = Contact::new(name, email, roles)
                .map_err(|e| FieldError::new(format!("contacts[{i}].name"), e))?;
            contact.phone = cf.opt_parsed("phone", Phone::parse).map_err(at)?;
            contacts.push(contact);
        }
        Ok(Self {
            id,
            name,
            timezone,
            exempt,
            contacts,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "timezone": self.timezone.name(),
            "exempt": self.exempt,
            "contacts": self.contacts.iter().map(Contact::to_json).collect::<Vec<_>>(),
        })
    }

    /// Recipients for `roles` (spec §5.3): contacts holding any of them,
    /// one per email, sorted by email. If none hold them, the primary
    /// contacts, then every contact. No roles at all means staff only: nobody.
    /// Undeliverable contacts are left out, so mail widens to the others.
    pub fn recipients(&self, roles: &[Role]) -> Vec<&Contact> {
        if roles.is_empty() {
            return Vec::new();
        }
        let pick = |pred: &dyn Fn(&Contact) -> bool| {
            let mut chosen: Vec<&Contact> = self
                .contacts
                .iter()
                .filter(|c| c.undeliverable.is_none() && pred(c))
                .collect();
            chosen.sort_by(|a, b| a.email.cmp(&b.email));
            chosen.dedup_by(|a, b| a.email == b.email);
            chosen
        };
        let by_role = pick(&|c| roles.iter().any(|r| c.roles.contains(r)));
        if !by_role.is_empty() {
            return by_role;
        }
        let primary = pick(&|c| c.roles.contains(&Role::Primary));
        if !primary.is_empty() {
            return primary;
        }
        pick(&|_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(contacts: Value) -> Account {
        Account::from_json(
            &json!({"id": "acct_1", "name": "Whitfield Hosting", "contacts": contacts}),
        )
        .unwrap()
    }

    fn emails(cs: Vec<&Contact>) -> Vec<&str> {
        cs.iter().map(|c| c.email.as_str()).collect()
    }

    #[test]
    fn recipients_follow_roles_then_fall_back_and_dedupe() {
        let a = account(json!([
            {"name": "Kevin Ortiz", "email": "kevin@w.example", "roles": ["primary"]},
            {"name": "Dana Whitfield", "email": "dana@w.example", "roles": ["billing", "escalation"]},
            {"name": "Dana again", "email": "dana@w.example", "roles": ["escalation"]},
        ]));
        assert_eq!(emails(a.recipients(&[Role::Billing])), ["dana@w.example"]);
        assert_eq!(
            emails(a.recipients(&[Role::Billing, Role::Primary, Role::Escalation])),
            ["dana@w.example", "kevin@w.example"]
        );
        assert!(a.recipients(&[]).is_empty(), "no roles: staff only");

        let no_billing = account(
            json!([{"name": "Kevin", "email": "kevin@w.example", "roles": ["primary"]},
                                          {"name": "Esc", "email": "esc@w.example", "roles": ["escalation"]}]),
        );
        assert_eq!(
            emails(no_billing.recipients(&[Role::Billing])),
            ["kevin@w.example"],
            "falls back to primary"
        );
        let nobody_primary = account(
            json!([{"name": "Esc", "email": "esc@w.example", "roles": ["escalation"]},
                                             {"name": "Ana", "email": "ana@w.example", "roles": []}]),
        );
        assert_eq!(
            emails(nobody_primary.recipients(&[Role::Billing])),
            ["ana@w.example", "esc@w.example"],
            "then anyone"
        );
    }

    #[test]
    fn bad_accounts_name_the_field() {
        let err = Account::from_json(&json!({"id": "a", "name": "A", "timezone": "Mars/Base"}))
            .unwrap_err();
        assert_eq!(err.field, "timezone");
        let err = Account::from_json(&json!({"id": "a", "name": "A", "contacts": [{"name": "X", "email": "nope", "roles": []}]})).unwrap_err();
        assert_eq!(err.field, "contacts[0].email");
        let err = Account::from_json(&json!({"id": "a", "name": "A", "contacts": [{"name": "X", "email": "x@y.example", "roles": ["boss"]}]})).unwrap_err();
        assert_eq!(err.field, "contacts[0].roles[0]");
        let a = Account::from_json(&json!({"id": "a", "name": "A"})).unwrap();
        assert_eq!(a.timezone, Tz::UTC);
        assert_eq!(Account::from_json(&a.to_json()).unwrap(), a);
        let err = Account::from_json(&json!({"id": "a", "name": "A", "contacts": [{"name": "X", "email": "x@y.example", "roles": [], "phone": "555-0199"}]})).unwrap_err();
        assert_eq!(err.field, "contacts[0].phone");
        assert!(err.reason.contains("E.164"), "{}", err.reason);
        let a = Account::from_json(&json!({"id": "a", "name": "A", "contacts": [{"name": "X", "email": "x@y.example", "roles": [], "phone": "+1 (555) 010-0199"}]})).unwrap();
        assert_eq!(
            a.contacts[0].phone.as_ref().map(Phone::as_str),
            Some("+15550100199")
        );
        assert_eq!(Account::from_json(&a.to_json()).unwrap(), a);
    }
}
