//! The refusal texts are a contract between a receiving system and whoever reads its refusals:
//! pinned here character for character (`model-receipts-soap.md` §2.4).

use pen_protocol::refusals::{Refusal, RefusalKind};
use pen_protocol::tables::MotivoRecusa;

#[test]
fn seen_texts_of_the_sei_module_are_reproduced_exactly() {
    let cases = [
        (
            Refusal::ProtocoloJaExiste { protocolo: "02019.003483/2018-68".into() },
            "99",
            "Um processo com o número de protocolo 02019.003483/2018-68 já existe no sistema de destino. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.",
        ),
        (
            Refusal::TamanhoMaximoDaExtensao { extensao: "pdf".into(), mb: 20 },
            "99",
            "O tamanho máximo permitido para arquivos PDF é 20 Mb. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.",
        ),
        (
            Refusal::EspecieNaoMapeada { nome: "Ofício".into() },
            "04",
            "O Documento do tipo Ofício não está mapeado para recebimento no sistema de destino. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.",
        ),
        (
            Refusal::FormatoNaoPermitido { extensao: "exe".into() },
            "01",
            "O formato exe não é permitido pelo sistema de destino. Lembre-se que cada órgão/entidade tem autonomia na definição de quantos e quais formatos de arquivo são aceitos pelo seu sistema. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.",
        ),
        (
            Refusal::HashNaoConfere { ordem: 2 },
            "02",
            "Hash do componente digital de ordem 2 não confere com o valor informado pelo remetente.",
        ),
        (
            Refusal::TamanhoMaximoGeral { mb: 50 },
            "99",
            "O tamanho máximo geral permitido para documentos externos é 50 Mb. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.",
        ),
    ];
    for (refusal, motivo, text) in cases {
        assert_eq!(refusal.motivo().code(), motivo, "{refusal:?}");
        assert_eq!(refusal.justificativa(), text);
    }
}

#[test]
fn the_published_examples_are_recognised() {
    assert_eq!(
        Refusal::recognise("O tamanho máximo permitido para arquivos PDF é 20 Mb. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro."),
        Some(RefusalKind::TamanhoMaximoDaExtensao)
    );
    assert_eq!(
        Refusal::recognise("Um processo com o número de protocolo 02019.003483/2018-68 já existe no sistema de destino. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro."),
        Some(RefusalKind::ProtocoloJaExiste)
    );
    assert_eq!(
        Refusal::Falha {
            mensagem: "x".into()
        }
        .motivo(),
        MotivoRecusa::Outro
    );
}
