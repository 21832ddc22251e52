//! The console's JavaScript, embedded in the binary and served at stable URLs under
//! `/assets/`: the audit page's checks (`audit.js`, `verify.js`) and the vendored crypto they
//! import (`@noble/hashes` for blake3, SHA-256 and SHA-512, `@noble/ed25519`, and
//! `sm-crypto-v2` for the gm profile's SM3 and SM2), each with its licence. No CDN and no
//! build step: the files are ES modules that import each other by relative path, so the URL
//! tree mirrors `assets/` and a browser loads them as they are. (`sm-crypto-v2` is its
//! package's UMD build, one self-contained script: imported as a module, it exports nothing
//! and defines `globalThis.SmCryptoV2`, which `verify.js` reads.)
//!
//! **Contract.** The vendored files MUST be served byte for byte as they came in their npm
//! tarballs (`assets/vendor/*/README.md` names each package, version and tarball integrity),
//! with `Content-Type: text/javascript` (module scripts are refused under any other type) and
//! `X-Content-Type-Options: nosniff`.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One embedded file: its URL path, content type and bytes.
pub struct Asset {
    /// The URL path it is served at.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, as in the repository.
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: concat!("/assets/", $path),
            content_type: $type,
            body: include_str!(concat!("assets/", $path)),
        }
    };
}

/// Every script the console serves, and the licences and provenance notes beside them.
pub const ASSETS: &[Asset] = &[
    asset!("audit.js", JS),
    asset!("verify.js", JS),
    asset!("vendor/noble-ed25519/index.js", JS),
    asset!("vendor/noble-ed25519/LICENSE", TEXT),
    asset!("vendor/noble-ed25519/README.md", TEXT),
    asset!("vendor/noble-hashes/blake3.js", JS),
    asset!("vendor/noble-hashes/blake2.js", JS),
    asset!("vendor/noble-hashes/sha2.js", JS),
    asset!("vendor/noble-hashes/_blake.js", JS),
    asset!("vendor/noble-hashes/_md.js", JS),
    asset!("vendor/noble-hashes/_u64.js", JS),
    asset!("vendor/noble-hashes/utils.js", JS),
    asset!("vendor/noble-hashes/LICENSE", TEXT),
    asset!("vendor/noble-hashes/README.md", TEXT),
    asset!("vendor/sm-crypto-v2/index.umd.js", JS),
    asset!("vendor/sm-crypto-v2/LICENSE", TEXT),
    asset!("vendor/sm-crypto-v2/README.md", TEXT),
];

/// Serves the asset at the request's path (each path of [`ASSETS`] is routed here).
pub async fn serve(uri: Uri) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.path == uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (CONTENT_TYPE, a.content_type),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Short: a new binary's checker should reach browsers soon after an upgrade.
            (CACHE_CONTROL, "max-age=300"),
        ],
        a.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every relative import of a served script names a served script, so the module graph
    /// loads in a browser with nothing missing.
    #[test]
    fn every_import_is_served() {
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            let dir = a.path.rsplit_once('/').map_or("", |(d, _)| d);
            for line in a.body.lines().map(str::trim_start) {
                if !line.starts_with("import ") {
                    continue;
                }
                // Relative specifiers only: a bare one (`'@noble/ed25519'`) appears in the
                // vendored files' usage comments, and the browser test loads the real graph.
                let Some(spec) = line
                    .split(['"', '\''])
                    .nth(1)
                    .filter(|s| s.starts_with('.'))
                else {
                    continue;
                };
                let mut parts: Vec<&str> = dir.split('/').collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    ASSETS.iter().any(|b| b.path == target),
                    "{} imports {spec} ({target}), which is not served",
                    a.path
                );
            }
        }
    }
}
