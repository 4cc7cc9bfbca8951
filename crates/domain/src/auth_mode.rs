//! How a recharge authenticates itself to Carat Portal (digest §4.2, §4.3). Chosen by
//! `CARAT_AUTH_MODE` when the recharge is created, then kept with it: Carat requires every later
//! call of a transaction created with a signature to be signed, whatever the setting says now.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Carat POSTs the new NIT to the merchant's authenticity URL; calls are not signed.
    #[default]
    Authenticity,
    /// Every call carries `Authorization: Bearer <RS256 JWT>`; the create's answer carries the
    /// NIT and no authenticity POST comes.
    Signature,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authenticity => "authenticity",
            Self::Signature => "signature",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authenticity" => Some(Self::Authenticity),
            "signature" => Some(Self::Signature),
            _ => None,
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for AuthMode {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown auth mode `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_others() {
        for m in [AuthMode::Authenticity, AuthMode::Signature] {
            assert_eq!(AuthMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(AuthMode::parse("jwt"), None);
        assert_eq!(AuthMode::parse("Signature"), None);
    }
}
