//! Generating the test PKI (`pen-simulator certs init`, the harness's setup): RSA keys and
//! certificates with rcgen, the PEM, encrypted-PEM and PKCS#12 files, and the manifest that
//! records them. Nothing at run time calls this; [`super::load`] reads what it wrote.

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use aws_lc_rs::digest;
use pen_protocol::registry::{
    IdentityFiles, NegativeIdentity, NegativeKind, Organisation, OrganisationIdentity, PkiManifest,
};
use pkcs8::der::pem::{LineEnding, PemLabel};
use pkcs8::pkcs5::pbes2;
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::load::{sha1_fingerprint, sha256_fingerprint, MANIFEST_FILE};
use super::PkiError;

/// Schema version written to `manifest.json`.
pub const MANIFEST_VERSION: u32 = 1;
/// The CA certificate, relative to the PKI folder.
pub const CA_FILE: &str = "ca.pem";
/// The CA private key (PKCS#8 PEM), relative to the PKI folder.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The foreign CA's certificate, kept so that tests can trust it on purpose.
pub const FOREIGN_CA_FILE: &str = "negative/foreign-ca/ca.pem";
/// Password of the committed `identity.p12` and `identity-encrypted.pem` files.
pub const DEFAULT_PASSWORD: &str = "pen-local";
/// Default validity of every certificate, from generation time.
pub const DEFAULT_VALIDITY_DAYS: u32 = 3650;

/// Subject CN of the simulator CA.
pub const CA_COMMON_NAME: &str = "Tramita.gov.br Simulador - AC de Teste";
/// Subject CN of the platform's signing identity (recibo de envio).
pub const PLATFORM_COMMON_NAME: &str = "Tramita.gov.br Simulador - Recibos";
/// Subject CN of the TLS server certificate (clients check the SANs, not this).
pub const SERVER_COMMON_NAME: &str = "localhost";
/// CN of the control plane's administrator identity (never registered as an SPE).
pub const ADMIN_COMMON_NAME: &str = "Tramita.gov.br Simulador - Administrador";
/// Subject CN of the valid identity that no SPE is registered with.
pub const UNREGISTERED_COMMON_NAME: &str = "SEI NAOCADASTRADO:11222333000181";

const SIMULATOR_ORGANISATION: &str = "Tramita.gov.br Simulador (TESTE)";
const FOREIGN_CA_COMMON_NAME: &str = "AC Desconhecida - Teste";
const FOREIGN_ORGANISATION: &str = "Autoridade Estranha (TESTE)";
const UNREGISTERED_ORGANISATION: &str = "Órgão Não Cadastrado";
/// Used by the expired and foreign-ca identities when there is no organisation to imitate.
const FALLBACK_COMMON_NAME: &str = "SEI SEMCADASTRO:00000000000191";

/// PBKDF2 rounds for `identity-encrypted.pem`, the same as p12-keystore's default for the
/// `.p12`. The password is public (this is a test PKI), so rounds buy nothing here, while
/// integrators that decrypt the key on every connection (PHP/curl with `SenhaCertificado`) pay
/// for each one; OWASP's 600 000 would cost them ~0.2 s per handshake.
const PKCS8_PBKDF2_ITERATIONS: u32 = 10_000;
/// Random bytes in a serial number (RFC 5280 allows up to 20 octets; CA/B asks for ≥ 64 bits).
const SERIAL_LEN: usize = 16;

/// Knobs of [`generate`].
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Reference time: certificates start one day before it and last `validity_days` after it.
    pub now: OffsetDateTime,
    /// Validity of every valid certificate, counted from `now`.
    pub validity_days: u32,
    /// Password of every `identity.p12` and `identity-encrypted.pem`.
    pub password: String,
    /// Host names the server certificate names besides `localhost` (a SEI in a container that
    /// reaches the simulator as `pen-simulator` verifies that name); `*.example` allowed.
    pub server_names: Vec<String>,
    /// Addresses the server certificate names besides `127.0.0.1` and `::1`.
    pub server_ips: Vec<IpAddr>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            now: OffsetDateTime::now_utc(),
            validity_days: DEFAULT_VALIDITY_DAYS,
            password: DEFAULT_PASSWORD.to_owned(),
            server_names: Vec::new(),
            server_ips: Vec::new(),
        }
    }
}

/// Whether `name` can be a DNS name in a certificate: dot-separated labels of ASCII letters,
/// digits and inner hyphens (1–63 characters each, 253 in all), the first possibly `*`.
#[must_use]
pub fn is_valid_server_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    name.split('.').enumerate().all(|(i, label)| {
        (i == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    }) && name != "*"
}

/// The server certificate's subject alternative names: loopback always, then what was asked
/// for, each once.
fn server_sans(options: &GenerateOptions) -> Result<Vec<SanType>, PkiError> {
    let mut names = vec!["localhost".to_owned()];
    for name in &options.server_names {
        if !is_valid_server_name(name) {
            return Err(PkiError::InvalidServerName(name.clone()));
        }
        let name = name.to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    for ip in &options.server_ips {
        if !ips.contains(ip) {
            ips.push(*ip);
        }
    }
    let mut sans = Vec::with_capacity(names.len() + ips.len());
    for name in names {
        let dns = name
            .as_str()
            .try_into()
            .map_err(|_| PkiError::InvalidServerName(name.clone()))?;
        sans.push(SanType::DnsName(dns));
    }
    sans.extend(ips.into_iter().map(SanType::IpAddress));
    Ok(sans)
}

/// The fixture organisations (`pen_fixtures::organisations_json()`), parsed.
///
/// # Errors
/// [`PkiError::Fixtures`] when the embedded JSON does not match [`Organisation`].
pub fn fixture_organisations() -> Result<Vec<Organisation>, PkiError> {
    serde_json::from_slice(pen_fixtures::organisations_json()).map_err(PkiError::Fixtures)
}

/// Generates the whole test PKI under `dir` (created if missing; existing files are replaced)
/// and returns the manifest it wrote to `dir/manifest.json`.
///
/// # Errors
/// Invalid organisations (an id that cannot name a folder, a duplicate id or common name), a
/// validity that does not fit in a certificate, and any failure to create keys or write files.
pub fn generate(
    dir: &Path,
    organisations: &[Organisation],
    options: &GenerateOptions,
) -> Result<PkiManifest, PkiError> {
    check_organisations(organisations)?;
    let sans = server_sans(options)?;
    let window = Window::new(options)?;
    let password = options.password.as_str();

    // RSA-2048 for the CA (and for every other key): ICP-Brasil chains, where SPE certificates
    // come from, are RSA end to end, so the integrator's TLS stack and keystore (older Java/PHP
    // builds included) meet the same algorithms here as in production. It also keeps
    // client-chain checks cheap on the server (an RSA signature verifies faster than an ECDSA
    // one). The cost, ~100 ms of key generation per key, is paid once per `certs init`.
    let ca = Authority::new(CA_COMMON_NAME, SIMULATOR_ORGANISATION, &window)?;
    write_file(
        &dir.join(CA_FILE),
        pem("CERTIFICATE", &ca.cert, "the CA certificate")?.as_bytes(),
    )?;
    write_file(
        &dir.join(CA_KEY_FILE),
        pem("PRIVATE KEY", &ca.key_pkcs8, "the CA key")?.as_bytes(),
    )?;

    let server = Subject {
        sans,
        ..Subject::new(SERVER_COMMON_NAME, SIMULATOR_ORGANISATION, Profile::Server)
    };
    let server = write_identity(dir, "server", &ca.issue(&server, window.valid())?)?;
    let platform = Subject::new(
        PLATFORM_COMMON_NAME,
        SIMULATOR_ORGANISATION,
        Profile::Signing,
    );
    let platform = write_identity(dir, "platform", &ca.issue(&platform, window.valid())?)?;
    let admin = Subject::new(ADMIN_COMMON_NAME, SIMULATOR_ORGANISATION, Profile::Client);
    let admin = write_identity(dir, "admin", &ca.issue(&admin, window.valid())?)?;

    let mut identities = Vec::with_capacity(organisations.len());
    for organisation in organisations {
        let subject = Subject::new(
            &organisation.common_name,
            &organisation.nome,
            Profile::Client,
        );
        let issued = ca.issue(&subject, window.valid())?;
        let folder = format!("orgs/{}", organisation.id);
        let files = write_identity(dir, &folder, &issued)?;

        let identity_p12 = format!("{folder}/identity.p12");
        let p12 = pkcs12(&issued, &ca.cert, &organisation.id, password)?;
        write_file(&dir.join(&identity_p12), &p12)?;

        let identity_encrypted_pem = format!("{folder}/identity-encrypted.pem");
        let encrypted = format!(
            "{}{}",
            pem("CERTIFICATE", &issued.cert, &organisation.common_name)?,
            encrypted_key_pem(&issued, password)?
        );
        write_file(&dir.join(&identity_encrypted_pem), encrypted.as_bytes())?;

        identities.push(OrganisationIdentity {
            id: organisation.id.clone(),
            nome: organisation.nome.clone(),
            files,
            identity_p12,
            identity_encrypted_pem,
            estruturas: organisation.estruturas.clone(),
        });
    }

    let negative = generate_negatives(dir, organisations.first(), &ca, &window)?;

    let manifest = PkiManifest {
        version: MANIFEST_VERSION,
        password: password.to_owned(),
        ca: CA_FILE.to_owned(),
        server,
        platform,
        admin: Some(admin),
        organisations: identities,
        negative,
    };
    let mut json = serde_json::to_string_pretty(&manifest).map_err(PkiError::ManifestEncode)?;
    json.push('\n');
    write_file(&dir.join(MANIFEST_FILE), json.as_bytes())?;
    Ok(manifest)
}

/// The identities the simulator must refuse: `expired` and `foreign-ca` at the TLS layer,
/// `unregistered` with the platform's authorisation error.
///
/// `expired` and `foreign-ca` carry the subject of the first organisation: a lapsed copy and an
/// impostor of a registered identity, so that a server wrongly trusting names over chains (or
/// dates) is caught.
fn generate_negatives(
    dir: &Path,
    imitated: Option<&Organisation>,
    ca: &Authority,
    window: &Window,
) -> Result<Vec<NegativeIdentity>, PkiError> {
    let (cn, org) = imitated.map_or((FALLBACK_COMMON_NAME, UNREGISTERED_ORGANISATION), |o| {
        (o.common_name.as_str(), o.nome.as_str())
    });
    let imitation = Subject::new(cn, org, Profile::Client);

    let expired = ca.issue(&imitation, window.expired())?;

    // A CA nobody trusts, made on the fly; only its certificate is written, for tests that
    // want to trust it on purpose.
    let foreign_authority = Authority::new(FOREIGN_CA_COMMON_NAME, FOREIGN_ORGANISATION, window)?;
    let foreign = foreign_authority.issue(&imitation, window.valid())?;
    let foreign_ca_pem = pem("CERTIFICATE", &foreign_authority.cert, "the foreign CA")?;
    write_file(&dir.join(FOREIGN_CA_FILE), foreign_ca_pem.as_bytes())?;

    let unregistered = Subject::new(
        UNREGISTERED_COMMON_NAME,
        UNREGISTERED_ORGANISATION,
        Profile::Client,
    );
    let unregistered = ca.issue(&unregistered, window.valid())?;

    [
        (NegativeKind::Expired, expired),
        (NegativeKind::ForeignCa, foreign),
        (NegativeKind::Unregistered, unregistered),
    ]
    .into_iter()
    .map(|(kind, issued)| {
        let id = negative_id(kind);
        Ok(NegativeIdentity {
            id: id.to_owned(),
            kind,
            files: write_identity(dir, &format!("negative/{id}"), &issued)?,
        })
    })
    .collect()
}

/// The folder name (and manifest id) of a negative identity.
#[must_use]
pub fn negative_id(kind: NegativeKind) -> &'static str {
    match kind {
        NegativeKind::Expired => "expired",
        NegativeKind::ForeignCa => "foreign-ca",
        NegativeKind::Unregistered => "unregistered",
    }
}

fn check_organisations(organisations: &[Organisation]) -> Result<(), PkiError> {
    let mut ids = HashSet::new();
    let mut common_names = HashSet::from([UNREGISTERED_COMMON_NAME]);
    for organisation in organisations {
        let id = organisation.id.as_str();
        let folder_safe = !id.is_empty()
            && !id.starts_with(['-', '_'])
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !folder_safe {
            return Err(PkiError::InvalidOrganisationId(id.to_owned()));
        }
        if !ids.insert(id) {
            return Err(PkiError::DuplicateOrganisation(id.to_owned()));
        }
        let common_name = organisation.common_name.as_str();
        if common_name.trim().is_empty() {
            return Err(PkiError::EmptyCommonName { id: id.to_owned() });
        }
        if !common_names.insert(common_name) {
            return Err(PkiError::DuplicateCommonName {
                id: id.to_owned(),
                common_name: common_name.to_owned(),
                reserved: common_name == UNREGISTERED_COMMON_NAME,
            });
        }
    }
    Ok(())
}

/// Validity periods derived from [`GenerateOptions`], truncated to whole seconds (what X.509
/// stores) so that the manifest's `not_after` equals the certificate's.
#[derive(Debug, Clone, Copy)]
struct Window {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    expired_not_before: OffsetDateTime,
    expired_not_after: OffsetDateTime,
}

impl Window {
    fn new(options: &GenerateOptions) -> Result<Self, PkiError> {
        if options.validity_days == 0 {
            return Err(PkiError::ZeroValidity);
        }
        let out_of_range = || PkiError::DateOutOfRange {
            now: options.now,
            days: options.validity_days,
        };
        let now = options
            .now
            .replace_nanosecond(0)
            .map_err(|_| out_of_range())?;
        let day = Duration::days(1);
        let shift = |d: Duration| now.checked_add(d).ok_or_else(out_of_range);
        Ok(Self {
            not_before: shift(-day)?,
            not_after: shift(Duration::days(i64::from(options.validity_days)))?,
            // The one exception to "not_before = now - 1 day": the expired identity ended a day
            // ago (well outside any clock skew) after a month of validity.
            expired_not_before: shift(-day * 31)?,
            expired_not_after: shift(-day)?,
        })
    }

    fn valid(&self) -> (OffsetDateTime, OffsetDateTime) {
        (self.not_before, self.not_after)
    }

    fn expired(&self) -> (OffsetDateTime, OffsetDateTime) {
        (self.expired_not_before, self.expired_not_after)
    }
}

/// What a certificate is for; decides its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// TLS server: the subject's SANs, EKU serverAuth.
    Server,
    /// TLS client (an SPE): EKU clientAuth.
    Client,
    /// Document signing (the platform's recibos): no EKU, non-repudiation.
    Signing,
}

#[derive(Debug)]
struct Subject<'a> {
    common_name: &'a str,
    organisation: &'a str,
    profile: Profile,
    /// Subject alternative names (the server's; empty for the others).
    sans: Vec<SanType>,
}

impl<'a> Subject<'a> {
    fn new(common_name: &'a str, organisation: &'a str, profile: Profile) -> Self {
        Self {
            common_name,
            organisation,
            profile,
            sans: Vec::new(),
        }
    }
}

/// A certificate and its key, as generated.
#[derive(Debug)]
struct Issued {
    common_name: String,
    cert: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
    not_after: OffsetDateTime,
}

/// A CA able to issue leaves.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
}

impl Authority {
    fn new(common_name: &str, organisation: &str, window: &Window) -> Result<Self, PkiError> {
        let what = || format!("the CA {common_name:?}");
        let key = rsa_key(&what())?;
        let (not_before, not_after) = window.valid();
        let mut params = base_params(common_name, organisation, not_before, not_after)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|source| PkiError::Certificate {
                what: what(),
                source,
            })?;
        Ok(Self {
            cert: cert.der().clone(),
            key_pkcs8: key.serialize_der(),
            issuer: Issuer::new(params, key),
        })
    }

    fn issue(
        &self,
        subject: &Subject<'_>,
        (not_before, not_after): (OffsetDateTime, OffsetDateTime),
    ) -> Result<Issued, PkiError> {
        let what = || format!("the certificate of {:?}", subject.common_name);
        let key = rsa_key(&what())?;
        let mut params = base_params(
            subject.common_name,
            subject.organisation,
            not_before,
            not_after,
        )?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        match subject.profile {
            Profile::Server => {
                params.subject_alt_names.clone_from(&subject.sans);
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }
            Profile::Client => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            Profile::Signing => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::ContentCommitment,
                ];
            }
        }
        let cert =
            params
                .signed_by(&key, &self.issuer)
                .map_err(|source| PkiError::Certificate {
                    what: what(),
                    source,
                })?;
        Ok(Issued {
            common_name: subject.common_name.to_owned(),
            cert: cert.der().clone(),
            key_pkcs8: key.serialize_der(),
            not_after,
        })
    }
}

fn rsa_key(what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|source| PkiError::Certificate {
        what: format!("{what} (RSA key generation)"),
        source,
    })
}

fn base_params(
    common_name: &str,
    organisation: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let invalid = |source| PkiError::Certificate {
        what: format!("{common_name:?}"),
        source,
    };
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CountryName,
        DnValue::PrintableString("BR".try_into().map_err(invalid)?),
    );
    name.push(DnType::OrganizationName, organisation);
    name.push(DnType::CommonName, common_name);

    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.serial_number = Some(random_serial()?);
    params.not_before = not_before;
    params.not_after = not_after;
    Ok(params)
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; SERIAL_LEN];
    aws_lc_rs::rand::fill(&mut bytes).map_err(PkiError::Random)?;
    // Positive, and a fixed length (no leading zero octet to strip).
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn pem(label: &'static str, der: &[u8], what: &str) -> Result<String, PkiError> {
    pkcs8::der::pem::encode_string(label, LineEnding::LF, der).map_err(|source| {
        PkiError::PemEncode {
            what: what.to_owned(),
            source: source.into(),
        }
    })
}

/// Writes `identity.pem` (certificate + unencrypted PKCS#8 key) and `cert.pem` into `folder`.
fn write_identity(dir: &Path, folder: &str, issued: &Issued) -> Result<IdentityFiles, PkiError> {
    let cert_pem = pem("CERTIFICATE", &issued.cert, &issued.common_name)?;
    let key_pem = pem("PRIVATE KEY", &issued.key_pkcs8, &issued.common_name)?;
    let identity_pem = format!("{folder}/identity.pem");
    let cert_file = format!("{folder}/cert.pem");
    write_file(
        &dir.join(&identity_pem),
        format!("{cert_pem}{key_pem}").as_bytes(),
    )?;
    write_file(&dir.join(&cert_file), cert_pem.as_bytes())?;
    Ok(IdentityFiles {
        common_name: issued.common_name.clone(),
        identity_pem,
        cert_pem: cert_file,
        sha1_fingerprint: sha1_fingerprint(&issued.cert),
        sha256_fingerprint: sha256_fingerprint(&issued.cert),
        not_after: issued
            .not_after
            .format(&Rfc3339)
            .map_err(|e| PkiError::DateFormat(issued.not_after, e))?,
    })
}

/// PKCS#12 with the key, the certificate and the CA (PBES2/AES-256-CBC, HMAC-SHA256 MAC:
/// p12-keystore's defaults, readable by OpenSSL 3 and Java's keytool).
fn pkcs12(
    issued: &Issued,
    ca: &CertificateDer<'_>,
    alias: &str,
    password: &str,
) -> Result<Vec<u8>, PkiError> {
    let failed = |source| PkiError::Pkcs12 {
        what: alias.to_owned(),
        source,
    };
    let key = p12_keystore::PrivateKey::from_der(&issued.key_pkcs8).map_err(failed)?;
    let leaf = p12_keystore::Certificate::from_der(&issued.cert).map_err(failed)?;
    let ca = p12_keystore::Certificate::from_der(ca).map_err(failed)?;
    // OpenSSL sets localKeyID to the SHA-1 of the certificate; do the same.
    let local_key_id = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &issued.cert)
        .as_ref()
        .to_vec();
    let chain = p12_keystore::PrivateKeyChain::new(local_key_id, key, [leaf, ca]);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(alias, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(password).write().map_err(failed)
}

/// `ENCRYPTED PRIVATE KEY` PEM: PKCS#8 PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, as
/// `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
fn encrypted_key_pem(issued: &Issued, password: &str) -> Result<String, PkiError> {
    let what = || issued.common_name.clone();
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(PkiError::Random)?;
    aws_lc_rs::rand::fill(&mut iv).map_err(PkiError::Random)?;
    let params =
        pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(PKCS8_PBKDF2_ITERATIONS, &salt, iv)
            .map_err(|source| PkiError::Pbes2 {
                what: what(),
                source,
            })?;
    let encrypt_failed = |source| PkiError::KeyEncryption {
        what: what(),
        source,
    };
    let info = PrivateKeyInfoRef::try_from(issued.key_pkcs8.as_slice()).map_err(encrypt_failed)?;
    let document = info
        .encrypt_with_params(params, password)
        .map_err(encrypt_failed)?;
    let text = document
        .to_pem(EncryptedPrivateKeyInfoRef::PEM_LABEL, LineEnding::LF)
        .map_err(|source| PkiError::PemEncode {
            what: what(),
            source,
        })?;
    Ok(text.as_str().to_owned())
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| PkiError::Io {
            action: "create folder",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    fs::write(path, contents).map_err(|source| PkiError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Pki;

    fn options() -> GenerateOptions {
        GenerateOptions {
            validity_days: 30,
            password: "segredo".to_owned(),
            ..GenerateOptions::default()
        }
    }

    #[test]
    fn generated_pki_loads_back() {
        // One organisation keeps this fast: 7 RSA keys (CA, server, platform, org, expired,
        // foreign CA + leaf, unregistered) instead of 10.
        let organisations: Vec<_> = fixture_organisations()
            .unwrap()
            .into_iter()
            .take(1)
            .collect();
        let dir = tempfile::tempdir().unwrap();

        let written = generate(dir.path(), &organisations, &options()).unwrap();
        let pki = Pki::load(dir.path()).unwrap();

        assert_eq!(pki.manifest(), &written);
        assert_eq!(written.password, "segredo");
        assert_eq!(written.organisations.len(), 1);
        assert_eq!(written.negative.len(), 3);
        pki.server_config().unwrap();
        pki.client_config(Some(
            pki.organisation_identity(&organisations[0].id).unwrap(),
        ))
        .unwrap();
        for kind in [
            NegativeKind::Expired,
            NegativeKind::ForeignCa,
            NegativeKind::Unregistered,
        ] {
            pki.negative_identity(kind).unwrap();
        }
        assert!(dir.path().join(FOREIGN_CA_FILE).is_file());
        assert!(dir.path().join(CA_KEY_FILE).is_file());
    }

    #[test]
    fn unsafe_or_duplicate_organisations_are_refused_before_any_key_is_made() {
        let base = fixture_organisations().unwrap().remove(0);
        let dir = tempfile::tempdir().unwrap();
        let with_id = |id: &str| Organisation {
            id: id.to_owned(),
            ..base.clone()
        };

        for id in ["", "../escape", "Org-A", "-x", "a/b"] {
            let err = generate(dir.path(), &[with_id(id)], &options()).unwrap_err();
            assert!(
                matches!(err, PkiError::InvalidOrganisationId(_)),
                "{id:?}: {err}"
            );
        }
        let err = generate(dir.path(), &[base.clone(), base.clone()], &options()).unwrap_err();
        assert!(matches!(err, PkiError::DuplicateOrganisation(_)), "{err}");
        let twin = Organisation {
            id: "twin".to_owned(),
            ..base.clone()
        };
        let err = generate(dir.path(), &[base, twin], &options()).unwrap_err();
        assert!(
            matches!(
                err,
                PkiError::DuplicateCommonName {
                    reserved: false,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing written"
        );
    }

    #[test]
    fn server_names_are_checked_and_loopback_always_comes_first() {
        for good in [
            "pen-simulator",
            "sim.local",
            "*.example.org",
            "a-1.b2.",
            "X.Y",
        ] {
            assert!(is_valid_server_name(good), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "*",
            "-x",
            "x-",
            "a..b",
            "a b",
            "ã.br",
            "a.*.b",
            "1.2.3.4:80",
            long.as_str(),
        ] {
            assert!(!is_valid_server_name(bad), "{bad}");
        }
        let options = GenerateOptions {
            server_names: vec![
                "pen-simulator".into(),
                "PEN-SIMULATOR".into(),
                "localhost".into(),
            ],
            server_ips: vec!["10.0.0.5".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            ..options()
        };
        let names: Vec<String> = server_sans(&options)
            .unwrap()
            .iter()
            .map(|san| match san {
                SanType::DnsName(name) => name.as_str().to_owned(),
                SanType::IpAddress(ip) => ip.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            ["localhost", "pen-simulator", "127.0.0.1", "::1", "10.0.0.5"]
        );
        let options = GenerateOptions {
            server_names: vec!["not a name".into()],
            ..options
        };
        let err = generate(Path::new("unused"), &[], &options).unwrap_err();
        assert!(matches!(err, PkiError::InvalidServerName(_)), "{err}");
    }

    #[test]
    fn zero_validity_is_refused() {
        let options = GenerateOptions {
            validity_days: 0,
            ..options()
        };
        let err = generate(Path::new("unused"), &[], &options).unwrap_err();
        assert!(matches!(err, PkiError::ZeroValidity));
    }
}
