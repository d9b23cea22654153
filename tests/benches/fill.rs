//! Filling DynamoDB Local for the benches, fast: batch writes.
/// Puts `items` into `table`, 25 to a BatchWriteItem, `concurrency` batches
/// at a time, retrying what DynamoDB leaves unprocessed (bench set-up).
pub async fn put_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: impl IntoIterator<
        Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    >,
    concurrency: usize,
) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use futures::StreamExt;
    let requests: Vec<WriteRequest> = items
        .into_iter()
        .map(|item| {
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    let batches: Vec<Vec<WriteRequest>> =
        requests.chunks(25).map(<[WriteRequest]>::to_vec).collect();
    futures::stream::iter(batches)
        .for_each_concurrent(concurrency, |batch| async move {
            let mut pending = std::collections::HashMap::from([(table.to_owned(), batch)]);
            while !pending.is_empty() {
                let out = client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .unwrap();
                pending = out.unprocessed_items().cloned().unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
            }
        })
        .await;
}
