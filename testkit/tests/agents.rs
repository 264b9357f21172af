//! The reference agent end to end: two agents exchange a process both ways through their
//! triggers, and an agent refuses by policy and by the NRE rule with the reference integrator's
//! texts, recovers from platform faults, and takes each pendência once.

use std::time::Duration;

use pen_client::agent::{Event, Policy, ReturnRequest, SendReport, SendRequest};
use pen_client::samples;
use pen_protocol::refusals::{Refusal, RefusalKind};
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use pen_testkit::agents::{inject, send_raw, spawn_agent, trigger, TestAgent};
use pen_testkit::sim::{spawn_simulator, TestSimulator};

use crate::common::{tramite, ORG_A, ORG_B};

const WAIT: Duration = Duration::from_secs(30);

async fn received(agent: &TestAgent, idt: pen_protocol::ids::Idt) -> Event {
    agent
        .wait_for(WAIT, |e| {
            matches!(e, Event::Received { idt: i, .. } | Event::Refused { idt: i, .. } if *i == idt)
        })
        .await
        .unwrap_or_else(|| {
            let last: Vec<_> = agent.activity(0).into_iter().rev().take(5).collect();
            panic!("the agent never took trâmite {idt}; last events: {last:?}")
        })
}

async fn two_agents(sim: &TestSimulator) -> (TestAgent, TestAgent) {
    let policy = Policy::reference().unwrap();
    (
        spawn_agent(sim, "org-a", ORG_A, policy.clone(), &[]).await,
        spawn_agent(sim, "org-b", ORG_B, policy, &[]).await,
    )
}

#[tokio::test]
async fn two_agents_exchange_a_process_both_ways_keeping_its_nre() {
    let sim = spawn_simulator().await;
    let (a, b) = two_agents(&sim).await;

    let reply = trigger(
        &a,
        "send",
        &SendRequest {
            fixture: "processo-varios-documentos".into(),
            destino: "1/159098".into(),
            nup: None,
            anexo_bytes: Some(200_000),
        },
    )
    .await;
    assert_eq!(reply.status(), 200);
    let sent: SendReport = reply.json().await.unwrap();
    let first = sent.idts[0];
    let Event::Received {
        nre,
        downloaded,
        returned,
        protocolo,
        ..
    } = received(&b, first).await
    else {
        panic!("refused: {:?}", b.activity(0));
    };
    assert_eq!(nre, sent.nre);
    assert!(!returned);
    assert_eq!(downloaded.len(), sent.uploaded.len());
    assert!(a
        .wait_for(
            WAIT,
            |e| matches!(e, Event::Concluded { idt } if *idt == first)
        )
        .await
        .is_some());
    assert_eq!(
        tramite(&sim.org("org-a"), first).await.situacao_atual,
        Situacao::ReciboRecebidoRemetente
    );

    // Back to org-a with a despacho: same NRE, and only the despacho travels.
    let reply = trigger(
        &b,
        "return",
        &ReturnRequest {
            nup: protocolo.clone(),
            destino: None,
            despacho: Some("Devolvo para ciência & providências.".into()),
        },
    )
    .await;
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
    let back: SendReport = reply.json().await.unwrap();
    assert_eq!(back.nre, sent.nre, "a return carries the NRE");
    assert_eq!(back.uploaded.len(), 1, "only the despacho is uploaded");
    let Event::Received {
        downloaded,
        returned,
        nre,
        ..
    } = received(&a, back.idts[0]).await
    else {
        panic!("refused: {:?}", a.activity(0));
    };
    assert!(returned, "org-a recognises its own process");
    assert_eq!(nre, sent.nre);
    assert_eq!(
        downloaded, back.uploaded,
        "only what org-a lacks is downloaded"
    );
    assert!(b
        .wait_for(
            WAIT,
            |e| matches!(e, Event::Concluded { idt } if *idt == back.idts[0])
        )
        .await
        .is_some());

    // And once more to org-b: it has everything but a's nothing-new return.
    let again = a
        .return_process(&ReturnRequest {
            nup: protocolo,
            destino: None,
            despacho: None,
        })
        .await
        .unwrap();
    assert_eq!(again.nre, sent.nre);
    assert!(again.uploaded.is_empty());
    let Event::Received { downloaded, .. } = received(&b, again.idts[0]).await else {
        panic!("refused: {:?}", b.activity(0));
    };
    assert!(downloaded.is_empty());
}

#[tokio::test]
async fn a_documento_avulso_goes_through_the_trigger() {
    let sim = spawn_simulator().await;
    let (a, b) = two_agents(&sim).await;
    let sent = a
        .send(&SendRequest {
            fixture: "documento-avulso".into(),
            destino: "1/159098".into(),
            ..SendRequest::default()
        })
        .await
        .unwrap();
    assert!(matches!(
        received(&b, sent.idts[0]).await,
        Event::Received { .. }
    ));
    // An avulso is not returned.
    let reply = trigger(
        &b,
        "return",
        &ReturnRequest {
            nup: sent.protocolo,
            ..ReturnRequest::default()
        },
    )
    .await;
    assert_eq!(reply.status(), 400);
}

#[tokio::test]
async fn refuses_by_policy_with_the_reference_texts() {
    let sim = spawn_simulator().await;
    let reference = Policy::reference().unwrap();
    let small = Policy {
        max_document_mb: Some(1),
        ..reference.clone()
    };
    let mut no_oficio = reference.clone();
    no_oficio.especies.unmapped.insert(88);
    let mut no_txt = reference.clone();
    no_txt.accepted_extensions.as_mut().unwrap().remove("txt");
    let cases = [
        (
            small,
            samples::load("processo-simples")
                .unwrap()
                .with_protocolo("00394.000301/2025-11")
                .with_large_attachment(1_500_000, 1)
                .unwrap(),
            MotivoRecusa::Outro,
            Refusal::TamanhoMaximoGeral { mb: 1 }.justificativa(),
        ),
        (
            reference.clone(),
            samples::load("processo-sem-assinatura").unwrap(),
            MotivoRecusa::Outro,
            "O documento de ordem 1 não possui assinatura digital e o sistema de destino não aceita documentos sem assinatura. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.".to_owned(),
        ),
        (
            no_oficio,
            samples::load("processo-varios-documentos").unwrap(),
            MotivoRecusa::EspecieNaoMapeada,
            "O Documento do tipo Ofício não está mapeado para recebimento no sistema de destino. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.".to_owned(),
        ),
        (
            no_txt,
            samples::load("processo-multicomponente").unwrap(),
            MotivoRecusa::FormatoNaoSuportado,
            Refusal::FormatoNaoPermitido { extensao: "txt".into() }.justificativa(),
        ),
        (
            reference,
            samples::load("processo-sem-interessado").unwrap(),
            MotivoRecusa::Outro,
            "Interessados do processo 00394.000202/2025-31 não informados. OBS: A recusa é uma das três formas de conclusão de trâmite. Portanto, não é um erro.".to_owned(),
        ),
    ];
    for (policy, sample, motivo, justificativa) in cases {
        let b = spawn_agent(&sim, "org-b", ORG_B, policy, &[]).await;
        let name = sample.name.clone();
        let idt = if name == "processo-sem-interessado" {
            inject(&sim, &sample).await
        } else {
            send_raw(&sim, sample).await
        };
        let Event::Refused {
            motivo: m,
            justificativa: j,
            ..
        } = received(&b, idt).await
        else {
            panic!("{name} was accepted");
        };
        assert_eq!((m, j.as_str()), (motivo, justificativa.as_str()), "{name}");
        // What the sender sees is exactly that.
        let seen = tramite(&sim.org("org-a"), idt).await;
        assert_eq!(seen.situacao_atual, Situacao::Recusado, "{name}");
        assert_eq!(seen.motivo_da_recusa, Some(motivo));
        assert_eq!(
            seen.justificativa_da_recusa.as_deref(),
            Some(justificativa.as_str())
        );
        assert!(b.processes().is_empty(), "nothing refused is kept");
        b.running.stop().await;
    }
}

#[tokio::test]
async fn a_protocolo_held_under_another_nre_is_refused_and_the_sender_acknowledges() {
    let sim = spawn_simulator().await;
    let (a, b) = two_agents(&sim).await;
    let first = a
        .send(&SendRequest {
            fixture: "processo-simples".into(),
            destino: "1/159098".into(),
            ..SendRequest::default()
        })
        .await
        .unwrap();
    assert!(matches!(
        received(&b, first.idts[0]).await,
        Event::Received { .. }
    ));
    // The same NUP again as a new process (no NRE): a different process for org-b.
    let idt = send_raw(&sim, samples::load("processo-simples").unwrap()).await;
    let Event::Refused {
        motivo,
        justificativa,
        ..
    } = received(&b, idt).await
    else {
        panic!("accepted a second process with the same NUP");
    };
    assert_eq!(motivo, MotivoRecusa::Outro);
    assert_eq!(
        Refusal::recognise(&justificativa),
        Some(RefusalKind::ProtocoloJaExiste)
    );
    assert!(justificativa.contains("00394.000101/2025-61"));
    // org-a's agent did not send that one, but follows its feed: it acknowledges the refusal.
    assert!(a
        .wait_for(
            WAIT,
            |e| matches!(e, Event::RefusalAcknowledged { idt: i, .. } if *i == idt)
        )
        .await
        .is_some());
    assert_eq!(
        tramite(&sim.org("org-a"), idt).await.situacao_atual,
        Situacao::CienciaRecusa
    );
}

#[tokio::test]
async fn sender_side_rules_stop_a_send_before_the_platform_sees_it() {
    let sim = spawn_simulator().await;
    let (a, _b) = two_agents(&sim).await;
    for (fixture, text) in [
        (
            "processo-sem-assinatura",
            "Não é possível tramitar um processos com documentos gerados e não assinados",
        ),
        (
            "processo-sem-interessado",
            "Interessados do processo 00394.000202/2025-31 não informados.",
        ),
    ] {
        let reply = trigger(
            &a,
            "send",
            &SendRequest {
                fixture: fixture.into(),
                destino: "1/159098".into(),
                ..SendRequest::default()
            },
        )
        .await;
        assert_eq!(reply.status(), 422, "{fixture}");
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["erro"], text);
    }
    let journal: serde_json::Value = sim
        .control()
        .get("journal?kind=request&spe=org-a")
        .await
        .json();
    let opened = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .unwrap_or_default()
                .contains("tramites/processo")
        })
        .count();
    assert_eq!(opened, 0, "nothing reached the platform");
}

#[tokio::test]
async fn platform_faults_are_retried_until_the_reception_completes() {
    let sim = spawn_simulator().await;
    let (a, b) = two_agents(&sim).await;
    sim.control()
        .post_json(
            "faults",
            &serde_json::json!({"type": "error", "status": 503, "spe": "org-b",
                                "path_contains": "componentes-digitais", "times": 2}),
        )
        .await
        .ok();
    sim.control()
        .post_json(
            "faults",
            &serde_json::json!({"type": "feed_outage", "spe": "org-a", "times": 2}),
        )
        .await
        .ok();
    let sent = a
        .send(&SendRequest {
            fixture: "processo-simples".into(),
            destino: "1/159098".into(),
            ..SendRequest::default()
        })
        .await
        .unwrap();
    assert!(matches!(
        received(&b, sent.idts[0]).await,
        Event::Received { .. }
    ));
    assert!(b.activity(0).iter().any(
        |l| matches!(&l.event, Event::Failed { retry: true, during, .. } if during == "download")
    ));
    assert!(a
        .wait_for(WAIT, |e| matches!(e, Event::Concluded { .. }))
        .await
        .is_some());
}
