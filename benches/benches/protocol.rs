//! Criterion benches of `pen-protocol`'s hot paths: component hashing, receipts (canonical text,
//! RSA-2048 signature and verification with a test PKI identity), metadata JSON, and the situação
//! state machine.
//!
//! `cargo bench -p pen-benches --bench protocol -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pen_benches::sim::{self, unit, ORG_A_UNIT, ORG_B_UNIT};
use pen_benches::tls;
use pen_fixtures::generated::LargeComponent;
use pen_protocol::api::Metadados;
use pen_protocol::hash::{hash_bytes, ComponentHasher};
use pen_protocol::ids::{Idt, Nre, Protocolo};
use pen_protocol::model::{Hash, Processo};
use pen_protocol::receipt::{self, ReceiptSigner, ReciboDeConclusao};
use pen_protocol::situacao::{transition, Actor, Event, Situacao, TransitionRules};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

fn hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("sha256");
    group.sample_size(10);
    for size in [4 * KIB, 64 * KIB, MIB, 16 * MIB] {
        let bytes = LargeComponent::new(size, 1).bytes_at(0..size);
        group.throughput(Throughput::Bytes(size));
        group.bench_function(format!("hash_bytes/{}", label(size)), |b| {
            b.iter(|| hash_bytes(black_box(&bytes)));
        });
    }
    // As the simulator hashes an upload while it streams: 64 KiB at a time.
    let size = 16 * MIB;
    let bytes = LargeComponent::new(size, 2).bytes_at(0..size);
    group.throughput(Throughput::Bytes(size));
    group.bench_function("streamed_64KiB_chunks/16MiB", |b| {
        b.iter(|| {
            let mut hasher = ComponentHasher::new();
            for chunk in bytes.chunks(64 * 1024) {
                hasher.update(black_box(chunk));
            }
            hasher.finish()
        });
    });
    group.finish();
}

fn label(size: u64) -> String {
    if size >= MIB {
        format!("{}MiB", size / MIB)
    } else {
        format!("{}KiB", size / KIB)
    }
}

/// A recibo de conclusão over `n` distinct component hashes.
fn recibo(n: u64) -> ReciboDeConclusao {
    ReciboDeConclusao {
        idt: Idt(123_456),
        nre: Nre::issue(42, 2025),
        data_de_recebimento: "2025-06-01T10:05:00.000-03:00".to_owned(),
        hashes: (0..n)
            .map(|i| hash_bytes(&i.to_le_bytes()).to_base64())
            .collect(),
    }
}

fn receipts(c: &mut Criterion) {
    // org-b's identity from the committed PKI: the recipient signs the recibo de conclusão with
    // its mTLS key. `identity.pem` holds the key unencrypted, so no password is needed.
    let pki = tls::load_pki(tls::default_pki_dir()).expect("the committed test PKI loads");
    let organisation = pki
        .manifest()
        .organisation("org-b")
        .expect("org-b is in certs/manifest.json");
    let pem = std::fs::read(pki.path(&organisation.files.identity_pem))
        .expect("org-b's identity.pem is readable");
    let signer = ReceiptSigner::from_pem(&pem).expect("org-b's key is an RSA key");
    let certificate = CertificateDer::from_pem_slice(&pem)
        .expect("org-b's identity.pem starts with its certificate")
        .to_vec();
    let public_key =
        receipt::public_key_of_certificate(&certificate).expect("org-b's certificate parses");

    let mut group = c.benchmark_group("receipt");
    for n in [10, 1_000] {
        let r = recibo(n);
        group.bench_function(format!("canonical_text/{n}_hashes"), |b| {
            b.iter(|| black_box(&r).canonical_text());
        });
    }
    let r = recibo(10);
    let text = r.canonical_text();
    let signature = signer.sign(&text).expect("the key signs");
    // About 1 ms each: fewer samples keep the group inside a short measurement time.
    group.sample_size(30);
    group.bench_function("sign_rsa2048/10_hashes", |b| {
        b.iter(|| signer.sign(black_box(&text)));
    });
    group.bench_function("text_and_sign_rsa2048/10_hashes", |b| {
        b.iter(|| black_box(&r).sign(&signer));
    });
    group.sample_size(100);
    // What the platform does for `POST …/recibo`: rebuild the text, parse the certificate,
    // verify the signature.
    group.bench_function("text_and_verify_with_certificate/10_hashes", |b| {
        b.iter(|| black_box(&r).verify(&certificate, &signature));
    });
    group.bench_function("verify_with_public_key/10_hashes", |b| {
        b.iter(|| receipt::verify_with_public_key(&public_key, black_box(&text), &signature));
    });
    group.finish();
}

/// The sample process with its document repeated `documents` times (ordem 1…n, one distinct
/// component hash each), as a big SEI process travels.
fn large_processo(documents: u32) -> Processo {
    let mut processo = sim::sample_processo().expect("the sample process parses");
    let template = processo
        .documentos
        .first()
        .cloned()
        .expect("the sample has a document");
    processo.documentos = (1..=documents)
        .map(|ordem| {
            let mut d = template.clone();
            d.ordem = Some(ordem);
            d.protocolo = Some(Protocolo(format!("{:07}", 100 + ordem)));
            for c in &mut d.componentes_digitais {
                c.hash = Some(Hash::sha256(hash_bytes(&ordem.to_le_bytes()).to_base64()));
            }
            d
        })
        .collect();
    processo
}

fn metadados(processo: Processo) -> Metadados {
    Metadados {
        nre: Some(Nre::issue(42, 2025)),
        remetente: Some(unit(ORG_A_UNIT)),
        destinatario: Some(unit(ORG_B_UNIT)),
        reproducao_de_tramite: Some(false),
        reproducao_de_processo: Some(false),
        processo: Some(processo),
        ..Metadados::default()
    }
}

fn metadata_json(c: &mut Criterion) {
    let cases = [
        (
            "small",
            metadados(sim::sample_processo().expect("the sample process parses")),
        ),
        ("1000_documents", metadados(large_processo(1_000))),
    ];
    let mut group = c.benchmark_group("metadata_json");
    for (name, value) in cases {
        let json = serde_json::to_vec(&value).expect("metadata serialises");
        group.sample_size(if json.len() > 100_000 { 10 } else { 100 });
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| serde_json::from_slice::<Metadados>(black_box(&json)));
        });
        group.bench_function(format!("serialize/{name}"), |b| {
            b.iter(|| serde_json::to_vec(black_box(&value)));
        });
    }
    group.finish();
}

fn transitions(c: &mut Criterion) {
    let rules = TransitionRules::strict();
    let actors = [Actor::Sender, Actor::Recipient, Actor::Platform];
    let mut group = c.benchmark_group("situacao");
    let all = Situacao::ALL.len() * actors.len() * Event::ALL.len();
    group.throughput(Throughput::Elements(all as u64));
    group.bench_function("transition/every_combination", |b| {
        b.iter(|| {
            for from in Situacao::ALL {
                for actor in actors {
                    for event in Event::ALL {
                        let _ = black_box(transition(
                            black_box(&rules),
                            black_box(from),
                            black_box(actor),
                            black_box(event),
                        ));
                    }
                }
            }
        });
    });
    // A complete trâmite, 0 → 6.
    let happy = [
        (Actor::Sender, Event::Open),
        (Actor::Platform, Event::ComponentsUploaded),
        (Actor::Recipient, Event::MetadataRead),
        (Actor::Recipient, Event::ComponentsDownloaded),
        (Actor::Recipient, Event::ReceiptPosted),
        (Actor::Sender, Event::ReceiptFetched),
    ];
    group.throughput(Throughput::Elements(happy.len() as u64));
    group.bench_function("transition/happy_path_0_to_6", |b| {
        b.iter_batched(
            || Situacao::NaoIniciado,
            |mut situacao| {
                for (actor, event) in happy {
                    if let Ok(t) = transition(&rules, situacao, black_box(actor), black_box(event))
                    {
                        situacao = t.to;
                    }
                }
                situacao
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, hashing, receipts, metadata_json, transitions);
criterion_main!(benches);
