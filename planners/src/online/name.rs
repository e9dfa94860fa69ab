//! An id a row carries (query, application, device, class, pool, stratum), shared rather
//! than copied.
//!
//! Why: the dataflow clones rows into every arrangement, join output and partition map it
//! keeps. With `String` ids each clone of a query row was four allocations and copies, and
//! `perf` of the steady stream of `compass bench --throughput` put a third of the worker's
//! time in malloc, free and memcpy under differential's operators. A `Name` clone bumps a
//! count. Order, equality and hash are the text's, so rows sort exactly as they did with
//! `String` ids and decisions do not change; two handles on one allocation compare equal
//! without reading it.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Shared, immutable text; serialized as a plain string.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(Arc<str>);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Name {
    fn default() -> Self {
        Name(Arc::from(""))
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}
impl Eq for Name {}
impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}
/// The text's hash, so that a map keyed by `Name` can be looked up by `&str`.
impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}
impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::from(s))
    }
}
impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::from(s))
    }
}
impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name(Arc::from(s.as_str()))
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    #[test]
    fn orders_hashes_and_serializes_as_its_text() {
        let mut names: Vec<Name> = ["b", "a", "ab", ""].into_iter().map(Name::from).collect();
        names.sort();
        let texts: Vec<&str> = names.iter().map(Name::as_str).collect();
        assert_eq!(texts, vec!["", "a", "ab", "b"]);

        // Distinct allocations of one text are one value.
        let (x, y) = (Name::from("q-1"), Name::from(String::from("q-1")));
        assert_eq!(x, y);
        assert_eq!(BTreeSet::from([x.clone(), y.clone()]).len(), 1);
        let map: HashMap<Name, u32> = HashMap::from([(x.clone(), 7)]);
        assert_eq!(map.get("q-1"), Some(&7));

        let json = serde_json::to_string(&x).expect("serializes");
        assert_eq!(json, "\"q-1\"");
        let back: Name = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, x);
        assert_eq!(format!("{x} {x:?}"), "q-1 \"q-1\"");
    }
}
