//! `keyhatch keys …`: the page's key operations from a terminal on the login node. Each command
//! makes the call the page's server function makes, on the same [`Keys`] of local mode's one
//! person, so a key listed, made or revoked here is the page's, and the page's is here.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::output::{message, note, one_line, say, stdout_refuses_a_key, to_json, write_stdout};
use super::passphrase;
use super::seqera::Handoff;
use crate::api::context::{brought_label, key_settings};
use crate::api::convert;
use crate::api::person::{Keys, Person};
use crate::declared::KeysCommand;
use crate::model::KeyInfo;
use crate::server::access::local_store;
use crate::server::settings::Settings;
use crate::ssh::{self, Passphrase, keygen, parse_public_key};

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

/// A key made, authorized and written: what it is, and where its private half went.
pub(super) struct Made {
    pub key: keygen::NewKey,
    pub info: KeyInfo,
    files: Option<KeyFiles>,
}

impl Made {
    /// Says what was made, as ssh-keygen does, or prints it as JSON.
    pub fn report(&self, json: bool) -> Result<(), String> {
        let Some(files) = &self.files else {
            note(&format!("Authorized {}.", self.info.fingerprint));
            return Ok(());
        };
        if json {
            say(&to_json(&self.info)?);
            return Ok(());
        }
        say(&format!(
            "Your private key has been saved in {}",
            files.private.display()
        ));
        say(&format!(
            "Your public key has been saved in {}",
            files.public.display()
        ));
        say(&format!(
            "The key fingerprint is: {} {}",
            self.info.fingerprint,
            self.info.comment()
        ));
        say("It is authorized: sshd lets it in as you.");
        if !self.key.encrypted {
            note("warning: the private key has no passphrase: keep the file to yourself");
        }
        Ok(())
    }

    /// Where the private key is kept, for a message: `": it is in FILE"`, or nothing.
    pub fn kept_in(&self) -> String {
        self.files.as_ref().map_or_else(String::new, |f| {
            format!(": it is in {}", f.private.display())
        })
    }
}

/// Makes a key with `settings` (label and options), writes its private half to `file` (and the
/// public half beside it), and authorizes it, as the successor of `replacing` when given.
/// Nothing is left behind when a step fails: the files are removed if the key cannot be
/// authorized, and nothing is authorized if they cannot be written.
pub(super) async fn make_key(
    keys: &Keys,
    (label, options): (Option<ssh::Label>, ssh::KeyOptions),
    passphrase: Option<&Passphrase>,
    (file, json): (&Path, bool),
    replacing: Option<&KeyInfo>,
) -> Result<Made, String> {
    let to_stdout = file == Path::new("-");
    if to_stdout && json {
        return Err(
            "--json and -f - would both write to standard output: give -f FILE with --json".into(),
        );
    }
    if let Some(why) = to_stdout.then(stdout_refuses_a_key).flatten() {
        return Err(format!(
            "{why}: the private key would be lost; nothing was made"
        ));
    }
    if to_stdout && io::stdout().is_terminal() {
        note("warning: the private key is printed on this terminal; its scrollback keeps it");
    }
    let files = (!to_stdout).then(|| KeyFiles::new(file)).transpose()?;
    let key = keygen::generate(keys.tag(), label.as_ref(), passphrase)
        .map_err(|e| message(ssh::Error::from(e).into()))?;
    if let Some(files) = &files {
        files.write(&key)?;
    }
    let authorized = match replacing {
        Some(old) => keys.authorize_successor(&key, &options, old).await,
        None => keys.authorize_new(&key, &options).await,
    };
    if let Err(e) = authorized {
        if let Some(files) = &files {
            files.remove();
        }
        return Err(message(e));
    }
    let info = convert::key_info(&key.public, &options);
    if files.is_none()
        && let Err(e) = write_stdout(key.private_openssh.as_bytes())
    {
        // Nobody holds the private key: the door it opens is closed again.
        let undone = match keys.revoke_key(&info.fingerprint).await {
            Ok(()) => "it was revoked again".to_owned(),
            Err(revoke) => format!("revoke {} yourself: {revoke}", info.fingerprint),
        };
        return Err(format!("standard output: {e}; {undone}"));
    }
    Ok(Made { key, info, files })
}

/// A new key's two files: `FILE` (0600) and `FILE.pub`.
struct KeyFiles {
    private: PathBuf,
    public: PathBuf,
}

impl KeyFiles {
    /// The files for `file`; refused when either exists already (a key is never overwritten).
    fn new(file: &Path) -> Result<Self, String> {
        let mut public = file.as_os_str().to_owned();
        public.push(".pub");
        let files = Self {
            private: file.to_owned(),
            public: public.into(),
        };
        for path in [&files.private, &files.public] {
            if path.symlink_metadata().is_ok() {
                return Err(format!(
                    "{} exists already; keyhatch does not overwrite a key: choose another -f",
                    path.display()
                ));
            }
        }
        Ok(files)
    }

    /// Writes both halves of `key`, each to a file it creates; on failure neither is left.
    fn write(&self, key: &keygen::NewKey) -> Result<(), String> {
        let public = key
            .public
            .to_openssh()
            .map_err(|e| message(ssh::Error::from(keygen::KeygenError::Encode(e)).into()))?;
        let result = create(&self.private, 0o600, key.private_openssh.as_bytes())
            .and_then(|()| create(&self.public, 0o644, format!("{public}\n").as_bytes()));
        match result {
            Ok(()) => Ok(()),
            Err((path, e)) => {
                if path != self.private {
                    let _ = std::fs::remove_file(&self.private);
                }
                Err(format!("{}: {e}", path.display()))
            }
        }
    }

    /// Removes both files.
    fn remove(&self) {
        let _ = std::fs::remove_file(&self.private);
        let _ = std::fs::remove_file(&self.public);
    }
}

/// Creates `path` (never an existing file, never through a link) with `mode` and `contents`.
fn create(path: &Path, mode: u32, contents: &[u8]) -> Result<(), (PathBuf, io::Error)> {
    let failed = |e| (path.to_owned(), e);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(failed)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            let _ = std::fs::remove_file(path);
            failed(e)
        })
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
