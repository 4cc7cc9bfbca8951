//! The storefront's effectuation body, read by the recharge's kind: one function per kind,
//! each with its own body type, so a field of another kind's body is an unknown field here.

use super::error::ApiError;
use super::json;
use crate::domain::{Effectuation, RechargeType};
use crate::recharge::{EffectuateRequest, OthersEffectuateRequest};

/// The effectuation `body` asks for on a recharge of `recharge_type`.
pub fn parse(recharge_type: RechargeType, body: &[u8]) -> Result<Effectuation, ApiError> {
    match recharge_type {
        RechargeType::Normal => normal(body),
        RechargeType::Others => others(body),
        // Never created (refused on create); its body comes with bill payments.
        RechargeType::Invoice => Err(ApiError::invalid(
            "recharge_type",
            "`invoice` is not supported yet",
        )),
    }
}

/// `{"dealer":{"code","type_code"},"phone":{"ddd","number"},"amount","amount_key"?,"answers"?}`.
fn normal(body: &[u8]) -> Result<Effectuation, ApiError> {
    Ok(json::parse::<EffectuateRequest>(body)?.into_effectuation())
}

/// `{"dealer":{"code","type_code","branch":{"code"}},"amount","amount_key"?,"answers"?}`.
fn others(body: &[u8]) -> Result<Effectuation, ApiError> {
    Ok(json::parse::<OthersEffectuateRequest>(body)?.into_effectuation())
}
