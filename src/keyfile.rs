//! Key files: one key per file as lower-case hex and a newline. Secret key files are created
//! 0600 and refused on read when group or others can access them, as ssh does.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use rewrap_core::{Error, PublicKey, SecretKey};
use zeroize::Zeroizing;

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
    let text = read_private(path)?;
    SecretKey::from_hex(&text).map_err(StoreError::Rewrap)
}

/// Reads a 32-byte seed file (64 hex characters and a newline, like a secret key file: a
/// channel key master seed, a proxy's channel signing seed), refusing one that group or
/// others may access. A wrong length or non-hex text is `InvalidArgument`.
pub fn read_seed(path: &Path) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let text = read_private(path)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), seed.as_mut_slice()).map_err(|_| {
        StoreError::Rewrap(Error::InvalidArgument(
            "a seed file holds 64 hex characters (32 bytes)",
        ))
    })?;
    Ok(seed)
}

/// A file's text, refused when group or others may access it.
fn read_private(path: &Path) -> Result<Zeroizing<String>, StoreError> {
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
    Ok(Zeroizing::new(
        fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?,
    ))
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
    use rewrap_core::ErrorKind;

    #[test]
    fn seed_files_are_read_like_secret_key_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str, mode: u32| {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let seed = read_seed(&write("good", &format!("{hex}\n"), 0o600)).unwrap();
        assert_eq!(seed[..4], [0x00, 0x11, 0x22, 0x33]);
        assert_eq!(seed[28..], [0xcc, 0xdd, 0xee, 0xff]);
        let kind = |path: std::path::PathBuf| read_seed(&path).unwrap_err().kind();
        assert_eq!(kind(write("open", hex, 0o644)), ErrorKind::InsecureKeyFile);
        assert_eq!(
            kind(write("short", &hex[..62], 0o600)),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind(write("odd", &hex.replace('a', "g"), 0o600)),
            ErrorKind::InvalidArgument
        );
        assert_eq!(kind(dir.path().join("missing")), ErrorKind::Io);
    }

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
