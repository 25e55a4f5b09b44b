//! The key store of local mode: keyhatch runs as the account, so it works on the file itself,
//! passing values as they are. A read of a small file in a home on a local disk takes
//! microseconds and is done on the request's own thread; anything else (a large file, a write
//! and its fsync, any work on a network filesystem, which can hang with its server) runs on a
//! blocking thread, where it holds that thread only: the server has as many request threads as
//! cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::limits::Permit;
use crate::api::op::Operation;
use crate::error::AppError;
use crate::ssh::AuthorizedKeys;

use super::store::{Answer, Runs};

/// Operations run in this process, on the account's own file.
#[derive(Debug, Clone)]
pub struct InProcess {
    store: AuthorizedKeys,
    uid: u32,
    /// Whether the home is on a filesystem that answers from this machine's own disk or memory.
    local_disk: bool,
    /// Held by the one read running on a request thread: the file may grow between the look
    /// at its size and the read, and then that read holds one request thread, never all.
    reading_here: Arc<AtomicBool>,
}

impl InProcess {
    /// The store of `store`, the file of the account `uid` (this process's).
    pub fn new(store: AuthorizedKeys, uid: u32) -> Self {
        let local_disk = on_local_disk(store.home());
        Self {
            store,
            uid,
            local_disk,
            reading_here: Arc::default(),
        }
    }
}

impl<O: Operation> Runs<O> for InProcess {
    fn run(&self, op: O, permit: Permit) -> Answer<'_, O::Reply> {
        let (store, uid) = (self.store.clone(), self.uid);
        let here = (O::READS_ONLY && self.local_disk && small_enough(store.path()))
            .then(|| ReadingHere::take(&self.reading_here))
            .flatten();
        Box::pin(async move {
            let work = move || {
                let _permit = permit;
                op.run(&store, uid)
            };
            if let Some(_reading) = here {
                return work();
            }
            tokio::task::spawn_blocking(work)
                .await
                .unwrap_or_else(|e| Err(AppError::Storage(format!("the work failed: {e}"))))
        })
    }
}

/// The one read on a request thread, while it runs.
struct ReadingHere(Arc<AtomicBool>);

impl ReadingHere {
    /// The turn to read on a request thread, unless another read has it.
    fn take(flag: &Arc<AtomicBool>) -> Option<Self> {
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Self(flag.clone()))
    }
}

impl Drop for ReadingHere {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The largest file read on the request's own thread: about 1,300 keys, under a millisecond.
const HERE_AT_MOST: u64 = 128 * 1024;

/// Whether the file at `path` is a regular file of at most [`HERE_AT_MOST`] bytes, or absent.
/// It may change before it is read; at worst, one read of up to the store's size limit then
/// holds a request thread of its owner's own server.
fn small_enough(path: &std::path::Path) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) => meta.is_file() && meta.len() <= HERE_AT_MOST,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Filesystems whose reads never wait on another machine (`statfs(2)`'s magic numbers): ext2,
/// 3 and 4, XFS, Btrfs, tmpfs, ZFS, F2FS, bcachefs, overlayfs. Any other (NFS, Lustre, GPFS,
/// CIFS, CephFS, FUSE, autofs, …) or an unknown one counts as remote.
const LOCAL_DISKS: [i64; 8] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0x2FC1_2FC1,
    0xF2F5_2010,
    0xCA45_1A4E,
    0x794C_7630,
];

/// Whether `home` is on one of [`LOCAL_DISKS`]; `false` when it cannot be told (it does not
/// exist yet, say).
fn on_local_disk(home: &std::path::Path) -> bool {
    rustix::fs::statfs(home).is_ok_and(|fs| {
        #[allow(clippy::useless_conversion)] // `f_type` is narrower on some targets
        let kind = i64::from(fs.f_type);
        LOCAL_DISKS.contains(&kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_on_local_disk_is_told_from_one_that_is_not() {
        let home = tempfile::tempdir().unwrap();
        // The test machine's temporary directory is on a local disk or in memory.
        assert!(on_local_disk(home.path()));
        assert!(!on_local_disk(&home.path().join("missing")));
        // procfs is neither: it stands for any filesystem not on the list.
        assert!(!on_local_disk(std::path::Path::new("/proc")));
    }

    #[test]
    fn only_a_small_regular_file_or_none_is_read_on_the_request_thread() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authorized_keys");
        assert!(small_enough(&file));
        std::fs::write(&file, vec![b'#'; HERE_AT_MOST as usize]).unwrap();
        assert!(small_enough(&file));
        std::fs::write(&file, vec![b'#'; HERE_AT_MOST as usize + 1]).unwrap();
        assert!(!small_enough(&file));
        assert!(!small_enough(dir.path()));
    }
}
