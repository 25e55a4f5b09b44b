//! Embeds the browser bundle in the server binary when `KEYHATCH_EMBED_SITE` names a built site
//! directory (`make install` sets it to `target/site` after `cargo leptos build --release`).
//! Otherwise the table is empty and the bundle is served from beside the executable.
//! Also names the git commit the build is made from, for `--version`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    commit();
    println!("cargo:rerun-if-env-changed=KEYHATCH_EMBED_SITE");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files = Vec::new();
    if let Some(site) = env::var_os("KEYHATCH_EMBED_SITE") {
        let site = PathBuf::from(site);
        collect(&site, &site, &mut files);
        assert!(
            files.iter().any(|(url, _)| url == "/pkg/keyhatch.wasm"),
            "KEYHATCH_EMBED_SITE={} holds no pkg/keyhatch.wasm: build the site first",
            site.display()
        );
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (url, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        code.push_str(&format!("    ({url:?}, include_bytes!({path:?})),\n"));
    }
    code.push(']');
    fs::write(out.join("embedded_site.rs"), code).expect("OUT_DIR is writable");
}

/// Every file under `dir`, as (URL path from `root`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in fs::read_dir(dir).expect("the site directory is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.to_string_lossy().contains(".d.ts") {
            // wasm-bindgen's TypeScript declarations (and their compressed copies): no browser
            // asks for them.
        } else {
            let relative = path.strip_prefix(root).expect("below the root");
            let url = format!("/{}", relative.to_string_lossy());
            let absolute = path.canonicalize().expect("the file exists");
            files.push((url, absolute));
        }
    }
}

/// Sets `KEYHATCH_COMMIT` for `--version`: `KEYHATCH_COMMIT` from the environment (a build from
/// a source archive), else the checkout's `HEAD`, else "unknown". Built again when `HEAD` moves.
fn commit() {
    println!("cargo:rerun-if-env-changed=KEYHATCH_COMMIT");
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let commit = env::var("KEYHATCH_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // The files a new commit or checkout changes; a missing one would rebuild every time.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = ["HEAD", "packed-refs"]
        .into_iter()
        .chain(branch.as_deref())
        .filter_map(|name| git(&["rev-parse", "--git-path", name]))
        .filter(|path| Path::new(path).exists());
    for path in watched {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rustc-env=KEYHATCH_COMMIT={commit}");
}
