//! The two configuration profiles (`simulator/src/config.rs`): who moves a trâmite from 2 to 3,
//! and which HTTP status carries a business error (`rest-v3.md` §2.6, §3.1).

use pen_protocol::api::TramiteDeProcessoCriado;
use pen_protocol::situacao::Situacao;
use pen_simulator::config::{PlatformConfig, Profile};
use pen_testkit::sim::{spawn_simulator_with, Api, Reply};
use pen_testkit::TestIdentity;

use crate::common::{envio, open, processo, situacao, upload, ORG_A, ORG_B};

async fn sent_to_b(a: &Api) -> TramiteDeProcessoCriado {
    let created = open(a, "processo-simples").await;
    upload(a, &created, None).await;
    assert_eq!(
        situacao(a, created.idt).await,
        Situacao::ComponentesEnviadosRemetente,
        "the search has no side effect"
    );
    created
}

#[tokio::test]
async fn strict_sender_metadata_read_leaves_situacao_2() {
    let sim = spawn_simulator_with(PlatformConfig::default()).await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = sent_to_b(&a).await;
    let idt = created.idt;
    for _ in 0..2 {
        a.get(&format!("tramites/{idt}?IDT={idt}")).await.ok();
        assert_eq!(
            situacao(&a, idt).await,
            Situacao::ComponentesEnviadosRemetente
        );
    }
    b.get(&format!("tramites/{idt}")).await.ok();
    assert_eq!(
        situacao(&a, idt).await,
        Situacao::MetadadosRecebidoDestinatario,
        "the recipient's read advances"
    );
}

#[tokio::test]
async fn compat_sender_metadata_read_moves_to_3() {
    let sim = spawn_simulator_with(PlatformConfig::for_profile(Profile::Compat)).await;
    let (a, b) = (sim.org("org-a"), sim.org("org-b"));
    let created = sent_to_b(&a).await;
    let idt = created.idt;
    a.get(&format!("tramites/{idt}?IDT={idt}")).await.ok();
    assert_eq!(
        situacao(&b, idt).await,
        Situacao::MetadadosRecebidoDestinatario
    );
    // The recipient still reads it, with no further change.
    b.get(&format!("tramites/{idt}")).await.ok();
    assert_eq!(
        situacao(&b, idt).await,
        Situacao::MetadadosRecebidoDestinatario
    );
}

/// Provokes one error of each kind and returns `(code, HTTP status)` in order: 0044, 9010,
/// 9101, 0055, 9001, 9109.
async fn business_errors(sim: &pen_testkit::sim::TestSimulator) -> Vec<(String, u16)> {
    let (a, c) = (sim.org("org-a"), sim.org("org-c"));
    let created = open(&a, "processo-simples").await;
    let mut replies: Vec<Reply> = Vec::new();
    replies.push(
        a.post_json(
            "tramites/processo",
            &envio(
                processo("processo-simples"),
                ORG_A,
                ORG_B,
                Some(created.nre.clone()),
            ),
        )
        .await,
    );
    let mut invalid = envio(processo("processo-simples"), ORG_A, ORG_B, None);
    invalid.processo.interessados.clear();
    replies.push(a.post_json("tramites/processo", &invalid).await);
    replies.push(c.get(&format!("tramites/{}", created.idt)).await);
    replies.push(
        a.get("repositorios-de-estruturas/1/estruturas-organizacionais/999999")
            .await,
    );
    replies.push(
        sim.api(&TestIdentity::Unregistered)
            .get("tramites/pendentes")
            .await,
    );
    replies.push(a.get("tramites/pendentes?todas=talvez").await);
    replies
        .iter()
        .map(|r| {
            assert!(
                r.content_type.starts_with("application/json"),
                "{} {}",
                r.content_type,
                r.text()
            );
            (r.error().codigo_erro, r.status)
        })
        .collect()
}

fn expected(pairs: &[(&str, u16)]) -> Vec<(String, u16)> {
    pairs.iter().map(|(c, s)| ((*c).to_owned(), *s)).collect()
}

#[tokio::test]
async fn strict_uses_the_catalogue_status_compat_answers_500() {
    let strict = spawn_simulator_with(PlatformConfig::default()).await;
    assert_eq!(
        business_errors(&strict).await,
        expected(&[
            ("0044", 500),
            ("9010", 400),
            ("9101", 403),
            ("0055", 404),
            ("9001", 403),
            ("9109", 400),
        ])
    );
    let compat = spawn_simulator_with(PlatformConfig::for_profile(Profile::Compat)).await;
    assert_eq!(
        business_errors(&compat).await,
        expected(&[
            ("0044", 500),
            ("9010", 500),
            ("9101", 500),
            ("0055", 500),
            ("9001", 500),
            ("9109", 500),
        ])
    );
}

#[tokio::test]
async fn unknown_route_is_404_9110_in_both_profiles() {
    for config in [
        PlatformConfig::default(),
        PlatformConfig::for_profile(Profile::Compat),
    ] {
        let profile = config.profile;
        let sim = spawn_simulator_with(config).await;
        let a = sim.org("org-a");
        // Under the base path, outside it, and a path parameter that is no number.
        let outside = Api {
            http: a.http.clone(),
            base: sim
                .base_url
                .trim_end_matches(pen_protocol::BASE_PATH)
                .to_owned()
                + "/",
        };
        for (api, path) in [
            (&a, "nao-existe"),
            (&a, "tramites/1/nao-existe"),
            (&outside, "interoperabilidade/rest/v2/tramites/pendentes"),
            (&a, "tramites/abc"),
        ] {
            let reply = api.get(path).await;
            assert_eq!(reply.status, 404, "{profile:?} {path}: {}", reply.text());
            assert!(
                reply.content_type.starts_with("application/json"),
                "{profile:?} {path}: {}",
                reply.content_type
            );
            assert_eq!(reply.error().codigo_erro, "9110", "{profile:?} {path}");
        }
    }
}

#[tokio::test]
async fn compat_keeps_the_status_of_transport_answers() {
    let mut config = PlatformConfig::for_profile(Profile::Compat);
    config.limits.max_json_body = 2 * 1024;
    let sim = spawn_simulator_with(config).await;
    let a = sim.org("org-a");
    let reply = a
        .post_json(
            "tramites/processo",
            &envio(processo("processo-varios-documentos"), ORG_A, ORG_B, None),
        )
        .await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(reply.error().codigo_erro, "9108");
}
