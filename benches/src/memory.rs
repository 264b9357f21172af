//! What the `memory` binary needs: the resident memory of a process as Linux reports it, a
//! sampler that follows it while something runs, and the full life of many trâmites driven
//! through the platform's own operations.
//!
//! - [`MemStatus::of_self`] / [`MemStatus::of_pid`]: `VmRSS` and `VmHWM` from
//!   `/proc/<pid>/status` (the high-water mark of another process of the same user is readable
//!   there too).
//! - [`reset_peak`]: writes `5` to `/proc/<pid>/clear_refs`, which sets `VmHWM` back to the
//!   current `VmRSS` (Linux ≥ 4.0), so a peak measured afterwards belongs to what ran afterwards.
//! - [`Sampler`]: a thread reading `VmRSS` of a few processes every interval, keeping the
//!   maximum (a cross-check of `VmHWM`, and the only figure where `clear_refs` is refused).
//! - [`complete_tramites`]: `n` trâmites from org-a to org-b taken to situação 6 (opened,
//!   component accepted, metadata read, component downloaded, recibo de conclusão signed by
//!   org-b's key and posted, recibo fetched by the sender), as the REST handlers call the
//!   platform, on several threads.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use pen_protocol::api::EnvioDeReciboDeTramite;
use pen_protocol::hash::ComponentHash;
use pen_protocol::receipt::ReceiptSigner;
use pen_protocol::situacao::Situacao;
use pen_simulator::platform::{Platform, TramiteQuery};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;

use crate::sim::{self, unit, ORG_A_UNIT, ORG_B_UNIT};

/// Resident memory of one process, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MemStatus {
    /// `VmRSS`: resident now.
    pub rss: u64,
    /// `VmHWM`: the highest `VmRSS` since start or since the last [`reset_peak`].
    pub hwm: u64,
}

impl MemStatus {
    /// This process.
    ///
    /// # Errors
    /// Not Linux, or `/proc` unreadable.
    pub fn of_self() -> std::io::Result<Self> {
        Self::read(Path::new("/proc/self/status"))
    }

    /// Another process (of the same user).
    ///
    /// # Errors
    /// The process is gone, or `/proc` unreadable.
    pub fn of_pid(pid: u32) -> std::io::Result<Self> {
        Self::read(&Path::new("/proc").join(pid.to_string()).join("status"))
    }

    fn read(path: &Path) -> std::io::Result<Self> {
        let status = std::fs::read_to_string(path)?;
        let field = |name: &str| -> std::io::Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
                .map(|kib| kib * 1024)
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{name} missing in {}", path.display()),
                    )
                })
        };
        Ok(MemStatus {
            rss: field("VmRSS:")?,
            hwm: field("VmHWM:")?,
        })
    }
}

/// Sets `VmHWM` of `pid` (this process when `None`) back to its current `VmRSS`. Returns whether
/// the kernel accepted it.
#[must_use]
pub fn reset_peak(pid: Option<u32>) -> bool {
    let path = match pid {
        Some(pid) => Path::new("/proc").join(pid.to_string()).join("clear_refs"),
        None => Path::new("/proc/self/clear_refs").to_path_buf(),
    };
    std::fs::write(path, "5").is_ok()
}

/// Follows `VmRSS` of some processes on a thread of its own; [`Sampler::finish`] returns the
/// highest value seen for each.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Vec<u64>, usize)>,
}

impl Sampler {
    /// Samples `pids` (`None`: this process) every `every`, starting now.
    #[must_use]
    pub fn start(pids: Vec<Option<u32>>, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut max = vec![0u64; pids.len()];
            let mut samples = 0;
            loop {
                for (pid, max) in pids.iter().zip(max.iter_mut()) {
                    let status = match pid {
                        Some(pid) => MemStatus::of_pid(*pid),
                        None => MemStatus::of_self(),
                    };
                    if let Ok(status) = status {
                        *max = (*max).max(status.rss);
                    }
                }
                samples += 1;
                if stopped.load(Ordering::Relaxed) {
                    return (max, samples);
                }
                std::thread::sleep(every);
            }
        });
        Sampler { stop, handle }
    }

    /// Stops sampling (after one last sample) and returns the highest `VmRSS` of each process,
    /// in the order given to [`Sampler::start`], and the number of samples taken.
    #[must_use]
    pub fn finish(self) -> (Vec<u64>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// How [`complete_tramites`] went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Completed {
    pub tramites: usize,
    pub threads: usize,
    pub secs: f64,
    /// RSA-2048 signatures made: the platform's recibo de envio and org-b's recibo de conclusão,
    /// one of each per trâmite.
    pub signatures: usize,
}

/// Takes `n` trâmites from org-a's [`ORG_A_UNIT`] to org-b's [`ORG_B_UNIT`] through situação 6 with
/// the platform's own operations, in the order the REST handlers call them for a reference
/// client: `open_processo` (the [`sim::SAMPLE_PROCESSO`], schema validated), `accept_component`
/// (situação 2; the platform signs the recibo de envio), `recibo_de_envio` (what the sender
/// verifies), `metadados` (2 → 3), `download` of the component (3 → 4), `tramites?IDT=` and the
/// recibo de conclusão built from it as the SEI module builds it
/// ([`pen_client::flows::conclusion_receipt`]), signed with org-b's key from the PKI in
/// `pki_dir`, `post_recibo` with org-b's certificate (verified; 4 → 5), and `recibo` by the
/// sender (5 → 6).
///
/// The work is split over `threads` threads. Every RSA operation (the platform's signature and
/// its verification of org-b's, org-b's own signature) runs outside the platform's lock, so
/// threads overlap them. `progress` is called from the threads with the number completed so far,
/// every 10,000.
///
/// # Errors
/// The platform's refusals (none expected), an unreadable PKI.
pub fn complete_tramites(
    platform: &Platform,
    pki_dir: &Path,
    n: usize,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> anyhow::Result<Completed> {
    let sender = sim::spe(platform, "org-a")?;
    let recipient = sim::spe(platform, "org-b")?;
    let identity = pki_dir.join("orgs/org-b/identity.pem");
    let pem =
        std::fs::read(&identity).with_context(|| format!("reading {}", identity.display()))?;
    let signer = ReceiptSigner::from_pem(&pem)?;
    // One copy for every recibo, as a connection's certificate is shared by its requests.
    let certificate_der: Arc<[u8]> = Arc::from(
        CertificateDer::from_pem_slice(&pem)
            .with_context(|| format!("certificate in {}", identity.display()))?
            .as_ref(),
    );
    let processo = sim::sample_processo()?;
    let (hash, size) = processo
        .components()
        .into_iter()
        .find_map(|(_, _, c)| Some((c.hash_conteudo()?.to_owned(), c.tamanho_em_bytes?)))
        .context("the sample declares no component")?;
    let computed = ComponentHash::from_base64(&hash).context("the sample's component hash")?;
    let body = sim::envio(processo, unit(ORG_A_UNIT), unit(ORG_B_UNIT));

    let threads = threads.clamp(1, n.max(1));
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let one = || -> anyhow::Result<()> {
        let created = platform.open_processo(&sender, body.clone())?;
        let idt = created.idt;
        let protocolo = created
            .processos_com_componentes_digitais_solicitados
            .first()
            .map(|s| s.protocolo.clone())
            .context("the platform requested no component")?;
        platform.accept_component(
            &sender,
            created.ticket_para_envio_de_componentes_digitais,
            &hash,
            &protocolo,
            computed,
            size,
        )?;
        platform.recibo_de_envio(&sender, idt)?;
        platform.metadados(&recipient, idt)?;
        platform.download(&recipient, idt, &hash, None)?;
        let tramite = platform
            .tramites(
                &recipient,
                &TramiteQuery {
                    idt: Some(idt),
                    ..TramiteQuery::default()
                },
            )
            .tramites
            .into_iter()
            .next()
            .with_context(|| format!("trâmite {idt} not found"))?;
        let recibo = pen_client::flows::conclusion_receipt(&tramite)?;
        let signature = recibo.sign(&signer)?;
        platform.post_recibo(
            &recipient,
            &certificate_der,
            idt,
            &EnvioDeReciboDeTramite {
                data_de_recebimento: recibo.data_de_recebimento,
                hash_da_assinatura: signature,
            },
        )?;
        platform.recibo(&sender, idt)?;
        let reached = platform.situacao(idt);
        anyhow::ensure!(
            reached == Some(Situacao::ReciboRecebidoRemetente),
            "trâmite {idt} ended in {reached:?}, not situação 6"
        );
        let completed = done.fetch_add(1, Ordering::Relaxed) + 1;
        if completed.is_multiple_of(10_000) {
            progress(completed);
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let share = n / threads + usize::from(t < n % threads);
                let one = &one;
                scope.spawn(move || (0..share).try_for_each(|_| one()))
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?
        })
    })?;
    Ok(Completed {
        tramites: done.load(Ordering::Relaxed),
        threads,
        secs: started.elapsed().as_secs_f64(),
        signatures: 2 * done.load(Ordering::Relaxed),
    })
}
