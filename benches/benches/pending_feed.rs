//! Criterion bench of the platform's pending-feed query (`GET tramites/pendentes`) with 100,000
//! stored trâmites, called in process on a platform built as `pen-simulator serve` builds it.
//!
//! The platform is filled through its own operations ([`pen_benches::sim::populate`]): every
//! trâmite is opened by org-a with the fixtures' sample process; the ones left pending got their
//! component accepted (situação 2, recibo de envio signed — one RSA-2048 signature each), the
//! others were cancelled by the sender (situação 7). With a manual clock nothing expires.
//!
//! | recipient | stored | pending |
//! |---|---|---|
//! | org-b (`1/159098`) | 99,000 | 10,000 |
//! | org-c (`5/30682`) | 1,000 | 100 |
//!
//! `cargo bench -p pen-benches --bench pending_feed -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pen_benches::sim::{self, unit, Batch, ORG_B_UNIT, ORG_C_UNIT};
use pen_benches::tls;
use pen_simulator::clock::ManualClock;
use pen_simulator::platform::state::TramiteRecord;
use pen_simulator::platform::{Platform, TramiteQuery};
use pen_simulator::registry::Spe;
use time::macros::datetime;

const ORG_B_PENDING: usize = 10_000;
const ORG_B_HISTORY: usize = 89_000;
const ORG_C_PENDING: usize = 100;
const ORG_C_HISTORY: usize = 900;

struct Fixture {
    platform: Platform,
    org_b: Spe,
    org_c: Spe,
}

/// Built on first use, so that a filtered run that skips these benches pays nothing.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let started = Instant::now();
        let pki = tls::load_pki(tls::default_pki_dir()).expect("the committed test PKI loads");
        let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 13:00 UTC)));
        let platform = sim::build_platform(&pki, clock).expect("the platform builds");
        let batches = [
            Batch {
                to: unit(ORG_B_UNIT),
                pending: ORG_B_PENDING,
                history: ORG_B_HISTORY,
            },
            Batch {
                to: unit(ORG_C_UNIT),
                pending: ORG_C_PENDING,
                history: ORG_C_HISTORY,
            },
        ];
        let stored = sim::populate(&platform, &batches).expect("the platform accepts the trâmites");
        let org_b = sim::spe(&platform, "org-b").expect("org-b is registered");
        let org_c = sim::spe(&platform, "org-c").expect("org-c is registered");
        assert_eq!(platform.pendencias(&org_b, false).len(), ORG_B_PENDING);
        assert_eq!(platform.pendencias(&org_c, false).len(), ORG_C_PENDING);
        eprintln!(
            "pending_feed: {stored} trâmites stored in {:.1} s ({} bytes inline per record)",
            started.elapsed().as_secs_f64(),
            size_of::<TramiteRecord>()
        );
        Fixture {
            platform,
            org_b,
            org_c,
        }
    })
}

/// Which SPE of the fixture a case queries.
type SpeOf = fn(&Fixture) -> &Spe;

fn pending_feed(c: &mut Criterion) {
    let mut group = c.benchmark_group("pendencias_100k_stored");
    group.sample_size(20);
    let cases: [(&str, usize, SpeOf); 2] = [
        ("org-c_100_pending", ORG_C_PENDING, |f| &f.org_c),
        ("org-b_10000_pending", ORG_B_PENDING, |f| &f.org_b),
    ];
    for (name, pending, spe_of) in cases {
        group.throughput(Throughput::Elements(pending as u64));
        // `todas=true` (or absent): every pendency.
        group.bench_function(format!("todas/{name}"), |b| {
            let f = fixture();
            let spe = spe_of(f);
            b.iter(|| f.platform.pendencias(black_box(spe), false));
        });
        // `todas=false`: leaves out what the long-poll host already delivered.
        group.bench_function(format!("nao_entregues/{name}"), |b| {
            let f = fixture();
            let spe = spe_of(f);
            b.iter(|| f.platform.pendencias(black_box(spe), true));
        });
        // What the handler does next: the JSON body.
        group.bench_function(format!("todas_json/{name}"), |b| {
            let f = fixture();
            let spe = spe_of(f);
            b.iter(|| serde_json::to_vec(&f.platform.pendencias(black_box(spe), false)));
        });
    }
    group.finish();

    // For contrast: `GET tramites?situacaoAtual=2&quantidadeDeRegistros=50` has no index and
    // looks at every trâmite the caller is a party of.
    let mut group = c.benchmark_group("tramites_100k_stored");
    group.sample_size(10);
    group.bench_function("situacao_2_first_50/org-b_99000_stored", |b| {
        let f = fixture();
        let query = TramiteQuery {
            situacao_atual: pen_protocol::situacao::Situacao::from_code(2),
            quantidade_de_registros: Some(50),
            ..TramiteQuery::default()
        };
        b.iter(|| f.platform.tramites(black_box(&f.org_b), &query));
    });
    group.finish();
}

criterion_group!(benches, pending_feed);
criterion_main!(benches);
