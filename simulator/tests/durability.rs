//! `serve --data-dir`: a simulator killed with SIGKILL in the middle of a load loses nothing it
//! acknowledged and leaves nothing half written (issue 12 §1–§2).
//!
//! Eight clients take trâmites from org-a to org-b through every step, each noting what the
//! platform told it (IDT, NRE, ticket, the recibo de envio, the bytes it served back, the recibo
//! de conclusão). The process is killed the moment enough has been told, with requests in flight.
//! A second process on the same folder must then show every told trâmite at least as far as it
//! was told, with the very recibos, bytes and identifiers, and issue identifiers it never issued
//! before.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{
    ConsultaDeTramites, ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite, EnvioDeReciboDeTramite,
    IdentificacaoDeComponente, TramiteDeProcessoCriado,
};
use pen_protocol::hash::hash_bytes;
use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::model::{CabecalhoDeProcesso, EstruturaOrganizacional, Processo};
use pen_protocol::receipt::{ReceiptSigner, ReciboDeConclusao};
use pen_protocol::situacao::Situacao;
use pen_simulator::control_client::ControlClient;
use pen_simulator::faults::{FaultKind, FaultSpec};
use pen_simulator::pki::Pki;

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");
/// How many trâmites the clients must have opened before the kill.
const OPENED_BEFORE_KILL: usize = 300;
const CLIENTS: usize = 8;

/// A `pen-simulator serve` child, killed when dropped.
struct Served {
    child: Child,
    base: String,
    control: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pen-simulator"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--control-addr",
            "127.0.0.1:0",
        ])
        .args(["--pki", CERTS, "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut base, mut control) = (String::new(), String::new());
    stdout.read_line(&mut base).unwrap();
    stdout.read_line(&mut control).unwrap();
    assert!(base.starts_with("https://"), "{base:?}");
    Served {
        child,
        base: base.trim().to_owned(),
        control: control.trim().to_owned(),
    }
}

fn client(org: &str) -> reqwest::Client {
    let pki = Pki::load(CERTS).unwrap();
    let identity = std::fs::read(pki.path(&format!("orgs/{org}/identity.pem"))).unwrap();
    let ca = std::fs::read(pki.path(&pki.manifest().ca)).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .unwrap()
}

fn signer(org: &str) -> ReceiptSigner {
    ReceiptSigner::from_pem(&std::fs::read(format!("{CERTS}/orgs/{org}/identity.pem")).unwrap())
        .unwrap()
}

fn processo() -> Processo {
    serde_json::from_slice(pen_fixtures::file("processos/processo-simples.json").unwrap()).unwrap()
}

fn bytes_of(hash: &str) -> Vec<u8> {
    pen_fixtures::files("componentes")
        .into_iter()
        .map(|(_, b)| b)
        .find(|b| hash_bytes(b).to_base64() == hash)
        .unwrap()
        .to_vec()
}

/// What the platform told a client, in the order it was told.
#[derive(Debug, Clone, Default)]
struct Told {
    nre: Option<Nre>,
    ticket: Option<Ticket>,
    /// The highest situação an answer implied.
    reached: u8,
    recibo_de_envio: Option<ConteudoDoReciboDeEnvio>,
    recibo: Option<ConteudoDoReciboDeTramite>,
}

#[derive(Default)]
struct Log {
    tramites: BTreeMap<Idt, Told>,
    opened: usize,
    /// Answers no client should have got (a 4xx/5xx while the platform was up).
    unexpected: Vec<String>,
}

type Shared = Arc<Mutex<Log>>;

fn note(log: &Shared, idt: Idt, reached: u8, f: impl FnOnce(&mut Told)) {
    let mut log = log.lock().unwrap();
    let told = log.tramites.entry(idt).or_default();
    told.reached = told.reached.max(reached);
    f(told);
}

/// A 2xx answer's body, `None` when the platform is gone (or answered otherwise, noted).
async fn ok(log: &Shared, what: &str, sent: reqwest::RequestBuilder) -> Option<bytes::Bytes> {
    let reply = sent.send().await.ok()?;
    let status = reply.status();
    let body = reply.bytes().await.ok()?;
    if status.is_success() {
        Some(body)
    } else {
        let text = String::from_utf8_lossy(&body).into_owned();
        log.lock()
            .unwrap()
            .unexpected
            .push(format!("{what}: {status} {text}"));
        None
    }
}

/// One client's loop: A → B through every step until the platform is gone (`None`).
async fn work(base: String, log: Shared, stop: Arc<tokio::sync::Notify>) -> Option<()> {
    let (a, b) = (client("org-a"), client("org-b"));
    let url = |path: &str| format!("{base}{path}");
    let envio = pen_protocol::api::EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(EstruturaOrganizacional::new(1, "152254")),
            destinatario: Some(EstruturaOrganizacional::new(1, "159098")),
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..CabecalhoDeProcesso::default()
        },
        processo: processo(),
    };
    let org_b = signer("org-b");
    loop {
        let body = ok(&log, "open", a.post(url("tramites/processo")).json(&envio)).await?;
        let created: TramiteDeProcessoCriado = serde_json::from_slice(&body).unwrap();
        let idt = created.idt;
        note(&log, idt, 1, |t| {
            t.nre = Some(created.nre.clone());
            t.ticket = Some(created.ticket_para_envio_de_componentes_digitais);
        });
        {
            let mut l = log.lock().unwrap();
            l.opened += 1;
            if l.opened == OPENED_BEFORE_KILL {
                stop.notify_one();
            }
        }
        let asked = &created.processos_com_componentes_digitais_solicitados[0];
        for hash in &asked.hashes {
            let form = reqwest::multipart::Form::new()
                .part(
                    "conteudo",
                    reqwest::multipart::Part::bytes(bytes_of(hash)).file_name("conteudo.html"),
                )
                .text("hashDoComponenteDigital", hash.clone())
                .text("protocolo", asked.protocolo.clone());
            let ticket = created.ticket_para_envio_de_componentes_digitais;
            let path =
                format!("tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar");
            ok(&log, "upload", a.put(url(&path)).multipart(form)).await?;
        }
        note(&log, idt, 2, |_| {});
        let body = ok(
            &log,
            "recibo de envio",
            a.get(url(&format!("tramites/{idt}/recibo-de-envio"))),
        )
        .await?;
        let recibo: ConteudoDoReciboDeEnvio = serde_json::from_slice(&body).unwrap();
        note(&log, idt, 2, |t| t.recibo_de_envio = Some(recibo));
        ok(&log, "metadata", b.get(url(&format!("tramites/{idt}")))).await?;
        note(&log, idt, 3, |_| {});
        for hash in &asked.hashes {
            let which = IdentificacaoDeComponente {
                hash_do_componente_digital: hash.clone(),
                protocolo: asked.protocolo.clone(),
            };
            let path = format!("tramites/{idt}/protocolos/componentes-digitais");
            let body = ok(&log, "download", b.post(url(&path)).json(&which)).await?;
            assert_eq!(STANDARD.decode(&body).unwrap(), bytes_of(hash));
        }
        note(&log, idt, 4, |_| {});
        let body = ok(&log, "search", b.get(url(&format!("tramites?IDT={idt}")))).await?;
        let found: ConsultaDeTramites = serde_json::from_slice(&body).unwrap();
        let t = &found.tramites[0];
        // As the SEI module dates it: the status-4 time, UTC, `.000Z`.
        let reached = t.reached(Situacao::ComponentesRecebidosDestinatario)?;
        let data = pen_protocol::datetime::format_receipt_date(reached.parse().unwrap());
        let recibo = ReciboDeConclusao {
            idt,
            nre: t.nre.clone(),
            data_de_recebimento: data.clone(),
            hashes: t.hash_dos_componentes_pendentes_de_recebimento.clone(),
        };
        let posted = EnvioDeReciboDeTramite {
            data_de_recebimento: data,
            hash_da_assinatura: recibo.sign(&org_b).unwrap(),
        };
        ok(
            &log,
            "post recibo",
            b.post(url(&format!("tramites/{idt}/recibo"))).json(&posted),
        )
        .await?;
        note(&log, idt, 5, |_| {});
        let body = ok(
            &log,
            "get recibo",
            a.get(url(&format!("tramites/{idt}/recibo"))),
        )
        .await?;
        let recibo: ConteudoDoReciboDeTramite = serde_json::from_slice(&body).unwrap();
        note(&log, idt, 6, |t| t.recibo = Some(recibo));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulator_killed_under_load_resumes_with_everything_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve(dir.path());
    let control = ControlClient::plain(first.control.clone()).unwrap();
    // Things the control plane set up before the kill must survive it too.
    let fault = FaultSpec {
        spe: Some("org-c".to_owned()),
        method: None,
        path_contains: Some("/nunca-chamado".to_owned()),
        kind: FaultKind::Latency { millis: 1 },
        times: None,
    };
    let fault_id = control.add_fault(&fault).await.unwrap();

    let log: Shared = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(work(first.base.clone(), log.clone(), stop.clone())))
        .collect();
    stop.notified().await;
    // SIGKILL, with the clients' requests in flight.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let log = Arc::try_unwrap(log).ok().unwrap().into_inner().unwrap();
    assert!(log.unexpected.is_empty(), "{:#?}", log.unexpected);
    let finished = log.tramites.values().filter(|t| t.reached == 6).count();
    assert!(
        log.tramites.len() >= OPENED_BEFORE_KILL && finished > 0,
        "{} told",
        log.tramites.len()
    );

    let second = serve(dir.path());
    let control = ControlClient::plain(second.control.clone()).unwrap();
    let b = client("org-b");
    let highest = *log.tramites.keys().last().unwrap();
    // Every trâmite the platform holds, told or not: none half written.
    let mut held = BTreeMap::new();
    for idt in 1..=highest.0 + CLIENTS as u64 {
        if let Some(inspection) = control.inspect(Idt(idt)).await.unwrap() {
            held.insert(Idt(idt), inspection);
        }
    }
    for (idt, inspection) in &held {
        let t = &inspection.tramite;
        let code = t.situacao_atual.code();
        assert!(
            (1..=6).contains(&code),
            "trâmite {idt} at {code}: nothing cancels here"
        );
        let envio = inspection.recibo_de_envio_assinado.as_ref();
        assert_eq!(code >= 2, envio.is_some(), "trâmite {idt} at {code}");
        if let Some(envio) = envio {
            envio.verify().unwrap();
        }
        let conclusao = inspection.recibo_de_conclusao_assinado.as_ref();
        assert_eq!(code >= 5, conclusao.is_some(), "trâmite {idt} at {code}");
        let history: Vec<u8> = t
            .mudancas_de_situacao
            .iter()
            .map(|m| m.situacao.code())
            .collect();
        assert_eq!(history, (1..=code).collect::<Vec<_>>(), "trâmite {idt}");
    }
    for (idt, told) in &log.tramites {
        let inspection = held
            .get(idt)
            .unwrap_or_else(|| panic!("trâmite {idt} was acknowledged and is gone"));
        let t = &inspection.tramite;
        assert!(
            t.situacao_atual.code() >= told.reached,
            "trâmite {idt}: told {}, now {}",
            told.reached,
            t.situacao_atual.code()
        );
        assert_eq!(Some(&t.nre), told.nre.as_ref(), "trâmite {idt}");
        assert_eq!(Some(inspection.ticket), told.ticket, "trâmite {idt}");
        if let Some(recibo) = &told.recibo_de_envio {
            assert_eq!(inspection.recibo_de_envio_assinado.as_ref(), Some(recibo));
        }
        if let Some(recibo) = &told.recibo {
            assert_eq!(
                inspection.recibo_de_conclusao_assinado.as_ref(),
                Some(recibo)
            );
        }
        if told.reached >= 4 {
            // The bytes are still there, and still the ones sent.
            for hash in &t.hash_dos_componentes_pendentes_de_recebimento {
                let which = IdentificacaoDeComponente {
                    hash_do_componente_digital: hash.clone(),
                    protocolo: t.protocolo.clone(),
                };
                let reply = b
                    .post(format!(
                        "{}tramites/{idt}/protocolos/componentes-digitais",
                        second.base
                    ))
                    .json(&which)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 200, "trâmite {idt}");
                let bytes = STANDARD.decode(reply.bytes().await.unwrap()).unwrap();
                assert_eq!(hash_bytes(&bytes).to_base64(), *hash);
            }
        }
    }

    // Identifiers are never issued twice: a new trâmite gets ones no earlier answer carried.
    let a = client("org-a");
    let envio = pen_protocol::api::EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(EstruturaOrganizacional::new(1, "152254")),
            destinatario: Some(EstruturaOrganizacional::new(1, "159098")),
            ..CabecalhoDeProcesso::default()
        },
        processo: processo(),
    };
    let created: TramiteDeProcessoCriado = a
        .post(format!("{}tramites/processo", second.base))
        .json(&envio)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (idts, nres, tickets): (BTreeSet<Idt>, BTreeSet<Nre>, BTreeSet<Ticket>) = held
        .values()
        .map(|i| (i.tramite.idt, i.tramite.nre.clone(), i.ticket))
        .fold(Default::default(), |(mut a, mut b, mut c), (i, n, t)| {
            a.insert(i);
            b.insert(n);
            c.insert(t);
            (a, b, c)
        });
    assert!(created.idt > *idts.last().unwrap() && created.idt > highest);
    assert!(!nres.contains(&created.nre));
    assert!(created.ticket_para_envio_de_componentes_digitais > *tickets.last().unwrap());

    // The control plane's state came back too.
    let faults = control.faults().await.unwrap();
    assert!(
        faults.iter().any(|f| f.id == fault_id && f.spec == fault),
        "{faults:?}"
    );
    assert!(
        control.last_seq().await.unwrap() > 0,
        "the journal was kept"
    );
}
