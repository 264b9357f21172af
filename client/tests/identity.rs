//! Identities load the three ways integrators hold them, and they are the same key.

use pen_client::Identity;

fn certs(rel: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../certs")
            .join(rel),
    )
    .unwrap()
}

#[test]
fn pem_encrypted_pem_and_pkcs12_are_the_same_identity() {
    let pem = Identity::from_pem(&certs("orgs/org-a/identity.pem")).unwrap();
    let encrypted =
        Identity::from_encrypted_pem(&certs("orgs/org-a/identity-encrypted.pem"), "pen-local")
            .unwrap();
    let p12 = Identity::from_pkcs12(&certs("orgs/org-a/identity.p12"), "pen-local").unwrap();
    for other in [&encrypted, &p12] {
        assert_eq!(other.certificate_der(), pem.certificate_der());
        assert_eq!(other.key_der(), pem.key_der());
    }
    assert!(
        Identity::from_encrypted_pem(&certs("orgs/org-a/identity-encrypted.pem"), "errada")
            .is_err()
    );
    assert!(Identity::from_pkcs12(&certs("orgs/org-a/identity.p12"), "errada").is_err());
    assert!(
        Identity::from_pem(&certs("ca.pem")).is_err(),
        "a certificate without its key is no identity"
    );
    // It signs receipts with the mTLS key.
    pem.receipt_signer().unwrap();
    assert!(
        format!("{pem:?}").len() < 80,
        "Debug never prints key material"
    );
}
