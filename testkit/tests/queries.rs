//! `GET tramites` filters as the SEI module sends them (`rest-v3.md` §2.7: PHP bracket keys,
//! newest first, `totalDeRegistros`) and the boolean query parameters of `tramites/pendentes`
//! (§2.5).

use std::collections::BTreeSet;

use pen_protocol::api::{ConsultaDeTramites, Pendencia, TramiteDeProcessoCriado};
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::{spawn_simulator, Api};
use serde_json::Value;

use crate::common::{envio, open, processo, upload, ORG_A, ORG_B, ORG_C};

/// The IDTs of a search, in answer order, with `totalDeRegistros`.
async fn idts(api: &Api, query: &str) -> (Vec<Idt>, u64) {
    let found: ConsultaDeTramites = api.get(&format!("tramites?{query}")).await.json();
    let total = found
        .total_de_registros
        .unwrap_or_else(|| panic!("totalDeRegistros missing for {query}"));
    (found.tramites.iter().map(|t| t.idt).collect(), total)
}

/// `key[member]=value` pairs of a unit, brackets percent-encoded as PHP's `http_build_query`.
fn php_unit(key: &str, (rep, id): (u64, &str)) -> String {
    format!(
        "{key}%5BidentificacaoDoRepositorioDeEstruturas%5D={rep}&{key}%5BnumeroDeIdentificacaoDaEstrutura%5D={id}"
    )
}

fn dotted_unit(key: &str, (rep, id): (u64, &str)) -> String {
    format!(
        "{key}.identificacaoDoRepositorioDeEstruturas={rep}&{key}.numeroDeIdentificacaoDaEstrutura={id}"
    )
}

/// A query-string value with the characters of a NUP escaped.
fn encode(value: &str) -> String {
    value.replace('/', "%2F").replace('.', "%2E")
}

/// Four trâmites of org-a:
/// - `t1` processo-simples 152254 → org-b, cancelled (7);
/// - `t2` the same NRE sent again (1);
/// - `t3` processo-varios-documentos 152255 → org-b 159099, components uploaded (2);
/// - `t4` processo-restrito 152254 → org-c (1).
struct Scene {
    t1: Idt,
    t2: Idt,
    t3: Idt,
    t4: Idt,
    nre: Nre,
}

async fn scene(a: &Api) -> Scene {
    let open = |body| {
        let a = a.clone();
        async move {
            a.post_json("tramites/processo", &body)
                .await
                .json::<TramiteDeProcessoCriado>()
        }
    };
    let first = open(envio(processo("processo-simples"), ORG_A, ORG_B, None)).await;
    a.delete(&format!("tramites/{}", first.idt)).await.ok();
    let second = open(envio(
        processo("processo-simples"),
        ORG_A,
        ORG_B,
        Some(first.nre.clone()),
    ))
    .await;
    assert_eq!(second.nre, first.nre);
    let third = open(envio(
        processo("processo-varios-documentos"),
        (1, "152255"),
        (1, "159099"),
        None,
    ))
    .await;
    upload(a, &third, None).await;
    let fourth = open(envio(processo("processo-restrito"), ORG_A, ORG_C, None)).await;
    Scene {
        t1: first.idt,
        t2: second.idt,
        t3: third.idt,
        t4: fourth.idt,
        nre: first.nre,
    }
}

#[tokio::test]
async fn tramites_filters_newest_first_with_total() {
    let sim = spawn_simulator().await;
    let (a, b, c) = (sim.org("org-a"), sim.org("org-b"), sim.org("org-c"));
    let s = scene(&a).await;
    let Scene { t1, t2, t3, t4, .. } = s;

    // No filter: every trâmite of the caller, newest first.
    assert_eq!(idts(&a, "").await, (vec![t4, t3, t2, t1], 4));
    // The page is cut, the total is not.
    assert_eq!(idts(&a, "quantidadeDeRegistros=1").await, (vec![t4], 4));
    assert_eq!(idts(&a, &format!("IDT={t1}")).await, (vec![t1], 1));

    // By NRE: both trâmites of it, the newest first (the SEI module reads only `tramites[0]`).
    let by_nre = format!("NRE={}", s.nre);
    assert_eq!(idts(&a, &by_nre).await, (vec![t2, t1], 2));
    let found: ConsultaDeTramites = a.get(&format!("tramites?{by_nre}")).await.json();
    assert_eq!(found.tramites[0].situacao_atual, Situacao::Iniciado);
    assert_eq!(found.tramites[1].situacao_atual, Situacao::Cancelado);
    assert_eq!(
        idts(&a, &format!("{by_nre}&quantidadeDeRegistros=1")).await,
        (vec![t2], 2)
    );

    // Remetente, the PHP way (`remetente%5B…%5D`) and dotted.
    for query in [
        php_unit("remetente", ORG_A),
        dotted_unit("remetente", ORG_A),
    ] {
        assert_eq!(idts(&a, &query).await, (vec![t4, t2, t1], 3), "{query}");
    }
    assert_eq!(
        idts(&a, &php_unit("remetente", (1, "152255"))).await,
        (vec![t3], 1)
    );
    assert_eq!(
        idts(&a, &php_unit("destinatario", ORG_C)).await,
        (vec![t4], 1)
    );
    assert_eq!(
        idts(&a, &dotted_unit("destinatario", (1, "159099"))).await,
        (vec![t3], 1)
    );
    assert_eq!(
        idts(
            &a,
            &format!(
                "{}&{}",
                php_unit("remetente", ORG_A),
                php_unit("destinatario", ORG_B)
            )
        )
        .await,
        (vec![t2, t1], 2)
    );
    assert_eq!(
        idts(&a, &php_unit("remetente", (1, "152257"))).await,
        (vec![], 0)
    );

    // By protocol (the formatted NUP, escaped or not).
    let nup = processo("processo-simples").protocolo.unwrap().0;
    assert_eq!(
        idts(&a, &format!("protocolo={}", encode(&nup))).await,
        (vec![t2, t1], 2)
    );
    assert_eq!(
        idts(&a, &format!("protocolo={nup}")).await,
        (vec![t2, t1], 2)
    );
    assert_eq!(
        idts(&a, "protocolo=00000.000000/0000-00").await,
        (vec![], 0)
    );

    // By situação, alone and with other filters.
    assert_eq!(idts(&a, "situacaoAtual=1").await, (vec![t4, t2], 2));
    assert_eq!(idts(&a, "situacaoAtual=2").await, (vec![t3], 1));
    assert_eq!(idts(&a, "situacaoAtual=7").await, (vec![t1], 1));
    assert_eq!(
        idts(&a, &format!("{by_nre}&situacaoAtual=7")).await,
        (vec![t1], 1)
    );
    assert_eq!(idts(&a, "situacaoAtual=6").await, (vec![], 0));

    // Only the caller's trâmites: org-b sees the three towards it, org-c one, never the rest.
    assert_eq!(idts(&b, "").await, (vec![t3, t2, t1], 3));
    assert_eq!(
        idts(&b, &php_unit("remetente", ORG_A)).await,
        (vec![t2, t1], 2)
    );
    assert_eq!(idts(&c, "").await, (vec![t4], 1));
    assert_eq!(idts(&c, &by_nre).await, (vec![], 0));
    assert_eq!(idts(&c, &format!("IDT={t1}")).await, (vec![], 0));

    // Unreadable filters are the platform's error.
    for bad in ["situacaoAtual=99", "situacaoAtual=x", "IDT=abc"] {
        let e = a.get(&format!("tramites?{bad}")).await.error();
        assert_eq!(e.codigo_erro, "9109", "{bad}: {}", e.mensagem);
    }
}

#[tokio::test]
async fn tramite_item_member_names() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let s = scene(&a).await;
    let v: Value = a.get(&format!("tramites?IDT={}", s.t3)).await.json();
    let top: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(top, BTreeSet::from(["tramites", "totalDeRegistros"]), "{v}");
    assert_eq!(v["totalDeRegistros"], 1);
    let item = &v["tramites"][0];
    for member in [
        "IDT",
        "NRE",
        "remetente",
        "destinatario",
        "situacaoAtual",
        "protocolo",
        "motivoDaRecusa",
        "justificativaDaRecusa",
        "mudancasDeSituacao",
        "hashDosComponentesPendentesDeRecebimento",
        "hashDosComponentesPendentesDeEnvio",
    ] {
        assert!(item.get(member).is_some(), "{member} missing in {item}");
    }
    assert_eq!(item["IDT"], s.t3.0);
    assert!(item["NRE"].is_string(), "{item}");
    assert_eq!(item["situacaoAtual"], 2);
    assert!(
        item["motivoDaRecusa"].is_null() && item["justificativaDaRecusa"].is_null(),
        "{item}"
    );
    assert_eq!(
        item["remetente"],
        serde_json::json!({"identificacaoDoRepositorioDeEstruturas": 1, "numeroDeIdentificacaoDaEstrutura": "152255"})
    );
    let history: Vec<&Value> = item["mudancasDeSituacao"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["situacao"])
        .collect();
    assert_eq!(history, [1, 2]);
    let change = &item["mudancasDeSituacao"][0];
    let change_members: BTreeSet<&str> = change
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        change_members,
        BTreeSet::from(["situacao", "dataHora"]),
        "{change}"
    );
    assert!(change["dataHora"].is_string(), "{change}");
    assert_eq!(
        item["hashDosComponentesPendentesDeEnvio"],
        serde_json::json!([])
    );
    assert!(!item["hashDosComponentesPendentesDeRecebimento"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn pendentes_accepts_every_boolean_spelling_and_refuses_others() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-simples").await;
    upload(&a, &created, None).await;
    let expected = [Pendencia {
        idt: created.idt,
        status: Situacao::ComponentesEnviadosRemetente,
    }];
    for query in [
        "",
        "?todas=1",
        "?todas=0",
        "?todas=true",
        "?todas=false",
        "?todas=TRUE",
    ] {
        let reply = b.get(&format!("tramites/pendentes{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text());
        // Nothing was delivered by a long poll, so every spelling lists the pendency.
        assert_eq!(reply.json::<Vec<Pendencia>>(), expected, "{query}");
    }
    for bad in ["talvez", "2", "sim", "yes"] {
        let reply = b.get(&format!("tramites/pendentes?todas={bad}")).await;
        assert_eq!(reply.status, 400, "todas={bad}: {}", reply.text());
        let e = reply.error();
        assert_eq!(e.codigo_erro, "9109", "todas={bad}");
        assert!(e.mensagem.contains("todas"), "{}", e.mensagem);
    }
}

/// A unit filter with only one of its two members filters on that member alone.
#[tokio::test]
async fn partial_unit_filter_and_wrong_method() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let created = open(&a, "processo-simples").await;
    let only_number: ConsultaDeTramites = a
        .get("tramites?remetente.numeroDeIdentificacaoDaEstrutura=152257")
        .await
        .json();
    assert!(only_number.tramites.is_empty(), "152257 sent nothing");
    let only_number: ConsultaDeTramites = a
        .get("tramites?remetente%5BnumeroDeIdentificacaoDaEstrutura%5D=152254")
        .await
        .json();
    assert_eq!(only_number.tramites[0].idt, created.idt);
    let only_repo: ConsultaDeTramites = a
        .get("tramites?destinatario.identificacaoDoRepositorioDeEstruturas=5")
        .await
        .json();
    assert!(only_repo.tramites.is_empty());

    let wrong = a
        .put_component("tramites/pendentes", vec![], "h", "p")
        .await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.error().codigo_erro, "9112");
    // A metadata read the situação does not allow says so in words.
    let early = sim
        .org("org-b")
        .get(&format!("tramites/{}", created.idt))
        .await
        .error();
    assert_eq!(early.codigo_erro, "9102");
    assert!(
        early.mensagem.starts_with(&format!(
            "Operação leitura de metadados não permitida para o trâmite {} na situação 1",
            created.idt
        )),
        "{}",
        early.mensagem
    );
}
