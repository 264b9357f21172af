//! The metadata of a transfer (`model-receipts-soap.md` §1): what a sender declares when it opens
//! a trâmite and what the recipient reads back.
//!
//! Member names are the REST v3 ones, exactly: plural array names (`documentos`, `interessados`,
//! `componentesDigitais`, `assinaturasDigitais`, `propriedadesAdicionais`) except the singular
//! `processoApensado`; XML attributes became members (`hash: {algoritmo, conteudo}`).
//!
//! Members the schema makes mandatory are still `Option`/empty-by-default here: the platform
//! answers a missing member with a validation message naming it, not with a parse failure, so the
//! types must let the validator see what is missing. Unknown members (client-internal ids such as
//! `idDocumentoSEI`) are accepted and dropped, never echoed.

use serde::{Deserialize, Serialize};

use crate::ids::{Nre, Protocolo};
use crate::lenient;

/// A unit in a repositório de estruturas — how every message addresses a sender or recipient.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstruturaOrganizacional {
    #[serde(deserialize_with = "lenient::u64")]
    pub identificacao_do_repositorio_de_estruturas: u64,
    /// A string in the model (`"152254"`), although some clients send a number.
    #[serde(deserialize_with = "lenient::string")]
    pub numero_de_identificacao_da_estrutura: String,
}

impl EstruturaOrganizacional {
    #[must_use]
    pub fn new(repositorio: u64, estrutura: impl Into<String>) -> Self {
        EstruturaOrganizacional {
            identificacao_do_repositorio_de_estruturas: repositorio,
            numero_de_identificacao_da_estrutura: estrutura.into(),
        }
    }
}

impl std::fmt::Display for EstruturaOrganizacional {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.identificacao_do_repositorio_de_estruturas,
            self.numero_de_identificacao_da_estrutura
        )
    }
}

/// A free key/value pair, stored and echoed verbatim (`MODULO_PEN_VERSAO`, `CLASSIFICACAO_*`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropriedadeAdicional {
    pub chave: String,
    #[serde(deserialize_with = "lenient::string")]
    pub valor: String,
}

/// `motivoDaUrgencia` as clients send it: the code (1..5) per the schema, or — the SEI module's
/// bug — the boolean urgency flag itself.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MotivoDaUrgencia {
    Codigo(#[serde(deserialize_with = "lenient::u32")] u32),
    Flag(bool),
}

/// Header of `POST tramites/processo`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CabecalhoDeProcesso {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remetente: Option<EstruturaOrganizacional>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinatario: Option<EstruturaOrganizacional>,
    /// Sent only when the process already has one; must be sent on every later hop.
    #[serde(rename = "NRE", default, skip_serializing_if = "Option::is_none")]
    pub nre: Option<Nre>,
    /// `true`: request only components the recipient does not hold yet.
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enviar_apenas_componentes_digitais_pendentes: Option<bool>,
    /// Deprecated inverse of the member above (SOAP v1_1/v2 era); still understood.
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub obrigar_envio_de_todos_os_componentes_digitais: Option<bool>,
    /// Schema (Swagger) name of the urgency flag.
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub urgente: Option<bool>,
    /// What the SEI module actually sends for the urgency flag (wrong name); tolerated.
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub urgencia: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motivo_da_urgencia: Option<MotivoDaUrgencia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_de_retorno: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
}

impl CabecalhoDeProcesso {
    /// Whether the sender asked for every component, whichever member it used to say so.
    #[must_use]
    pub fn wants_all_components(&self) -> bool {
        match (
            self.enviar_apenas_componentes_digitais_pendentes,
            self.obrigar_envio_de_todos_os_componentes_digitais,
        ) {
            (Some(only_pending), _) => !only_pending,
            (None, Some(all)) => all,
            // The schema default of `enviarApenasComponentesDigitaisPendentes` is unknown; the
            // platform's documented intent is to skip what the recipient already holds.
            (None, None) => false,
        }
    }

    /// Whether the process is flagged urgent, under either member name.
    #[must_use]
    pub fn is_urgent(&self) -> bool {
        self.urgente.or(self.urgencia).unwrap_or(false)
    }
}

/// Header of `POST tramites/documento`: one documento avulso to one or more recipients.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CabecalhoDeDocumento {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remetente: Option<EstruturaOrganizacional>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub destinatarios: Vec<EstruturaOrganizacional>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub urgente: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motivo_da_urgencia: Option<MotivoDaUrgencia>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
}

/// Nível de sigilo: `1` público, `2` restrito (requires a hipótese legal), `3` sigiloso.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NivelDeSigilo {
    Publico,
    Restrito,
    Sigiloso,
}

impl NivelDeSigilo {
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            NivelDeSigilo::Publico => 1,
            NivelDeSigilo::Restrito => 2,
            NivelDeSigilo::Sigiloso => 3,
        }
    }

    #[must_use]
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(NivelDeSigilo::Publico),
            2 => Some(NivelDeSigilo::Restrito),
            3 => Some(NivelDeSigilo::Sigiloso),
            _ => None,
        }
    }
}

impl Serialize for NivelDeSigilo {
    /// As a string, the way SEI sends and reads it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.code())
    }
}

impl<'de> Deserialize<'de> for NivelDeSigilo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = lenient::u64(d)?;
        NivelDeSigilo::from_code(code).ok_or_else(|| {
            serde::de::Error::custom(format_args!("nível de sigilo inválido: {code}"))
        })
    }
}

/// Reference to a hipótese legal (restricted access basis), by the platform's id.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HipoteseLegalRef {
    #[serde(deserialize_with = "lenient::u64")]
    pub identificacao: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_legal: Option<String>,
}

/// A document identity of an interessado (`documentosDeIdentificacao[]`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentoDeIdentificacao {
    #[serde(deserialize_with = "lenient::string")]
    pub codigo: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emissor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome_no_documento: Option<String>,
}

/// `pessoa`: the unit of a produtor, and the base of interessado and produtor.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pessoa {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    /// `fisica`, `juridica` or `orgaopublico`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipo: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub numero_de_identificacao: Option<String>,
}

/// Who produced a process or document, with the producing unit.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Produtor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipo: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub numero_de_identificacao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unidade: Option<Pessoa>,
}

/// An interessado of a process or documento avulso.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interessado {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipo: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub numero_de_identificacao: Option<String>,
    /// `ativo`, `passivo` or `terceiro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polo: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub documentos_de_identificacao: Vec<DocumentoDeIdentificacao>,
}

impl Interessado {
    #[must_use]
    pub fn named(nome: impl Into<String>) -> Self {
        Interessado {
            nome: Some(nome.into()),
            ..Interessado::default()
        }
    }
}

/// Espécie documental of a document, by the platform's code.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Especie {
    #[serde(
        default,
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub codigo: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome_no_produtor: Option<String>,
}

/// Numbering of a document in its producing system.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identificacao {
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub numero: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigla_da_unidade_produtora: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complemento: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub ano: Option<String>,
}

/// `{algoritmo, conteudo}`: a component hash (`SHA256`, base64 digest) or, inside a signature,
/// the signature value with its algorithm (`SHA256withRSA`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hash {
    pub algoritmo: String,
    pub conteudo: String,
}

impl Hash {
    /// A component hash as the schema writes it.
    #[must_use]
    pub fn sha256(base64_digest: impl Into<String>) -> Self {
        Hash {
            algoritmo: "SHA256".to_owned(),
            conteudo: base64_digest.into(),
        }
    }
}

/// `{formato, conteudo}` with `formato` in `PEM DER PKCS7 PKCS12 PFX`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CadeiaDoCertificado {
    pub formato: String,
    pub conteudo: String,
}

/// A signature on a component. Informational: the platform does not verify it.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssinaturaDigital {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub razao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observacao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cadeia_do_certificado: Option<CadeiaDoCertificado>,
    /// Signer's name and role (module 4.1.0 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cargo: Option<String>,
}

/// One binary of a document, addressed by (protocolo, SHA-256).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponenteDigital {
    #[serde(
        default,
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub ordem: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub tamanho_em_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The real type when `mimeType` is `outro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dados_complementares_do_tipo_de_arquivo: Option<String>,
    /// `txt`, `img`, `aud`, `vid` or `out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipo_de_conteudo: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub assinaturas_digitais: Vec<AssinaturaDigital>,
}

impl ComponenteDigital {
    /// The declared base64 SHA-256, if the member is present.
    #[must_use]
    pub fn hash_conteudo(&self) -> Option<&str> {
        self.hash.as_ref().map(|h| h.conteudo.as_str())
    }
}

/// One entry of the process history (`itensHistorico`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemHistorico {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_operacao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unidade_operacao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operacao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usuario: Option<String>,
}

/// A piece of a process (`documentoDoProcesso`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Documento {
    /// 1-based position in the process tree; mandatory and immutable across hops.
    #[serde(
        default,
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub ordem: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocolo: Option<Protocolo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descricao: Option<String>,
    /// Cancelled or moved out; its components keep their original hashes.
    #[serde(default, deserialize_with = "lenient::bool_or_false")]
    pub retirado: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nivel_de_sigilo: Option<NivelDeSigilo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hipotese_legal: Option<HipoteseLegalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_producao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_registro: Option<String>,
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produtor: Option<Produtor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub especie: Option<Especie>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identificacao: Option<Identificacao>,
    /// NUP of the annexed process that owned this document (documents travel flat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocolo_do_processo_anexado: Option<Protocolo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocolo_do_documento_anexado: Option<Protocolo>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub ordem_do_documento_referenciado: Option<u32>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub componentes_digitais: Vec<ComponenteDigital>,
}

/// A process: the object that keeps its NRE across hops.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Processo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocolo: Option<Protocolo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nivel_de_sigilo: Option<NivelDeSigilo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hipotese_legal: Option<HipoteseLegalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processo_de_negocio: Option<String>,
    /// SEI's "especificação"; mandatory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descricao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_producao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_registro: Option<String>,
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produtor: Option<Produtor>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub documentos: Vec<Documento>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub interessados: Vec<Interessado>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub itens_historico: Vec<ItemHistorico>,
    /// Processes joined by apensação, travelling in the same envelope (singular name: sic).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(value = "Vec::new()"))]
    pub processo_apensado: Vec<Processo>,
}

impl Processo {
    /// Every component of the process and its apensados, with the protocol it belongs to.
    #[must_use]
    pub fn components(&self) -> Vec<(&Protocolo, &Documento, &ComponenteDigital)> {
        let mut out = Vec::new();
        self.collect_components(&mut out);
        out
    }

    fn collect_components<'a>(
        &'a self,
        out: &mut Vec<(&'a Protocolo, &'a Documento, &'a ComponenteDigital)>,
    ) {
        if let Some(protocolo) = &self.protocolo {
            for documento in &self.documentos {
                for componente in &documento.componentes_digitais {
                    out.push((protocolo, documento, componente));
                }
            }
        }
        for apensado in &self.processo_apensado {
            apensado.collect_components(out);
        }
    }
}

/// A stand-alone document (`documentoAvulso`); gets a new NRE on every send.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentoAvulso {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocolo: Option<Protocolo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nivel_de_sigilo: Option<NivelDeSigilo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hipotese_legal: Option<HipoteseLegalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descricao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_producao: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_registro: Option<String>,
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produtor: Option<Produtor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub especie: Option<Especie>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identificacao: Option<Identificacao>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub interessados: Vec<Interessado>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub componentes_digitais: Vec<ComponenteDigital>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub itens_historico: Vec<ItemHistorico>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    crate::arb::json_round_trip! {
        estrutura_organizacional: EstruturaOrganizacional,
        propriedade_adicional: PropriedadeAdicional,
        cabecalho_de_processo: CabecalhoDeProcesso,
        cabecalho_de_documento: CabecalhoDeDocumento,
        hipotese_legal_ref: HipoteseLegalRef,
        interessado: Interessado,
        produtor: Produtor,
        especie: Especie,
        identificacao: Identificacao,
        componente_digital: ComponenteDigital,
        assinatura_digital: AssinaturaDigital,
        item_historico: ItemHistorico,
        documento: Documento,
        processo: Processo,
        documento_avulso: DocumentoAvulso,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// `processoApensado` is recursive; the derive leaves it empty, so nest one level here.
        #[test]
        fn processo_with_apensados(mut processo in any::<Processo>(), apensados in crate::arb::small_vec::<Processo>()) {
            processo.processo_apensado = apensados;
            let json = serde_json::to_string(&processo).unwrap();
            prop_assert_eq!(serde_json::from_str::<Processo>(&json).unwrap(), processo);
        }
    }

    #[test]
    fn singular_processo_apensado_and_plural_arrays() {
        let mut processo = Processo {
            protocolo: Some("1".into()),
            ..Processo::default()
        };
        processo.processo_apensado.push(Processo::default());
        processo.interessados.push(Interessado::named("Fulano"));
        let json = serde_json::to_value(&processo).unwrap();
        assert!(json.get("processoApensado").is_some(), "{json}");
        assert!(json.get("interessados").is_some());
        assert!(
            json.get("documentos").is_some(),
            "documentos is always written: clients iterate it"
        );
    }

    #[test]
    fn client_internal_members_are_accepted_and_dropped() {
        let json = r#"{"protocolo":"00394.000101/2025-61","idProcedimentoSEI":123,"staTipoProtocolo":"P",
            "documentos":[{"ordem":"1","idDocumentoSEI":9,"nivelDeSigilo":1,"componentesDigitais":[{"ordem":1,"idAnexo":5,"tamanhoEmBytes":"10"}]}]}"#;
        let processo: Processo = serde_json::from_str(json).unwrap();
        assert_eq!(processo.documentos[0].ordem, Some(1));
        assert_eq!(
            processo.documentos[0].nivel_de_sigilo,
            Some(NivelDeSigilo::Publico)
        );
        assert_eq!(
            processo.documentos[0].componentes_digitais[0].tamanho_em_bytes,
            Some(10)
        );
        let echoed = serde_json::to_string(&processo).unwrap();
        for internal in [
            "idProcedimentoSEI",
            "staTipoProtocolo",
            "idDocumentoSEI",
            "idAnexo",
        ] {
            assert!(
                !echoed.contains(internal),
                "{internal} leaked into {echoed}"
            );
        }
    }

    #[test]
    fn lenient_scalars_as_real_clients_send_them() {
        let e: EstruturaOrganizacional =
            serde_json::from_str(r#"{"identificacaoDoRepositorioDeEstruturas":"5","numeroDeIdentificacaoDaEstrutura":121390}"#)
                .unwrap();
        assert_eq!(e, EstruturaOrganizacional::new(5, "121390"));
        // SEI sends nivelDeSigilo as a string and the flag `urgencia` with the boolean in motivoDaUrgencia.
        let c: CabecalhoDeProcesso =
            serde_json::from_str(r#"{"urgencia":true,"motivoDaUrgencia":true,"enviarApenasComponentesDigitaisPendentes":"1","NRE":"0000025656262025"}"#)
                .unwrap();
        assert!(c.is_urgent());
        assert_eq!(c.motivo_da_urgencia, Some(MotivoDaUrgencia::Flag(true)));
        assert!(!c.wants_all_components());
        assert_eq!(
            serde_json::to_value(NivelDeSigilo::Restrito).unwrap(),
            serde_json::json!("2")
        );
        assert!(serde_json::from_str::<NivelDeSigilo>("4").is_err());
    }

    #[test]
    fn wants_all_components_under_both_member_names() {
        let only_pending = CabecalhoDeProcesso {
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..Default::default()
        };
        let all_new = CabecalhoDeProcesso {
            enviar_apenas_componentes_digitais_pendentes: Some(false),
            ..Default::default()
        };
        let all_old = CabecalhoDeProcesso {
            obrigar_envio_de_todos_os_componentes_digitais: Some(true),
            ..Default::default()
        };
        assert!(!only_pending.wants_all_components());
        assert!(all_new.wants_all_components());
        assert!(all_old.wants_all_components());
        assert!(!CabecalhoDeProcesso::default().wants_all_components());
    }
}
