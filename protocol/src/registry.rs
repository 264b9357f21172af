//! Who is who on the platform: the organisations (SPEs) and the structure directory as the
//! fixtures describe them, and the manifest of the test PKI (the "integration package" an
//! integrator receives with its certificate).
//!
//! These are not wire types of REST v3: they are the simulator's registry and the files we ship
//! next to it. Wire views of the directory ([`crate::api::Estrutura`]) are derived from them.

use serde::{Deserialize, Serialize};

use crate::api::{Estrutura, EstruturaResumida, RepositorioDeEstruturas};
use crate::model::EstruturaOrganizacional;

/// One SPE (an organisation's document system) registered on the platform.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Organisation {
    /// Stable handle used by the CLI and the PKI layout (`org-a`, `org-b`, …).
    pub id: String,
    /// Display name of the organisation (Portuguese, as the portal shows it).
    pub nome: String,
    /// Common Name of the SPE certificate, as registered with the PEN team.
    pub common_name: String,
    /// Structures this SPE is responsible for: it may send from them and receives for them.
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub estruturas: Vec<EstruturaOrganizacional>,
}

/// One unit of the structure directory (a row of a repositório de estruturas).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryEntry {
    pub identificacao_do_repositorio_de_estruturas: u64,
    pub numero_de_identificacao_da_estrutura: String,
    pub nome: String,
    pub sigla: String,
    pub ativo: bool,
    pub apto_para_receber_tramites: bool,
    /// Whether this unit is a central reception unit for others.
    #[serde(default)]
    pub unidade_receptora: bool,
    /// The unit that receives on behalf of this one, when reception is delegated.
    #[serde(default)]
    pub codigo_unidade_receptora: String,
    #[serde(default)]
    pub codigo_no_orgao_entidade: String,
    #[serde(default)]
    pub tipo_de_tramitacao: i64,
    /// Parent unit in the same repository; `None` for a root.
    #[serde(default)]
    pub pai: Option<String>,
}

impl DirectoryEntry {
    /// The reference other wire objects use for this unit.
    #[must_use]
    pub fn reference(&self) -> EstruturaOrganizacional {
        EstruturaOrganizacional {
            identificacao_do_repositorio_de_estruturas: self
                .identificacao_do_repositorio_de_estruturas,
            numero_de_identificacao_da_estrutura: self.numero_de_identificacao_da_estrutura.clone(),
        }
    }
}

/// The whole structure directory served by the catalogue endpoints.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Directory {
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub repositorios: Vec<RepositorioDeEstruturas>,
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub estruturas: Vec<DirectoryEntry>,
}

impl Directory {
    /// Finds a unit by its reference.
    #[must_use]
    pub fn find(&self, reference: &EstruturaOrganizacional) -> Option<&DirectoryEntry> {
        self.estruturas.iter().find(|e| {
            e.identificacao_do_repositorio_de_estruturas
                == reference.identificacao_do_repositorio_de_estruturas
                && e.numero_de_identificacao_da_estrutura
                    == reference.numero_de_identificacao_da_estrutura
        })
    }

    /// Ancestors of a unit, root first (the `hierarquia` member of the wire view).
    #[must_use]
    pub fn ancestors(&self, entry: &DirectoryEntry) -> Vec<&DirectoryEntry> {
        let mut chain = Vec::new();
        let mut next = entry.pai.as_deref();
        // Bounded by the directory size so that a cycle in a hand-edited fixture cannot hang us.
        while let Some(parent_id) = next {
            if chain.len() > self.estruturas.len() {
                break;
            }
            let reference = EstruturaOrganizacional {
                identificacao_do_repositorio_de_estruturas: entry
                    .identificacao_do_repositorio_de_estruturas,
                numero_de_identificacao_da_estrutura: parent_id.to_owned(),
            };
            let Some(parent) = self.find(&reference) else {
                break;
            };
            chain.push(parent);
            next = parent.pai.as_deref();
        }
        chain.reverse();
        chain
    }

    /// The wire view of a unit, with its hierarchy resolved.
    #[must_use]
    pub fn wire_view(&self, entry: &DirectoryEntry) -> Estrutura {
        Estrutura {
            numero_de_identificacao_da_estrutura: entry
                .numero_de_identificacao_da_estrutura
                .clone(),
            nome: entry.nome.clone(),
            sigla: entry.sigla.clone(),
            ativo: entry.ativo,
            unidade_receptora: entry.unidade_receptora,
            apto_para_receber_tramites: entry.apto_para_receber_tramites,
            codigo_no_orgao_entidade: entry.codigo_no_orgao_entidade.clone(),
            codigo_unidade_receptora: entry.codigo_unidade_receptora.clone(),
            tipo_de_tramitacao: entry.tipo_de_tramitacao,
            hierarquia: self
                .ancestors(entry)
                .into_iter()
                .map(|a| EstruturaResumida {
                    numero_de_identificacao_da_estrutura: a
                        .numero_de_identificacao_da_estrutura
                        .clone(),
                    nome: a.nome.clone(),
                    sigla: a.sigla.clone(),
                })
                .collect(),
        }
    }
}

/// `certs/manifest.json`: what the test PKI contains and who each identity is.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct PkiManifest {
    /// Schema version of this file.
    pub version: u32,
    /// Password of every `identity.p12` and every encrypted-key PEM.
    pub password: String,
    /// The simulator CA certificate, relative to the manifest's folder.
    pub ca: String,
    /// The simulator's TLS server identity.
    pub server: IdentityFiles,
    /// The platform's own signing identity (recibo de envio).
    pub platform: IdentityFiles,
    /// The administrator's client identity: the control plane requires it when it is served
    /// over mutual TLS (absent in packages made before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<IdentityFiles>,
    /// One registered identity per fixture organisation.
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub organisations: Vec<OrganisationIdentity>,
    /// Identities that must be rejected, each with why.
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub negative: Vec<NegativeIdentity>,
}

impl PkiManifest {
    /// The identity of an organisation by its handle (`org-a`).
    #[must_use]
    pub fn organisation(&self, id: &str) -> Option<&OrganisationIdentity> {
        self.organisations.iter().find(|o| o.id == id)
    }
}

/// Files and fingerprints of one certificate + key.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct IdentityFiles {
    pub common_name: String,
    /// Certificate followed by its unencrypted PKCS#8 key (usable as `curl --cert`).
    pub identity_pem: String,
    /// Certificate alone.
    pub cert_pem: String,
    /// Upper-case, colon-separated, as `openssl x509 -fingerprint -sha1` prints it.
    pub sha1_fingerprint: String,
    pub sha256_fingerprint: String,
    /// `notAfter`, RFC 3339.
    pub not_after: String,
}

/// A registered organisation's identity and the structures it answers for.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct OrganisationIdentity {
    pub id: String,
    pub nome: String,
    #[serde(flatten)]
    pub files: IdentityFiles,
    /// PKCS#12 with certificate, key and CA (password: [`PkiManifest::password`]).
    pub identity_p12: String,
    /// Certificate followed by an encrypted PKCS#8 key (as SEI's `SenhaCertificado` expects).
    pub identity_encrypted_pem: String,
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub estruturas: Vec<EstruturaOrganizacional>,
}

/// Why a negative identity must be refused.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NegativeKind {
    /// Issued by the simulator CA, but its validity ended.
    Expired,
    /// Issued by another CA that the simulator does not trust.
    ForeignCa,
    /// Issued by the simulator CA and valid, but registered for no SPE.
    Unregistered,
}

/// An identity that the simulator must refuse, at the TLS layer or with the platform's
/// authorisation error.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct NegativeIdentity {
    pub id: String,
    pub kind: NegativeKind,
    #[serde(flatten)]
    pub files: IdentityFiles,
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::arb::json_round_trip! {
        organisation: Organisation,
        directory_entry: DirectoryEntry,
        directory: Directory,
        pki_manifest: PkiManifest,
    }
}
