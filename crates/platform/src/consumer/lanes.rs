//! How one batch of deliveries is handled side by side: what must stay in order is one key's
//! events in one partition (a lane; keys are aggregate ids, the only order the bus promises
//! across partitions anyway), and what a commit covers is a partition's prefix.

use crate::bus::Delivery;

/// Where a delivery sits in a [`Batch`]: its partition, then its position there.
pub(super) type Place = (usize, usize);

/// Deliveries split by topic and partition, each partition in its order.
#[derive(Debug)]
pub(super) struct Batch {
    partitions: Vec<Vec<Delivery>>,
}

impl Batch {
    /// Splits `deliveries` by topic and partition, keeping each partition's order.
    pub(super) fn new(deliveries: Vec<Delivery>) -> Self {
        let mut partitions: Vec<Vec<Delivery>> = Vec::new();
        for delivery in deliveries {
            let same = |other: &Vec<Delivery>| {
                other.first().is_some_and(|first| {
                    first.partition == delivery.partition
                        && first.message.topic == delivery.message.topic
                })
            };
            match partitions.iter_mut().find(|partition| same(partition)) {
                Some(partition) => partition.push(delivery),
                None => partitions.push(vec![delivery]),
            }
        }
        Self { partitions }
    }

    /// The delivery at `place`.
    pub(super) fn get(&self, (partition, position): Place) -> &Delivery {
        &self.partitions[partition][position]
    }

    /// The lanes: each key's deliveries within a partition, in their order; lanes may be
    /// handled side by side.
    pub(super) fn lanes(&self) -> Vec<Vec<Place>> {
        let mut lanes: Vec<Vec<Place>> = Vec::new();
        for (partition, deliveries) in self.partitions.iter().enumerate() {
            let first_lane = lanes.len();
            for (position, delivery) in deliveries.iter().enumerate() {
                let key = &delivery.message.key;
                let lane = lanes[first_lane..]
                    .iter_mut()
                    .find(|lane| &self.get(lane[0]).message.key == key);
                match lane {
                    Some(lane) => lane.push((partition, position)),
                    None => lanes.push(vec![(partition, position)]),
                }
            }
        }
        lanes
    }

    /// What to commit once the deliveries at `handled` are done: per partition, the last one
    /// of its handled prefix (a commit covers everything before it, so nothing after a gap is
    /// committed; it comes again, and handlers are idempotent). True as well if every delivery
    /// was handled.
    pub(super) fn commit_points(
        &self,
        handled: impl IntoIterator<Item = Place>,
    ) -> (Vec<&Delivery>, bool) {
        let mut done: Vec<Vec<bool>> = self
            .partitions
            .iter()
            .map(|deliveries| vec![false; deliveries.len()])
            .collect();
        for (partition, position) in handled {
            done[partition][position] = true;
        }
        let mut commits = Vec::new();
        let mut all_handled = true;
        for (deliveries, done) in self.partitions.iter().zip(&done) {
            let prefix = done.iter().take_while(|handled| **handled).count();
            all_handled &= prefix == deliveries.len();
            if let Some(last) = prefix.checked_sub(1) {
                commits.push(&deliveries[last]);
            }
        }
        (commits, all_handled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::BusMessage;

    fn delivery(partition: i32, offset: i64, key: &str) -> Delivery {
        Delivery {
            message: BusMessage {
                topic: "t".into(),
                key: key.into(),
                headers: Vec::new(),
                payload: Vec::new(),
            },
            partition,
            offset,
        }
    }

    fn offsets(batch: &Batch, lane: &[Place]) -> Vec<(i32, i64)> {
        lane.iter()
            .map(|place| {
                let delivery = batch.get(*place);
                (delivery.partition, delivery.offset)
            })
            .collect()
    }

    #[test]
    fn each_key_of_each_partition_is_one_lane_in_order() {
        let batch = Batch::new(vec![
            delivery(0, 10, "a"),
            delivery(1, 5, "a"),
            delivery(0, 11, "b"),
            delivery(0, 12, "a"),
        ]);
        let lanes: Vec<_> = batch
            .lanes()
            .iter()
            .map(|lane| offsets(&batch, lane))
            .collect();
        assert_eq!(lanes, [vec![(0, 10), (0, 12)], vec![(0, 11)], vec![(1, 5)]]);
    }

    #[test]
    fn a_partition_commits_only_its_handled_prefix() {
        let batch = Batch::new(vec![
            delivery(0, 10, "a"),
            delivery(0, 11, "b"),
            delivery(0, 12, "c"),
            delivery(1, 5, "a"),
            delivery(2, 7, "d"),
        ]);
        // Partition 0: offset 11 was not handled, so 12 (handled) is not committed yet;
        // partition 1 is done; nothing of partition 2 was handled.
        let (commits, all_handled) = batch.commit_points([(0, 0), (0, 2), (1, 0)]);
        let committed: Vec<_> = commits
            .iter()
            .map(|delivery| (delivery.partition, delivery.offset))
            .collect();
        assert_eq!(committed, [(0, 10), (1, 5)]);
        assert!(!all_handled);

        let (commits, all_handled) = batch.commit_points([(0, 0), (0, 1), (0, 2), (1, 0), (2, 0)]);
        assert_eq!(commits.len(), 3);
        assert!(all_handled);
    }
}
