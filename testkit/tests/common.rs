//! Helpers shared by the end-to-end modules: the fixture organisations, sample processes, and
//! the sender's and recipient's steps of a trâmite as the SEI module performs them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{
    ConsultaDeTramites, EnvioDeProcesso, EnvioDeReciboDeTramite, IdentificacaoDeComponente,
    TramiteDeProcessoCriado,
};
use pen_protocol::datetime;
use pen_protocol::hash::hash_bytes;
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::model::{CabecalhoDeProcesso, EstruturaOrganizacional, Processo};
use pen_protocol::ranges::PartRange;
use pen_protocol::receipt::{ReceiptSigner, ReciboDeConclusao};
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::{Api, TestSimulator};

pub(crate) const ORG_A: (u64, &str) = (1, "152254");
pub(crate) const ORG_B: (u64, &str) = (1, "159098");
pub(crate) const ORG_C: (u64, &str) = (5, "30682");

pub(crate) fn unit((rep, id): (u64, &str)) -> EstruturaOrganizacional {
    EstruturaOrganizacional::new(rep, id)
}

pub(crate) fn processo(name: &str) -> Processo {
    serde_json::from_slice(pen_fixtures::file(&format!("processos/{name}.json")).unwrap()).unwrap()
}

pub(crate) fn envio(
    processo: Processo,
    from: (u64, &str),
    to: (u64, &str),
    nre: Option<Nre>,
) -> EnvioDeProcesso {
    EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(unit(from)),
            destinatario: Some(unit(to)),
            nre,
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..CabecalhoDeProcesso::default()
        },
        processo,
    }
}

/// The bytes of a declared component, found among the sample files by hash.
pub(crate) fn bytes_of(hash: &str) -> Vec<u8> {
    pen_fixtures::files("componentes")
        .into_iter()
        .map(|(_, b)| b)
        .find(|b| hash_bytes(b).to_base64() == hash)
        .unwrap_or_else(|| panic!("no sample file hashes to {hash}"))
        .to_vec()
}

/// Uploads every requested component: whole, or in parts of `block` bytes followed by the
/// end-of-parts signal. The first entry of `processosComComponentesDigitaisSolicitados` lists
/// every hash; a hash also listed under an apensado's entry goes with that apensado's protocol.
pub(crate) async fn upload(api: &Api, created: &TramiteDeProcessoCriado, block: Option<u64>) {
    let ticket = created.ticket_para_envio_de_componentes_digitais;
    let solicitados = &created.processos_com_componentes_digitais_solicitados;
    for hash in &solicitados[0].hashes {
        let owner = solicitados
            .iter()
            .rev()
            .find(|s| s.hashes.contains(hash))
            .unwrap_or(&solicitados[0]);
        upload_one(
            api,
            ticket.0,
            hash,
            &owner.protocolo,
            &bytes_of(hash),
            block,
        )
        .await;
    }
}

pub(crate) async fn upload_one(
    api: &Api,
    ticket: u64,
    hash: &str,
    protocolo: &str,
    bytes: &[u8],
    block: Option<u64>,
) {
    let base = format!("tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar");
    match block {
        None => api
            .put_component(&base, bytes.to_vec(), hash, protocolo)
            .await
            .ok(),
        Some(block) => {
            for part in PartRange::split(bytes.len() as u64, block) {
                let chunk = bytes[part.inicio as usize..part.fim as usize].to_vec();
                api.put_component(&format!("{base}/partes/{part}"), chunk, hash, protocolo)
                    .await
                    .ok();
            }
            let signal = IdentificacaoDeComponente {
                hash_do_componente_digital: hash.to_owned(),
                protocolo: protocolo.to_owned(),
            };
            api.post_json(&format!("{base}/partes/sinalizacao-termino-envio"), &signal)
                .await
                .ok();
        }
    }
}

pub(crate) async fn tramite(api: &Api, idt: Idt) -> pen_protocol::api::Tramite {
    let found: ConsultaDeTramites = api.get(&format!("tramites?IDT={idt}")).await.json();
    found
        .tramites
        .into_iter()
        .next()
        .expect("the trâmite is visible")
}

pub(crate) async fn situacao(api: &Api, idt: Idt) -> Situacao {
    tramite(api, idt).await.situacao_atual
}

/// Downloads every pending component (whole, or in parts) and checks each hash.
pub(crate) async fn download_all(api: &Api, idt: Idt, block: Option<u64>) -> Vec<String> {
    let t = tramite(api, idt).await;
    for hash in &t.hash_dos_componentes_pendentes_de_recebimento {
        let body = IdentificacaoDeComponente {
            hash_do_componente_digital: hash.clone(),
            protocolo: t.protocolo.clone(),
        };
        let expected = bytes_of(hash);
        let mut got = Vec::new();
        match block {
            None => {
                let reply = api
                    .post_json(
                        &format!("tramites/{idt}/protocolos/componentes-digitais"),
                        &body,
                    )
                    .await;
                assert!(
                    reply.content_type.starts_with("text/plain"),
                    "{}",
                    reply.content_type
                );
                got = STANDARD.decode(reply.text()).unwrap();
            }
            Some(block) => {
                for part in PartRange::split(expected.len() as u64, block) {
                    let reply = api
                        .post_json(
                            &format!(
                                "tramites/{idt}/protocolos/componentes-digitais/partes/{part}"
                            ),
                            &body,
                        )
                        .await;
                    got.extend(STANDARD.decode(reply.text()).unwrap());
                }
            }
        }
        assert_eq!(got, expected, "bytes of {hash}");
    }
    t.hash_dos_componentes_pendentes_de_recebimento
}

pub(crate) fn signer(org: &str) -> ReceiptSigner {
    ReceiptSigner::from_pem(
        &std::fs::read(pen_testkit::certs_dir().join(format!("orgs/{org}/identity.pem"))).unwrap(),
    )
    .unwrap()
}

/// The recibo de conclusão as the SEI module builds it: the status-4 time, UTC, `.000Z`.
pub(crate) async fn post_recibo(api: &Api, idt: Idt, org: &str) -> pen_testkit::sim::Reply {
    let t = tramite(api, idt).await;
    let at = t
        .reached(Situacao::ComponentesRecebidosDestinatario)
        .expect("status 4 in the history")
        .parse()
        .unwrap();
    let data = datetime::format_receipt_date(at);
    let recibo = ReciboDeConclusao {
        idt,
        nre: t.nre.clone(),
        data_de_recebimento: data.clone(),
        hashes: t.hash_dos_componentes_pendentes_de_recebimento,
    };
    let body = EnvioDeReciboDeTramite {
        data_de_recebimento: data,
        hash_da_assinatura: recibo.sign(&signer(org)).unwrap(),
    };
    api.post_json(&format!("tramites/{idt}/recibo"), &body)
        .await
}

/// A→B to completion (situação 6); returns the IDT and NRE.
pub(crate) async fn complete(sim: &TestSimulator, name: &str) -> (Idt, Nre) {
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created: TramiteDeProcessoCriado = a
        .post_json(
            "tramites/processo",
            &envio(processo(name), ORG_A, ORG_B, None),
        )
        .await
        .json();
    upload(&a, &created, None).await;
    b.get(&format!("tramites/{}", created.idt)).await.ok();
    download_all(&b, created.idt, None).await;
    post_recibo(&b, created.idt, "org-b").await.ok();
    a.get(&format!("tramites/{}/recibo", created.idt))
        .await
        .ok();
    assert_eq!(
        situacao(&a, created.idt).await,
        Situacao::ReciboRecebidoRemetente
    );
    (created.idt, created.nre)
}

/// org-a opens a trâmite of a sample process towards org-b's main unit.
pub(crate) async fn open(a: &Api, name: &str) -> TramiteDeProcessoCriado {
    a.post_json(
        "tramites/processo",
        &envio(processo(name), ORG_A, ORG_B, None),
    )
    .await
    .json()
}
