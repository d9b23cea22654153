//! How the processor shows an invoice to the customer: the number printed
//! on it and the page where it is paid. Emails name invoices the way the
//! customer sees them, and send them to that page.

use serde::{Deserialize, Serialize};

use super::fields::FieldError;

/// At most this many characters in an invoice number.
const MAX_NUMBER: usize = 64;
/// At most this many bytes in a payment page's address.
const MAX_URL: usize = 2048;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    /// The invoice's number (Stripe's `number`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The page where this invoice is paid (Stripe's `hosted_invoice_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
}

impl Shown {
    /// Checks what a processor sent: a number of printable characters, an
    /// `https://` address without spaces, quotes or angle brackets (it goes
    /// into emails as a link). Empty values are absent.
    pub fn parse(number: Option<&str>, pay_url: Option<&str>) -> Result<Self, FieldError> {
        let number = number.filter(|n| !n.is_empty());
        if let Some(n) = number
            && (n.chars().count() > MAX_NUMBER || n.chars().any(char::is_control))
        {
            return Err(FieldError::new(
                "number",
                format!("expected at most {MAX_NUMBER} printable characters"),
            ));
        }
        let pay_url = pay_url.filter(|u| !u.is_empty());
        if let Some(u) = pay_url {
            let host = u.strip_prefix("https://").unwrap_or_default();
            let clean = !u.chars().any(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\'')
            });
            if host.is_empty() || host.starts_with('/') || u.len() > MAX_URL || !clean {
                return Err(FieldError::new(
                    "pay_url",
                    "expected an https:// address without spaces or quotes",
                ));
            }
        }
        Ok(Self {
            number: number.map(str::to_owned),
            pay_url: pay_url.map(str::to_owned),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.number.is_none() && self.pay_url.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::Shown;

    #[test]
    fn numbers_and_payment_pages_are_checked() {
        let ok = Shown::parse(
            Some("WH-0042"),
            Some("https://invoice.stripe.com/i/acct_1/x"),
        )
        .unwrap();
        assert_eq!(ok.number.as_deref(), Some("WH-0042"));
        assert_eq!(Shown::parse(Some(""), Some("")).unwrap(), Shown::default());
        for bad in [
            "http://invoice.example/x",
            "https://",
            "https:///x",
            "javascript:alert(1)",
            "https://a.example/\"><script>",
            "https://a.example/ x",
        ] {
            assert!(Shown::parse(None, Some(bad)).is_err(), "{bad}");
        }
        assert!(Shown::parse(Some("a\nb"), None).is_err());
        assert!(Shown::parse(Some(&"9".repeat(65)), None).is_err());
    }
}
