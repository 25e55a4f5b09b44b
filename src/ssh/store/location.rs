//! Where the keys file lies below a home, as the names the store opens one at a time.

use std::path::{Path, PathBuf};

/// Where the keys file is below the home: directories (at least one), then the file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(super) dirs: Vec<String>,
    pub(super) file: String,
}

impl Location {
    /// Splits `relative` (`.ssh/authorized_keys`); `None` unless it is plain names, a directory
    /// at least and the file, with no `..`.
    pub(super) fn parse(relative: &Path) -> Option<Self> {
        let mut names = relative
            .components()
            .map(|c| match c {
                std::path::Component::Normal(name) => name.to_str().map(str::to_owned),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()?;
        let file = names.pop()?;
        (!names.is_empty()).then_some(Self { dirs: names, file })
    }

    /// The directory's path below `home`.
    pub(super) fn dir_path(&self, home: &Path) -> PathBuf {
        self.dirs
            .iter()
            .fold(home.to_owned(), |path, d| path.join(d))
    }
}
