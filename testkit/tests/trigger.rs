//! The agent's trigger as a harness drives an external system: `POST /send` with a case folder
//! (`processo.json` or `documento.json` and every component's file), and `POST /webhook` with
//! the harness's own request, `enviar` and `devolver`, end to end on a test simulator.

use std::time::Duration;

use pen_client::agent::folder::{DOCUMENTO_JSON, PROCESSO_JSON};
use pen_client::agent::{Event, Policy, SendReport};
use pen_client::flows::ComponentSource as _;
use pen_client::samples::{self, Envelope, Sample};
use pen_protocol::ids::{Idt, Nup};
use pen_protocol::ranges::PartRange;
use pen_protocol::situacao::Situacao;
use pen_testkit::agents::{spawn_agent, trigger, TestAgent};
use pen_testkit::sim::{spawn_simulator, TestSimulator};
use serde_json::{json, Value};

use crate::common::{tramite, ORG_A, ORG_B};
use crate::wire::{calls, opens};

const WAIT: Duration = Duration::from_secs(30);

/// A case folder as the harness writes it: the metadata JSON and every component's file.
fn case_folder(sample: &Sample) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (name, json) = match &sample.envelope {
        Envelope::Processo(p) => (PROCESSO_JSON, serde_json::to_vec_pretty(p).unwrap()),
        Envelope::Documento(d) => (DOCUMENTO_JSON, serde_json::to_vec_pretty(d).unwrap()),
    };
    std::fs::write(dir.path().join(name), json).unwrap();
    for c in sample.envelope.components() {
        let size = c.tamanho_em_bytes.unwrap();
        let bytes = sample
            .source
            .read(
                c.hash_conteudo().unwrap(),
                PartRange {
                    inicio: 0,
                    fim: size,
                },
            )
            .unwrap();
        std::fs::write(dir.path().join(c.nome.as_deref().unwrap()), bytes).unwrap();
    }
    dir
}

fn nup(sequencia: u32) -> String {
    Nup::new(12_345, sequencia, 2025).to_string()
}

async fn two_agents(sim: &TestSimulator) -> (TestAgent, TestAgent) {
    let policy = Policy::reference().unwrap();
    (
        spawn_agent(sim, "org-a", ORG_A, policy.clone(), &[]).await,
        spawn_agent(sim, "org-b", ORG_B, policy, &[]).await,
    )
}

/// Posts to a trigger route; the status and the JSON answer.
async fn post(agent: &TestAgent, route: &str, body: &Value) -> (u16, Value) {
    let reply = trigger(agent, route, body).await;
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

async fn taken(agent: &TestAgent, idt: Idt) -> Event {
    agent
        .wait_for(WAIT, |e| {
            matches!(e, Event::Received { idt: i, .. } | Event::Refused { idt: i, .. } if *i == idt)
        })
        .await
        .unwrap_or_else(|| panic!("trâmite {idt} never taken: {:?}", agent.activity(0)))
}

async fn concluded(agent: &TestAgent, idt: Idt) {
    agent
        .wait_for(
            WAIT,
            |e| matches!(e, Event::Concluded { idt: i } if *i == idt),
        )
        .await
        .unwrap_or_else(|| panic!("trâmite {idt} never concluded: {:?}", agent.activity(0)));
}

#[tokio::test]
async fn send_from_a_folder_goes_end_to_end_under_the_given_nup() {
    let sim = spawn_simulator().await;
    let (a, b) = two_agents(&sim).await;
    // The anexo a scenario asks for is already in the folder; anexo_bytes only says its size.
    let sample = samples::load("processo-varios-documentos")
        .unwrap()
        .with_large_attachment(200_000, 7)
        .unwrap();
    let declared: Vec<String> = sample
        .envelope
        .components()
        .iter()
        .map(|c| c.hash_conteudo().unwrap().to_owned())
        .collect();
    let folder = case_folder(&sample);
    let protocolo = nup(1);
    let (status, body) = post(
        &a,
        "send",
        &json!({"pasta": folder.path(), "destino": "1/159098", "nup": protocolo, "anexo_bytes": 200_000}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let report: SendReport = serde_json::from_value(body).unwrap();
    assert_eq!(report.protocolo, protocolo);
    let mut uploaded = report.uploaded.clone();
    uploaded.sort();
    let mut expected = declared.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(
        uploaded, expected,
        "one component more than the sample: the anexo"
    );

    let idt = report.idts[0];
    let Event::Received {
        protocolo: got,
        downloaded,
        ..
    } = taken(&b, idt).await
    else {
        panic!("refused: {:?}", b.activity(0));
    };
    assert_eq!(got, protocolo);
    assert_eq!(downloaded.len(), expected.len());
    concluded(&a, idt).await;
    assert_eq!(
        tramite(&sim.org("org-a"), idt).await.situacao_atual,
        Situacao::ReciboRecebidoRemetente
    );

    // A documento avulso comes as documento.json.
    let avulso = case_folder(&samples::load("documento-avulso").unwrap());
    let (status, body) = post(
        &a,
        "send",
        &json!({"pasta": avulso.path(), "destino": "1/159098", "nup": nup(2)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let report: SendReport = serde_json::from_value(body).unwrap();
    assert!(matches!(
        taken(&b, report.idts[0]).await,
        Event::Received { .. }
    ));
}

#[tokio::test]
async fn a_folder_that_does_not_match_its_json_is_a_400_naming_the_file() {
    let sim = spawn_simulator().await;
    let a = spawn_agent(&sim, "org-a", ORG_A, Policy::reference().unwrap(), &[]).await;
    let sample = samples::load("processo-simples").unwrap();
    let folder = case_folder(&sample);
    let nome = sample.envelope.components()[0].nome.clone().unwrap();
    std::fs::write(folder.path().join(&nome), b"not what the JSON declares").unwrap();

    let (status, body) = post(
        &a,
        "send",
        &json!({"pasta": folder.path(), "destino": "1/159098", "nup": nup(3)}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let erro = body["erro"].as_str().unwrap();
    assert!(erro.contains(&nome) && erro.contains("hash"), "{erro}");

    // Neither a folder without metadata nor a request without fixture or pasta is a send.
    let empty = tempfile::tempdir().unwrap();
    let (status, body) = post(
        &a,
        "send",
        &json!({"pasta": empty.path(), "destino": "1/159098"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["erro"].as_str().unwrap().contains(PROCESSO_JSON),
        "{body}"
    );
    let (status, _) = post(&a, "send", &json!({"destino": "1/159098"})).await;
    assert_eq!(status, 400);

    // Nothing reached the platform.
    assert!(opens(&calls(&sim, "org-a").await).is_empty());
}

#[tokio::test]
async fn the_webhook_sends_from_a_folder_and_returns_with_the_nre() {
    let sim = spawn_simulator().await;
    let (a, b) = two_agents(&sim).await;
    let folder = case_folder(&samples::load("processo-simples").unwrap());
    let protocolo = nup(4);
    // As the harness posts it: every member present, the absent ones null.
    let (status, body) = post(
        &a,
        "webhook",
        &json!({
            "acao": "enviar", "cenario": "webhook-envio", "fixture": "processo-simples",
            "destino": "1/159098", "nup": protocolo, "pasta": folder.path(), "anexo_bytes": null,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sent: SendReport = serde_json::from_value(body).unwrap();
    assert_eq!(sent.protocolo, protocolo);
    let first = sent.idts[0];
    assert!(matches!(taken(&b, first).await, Event::Received { .. }));
    concluded(&a, first).await;

    let (status, body) = post(
        &b,
        "webhook",
        &json!({
            "acao": "devolver", "cenario": "webhook-devolucao", "fixture": null,
            "destino": "1/152254", "nup": protocolo, "pasta": null, "anexo_bytes": null,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let back: SendReport = serde_json::from_value(body).unwrap();
    assert_eq!(back.nre, sent.nre);
    // Only the despacho naming the scenario travels: org-a holds the rest.
    assert_eq!(back.uploaded.len(), 1, "{back:?}");
    let Event::Received { returned, .. } = taken(&a, back.idts[0]).await else {
        panic!("refused: {:?}", a.activity(0));
    };
    assert!(returned);
    let held = a
        .processes()
        .into_iter()
        .find(|r| r.protocolo == protocolo)
        .unwrap();
    let Envelope::Processo(processo) = held.envelope else {
        panic!("a process");
    };
    let original = samples::load("processo-simples").unwrap();
    let Envelope::Processo(original) = original.envelope else {
        panic!("a process");
    };
    assert_eq!(processo.documentos.len(), original.documentos.len() + 1);
    let despacho = processo.documentos.last().unwrap();
    assert_eq!(despacho.descricao.as_deref(), Some("Despacho de devolução"));
    assert_eq!(
        despacho.componentes_digitais[0].hash_conteudo(),
        Some(back.uploaded[0].as_str())
    );
}

#[tokio::test]
async fn the_webhook_answers_as_the_contract_says() {
    let sim = spawn_simulator().await;
    let a = spawn_agent(&sim, "org-a", ORG_A, Policy::reference().unwrap(), &[]).await;
    let unsigned = case_folder(&samples::load("processo-sem-assinatura").unwrap());
    let cases = [
        // A sender-side rule: the SEI module's text.
        (
            json!({"acao": "enviar", "destino": "1/159098", "nup": nup(5), "pasta": unsigned.path()}),
            422,
            "Não é possível tramitar um processos com documentos gerados e não assinados",
        ),
        (
            json!({"acao": "devolver", "destino": "1/159098", "nup": nup(6)}),
            404,
            "não está no acervo",
        ),
        (
            json!({"acao": "enviar", "destino": "1/159098", "fixture": "nao-existe"}),
            404,
            "amostra nao-existe não existe",
        ),
        (json!({"acao": "voar", "nup": nup(7)}), 400, "voar"),
        (
            json!({"acao": "enviar", "fixture": "processo-simples"}),
            400,
            "destino",
        ),
        (json!({"nup": nup(8)}), 400, "acao"),
    ];
    for (request, status, erro) in cases {
        let (got, body) = post(&a, "webhook", &request).await;
        assert_eq!(got, status, "{request}: {body}");
        let text = body["erro"].as_str().unwrap();
        assert!(text.contains(erro), "{request}: {text}");
    }
    let reply = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}webhook", a.trigger_url))
        .body("acao=enviar")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    assert!(opens(&calls(&sim, "org-a").await).is_empty());
}
