//! These flows move real money against a production Carat: the runner refuses any base URL
//! it does not know to be a homologation one, unless `--production` is given and the
//! merchant id is typed back to confirm it.

use std::io::BufRead;

use url::Url;

use carat_core::carat::client::is_loopback;

/// Carat's homologation hosts (digest §1: the e-SiTef one and the re-branded docs' one).
const HOMOLOGATION_HOSTS: [&str; 2] = [
    "esitef-homologacao.softwareexpress.com.br",
    "sandbox.ecomm-bin.fiserv.com.br",
];

/// Carat's production hosts (digest §1), named so the refusal can say so.
const PRODUCTION_HOSTS: [&str; 2] = [
    "esitef-ec.softwareexpress.com.br",
    "esitef.softwareexpress.com.br",
];

/// What a base URL is, as far as the runner can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The embedded sandbox (no `CARAT_BASE_URL`).
    EmbeddedSandbox,
    /// A Carat homologation host, or a sandbox on this machine (loopback).
    Homologation,
    /// Carat's production host.
    Production,
    /// A host the runner does not know: treated as production, since it may be.
    Unknown,
}

impl Target {
    pub fn of(base_url: Option<&Url>) -> Self {
        let Some(url) = base_url else {
            return Self::EmbeddedSandbox;
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if is_loopback(url) || HOMOLOGATION_HOSTS.contains(&host.as_str()) {
            Self::Homologation
        } else if PRODUCTION_HOSTS.contains(&host.as_str()) {
            Self::Production
        } else {
            Self::Unknown
        }
    }

    /// Whether running here needs `--production` and its confirmation.
    pub fn moves_real_money(self) -> bool {
        matches!(self, Self::Production | Self::Unknown)
    }
}

/// Why the run may not go on.
pub fn refusal(target: Target, production_flag: bool, base_url: &str) -> Option<String> {
    if !target.moves_real_money() || production_flag {
        return None;
    }
    let what = match target {
        Target::Production => "is Carat's production",
        _ => "is not a Carat homologation host the runner knows, so it may be production",
    };
    Some(format!(
        "CARAT_BASE_URL {base_url} {what}: these flows move real money. Point CARAT_BASE_URL \
         at Carat's homologation (https://esitef-homologacao.softwareexpress.com.br/e-sitef), \
         or give --production and confirm it"
    ))
}

/// Asks for the merchant id on `input` (the terminal) and answers whether it was typed back.
pub fn confirmed(
    merchant_id: &str,
    input: &mut impl BufRead,
    out: &mut impl std::io::Write,
) -> bool {
    let _ = writeln!(
        out,
        "ATENÇÃO: produção. Estes fluxos movem dinheiro de verdade. Digite o merchant id \
         ({merchant_id}) para confirmar.\nWARNING: production. These flows move real money. \
         Type the merchant id to confirm:"
    );
    let _ = out.flush();
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(n) if n > 0 => line.trim() == merchant_id,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::of(Some(&Url::parse(url).unwrap()))
    }

    #[test]
    fn only_homologation_and_loopback_go_without_the_flag() {
        assert_eq!(Target::of(None), Target::EmbeddedSandbox);
        let hml = "https://esitef-homologacao.softwareexpress.com.br/e-sitef";
        assert_eq!(target(hml), Target::Homologation);
        assert_eq!(
            target("http://127.0.0.1:9000/e-sitef"),
            Target::Homologation
        );
        assert_eq!(target("http://[::1]:9000/e-sitef"), Target::Homologation);
        let prod = "https://esitef-ec.softwareexpress.com.br/e-sitef";
        assert_eq!(target(prod), Target::Production);
        assert_eq!(target("https://carat.example.com/e-sitef"), Target::Unknown);
        assert!(refusal(target(prod), false, prod).is_some());
        assert!(refusal(target(prod), true, prod).is_none());
        assert!(refusal(target("https://x.example/e-sitef"), false, "x").is_some());
        assert!(refusal(target(hml), false, hml).is_none());
    }

    #[test]
    fn confirmation_needs_the_merchant_id_typed_back() {
        let mut out = Vec::new();
        assert!(confirmed("M1", &mut "M1\n".as_bytes(), &mut out));
        assert!(!confirmed("M1", &mut "yes\n".as_bytes(), &mut out));
        assert!(!confirmed("M1", &mut "".as_bytes(), &mut out));
    }
}
