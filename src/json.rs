//! The JSON the server functions speak: request and response bodies, errors, and the lists the
//! page is rendered with. The server writes and reads it with serde_json; the browser with its
//! own `JSON.parse` and `JSON.stringify`, through serde-wasm-bindgen, so the bundle carries no
//! JSON parser or printer of its own (serde_json was 55 KB of the wasm, 13 KB of it brotli). The
//! bytes on the wire are JSON either way: scripts call the API as before.
//!
//! In the browser an integer beyond 2^53 is refused, not rounded (serde-wasm-bindgen checks
//! `Number.isSafeInteger`); keyhatch's are counts, line numbers and Platform ids, far inside.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON in the body, `application/json`.
pub struct JsonBody;

/// A server function's arguments or answer as JSON in a `POST` body.
pub type Json = Post<JsonBody>;

impl ContentType for JsonBody {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonBody {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonBody {
    type Error = JsonError;

    fn encode(value: &T) -> Result<Bytes, JsonError> {
        to_json(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonBody {
    type Error = JsonError;

    fn decode(bytes: Bytes) -> Result<T, JsonError> {
        let text = std::str::from_utf8(&bytes).map_err(|e| JsonError(e.to_string()))?;
        from_json(text)
    }
}

/// Why a value could not be written or read as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not the JSON expected: {}", self.0)
    }
}

impl std::error::Error for JsonError {}

/// `value` as JSON text.
#[cfg(feature = "ssr")]
fn to_json<T: Serialize>(value: &T) -> Result<String, JsonError> {
    serde_json::to_string(value).map_err(|e| JsonError(e.to_string()))
}

/// The value `text` holds.
#[cfg(feature = "ssr")]
fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    serde_json::from_str(text).map_err(|e| JsonError(e.to_string()))
}

/// `value` as JSON text, by `JSON.stringify` (maps as objects, as serde_json writes them).
#[cfg(not(feature = "ssr"))]
fn to_json<T: Serialize>(value: &T) -> Result<String, JsonError> {
    let js = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsonError(e.to_string()))?;
    js_sys::JSON::stringify(&js)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| JsonError("JSON.stringify refused the value".to_owned()))
}

/// The value `text` holds, by `JSON.parse`.
#[cfg(not(feature = "ssr"))]
fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    let js =
        js_sys::JSON::parse(text).map_err(|_| JsonError("JSON.parse refused it".to_owned()))?;
    serde_wasm_bindgen::from_value(js).map_err(|e| JsonError(e.to_string()))
}

/// The codec of the page's resources: their values go into the page as this JSON and are read
/// back from it when the page hydrates.
pub struct JsonText;

impl<T: Serialize> leptos::server::codee::Encoder<T> for JsonText {
    type Error = JsonError;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, JsonError> {
        to_json(value)
    }
}

impl<T: DeserializeOwned> leptos::server::codee::Decoder<T> for JsonText {
    type Error = JsonError;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, JsonError> {
        from_json(text)
    }
}

#[cfg(test)]
mod tests {
    use leptos::server::codee::{Decoder, Encoder};
    use leptos::server_fn::{Bytes, Decodes};
    use serde::{Deserialize, Serialize};

    use super::{JsonBody, JsonText};

    /// A value shaped like the lists the page is rendered with.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Listed {
        keys: Vec<String>,
        unreadable_lines: usize,
        label: Option<String>,
    }

    #[test]
    fn a_body_that_is_not_json_is_named_as_such() {
        let answer: Result<Listed, _> = JsonBody::decode(Bytes::from_static(b"<html>502</html>"));
        let message = answer.unwrap_err().to_string();
        assert!(message.starts_with("not the JSON expected: "), "{message}");
    }

    #[test]
    fn a_resource_reads_back_what_the_page_was_rendered_with() {
        let listed = Listed {
            keys: vec!["SHA256:abc".to_owned()],
            unreadable_lines: 3,
            label: None,
        };
        let text = <JsonText as Encoder<Listed>>::encode(&listed).unwrap();
        assert_eq!(
            text,
            r#"{"keys":["SHA256:abc"],"unreadable_lines":3,"label":null}"#
        );
        assert_eq!(
            <JsonText as Decoder<Listed>>::decode(&text).unwrap(),
            listed
        );
    }
}
