//! The demo's customer who uses their page: the link comes out of their
//! latest email in the SES emulator, and the page is opened and the promise
//! posted through the `portal` function's own handler, at the story's
//! simulated instant (the deployed page reads the real clock, which would
//! find a September link expired). The hold it places goes out on the
//! local bus to the functions `cargo lambda watch` serves, as in AWS.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request};
use pastdue_shared::adapters::bus::AnyBus;
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::config;
use pastdue_shared::handlers::portal::{self, PortalHttp};
use pastdue_shared::portal::page::Pages;
use pastdue_shared::portal::service::Portal;
use pastdue_shared::ports::card::NoCardSessions;
use pastdue_shared::runtime::{self, StoreApplier};
use serde_json::Value;

use crate::DemoError;
use crate::story::Promise;

pub struct CustomerPage {
    http: PortalHttp<DynamoStore, AnyBus<StoreApplier>, NoCardSessions>,
    /// `PORTAL_URL`: what the links in the emails start with.
    url: String,
    ses: String,
}

impl CustomerPage {
    pub async fn new(
        store: &DynamoStore,
        config: &aws_config::SdkConfig,
        ses: &str,
    ) -> Result<Self, DemoError> {
        let var = |k: &str| std::env::var(k).ok();
        let url = var("PORTAL_URL")
            .ok_or_else(|| DemoError::Story("PORTAL_URL is not set (make env)".into()))?;
        let (contact, links) = config::page_settings()?;
        let pages = Pages::new(contact, false, &links.card_url).map_err(DemoError::Story)?;
        let http = PortalHttp {
            portal: Portal {
                accounts: store.clone(),
                bus: runtime::event_bus(store.clone(), config),
                cards: NoCardSessions,
                secrets: config::portal_secrets(var, config).await?,
                policy: runtime::policy_from_env()?,
                links,
            },
            pages,
        };
        Ok(Self {
            http,
            url,
            ses: ses.trim_end_matches('/').to_owned(),
        })
    }

    /// Opens the link in `promise.contact`'s latest email and promises.
    /// Returns the page's own words for what happened.
    pub async fn promise(&self, promise: &Promise) -> Result<String, DemoError> {
        let token = self.latest_token(&promise.contact)?;
        let page = self
            .request("GET", &format!("/?t={token}"), "", promise.at)
            .await;
        if page.0 != 200 {
            return Err(DemoError::Story(format!(
                "{}'s page answered {}",
                promise.contact, page.0
            )));
        }
        let form = format!("t={token}&until={}", promise.until);
        let (status, html) = self.request("POST", "/promise", &form, promise.at).await;
        if status != 200 {
            return Err(DemoError::Story(format!(
                "{}'s promise answered {status}: {html}",
                promise.contact
            )));
        }
        Ok(html
            .split("id=\"notice\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or("promised")
            .to_owned())
    }

    async fn request(
        &self,
        method: &str,
        uri: &str,
        form: &str,
        now: DateTime<Utc>,
    ) -> (u16, String) {
        let request: Request = lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::Text(form.to_owned()))
            .unwrap_or_default();
        let response = portal::handle(&self.http, &request, now).await;
        let html = match response.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        (response.status().as_u16(), html)
    }

    /// The page token in the latest email to `contact` that has one.
    fn latest_token(&self, contact: &str) -> Result<String, DemoError> {
        let url = format!("{}/moto-api/data.json", self.ses);
        let data: Value = ureq::get(&url)
            .call()
            .and_then(|mut r| r.body_mut().read_json())
            .map_err(|e| DemoError::Ses(format!("{url}: {e}")))?;
        let start = format!("{}?t=", self.url);
        data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|a| a == contact))
            })
            .filter_map(|m| {
                let body = m["body"].as_str()?.replace("&#x2f;", "/");
                let at = body.find(&start)? + start.len();
                Some(
                    body[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                        .collect::<String>(),
                )
            })
            .next_back()
            .ok_or_else(|| DemoError::Ses(format!("no email to {contact} links to {}", self.url)))
    }
}
