//! The agent's local configuration of what it accepts, and the refusal each breach produces
//! (`model-receipts-soap.md` §2.4). Checked on the metadata, before anything is downloaded, in
//! the order the SEI module checks.

use std::collections::{BTreeMap, BTreeSet};

use pen_protocol::model::{ComponenteDigital, Documento, DocumentoAvulso, Processo};
use pen_protocol::refusals::Refusal;
use serde::{Deserialize, Serialize};

/// One MB as SEI counts it in its limits.
pub const MB: u64 = 1024 * 1024;

/// What the agent accepts. Every field defaults to "accept everything".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Largest component, in MB (`SEI_TAM_MB_DOC_EXTERNO`).
    pub max_document_mb: Option<u64>,
    /// Per-extension limits in MB (lower-case extension).
    pub max_mb_by_extension: BTreeMap<String, u64>,
    /// Accepted extensions (lower-case); `None` accepts any.
    pub accepted_extensions: Option<BTreeSet<String>>,
    /// Generated (HTML) documents without a signature; external files are never required to
    /// carry one, as in SEI.
    pub accept_unsigned: bool,
    pub accept_missing_interessado: bool,
    pub accept_missing_descricao: bool,
    pub especies: EspeciePolicy,
}

/// Espécie documental mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EspeciePolicy {
    /// Platform code (as text, TOML keys are strings) → local document type. `None`: every code
    /// maps to a type of the same name.
    pub mapped: Option<BTreeMap<String, String>>,
    /// The local type for codes absent from `mapped` (SEI's "espécie padrão").
    pub default: Option<String>,
    /// Codes never accepted.
    pub unmapped: BTreeSet<u32>,
}

/// A policy file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("política inválida: {0}")]
pub struct PolicyError(String);

/// Checks the agent can skip (its mutants do).
#[derive(Debug, Clone, Copy, Default)]
pub struct Skips {
    pub size: bool,
}

impl Policy {
    /// Parses a policy file (TOML).
    ///
    /// # Errors
    /// Syntax errors and unknown keys, with their position.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError(e.to_string()))?;
        Ok(policy.normalised())
    }

    /// The reference configuration shipped with the fixtures (`agent/politica.toml`): 50 MB,
    /// common office and image extensions, signatures and interessados required, espécies 5
    /// and 185 unmapped.
    ///
    /// # Errors
    /// Only if the shipped file is broken (a test pins that it is not).
    pub fn reference() -> Result<Self, PolicyError> {
        let bytes = pen_fixtures::file("agent/politica.toml")
            .ok_or_else(|| PolicyError("agent/politica.toml ausente das fixtures".to_owned()))?;
        Self::from_toml(&String::from_utf8_lossy(bytes))
    }

    fn normalised(mut self) -> Self {
        self.accepted_extensions = self
            .accepted_extensions
            .map(|set| set.into_iter().map(|e| e.to_lowercase()).collect());
        self.max_mb_by_extension = std::mem::take(&mut self.max_mb_by_extension)
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect();
        self
    }

    /// The first breach of a process, as the refusal to send.
    #[must_use]
    pub fn check_process(&self, processo: &Processo, skips: Skips) -> Option<Refusal> {
        let protocolo = processo
            .protocolo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !self.accept_missing_descricao
            && processo
                .descricao
                .as_deref()
                .is_none_or(|d| d.trim().is_empty())
        {
            return Some(Refusal::DescricaoNaoInformada { protocolo });
        }
        if !self.accept_missing_interessado && processo.interessados.is_empty() {
            return Some(Refusal::InteressadosNaoInformados { protocolo });
        }
        let mut documents: Vec<&Documento> = Vec::new();
        collect_documents(processo, &mut documents);
        documents
            .into_iter()
            .filter(|d| !d.retirado)
            .find_map(|d| self.check_document_piece(d, skips))
    }

    /// The first breach of a documento avulso.
    #[must_use]
    pub fn check_avulso(&self, documento: &DocumentoAvulso, skips: Skips) -> Option<Refusal> {
        let protocolo = documento
            .protocolo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !self.accept_missing_interessado && documento.interessados.is_empty() {
            return Some(Refusal::InteressadosNaoInformados { protocolo });
        }
        let especie = documento.especie.as_ref();
        if let Some(r) = self.check_especie(
            especie.and_then(|e| e.codigo),
            especie.and_then(|e| e.nome_no_produtor.as_deref()),
        ) {
            return Some(r);
        }
        documento
            .componentes_digitais
            .iter()
            .find_map(|c| self.check_component(c, &protocolo, skips))
    }

    fn check_document_piece(&self, documento: &Documento, skips: Skips) -> Option<Refusal> {
        let especie = documento.especie.as_ref();
        if let Some(r) = self.check_especie(
            especie.and_then(|e| e.codigo),
            especie.and_then(|e| e.nome_no_produtor.as_deref()),
        ) {
            return Some(r);
        }
        let protocolo = documento
            .protocolo
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| documento.ordem.map(|o| format!("de ordem {o}")))
            .unwrap_or_default();
        documento
            .componentes_digitais
            .iter()
            .find_map(|c| self.check_component(c, &protocolo, skips))
    }

    fn check_especie(&self, codigo: Option<u32>, nome: Option<&str>) -> Option<Refusal> {
        let codigo = codigo?;
        let refused = || Refusal::EspecieNaoMapeada {
            nome: nome.map_or_else(|| codigo.to_string(), str::to_owned),
        };
        if self.especies.unmapped.contains(&codigo) {
            return Some(refused());
        }
        match &self.especies.mapped {
            Some(map)
                if !map.contains_key(&codigo.to_string()) && self.especies.default.is_none() =>
            {
                Some(refused())
            }
            _ => None,
        }
    }

    fn check_component(
        &self,
        c: &ComponenteDigital,
        documento: &str,
        skips: Skips,
    ) -> Option<Refusal> {
        let extension = c
            .nome
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_lowercase())
            .unwrap_or_default();
        if let Some(accepted) = &self.accepted_extensions {
            if !accepted.contains(&extension) {
                return Some(Refusal::FormatoNaoPermitido {
                    extensao: extension,
                });
            }
        }
        let size = match c.tamanho_em_bytes {
            Some(size) if size > 0 => size,
            _ => return Some(Refusal::TamanhoNaoInformado),
        };
        if !skips.size {
            if let Some(&mb) = self.max_mb_by_extension.get(&extension) {
                if size > mb.saturating_mul(MB) {
                    return Some(Refusal::TamanhoMaximoDaExtensao {
                        extensao: extension,
                        mb,
                    });
                }
            }
            if let Some(mb) = self.max_document_mb {
                if size > mb.saturating_mul(MB) {
                    return Some(Refusal::TamanhoMaximoGeral { mb });
                }
            }
        }
        if !self.accept_unsigned
            && crate::flows::is_generated(c)
            && c.assinaturas_digitais.is_empty()
        {
            return Some(Refusal::DocumentoSemAssinatura {
                protocolo: documento.to_owned(),
            });
        }
        None
    }
}

fn collect_documents<'a>(processo: &'a Processo, out: &mut Vec<&'a Documento>) {
    out.extend(processo.documentos.iter());
    for apensado in &processo.processo_apensado {
        collect_documents(apensado, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_policy_parses() {
        let policy = Policy::reference().unwrap();
        assert_eq!(policy.max_document_mb, Some(50));
        assert!(policy.accepted_extensions.unwrap().contains("pdf"));
        assert!(policy.especies.unmapped.contains(&5));
        assert!(!policy.accept_unsigned);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Policy::from_toml("max_documento_mb = 3").unwrap_err();
        assert!(err.to_string().contains("max_documento_mb"), "{err}");
    }
}
