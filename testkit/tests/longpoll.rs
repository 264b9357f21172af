//! The pending feed as a long-poll (`tramites/pendentes?aguardar=`) and the legacy long-poll host
//! (`?idTramiteDaPendenciaRecebida=`): answers as soon as a pendency appears, no lost wake-ups,
//! never the same pendency pushed twice.

use std::time::{Duration, Instant};

use pen_protocol::api::{Pendencia, PendenciaLongPoll};
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::spawn_simulator;

use crate::common::{open, upload};

#[tokio::test]
async fn many_waiters_wake_as_soon_as_a_pendency_appears() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let started = Instant::now();
    let waiters: Vec<_> = (0..32)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move {
                b.get("tramites/pendentes?todas=1&aguardar=30")
                    .await
                    .json::<Vec<Pendencia>>()
            })
        })
        .collect();
    // Every waiter is parked before the pendency appears.
    while sim.state.platform.long_poll_waiters() < 32 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "waiters never parked"
        );
        tokio::task::yield_now().await;
    }
    let created = open(&a, "processo-simples").await;
    upload(&a, &created, None).await;
    for waiter in waiters {
        let got = waiter.await.unwrap();
        assert_eq!(
            got,
            [Pendencia {
                idt: created.idt,
                status: Situacao::ComponentesEnviadosRemetente
            }]
        );
    }
    // Woken by the change, not by the 30 s hold.
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn long_poll_times_out_with_an_empty_list() {
    let sim = spawn_simulator().await;
    let started = Instant::now();
    let got: Vec<Pendencia> = sim
        .org("org-b")
        .get("tramites/pendentes?aguardar=1")
        .await
        .json();
    assert!(got.is_empty());
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn legacy_host_pushes_each_pendency_once() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let mut idts = Vec::new();
    for _ in 0..2 {
        let created = open(&a, "processo-simples").await;
        upload(&a, &created, None).await;
        idts.push(created.idt);
    }
    let legacy = format!("{}/../../pendencias/", sim.base_url.trim_end_matches('/'));
    let poll = |ack: u64| {
        let (b, legacy) = (b.clone(), legacy.clone());
        async move {
            let url = format!("{legacy}?idTramiteDaPendenciaRecebida={ack}&aguardar=1");
            let reply = b.http.get(url).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply.json::<PendenciaLongPoll>().await.unwrap()
        }
    };
    let first = poll(0).await;
    let second = poll(first.idt.unwrap().0).await;
    let mut pushed = vec![first.idt.unwrap(), second.idt.unwrap()];
    pushed.sort();
    assert_eq!(pushed, idts);
    assert!(first.encontrou && second.encontrou);
    assert!(
        !poll(second.idt.unwrap().0).await.encontrou,
        "nothing is pushed twice"
    );
    // What the long-poll delivered leaves `todas=false`, not `todas=true`.
    assert!(b
        .get("tramites/pendentes?todas=false")
        .await
        .json::<Vec<Pendencia>>()
        .is_empty());
    assert_eq!(
        b.get("tramites/pendentes?todas=true")
            .await
            .json::<Vec<Pendencia>>()
            .len(),
        2
    );
    // A new situação is a new pendency: reading the metadata (→ 3) makes it pushable again.
    b.get(&format!("tramites/{}", idts[0])).await.ok();
    let third = poll(0).await;
    assert_eq!(
        (third.idt, third.status),
        (Some(idts[0]), Some(Situacao::MetadadosRecebidoDestinatario))
    );
}
