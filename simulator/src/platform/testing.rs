//! What the rule tests of every operation file share: a platform built as `serve` builds it
//! (the committed test PKI's registry and signing identity) on a manual clock, over a store that
//! checks, at the end of every critical section, what any reader could then see; and the steps
//! that take a trâmite from org-a to org-b through its life.

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

use super::state::State;
use super::{MemoryStore, Platform, PlatformError, PlatformSigner, Store};
use crate::clock::ManualClock;
use crate::config::PlatformConfig;
use crate::pki::Pki;
use crate::registry::{Registry, Spe};

/// org-a's first unit, the sender of every test trâmite.
pub(super) const ORG_A_UNIT: (u64, &str) = (1, "152254");
/// org-b's first unit, the recipient.
pub(super) const ORG_B_UNIT: (u64, &str) = (1, "159098");

pub(super) fn unit((repositorio, estrutura): (u64, &str)) -> EstruturaOrganizacional {
    EstruturaOrganizacional::new(repositorio, estrutura)
}

/// Something another request does between two critical sections of one operation.
type Hook = Box<dyn FnOnce() + Send>;

/// The in-memory store, checking after every critical section the invariants a reader relies
/// on: a section that leaves one of them broken is a window in which another request sees a
/// trâmite half changed. It can also let another request in at a chosen section boundary.
#[derive(Default)]
pub(super) struct Checked {
    inner: MemoryStore,
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
}

impl Store for Checked {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        if let Some(hook) = self.due() {
            hook();
        }
        self.inner.with(|state| {
            let out = f(state);
            for r in state.tramites.values() {
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
            }
            out
        })
    }
}

pub(super) struct Fixture {
    /// Shared, so that a [`Checked::between`] hook can act on it as another request.
    pub platform: Arc<Platform<Checked>>,
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

/// The default (`strict`) platform.
pub(super) fn fixture() -> Fixture {
    fixture_with(PlatformConfig::default())
}

pub(super) fn fixture_with(config: PlatformConfig) -> Fixture {
    let pki = pki();
    let registry = Registry::from_fixtures(pki.manifest()).expect("fixture registry");
    let (signer, certificate_der) = identity(&pki, &pki.manifest().platform.identity_pem);
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-02 10:00 -3)));
    let platform = Arc::new(Platform::with_store(
        config,
        registry,
        clock.clone(),
        PlatformSigner {
            signer,
            certificate_der,
        },
        Checked::default(),
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
