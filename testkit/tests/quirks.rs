//! The agent's quirks — correct behaviour that differs from the reference — each seen on the
//! wire against a reference run on a fresh simulator: what a harness must accept.

use std::time::{Duration, SystemTime};

use pen_client::agent::{AgentError, Event, Policy, Quirk, SendReport, SendRequest};
use pen_client::samples;
use pen_protocol::datetime;
use pen_protocol::situacao::Situacao;
use pen_simulator::faults::{FaultKind, FaultSpec};
use pen_simulator::journal::Operation;
use pen_testkit::agents::{send_raw, spawn_agent_with, TEST_BLOCK};
use pen_testkit::sim::spawn_simulator;

use crate::common::{tramite, ORG_A, ORG_B};
use crate::wire::{calls, control, only, recibos_posted, uploads, Call};

const WAIT: Duration = Duration::from_secs(30);

fn epoch_millis(at: SystemTime) -> i64 {
    i64::try_from(
        at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[derive(Debug)]
struct Dated {
    /// The recibo's dataDeRecebimento as the platform stored it.
    date: String,
    situacao_4: String,
    posted: Vec<Call>,
    situacao: Situacao,
}

/// org-b's agent receives a sample and posts its recibo.
async fn recibo_dated(quirks: &[Quirk]) -> Dated {
    let sim = spawn_simulator().await;
    let b = spawn_agent_with(
        &sim,
        "org-b",
        ORG_B,
        Policy::reference().unwrap(),
        &[],
        quirks,
    )
    .await;
    let idt = send_raw(&sim, samples::load("processo-simples").unwrap()).await;
    b.wait_for(
        WAIT,
        |e| matches!(e, Event::Received { idt: i, .. } if *i == idt),
    )
    .await
    .unwrap_or_else(|| panic!("not received: {:?}", b.activity(0)));
    let inspected = control(&sim).inspect(idt).await.unwrap().unwrap();
    let seen = tramite(&sim.org("org-a"), idt).await;
    let at_4 = seen
        .reached(Situacao::ComponentesRecebidosDestinatario)
        .expect("situação 4 in the history")
        .parse()
        .unwrap();
    let out = Dated {
        date: inspected.recibo_de_conclusao.unwrap(),
        situacao_4: datetime::format_receipt_date(at_4),
        posted: recibos_posted(&calls(&sim, "org-b").await, idt),
        situacao: seen.situacao_atual,
    };
    b.running.stop().await;
    out
}

#[tokio::test]
async fn receipt_dated_now_signs_the_agents_clock_with_milliseconds() {
    let reference = recibo_dated(&[]).await;
    let before = epoch_millis(SystemTime::now());
    let quirky = recibo_dated(&[Quirk::ReceiptDatedNow]).await;
    let after = epoch_millis(SystemTime::now());

    // Reference: the platform's (manual) clock at situação 4.
    assert_eq!(reference.date, reference.situacao_4);

    // Quirk: the agent's wall clock, `YYYY-MM-DDTHH:MM:SS.mmmZ`, far from the platform's clock.
    let date = &quirky.date;
    assert_eq!(date.len(), 24, "{date}");
    assert!(date.ends_with('Z') && &date[19..20] == ".", "{date}");
    assert!(date[20..23].chars().all(|c| c.is_ascii_digit()), "{date}");
    let at = datetime::to_epoch_millis(datetime::parse(date).unwrap());
    assert!((before..=after).contains(&at), "{before} ≤ {at} ≤ {after}");
    assert_ne!(*date, quirky.situacao_4);

    // Both are accepted: one POST recibo, 200, situação 5.
    for run in [&reference, &quirky] {
        assert_eq!(run.posted.len(), 1, "{run:?}");
        assert_eq!(run.posted[0].status, 200);
        assert_eq!(run.situacao, Situacao::ReciboEnviadoDestinatario);
    }
}

#[derive(Debug)]
struct Faulted {
    sent: Result<SendReport, String>,
    a: Vec<Call>,
    situacao: Option<u64>,
}

/// org-a's agent sends `processo-simples` (plus an anexo of `anexo` bytes) while the platform
/// answers 503 to the first request that `method` and `path` match.
async fn send_through_a_fault(
    quirks: &[Quirk],
    anexo: Option<u64>,
    method: &str,
    path: &str,
) -> Faulted {
    let sim = spawn_simulator().await;
    let a = spawn_agent_with(
        &sim,
        "org-a",
        ORG_A,
        Policy::reference().unwrap(),
        &[],
        quirks,
    )
    .await;
    control(&sim)
        .add_fault(&FaultSpec {
            spe: Some("org-a".to_owned()),
            method: Some(method.to_owned()),
            path_contains: Some(path.to_owned()),
            kind: FaultKind::Error { status: 503 },
            times: Some(1),
        })
        .await
        .unwrap();
    let sent = a
        .send(&SendRequest {
            fixture: "processo-simples".into(),
            destino: "1/159098".into(),
            anexo_bytes: anexo,
            ..SendRequest::default()
        })
        .await;
    let a_calls = calls(&sim, "org-a").await;
    let idt = only(&a_calls, |o| matches!(o, Operation::Cancel { .. }))
        .first()
        .and_then(|c| c.operation.idt())
        .or_else(|| sent.as_ref().ok().map(|r| r.idts[0]));
    let situacao = match idt {
        Some(idt) => Some(
            control(&sim)
                .inspect(idt)
                .await
                .unwrap()
                .unwrap()
                .tramite
                .situacao_atual
                .code()
                .into(),
        ),
        None => None,
    };
    a.running.stop().await;
    Faulted {
        sent: sent.map_err(|e: AgentError| e.to_string()),
        a: a_calls,
        situacao,
    }
}

fn statuses(calls: &[Call]) -> Vec<u16> {
    calls.iter().map(|c| c.status).collect()
}

#[tokio::test]
async fn retry_uploads_tries_a_failed_whole_upload_again_at_once() {
    let reference = send_through_a_fault(&[], None, "PUT", "componentes-a-enviar").await;
    let quirky =
        send_through_a_fault(&[Quirk::RetryUploads], None, "PUT", "componentes-a-enviar").await;

    // Reference: the one whole PUT fails, the send is given up and the trâmite cancelled (7).
    assert!(reference.sent.is_err(), "{reference:?}");
    assert_eq!(statuses(&uploads(&reference.a)), [503], "{reference:?}");
    assert_eq!(
        only(&reference.a, |o| matches!(o, Operation::Cancel { .. })).len(),
        1
    );
    assert_eq!(reference.situacao, Some(7));

    // Quirk: the same PUT once more, at once; accepted, nothing cancelled, the trâmite at 2.
    assert!(quirky.sent.is_ok(), "{quirky:?}");
    let puts = uploads(&quirky.a);
    assert_eq!(statuses(&puts), [503, 200], "{quirky:?}");
    assert_eq!(puts[0].operation, puts[1].operation);
    assert!(only(&quirky.a, |o| matches!(o, Operation::Cancel { .. })).is_empty());
    assert_eq!(quirky.situacao, Some(2));
}

#[tokio::test]
async fn retry_uploads_tries_a_failed_part_at_once_and_the_end_of_parts_signal_too() {
    let anexo = Some(300_000);
    let reference = send_through_a_fault(&[], anexo, "PUT", "/partes/").await;
    let quirky = send_through_a_fault(&[Quirk::RetryUploads], anexo, "PUT", "/partes/").await;
    let ranges = |run: &Faulted| -> Vec<(String, u16)> {
        uploads(&run.a)
            .into_iter()
            .filter_map(|c| match c.operation {
                Operation::UploadPart { range, .. } => Some((range.to_string(), c.status)),
                _ => None,
            })
            .collect()
    };
    let parts = usize::try_from(300_000u64.div_ceil(TEST_BLOCK)).unwrap();

    // Both get there (situação 2) with one extra PUT of the first part; the reference sends it
    // again after the others, the quirk right away.
    for run in [&reference, &quirky] {
        assert!(run.sent.is_ok(), "{run:?}");
        assert_eq!(run.situacao, Some(2));
        assert_eq!(ranges(run).len(), parts + 1, "{run:?}");
    }
    let (r, q) = (ranges(&reference), ranges(&quirky));
    assert_eq!(r[0].1, 503);
    assert_eq!(r[parts], (r[0].0.clone(), 200), "{r:?}");
    assert_eq!(q[0].1, 503);
    assert_eq!(q[1], (q[0].0.clone(), 200), "{q:?}");

    // A failed end-of-parts signal: the reference gives the send up, the quirk signals again.
    let reference = send_through_a_fault(&[], anexo, "POST", "sinalizacao-termino-envio").await;
    let quirky = send_through_a_fault(
        &[Quirk::RetryUploads],
        anexo,
        "POST",
        "sinalizacao-termino-envio",
    )
    .await;
    let signals = |run: &Faulted| {
        statuses(&only(&run.a, |o| {
            matches!(o, Operation::FinishParts { .. })
        }))
    };
    assert!(reference.sent.is_err(), "{reference:?}");
    assert_eq!(signals(&reference), [503]);
    assert_eq!(reference.situacao, Some(7));
    assert!(quirky.sent.is_ok(), "{quirky:?}");
    assert_eq!(signals(&quirky), [503, 200]);
    assert_eq!(quirky.situacao, Some(2));
}
