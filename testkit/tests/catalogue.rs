//! The read-only catalogue endpoints (`rest-v3.md` §2.1) over mutual TLS: exact member names
//! from the raw JSON, filters, and paging of the structure search.

use std::collections::BTreeSet;

use pen_protocol::api::{
    Especies, Estrutura, EstruturasEncontradas, HipotesesLegais, MotivosUrgencia,
    RepositorioDeEstruturas,
};
use pen_testkit::sim::{spawn_simulator, Api};
use serde_json::Value;

async fn raw(api: &Api, path: &str) -> Value {
    api.get(path).await.json()
}

/// The member names of a JSON object.
fn members(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// The unit numbers of a search answer, in answer order, with its total.
async fn search(api: &Api, query: &str) -> (Vec<String>, u64) {
    let found: EstruturasEncontradas = api
        .get(&format!("repositorios-de-estruturas/{query}"))
        .await
        .json();
    (
        found
            .estruturas
            .into_iter()
            .map(|e| e.numero_de_identificacao_da_estrutura)
            .collect(),
        found.total_de_registros,
    )
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn repositorios_bare_array_and_both_active_spellings() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let all = raw(&a, "repositorios-de-estruturas").await;
    let items = all.as_array().expect("a bare JSON array");
    assert_eq!(items.len(), 3, "{all}");
    for item in items {
        assert_eq!(members(item), set(&["id", "nome", "ativo"]), "{item}");
        assert!(item["id"].is_u64() && item["ativo"].is_boolean(), "{item}");
    }
    let all: Vec<RepositorioDeEstruturas> = serde_json::from_value(all).unwrap();
    let ids: Vec<u64> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 5, 49]);
    let acre = all.iter().find(|r| r.id == 49).unwrap();
    assert_eq!((acre.nome.as_str(), acre.ativo), ("Acre - AC", false));
    assert_eq!(
        all.iter().find(|r| r.id == 1).unwrap().nome,
        "Poder Executivo Federal"
    );

    // `consultarRepositoriosDeEstruturas` sends `ativo=1`, `listarRepositoriosDeEstruturas`
    // sends `ativos=1`: both leave out the inactive repository 49.
    for query in ["ativo=1", "ativos=1", "ativo=true"] {
        let active: Vec<RepositorioDeEstruturas> = a
            .get(&format!("repositorios-de-estruturas?{query}"))
            .await
            .json();
        let ids: Vec<u64> = active.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 5], "{query}");
        assert!(active.iter().all(|r| r.ativo), "{query}");
    }
    let not_only_active: Vec<RepositorioDeEstruturas> =
        a.get("repositorios-de-estruturas?ativo=0").await.json();
    assert_eq!(not_only_active.len(), 3);
}

#[tokio::test]
async fn estrutura_by_id_with_hierarchy_root_first_and_0055_when_unknown() {
    let sim = spawn_simulator().await;
    let b = sim.org("org-b");
    let v = raw(
        &b,
        "repositorios-de-estruturas/1/estruturas-organizacionais/152256",
    )
    .await;
    assert_eq!(
        members(&v),
        set(&[
            "numeroDeIdentificacaoDaEstrutura",
            "nome",
            "sigla",
            "ativo",
            "unidadeReceptora",
            "aptoParaReceberTramites",
            "codigoNoOrgaoEntidade",
            "codigoUnidadeReceptora",
            "tipoDeTramitacao",
            "hierarquia",
        ]),
        "{v}"
    );
    assert_eq!(
        v["numeroDeIdentificacaoDaEstrutura"], "152256",
        "the unit number is a JSON string"
    );
    assert_eq!(v["nome"], "Coordenação de Protocolo e Arquivo");
    assert_eq!(v["sigla"], "COPROT-ORGABC");
    assert_eq!(v["ativo"], true);
    assert_eq!(v["aptoParaReceberTramites"], true);
    let hierarquia = v["hierarquia"].as_array().unwrap();
    for ancestor in hierarquia {
        assert_eq!(
            members(ancestor),
            set(&["numeroDeIdentificacaoDaEstrutura", "nome", "sigla"]),
            "{ancestor}"
        );
    }
    let chain: Vec<&str> = hierarquia
        .iter()
        .map(|x| x["numeroDeIdentificacaoDaEstrutura"].as_str().unwrap())
        .collect();
    assert_eq!(chain, ["152254", "152255"], "root first, parent last");
    assert_eq!(hierarquia[0]["sigla"], "ORGABC");

    // A root has an empty hierarchy; a unit not apt to receive says so.
    let root: Estrutura = b
        .get("repositorios-de-estruturas/1/estruturas-organizacionais/152254")
        .await
        .json();
    assert!(root.hierarquia.is_empty());
    let dgi: Estrutura = b
        .get("repositorios-de-estruturas/1/estruturas-organizacionais/152257")
        .await
        .json();
    assert!(dgi.ativo && !dgi.apto_para_receber_tramites);
    let campus: Estrutura = b
        .get("repositorios-de-estruturas/5/estruturas-organizacionais/30684")
        .await
        .json();
    assert!(!campus.ativo);

    for path in [
        "repositorios-de-estruturas/1/estruturas-organizacionais/999999",
        // A unit of another repository.
        "repositorios-de-estruturas/5/estruturas-organizacionais/152254",
    ] {
        let reply = b.get(path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
        let e = reply.error();
        assert_eq!(e.codigo_erro, "0055", "{path}: {}", e.mensagem);
    }
    let e = b
        .get("repositorios-de-estruturas/1/estruturas-organizacionais/999999")
        .await
        .error();
    assert_eq!(e.parametro("estrutura"), Some("999999"));
    assert_eq!(e.parametro("repositorio"), Some("1"));
}

#[tokio::test]
async fn structure_search_by_name_sigla_subtree_and_flags() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");

    // The raw answer: `{estruturas, totalDeRegistros}`.
    let v = raw(
        &a,
        "repositorios-de-estruturas/1/estruturas-organizacionais?identificacaoDoRepositorioDeEstruturas=1&apenasAtivas=1&nome=protocolo",
    )
    .await;
    assert_eq!(members(&v), set(&["estruturas", "totalDeRegistros"]), "{v}");
    assert_eq!(v["totalDeRegistros"], 2);
    let nomes: BTreeSet<&str> = v["estruturas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["nome"].as_str().unwrap())
        .collect();
    assert_eq!(
        nomes,
        set(&["Coordenação de Protocolo e Arquivo", "Protocolo Central"])
    );

    // Case and accents do not matter, either way round.
    for nome in ["PROTOCOLO", "Protocolo", "prótocolo"] {
        let (ids, total) = search(&a, &format!("1/estruturas-organizacionais?nome={nome}")).await;
        assert_eq!(sorted(ids), ["152256", "159099"], "nome={nome}");
        assert_eq!(total, 2, "nome={nome}");
    }
    for nome in ["coordenacao", "COORDENAÇÃO de protocolo"] {
        let (ids, _) = search(&a, &format!("1/estruturas-organizacionais?nome={nome}")).await;
        assert_eq!(ids, ["152256"], "nome={nome}");
    }
    let (ids, _) = search(&a, "1/estruturas-organizacionais?nome=orgao").await;
    assert_eq!(sorted(ids), ["152254", "159098"], "Órgão matches orgao");
    let (ids, total) = search(&a, "1/estruturas-organizacionais?nome=inexistente").await;
    assert!(ids.is_empty());
    assert_eq!(total, 0);

    // By sigla, case-insensitively.
    for sigla in ["COPROT-ORGABC", "coprot-orgabc"] {
        let (ids, _) = search(&a, &format!("1/estruturas-organizacionais?sigla={sigla}")).await;
        assert_eq!(ids, ["152256"], "sigla={sigla}");
    }

    // Below a root: only that subtree (never another organisation's units).
    let (ids, total) = search(
        &a,
        "1/estruturas-organizacionais?numeroDeIdentificacaoDaEstruturaRaizDaConsulta=152254",
    )
    .await;
    let subtree = ["152254", "152255", "152256", "152257"];
    assert!(
        ids.iter().all(|id| subtree.contains(&id.as_str())),
        "outside the subtree: {ids:?}"
    );
    for descendant in ["152255", "152256", "152257"] {
        assert!(
            ids.iter().any(|id| id == descendant),
            "{descendant} in {ids:?}"
        );
    }
    assert_eq!(total, ids.len() as u64);
    let (ids, _) = search(
        &a,
        "1/estruturas-organizacionais?numeroDeIdentificacaoDaEstruturaRaizDaConsulta=152255&nome=protocolo",
    )
    .await;
    assert_eq!(ids, ["152256"], "root and name combine");

    // Active only: the deactivated campus of repository 5 drops out.
    let (all, total_all) = search(&a, "5/estruturas-organizacionais").await;
    assert_eq!(sorted(all), ["121390", "30682", "30683", "30684"]);
    assert_eq!(total_all, 4);
    let (active, total_active) = search(&a, "5/estruturas-organizacionais?apenasAtivas=1").await;
    assert_eq!(sorted(active), ["121390", "30682", "30683"]);
    assert_eq!(total_active, 3);

    // Able to receive only: 152257 (not apt) drops out, 160000 (apt, no system) stays.
    let (all, _) = search(&a, "1/estruturas-organizacionais").await;
    let (receiving, total) = search(&a, "1/estruturas-organizacionais?permiteRecebimento=1").await;
    assert_eq!(all.len(), 8, "{all:?}");
    assert_eq!(total, 7);
    assert!(!receiving.iter().any(|id| id == "152257"), "{receiving:?}");
    assert!(receiving.iter().any(|id| id == "160000"), "{receiving:?}");
    let expected: Vec<&String> = all.iter().filter(|id| *id != "152257").collect();
    assert_eq!(receiving.iter().collect::<Vec<_>>(), expected);

    // An unreadable flag is the platform's error, not a silent default.
    assert_eq!(
        a.get("repositorios-de-estruturas/1/estruturas-organizacionais?apenasAtivas=sim")
            .await
            .error()
            .codigo_erro,
        "9109"
    );
}

#[tokio::test]
async fn structure_search_pages_with_the_total_match_count() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let (all, total) = search(&a, "1/estruturas-organizacionais").await;
    assert_eq!(total, 8);
    assert_eq!(all.len(), 8);

    let mut paged = Vec::new();
    for (inicio, expected_len) in [(0, 3), (3, 3), (6, 2), (8, 0)] {
        let (page, total) = search(
            &a,
            &format!(
                "1/estruturas-organizacionais?registroInicial={inicio}&quantidadeDeRegistros=3"
            ),
        )
        .await;
        assert_eq!(page.len(), expected_len, "page at {inicio}: {page:?}");
        assert_eq!(
            total, 8,
            "totalDeRegistros is the match count, not the page"
        );
        paged.extend(page);
    }
    assert_eq!(paged, all, "the pages, in order, are the whole answer");

    // Filters apply before paging.
    let (page, total) = search(
        &a,
        "1/estruturas-organizacionais?nome=protocolo&registroInicial=1&quantidadeDeRegistros=1",
    )
    .await;
    assert_eq!(page.len(), 1);
    assert_eq!(total, 2);
    let (first, _) = search(
        &a,
        "1/estruturas-organizacionais?nome=protocolo&registroInicial=0&quantidadeDeRegistros=1",
    )
    .await;
    assert_ne!(first, page);
}

#[tokio::test]
async fn especies_hipoteses_and_motivos_de_urgencia() {
    let sim = spawn_simulator().await;
    let c = sim.org("org-c");

    let v = raw(&c, "especies").await;
    assert_eq!(members(&v), set(&["especies"]));
    let list = v["especies"].as_array().unwrap();
    assert_eq!(list.len(), 187);
    for e in list {
        assert_eq!(members(e), set(&["codigo", "nomeNoProdutor"]), "{e}");
        assert!(e["codigo"].is_u64(), "codigo is a JSON integer: {e}");
    }
    let especies: Especies = serde_json::from_value(v).unwrap();
    let nome = |codigo: u32| {
        especies
            .especies
            .iter()
            .find(|e| e.codigo == codigo)
            .map(|e| e.nome_no_produtor.as_str())
    };
    assert_eq!(nome(42), Some("Despacho"));
    assert_eq!(nome(179), Some("Anexo"));
    assert_eq!(nome(999), Some("Outra"));

    let v = raw(&c, "hipoteses?ativos=1").await;
    assert_eq!(members(&v), set(&["hipotesesLegais"]));
    for h in v["hipotesesLegais"].as_array().unwrap() {
        let names = members(h);
        for required in ["identificacao", "nome", "status"] {
            assert!(names.contains(required), "{required} missing in {h}");
        }
        assert!(h["identificacao"].is_u64() && h["status"] == true, "{h}");
    }
    let active: HipotesesLegais = serde_json::from_value(v).unwrap();
    assert_eq!(active.hipoteses_legais.len(), 24);
    assert!(active
        .hipoteses_legais
        .iter()
        .any(|h| h.identificacao == 6 && h.nome == "Informação Pessoal"));

    let inactive: HipotesesLegais = c.get("hipoteses?ativos=0").await.json();
    assert_eq!(inactive.hipoteses_legais.len(), 1);
    let only = &inactive.hipoteses_legais[0];
    assert_eq!(
        (only.identificacao, only.nome.as_str(), only.status),
        (
            24,
            "Situação Econômico-Financeira de Sujeito Passivo",
            false
        )
    );
    let everything: HipotesesLegais = c.get("hipoteses").await.json();
    assert_eq!(everything.hipoteses_legais.len(), 25);

    let v = raw(&c, "motivosUrgencia").await;
    assert_eq!(members(&v), set(&["motivosUrgencia"]));
    for m in v["motivosUrgencia"].as_array().unwrap() {
        assert_eq!(members(m), set(&["descricao"]), "{m}");
    }
    let motivos: MotivosUrgencia = serde_json::from_value(v).unwrap();
    let descricoes: Vec<&str> = motivos
        .motivos_urgencia
        .iter()
        .map(|m| m.descricao.as_str())
        .collect();
    // The client numbers them by position: the order is the contract.
    assert_eq!(
        descricoes,
        [
            "Hipótese de prioridade prevista em lei",
            "Assunto relativo ao cumprimento de decisão judicial",
            "Risco de perecimento de direito do interessado",
            "Risco de prescrição ou decadência de pretensão da Administração Pública",
            "Relevante interesse público",
        ]
    );
}
