//! Capacity metering: read and write units consumed, summed over every call,
//! so benchmarks and the cost figures (docs/performance.md) come from DynamoDB's own
//! accounting.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::ConsumedCapacity;

/// Read and write capacity units consumed, summed over every call.
#[derive(Debug, Default)]
pub struct Capacity {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    items_written: AtomicU64,
}

impl Capacity {
    pub fn reads(&self) -> f64 {
        self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn writes(&self) -> f64 {
        self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Items written by committed transactions (AWS bills each at 2 write
    /// request units per KB in a transaction).
    pub fn items_written(&self) -> u64 {
        self.items_written.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, units: f64) {
        counter.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }

    pub(super) fn reads_of<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        for c in consumed {
            Self::add(
                &self.read_milli,
                c.read_capacity_units()
                    .or(c.capacity_units())
                    .unwrap_or(0.0),
            );
        }
    }

    pub(super) fn writes_of<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        for c in consumed {
            Self::add(
                &self.write_milli,
                c.write_capacity_units()
                    .or(c.capacity_units())
                    .unwrap_or(0.0),
            );
        }
    }

    pub(super) fn items(&self, count: u64) {
        self.items_written.fetch_add(count, Ordering::Relaxed);
    }
}
