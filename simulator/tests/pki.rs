//! The committed test PKI under `certs/`: dates, manifest, and what the TLS layer accepts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pen_protocol::registry::{NegativeKind, Organisation, PkiManifest};
use pen_simulator::pki::{self, Identity, Pki};
use pkcs8::der::pem::PemLabel as _;
use pkcs8::EncryptedPrivateKeyInfoRef;
use rustls::{CertificateError, ClientConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use x509_parser::prelude::{FromDer as _, X509Certificate};

fn certs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../certs")
}

fn committed() -> Pki {
    Pki::load(certs_dir()).expect("certs/manifest.json loads (regenerate: see certs/README.md)")
}

fn der_of(pki: &Pki, relative: &str) -> CertificateDer<'static> {
    pki::read_certificates(&pki.path(relative))
        .expect("certificate file reads")
        .remove(0)
}

/// `(label, certificate file)` of every certificate that must be valid for a long time.
fn valid_certificates(manifest: &PkiManifest) -> Vec<(String, String)> {
    let mut files = vec![
        ("ca".to_owned(), manifest.ca.clone()),
        ("foreign ca".to_owned(), pki::FOREIGN_CA_FILE.to_owned()),
        ("server".to_owned(), manifest.server.cert_pem.clone()),
        ("platform".to_owned(), manifest.platform.cert_pem.clone()),
    ];
    let admin = manifest
        .admin
        .as_ref()
        .expect("the committed PKI has an administrator");
    files.push(("admin".to_owned(), admin.cert_pem.clone()));
    for o in &manifest.organisations {
        files.push((o.id.clone(), o.files.cert_pem.clone()));
    }
    for n in manifest
        .negative
        .iter()
        .filter(|n| n.kind != NegativeKind::Expired)
    {
        files.push((n.id.clone(), n.files.cert_pem.clone()));
    }
    files
}

#[test]
fn valid_certificates_last_more_than_a_year_and_the_expired_one_has_expired() {
    let pki = committed();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let in_a_year = now + 366 * 24 * 3600;

    let not_after = |relative: &str| {
        let der = der_of(&pki, relative);
        let (_, cert) = X509Certificate::from_der(&der).expect("certificate parses");
        cert.validity().not_after.timestamp()
    };
    for (label, file) in valid_certificates(pki.manifest()) {
        assert!(
            not_after(&file) > in_a_year,
            "{label} ({file}) expires within 12 months: regenerate with `cargo run -p pen-simulator -- certs init --dir certs`"
        );
    }
    let expired = pki
        .manifest()
        .negative
        .iter()
        .find(|n| n.kind == NegativeKind::Expired);
    let expired = expired.expect("manifest lists the expired identity");
    assert!(
        not_after(&expired.files.cert_pem) < now,
        "the expired identity is not expired"
    );
}

#[test]
fn manifest_fingerprints_and_dates_match_the_files() {
    let pki = committed();
    let manifest = pki.manifest();
    let identities = [&manifest.server, &manifest.platform]
        .into_iter()
        .chain(manifest.admin.as_ref())
        .chain(manifest.organisations.iter().map(|o| &o.files))
        .chain(manifest.negative.iter().map(|n| &n.files));
    for files in identities {
        let der = der_of(&pki, &files.cert_pem);
        assert_eq!(
            files.sha1_fingerprint,
            pki::sha1_fingerprint(&der),
            "{}",
            files.cert_pem
        );
        assert_eq!(
            files.sha256_fingerprint,
            pki::sha256_fingerprint(&der),
            "{}",
            files.cert_pem
        );

        let identity =
            pki::read_identity_pem(&pki.path(&files.identity_pem)).expect("identity reads");
        assert_eq!(
            identity.cert_chain,
            vec![der.clone()],
            "{} starts with cert.pem",
            files.identity_pem
        );

        let (_, cert) = X509Certificate::from_der(&der).expect("certificate parses");
        let manifest_not_after = time::OffsetDateTime::parse(
            &files.not_after,
            &time::format_description::well_known::Rfc3339,
        )
        .expect("not_after is RFC 3339");
        assert_eq!(
            cert.validity().not_after.timestamp(),
            manifest_not_after.unix_timestamp(),
            "{}",
            files.cert_pem
        );
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok());
        assert_eq!(cn, Some(files.common_name.as_str()), "{}", files.cert_pem);
    }
}

#[test]
fn every_fixture_organisation_has_its_identity_and_structures() {
    let pki = committed();
    let organisations: Vec<Organisation> =
        serde_json::from_slice(pen_fixtures::organisations_json())
            .expect("fixture organisations parse");
    assert!(!organisations.is_empty());
    assert_eq!(pki.manifest().organisations.len(), organisations.len());
    for organisation in &organisations {
        let identity = pki
            .manifest()
            .organisation(&organisation.id)
            .unwrap_or_else(|| {
                panic!("{} has no identity in certs/manifest.json", organisation.id)
            });
        assert_eq!(identity.nome, organisation.nome);
        assert_eq!(identity.files.common_name, organisation.common_name);
        assert_eq!(
            identity.estruturas, organisation.estruturas,
            "{}",
            organisation.id
        );
    }
    assert!(
        organisations
            .iter()
            .all(|o| o.common_name != pki::UNREGISTERED_COMMON_NAME),
        "the unregistered identity's CN must stay unregistered"
    );
}

/// What the server saw: the verified peer certificate, or why it refused the handshake.
type ServerOutcome = Result<CertificateDer<'static>, std::io::Error>;

/// One handshake over an in-memory pipe: the simulator's server configuration on one side,
/// `client` on the other. Both sides run concurrently; each drops its end of the pipe when it
/// fails, so the other one sees end-of-stream instead of waiting, and a timeout bounds the rest.
async fn handshake(server: rustls::ServerConfig, client: ClientConfig) -> ServerOutcome {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let connector = TlsConnector::from(Arc::new(client));
    let name = ServerName::try_from("localhost").expect("valid server name");

    let server_side = async move {
        let mut tls = acceptor.accept(server_io).await?;
        let peer = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .cloned();
        // Prove the connection works both ways before reporting success.
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await?;
        tls.write_all(&byte).await?;
        tls.shutdown().await?;
        peer.ok_or_else(|| {
            std::io::Error::other("handshake succeeded without a client certificate")
        })
    };
    let client_side = async move {
        let mut tls = connector.connect(name, client_io).await?;
        tls.write_all(b"x").await?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await?;
        Ok::<_, std::io::Error>(())
    };
    let (server, _client) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(server_side, client_side)
    })
    .await
    .expect("handshake finished (no side left waiting)");
    server
}

fn rustls_error(outcome: &ServerOutcome) -> Option<&rustls::Error> {
    outcome
        .as_ref()
        .err()?
        .get_ref()?
        .downcast_ref::<rustls::Error>()
}

fn client_with(pki: &Pki, identity: Option<Identity>) -> ClientConfig {
    pki.client_config(identity).expect("client config builds")
}

fn server_of(pki: &Pki) -> rustls::ServerConfig {
    pki.server_config()
        .expect("server config builds from the committed PKI")
}

fn single_key(identity: &Identity) -> &[u8] {
    identity.key.secret_der()
}

#[tokio::test]
async fn registered_identity_pem_is_accepted_and_seen_by_the_server() {
    let pki = committed();
    let org_a = pki
        .manifest()
        .organisation("org-a")
        .expect("org-a in manifest")
        .clone();
    let identity =
        pki::read_identity_pem(&pki.path(&org_a.files.identity_pem)).expect("identity reads");

    let peer = handshake(server_of(&pki), client_with(&pki, Some(identity)))
        .await
        .expect("handshake accepted");
    assert_eq!(pki::sha1_fingerprint(&peer), org_a.files.sha1_fingerprint);
}

#[tokio::test]
async fn p12_and_encrypted_pem_hold_the_same_identity_and_are_accepted() {
    let pki = committed();
    let org_a = pki
        .manifest()
        .organisation("org-a")
        .expect("org-a in manifest")
        .clone();
    let password = pki.manifest().password.clone();
    let pem_identity = pki.organisation_identity("org-a").expect("identity reads");
    let ca = pki.ca_certificate().expect("ca reads");

    // PKCS#12, decoded with p12-keystore.
    let p12 = std::fs::read(pki.path(&org_a.identity_p12)).expect("p12 reads");
    let store = p12_keystore::KeyStore::from_pkcs12(
        &p12,
        &password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .expect("p12 opens with the manifest's password");
    let (_, chain) = store.private_key_chain().expect("p12 holds a key chain");
    let p12_certs: Vec<_> = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    assert_eq!(
        p12_certs,
        vec![pem_identity.cert_chain[0].clone(), ca.clone()],
        "p12 holds [leaf, ca]"
    );
    assert_eq!(
        chain.key().as_der(),
        single_key(&pem_identity),
        "p12 key equals identity.pem's"
    );
    let p12_identity = Identity {
        cert_chain: p12_certs,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())),
    };

    // Encrypted PEM, decrypted with pkcs8.
    let text = std::fs::read_to_string(pki.path(&org_a.identity_encrypted_pem))
        .expect("encrypted pem reads");
    let begin = format!("-----BEGIN {}-----", EncryptedPrivateKeyInfoRef::PEM_LABEL);
    let block = &text[text
        .find(&begin)
        .expect("encrypted pem holds an ENCRYPTED PRIVATE KEY")..];
    let (label, document) =
        pkcs8::der::Document::from_pem(block).expect("encrypted key block decodes");
    assert_eq!(label, "ENCRYPTED PRIVATE KEY");
    let encrypted =
        EncryptedPrivateKeyInfoRef::try_from(document.as_bytes()).expect("EncryptedPrivateKeyInfo");
    assert!(encrypted.decrypt("wrong password").is_err());
    let key = encrypted
        .decrypt(&password)
        .expect("decrypts with the manifest's password");
    assert_eq!(
        key.as_bytes(),
        single_key(&pem_identity),
        "encrypted key equals identity.pem's"
    );
    let encrypted_certs =
        pki::read_certificates(&pki.path(&org_a.identity_encrypted_pem)).expect("certs read");
    let encrypted_identity = Identity {
        cert_chain: encrypted_certs,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.as_bytes().to_vec())),
    };

    for (format, identity) in [("p12", p12_identity), ("encrypted pem", encrypted_identity)] {
        let peer = handshake(server_of(&pki), client_with(&pki, Some(identity)))
            .await
            .unwrap_or_else(|e| panic!("{format}: handshake refused: {e}"));
        assert_eq!(
            pki::sha1_fingerprint(&peer),
            org_a.files.sha1_fingerprint,
            "{format}"
        );
    }
}

#[tokio::test]
async fn unregistered_identity_passes_tls_rejection_is_the_applications_job() {
    let pki = committed();
    let identity = pki
        .negative_identity(NegativeKind::Unregistered)
        .expect("identity reads");
    let expected = identity.cert_chain[0].clone();
    let peer = handshake(server_of(&pki), client_with(&pki, Some(identity)))
        .await
        .expect("handshake accepted");
    assert_eq!(peer, expected);
}

#[tokio::test]
async fn expired_identity_is_refused_during_the_handshake() {
    let pki = committed();
    let identity = pki
        .negative_identity(NegativeKind::Expired)
        .expect("identity reads");
    let outcome = handshake(server_of(&pki), client_with(&pki, Some(identity))).await;
    assert!(
        matches!(
            rustls_error(&outcome),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ))
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn foreign_ca_identity_is_refused_during_the_handshake() {
    let pki = committed();
    let identity = pki
        .negative_identity(NegativeKind::ForeignCa)
        .expect("identity reads");
    let outcome = handshake(server_of(&pki), client_with(&pki, Some(identity))).await;
    assert!(
        matches!(
            rustls_error(&outcome),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn client_without_certificate_is_refused_during_the_handshake() {
    let pki = committed();
    let outcome = handshake(server_of(&pki), client_with(&pki, None)).await;
    assert!(
        matches!(
            rustls_error(&outcome),
            Some(rustls::Error::NoCertificatesPresented)
        ),
        "{outcome:?}"
    );
}
