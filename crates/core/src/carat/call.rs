//! The calls this service makes to Carat Portal: a closed set, each with the three names it
//! goes by (its own, its metrics `operation` label, and how an error message says it).

/// One kind of call to Carat. The texts are part of the service's outputs (logs, the history's
/// events, metrics labels, the storefront's errors): they must not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaratCall {
    /// `POST /v3/recharge`.
    Begin,
    ListDealers,
    ListBranches,
    /// The `invoice` recharge's bill, through the branch data resource.
    ListInvoice,
    Effectuate,
    Confirm,
    Undo,
    Query,
    StoreCard,
    QueryCard,
}

impl CaratCall {
    /// The call's name in logs and the history's events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Begin => "begin",
            Self::ListDealers => "list_dealers",
            Self::ListBranches => "list_branches",
            Self::ListInvoice => "list_invoice",
            Self::Effectuate => "effectuate",
            Self::Confirm => "confirm",
            Self::Undo => "undo",
            Self::Query => "query",
            Self::StoreCard => "store_card",
            Self::QueryCard => "query_card",
        }
    }

    /// The `operation` label: the names of issue 9, one per Carat resource and verb.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Begin => "create",
            Self::ListDealers => "dealers",
            Self::ListBranches | Self::ListInvoice => "branches",
            Self::QueryCard => "card_query",
            Self::Effectuate | Self::Confirm | Self::Undo | Self::Query | Self::StoreCard => {
                self.as_str()
            }
        }
    }

    /// How the storefront's error names the call: "the effectuation", not "the effectuate".
    pub fn noun(self) -> &'static str {
        match self {
            Self::Begin => "create",
            Self::Effectuate => "effectuation",
            Self::Confirm => "confirmation",
            Self::ListDealers => "dealer listing",
            Self::ListBranches => "branch data listing",
            Self::ListInvoice => "bill listing",
            Self::StoreCard => "card storage",
            Self::QueryCard => "card storage query",
            Self::Undo | Self::Query => self.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CaratCall::{self, *};

    const ALL: [CaratCall; 10] = [
        Begin,
        ListDealers,
        ListBranches,
        ListInvoice,
        Effectuate,
        Confirm,
        Undo,
        Query,
        StoreCard,
        QueryCard,
    ];

    #[test]
    fn each_call_keeps_its_three_names() {
        let names: Vec<_> = ALL
            .iter()
            .map(|c| (c.as_str(), c.operation(), c.noun()))
            .collect();
        assert_eq!(
            names,
            [
                ("begin", "create", "create"),
                ("list_dealers", "dealers", "dealer listing"),
                ("list_branches", "branches", "branch data listing"),
                ("list_invoice", "branches", "bill listing"),
                ("effectuate", "effectuate", "effectuation"),
                ("confirm", "confirm", "confirmation"),
                ("undo", "undo", "undo"),
                ("query", "query", "query"),
                ("store_card", "store_card", "card storage"),
                ("query_card", "card_query", "card storage query"),
            ]
        );
    }
}
