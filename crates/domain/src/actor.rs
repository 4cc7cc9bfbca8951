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
    /// An operator in the console, named by the id of the token they signed in with
    /// ([`crate::token_id`]), never by the token.
    Operator(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Storefront => f.write_str("storefront"),
            Self::Carat => f.write_str("carat"),
            Self::Reconciler(instance) => write!(f, "reconciler:{instance}"),
            Self::Operator(token_id) => write!(f, "operator:{token_id}"),
        }
    }
}

impl Actor {
    /// The actor its [`Display`](fmt::Display) text names; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "storefront" => Some(Self::Storefront),
            "carat" => Some(Self::Carat),
            _ => {
                if let Some(instance) = text.strip_prefix("reconciler:") {
                    Some(Self::Reconciler(instance.to_owned()))
                } else {
                    text.strip_prefix("operator:")
                        .map(|token_id| Self::Operator(token_id.to_owned()))
                }
            }
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("unknown actor {text:?}"))
    }
}

/// As its text: the history's JSON names an actor as it is stored.
impl serde::Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Actor;

    #[test]
    fn the_text_parses_back() {
        for actor in [
            Actor::Storefront,
            Actor::Carat,
            Actor::Reconciler("host-1:42".to_owned()),
            Actor::Reconciler(String::new()),
            Actor::Operator("0123456789abcdef".to_owned()),
        ] {
            assert_eq!(Actor::parse(&actor.to_string()), Some(actor.clone()));
            assert_eq!(serde_json::to_value(&actor).unwrap(), actor.to_string());
        }
        assert_eq!(
            Actor::Operator("0123456789abcdef".to_owned()).to_string(),
            "operator:0123456789abcdef"
        );
        for other in ["", "Storefront", "reconciler", "operator", "someone"] {
            assert_eq!(Actor::parse(other), None, "{other}");
        }
    }
}
