//! Measurements of operator prefixes, shared across plans.
//!
//! Two plans that run the same first k operators with the same knobs produce the same
//! intermediate result on the same input; measuring that prefix once serves both. The cache
//! is keyed by (prefix key, hardware class, input id) and counts hits, so a profiler can
//! report the work it saved.

use std::collections::HashMap;

/// Per-input measurements of operator prefixes.
#[derive(Debug, Default)]
pub struct PrefixCache {
    entries: HashMap<(String, String, String), Vec<f64>>,
    pub hits: u64,
    pub misses: u64,
}

/// The key of the first `k` operators' choices, e.g. `asr|vad:rate=16000|asr:model=small`.
pub fn prefix_key(app: &str, choices: &[(&str, &[(&str, &str)])], k: usize) -> String {
    let mut key = app.to_string();
    for (op, knobs) in choices.iter().take(k) {
        key.push('|');
        key.push_str(op);
        for (i, (name, value)) in knobs.iter().enumerate() {
            key.push(if i == 0 { ':' } else { ',' });
            key.push_str(name);
            key.push('=');
            key.push_str(value);
        }
    }
    key
}

impl PrefixCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The per-operator latencies of `prefix` on `input`, measured by `measure` only the
    /// first time.
    pub fn get_or_measure<F: FnOnce() -> Vec<f64>>(
        &mut self,
        prefix: &str,
        hardware: &str,
        input: &str,
        measure: F,
    ) -> &[f64] {
        let key = (prefix.to_string(), hardware.to_string(), input.to_string());
        if self.entries.contains_key(&key) {
            self.hits += 1;
        } else {
            self.misses += 1;
            self.entries.insert(key.clone(), measure());
        }
        self.entries.get(&key).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_sharing_a_prefix_measure_it_once() {
        let a: [(&str, &[(&str, &str)]); 2] = [
            ("vad", &[("rate", "16000")]),
            ("asr", &[("model", "small")]),
        ];
        let b: [(&str, &[(&str, &str)]); 2] = [
            ("vad", &[("rate", "16000")]),
            ("asr", &[("model", "large")]),
        ];
        assert_eq!(prefix_key("sr", &a, 1), prefix_key("sr", &b, 1));
        assert_ne!(prefix_key("sr", &a, 2), prefix_key("sr", &b, 2));
        let mut cache = PrefixCache::new();
        let mut measured = 0;
        for plan in [&a, &b] {
            for input in ["i1", "i2", "i3"] {
                cache.get_or_measure(&prefix_key("sr", plan, 1), "a100", input, || {
                    measured += 1;
                    vec![1.5]
                });
            }
        }
        assert_eq!((measured, cache.hits, cache.misses), (3, 3, 3));
    }
}
