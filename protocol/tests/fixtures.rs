//! Every fixture file parses into its protocol type, round-trips, and says what it claims
//! (hashes and sizes of its components, NUP check digits, numbering, tables).

use std::collections::BTreeSet;

use pen_protocol::api::{Especies, HipotesesLegais, MotivosUrgencia};
use pen_protocol::hash::hash_bytes;
use pen_protocol::model::{ComponenteDigital, DocumentoAvulso, Processo};
use pen_protocol::registry::{Directory, Organisation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Parses a fixture, checks that no member was lost or renamed on the way (every key of the file
/// comes back when the value is serialised), and that value → JSON → value is the identity.
fn parse_exact<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    path: &str,
    bytes: &[u8],
) -> T {
    let value: T = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    let original: Value = serde_json::from_slice(bytes).unwrap();
    let written = serde_json::to_value(&value).unwrap();
    assert_same_keys(path, "", &original, &written);
    let again: T = serde_json::from_value(written).unwrap();
    assert_eq!(again, value, "{path}: round trip");
    value
}

fn assert_same_keys(path: &str, at: &str, original: &Value, written: &Value) {
    match (original, written) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let w = b.get(k).unwrap_or_else(|| {
                    panic!("{path}: member {at}.{k} is not part of the protocol type")
                });
                assert_same_keys(path, &format!("{at}.{k}"), v, w);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: {at}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_same_keys(path, &format!("{at}[{i}]"), x, y);
            }
        }
        _ => {}
    }
}

fn processos() -> Vec<(&'static str, Processo)> {
    pen_fixtures::files("processos")
        .into_iter()
        .map(|(p, b)| (p, parse_exact(p, b)))
        .collect()
}

fn avulsos() -> Vec<(&'static str, DocumentoAvulso)> {
    pen_fixtures::files("documentos")
        .into_iter()
        .map(|(p, b)| (p, parse_exact(p, b)))
        .collect()
}

fn check_component(path: &str, c: &ComponenteDigital, used: &mut BTreeSet<String>) {
    let nome = c
        .nome
        .as_deref()
        .unwrap_or_else(|| panic!("{path}: component without nome"));
    let bytes = pen_fixtures::component(nome)
        .unwrap_or_else(|| panic!("{path}: no file componentes/{nome}"));
    assert_eq!(
        c.tamanho_em_bytes,
        Some(bytes.len() as u64),
        "{path}: size of {nome}"
    );
    assert_eq!(
        c.hash_conteudo(),
        Some(hash_bytes(bytes).to_base64().as_str()),
        "{path}: hash of {nome}"
    );
    assert_eq!(
        c.hash.as_ref().map(|h| h.algoritmo.as_str()),
        Some("SHA256")
    );
    used.insert(nome.to_owned());
}

#[test]
fn the_expected_samples_exist() {
    let names: Vec<&str> = processos().iter().map(|(p, _)| *p).collect();
    for expected in [
        "processos/processo-simples.json",
        "processos/processo-varios-documentos.json",
        "processos/processo-com-apensado.json",
        "processos/processo-restrito.json",
        "processos/processo-documento-cancelado.json",
        "processos/processo-multicomponente.json",
        "processos/processo-mesmo-arquivo.json",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(avulsos().len(), 1);
}

#[test]
fn every_component_matches_its_file() {
    let mut used = BTreeSet::new();
    for (path, processo) in processos() {
        let all = processo.components();
        assert!(!all.is_empty(), "{path}");
        for (_, _, c) in all {
            check_component(path, c, &mut used);
        }
    }
    for (path, documento) in avulsos() {
        for c in &documento.componentes_digitais {
            check_component(path, c, &mut used);
        }
    }
    let files: BTreeSet<String> = pen_fixtures::files("componentes")
        .iter()
        .map(|(p, _)| p.trim_start_matches("componentes/").to_owned())
        .collect();
    assert_eq!(
        used, files,
        "every sample file is used and every used file exists"
    );
}

#[test]
fn processes_are_well_formed_and_distinct() {
    let mut protocolos = BTreeSet::new();
    for (path, processo) in processos() {
        let mut stack = vec![&processo];
        while let Some(p) = stack.pop() {
            let protocolo = p
                .protocolo
                .as_ref()
                .unwrap_or_else(|| panic!("{path}: no protocolo"));
            assert!(
                protocolo.as_nup().unwrap().has_valid_check_digits(),
                "{path}: {protocolo}"
            );
            assert!(
                protocolos.insert(protocolo.clone()),
                "{path}: {protocolo} used twice"
            );
            assert!(
                !p.interessados.is_empty() && p.descricao.is_some(),
                "{path}: mandatory members"
            );
            let ordens: Vec<u32> = p.documentos.iter().map(|d| d.ordem.unwrap()).collect();
            assert_eq!(
                ordens,
                (1..=ordens.len() as u32).collect::<Vec<_>>(),
                "{path}: ordem"
            );
            for d in &p.documentos {
                let ordens: Vec<u32> = d
                    .componentes_digitais
                    .iter()
                    .map(|c| c.ordem.unwrap())
                    .collect();
                assert_eq!(
                    ordens,
                    (1..=ordens.len() as u32).collect::<Vec<_>>(),
                    "{path}: component ordem"
                );
            }
            stack.extend(&p.processo_apensado);
        }
    }
}

#[test]
fn samples_show_what_their_names_say() {
    let by_name = |n: &str| {
        processos()
            .into_iter()
            .find(|(p, _)| p.ends_with(n))
            .unwrap()
            .1
    };
    assert_eq!(
        by_name("processo-com-apensado.json")
            .processo_apensado
            .len(),
        1
    );
    let restrito = by_name("processo-restrito.json");
    assert_eq!(
        restrito
            .nivel_de_sigilo
            .map(pen_protocol::model::NivelDeSigilo::code),
        Some(2)
    );
    assert!(restrito.hipotese_legal.is_some());
    let cancelado = by_name("processo-documento-cancelado.json");
    let retirado = cancelado
        .documentos
        .iter()
        .find(|d| d.retirado)
        .expect("a retirado document");
    assert_eq!(
        retirado.componentes_digitais[0].hash_conteudo(),
        Some("D152rc5pJT2JOJqB5Qv9GvmEuZ15uyQz6sv1DpKiLBY=")
    );
    assert!(by_name("processo-multicomponente.json")
        .documentos
        .iter()
        .any(|d| d.componentes_digitais.len() >= 2));
    let mesmo = by_name("processo-mesmo-arquivo.json");
    let hashes: BTreeSet<&str> = mesmo
        .documentos
        .iter()
        .flat_map(|d| &d.componentes_digitais)
        .filter_map(|c| c.hash_conteudo())
        .collect();
    assert!(
        mesmo.documentos.len() >= 2 && hashes.len() == 1,
        "two documents, one file"
    );
    assert!(by_name("processo-varios-documentos.json").documentos.len() >= 3);
}

#[test]
fn domain_tables() {
    let especies: Especies = parse_exact(
        "especies",
        pen_fixtures::file("tables/especies.json").unwrap(),
    );
    let codes: Vec<u32> = especies.especies.iter().map(|e| e.codigo).collect();
    let expected: Vec<u32> = (1..=186).chain([999]).collect();
    assert_eq!(codes, expected);
    let name = |c: u32| {
        especies
            .especies
            .iter()
            .find(|e| e.codigo == c)
            .unwrap()
            .nome_no_produtor
            .as_str()
    };
    assert_eq!(
        (name(42), name(179), name(999)),
        ("Despacho", "Anexo", "Outra")
    );

    let hipoteses: HipotesesLegais = parse_exact(
        "hipoteses",
        pen_fixtures::file("tables/hipoteses.json").unwrap(),
    );
    assert_eq!(hipoteses.hipoteses_legais.len(), 25);
    let inactive: Vec<&str> = hipoteses
        .hipoteses_legais
        .iter()
        .filter(|h| !h.status)
        .map(|h| h.nome.as_str())
        .collect();
    assert_eq!(
        inactive,
        ["Situação Econômico-Financeira de Sujeito Passivo"]
    );

    let motivos: MotivosUrgencia = parse_exact(
        "motivos",
        pen_fixtures::file("tables/motivos-urgencia.json").unwrap(),
    );
    assert_eq!(motivos.motivos_urgencia.len(), 5);
    assert_eq!(
        motivos.motivos_urgencia[0].descricao,
        "Hipótese de prioridade prevista em lei"
    );
}

#[test]
fn organisations_and_directory() {
    let orgs: Vec<Organisation> = parse_exact("organisations", pen_fixtures::organisations_json());
    let directory: Directory = parse_exact("directory", pen_fixtures::directory_json());
    let ids: Vec<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["org-a", "org-b", "org-c"]);
    let repositorios: BTreeSet<u64> = orgs
        .iter()
        .flat_map(|o| &o.estruturas)
        .map(|e| e.identificacao_do_repositorio_de_estruturas)
        .collect();
    assert!(
        repositorios.len() >= 2,
        "structures in at least two repositórios"
    );
    let mut owned = BTreeSet::new();
    for org in &orgs {
        for e in &org.estruturas {
            assert!(
                directory.find(e).is_some(),
                "{} answers for unknown {e}",
                org.id
            );
            assert!(owned.insert(e.clone()), "{e} belongs to two organisations");
        }
    }
    // Hierarchy: root first.
    let coprot = directory
        .find(&pen_protocol::model::EstruturaOrganizacional::new(
            1, "152256",
        ))
        .unwrap();
    let view = directory.wire_view(coprot);
    let siglas: Vec<&str> = view.hierarquia.iter().map(|h| h.sigla.as_str()).collect();
    assert_eq!(siglas, ["ORGABC", "SE-ORGABC"]);
    for entry in &directory.estruturas {
        if let Some(parent) = &entry.pai {
            assert!(directory
                .estruturas
                .iter()
                .any(|p| &p.numero_de_identificacao_da_estrutura == parent
                    && p.identificacao_do_repositorio_de_estruturas
                        == entry.identificacao_do_repositorio_de_estruturas));
        }
    }
}

/// The samples a correct sender must refuse to send differ from a valid one in exactly that.
#[test]
fn invalid_samples_lack_what_their_names_say() {
    let parsed: Vec<(&str, Processo)> = pen_fixtures::files("invalidos")
        .into_iter()
        .map(|(p, b)| (p, parse_exact(p, b)))
        .collect();
    let names: Vec<&str> = parsed.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        names,
        [
            "invalidos/processo-sem-assinatura.json",
            "invalidos/processo-sem-interessado.json"
        ]
    );
    for (path, processo) in parsed {
        let nup = processo.protocolo.as_ref().unwrap().as_nup().unwrap();
        assert!(nup.has_valid_check_digits(), "{path}");
        let components = processo.components();
        assert!(!components.is_empty(), "{path}");
        let signed = components
            .iter()
            .all(|(_, _, c)| !c.assinaturas_digitais.is_empty());
        if path.contains("sem-assinatura") {
            assert!(components
                .iter()
                .all(|(_, _, c)| c.assinaturas_digitais.is_empty()));
            assert!(!processo.interessados.is_empty());
        } else {
            assert!(signed, "{path}");
            assert!(processo.interessados.is_empty(), "{path}");
        }
    }
}
