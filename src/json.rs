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
    type Error = WireError;

    fn encode(value: &T) -> Result<Bytes, WireError> {
        to_json(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonBody {
    type Error = WireError;

    fn decode(bytes: Bytes) -> Result<T, WireError> {
        let text = std::str::from_utf8(&bytes).map_err(|e| WireError(e.to_string()))?;
        from_json(text)
    }
}

/// Why a value could not be written or read as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not the JSON expected: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// `value` as JSON text.
#[cfg(feature = "ssr")]
pub fn to_json<T: Serialize>(value: &T) -> Result<String, WireError> {
    serde_json::to_string(value).map_err(|e| WireError(e.to_string()))
}

/// The value `text` holds.
#[cfg(feature = "ssr")]
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, WireError> {
    serde_json::from_str(text).map_err(|e| WireError(e.to_string()))
}

/// `value` as JSON text, by `JSON.stringify` (maps as objects, as serde_json writes them).
#[cfg(not(feature = "ssr"))]
pub fn to_json<T: Serialize>(value: &T) -> Result<String, WireError> {
    let js = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WireError(e.to_string()))?;
    js_sys::JSON::stringify(&js)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| WireError("JSON.stringify refused the value".to_owned()))
}

/// The value `text` holds, by `JSON.parse`.
#[cfg(not(feature = "ssr"))]
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, WireError> {
    let js =
        js_sys::JSON::parse(text).map_err(|_| WireError("JSON.parse refused it".to_owned()))?;
    serde_wasm_bindgen::from_value(js).map_err(|e| WireError(e.to_string()))
}

/// The codec of the page's resources: their values go into the page as this JSON and are read
/// back from it when the page hydrates.
pub struct JsonText;

impl<T: Serialize> leptos::server::codee::Encoder<T> for JsonText {
    type Error = WireError;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, WireError> {
        to_json(value)
    }
}

impl<T: DeserializeOwned> leptos::server::codee::Decoder<T> for JsonText {
    type Error = WireError;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, WireError> {
        from_json(text)
    }
}

#[cfg(test)]
mod tests {
    use leptos::server::codee::{Decoder, Encoder};
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::{Bytes, Decodes};

    use super::{JsonBody, JsonText};
    use crate::error::AppError;
    use crate::model::{KeyList, OtherKeyList};

    #[test]
    fn an_error_crosses_as_the_json_scripts_read() {
        let error = AppError::Conflict("that key is already in the file".to_owned());
        let body = error.ser();
        assert_eq!(body, r#"{"Conflict":"that key is already in the file"}"#);
        assert_eq!(AppError::de(body), error);
    }

    #[test]
    fn a_body_that_is_not_json_is_named_as_such() {
        let answer: Result<KeyList, _> = JsonBody::decode(Bytes::from_static(b"<html>502</html>"));
        let message = answer.unwrap_err().to_string();
        assert!(message.starts_with("not the JSON expected: "), "{message}");
    }

    #[test]
    fn a_resource_reads_back_what_the_page_was_rendered_with() {
        let list = OtherKeyList {
            keys: Vec::new(),
            unreadable_lines: 3,
        };
        let text = <JsonText as Encoder<OtherKeyList>>::encode(&list).unwrap();
        assert_eq!(text, r#"{"keys":[],"unreadable_lines":3}"#);
        assert_eq!(
            <JsonText as Decoder<OtherKeyList>>::decode(&text).unwrap(),
            list
        );
    }
}
