//! An account as an import file gives it (`pastdue accounts import`), and
//! how it merges into the account already stored: what the file carries
//! wins, what it does not carry is kept. An operator's `exempt`, time zone
//! and added contacts, and the undeliverable marks mail feedback set, are
//! not wiped by re-importing a file that does not mention them.

use serde_json::Value;

use super::Account;
use super::fields::FieldError;

/// One entry of an import file: the account it describes and which of the
/// optional fields it actually carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountImport {
    /// The account as a new one would be created from the entry.
    pub account: Account,
    timezone: bool,
    exempt: bool,
    contacts: bool,
}

impl AccountImport {
    /// Reads one entry (spec §6 account shape); errors name the field.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let account = Account::from_json(value)?;
        let has = |field: &str| value.get(field).is_some_and(|v| !v.is_null());
        Ok(Self {
            account,
            timezone: has("timezone"),
            exempt: has("exempt"),
            contacts: has("contacts"),
        })
    }

    /// `current` with this entry merged in. The name always comes from the
    /// file (it is required there). `timezone` and `exempt` come from the
    /// file when it carries them. Contacts are matched by email, ignoring
    /// case: a contact in the file sets that contact's name and roles and
    /// keeps its undeliverable mark; one the file does not list is kept
    /// (remove it with `pastdue contact remove`). A phone number in the file
    /// replaces the contact's; a contact without one keeps its number.
    pub fn merged_into(&self, current: &Account) -> Account {
        let file = &self.account;
        let mut merged = current.clone();
        merged.name.clone_from(&file.name);
        if self.timezone {
            merged.timezone = file.timezone;
        }
        if self.exempt {
            merged.exempt = file.exempt;
        }
        if self.contacts {
            for contact in &file.contacts {
                let same = merged.contacts.iter_mut().find(|c| {
                    c.email
                        .as_str()
                        .eq_ignore_ascii_case(contact.email.as_str())
                });
                match same {
                    Some(existing) => {
                        existing.name.clone_from(&contact.name);
                        existing.roles.clone_from(&contact.roles);
                        // A number in the file replaces the stored one
                        // (and whatever a call found wrong with it).
                        if contact.phone.is_some() && contact.phone != existing.phone {
                            existing.phone.clone_from(&contact.phone);
                            existing.phone_wrong = None;
                        }
                    }
                    None => merged.contacts.push(contact.clone()),
                }
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored() -> Account {
        let mut a = Account::from_json(&json!({"id": "acct_1", "name": "Whitfield Hosting",
            "timezone": "America/New_York", "exempt": true, "contacts": [
            {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]},
            {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]}]}))
        .unwrap();
        a.contacts[0].undeliverable = Some("bounced (NoEmail)".into());
        a
    }

    #[test]
    fn the_file_wins_where_it_speaks_and_the_rest_is_kept() {
        let file = AccountImport::from_json(&json!({"id": "acct_1", "name": "Whitfield Hosting LLC",
            "contacts": [{"name": "Dana W.", "email": "DANA@whitfield.example", "roles": ["billing", "escalation"]},
                         {"name": "Ana Lee", "email": "ana@whitfield.example", "roles": ["primary"]}]}))
        .unwrap();
        let merged = file.merged_into(&stored());
        assert_eq!(merged.name, "Whitfield Hosting LLC");
        assert_eq!(
            merged.timezone.name(),
            "America/New_York",
            "not in the file"
        );
        assert!(merged.exempt, "not in the file");
        let contacts: Vec<(&str, &str, Option<&str>)> = merged
            .contacts
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.email.as_str(),
                    c.undeliverable.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            contacts,
            [
                (
                    "Dana W.",
                    "dana@whitfield.example",
                    Some("bounced (NoEmail)")
                ),
                ("Kevin Ortiz", "kevin@whitfield.example", None),
                ("Ana Lee", "ana@whitfield.example", None),
            ]
        );
        let explicit = AccountImport::from_json(
            &json!({"id": "acct_1", "name": "Whitfield Hosting", "timezone": "UTC", "exempt": false}),
        )
        .unwrap()
        .merged_into(&stored());
        assert_eq!((explicit.timezone.name(), explicit.exempt), ("UTC", false));
        assert_eq!(explicit.contacts, stored().contacts);
    }
}
