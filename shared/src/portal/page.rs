//! The customer page's HTML, from the templates in
//! `shared/templates/portal/` (built into the binary), in the emails' look.
//! No JavaScript: plain links and forms, readable on a phone. The style
//! sheet is inline and allowed by its hash alone, so the
//! `Content-Security-Policy` allows nothing else.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDate;
use minijinja::{Environment, context};

use super::service::{Reply, View};
use crate::domain::EmailAddress;
use crate::notify::render::long_date;

const CSS: &str = include_str!("../../templates/portal/portal.css");
const FILES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../templates/portal/base.html"),
    ),
    (
        "page.html",
        include_str!("../../templates/portal/page.html"),
    ),
    (
        "message.html",
        include_str!("../../templates/portal/message.html"),
    ),
];

/// A page to send: its status, body, and where to go instead (a 303).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub html: String,
    pub location: Option<String>,
}

/// The templates, parsed once at init, and the headers every page shares.
pub struct Pages {
    env: Environment<'static>,
    /// Where customers write (`SENDER_EMAIL`): on every page.
    contact: EmailAddress,
    /// "Update card" is a form to the processor's page (a Stripe key is
    /// set), else a link to `CARD_URL`.
    card_form: bool,
    csp: String,
}

impl Pages {
    /// `card_url` is `CARD_URL`: the only place besides Stripe's portal a
    /// form may lead to.
    pub fn new(contact: EmailAddress, card_form: bool, card_url: &str) -> Result<Self, String> {
        let mut env = Environment::new();
        for (name, source) in FILES {
            env.add_template(name, source)
                .map_err(|e| format!("portal template {name}: {e}"))?;
        }
        let hash = STANDARD.encode(digest::digest(&digest::SHA256, CSS.as_bytes()));
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self' {} {}; base-uri 'none'; frame-ancestors 'none'",
            super::service::STRIPE_PORTAL.trim_end_matches('/'),
            origin(card_url)
        );
        Ok(Self {
            env,
            contact,
            card_form,
            csp,
        })
    }

    /// The `Content-Security-Policy` of every page.
    pub fn csp(&self) -> &str {
        &self.csp
    }

    /// The page for `reply` to a request that carried `token`.
    pub fn render(&self, reply: &Reply, token: &str) -> Rendered {
        let page = |status, view: &View, notice: Option<String>, refused: bool| {
            self.page(status, view, token, notice, refused)
        };
        match reply {
            Reply::Page(v) => page(200, v, None, false),
            Reply::Promised(v, until) => page(
                200,
                v,
                Some(format!(
                    "Thank you. We have noted that you will pay by {}. A confirmation is on its way to you by email.",
                    long_date(*until)
                )),
                false,
            ),
            Reply::Refused(v, why) => page(422, v, Some(why.clone()), true),
            Reply::Redirect(url) => Rendered {
                status: 303,
                html: String::new(),
                location: Some(url.clone()),
            },
            Reply::Expired => self.message(
                404,
                "This link has expired",
                "This link is no longer valid. If you still owe us something, the latest email we sent you has a fresh link; or write to us at the address below.",
            ),
            Reply::BadInput(why) => self.message(400, "Something was missing", why),
            Reply::Unavailable => self.message(
                503,
                "Please try again in a minute",
                "We could not take your request just now, and nothing has changed. Please go back and try again in a minute.",
            ),
        }
    }

    /// A plain page for a request no route takes.
    pub fn not_found(&self) -> Rendered {
        self.message(404, "Not found", "There is no page here.")
    }

    /// The page for a method its route does not take: GET never changes anything.
    pub fn wrong_method(&self) -> Rendered {
        self.message(
            405,
            "Nothing was changed",
            "This address only takes the form on your page. Please open the link in your email and use the buttons there.",
        )
    }

    /// The page for a body over the limit.
    pub fn too_large(&self) -> Rendered {
        self.message(413, "Something was missing", "The form sent was too large.")
    }

    fn page(
        &self,
        status: u16,
        v: &View,
        token: &str,
        notice: Option<String>,
        refused: bool,
    ) -> Rendered {
        let dates: Vec<_> = v
            .dates
            .iter()
            .enumerate()
            .map(|(i, d)| context! { value => d.to_string(), label => date_label(*d, i == 0) })
            .collect();
        let ctx = context! {
            title => format!("Your account with {}", v.account_name),
            css => CSS,
            contact => self.contact.as_str(),
            v,
            token,
            notice,
            refused,
            card_form => self.card_form,
            dates,
            promised => v.promised.map(long_date),
            held => v.held.map(long_date),
        };
        self.finish(status, "page.html", &ctx)
    }

    fn message(&self, status: u16, title: &str, message: &str) -> Rendered {
        let ctx = context! { title, message, css => CSS, contact => self.contact.as_str() };
        self.finish(status, "message.html", &ctx)
    }

    fn finish(&self, status: u16, template: &str, ctx: &minijinja::Value) -> Rendered {
        match self.env.get_template(template).and_then(|t| t.render(ctx)) {
            Ok(html) => Rendered {
                status,
                html,
                location: None,
            },
            Err(e) => {
                tracing::error!(template, error = %e, "portal page did not render");
                Rendered {
                    status: 500,
                    html: "<!doctype html><title>Please try again</title><p>Please try again in a minute.</p>"
                        .to_owned(),
                    location: None,
                }
            }
        }
    }
}

/// `Friday 11 December 2026`, with `Today, ` before the first.
fn date_label(d: NaiveDate, today: bool) -> String {
    let label = d.format("%A %-d %B %Y").to_string();
    if today {
        format!("Today, {label}")
    } else {
        label
    }
}

/// `https://host[:port]` of a URL (`CARD_URL`), for the policy.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..]
        .find('/')
        .map_or(url, |end| &url[..after + end])
}
