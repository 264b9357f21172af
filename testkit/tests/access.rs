//! Calls by the wrong party or at the wrong moment (`rest-v3.md` §2.8, §2.9, §4.2): each is
//! answered with the platform's error body and leaves the trâmite where it was.

use pen_protocol::api::{EnvioDeReciboDeTramite, IdentificacaoDeComponente};
use pen_protocol::error::ErrorBody;
use pen_protocol::hash::hash_bytes;
use pen_protocol::ids::Idt;
use pen_protocol::receipt::ReciboDeConclusao;
use pen_protocol::situacao::Situacao;
use pen_testkit::sim::{spawn_simulator, Api};

use crate::common::{download_all, open, post_recibo, signer, situacao, tramite, upload};

async fn recibo_error(api: &Api, idt: Idt) -> ErrorBody {
    api.get(&format!("tramites/{idt}/recibo?IDT={idt}"))
        .await
        .error()
}

async fn download(api: &Api, idt: Idt, hash: &str, protocolo: &str) -> pen_testkit::sim::Reply {
    let body = IdentificacaoDeComponente {
        hash_do_componente_digital: hash.to_owned(),
        protocolo: protocolo.to_owned(),
    };
    api.post_json(
        &format!("tramites/{idt}/protocolos/componentes-digitais"),
        &body,
    )
    .await
}

#[tokio::test]
async fn receipts_and_downloads_by_the_wrong_party_or_too_early() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-simples").await;
    let idt = created.idt;
    let protocolo = created.processos_com_componentes_digitais_solicitados[0]
        .protocolo
        .clone();
    let hash = created.processos_com_componentes_digitais_solicitados[0].hashes[0].clone();

    // Situação 1: no recibo de conclusão yet.
    let e = recibo_error(&a, idt).await;
    assert_eq!(e.codigo_erro, "9102", "{}", e.mensagem);
    assert_eq!(e.parametro("situacao"), Some("1"));

    upload(&a, &created, None).await;
    // Situação 2: the recipient may not take the sender's recibo de envio, nor the sender
    // download what it sent.
    let e = b
        .get(&format!("tramites/{idt}/recibo-de-envio?IDT={idt}"))
        .await
        .error();
    assert_eq!(e.codigo_erro, "9101", "{}", e.mensagem);
    let e = download(&a, idt, &hash, &protocolo).await.error();
    assert_eq!(e.codigo_erro, "9101", "{}", e.mensagem);
    assert_eq!(
        recibo_error(&a, idt).await.codigo_erro,
        "9102",
        "no recibo at 2"
    );
    assert_eq!(
        recibo_error(&b, idt).await.codigo_erro,
        "9101",
        "the recibo de conclusão is the sender's to fetch"
    );
    assert_eq!(
        situacao(&a, idt).await,
        Situacao::ComponentesEnviadosRemetente
    );

    // Situação 3: a hash the trâmite does not carry, valid or not, is not served.
    b.get(&format!("tramites/{idt}")).await.ok();
    let foreign = hash_bytes(b"not part of this process").to_base64();
    for wrong in [foreign.as_str(), "nao-e-um-hash"] {
        let reply = download(&b, idt, wrong, &protocolo).await;
        assert!(
            (400..500).contains(&reply.status),
            "{wrong}: {}",
            reply.status
        );
        let e = reply.error();
        assert_eq!(e.codigo_erro, "9104", "{wrong}: {}", e.mensagem);
        assert_eq!(e.parametro("hash"), Some(wrong));
    }
    // …and a recibo de conclusão before every component was downloaded is refused.
    let t = tramite(&b, idt).await;
    let data = "2025-06-01T13:00:00.000Z".to_owned();
    let recibo = ReciboDeConclusao {
        idt,
        nre: t.nre,
        data_de_recebimento: data.clone(),
        hashes: t.hash_dos_componentes_pendentes_de_recebimento,
    };
    let body = EnvioDeReciboDeTramite {
        data_de_recebimento: data,
        hash_da_assinatura: recibo.sign(&signer("org-b")).unwrap(),
    };
    let reply = b.post_json(&format!("tramites/{idt}/recibo"), &body).await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    let e = reply.error();
    assert_eq!(e.codigo_erro, "9102", "{}", e.mensagem);
    assert_eq!(e.parametro("situacao"), Some("3"));
    // The sender cannot post the recipient's receipt either.
    assert_eq!(
        a.post_json(&format!("tramites/{idt}/recibo"), &body)
            .await
            .error()
            .codigo_erro,
        "9101"
    );
    assert_eq!(
        situacao(&b, idt).await,
        Situacao::MetadadosRecebidoDestinatario
    );
    assert_eq!(recibo_error(&a, idt).await.codigo_erro, "9102");

    // Situação 4: still nothing for the sender to fetch; then the normal end.
    download_all(&b, idt, None).await;
    assert_eq!(recibo_error(&a, idt).await.codigo_erro, "9102");
    let e = download(&a, idt, &hash, &protocolo).await.error();
    assert_eq!(e.codigo_erro, "9101");
    post_recibo(&b, idt, "org-b").await.ok();
    a.get(&format!("tramites/{idt}/recibo?IDT={idt}"))
        .await
        .ok();
    assert_eq!(situacao(&a, idt).await, Situacao::ReciboRecebidoRemetente);
}
