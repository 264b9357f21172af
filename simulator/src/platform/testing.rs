//! What the rule tests of every operation file share: a platform built as `serve` builds it
//! (the committed test PKI's registry and signing identity) on a manual clock, over a store that
//! checks, at the end of every critical section, what any reader could then see; and the steps
//! that take a trâmite from org-a to org-b through its life.
//!
//! Every rule test runs twice ([`over_both_stores!`]): over the in-memory store and over the
//! durable one in a temporary folder, which after every section is also compared with what a
//! restart would read back from its disk.

use std::sync::{Arc, Mutex};

use pen_protocol::api::{EnvioDeProcesso, EnvioDeReciboDeTramite, TramiteDeProcessoCriado};
use pen_protocol::error::ErrorKind;
use pen_protocol::hash::ComponentHash;
use pen_protocol::ids::Idt;
use pen_protocol::model::{CabecalhoDeProcesso, EstruturaOrganizacional, Processo};
use pen_protocol::receipt::{ReceiptSigner, ReciboDeConclusao};
use pen_protocol::situacao::Situacao;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;
use time::macros::datetime;

use super::{AnyStore, Platform, PlatformError, PlatformSigner, Store, Transaction};
use crate::clock::{Clock as _, ManualClock};
use crate::config::PlatformConfig;
use crate::faults::ActiveFault;
use crate::journal::Journal;
use crate::pki::Pki;
use crate::registry::{Registry, Spe};
use crate::store::{Durability, SqliteStore, StoreError};

/// org-a's first unit, the sender of every test trâmite.
pub(super) const ORG_A_UNIT: (u64, &str) = (1, "152254");
/// org-b's first unit, the recipient.
pub(super) const ORG_B_UNIT: (u64, &str) = (1, "159098");

pub(super) fn unit((repositorio, estrutura): (u64, &str)) -> EstruturaOrganizacional {
    EstruturaOrganizacional::new(repositorio, estrutura)
}

/// Something another request does between two critical sections of one operation.
type Hook = Box<dyn FnOnce() + Send>;

/// Which store a fixture runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Memory,
    Sqlite,
}

/// A store checking after every critical section the invariants a reader relies on: a section
/// that leaves one of them broken is a window in which another request sees a trâmite half
/// changed. A durable store is also compared with its disk after every section. It can let
/// another request in at a chosen section boundary.
pub(super) struct Checked {
    inner: AnyStore,
    hook: Mutex<Option<(usize, Hook)>>,
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Checked {
    /// Runs `hook`, outside the lock, right before the critical section that follows the next
    /// `sections` ones.
    pub fn between(&self, sections: usize, hook: impl FnOnce() + Send + 'static) {
        *self.hook.lock().unwrap() = Some((sections, Box::new(hook)));
    }

    fn due(&self) -> Option<Hook> {
        let mut armed = self.hook.lock().unwrap();
        match armed.take() {
            Some((0, hook)) => Some(hook),
            Some((n, hook)) => {
                *armed = Some((n - 1, hook));
                None
            }
            None => None,
        }
    }

    /// The durable store under the checks, if it is one.
    pub fn durable(&self) -> Option<&SqliteStore> {
        match &self.inner {
            AnyStore::Sqlite(s) => Some(s),
            AnyStore::Memory(_) => None,
        }
    }
}

fn check_invariants(tx: &dyn Transaction) {
    for idt in tx.tramite_ids() {
        let r = tx.tramite(idt).expect("listed");
        let code = r.situacao.code();
        assert!(
            !matches!(code, 2..=6 | 8 | 9) || r.recibo_de_envio.is_some(),
            "trâmite {} in situação {code} without its recibo de envio",
            r.idt
        );
        assert!(
            !matches!(code, 5 | 6) || r.recibo.is_some(),
            "trâmite {} in situação {code} without its recibo de conclusão",
            r.idt
        );
        assert!(
            !matches!(code, 8 | 9) || r.recusa.is_some(),
            "trâmite {} in situação {code} without its motivo de recusa",
            r.idt
        );
        assert!(
            code == 0 || tx.payload(idt).is_some(),
            "trâmite {} without its metadata",
            r.idt
        );
    }
}

impl Store for Checked {
    fn transact<R>(
        &self,
        section: impl FnOnce(&mut dyn Transaction) -> R,
        committed: impl FnOnce(&mut R),
    ) -> Result<R, StoreError> {
        if let Some(hook) = self.due() {
            hook();
        }
        let out = self.inner.transact(
            |tx| {
                let out = section(tx);
                check_invariants(tx);
                out
            },
            committed,
        )?;
        if let Some(durable) = self.durable() {
            durable.check_against_disk().unwrap();
        }
        Ok(out)
    }

    fn saved_spes(&self) -> Vec<Spe> {
        self.inner.saved_spes()
    }

    fn save_faults(&self, faults: &[ActiveFault], next_id: u64) -> Result<(), StoreError> {
        self.inner.save_faults(faults, next_id)
    }

    fn saved_faults(&self) -> Option<(Vec<ActiveFault>, u64)> {
        self.inner.saved_faults()
    }

    fn open_journal(&self, capacity: usize) -> Journal {
        self.inner.open_journal(capacity)
    }
}

/// Runs the rule tests given twice: `memory::…` over the in-memory store, `sqlite::…` over the
/// durable one. Inside, `fixture()` and `fixture_with(config)` build the module's store.
macro_rules! over_both_stores {
    ($($test:item)*) => {
        $crate::platform::testing::over_store!(memory, Memory, $($test)*);
        $crate::platform::testing::over_store!(sqlite, Sqlite, $($test)*);
    };
}

/// One module of [`over_both_stores!`].
macro_rules! over_store {
    ($module:ident, $kind:ident, $($test:item)*) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            fn fixture() -> $crate::platform::testing::Fixture {
                fixture_with($crate::config::PlatformConfig::default())
            }
            #[allow(dead_code)]
            fn fixture_with(
                config: $crate::config::PlatformConfig,
            ) -> $crate::platform::testing::Fixture {
                $crate::platform::testing::fixture_on(
                    $crate::platform::testing::StoreKind::$kind,
                    config,
                )
            }
            $($test)*
        }
    };
}
pub(super) use {over_both_stores, over_store};

pub(crate) struct Fixture {
    /// Shared, so that a [`Checked::between`] hook can act on it as another request.
    pub platform: Arc<Platform<Checked>>,
    /// The durable store's folder, removed with the fixture.
    pub _dir: Option<tempfile::TempDir>,
    pub clock: Arc<ManualClock>,
    pub org_a: Spe,
    pub org_b: Spe,
    pub org_b_signer: ReceiptSigner,
    pub org_b_certificate: Arc<[u8]>,
}

fn pki() -> Pki {
    Pki::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs")).expect("the committed test PKI")
}

/// The signing identity (key and certificate) in an identity PEM of the committed PKI.
fn identity(pki: &Pki, relative: &str) -> (ReceiptSigner, Vec<u8>) {
    let pem = std::fs::read(pki.path(relative)).expect("identity PEM");
    let signer = ReceiptSigner::from_pem(&pem).expect("RSA key");
    let der = CertificateDer::from_pem_slice(&pem).expect("certificate");
    (signer, der.to_vec())
}

/// The default platform over the in-memory store.
pub(super) fn fixture() -> Fixture {
    fixture_with(PlatformConfig::default())
}

pub(super) fn fixture_with(config: PlatformConfig) -> Fixture {
    fixture_on(StoreKind::Memory, config)
}

/// The platform with `config` over a store of that kind.
pub(crate) fn fixture_on(kind: StoreKind, config: PlatformConfig) -> Fixture {
    let dir = (kind == StoreKind::Sqlite).then(|| tempfile::tempdir().expect("a temporary folder"));
    fixture_in(dir, config)
}

/// The platform with `config` over the durable store in `dir`, or in memory.
fn fixture_in(dir: Option<tempfile::TempDir>, config: PlatformConfig) -> Fixture {
    let pki = pki();
    let registry = Registry::from_fixtures(pki.manifest()).expect("fixture registry");
    let (signer, certificate_der) = identity(&pki, &pki.manifest().platform.identity_pem);
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-02 10:00 -3)));
    let store = match &dir {
        None => AnyStore::Memory(Box::default()),
        Some(dir) => AnyStore::Sqlite(
            SqliteStore::open(dir.path(), Durability::Process).expect("store opens"),
        ),
    };
    let platform = Arc::new(Platform::with_store(
        config,
        registry,
        clock.clone(),
        PlatformSigner {
            signer,
            certificate_der,
        },
        Checked {
            inner: store,
            hook: Mutex::new(None),
        },
    ));
    let spe = |id: &str| {
        platform
            .registry(|r| r.spe(id).cloned())
            .expect("fixture SPE")
    };
    let (org_a, org_b) = (spe("org-a"), spe("org-b"));
    let org_b_pem = &pki
        .manifest()
        .organisation("org-b")
        .expect("org-b")
        .files
        .identity_pem;
    let (org_b_signer, org_b_certificate) = identity(&pki, org_b_pem);
    Fixture {
        platform,
        _dir: dir,
        clock,
        org_a,
        org_b,
        org_b_signer,
        org_b_certificate: Arc::from(org_b_certificate),
    }
}

/// A fixture sample process (`processos/<name>.json`).
pub(super) fn processo(name: &str) -> Processo {
    let path = format!("processos/{name}.json");
    let bytes = pen_fixtures::file(&path).expect("fixture process");
    serde_json::from_slice(bytes).expect("fixture process parses")
}

/// `POST tramites/processo` from org-a's unit to org-b's, as the SEI module sends it.
pub(super) fn envio(processo: Processo) -> EnvioDeProcesso {
    envio_between(processo, ORG_A_UNIT, ORG_B_UNIT)
}

/// `POST tramites/processo` between two units, asking only for what the recipient lacks.
pub(super) fn envio_between(
    processo: Processo,
    from: (u64, &str),
    to: (u64, &str),
) -> EnvioDeProcesso {
    EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(unit(from)),
            destinatario: Some(unit(to)),
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..CabecalhoDeProcesso::default()
        },
        processo,
    }
}

/// The declared size of each component of a process, by hash.
pub(super) fn size_of(processo: &Processo, hash: &str) -> u64 {
    processo
        .components()
        .into_iter()
        .find_map(|(_, _, c)| (c.hash_conteudo() == Some(hash)).then_some(c.tamanho_em_bytes)?)
        .expect("declared component")
}

impl Fixture {
    /// The same durable platform after its process stopped and started again: nothing but
    /// what is in its folder goes on (the clock is set back where it was).
    pub fn restarted(self) -> Fixture {
        let now = self.clock.now();
        let config = self.platform.config().clone();
        let dir = self._dir;
        drop(self.platform);
        let restarted = fixture_in(dir, config);
        restarted.clock.set(now);
        restarted
    }

    /// Opens `processo-simples` from org-a to org-b (situação 1).
    pub fn open(&self) -> (Processo, TramiteDeProcessoCriado) {
        self.open_sample("processo-simples")
    }

    /// Opens a fixture sample process from org-a to org-b (situação 1).
    pub fn open_sample(&self, name: &str) -> (Processo, TramiteDeProcessoCriado) {
        let processo = processo(name);
        let created = self
            .platform
            .open_processo(&self.org_a, envio(processo.clone()))
            .expect("opened");
        (processo, created)
    }

    /// Accepts one requested component of a trâmite as its declared bytes.
    pub fn upload(
        &self,
        processo: &Processo,
        created: &TramiteDeProcessoCriado,
        hash: &str,
    ) -> Result<(), PlatformError> {
        let protocolo = &created.processos_com_componentes_digitais_solicitados[0].protocolo;
        let computed = ComponentHash::from_base64(hash).expect("hash");
        self.platform.accept_component(
            &self.org_a,
            created.ticket_para_envio_de_componentes_digitais,
            hash,
            protocolo,
            computed,
            size_of(processo, hash),
        )
    }

    /// Opens `processo-simples` and uploads what it requests (situação 2).
    pub fn sent(&self) -> Idt {
        let (processo, created) = self.open();
        for hash in &created.processos_com_componentes_digitais_solicitados[0].hashes {
            self.upload(&processo, &created, hash).expect("accepted");
        }
        self.assert_situacao(created.idt, Situacao::ComponentesEnviadosRemetente);
        created.idt
    }

    /// A sent trâmite whose recipient read its metadata (situação 3).
    pub fn read(&self) -> Idt {
        let idt = self.sent();
        self.platform.metadados(&self.org_b, idt).expect("metadata");
        idt
    }

    /// A sent trâmite whose recipient read it and downloaded everything (situação 4).
    pub fn received(&self) -> Idt {
        let idt = self.read();
        let inspection = self.platform.inspect(idt).expect("inspection");
        for hash in &inspection
            .tramite
            .hash_dos_componentes_pendentes_de_recebimento
        {
            self.platform
                .download(&self.org_b, idt, hash, None)
                .expect("download");
        }
        self.assert_situacao(idt, Situacao::ComponentesRecebidosDestinatario);
        idt
    }

    /// The recibo de conclusão org-b signs for a trâmite at 4, dated `data`.
    pub fn recibo_de_conclusao(&self, idt: Idt, data: &str) -> EnvioDeReciboDeTramite {
        let tramite = self.platform.inspect(idt).expect("inspection").tramite;
        let recibo = ReciboDeConclusao {
            idt,
            nre: tramite.nre,
            data_de_recebimento: data.to_owned(),
            hashes: tramite.hash_dos_componentes_pendentes_de_recebimento,
        };
        EnvioDeReciboDeTramite {
            hash_da_assinatura: recibo.sign(&self.org_b_signer).expect("signed"),
            data_de_recebimento: recibo.data_de_recebimento,
        }
    }

    /// A trâmite whose recibo de conclusão org-b posted (situação 5).
    pub fn concluded(&self) -> Idt {
        let idt = self.received();
        let recibo = self.recibo_de_conclusao(idt, "2025-06-02T10:00:00-03:00");
        self.platform
            .post_recibo(&self.org_b, &self.org_b_certificate, idt, &recibo)
            .expect("recibo accepted");
        idt
    }

    pub fn assert_situacao(&self, idt: Idt, expected: Situacao) {
        assert_eq!(self.platform.situacao(idt), Some(expected), "trâmite {idt}");
    }
}

/// What the platform refused with.
pub(super) fn refused<T: std::fmt::Debug>(result: Result<T, PlatformError>) -> ErrorKind {
    result.expect_err("refused").kind
}
