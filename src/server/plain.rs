//! The one way keyhatch answers with a plain page (a refusal, log in, logged out): a heading
//! and paragraphs whose every piece of text is escaped as it is added, so nothing a request
//! carried (a Host, a name, a form's field) can become markup; and the Content-Security-Policy
//! that these pages and the app's own share.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::random::random_hex;

/// A piece of a paragraph.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// Plain text.
    Text(&'a str),
    /// Text set as code: a command, a path, a setting.
    Code(&'a str),
    /// Text in bold: an account's or a group's name.
    Bold(&'a str),
    /// A link: its text, then where it goes.
    Link(&'a str, &'a str),
}

/// A plain page under construction: its status, the browser's title, and its body's HTML.
#[derive(Debug, Clone)]
pub struct PlainPage {
    status: StatusCode,
    title: &'static str,
    body: String,
}

impl PlainPage {
    /// A page answered with `status`, titled `title` (with ` · keyhatch` after it), headed
    /// `heading`.
    pub fn new(status: StatusCode, title: &'static str, heading: &str) -> Self {
        let mut body = String::from("<h1>");
        push_escaped(&mut body, heading);
        body.push_str("</h1>");
        Self {
            status,
            title,
            body,
        }
    }

    /// The page with a paragraph of `parts` after what it holds.
    pub fn para(mut self, parts: &[Part<'_>]) -> Self {
        self.body.push_str("<p>");
        for part in parts {
            let (open, text, close) = match part {
                Part::Text(text) => ("", text, ""),
                Part::Code(text) => ("<code>", text, "</code>"),
                Part::Bold(text) => ("<b>", text, "</b>"),
                Part::Link(text, href) => {
                    self.body.push_str("<a href=\"");
                    push_escaped(&mut self.body, href);
                    ("\">", text, "</a>")
                }
            };
            self.body.push_str(open);
            push_escaped(&mut self.body, text);
            self.body.push_str(close);
        }
        self.body.push_str("</p>");
        self
    }

    /// The page as an answer: uncached by the guard's headers, styled by an inline stylesheet
    /// that only this answer's nonce lets apply.
    pub fn answer(self) -> Response {
        let nonce = random_hex::<16>();
        let html = self.html(Some(&nonce));
        let mut response = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from(html))
            .unwrap_or_else(|_| self.status.into_response());
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp(Some(&nonce)));
        response
    }
}

impl PlainPage {
    /// The whole HTTP/1.1 answer, for a connection refused before its request is read: no
    /// inline style (its policy allows nothing), not cached, and the connection closed.
    pub fn raw_http(&self) -> Vec<u8> {
        let html = self.html(None);
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
             Connection: close\r\nCache-Control: no-store\r\n\
             Content-Security-Policy: default-src 'none'\r\n\r\n{html}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            html.len()
        )
        .into_bytes()
    }

    /// The page's HTML, styled by an inline stylesheet when there is a `nonce` to allow it.
    fn html(&self, nonce: Option<&str>) -> String {
        let style = nonce.map_or_else(String::new, |nonce| {
            format!(
                "<style nonce=\"{nonce}\">body{{font:16px/1.5 system-ui,sans-serif;\
                 max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2937}}\
                 code{{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}}</style>"
            )
        });
        format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{} · keyhatch</title>{style}</head><body>{}</body></html>",
            self.title, self.body
        )
    }
}

impl IntoResponse for PlainPage {
    fn into_response(self) -> Response {
        self.answer()
    }
}

/// The Content-Security-Policy: scripts and styles from keyhatch only, inline ones only with
/// `nonce`, WebAssembly allowed to compile, no plugins, frames, base or foreign forms.
pub fn csp(nonce: Option<&str>) -> HeaderValue {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'{nonce}; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// Whether `headers` say the body is `media_type` (parameters such as `charset` aside).
pub fn content_type_is(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// Appends `text` to `html`, safe as HTML text.
fn push_escaped(html: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_of_text_is_escaped_and_set_as_asked() {
        let page = PlainPage::new(StatusCode::FORBIDDEN, "Refused", "<i>x</i>").para(&[
            Part::Text("a & b "),
            Part::Bold("<script>"),
            Part::Code("\"q'"),
        ]);
        assert_eq!(
            page.body,
            "<h1>&lt;i&gt;x&lt;/i&gt;</h1><p>a &amp; b <b>&lt;script&gt;</b>\
             <code>&quot;q&#39;</code></p>"
        );
        assert_eq!(page.answer().status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn the_content_type_is_read_without_its_parameters() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(content_type_is(&headers, "application/json"));
        assert!(!content_type_is(
            &headers,
            "application/x-www-form-urlencoded"
        ));
        assert!(!content_type_is(&HeaderMap::new(), "application/json"));
    }
}
