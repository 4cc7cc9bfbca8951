//! Carat Portal's wire format: the JSON envelopes of its REST recharge interface
//! ([`messages`], re-exported here), the form bodies it POSTs to the store ([`callbacks`]),
//! signature mode's JWTs ([`signature`]) and the redaction of what a history may keep
//! ([`redact`]). No I/O: the service's client and the sandbox both speak through these types.

pub mod callbacks;
pub mod messages;
pub mod redact;
pub mod signature;

pub use messages::*;
