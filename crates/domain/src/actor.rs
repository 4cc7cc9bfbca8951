//! Who decided a step: every history entry names it.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A storefront request.
    Storefront,
    /// One of Carat's callbacks.
    Carat,
    /// The reconciler of the named instance, ending a recharge nobody else ended.
    Reconciler(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Storefront => f.write_str("storefront"),
            Self::Carat => f.write_str("carat"),
            Self::Reconciler(instance) => write!(f, "reconciler:{instance}"),
        }
    }
}
