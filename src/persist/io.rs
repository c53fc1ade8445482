//! File I/O behind a trait, so tests can simulate crashes, torn writes and corruption.
//!
//! [`FsStorage`] is the real file system. [`FaultStorage`] keeps files in memory and remembers,
//! per file, how many bytes were synced: [`FaultStorage::crash`] throws away what was not
//! (optionally keeping a torn prefix of it), [`FaultStorage::flip_byte`] corrupts a byte, and
//! [`FaultStorage::fail_syncs`] makes `sync` fail, all without a real crash.
//!
//! A file is appended to by one owner (the journal, under the keyspace lock) and synced by
//! another (the fsync thread) through a [`FileSync`] handle ([`AppendFile::syncer`]), so an
//! fsync never waits for, nor blocks, the appends that go on meanwhile.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file opened for appending.
pub trait AppendFile: Send + Debug {
    /// Appends all of `data`.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fsync / fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// The file's length in bytes, appended data included.
    fn len(&self) -> u64;
    /// A handle that syncs this file from another thread while appends go on: a sync
    /// through it makes durable at least everything appended before the sync started.
    fn syncer(&self) -> io::Result<Arc<dyn FileSync>>;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Syncs one file from another thread than the one appending to it (see
/// [`AppendFile::syncer`]).
pub trait FileSync: Send + Sync + Debug {
    /// Makes everything appended to the file so far durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
}

/// The file operations the segment store needs.
pub trait Storage: Send + Sync + Debug {
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The entries of a directory (full paths), sorted; empty if it does not exist.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// A whole file's contents.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// A file's length in bytes.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// Opens (creating if needed) a file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Cuts a file to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Deletes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Deletes a directory and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes a directory's entries (files created or removed) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsStorage;

#[derive(Debug)]
struct FsFile {
    file: File,
    len: u64,
}

impl AppendFile for FsFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.len += data.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn syncer(&self) -> io::Result<Arc<dyn FileSync>> {
        // A duplicate descriptor of the same open file: fdatasync on it covers every write
        // made through the original.
        Ok(Arc::new(FsSync(self.file.try_clone()?)))
    }
}

/// [`FileSync`] of a real file: its own descriptor of it.
#[derive(Debug)]
struct FsSync(File);

impl FileSync for FsSync {
    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Storage for FsStorage {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        match std::fs::read_dir(path) {
            Ok(entries) => {
                for entry in entries {
                    out.push(entry?.path());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        out.sort();
        Ok(out)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Box::new(FsFile { file, len }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}

/// One in-memory file: its bytes and how many of them a sync made durable.
#[derive(Debug, Default, Clone)]
struct MemFile {
    data: Vec<u8>,
    synced: usize,
}

#[derive(Debug, Default)]
struct MemState {
    files: BTreeMap<PathBuf, MemFile>,
    dirs: BTreeSet<PathBuf>,
    fail_syncs: bool,
    syncs: u64,
}

/// In-memory storage that can simulate crashes and corruption (for tests). Clones share
/// the same files.
#[derive(Debug, Default, Clone)]
pub struct FaultStorage {
    state: Arc<Mutex<MemState>>,
}

#[derive(Debug)]
struct MemAppend {
    state: Arc<Mutex<MemState>>,
    path: PathBuf,
}

impl AppendFile for MemAppend {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        let file = state.files.get_mut(&self.path).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file removed"))?;
        file.data.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        mem_sync(&self.state, &self.path)
    }

    fn len(&self) -> u64 {
        self.state.lock().files.get(&self.path).map_or(0, |f| f.data.len() as u64)
    }

    fn syncer(&self) -> io::Result<Arc<dyn FileSync>> {
        Ok(Arc::new(MemSync { state: self.state.clone(), path: self.path.clone() }))
    }
}

/// Syncs an in-memory file: everything appended so far becomes what a crash keeps.
fn mem_sync(state: &Mutex<MemState>, path: &Path) -> io::Result<()> {
    let mut state = state.lock();
    if state.fail_syncs {
        return Err(io::Error::other("injected fsync failure"));
    }
    state.syncs += 1;
    if let Some(file) = state.files.get_mut(path) {
        file.synced = file.data.len();
    }
    Ok(())
}

/// [`FileSync`] of an in-memory file.
#[derive(Debug)]
struct MemSync {
    state: Arc<Mutex<MemState>>,
    path: PathBuf,
}

impl FileSync for MemSync {
    fn sync(&self) -> io::Result<()> {
        mem_sync(&self.state, &self.path)
    }
}

impl FaultStorage {
    /// Empty storage.
    pub fn new() -> FaultStorage {
        FaultStorage::default()
    }

    /// Simulates a power loss: every file keeps its synced bytes plus at most `torn` bytes of
    /// what was appended after the last sync (a torn write).
    pub fn crash(&self, torn: usize) {
        let mut state = self.state.lock();
        for file in state.files.values_mut() {
            let keep = file.data.len().min(file.synced + torn);
            file.data.truncate(keep);
            file.synced = keep;
        }
    }

    /// Flips every bit of the byte at `offset` of `path` (no-op past the end).
    pub fn flip_byte(&self, path: &Path, offset: usize) {
        if let Some(byte) = self.state.lock().files.get_mut(path).and_then(|f| f.data.get_mut(offset)) {
            *byte ^= 0xff;
        }
    }

    /// Appends raw bytes to a file (garbage after the last record, say).
    pub fn append_raw(&self, path: &Path, bytes: &[u8]) {
        if let Some(file) = self.state.lock().files.get_mut(path) {
            file.data.extend_from_slice(bytes);
        }
    }

    /// Makes every later `sync` fail (or succeed again).
    pub fn fail_syncs(&self, fail: bool) {
        self.state.lock().fail_syncs = fail;
    }

    /// How many syncs succeeded so far.
    pub fn syncs(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Every file and its length.
    pub fn files(&self) -> Vec<(PathBuf, usize)> {
        self.state.lock().files.iter().map(|(p, f)| (p.clone(), f.data.len())).collect()
    }
}

impl Storage for FaultStorage {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        for ancestor in path.ancestors() {
            state.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let state = self.state.lock();
        let mut out: BTreeSet<PathBuf> = BTreeSet::new();
        for p in state.files.keys().chain(state.dirs.iter()) {
            if p.parent() == Some(path) {
                out.insert(p.clone());
            }
        }
        Ok(out.into_iter().collect())
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.state.lock().dirs.contains(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.state.lock().files.get(path).map(|f| f.data.clone()).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.state.lock().files.get(path).map(|f| f.data.len() as u64).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        {
            let mut state = self.state.lock();
            if let Some(parent) = path.parent() {
                if !state.dirs.contains(parent) {
                    return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
                }
            }
            state.files.entry(path.to_path_buf()).or_default();
        }
        Ok(Box::new(MemAppend { state: self.state.clone(), path: path.to_path_buf() }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        let file = state.files.get_mut(path).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(file.data.len());
        file.data.truncate(len);
        file.synced = len;
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.state.lock().files.remove(path).map(|_| ()).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.files.retain(|p, _| !p.starts_with(path));
        state.dirs.retain(|p| !p.starts_with(path));
        Ok(())
    }

    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_crash_keeps_synced_bytes_and_at_most_the_torn_allowance() {
        let storage = FaultStorage::new();
        let dir = Path::new("/d");
        storage.create_dir_all(dir).unwrap();
        let path = dir.join("f");
        let mut file = storage.open_append(&path).unwrap();
        file.append(b"durable").unwrap();
        file.sync().unwrap();
        file.append(b"pending").unwrap();
        storage.crash(3);
        assert_eq!(storage.read(&path).unwrap(), b"durablepen");
        assert_eq!(storage.list_dir(dir).unwrap(), vec![path]);
    }
}
