//! The journal records what each party did: requests with the calling SPE and the error code,
//! changes of situação with their actor, refused handshakes with the reason.

use std::time::Duration;

use pen_protocol::api::{EnvioDeProcesso, TramiteDeProcessoCriado};
use pen_protocol::model::{CabecalhoDeProcesso, EstruturaOrganizacional, Processo};
use pen_protocol::situacao::Situacao;
use pen_simulator::journal::{ActorName, Event};
use pen_testkit::sim::spawn_simulator;
use pen_testkit::TestIdentity;

fn envio() -> EnvioDeProcesso {
    let processo: Processo =
        serde_json::from_slice(pen_fixtures::file("processos/processo-simples.json").unwrap())
            .unwrap();
    EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(EstruturaOrganizacional::new(1, "152254")),
            destinatario: Some(EstruturaOrganizacional::new(1, "159098")),
            ..CabecalhoDeProcesso::default()
        },
        processo,
    }
}

#[tokio::test]
async fn requests_state_changes_and_refused_handshakes() {
    let sim = spawn_simulator().await;
    let journal = sim.state.platform.journal().clone();
    let a = sim.org("org-a");
    let created: TramiteDeProcessoCriado = a.post_json("tramites/processo", &envio()).await.json();
    assert_eq!(a.get("tramites/999999").await.error().codigo_erro, "9100");
    a.delete(&format!("tramites/{}", created.idt)).await.ok();
    assert!(sim
        .api(&TestIdentity::Expired)
        .try_get("tramites/pendentes")
        .await
        .is_err());

    let all = journal.since(0, usize::MAX, |_| true).entries;
    type Seen<'a> = (&'a str, &'a str, u16, Option<&'a str>, Option<&'a str>);
    let requests: Vec<Seen<'_>> = all
        .iter()
        .filter_map(|e| match &e.event {
            Event::Request {
                spe,
                method,
                path,
                status,
                error_code,
                ..
            } => Some((
                method.as_str(),
                path.as_str(),
                *status,
                spe.as_deref(),
                error_code.as_deref(),
            )),
            _ => None,
        })
        .collect();
    let base = "/interoperabilidade/rest/v3/";
    assert_eq!(
        requests[0],
        (
            "POST",
            &*format!("{base}tramites/processo"),
            200,
            Some("org-a"),
            None
        )
    );
    assert_eq!(
        requests[1],
        (
            "GET",
            &*format!("{base}tramites/999999"),
            404,
            Some("org-a"),
            Some("9100")
        )
    );
    let changes: Vec<(Situacao, Situacao, ActorName, Option<&str>)> = all
        .iter()
        .filter_map(|e| match &e.event {
            Event::StateChange {
                idt,
                from,
                to,
                actor,
                spe,
            } if *idt == created.idt => Some((*from, *to, *actor, spe.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                Situacao::NaoIniciado,
                Situacao::Iniciado,
                ActorName::Sender,
                Some("org-a")
            ),
            (
                Situacao::Iniciado,
                Situacao::Cancelado,
                ActorName::Sender,
                Some("org-a")
            ),
        ]
    );
    let refused = journal
        .wait_for(0, Duration::from_secs(5), |e| {
            matches!(e.event, Event::HandshakeRefused { .. })
        })
        .await
        .expect("the refused handshake is journaled");
    let Event::HandshakeRefused { reason, .. } = refused.event else {
        unreachable!()
    };
    assert!(reason.contains("expired"), "{reason}");
}
