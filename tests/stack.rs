//! The local stack as the functions use it: the table exactly as the
//! template defines it, the due index, and SES v2 with a verified sender.

mod support;

use aws_sdk_dynamodb::types::{AttributeValue, ProjectionType, TimeToLiveStatus};
use chrono::NaiveDate;
use pastdue_shared::adapters::dynamodb::schema::{TableSetup, ensure_table};
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, keys};
use pastdue_shared::domain::AccountId;
use pastdue_shared::ports::DueCandidates;

#[tokio::test]
async fn the_table_is_created_as_the_template_defines_it_and_only_once() {
    let (client, table) = support::fresh_table("schema").await;
    let desc = client
        .describe_table()
        .table_name(table.as_str())
        .send()
        .await
        .unwrap();
    let desc = desc.table().unwrap();
    let key: Vec<&str> = desc
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(key, [keys::PK, keys::SK]);
    let mut indexes: Vec<(&str, Vec<&str>, Option<&ProjectionType>)> = desc
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            (
                i.index_name().unwrap(),
                i.key_schema().iter().map(|k| k.attribute_name()).collect(),
                i.projection().and_then(|p| p.projection_type()),
            )
        })
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            (
                keys::DUE_INDEX,
                vec![keys::GSI1_PK, keys::GSI1_SK],
                Some(&ProjectionType::Include)
            ),
            (
                keys::STATUS_INDEX,
                vec![keys::GSI2_PK, keys::GSI2_SK],
                Some(&ProjectionType::Include)
            ),
        ]
    );
    let ttl = client
        .describe_time_to_live()
        .table_name(table.as_str())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(keys::TTL_ATTRIBUTE));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

    // A second setup (a second `make stack`) reuses it.
    let again = ensure_table(&client, &table, &support::schema())
        .await
        .unwrap();
    assert_eq!(again, TableSetup::AlreadyThere);
}

#[tokio::test]
async fn a_table_with_another_schema_is_refused_not_reused() {
    let (client, table) = support::fresh_table("drift").await;
    let mut other = support::schema();
    other.indexes.retain(|i| i.name != keys::STATUS_INDEX);
    other
        .attributes
        .retain(|a| a.name != keys::GSI2_PK && a.name != keys::GSI2_SK);
    let err = ensure_table(&client, &table, &other).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("other keys or indexes"), "{err}");
}

async fn put_invoice(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    account: &str,
    invoice: &str,
    due: Option<&str>,
) {
    let account = AccountId::parse(account).unwrap();
    let mut put = client
        .put_item()
        .table_name(table)
        .item(keys::PK, AttributeValue::S(keys::account_pk(&account)))
        .item(keys::SK, AttributeValue::S(format!("INV#{invoice}")));
    if let Some(due) = due {
        let due: NaiveDate = due.parse().unwrap();
        put = put
            .item(
                keys::GSI1_PK,
                AttributeValue::S(keys::due_shard_pk(keys::due_shard(&account))),
            )
            .item(
                keys::GSI1_SK,
                AttributeValue::S(keys::due_sort_key(due, &account, invoice)),
            )
            .item(
                keys::TZ_ATTRIBUTE,
                AttributeValue::S("Europe/Berlin".into()),
            );
    }
    put.send().await.unwrap();
}

#[tokio::test]
async fn the_daily_run_finds_its_candidates_through_the_sparse_due_index() {
    let (client, table) = support::fresh_table("due").await;
    let t = table.as_str();
    put_invoice(&client, t, "cus_a", "in_a1", Some("2026-01-10")).await;
    put_invoice(&client, t, "cus_b", "in_b1", Some("2026-01-15")).await;
    put_invoice(&client, t, "cus_b", "in_b2", Some("2026-01-01")).await;
    put_invoice(&client, t, "cus_c", "in_c1", Some("2026-01-16")).await; // due today: not yet overdue anywhere
    put_invoice(&client, t, "cus_d", "in_d1", None).await; // paid: not in the sparse index
    for i in 0..40 {
        put_invoice(&client, t, &format!("cus_z{i}"), "in_z", Some("2026-03-01")).await;
    }

    let due = DynamoDueIndex::new(client.clone(), table.clone());
    let found = due
        .accounts_due_before("2026-01-16".parse().unwrap())
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(AccountId::as_str).collect();
    assert_eq!(
        ids,
        ["cus_a", "cus_b"],
        "each account once, only those due before the cutoff"
    );

    // The index carries each account's time zone for the hourly run.
    let shard = due
        .due_in_shard(
            keys::due_shard(&AccountId::parse("cus_b").unwrap()),
            "2026-01-16".parse().unwrap(),
        )
        .await
        .unwrap();
    let b = shard
        .iter()
        .find(|c| c.account.as_str() == "cus_b")
        .unwrap();
    assert_eq!(b.timezone.name(), "Europe/Berlin");
}

#[tokio::test]
async fn the_due_index_reports_an_unreachable_table_as_refused() {
    let config = support::sdk_config().await;
    let due = DynamoDueIndex::new(
        aws_sdk_dynamodb::Client::new(&config),
        support::unique_table_name("missing"),
    );
    let err = due
        .accounts_due_before("2026-01-16".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable(),
        "a missing table is not fixed by retrying: {err}"
    );
}

#[tokio::test]
async fn ses_sends_only_from_the_verified_sender_and_mail_can_be_read_back() {
    let config = support::sdk_config().await;
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    let ses = aws_sdk_sesv2::Client::new(&config);
    let sender = std::env::var("SENDER_EMAIL").expect("SENDER_EMAIL (set by make env)");
    let recipient = format!(
        "dana+{}@whitfield.example",
        support::unique_table_name("mail")
    );
    let content = |subject: &str| {
        aws_sdk_sesv2::types::EmailContent::builder()
            .simple(
                aws_sdk_sesv2::types::Message::builder()
                    .subject(
                        aws_sdk_sesv2::types::Content::builder()
                            .data(subject)
                            .build()
                            .unwrap(),
                    )
                    .body(
                        aws_sdk_sesv2::types::Body::builder()
                            .text(
                                aws_sdk_sesv2::types::Content::builder()
                                    .data("Hello Dana")
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let destination = aws_sdk_sesv2::types::Destination::builder()
        .to_addresses(&recipient)
        .build();

    let sent = ses
        .send_email()
        .from_email_address(&sender)
        .destination(destination.clone())
        .content(content("Your invoice"))
        .send()
        .await
        .expect("make stack verified the sender");
    let id = sent.message_id().unwrap();
    let stored = support::ses_messages(&endpoint);
    let mail = stored
        .iter()
        .find(|m| m["id"] == id)
        .expect("the message is in the emulator");
    assert_eq!(mail["source"], sender.as_str());
    assert_eq!(mail["destinations"]["ToAddresses"][0], recipient.as_str());
    assert_eq!(mail["subject"], "Your invoice");

    let refused = ses
        .send_email()
        .from_email_address("nobody@unverified.example")
        .destination(destination)
        .content(content("Spoofed"))
        .send()
        .await;
    let err = refused.expect_err("an unverified sender is refused, as SES does");
    assert!(err.into_service_error().is_message_rejected());
}
