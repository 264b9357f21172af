//! The refusals a receiving system sends (`POST tramites/{idt}/recusa`) and the texts it sends
//! with them, in the words of the reference integrator (`model-receipts-soap.md` §2.4,
//! `rest-v3.md` §3.3).
//!
//! They are not platform rules: the platform only carries `{motivo, justificativa}`. They live in
//! this crate because two parties must agree on them to the character: the reference agent that
//! writes them and the conformance harness that recognises them in a SUT's refusal.
//!
//! Texts marked *seen* are the SEI module's (`mod-sei-pen`), published in its changelog, manual
//! and functional tests; the ones marked *ours* cover policies the module has no text for, in its
//! style (statement, then the standard `OBS`).

use crate::tables::MotivoRecusa;

/// The sentence every refusal text of the SEI module ends with (seen: MANUAL L291-297).
pub const OBS: &str =
    "OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.";

/// Why a receiving system refuses a trâmite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Motivo `04` (seen, RCV L799): `nome` is the type as the sender named it.
    EspecieNaoMapeada { nome: String },
    /// Motivo `01` (seen, RCV L2564-2593): `extensao` is the text after the last `.` of the name.
    FormatoNaoPermitido { extensao: String },
    /// Motivo `02` (seen, RCD L278-296): `ordem` of the component in its document.
    HashNaoConfere { ordem: u32 },
    /// Motivo `99` (seen, RCV L2963-2970): the global limit `SEI_TAM_MB_DOC_EXTERNO`.
    TamanhoMaximoGeral { mb: u64 },
    /// Motivo `99` (seen, RCV L2936-2962): the per-extension limit.
    TamanhoMaximoDaExtensao { extensao: String, mb: u64 },
    /// Motivo `99` (seen, RCV L805-821): `tamanhoEmBytes` missing or zero.
    TamanhoNaoInformado,
    /// Motivo `99` (seen, RCV L1216-1233): a process with this NUP exists locally under another
    /// NRE (or none): it did not come back, it is a different process.
    ProtocoloJaExiste { protocolo: String },
    /// Motivo `99` (ours): the local policy does not take documents without a signature.
    DocumentoSemAssinatura { protocolo: String },
    /// Motivo `99` (ours, after the sender-side text of EXP L2286).
    InteressadosNaoInformados { protocolo: String },
    /// Motivo `99` (ours, after the sender-side text of EXP L2282).
    DescricaoNaoInformada { protocolo: String },
    /// Motivo `99` (seen, PPR L252-287): any other failure of the reception, with its text.
    Falha { mensagem: String },
}

/// Most characters a `justificativa` may carry (`rest-v3.md` §6.3).
pub const MAX_JUSTIFICATIVA: usize = 1000;

impl Refusal {
    #[must_use]
    pub fn motivo(&self) -> MotivoRecusa {
        match self {
            Refusal::EspecieNaoMapeada { .. } => MotivoRecusa::EspecieNaoMapeada,
            Refusal::FormatoNaoPermitido { .. } => MotivoRecusa::FormatoNaoSuportado,
            Refusal::HashNaoConfere { .. } => MotivoRecusa::ComponenteCorrompido,
            _ => MotivoRecusa::Outro,
        }
    }

    /// The `justificativa`, at most [`MAX_JUSTIFICATIVA`] characters (longer texts end in
    /// ` ...`, as the SEI module truncates).
    #[must_use]
    pub fn justificativa(&self) -> String {
        let text = match self {
            Refusal::EspecieNaoMapeada { nome } => format!(
                "O Documento do tipo {nome} não está mapeado para recebimento no sistema de destino. {OBS}"
            ),
            Refusal::FormatoNaoPermitido { extensao } => format!(
                "O formato {extensao} não é permitido pelo sistema de destino. Lembre-se que cada \
                 órgão/entidade tem autonomia na definição de quantos e quais formatos de arquivo \
                 são aceitos pelo seu sistema. {OBS}"
            ),
            Refusal::HashNaoConfere { ordem } => format!(
                "Hash do componente digital de ordem {ordem} não confere com o valor informado pelo remetente."
            ),
            Refusal::TamanhoMaximoGeral { mb } => format!(
                "O tamanho máximo geral permitido para documentos externos é {mb} Mb. {OBS}"
            ),
            Refusal::TamanhoMaximoDaExtensao { extensao, mb } => format!(
                "O tamanho máximo permitido para arquivos {} é {mb} Mb. {OBS}",
                extensao.to_uppercase()
            ),
            Refusal::TamanhoNaoInformado => {
                "Módulo do Tramita: Tamanho de componente digital não informado.".to_owned()
            }
            Refusal::ProtocoloJaExiste { protocolo } => format!(
                "Um processo com o número de protocolo {protocolo} já existe no sistema de destino. {OBS}"
            ),
            Refusal::DocumentoSemAssinatura { protocolo } => format!(
                "O documento {protocolo} não possui assinatura digital e o sistema de destino não \
                 aceita documentos sem assinatura. {OBS}"
            ),
            Refusal::InteressadosNaoInformados { protocolo } => {
                format!("Interessados do processo {protocolo} não informados. {OBS}")
            }
            Refusal::DescricaoNaoInformada { protocolo } => {
                format!("Descrição do processo {protocolo} não informado. {OBS}")
            }
            Refusal::Falha { mensagem } => mensagem.clone(),
        };
        truncate(&text)
    }

    /// Which kind of refusal a justificativa states, for a harness reading a SUT's refusal. Texts
    /// are matched on their fixed parts, so any parameters (and a truncated `OBS`) match.
    #[must_use]
    pub fn recognise(justificativa: &str) -> Option<RefusalKind> {
        RefusalKind::ALL.into_iter().find(|kind| {
            kind.markers()
                .iter()
                .all(|marker| justificativa.contains(marker))
        })
    }

    #[must_use]
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::EspecieNaoMapeada { .. } => RefusalKind::EspecieNaoMapeada,
            Refusal::FormatoNaoPermitido { .. } => RefusalKind::FormatoNaoPermitido,
            Refusal::HashNaoConfere { .. } => RefusalKind::HashNaoConfere,
            Refusal::TamanhoMaximoGeral { .. } => RefusalKind::TamanhoMaximoGeral,
            Refusal::TamanhoMaximoDaExtensao { .. } => RefusalKind::TamanhoMaximoDaExtensao,
            Refusal::TamanhoNaoInformado => RefusalKind::TamanhoNaoInformado,
            Refusal::ProtocoloJaExiste { .. } => RefusalKind::ProtocoloJaExiste,
            Refusal::DocumentoSemAssinatura { .. } => RefusalKind::DocumentoSemAssinatura,
            Refusal::InteressadosNaoInformados { .. } => RefusalKind::InteressadosNaoInformados,
            Refusal::DescricaoNaoInformada { .. } => RefusalKind::DescricaoNaoInformada,
            Refusal::Falha { .. } => RefusalKind::Falha,
        }
    }
}

/// [`Refusal`] without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    EspecieNaoMapeada,
    FormatoNaoPermitido,
    HashNaoConfere,
    TamanhoMaximoGeral,
    TamanhoMaximoDaExtensao,
    TamanhoNaoInformado,
    ProtocoloJaExiste,
    DocumentoSemAssinatura,
    InteressadosNaoInformados,
    DescricaoNaoInformada,
    Falha,
}

impl RefusalKind {
    /// Every kind with a recognisable text (`Falha` last: it has none).
    pub const ALL: [RefusalKind; 11] = [
        RefusalKind::EspecieNaoMapeada,
        RefusalKind::FormatoNaoPermitido,
        RefusalKind::HashNaoConfere,
        RefusalKind::TamanhoMaximoGeral,
        RefusalKind::TamanhoMaximoDaExtensao,
        RefusalKind::TamanhoNaoInformado,
        RefusalKind::ProtocoloJaExiste,
        RefusalKind::DocumentoSemAssinatura,
        RefusalKind::InteressadosNaoInformados,
        RefusalKind::DescricaoNaoInformada,
        RefusalKind::Falha,
    ];

    fn markers(self) -> &'static [&'static str] {
        match self {
            RefusalKind::EspecieNaoMapeada => &[
                "O Documento do tipo ",
                " não está mapeado para recebimento no sistema de destino",
            ],
            RefusalKind::FormatoNaoPermitido => {
                &["O formato ", " não é permitido pelo sistema de destino"]
            }
            RefusalKind::HashNaoConfere => &[
                "Hash do componente digital de ordem ",
                " não confere com o valor informado pelo remetente",
            ],
            RefusalKind::TamanhoMaximoGeral => {
                &["O tamanho máximo geral permitido para documentos externos é "]
            }
            RefusalKind::TamanhoMaximoDaExtensao => &["O tamanho máximo permitido para arquivo"],
            RefusalKind::TamanhoNaoInformado => &["Tamanho de componente digital não informado"],
            RefusalKind::ProtocoloJaExiste => &[
                "Um processo com o número de protocolo ",
                " já existe no sistema de destino",
            ],
            RefusalKind::DocumentoSemAssinatura => &[" não possui assinatura digital"],
            RefusalKind::InteressadosNaoInformados => {
                &["Interessados do processo ", " não informados"]
            }
            RefusalKind::DescricaoNaoInformada => &["Descrição do processo ", " não informado"],
            RefusalKind::Falha => &[],
        }
    }
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_JUSTIFICATIVA {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_JUSTIFICATIVA - 4).collect();
    out.push_str(" ...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_recognised_as_its_own_kind() {
        let all = [
            Refusal::EspecieNaoMapeada {
                nome: "Ofício".into(),
            },
            Refusal::FormatoNaoPermitido {
                extensao: "exe".into(),
            },
            Refusal::HashNaoConfere { ordem: 1 },
            Refusal::TamanhoMaximoGeral { mb: 50 },
            Refusal::TamanhoMaximoDaExtensao {
                extensao: "pdf".into(),
                mb: 20,
            },
            Refusal::TamanhoNaoInformado,
            Refusal::ProtocoloJaExiste {
                protocolo: "02019.003483/2018-68".into(),
            },
            Refusal::DocumentoSemAssinatura {
                protocolo: "0000101".into(),
            },
            Refusal::InteressadosNaoInformados {
                protocolo: "00394.000103/2025-50".into(),
            },
            Refusal::DescricaoNaoInformada {
                protocolo: "00394.000103/2025-50".into(),
            },
        ];
        for refusal in all {
            assert_eq!(
                Refusal::recognise(&refusal.justificativa()),
                Some(refusal.kind()),
                "{refusal:?}"
            );
        }
        assert_eq!(
            Refusal::recognise("qualquer outra coisa"),
            Some(RefusalKind::Falha)
        );
    }

    #[test]
    fn long_texts_are_cut_at_the_limit() {
        let text = Refusal::Falha {
            mensagem: "x".repeat(2000),
        }
        .justificativa();
        assert_eq!(text.chars().count(), MAX_JUSTIFICATIVA);
        assert!(text.ends_with(" ..."));
    }
}
