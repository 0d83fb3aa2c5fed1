//! Key files: one key per file as lower-case hex and a newline. Secret key files are created
//! 0600 and refused on read when group or others can access them, as ssh does.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use rewrap_core::{PublicKey, SecretKey};

use crate::store::StoreError;

/// Writes `key` to a new file readable only by its owner; refuses to overwrite.
pub fn write_secret(path: &Path, key: &SecretKey) -> Result<(), StoreError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| StoreError::io(path, e))?;
    let mut text = key.to_hex();
    text.push('\n');
    file.write_all(text.as_bytes())
        .map_err(|e| StoreError::io(path, e))?;
    file.sync_all().map_err(|e| StoreError::io(path, e))
}

/// Reads a secret key file, refusing one that group or others may access.
pub fn read_secret(path: &Path) -> Result<SecretKey, StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|e| StoreError::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(StoreError::InsecurePermissions(path.to_path_buf()));
        }
    }
    let text =
        zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?);
    SecretKey::from_hex(&text).map_err(StoreError::Rewrap)
}

/// Writes a public key file (world-readable is fine).
pub fn write_public(path: &Path, key: &PublicKey) -> Result<(), StoreError> {
    fs::write(path, format!("{}\n", key.to_hex())).map_err(|e| StoreError::io(path, e))
}

/// Reads a public key file.
pub fn read_public(path: &Path) -> Result<PublicKey, StoreError> {
    let text = fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
    PublicKey::from_hex(&text).map_err(StoreError::Rewrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_file_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sec");
        let key = SecretKey::generate();
        write_secret(&path, &key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(read_secret(&path).unwrap().public_key(), key.public_key());
        assert!(matches!(
            write_secret(&path, &key),
            Err(StoreError::Io { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn readable_secret_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sec");
        write_secret(&path, &SecretKey::generate()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_secret(&path),
            Err(StoreError::InsecurePermissions(_))
        ));
    }

    #[test]
    fn public_key_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pub");
        let key = SecretKey::generate().public_key();
        write_public(&path, &key).unwrap();
        assert_eq!(read_public(&path).unwrap(), key);
    }
}
