//! The PayPal delivery reader and mapper on any bytes: never a panic;
//! whatever maps is a canonical event that reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pastdue_shared::domain::{AccountId, Event, InvoiceId};
use pastdue_shared::processors::paypal::mapping::PaypalDelivery;
use pastdue_shared::processors::{Delivery, Mapped};

fuzz_target!(|data: &[u8]| {
    let Ok(delivery) = PaypalDelivery::read(data) else { return };
    let _ = delivery.links_needed();
    let link = AccountId::parse("acct_fuzz").ok().zip(InvoiceId::parse("paypal:INV2-FUZZ").ok());
    for link in [None, link] {
        if let Ok(Mapped::Events { events, .. } | Mapped::Linked { events, .. }) = delivery.map(link) {
            for e in events {
                assert_eq!(Event::from_json(&e.to_json()).ok(), Some(e));
            }
        }
    }
});
