//! What every console handler starts from: the request's language (and the `?lang=` switch),
//! the signed-in viewer behind the session cookie, and the error page.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::ConsoleState;
use super::form::FieldProblem;
use super::i18n::{L, Lang};
use super::pages::layout::{self, Chrome};
use super::session;
use carat_core::console::{ConsoleError, Session};
use carat_core::recharge::FlowError;
use carat_store::StoreError;

/// The request's language and where its page lives (for the language switch's links).
#[derive(Clone, Debug)]
pub struct Ctx {
    pub lang: Lang,
    /// The page's path and query, without `lang`: the switch links here with `lang` added.
    pub here: String,
    pub secure_cookies: bool,
}

impl Default for Ctx {
    fn default() -> Self {
        Self {
            lang: Lang::PtBr,
            here: "/console".to_owned(),
            secure_cookies: false,
        }
    }
}

/// `?lang=` (which also sets the language cookie), else the cookie, else `Accept-Language`,
/// else pt-BR.
fn choose(asked: Option<Lang>, headers: &axum::http::HeaderMap) -> Lang {
    asked
        .or_else(|| session::cookie(headers, session::LANG_COOKIE).and_then(Lang::parse))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::PtBr)
}

/// `path?query` without its `lang` pairs.
fn here(path: &str, query: Option<&str>) -> String {
    let kept: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("lang"))
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// The `?lang=` value, when it names one of ours.
fn asked_lang(query: Option<&str>) -> Option<Lang> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

/// The layer that decides the language ([`Ctx`]) and keeps a `?lang=` choice in a cookie.
pub async fn language(State(state): State<ConsoleState>, mut req: Request, next: Next) -> Response {
    let query = req.uri().query().map(str::to_owned);
    let asked = asked_lang(query.as_deref());
    let ctx = Ctx {
        lang: choose(asked, req.headers()),
        here: here(req.uri().path(), query.as_deref()),
        secure_cookies: state.secure_cookies,
    };
    req.extensions_mut().insert(ctx);
    let mut response = next.run(req).await;
    if let Some(lang) = asked
        && let Ok(cookie) =
            HeaderValue::from_str(&session::lang_cookie(lang.code(), state.secure_cookies))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Ctx>().cloned().unwrap_or_default())
    }
}

/// Someone signed in: their session, found by the cookie, and the request's [`Ctx`]. Without
/// a live session the request is sent to the login page (a cookie the server no longer knows
/// is removed).
pub struct Viewer {
    pub ctx: Ctx,
    pub session: Session,
    /// The session cookie's value (signing out closes it).
    pub cookie: String,
}

impl FromRequestParts<ConsoleState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = parts.extensions.get::<Ctx>().cloned().unwrap_or_default();
        let Some(cookie) = session::session_value(&parts.headers).map(str::to_owned) else {
            return Err(Redirect::to("/console/login").into_response());
        };
        match state.sessions.find(&cookie).await {
            Ok(Some(session)) => Ok(Viewer {
                ctx,
                session,
                cookie,
            }),
            Ok(None) => {
                let mut response = Redirect::to("/console/login?expired=1").into_response();
                if let Ok(clear) =
                    HeaderValue::from_str(&session::cleared_session_cookie(ctx.secure_cookies))
                {
                    response.headers_mut().append(header::SET_COOKIE, clear);
                }
                Err(response)
            }
            Err(e) => Err(Failure::from_console(&ctx, None, e).into_response()),
        }
    }
}

impl Viewer {
    pub fn lang(&self) -> Lang {
        self.ctx.lang
    }

    pub fn chrome(&self) -> Chrome<'_> {
        Chrome {
            lang: self.ctx.lang,
            here: &self.ctx.here,
            session: Some(&self.session),
        }
    }

    /// An error page for this viewer (with the navigation).
    pub fn fail(&self, status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            ctx: self.ctx.clone(),
            session: Some(self.session.clone()),
        }
    }

    /// A 400 naming the field.
    pub fn bad_field(&self, problem: &FieldProblem) -> Failure {
        self.fail(StatusCode::BAD_REQUEST, field_message(self.lang(), problem))
    }

    pub fn console_error(&self, e: ConsoleError) -> Failure {
        Failure::from_console(&self.ctx, Some(self.session.clone()), e)
    }
}

/// "Field `q` is invalid: <why>".
pub fn field_message(lang: Lang, problem: &FieldProblem) -> String {
    format!(
        "{}: {}",
        lang.tf(L::BadField, &problem.field),
        problem.reason
    )
}

/// An answer that is an error page: `#error` says what went wrong; nothing secret (a
/// database error's text is logged, not shown).
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
    ctx: Ctx,
    session: Option<Session>,
}

impl Failure {
    /// An error page for a request nobody is signed in to.
    pub fn anonymous(ctx: &Ctx, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            ctx: ctx.clone(),
            session: None,
        }
    }

    fn from_console(ctx: &Ctx, session: Option<Session>, e: ConsoleError) -> Self {
        let (status, message) = match e {
            ConsoleError::Invalid(field) => (
                StatusCode::BAD_REQUEST,
                field_message(ctx.lang, &FieldProblem::from(field)),
            ),
            ConsoleError::Store(e) => store_failure(ctx.lang, &e),
        };
        Self {
            status,
            message,
            ctx: ctx.clone(),
            session,
        }
    }
}

/// A database failure: 503, its text in the log only.
pub fn store_failure(lang: Lang, e: &StoreError) -> (StatusCode, String) {
    tracing::error!(error = %e, "console: the database failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        lang.t(L::Unavailable).to_owned(),
    )
}

/// How an operator action's failure is shown: its status and words. Carat's refusals and
/// out-of-order steps say why in the use case's words (no secret in them).
pub fn flow_failure(lang: Lang, e: &FlowError) -> (StatusCode, String) {
    match e {
        FlowError::NotFound => (StatusCode::NOT_FOUND, lang.t(L::NoSuchRecharge).to_owned()),
        FlowError::OutOfOrder { .. } | FlowError::OrderIdTaken { .. } => {
            (StatusCode::CONFLICT, e.to_string())
        }
        FlowError::Invalid(field) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            field_message(lang, &FieldProblem::from(field.clone())),
        ),
        FlowError::Carat(problem) => (
            StatusCode::BAD_GATEWAY,
            format!("{}: {}", lang.t(L::CaratFailed), problem.message),
        ),
        FlowError::OutcomeUnrecorded { .. } | FlowError::Interrupted => {
            (StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        FlowError::Store(e) => store_failure(lang, e),
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let lang = self.ctx.lang;
        let chrome = Chrome {
            lang,
            here: &self.ctx.here,
            session: self.session.as_ref(),
        };
        let body = html! {
            h1 { (lang.t(L::Error)) }
            (layout::error_box(&self.message))
            p { a href="/console" { (lang.t(L::BackToOverview)) } }
        };
        let page = layout::page(&chrome, lang.t(L::Error), body);
        (self.status, page).into_response()
    }
}

/// A console path asked with a method it does not take (axum adds `Allow`).
pub async fn method_not_allowed(ctx: Ctx) -> Failure {
    let message = ctx.lang.t(L::MethodNotAllowed);
    Failure::anonymous(&ctx, StatusCode::METHOD_NOT_ALLOWED, message)
}

/// Any other path under `/console`.
pub async fn not_found(ctx: Ctx) -> Failure {
    Failure::anonymous(&ctx, StatusCode::NOT_FOUND, ctx.lang.t(L::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn the_language_is_asked_then_kept_then_the_browsers() {
        let mut headers = HeaderMap::new();
        assert_eq!(choose(None, &headers), Lang::PtBr);
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-US,en;q=0.9"),
        );
        assert_eq!(choose(None, &headers), Lang::En);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("carat_console_lang=pt-BR"),
        );
        assert_eq!(choose(None, &headers), Lang::PtBr);
        assert_eq!(choose(Some(Lang::En), &headers), Lang::En);
        assert_eq!(asked_lang(Some("q=1&lang=en")), Some(Lang::En));
        assert_eq!(asked_lang(Some("lang=xx")), None);
        assert_eq!(asked_lang(None), None);
    }

    #[test]
    fn here_drops_the_language_only() {
        assert_eq!(here("/console", None), "/console");
        assert_eq!(here("/console", Some("lang=en")), "/console");
        assert_eq!(
            here("/console/recharges", Some("q=1&lang=en&status=confirmed")),
            "/console/recharges?q=1&status=confirmed"
        );
        assert_eq!(
            here("/console/recharges", Some("language=x")),
            "/console/recharges?language=x"
        );
    }
}
