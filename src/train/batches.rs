//! Training batches made on background threads and delivered in step order, so a trainer sees
//! the same data whatever the number of threads and whether or not it resumed.
use std::collections::BTreeMap;
use std::sync::mpsc;

/// Makes `make(step)` for the steps `start..end` on `workers` threads; the receiver yields them
/// in step order.
pub fn spawn_ordered<B, F>(start: usize, end: usize, workers: usize, make: F) -> mpsc::Receiver<B>
where
    B: Send + 'static,
    F: Fn(usize) -> B + Clone + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel::<B>(4);
    let workers = workers.max(1);
    let (wtx, wrx) = mpsc::sync_channel::<(usize, B)>(2 * workers);
    for w in 0..workers {
        let make = make.clone();
        let wtx = wtx.clone();
        std::thread::spawn(move || {
            for step in (start + w..end).step_by(workers) {
                if wtx.send((step, make(step))).is_err() {
                    return;
                }
            }
        });
    }
    drop(wtx);
    std::thread::spawn(move || {
        let mut pending = BTreeMap::new();
        let mut next = start;
        for (step, batch) in wrx {
            pending.insert(step, batch);
            while let Some(batch) = pending.remove(&next) {
                if tx.send(batch).is_err() {
                    return;
                }
                next += 1;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_arrive_in_step_order() {
        let rx = spawn_ordered(3, 40, 3, |step| {
            std::thread::sleep(std::time::Duration::from_micros((step % 5) as u64 * 200));
            step
        });
        assert_eq!(rx.iter().collect::<Vec<_>>(), (3..40).collect::<Vec<_>>());
    }
}
