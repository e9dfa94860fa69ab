//! The matching instance's resources: a GPU count and a GPU memory per device a binding
//! uses, numbered on first use.

use super::Entry;
use crate::matching::Resource;
use crate::online::rows::DeviceRow;
use crate::online::Name;

/// The resources of the instance: a device's GPU count and GPU memory, registered on first
/// use and kept while the machines are unchanged (a full solve drops those no entry uses).
#[derive(Debug, Default)]
pub(super) struct Registry {
    pub(super) resources: Vec<Resource>,
    of: foldhash::HashMap<Name, u32>,
}

impl Registry {
    /// Drop the resources no entry uses (the devices of members that left), keeping the
    /// others in their order, and renumber the entries' uses to match.
    pub(super) fn compact(&mut self, entries: &mut [(Name, Entry)]) {
        let mut used = vec![false; self.resources.len()];
        for (_, e) in entries.iter() {
            for c in &e.demand.candidates {
                for &(r, _) in &c.uses {
                    // A device's GPU and memory are registered, and kept, together.
                    let gpu = (r & !1) as usize;
                    used[gpu] = true;
                    used[gpu + 1] = true;
                }
            }
        }
        if used.iter().all(|u| *u) {
            return;
        }
        let mut new_index = vec![u32::MAX; used.len()];
        let mut kept = Vec::with_capacity(used.len());
        for (i, r) in std::mem::take(&mut self.resources).into_iter().enumerate() {
            if used[i] {
                new_index[i] = kept.len() as u32;
                kept.push(r);
            }
        }
        self.resources = kept;
        self.of.retain(|_, i| used[*i as usize]);
        for i in self.of.values_mut() {
            *i = new_index[*i as usize];
        }
        for (_, e) in entries.iter_mut() {
            for c in &mut e.demand.candidates {
                for (r, _) in &mut c.uses {
                    *r = new_index[*r as usize];
                }
            }
        }
    }

    /// The index of `device`'s GPU resource (its memory is the next one); its capacities
    /// are refreshed from the row.
    pub(super) fn gpu(&mut self, device: &DeviceRow) -> u32 {
        let i = match self.of.get(device.id.as_str()) {
            Some(&i) => i,
            None => {
                let i = self.resources.len() as u32;
                for kind in ["gpu", "mem"] {
                    self.resources.push(Resource {
                        name: format!("{kind}:{}", device.id),
                        capacity: 0.0,
                        pool: 0,
                    });
                }
                self.of.insert(device.id.clone(), i);
                i
            }
        };
        self.resources[i as usize].capacity = f64::from(device.gpu_count);
        self.resources[i as usize + 1].capacity = device.gpu_memory_mb.0;
        i
    }
}
