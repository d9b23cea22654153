//! PayPal at `ingest`'s HTTP boundary, against DynamoDB Local and the
//! loopback PayPal certificate host (`dev/paypal_api.py`): deliveries signed
//! with SHA256withRSA as PayPal signs them, verified against a certificate
//! fetched only from an allowed origin; the same standing as the same
//! story told by Stripe; bad input refused, changing nothing.

mod gocardless_story;
mod ingest_harness;
mod paypal_story;
mod support;

use gocardless_story::{STRIPE_CUSTOMER, STRIPE_PAYMENT, STRIPE_UNPAID, tell_stripe};
use ingest_harness::*;
use pastdue_shared::processors::paypal::signature::body_crc32;
use paypal_story::*;
use serde_json::json;

#[tokio::test]
async fn an_invoice_whose_capture_is_denied_then_paid_ends_as_the_same_story_through_stripe() {
    let stripe = deps("pp-story-stripe").await;
    tell_stripe(&stripe, &STRIPE_UNPAID).await;
    let unpaid = standing(&show(&stripe, STRIPE_CUSTOMER).await);

    let pp = all_deps("pp-story").await;
    let story = Story::new("dana@whitfield.example");
    let sent = bytes(&story.event("INVOICING.INVOICE.UPDATED"));
    let denied = bytes(&story.event("PAYMENT.CAPTURE.DENIED"));
    let paid = bytes(&story.event("INVOICING.INVOICE.PAID"));
    // The denial first (it waits for its invoice), duplicates, reordered.
    let (status, answer) = post_now(&pp, paypal_request(&denied, &Signing::default())).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (503, Some("retry")),
        "{answer}"
    );
    for body in [&sent, &denied, &sent, &denied] {
        let (status, answer) = post_now(&pp, paypal_request(body, &Signing::default())).await;
        assert_eq!(status, 200, "{answer}");
    }
    let account = story.account();
    assert_eq!(standing(&show(&pp, &account).await), unpaid);

    tell_stripe(&stripe, &STRIPE_PAYMENT).await;
    for _ in 0..2 {
        let (status, answer) = post_now(&pp, paypal_request(&paid, &Signing::default())).await;
        assert_eq!(status, 200, "{answer}");
    }
    let shown = show(&pp, &account).await;
    assert_eq!(
        standing(&shown),
        standing(&show(&stripe, STRIPE_CUSTOMER).await)
    );
    assert_eq!(shown["invoices"][0]["owed"], "0.00", "{shown}");
    // Greeted by the recipient's own name.
    let contact = &shown["contacts"][0];
    assert_eq!(contact["name"], "Ada Lovelace", "{shown}");
    assert_eq!(contact["email"], "dana@whitfield.example");
}

#[tokio::test]
async fn a_dispute_pauses_on_its_invoice_and_losing_it_owes_the_money_again_once() {
    let pp = all_deps("pp-dispute").await;
    let story = Story::new("ops@dispute.example");
    for event in [
        "INVOICING.INVOICE.UPDATED",
        "PAYMENT.CAPTURE.COMPLETED",
        "CUSTOMER.DISPUTE.CREATED",
    ] {
        let (status, answer) = post_now(
            &pp,
            paypal_request(&bytes(&story.event(event)), &Signing::default()),
        )
        .await;
        assert_eq!(status, 200, "{event}: {answer}");
    }
    let shown = show(&pp, &story.account()).await;
    assert_eq!(shown["invoices"][0]["in_dispute"], true, "{shown}");
    // PayPal found for the buyer: it reverses the capture, and says so.
    let reversed = bytes(&story.event("PAYMENT.CAPTURE.REVERSED"));
    let (status, answer) = post_now(&pp, paypal_request(&reversed, &Signing::default())).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    let mut resolved = story.event("CUSTOMER.DISPUTE.RESOLVED");
    resolved["resource"]["dispute_outcome"]["outcome_code"] = json!("RESOLVED_BUYER_FAVOUR");
    let (status, answer) =
        post_now(&pp, paypal_request(&bytes(&resolved), &Signing::default())).await;
    assert_eq!(status, 200, "{answer}");
    let shown = show(&pp, &story.account()).await;
    assert_eq!(shown["invoices"][0]["in_dispute"], false, "{shown}");
    assert_eq!(
        shown["invoices"][0]["owed"], "120.00",
        "lost: owed again: {shown}"
    );
}

#[tokio::test]
async fn forged_stale_misrouted_and_malformed_deliveries_are_refused_and_change_nothing() {
    let pp = all_deps("pp-bad").await;
    let story = Story::new("bad@input.example");
    let body = bytes(&story.event("INVOICING.INVOICE.UPDATED"));
    let good = Signing::default();
    let with = |change: &dyn Fn(&mut Signing)| {
        let mut s = good.clone();
        change(&mut s);
        s
    };
    let stripe_host = support::local_endpoint("STRIPE_API_BASE");
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let cases: Vec<(&str, lambda_http::Request, u16)> = vec![
        (
            "another webhook id",
            paypal_request(&body, &with(&|s| s.webhook_id = "0WRONG".into())),
            401,
        ),
        (
            "stale",
            paypal_request(&body, &with(&|s| s.time = now() - 301)),
            401,
        ),
        (
            "from the future",
            paypal_request(&body, &with(&|s| s.time = now() + 301)),
            401,
        ),
        (
            "a certificate from another host",
            paypal_request(
                &body,
                &with(&|s| {
                    s.cert_url = format!("{stripe_host}/v1/notifications/certs/CERT-1");
                }),
            ),
            401,
        ),
        (
            "a certificate outside PayPal's path",
            paypal_request(
                &body,
                &with(&|s| {
                    s.cert_url = format!("{}/v1/other/CERT-1", api_base());
                }),
            ),
            401,
        ),
        (
            "a certificate URL with a query",
            paypal_request(
                &body,
                &with(&|s| {
                    s.cert_url = format!("{}/v1/notifications/certs/CERT-1?n=2", api_base());
                }),
            ),
            401,
        ),
        (
            "another algorithm",
            paypal_request(&body, &with(&|s| s.algo = "SHA1withRSA".into())),
            401,
        ),
        (
            "a tampered body",
            {
                let mut r = paypal_request(&body, &good);
                *r.body_mut() = lambda_http::Body::Binary(tampered.clone());
                r
            },
            401,
        ),
        (
            "no headers",
            request("POST", "/paypal", &[], body.clone()),
            401,
        ),
        ("not JSON", paypal_request(b"{not json", &good), 400),
        (
            "not an event",
            paypal_request(br#"{"id": "WH-1"}"#, &good),
            400,
        ),
        ("a GET", request("GET", "/paypal", &[], vec![]), 405),
        (
            "another path",
            request("POST", "/paypal/webhooks", &[], body.clone()),
            404,
        ),
        (
            "an oversized body",
            paypal_request(&vec![b' '; 256 * 1024 + 1], &good),
            413,
        ),
    ];
    for (what, request, status) in cases {
        let (got, answer) = post_now(&pp, request).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["outcome"], "rejected", "{what}: {answer}");
    }
    assert!(!gocardless_story::account_exists(&pp, &story.account()).await);
    // The one signed under the previous webhook id (a change in progress)
    // is taken.
    let (status, answer) = post_now(
        &pp,
        paypal_request(&body, &with(&|s| s.webhook_id = OLD_WEBHOOK_ID.into())),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(gocardless_story::account_exists(&pp, &story.account()).await);
}

#[tokio::test]
async fn with_api_verification_paypal_itself_vouches_for_each_delivery() {
    let pp = api_verified_deps("pp-api-verify").await;
    let story = Story::new("api@verify.example");
    let body = bytes(&story.event("INVOICING.INVOICE.UPDATED"));
    let stale = Signing {
        time: now() - 301,
        ..Signing::default()
    };
    let other = Signing {
        webhook_id: "0WRONG".into(),
        ..Signing::default()
    };
    // Refused before asking (stale), and by PayPal (another webhook id).
    for signing in [stale, other] {
        let (status, answer) = post_now(&pp, paypal_request(&body, &signing)).await;
        assert_eq!(status, 401, "{answer}");
    }
    assert!(!gocardless_story::account_exists(&pp, &story.account()).await);
    let (status, answer) = post_now(&pp, paypal_request(&body, &Signing::default())).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "applied", "{answer}");
    assert!(gocardless_story::account_exists(&pp, &story.account()).await);
}

#[tokio::test]
async fn an_invoice_whose_recipient_is_corrected_stays_on_its_account() {
    let pp = all_deps("pp-recipient").await;
    let story = Story::new("typo@recipient.example");
    let sent = bytes(&story.event("INVOICING.INVOICE.UPDATED"));
    let (status, answer) = post_now(&pp, paypal_request(&sent, &Signing::default())).await;
    assert_eq!(status, 200, "{answer}");
    let corrected = Story {
        email: "right@recipient.example".into(),
        ..story.clone()
    };
    let fixed = bytes(&corrected.event("INVOICING.INVOICE.UPDATED"));
    let (status, answer) = post_now(&pp, paypal_request(&fixed, &Signing::default())).await;
    assert_eq!(status, 200, "{answer}");
    assert!(!gocardless_story::account_exists(&pp, &corrected.account()).await);
    let shown = show(&pp, &story.account()).await;
    assert_eq!(shown["invoices"].as_array().unwrap().len(), 1, "{shown}");
}

/// `prefix` and four bytes that give the whole `wanted`'s CRC-32: what an
/// attacker holding one genuine delivery could post under its signature.
fn same_crc(prefix: &[u8], wanted: u32) -> Vec<u8> {
    let mut table = [0u32; 256];
    for (i, entry) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *entry = c;
    }
    let mut reverse = [0u32; 256];
    for (i, entry) in table.iter().enumerate() {
        reverse[(entry >> 24) as usize] = (entry << 8) ^ i as u32;
    }
    let forward = body_crc32(prefix) ^ 0xFFFF_FFFF;
    let mut backward = wanted ^ 0xFFFF_FFFF;
    for byte in forward.to_le_bytes().iter().rev() {
        backward = (backward << 8) ^ reverse[(backward >> 24) as usize] ^ u32::from(*byte);
    }
    [prefix, &backward.to_le_bytes()].concat()
}

#[tokio::test]
async fn a_signed_transmission_carries_one_body_only() {
    let pp = all_deps("pp-transmission").await;
    let story = Story::new("crc@forgery.example");
    let genuine = bytes(&story.event("INVOICING.INVOICE.UPDATED"));
    let headers = headers(&genuine, &Signing::default());
    let (status, answer) =
        post_now(&pp, request("POST", "/paypal", &headers, genuine.clone())).await;
    assert_eq!(status, 200, "{answer}");
    // Another body with the same CRC-32 passes PayPal's signature, so only
    // the transmission's one body stops it.
    let mut other = story.event("INVOICING.INVOICE.PAID");
    other["id"] = serde_json::json!("WH-FORGED");
    let forged = same_crc(&bytes(&other), body_crc32(&genuine));
    assert_eq!(body_crc32(&forged), body_crc32(&genuine));
    let (status, answer) = post_now(&pp, request("POST", "/paypal", &headers, forged)).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(
        answer["error"], "this transmission was signed for another body",
        "{answer}"
    );
    // PayPal sending the same delivery again is taken (a duplicate).
    let (status, answer) = post_now(&pp, request("POST", "/paypal", &headers, genuine)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "duplicate", "{answer}");
}
