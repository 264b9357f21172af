//! Request and response bodies of the REST v3 endpoints (`rest-v3.md` §2), one type per body.
//!
//! Upper-case members are the platform's (`IDT`, `NRE`), and so is the lower-case `nre` of the
//! metadata. Responses that the SEI module iterates are never empty bodies: lists serialise as
//! `[]`.

use serde::{Deserialize, Serialize};

use crate::ids::{Idt, Nre, Ticket};
use crate::lenient;
use crate::model::{
    CabecalhoDeDocumento, CabecalhoDeProcesso, DocumentoAvulso, EstruturaOrganizacional, Processo,
    PropriedadeAdicional,
};
use crate::situacao::Situacao;
use crate::tables::MotivoRecusa;

/// A timestamp in a platform response. ISO-8601 text by default; the Swagger example of
/// `dataHoraDeRegistroDoTramite` is epoch milliseconds, which the simulator can emit on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    Text(String),
    EpochMillis(i64),
}

impl Timestamp {
    /// The instant, whichever form it came in.
    ///
    /// # Errors
    /// When the text is in none of the accepted formats.
    pub fn parse(&self) -> Result<time::OffsetDateTime, crate::datetime::DateError> {
        match self {
            Timestamp::Text(t) => crate::datetime::parse(t),
            Timestamp::EpochMillis(ms) => crate::datetime::from_epoch_millis(*ms),
        }
    }
}

// ---------------------------------------------------------------- catalogue (§2.1)

/// `GET repositorios-de-estruturas` returns a bare array of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorioDeEstruturas {
    #[serde(deserialize_with = "lenient::u64")]
    pub id: u64,
    pub nome: String,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub ativo: bool,
}

/// An ancestor in `hierarquia` (root first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstruturaResumida {
    #[serde(deserialize_with = "lenient::string")]
    pub numero_de_identificacao_da_estrutura: String,
    pub nome: String,
    #[serde(default)]
    pub sigla: String,
}

/// `GET repositorios-de-estruturas/{rep}/estruturas-organizacionais/{id}` and the items of the
/// search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Estrutura {
    #[serde(deserialize_with = "lenient::string")]
    pub numero_de_identificacao_da_estrutura: String,
    pub nome: String,
    #[serde(default)]
    pub sigla: String,
    #[serde(default, deserialize_with = "lenient::bool_or_false")]
    pub ativo: bool,
    #[serde(default, deserialize_with = "lenient::bool_or_false")]
    pub unidade_receptora: bool,
    #[serde(default, deserialize_with = "lenient::bool_or_false")]
    pub apto_para_receber_tramites: bool,
    #[serde(default)]
    pub codigo_no_orgao_entidade: String,
    #[serde(default)]
    pub codigo_unidade_receptora: String,
    #[serde(default)]
    pub tipo_de_tramitacao: i64,
    #[serde(default)]
    pub hierarquia: Vec<EstruturaResumida>,
}

/// `GET repositorios-de-estruturas/{rep}/estruturas-organizacionais?…` (paginated search).
/// `totalDeRegistros` is the total match count, not the page length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstruturasEncontradas {
    #[serde(default)]
    pub estruturas: Vec<Estrutura>,
    #[serde(deserialize_with = "lenient::u64")]
    pub total_de_registros: u64,
}

/// An entry of `GET especies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EspecieDocumental {
    #[serde(deserialize_with = "lenient::u32")]
    pub codigo: u32,
    pub nome_no_produtor: String,
}

/// `GET especies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Especies {
    pub especies: Vec<EspecieDocumental>,
}

/// An entry of `GET hipoteses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HipoteseLegal {
    #[serde(deserialize_with = "lenient::u64")]
    pub identificacao: u64,
    pub nome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_legal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descricao: Option<String>,
    /// Active flag.
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub status: bool,
}

/// `GET hipoteses?ativos=1|0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HipotesesLegais {
    pub hipoteses_legais: Vec<HipoteseLegal>,
}

/// An entry of `GET motivosUrgencia`; its code is its position + 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MotivoUrgencia {
    pub descricao: String,
}

/// `GET motivosUrgencia`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MotivosUrgencia {
    pub motivos_urgencia: Vec<MotivoUrgencia>,
}

// ---------------------------------------------------------------- opening a trâmite (§2.2, §2.3)

/// Body of `POST tramites/processo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvioDeProcesso {
    #[serde(default)]
    pub cabecalho: CabecalhoDeProcesso,
    #[serde(default)]
    pub processo: Processo,
}

/// Body of `POST tramites/documento`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvioDeDocumento {
    #[serde(default)]
    pub cabecalho: CabecalhoDeDocumento,
    #[serde(default)]
    pub documento: DocumentoAvulso,
}

/// Components the platform wants uploaded, per protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentesSolicitados {
    pub protocolo: String,
    #[serde(default)]
    pub hashes: Vec<String>,
}

/// Response of `POST tramites/processo` (and of a reproduction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TramiteDeProcessoCriado {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    #[serde(rename = "NRE")]
    pub nre: Nre,
    pub ticket_para_envio_de_componentes_digitais: Ticket,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_registro_do_tramite: Option<Timestamp>,
    #[serde(default)]
    pub processos_com_componentes_digitais_solicitados: Vec<ComponentesSolicitados>,
}

/// One trâmite created by `POST tramites/documento` (one per destinatário).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TramiteDeDocumentoCriado {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    #[serde(rename = "NRE")]
    pub nre: Nre,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinatario: Option<EstruturaOrganizacional>,
}

/// Response of `POST tramites/documento`: one ticket for every trâmite created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TramitesDeDocumentoCriados {
    pub ticket_para_envio_de_componentes_digitais: Ticket,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_registro_do_tramite: Option<Timestamp>,
    pub tramites: Vec<TramiteDeDocumentoCriado>,
}

// ---------------------------------------------------------------- components (§2.4, §2.8)

/// Body of `POST …/partes/sinalizacao-termino-envio` and of the component downloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentificacaoDeComponente {
    pub hash_do_componente_digital: String,
    pub protocolo: String,
}

// ---------------------------------------------------------------- feed and reads (§2.5–2.7)

/// An item of `GET tramites/pendentes`: a trâmite that waits for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pendencia {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    pub status: Situacao,
}

/// Answer of the legacy long-poll host (`?idTramiteDaPendenciaRecebida=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendenciaLongPoll {
    pub encontrou: bool,
    #[serde(rename = "IDT", default, skip_serializing_if = "Option::is_none")]
    pub idt: Option<Idt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Situacao>,
}

/// `GET tramites/{idt}`: the metadata as stored, with the NRE under a lower-case `nre`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadados {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nre: Option<Nre>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remetente: Option<EstruturaOrganizacional>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinatario: Option<EstruturaOrganizacional>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unidade_receptora: Option<EstruturaOrganizacional>,
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub urgente: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_u32", skip_serializing_if = "Option::is_none")]
    pub motivo_da_urgencia: Option<u32>,
    #[serde(default)]
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub reproducao_de_tramite: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub reproducao_de_processo: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_para_reenvio_de_componentes_digitais: Option<Ticket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processo: Option<Processo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documento: Option<DocumentoAvulso>,
}

/// One entry of `mudancasDeSituacao`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MudancaDeSituacao {
    pub situacao: Situacao,
    pub data_hora: Timestamp,
}

/// An item of `GET tramites` (search).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tramite {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    #[serde(rename = "NRE")]
    pub nre: Nre,
    pub remetente: EstruturaOrganizacional,
    pub destinatario: EstruturaOrganizacional,
    pub situacao_atual: Situacao,
    pub protocolo: String,
    /// `null` unless refused; the SEI module drops null members.
    #[serde(default)]
    pub motivo_da_recusa: Option<MotivoRecusa>,
    #[serde(default)]
    pub justificativa_da_recusa: Option<String>,
    #[serde(default)]
    pub mudancas_de_situacao: Vec<MudancaDeSituacao>,
    /// What the recipient must download (and will sign); constant during reception.
    #[serde(default)]
    pub hash_dos_componentes_pendentes_de_recebimento: Vec<String>,
    #[serde(default)]
    pub hash_dos_componentes_pendentes_de_envio: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
}

impl Tramite {
    /// When the trâmite reached a situação, if it did.
    #[must_use]
    pub fn reached(&self, situacao: Situacao) -> Option<&Timestamp> {
        self.mudancas_de_situacao.iter().find(|m| m.situacao == situacao).map(|m| &m.data_hora)
    }
}

/// `GET tramites` response. `tramites[0]` is the most recent match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsultaDeTramites {
    #[serde(default)]
    pub tramites: Vec<Tramite>,
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub total_de_registros: Option<u64>,
}

// ---------------------------------------------------------------- receipts (§2.9)

/// Body of `POST tramites/{idt}/recibo`: the date as signed and the signature. IDT, NRE and the
/// hashes are not sent; the platform rebuilds the signed text from its own data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvioDeReciboDeTramite {
    pub data_de_recebimento: String,
    /// The base64 RSA signature itself (not a hash of it, despite the name).
    pub hash_da_assinatura: String,
}

/// The `recibo` member of `GET tramites/{idt}/recibo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReciboDeTramite {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    #[serde(rename = "NRE")]
    pub nre: Nre,
    pub data_de_recebimento: String,
    #[serde(default)]
    pub hashes_dos_componentes_digitais: Vec<String>,
}

/// `GET tramites/{idt}/recibo` (sender): the recipient's signed recibo de conclusão.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConteudoDoReciboDeTramite {
    pub recibo: ReciboDeTramite,
    /// The signer's certificate, base64 DER.
    pub cadeia_do_certificado: String,
    pub hash_da_assinatura: String,
}

/// The `reciboDeEnvio` member of `GET tramites/{idt}/recibo-de-envio`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReciboDeEnvio {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    #[serde(rename = "NRE")]
    pub nre: Nre,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_de_recebimento_do_ultimo_componente_digital: Option<String>,
    #[serde(default)]
    pub hashes_dos_componentes_digitais: Vec<String>,
}

/// `GET tramites/{idt}/recibo-de-envio` (sender): signed by the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConteudoDoReciboDeEnvio {
    pub recibo_de_envio: ReciboDeEnvio,
    pub cadeia_do_certificado: String,
    pub hash_da_assinatura: String,
}

// ---------------------------------------------------------------- refusal, reproduction (§2.11, §2.13)

/// Body of `POST tramites/{idt}/recusa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recusa {
    /// 1..1000 characters.
    pub justificativa: String,
    pub motivo: MotivoRecusa,
}

/// Response of `POST NREs/{nre}/destinatarios/{rep}/{estrutura}/reproducoes-de-tramite`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReproducaoDeTramite {
    pub tramite_de_processo_criado: TramiteDeProcessoCriado,
}
