//! A case folder imported as a real system imports a process from its files: `processo.json` —
//! the `processo` member of a `POST tramites/processo` body — or `documento.json` — the
//! `documento` member of `POST tramites/documento` — beside every component's file, named
//! after its `componentesDigitais[].nome`. What the harness hands an external system to send.
//!
//! Each file is hashed where it lies (SHA-256, streamed) and its size measured; those are what
//! the agent declares and uploads. A file whose hash or size differs from what the JSON declares
//! is not silently resent under the JSON's figures: the import stops, naming the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pen_protocol::hash::hash_reader;
use pen_protocol::model::{ComponenteDigital, Hash, Processo};

use crate::flows::FileSource;
use crate::samples::Envelope;

/// The file of a process's metadata in a case folder.
pub const PROCESSO_JSON: &str = "processo.json";
/// The file of a documento avulso's metadata in a case folder.
pub const DOCUMENTO_JSON: &str = "documento.json";

/// Why a folder could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("a pasta {0} não existe ou não é uma pasta")]
    NotAFolder(PathBuf),
    #[error("a pasta {0} não tem {PROCESSO_JSON} nem {DOCUMENTO_JSON}")]
    NoMetadata(PathBuf),
    #[error("a pasta {0} tem {PROCESSO_JSON} e {DOCUMENTO_JSON}: deixe só um")]
    BothMetadata(PathBuf),
    #[error("{path}: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("componente de ordem {ordem} sem nome de arquivo (componentesDigitais[].nome)")]
    Unnamed { ordem: u32 },
    #[error("nome de componente impróprio para arquivo: {0:?}")]
    BadName(String),
    #[error("{file}: {what} declarado {declared}, o arquivo tem {actual}")]
    Mismatch {
        file: PathBuf,
        what: &'static str,
        declared: String,
        actual: String,
    },
}

/// A process or documento avulso read from a folder, with its files by hash.
#[derive(Debug, Clone)]
pub struct Imported {
    pub envelope: Envelope,
    pub source: FileSource,
}

fn unreadable(path: &Path, detail: impl std::fmt::Display) -> FolderError {
    FolderError::Unreadable {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Reads a case folder: the metadata, then every component's file, hashed and measured.
///
/// # Errors
/// No folder, no (or two) metadata files, JSON that is not the protocol's, a component without
/// a file name or whose file is missing, or a file that does not match what the JSON declares.
pub fn import(dir: &Path) -> Result<Imported, FolderError> {
    if !dir.is_dir() {
        return Err(FolderError::NotAFolder(dir.to_path_buf()));
    }
    let (processo, documento) = (dir.join(PROCESSO_JSON), dir.join(DOCUMENTO_JSON));
    let read = |path: &Path| std::fs::read(path).map_err(|e| unreadable(path, e));
    let mut envelope = match (processo.is_file(), documento.is_file()) {
        (true, true) => return Err(FolderError::BothMetadata(dir.to_path_buf())),
        (false, false) => return Err(FolderError::NoMetadata(dir.to_path_buf())),
        (true, false) => Envelope::Processo(
            serde_json::from_slice(&read(&processo)?).map_err(|e| unreadable(&processo, e))?,
        ),
        (false, true) => Envelope::Documento(
            serde_json::from_slice(&read(&documento)?).map_err(|e| unreadable(&documento, e))?,
        ),
    };
    let mut source = FileSource::default();
    // The same file may stand for several components (a document attached twice).
    let mut measured: HashMap<String, (String, u64)> = HashMap::new();
    for component in components_mut(&mut envelope) {
        let nome = component.nome.clone().ok_or(FolderError::Unnamed {
            ordem: component.ordem.unwrap_or(1),
        })?;
        if Path::new(&nome).file_name().and_then(|n| n.to_str()) != Some(nome.as_str()) {
            return Err(FolderError::BadName(nome));
        }
        let file = dir.join(&nome);
        let (hash, size) = match measured.get(&nome) {
            Some(known) => known.clone(),
            None => {
                let reader = std::fs::File::open(&file).map_err(|e| unreadable(&file, e))?;
                let (hash, size) = hash_reader(reader).map_err(|e| unreadable(&file, e))?;
                let found = (hash.to_base64(), size);
                measured.insert(nome.clone(), found.clone());
                found
            }
        };
        let mismatch = |what, declared: String, actual: String| FolderError::Mismatch {
            file: file.clone(),
            what,
            declared,
            actual,
        };
        if let Some(declared) = component.hash_conteudo() {
            if declared != hash {
                return Err(mismatch("hash SHA-256", declared.to_owned(), hash));
            }
        }
        if let Some(declared) = component.tamanho_em_bytes {
            if declared != size {
                return Err(mismatch(
                    "tamanho",
                    format!("{declared} bytes"),
                    format!("{size} bytes"),
                ));
            }
        }
        component.hash = Some(Hash::sha256(hash.clone()));
        component.tamanho_em_bytes = Some(size);
        source.0.insert(hash, file);
    }
    Ok(Imported { envelope, source })
}

fn components_mut(envelope: &mut Envelope) -> Vec<&mut ComponenteDigital> {
    fn of_process<'a>(processo: &'a mut Processo, out: &mut Vec<&'a mut ComponenteDigital>) {
        for documento in &mut processo.documentos {
            out.extend(documento.componentes_digitais.iter_mut());
        }
        for apensado in &mut processo.processo_apensado {
            of_process(apensado, out);
        }
    }
    let mut out = Vec::new();
    match envelope {
        Envelope::Processo(p) => of_process(p, &mut out),
        Envelope::Documento(d) => out.extend(d.componentes_digitais.iter_mut()),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_of(sample: &str) -> tempfile::TempDir {
        let sample = crate::samples::load(sample).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (name, json) = match &sample.envelope {
            Envelope::Processo(p) => (PROCESSO_JSON, serde_json::to_vec(p).unwrap()),
            Envelope::Documento(d) => (DOCUMENTO_JSON, serde_json::to_vec(d).unwrap()),
        };
        std::fs::write(dir.path().join(name), json).unwrap();
        for c in sample.envelope.components() {
            let bytes = pen_fixtures::component(c.nome.as_deref().unwrap()).unwrap();
            std::fs::write(dir.path().join(c.nome.as_deref().unwrap()), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn a_sample_folder_imports_with_its_declared_hashes() {
        let dir = folder_of("processo-mesmo-arquivo");
        let imported = import(dir.path()).unwrap();
        let sample = crate::samples::load("processo-mesmo-arquivo").unwrap();
        assert_eq!(imported.envelope, sample.envelope);
        for c in imported.envelope.components() {
            assert!(imported.source.0.contains_key(c.hash_conteudo().unwrap()));
        }
    }

    #[test]
    fn a_file_that_differs_from_its_json_is_named() {
        let dir = folder_of("documento-avulso");
        let imported = import(dir.path()).unwrap();
        let nome = imported.envelope.components()[0].nome.clone().unwrap();
        std::fs::write(dir.path().join(&nome), b"outro conteudo").unwrap();
        let err = import(dir.path()).unwrap_err();
        assert!(matches!(err, FolderError::Mismatch { .. }), "{err}");
        assert!(err.to_string().contains(&nome), "{err}");
    }

    #[test]
    fn missing_pieces_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            import(&dir.path().join("nada")),
            Err(FolderError::NotAFolder(_))
        ));
        assert!(matches!(
            import(dir.path()),
            Err(FolderError::NoMetadata(_))
        ));
        let dir = folder_of("processo-simples");
        let first = import(dir.path()).unwrap().envelope.components()[0]
            .nome
            .clone()
            .unwrap();
        std::fs::remove_file(dir.path().join(&first)).unwrap();
        let err = import(dir.path()).unwrap_err();
        assert!(err.to_string().contains(&first), "{err}");
    }
}
