//! The browser bundle, served from memory: its files (the wasm, its JS, the dialogs' module and
//! its loader) in a directory named by a hash of them all, `/pkg/<hash>/`, which browsers keep
//! for a year without asking again (`immutable`), every file in the best encoding the browser
//! accepts (brotli, gzip, or as is), compressed once at build time (`cargo leptos build
//! --release --precompress` leaves `.br` and `.gz` beside each file). One directory for them
//! all keeps the relative names the files load each other by (`./keyhatch.js`,
//! `./split_dialogs.wasm`): one module loaded under two names would be two modules.
//!
//! The files come from the binary only (every build script embeds them; see `build.rs`): a
//! plain cargo build that has not made the bundle serves pages without script. The stylesheet is also handed to the page, which inlines it: the first paint
//! then waits for no second request.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The embedded files, by URL path (`/pkg/keyhatch.wasm`, `/pkg/keyhatch.wasm.br`, …).
pub static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/embedded_site.rs"));

/// How long a content-hashed file may be kept: a year, the longest HTTP caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A file at its plain name may change with the next build: keep it, but ask first.
const REVALIDATE: &str = "no-cache";

/// The bundle's files, ready to serve.
#[derive(Debug, Default)]
pub struct Bundle {
    assets: Vec<Asset>,
    /// `pkg/<hash>`, where the files answer for good: hashed over every file under `/pkg/`.
    pkg_dir: Option<String>,
    /// The dialogs' module's loader, which the page's JS imports, when the bundle is split.
    split_loader: Option<String>,
    /// The stylesheet's text, for the page to inline.
    stylesheet: Option<Arc<str>>,
}

/// One file: its URLs, type and encodings.
#[derive(Debug)]
struct Asset {
    /// Where it always answers (revalidated).
    url: String,
    /// Where it answers for good: under the hashed directory, for the bundle's files.
    hashed_url: Option<String>,
    content_type: &'static str,
    /// The strong validator of the uncompressed bytes; each encoding adds a suffix.
    etag: String,
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
}

impl Bundle {
    /// The bundle compiled into this binary (none in a build that has not made it: its pages
    /// then load no script). Never files from the disk: a directory beside a copied binary
    /// (`/tmp/x/../site`) may be another account's.
    pub fn embedded() -> Self {
        let files = EMBEDDED
            .iter()
            .map(|&(url, bytes)| (url.to_owned(), Bytes::from_static(bytes)))
            .collect();
        Self::from_files(files)
    }

    /// Groups `files` (URL, bytes) by file, with their `.br` and `.gz` siblings as encodings,
    /// and gives the bundle's files their hashed directory.
    fn from_files(mut files: Vec<(String, Bytes)>) -> Self {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let variant = |url: &str, suffix: &str| {
            files
                .iter()
                .find(|(u, _)| u.strip_suffix(suffix) == Some(url))
                .map(|(_, b)| b.clone())
        };
        let mut assets: Vec<Asset> = files
            .iter()
            .filter(|(url, _)| !url.ends_with(".br") && !url.ends_with(".gz"))
            .map(|(url, bytes)| Asset {
                url: url.clone(),
                hashed_url: None,
                content_type: content_type(url),
                etag: format!("\"{}\"", hex_hash([bytes.as_ref()])),
                identity: bytes.clone(),
                gzip: variant(url, ".gz"),
                brotli: variant(url, ".br"),
            })
            .collect();
        let find = |assets: &[Asset], url: &str| assets.iter().position(|a| a.url == url);
        let built = find(&assets, "/pkg/keyhatch.wasm").is_some()
            && find(&assets, "/pkg/keyhatch.js").is_some();
        let pkg_dir = built.then(|| {
            let bundle = assets.iter().filter(|a| a.url.starts_with("/pkg/"));
            let parts = bundle.flat_map(|a| [a.url.as_bytes(), a.etag.as_bytes()]);
            let dir = format!("pkg/{}", hex_hash(parts));
            for asset in assets.iter_mut() {
                if let Some(name) = asset.url.strip_prefix("/pkg/") {
                    asset.hashed_url = Some(format!("/{dir}/{name}"));
                }
            }
            dir
        });
        let split_loader = assets
            .iter()
            .filter(|a| a.url.starts_with("/pkg/__wasm_split.") && a.url.ends_with(".js"))
            .find_map(|a| a.hashed_url.clone());
        let stylesheet = find(&assets, "/pkg/keyhatch.css").and_then(|css| {
            std::str::from_utf8(&assets[css].identity)
                .ok()
                .map(Arc::from)
        });
        Self {
            assets,
            pkg_dir,
            split_loader,
            stylesheet,
        }
    }

    /// The directory the page loads the bundle from (`pkg/<hash>`), once a bundle is built.
    pub fn pkg_dir(&self) -> Option<&str> {
        self.pkg_dir.as_deref()
    }

    /// The URL of the dialogs' module's loader (under the hashed directory), when the bundle is
    /// split: the page preloads it beside the JS that imports it.
    pub fn split_loader(&self) -> Option<&str> {
        self.split_loader.as_deref()
    }

    /// The stylesheet's text, for the page to inline.
    pub fn stylesheet(&self) -> Option<Arc<str>> {
        self.stylesheet.clone()
    }

    /// A route for every file at its plain URL and, for the hashed ones, their hashed URL.
    pub fn routes<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let mut router = Router::new();
        for asset in self.assets.into_iter().map(Arc::new) {
            let urls = std::iter::once((asset.url.clone(), REVALIDATE))
                .chain(asset.hashed_url.clone().map(|url| (url, IMMUTABLE)));
            for (url, cache) in urls {
                let asset = Arc::clone(&asset);
                router = router.route(
                    &url,
                    axum::routing::get(move |headers: HeaderMap| async move {
                        asset.answer(&headers, cache)
                    }),
                );
            }
        }
        router
    }
}

impl Asset {
    /// The file in the best encoding `request` accepts, or "not modified" when the browser
    /// holds it already.
    fn answer(&self, request: &HeaderMap, cache: &'static str) -> Response {
        let (body, encoding) = match accepted(request) {
            Accepts { brotli: true, .. } if self.brotli.is_some() => (&self.brotli, Some("br")),
            Accepts { gzip: true, .. } if self.gzip.is_some() => (&self.gzip, Some("gzip")),
            _ => (&None, None),
        };
        let etag = match encoding {
            Some(coding) => format!("{}-{coding}\"", self.etag.trim_end_matches('"')),
            None => self.etag.clone(),
        };
        let mut headers = HeaderMap::new();
        let value = |s: &str| HeaderValue::from_str(s).expect("a header value");
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::ETAG, value(&etag));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|tag| tag.trim() == etag || tag.trim() == "*")
        {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        if let Some(coding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        let body = body.clone().unwrap_or_else(|| self.identity.clone());
        (headers, body).into_response()
    }
}

/// The encodings a request's `Accept-Encoding` allows (a `q=0` refuses one).
#[derive(Debug, Default, PartialEq)]
struct Accepts {
    brotli: bool,
    gzip: bool,
}

fn accepted(request: &HeaderMap) -> Accepts {
    let mut accepts = Accepts::default();
    let codings = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for coding in codings {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                == Some(0.0)
        });
        match name.to_ascii_lowercase().as_str() {
            "br" => accepts.brotli = !refused,
            "gzip" => accepts.gzip = !refused,
            _ => {}
        }
    }
    accepts
}

/// The first 16 hex digits of the SHA-256 of `parts`, one after the other.
fn hex_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let digest = parts
        .into_iter()
        .fold(Sha256::new(), Digest::chain_update)
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The content type of a bundle file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        Some("ico") => "image/x-icon",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, Bytes)> {
        let file = |url: &str, text: &str| (url.to_owned(), Bytes::from(text.to_owned()));
        vec![
            file("/pkg/keyhatch.wasm", "wasm"),
            file("/pkg/keyhatch.wasm.br", "wasm-br"),
            file("/pkg/keyhatch.wasm.gz", "wasm-gz"),
            file("/pkg/keyhatch.js", "js"),
            file("/pkg/keyhatch.css", "main{color:red}"),
            file("/pkg/split_dialogs.wasm", "dialogs"),
            file("/pkg/__wasm_split.x.js", "loader"),
            file("/favicon.svg", "<svg/>"),
        ]
    }

    fn bundle() -> Bundle {
        Bundle::from_files(files())
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    fn wasm(bundle: &Bundle) -> &Asset {
        bundle
            .assets
            .iter()
            .find(|a| a.url == "/pkg/keyhatch.wasm")
            .unwrap()
    }

    #[test]
    fn the_bundle_answers_under_one_directory_hashed_over_all_its_files() {
        let bundle = bundle();
        let dir = bundle.pkg_dir().unwrap().to_owned();
        assert!(
            dir.starts_with("pkg/") && dir.len() == "pkg/".len() + 16,
            "{dir}"
        );
        let hashed = |bundle: &Bundle, url: &str| {
            let asset = bundle.assets.iter().find(|a| a.url == url).unwrap();
            asset.hashed_url.clone()
        };
        for name in [
            "keyhatch.wasm",
            "keyhatch.js",
            "split_dialogs.wasm",
            "__wasm_split.x.js",
        ] {
            let url = format!("/pkg/{name}");
            assert_eq!(hashed(&bundle, &url), Some(format!("/{dir}/{name}")));
        }
        assert_eq!(hashed(&bundle, "/favicon.svg"), None);
        assert_eq!(
            bundle.split_loader(),
            Some(format!("/{dir}/__wasm_split.x.js").as_str())
        );
        assert_eq!(bundle.stylesheet().unwrap().as_ref(), "main{color:red}");
        // A change to any one file moves them all, whatever order they were read in.
        let mut files = files();
        files.reverse();
        assert_eq!(
            Bundle::from_files(files.clone()).pkg_dir(),
            Some(dir.as_str())
        );
        let dialogs = files
            .iter_mut()
            .find(|(url, _)| url == "/pkg/split_dialogs.wasm");
        dialogs.unwrap().1 = Bytes::from_static(b"dialogs2");
        assert_ne!(Bundle::from_files(files).pkg_dir(), Some(dir.as_str()));
        // No bundle built: nothing is hashed, and the page links the plain names.
        let bare = Bundle::from_files(vec![("/favicon.svg".into(), Bytes::from_static(b"<svg/>"))]);
        assert_eq!((bare.pkg_dir(), bare.split_loader()), (None, None));
    }

    #[test]
    fn brotli_first_then_gzip_then_as_is() {
        let bundle = bundle();
        let asset = wasm(&bundle);
        let answer = |accept: &str| {
            let response = asset.answer(&headers(&[(header::ACCEPT_ENCODING, accept)]), IMMUTABLE);
            let coding = response
                .headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap().to_owned());
            (response.status(), coding)
        };
        assert_eq!(answer("gzip, deflate, br, zstd").1.as_deref(), Some("br"));
        assert_eq!(answer("gzip").1.as_deref(), Some("gzip"));
        assert_eq!(answer("br;q=0, gzip;q=0.5").1.as_deref(), Some("gzip"));
        assert_eq!(answer("identity").1, None);
        assert_eq!(answer("").1, None);
    }

    #[test]
    fn a_browser_holding_the_file_gets_not_modified() {
        let bundle = bundle();
        let asset = wasm(&bundle);
        let first = asset.answer(&headers(&[(header::ACCEPT_ENCODING, "br")]), IMMUTABLE);
        assert_eq!(first.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(first.headers()[header::VARY], "accept-encoding");
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert!(etag.ends_with("-br\""), "{etag}");
        let again = asset.answer(
            &headers(&[
                (header::ACCEPT_ENCODING, "br"),
                (header::IF_NONE_MATCH, &etag),
            ]),
            IMMUTABLE,
        );
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        // The gzip representation is another entity: its validator does not match brotli's.
        let other = asset.answer(
            &headers(&[
                (header::ACCEPT_ENCODING, "gzip"),
                (header::IF_NONE_MATCH, &etag),
            ]),
            IMMUTABLE,
        );
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn bundle_files_get_their_content_types() {
        assert_eq!(content_type("/pkg/keyhatch.wasm"), "application/wasm");
        assert_eq!(
            content_type("/pkg/keyhatch.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("/favicon.svg"), "image/svg+xml");
    }
}
