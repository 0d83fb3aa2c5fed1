//! The administrator commands end to end through the built `rewrap` binary: keys, a grant,
//! listing with verification, revocation, inspection; key file modes and refusals.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn rewrap(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rewrap"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = rewrap(dir, args);
    assert!(
        out.status.success(),
        "rewrap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn keygen_grant_list_revoke_inspect() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for name in ["admin", "orders", "alice"] {
        let out = ok(d, &["keygen", name]);
        assert!(out.contains("key id"), "{out}");
        let mode = std::fs::metadata(d.join(format!("{name}.sec")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}.sec must be private");
    }
    // keygen never overwrites a key.
    assert!(!rewrap(d, &["keygen", "alice"]).status.success());

    let grant = ok(
        d,
        &[
            "grant",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--delegating",
            "orders.sec",
            "--topic",
            "orders",
            "--consumer",
            "User:alice",
            "--consumer-key",
            "alice.pub",
        ],
    );
    assert!(grant.contains("wrote"), "{grant}");
    let listed = ok(
        d,
        &["list", "--store", "grants", "--admin-pub", "admin.pub"],
    );
    assert!(
        listed.contains("User:alice") && listed.contains("valid"),
        "{listed}"
    );

    // Verified against another administrator key, the grant is rejected by name.
    ok(d, &["keygen", "rogue"]);
    let rogue = ok(
        d,
        &["list", "--store", "grants", "--admin-pub", "rogue.pub"],
    );
    assert!(rogue.contains("REJECTED"), "{rogue}");

    // The grant expires by default (30 days), and says when it was issued.
    let json = ok(d, &["list", "--store", "grants", "--json"]);
    let row: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(row["kind"], "grant");
    let lifetime = row["expires"].as_u64().unwrap() - row["not_before"].as_u64().unwrap();
    assert_eq!(lifetime, 30 * 24 * 3600, "{row}");
    assert!(row["issued_at_ms"].as_u64().unwrap() / 1000 >= row["not_before"].as_u64().unwrap());
    let saved: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(d.join("grants"))
        .unwrap()
        .flatten()
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();

    // Revoking a consumer is signed: without the administrator key it is refused.
    let unsigned = rewrap(
        d,
        &[
            "revoke",
            "--store",
            "grants",
            "--topic",
            "orders",
            "--consumer",
            "User:alice",
        ],
    );
    assert!(!unsigned.status.success());
    let revoked = ok(
        d,
        &[
            "revoke",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--topic",
            "orders",
            "--consumer",
            "User:alice",
        ],
    );
    assert!(
        revoked.contains("covers 1 grant(s)") && revoked.matches(".all.revoke").count() == 1,
        "{revoked}"
    );
    let listed = ok(
        d,
        &["list", "--store", "grants", "--admin-pub", "admin.pub"],
    );
    assert!(
        listed.contains("revocation") && !listed.contains("grant       orders"),
        "{listed}"
    );
    // A saved copy put back lists as revoked, not valid.
    for (path, bytes) in &saved {
        std::fs::write(path, bytes).unwrap();
    }
    let replayed = ok(
        d,
        &["list", "--store", "grants", "--admin-pub", "admin.pub"],
    );
    assert!(replayed.contains("REVOKED"), "{replayed}");

    // A secret key file others can read is refused.
    std::fs::set_permissions(d.join("admin.sec"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = rewrap(
        d,
        &[
            "grant",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--delegating",
            "orders.sec",
            "--topic",
            "orders",
            "--consumer",
            "bob",
            "--consumer-key",
            "alice.pub",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("chmod 600"));

    let inspected = ok(d, &["inspect", "--value", "7b7d", "--edek", "0102"]);
    assert!(
        inspected.contains("not a rewrap envelope") && inspected.contains("truncated EDEK"),
        "{inspected}"
    );
}

#[test]
fn threshold_grant_writes_one_share_per_reencryptor() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for name in ["admin", "orders", "alice"] {
        ok(d, &["keygen", name]);
    }
    ok(
        d,
        &[
            "grant",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--delegating",
            "orders.sec",
            "--topic",
            "orders",
            "--consumer",
            "alice",
            "--consumer-key",
            "alice.pub",
            "--threshold",
            "2",
            "--shares",
            "3",
        ],
    );
    for i in 0..3 {
        let listed = ok(
            d,
            &[
                "list",
                "--store",
                &format!("grants/share-{i}"),
                "--admin-pub",
                "admin.pub",
            ],
        );
        assert!(
            listed.contains(&format!("[{i}]"))
                && listed.contains("2/3")
                && listed.contains("valid"),
            "{listed}"
        );
    }
    // The store lists every share, and one revoke reaches every re-encryptor's directory.
    let all = ok(
        d,
        &["list", "--store", "grants", "--admin-pub", "admin.pub"],
    );
    assert_eq!(all.matches("2/3").count(), 3, "{all}");
    let revoked = ok(
        d,
        &[
            "revoke",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--topic",
            "orders",
            "--consumer",
            "alice",
        ],
    );
    assert!(
        revoked.contains("covers 3 grant(s)") && revoked.matches(".all.revoke").count() == 4,
        "{revoked}"
    );
    for i in 0..3 {
        let share = d.join(format!("grants/share-{i}"));
        let names: Vec<String> = std::fs::read_dir(&share)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert!(
            names.len() == 1 && names[0].ends_with(".all.revoke"),
            "share {i}: {names:?}"
        );
    }
}

#[test]
fn producer_signing_key_grant_list_revoke_and_channel_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["keygen", "admin"]);
    let out = ok(d, &["keygen", "--signer", "producer-a"]);
    assert!(out.contains("producer signing key"), "{out}");
    let mode = std::fs::metadata(d.join("producer-a.sec"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "producer-a.sec must be private");
    assert!(!rewrap(d, &["keygen", "--signer", "producer-a"])
        .status
        .success());

    let granted = ok(
        d,
        &[
            "grant",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--producer",
            "producer-a.pub",
            "--topic",
            "orders",
            "--expires-in",
            "3600",
        ],
    );
    assert!(granted.contains(".pgrant"), "{granted}");
    // A producer grant takes no consumer terms.
    assert!(!rewrap(
        d,
        &[
            "grant",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--producer",
            "producer-a.pub",
            "--topic",
            "orders",
            "--consumer",
            "alice",
        ],
    )
    .status
    .success());
    let id = std::fs::read_to_string(d.join("producer-a.pub")).unwrap();
    let id = rewrap::PublicKey::from_hex(&id)
        .unwrap()
        .key_id()
        .to_string();
    let listed = ok(
        d,
        &["list", "--store", "grants", "--admin-pub", "admin.pub"],
    );
    assert!(
        listed.contains("producer") && listed.contains(&id) && listed.contains("valid"),
        "{listed}"
    );
    ok(d, &["keygen", "rogue"]);
    let rogue = ok(
        d,
        &["list", "--store", "grants", "--admin-pub", "rogue.pub"],
    );
    assert!(rogue.contains("REJECTED"), "{rogue}");

    let revoked = ok(
        d,
        &[
            "revoke",
            "--store",
            "grants",
            "--topic",
            "orders",
            "--producer",
            "producer-a.pub",
        ],
    );
    assert!(
        revoked.contains("1 producer grant file(s) removed"),
        "{revoked}"
    );
    assert!(!ok(d, &["list", "--store", "grants"]).contains(&id));

    // The channel signing key a proxy with this seed uses for "orders".
    let seed = [0x42u8; 32];
    std::fs::write(d.join("seed"), format!("{}\n", hex::encode(seed))).unwrap();
    std::fs::set_permissions(
        d.join("seed"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let expected = rewrap::SecretKey::derive_channel_signing_key(&seed, "orders")
        .unwrap()
        .public_key();
    let printed = ok(
        d,
        &[
            "channel-key",
            "--seed",
            "seed",
            "--topic",
            "orders",
            "--out",
            "orders-channel.pub",
        ],
    );
    assert!(printed.contains(&expected.to_hex()), "{printed}");
    assert_eq!(
        rewrap::keyfile::read_public(&d.join("orders-channel.pub")).unwrap(),
        expected
    );
}
