//! The REST v3 surface: routes, request decoding and the one place where platform errors become
//! HTTP responses ([`ApiError`] and [`error_status`]).
//!
//! Handlers never see a certificate: each request carries the verified [`PeerIdentity`] of its
//! connection, which [`Caller`] turns into the registered SPE (or the platform's "Transação não
//! autorizada…" answer). Bodies are bounded: JSON by [`Limits::max_json_body`], components by
//! [`Limits::max_component_bytes`], parts by [`Limits::max_part_bytes`], all counted while they
//! stream.
//!
//! [`Limits::max_json_body`]: crate::config::Limits::max_json_body
//! [`Limits::max_component_bytes`]: crate::config::Limits::max_component_bytes
//! [`Limits::max_part_bytes`]: crate::config::Limits::max_part_bytes

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use pen_protocol::api::{
    EnvioDeDocumento, EnvioDeProcesso, EnvioDeReciboDeTramite, IdentificacaoDeComponente, Recusa,
};
use pen_protocol::error::ErrorKind;
use pen_protocol::hash::ComponentHash;
use pen_protocol::ids::{Idt, Nre, Ticket};
use pen_protocol::model::EstruturaOrganizacional;
use pen_protocol::parse_bool;
use pen_protocol::ranges::PartRange;
use pen_protocol::situacao::Situacao;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::blobs::{BlobError, BlobStore, Staged};
use crate::faults::{FaultKind, Faults, Target};
use crate::intake::{self, Arrival, IntakeError};
use crate::journal::{ComponentRef, Operation};
use crate::platform::{Platform, PlatformError, StructureQuery, TramiteQuery, UnitFilter};
use crate::registry::Spe;
use crate::server::{BodyTimeout, PeerIdentity};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub platform: Platform,
    pub blobs: BlobStore,
    pub faults: Faults,
}

type Shared = Arc<AppState>;

// ---------------------------------------------------------------------- errors → HTTP

/// A platform error on its way out.
#[derive(Debug)]
pub struct ApiError(pub PlatformError);

impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> Self {
        ApiError(e)
    }
}

fn api(kind: ErrorKind, args: &[(&'static str, &str)]) -> ApiError {
    ApiError(PlatformError::new(kind, args))
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::TooLarge { limit } => api(
                ErrorKind::CorpoMuitoGrande,
                &[("limite", &limit.to_string())],
            ),
            BlobError::Body(detail) => api(ErrorKind::RequisicaoInvalida, &[("detalhe", &detail)]),
            BlobError::Io(io) => {
                tracing::error!(error = %io, "component storage failed");
                api(ErrorKind::ServicoIndisponivel, &[])
            }
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Refused(refused) => ApiError(refused),
            IntakeError::Store(store) => store.into(),
        }
    }
}

/// The HTTP status of an error: the catalogue's, or 500 for every business error when the
/// platform mimics production (`business_errors_as_500`). Transport-level answers (unknown route,
/// body too large, outage) keep their status either way.
#[must_use]
pub fn error_status(kind: ErrorKind, business_errors_as_500: bool) -> StatusCode {
    let status = StatusCode::from_u16(kind.definition().http_status)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let transport = matches!(
        kind,
        ErrorKind::RecursoNaoEncontrado
            | ErrorKind::CorpoMuitoGrande
            | ErrorKind::ServicoIndisponivel
    );
    if business_errors_as_500 && !transport {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = error_status(self.0.kind, false);
        let mut response = (status, Json(self.0.body())).into_response();
        // The profile may turn the status into 500; `apply_profile` reads this marker.
        response.extensions_mut().insert(ErrorMarker(self.0.kind));
        response
    }
}

#[derive(Debug, Clone, Copy)]
struct ErrorMarker(ErrorKind);

async fn apply_profile(State(state): State<Shared>, mut response: Response) -> Response {
    if let Some(ErrorMarker(kind)) = response.extensions().get::<ErrorMarker>().copied() {
        *response.status_mut() = error_status(kind, state.platform.config().business_errors_as_500);
    }
    response
}

// ---------------------------------------------------------------------- extractors

/// The registered SPE behind the request's client certificate.
#[derive(Debug, Clone)]
pub struct Caller {
    pub spe: Spe,
    pub peer: PeerIdentity,
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts.extensions.get::<PeerIdentity>().cloned() else {
            // Only reachable when the app is served without the mTLS listener.
            return Err(api(
                ErrorKind::CertificadoNaoAutorizado,
                &[("commonName", "(sem certificado)")],
            ));
        };
        let spe = match parts.extensions.get::<ResolvedSpe>() {
            Some(ResolvedSpe(Some(spe))) => spe.clone(),
            _ => state
                .platform
                .identify(&peer.sha1_fingerprint, &peer.common_name)?,
        };
        Ok(Caller { spe, peer })
    }
}

/// A JSON body read with the platform's limit and answered with the platform's error body when
/// it does not parse (never axum's plain-text rejection).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Shared> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        let limit = state.platform.config().limits.max_json_body;
        let body = http_body_util::Limited::new(req.into_body(), limit);
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(api(
                    ErrorKind::CorpoMuitoGrande,
                    &[("limite", &limit.to_string())],
                ));
            }
            Err(e) => {
                return Err(api(
                    ErrorKind::RequisicaoInvalida,
                    &[("detalhe", &e.to_string())],
                ))
            }
        };
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            api(
                ErrorKind::RequisicaoInvalida,
                &[("detalhe", &format!("JSON inválido: {e}"))],
            )
        })
    }
}

/// Query parameters as pairs, with PHP bracket keys (`remetente[numeroDe…]`) and dotted keys
/// (`remetente.numeroDe…`) both read as dotted.
#[derive(Debug, Default)]
pub struct QueryMap(HashMap<String, String>);

impl QueryMap {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| {
                parse_bool(v).ok_or_else(|| {
                    api(
                        ErrorKind::RequisicaoInvalida,
                        &[("detalhe", &format!("{key} deve ser booleano: {v:?}"))],
                    )
                })
            })
            .transpose()
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    api(
                        ErrorKind::RequisicaoInvalida,
                        &[("detalhe", &format!("{key} deve ser numérico: {v:?}"))],
                    )
                })
            })
            .transpose()
    }

    fn unit(&self, prefix: &str) -> Result<UnitFilter, ApiError> {
        Ok(UnitFilter {
            repositorio: self
                .number(&format!("{prefix}.identificacaoDoRepositorioDeEstruturas"))?,
            estrutura: self
                .get(&format!("{prefix}.numeroDeIdentificacaoDaEstrutura"))
                .map(str::to_owned),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs): Query<Vec<(String, String)>> =
            Query::from_request_parts(parts, state).await.map_err(|e| {
                api(
                    ErrorKind::RequisicaoInvalida,
                    &[("detalhe", &e.body_text())],
                )
            })?;
        Ok(QueryMap(
            pairs
                .into_iter()
                .map(|(k, v)| (k.replace('[', ".").replace(']', ""), v))
                .collect(),
        ))
    }
}

/// What a client is told about an upload form that could not be read: a body that stopped or
/// trickled in the edge's own words ([`BodyTimeout`], which multer would call "failed to read
/// stream"), anything else in the parser's.
fn multipart_detail(e: &MultipartError) -> String {
    BodyTimeout::find(e).map_or_else(|| e.body_text(), ToString::to_string)
}

/// Path parameters, with a path that does not decode (`tramites/%FF` is not UTF-8) answered as
/// what it is — a path that names nothing — with the platform's body, never axum's plain text.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(params)) => Ok(PathParams(params)),
            Err(_) => Err(api(
                ErrorKind::RecursoNaoEncontrado,
                &[("caminho", &format!("{} {}", parts.method, parts.uri.path()))],
            )),
        }
    }
}

fn path_number<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| {
        api(
            ErrorKind::RecursoNaoEncontrado,
            &[("caminho", &format!("{what} {text}"))],
        )
    })
}

fn json<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

// ---------------------------------------------------------------------- router

/// Where the legacy long-poll host lives on the simulator (configure
/// `PEN.WebServicePendencias` as `https://HOST:PORT/interoperabilidade/pendencias/`).
pub const LONG_POLL_PATH: &str = "/interoperabilidade/pendencias";

/// The REST v3 application, to be served behind the mTLS listener
/// ([`Server::serve`](crate::server::Server::serve)).
pub fn router(state: Shared) -> Router {
    let uploads = Router::new()
        .route("/tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar", put(upload_whole))
        .route("/tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar/partes/{range}", put(upload_part))
        // Bodies are counted while they stream against our own limits instead.
        .layer(DefaultBodyLimit::disable());
    let v3 = Router::new()
        .route("/healthcheck", get(healthcheck))
        .route("/repositorios-de-estruturas", get(repositorios))
        .route("/repositorios-de-estruturas/{rep}/estruturas-organizacionais", get(estruturas))
        .route("/repositorios-de-estruturas/{rep}/estruturas-organizacionais/{id}", get(estrutura))
        .route("/motivosUrgencia", get(motivos_urgencia))
        .route("/especies", get(especies))
        .route("/hipoteses", get(hipoteses))
        .route("/tramites/processo", post(open_processo))
        .route("/tramites/documento", post(open_documento))
        .route(
            "/tickets-de-envio-de-componente/{ticket}/protocolos/componentes-a-enviar/partes/sinalizacao-termino-envio",
            post(finish_parts),
        )
        .merge(uploads)
        .route("/tramites/pendentes", get(pendentes))
        .route("/tramites", get(tramites))
        .route("/tramites/{idt}", get(metadados).delete(cancelar))
        .route("/tramites/{idt}/protocolos/componentes-digitais", post(download_whole))
        .route("/tramites/{idt}/protocolos/componentes-digitais/partes/{range}", post(download_part))
        .route("/tramites/{idt}/recibo-de-envio", get(recibo_de_envio))
        .route("/tramites/{idt}/recibo", get(recibo).post(post_recibo))
        .route("/tramites/{idt}/recusa", post(recusar))
        .route("/tramites/{idt}/ciencia", get(ciencia))
        .route("/NREs/{nre}/destinatarios/{rep}/{estrutura}/reproducoes-de-tramite", post(reproduzir));
    let routes = Router::new()
        .nest(pen_protocol::BASE_PATH.trim_end_matches('/'), v3)
        .route(LONG_POLL_PATH, get(long_poll))
        .route(&format!("{LONG_POLL_PATH}/"), get(long_poll));
    with_platform_layers(routes, state)
}

/// The pendências host as production has it, for its own listener (`serve --pendencias-addr`):
/// mod-sei-pen is configured with `PEN.WebServicePendencias = https://pendencias…/`, so its
/// root is the long-poll service. A request for `/` is the request for [`LONG_POLL_PATH`],
/// journalled, faulted and answered as on the REST listener; nothing else is served there.
pub fn pendencias_router(state: Shared) -> Router {
    let routes = Router::new()
        .route(LONG_POLL_PATH, get(long_poll))
        .route(&format!("{LONG_POLL_PATH}/"), get(long_poll));
    // Rewritten before routing (a router's own layers run after it): an outer router whose
    // every request goes through the rewrite into the platform's.
    let platform = with_platform_layers(routes, state);
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(root_is_long_poll)
            .service(platform),
    )
}

fn root_is_long_poll(mut req: Request) -> Request {
    if req.uri().path() == "/" {
        let target = match req.uri().query() {
            Some(query) => format!("{LONG_POLL_PATH}/?{query}"),
            None => format!("{LONG_POLL_PATH}/"),
        };
        if let Ok(uri) = target.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// What every platform listener does around its routes: the platform's 404 and 405, the
/// profile's statuses, the faults and the journal.
fn with_platform_layers(routes: Router<Shared>, state: Shared) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            apply_profile,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            inject_faults,
        ))
        // Outermost, so that it records the status the client really gets.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .with_state(state)
}

/// The SPE behind a request's certificate, resolved once per request by the outermost layer
/// and read by the faults, the journal and the [`Caller`] extractor.
#[derive(Debug, Clone)]
struct ResolvedSpe(Option<Spe>);

/// Journals every request: caller, method, path, final status, error code and the time until the
/// response head was ready (a streamed body goes on after that).
async fn record_request(
    State(s): State<Shared>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let peer = req.extensions().get::<PeerIdentity>().cloned();
    let spe = peer.as_ref().and_then(|p| {
        s.platform
            .registry(|r| r.spe_by_fingerprint(&p.sha1_fingerprint).cloned())
    });
    let spe_id = spe.as_ref().map(|x| x.id.clone());
    req.extensions_mut().insert(ResolvedSpe(spe));
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let duration_micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let error_code = response
        .extensions()
        .get::<ErrorMarker>()
        .map(|m| m.0.code().to_owned());
    let component = response.extensions().get::<ComponentRef>().cloned();
    let fault = response
        .extensions()
        .get::<AnsweredByFault>()
        .map(|f| f.0.to_owned());
    let operation = Operation::classify(&method, &path);
    tracing::debug!(
        spe = spe_id.as_deref().unwrap_or("-"),
        %method,
        %path,
        status,
        duration_micros,
        error_code = error_code.as_deref().unwrap_or("-"),
        "request"
    );
    let event = crate::journal::Event::Request {
        spe: spe_id,
        common_name: peer.map(|p| p.common_name).unwrap_or_default(),
        method,
        path,
        operation,
        status,
        duration_micros,
        error_code,
        component,
        fault,
    };
    s.platform.journal().record(s.platform.clock().now(), event);
    response
}

/// The faults that fired for a request, for handlers that act on them (recibo corruption).
#[derive(Debug, Clone, Default)]
struct FiredFaults(Vec<FaultKind>);

/// On a response the platform never produced: the fault that answered instead (the journal
/// says so, and the harness does not count it as the platform's answer).
#[derive(Debug, Clone, Copy)]
struct AnsweredByFault(&'static str);

/// Applies the control plane's faults before the request reaches its route.
async fn inject_faults(
    State(s): State<Shared>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    let spe = req
        .extensions()
        .get::<ResolvedSpe>()
        .and_then(|r| r.0.as_ref())
        .map(|x| x.id.clone());
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let fired = s.faults.fire(Target {
        spe: spe.as_deref(),
        method: &method,
        path: &path,
    });
    if fired.is_empty() {
        return next.run(req).await;
    }
    for fault in &fired {
        match fault {
            FaultKind::Latency { millis } => {
                // The control plane refuses more; a fault added through the library is held
                // to the same bound.
                let millis = (*millis).min(crate::control::MAX_FAULT_LATENCY_MILLIS);
                tokio::time::sleep(Duration::from_millis(millis)).await;
            }
            FaultKind::Error { status } => {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                return fault_response(status, "error");
            }
            FaultKind::FeedOutage => {
                return fault_response(StatusCode::SERVICE_UNAVAILABLE, "feed_outage")
            }
            FaultKind::DropConnection => {
                let cut = futures_util::stream::once(async {
                    Err::<bytes::Bytes, _>(std::io::Error::other(
                        "falha injetada: conexão interrompida",
                    ))
                });
                let mut response = Body::from_stream(cut).into_response();
                response
                    .extensions_mut()
                    .insert(AnsweredByFault("drop_connection"));
                return response;
            }
            FaultKind::CorruptReciboDeEnvio | FaultKind::CorruptComponent => {}
        }
    }
    req.extensions_mut().insert(FiredFaults(fired));
    next.run(req).await
}

fn fault_response(status: StatusCode, fault: &'static str) -> Response {
    let kind = ErrorKind::ServicoIndisponivel;
    let mut response = (status, Json(PlatformError::new(kind, &[]).body())).into_response();
    response.extensions_mut().insert(ErrorMarker(kind));
    response.extensions_mut().insert(AnsweredByFault(fault));
    response
}

async fn method_not_allowed(req: Request) -> ApiError {
    api(
        ErrorKind::MetodoNaoPermitido,
        &[
            ("metodo", req.method().as_str()),
            ("caminho", req.uri().path()),
        ],
    )
}

async fn not_found(req: Request) -> ApiError {
    api(
        ErrorKind::RecursoNaoEncontrado,
        &[("caminho", &format!("{} {}", req.method(), req.uri().path()))],
    )
}

async fn healthcheck() -> Response {
    json(&serde_json::json!({"status": "ok"}))
}

// ---------------------------------------------------------------------- catalogue

async fn repositorios(
    State(s): State<Shared>,
    _caller: Caller,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let only_active = q.flag("ativo")?.or(q.flag("ativos")?).unwrap_or(false);
    Ok(json(&s.platform.repositorios(only_active)))
}

async fn estruturas(
    State(s): State<Shared>,
    _caller: Caller,
    PathParams(rep): PathParams<String>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let rep: u64 = path_number("repositório", &rep)?;
    let query = StructureQuery {
        apenas_ativas: q.flag("apenasAtivas")?.unwrap_or(false),
        raiz: q
            .get("numeroDeIdentificacaoDaEstruturaRaizDaConsulta")
            .map(str::to_owned),
        sigla: q.get("sigla").map(str::to_owned),
        nome: q.get("nome").map(str::to_owned),
        registro_inicial: q.number("registroInicial")?,
        quantidade_de_registros: q.number("quantidadeDeRegistros")?,
        permite_recebimento: q.flag("permiteRecebimento")?.unwrap_or(false),
        permite_envio: q.flag("permiteEnvio")?.unwrap_or(false),
    };
    Ok(json(&s.platform.estruturas(rep, &query)))
}

async fn estrutura(
    State(s): State<Shared>,
    _caller: Caller,
    PathParams((rep, id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let rep: u64 = path_number("repositório", &rep)?;
    Ok(json(&s.platform.estrutura(rep, &id)?))
}

async fn motivos_urgencia(State(s): State<Shared>, _caller: Caller) -> Response {
    s.platform.registry(|r| json(&r.motivos_urgencia))
}

async fn especies(State(s): State<Shared>, _caller: Caller) -> Response {
    s.platform.registry(|r| json(&r.especies))
}

async fn hipoteses(
    State(s): State<Shared>,
    _caller: Caller,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let ativos = q.flag("ativos")?.or(q.flag("status")?);
    Ok(s.platform.registry(|r| {
        let mut view = r.hipoteses.clone();
        if let Some(active) = ativos {
            view.hipoteses_legais.retain(|h| h.status == active);
        }
        json(&view)
    }))
}

// ---------------------------------------------------------------------- opening

async fn open_processo(
    State(s): State<Shared>,
    caller: Caller,
    JsonBody(body): JsonBody<EnvioDeProcesso>,
) -> Result<Response, ApiError> {
    Ok(json(&s.platform.open_processo(&caller.spe, body)?))
}

async fn open_documento(
    State(s): State<Shared>,
    caller: Caller,
    JsonBody(body): JsonBody<EnvioDeDocumento>,
) -> Result<Response, ApiError> {
    Ok(json(&s.platform.open_documento(&caller.spe, body)?))
}

// ---------------------------------------------------------------------- uploads

/// The parts of an upload form: `conteudo` staged while it streams, the two text fields from the
/// form or (older clients) from the query string.
struct UploadForm {
    conteudo: Option<Staged>,
    hash: Option<String>,
    protocolo: Option<String>,
}

async fn text_field(field: Field<'_>) -> Result<String, ApiError> {
    // Text fields are tiny; 64 KiB is far beyond any hash or protocol.
    let mut out = Vec::new();
    let mut field = field;
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        api(
            ErrorKind::RequisicaoInvalida,
            &[("detalhe", &multipart_detail(&e))],
        )
    })? {
        if out.len() + chunk.len() > 64 * 1024 {
            return Err(api(ErrorKind::CorpoMuitoGrande, &[("limite", "65536")]));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out)
        .map(|s| s.trim().to_owned())
        .map_err(|_| {
            api(
                ErrorKind::RequisicaoInvalida,
                &[("detalhe", "campo de texto não é UTF-8")],
            )
        })
}

/// Who may upload what under a ticket, asked before a byte of `conteudo` is stored (283 MiB
/// used to be staged for a ticket that did not exist). The ticket and the caller are checked
/// first; the hash too when the form (or the query string) names it, with its protocol, before
/// `conteudo`. The SEI module puts `conteudo` first, so for it the hash can only be checked
/// against the stored bytes afterwards, as before.
#[derive(Debug, Clone, Copy)]
struct UploadGate<'a> {
    s: &'a AppState,
    spe: &'a Spe,
    ticket: Ticket,
    /// The part's range, for a chunked upload.
    range: Option<PartRange>,
}

impl UploadGate<'_> {
    fn check(&self, hash: Option<&str>, protocolo: Option<&str>) -> Result<(), ApiError> {
        let platform = &self.s.platform;
        match (hash, protocolo, self.range) {
            (Some(hash), Some(protocolo), Some(range)) => {
                platform.check_part(self.spe, self.ticket, hash, protocolo, range)?;
            }
            (Some(hash), Some(protocolo), None) => {
                platform.upload_target(self.spe, self.ticket, hash, protocolo)?;
            }
            _ => {
                // The platform has no ticket-only question: asking for a hash no trâmite
                // requests answers "ticket inválido" exactly when the ticket is unknown, not
                // the caller's, or not waiting for components, and "not requested" otherwise.
                match platform.upload_target(self.spe, self.ticket, "", "") {
                    Err(e) if e.kind == ErrorKind::ComponenteNaoSolicitado => {}
                    other => {
                        other?;
                    }
                }
            }
        }
        Ok(())
    }
}

async fn read_form(
    gate: UploadGate<'_>,
    mut multipart: Multipart,
    q: &QueryMap,
    limit: u64,
) -> Result<UploadForm, ApiError> {
    let s = gate.s;
    let mut form = UploadForm {
        conteudo: None,
        hash: q.get("hashDoComponenteDigital").map(str::to_owned),
        protocolo: q.get("protocolo").map(str::to_owned),
    };
    let result = async {
        while let Some(field) = multipart.next_field().await.map_err(|e| {
            api(
                ErrorKind::RequisicaoInvalida,
                &[("detalhe", &multipart_detail(&e))],
            )
        })? {
            match field.name() {
                Some("conteudo") => {
                    gate.check(form.hash.as_deref(), form.protocolo.as_deref())?;
                    let staged = s
                        .blobs
                        .stage(
                            Box::pin(field.map(|c| c.map_err(|e| multipart_detail(&e)))),
                            limit,
                        )
                        .await?;
                    // A second `conteudo` replaces the first, whose staged file goes with it.
                    form.conteudo = Some(staged);
                }
                Some("hashDoComponenteDigital") => form.hash = Some(text_field(field).await?),
                Some("protocolo") => form.protocolo = Some(text_field(field).await?),
                _ => {
                    // Unknown parts are read and ignored, as Spring would.
                    let _ = text_field(field).await;
                }
            }
        }
        Ok::<_, ApiError>(())
    }
    .await;
    // On an error the form, and any staged `conteudo` with it, is dropped.
    result.map(|()| form)
}

fn required(value: Option<String>, name: &str) -> Result<String, ApiError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        api(
            ErrorKind::RequisicaoInvalida,
            &[("detalhe", &format!("parâmetro {name} não informado"))],
        )
    })
}

async fn multipart_of(req: Request, s: &Shared) -> Result<Multipart, ApiError> {
    let req = req.map(crate::multipart::settled);
    Multipart::from_request(req, s).await.map_err(|e| {
        api(
            ErrorKind::RequisicaoInvalida,
            &[("detalhe", &e.body_text())],
        )
    })
}

async fn upload_whole(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(ticket): PathParams<String>,
    q: QueryMap,
    req: Request,
) -> Result<Response, ApiError> {
    let ticket = Ticket(path_number("ticket", &ticket)?);
    let limit = s.platform.config().limits.max_component_bytes;
    let gate = UploadGate {
        s: &s,
        spe: &caller.spe,
        ticket,
        range: None,
    };
    gate.check(q.get("hashDoComponenteDigital"), q.get("protocolo"))?;
    let form = read_form(gate, multipart_of(req, &s).await?, &q, limit).await?;
    let Some(staged) = form.conteudo else {
        return Err(api(
            ErrorKind::RequisicaoInvalida,
            &[("detalhe", "parte conteudo não informada")],
        ));
    };
    let hash = required(form.hash, "hashDoComponenteDigital")?;
    let protocolo = required(form.protocolo, "protocolo")?;
    let arrival = Arrival {
        spe: &caller.spe,
        ticket,
        hash: &hash,
        protocolo: &protocolo,
    };
    intake::accept(&s.platform, &s.blobs, arrival, staged).await?;
    Ok(StatusCode::OK.into_response())
}

async fn upload_part(
    State(s): State<Shared>,
    caller: Caller,
    PathParams((ticket, range)): PathParams<(String, String)>,
    q: QueryMap,
    req: Request,
) -> Result<Response, ApiError> {
    let ticket = Ticket(path_number("ticket", &ticket)?);
    let range: PartRange = path_number("parte", &range)?;
    let limit = s.platform.config().limits.max_part_bytes;
    let gate = UploadGate {
        s: &s,
        spe: &caller.spe,
        ticket,
        range: Some(range),
    };
    gate.check(q.get("hashDoComponenteDigital"), q.get("protocolo"))?;
    let form = read_form(gate, multipart_of(req, &s).await?, &q, limit).await?;
    let Some(staged) = form.conteudo else {
        return Err(api(
            ErrorKind::RequisicaoInvalida,
            &[("detalhe", "parte conteudo não informada")],
        ));
    };
    let checked = (|| {
        let hash = required(form.hash, "hashDoComponenteDigital")?;
        let protocolo = required(form.protocolo, "protocolo")?;
        s.platform
            .check_part(&caller.spe, ticket, &hash, &protocolo, range)?;
        if staged.len != range.len() {
            return Err(api(
                ErrorKind::TamanhoNaoConfere,
                &[
                    ("recebido", &staged.len.to_string()),
                    ("informado", &range.len().to_string()),
                ],
            ));
        }
        let parsed = ComponentHash::from_base64(&hash).map_err(|_| {
            api(
                ErrorKind::ComponenteNaoSolicitado,
                &[("hash", &hash), ("protocolo", &protocolo)],
            )
        })?;
        Ok((hash, parsed))
    })();
    let (hash, parsed) = checked?;
    s.blobs.place_part(ticket, &parsed, range, staged).await?;
    s.platform.record_part(ticket, &hash, range);
    Ok(StatusCode::OK.into_response())
}

async fn finish_parts(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(ticket): PathParams<String>,
    JsonBody(body): JsonBody<IdentificacaoDeComponente>,
) -> Result<Response, ApiError> {
    let ticket = Ticket(path_number("ticket", &ticket)?);
    let IdentificacaoDeComponente {
        hash_do_componente_digital: hash,
        protocolo,
    } = body;
    let size = s
        .platform
        .check_parts_complete(&caller.spe, ticket, &hash, &protocolo)?;
    let parsed = ComponentHash::from_base64(&hash).map_err(|_| {
        api(
            ErrorKind::ComponenteNaoSolicitado,
            &[("hash", &hash), ("protocolo", &protocolo)],
        )
    })?;
    let assembled = s.blobs.assembled(ticket, &parsed, size).await?;
    let arrival = Arrival {
        spe: &caller.spe,
        ticket,
        hash: &hash,
        protocolo: &protocolo,
    };
    intake::accept(&s.platform, &s.blobs, arrival, assembled).await?;
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------- feed and reads

/// Longest a long-poll is held (the SEI module's curl gives up after 300 s).
pub const MAX_LONG_POLL: Duration = Duration::from_secs(290);

/// `GET tramites/pendentes[?todas=…][&aguardar=<segundos>]`. `todas` true or absent: every
/// pendency; false: those the long-poll host has not delivered yet. `aguardar` (ours) holds the
/// request until something waits for the caller, at most that many seconds.
async fn pendentes(
    State(s): State<Shared>,
    caller: Caller,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let only_undelivered = !q.flag("todas")?.unwrap_or(true);
    let list = match q.number::<u64>("aguardar")? {
        Some(seconds) => {
            let hold = Duration::from_secs(seconds).min(MAX_LONG_POLL);
            record_waiting(&s, &caller, Operation::Pendentes, hold);
            s.platform
                .wait_pendencias(&caller.spe, only_undelivered, hold)
                .await
        }
        None => s.platform.pendencias(&caller.spe, only_undelivered),
    };
    Ok(json(&list))
}

/// The legacy long-poll host (`PEN.WebServicePendencias`): `GET …?idTramiteDaPendenciaRecebida=N`
/// answers `{"encontrou":true,"IDT":…,"status":…}` as soon as a pendency not yet pushed exists,
/// or `{"encontrou":false}` after `aguardar` seconds (default and maximum 290).
async fn long_poll(
    State(s): State<Shared>,
    caller: Caller,
    q: QueryMap,
) -> Result<Response, ApiError> {
    // The acknowledged IDT is informational: what was pushed is remembered per (IDT, situação).
    let _ack: Option<u64> = q.number("idTramiteDaPendenciaRecebida")?;
    let hold = q.number::<u64>("aguardar")?.map_or(MAX_LONG_POLL, |secs| {
        Duration::from_secs(secs).min(MAX_LONG_POLL)
    });
    record_waiting(&s, &caller, Operation::LongPoll, hold);
    Ok(json(&s.platform.next_pendencia(&caller.spe, hold).await))
}

/// A long-poll is journalled when it ends, which may be minutes away: that it began is its own
/// entry, so that whoever reads the journal sees a client waiting on its feed now.
fn record_waiting(s: &AppState, caller: &Caller, operation: Operation, hold: Duration) {
    let event = crate::journal::Event::Waiting {
        spe: caller.spe.id.clone(),
        operation,
        seconds: hold.as_secs(),
    };
    s.platform.journal().record(s.platform.clock().now(), event);
}

fn idt_of(text: &str) -> Result<Idt, ApiError> {
    path_number("trâmite", text)
}

async fn metadados(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(json(&s.platform.metadados(&caller.spe, idt_of(&idt)?)?))
}

async fn tramites(
    State(s): State<Shared>,
    caller: Caller,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let query = TramiteQuery {
        idt: q.number::<u64>("IDT")?.map(Idt),
        nre: q
            .get("NRE")
            .map(|n| {
                Nre::parse(n).map_err(|e| {
                    api(
                        ErrorKind::RequisicaoInvalida,
                        &[("detalhe", &e.to_string())],
                    )
                })
            })
            .transpose()?,
        remetente: q.unit("remetente")?,
        destinatario: q.unit("destinatario")?,
        protocolo: q.get("protocolo").map(str::to_owned),
        situacao_atual: q
            .number::<u64>("situacaoAtual")?
            .map(|c| {
                Situacao::from_code(c).ok_or_else(|| {
                    api(
                        ErrorKind::RequisicaoInvalida,
                        &[("detalhe", &format!("situacaoAtual inválida: {c}"))],
                    )
                })
            })
            .transpose()?,
        quantidade_de_registros: q.number("quantidadeDeRegistros")?,
    };
    Ok(json(&s.platform.tramites(&caller.spe, &query)))
}

// ---------------------------------------------------------------------- downloads

async fn serve_download(
    s: &AppState,
    caller: &Caller,
    idt: &str,
    body: IdentificacaoDeComponente,
    range: Option<PartRange>,
    corrupt: bool,
) -> Result<Response, ApiError> {
    let idt = idt_of(idt)?;
    let plan = s
        .platform
        .download(&caller.spe, idt, &body.hash_do_componente_digital, range)?;
    let stream = s
        .blobs
        .base64_range(&plan.hash, plan.range)
        .await
        .map_err(|_| {
            api(
                ErrorKind::BinarioIndisponivel,
                &[("hash", &body.hash_do_componente_digital)],
            )
        })?;
    let mut first = corrupt;
    // Another valid base64 letter in front: the body still decodes, to other bytes.
    let stream = stream.map(move |chunk| {
        chunk.map(|bytes| {
            if !std::mem::take(&mut first) || bytes.is_empty() {
                return bytes;
            }
            let mut changed = bytes.to_vec();
            changed[0] = if changed[0] == b'A' { b'B' } else { b'A' };
            bytes::Bytes::from(changed)
        })
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    Ok(response)
}

fn corrupts(fired: Option<&Extension<FiredFaults>>) -> bool {
    fired.is_some_and(|Extension(f)| f.0.contains(&FaultKind::CorruptComponent))
}

async fn download_whole(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
    fired: Option<Extension<FiredFaults>>,
    JsonBody(body): JsonBody<IdentificacaoDeComponente>,
) -> Response {
    let component = component_ref(&body);
    let answer = serve_download(&s, &caller, &idt, body, None, corrupts(fired.as_ref())).await;
    with_component(answer, component)
}

/// The component a download asked for, for the journal.
fn component_ref(body: &IdentificacaoDeComponente) -> ComponentRef {
    ComponentRef {
        hash: body.hash_do_componente_digital.clone(),
        protocolo: body.protocolo.clone(),
    }
}

fn with_component(answer: Result<Response, ApiError>, component: ComponentRef) -> Response {
    let mut response = answer.into_response();
    response.extensions_mut().insert(component);
    response
}

async fn download_part(
    State(s): State<Shared>,
    caller: Caller,
    PathParams((idt, range)): PathParams<(String, String)>,
    fired: Option<Extension<FiredFaults>>,
    JsonBody(body): JsonBody<IdentificacaoDeComponente>,
) -> Response {
    let component = component_ref(&body);
    let answer = match path_number::<PartRange>("parte", &range) {
        Ok(range) => {
            serve_download(
                &s,
                &caller,
                &idt,
                body,
                Some(range),
                corrupts(fired.as_ref()),
            )
            .await
        }
        Err(e) => Err(e),
    };
    with_component(answer, component)
}

// ---------------------------------------------------------------------- receipts, cancel, refuse

async fn recibo_de_envio(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
    fired: Option<Extension<FiredFaults>>,
) -> Result<Response, ApiError> {
    let mut recibo = s.platform.recibo_de_envio(&caller.spe, idt_of(&idt)?)?;
    if fired.is_some_and(|Extension(f)| f.0.contains(&FaultKind::CorruptReciboDeEnvio)) {
        // Same length and alphabet, different bytes: it parses and does not verify.
        recibo.hash_da_assinatura = recibo.hash_da_assinatura.chars().rev().collect();
    }
    Ok(json(&recibo))
}

async fn recibo(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(json(&s.platform.recibo(&caller.spe, idt_of(&idt)?)?))
}

async fn post_recibo(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
    JsonBody(body): JsonBody<EnvioDeReciboDeTramite>,
) -> Result<Response, ApiError> {
    s.platform.post_recibo(
        &caller.spe,
        &caller.peer.certificate_der,
        idt_of(&idt)?,
        &body,
    )?;
    Ok(StatusCode::OK.into_response())
}

async fn cancelar(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
) -> Result<Response, ApiError> {
    s.platform.cancelar(&caller.spe, idt_of(&idt)?)?;
    Ok(StatusCode::OK.into_response())
}

async fn recusar(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
    JsonBody(body): JsonBody<Recusa>,
) -> Result<Response, ApiError> {
    s.platform.recusar(&caller.spe, idt_of(&idt)?, &body)?;
    Ok(StatusCode::OK.into_response())
}

async fn ciencia(
    State(s): State<Shared>,
    caller: Caller,
    PathParams(idt): PathParams<String>,
) -> Result<Response, ApiError> {
    s.platform.ciencia(&caller.spe, idt_of(&idt)?)?;
    Ok(json(
        &serde_json::json!({"status": "sucesso", "mensagem": "Ciência registrada com sucesso."}),
    ))
}

async fn reproduzir(
    State(s): State<Shared>,
    caller: Caller,
    PathParams((nre, rep, estrutura)): PathParams<(String, String, String)>,
    JsonBody(_ignored): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    // The SEI module posts `[]`; the body carries nothing the platform needs.
    let nre = Nre::parse(&nre).map_err(|e| {
        api(
            ErrorKind::RequisicaoInvalida,
            &[("detalhe", &e.to_string())],
        )
    })?;
    let destinatario = EstruturaOrganizacional::new(path_number("repositório", &rep)?, estrutura);
    Ok(json(&s.platform.reproduzir(
        &caller.spe,
        &nre,
        &destinatario,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_catalogue_or_the_production_500() {
        let cases = [
            (ErrorKind::ValidacaoDeCampos, false, StatusCode::BAD_REQUEST),
            (
                ErrorKind::TramiteNaoAutorizado,
                false,
                StatusCode::FORBIDDEN,
            ),
            (
                ErrorKind::HashDeDocumentoInconsistente,
                false,
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ErrorKind::ValidacaoDeCampos,
                true,
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            // Transport-level answers keep their status in every profile.
            (ErrorKind::RecursoNaoEncontrado, true, StatusCode::NOT_FOUND),
            (
                ErrorKind::CorpoMuitoGrande,
                true,
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                ErrorKind::ServicoIndisponivel,
                true,
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (kind, as_500, expected) in cases {
            assert_eq!(
                error_status(kind, as_500),
                expected,
                "{kind:?}, as_500={as_500}"
            );
        }
    }
}
