//! The client's HTTP-level behaviour against a `wiremock` stand-in for the platform: how each
//! endpoint's request looks on the wire (method, path, query pairs, body) and how answers and
//! failures become [`Error`] variants. wiremock serves plain HTTP, which reqwest speaks to an
//! `http://` base URL whatever its TLS settings.

use std::time::Duration;

use pen_client::protocol::api::{EnvioDeProcesso, EnvioDeReciboDeTramite, Recusa};
use pen_client::protocol::ids::{Idt, Nre, Ticket};
use pen_client::protocol::model::EstruturaOrganizacional;
use pen_client::protocol::ranges::PartRange;
use pen_client::protocol::tables::MotivoRecusa;
use pen_client::{Client, ClientConfig, Error, Identity, TramiteFilter};
use serde_json::json;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const BASE: &str = "/interoperabilidade/rest/v3/";
const NRE: &str = "0000025656262025";

fn certs(rel: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../certs")
            .join(rel),
    )
    .unwrap()
}

fn client_for(base_url: String, timeout: Option<Duration>) -> Client {
    let identity = Identity::from_pem(&certs("orgs/org-a/identity.pem")).unwrap();
    let mut config = ClientConfig::new(base_url, certs("ca.pem"), identity);
    if let Some(t) = timeout {
        config.timeout = t;
    }
    Client::new(config).unwrap()
}

/// A fresh mock platform and a client pointed at it.
async fn platform() -> (MockServer, Client) {
    let server = MockServer::start().await;
    let client = client_for(format!("{}{BASE}", server.uri()), None);
    (server, client)
}

/// The absolute path of an endpoint.
fn at(rel: &str) -> String {
    format!("{BASE}{rel}")
}

/// The one request the server received.
async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request: {requests:?}");
    requests.pop().unwrap()
}

/// Asserts the query string is exactly these pairs, in this order.
fn assert_query(request: &Request, expected: &[(&str, &str)]) {
    let got: Vec<(String, String)> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(got, expected, "query of {}", request.url);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn nre() -> Nre {
    Nre::parse(NRE).unwrap()
}

// ---------------------------------------------------------------- error bodies (§3.1)

#[tokio::test]
async fn platform_error_body_becomes_platform_error_with_status_and_parametros() {
    let (server, client) = platform().await;
    let envio = EnvioDeProcesso::default();
    let mensagem = "Inconsistência identificada no documento de ordem '1' do processo tramitado por este NRE, '0000025656262025', com protocolo '13990.811212/2020-00': hash de ao menos um componente digital não confere";
    Mock::given(method("POST"))
        .and(path(at("tramites/processo")))
        .and(body_json(&envio))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "codigoErro": "0047",
            "mensagem": mensagem,
            "parametro": [
                {"chave": "ordem", "valor": "1"},
                {"chave": "nre", "valor": NRE},
                {"chave": "protocolo", "valor": "13990.811212/2020-00"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let err = client.open_process(&envio).await.unwrap_err();
    assert!(
        matches!(err, Error::Platform { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(500));
    assert!(!err.is_tls() && !err.is_timeout());
    let body = err.rejection().unwrap();
    assert_eq!(body.codigo_erro, "0047");
    assert_eq!(body.mensagem, mensagem);
    assert_eq!(body.parametro.len(), 3);
    assert_eq!(body.parametro("ordem"), Some("1"));
    assert_eq!(body.parametro("nre"), Some(NRE));
    assert_eq!(body.parametro("protocolo"), Some("13990.811212/2020-00"));
}

#[tokio::test]
async fn non_platform_error_body_becomes_unexpected_status_with_the_text() {
    let (server, client) = platform().await;
    let html = "<html><body><h1>503 Service Unavailable</h1></body></html>";
    Mock::given(method("GET"))
        .and(path(at("especies")))
        .respond_with(ResponseTemplate::new(503).set_body_raw(html, "text/html"))
        .expect(1)
        .mount(&server)
        .await;

    let err = client.especies().await.unwrap_err();
    match &err {
        Error::UnexpectedStatus { status, text } => {
            assert_eq!(*status, 503);
            assert_eq!(text, html);
        }
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    assert_eq!(err.status(), Some(503));
    assert!(err.rejection().is_none());
}

#[tokio::test]
async fn malformed_json_on_2xx_is_a_decode_error_naming_what_was_read() {
    let (server, client) = platform().await;
    Mock::given(method("POST"))
        .and(path(at("tramites/processo")))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"IDT": 12, "NRE": "#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = client
        .open_process(&EnvioDeProcesso::default())
        .await
        .unwrap_err();
    match &err {
        Error::Decode { what, detail } => {
            assert_eq!(what, "tramites/processo");
            assert!(detail.contains(r#"{"IDT": 12"#), "{detail}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert_eq!(err.status(), None);
    assert!(err.rejection().is_none());
}

// ---------------------------------------------------------------- transport failures

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_a_timeout() {
    let server = MockServer::start().await;
    let client = client_for(
        format!("{}{BASE}", server.uri()),
        Some(Duration::from_millis(200)),
    );
    Mock::given(method("GET"))
        .and(path(at("healthcheck")))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;

    let err = client.healthcheck().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!err.is_tls());
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn a_closed_port_is_a_transport_error_not_tls() {
    // Take a free port from the OS, then close it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client_for(format!("http://127.0.0.1:{port}{BASE}"), None);

    let err = client.healthcheck().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!err.is_tls());
    assert!(!err.is_timeout());
    assert_eq!(err.status(), None);
    assert!(err.rejection().is_none());
}

// ---------------------------------------------------------------- request shapes (§2)

#[tokio::test]
async fn tramites_sends_idt_and_php_bracket_keys() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("tramites")))
        .and(query_param("IDT", "77"))
        .and(query_param(
            "remetente[identificacaoDoRepositorioDeEstruturas]",
            "1",
        ))
        .and(query_param(
            "remetente[numeroDeIdentificacaoDaEstrutura]",
            "152254",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"tramites": []})))
        .expect(1)
        .mount(&server)
        .await;

    let filter = TramiteFilter {
        remetente: Some(EstruturaOrganizacional::new(1, "152254")),
        idt: Some(Idt(77)),
        ..TramiteFilter::default()
    };
    let found = client.tramites(&filter).await.unwrap();
    assert!(found.tramites.is_empty());
    assert_query(
        &only_request(&server).await,
        &[
            ("IDT", "77"),
            ("remetente[identificacaoDoRepositorioDeEstruturas]", "1"),
            ("remetente[numeroDeIdentificacaoDaEstrutura]", "152254"),
        ],
    );
}

#[tokio::test]
async fn pending_all_sends_todas_true() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("tramites/pendentes")))
        .and(query_param("todas", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"IDT": 5, "status": 2}])))
        .expect(1)
        .mount(&server)
        .await;

    let pending = client.pending(true).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].idt, Idt(5));
    assert_query(&only_request(&server).await, &[("todas", "true")]);
}

#[tokio::test]
async fn metadata_gets_the_idt_path_with_idt_query() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("tramites/1234567")))
        .and(query_param("IDT", "1234567"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"nre": NRE})))
        .expect(1)
        .mount(&server)
        .await;

    let metadados = client.metadata(Idt(1_234_567)).await.unwrap();
    assert_eq!(metadados.nre, Some(nre()));
    assert_query(&only_request(&server).await, &[("IDT", "1234567")]);
}

#[tokio::test]
async fn cancel_is_a_delete_with_idt() {
    let (server, client) = platform().await;
    Mock::given(method("DELETE"))
        .and(path(at("tramites/42")))
        .and(query_param("IDT", "42"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    client.cancel(Idt(42)).await.unwrap();
    let request = only_request(&server).await;
    assert_query(&request, &[("IDT", "42")]);
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn acknowledge_refusal_is_a_get_on_ciencia() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("tramites/42/ciencia")))
        .and(query_param("IDT", "42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "sucesso", "mensagem": "Ciência registrada com sucesso."}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    client.acknowledge_refusal(Idt(42)).await.unwrap();
    assert_query(&only_request(&server).await, &[("IDT", "42")]);
}

#[tokio::test]
async fn refuse_posts_justificativa_and_motivo_code() {
    let (server, client) = platform().await;
    let justificativa =
        "Hash do componente digital de ordem 1 não confere com o valor informado pelo remetente.";
    Mock::given(method("POST"))
        .and(path(at("tramites/42/recusa")))
        .and(body_json(
            json!({"justificativa": justificativa, "motivo": "02"}),
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    let recusa = Recusa {
        justificativa: justificativa.to_owned(),
        motivo: MotivoRecusa::ComponenteCorrompido,
    };
    client.refuse(Idt(42), &recusa).await.unwrap();
    assert_query(&only_request(&server).await, &[]);
}

#[tokio::test]
async fn post_receipt_posts_date_and_signature() {
    let (server, client) = platform().await;
    Mock::given(method("POST"))
        .and(path(at("tramites/42/recibo")))
        .and(body_json(json!({
            "dataDeRecebimento": "2025-06-01T13:02:07.000Z",
            "hashDaAssinatura": "c2lnbmF0dXJl"
        })))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let recibo = EnvioDeReciboDeTramite {
        data_de_recebimento: "2025-06-01T13:02:07.000Z".to_owned(),
        hash_da_assinatura: "c2lnbmF0dXJl".to_owned(),
    };
    client.post_receipt(Idt(42), &recibo).await.unwrap();
    assert_query(&only_request(&server).await, &[]);
}

#[tokio::test]
async fn reproduce_posts_an_empty_array_to_the_nre_destination_path() {
    let (server, client) = platform().await;
    Mock::given(method("POST"))
        .and(path(at(&format!(
            "NREs/{NRE}/destinatarios/1/159098/reproducoes-de-tramite"
        ))))
        .and(body_json(json!([])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "tramiteDeProcessoCriado": {
                "IDT": 99,
                "NRE": NRE,
                "ticketParaEnvioDeComponentesDigitais": 555,
                "processosComComponentesDigitaisSolicitados": [
                    {"protocolo": "13990.811212/2020-00", "hashes": ["aGFzaA=="]}
                ]
            }
        })))
        .expect(1)
        .mount(&server)
        .await;

    let reproducao = client
        .reproduce(&nre(), &EstruturaOrganizacional::new(1, "159098"))
        .await
        .unwrap();
    let criado = reproducao.tramite_de_processo_criado;
    assert_eq!(criado.idt, Idt(99));
    assert_eq!(criado.nre, nre());
    assert_eq!(
        criado.ticket_para_envio_de_componentes_digitais,
        Ticket(555)
    );
    assert_eq!(
        criado.processos_com_componentes_digitais_solicitados[0].hashes,
        ["aGFzaA=="]
    );
}

/// Asserts a multipart upload body: the three named parts, `conteudo` as a file with the bytes.
fn assert_upload_form(request: &Request, bytes: &[u8], hash: &str, protocolo: &str) {
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = &request.body;
    assert!(
        contains(body, br#"name="conteudo"; filename=""#),
        "conteudo is a file part"
    );
    assert!(contains(body, br#"name="hashDoComponenteDigital""#));
    assert!(contains(body, br#"name="protocolo""#));
    assert!(contains(body, bytes), "the component bytes are in the body");
    assert!(contains(body, hash.as_bytes()));
    assert!(contains(body, protocolo.as_bytes()));
}

#[tokio::test]
async fn upload_component_is_a_multipart_put_with_three_parts() {
    let (server, client) = platform().await;
    Mock::given(method("PUT"))
        .and(path(at(
            "tickets-de-envio-de-componente/555/protocolos/componentes-a-enviar",
        )))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    let bytes = b"\x00\xffcomponente\r\n digital\x01".to_vec();
    client
        .upload_component(
            Ticket(555),
            "aGFzaA==",
            "13990.811212/2020-00",
            bytes.clone(),
        )
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_query(&request, &[]);
    assert_upload_form(&request, &bytes, "aGFzaA==", "13990.811212/2020-00");
}

#[tokio::test]
async fn upload_part_puts_to_the_range_path() {
    let (server, client) = platform().await;
    Mock::given(method("PUT"))
        .and(path(at(
            "tickets-de-envio-de-componente/555/protocolos/componentes-a-enviar/partes/10-20",
        )))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    let chunk = b"0123456789".to_vec();
    client
        .upload_part(
            Ticket(555),
            PartRange::new(10, 20).unwrap(),
            "aGFzaA==",
            "13990.811212/2020-00",
            chunk.clone(),
        )
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_query(&request, &[]);
    assert_upload_form(&request, &chunk, "aGFzaA==", "13990.811212/2020-00");
}

#[tokio::test]
async fn finish_parts_posts_the_component_identification() {
    let (server, client) = platform().await;
    Mock::given(method("POST"))
        .and(path(at(
            "tickets-de-envio-de-componente/555/protocolos/componentes-a-enviar/partes/sinalizacao-termino-envio",
        )))
        .and(body_json(json!({
            "hashDoComponenteDigital": "aGFzaA==",
            "protocolo": "13990.811212/2020-00"
        })))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    client
        .finish_parts(Ticket(555), "aGFzaA==", "13990.811212/2020-00")
        .await
        .unwrap();
    assert_query(&only_request(&server).await, &[]);
}

// ---------------------------------------------------------------- downloads (§2.8)

async fn mount_download(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(at("tramites/42/protocolos/componentes-digitais")))
        .and(body_json(json!({
            "hashDoComponenteDigital": "aGFzaA==",
            "protocolo": "13990.811212/2020-00"
        })))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn download_component_decodes_a_plain_base64_body() {
    let (server, client) = platform().await;
    mount_download(
        &server,
        ResponseTemplate::new(200).set_body_raw("QUJD", "text/plain"),
    )
    .await;

    let bytes = client
        .download_component(Idt(42), "aGFzaA==", "13990.811212/2020-00")
        .await
        .unwrap();
    assert_eq!(bytes, b"ABC");
}

#[tokio::test]
async fn download_component_decodes_a_json_string_literal_body() {
    let (server, client) = platform().await;
    mount_download(
        &server,
        ResponseTemplate::new(200).set_body_raw(r#""QUJD""#, "application/json"),
    )
    .await;

    let bytes = client
        .download_component(Idt(42), "aGFzaA==", "13990.811212/2020-00")
        .await
        .unwrap();
    assert_eq!(bytes, b"ABC");
}

#[tokio::test]
async fn download_component_rejects_a_body_that_is_not_base64() {
    let (server, client) = platform().await;
    mount_download(
        &server,
        ResponseTemplate::new(200).set_body_raw("isto não é base64!", "text/plain"),
    )
    .await;

    let err = client
        .download_component(Idt(42), "aGFzaA==", "13990.811212/2020-00")
        .await
        .unwrap_err();
    match &err {
        Error::Decode { what, detail } => {
            assert_eq!(what, "componente digital");
            assert!(detail.starts_with("base64"), "{detail}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

// ---------------------------------------------------------------- catalogue (§1.4, §2.1)

#[tokio::test]
async fn repositorios_only_active_sends_ativos_1() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("repositorios-de-estruturas")))
        .and(query_param("ativos", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "nome": "Poder Executivo Federal", "ativo": true}
        ])))
        .expect(1)
        .mount(&server)
        .await;

    let repositorios = client.repositorios(true).await.unwrap();
    assert_eq!(repositorios.len(), 1);
    assert_eq!(repositorios[0].id, 1);
    assert!(repositorios[0].ativo);
    assert_query(&only_request(&server).await, &[("ativos", "1")]);
}

#[tokio::test]
async fn repositorios_all_sends_no_query() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("repositorios-de-estruturas")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;

    assert!(client.repositorios(false).await.unwrap().is_empty());
    assert_query(&only_request(&server).await, &[]);
}

#[tokio::test]
async fn hipoteses_inactive_sends_ativos_0() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("hipoteses")))
        .and(query_param("ativos", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "hipotesesLegais": [{"identificacao": 3, "nome": "Sigilo fiscal", "status": false}]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let hipoteses = client.hipoteses(Some(false)).await.unwrap();
    assert_eq!(hipoteses.hipoteses_legais.len(), 1);
    assert_query(&only_request(&server).await, &[("ativos", "0")]);
}

#[tokio::test]
async fn healthcheck_gets_healthcheck() {
    let (server, client) = platform().await;
    Mock::given(method("GET"))
        .and(path(at("healthcheck")))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;

    client.healthcheck().await.unwrap();
    let request = only_request(&server).await;
    assert_query(&request, &[]);
    assert!(request.body.is_empty());
}

/// PHP's `json_encode` escapes `/`: a quoted body is JSON-decoded before base64.
#[tokio::test]
async fn download_component_undoes_json_escapes() {
    let (server, client) = platform().await;
    Mock::given(method("POST"))
        .and(path(at("tramites/42/protocolos/componentes-digitais")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#""\/\/\/\/""#, "application/json"))
        .mount(&server)
        .await;
    let bytes = client.download_component(Idt(42), "h", "p").await.unwrap();
    assert_eq!(bytes, [0xff, 0xff, 0xff]);
}

/// A part arrives as base64 text, with or without a trailing newline, or as a JSON string
/// literal with escaped slashes; it is decoded as it streams. Broken base64 is a decode error.
#[tokio::test]
async fn a_downloaded_part_is_decoded_in_every_shape_the_platform_may_send() {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0u32..70_000).map(|i| (i * 7 % 251) as u8).collect();
    let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let route = "tramites/9/protocolos/componentes-digitais/partes/0-70000";
    for (shape, body) in [
        ("plain", text.clone()),
        ("newline", format!("{text}\r\n")),
        (
            "json",
            serde_json::to_string(&text).unwrap().replace('/', "\\/"),
        ),
    ] {
        let (server, client) = platform().await;
        Mock::given(method("POST"))
            .and(path(at(route)))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let mut got = Vec::new();
        let written = client
            .download_part_into(
                Idt(9),
                PartRange {
                    inicio: 0,
                    fim: 70_000,
                },
                "h",
                "p",
                &mut |c| {
                    got.extend_from_slice(c);
                    Ok(())
                },
            )
            .await
            .unwrap();
        assert_eq!(written, 70_000, "{shape}");
        assert_eq!(got, bytes, "{shape}");
    }
    let (server, client) = platform().await;
    Mock::given(method("POST"))
        .and(path(at(route)))
        .respond_with(ResponseTemplate::new(200).set_body_string("QUJD%"))
        .mount(&server)
        .await;
    let err = client
        .download_part(
            Idt(9),
            PartRange {
                inicio: 0,
                fim: 70_000,
            },
            "h",
            "p",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}
