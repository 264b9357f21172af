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
    ConteudoDoReciboDeEnvio, EnvioDeProcesso, EnvioDeReciboDeTramite, Metadados, Tramite,
    TramiteDeProcessoCriado,
};
use pen_protocol::datetime;
use pen_protocol::hash::ComponentHasher;
use pen_protocol::ids::Idt;
use pen_protocol::model::ComponenteDigital;
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
        let hex: String = STANDARD
            .decode(hash)
            .unwrap_or_default()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(hex)
    }
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

fn declared_sizes(components: impl Iterator<Item = ComponenteDigital>) -> HashMap<String, u64> {
    components
        .filter_map(|c| Some((c.hash_conteudo()?.to_owned(), c.tamanho_em_bytes?)))
        .collect()
}

/// Sends a process: opens the trâmite, uploads what the platform requests, fetches and verifies
/// the recibo de envio.
///
/// # Errors
/// The platform's answers, I/O of the source, a recibo de envio whose signature does not verify.
pub async fn send_process(
    client: &Client,
    envio: &EnvioDeProcesso,
    source: &dyn ComponentSource,
    options: TransferOptions,
) -> Result<Sent, Error> {
    let sizes = declared_sizes(
        envio
            .processo
            .components()
            .into_iter()
            .map(|(_, _, c)| c.clone()),
    );
    let created = client.open_process(envio).await?;
    let ticket = created.ticket_para_envio_de_componentes_digitais;
    let mut uploaded = Vec::new();
    for item in &created.processos_com_componentes_digitais_solicitados {
        for hash in &item.hashes {
            if uploaded.contains(hash) {
                continue;
            }
            let size = sizes.get(hash).copied().unwrap_or_default();
            if size < options.whole_below {
                let bytes = source.read(
                    hash,
                    PartRange {
                        inicio: 0,
                        fim: size,
                    },
                )?;
                client
                    .upload_component(ticket, hash, &item.protocolo, bytes)
                    .await?;
            } else {
                let mut failed = Vec::new();
                for part in PartRange::split(size, options.block) {
                    let bytes = source.read(hash, part)?;
                    if client
                        .upload_part(ticket, part, hash, &item.protocolo, bytes)
                        .await
                        .is_err()
                    {
                        failed.push(part);
                    }
                }
                // As the SEI module does: every failed part once more, then give up.
                for part in failed {
                    let bytes = source.read(hash, part)?;
                    client
                        .upload_part(ticket, part, hash, &item.protocolo, bytes)
                        .await?;
                }
                client.finish_parts(ticket, hash, &item.protocolo).await?;
            }
            uploaded.push(hash.clone());
        }
    }
    let recibo_de_envio = client.sending_receipt(created.idt).await?;
    verify_sending_receipt(&recibo_de_envio)?;
    Ok(Sent {
        created,
        uploaded,
        recibo_de_envio,
    })
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
pub fn verify_conclusion_receipt(
    recibo: &pen_protocol::api::ConteudoDoReciboDeTramite,
) -> Result<(), Error> {
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
    let metadados = client.metadata(idt).await?;
    let tramite = first(client, idt).await?;
    let sizes = match (&metadados.processo, &metadados.documento) {
        (Some(p), _) => declared_sizes(p.components().into_iter().map(|(_, _, c)| c.clone())),
        (None, Some(d)) => declared_sizes(d.componentes_digitais.iter().cloned()),
        (None, None) => HashMap::new(),
    };
    let hashes = tramite
        .hash_dos_componentes_pendentes_de_recebimento
        .clone();
    for hash in &hashes {
        let size = sizes.get(hash).copied().unwrap_or_default();
        let mut hasher = ComponentHasher::new();
        for part in PartRange::split(size, options.block) {
            let bytes = client
                .download_part(idt, part, hash, &tramite.protocolo)
                .await?;
            hasher.update(&bytes);
            sink.append(hash, &bytes)?;
        }
        let computed = hasher.finish().to_base64();
        if &computed != hash {
            return Ok(Err(Corrupted {
                hash: hash.clone(),
                computed,
            }));
        }
    }
    let tramite = first(client, idt).await?;
    post_signed_receipt(client, &tramite).await?;
    Ok(Ok(Received {
        metadados,
        tramite,
        hashes,
    }))
}

/// Signs and posts the recibo de conclusão as the SEI module does: the time the trâmite reached
/// situação 4, in UTC with `.000Z`, and the hashes the platform listed as pending.
///
/// # Errors
/// No situação-4 entry, signing, the platform's answer (`0024`).
pub async fn post_signed_receipt(client: &Client, tramite: &Tramite) -> Result<(), Error> {
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
    let data = datetime::format_receipt_date(at.replace_millisecond(0).unwrap_or(at));
    let recibo = ReciboDeConclusao {
        idt: tramite.idt,
        nre: tramite.nre.clone(),
        data_de_recebimento: data.clone(),
        hashes: tramite
            .hash_dos_componentes_pendentes_de_recebimento
            .clone(),
    };
    let signature = recibo.sign(&client.identity().receipt_signer()?)?;
    client
        .post_receipt(
            tramite.idt,
            &EnvioDeReciboDeTramite {
                data_de_recebimento: data,
                hash_da_assinatura: signature,
            },
        )
        .await
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
