//! One file per page: each renders its HTML from plain data (unit-tested) and holds the
//! handlers that read that data through the use cases.

pub mod layout;
pub mod login;
pub mod overview;
pub mod queues;
pub mod recharge;
pub mod search;
pub mod table;
