//! The agent's deliberate defects, each seen from the simulator: every test runs one
//! scenario twice, once with a correct agent and once with the mutant (same organisation, a
//! fresh simulator each time), and asserts what differs on the wire — the requests the journal
//! recorded, what the parties read through `GET tramites?IDT=`, and the control plane's view of
//! the trâmite — not only what the agent says about itself.

use std::time::Duration;

use pen_client::agent::{Defect, Event, Policy, ReturnRequest, SendReport, SendRequest};
use pen_client::samples;
use pen_protocol::ids::Idt;
use pen_protocol::refusals::{Refusal, RefusalKind};
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use pen_simulator::journal::Operation;
use pen_testkit::agents::{inject, send_raw, spawn_agent, trigger, TestAgent, TEST_BLOCK};
use pen_testkit::sim::{spawn_simulator, TestSimulator};
use serde_json::Value;

use crate::common::{tramite, ORG_A, ORG_B};
use crate::wire::{calls, downloads, only, opens, reached, recibos_posted, recusas, uploads, Call};

const WAIT: Duration = Duration::from_secs(30);

/// org-b's main unit, as the trigger takes it.
const TO_B: &str = "1/159098";

// ---------------------------------------------------------------------- helpers

/// The control plane's view of a trâmite (requested/received/downloaded, stored metadata).
async fn inspect(sim: &TestSimulator, idt: Idt) -> Value {
    sim.control().get(&format!("tramites/{idt}")).await.json()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The first event matching `want` (earlier ones count), failing the test with the last events.
async fn event(agent: &TestAgent, what: &str, want: impl Fn(&Event) -> bool) -> Event {
    agent.wait_for(WAIT, want).await.unwrap_or_else(|| {
        let last: Vec<_> = agent.activity(0).into_iter().rev().take(5).collect();
        panic!("{what} never happened; last events: {last:?}")
    })
}

/// How the agent took a trâmite: received, refused, or a step withheld by a defect.
async fn received(agent: &TestAgent, idt: Idt) -> Event {
    event(agent, &format!("a decision on trâmite {idt}"), |e| {
        matches!(e, Event::Received { idt: i, .. } | Event::Refused { idt: i, .. } | Event::Withheld { idt: i, .. } if *i == idt)
    })
    .await
}

fn send_request(fixture: &str) -> SendRequest {
    SendRequest {
        fixture: fixture.into(),
        destino: TO_B.into(),
        ..SendRequest::default()
    }
}

/// Makes the platform serve org-b's component downloads with their first byte changed (the
/// control plane's `corrupt_component` fault): what arrives no longer hashes to what the sender
/// declared.
async fn corrupt_downloads_towards_b(sim: &TestSimulator) {
    let reply = sim
        .control()
        .post_json(
            "faults",
            &serde_json::json!({"type": "corrupt_component", "spe": "org-b"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

// ---------------------------------------------------------------------- forget-nre

#[derive(Debug)]
struct Returned {
    original_nre: pen_protocol::ids::Nre,
    back: SendReport,
    /// How org-a's agent took the return.
    taken: Event,
    /// org-b's uploads: it only received before, so these are the return's.
    uploads_by_b: Vec<Call>,
    /// What the platform asked org-b to upload for the return.
    requested: Vec<String>,
    /// The return as its sender reads it once the sender's agent has closed it.
    seen: pen_protocol::api::Tramite,
}

/// org-a's agent sends a process to org-b's agent, which returns it (no despacho).
async fn sent_and_returned(defects: &[Defect]) -> Returned {
    let sim = spawn_simulator().await;
    let policy = Policy::reference().unwrap();
    let a = spawn_agent(&sim, "org-a", ORG_A, policy.clone(), &[]).await;
    let b = spawn_agent(&sim, "org-b", ORG_B, policy, defects).await;
    let sent = a
        .send(&send_request("processo-varios-documentos"))
        .await
        .unwrap();
    let first = sent.idts[0];
    assert!(matches!(received(&b, first).await, Event::Received { .. }));
    event(
        &a,
        "org-a's conclusion of the first trâmite",
        |e| matches!(e, Event::Concluded { idt } if *idt == first),
    )
    .await;
    let reply = trigger(
        &b,
        "return",
        &ReturnRequest {
            nup: sent.protocolo.clone(),
            ..ReturnRequest::default()
        },
    )
    .await;
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
    let back: SendReport = reply.json().await.unwrap();
    let idt = back.idts[0];
    let taken = received(&a, idt).await;
    // org-b's agent closes its side either way: recibo fetched, or refusal acknowledged.
    event(&b, "org-b closing the return", |e| {
        matches!(e, Event::Concluded { idt: i } | Event::RefusalAcknowledged { idt: i, .. } if *i == idt)
    })
    .await;
    let journal = calls(&sim, "org-b").await;
    let uploads_by_b = uploads(&journal);
    let requested = strings(&inspect(&sim, idt).await["requested"]);
    let seen = tramite(&sim.org("org-b"), idt).await;
    a.running.stop().await;
    b.running.stop().await;
    Returned {
        original_nre: sent.nre,
        back,
        taken,
        uploads_by_b,
        requested,
        seen,
    }
}

#[tokio::test]
async fn forget_nre_returns_under_a_new_nre_and_the_origin_refuses_it() {
    let correct = sent_and_returned(&[]).await;
    let mutant = sent_and_returned(&[Defect::ForgetNre]).await;

    // Correct: the return travels under the original NRE, nothing is uploaded again, org-a
    // recognises its own process and concludes; org-b fetches the recibo (6).
    assert_eq!(correct.back.nre, correct.original_nre);
    assert_eq!(correct.seen.nre, correct.original_nre);
    assert!(correct.requested.is_empty(), "{correct:?}");
    assert!(correct.uploads_by_b.is_empty(), "{correct:?}");
    assert!(
        matches!(correct.taken, Event::Received { returned: true, .. }),
        "{correct:?}"
    );
    assert_eq!(
        correct.seen.situacao_atual,
        Situacao::ReciboRecebidoRemetente
    );
    assert_eq!(correct.seen.motivo_da_recusa, None);

    // Mutant: the platform issues a new NRE, asks for every component again, and org-a refuses
    // a protocolo it already holds under another NRE (99, "… já existe …"); org-b acknowledges.
    assert_ne!(mutant.back.nre, mutant.original_nre);
    assert_eq!(mutant.seen.nre, mutant.back.nre);
    assert_eq!(mutant.requested.len(), 3, "{mutant:?}");
    assert_eq!(mutant.uploads_by_b.len(), 3, "{mutant:?}");
    assert!(mutant
        .uploads_by_b
        .iter()
        .all(|c| c.status == 200 && matches!(c.operation, Operation::UploadWhole { .. })));
    assert!(matches!(mutant.taken, Event::Refused { .. }), "{mutant:?}");
    assert_eq!(mutant.seen.situacao_atual, Situacao::CienciaRecusa);
    assert_eq!(mutant.seen.motivo_da_recusa, Some(MotivoRecusa::Outro));
    let justificativa = mutant.seen.justificativa_da_recusa.clone().unwrap();
    assert_eq!(
        Refusal::recognise(&justificativa),
        Some(RefusalKind::ProtocoloJaExiste)
    );
    assert!(
        justificativa.contains(&mutant.back.protocolo),
        "{justificativa}"
    );
}

// ---------------------------------------------------------------------- skip-hash-check

#[derive(Debug)]
struct CorruptedDelivery {
    idt: Idt,
    taken: Event,
    b: Vec<Call>,
    /// As the sender reads it.
    seen: pen_protocol::api::Tramite,
    inspected: Value,
}

/// A trâmite towards org-b whose only component the platform serves corrupted.
async fn corrupted_towards_b(defects: &[Defect]) -> CorruptedDelivery {
    let sim = spawn_simulator().await;
    let sample = samples::load("processo-simples").unwrap();
    let idt = inject(&sim, &sample).await;
    corrupt_downloads_towards_b(&sim).await;
    let b = spawn_agent(&sim, "org-b", ORG_B, Policy::reference().unwrap(), defects).await;
    let taken = received(&b, idt).await;
    let out = CorruptedDelivery {
        idt,
        taken,
        b: calls(&sim, "org-b").await,
        seen: tramite(&sim.org("org-a"), idt).await,
        inspected: inspect(&sim, idt).await,
    };
    b.running.stop().await;
    out
}

#[tokio::test]
async fn skip_hash_check_concludes_a_corrupted_component() {
    let correct = corrupted_towards_b(&[]).await;
    let mutant = corrupted_towards_b(&[Defect::SkipHashCheck]).await;

    // Both download the component: the difference is what comes after.
    for run in [&correct, &mutant] {
        assert_eq!(downloads(&run.b).len(), 1, "{run:?}");
        assert_eq!(strings(&run.inspected["downloaded"]).len(), 1, "{run:?}");
    }

    // Correct: a recusa with motivo 02 and the module's text, no recibo.
    assert!(matches!(correct.taken, Event::Refused { .. }));
    assert_eq!(recusas(&correct.b, correct.idt).len(), 1);
    assert!(recibos_posted(&correct.b, correct.idt).is_empty());
    assert_eq!(correct.seen.situacao_atual, Situacao::Recusado);
    assert_eq!(
        correct.seen.motivo_da_recusa,
        Some(MotivoRecusa::ComponenteCorrompido)
    );
    assert_eq!(
        correct.seen.justificativa_da_recusa.as_deref(),
        Some(
            Refusal::HashNaoConfere { ordem: 1 }
                .justificativa()
                .as_str()
        )
    );
    assert!(correct.inspected["recibo_de_conclusao"].is_null());

    // Mutant: a recibo de conclusão of the corrupted bytes, accepted (5), and no recusa.
    assert!(matches!(mutant.taken, Event::Received { .. }));
    assert!(recusas(&mutant.b, mutant.idt).is_empty());
    let recibos = recibos_posted(&mutant.b, mutant.idt);
    assert_eq!(recibos.len(), 1);
    assert_eq!(recibos[0].status, 200);
    assert_eq!(
        mutant.seen.situacao_atual,
        Situacao::ReciboEnviadoDestinatario
    );
    assert_eq!(mutant.seen.motivo_da_recusa, None);
    assert!(mutant.inspected["recibo_de_conclusao"].is_string());
}

// ---------------------------------------------------------------------- accept-oversize

#[derive(Debug)]
struct Oversize {
    idt: Idt,
    taken: Event,
    b: Vec<Call>,
    seen: pen_protocol::api::Tramite,
    inspected: Value,
}

/// A 1.5 MB attachment towards an org-b that takes at most 1 MB per component.
async fn oversize_towards_b(defects: &[Defect]) -> Oversize {
    let sim = spawn_simulator().await;
    let policy = Policy {
        max_document_mb: Some(1),
        ..Policy::reference().unwrap()
    };
    let b = spawn_agent(&sim, "org-b", ORG_B, policy, defects).await;
    let sample = samples::load("processo-simples")
        .unwrap()
        .with_large_attachment(1_500_000, 1)
        .unwrap();
    let idt = send_raw(&sim, sample).await;
    let taken = received(&b, idt).await;
    let out = Oversize {
        idt,
        taken,
        b: calls(&sim, "org-b").await,
        seen: tramite(&sim.org("org-a"), idt).await,
        inspected: inspect(&sim, idt).await,
    };
    b.running.stop().await;
    out
}

#[tokio::test]
async fn accept_oversize_downloads_and_concludes_what_the_policy_refuses() {
    let correct = oversize_towards_b(&[]).await;
    let mutant = oversize_towards_b(&[Defect::AcceptOversize]).await;

    // Correct: refused on the metadata (99, the size text), not one byte downloaded.
    assert!(matches!(correct.taken, Event::Refused { .. }));
    assert!(downloads(&correct.b).is_empty(), "{:?}", correct.b);
    assert!(strings(&correct.inspected["downloaded"]).is_empty());
    assert_eq!(recusas(&correct.b, correct.idt).len(), 1);
    assert_eq!(correct.seen.situacao_atual, Situacao::Recusado);
    assert_eq!(correct.seen.motivo_da_recusa, Some(MotivoRecusa::Outro));
    assert_eq!(
        correct.seen.justificativa_da_recusa.as_deref(),
        Some(
            Refusal::TamanhoMaximoGeral { mb: 1 }
                .justificativa()
                .as_str()
        )
    );

    // Mutant: both components downloaded (the 1.5 MB one in 64 KiB parts), recibo posted (5).
    let parts = 1_500_000u64.div_ceil(TEST_BLOCK);
    let got = downloads(&mutant.b);
    assert!(got.iter().all(|c| c.status == 200));
    assert_eq!(got.len() as u64, 1 + parts, "{got:?}");
    assert_eq!(strings(&mutant.inspected["downloaded"]).len(), 2);
    assert!(recusas(&mutant.b, mutant.idt).is_empty());
    assert_eq!(recibos_posted(&mutant.b, mutant.idt).len(), 1);
    assert_eq!(
        mutant.seen.situacao_atual,
        Situacao::ReciboEnviadoDestinatario
    );
    assert!(matches!(mutant.taken, Event::Received { .. }));
}

// ---------------------------------------------------------------------- recibo de conclusão

#[derive(Debug)]
struct Receipt {
    idt: Idt,
    taken: Event,
    b: Vec<Call>,
    seen: pen_protocol::api::Tramite,
    inspected: Value,
}

/// A sample towards org-b's agent, which downloads it and posts its recibo de conclusão.
async fn receipt_of(fixture: &str, defects: &[Defect]) -> Receipt {
    let sim = spawn_simulator().await;
    let b = spawn_agent(&sim, "org-b", ORG_B, Policy::reference().unwrap(), defects).await;
    let idt = send_raw(&sim, samples::load(fixture).unwrap()).await;
    let taken = received(&b, idt).await;
    let out = Receipt {
        idt,
        taken,
        b: calls(&sim, "org-b").await,
        seen: tramite(&sim.org("org-a"), idt).await,
        inspected: inspect(&sim, idt).await,
    };
    b.running.stop().await;
    out
}

/// What a correct recibo and a rejected one look like on the wire.
fn assert_receipt_rejected(correct: &Receipt, mutant: &Receipt, components: usize) {
    // Correct: one POST recibo, 200; the sender reads 5, no refusal.
    let posted = recibos_posted(&correct.b, correct.idt);
    assert_eq!(
        posted
            .iter()
            .map(|c| (c.status, c.error_code.clone()))
            .collect::<Vec<_>>(),
        [(200, None)],
        "{correct:?}"
    );
    assert!(recusas(&correct.b, correct.idt).is_empty());
    assert!(matches!(correct.taken, Event::Received { .. }));
    assert_eq!(
        correct.seen.situacao_atual,
        Situacao::ReciboEnviadoDestinatario
    );
    assert!(correct.inspected["recibo_de_conclusao"].is_string());

    // Mutant: the same downloads, then the recibo answered 0024 and the trâmite refused (99)
    // with the platform's message.
    assert_eq!(
        strings(&mutant.inspected["downloaded"]).len(),
        components,
        "{mutant:?}"
    );
    let posted = recibos_posted(&mutant.b, mutant.idt);
    assert_eq!(posted.len(), 1, "{mutant:?}");
    assert_eq!(posted[0].error_code.as_deref(), Some("0024"), "{mutant:?}");
    assert_eq!(posted[0].status, 500);
    assert_eq!(recusas(&mutant.b, mutant.idt).len(), 1);
    assert!(mutant.inspected["recibo_de_conclusao"].is_null());
    assert_eq!(mutant.seen.situacao_atual, Situacao::Recusado);
    assert_eq!(mutant.seen.motivo_da_recusa, Some(MotivoRecusa::Outro));
    let justificativa = mutant.seen.justificativa_da_recusa.clone().unwrap();
    assert!(
        justificativa.contains("Recibo de conclusão de trâmite não aceito"),
        "{justificativa}"
    );
    assert!(
        matches!(&mutant.taken, Event::Refused { justificativa: j, .. } if *j == justificativa)
    );
}

#[tokio::test]
async fn bad_receipt_signature_gets_0024_and_ends_in_a_refusal() {
    let correct = receipt_of("processo-simples", &[]).await;
    let mutant = receipt_of("processo-simples", &[Defect::BadReceiptSignature]).await;
    assert_receipt_rejected(&correct, &mutant, 1);
}

#[tokio::test]
async fn receipt_wrong_hashes_gets_0024_and_ends_in_a_refusal() {
    let correct = receipt_of("processo-multicomponente", &[]).await;
    let mutant = receipt_of("processo-multicomponente", &[Defect::ReceiptWrongHashes]).await;
    assert_eq!(strings(&correct.inspected["downloaded"]).len(), 2);
    assert_receipt_rejected(&correct, &mutant, 2);
}

// ---------------------------------------------------------------------- ignore-refusal

#[derive(Debug)]
struct RefusedSend {
    idt: Idt,
    a: Vec<Call>,
    seen: pen_protocol::api::Tramite,
}

/// org-a's agent sends a process whose espécie org-b does not map; org-b refuses it (04).
async fn refused_send(defects: &[Defect]) -> RefusedSend {
    let sim = spawn_simulator().await;
    let mut strict = Policy::reference().unwrap();
    strict.especies.unmapped.insert(42);
    let a = spawn_agent(&sim, "org-a", ORG_A, Policy::reference().unwrap(), defects).await;
    let b = spawn_agent(&sim, "org-b", ORG_B, strict, &[]).await;
    let sent = a.send(&send_request("processo-simples")).await.unwrap();
    let idt = sent.idts[0];
    assert!(matches!(
        received(&b, idt).await,
        Event::Refused {
            motivo: MotivoRecusa::EspecieNaoMapeada,
            ..
        }
    ));
    event(&a, "org-a's handling of the refusal", |e| {
        matches!(e, Event::RefusalAcknowledged { idt: i, .. } | Event::RefusalIgnored { idt: i } if *i == idt)
    })
    .await;
    let out = RefusedSend {
        idt,
        a: calls(&sim, "org-a").await,
        seen: tramite(&sim.org("org-a"), idt).await,
    };
    a.running.stop().await;
    b.running.stop().await;
    out
}

#[tokio::test]
async fn ignore_refusal_never_acknowledges_and_the_trâmite_stays_at_8() {
    let correct = refused_send(&[]).await;
    let mutant = refused_send(&[Defect::IgnoreRefusal]).await;
    let ciencia = |run: &RefusedSend| only(&run.a, |o| *o == Operation::Ciencia { idt: run.idt });

    let acknowledged = ciencia(&correct);
    assert_eq!(acknowledged.len(), 1, "{correct:?}");
    assert_eq!(acknowledged[0].status, 200);
    assert_eq!(correct.seen.situacao_atual, Situacao::CienciaRecusa);

    assert!(ciencia(&mutant).is_empty(), "{mutant:?}");
    assert_eq!(mutant.seen.situacao_atual, Situacao::Recusado);
    // The refusal itself is the same in both runs.
    for run in [&correct, &mutant] {
        assert_eq!(
            run.seen.motivo_da_recusa,
            Some(MotivoRecusa::EspecieNaoMapeada)
        );
    }
}

// ---------------------------------------------------------------------- sender-side rules

#[derive(Debug)]
struct TriggeredSend {
    status: u16,
    body: Value,
    a: Vec<Call>,
    /// Where the trâmite reached situação 2 in the journal.
    reached_2: Option<u64>,
    /// The control plane's view of what was opened, if anything was.
    inspected: Option<Value>,
}

/// org-a's agent is asked through its trigger to send a sample to org-b.
async fn triggered_send(fixture: &str, defects: &[Defect]) -> TriggeredSend {
    let sim = spawn_simulator().await;
    let a = spawn_agent(&sim, "org-a", ORG_A, Policy::reference().unwrap(), defects).await;
    let reply = trigger(&a, "send", &send_request(fixture)).await;
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap();
    let idt = match body["IDT"].as_array() {
        Some(idts) if status == 200 => Some(Idt(idts[0].as_u64().unwrap())),
        _ => None,
    };
    let (inspected, reached_2) = match idt {
        Some(idt) => (
            Some(inspect(&sim, idt).await),
            reached(&sim, idt, Situacao::ComponentesEnviadosRemetente).await,
        ),
        None => (None, None),
    };
    let out = TriggeredSend {
        status,
        body,
        a: calls(&sim, "org-a").await,
        reached_2,
        inspected,
    };
    a.running.stop().await;
    out
}

#[tokio::test]
async fn send_unsigned_puts_an_unsigned_generated_document_on_the_wire() {
    let correct = triggered_send("processo-sem-assinatura", &[]).await;
    let mutant = triggered_send("processo-sem-assinatura", &[Defect::SendUnsigned]).await;

    assert_eq!(correct.status, 422, "{correct:?}");
    assert_eq!(
        correct.body["erro"],
        "Não é possível tramitar um processos com documentos gerados e não assinados"
    );
    assert!(opens(&correct.a).is_empty(), "{correct:?}");
    assert!(uploads(&correct.a).is_empty());

    assert_eq!(mutant.status, 200, "{mutant:?}");
    let opened = opens(&mutant.a);
    assert_eq!(opened.len(), 1, "{mutant:?}");
    assert_eq!(opened[0].status, 200);
    let inspected = mutant.inspected.as_ref().unwrap();
    let documentos = inspected["metadata"]["documentos"].as_array().unwrap();
    let components: Vec<&Value> = documentos
        .iter()
        .flat_map(|d| d["componentesDigitais"].as_array().unwrap())
        .collect();
    assert!(!components.is_empty());
    assert!(
        components.iter().all(|c| c["assinaturasDigitais"]
            .as_array()
            .is_none_or(Vec::is_empty)),
        "{inspected}"
    );
    // The whole thing travelled: the platform holds the component (situação 2).
    assert_eq!(inspected["tramite"]["situacaoAtual"], 2);
}

#[tokio::test]
async fn send_without_interessado_reaches_the_platform_which_rejects_it() {
    let correct = triggered_send("processo-sem-interessado", &[]).await;
    let mutant = triggered_send(
        "processo-sem-interessado",
        &[Defect::SendWithoutInteressado],
    )
    .await;

    // Correct: stopped by the sender-side rule, nothing on the wire.
    assert_eq!(correct.status, 422, "{correct:?}");
    assert_eq!(
        correct.body["erro"],
        "Interessados do processo 00394.000202/2025-31 não informados."
    );
    assert!(opens(&correct.a).is_empty(), "{correct:?}");

    // Mutant: the open reaches the strict platform, which answers its schema validation error
    // (400, 9010) naming the empty interessados; nothing is uploaded. The trigger reports the
    // platform's refusal as 502.
    let opened = opens(&mutant.a);
    assert_eq!(
        opened
            .iter()
            .map(|c| (c.status, c.error_code.as_deref()))
            .collect::<Vec<_>>(),
        [(400, Some("9010"))],
        "{mutant:?}"
    );
    assert!(uploads(&mutant.a).is_empty());
    assert_eq!(mutant.status, 502);
    let erro = mutant.body["erro"].as_str().unwrap();
    assert!(
        erro.contains("processo.interessados não pode ser vazio"),
        "{erro}"
    );
}

// ---------------------------------------------------------------------- no-parts-for-large

#[derive(Debug)]
struct LargeSend {
    a: Vec<Call>,
    inspected: Value,
}

/// org-a's agent sends a process with a 300 000-byte attachment (above its 64 KiB block).
async fn large_send(defects: &[Defect]) -> LargeSend {
    let sim = spawn_simulator().await;
    let a = spawn_agent(&sim, "org-a", ORG_A, Policy::reference().unwrap(), defects).await;
    let sent = a
        .send(&SendRequest {
            anexo_bytes: Some(300_000),
            ..send_request("processo-simples")
        })
        .await
        .unwrap();
    let out = LargeSend {
        a: calls(&sim, "org-a").await,
        inspected: inspect(&sim, sent.idts[0]).await,
    };
    a.running.stop().await;
    out
}

#[tokio::test]
async fn no_parts_for_large_uploads_a_large_component_whole() {
    let correct = large_send(&[]).await;
    let mutant = large_send(&[Defect::NoPartsForLarge]).await;
    let parts = |run: &LargeSend| only(&run.a, |o| matches!(o, Operation::UploadPart { .. }));
    let whole = |run: &LargeSend| only(&run.a, |o| matches!(o, Operation::UploadWhole { .. }));
    let signals = |run: &LargeSend| only(&run.a, |o| matches!(o, Operation::FinishParts { .. }));

    // Correct: the attachment in 64 KiB parts and the end-of-parts signal; the despacho (below
    // the block) whole.
    assert_eq!(
        parts(&correct).len() as u64,
        300_000u64.div_ceil(TEST_BLOCK)
    );
    assert!(parts(&correct).iter().all(|c| c.status == 200));
    assert_eq!(signals(&correct).len(), 1);
    assert_eq!(whole(&correct).len(), 1);

    // Mutant: two whole PUTs, no part, no signal.
    assert!(parts(&mutant).is_empty(), "{:?}", mutant.a);
    assert!(signals(&mutant).is_empty());
    assert_eq!(whole(&mutant).len(), 2);
    assert!(whole(&mutant).iter().all(|c| c.status == 200));

    // Either way the platform got everything (situação 2).
    for run in [&correct, &mutant] {
        assert_eq!(run.inspected["tramite"]["situacaoAtual"], 2);
        assert_eq!(
            strings(&run.inspected["received"]).len(),
            strings(&run.inspected["requested"]).len()
        );
    }
}

// ---------------------------------------------------------------------- download-before-refusing

#[tokio::test]
async fn download_before_refusing_downloads_everything_then_refuses_the_same_way() {
    let correct = oversize_towards_b(&[]).await;
    let mutant = oversize_towards_b(&[Defect::DownloadBeforeRefusing]).await;

    // Correct: not one download before (or after) the recusa.
    assert!(downloads(&correct.b).is_empty(), "{:?}", correct.b);

    // Mutant: every component, in parts, all answered, and all of it before the recusa.
    let got = downloads(&mutant.b);
    assert_eq!(
        got.len() as u64,
        1 + 1_500_000u64.div_ceil(TEST_BLOCK),
        "{got:?}"
    );
    assert!(got.iter().all(|c| c.status == 200));
    assert_eq!(strings(&mutant.inspected["downloaded"]).len(), 2);
    let recusa = recusas(&mutant.b, mutant.idt);
    assert_eq!(recusa.len(), 1, "{:?}", mutant.b);
    assert!(got.iter().all(|c| c.seq < recusa[0].seq), "{:?}", mutant.b);
    assert!(recibos_posted(&mutant.b, mutant.idt).is_empty());

    // The refusal itself is the same: motivo 99 and the size text.
    for run in [&correct, &mutant] {
        assert_eq!(run.seen.situacao_atual, Situacao::Recusado);
        assert_eq!(run.seen.motivo_da_recusa, Some(MotivoRecusa::Outro));
        assert_eq!(
            run.seen.justificativa_da_recusa.as_deref(),
            Some(
                Refusal::TamanhoMaximoGeral { mb: 1 }
                    .justificativa()
                    .as_str()
            )
        );
    }
}

// ---------------------------------------------------------------------- never-refuses

#[tokio::test]
async fn never_refuses_concludes_what_the_policy_refuses() {
    let correct = oversize_towards_b(&[]).await;
    let mutant = oversize_towards_b(&[Defect::NeverRefuses]).await;

    assert_eq!(recusas(&correct.b, correct.idt).len(), 1);
    assert_eq!(correct.seen.situacao_atual, Situacao::Recusado);

    // Mutant: no recusa at all; everything downloaded and a recibo accepted (5).
    assert!(
        only(&mutant.b, |o| matches!(o, Operation::Recusa { .. })).is_empty(),
        "{:?}",
        mutant.b
    );
    assert_eq!(strings(&mutant.inspected["downloaded"]).len(), 2);
    let posted = recibos_posted(&mutant.b, mutant.idt);
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].status, 200);
    assert_eq!(
        mutant.seen.situacao_atual,
        Situacao::ReciboEnviadoDestinatario
    );
    assert_eq!(mutant.seen.motivo_da_recusa, None);
    assert!(matches!(mutant.taken, Event::Received { .. }));
}

// ---------------------------------------------------------------------- receipt-old-date

#[tokio::test]
async fn receipt_old_date_signs_a_recibo_dated_2001_and_the_platform_takes_it() {
    let correct = receipt_of("processo-simples", &[]).await;
    let mutant = receipt_of("processo-simples", &[Defect::ReceiptOldDate]).await;

    // Correct: the instant of situação 4, as the trâmite's history gives it, at `.000Z`.
    let at_4 = correct
        .seen
        .reached(Situacao::ComponentesRecebidosDestinatario)
        .expect("situação 4 in the history")
        .parse()
        .unwrap();
    assert_eq!(
        correct.inspected["recibo_de_conclusao"],
        pen_protocol::datetime::format_receipt_date(at_4)
    );

    // Mutant: the recibo the platform stored is dated 2001; it was accepted (200, then 5).
    assert_eq!(
        mutant.inspected["recibo_de_conclusao"],
        pen_client::agent::OLD_RECEIPT_DATE
    );
    assert_eq!(
        mutant.inspected["recibo_de_conclusao"],
        "2001-01-01T00:00:00.000Z"
    );
    for run in [&correct, &mutant] {
        let posted = recibos_posted(&run.b, run.idt);
        assert_eq!(posted.len(), 1, "{run:?}");
        assert_eq!(posted[0].status, 200);
        assert_eq!(run.seen.situacao_atual, Situacao::ReciboEnviadoDestinatario);
    }
}

// ---------------------------------------------------------------------- posts-receipt-twice

#[tokio::test]
async fn posts_receipt_twice_posts_the_recibo_again_after_it_was_accepted() {
    let correct = receipt_of("processo-simples", &[]).await;
    let mutant = receipt_of("processo-simples", &[Defect::PostsReceiptTwice]).await;

    let posted = recibos_posted(&correct.b, correct.idt);
    assert_eq!(posted.len(), 1, "{correct:?}");

    // Mutant: a second POST recibo after the first was accepted; the platform turns it down
    // (the trâmite is no longer at 4) and the trâmite stays at 5.
    let posted = recibos_posted(&mutant.b, mutant.idt);
    assert_eq!(posted.len(), 2, "{mutant:?}");
    assert_eq!(posted[0].status, 200);
    assert!(posted[1].status >= 400, "{posted:?}");
    assert!(recusas(&mutant.b, mutant.idt).is_empty());
    assert!(matches!(mutant.taken, Event::Received { .. }));
    for run in [&correct, &mutant] {
        assert_eq!(run.seen.situacao_atual, Situacao::ReciboEnviadoDestinatario);
    }
}

// ---------------------------------------------------------------------- never-posts-recibo

#[tokio::test]
async fn never_posts_recibo_downloads_everything_and_leaves_the_trâmite_at_4() {
    let correct = receipt_of("processo-multicomponente", &[]).await;
    let mutant = receipt_of("processo-multicomponente", &[Defect::NeverPostsRecibo]).await;

    assert_eq!(recibos_posted(&correct.b, correct.idt).len(), 1);
    assert_eq!(
        correct.seen.situacao_atual,
        Situacao::ReciboEnviadoDestinatario
    );

    // Mutant: both components downloaded (hashes checked: nothing refused), no recibo, at 4.
    assert_eq!(strings(&mutant.inspected["downloaded"]).len(), 2);
    assert_eq!(downloads(&mutant.b).len(), downloads(&correct.b).len());
    assert!(
        recibos_posted(&mutant.b, mutant.idt).is_empty(),
        "{mutant:?}"
    );
    assert!(recusas(&mutant.b, mutant.idt).is_empty());
    assert!(mutant.inspected["recibo_de_conclusao"].is_null());
    assert_eq!(
        mutant.seen.situacao_atual,
        Situacao::ComponentesRecebidosDestinatario
    );
    assert!(
        matches!(
            &mutant.taken,
            Event::Withheld {
                defect: Defect::NeverPostsRecibo,
                ..
            }
        ),
        "{mutant:?}"
    );
}

// ---------------------------------------------------------------------- cancels-its-sends

#[tokio::test]
async fn cancels_its_sends_deletes_the_trâmite_once_it_reached_2() {
    let correct = triggered_send("processo-simples", &[]).await;
    let mutant = triggered_send("processo-simples", &[Defect::CancelsItsSends]).await;
    let cancels = |run: &TriggeredSend| only(&run.a, |o| matches!(o, Operation::Cancel { .. }));

    assert_eq!(correct.status, 200, "{correct:?}");
    assert!(cancels(&correct).is_empty(), "{correct:?}");
    assert_eq!(
        correct.inspected.as_ref().unwrap()["tramite"]["situacaoAtual"],
        2
    );

    // Mutant: the trigger says done, yet after the upload brought the trâmite to 2 its sender
    // cancelled it (DELETE, 200) and it ends at 7.
    assert_eq!(mutant.status, 200, "{mutant:?}");
    let idt = Idt(mutant.body["IDT"][0].as_u64().unwrap());
    let deleted = cancels(&mutant);
    assert_eq!(deleted.len(), 1, "{mutant:?}");
    assert_eq!(deleted[0].operation, Operation::Cancel { idt });
    assert_eq!(deleted[0].status, 200);
    let at_2 = mutant.reached_2.unwrap();
    assert!(at_2 < deleted[0].seq, "{mutant:?}");
    assert!(uploads(&mutant.a).iter().all(|c| c.seq < deleted[0].seq));
    assert_eq!(
        mutant.inspected.as_ref().unwrap()["tramite"]["situacaoAtual"],
        7
    );
}

// ---------------------------------------------------------------------- never-fetches-recibo

#[derive(Debug)]
struct Concluded {
    idt: Idt,
    a: Vec<Call>,
    seen: pen_protocol::api::Tramite,
    /// How org-a's agent closed its side.
    closed: Event,
}

/// org-a's agent sends a sample that org-b's agent receives and concludes.
async fn concluded_send(defects: &[Defect]) -> Concluded {
    let sim = spawn_simulator().await;
    let policy = Policy::reference().unwrap();
    let a = spawn_agent(&sim, "org-a", ORG_A, policy.clone(), defects).await;
    let b = spawn_agent(&sim, "org-b", ORG_B, policy, &[]).await;
    let sent = a.send(&send_request("processo-simples")).await.unwrap();
    let idt = sent.idts[0];
    assert!(matches!(received(&b, idt).await, Event::Received { .. }));
    let closed = event(
        &a,
        "org-a closing its side",
        |e| matches!(e, Event::Concluded { idt: i } | Event::Withheld { idt: i, .. } if *i == idt),
    )
    .await;
    let out = Concluded {
        idt,
        a: calls(&sim, "org-a").await,
        seen: tramite(&sim.org("org-a"), idt).await,
        closed,
    };
    a.running.stop().await;
    b.running.stop().await;
    out
}

#[tokio::test]
async fn never_fetches_recibo_leaves_the_trâmite_at_5() {
    let correct = concluded_send(&[]).await;
    let mutant = concluded_send(&[Defect::NeverFetchesRecibo]).await;
    let fetched = |run: &Concluded| only(&run.a, |o| *o == Operation::GetRecibo { idt: run.idt });

    let got = fetched(&correct);
    assert_eq!(got.len(), 1, "{correct:?}");
    assert_eq!(got[0].status, 200);
    assert_eq!(
        correct.seen.situacao_atual,
        Situacao::ReciboRecebidoRemetente
    );

    assert!(
        only(&mutant.a, |o| matches!(o, Operation::GetRecibo { .. })).is_empty(),
        "{mutant:?}"
    );
    assert_eq!(
        mutant.seen.situacao_atual,
        Situacao::ReciboEnviadoDestinatario
    );
    assert!(matches!(
        mutant.closed,
        Event::Withheld {
            defect: Defect::NeverFetchesRecibo,
            ..
        }
    ));
}
