//! Machine liveness: a server that sends no telemetry for `timeout` epochs is declared lost,
//! and its work is re-planned elsewhere.
//!
//! Why in event time (epochs) and not the wall clock: a replay of the same inputs must lose
//! the same machines at the same epochs, so the deadline of a machine is the epoch of its
//! last telemetry plus the timeout, and the planner retracts it *at that epoch* when the
//! epoch closes. Caveat: a record is fed when it is read, so if a machine's next telemetry
//! (stamped after its deadline) is read before the deadline's epoch closes, the machine is
//! never declared lost; a replay that reads in larger batches can differ in that one case.

use std::collections::{BTreeSet, HashMap};

/// Deadlines of the machines being watched.
#[derive(Debug, Default)]
pub struct Deadlines {
    by_epoch: BTreeSet<(u64, String)>,
    of: HashMap<String, u64>,
}

impl Deadlines {
    /// `id` reported at epoch `at`: it is lost at `at + timeout` unless it reports again.
    pub fn seen(&mut self, id: &str, at: u64, timeout: u64) {
        let due = at.saturating_add(timeout);
        if let Some(old) = self.of.insert(id.to_string(), due) {
            self.by_epoch.remove(&(old, id.to_string()));
        }
        self.by_epoch.insert((due, id.to_string()));
    }

    /// Stop watching `id` (it left, or is edge hardware that reports only on change).
    pub fn forget(&mut self, id: &str) {
        if let Some(old) = self.of.remove(id) {
            self.by_epoch.remove(&(old, id.to_string()));
        }
    }

    /// The machines due before `epoch`, with the epoch each is lost at; they are no longer
    /// watched.
    pub fn due_before(&mut self, epoch: u64) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        while let Some(first) = self.by_epoch.first() {
            if first.0 >= epoch {
                break;
            }
            if let Some((due, id)) = self.by_epoch.pop_first() {
                self.of.remove(&id);
                out.push((due, id));
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_is_due_once_its_timeout_passes_without_a_report() {
        let mut d = Deadlines::default();
        d.seen("a", 10, 5);
        d.seen("b", 12, 5);
        assert!(d.due_before(15).is_empty());
        d.seen("b", 14, 5); // b reports again: its deadline moves to 19
        assert_eq!(d.due_before(16), vec![(15, "a".to_string())]);
        assert_eq!(d.len(), 1);
        assert!(d.due_before(19).is_empty());
        assert_eq!(d.due_before(100), vec![(19, "b".to_string())]);
        assert!(d.is_empty());
    }

    #[test]
    fn forgotten_machines_are_never_due() {
        let mut d = Deadlines::default();
        d.seen("a", 1, 1);
        d.forget("a");
        assert!(d.due_before(u64::MAX).is_empty());
    }
}
