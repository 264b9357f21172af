//! The platform's error body and the catalogue of its error codes and message texts
//! (`rest-v3.md` §3), as data: the simulator produces errors from this table and the harness and
//! the client recognise them from the same table.
//!
//! Codes the public sources show (`0004`, `0005`, `0024`, `0044`, `0047`, `0055`) keep their
//! numbers. Texts seen without a code, and conditions the sources never show an error for, get a
//! code from the private range `9xxx`, flagged [`ErrorDefinition::simulator_specific`]; where the
//! text itself is ours and not the platform's, [`ErrorDefinition::text_seen`] is `false`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `{codigoErro, mensagem, parametro[]}`: every error answer of the platform.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Four-digit zero-padded string.
    pub codigo_erro: String,
    pub mensagem: String,
    /// The variables of the message, in template order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::small_vec()"))]
    pub parametro: Vec<Parametro>,
}

/// One variable of an error message.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parametro {
    pub chave: String,
    pub valor: String,
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} - {}", self.codigo_erro, self.mensagem)
    }
}

impl ErrorBody {
    /// Which catalogue entry this body is, by code and, where several entries share a code, by
    /// the shape of the message.
    #[must_use]
    pub fn kind(&self) -> Option<ErrorKind> {
        let mut candidates = CATALOGUE.iter().filter(|d| d.code == self.codigo_erro);
        let first = candidates.next()?;
        let rest: Vec<_> = candidates.collect();
        if rest.is_empty() {
            return Some(first.kind);
        }
        std::iter::once(first)
            .chain(rest)
            .find(|d| d.matches(&self.mensagem))
            .map(|d| d.kind)
    }

    /// The value of a named parameter.
    #[must_use]
    pub fn parametro(&self, chave: &str) -> Option<&str> {
        self.parametro
            .iter()
            .find(|p| p.chave == chave)
            .map(|p| p.valor.as_str())
    }
}

/// Every error the simulator can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `0004` — secret (`nivelDeSigilo` 3) material cannot travel.
    NivelDeSigiloNaoPermitido,
    /// `0005` — unit code not valid for the caller (SOAP era).
    CodigoDeUnidadeIncorreto,
    /// `0024` — recibo de conclusão not accepted.
    ReciboNaoAceito,
    /// `0044` — the NRE already has a trâmite in progress.
    TramiteEmAndamento,
    /// `0044` — reproduction asked while one is open for that recipient.
    TramiteEmAndamentoParaDestinatario,
    /// `0047` — a document already sent under this NRE changed its component hashes.
    HashDeDocumentoInconsistente,
    /// `0055` — structure not found in the repository.
    EstruturaNaoEncontrada,
    /// Certificate valid but registered for no SPE.
    CertificadoNaoAutorizado,
    /// The caller is not responsible for the remetente structure.
    RemetenteNaoAutorizado,
    /// Remetente unit mapped to an organisation the caller's gestor does not manage.
    UnidadeMapeadaErrada,
    /// Bean-validation errors of the open call.
    ValidacaoDeCampos,
    /// The protocol number of a known NRE changed.
    ProtocoloInconsistente,
    /// (SOAP era) the espécie of an already-sent document changed.
    EspecieNaoConfere,
    /// A part lies beyond `tamanhoEmBytes`.
    ParteUltrapassaTamanho,
    /// The binary was purged.
    BinarioIndisponivel,
    /// Recibo de envio asked before every requested component arrived.
    ComponentesNaoRecebidos,
    /// Reproduction with nothing to re-send.
    ReproducaoSemComponentes,
    /// A reproduction or re-send names an NRE the platform never issued.
    NreNaoEncontrado,
    /// The destination structure is inactive, cannot receive, or has no system behind it.
    EstruturaNaoApta,
    /// The trâmite does not exist.
    TramiteNaoEncontrado,
    /// The caller is neither sender nor recipient of the trâmite (or no longer sees it).
    TramiteNaoAutorizado,
    /// The operation is not allowed in the trâmite's situação.
    SituacaoNaoPermitida,
    /// Unknown, foreign or expired upload ticket.
    TicketInvalido,
    /// The component was not requested in this trâmite.
    ComponenteNaoSolicitado,
    /// The bytes do not hash to the declared value.
    HashNaoConfere,
    /// The bytes are not as long as declared.
    TamanhoNaoConfere,
    /// The parts received leave gaps.
    PartesIncompletas,
    /// The body exceeds its maximum.
    CorpoMuitoGrande,
    /// The request could not be read (malformed JSON, multipart, parameter).
    RequisicaoInvalida,
    /// No such resource.
    RecursoNaoEncontrado,
    /// Injected outage or internal failure.
    ServicoIndisponivel,
    /// A known path called with a method it does not serve.
    MetodoNaoPermitido,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorDefinition {
    pub kind: ErrorKind,
    pub code: &'static str,
    /// HTTP status the simulator uses by default (the real platform answered business errors
    /// with 500; the simulator can be told to do the same).
    pub http_status: u16,
    /// Message with `{name}` placeholders, one per entry of `parametros`.
    pub template: &'static str,
    pub parametros: &'static [&'static str],
    /// The code is ours (the real one is unknown or there is none).
    pub simulator_specific: bool,
    /// The message text was seen in public sources (otherwise it is ours).
    pub text_seen: bool,
    /// Where the fact comes from.
    pub source: &'static str,
}

macro_rules! def {
    ($kind:ident, $code:literal, $status:literal, $template:literal, [$($p:literal),*], specific=$s:literal, seen=$seen:literal, $src:literal) => {
        ErrorDefinition {
            kind: ErrorKind::$kind,
            code: $code,
            http_status: $status,
            template: $template,
            parametros: &[$($p),*],
            simulator_specific: $s,
            text_seen: $seen,
            source: $src,
        }
    };
}

/// The catalogue. Texts are the platform's, to the character, where `text_seen`.
pub static CATALOGUE: &[ErrorDefinition] = &[
    def!(NivelDeSigiloNaoPermitido, "0004", 500,
        "Apenas entidades de nível de sigílo público ou restrito podem ser tramitados pelo barramento.",
        [], specific=false, seen=true, "rest-v3.md §3.2 (TramiteSincronizacaoMultiplosOrgaoDocumentoSigilosoTest L179)"),
    def!(CodigoDeUnidadeIncorreto, "0005", 500,
        "O código mapeado para a unidade {unidade} está incorreto.",
        ["unidade"], specific=false, seen=false, "rest-v3.md §3.2 (SOAP era; the client appended this text)"),
    def!(ReciboNaoAceito, "0024", 500,
        "Recibo de conclusão de trâmite não aceito: {motivo}",
        ["motivo"], specific=false, seen=false, "rest-v3.md §2.9 (SUAP tests codigoErro 0024 on POST recibo)"),
    def!(TramiteEmAndamento, "0044", 500,
        "NRE, '{nre}', já possui trâmite em andamento",
        ["nre"], specific=false, seen=false, "rest-v3.md §3.2 (substring 'já possui trâmite em andamento' is what clients match)"),
    def!(TramiteEmAndamentoParaDestinatario, "0044", 500,
        "NRE, '{nre}', já possui trâmite em andamento para este destinatário",
        ["nre"], specific=false, seen=true, "rest-v3.md §2.13 (PERN L2889)"),
    def!(HashDeDocumentoInconsistente, "0047", 500,
        "Inconsistência identificada no documento de ordem '{ordem}' do processo tramitado por este NRE, '{nre}', com protocolo '{protocolo}': hash de ao menos um componente digital não confere",
        ["ordem", "nre", "protocolo"], specific=false, seen=true, "rest-v3.md §3.1 (I#882)"),
    def!(EstruturaNaoEncontrada, "0055", 404,
        "Estrutura organizacional '{estrutura}' não encontrada no repositório de estruturas '{repositorio}'.",
        ["estrutura", "repositorio"], specific=false, seen=false, "rest-v3.md §2.1.2 (code seen; the client replaces the text)"),
    def!(CertificadoNaoAutorizado, "9001", 403,
        "Transação não autorizada devido a falta de integridade do seu certificado com common name {commonName}",
        ["commonName"], specific=true, seen=true, "model §2.2 P1 (SOAP-era fault text)"),
    def!(RemetenteNaoAutorizado, "9002", 403,
        "Transação não autorizada, pois o sistema não é responsável pela estrutura organizacional remetente",
        [], specific=true, seen=true, "model §2.2 P2 (I#332)"),
    def!(UnidadeMapeadaErrada, "9003", 403,
        "A unidade {nome} ({id}) foi mapeada de forma errada. Desse modo, entre em contato com os Gestores do seu órgão e informe que o mapeamento não está correto.",
        ["nome", "id"], specific=true, seen=true, "rest-v3.md §1.3 (TramiteProcessoGestorNaoResponsavelPelaUnidadeMapeadaTest L104)"),
    def!(ValidacaoDeCampos, "9010", 400,
        "Os seguintes erros de validação de campos foram identificados: {erros}",
        ["erros"], specific=true, seen=true, "rest-v3.md §3.2 (CHANGELOG-4.0.0 L35)"),
    def!(ProtocoloInconsistente, "9011", 500,
        "Inconsistência no número de protocolo do processo tramitado por este NRE {nre}. Protocolo anterior: {anterior} atual: {atual}",
        ["nre", "anterior", "atual"], specific=true, seen=true, "rest-v3.md §3.2 (SA/Diferenca_entre_o_numero_de_protocolo…)"),
    def!(EspecieNaoConfere, "9012", 500,
        "Espécie do documento de ordem {ordem} não confere",
        ["ordem"], specific=true, seen=true, "rest-v3.md §3.2 (CHANGELOG-2.1.0 L28, SOAP era)"),
    def!(ParteUltrapassaTamanho, "9013", 400,
        "A parte informada ultrapassa o tamanho do componente digital informado nos metadados do trâmite",
        [], specific=true, seen=true, "rest-v3.md §2.4.2 (SA/Metadados_Erro_A_parte_informada_ultrapassa…)"),
    def!(BinarioIndisponivel, "9014", 410,
        "Arquivo binário com hash, '{hash}', não está mais disponível, por favor contacte o sistema remetente.",
        ["hash"], specific=true, seen=true, "rest-v3.md §2.8 (SA/ERRO_DE_PROCESSOS_TRAVADOS_NO_STATUS_4 L45)"),
    def!(ComponentesNaoRecebidos, "9015", 409,
        "Trâmite com idt, {idt}, ainda não recebeu todos os componentes digitais",
        ["idt"], specific=true, seen=true, "rest-v3.md §2.9 (I#575; IDT with thousands separators)"),
    def!(ReproducaoSemComponentes, "9016", 409,
        "Não é possível executar o serviço de reprodução de trâmite do processo {protocolo}, pois não há componentes digitais válidos a serem reproduzidos",
        ["protocolo"], specific=true, seen=true, "rest-v3.md §2.13 (PERN L2891)"),
    def!(NreNaoEncontrado, "9017", 404,
        "NRE, '{nre}', não encontrado.",
        ["nre"], specific=true, seen=false, "simulator (rest-v3.md §5.1)"),
    def!(EstruturaNaoApta, "9018", 400,
        "A estrutura organizacional '{estrutura}' do repositório '{repositorio}' não está apta a receber trâmites.",
        ["estrutura", "repositorio"], specific=true, seen=false, "simulator (rest-v3.md §8 item 11: aptoParaReceberTramites)"),
    def!(TramiteNaoEncontrado, "9100", 404,
        "Trâmite com idt, {idt}, não encontrado.",
        ["idt"], specific=true, seen=false, "simulator"),
    def!(TramiteNaoAutorizado, "9101", 403,
        "Transação não autorizada, pois o sistema não é remetente nem destinatário do trâmite {idt}.",
        ["idt"], specific=true, seen=false, "simulator (MANUAL-2025-03 L164: only sender and recipient see a trâmite)"),
    def!(SituacaoNaoPermitida, "9102", 409,
        "Operação {operacao} não permitida para o trâmite {idt} na situação {situacao} ({descricao}).",
        ["operacao", "idt", "situacao", "descricao"], specific=true, seen=false, "simulator (rest-v3.md §4.2)"),
    def!(TicketInvalido, "9103", 404,
        "Ticket de envio de componentes digitais {ticket} inválido ou expirado.",
        ["ticket"], specific=true, seen=false, "simulator (rest-v3.md §5.3)"),
    def!(ComponenteNaoSolicitado, "9104", 400,
        "Componente digital com hash '{hash}' não foi solicitado para o protocolo '{protocolo}' neste trâmite.",
        ["hash", "protocolo"], specific=true, seen=false, "simulator (rest-v3.md §2.4.1)"),
    def!(HashNaoConfere, "9105", 400,
        "O hash do conteúdo recebido, '{calculado}', não confere com o hash informado, '{hash}'.",
        ["calculado", "hash"], specific=true, seen=false, "simulator (model §2.2 P8)"),
    def!(TamanhoNaoConfere, "9106", 400,
        "O tamanho do componente digital recebido, {recebido} bytes, não confere com o informado nos metadados do trâmite, {informado} bytes.",
        ["recebido", "informado"], specific=true, seen=false, "simulator (rest-v3.md §2.4.3)"),
    def!(PartesIncompletas, "9107", 400,
        "As partes recebidas do componente digital '{hash}' não cobrem todo o seu conteúdo: {faltam} bytes faltando.",
        ["hash", "faltam"], specific=true, seen=false, "simulator (rest-v3.md §2.4.3)"),
    def!(CorpoMuitoGrande, "9108", 413,
        "O corpo da requisição excede o limite de {limite} bytes.",
        ["limite"], specific=true, seen=false, "simulator"),
    def!(RequisicaoInvalida, "9109", 400,
        "Requisição inválida: {detalhe}",
        ["detalhe"], specific=true, seen=false, "simulator"),
    def!(RecursoNaoEncontrado, "9110", 404,
        "Recurso não encontrado: {caminho}",
        ["caminho"], specific=true, seen=false, "simulator"),
    def!(ServicoIndisponivel, "9111", 503,
        "Serviço temporariamente indisponível. Por favor, tente novamente mais tarde.",
        [], specific=true, seen=false, "simulator (fault injection)"),
    def!(MetodoNaoPermitido, "9112", 405,
        "Método {metodo} não permitido para {caminho}",
        ["metodo", "caminho"], specific=true, seen=false, "simulator"),
];

impl ErrorKind {
    /// The catalogue entry of this kind.
    #[must_use]
    pub fn definition(self) -> &'static ErrorDefinition {
        // Every kind has exactly one entry; a test pins it.
        CATALOGUE
            .iter()
            .find(|d| d.kind == self)
            .unwrap_or(&CATALOGUE[CATALOGUE.len() - 1])
    }

    #[must_use]
    pub fn code(self) -> &'static str {
        self.definition().code
    }

    /// The error body with the message filled in. `args` are `(name, value)` pairs; every
    /// placeholder of the template should have one (a missing one is left as `{name}`).
    #[must_use]
    pub fn body(self, args: &[(&str, &str)]) -> ErrorBody {
        let def = self.definition();
        let lookup = |name: &str| args.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let mut mensagem = String::with_capacity(def.template.len() + 32);
        let mut rest = def.template;
        while let Some(start) = rest.find('{') {
            mensagem.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('}') {
                Some(end) => {
                    let name = &after[..end];
                    match lookup(name) {
                        Some(v) => mensagem.push_str(v),
                        None => {
                            mensagem.push('{');
                            mensagem.push_str(name);
                            mensagem.push('}');
                        }
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    mensagem.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        mensagem.push_str(rest);
        ErrorBody {
            codigo_erro: def.code.to_owned(),
            mensagem,
            parametro: def
                .parametros
                .iter()
                .filter_map(|&chave| {
                    lookup(chave).map(|v| Parametro {
                        chave: chave.to_owned(),
                        valor: v.to_owned(),
                    })
                })
                .collect(),
        }
    }
}

impl ErrorDefinition {
    /// Whether a message could have come from this template: its literal pieces appear in order.
    #[must_use]
    pub fn matches(&self, mensagem: &str) -> bool {
        let mut rest = mensagem;
        let mut template = self.template;
        let mut anchored = true;
        loop {
            let (literal, next) = match template.find('{') {
                Some(i) => {
                    let close = template[i..]
                        .find('}')
                        .map_or(template.len(), |j| i + j + 1);
                    (&template[..i], Some(&template[close..]))
                }
                None => (template, None),
            };
            match (anchored, next) {
                (true, None) => return rest == literal,
                (false, None) => return rest.ends_with(literal),
                (true, Some(_)) => match rest.strip_prefix(literal) {
                    Some(r) => rest = r,
                    None => return false,
                },
                (false, Some(_)) => match rest.find(literal) {
                    Some(i) => rest = &rest[i + literal.len()..],
                    None => return false,
                },
            }
            if let Some(t) = next {
                template = t;
                anchored = false;
            }
        }
    }
}

/// Formats field validation errors the way the platform lists them after
/// `Os seguintes erros de validação de campos foram identificados: ` (`- a b`, as seen).
#[must_use]
pub fn validation_list<S: AsRef<str>>(errors: &[S]) -> String {
    let joined: Vec<&str> = errors.iter().map(AsRef::as_ref).collect();
    format!("- {}", joined.join(" "))
}
