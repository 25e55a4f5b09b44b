//! What keyhatch says when it starts serving: in site mode, the report of what it serves; in
//! local mode, the login link (also written to private files) and `keyhatch link`.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::mpsc::UnboundedSender;

use super::access::Access;
use super::after_logout::{self, DefaultSocket, InRuntimeDir};
use super::link;
use super::runtime::LoginFiles;
use super::settings::Settings;
use super::{auth, site_start};

/// Prints what keyhatch serves and how to reach it. In local mode that is a login link, also
/// written with the scripts' header to private files (a batch job's output is often readable
/// by others), and `keyhatch link` is answered for new links; both last as long as the returned
/// value, made again if the runtime directory is removed (with the default socket, when
/// `bound_again` takes the listeners bound again there).
pub fn announce(
    settings: &Settings,
    access: &Access,
    name: &str,
    base: &str,
    socket: Option<&Path>,
    bound_again: Option<UnboundedSender<UnixListener>>,
) -> Option<Arc<InRuntimeDir>> {
    let (auth, person) = match access {
        Access::Local { auth, person } => (auth, person),
        Access::Site(site) => {
            let at = socket.map_or_else(|| base.to_owned(), |p| p.display().to_string());
            let (lines, warnings) = site_start::describe(&site.settings, &settings.listen);
            // Warnings first: the report on stdout is the last thing said before serving.
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            say(&format!(
                "keyhatch {} (site mode) serves every account with uid {} or more through the login proxy on {at}\n{}\n",
                env!("CARGO_PKG_VERSION"),
                site.settings.declared.min_uid,
                lines.join("\n"),
            ));
            return None;
        }
    };
    if let Some(note) = &settings.account_note {
        eprintln!("note: {note}");
    }
    let link = format!("{base}/?token={}", auth.new_link());
    let open = socket.map_or_else(|| "Open".to_owned(), |path| {
        format!(
            "keyhatch listens on the socket {path}. From your laptop, forward it:\n\n    ssh -L {forward} NODE\n\nthen open",
            path = path.display(),
            forward = shell_word(&format!("3000:{}", path.display())),
        )
    });
    // Both before the link is printed: whoever reads it may look for them at once. The link
    // socket first: it claims the name the files are named for.
    let links = link::listen(settings.uid, name, base, auth.clone());
    let wanted = name;
    // Named for the name claimed: without one, they could be another server's.
    let files = match &links {
        Ok(links) => LoginFiles::write(settings.uid, links.name(), &link, auth.credential()),
        Err(_) => Err(io::Error::other("no name could be claimed for them")),
    };
    let where_else = match &files {
        Ok(files) => format!(
            "The link is also in {} (readable only by you); scripts can send the header in {} with curl -H @FILE.\n",
            files.url.display(),
            files.header.display()
        ),
        Err(e) => format!("(could not write the login files: {e})\n"),
    };
    let again = match &links {
        // Another server of this account runs under the name wanted: `keyhatch link` alone
        // would ask which.
        Ok(links) => format!(
            "The link works once, within {} minutes; for another, run: keyhatch link{}\n",
            auth::LINK_LIFETIME.as_secs() / 60,
            match links.name() == wanted {
                true => String::new(),
                false => format!(" {}", links.name()),
            }
        ),
        Err(e) => format!("(keyhatch link will not work: {e})\n"),
    };
    say(&format!(
        "keyhatch {} is managing {}\n{open} this link in your browser to log in:\n\n    {link}\n\n{again}{where_else}\n",
        env!("CARGO_PKG_VERSION"),
        person.keys_file.display(),
    ));
    let kept = InRuntimeDir {
        files: files.ok(),
        links: links.ok(),
        socket: socket
            .zip(bound_again)
            .map(|(path, again)| DefaultSocket::new(path, again)),
    };
    Some(after_logout::keep(
        kept,
        settings.uid,
        auth.clone(),
        base.to_owned(),
    ))
}

/// `word` as one shell word: in single quotes when it holds a space (a socket's path holds
/// nothing else a shell or ssh reads otherwise: `bind::printable`).
fn shell_word(word: &str) -> String {
    match word.contains(' ') {
        true => format!("'{word}'"),
        false => word.to_owned(),
    }
}

/// Prints `report` in one write, so a reader never sees half of it (`writeln!` on stdout
/// writes each line as it is formatted), and without a panic when nobody reads the output.
fn say(report: &str) {
    let _ = io::stdout().lock().write_all(report.as_bytes());
}
