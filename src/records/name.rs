//! Names that repeat across records (models, judges, categories), held once: a million
//! judgment rows name a handful of models, and a `String` each cost an allocation per field
//! per row. Deserializing interns through a per-thread table, so equal names share one
//! allocation.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An interned, cheaply cloned name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Name(Arc<str>);

thread_local! {
    static NAMES: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
}

impl Name {
    /// The shared copy of `s`.
    pub fn intern(s: &str) -> Self {
        NAMES.with(|t| {
            let mut t = t.borrow_mut();
            if let Some(a) = t.get(s) {
                return Name(a.clone());
            }
            let a: Arc<str> = Arc::from(s);
            t.insert(a.clone());
            Name(a)
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::intern(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name::intern(&s)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, o: &str) -> bool {
        &*self.0 == o
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, o: &&str) -> bool {
        &*self.0 == *o
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, o: &String) -> bool {
        *self.0 == **o
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Name::intern(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_one_allocation() {
        let a: Name = serde_json::from_str("\"gpt-4o\"").unwrap();
        let b: Name = serde_json::from_str("\"gpt-4o\"").unwrap();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "gpt-4o");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"gpt-4o\"");
    }
}
