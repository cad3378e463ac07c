//! Development delivery: each mail written as an `.eml` file.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{Outgoing, SendError, Transport};

/// Writes each mail to `<dir>/<id>.eml` (RFC 5322, openable in any mail client). Used when
/// neither SMTP nor a webhook is configured.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    /// Writes into `dir`, created on first use.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl Transport for FileTransport {
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let bytes = mail.to_message()?.formatted();
        let io = |_| SendError::transient("eml_write_failed");
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        // Written under a temporary name and renamed, so a reader never sees half a file.
        let path = self.dir.join(format!("{}.eml", mail.id.0));
        let partial = self.dir.join(format!(".{}.eml.partial", mail.id.0));
        tokio::fs::write(&partial, bytes).await.map_err(io)?;
        tokio::fs::rename(&partial, &path).await.map_err(io)
    }

    fn describe(&self) -> String {
        format!(".eml files in {}", self.dir.display())
    }
}
