//! The GoCardless batch reader and mapper on any bytes, as the webhook
//! and as the objects the API adapter hands over: never a panic; whatever
//! maps is a canonical event that reads back as itself.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pastdue_shared::domain::{AccountId, Event, InvoiceId};
use pastdue_shared::processors::gocardless::{MetadataKeys, read_deliveries};
use pastdue_shared::processors::{Delivery, Mapped, Objects};

fuzz_target!(|data: &[u8]| {
    // The webhook, then (after a NUL) the body given for every object it
    // needs.
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (body, object) = data.split_at(split);
    let object = object.get(1..).unwrap_or_default();
    let Ok(deliveries) = read_deliveries(body, Arc::new(MetadataKeys::default())) else {
        return;
    };
    let link = AccountId::parse("acct_fuzz")
        .ok()
        .zip(InvoiceId::parse("in_fuzz").ok());
    for delivery in deliveries {
        let mut objects = Objects::default();
        for needed in delivery.objects_needed() {
            objects.insert(needed, Some(object.to_vec()));
        }
        let _ = delivery.links_needed_with(&objects);
        for link in [None, link.clone()] {
            let events = match delivery.map_with(link, &objects) {
                Ok(Mapped::Events { events, .. } | Mapped::Linked { events, .. }) => events,
                _ => continue,
            };
            for e in events {
                assert_eq!(Event::from_json(&e.to_json()).ok(), Some(e));
            }
        }
    }
});
