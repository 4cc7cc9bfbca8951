//! The outbound HTTP client for Carat Portal's v3 recharge resources.
//!
//! Every call has a connect timeout and a total timeout. The client reports facts (what was
//! answered, or that nothing was); whether a failed call may be repeated is the recharge flow's
//! decision, made with [`CaratError::certainly_not_applied`].

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use super::CaratCall;
use super::error::{CaratError, Refusal};
use carat_domain::effectuation::BarCode;
use carat_domain::{
    AuthMode, BranchCode, Ddd, DealerCode, GeneralHash, MerchantId, MerchantUsn, Nit, OrderId,
    RechargeType, Secret,
};
use carat_wire::redact::redact;
use carat_wire::signature::{self, JwtKey};
use carat_wire::{
    BarCodeRef, BeginRechargeRequest, BeginRechargeResponse, BranchDataDealerRef, BranchRef,
    ConfirmRechargeRequest, ConfirmRechargeResponse, DoRechargeRequest, DoRechargeResponse,
    Envelope, GetStatusQuery, GetStatusRechargeResponse, Hashes, ListBranchDataRequest,
    ListBranchDataResponse, ListBranchesQuery, ListDealersQuery, ListDealersResponse, Verdict,
};

#[derive(Clone, Debug)]
pub struct CaratClientConfig {
    /// Up to and including `/e-sitef`, e.g. `https://esitef-ec.softwareexpress.com.br/e-sitef`.
    pub base_url: Url,
    pub merchant_key: Secret,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Signature mode's `merchant_id` claim.
    pub merchant_id: MerchantId,
    /// The mode new recharges are created in (`CARAT_AUTH_MODE`).
    pub auth_mode: AuthMode,
    /// Signs the calls of signature-mode recharges.
    pub jwt_key: Option<JwtKey>,
}

/// How the calls to Carat travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tls,
    /// `http://` to this machine: the sandbox in tests and local runs.
    PlainLoopback,
}

/// `https://` anywhere; `http://` only to 127.0.0.0/8, `::1` or `localhost`.
pub fn transport(base_url: &Url) -> Result<Transport, String> {
    match base_url.scheme() {
        "https" => Ok(Transport::Tls),
        "http" => {
            if is_loopback(base_url) {
                Ok(Transport::PlainLoopback)
            } else {
                Err(
                    "plain http is allowed only to loopback (127.0.0.0/8, ::1, localhost); \
                     use https for Carat"
                        .into(),
                )
            }
        }
        _ => Err("must be an https URL".into()),
    }
}

/// Whether `url`'s host is this machine: 127.0.0.0/8, `::1` or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Warns when `base_url` is plain http on loopback; call once per process, not per client.
pub fn warn_if_plain_loopback(base_url: &Url) {
    if transport(base_url) == Ok(Transport::PlainLoopback) {
        tracing::warn!(
            carat = %base_url,
            "CARAT_BASE_URL is plain http on loopback: fine for the sandbox, never for Carat"
        );
    }
}

/// A readable non-5xx refusal ([`Refusal::is_definite`]), logged at WARN; a failure to reach
/// Carat, an unreadable answer or a 5xx is logged at ERROR.
fn is_business_refusal(error: &CaratError) -> bool {
    matches!(error, CaratError::Answered(refusal) if refusal.is_definite())
}

/// One call to Carat: which, what was sent (secrets and card data redacted, so it may be kept
/// in the history), and what came back.
#[derive(Debug)]
pub struct Exchange<T> {
    pub call: CaratCall,
    pub request: Value,
    pub result: Result<T, CaratError>,
    /// From sending to the answer (or the failure); `None` when nothing was sent. Kept in the
    /// history, so an operator sees how long Carat took.
    pub elapsed: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct CaratClient {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) merchant_key: Secret,
    /// The total timeout, to say how long a call that timed out was waited for.
    timeout: Duration,
    merchant_id: MerchantId,
    /// The mode new recharges are created in.
    auth_mode: AuthMode,
    /// Whether this handle's calls are signed: the mode of the recharge they are for
    /// ([`Self::for_recharge`]).
    signing: AuthMode,
    jwt_key: Option<JwtKey>,
    /// Every call's operation, outcome and latency ([`Self::with_metrics`]).
    metrics: crate::metrics::Metrics,
}

/// What a call's signature claims: the create names the order, every later call the NIT.
#[derive(Clone, Copy, Debug)]
enum Auth<'a> {
    Create {
        order_id: &'a OrderId,
        merchant_usn: MerchantUsn,
    },
    Nit(&'a Nit),
}

impl CaratClient {
    /// Refuses a plain `http://` base URL off loopback: every call carries the merchant key.
    /// TLS is rustls (ring) verifying Carat's certificate against the platform's roots
    /// (reqwest's default; nothing here turns verification off). A process builds several
    /// clients on one base URL, so the warning about plain http is its caller's
    /// ([`warn_if_plain_loopback`]), once.
    pub fn new(config: CaratClientConfig) -> anyhow::Result<Self> {
        let transport = transport(&config.base_url)
            .map_err(|reason| anyhow::anyhow!("setting CARAT_BASE_URL is invalid: {reason}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("carat-merchant/", env!("CARGO_PKG_VERSION")))
            // Carat's API does not redirect; following one could take the merchant key to
            // another host or down to plain http.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(transport == Transport::Tls)
            .build()?;
        Ok(Self {
            http,
            base: config.base_url.as_str().trim_end_matches('/').to_owned(),
            merchant_key: config.merchant_key,
            timeout: config.timeout,
            merchant_id: config.merchant_id,
            auth_mode: config.auth_mode,
            signing: config.auth_mode,
            jwt_key: config.jwt_key,
            metrics: crate::metrics::Metrics::default(),
        })
    }

    /// Counts this client's calls in `metrics` (otherwise in a registry nobody serves).
    pub fn with_metrics(self, metrics: crate::metrics::Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// Every call's outcome passes here: counted by operation and outcome, with its latency.
    pub(super) fn observe<T>(
        &self,
        call: CaratCall,
        started: Instant,
        result: &Result<T, CaratError>,
    ) {
        crate::carat_wait::carat_waited(started.elapsed());
        self.metrics.carat_call(
            call.operation(),
            crate::metrics::call_outcome(result).as_str(),
            started.elapsed(),
        );
    }

    pub fn merchant_id(&self) -> &MerchantId {
        &self.merchant_id
    }

    /// The mode a recharge created now is created in (`CARAT_AUTH_MODE`).
    pub fn auth_mode(&self) -> AuthMode {
        self.auth_mode
    }

    /// This client for the calls of a recharge created in `mode`: Carat requires every call of
    /// a transaction created with a signature to be signed, whatever the setting says now.
    pub fn for_recharge(&self, mode: AuthMode) -> Self {
        Self {
            signing: mode,
            ..self.clone()
        }
    }

    /// `POST /v3/recharge`. In authenticity-POST mode the NIT arrives through the callback
    /// while this call is in flight; the body carries only Carat's verdict.
    pub async fn begin(
        &self,
        order_id: &OrderId,
        merchant_usn: MerchantUsn,
        general_hash: &GeneralHash,
        recharge_type: RechargeType,
    ) -> Exchange<BeginRechargeResponse> {
        let body = BeginRechargeRequest {
            merchant_key: self.merchant_key.expose().to_owned(),
            merchant_usn: Some(merchant_usn.to_string()),
            order_id: Some(order_id.to_string()),
            general_hash: Some(general_hash.to_string()),
            recharge_type: Some(recharge_type.as_str().to_owned()),
        };
        let req = self
            .request(Method::POST, "/v3/recharge")
            .json(&body.wrap());
        let auth = Auth::Create {
            order_id,
            merchant_usn,
        };
        self.send(CaratCall::Begin, req, &body.wrap(), auth).await
    }

    /// `GET /v3/rechargedealers`.
    pub async fn list_dealers(
        &self,
        nit: &Nit,
        general_hash: &GeneralHash,
    ) -> Exchange<ListDealersResponse> {
        let query = ListDealersQuery {
            nit: nit.to_string(),
            generalhash: Some(general_hash.to_string()),
        };
        let req = self
            .request(Method::GET, "/v3/rechargedealers")
            .query(&query);
        self.send(CaratCall::ListDealers, req, &query, Auth::Nit(nit))
            .await
    }

    /// `GET /v3/rechargebranches` (the `normal` recharge's branch data).
    pub async fn list_branches(
        &self,
        nit: &Nit,
        ddd: &Ddd,
        dealer_code: &DealerCode,
        general_hash: &GeneralHash,
    ) -> Exchange<ListBranchDataResponse> {
        let query = ListBranchesQuery {
            nit: nit.to_string(),
            ddd: ddd.to_string(),
            dealercode: dealer_code.to_string(),
            generalhash: Some(general_hash.to_string()),
        };
        let req = self
            .request(Method::GET, "/v3/rechargebranches")
            .query(&query);
        self.send(CaratCall::ListBranches, req, &query, Auth::Nit(nit))
            .await
    }

    /// `PUT /v3/rechargebranches/{nit}` for an `others` product: `dealer`'s branch `branch`.
    /// Read-only, safe to repeat. Its body is an assumption (see [`ListBranchDataRequest`]).
    pub async fn list_product_branches(
        &self,
        nit: &Nit,
        dealer: BranchDataDealerRef,
        branch: &BranchCode,
        general_hash: &GeneralHash,
    ) -> Exchange<ListBranchDataResponse> {
        let body = ListBranchDataRequest {
            merchant_key: self.merchant_key.expose().to_owned(),
            recharge_type: RechargeType::Others.as_str().to_owned(),
            dealer: BranchDataDealerRef {
                branch: Some(BranchRef {
                    code: branch.to_string(),
                }),
                ..dealer
            },
            invoice: None,
            hashes: Some(Hashes {
                general: Some(general_hash.to_string()),
                wallet: None,
            }),
        };
        self.put_branch_data(CaratCall::ListBranches, nit, body)
            .await
    }

    /// `PUT /v3/rechargebranches/{nit}` for an `invoice` recharge: the bill for `bar_code`.
    /// Read-only, safe to repeat. Its body is an assumption (see [`ListBranchDataRequest`]).
    pub async fn list_invoice(
        &self,
        nit: &Nit,
        dealer: BranchDataDealerRef,
        bar_code: &BarCode,
    ) -> Exchange<ListBranchDataResponse> {
        let body = ListBranchDataRequest {
            merchant_key: self.merchant_key.expose().to_owned(),
            recharge_type: RechargeType::Invoice.as_str().to_owned(),
            dealer,
            invoice: Some(BarCodeRef {
                bar_code: bar_code.to_string(),
            }),
            hashes: None,
        };
        self.put_branch_data(CaratCall::ListInvoice, nit, body)
            .await
    }

    async fn put_branch_data(
        &self,
        call: CaratCall,
        nit: &Nit,
        body: ListBranchDataRequest,
    ) -> Exchange<ListBranchDataResponse> {
        let req = self
            .request(Method::PUT, &format!("/v3/rechargebranches/{nit}"))
            .json(&body.wrap());
        self.send(call, req, &body.wrap(), Auth::Nit(nit)).await
    }

    /// `PUT /v3/recharge/{nit}` with `do_recharge_request`. Moves money: never repeat it after
    /// an error that is not [`CaratError::certainly_not_applied`].
    pub async fn effectuate(
        &self,
        nit: &Nit,
        body: &DoRechargeRequest,
    ) -> Exchange<DoRechargeResponse> {
        // `payment.merchant_key` is the recharge's own: configuration, never the storefront's.
        let mut body = body.clone();
        if let Some(payment) = body.payment.as_mut() {
            payment.merchant_key = self.merchant_key.expose().to_owned();
        }
        let body = &body;
        let req = self
            .request(Method::PUT, &format!("/v3/recharge/{nit}"))
            .json(&body.wrap());
        self.send(CaratCall::Effectuate, req, &body.wrap(), Auth::Nit(nit))
            .await
    }

    /// `PUT /v3/recharge/{nit}` with `confirm_recharge_request`: `true` confirms, `false` undoes.
    /// `used_payment_methods`: the wire strings (`domain::payment_methods`), if any.
    pub async fn confirm(
        &self,
        nit: &Nit,
        confirm: bool,
        used_payment_methods: Option<Vec<String>>,
    ) -> Exchange<ConfirmRechargeResponse> {
        let body = ConfirmRechargeRequest {
            confirm: confirm.to_string(),
            merchant_key: self.merchant_key.expose().to_owned(),
            used_payment_methods,
        };
        let req = self
            .request(Method::PUT, &format!("/v3/recharge/{nit}"))
            .json(&body.wrap());
        let call = if confirm {
            CaratCall::Confirm
        } else {
            CaratCall::Undo
        };
        self.send(call, req, &body.wrap(), Auth::Nit(nit)).await
    }

    /// `GET /v3/recharge/{nit}/?merchantkey=..`: Carat's own record of the transaction. Safe to
    /// repeat.
    pub async fn query(&self, nit: &Nit) -> Exchange<GetStatusRechargeResponse> {
        let query = GetStatusQuery {
            merchantkey: self.merchant_key.expose().to_owned(),
        };
        // The trailing slash is as in the documentation's example.
        let req = self
            .request(Method::GET, &format!("/v3/recharge/{nit}/"))
            .query(&query);
        self.send(CaratCall::Query, req, &query, Auth::Nit(nit))
            .await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends `req`, whose body or query string is `sent`, signed when this handle's recharge
    /// is in signature mode, and reads the answer.
    async fn send<T: Envelope + Verdict>(
        &self,
        call: CaratCall,
        req: RequestBuilder,
        sent: &impl Serialize,
        auth: Auth<'_>,
    ) -> Exchange<T> {
        let request = redact(serde_json::to_value(sent).unwrap_or_default());
        let req = match self.authorize(req, auth) {
            Ok(req) => req,
            Err(reason) => {
                let error = CaratError::NotSent { call, reason };
                tracing::error!(call = call.as_str(), %error, "carat call not sent");
                self.metrics.carat_call(
                    call.operation(),
                    crate::metrics::CallOutcome::Transport.as_str(),
                    Duration::ZERO,
                );
                return Exchange {
                    call,
                    request,
                    result: Err(error),
                    elapsed: None,
                };
            }
        };
        let started = Instant::now();
        let result = self.exchange::<T>(call, req).await;
        self.observe(call, started, &result);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(body) => tracing::info!(
                call = call.as_str(),
                elapsed_ms,
                carat_status = body.status(),
                "carat call answered"
            ),
            // A definite refusal is Carat's answer for the storefront, not a fault of ours or
            // Carat's: no ERROR for it.
            Err(error) if is_business_refusal(error) => {
                tracing::warn!(call = call.as_str(), elapsed_ms, %error, "carat call refused")
            }
            Err(error) => {
                tracing::error!(call = call.as_str(), elapsed_ms, %error, "carat call failed")
            }
        }
        Exchange {
            call,
            request,
            result,
            elapsed: Some(started.elapsed()),
        }
    }

    async fn exchange<T: Envelope + Verdict>(
        &self,
        call: CaratCall,
        req: RequestBuilder,
    ) -> Result<T, CaratError> {
        let response = req
            .send()
            .await
            .map_err(|e| self.transport_error(call, e))?;
        let http_status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(call, e))?;

        let Some(body) = parse_envelope::<T>(&bytes) else {
            return Err(CaratError::Answered(Refusal {
                http_status,
                code: None,
                message: Some(excerpt(&bytes)),
                carat_status: None,
                unreadable: true,
            }));
        };
        let esitef = body.esitef();
        if http_status == 200 && esitef.is_some_and(|e| e.is_ok()) {
            return Ok(body);
        }
        let mut refusal = Refusal::from_esitef(http_status, esitef, body.status());
        // A 200 without a verdict is not a success we can rely on.
        refusal.unreadable = http_status == 200 && esitef.is_none();
        Err(CaratError::Answered(refusal))
    }
}

impl CaratClient {
    /// Adds `Authorization: Bearer <jwt>` in signature mode. Without the key the call is not
    /// sent (an unsigned call of a signed transaction would only be refused).
    fn authorize(&self, req: RequestBuilder, auth: Auth<'_>) -> Result<RequestBuilder, String> {
        if self.signing == AuthMode::Authenticity {
            return Ok(req);
        }
        let key = self.jwt_key.as_ref().ok_or(
            "not sent: this recharge was created in signature mode and CARAT_JWT_PRIVATE_KEY \
             is not set, so its calls cannot be signed",
        )?;
        let now = signature::now_millis();
        let token = match auth {
            Auth::Create {
                order_id,
                merchant_usn,
            } => key.sign(&signature::create_claims(
                &self.merchant_id,
                &self.merchant_key,
                order_id,
                merchant_usn,
                now,
            )),
            Auth::Nit(nit) => key.sign(&signature::nit_claims(
                &self.merchant_id,
                &self.merchant_key,
                nit,
                now,
            )),
        }
        .map_err(|e| format!("not sent: the signature could not be made ({e})"))?;
        Ok(req.bearer_auth(token))
    }

    /// A call that got no answer, sorted by whether it left at all.
    pub(super) fn transport_error(&self, call: CaratCall, e: reqwest::Error) -> CaratError {
        // A connect that timed out never sent the request: still not sent.
        let connect = e.is_connect() || e.is_builder();
        let timed_out = e.is_timeout();
        // `without_url()`: the query's URL carries the merchant key. reqwest's own words
        // ("error sending request") say nothing; the innermost cause says what went wrong.
        let reason = with_causes(&e.without_url());
        if connect {
            CaratError::NotSent { call, reason }
        } else {
            let timeout_ms =
                timed_out.then(|| u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX));
            CaratError::NoAnswer {
                call,
                reason,
                timeout_ms,
            }
        }
    }
}

/// An error and its causes, outermost first, each said once ("error sending request: client
/// error (Connect): invalid peer certificate: UnknownIssuer"). The causes of a reqwest error
/// are hyper's, rustls' and the OS's: none carries the URL.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut words = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !words.contains(&said) {
            words.push_str(": ");
            words.push_str(&said);
        }
        cause = inner.source();
    }
    words
}

/// Reads `{KEY: {...}}`. An error may come in another envelope than the one expected, so a
/// body with a single envelope of another name is read as `T` too (all fields are optional).
fn parse_envelope<T: Envelope>(bytes: &[u8]) -> Option<T> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let object = value.as_object()?;
    let inner = match object.get(T::KEY) {
        Some(inner) => inner,
        None if object.len() == 1 => object.values().next()?,
        None => return None,
    };
    serde_json::from_value(inner.clone()).ok()
}

/// The start of an unreadable body, for the error message: enough to recognise an HTML error
/// page or a proxy's answer. A JSON one is Carat's own, whose receipts may carry a PIN: it is
/// only measured, never quoted (the message reaches the log, the history and the storefront).
pub(super) fn excerpt(bytes: &[u8]) -> String {
    if bytes.trim_ascii_start().first() == Some(&b'{') {
        return format!(
            "a JSON body of {} bytes in no known envelope, not shown",
            bytes.len()
        );
    }
    let text = String::from_utf8_lossy(bytes);
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn an_error_is_said_with_its_causes_each_once() {
        let error = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer(
                    "invalid peer certificate: UnknownIssuer",
                    None,
                ))),
            ))),
        );
        assert_eq!(
            with_causes(&error),
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer"
        );
        let repeated = Layer("timed out", Some(Box::new(Layer("timed out", None))));
        assert_eq!(with_causes(&repeated), "timed out");
    }

    #[test]
    fn reads_the_expected_envelope_or_a_lone_other_one() {
        let ok = br#"{"confirm_recharge_response":{"esitef":{"code":"0"},"status":"CON"}}"#;
        let r: ConfirmRechargeResponse = parse_envelope(ok).unwrap();
        assert_eq!(r.status.as_deref(), Some("CON"));

        let other = br#"{"error_response":{"esitef":{"code":"7","message":"x"}}}"#;
        let r: ConfirmRechargeResponse = parse_envelope(other).unwrap();
        assert_eq!(r.esitef.unwrap().code, "7");

        assert!(parse_envelope::<ConfirmRechargeResponse>(b"<html>502</html>").is_none());
        assert!(parse_envelope::<ConfirmRechargeResponse>(br#"{"a":{},"b":{}}"#).is_none());
    }

    #[test]
    fn excerpt_is_short_and_printable() {
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(excerpt(&[b'a'; 500]).len(), 200);
        assert_eq!(excerpt(b"a\nb"), "ab");
        let receipt = br#" {"do_recharge_response":{"customer":{"receipt":"PIN: 1234"}"#;
        assert_eq!(
            excerpt(receipt),
            "a JSON body of 60 bytes in no known envelope, not shown"
        );
    }

    #[test]
    fn only_a_definite_refusal_is_logged_below_error() {
        let refusal = |http_status, unreadable| {
            CaratError::Answered(Refusal {
                http_status,
                code: Some("7".into()),
                message: Some("x".into()),
                carat_status: None,
                unreadable,
            })
        };
        assert!(is_business_refusal(&refusal(200, false)));
        assert!(is_business_refusal(&refusal(400, false)));
        assert!(!is_business_refusal(&refusal(500, false)), "a 5xx");
        assert!(!is_business_refusal(&refusal(502, false)), "a 5xx");
        assert!(!is_business_refusal(&refusal(200, true)), "unreadable");
        let call = CaratCall::Begin;
        assert!(!is_business_refusal(&CaratError::NotSent {
            call,
            reason: "refused".into(),
        }));
        assert!(!is_business_refusal(&CaratError::NoAnswer {
            call,
            reason: "timed out".into(),
            timeout_ms: Some(1000),
        }));
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let t = |s: &str| transport(&Url::parse(s).unwrap());
        assert_eq!(
            t("https://esitef-ec.softwareexpress.com.br/e-sitef"),
            Ok(Transport::Tls)
        );
        assert_eq!(t("https://10.0.0.1/e-sitef"), Ok(Transport::Tls));
        for url in [
            "http://127.0.0.1:8090/e-sitef",
            "http://127.10.0.1/e-sitef",
            "http://[::1]:8090/e-sitef",
            "http://localhost:8090/e-sitef",
            "http://LOCALHOST/e-sitef",
        ] {
            assert_eq!(t(url), Ok(Transport::PlainLoopback), "{url}");
        }
        for url in [
            "http://10.0.0.1/e-sitef",
            "http://esitef-ec.softwareexpress.com.br/e-sitef",
            "http://[2001:db8::1]/e-sitef",
            "http://localhost.example.com/e-sitef",
            "http://128.0.0.1/e-sitef",
            "ftp://127.0.0.1/e-sitef",
        ] {
            assert!(t(url).is_err(), "{url}");
        }
    }

    #[test]
    fn a_plain_http_base_url_off_loopback_is_refused_naming_the_setting() {
        let config = |url: &str| CaratClientConfig {
            base_url: Url::parse(url).unwrap(),
            merchant_key: Secret::new("k"),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            merchant_id: MerchantId::parse("LOJATESTE").unwrap(),
            auth_mode: AuthMode::Authenticity,
            jwt_key: None,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let err = CaratClient::new(config("http://192.0.2.1/e-sitef")).unwrap_err();
        assert!(err.to_string().contains("CARAT_BASE_URL"), "{err}");
        assert!(CaratClient::new(config("http://127.0.0.1:1/e-sitef")).is_ok());
        assert!(CaratClient::new(config("https://192.0.2.1/e-sitef")).is_ok());
    }
}
