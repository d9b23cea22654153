//! Processor delivery claims: a delivery id is claimed before its events are
//! published and marked once they are, so a retry after a failed publish
//! publishes again instead of being lost. Claims expire like event claims:
//! processors retry for days, not weeks.

use super::codec::{Item, claim_expiry, key, s};
use super::keys;
use super::states::DeliveryState;
use super::table::DynamoStore;
use crate::ports::{Deliveries, DeliveryClaim, StoreError, Transmissions};

fn delivery_key(processor: &str, delivery: &str) -> Item {
    key(keys::delivery_pk(processor, delivery), keys::DELIVERY_SK)
}

impl Deliveries for DynamoStore {
    async fn claim_delivery(
        &self,
        processor: &str,
        delivery: &str,
    ) -> Result<DeliveryClaim, StoreError> {
        let mut item = delivery_key(processor, delivery);
        item.insert(keys::TTL_ATTRIBUTE.to_owned(), claim_expiry());
        item.insert(keys::STATE.to_owned(), s(DeliveryState::Pending.as_str()));
        let put = self
            .put_item(item)
            .condition_expression("attribute_not_exists(#pk) OR #state = :pending")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#state", keys::STATE)
            .expression_attribute_values(":pending", s(DeliveryState::Pending.as_str()));
        Ok(if self.put_if(put).await? {
            DeliveryClaim::Publish
        } else {
            DeliveryClaim::AlreadyPublished
        })
    }

    async fn mark_published(&self, processor: &str, delivery: &str) -> Result<(), StoreError> {
        self.set_attributes(
            delivery_key(processor, delivery),
            &[(keys::STATE, s(DeliveryState::Published.as_str()))],
            false,
        )
        .await
    }
}

impl Transmissions for DynamoStore {
    async fn claim_transmission(
        &self,
        processor: &str,
        transmission: &str,
        digest: &str,
    ) -> Result<bool, StoreError> {
        // `DLV#<processor>-transmission#<id>`: beside the delivery claims,
        // expiring with them.
        let mut item = key(
            keys::delivery_pk(&format!("{processor}-transmission"), transmission),
            keys::DELIVERY_SK,
        );
        item.insert(keys::TTL_ATTRIBUTE.to_owned(), claim_expiry());
        item.insert("digest".to_owned(), s(digest));
        let put = self
            .put_item(item)
            .condition_expression("attribute_not_exists(#pk) OR #digest = :digest")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#digest", "digest")
            .expression_attribute_values(":digest", s(digest));
        self.put_if(put).await
    }
}
