//! End-to-end flows of the simulator over real mutual TLS on loopback, with a manual clock
//! (`rest-v3.md` §6 client flows, §4 state machine, §5 NRE rules, §3 error texts).

use std::time::Duration;

use pen_protocol::api::{
    ConsultaDeTramites, ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite, EnvioDeProcesso,
    EnvioDeReciboDeTramite, IdentificacaoDeComponente, Metadados, Pendencia, Recusa,
    TramiteDeProcessoCriado, TramitesDeDocumentoCriados,
};
use pen_protocol::model::{CabecalhoDeDocumento, DocumentoAvulso, EstruturaOrganizacional};
use pen_protocol::ranges::PartRange;
use pen_protocol::receipt::ReciboDeConclusao;
use pen_protocol::situacao::Situacao;
use pen_protocol::tables::MotivoRecusa;
use pen_testkit::sim::spawn_simulator;
use pen_testkit::TestIdentity;

use crate::common::{
    bytes_of, complete, download_all, envio, open, post_recibo, processo, signer, situacao,
    tramite, unit, upload, upload_one, ORG_A, ORG_B, ORG_C,
};

#[tokio::test]
async fn complete_process_trâmite_whole_and_in_parts() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-varios-documentos").await;
    let idt = created.idt;
    assert_eq!(situacao(&a, idt).await, Situacao::Iniciado);
    let requested = created.processos_com_componentes_digitais_solicitados[0]
        .hashes
        .clone();
    assert!(requested.len() >= 3, "{requested:?}");

    // The first component whole, the others in parts sent out of order, one of them twice.
    let ticket = created.ticket_para_envio_de_componentes_digitais.0;
    let protocolo = created.processos_com_componentes_digitais_solicitados[0]
        .protocolo
        .clone();
    upload_one(
        &a,
        ticket,
        &requested[0],
        &protocolo,
        &bytes_of(&requested[0]),
        None,
    )
    .await;
    let early = a
        .get(&format!("tramites/{idt}/recibo-de-envio?IDT={idt}"))
        .await
        .error();
    assert_eq!(
        early.mensagem,
        format!(
            "Trâmite com idt, {}, ainda não recebeu todos os componentes digitais",
            idt.grouped()
        )
    );
    for hash in &requested[1..] {
        let bytes = bytes_of(hash);
        let base =
            format!("tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar");
        let mut parts: Vec<PartRange> = PartRange::split(bytes.len() as u64, 100).collect();
        parts.reverse();
        parts.push(parts[0]);
        for part in parts {
            let chunk = bytes[part.inicio as usize..part.fim as usize].to_vec();
            a.put_component(&format!("{base}/partes/{part}"), chunk, hash, &protocolo)
                .await
                .ok();
        }
        let signal = IdentificacaoDeComponente {
            hash_do_componente_digital: hash.clone(),
            protocolo: protocolo.clone(),
        };
        a.post_json(&format!("{base}/partes/sinalizacao-termino-envio"), &signal)
            .await
            .ok();
    }
    assert_eq!(
        situacao(&a, idt).await,
        Situacao::ComponentesEnviadosRemetente
    );

    // The platform's recibo de envio verifies with the certificate it carries.
    let envio_recibo: ConteudoDoReciboDeEnvio = a
        .get(&format!("tramites/{idt}/recibo-de-envio?IDT={idt}"))
        .await
        .json();
    envio_recibo.verify().unwrap();

    // Recipient: pendency 2, metadata (→ 3, lower-case nre), downloads in parts (→ 4).
    let pendentes: Vec<Pendencia> = b.get("tramites/pendentes?todas=true").await.json();
    assert_eq!(
        pendentes,
        [Pendencia {
            idt,
            status: Situacao::ComponentesEnviadosRemetente
        }]
    );
    let raw: serde_json::Value = b.get(&format!("tramites/{idt}?IDT={idt}")).await.json();
    assert_eq!(raw["nre"], created.nre.as_str());
    let metadados: Metadados = serde_json::from_value(raw).unwrap();
    assert_eq!(
        metadados.processo.unwrap().documentos.len(),
        processo("processo-varios-documentos").documentos.len()
    );
    assert_eq!(
        situacao(&b, idt).await,
        Situacao::MetadadosRecebidoDestinatario
    );
    let downloaded = download_all(&b, idt, Some(64)).await;
    assert_eq!(
        situacao(&b, idt).await,
        Situacao::ComponentesRecebidosDestinatario
    );
    assert_eq!(downloaded, requested);

    // Signed recibo (→ 5), sender's pendency 5, sender fetches it (→ 6) and can verify it.
    post_recibo(&b, idt, "org-b").await.ok();
    let pendentes: Vec<Pendencia> = a.get("tramites/pendentes?todas=1").await.json();
    assert_eq!(
        pendentes,
        [Pendencia {
            idt,
            status: Situacao::ReciboEnviadoDestinatario
        }]
    );
    let recibo: ConteudoDoReciboDeTramite = a
        .get(&format!("tramites/{idt}/recibo?IDT={idt}"))
        .await
        .json();
    recibo.verify().unwrap();
    let t = tramite(&a, idt).await;
    assert_eq!(t.situacao_atual, Situacao::ReciboRecebidoRemetente);
    let codes: Vec<u8> = t
        .mudancas_de_situacao
        .iter()
        .map(|m| m.situacao.code())
        .collect();
    assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
    assert!(a
        .get("tramites/pendentes")
        .await
        .json::<Vec<Pendencia>>()
        .is_empty());
    // Still readable by both at 6, and the receipt again.
    b.get(&format!("tramites/{idt}")).await.ok();
    a.get(&format!("tramites/{idt}/recibo")).await.ok();
}

#[tokio::test]
async fn documento_avulso_to_two_destinatarios() {
    let sim = spawn_simulator().await;
    let (a, b, c) = (sim.org("org-a"), sim.org("org-b"), sim.org("org-c"));
    let documento: DocumentoAvulso =
        serde_json::from_slice(pen_fixtures::file("documentos/documento-avulso.json").unwrap())
            .unwrap();
    let body = pen_protocol::api::EnvioDeDocumento {
        cabecalho: CabecalhoDeDocumento {
            remetente: Some(unit(ORG_A)),
            destinatarios: vec![unit(ORG_B), unit(ORG_C)],
            ..CabecalhoDeDocumento::default()
        },
        documento: documento.clone(),
    };
    let created: TramitesDeDocumentoCriados = a.post_json("tramites/documento", &body).await.json();
    assert_eq!(created.tramites.len(), 2);
    assert_ne!(
        created.tramites[0].nre, created.tramites[1].nre,
        "one NRE per trâmite"
    );
    let hash = documento.componentes_digitais[0]
        .hash_conteudo()
        .unwrap()
        .to_owned();
    let protocolo = documento.protocolo.clone().unwrap().0;
    // Older clients put hash and protocol in the query string.
    let path = format!(
        "tickets-de-envio-de-componente/{}/protocolos/componentes-a-enviar",
        created.ticket_para_envio_de_componentes_digitais
    );
    a.put_component_query(&path, bytes_of(&hash), &hash, &protocolo)
        .await
        .ok();
    for (api, t) in [(&b, &created.tramites[0]), (&c, &created.tramites[1])] {
        let pendentes: Vec<Pendencia> = api.get("tramites/pendentes").await.json();
        assert_eq!(
            pendentes,
            [Pendencia {
                idt: t.idt,
                status: Situacao::ComponentesEnviadosRemetente
            }]
        );
        let metadados: Metadados = api.get(&format!("tramites/{}", t.idt)).await.json();
        assert!(metadados.processo.is_none());
        assert_eq!(metadados.documento.unwrap().protocolo.unwrap().0, protocolo);
    }
}

#[tokio::test]
async fn return_keeps_the_nre_and_requests_only_what_is_missing() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let (_, nre) = complete(&sim, "processo-simples").await;

    // B returns the process with one more document; A already holds the first one.
    let mut back = processo("processo-simples");
    let mut extra = processo("processo-varios-documentos").documentos[1].clone();
    extra.ordem = Some(2);
    back.documentos.push(extra.clone());
    let created: TramiteDeProcessoCriado = b
        .post_json(
            "tramites/processo",
            &envio(back.clone(), ORG_B, ORG_A, Some(nre.clone())),
        )
        .await
        .json();
    assert_eq!(created.nre, nre, "the same NRE on the way back");
    let new_hash = extra.componentes_digitais[0].hash_conteudo().unwrap();
    assert_eq!(
        created.processos_com_componentes_digitais_solicitados[0].hashes,
        [new_hash]
    );
    upload(&b, &created, Some(50)).await;
    a.get(&format!("tramites/{}", created.idt)).await.ok();
    assert_eq!(download_all(&a, created.idt, None).await, [new_hash]);
    post_recibo(&a, created.idt, "org-a").await.ok();

    // Without the NRE the platform issues a new one.
    let mut again = envio(back, ORG_A, ORG_B, None);
    again.cabecalho.enviar_apenas_componentes_digitais_pendentes = Some(false);
    b.get(&format!("tramites/{}/recibo", created.idt))
        .await
        .ok();
    let fresh: TramiteDeProcessoCriado = a.post_json("tramites/processo", &again).await.json();
    assert_ne!(fresh.nre, nre);
}

#[tokio::test]
async fn nre_in_progress_is_0044_and_changed_hash_is_0047() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-simples").await;
    let again = a
        .post_json(
            "tramites/processo",
            &envio(
                processo("processo-simples"),
                ORG_A,
                ORG_B,
                Some(created.nre.clone()),
            ),
        )
        .await
        .error();
    assert_eq!(again.codigo_erro, "0044");
    assert!(
        again.mensagem.contains("já possui trâmite em andamento"),
        "{}",
        again.mensagem
    );
    a.delete(&format!("tramites/{}?IDT={}", created.idt, created.idt))
        .await
        .ok();

    let (_, nre) = complete(&sim, "processo-simples").await;
    let mut changed = processo("processo-simples");
    let other =
        processo("processo-varios-documentos").documentos[2].componentes_digitais[0].clone();
    changed.documentos[0].componentes_digitais[0] = other;
    let protocolo = changed.protocolo.clone().unwrap().0;
    let e = b
        .post_json(
            "tramites/processo",
            &envio(changed, ORG_B, ORG_A, Some(nre.clone())),
        )
        .await
        .error();
    assert_eq!(e.codigo_erro, "0047");
    assert_eq!(
        e.mensagem,
        format!("Inconsistência identificada no documento de ordem '1' do processo tramitado por este NRE, '{nre}', com protocolo '{protocolo}': hash de ao menos um componente digital não confere")
    );
    let chaves: Vec<&str> = e.parametro.iter().map(|p| p.chave.as_str()).collect();
    assert_eq!(chaves, ["ordem", "nre", "protocolo"]);
}

#[tokio::test]
async fn refusal_then_ciencia() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-simples").await;
    upload(&a, &created, None).await;
    let idt = created.idt;
    b.get(&format!("tramites/{idt}")).await.ok();
    let justificativa =
        "O formato html não é permitido pelo sistema de destino. Áéíóú ç".to_owned();
    b.post_json(
        &format!("tramites/{idt}/recusa"),
        &Recusa {
            justificativa: justificativa.clone(),
            motivo: MotivoRecusa::FormatoNaoSuportado,
        },
    )
    .await
    .ok();
    assert_eq!(
        b.get(&format!("tramites/{idt}")).await.error().codigo_erro,
        "9101",
        "only the sender sees a refused trâmite"
    );
    let pendentes: Vec<Pendencia> = a.get("tramites/pendentes").await.json();
    assert_eq!(
        pendentes,
        [Pendencia {
            idt,
            status: Situacao::Recusado
        }]
    );
    let t = tramite(&a, idt).await;
    assert_eq!(
        (t.motivo_da_recusa, t.justificativa_da_recusa.as_deref()),
        (
            Some(MotivoRecusa::FormatoNaoSuportado),
            Some(justificativa.as_str())
        )
    );
    a.get(&format!("tramites/{idt}/ciencia?IDT={idt}"))
        .await
        .ok();
    assert_eq!(situacao(&a, idt).await, Situacao::CienciaRecusa);
    let too_long = Recusa {
        justificativa: "x".repeat(1001),
        motivo: MotivoRecusa::Outro,
    };
    assert_eq!(
        b.post_json(&format!("tramites/{idt}/recusa"), &too_long)
            .await
            .error()
            .codigo_erro,
        "9010"
    );
}

#[tokio::test]
async fn cancel_in_each_allowed_situacao_and_not_after() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    for reached in 1..=4u8 {
        let created = open(&a, "processo-simples").await;
        let idt = created.idt;
        if reached >= 2 {
            upload(&a, &created, None).await;
        }
        if reached >= 3 {
            b.get(&format!("tramites/{idt}")).await.ok();
        }
        if reached >= 4 {
            download_all(&b, idt, None).await;
        }
        assert_eq!(situacao(&a, idt).await.code(), reached);
        a.delete(&format!("tramites/{idt}?IDT={idt}")).await.ok();
        assert_eq!(situacao(&a, idt).await, Situacao::Cancelado);
        assert_eq!(situacao(&b, idt).await, Situacao::Cancelado);
    }
    let (idt, _) = complete(&sim, "processo-simples").await;
    let e = a.delete(&format!("tramites/{idt}")).await.error();
    assert_eq!(e.codigo_erro, "9102");
    assert!(e.mensagem.contains("situação 6"), "{}", e.mensagem);
}

#[tokio::test]
async fn automatic_cancellation_after_idle_days() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-simples").await;
    upload(&a, &created, None).await;
    sim.advance(Duration::from_secs(7 * 24 * 3600));
    assert_eq!(
        situacao(&b, created.idt).await,
        Situacao::ComponentesEnviadosRemetente,
        "7 days is not idle enough"
    );
    sim.advance(Duration::from_secs(2 * 24 * 3600));
    for api in [&a, &b] {
        let t = tramite(api, created.idt).await;
        assert_eq!(t.situacao_atual, Situacao::CanceladoAutomaticamente);
        let at = t
            .reached(Situacao::CanceladoAutomaticamente)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            at,
            pen_testkit::sim::START + Duration::from_secs(8 * 24 * 3600),
            "cancelled exactly 8 days after the last change"
        );
    }
    assert!(b
        .get("tramites/pendentes")
        .await
        .json::<Vec<Pendencia>>()
        .is_empty());
}

#[tokio::test]
async fn authorization_and_tls_rejections() {
    let sim = spawn_simulator().await;
    let (a, b, c) = (sim.org("org-a"), sim.org("org-b"), sim.org("org-c"));
    let created = open(&a, "processo-simples").await;

    let unregistered = sim
        .api(&TestIdentity::Unregistered)
        .get("tramites/pendentes")
        .await
        .error();
    assert_eq!(unregistered.codigo_erro, "9001");
    assert!(unregistered.mensagem.starts_with("Transação não autorizada devido a falta de integridade do seu certificado com common name "));

    assert_eq!(
        c.get(&format!("tramites/{}", created.idt))
            .await
            .error()
            .codigo_erro,
        "9101",
        "org-c is no party"
    );
    let found: ConsultaDeTramites = c.get(&format!("tramites?IDT={}", created.idt)).await.json();
    assert!(found.tramites.is_empty(), "never another SPE's data");

    let stolen = b
        .post_json(
            "tramites/processo",
            &envio(processo("processo-simples"), ORG_A, ORG_C, None),
        )
        .await
        .error();
    assert_eq!(stolen.mensagem, "Transação não autorizada, pois o sistema não é responsável pela estrutura organizacional remetente");
    let path = format!(
        "tickets-de-envio-de-componente/{}/protocolos/componentes-a-enviar",
        created.ticket_para_envio_de_componentes_digitais
    );
    let foreign_ticket = b.put_component(&path, b"x".to_vec(), "h", "p").await;
    assert_eq!(foreign_ticket.error().codigo_erro, "9103");

    for refused in [
        TestIdentity::NoClientCert,
        TestIdentity::Expired,
        TestIdentity::ForeignCa,
    ] {
        assert!(
            sim.api(&refused)
                .try_get("tramites/pendentes")
                .await
                .is_err(),
            "{refused:?} passed the handshake"
        );
    }
}

#[tokio::test]
async fn wrong_receipt_signature_is_0024_and_stays_in_4() {
    let sim = spawn_simulator().await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = open(&a, "processo-simples").await;
    upload(&a, &created, None).await;
    b.get(&format!("tramites/{}", created.idt)).await.ok();
    download_all(&b, created.idt, None).await;
    // Signed by another organisation's key.
    let t = tramite(&b, created.idt).await;
    let data = "2025-06-01T13:00:00.000Z".to_owned();
    let recibo = ReciboDeConclusao {
        idt: created.idt,
        nre: t.nre,
        data_de_recebimento: data.clone(),
        hashes: t.hash_dos_componentes_pendentes_de_recebimento,
    };
    let body = EnvioDeReciboDeTramite {
        data_de_recebimento: data,
        hash_da_assinatura: recibo.sign(&signer("org-c")).unwrap(),
    };
    let e = b
        .post_json(&format!("tramites/{}/recibo", created.idt), &body)
        .await
        .error();
    assert_eq!(e.codigo_erro, "0024");
    assert_eq!(
        situacao(&b, created.idt).await,
        Situacao::ComponentesRecebidosDestinatario
    );
    // The strict profile also accepts the date re-rendered in UTC (an offset date signed as UTC).
    post_recibo(&b, created.idt, "org-b").await.ok();
}

#[tokio::test]
async fn upload_bytes_must_match_hash_size_and_range() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let created = open(&a, "processo-simples").await;
    let hash = created.processos_com_componentes_digitais_solicitados[0].hashes[0].clone();
    let protocolo = created.processos_com_componentes_digitais_solicitados[0]
        .protocolo
        .clone();
    let base = format!(
        "tickets-de-envio-de-componente/{}/protocolos/componentes-a-enviar",
        created.ticket_para_envio_de_componentes_digitais
    );
    let mut bytes = bytes_of(&hash);
    let size = bytes.len();
    bytes[0] ^= 1;
    assert_eq!(
        a.put_component(&base, bytes.clone(), &hash, &protocolo)
            .await
            .error()
            .codigo_erro,
        "9105"
    );
    bytes.push(0);
    assert_eq!(
        a.put_component(&base, bytes, &hash, &protocolo)
            .await
            .error()
            .codigo_erro,
        "9106"
    );
    let beyond = a
        .put_component(
            &format!("{base}/partes/{}-{}", size - 1, size + 1),
            vec![0, 0],
            &hash,
            &protocolo,
        )
        .await
        .error();
    assert_eq!(beyond.mensagem, "A parte informada ultrapassa o tamanho do componente digital informado nos metadados do trâmite");
    let signal = IdentificacaoDeComponente {
        hash_do_componente_digital: hash.clone(),
        protocolo: protocolo.clone(),
    };
    a.put_component(
        &format!("{base}/partes/0-10"),
        bytes_of(&hash)[..10].to_vec(),
        &hash,
        &protocolo,
    )
    .await
    .ok();
    let gaps = a
        .post_json(&format!("{base}/partes/sinalizacao-termino-envio"), &signal)
        .await
        .error();
    assert_eq!(gaps.codigo_erro, "9107");
    assert_eq!(situacao(&a, created.idt).await, Situacao::Iniciado);
}

#[tokio::test]
async fn validation_rules_with_their_messages() {
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let check = |mutate: fn(&mut EnvioDeProcesso), code: &'static str, text: &'static str| {
        let a = a.clone();
        async move {
            let mut body = envio(processo("processo-simples"), ORG_A, ORG_B, None);
            mutate(&mut body);
            let e = a.post_json("tramites/processo", &body).await.error();
            assert_eq!(e.codigo_erro, code, "{}", e.mensagem);
            assert!(
                e.mensagem.contains(text),
                "{:?} does not contain {text:?}",
                e.mensagem
            );
        }
    };
    let prefix = "Os seguintes erros de validação de campos foram identificados: - ";
    check(
        |b| b.processo.interessados.clear(),
        "9010",
        "processo.interessados não pode ser vazio",
    )
    .await;
    check(
        |b| b.processo.descricao = None,
        "9010",
        "processo.descricao não pode ser vazio",
    )
    .await;
    check(
        |b| b.processo.documentos.clear(),
        "9010",
        "processo.documentos não pode ser vazio",
    )
    .await;
    check(
        |b| b.processo.documentos[0].especie.as_mut().unwrap().codigo = Some(500),
        "9010",
        "processo.documentos[0].especie.codigo deve ser um código de espécie válido",
    )
    .await;
    check(
        |b| b.processo.documentos[0].componentes_digitais.clear(),
        "9010",
        "processo.documentos[0].componentesDigitais não pode ser vazio",
    )
    .await;
    check(
        |b| b.cabecalho.urgente = Some(true),
        "9010",
        "cabecalho.motivoDaUrgencia deve ser informado quando o trâmite é urgente",
    )
    .await;
    check(|b| b.processo.nivel_de_sigilo = Some(pen_protocol::model::NivelDeSigilo::Sigiloso), "0004", "Apenas entidades de nível de sigílo público ou restrito podem ser tramitados pelo barramento.").await;
    check(
        |b| b.cabecalho.destinatario = Some(EstruturaOrganizacional::new(1, "999999")),
        "0055",
        "999999",
    )
    .await;
    check(|b| b.processo.interessados.clear(), "9010", prefix).await;
    let bad_json = a
        .post_raw(
            "tramites/processo",
            "application/json",
            b"{\"cabecalho\":".to_vec(),
        )
        .await
        .error();
    assert_eq!(bad_json.codigo_erro, "9109");
}

/// The support article's check: `curl --cert <identity.pem> '<base>/tramites/pendentes?todas=true'`.
#[tokio::test]
async fn curl_support_check_gets_the_real_json_shape() {
    let Ok(version) = std::process::Command::new("curl").arg("--version").output() else {
        eprintln!("curl is not installed: the support-check test cannot run here");
        return;
    };
    assert!(version.status.success());
    let sim = spawn_simulator().await;
    let a = sim.org("org-a");
    let created = open(&a, "processo-simples").await;
    upload(&a, &created, None).await;
    let certs = pen_testkit::certs_dir();
    let url = format!("{}tramites/pendentes?todas=true", sim.base_url);
    let output = tokio::process::Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--cacert"])
        .arg(certs.join("ca.pem"))
        .arg("--cert")
        .arg(certs.join("orgs/org-b/identity.pem"))
        .arg(&url)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        body,
        serde_json::json!([{"IDT": created.idt.0, "status": 2}])
    );
}
