//! Durable file operations: the write-temporary, fsync, rename, fsync-folder
//! sequence that every file of the data folder goes through.
//!
//! A rename is only durable once the folder holding the new name has been
//! fsynced (POSIX leaves it to the file system; ext4 and XFS lose it on a
//! crash otherwise), so every helper here ends with [`fsync_dir`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Flushes a folder's entries (new names, removed names) to stable storage.
pub fn fsync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Creates `path` and any missing parents, fsyncing each parent that gained
/// an entry so that the new folders survive a crash.
pub fn create_dir_all_durable(path: &Path) -> io::Result<()> {
    // A relative name's last parent is "", which is the current folder.
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_dir_all_durable(parent)?;
    }
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => fsync_dir(Path::new("."))?,
        Some(p) => fsync_dir(p)?,
        None => {}
    }
    Ok(())
}

/// Replaces `path` with `contents` atomically: readers see the old file or
/// the new one, never a mix, and after return the new one survives a crash.
///
/// `mode` is the Unix permission of the new file (0o600 for files holding
/// password hashes or keys).
pub fn write_file_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad file name"))?;
    // A dot name keeps the half-written file out of every folder listing.
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Octets free for an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let v = rustix::fs::statvfs(path)?;
    Ok(v.f_bavail.saturating_mul(v.f_frsize))
}

/// True when an I/O error means the disk (or the user's quota of it) is full,
/// which callers report as a temporary condition (SMTP 452 4.3.1).
pub fn is_storage_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28) | Some(122)) // ENOSPC, EDQUOT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        write_file_atomic(&p, b"one", 0o600).unwrap();
        write_file_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_relative_one_part_name_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let here = std::env::current_dir().unwrap();
        std::env::set_current_dir(dir.path()).unwrap();
        let r = create_dir_all_durable(Path::new("data"));
        std::env::set_current_dir(here).unwrap();
        r.unwrap();
        assert!(dir.path().join("data").is_dir());
    }

    #[test]
    fn nested_folders_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x/y/z");
        create_dir_all_durable(&p).unwrap();
        assert!(p.is_dir());
        create_dir_all_durable(&p).unwrap();
    }
}
