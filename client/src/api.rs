//! [`Client`]: one typed method per REST v3 endpoint (`rest-v3.md` §2), nothing more. Flows that
//! combine calls live in their own module.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{
    ConsultaDeTramites, ConteudoDoReciboDeEnvio, ConteudoDoReciboDeTramite, EnvioDeDocumento,
    EnvioDeProcesso, EnvioDeReciboDeTramite, Especies, Estrutura, EstruturasEncontradas,
    HipotesesLegais, IdentificacaoDeComponente, Metadados, MotivosUrgencia, Pendencia,
    PendenciaLongPoll, Recusa, RepositorioDeEstruturas, ReproducaoDeTramite,
    TramiteDeProcessoCriado, TramitesDeDocumentoCriados,
};
use pen_protocol::error::ErrorBody;
use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::model::EstruturaOrganizacional;
use pen_protocol::ranges::PartRange;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::identity::Identity;

/// Timeouts of the SEI module (300 s) are generous; ours are configurable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the platform.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL ending in `/interoperabilidade/rest/v3/`.
    pub base_url: String,
    /// The only CA trusted for the server (PEM).
    pub ca_pem: Vec<u8>,
    pub identity: Identity,
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl ClientConfig {
    #[must_use]
    pub fn new(base_url: impl Into<String>, ca_pem: Vec<u8>, identity: Identity) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            ca_pem,
            identity,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Structure search parameters (`GET …/estruturas-organizacionais`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EstruturaQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigla: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numero_de_identificacao_da_estrutura_raiz_da_consulta: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apenas_ativas: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permite_recebimento: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registro_inicial: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantidade_de_registros: Option<u64>,
}

/// `GET tramites` filters.
#[derive(Debug, Clone, Default)]
pub struct TramiteFilter {
    pub idt: Option<Idt>,
    pub nre: Option<Nre>,
    pub remetente: Option<EstruturaOrganizacional>,
    pub destinatario: Option<EstruturaOrganizacional>,
    pub protocolo: Option<String>,
}

impl TramiteFilter {
    /// The query pairs, nested filters in PHP bracket form as the SEI module sends them.
    fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(idt) = self.idt {
            out.push(("IDT".to_owned(), idt.to_string()));
        }
        if let Some(nre) = &self.nre {
            out.push(("NRE".to_owned(), nre.to_string()));
        }
        for (name, unit) in [
            ("remetente", &self.remetente),
            ("destinatario", &self.destinatario),
        ] {
            if let Some(u) = unit {
                out.push((
                    format!("{name}[identificacaoDoRepositorioDeEstruturas]"),
                    u.identificacao_do_repositorio_de_estruturas.to_string(),
                ));
                out.push((
                    format!("{name}[numeroDeIdentificacaoDaEstrutura]"),
                    u.numero_de_identificacao_da_estrutura.clone(),
                ));
            }
        }
        if let Some(p) = &self.protocolo {
            out.push(("protocolo".to_owned(), p.clone()));
        }
        out
    }
}

/// The REST v3 client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    identity: Identity,
    /// The identity's key as a receipt signer, parsed once (checking an RSA key costs about as
    /// much as a signature) and shared by the clones.
    signer: std::sync::Arc<std::sync::OnceLock<pen_protocol::receipt::ReceiptSigner>>,
}

impl Client {
    /// # Errors
    /// [`Error::Config`] for an unusable CA or identity.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let ca = reqwest::Certificate::from_pem(&config.ca_pem)
            .map_err(|e| Error::Config(format!("CA: {e}")))?;
        let identity = reqwest::Identity::from_pem(config.identity.to_pem().as_bytes())
            .map_err(|e| Error::Identity(crate::error::chain(&e)))?;
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .identity(identity)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .no_proxy()
            .build()
            .map_err(|e| Error::Config(crate::error::chain(&e)))?;
        let mut base = config.base_url;
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Client {
            http,
            base,
            identity: config.identity,
            signer: std::sync::Arc::default(),
        })
    }

    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The identity's key, ready to sign recibos de conclusão.
    ///
    /// # Errors
    /// A key that RSA signing cannot use.
    pub fn receipt_signer(&self) -> Result<&pen_protocol::receipt::ReceiptSigner, Error> {
        if let Some(signer) = self.signer.get() {
            return Ok(signer);
        }
        let signer = self.identity.receipt_signer()?;
        Ok(self.signer.get_or_init(|| signer))
    }

    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let response = request.send().await.map_err(Error::from_reqwest)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.map_err(Error::from_reqwest)?;
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(Error::Platform {
                status: status.as_u16(),
                body,
            }),
            Err(_) => Err(Error::UnexpectedStatus {
                status: status.as_u16(),
                text,
            }),
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        let text = self
            .send(request)
            .await?
            .text()
            .await
            .map_err(Error::from_reqwest)?;
        serde_json::from_str(&text).map_err(|e| Error::Decode {
            what: what.to_owned(),
            detail: format!("{e}: {}", snippet(&text)),
        })
    }

    async fn empty(&self, request: reqwest::RequestBuilder) -> Result<(), Error> {
        self.send(request).await.map(drop)
    }

    // ------------------------------------------------------------------ catalogue (§2.1)

    /// `GET healthcheck`.
    ///
    /// # Errors
    /// Anything but a 2xx.
    pub async fn healthcheck(&self) -> Result<(), Error> {
        self.empty(self.http.get(self.url("healthcheck"))).await
    }

    /// `GET repositorios-de-estruturas[?ativos=1]`.
    ///
    /// # Errors
    /// As every call: TLS, transport, platform error, unreadable body.
    pub async fn repositorios(
        &self,
        only_active: bool,
    ) -> Result<Vec<RepositorioDeEstruturas>, Error> {
        let mut request = self.http.get(self.url("repositorios-de-estruturas"));
        if only_active {
            request = request.query(&[("ativos", "1")]);
        }
        self.json("repositorios-de-estruturas", request).await
    }

    /// `GET repositorios-de-estruturas/{rep}/estruturas-organizacionais/{id}`.
    ///
    /// # Errors
    /// `0055` when the unit is not in that repository; as every call.
    pub async fn estrutura(&self, repositorio: u64, id: &str) -> Result<Estrutura, Error> {
        let path =
            format!("repositorios-de-estruturas/{repositorio}/estruturas-organizacionais/{id}");
        self.json("estrutura", self.http.get(self.url(&path))).await
    }

    /// `GET repositorios-de-estruturas/{rep}/estruturas-organizacionais?…`.
    ///
    /// # Errors
    /// As every call.
    pub async fn estruturas(
        &self,
        repositorio: u64,
        query: &EstruturaQuery,
    ) -> Result<EstruturasEncontradas, Error> {
        let path = format!("repositorios-de-estruturas/{repositorio}/estruturas-organizacionais");
        self.json("estruturas", self.http.get(self.url(&path)).query(query))
            .await
    }

    /// `GET especies`.
    ///
    /// # Errors
    /// As every call.
    pub async fn especies(&self) -> Result<Especies, Error> {
        self.json("especies", self.http.get(self.url("especies")))
            .await
    }

    /// `GET hipoteses[?ativos=1|0]`.
    ///
    /// # Errors
    /// As every call.
    pub async fn hipoteses(&self, ativos: Option<bool>) -> Result<HipotesesLegais, Error> {
        let mut request = self.http.get(self.url("hipoteses"));
        if let Some(a) = ativos {
            request = request.query(&[("ativos", if a { "1" } else { "0" })]);
        }
        self.json("hipoteses", request).await
    }

    /// `GET motivosUrgencia`.
    ///
    /// # Errors
    /// As every call.
    pub async fn motivos_urgencia(&self) -> Result<MotivosUrgencia, Error> {
        self.json(
            "motivosUrgencia",
            self.http.get(self.url("motivosUrgencia")),
        )
        .await
    }

    // ------------------------------------------------------------------ opening (§2.2, §2.3)

    /// `POST tramites/processo`.
    ///
    /// # Errors
    /// The platform's validation and NRE errors (`0044`, `0047`, …); as every call.
    pub async fn open_process(
        &self,
        body: &EnvioDeProcesso,
    ) -> Result<TramiteDeProcessoCriado, Error> {
        self.json(
            "tramites/processo",
            self.http.post(self.url("tramites/processo")).json(body),
        )
        .await
    }

    /// `POST tramites/documento`.
    ///
    /// # Errors
    /// As [`Client::open_process`].
    pub async fn open_document(
        &self,
        body: &EnvioDeDocumento,
    ) -> Result<TramitesDeDocumentoCriados, Error> {
        self.json(
            "tramites/documento",
            self.http.post(self.url("tramites/documento")).json(body),
        )
        .await
    }

    // ------------------------------------------------------------------ uploads (§2.4)

    /// The form the SEI module sends: `conteudo` as an HTML file part whatever the content (the
    /// platform ignores the part's type), then the hash and the protocol as text parts.
    fn upload_form(
        bytes: Vec<u8>,
        hash: &str,
        protocolo: &str,
        file_name: &'static str,
    ) -> Result<reqwest::multipart::Form, Error> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name)
            .mime_str("text/html")
            .map_err(|e| Error::Config(crate::error::chain(&e)))?;
        Ok(reqwest::multipart::Form::new()
            .part("conteudo", part)
            .text("hashDoComponenteDigital", hash.to_owned())
            .text("protocolo", protocolo.to_owned()))
    }

    /// `PUT tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar` (whole).
    ///
    /// # Errors
    /// Hash or size mismatch, unknown ticket, component not requested; as every call.
    pub async fn upload_component(
        &self,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
        bytes: Vec<u8>,
    ) -> Result<(), Error> {
        let path =
            format!("tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar");
        let form = Self::upload_form(bytes, hash, protocolo, "conteudo.html")?;
        self.empty(self.http.put(self.url(&path)).multipart(form))
            .await
    }

    /// `PUT …/componentes-a-enviar/partes/{inicio}-{fim}`.
    ///
    /// # Errors
    /// A part beyond the declared size; as [`Client::upload_component`].
    pub async fn upload_part(
        &self,
        ticket: Ticket,
        range: PartRange,
        hash: &str,
        protocolo: &str,
        bytes: Vec<u8>,
    ) -> Result<(), Error> {
        let path = format!("tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar/partes/{range}");
        let form = Self::upload_form(bytes, hash, protocolo, "arquivo_externo.html")?;
        self.empty(self.http.put(self.url(&path)).multipart(form))
            .await
    }

    /// `POST …/componentes-a-enviar/partes/sinalizacao-termino-envio`.
    ///
    /// # Errors
    /// Missing parts, hash mismatch; as every call.
    pub async fn finish_parts(
        &self,
        ticket: Ticket,
        hash: &str,
        protocolo: &str,
    ) -> Result<(), Error> {
        let path = format!("tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar/partes/sinalizacao-termino-envio");
        let body = IdentificacaoDeComponente {
            hash_do_componente_digital: hash.to_owned(),
            protocolo: protocolo.to_owned(),
        };
        self.empty(self.http.post(self.url(&path)).json(&body))
            .await
    }

    // ------------------------------------------------------------------ feed and reads (§2.5–2.7)

    /// `GET tramites/pendentes?todas=…`.
    ///
    /// # Errors
    /// As every call.
    pub async fn pending(&self, todas: bool) -> Result<Vec<Pendencia>, Error> {
        let request = self
            .http
            .get(self.url("tramites/pendentes"))
            .query(&[("todas", if todas { "true" } else { "false" })]);
        self.json("tramites/pendentes", request).await
    }

    /// `GET tramites/pendentes?todas=true&aguardar=N`: holds until something waits for us.
    ///
    /// # Errors
    /// As every call.
    pub async fn wait_pending(&self, seconds: u64) -> Result<Vec<Pendencia>, Error> {
        let request = self
            .http
            .get(self.url("tramites/pendentes"))
            .query(&[
                ("todas", "true".to_owned()),
                ("aguardar", seconds.to_string()),
            ])
            .timeout(Duration::from_secs(seconds + 30));
        self.json("tramites/pendentes", request).await
    }

    /// The legacy long-poll host: `GET {url}?idTramiteDaPendenciaRecebida={ack}`.
    ///
    /// # Errors
    /// As every call.
    pub async fn long_poll(&self, url: &str, ack: u64) -> Result<PendenciaLongPoll, Error> {
        let request = self
            .http
            .get(url)
            .query(&[("idTramiteDaPendenciaRecebida", ack)])
            .timeout(Duration::from_secs(320));
        self.json("pendencias", request).await
    }

    /// `GET tramites/{idt}` (the recipient's first read moves 2 → 3).
    ///
    /// # Errors
    /// As every call.
    pub async fn metadata(&self, idt: Idt) -> Result<Metadados, Error> {
        self.json(
            "metadados",
            self.http
                .get(self.url(&format!("tramites/{idt}")))
                .query(&[("IDT", idt.0)]),
        )
        .await
    }

    /// `GET tramites?…` (newest first).
    ///
    /// # Errors
    /// As every call.
    pub async fn tramites(&self, filter: &TramiteFilter) -> Result<ConsultaDeTramites, Error> {
        self.json(
            "tramites",
            self.http.get(self.url("tramites")).query(&filter.pairs()),
        )
        .await
    }

    // ------------------------------------------------------------------ downloads (§2.8)

    async fn base64_body(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, Error> {
        let text = self
            .send(request)
            .await?
            .text()
            .await
            .map_err(Error::from_reqwest)?;
        // A JSON string literal works with the SEI module too (it JSON-decodes first); accept
        // both, with JSON escapes (`\/`) undone.
        let trimmed = text.trim();
        let plain = if trimmed.starts_with('"') {
            serde_json::from_str::<String>(trimmed).map_err(|e| Error::Decode {
                what: what.to_owned(),
                detail: format!("JSON: {e}"),
            })?
        } else {
            trimmed.to_owned()
        };
        STANDARD.decode(plain).map_err(|e| Error::Decode {
            what: what.to_owned(),
            detail: format!("base64: {e}"),
        })
    }

    /// `POST tramites/{idt}/protocolos/componentes-digitais`: the whole component.
    ///
    /// # Errors
    /// As every call; a body that is not base64.
    pub async fn download_component(
        &self,
        idt: Idt,
        hash: &str,
        protocolo: &str,
    ) -> Result<Vec<u8>, Error> {
        let body = IdentificacaoDeComponente {
            hash_do_componente_digital: hash.to_owned(),
            protocolo: protocolo.to_owned(),
        };
        let path = format!("tramites/{idt}/protocolos/componentes-digitais");
        self.base64_body(
            "componente digital",
            self.http.post(self.url(&path)).json(&body),
        )
        .await
    }

    /// `POST tramites/{idt}/protocolos/componentes-digitais/partes/{inicio}-{fim}`.
    ///
    /// # Errors
    /// As [`Client::download_component`].
    pub async fn download_part(
        &self,
        idt: Idt,
        range: PartRange,
        hash: &str,
        protocolo: &str,
    ) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        self.download_part_into(idt, range, hash, protocolo, &mut |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        Ok(bytes)
    }

    /// The same part, decoded as it streams and handed to `out` a piece at a time, so that a
    /// part never sits whole in memory (neither its base64 nor its bytes). Returns the bytes
    /// written.
    ///
    /// # Errors
    /// As [`Client::download_component`]; what `out` returns, as [`Error::Io`].
    pub async fn download_part_into(
        &self,
        idt: Idt,
        range: PartRange,
        hash: &str,
        protocolo: &str,
        out: &mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send),
    ) -> Result<u64, Error> {
        const WHAT: &str = "parte de componente digital";
        let decode_error = |e: base64::DecodeError| Error::Decode {
            what: WHAT.to_owned(),
            detail: format!("base64: {e}"),
        };
        let body = IdentificacaoDeComponente {
            hash_do_componente_digital: hash.to_owned(),
            protocolo: protocolo.to_owned(),
        };
        let path = format!("tramites/{idt}/protocolos/componentes-digitais/partes/{range}");
        let mut response = self
            .send(self.http.post(self.url(&path)).json(&body))
            .await?;
        // Base64 text, decoded four characters at a time as it arrives; a JSON string literal
        // (which the SEI module also accepts) is rare and small enough to be taken whole.
        let (mut carry, mut quoted, mut started, mut written) =
            (Vec::new(), None::<Vec<u8>>, false, 0u64);
        while let Some(chunk) = response.chunk().await.map_err(Error::from_reqwest)? {
            if let Some(whole) = quoted.as_mut() {
                whole.extend_from_slice(&chunk);
                continue;
            }
            if !started {
                match chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                    Some(b'"') => {
                        quoted = Some(chunk.to_vec());
                        continue;
                    }
                    Some(_) => started = true,
                    None => continue,
                }
            }
            carry.extend(chunk.iter().copied().filter(|b| !b.is_ascii_whitespace()));
            let ready = carry.len() / 4 * 4;
            if ready > 0 {
                let decoded = STANDARD.decode(&carry[..ready]).map_err(decode_error)?;
                out(&decoded)?;
                written += decoded.len() as u64;
                carry.drain(..ready);
            }
        }
        if let Some(whole) = quoted {
            let text = serde_json::from_slice::<String>(&whole).map_err(|e| Error::Decode {
                what: WHAT.to_owned(),
                detail: format!("JSON: {e}"),
            })?;
            let decoded = STANDARD.decode(text.trim()).map_err(decode_error)?;
            out(&decoded)?;
            written += decoded.len() as u64;
        } else if !carry.is_empty() {
            return Err(Error::Decode {
                what: WHAT.to_owned(),
                detail: format!("base64 truncado: {} caractere(s) sobrando", carry.len()),
            });
        }
        Ok(written)
    }

    // ------------------------------------------------------------------ receipts (§2.9)

    /// `GET tramites/{idt}/recibo-de-envio`.
    ///
    /// # Errors
    /// Before every component arrived; as every call.
    pub async fn sending_receipt(&self, idt: Idt) -> Result<ConteudoDoReciboDeEnvio, Error> {
        let request = self
            .http
            .get(self.url(&format!("tramites/{idt}/recibo-de-envio")))
            .query(&[("IDT", idt.0)]);
        self.json("recibo-de-envio", request).await
    }

    /// `POST tramites/{idt}/recibo`.
    ///
    /// # Errors
    /// `0024` when the platform does not accept the signature; as every call.
    pub async fn post_receipt(&self, idt: Idt, body: &EnvioDeReciboDeTramite) -> Result<(), Error> {
        self.empty(
            self.http
                .post(self.url(&format!("tramites/{idt}/recibo")))
                .json(body),
        )
        .await
    }

    /// `GET tramites/{idt}/recibo` (moves 5 → 6).
    ///
    /// # Errors
    /// As every call.
    pub async fn receipt(&self, idt: Idt) -> Result<ConteudoDoReciboDeTramite, Error> {
        let request = self
            .http
            .get(self.url(&format!("tramites/{idt}/recibo")))
            .query(&[("IDT", idt.0)]);
        self.json("recibo", request).await
    }

    // ------------------------------------------------------------------ cancel, refuse, ciência, reproduction

    /// `DELETE tramites/{idt}`.
    ///
    /// # Errors
    /// Outside situações 1–4; as every call.
    pub async fn cancel(&self, idt: Idt) -> Result<(), Error> {
        self.empty(
            self.http
                .delete(self.url(&format!("tramites/{idt}")))
                .query(&[("IDT", idt.0)]),
        )
        .await
    }

    /// `POST tramites/{idt}/recusa`.
    ///
    /// # Errors
    /// Outside situações 2–4, a justificativa out of 1..1000; as every call.
    pub async fn refuse(&self, idt: Idt, recusa: &Recusa) -> Result<(), Error> {
        self.empty(
            self.http
                .post(self.url(&format!("tramites/{idt}/recusa")))
                .json(recusa),
        )
        .await
    }

    /// `GET tramites/{idt}/ciencia` (a GET that changes state: 8 → 9).
    ///
    /// # Errors
    /// Outside situação 8; as every call.
    pub async fn acknowledge_refusal(&self, idt: Idt) -> Result<(), Error> {
        self.empty(
            self.http
                .get(self.url(&format!("tramites/{idt}/ciencia")))
                .query(&[("IDT", idt.0)]),
        )
        .await
    }

    /// `POST NREs/{nre}/destinatarios/{rep}/{estrutura}/reproducoes-de-tramite` (body `[]`).
    ///
    /// # Errors
    /// `0044` while a trâmite of the NRE is open; nothing to reproduce; as every call.
    pub async fn reproduce(
        &self,
        nre: &Nre,
        destinatario: &EstruturaOrganizacional,
    ) -> Result<ReproducaoDeTramite, Error> {
        let path = format!(
            "NREs/{nre}/destinatarios/{}/{}/reproducoes-de-tramite",
            destinatario.identificacao_do_repositorio_de_estruturas,
            destinatario.numero_de_identificacao_da_estrutura
        );
        self.json(
            "reproducoes-de-tramite",
            self.http.post(self.url(&path)).json(&serde_json::json!([])),
        )
        .await
    }
}

fn snippet(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}
