//! Signed links to the customer page: each names one account, one
//! delinquency episode, the contact it was sent to and the last day it is
//! valid, and is signed with HMAC-SHA256 under the portal secret. A link
//! that is forged, tampered with or expired reveals nothing: every such
//! link is the same error to the page, which says only that it expired.
//! (Whether its episode has ended is for the page, which reads the
//! account.)

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDate};
use subtle::ConstantTimeEq;

use crate::domain::{AccountId, EmailAddress};
use crate::processors::verify::Secret;

/// The token's version: a change of format changes it.
const VERSION: &str = "p1";
/// How long a link lasts at most (the episode may end sooner).
pub const VALID_DAYS: i64 = 14;

/// What a link is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalLink {
    pub account: AccountId,
    /// The episode, named by the local date it began.
    pub episode: NaiveDate,
    /// Who it was sent to.
    pub contact: EmailAddress,
    /// The last local date it opens the page.
    pub expires: NaiveDate,
}

/// Why a token does not open the page. The page shows one message for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not one of ours")]
    Malformed,
    #[error("the link's signature does not match")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

impl PortalLink {
    /// A link sent on local date `sent`, valid for [`VALID_DAYS`].
    pub fn new(
        account: AccountId,
        episode: NaiveDate,
        contact: EmailAddress,
        sent: NaiveDate,
    ) -> Self {
        Self {
            account,
            episode,
            contact,
            expires: sent + Duration::days(VALID_DAYS),
        }
    }

    /// The fields, one per line: none of them can hold a newline.
    fn payload(&self) -> String {
        format!(
            "{VERSION}\n{}\n{}\n{}\n{}",
            self.account, self.episode, self.contact, self.expires
        )
    }

    /// The token for the link's URL: the payload and its HMAC, base64url.
    pub fn sign(&self, secret: &Secret) -> String {
        let payload = self.payload();
        let mac = secret.sign(&[payload.as_bytes()]);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// The link `token` stands for, when one of `secrets` signed it (more
    /// than one while the secret is rotated) and it is still valid on local
    /// date `today`. The signature is compared in constant time, before
    /// anything in the payload is trusted.
    pub fn verify(token: &str, secrets: &[Secret], today: NaiveDate) -> Result<Self, LinkError> {
        let (payload, mac) = token.split_once('.').ok_or(LinkError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkError::Malformed)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| LinkError::Malformed)?;
        let mut matched = subtle::Choice::from(0);
        for secret in secrets {
            matched |= secret.sign(&[&payload]).as_slice().ct_eq(&mac);
        }
        if !bool::from(matched) {
            return Err(LinkError::Forged);
        }
        let text = String::from_utf8(payload).map_err(|_| LinkError::Malformed)?;
        let fields: Vec<&str> = text.split('\n').collect();
        let [version, account, episode, contact, expires] = fields[..] else {
            return Err(LinkError::Malformed);
        };
        if version != VERSION {
            return Err(LinkError::Malformed);
        }
        let link = Self {
            account: AccountId::parse(account).map_err(|_| LinkError::Malformed)?,
            episode: episode.parse().map_err(|_| LinkError::Malformed)?,
            contact: EmailAddress::parse(contact).map_err(|_| LinkError::Malformed)?,
            expires: expires.parse().map_err(|_| LinkError::Malformed)?,
        };
        if today > link.expires {
            return Err(LinkError::Expired);
        }
        Ok(link)
    }
}

/// The portal's secrets, read once at init: comma-separated during a
/// rotation, the first signing new links, every one opening them. Each is
/// at least [`MIN_SECRET_LEN`] characters.
pub fn parse_secrets(raw: &str) -> Result<Vec<Secret>, String> {
    crate::processors::verify::parse_secrets(raw, "portal", |s| {
        if s.len() < MIN_SECRET_LEN {
            return Err(format!(
                "a portal secret must be at least {MIN_SECRET_LEN} characters"
            ));
        }
        Ok(Secret::from_bytes(s.as_bytes().to_vec()))
    })
}

/// The shortest portal secret accepted.
pub const MIN_SECRET_LEN: usize = 32;

/// Makes the links the emails carry: the page's address with a token.
#[derive(Debug, Clone)]
pub struct LinkSigner {
    /// The page (`PORTAL_URL`), without a query.
    url: String,
    secret: Secret,
}

impl LinkSigner {
    pub fn new(url: &str, secrets: &[Secret]) -> Result<Self, String> {
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.contains('?')
            || !url.ends_with('/')
        {
            return Err("expected an http(s) URL ending in / without a query".into());
        }
        let secret = secrets.first().cloned().ok_or("no portal secret")?;
        Ok(Self {
            url: url.to_owned(),
            secret,
        })
    }

    /// The link for `link`: `<page>?t=<token>` (the token is base64url,
    /// so it needs no escaping).
    pub fn url(&self, link: &PortalLink) -> String {
        format!("{}?t={}", self.url, link.sign(&self.secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::from_bytes(s.as_bytes().to_vec())
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn link() -> PortalLink {
        PortalLink::new(
            AccountId::parse("cus_Whitfield").unwrap(),
            day("2026-01-16"),
            EmailAddress::parse("dana@whitfield.example").unwrap(),
            day("2026-01-22"),
        )
    }

    #[test]
    fn a_signed_link_opens_until_it_expires() {
        let token = link().sign(&secret("portal-secret"));
        let opened = PortalLink::verify(&token, &[secret("portal-secret")], day("2026-01-22"));
        assert_eq!(opened, Ok(link()));
        assert_eq!(link().expires, day("2026-02-05"));
        assert!(PortalLink::verify(&token, &[secret("portal-secret")], day("2026-02-05")).is_ok());
        assert_eq!(
            PortalLink::verify(&token, &[secret("portal-secret")], day("2026-02-06")),
            Err(LinkError::Expired)
        );
        // During a rotation the old secret's links still open.
        let both = [secret("new-secret"), secret("portal-secret")];
        assert!(PortalLink::verify(&token, &both, day("2026-01-22")).is_ok());
    }

    #[test]
    fn forged_and_tampered_links_open_nothing() {
        let today = day("2026-01-22");
        let ours = [secret("portal-secret")];
        let token = link().sign(&ours[0]);
        assert_eq!(
            PortalLink::verify(&link().sign(&secret("guess")), &ours, today),
            Err(LinkError::Forged)
        );
        // Another account's id put in the payload, the signature kept.
        let (_, mac) = token.split_once('.').unwrap();
        let mut other = link();
        other.account = AccountId::parse("cus_Other").unwrap();
        let swapped = format!("{}.{mac}", URL_SAFE_NO_PAD.encode(other.payload()));
        assert_eq!(
            PortalLink::verify(&swapped, &ours, today),
            Err(LinkError::Forged)
        );
        // A later expiry, the signature kept.
        let mut longer = link();
        longer.expires = day("2027-01-01");
        let extended = format!("{}.{mac}", URL_SAFE_NO_PAD.encode(longer.payload()));
        assert_eq!(
            PortalLink::verify(&extended, &ours, today),
            Err(LinkError::Forged)
        );
        for junk in ["", ".", "abc", "abc.def", "…", &token[..token.len() - 2]] {
            assert!(PortalLink::verify(junk, &ours, today).is_err(), "{junk:?}");
        }
    }
}
