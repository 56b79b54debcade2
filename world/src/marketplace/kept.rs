//! Files a player keeps beside the client (blocks and mutes, parcels'
//! arrangements): read at most so much, and written whole or not at all.

use std::io::Read;
use std::path::Path;

use tracing::warn;

/// What `file` holds, up to `max` bytes: `Ok(None)` when there is no
/// file yet; an error when it cannot be read (so that it is not written
/// over), logged as `what`.
pub(super) fn read(file: &Path, max: u64, what: &str) -> Result<Option<String>, ()> {
    let opened = match std::fs::File::open(file) {
        Ok(opened) => opened,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            warn!(file = %file.display(), %err, "{what} could not be read");
            return Err(());
        }
    };
    let mut text = String::new();
    match opened.take(max).read_to_string(&mut text) {
        Ok(_) => Ok(Some(text)),
        Err(err) => {
            warn!(file = %file.display(), %err, "{what} could not be read");
            Err(())
        }
    }
}

/// Writes `lines` to `file` whole (its folder made first), logging
/// `what` if it cannot.
pub(super) fn write(file: &Path, lines: &[String], what: &str) {
    let text = lines.join("\n") + "\n";
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return;
    };
    let written = std::fs::create_dir_all(dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| crate::stalls::write_whole(dir, &name.to_string_lossy(), text.as_bytes()));
    if let Err(err) = written {
        warn!(file = %file.display(), %err, "{what} could not be kept");
    }
}
