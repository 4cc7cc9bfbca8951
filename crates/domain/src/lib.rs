//! The merchant's own model: validated field types, the recharge and card state machines,
//! codecs and pure rules. No I/O: nothing here reads a clock it is not given, a socket or a
//! database.

pub mod actor;
pub mod auth_mode;
pub mod card;
pub mod card_status;
pub mod console;
pub mod customer;
pub mod effectuation;
pub mod format;
pub mod ids;
pub mod payment;
pub mod payment_methods;
pub mod payment_status;
pub mod phone;
pub mod receipt_cipher;
pub mod recharge;
pub mod reconcile;
pub mod secret;
pub mod status;

pub use actor::Actor;
pub use auth_mode::AuthMode;
pub use card::{
    CardBin, CardExpiry, CardLast4, CardNumber, CardToken, Nita, Nsua, SecurityCode, StorageStatus,
};
pub use console::{ConsoleRole, OperatorReason, token_id};
pub use customer::{Cnpj, Cpf, TerminalType, ZipCode};
pub use effectuation::{CaratAnswer, Effectuation, EffectuationInput, OptionalFields};
pub use format::{Charset, FieldError, Format, FormatError};
pub use ids::{AuthorizerId, CustomerId, GeneralHash, MerchantId, MerchantUsn, Nit, OrderId};
pub use payment_methods::UsedPaymentMethod;
pub use phone::{Ddd, PhoneNumber};
pub use recharge::{
    AmountCents, AmountKey, Answer, BranchCode, DealerCode, DealerTypeCode, RechargeType,
};
pub use reconcile::{AfterQuery, PendingConfirmationPolicy};
pub use secret::Secret;
pub use status::{CaratStatus, RechargeStatus};
