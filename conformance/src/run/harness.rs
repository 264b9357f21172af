//! What a scenario acts through — the platform's control plane, the counterpart, the SUT's
//! profile and trigger — and the questions steps ask of the journal, on typed entries.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pen_client::agent::{self, Agent};
use pen_client::flows;
use pen_client::samples::{self, Envelope, Sample};
use pen_client::Client;
use pen_protocol::ids::{Idt, Nre, Nup};
use pen_protocol::model::{EstruturaOrganizacional, Interessado};
use pen_protocol::situacao::Situacao;
use pen_simulator::control_client::{ControlClient, ControlClientError};
use pen_simulator::journal::{Entry, Event, JournalQuery};
use pen_simulator::platform::Inspection;

use super::evidence;
use crate::scenario::{Alteration, Scenario, Size};
use crate::target::{SutProfile, Trigger};

/// A trâmite a scenario named.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub(crate) idt: Idt,
    pub(crate) nre: Nre,
    pub(crate) protocolo: String,
}

/// Why a step did not pass.
#[derive(Debug)]
pub(crate) enum StepError {
    /// The SUT did not do what the protocol asks.
    Fail {
        expected: String,
        observed: String,
        evidence: Vec<String>,
        hint: String,
    },
    /// The scenario cannot be run against this target, and why.
    Skip(String),
    /// The harness could not do its part.
    Harness(String),
}

pub(crate) type StepResult = Result<(), StepError>;

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Fail {
                expected, observed, ..
            } => write!(f, "esperado {expected}; observado {observed}"),
            StepError::Skip(reason) => write!(f, "ignorado: {reason}"),
            StepError::Harness(message) => f.write_str(message),
        }
    }
}

impl From<ControlClientError> for StepError {
    fn from(e: ControlClientError) -> Self {
        StepError::Harness(e.to_string())
    }
}

pub(crate) fn harness_err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StepError + '_ {
    move |e| StepError::Harness(format!("{what}: {e}"))
}

/// Everything a scenario acts through.
pub(crate) struct Harness {
    pub(crate) control: ControlClient,
    pub(crate) counterpart: Agent,
    pub(crate) counterpart_client: Client,
    pub(crate) counterpart_unit: EstruturaOrganizacional,
    pub(crate) sut: SutProfile,
    pub(crate) trigger: Trigger,
    pub(crate) seed: u64,
    pub(crate) nups: AtomicU32,
    pub(crate) work: tempfile::TempDir,
    /// The SUT's registered fingerprint while a scenario has it unregistered.
    pub(crate) saved_fingerprint: Mutex<Option<String>>,
}

pub(crate) fn lock_saved(m: &Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How the SUT's trâmite for a protocolo ended up, once it stopped moving on its own.
#[derive(Debug)]
pub(crate) enum SutTramite {
    /// Opened and its components uploaded (it reached situação 2), and not cancelled.
    Sent(Named),
    /// Opened, then cancelled (7) or cancelled by the platform (10) without being delivered.
    Cancelled { idt: Idt, situacao: Situacao },
    /// Opened but its components never all arrived within the deadline.
    Stuck { idt: Idt, situacao: Situacao },
    /// No trâmite for the protocolo was opened.
    Nothing,
}

impl Harness {
    pub(crate) fn fresh_nup(&self) -> String {
        let n = self.nups.fetch_add(1, Ordering::Relaxed);
        // Unit code from the seed, sequence from the run: fresh per scenario, reproducible.
        let unidade = 10_000 + u32::try_from(self.seed % 80_000).unwrap_or(0);
        Nup::new(unidade, n, 2025).to_string()
    }

    /// How long a step waits for the SUT: the target's deadline, or the scenario's when it
    /// asks for more.
    pub(crate) fn deadline(&self, scenario: &Scenario) -> Duration {
        scenario.deadline_secs.map_or(self.sut.deadline, |s| {
            Duration::from_secs(s).max(self.sut.deadline)
        })
    }

    pub(crate) fn sut_org(&self) -> &str {
        &self.sut.organisation
    }

    /// The SUT's requests after `after`, optionally only those naming a trâmite.
    pub(crate) async fn sut_requests(
        &self,
        idt: Option<Idt>,
        after: u64,
    ) -> Result<Vec<Entry>, StepError> {
        Ok(self
            .control
            .entries(&JournalQuery {
                kind: Some("request".to_owned()),
                spe: Some(self.sut.organisation.clone()),
                idt: idt.map(|i| i.0),
                after,
                ..JournalQuery::default()
            })
            .await?)
    }

    /// Every situação change of a trâmite after `after`.
    pub(crate) async fn changes(&self, idt: Idt, after: u64) -> Result<Vec<Entry>, StepError> {
        Ok(self
            .control
            .entries(&JournalQuery {
                kind: Some("state_change".to_owned()),
                idt: Some(idt.0),
                after,
                ..JournalQuery::default()
            })
            .await?)
    }

    /// Whether the trâmite ever reached `situacao` (after `after`).
    pub(crate) async fn reached(
        &self,
        idt: Idt,
        situacao: Situacao,
        after: u64,
    ) -> Result<Option<Entry>, StepError> {
        Ok(self
            .changes(idt, after)
            .await?
            .into_iter()
            .find(|e| matches!(e.event, Event::StateChange { to, .. } if to == situacao)))
    }

    /// Journal evidence for a verdict: the SUT's calls (about the trâmite when one is named)
    /// and every situação change of the trâmite since `after`, in journal order.
    pub(crate) async fn evidence(&self, idt: Option<Idt>, after: u64) -> Vec<String> {
        let mut entries = self.sut_requests(idt, after).await.unwrap_or_default();
        if let Some(idt) = idt {
            entries.extend(self.changes(idt, after).await.unwrap_or_default());
        }
        evidence::lines(entries)
    }

    /// What the SUT did on the wire since `after`, in a sentence: whether it called the
    /// platform at all, and any connection the platform refused (a wrong CA, no certificate)
    /// or call it could not attribute (an unregistered certificate).
    pub(crate) async fn activity_note(&self, after: u64) -> String {
        let Ok(all) = self
            .control
            .entries(&JournalQuery {
                after,
                ..JournalQuery::default()
            })
            .await
        else {
            return String::new();
        };
        let sut = self.sut_org();
        let mut calls = 0usize;
        let mut last = None;
        let mut refused = Vec::new();
        for e in &all {
            match &e.event {
                Event::Request { spe: Some(s), .. } | Event::Waiting { spe: s, .. } if s == sut => {
                    calls += 1;
                    last = Some(e);
                }
                Event::Request { spe: None, .. } | Event::HandshakeRefused { .. } => {
                    refused.push(evidence::line(e));
                }
                _ => {}
            }
        }
        let mut note = match last {
            None => "o SUT não chamou a plataforma durante o passo".to_owned(),
            Some(e) => format!(
                "durante o passo o SUT fez {calls} chamada(s) à plataforma; a última: {}",
                evidence::line(e)
            ),
        };
        if !refused.is_empty() {
            refused.truncate(3);
            note.push_str(&format!(
                "; conexões que a plataforma não atribuiu ao SUT: {}",
                refused.join(" | ")
            ));
        }
        note
    }

    /// The first request of the SUT after `after` (about `idt`, when given) that `wanted`
    /// accepts, waiting up to the deadline: a request is journalled once it is answered, after
    /// the situação change it caused.
    pub(crate) async fn wait_request(
        &self,
        idt: Option<Idt>,
        after: u64,
        deadline: Instant,
        wanted: impl Fn(&Entry) -> bool,
    ) -> Result<Option<Entry>, StepError> {
        let query = JournalQuery {
            kind: Some("request".to_owned()),
            spe: Some(self.sut.organisation.clone()),
            idt: idt.map(|i| i.0),
            after,
            ..JournalQuery::default()
        };
        self.first(query, deadline, |e| wanted(e).then(|| e.clone()))
            .await
    }

    /// The first entry after `query.after` matching `query` of which `found` makes something,
    /// waiting up to the deadline (`None` then).
    pub(crate) async fn first<T>(
        &self,
        mut query: JournalQuery,
        deadline: Instant,
        mut found: impl FnMut(&Entry) -> Option<T>,
    ) -> Result<Option<T>, StepError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(entry) = self.control.wait(&query, left).await? else {
                return Ok(None);
            };
            query.after = entry.seq;
            if let Some(it) = found(&entry) {
                return Ok(Some(it));
            }
            if left.is_zero() {
                return Ok(None);
            }
        }
    }

    /// Waits until the SUT, after journal entry `after`, calls the platform about something
    /// other than `idt` or waits on its feed again: it has moved on from that trâmite. `false`
    /// at the deadline.
    pub(crate) async fn moved_on(
        &self,
        idt: Idt,
        after: u64,
        deadline: Instant,
    ) -> Result<bool, StepError> {
        let query = JournalQuery {
            spe: Some(self.sut.organisation.clone()),
            after,
            ..JournalQuery::default()
        };
        let moved = self
            .first(query, deadline, |entry| match &entry.event {
                Event::Request { operation, .. } => (operation.idt() != Some(idt)).then_some(()),
                Event::Waiting { .. } => Some(()),
                _ => None,
            })
            .await?;
        Ok(moved.is_some())
    }

    /// Everything the control plane knows of a trâmite.
    pub(crate) async fn inspect(&self, idt: Idt) -> Result<Inspection, StepError> {
        self.control
            .inspect(idt)
            .await?
            .ok_or_else(|| StepError::Harness(format!("o trâmite {idt} não existe")))
    }

    pub(crate) async fn situacao(&self, idt: Idt) -> Option<Situacao> {
        self.control
            .inspect(idt)
            .await
            .ok()
            .flatten()
            .map(|i| i.tramite.situacao_atual)
    }

    /// Waits until the trâmite reaches one of `targets` or another situação in `stops` (either
    /// is returned), or the deadline (`None`).
    pub(crate) async fn wait_situacao(
        &self,
        idt: Idt,
        targets: &[Situacao],
        stops: &[Situacao],
        after: u64,
        deadline: Instant,
    ) -> Result<Option<Situacao>, StepError> {
        let wanted = |s: Situacao| targets.contains(&s) || stops.contains(&s);
        if let Some(now) = self.situacao(idt).await {
            if wanted(now) {
                return Ok(Some(now));
            }
        }
        let query = JournalQuery {
            kind: Some("state_change".to_owned()),
            idt: Some(idt.0),
            after,
            ..JournalQuery::default()
        };
        self.first(query, deadline, |entry| match entry.event {
            Event::StateChange { to, .. } if wanted(to) => Some(to),
            _ => None,
        })
        .await
    }

    /// The SUT's trâmite for `protocolo` opened after `after` (other than `except`): once it
    /// reached situação 2, or stopped (cancelled), or at the deadline.
    pub(crate) async fn sut_tramite(
        &self,
        protocolo: &str,
        except: Option<Idt>,
        after: u64,
        deadline: Instant,
    ) -> Result<SutTramite, StepError> {
        let mut opened: Option<Idt> = None;
        let mut cursor = after;
        loop {
            if opened.is_none() {
                opened = self.opened_for(protocolo, except, after).await?;
            }
            if let Some(idt) = opened {
                if self
                    .reached(idt, Situacao::ComponentesEnviadosRemetente, after)
                    .await?
                    .is_some()
                {
                    let now = self.situacao(idt).await;
                    return Ok(match now {
                        Some(s @ (Situacao::Cancelado | Situacao::CanceladoAutomaticamente)) => {
                            SutTramite::Cancelled { idt, situacao: s }
                        }
                        _ => {
                            let inspected = self.inspect(idt).await?;
                            SutTramite::Sent(Named {
                                idt,
                                nre: inspected.tramite.nre,
                                protocolo: inspected.tramite.protocolo,
                            })
                        }
                    });
                }
                if let Some(s @ (Situacao::Cancelado | Situacao::CanceladoAutomaticamente)) =
                    self.situacao(idt).await
                {
                    return Ok(SutTramite::Cancelled { idt, situacao: s });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let query = JournalQuery {
                kind: Some("state_change".to_owned()),
                after: cursor,
                ..JournalQuery::default()
            };
            match self.control.wait(&query, left).await? {
                Some(e) if !left.is_zero() => cursor = e.seq,
                _ => {
                    return Ok(match opened {
                        Some(idt) => SutTramite::Stuck {
                            idt,
                            situacao: self.situacao(idt).await.unwrap_or(Situacao::Iniciado),
                        },
                        None => SutTramite::Nothing,
                    })
                }
            }
        }
    }

    /// The trâmite the SUT opened after `after` for `protocolo`; when the SUT numbers its
    /// processes itself (a SEI assigns its own NUP), the only one it opened towards the
    /// counterpart in that time.
    async fn opened_for(
        &self,
        protocolo: &str,
        except: Option<Idt>,
        after: u64,
    ) -> Result<Option<Idt>, StepError> {
        let opened = self
            .control
            .entries(&JournalQuery {
                kind: Some("state_change".to_owned()),
                spe: Some(self.sut.organisation.clone()),
                to: Some(Situacao::Iniciado.code()),
                after,
                ..JournalQuery::default()
            })
            .await?;
        let mut towards_counterpart = Vec::new();
        for e in opened {
            let Event::StateChange { idt, .. } = e.event else {
                continue;
            };
            if Some(idt) == except {
                continue;
            }
            if let Some(view) = self.control.inspect(idt).await? {
                if view.tramite.protocolo == protocolo {
                    return Ok(Some(idt));
                }
                if view.tramite.destinatario == self.counterpart_unit {
                    towards_counterpart.push(idt);
                }
            }
        }
        Ok(match towards_counterpart.as_slice() {
            [only] => Some(*only),
            _ => None,
        })
    }

    pub(crate) async fn refusal_of(&self, idt: Idt) -> (Option<String>, Option<String>) {
        match self.control.inspect(idt).await.ok().flatten() {
            Some(i) => (
                i.tramite.motivo_da_recusa.map(|m| m.code().to_owned()),
                i.tramite.justificativa_da_recusa,
            ),
            None => (None, None),
        }
    }

    pub(crate) fn resolve_size(&self, size: Size) -> Result<u64, StepError> {
        let limit = self.sut.max_document_mb.map(|mb| mb * agent::policy::MB);
        match size {
            Size::Bytes(n) => Ok(n),
            Size::Blocks(n) => {
                let block = self.sut.block_bytes;
                let wanted = n.max(2) * block;
                let size = limit.map_or(wanted, |l| wanted.min(l));
                if size < 2 * block {
                    return Err(StepError::Skip(format!(
                        "o limite declarado (sut.max_document_mb = {} MB) não comporta um componente de duas partes do bloco declarado (sut.block_bytes = {block} bytes)",
                        self.sut.max_document_mb.unwrap_or_default()
                    )));
                }
                Ok(size)
            }
            Size::AboveLimit(extra) => limit.map(|l| l + extra).ok_or_else(|| {
                StepError::Skip(
                    "o alvo não declara um limite de tamanho (sut.max_document_mb)".to_owned(),
                )
            }),
        }
    }

    fn alter(&self, sample: &mut Sample, alterations: &[Alteration]) -> StepResult {
        let Envelope::Processo(p) = &mut sample.envelope else {
            return Ok(());
        };
        for alteration in alterations {
            match alteration {
                Alteration::DuplicateInteressados => {
                    let twice = p.interessados.clone();
                    p.interessados.extend(twice);
                }
                Alteration::LongTexts => {
                    let long = |n: usize| {
                        "Ação de conformação, ênfase e exceção: órgão público à vista; "
                            .chars()
                            .cycle()
                            .take(n)
                            .collect::<String>()
                    };
                    p.descricao = Some(long(100));
                    p.processo_de_negocio = Some(long(100));
                    p.interessados.push(Interessado::named(long(150)));
                    for d in &mut p.documentos {
                        d.descricao = Some(long(100));
                    }
                }
                Alteration::NoInteressados => p.interessados.clear(),
                Alteration::NoDescricao => p.descricao = None,
                Alteration::UnmappedEspecie => {
                    let code = self.sut.unmapped_especie.ok_or_else(|| {
                        StepError::Skip(
                            "o alvo não declara uma espécie não mapeada (sut.unmapped_especie)"
                                .to_owned(),
                        )
                    })?;
                    for d in &mut p.documentos {
                        if let Some(e) = &mut d.especie {
                            e.codigo = Some(code);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A sample under a fresh protocolo, with its anexo and alterations.
    pub(crate) fn sample(
        &self,
        fixture: &str,
        anexo: Option<Size>,
        alterations: &[Alteration],
    ) -> Result<Sample, StepError> {
        let mut sample = samples::load(fixture)
            .map_err(harness_err("amostra"))?
            .with_protocolo(&self.fresh_nup());
        if let Some(size) = anexo {
            let bytes = self.resolve_size(size)?;
            sample = sample
                .with_large_attachment(bytes, self.seed ^ bytes)
                .map_err(harness_err("anexo"))?;
        }
        self.alter(&mut sample, alterations)?;
        Ok(sample)
    }

    /// Writes a sample where an external SUT can import it: `processo.json` (the `processo` of
    /// `POST tramites/processo`) or `documento.json`, and each component's file under its
    /// `nome`.
    pub(crate) fn materialise(&self, sample: &Sample) -> Result<PathBuf, StepError> {
        let dir = self.work.path().join(
            sample
                .envelope
                .protocolo()
                .unwrap_or("amostra")
                .replace(['/', '.'], "-"),
        );
        std::fs::create_dir_all(&dir).map_err(harness_err("pasta da amostra"))?;
        let (name, json) = match &sample.envelope {
            Envelope::Processo(p) => ("processo.json", serde_json::to_vec_pretty(p)),
            Envelope::Documento(d) => ("documento.json", serde_json::to_vec_pretty(d)),
        };
        std::fs::write(dir.join(name), json.map_err(harness_err("amostra"))?)
            .map_err(harness_err("pasta da amostra"))?;
        for c in sample.envelope.components() {
            if let (Some(hash), Some(nome), Some(size)) =
                (c.hash_conteudo(), &c.nome, c.tamanho_em_bytes)
            {
                agent::archive::keep_component(&dir, hash, size, &sample.source)
                    .map_err(harness_err("pasta da amostra"))?;
                // By hash first (what the archive writes), then under its name; a hash shared by
                // two documents is written again for the second.
                let from = dir.join(flows::file_name_of(hash));
                std::fs::rename(&from, dir.join(nome)).map_err(harness_err("pasta da amostra"))?;
            }
        }
        Ok(dir)
    }
}
