//! A case's classification: its priority and category. Their names come from the
//! configuration (`[[priorities]]`, `[[categories]]`), so they are names, not enums; the
//! newtypes keep a priority from being passed where a category (or any text) belongs.

use std::fmt;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a name (as configured or as stored).
            pub fn new(name: impl Into<String>) -> Self {
                $name(name.into())
            }

            /// The name as configured and stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

name_type!(
    /// A priority's name (`urgent`, `normal`...).
    Priority
);

name_type!(
    /// A category's name (`billing`, `general`...).
    Category
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_serialize_and_display_as_the_bare_text() {
        let p = Priority::new("urgent");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"urgent\"");
        assert_eq!(p.to_string(), "urgent");
        assert_eq!(p, "urgent");
        assert_eq!(Category::from("billing").as_str(), "billing");
    }
}
