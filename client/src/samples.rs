//! Sample processes and documentos avulsos from `pen-fixtures`, by name, with the bytes of their
//! components: what `pen-client send --fixture` and the agent's trigger send.
//!
//! A sample can be given a fresh protocolo (a harness wants a new NUP per scenario) and a large
//! generated attachment (size scenarios) whose bytes are never held whole: they are produced per
//! part by [`LargeComponent::bytes_at`].

use std::collections::HashMap;

use pen_fixtures::generated::LargeComponent;
use pen_protocol::hash::{hash_bytes, hash_reader};
use pen_protocol::model::{ComponenteDigital, Documento, DocumentoAvulso, Hash, Processo};
use pen_protocol::ranges::PartRange;

use crate::flows::{ComponentSource, MemorySource};

/// Folders of `pen-fixtures` that hold samples, in lookup order. `invalidos/` holds samples a
/// correct sender must refuse to send (no signature, no interessado).
const FOLDERS: [&str; 3] = ["processos", "documentos", "invalidos"];

/// What a sample sends: a process or a documento avulso.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Envelope {
    Processo(Processo),
    Documento(DocumentoAvulso),
}

impl Envelope {
    /// `processo.protocolo` or `documento.protocolo`.
    #[must_use]
    pub fn protocolo(&self) -> Option<&str> {
        match self {
            Envelope::Processo(p) => p
                .protocolo
                .as_ref()
                .map(pen_protocol::ids::Protocolo::as_str),
            Envelope::Documento(d) => d
                .protocolo
                .as_ref()
                .map(pen_protocol::ids::Protocolo::as_str),
        }
    }

    /// Every component with the protocolo it belongs to (the process's or the avulso's).
    #[must_use]
    pub fn components(&self) -> Vec<&ComponenteDigital> {
        match self {
            Envelope::Processo(p) => p.components().into_iter().map(|(_, _, c)| c).collect(),
            Envelope::Documento(d) => d.componentes_digitais.iter().collect(),
        }
    }
}

/// A sample and the bytes of its components.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub envelope: Envelope,
    pub source: SampleSource,
}

/// The bytes of a sample's components: the small sample files, and generated large ones.
#[derive(Debug, Clone, Default)]
pub struct SampleSource {
    pub files: MemorySource,
    pub generated: HashMap<String, LargeComponent>,
}

impl ComponentSource for SampleSource {
    fn read(&self, hash: &str, range: PartRange) -> std::io::Result<Vec<u8>> {
        match self.generated.get(hash) {
            Some(large) => Ok(large.bytes_at(range.inicio..range.fim)),
            None => self.files.read(hash, range),
        }
    }
}

/// A sample name that is not in the fixtures, or a fixture that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("amostra {name} não existe; disponíveis: {available}")]
    Unknown { name: String, available: String },
    #[error("amostra {name} ilegível: {detail}")]
    Invalid { name: String, detail: String },
}

/// Every sample name, sorted.
#[must_use]
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = FOLDERS
        .iter()
        .flat_map(|dir| pen_fixtures::files(dir))
        .filter_map(|(path, _)| {
            path.rsplit_once('/')
                .map_or(path, |(_, f)| f)
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    out.sort();
    out
}

/// Loads a sample by name (`processo-simples`, `documento-avulso`, …).
///
/// # Errors
/// Unknown name, or a fixture that does not parse (a bug of the fixtures).
pub fn load(name: &str) -> Result<Sample, SampleError> {
    let invalid = |e: serde_json::Error| SampleError::Invalid {
        name: name.to_owned(),
        detail: e.to_string(),
    };
    let found = FOLDERS
        .iter()
        .find_map(|dir| Some((*dir, pen_fixtures::file(&format!("{dir}/{name}.json"))?)));
    let envelope = match found {
        Some(("documentos", bytes)) => {
            Envelope::Documento(serde_json::from_slice(bytes).map_err(invalid)?)
        }
        Some((_, bytes)) => Envelope::Processo(serde_json::from_slice(bytes).map_err(invalid)?),
        None => {
            return Err(SampleError::Unknown {
                name: name.to_owned(),
                available: names().join(", "),
            })
        }
    };
    let mut files = MemorySource::default();
    for component in envelope.components() {
        if let Some(bytes) = component.nome.as_deref().and_then(pen_fixtures::component) {
            files
                .0
                .insert(hash_bytes(bytes).to_base64(), bytes.to_vec());
        }
    }
    Ok(Sample {
        name: name.to_owned(),
        envelope,
        source: SampleSource {
            files,
            generated: HashMap::new(),
        },
    })
}

impl Sample {
    /// The same sample under another protocolo (NUP of the process or of the avulso).
    #[must_use]
    pub fn with_protocolo(mut self, protocolo: &str) -> Self {
        match &mut self.envelope {
            Envelope::Processo(p) => p.protocolo = Some(protocolo.into()),
            Envelope::Documento(d) => d.protocolo = Some(protocolo.into()),
        }
        self
    }

    /// Adds a signed PDF of `size` generated bytes: a new last document of a process, or a new
    /// last component of an avulso. Its hash is computed by streaming the bytes once.
    ///
    /// # Errors
    /// Never in practice (the generator's reader does not fail); kept as I/O for honesty.
    pub fn with_large_attachment(mut self, size: u64, seed: u64) -> std::io::Result<Self> {
        let large = LargeComponent::new(size, seed);
        let (hash, _) = hash_reader(large.reader())?;
        let hash = hash.to_base64();
        let component = |ordem: u32, signed_like: Option<&ComponenteDigital>| ComponenteDigital {
            ordem: Some(ordem),
            nome: Some(format!("anexo-{size}.pdf")),
            hash: Some(Hash::sha256(hash.clone())),
            tamanho_em_bytes: Some(size),
            mime_type: Some("application/pdf".to_owned()),
            tipo_de_conteudo: Some("txt".to_owned()),
            assinaturas_digitais: signed_like
                .map(|c| c.assinaturas_digitais.clone())
                .unwrap_or_default(),
            ..ComponenteDigital::default()
        };
        match &mut self.envelope {
            Envelope::Processo(p) => {
                let template: Option<Documento> = p.documentos.last().cloned();
                let ordem = u32::try_from(p.documentos.len()).unwrap_or(u32::MAX - 1) + 1;
                let signed_like = template
                    .as_ref()
                    .and_then(|d| d.componentes_digitais.first().cloned());
                let mut documento = template.unwrap_or_default();
                documento.ordem = Some(ordem);
                documento.retirado = false;
                documento.protocolo = Some(format!("{:07}", 9_000_000 + ordem).as_str().into());
                documento.descricao = Some(format!("Anexo de {size} bytes"));
                documento.componentes_digitais = vec![component(1, signed_like.as_ref())];
                p.documentos.push(documento);
            }
            Envelope::Documento(d) => {
                let ordem = u32::try_from(d.componentes_digitais.len()).unwrap_or(u32::MAX - 1) + 1;
                let signed_like = d.componentes_digitais.first().cloned();
                d.componentes_digitais
                    .push(component(ordem, signed_like.as_ref()));
            }
        }
        self.source.generated.insert(hash, large);
        Ok(self)
    }
}
