use std::collections::BTreeSet;

use pen_protocol::error::{validation_list, ErrorBody, ErrorKind, CATALOGUE};
use pen_protocol::ids::Idt;

#[test]
fn catalogue_is_consistent() {
    let mut kinds = BTreeSet::new();
    for def in CATALOGUE {
        assert!(
            kinds.insert(format!("{:?}", def.kind)),
            "{:?} listed twice",
            def.kind
        );
        assert_eq!(def.kind.definition(), def);
        assert!(
            def.code.len() == 4 && def.code.bytes().all(|b| b.is_ascii_digit()),
            "{}",
            def.code
        );
        assert_eq!(
            def.simulator_specific,
            def.code.starts_with('9'),
            "{:?}",
            def.kind
        );
        assert!((400..600).contains(&def.http_status));
        let placeholders: Vec<&str> = def
            .template
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .collect();
        assert_eq!(placeholders, def.parametros, "{:?}", def.kind);
        let args: Vec<(&str, &str)> = def.parametros.iter().map(|p| (*p, "VALOR")).collect();
        let body = def.kind.body(&args);
        assert_eq!(
            body.kind(),
            Some(def.kind),
            "{body:?} is recognised as what produced it"
        );
    }
}

/// The body of `I#882`, exactly (`rest-v3.md` §3.1).
#[test]
fn hash_inconsistency_0047_as_seen() {
    let body = ErrorKind::HashDeDocumentoInconsistente.body(&[
        ("ordem", "1"),
        ("nre", "0000025656262025"),
        ("protocolo", "13990.811212/2020-00"),
    ]);
    let expected = serde_json::json!({
        "codigoErro": "0047",
        "mensagem": "Inconsistência identificada no documento de ordem '1' do processo tramitado por este NRE, '0000025656262025', com protocolo '13990.811212/2020-00': hash de ao menos um componente digital não confere",
        "parametro": [
            {"chave": "ordem", "valor": "1"},
            {"chave": "nre", "valor": "0000025656262025"},
            {"chave": "protocolo", "valor": "13990.811212/2020-00"}
        ]
    });
    assert_eq!(serde_json::to_value(&body).unwrap(), expected);
}

/// Texts seen in the sources, to the character (`rest-v3.md` §3.2, model §2.2).
#[test]
fn seen_texts_are_pinned() {
    type Case<'a> = (ErrorKind, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 9] = [
        (ErrorKind::NivelDeSigiloNaoPermitido, &[], "Apenas entidades de nível de sigílo público ou restrito podem ser tramitados pelo barramento."),
        (ErrorKind::TramiteEmAndamentoParaDestinatario, &[("nre", "0000025656262025")], "NRE, '0000025656262025', já possui trâmite em andamento para este destinatário"),
        (ErrorKind::ParteUltrapassaTamanho, &[], "A parte informada ultrapassa o tamanho do componente digital informado nos metadados do trâmite"),
        (ErrorKind::ComponentesNaoRecebidos, &[("idt", &Idt(1_234_567).grouped())], "Trâmite com idt, 1.234.567, ainda não recebeu todos os componentes digitais"),
        (ErrorKind::BinarioIndisponivel, &[("hash", "h1")], "Arquivo binário com hash, 'h1', não está mais disponível, por favor contacte o sistema remetente."),
        (ErrorKind::RemetenteNaoAutorizado, &[], "Transação não autorizada, pois o sistema não é responsável pela estrutura organizacional remetente"),
        (ErrorKind::ProtocoloInconsistente, &[("nre", "0000025656262025"), ("anterior", "A"), ("atual", "B")], "Inconsistência no número de protocolo do processo tramitado por este NRE 0000025656262025. Protocolo anterior: A atual: B"),
        (ErrorKind::ReproducaoSemComponentes, &[("protocolo", "02019.003483/2018-68")], "Não é possível executar o serviço de reprodução de trâmite do processo 02019.003483/2018-68, pois não há componentes digitais válidos a serem reproduzidos"),
        (ErrorKind::UnidadeMapeadaErrada, &[("nome", "Gabinete"), ("id", "159100")], "A unidade Gabinete (159100) foi mapeada de forma errada. Desse modo, entre em contato com os Gestores do seu órgão e informe que o mapeamento não está correto."),
    ];
    for (kind, args, text) in cases {
        assert!(kind.definition().text_seen, "{kind:?}");
        assert_eq!(kind.body(args).mensagem, text);
    }
    let validation = ErrorKind::ValidacaoDeCampos.body(&[(
        "erros",
        &validation_list(&[
            "processo.documentos[X].especie.nomeNoProdutor não pode ser vazio",
            "processo.documentos[X].especie.codigo deve ser um código de espécie válido",
        ]),
    )]);
    assert_eq!(validation.mensagem, "Os seguintes erros de validação de campos foram identificados: - processo.documentos[X].especie.nomeNoProdutor não pode ser vazio processo.documentos[X].especie.codigo deve ser um código de espécie válido");
}

/// Two entries share `0044`; a client (the SEI module) only looks for the substring.
#[test]
fn entries_sharing_a_code_are_told_apart_by_their_text() {
    let open = ErrorKind::TramiteEmAndamento.body(&[("nre", "0000025656262025")]);
    let repro = ErrorKind::TramiteEmAndamentoParaDestinatario.body(&[("nre", "0000025656262025")]);
    assert_eq!(open.kind(), Some(ErrorKind::TramiteEmAndamento));
    assert_eq!(
        repro.kind(),
        Some(ErrorKind::TramiteEmAndamentoParaDestinatario)
    );
    for body in [&open, &repro] {
        assert!(body.mensagem.contains("já possui trâmite em andamento"));
    }
    let foreign = ErrorBody {
        codigo_erro: "0099".into(),
        mensagem: "x".into(),
        parametro: vec![],
    };
    assert_eq!(foreign.kind(), None);
    assert_eq!(open.parametro("nre"), Some("0000025656262025"));
}

#[test]
fn error_body_member_names() {
    let body: ErrorBody = serde_json::from_str(r#"{"codigoErro":"0024","mensagem":"m"}"#).unwrap();
    assert!(body.parametro.is_empty());
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"codigoErro":"0024","mensagem":"m"}"#
    );
    assert_eq!(body.to_string(), "0024 - m");
}
