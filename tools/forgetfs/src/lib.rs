//! forgetfs: a FUSE filesystem, held in memory, that at a simulated power cut forgets
//! everything that was not made durable with `fsync`/`fdatasync` (a test tool).
//!
//! A crash test that only kills the process (SIGKILL) cannot tell whether a program syncs:
//! the kernel's page cache survives the process, so unsynced writes survive too. Under
//! forgetfs the process runs on a real (FUSE) filesystem with real system calls, and
//! [`Mounted::power_cut`] returns what a disk would hold had the power gone at that instant,
//! under the strictest reading of `fsync(2)` (see [`model`] for the rules). The next mount
//! starts from that [`Image`], as a machine boots from its disk.
//!
//! # Layout
//!
//! - [`model`]: the two views (live and durable) and the rules between them; no FUSE.
//! - [`image`]: a disk's durable contents, and its copy to and from a real directory.
//! - `fuse.rs`: the `fuser::Filesystem` that serves the model to the kernel.

pub mod image;
pub mod model;

mod fuse;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use image::{Image, Node};
pub use model::{Cut, Model, Stats};

/// The command that installs what forgetfs needs on Debian: the `fuse3` package brings the
/// `fusermount3` helper (non-root mounts) and the udev rule for `/dev/fuse`.
pub const INSTALL: &str = "apt-get install -y fuse3";

/// Why FUSE cannot be used on this machine, if something is plainly missing: no
/// `/dev/fuse`, or (not being root) no `fusermount3` to mount through. `None` does not
/// promise a mount will work (a container may still forbid it): [`Mounted::mount`] says.
pub fn missing() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse does not exist".into());
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let in_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    if !root && !in_path("fusermount3") {
        return Some("fusermount3 is not installed".into());
    }
    None
}

/// A mounted forgetfs. Dropping it unmounts it (after a power cut, or losing whatever was
/// not synced all the same, since nothing of it is kept).
pub struct Mounted {
    session: Option<fuser::BackgroundSession>,
    model: Arc<Mutex<Model>>,
    path: PathBuf,
}

impl Mounted {
    /// Mounts a filesystem holding `image` at `mountpoint` (an existing empty directory),
    /// owned by the calling user.
    pub fn mount(mountpoint: &Path, image: &Image) -> io::Result<Mounted> {
        let (uid, gid) = ids();
        let model = Arc::new(Mutex::new(Model::new(image, uid, gid)));
        let mut config = fuser::Config::default();
        config.mount_options = vec![
            fuser::MountOption::FSName("forgetfs".into()),
            fuser::MountOption::Subtype("forgetfs".into()),
            // Access is checked by the kernel from the modes we report, as on a disk.
            fuser::MountOption::DefaultPermissions,
        ];
        let session = fuser::spawn_mount(fuse::ForgetFs::new(model.clone()), mountpoint, &config)?;
        Ok(Mounted {
            session: Some(session),
            model,
            path: mountpoint.to_path_buf(),
        })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the filesystem was asked to do so far.
    pub fn stats(&self) -> Stats {
        self.model.lock().map(|m| m.stats()).unwrap_or_default()
    }

    /// Cuts the power: returns the durable contents at this instant; from now on every
    /// operation on the mount fails with EIO. Unmount afterwards (once no process holds a
    /// file on it) and mount the image again to "reboot".
    pub fn power_cut(&self, cut: Cut) -> Image {
        match self.model.lock() {
            Ok(mut m) => m.power_cut(cut),
            // A panic while holding the lock left the model half-updated: use its durable
            // view all the same, which every operation keeps consistent before it returns.
            Err(poisoned) => poisoned.into_inner().power_cut(cut),
        }
    }

    /// Unmounts and waits for the filesystem's thread to end. If the mount is busy it is
    /// detached lazily instead (the kernel ends it when the last file on it is closed).
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        match session.umount_and_join() {
            Ok(()) => Ok(()),
            Err(e) => {
                let lazy = std::process::Command::new("fusermount3")
                    .args(["-u", "-z", "--"])
                    .arg(&self.path)
                    .status()
                    .or_else(|_| {
                        std::process::Command::new("umount")
                            .arg("-l")
                            .arg(&self.path)
                            .status()
                    });
                match lazy {
                    Ok(st) if st.success() => Ok(()),
                    _ => Err(e),
                }
            }
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = self.unmount_inner();
    }
}

/// The calling process's user and group ids, read from /proc so as to need no libc binding.
fn ids() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Uid:"), field("Gid:"))
}
