//! The Stripe delivery mapper on any JSON: never a panic; whatever maps is a
//! canonical event that reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pastdue_shared::domain::{AccountId, Event, InvoiceId};
use pastdue_shared::processors::Mapped;
use pastdue_shared::processors::stripe::mapping::{StripeEvent, link_ids, map};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(stripe) = StripeEvent::parse(&value) else { return };
    let _ = link_ids(&stripe);
    let link = AccountId::parse("cus_fuzz").ok().zip(InvoiceId::parse("in_fuzz").ok());
    for link in [None, link] {
        if let Ok(Mapped::Events { events, .. }) = map(&stripe, link) {
            for e in events {
                assert_eq!(Event::from_json(&e.to_json()).ok(), Some(e));
            }
        }
    }
});
