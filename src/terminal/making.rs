//! A key made at the terminal: generated, written to its two files (or standard output), and
//! authorized, with nothing left behind when a step fails; and what is said of it.

use std::fs::OpenOptions;
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::output::{
    message, note, say, stdout_is_shared, stdout_refuses_a_key, to_json, write_stdout,
};
use crate::api::convert;
use crate::api::person::Keys;
use crate::model::KeyInfo;
use crate::ssh::{self, Passphrase, keygen};

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
    if let Some(why) = to_stdout.then(stdout_is_shared).flatten() {
        return Err(format!("{why}; nothing was made"));
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
