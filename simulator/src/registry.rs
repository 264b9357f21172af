//! Who may call the platform and what the platform serves as reference data.
//!
//! An SPE is identified by the SHA-1 fingerprint of its client certificate (as the real portal
//! registers it); it answers for a set of structures, may send only from them and receives for
//! them. The structure directory and the domain tables come from `pen-fixtures`.

use std::collections::{BTreeSet, HashMap};

use pen_protocol::api::{
    Especies, HipoteseLegal, HipotesesLegais, MotivoUrgencia, MotivosUrgencia,
    RepositorioDeEstruturas,
};
use pen_protocol::model::EstruturaOrganizacional;
use pen_protocol::registry::{Directory, DirectoryEntry, Organisation, PkiManifest};
use thiserror::Error;

/// Why the registry could not be built.
#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("fixture {what} does not parse: {source}")]
    Fixture {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("organisation {0} has no identity in the PKI manifest")]
    MissingIdentity(String),
    #[error("structure {estrutura} of {spe} is not in the directory")]
    UnknownStructure {
        spe: String,
        estrutura: EstruturaOrganizacional,
    },
    #[error("structure {estrutura} is claimed by both {first} and {second}")]
    SharedStructure {
        estrutura: EstruturaOrganizacional,
        first: String,
        second: String,
    },
}

/// A registered document system (one certificate).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Spe {
    /// Stable handle (`org-a`).
    pub id: String,
    pub nome: String,
    pub common_name: String,
    /// Upper-case colon-separated SHA-1 of the certificate DER.
    pub sha1_fingerprint: String,
    pub estruturas: BTreeSet<EstruturaOrganizacional>,
}

/// The registry and reference data.
#[derive(Debug, Clone)]
pub struct Registry {
    spes: Vec<Spe>,
    by_fingerprint: HashMap<String, usize>,
    by_structure: HashMap<EstruturaOrganizacional, usize>,
    pub directory: Directory,
    pub especies: Especies,
    pub hipoteses: HipotesesLegais,
    pub motivos_urgencia: MotivosUrgencia,
}

fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|source| RegistryError::Fixture { what, source })
}

impl Registry {
    /// The fixture organisations, identified by the certificates of a PKI manifest.
    ///
    /// # Errors
    /// When a fixture does not parse, or an organisation has no identity or an unknown structure.
    pub fn from_fixtures(manifest: &PkiManifest) -> Result<Self, RegistryError> {
        let organisations: Vec<Organisation> = parse(
            "registry/organisations.json",
            pen_fixtures::organisations_json(),
        )?;
        let directory: Directory =
            parse("registry/directory.json", pen_fixtures::directory_json())?;
        let table = |path: &'static str| pen_fixtures::file(path).unwrap_or_default();
        let especies: Especies = parse("tables/especies.json", table("tables/especies.json"))?;
        let hipoteses: HipotesesLegais =
            parse("tables/hipoteses.json", table("tables/hipoteses.json"))?;
        let motivos_urgencia: MotivosUrgencia = parse(
            "tables/motivos-urgencia.json",
            table("tables/motivos-urgencia.json"),
        )?;
        let mut registry = Registry {
            spes: Vec::new(),
            by_fingerprint: HashMap::new(),
            by_structure: HashMap::new(),
            directory,
            especies,
            hipoteses,
            motivos_urgencia,
        };
        for org in organisations {
            let identity = manifest
                .organisation(&org.id)
                .ok_or_else(|| RegistryError::MissingIdentity(org.id.clone()))?;
            registry.register(Spe {
                id: org.id.clone(),
                nome: org.nome.clone(),
                common_name: org.common_name.clone(),
                sha1_fingerprint: identity.files.sha1_fingerprint.clone(),
                estruturas: org.estruturas.iter().cloned().collect(),
            })?;
        }
        Ok(registry)
    }

    /// Adds (or replaces, by id) an SPE.
    ///
    /// # Errors
    /// When one of its structures is unknown or belongs to another SPE.
    pub fn register(&mut self, spe: Spe) -> Result<(), RegistryError> {
        for e in &spe.estruturas {
            if self.directory.find(e).is_none() {
                return Err(RegistryError::UnknownStructure {
                    spe: spe.id.clone(),
                    estrutura: e.clone(),
                });
            }
            if let Some(&other) = self.by_structure.get(e) {
                if self.spes[other].id != spe.id {
                    return Err(RegistryError::SharedStructure {
                        estrutura: e.clone(),
                        first: self.spes[other].id.clone(),
                        second: spe.id.clone(),
                    });
                }
            }
        }
        let index = match self.spes.iter().position(|s| s.id == spe.id) {
            Some(i) => {
                self.spes[i] = spe;
                i
            }
            None => {
                self.spes.push(spe);
                self.spes.len() - 1
            }
        };
        self.reindex();
        debug_assert!(index < self.spes.len());
        Ok(())
    }

    fn reindex(&mut self) {
        self.by_fingerprint = self
            .spes
            .iter()
            .enumerate()
            .map(|(i, s)| (s.sha1_fingerprint.clone(), i))
            .collect();
        self.by_structure = self
            .spes
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.estruturas.iter().map(move |e| (e.clone(), i)))
            .collect();
    }

    #[must_use]
    pub fn spes(&self) -> &[Spe] {
        &self.spes
    }

    #[must_use]
    pub fn spe(&self, id: &str) -> Option<&Spe> {
        self.spes.iter().find(|s| s.id == id)
    }

    #[must_use]
    pub fn spe_by_fingerprint(&self, sha1: &str) -> Option<&Spe> {
        self.by_fingerprint.get(sha1).map(|&i| &self.spes[i])
    }

    /// The SPE responsible for a structure.
    #[must_use]
    pub fn owner_of(&self, estrutura: &EstruturaOrganizacional) -> Option<&Spe> {
        self.by_structure.get(estrutura).map(|&i| &self.spes[i])
    }

    #[must_use]
    pub fn structure(&self, estrutura: &EstruturaOrganizacional) -> Option<&DirectoryEntry> {
        self.directory.find(estrutura)
    }

    #[must_use]
    pub fn repositorios(&self) -> &[RepositorioDeEstruturas] {
        &self.directory.repositorios
    }

    #[must_use]
    pub fn especie_exists(&self, codigo: u32) -> bool {
        self.especies.especies.iter().any(|e| e.codigo == codigo)
    }

    #[must_use]
    pub fn hipotese(&self, identificacao: u64) -> Option<&HipoteseLegal> {
        self.hipoteses
            .hipoteses_legais
            .iter()
            .find(|h| h.identificacao == identificacao)
    }

    /// Motivo de urgência by its code (position + 1).
    #[must_use]
    pub fn motivo_urgencia(&self, codigo: u32) -> Option<&MotivoUrgencia> {
        let index = usize::try_from(codigo).ok()?.checked_sub(1)?;
        self.motivos_urgencia.motivos_urgencia.get(index)
    }
}
