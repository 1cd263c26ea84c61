//! The keys the system gives its own rows. Each is its own type, so that a task's key cannot be
//! passed where a loan's is expected; the storage layer converts them to and from its integers,
//! and views print them as numbers.

use std::fmt;

macro_rules! key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $name(pub i64);

        impl $name {
            /// The key as stored.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<$name> for i64 {
            fn from(key: $name) -> i64 {
                key.0
            }
        }
    };
}

key!(
    /// A loan's key.
    LoanId
);
key!(
    /// A borrower's key.
    BorrowerId
);
key!(
    /// A follow-up task's key.
    TaskId
);
key!(
    /// A user's key.
    UserId
);
