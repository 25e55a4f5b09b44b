//! `keyhatch keys …`: the page's key operations from a terminal on the login node. Each command
//! makes the call the page's server function makes, on the same [`Keys`] of local mode's one
//! person, so a key listed, made or revoked here is the page's, and the page's is here.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::making::make_key;
use super::output::{message, note, one_line, say, to_json};
use super::passphrase;
use super::seqera::Handoff;
use crate::api::context::{brought_label, key_settings};
use crate::api::convert;
use crate::api::person::{Keys, Person};
use crate::declared::KeysCommand;
use crate::model::KeyInfo;
use crate::server::access::local_store;
use crate::server::settings::Settings;
use crate::ssh::{self, Passphrase, parse_public_key};

/// The largest `.pub` file read: a public key is a few hundred bytes, an RSA one under 2 KB.
const MAX_PUBLIC_KEY: u64 = 64 * 1024;

/// Runs `command` on the keys of the account this runs as, with `settings`' tag, key options
/// and file; says what happened, or why not, and exits as ssh-keygen's users expect.
pub fn run(command: KeysCommand, settings: &Settings) -> ExitCode {
    match run_command(command, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            note(&format!("keyhatch: {}", one_line(&message)));
            ExitCode::FAILURE
        }
    }
}

fn run_command(command: KeysCommand, settings: &Settings) -> Result<(), String> {
    if settings.site.is_some() {
        let file = settings
            .file
            .as_ref()
            .map_or_else(String::new, |f| format!(" ({})", f.display()));
        return Err(format!(
            "the settings{file} are site mode, where the page manages keys; `keyhatch keys` \
             works on your own account's keys: run it with --config none, or with your own \
             settings file"
        ));
    }
    let keys = local_keys(settings).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    let site = (&settings.keys.key_options, &settings.keys.from_lists[..]);
    let done = runtime.block_on(async {
        match command {
            KeysCommand::List { json } => super::list::list(&keys, json).await,
            KeysCommand::Generate {
                file,
                label,
                expires_in,
                from,
                passphrase_file,
                no_passphrase,
                json,
                seqera,
            } => {
                let passphrase = asked_passphrase(no_passphrase, passphrase_file).await?;
                let asked = Asked {
                    label,
                    expires_in,
                    from,
                };
                let handoff = Handoff::of(seqera, settings.seqera.as_ref())?;
                generate(&keys, site, (asked, passphrase), (&file, json), handoff).await
            }
            KeysCommand::Rotate {
                fingerprint,
                file,
                expires_in,
                passphrase_file,
                no_passphrase,
                revoke_old,
                json,
                seqera,
            } => {
                let handoff = Handoff::of(seqera, settings.seqera.as_ref())?;
                let passphrase = asked_passphrase(no_passphrase, passphrase_file).await?;
                let new = (expires_in, passphrase, (file.as_path(), json));
                super::rotate::rotate(&keys, site.0, &fingerprint, new, revoke_old, handoff).await
            }
            KeysCommand::Add {
                file,
                label,
                expires_in,
                from,
                json,
            } => {
                let asked = Asked {
                    label,
                    expires_in,
                    from,
                };
                add(&keys, site, &file, asked, json).await
            }
            KeysCommand::Restrict {
                fingerprint,
                from,
                expires_on,
                json,
            } => {
                let changed = (from.as_deref(), expires_on.as_deref());
                super::restrict::restrict(&keys, site, &fingerprint, changed, json).await
            }
            KeysCommand::Revoke { fingerprint } => {
                keys.revoke_key(&fingerprint).await.map_err(message)?;
                say(&format!(
                    "Revoked {fingerprint}: sshd no longer accepts it."
                ));
                Ok(())
            }
        }
    });
    // A prompt left waiting on the terminal after Ctrl-C is not waited for.
    runtime.shutdown_background();
    done
}

/// The new key's passphrase: none with `--no-passphrase`, read from `file`, or asked.
async fn asked_passphrase(none: bool, file: Option<PathBuf>) -> Result<Option<Passphrase>, String> {
    match (none, file) {
        (true, _) => Ok(None),
        (false, Some(path)) => {
            passphrase::from_file(&path).map_err(|e| format!("{}: {e}", path.display()))
        }
        (false, None) => ask_until_interrupted().await,
    }
}

/// The passphrase asked at the terminal; Ctrl-C, Ctrl-\\, a hangup, SIGTERM or SIGALRM while it
/// is asked puts the terminal back as it was and makes nothing.
async fn ask_until_interrupted() -> Result<Option<Passphrase>, String> {
    use tokio::signal::unix::{SignalKind, signal};

    let listen = |kind| signal(kind).map_err(|e| format!("cannot watch for Ctrl-C: {e}"));
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut hangup = listen(SignalKind::hangup())?;
    let mut terminate = listen(SignalKind::terminate())?;
    let mut quit = listen(SignalKind::quit())?;
    let mut alarm = listen(SignalKind::alarm())?;
    let asked = tokio::task::spawn_blocking(passphrase::ask);
    tokio::select! {
        asked = asked => asked
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string()),
        _ = interrupt.recv() => Err(interrupted()),
        _ = hangup.recv() => Err(interrupted()),
        _ = terminate.recv() => Err(interrupted()),
        _ = quit.recv() => Err(interrupted()),
        _ = alarm.recv() => Err(interrupted()),
    }
}

/// Restores the terminal after a signal at the prompt, and says so.
fn interrupted() -> String {
    passphrase::restore_terminal();
    "interrupted; nothing was made".to_owned()
}

/// Local mode's one person's keys, as the server makes them.
fn local_keys(settings: &Settings) -> io::Result<Keys> {
    let store = local_store(settings)?
        .with_max_size(settings.limits.max_file_size)
        .with_lock_timeout(Duration::from_secs(settings.limits.lock_timeout));
    let person = Person::local(
        settings.account.clone(),
        settings.uid,
        nix::unistd::getgid().as_raw(),
        settings.home.clone(),
        store,
        settings.keys.tag.clone(),
    );
    Ok(person.keys)
}

/// What a new or brought key is written with, as asked.
struct Asked {
    label: Option<String>,
    expires_in: Option<u32>,
    /// Where it may log in from: one of the settings' lists, or patterns.
    from: Option<String>,
}

/// The settings' options written before each key, and their lists of addresses.
type Site<'a> = (&'a ssh::KeyOptions, &'a [ssh::NamedFrom]);

/// The label and options of a key about to be written, warning when its patterns name hosts.
fn settings_of(
    site: Site<'_>,
    asked: Asked,
) -> Result<(Option<ssh::Label>, ssh::KeyOptions), String> {
    let (label, options) = key_settings(site, asked.label, asked.expires_in, asked.from.as_deref())
        .map_err(message)?;
    super::restrict::warn_of_host_names(&options);
    Ok((label, options))
}

/// Makes a key, writes its private half to `file`, authorizes it, says so, and with `--seqera`
/// adds it to Platform (the credentials' name is checked before anything is made).
async fn generate(
    keys: &Keys,
    site: Site<'_>,
    (asked, passphrase): (Asked, Option<Passphrase>),
    (file, json): (&Path, bool),
    handoff: Option<Handoff>,
) -> Result<(), String> {
    if let Some(handoff) = &handoff {
        handoff.check_new_name()?;
    }
    let settings = settings_of(site, asked)?;
    let made = make_key(keys, settings, passphrase.as_ref(), (file, json), None).await?;
    made.report(json)?;
    if let Some(handoff) = handoff {
        let id = handoff.add(&made.key, passphrase.as_ref()).map_err(|e| {
            format!(
                "{e}; the key is made and authorized all the same{}",
                made.kept_in()
            )
        })?;
        note(&format!("Added to Seqera Platform as credentials {id}."));
    }
    Ok(())
}

/// Authorizes the public key in `file` ("-": standard input), labelled `label` or by its own
/// comment, as the page's Add does.
async fn add(
    keys: &Keys,
    site: Site<'_>,
    file: &Path,
    asked: Asked,
    json: bool,
) -> Result<(), String> {
    let text = read_public_key(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let key = parse_public_key(&text).map_err(|e| message(e.into()))?;
    let label = brought_label(asked.label.clone(), &key);
    let (label, options) = settings_of(site, Asked { label, ..asked })?;
    let written = keys
        .add_key(&key, label.as_ref(), &options)
        .await
        .map_err(message)?;
    let info: KeyInfo = convert::key_info(&written, &options);
    if json {
        say(&to_json(&info)?);
    } else {
        say(&format!(
            "Authorized {} {}",
            info.fingerprint,
            info.comment()
        ));
    }
    Ok(())
}

/// The text of a `.pub` file, or of standard input for "-", up to [`MAX_PUBLIC_KEY`].
fn read_public_key(file: &Path) -> io::Result<String> {
    let mut text = String::new();
    if file == Path::new("-") {
        io::stdin()
            .lock()
            .take(MAX_PUBLIC_KEY)
            .read_to_string(&mut text)?;
    } else {
        File::open(file)?
            .take(MAX_PUBLIC_KEY)
            .read_to_string(&mut text)?;
    }
    Ok(text)
}
