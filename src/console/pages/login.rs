//! `GET/POST /console/login` and `POST /console/logout`: signing in with an API token (a full
//! one is an operator, a read-only one support staff) and out again.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::layout::{self, Chrome};
use crate::console::ConsoleState;
use crate::console::context::{Ctx, Failure, Viewer};
use crate::console::form::Fields;
use crate::console::i18n::{L, Lang};
use crate::console::session;

/// How long a refused sign-in waits before its answer: guessing tokens gets slow, while this
/// request alone waits (no lock: other sign-ins are not held up).
pub const FAILED_SIGN_IN_DELAY: Duration = Duration::from_millis(500);

/// The login page; `error` shows `#login-error`, `notice` a line above the form.
pub fn render(lang: Lang, here: &str, error: bool, notice: Option<L>) -> Markup {
    let chrome = Chrome {
        lang,
        here,
        session: None,
    };
    let body = html! {
        section class="login" {
            h1 { (lang.t(L::SignInTitle)) }
            @if let Some(notice) = notice {
                p class="notice" role="status" { (lang.t(notice)) }
            }
            @if error {
                p id="login-error" class="error" role="alert" { (lang.t(L::SignInFailed)) }
            }
            form id="login" method="post" action="/console/login" {
                label for="token" { (lang.t(L::Token)) }
                input id="token" name="token" type="password" autocomplete="current-password"
                    required autofocus;
                p class="hint" { (lang.t(L::TokenHint)) }
                button id="sign-in" type="submit" { (lang.t(L::SignIn)) }
            }
        }
    };
    layout::page(&chrome, lang.t(L::SignIn), body)
}

/// `GET /console/login`: the form, or the overview for someone already signed in.
pub async fn show(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(cookie) = session::session_value(&headers)
        && let Ok(Some(_)) = state.sessions.find(cookie).await
    {
        return Redirect::to("/console").into_response();
    }
    let fields = Fields::query(query.as_deref()).unwrap_or_default();
    let notice = if fields.one("expired").ok().flatten().is_some() {
        Some(L::SessionExpired)
    } else if fields.one("out").ok().flatten().is_some() {
        Some(L::SignedOut)
    } else {
        None
    };
    render(ctx.lang, "/console/login", false, notice).into_response()
}

/// `POST /console/login`: a known token opens a session (the cookie) and goes to the
/// overview; anything else is answered 401 after [`FAILED_SIGN_IN_DELAY`], and counted.
pub async fn sign_in(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body, "form").unwrap_or_default();
    let token = fields
        .one("token")
        .ok()
        .flatten()
        .map(str::trim)
        .unwrap_or_default();
    let role = (!token.is_empty())
        .then(|| session::role_of(token, &state.api_tokens, &state.api_readonly_tokens))
        .flatten();
    let Some(role) = role else {
        state.metrics.console_sign_in_failed();
        tracing::warn!("console: a sign-in with an unknown token was refused");
        tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
        let page = render(ctx.lang, "/console/login", true, None);
        return (StatusCode::UNAUTHORIZED, page).into_response();
    };
    let token_id = carat_domain::token_id(token);
    let opened = match state.sessions.open(role, &token_id).await {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!(error = %e, "console: could not open a session");
            let message = ctx.lang.t(L::Unavailable);
            return Failure::anonymous(&ctx, StatusCode::SERVICE_UNAVAILABLE, message)
                .into_response();
        }
    };
    // A session this browser had before is over: one browser, one session.
    if let Some(old) = session::session_value(&headers)
        && let Err(e) = state.sessions.close(old).await
    {
        tracing::warn!(error = %e, "console: could not close the previous session");
    }
    tracing::info!(role = role.as_str(), %token_id, "console: signed in");
    let mut response = Redirect::to("/console").into_response();
    let cookie = session::session_cookie(&opened.cookie_value, ctx.secure_cookies);
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /console/logout` (with the session's CSRF token): the session is deleted, the
/// cookie removed.
pub async fn sign_out(
    State(state): State<ConsoleState>,
    mut viewer: Viewer,
    body: Bytes,
) -> Response {
    viewer.ctx.here = "/console".to_owned();
    let fields = Fields::parse(&body, "form").unwrap_or_default();
    let presented = fields.one("csrf").ok().flatten();
    if !session::csrf_matches(&viewer.session.csrf, presented) {
        tracing::warn!(token_id = %viewer.session.token_id, "console: a sign-out without its CSRF token was refused");
        let message = viewer.lang().t(L::BadCsrf);
        return viewer.fail(StatusCode::FORBIDDEN, message).into_response();
    }
    if let Err(e) = state.sessions.close(&viewer.cookie).await {
        return viewer.console_error(e).into_response();
    }
    tracing::info!(token_id = %viewer.session.token_id, "console: signed out");
    let mut response = Redirect::to("/console/login?out=1").into_response();
    let clear = session::cleared_session_cookie(viewer.ctx.secure_cookies);
    if let Ok(clear) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_the_ids_the_tests_use() {
        let html = render(Lang::PtBr, "/console/login", false, None).into_string();
        assert!(html.contains("<form id=\"login\" method=\"post\" action=\"/console/login\">"));
        assert!(html.contains("name=\"token\" type=\"password\""));
        assert!(html.contains("<button id=\"sign-in\" type=\"submit\">"));
        assert!(!html.contains("login-error"));
        let html = render(Lang::En, "/console/login", true, Some(L::SessionExpired)).into_string();
        assert!(html.contains("id=\"login-error\""));
        assert!(html.contains("Your session expired"));
    }
}
