//! The storefront's effectuation body of each recharge kind, and the effectuation it asks for.
//! The body is parsed by the recharge's `recharge_type` (`api::effectuation_body`): one type
//! per kind. `normal`'s is [`super::EffectuateRequest`].

pub mod others;
