//! Stripe's customer portal: `POST /v1/billing_portal/sessions` makes a
//! `billing_portal.session` for one customer, whose `url` is a one-time
//! page on Stripe where they change how they pay, and which sends them
//! back to the `return_url` given. It is the client's one write: a
//! restricted key needs the "Customer portal" permission set to Write.

use serde::Deserialize;

use super::{StripeApi, StripeApiError, malformed};
use crate::ports::card::{CardSessionError, CardSessions};

const PATH: &str = "/v1/billing_portal/sessions";

/// What pastdue reads of a `billing_portal.session`.
#[derive(Deserialize)]
struct Session {
    url: String,
}

impl StripeApi {
    /// A customer portal session for `customer` (Stripe's `cus_…` id),
    /// coming back to `return_url`: the session's one-time `url`.
    pub async fn billing_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, StripeApiError> {
        if customer.is_empty()
            || !customer
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StripeApiError::Refused {
                status: 0,
                kind: "invalid_request_error".into(),
                message: format!("{customer:?} is not a Stripe customer id"),
            });
        }
        let params = [
            ("customer", customer.to_owned()),
            ("return_url", return_url.to_owned()),
        ];
        let body = self.post(PATH, &params).await?;
        let session: Session = serde_json::from_slice(&body).map_err(|e| malformed(PATH, &e))?;
        // The customer is sent there: only ever to a page over HTTPS.
        if !session.url.starts_with("https://") {
            return Err(StripeApiError::Malformed {
                path: PATH.to_owned(),
                reason: "the session's url is not an https URL".into(),
            });
        }
        Ok(session.url)
    }
}

impl CardSessions for StripeApi {
    async fn card_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, CardSessionError> {
        self.billing_portal_session(customer, return_url)
            .await
            .map_err(|e| {
                // The return URL can carry the customer page's signed link:
                // it is never repeated in an error.
                let mut reason = e.to_string();
                if !return_url.is_empty() {
                    reason = reason.replace(return_url, "<return_url>");
                }
                if e.is_retryable() {
                    CardSessionError::Unavailable(reason)
                } else {
                    CardSessionError::Refused(reason)
                }
            })
    }
}
