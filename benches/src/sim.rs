//! The simulator side of the benches: a [`Platform`] built exactly as `pen-simulator serve`
//! builds one, and the honest ways to put trâmites into it — the platform's own operations,
//! which are also what the control plane's injection (`POST /control/inject`) calls.
//!
//! - [`build_platform`]: registry from the fixtures and the PKI manifest, the platform's signing
//!   identity, the default (`strict`) configuration and the clock you give.
//! - [`populate`]: many trâmites from one organisation, some left pending for their recipient
//!   (opened, component accepted: situação 2, recibo de envio signed) and the rest cancelled by
//!   the sender (situação 7, the cheapest terminal state: no RSA signature).
//! - [`prepare_download`]: one trâmite with a component of a given size whose bytes are in the
//!   component store, waiting for its recipient (situação 2), for the download scenario.

use std::convert::Infallible;

use anyhow::Context as _;
use bytes::Bytes;
use pen_fixtures::generated::LargeComponent;
use pen_protocol::api::EnvioDeProcesso;
use pen_protocol::hash::{hash_bytes, ComponentHash};
use pen_protocol::ids::Idt;
use pen_protocol::model::{CabecalhoDeProcesso, EstruturaOrganizacional, Hash, Processo};
use pen_protocol::receipt::ReceiptSigner;
use pen_simulator::clock::SharedClock;
use pen_simulator::config::PlatformConfig;
use pen_simulator::http::AppState;
use pen_simulator::pki::Pki;
use pen_simulator::platform::{Platform, PlatformSigner};
use pen_simulator::registry::{Registry, Spe};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;

/// org-a's first unit (`1/152254`), the sender of every bench trâmite.
pub const ORG_A_UNIT: (u64, &str) = (1, "152254");
/// org-b's first unit (`1/159098`).
pub const ORG_B_UNIT: (u64, &str) = (1, "159098");
/// org-c's first unit (`5/30682`).
pub const ORG_C_UNIT: (u64, &str) = (5, "30682");

/// The sample every bench trâmite carries (one document, one 1,815-byte component).
pub const SAMPLE_PROCESSO: &str = "processos/processo-simples.json";

/// A unit reference.
#[must_use]
pub fn unit((repositorio, estrutura): (u64, &str)) -> EstruturaOrganizacional {
    EstruturaOrganizacional::new(repositorio, estrutura)
}

/// The fixtures' `processo-simples` sample.
///
/// # Errors
/// When the fixture is missing or no longer parses.
pub fn sample_processo() -> anyhow::Result<Processo> {
    let bytes = pen_fixtures::file(SAMPLE_PROCESSO)
        .with_context(|| format!("fixture {SAMPLE_PROCESSO} is missing"))?;
    serde_json::from_slice(bytes).with_context(|| format!("fixture {SAMPLE_PROCESSO}"))
}

/// `POST tramites/processo` as the SEI module sends it (only pending components requested).
#[must_use]
pub fn envio(
    processo: Processo,
    from: EstruturaOrganizacional,
    to: EstruturaOrganizacional,
) -> EnvioDeProcesso {
    EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(from),
            destinatario: Some(to),
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..CabecalhoDeProcesso::default()
        },
        processo,
    }
}

/// A platform as `pen-simulator serve` builds it from the PKI in `pki`: fixture registry,
/// platform signing identity, default configuration, `clock`.
///
/// # Errors
/// Unreadable or inconsistent PKI or fixtures.
pub fn build_platform(pki: &Pki, clock: SharedClock) -> anyhow::Result<Platform> {
    let registry = Registry::from_fixtures(pki.manifest())?;
    let path = pki.path(&pki.manifest().platform.identity_pem);
    let pem = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let signer = ReceiptSigner::from_pem(&pem)?;
    let certificate_der = CertificateDer::from_pem_slice(&pem)
        .with_context(|| format!("certificate in {}", path.display()))?
        .to_vec();
    Ok(Platform::new(
        PlatformConfig::default(),
        registry,
        clock,
        PlatformSigner {
            signer,
            certificate_der,
        },
    ))
}

/// The registered SPE `org` (`"org-a"`).
///
/// # Errors
/// When the registry does not know it.
pub fn spe(platform: &Platform, org: &str) -> anyhow::Result<Spe> {
    platform
        .registry(|r| r.spe(org).cloned())
        .with_context(|| format!("SPE {org} is not registered"))
}

/// Trâmites towards one unit: `pending` left in situação 2 for its SPE, `history` cancelled.
#[derive(Debug, Clone)]
pub struct Batch {
    pub to: EstruturaOrganizacional,
    pub pending: usize,
    pub history: usize,
}

/// Opens every trâmite of `batches` from org-a's unit [`ORG_A_UNIT`] with the
/// [`SAMPLE_PROCESSO`] through the platform's own operations (schema validated, as the REST
/// call), pending and cancelled ones interleaved; returns how many were opened.
///
/// Cost: one RSA-2048 signature (the recibo de envio) per pending trâmite, none per cancelled.
///
/// # Errors
/// The platform's refusals (none expected with the fixtures).
pub fn populate(platform: &Platform, batches: &[Batch]) -> anyhow::Result<usize> {
    let sender = spe(platform, "org-a")?;
    let processo = sample_processo()?;
    let component = processo
        .components()
        .into_iter()
        .find_map(|(_, _, c)| Some((c.hash_conteudo()?.to_owned(), c.tamanho_em_bytes?)))
        .context("the sample declares no component")?;
    let (hash, size) = component;
    let computed = ComponentHash::from_base64(&hash).context("the sample's component hash")?;
    let mut opened = 0;
    for batch in batches {
        let body = envio(processo.clone(), unit(ORG_A_UNIT), batch.to.clone());
        let total = batch.pending + batch.history;
        // Spread the pending ones evenly through the history.
        let stride = total / batch.pending.max(1);
        let mut pending_left = batch.pending;
        for i in 0..total {
            let pending = pending_left > 0 && (i % stride == 0 || total - i <= pending_left);
            let created = platform.open_processo(&sender, body.clone())?;
            let ticket = created.ticket_para_envio_de_componentes_digitais;
            if pending {
                let protocolo = created
                    .processos_com_componentes_digitais_solicitados
                    .first()
                    .map(|s| s.protocolo.clone())
                    .unwrap_or_default();
                platform.accept_component(&sender, ticket, &hash, &protocolo, computed, size)?;
                pending_left -= 1;
            } else {
                platform.cancelar(&sender, created.idt)?;
            }
            opened += 1;
        }
    }
    Ok(opened)
}

/// A trâmite prepared for the download scenario.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub idt: Idt,
    /// Base64 SHA-256 of the component.
    pub hash: String,
    /// The protocol the component belongs to (`IdentificacaoDeComponente.protocolo`).
    pub protocolo: String,
    /// The component's bytes (what a download must return, base64-encoded).
    pub bytes: Bytes,
}

/// Sends, from org-a to `to`, the [`SAMPLE_PROCESSO`] with its component replaced by `size`
/// generated bytes, and stores and accepts that component the way the control plane's
/// injection does (component store, then the platform): the trâmite ends in situação 2, pending
/// for `to`'s SPE.
///
/// # Errors
/// The platform's refusals or a component store failure.
pub async fn prepare_download(
    state: &AppState,
    to: EstruturaOrganizacional,
    size: u64,
) -> anyhow::Result<Prepared> {
    let bytes = Bytes::from(LargeComponent::new(size, 7).bytes_at(0..size));
    let hash = hash_bytes(&bytes).to_base64();
    let mut processo = sample_processo()?;
    let component = processo
        .documentos
        .first_mut()
        .and_then(|d| d.componentes_digitais.first_mut())
        .context("the sample has no component to replace")?;
    component.nome = Some("componente.pdf".to_owned());
    component.hash = Some(Hash::sha256(hash.clone()));
    component.tamanho_em_bytes = Some(size);
    component.mime_type = Some("application/pdf".to_owned());

    let sender = spe(&state.platform, "org-a")?;
    let created = state
        .platform
        .open_processo(&sender, envio(processo, unit(ORG_A_UNIT), to))?;
    let protocolo = created
        .processos_com_componentes_digitais_solicitados
        .first()
        .map(|s| s.protocolo.clone())
        .context("the platform requested no component")?;
    let ticket = created.ticket_para_envio_de_componentes_digitais;
    let body = futures_util::stream::iter([Ok::<_, Infallible>(bytes.clone())]);
    let staged = state.blobs.stage(body, size).await?;
    let arrival = pen_simulator::intake::Arrival {
        spe: &sender,
        ticket,
        hash: &hash,
        protocolo: &protocolo,
    };
    pen_simulator::intake::accept(&state.platform, &state.blobs, arrival, staged).await?;
    Ok(Prepared {
        idt: created.idt,
        hash,
        protocolo,
        bytes,
    })
}
