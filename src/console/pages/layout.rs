//! The frame of every page: the document, the stylesheet, the navigation (signed in), the
//! language switch and the sign-out form with the session's CSRF token.

use maud::{DOCTYPE, Markup, html};

use crate::console::i18n::{L, Lang};
use carat_core::console::Session;
use carat_domain::ConsoleRole;

/// What the frame needs: the language, where the page lives (the language switch links
/// there), and the session when someone is signed in.
pub struct Chrome<'a> {
    pub lang: Lang,
    pub here: &'a str,
    pub session: Option<&'a Session>,
}

/// `here` with `lang=<code>` added.
pub fn with_lang(here: &str, lang: Lang) -> String {
    let sep = if here.contains('?') { '&' } else { '?' };
    format!("{here}{sep}lang={}", lang.code())
}

pub fn role_name(lang: Lang, role: ConsoleRole) -> &'static str {
    lang.t(match role {
        ConsoleRole::Operator => L::RoleOperator,
        ConsoleRole::Support => L::RoleSupport,
    })
}

/// The page: `<html lang>`, the header (navigation when signed in), `body` in `<main>`.
pub fn page(chrome: &Chrome, title: &str, body: Markup) -> Markup {
    let lang = chrome.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (lang.t(L::AppTitle)) " · carat-merchant" }
                link rel="stylesheet" href="/console/static/console.css";
            }
            body {
                header class="top" {
                    a class="brand" href="/console" { "carat-merchant · " (lang.t(L::AppTitle)) }
                    @if let Some(session) = chrome.session {
                        span id="whoami" class="whoami" {
                            (lang.t(L::SignedInAs)) " " strong { (role_name(lang, session.role)) }
                            " · " code { (session.token_id) }
                        }
                        form id="logout" class="logout" method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { (lang.t(L::SignOut)) }
                        }
                    }
                    span class="langs" {
                        span class="visually-hidden" { (lang.t(L::Language)) ": " }
                        a id="lang-pt" href=(with_lang(chrome.here, Lang::PtBr)) hreflang="pt-BR"
                            aria-current=[(lang == Lang::PtBr).then_some("true")] { "Português" }
                        " · "
                        a id="lang-en" href=(with_lang(chrome.here, Lang::En)) hreflang="en"
                            aria-current=[(lang == Lang::En).then_some("true")] { "English" }
                    }
                }
                @if chrome.session.is_some() {
                    (nav(lang, chrome.here))
                }
                main id="main" {
                    (body)
                }
                footer class="foot" { (lang.t(L::TimeZoneNote)) }
            }
        }
    }
}

/// The navigation; the link to the page shown is marked current.
fn nav(lang: Lang, here: &str) -> Markup {
    let path = here.split('?').next().unwrap_or_default();
    let links = [
        ("nav-overview", "/console", L::NavOverview),
        ("nav-search", "/console/recharges", L::NavSearch),
        (
            "nav-queue-in-doubt",
            "/console/queues/in-doubt",
            L::QueueInDoubt,
        ),
        (
            "nav-queue-overdue",
            "/console/queues/overdue",
            L::QueueOverdue,
        ),
        (
            "nav-queue-awaiting-choice",
            "/console/queues/awaiting-choice",
            L::QueueAwaitingChoice,
        ),
        (
            "nav-queue-callbacks",
            "/console/queues/callbacks",
            L::QueueCallbacks,
        ),
        ("nav-queue-cards", "/console/queues/cards", L::QueueCards),
    ];
    html! {
        nav id="nav" aria-label=(lang.t(L::Navigation)) {
            ul {
                @for (id, href, label) in links {
                    li {
                        a id=(id) href=(href) aria-current=[(path == href).then_some("page")] {
                            (lang.t(label))
                        }
                    }
                }
            }
        }
    }
}

/// The error box every page shows a failure in.
pub fn error_box(message: &str) -> Markup {
    html! {
        div id="error" class="error" role="alert" { p { (message) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(role: ConsoleRole) -> Session {
        Session {
            role,
            token_id: "0123456789abcdef".into(),
            csrf: "csrf-of-the-session".into(),
        }
    }

    #[test]
    fn signed_in_pages_have_the_navigation_and_the_sign_out_form() {
        let session = session(ConsoleRole::Operator);
        let chrome = Chrome {
            lang: Lang::PtBr,
            here: "/console/recharges?q=1",
            session: Some(&session),
        };
        let html = page(&chrome, "Buscar", html! { p { "corpo" } }).into_string();
        assert!(
            html.starts_with("<!DOCTYPE html><html lang=\"pt-BR\">"),
            "{html}"
        );
        for id in [
            "nav",
            "nav-overview",
            "nav-search",
            "nav-queue-in-doubt",
            "nav-queue-overdue",
            "nav-queue-awaiting-choice",
            "nav-queue-callbacks",
            "nav-queue-cards",
            "whoami",
            "logout",
            "lang-en",
            "lang-pt",
            "main",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "no #{id}: {html}");
        }
        assert!(html.contains("name=\"csrf\" value=\"csrf-of-the-session\""));
        assert!(
            html.contains("href=\"/console/recharges?q=1&amp;lang=en\""),
            "{html}"
        );
        assert!(
            html.contains(
                "<a id=\"nav-search\" href=\"/console/recharges\" aria-current=\"page\">"
            )
        );
        assert!(html.contains("Operador"));
        assert!(html.contains("0123456789abcdef"));
        assert!(!html.contains("<script"), "no script at all");
        assert!(!html.contains(" style="), "no inline style");
    }

    #[test]
    fn signed_out_pages_have_neither() {
        let chrome = Chrome {
            lang: Lang::En,
            here: "/console/login",
            session: None,
        };
        let html = page(&chrome, "Sign in", html! {}).into_string();
        assert!(html.contains("<html lang=\"en\">"));
        assert!(!html.contains("id=\"nav\""));
        assert!(!html.contains("id=\"logout\""));
        assert!(
            html.contains("id=\"lang-pt\" href=\"/console/login?lang=pt-BR\""),
            "{html}"
        );
    }

    #[test]
    fn text_is_escaped() {
        let html = error_box("<script>alert(1)</script>").into_string();
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
