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
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorioDeEstruturas {
    #[serde(deserialize_with = "lenient::u64")]
    pub id: u64,
    pub nome: String,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub ativo: bool,
}

/// An ancestor in `hierarquia` (root first).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub hierarquia: Vec<EstruturaResumida>,
}

/// `GET repositorios-de-estruturas/{rep}/estruturas-organizacionais?…` (paginated search).
/// `totalDeRegistros` is the total match count, not the page length.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstruturasEncontradas {
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub estruturas: Vec<Estrutura>,
    #[serde(deserialize_with = "lenient::u64")]
    pub total_de_registros: u64,
}

/// An entry of `GET especies`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EspecieDocumental {
    #[serde(deserialize_with = "lenient::u32")]
    pub codigo: u32,
    pub nome_no_produtor: String,
}

/// `GET especies`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Especies {
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub especies: Vec<EspecieDocumental>,
}

/// An entry of `GET hipoteses`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HipotesesLegais {
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub hipoteses_legais: Vec<HipoteseLegal>,
}

/// An entry of `GET motivosUrgencia`; its code is its position + 1.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MotivoUrgencia {
    pub descricao: String,
}

/// `GET motivosUrgencia`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MotivosUrgencia {
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub motivos_urgencia: Vec<MotivoUrgencia>,
}

// ---------------------------------------------------------------- opening a trâmite (§2.2, §2.3)

/// Body of `POST tramites/processo`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvioDeProcesso {
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default)]
    pub cabecalho: CabecalhoDeProcesso,
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default)]
    pub processo: Processo,
}

/// Body of `POST tramites/documento`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvioDeDocumento {
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default)]
    pub cabecalho: CabecalhoDeDocumento,
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default)]
    pub documento: DocumentoAvulso,
}

/// Components the platform wants uploaded, per protocol.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentesSolicitados {
    pub protocolo: String,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub hashes: Vec<String>,
}

/// Response of `POST tramites/processo` (and of a reproduction).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub processos_com_componentes_digitais_solicitados: Vec<ComponentesSolicitados>,
}

/// One trâmite created by `POST tramites/documento` (one per destinatário).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TramitesDeDocumentoCriados {
    pub ticket_para_envio_de_componentes_digitais: Ticket,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hora_de_registro_do_tramite: Option<Timestamp>,
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub tramites: Vec<TramiteDeDocumentoCriado>,
}

// ---------------------------------------------------------------- components (§2.4, §2.8)

/// Body of `POST …/partes/sinalizacao-termino-envio` and of the component downloads.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentificacaoDeComponente {
    pub hash_do_componente_digital: String,
    pub protocolo: String,
}

// ---------------------------------------------------------------- feed and reads (§2.5–2.7)

/// An item of `GET tramites/pendentes`: a trâmite that waits for the caller.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pendencia {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    pub status: Situacao,
}

/// Answer of the legacy long-poll host (`?idTramiteDaPendenciaRecebida=`).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendenciaLongPoll {
    pub encontrou: bool,
    #[serde(rename = "IDT", default, skip_serializing_if = "Option::is_none")]
    pub idt: Option<Idt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Situacao>,
}

/// `GET tramites/{idt}`: the metadata as stored, with the NRE under a lower-case `nre`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub urgente: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub motivo_da_urgencia: Option<u32>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub reproducao_de_tramite: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub reproducao_de_processo: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_para_reenvio_de_componentes_digitais: Option<Ticket>,
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processo: Option<Processo>,
    #[cfg_attr(test, proptest(strategy = "crate::arb::boxed()"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documento: Option<DocumentoAvulso>,
}

/// One entry of `mudancasDeSituacao`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MudancaDeSituacao {
    pub situacao: Situacao,
    pub data_hora: Timestamp,
}

/// An item of `GET tramites` (search).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub mudancas_de_situacao: Vec<MudancaDeSituacao>,
    /// What the recipient must download (and will sign); constant during reception.
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub hash_dos_componentes_pendentes_de_recebimento: Vec<String>,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub hash_dos_componentes_pendentes_de_envio: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub propriedades_adicionais: Vec<PropriedadeAdicional>,
}

impl Tramite {
    /// When the trâmite reached a situação, if it did.
    #[must_use]
    pub fn reached(&self, situacao: Situacao) -> Option<&Timestamp> {
        self.mudancas_de_situacao
            .iter()
            .find(|m| m.situacao == situacao)
            .map(|m| &m.data_hora)
    }
}

/// `GET tramites` response. `tramites[0]` is the most recent match.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsultaDeTramites {
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub tramites: Vec<Tramite>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_de_registros: Option<u64>,
}

// ---------------------------------------------------------------- receipts (§2.9)

/// Body of `POST tramites/{idt}/recibo`: the date as signed and the signature. IDT, NRE and the
/// hashes are not sent; the platform rebuilds the signed text from its own data.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvioDeReciboDeTramite {
    pub data_de_recebimento: String,
    /// The base64 RSA signature itself (not a hash of it, despite the name).
    pub hash_da_assinatura: String,
}

/// The `recibo` member of `GET tramites/{idt}/recibo`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReciboDeTramite {
    #[serde(rename = "IDT")]
    pub idt: Idt,
    #[serde(rename = "NRE")]
    pub nre: Nre,
    pub data_de_recebimento: String,
    #[serde(default)]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub hashes_dos_componentes_digitais: Vec<String>,
}

/// `GET tramites/{idt}/recibo` (sender): the recipient's signed recibo de conclusão.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConteudoDoReciboDeTramite {
    pub recibo: ReciboDeTramite,
    /// The signer's certificate, base64 DER.
    pub cadeia_do_certificado: String,
    pub hash_da_assinatura: String,
}

/// The `reciboDeEnvio` member of `GET tramites/{idt}/recibo-de-envio`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
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
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub hashes_dos_componentes_digitais: Vec<String>,
}

/// `GET tramites/{idt}/recibo-de-envio` (sender): signed by the platform.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConteudoDoReciboDeEnvio {
    pub recibo_de_envio: ReciboDeEnvio,
    pub cadeia_do_certificado: String,
    pub hash_da_assinatura: String,
}

// ---------------------------------------------------------------- refusal, reproduction (§2.11, §2.13)

/// Body of `POST tramites/{idt}/recusa`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recusa {
    /// 1..1000 characters.
    pub justificativa: String,
    pub motivo: MotivoRecusa,
}

/// Response of `POST NREs/{nre}/destinatarios/{rep}/{estrutura}/reproducoes-de-tramite`.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReproducaoDeTramite {
    pub tramite_de_processo_criado: TramiteDeProcessoCriado,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorBody;

    crate::arb::json_round_trip! {
        repositorio: RepositorioDeEstruturas,
        estrutura: Estrutura,
        estruturas_encontradas: EstruturasEncontradas,
        especies: Especies,
        hipoteses_legais: HipotesesLegais,
        motivos_urgencia: MotivosUrgencia,
        envio_de_processo: EnvioDeProcesso,
        envio_de_documento: EnvioDeDocumento,
        componentes_solicitados: ComponentesSolicitados,
        tramite_de_processo_criado: TramiteDeProcessoCriado,
        tramites_de_documento_criados: TramitesDeDocumentoCriados,
        identificacao_de_componente: IdentificacaoDeComponente,
        pendencia: Pendencia,
        pendencia_long_poll: PendenciaLongPoll,
        metadados: Metadados,
        tramite: Tramite,
        consulta_de_tramites: ConsultaDeTramites,
        envio_de_recibo: EnvioDeReciboDeTramite,
        conteudo_do_recibo_de_tramite: ConteudoDoReciboDeTramite,
        conteudo_do_recibo_de_envio: ConteudoDoReciboDeEnvio,
        recusa: Recusa,
        reproducao: ReproducaoDeTramite,
        error_body: ErrorBody,
    }

    /// Member names of the responses, pinned against the spec's examples (`rest-v3.md` §2).
    #[test]
    fn spec_examples_parse_and_keep_their_member_names() {
        let criado = r#"{"ticketParaEnvioDeComponentesDigitais":142,"dataHoraDeRegistroDoTramite":1421008044640,
            "processosComComponentesDigitaisSolicitados":[{"protocolo":"123456","hashes":["gCLLk9xsjfSbuq5Or9GK6f8oSvv+eCQs2O7XObXLW50="]}],
            "IDT":142,"NRE":"0000000018852015"}"#;
        let criado: TramiteDeProcessoCriado = serde_json::from_str(criado).unwrap();
        assert_eq!(criado.idt.0, 142);
        assert_eq!(
            criado.data_hora_de_registro_do_tramite,
            Some(Timestamp::EpochMillis(1_421_008_044_640))
        );
        let v = serde_json::to_value(&criado).unwrap();
        for member in [
            "IDT",
            "NRE",
            "ticketParaEnvioDeComponentesDigitais",
            "processosComComponentesDigitaisSolicitados",
        ] {
            assert!(v.get(member).is_some(), "{member} missing in {v}");
        }

        let metadados: Metadados = serde_json::from_str(
            r#"{"nre":"0000025656262025","processo":{"protocolo":"13990.811212/2020-00"}}"#,
        )
        .unwrap();
        let v = serde_json::to_value(&metadados).unwrap();
        assert_eq!(
            v["nre"], "0000025656262025",
            "metadata keep the lower-case nre"
        );
        assert!(v.get("NRE").is_none());

        let pendentes: Vec<Pendencia> =
            serde_json::from_str(r#"[ {"IDT": 999, "status": 2}, {"IDT": 1001, "status": 5} ]"#)
                .unwrap();
        assert_eq!(pendentes[1].status, Situacao::ReciboEnviadoDestinatario);
        assert_eq!(
            serde_json::to_string(&pendentes[0]).unwrap(),
            r#"{"IDT":999,"status":2}"#
        );

        let tramites = r#"{"tramites":[{"IDT":1234567,"NRE":"0000025656262025",
            "remetente":{"identificacaoDoRepositorioDeEstruturas":1,"numeroDeIdentificacaoDaEstrutura":"152254"},
            "destinatario":{"identificacaoDoRepositorioDeEstruturas":1,"numeroDeIdentificacaoDaEstrutura":"159098"},
            "situacaoAtual":4,"protocolo":"13990.811212/2020-00","motivoDaRecusa":null,"justificativaDaRecusa":null,
            "mudancasDeSituacao":[{"situacao":1,"dataHora":"2025-06-01T10:00:00.000-03:00"},{"situacao":4,"dataHora":"2025-06-01T10:02:07.000-03:00"}],
            "hashDosComponentesPendentesDeRecebimento":["a","b"],"hashDosComponentesPendentesDeEnvio":[]}],"totalDeRegistros":1}"#;
        let consulta: ConsultaDeTramites = serde_json::from_str(tramites).unwrap();
        let t = &consulta.tramites[0];
        assert_eq!(
            t.reached(Situacao::ComponentesRecebidosDestinatario),
            Some(&Timestamp::Text("2025-06-01T10:02:07.000-03:00".into()))
        );
        let v = serde_json::to_value(t).unwrap();
        assert!(
            v["motivoDaRecusa"].is_null() && v["justificativaDaRecusa"].is_null(),
            "refusal members are written as null"
        );

        let recibo = r#"{"recibo":{"IDT":1234567,"NRE":"0000025656262025","dataDeRecebimento":"2025-06-01T13:00:00.000Z",
            "hashesDosComponentesDigitais":["D152"]},"cadeiaDoCertificado":"MII","hashDaAssinatura":"c2ln"}"#;
        let recibo: ConteudoDoReciboDeTramite = serde_json::from_str(recibo).unwrap();
        assert_eq!(recibo.recibo.hashes_dos_componentes_digitais, ["D152"]);

        let recusa: Recusa =
            serde_json::from_str(r#"{"justificativa":"x","motivo":"99"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&recusa).unwrap(),
            r#"{"justificativa":"x","motivo":"99"}"#
        );

        let estrutura = r#"{"numeroDeIdentificacaoDaEstrutura":"159098","nome":"Mauro ORG1 Filha","sigla":"Mauro ORG1 Filha",
            "ativo":true,"unidadeReceptora":false,"aptoParaReceberTramites":true,"codigoNoOrgaoEntidade":"","codigoUnidadeReceptora":"",
            "tipoDeTramitacao":0,"hierarquia":[{"numeroDeIdentificacaoDaEstrutura":"152254","nome":"Órgão de Desenvolvimento ABC (FIRST) - ORGABC","sigla":"ORGABC"}]}"#;
        let e: Estrutura = serde_json::from_str(estrutura).unwrap();
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(estrutura).unwrap(),
            "Estrutura serialises exactly as the spec example"
        );
    }

    #[test]
    fn documento_avulso_response_one_trâmite_per_destinatario() {
        let r: TramitesDeDocumentoCriados = serde_json::from_str(
            r#"{"ticketParaEnvioDeComponentesDigitais":7,"tramites":[{"IDT":1,"NRE":"0000000000012025"},{"IDT":2,"NRE":"0000000000022025"}]}"#,
        )
        .unwrap();
        assert_eq!(r.tramites.len(), 2);
        assert_eq!(r.ticket_para_envio_de_componentes_digitais.0, 7);
    }
}
