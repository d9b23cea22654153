//! Emails rendered from the template files in `shared/templates/email/`
//! (one `.subject`, `.html` and `.txt` per action), built into the binary.
//! Pure: no AWS, no clock.

use chrono::NaiveDate;
use minijinja::{Environment, context};

use crate::domain::message::{ActionMessage, InvoiceLine};
pub use crate::domain::money::{money, total_of};
use crate::domain::{EmailAddress, Policy, StepName};
use crate::portal::link::{LinkSigner, PortalLink};

/// The subject, HTML and text files of each named email, by file name.
macro_rules! email_files {
    ($($name:literal),* $(,)?) => {
        &[
            ("base.html", include_str!("../../templates/email/base.html")),
            ("base.txt", include_str!("../../templates/email/base.txt")),
            // Why a reinstate happened, in the HTML and the text alike.
            ("reinstate_why.txt", include_str!("../../templates/email/reinstate_why.txt")),
            // The aging chart the staff digest (and the report page) draws.
            ("aging_chart.html", include_str!("../../templates/email/aging_chart.html")),
            $(
                (concat!($name, ".subject"), include_str!(concat!("../../templates/email/", $name, ".subject"))),
                (concat!($name, ".html"), include_str!(concat!("../../templates/email/", $name, ".html"))),
                (concat!($name, ".txt"), include_str!(concat!("../../templates/email/", $name, ".txt"))),
            )*
        ]
    };
}

/// Every template file, built into the binary.
const FILES: &[(&str, &str)] = email_files!(
    "reminder_1",
    "reminder_2",
    "final_notice",
    "suspend",
    "reinstate",
    "cancel",
    "collections_notice",
    "collections",
    "payment_failed_notice",
    "card_expiring_notice",
    "direct_debit_stopped_notice",
    "dispute_alert",
    "cut_off_unverified",
    "promise_confirmed",
    "promise_noted",
    "staff_digest",
    "undeliverable",
);

/// The emails there are templates for: every action the engine publishes,
/// and the staff alert for a contact mail cannot reach.
pub fn templates() -> impl Iterator<Item = &'static str> {
    crate::routing::ACTION_TYPES
        .iter()
        .copied()
        .chain(std::iter::once(UNDELIVERABLE))
}

/// The staff alert sent when a contact cannot receive mail.
pub const UNDELIVERABLE: &str = "undeliverable";

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no email template for {0}")]
    NoTemplate(String),
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
}

/// One email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Who an email is for: a customer's contact, or the staff.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    Contact {
        name: &'a str,
        email: &'a EmailAddress,
    },
    Staff,
}

/// The links emails point to. `{account}` in them becomes the account id.
#[derive(Debug, Clone)]
pub struct Links {
    pub pay_url: String,
    pub card_url: String,
    /// The customer page, when it is set up: each contact's reminders and
    /// final notice carry their own signed link to it.
    pub portal: Option<LinkSigner>,
}

/// The emails that invite the customer to their page: "Can't pay today?"
const INVITE_TO_PORTAL: &[&str] = &["reminder_1", "reminder_2", "final_notice"];

impl Links {
    fn for_account(url: &str, account: &str) -> String {
        url.replace("{account}", account)
    }
}

/// Why a contact could not be reached (the `undeliverable` alert).
#[derive(Debug, Clone, Default)]
pub struct Failure<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub reason: &'a str,
}

/// The templates, parsed once at init.
pub struct Templates {
    env: Environment<'static>,
    links: Links,
    /// dpd thresholds the emails quote.
    cancel_after: u32,
    collections_wait: u32,
}

impl Templates {
    pub fn new(links: Links, policy: &Policy) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        for (name, source) in FILES {
            env.add_template(name, source)
                .map_err(|e| RenderError::Template {
                    name: (*name).to_owned(),
                    message: e.to_string(),
                })?;
        }
        let dpd = |s: StepName| policy.step(s).map_or(0, |s| s.dpd);
        let wait = |s: StepName| policy.step(s).map_or(0, |s| s.wait_days);
        Ok(Self {
            env,
            links,
            cancel_after: dpd(StepName::Cancel),
            collections_wait: wait(StepName::Collections),
        })
    }

    /// Renders the email for `message` to one person.
    pub fn render(
        &self,
        template: &str,
        message: &ActionMessage,
        audience: Audience<'_>,
        failure: &Failure<'_>,
    ) -> Result<Rendered, RenderError> {
        if !templates().any(|t| t == template) {
            return Err(RenderError::NoTemplate(template.to_owned()));
        }
        let account = message.account.as_str();
        let invoices: Vec<_> = message
            .amounts
            .iter()
            .map(|l| {
                context! {
                    // As the customer sees it: its number, else pastdue's id.
                    id => l.number.as_deref().unwrap_or(l.invoice.as_str()),
                    pay_url => l.pay_url.as_deref().unwrap_or_default(),
                    owed => money(&l.owed, l.currency),
                    due => long_date(l.due),
                    days_overdue => l.days_overdue,
                }
            })
            .collect();
        let (greeting_name, staff) = match audience {
            Audience::Contact { name, .. } => (name, false),
            Audience::Staff => ("", true),
        };
        let portal_url = match (&self.links.portal, audience, message.episode) {
            (Some(signer), Audience::Contact { email, .. }, Some(episode))
                if INVITE_TO_PORTAL.contains(&template) =>
            {
                signer.url(&PortalLink::new(
                    message.account.clone(),
                    episode,
                    email.clone(),
                    message.date,
                ))
            }
            _ => String::new(),
        };
        let ctx = context! {
            greeting_name,
            staff,
            account,
            account_name => message.account_name.as_str(),
            action => message.action.as_str(),
            date => long_date(message.date),
            dpd => message.dpd,
            invoices,
            total => total(&message.amounts),
            first_due => message.amounts.iter().map(|l| l.due).min().map(long_date).unwrap_or_default(),
            suspend_on => message.suspend_on.map(long_date).unwrap_or_default(),
            promised => message.promised.map(long_date).unwrap_or_default(),
            promise_passed => message.promise_passed.map(long_date).unwrap_or_default(),
            portal_url,
            digest => message.digest.as_deref(),
            settled => message.settled.map(|s| s.as_str()).unwrap_or_default(),
            reason => message.reason.as_str(),
            pay_url => pay_url(&message.amounts)
                .map_or_else(|| Links::for_account(&self.links.pay_url, account), str::to_owned),
            card_url => Links::for_account(&self.links.card_url, account),
            cancel_after => self.cancel_after,
            collections_wait => self.collections_wait,
            failed_name => failure.name,
            failed_email => failure.email,
            failure => failure.reason,
        };
        let one = |ext: &str| -> Result<String, RenderError> {
            let name = format!("{template}.{ext}");
            let error = |e: minijinja::Error| RenderError::Template {
                name: name.clone(),
                message: e.to_string(),
            };
            self.env
                .get_template(&name)
                .map_err(error)?
                .render(&ctx)
                .map_err(error)
        };
        Ok(Rendered {
            subject: one("subject")?.trim().to_owned(),
            html: one("html")?,
            text: one("txt")?,
        })
    }
}

/// The processor's page for the one invoice an email is about, when it
/// has one; with several invoices each line links its own and the button
/// goes to `PAY_URL`.
fn pay_url(lines: &[InvoiceLine]) -> Option<&str> {
    match lines {
        [one] => one.pay_url.as_deref(),
        _ => None,
    }
}

/// `16 January 2026`.
pub fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// What is owed, per currency: `120.00 USD and 5,000 JPY`.
fn total(lines: &[InvoiceLine]) -> String {
    total_of(
        lines
            .iter()
            .map(|l| (l.owed.parse().unwrap_or_default(), l.currency)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dana() -> EmailAddress {
        EmailAddress::parse("dana@whitfield.example").unwrap()
    }

    /// `template` for `message`, to Dana Whitfield.
    fn to_dana(templates: &Templates, template: &str, message: &ActionMessage) -> Rendered {
        templates
            .render(
                template,
                message,
                Audience::Contact {
                    name: "Dana Whitfield",
                    email: &dana(),
                },
                &Failure::default(),
            )
            .unwrap()
    }

    #[test]
    fn every_email_has_its_three_files() {
        for name in templates() {
            for ext in ["subject", "html", "txt"] {
                let file = format!("{name}.{ext}");
                assert!(FILES.iter().any(|(f, _)| *f == file), "{file} missing");
            }
        }
        assert_eq!(FILES.len(), 4 + 3 * templates().count(), "no stray files");
    }

    #[test]
    fn a_reinstate_thanks_for_a_payment_only_when_there_was_one() {
        use crate::domain::Settled;
        let envelope: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/actions/reinstate.json")).unwrap();
        let mut message = ActionMessage::from_json(&envelope["detail"]).unwrap();
        let links = Links {
            pay_url: "https://pay.example/{account}".into(),
            card_url: "https://card.example/{account}".into(),
            portal: None,
        };
        let templates = Templates::new(links, &Policy::default()).unwrap();
        let render = |message: &ActionMessage| to_dana(&templates, "reinstate", message);
        let paid = render(&message);
        assert!(paid.text.contains("received your payment"), "{}", paid.text);
        assert!(paid.subject.starts_with("Thank you"));
        for (settled, words) in [
            (Settled::Voided, "voided"),
            (Settled::Credited, "credit"),
            (Settled::DisputeWon, "disputed payment has come back"),
            (Settled::Disputed, "in dispute"),
            (Settled::Adjusted, "Nothing on your account is overdue"),
        ] {
            message.settled = Some(settled);
            let email = render(&message);
            for part in [&email.text, &email.html, &email.subject] {
                assert!(
                    !part.contains("payment") || settled == Settled::DisputeWon,
                    "{settled:?}: {part}"
                );
                assert!(
                    !part.to_lowercase().contains("thank you"),
                    "{settled:?}: {part}"
                );
            }
            assert!(email.text.contains(words), "{settled:?}: {}", email.text);
            assert!(email.text.contains("Dana Whitfield"));
        }
    }

    #[test]
    fn invoices_are_named_and_paid_where_the_customer_sees_them() {
        let envelope: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/actions/suspend.json")).unwrap();
        let mut message = ActionMessage::from_json(&envelope["detail"]).unwrap();
        let links = Links {
            pay_url: "https://pay.example/{account}".into(),
            card_url: "https://card.example/{account}".into(),
            portal: None,
        };
        let templates = Templates::new(links, &Policy::default()).unwrap();
        let render = |message: &ActionMessage| {
            templates
                .render(
                    "suspend",
                    message,
                    Audience::Contact {
                        name: "Dana",
                        email: &dana(),
                    },
                    &Failure::default(),
                )
                .unwrap()
        };
        let plain = render(&message);
        let id = message.amounts[0].invoice.to_string();
        assert!(
            plain.text.contains(&format!("Invoice {id}")),
            "{}",
            plain.text
        );
        assert!(
            plain.text.contains("https://pay.example/"),
            "PAY_URL without a page"
        );

        message.amounts.truncate(1);
        message.amounts[0].number = Some("WH-0042".into());
        message.amounts[0].pay_url = Some("https://invoice.stripe.com/i/acct_1/x".into());
        // HTML attributes carry `/` as `&#x2f;`, which browsers read as `/`.
        let unescaped = |html: &str| html.replace("&#x2f;", "/");
        let one = render(&message);
        for part in [&one.text, &unescaped(&one.html)] {
            assert!(part.contains("WH-0042"), "{part}");
            assert!(!part.contains(&format!("Invoice {id}")), "{part}");
            assert!(
                part.contains("https://invoice.stripe.com/i/acct_1/x"),
                "{part}"
            );
            assert!(!part.contains("https://pay.example/"), "{part}");
        }

        let mut second = message.amounts[0].clone();
        second.number = Some("WH-0043".into());
        second.pay_url = Some("https://invoice.stripe.com/i/acct_1/y".into());
        message.amounts.push(second);
        let two = render(&message);
        for part in [&two.text, &unescaped(&two.html)] {
            assert!(part.contains("https://pay.example/"), "the button: {part}");
            assert!(
                part.contains("https://invoice.stripe.com/i/acct_1/x"),
                "{part}"
            );
            assert!(
                part.contains("https://invoice.stripe.com/i/acct_1/y"),
                "{part}"
            );
        }
    }

    #[test]
    fn reminders_and_the_final_notice_carry_the_contacts_own_page_link() {
        use crate::portal::link::{LinkSigner, PortalLink, parse_secrets};
        let envelope: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/actions/suspend.json")).unwrap();
        let mut message = ActionMessage::from_json(&envelope["detail"]).unwrap();
        let secrets = parse_secrets("a-portal-secret-of-at-least-32-chars").unwrap();
        let links = Links {
            pay_url: "https://pay.example/{account}".into(),
            card_url: "https://card.example/{account}".into(),
            portal: Some(LinkSigner::new("https://page.example/", &secrets).unwrap()),
        };
        let templates = Templates::new(links, &Policy::default()).unwrap();
        let render =
            |template: &str, message: &ActionMessage| to_dana(&templates, template, message);
        for step in ["reminder_1", "reminder_2", "final_notice"] {
            message.action = step.into();
            let email = render(step, &message);
            let link = email
                .text
                .lines()
                .find_map(|l| l.strip_prefix("https://page.example/?t="))
                .unwrap_or_else(|| panic!("{step}: {}", email.text));
            let opened = PortalLink::verify(link, &secrets, message.date).unwrap();
            assert_eq!(opened.contact, dana());
            assert_eq!(Some(opened.episode), message.episode);
            assert!(
                email.html.contains("Can&#x27;t pay today?")
                    || email.html.contains("Can't pay today?")
            );
        }
        message.action = "suspend".into();
        assert!(!render("suspend", &message).text.contains("page.example"));
        // A promise that passed is mentioned.
        message.action = "reminder_2".into();
        message.promise_passed = Some(message.date - chrono::Duration::days(1));
        assert!(
            render("reminder_2", &message)
                .text
                .contains("That date has passed")
        );
    }
}
