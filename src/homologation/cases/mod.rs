//! The cases and how each runs: [`table`] names them, the other modules make their sales.

mod cards;
pub mod catalogue;
pub mod context;
mod products;
mod sell;
pub mod table;
mod top_ups;

pub use context::{CaseEnd, Ctx, Doors};
pub use products::masked_pin;
pub use table::CaseId;

/// Runs one case's steps; `Err` says why it ended early.
pub async fn run(case: CaseId, ctx: &mut Ctx<'_>) -> Result<(), CaseEnd> {
    match case {
        CaseId::TopUpConfirmed => top_ups::confirmed(ctx).await,
        CaseId::TopUpUndone => top_ups::undone(ctx).await,
        CaseId::CardPaymentConfirmed => cards::payment_confirmed(ctx).await,
        CaseId::CardPaymentUndone => cards::payment_undone(ctx).await,
        CaseId::CardDenied => cards::denied(ctx).await,
        CaseId::PinProduct => products::pin_product(ctx).await,
        CaseId::BillPaid => products::bill_paid(ctx).await,
        CaseId::DealerQuestions => products::dealer_questions(ctx).await,
        CaseId::TvPackage => products::tv_package(ctx).await,
        CaseId::StoredCard => cards::stored(ctx).await,
        CaseId::UsedPaymentMethods => top_ups::used_payment_methods(ctx).await,
        CaseId::StatusQuery => top_ups::status_query(ctx).await,
        CaseId::SignatureMode => top_ups::signature_mode(ctx).await,
        CaseId::LostEffectuationAnswer => top_ups::lost_effectuation_answer(ctx).await,
    }
}

/// Whether the card the case stored got its HASH notification (for the report).
pub async fn hash_notified(ctx: &Ctx<'_>, card: &carat_store::cards::CardRow) -> bool {
    cards::hash_notified(ctx, card).await.unwrap_or(false)
}
