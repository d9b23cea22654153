//! The processors `ingest` knows, keyed by path, built once at init. A
//! known processor without a secret stays registered, so its path answers
//! "not configured" rather than "unknown".

use super::gocardless::GocardlessProcessor;
use super::paypal::PaypalProcessor;
use super::standard::StandardProcessor;
use super::stripe::StripeProcessor;
use super::{FromSecret, Processor};
use crate::config::{ConfigError, IngestSettings};

/// The registry: every known processor, in the order replies list them.
#[derive(Default)]
pub struct Processors {
    registered: Vec<Registered>,
}

/// A known processor: ready when configured.
pub struct Registered {
    name: &'static str,
    path: &'static str,
    processor: Option<Box<dyn Processor>>,
}

impl Registered {
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn path(&self) -> &'static str {
        self.path
    }

    /// `None`: its secret is not configured.
    pub fn processor(&self) -> Option<&dyn Processor> {
        self.processor.as_deref()
    }
}

impl Processors {
    /// Every processor pastdue knows, each ready when `settings` holds its
    /// secret. Adding a processor: its folder, and one line here.
    pub fn from_settings(settings: &IngestSettings) -> Result<Self, ConfigError> {
        Self::default()
            .register::<StripeProcessor>(settings)?
            .register::<StandardProcessor>(settings)
            .and_then(|r| r.register::<PaypalProcessor>(settings))
            .and_then(|r| r.register::<GocardlessProcessor>(settings))
    }

    /// Registers `P`: ready when `settings` holds its secret, else known but
    /// not configured. An invalid secret is reported under its variable.
    pub fn register<P: FromSecret>(self, settings: &IngestSettings) -> Result<Self, ConfigError> {
        let Some(secret) = settings.webhook_secret(P::NAME) else {
            return Ok(self.insert(Registered {
                name: P::NAME,
                path: P::PATH,
                processor: None,
            }));
        };
        let processor = P::from_secret(secret.expose(), settings.tolerance_secs)
            .and_then(|p| p.configure(settings))
            .map_err(|reason| ConfigError::Invalid {
                name: secret.var(),
                reason,
            })?;
        Ok(self.with(processor))
    }

    /// Registers a ready processor, in place of one at the same path.
    pub fn with<P: FromSecret>(self, processor: P) -> Self {
        self.insert(Registered {
            name: P::NAME,
            path: P::PATH,
            processor: Some(Box::new(processor)),
        })
    }

    fn insert(mut self, registered: Registered) -> Self {
        match self
            .registered
            .iter_mut()
            .find(|r| r.path == registered.path)
        {
            Some(slot) => *slot = registered,
            None => self.registered.push(registered),
        }
        self
    }

    /// The processor posted to at `path` (trailing slashes ignored).
    pub fn find(&self, path: &str) -> Option<&Registered> {
        let path = path.trim_end_matches('/');
        self.registered.iter().find(|r| r.path == path)
    }

    /// Every known path, configured or not, in registration order.
    pub fn paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.registered.iter().map(|r| r.path)
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::http::{HeaderMap, HeaderValue};
    use serde_json::{Value, json};

    use super::*;
    use crate::processors::{MapError, Mapped};

    async fn settings(pairs: &[(&str, &str)]) -> Result<IngestSettings, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let var = move |k: &str| map.get(k).cloned();
        IngestSettings::load(var, &aws_config::SdkConfig::builder().build()).await
    }

    const STRIPE: (&str, &str) = ("STRIPE_WEBHOOK_SECRET", "whsec_test");
    const STANDARD: (&str, &str) = (
        "STANDARD_WEBHOOK_SECRET",
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    );

    async fn both() -> Processors {
        Processors::from_settings(&settings(&[STRIPE, STANDARD]).await.unwrap()).unwrap()
    }

    /// Every processor configured.
    async fn all() -> Processors {
        let all = [
            STRIPE,
            STANDARD,
            ("PAYPAL_WEBHOOK_ID", "1JE4291016473214C"),
            ("GOCARDLESS_WEBHOOK_SECRET", "gc_secret"),
        ];
        Processors::from_settings(&settings(&all).await.unwrap()).unwrap()
    }

    fn ready<'a>(processors: &'a Processors, path: &str) -> &'a dyn Processor {
        processors.find(path).unwrap().processor().unwrap()
    }

    #[tokio::test]
    async fn unknown_paths_are_not_found_and_the_known_ones_are_listed() {
        let processors = both().await;
        for path in ["/", "", "/stripe/x", "/STRIPE", "stripe", "/paypal/x"] {
            assert!(processors.find(path).is_none(), "{path:?}");
        }
        assert_eq!(
            processors.paths().collect::<Vec<_>>(),
            ["/stripe", "/standard", "/paypal", "/gocardless"]
        );
        for (path, name) in [("/stripe/", "stripe"), ("/standard", "standard")] {
            let registered = processors.find(path).unwrap();
            assert_eq!(registered.name(), name);
            assert!(registered.processor().is_some(), "{path}");
        }
    }

    #[tokio::test]
    async fn a_processor_without_a_secret_is_known_but_not_configured() {
        let processors = Processors::from_settings(&settings(&[STRIPE]).await.unwrap()).unwrap();
        let standard = processors.find("/standard").unwrap();
        assert_eq!(standard.name(), "standard");
        assert!(standard.processor().is_none());
        assert!(processors.find("/stripe").unwrap().processor().is_some());
        let none = Processors::from_settings(&settings(&[]).await.unwrap()).unwrap();
        assert_eq!(none.paths().count(), 4, "still known");
        assert!(none.find("/stripe").unwrap().processor().is_none());
    }

    #[tokio::test]
    async fn an_invalid_secret_stops_init_naming_its_variable_not_its_value() {
        let bad = settings(&[("STANDARD_WEBHOOK_SECRET", "whsec_***not base64***")])
            .await
            .unwrap();
        let err = Processors::from_settings(&bad).err().unwrap();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    name: "STANDARD_WEBHOOK_SECRET",
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("not base64***"), "{err}");
    }

    #[tokio::test]
    async fn every_registered_processor_has_secret_variables() {
        let processors = all().await;
        let configured: Vec<&str> = IngestSettings::WEBHOOK_SECRETS
            .iter()
            .map(|v| v.processor)
            .collect();
        let registered: Vec<&str> = processors.registered.iter().map(|r| r.name).collect();
        assert_eq!(configured, registered);
        assert!(processors.registered.iter().all(|r| r.processor.is_some()));
    }

    fn bytes(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    #[tokio::test]
    async fn each_processor_names_its_delivery_its_own_way() {
        let processors = both().await;
        let stripe = ready(&processors, "/stripe");
        let body = bytes(
            &json!({"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": {}}}),
        );
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static("msg_1"));
        let read = stripe.read(&headers, &body).unwrap();
        assert_eq!(read.id(), "evt_1");
        assert_eq!(read.kind(), Some("invoice.paid"));
        let no_id = bytes(&json!({"type": "invoice.paid"}));
        let Err(err) = stripe.read(&headers, &no_id) else {
            panic!("an event without an id")
        };
        assert!(matches!(err, MapError::NotAnEvent(_)));
        assert!(err.to_string().contains("missing field `id`"), "{err}");
        let Err(err) = stripe.read(&headers, b"{not json") else {
            panic!("not JSON")
        };
        assert!(err.to_string().starts_with("body is not JSON"), "{err}");

        let standard = ready(&processors, "/standard");
        assert_eq!(standard.read(&headers, &body).unwrap().id(), "msg_1");
        assert_eq!(standard.read(&HeaderMap::new(), &body).unwrap().id(), "");
    }

    #[tokio::test]
    async fn only_stripe_disputes_and_refunds_need_links_and_standard_bodies_are_events() {
        let processors = both().await;
        let dispute = bytes(
            &json!({"id": "evt_2", "type": "charge.dispute.created", "created": 1,
            "data": {"object": {"id": "dp_1", "amount": 100, "currency": "usd", "status": "needs_response",
                "payment_intent": "pi_1", "charge": "ch_1"}}}),
        );
        let none = HeaderMap::new();
        assert_eq!(
            ready(&processors, "/stripe")
                .read(&none, &dispute)
                .unwrap()
                .links_needed(),
            ["pi_1", "ch_1"]
        );
        assert!(ready(&processors, "/stripe").read(&none, b"1").is_err());
        let standard = ready(&processors, "/standard");
        assert!(
            standard
                .read(&none, &dispute)
                .unwrap()
                .links_needed()
                .is_empty()
        );
        let event: Value = json!({"id": "e1", "at": "2026-01-01T10:00:00Z", "account": "acct_1", "type": "hold_released"});
        let Ok(Mapped::Events { events, account }) =
            standard.read(&none, &bytes(&event)).unwrap().map(None)
        else {
            panic!("a canonical event maps to itself");
        };
        assert_eq!((events[0].to_json(), account), (event, None));
        let err = standard
            .read(&none, &bytes(&json!({"id": "e2", "type": "no_such_type"})))
            .unwrap()
            .map(None)
            .unwrap_err();
        assert!(matches!(err, MapError::Event(_)), "{err}");
    }
}
