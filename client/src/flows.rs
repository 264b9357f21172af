//! The flows an integrator runs, each one call (`rest-v3.md` §6): send a process (open the
//! trâmite, upload only what the platform asks for — whole below the block size, in parts above
//! it, failed parts retried once — and verify the platform's recibo de envio), and receive one
//! (metadata, every pending component in parts with its hash checked while it streams, the
//! signed recibo de conclusão).
//!
//! Component bytes come from a [`ComponentSource`] and go to a [`ComponentSink`], one block at a
//! time, so a component of any size crosses with bounded memory when both are files.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{
    ComponentesSolicitados, ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite, EnvioDeDocumento,
    EnvioDeProcesso, EnvioDeReciboDeTramite, Metadados, Tramite, TramiteDeProcessoCriado,
    TramitesDeDocumentoCriados,
};
use pen_protocol::datetime;
use pen_protocol::hash::ComponentHasher;
use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::model::{
    CabecalhoDeProcesso, ComponenteDigital, DocumentoAvulso, EstruturaOrganizacional, Processo,
};
use pen_protocol::ranges::PartRange;
use pen_protocol::receipt::ReciboDeConclusao;
use pen_protocol::situacao::Situacao;

use crate::api::{Client, TramiteFilter};
use crate::error::Error;

/// The SEI module's default transfer block: 50 MiB.
pub const DEFAULT_BLOCK: u64 = 50 * 1024 * 1024;

/// Where the bytes of the components to send come from.
pub trait ComponentSource: Send + Sync {
    /// `range` of the component with this hash.
    ///
    /// # Errors
    /// When the component is unknown or cannot be read.
    fn read(&self, hash: &str, range: PartRange) -> std::io::Result<Vec<u8>>;
}

/// Components held in memory, by hash (small ones, tests).
#[derive(Debug, Default, Clone)]
pub struct MemorySource(pub HashMap<String, Vec<u8>>);

impl ComponentSource for MemorySource {
    fn read(&self, hash: &str, range: PartRange) -> std::io::Result<Vec<u8>> {
        let bytes = self.0.get(hash).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("componente {hash}"))
        })?;
        let (a, b) = (
            usize::try_from(range.inicio).unwrap_or(usize::MAX),
            usize::try_from(range.fim).unwrap_or(usize::MAX),
        );
        bytes.get(a..b).map(<[u8]>::to_vec).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("{hash} {range}"))
        })
    }
}

/// Components in files, by hash: read one block at a time.
#[derive(Debug, Default, Clone)]
pub struct FileSource(pub HashMap<String, PathBuf>);

impl ComponentSource for FileSource {
    fn read(&self, hash: &str, range: PartRange) -> std::io::Result<Vec<u8>> {
        let path = self.0.get(hash).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("componente {hash}"))
        })?;
        let mut file = std::fs::File::open(path)?;
        file.seek(SeekFrom::Start(range.inicio))?;
        let mut out = vec![0u8; usize::try_from(range.len()).unwrap_or(usize::MAX)];
        file.read_exact(&mut out)?;
        Ok(out)
    }
}

/// Where received components go.
pub trait ComponentSink: Send {
    /// Appends the next block of a component (blocks arrive in order, from offset 0).
    ///
    /// # Errors
    /// I/O errors.
    fn append(&mut self, hash: &str, bytes: &[u8]) -> std::io::Result<()>;
}

/// Received components in memory, by hash.
#[derive(Debug, Default, Clone)]
pub struct MemorySink(pub BTreeMap<String, Vec<u8>>);

impl ComponentSink for MemorySink {
    fn append(&mut self, hash: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.0
            .entry(hash.to_owned())
            .or_default()
            .extend_from_slice(bytes);
        Ok(())
    }
}

/// Received components written to `dir/<hex of sha-256>`.
#[derive(Debug)]
pub struct FileSink {
    pub dir: PathBuf,
    open: HashMap<String, std::fs::File>,
}

impl FileSink {
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSink {
            dir: dir.into(),
            open: HashMap::new(),
        }
    }

    /// The file a component was written to.
    #[must_use]
    pub fn path_of(&self, hash: &str) -> PathBuf {
        self.dir.join(file_name_of(hash))
    }
}

/// The file name a component is kept under: the hex of its SHA-256 (base64 has `/`).
#[must_use]
pub fn file_name_of(hash: &str) -> String {
    STANDARD
        .decode(hash)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ComponentSink for FileSink {
    fn append(&mut self, hash: &str, bytes: &[u8]) -> std::io::Result<()> {
        if !self.open.contains_key(hash) {
            std::fs::create_dir_all(&self.dir)?;
            let file = std::fs::File::create(self.path_of(hash))?;
            self.open.insert(hash.to_owned(), file);
        }
        match self.open.get_mut(hash) {
            Some(file) => file.write_all(bytes),
            None => Ok(()),
        }
    }
}

/// How to move bytes.
#[derive(Debug, Clone, Copy)]
pub struct TransferOptions {
    /// Part size of chunked transfers (the SEI module: 50 MiB, 1..200 MiB).
    pub block: u64,
    /// Upload components smaller than this whole (one multipart PUT), larger ones in parts.
    pub whole_below: u64,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            block: DEFAULT_BLOCK,
            whole_below: DEFAULT_BLOCK,
        }
    }
}

/// A sent trâmite.
#[derive(Debug, Clone)]
pub struct Sent {
    pub created: TramiteDeProcessoCriado,
    /// Hashes uploaded (each once, whatever the number of documents sharing it).
    pub uploaded: Vec<String>,
    pub recibo_de_envio: ConteudoDoReciboDeEnvio,
}

/// A sent documento avulso: one trâmite per destinatário, one ticket for all.
#[derive(Debug, Clone)]
pub struct SentDocument {
    pub created: TramitesDeDocumentoCriados,
    pub uploaded: Vec<String>,
    /// One per trâmite, in the order of `created.tramites`.
    pub recibos_de_envio: Vec<ConteudoDoReciboDeEnvio>,
}

fn declared_sizes<'a>(
    components: impl Iterator<Item = &'a ComponenteDigital>,
) -> HashMap<String, u64> {
    components
        .filter_map(|c| Some((c.hash_conteudo()?.to_owned(), c.tamanho_em_bytes?)))
        .collect()
}

/// What a correct sender checks before it opens a trâmite: the SEI module's own rules
/// (`model-receipts-soap.md` §2.3), which never reach the platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotSendable {
    #[error("Não é possível tramitar um processo sem documentos")]
    SemDocumentos,
    #[error("Descrição do processo {0} não informado.")]
    SemDescricao(String),
    #[error("Interessados do processo {0} não informados.")]
    SemInteressados(String),
    #[error("Não é possível tramitar um processos com documentos gerados e não assinados")]
    DocumentoNaoAssinado,
}

/// Whether a component is a document generated in the sending system (SEI renders its own
/// documents as HTML), as opposed to an external file: only generated documents must be signed
/// to travel (`model-receipts-soap.md` §2.3, EXP L2446-2464).
#[must_use]
pub fn is_generated(c: &ComponenteDigital) -> bool {
    c.mime_type
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("text/html"))
        || c.nome.as_deref().is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            n.ends_with(".html") || n.ends_with(".htm")
        })
}

/// The sender-side rules, in the order the SEI module applies them. Which ones to apply is the
/// caller's choice (the reference agent's mutants skip some on purpose).
#[derive(Debug, Clone, Copy)]
pub struct SenderRules {
    pub require_interessados: bool,
    pub require_signatures: bool,
}

impl Default for SenderRules {
    fn default() -> Self {
        SenderRules {
            require_interessados: true,
            require_signatures: true,
        }
    }
}

impl SenderRules {
    /// # Errors
    /// The first rule the process breaks, with the module's text.
    pub fn check_process(self, processo: &Processo) -> Result<(), NotSendable> {
        let nup = processo
            .protocolo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if processo.documentos.is_empty() {
            return Err(NotSendable::SemDocumentos);
        }
        if processo
            .descricao
            .as_deref()
            .is_none_or(|d| d.trim().is_empty())
        {
            return Err(NotSendable::SemDescricao(nup));
        }
        if self.require_interessados && processo.interessados.is_empty() {
            return Err(NotSendable::SemInteressados(nup));
        }
        if self.require_signatures
            && processo.components().iter().any(|(_, d, c)| {
                !d.retirado && is_generated(c) && c.assinaturas_digitais.is_empty()
            })
        {
            return Err(NotSendable::DocumentoNaoAssinado);
        }
        Ok(())
    }

    /// # Errors
    /// The first rule the documento avulso breaks.
    pub fn check_document(self, documento: &DocumentoAvulso) -> Result<(), NotSendable> {
        let protocolo = documento
            .protocolo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if self.require_interessados && documento.interessados.is_empty() {
            return Err(NotSendable::SemInteressados(protocolo));
        }
        if self.require_signatures
            && documento
                .componentes_digitais
                .iter()
                .any(|c| is_generated(c) && c.assinaturas_digitais.is_empty())
        {
            return Err(NotSendable::DocumentoNaoAssinado);
        }
        Ok(())
    }
}

/// How failed upload requests are tried again before a send is given up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UploadRetry {
    /// The SEI module's way: failed parts are sent once more after the others; a failed whole
    /// upload or end-of-parts signal gives the send up.
    #[default]
    FailedPartsAfterwards,
    /// Every failed request (whole, part, end-of-parts) is sent once more at once.
    EachRequestAtOnce,
}

/// Runs an upload request; with `again`, a failure is tried once more at once.
async fn once_more<F, Fut>(again: bool, request: F) -> Result<(), Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    match request().await {
        Err(_) if again => request().await,
        done => done,
    }
}

/// Uploads what the platform requested under one ticket, each hash once: whole below
/// `options.whole_below`, otherwise in parts closed by the end-of-parts signal; failures are
/// tried again as `retry` says.
async fn upload_requested(
    client: &Client,
    ticket: Ticket,
    requested: &[ComponentesSolicitados],
    sizes: &HashMap<String, u64>,
    source: &dyn ComponentSource,
    options: TransferOptions,
    retry: UploadRetry,
) -> Result<Vec<String>, Error> {
    let at_once = retry == UploadRetry::EachRequestAtOnce;
    let mut uploaded: Vec<String> = Vec::new();
    for item in requested {
        let protocolo = item.protocolo.as_str();
        for hash in &item.hashes {
            if uploaded.contains(hash) {
                continue;
            }
            let hash = hash.as_str();
            let size = sizes.get(hash).copied().unwrap_or_default();
            // Bytes are read again for a second try rather than kept: a part may be 50 MiB.
            let put_part = |part: PartRange| async move {
                let bytes = source.read(hash, part)?;
                client
                    .upload_part(ticket, part, hash, protocolo, bytes)
                    .await
            };
            if size < options.whole_below {
                once_more(at_once, || async {
                    let bytes = source.read(
                        hash,
                        PartRange {
                            inicio: 0,
                            fim: size,
                        },
                    )?;
                    client
                        .upload_component(ticket, hash, protocolo, bytes)
                        .await
                })
                .await?;
            } else {
                let mut failed = Vec::new();
                for part in PartRange::split(size, options.block) {
                    match once_more(at_once, || put_part(part)).await {
                        Ok(()) => {}
                        Err(e) if at_once => return Err(e),
                        Err(_) => failed.push(part),
                    }
                }
                for part in failed {
                    put_part(part).await?;
                }
                once_more(at_once, || client.finish_parts(ticket, hash, protocolo)).await?;
            }
            uploaded.push(hash.to_owned());
        }
    }
    Ok(uploaded)
}

/// Sends a process: opens the trâmite, uploads what the platform requests (cancelling the trâmite
/// if the upload fails), fetches and verifies the recibo de envio. A process that travelled before carries its NRE in `envio.cabecalho`
/// (see [`return_envio`]); the platform then requests only what the recipient lacks.
///
/// # Errors
/// The platform's answers, I/O of the source, a recibo de envio whose signature does not verify.
pub async fn send_process(
    client: &Client,
    envio: &EnvioDeProcesso,
    source: &dyn ComponentSource,
    options: TransferOptions,
) -> Result<Sent, Error> {
    send_process_with(client, envio, source, options, UploadRetry::default()).await
}

/// [`send_process`], with failed uploads tried again as `retry` says.
///
/// # Errors
/// As [`send_process`].
pub async fn send_process_with(
    client: &Client,
    envio: &EnvioDeProcesso,
    source: &dyn ComponentSource,
    options: TransferOptions,
    retry: UploadRetry,
) -> Result<Sent, Error> {
    let sizes = declared_sizes(envio.processo.components().into_iter().map(|(_, _, c)| c));
    let created = client.open_process(envio).await?;
    let uploaded = match upload_requested(
        client,
        created.ticket_para_envio_de_componentes_digitais,
        &created.processos_com_componentes_digitais_solicitados,
        &sizes,
        source,
        options,
        retry,
    )
    .await
    {
        Ok(uploaded) => uploaded,
        Err(e) => {
            // As the SEI module does (EXP L294-301): a trâmite whose upload failed is cancelled
            // at once, not left in situação 1 holding the NRE until the platform's timer.
            let _ = client.cancel(created.idt).await;
            return Err(e);
        }
    };
    let recibo_de_envio = client.sending_receipt(created.idt).await?;
    verify_sending_receipt(&recibo_de_envio)?;
    Ok(Sent {
        created,
        uploaded,
        recibo_de_envio,
    })
}

/// Sends a documento avulso to every destinatário of its cabeçalho: every component once under
/// the shared ticket, then each trâmite's recibo de envio, verified.
///
/// # Errors
/// As [`send_process`].
pub async fn send_document(
    client: &Client,
    envio: &EnvioDeDocumento,
    source: &dyn ComponentSource,
    options: TransferOptions,
) -> Result<SentDocument, Error> {
    send_document_with(client, envio, source, options, UploadRetry::default()).await
}

/// [`send_document`], with failed uploads tried again as `retry` says.
///
/// # Errors
/// As [`send_process`].
pub async fn send_document_with(
    client: &Client,
    envio: &EnvioDeDocumento,
    source: &dyn ComponentSource,
    options: TransferOptions,
    retry: UploadRetry,
) -> Result<SentDocument, Error> {
    let sizes = declared_sizes(envio.documento.componentes_digitais.iter());
    let created = client.open_document(envio).await?;
    let requested = [ComponentesSolicitados {
        protocolo: envio
            .documento
            .protocolo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        hashes: envio
            .documento
            .componentes_digitais
            .iter()
            .filter_map(|c| c.hash_conteudo().map(str::to_owned))
            .collect(),
    }];
    let uploaded = match upload_requested(
        client,
        created.ticket_para_envio_de_componentes_digitais,
        &requested,
        &sizes,
        source,
        options,
        retry,
    )
    .await
    {
        Ok(uploaded) => uploaded,
        Err(e) => {
            for tramite in &created.tramites {
                let _ = client.cancel(tramite.idt).await;
            }
            return Err(e);
        }
    };
    let mut recibos_de_envio = Vec::new();
    for tramite in &created.tramites {
        let recibo = client.sending_receipt(tramite.idt).await?;
        verify_sending_receipt(&recibo)?;
        recibos_de_envio.push(recibo);
    }
    Ok(SentDocument {
        created,
        uploaded,
        recibos_de_envio,
    })
}

/// The envio that returns a received process to whoever sent it: the same process (plus
/// whatever the caller added), from the unit that received it, with the NRE it travelled
/// under. Without that NRE the platform would see a new process, and the original sender would
/// refuse it as a protocolo that already exists (`rest-v3.md` §5.1).
#[must_use]
pub fn return_envio(
    processo: Processo,
    nre: Nre,
    from: EstruturaOrganizacional,
    to: EstruturaOrganizacional,
) -> EnvioDeProcesso {
    EnvioDeProcesso {
        cabecalho: CabecalhoDeProcesso {
            remetente: Some(from),
            destinatario: Some(to),
            nre: Some(nre),
            enviar_apenas_componentes_digitais_pendentes: Some(true),
            ..CabecalhoDeProcesso::default()
        },
        processo,
    }
}

/// The sender's answer to a refusal (pendência `8`): reads the motivo and justificativa, then
/// acknowledges (8 → 9). Returns the trâmite as read, refusal included.
///
/// # Errors
/// The platform's answers.
pub async fn acknowledge_refusal(client: &Client, idt: Idt) -> Result<Tramite, Error> {
    let tramite = first(client, idt).await?;
    client.acknowledge_refusal(idt).await?;
    Ok(tramite)
}

/// The sender's answer to a concluded trâmite (pendência `5`): fetches the recipient's recibo
/// de conclusão (5 → 6) and checks its signature.
///
/// # Errors
/// The platform's answers, a signature that does not verify.
pub async fn fetch_conclusion_receipt(
    client: &Client,
    idt: Idt,
) -> Result<ConteudoDoReciboDeTramite, Error> {
    let recibo = client.receipt(idt).await?;
    verify_conclusion_receipt(&recibo)?;
    Ok(recibo)
}

/// Checks the platform's signature on a recibo de envio with the certificate it carries.
///
/// # Errors
/// [`Error::Receipt`] when it does not verify or the certificate is not base64.
pub fn verify_sending_receipt(recibo: &ConteudoDoReciboDeEnvio) -> Result<(), Error> {
    Ok(recibo.verify()?)
}

/// Checks the recipient's signature on a recibo de conclusão (what the sender fetches) with the
/// certificate the platform returns with it.
///
/// # Errors
/// [`Error::Receipt`] when it does not verify or the certificate is not base64.
pub fn verify_conclusion_receipt(recibo: &ConteudoDoReciboDeTramite) -> Result<(), Error> {
    Ok(recibo.verify()?)
}

/// A received trâmite.
#[derive(Debug, Clone)]
pub struct Received {
    pub metadados: Metadados,
    pub tramite: Tramite,
    /// The components downloaded (what the recibo lists).
    pub hashes: Vec<String>,
}

/// A component whose bytes do not hash to what the sender declared: refuse with motivo `02`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupted {
    pub hash: String,
    pub computed: String,
    /// `ordem` of the component in its document (what the refusal text names).
    pub ordem: u32,
}

/// A trâmite being received: its metadata (the first read moved it 2 → 3) and the trâmite as
/// the search shows it (what is pending, the situações reached).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub metadados: Metadados,
    pub tramite: Tramite,
    /// Declared size and ordem of every component, by hash.
    pub declared: HashMap<String, (u64, u32)>,
}

impl Incoming {
    /// Every declared component of the process (apensados included) or of the avulso.
    #[must_use]
    pub fn components(&self) -> Vec<&ComponenteDigital> {
        match (&self.metadados.processo, &self.metadados.documento) {
            (Some(p), _) => p.components().into_iter().map(|(_, _, c)| c).collect(),
            (None, Some(d)) => d.componentes_digitais.iter().collect(),
            (None, None) => Vec::new(),
        }
    }
}

/// First steps of a reception: `GET tramites/{idt}` (2 → 3) and `GET tramites?IDT=`.
///
/// # Errors
/// The platform's answers.
pub async fn open_incoming(client: &Client, idt: Idt) -> Result<Incoming, Error> {
    let metadados = client.metadata(idt).await?;
    let tramite = first(client, idt).await?;
    let mut incoming = Incoming {
        metadados,
        tramite,
        declared: HashMap::new(),
    };
    incoming.declared = incoming
        .components()
        .into_iter()
        .filter_map(|c| {
            Some((
                c.hash_conteudo()?.to_owned(),
                (c.tamanho_em_bytes.unwrap_or_default(), c.ordem.unwrap_or(1)),
            ))
        })
        .collect();
    Ok(incoming)
}

/// Downloads every pending component in parts of `options.block` into `sink`, hashing while it
/// streams. With `check_hashes` the first component whose bytes do not match stops the download
/// and is returned; without it (a deliberately broken receiver) nothing is compared.
///
/// # Errors
/// The platform's answers, sink I/O.
pub async fn download_pending(
    client: &Client,
    incoming: &Incoming,
    sink: &mut dyn ComponentSink,
    options: TransferOptions,
    check_hashes: bool,
) -> Result<Option<Corrupted>, Error> {
    let tramite = &incoming.tramite;
    for hash in &tramite.hash_dos_componentes_pendentes_de_recebimento {
        let (size, ordem) = incoming.declared.get(hash).copied().unwrap_or((0, 1));
        let mut hasher = ComponentHasher::new();
        for part in PartRange::split(size, options.block) {
            client
                .download_part_into(tramite.idt, part, hash, &tramite.protocolo, &mut |bytes| {
                    hasher.update(bytes);
                    sink.append(hash, bytes)
                })
                .await?;
        }
        let computed = hasher.finish().to_base64();
        if check_hashes && &computed != hash {
            return Ok(Some(Corrupted {
                hash: hash.clone(),
                computed,
                ordem,
            }));
        }
    }
    Ok(None)
}

/// Receives a pending trâmite: metadata, every pending component checked against its hash, then
/// the signed recibo de conclusão. A corrupted component stops before the recibo and is
/// reported, so the caller can refuse (motivo `02`) with the module's text.
///
/// # Errors
/// The platform's answers, sink I/O, signing.
pub async fn receive(
    client: &Client,
    idt: Idt,
    sink: &mut dyn ComponentSink,
    options: TransferOptions,
) -> Result<Result<Received, Corrupted>, Error> {
    let incoming = open_incoming(client, idt).await?;
    if let Some(corrupted) = download_pending(client, &incoming, sink, options, true).await? {
        return Ok(Err(corrupted));
    }
    let tramite = first(client, idt).await?;
    post_signed_receipt(client, &tramite).await?;
    Ok(Ok(Received {
        metadados: incoming.metadados,
        hashes: tramite
            .hash_dos_componentes_pendentes_de_recebimento
            .clone(),
        tramite,
    }))
}

/// The recibo de conclusão as the SEI module builds it: the time the trâmite reached situação 4,
/// in UTC with `.000Z`, and the hashes the platform listed as pending.
///
/// # Errors
/// No readable situação-4 entry.
pub fn conclusion_receipt(tramite: &Tramite) -> Result<ReciboDeConclusao, Error> {
    let reached = tramite
        .reached(Situacao::ComponentesRecebidosDestinatario)
        .ok_or_else(|| Error::Decode {
            what: "mudancasDeSituacao".to_owned(),
            detail: "sem a situação 4".to_owned(),
        })?;
    let at = reached.parse().map_err(|e| Error::Decode {
        what: "mudancasDeSituacao".to_owned(),
        detail: e.to_string(),
    })?;
    Ok(ReciboDeConclusao {
        idt: tramite.idt,
        nre: tramite.nre.clone(),
        data_de_recebimento: datetime::format_receipt_date(at.replace_millisecond(0).unwrap_or(at)),
        hashes: tramite
            .hash_dos_componentes_pendentes_de_recebimento
            .clone(),
    })
}

/// Signs and posts the [`conclusion_receipt`] with the client's key (4 → 5).
///
/// # Errors
/// No situação-4 entry, signing, the platform's answer (`0024`).
pub async fn post_signed_receipt(client: &Client, tramite: &Tramite) -> Result<(), Error> {
    let recibo = conclusion_receipt(tramite)?;
    let signature = recibo.sign(client.receipt_signer()?)?;
    client
        .post_receipt(
            tramite.idt,
            &EnvioDeReciboDeTramite {
                data_de_recebimento: recibo.data_de_recebimento,
                hash_da_assinatura: signature,
            },
        )
        .await
}

/// `GET tramites?IDT=`: the trâmite as the search shows it.
///
/// # Errors
/// The platform's answers; an empty answer.
pub async fn tramite(client: &Client, idt: Idt) -> Result<Tramite, Error> {
    first(client, idt).await
}

async fn first(client: &Client, idt: Idt) -> Result<Tramite, Error> {
    let found = client
        .tramites(&TramiteFilter {
            idt: Some(idt),
            ..TramiteFilter::default()
        })
        .await?;
    found
        .tramites
        .into_iter()
        .next()
        .ok_or_else(|| Error::Decode {
            what: "tramites".to_owned(),
            detail: format!("trâmite {idt} não encontrado"),
        })
}
