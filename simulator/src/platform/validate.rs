//! Schema validation of an open-trâmite request: what the XSD makes mandatory and the platform's
//! tables constrain (model §2.2 P7, P14, P17, P18), plus the opt-in policies the real platform
//! does not enforce. Messages follow the Bean Validation style the platform answers with
//! (`processo.documentos[0].especie.codigo deve ser um código de espécie válido`).

use pen_protocol::hash::ComponentHash;
use pen_protocol::model::{
    CabecalhoDeDocumento, CabecalhoDeProcesso, ComponenteDigital, DocumentoAvulso, Especie,
    HipoteseLegalRef, Interessado, MotivoDaUrgencia, NivelDeSigilo, Processo,
};
use pen_protocol::tables::{MIME_TYPES, TIPOS_DE_CONTEUDO};

use crate::config::PlatformConfig;
use crate::registry::Registry;

/// Collects field errors in document order.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub errors: Vec<String>,
    /// Set when a secret document or process was seen (answered with its own code, 0004).
    pub sigiloso: bool,
}

impl Findings {
    fn push(&mut self, field: &str, message: &str) {
        self.errors.push(format!("{field} {message}"));
    }

    fn required_text(&mut self, field: &str, value: Option<&String>) {
        if value.is_none_or(|v| v.trim().is_empty()) {
            self.push(field, "não pode ser vazio");
        }
    }
}

pub(crate) struct Validator<'a> {
    pub registry: &'a Registry,
    pub config: &'a PlatformConfig,
}

impl Validator<'_> {
    pub fn cabecalho_de_processo(&self, c: &CabecalhoDeProcesso, f: &mut Findings) {
        if c.remetente.is_none() {
            f.push("cabecalho.remetente", "não pode ser nulo");
        }
        if c.destinatario.is_none() {
            f.push("cabecalho.destinatario", "não pode ser nulo");
        }
        self.urgency(c.is_urgent(), c.motivo_da_urgencia, f);
    }

    pub fn cabecalho_de_documento(&self, c: &CabecalhoDeDocumento, f: &mut Findings) {
        if c.remetente.is_none() {
            f.push("cabecalho.remetente", "não pode ser nulo");
        }
        if c.destinatarios.is_empty() {
            f.push("cabecalho.destinatarios", "não pode ser vazio");
        }
        self.urgency(c.urgente.unwrap_or(false), c.motivo_da_urgencia, f);
    }

    fn urgency(&self, urgent: bool, motivo: Option<MotivoDaUrgencia>, f: &mut Findings) {
        match motivo {
            Some(MotivoDaUrgencia::Codigo(code))
                if self.registry.motivo_urgencia(code).is_none() =>
            {
                f.push(
                    "cabecalho.motivoDaUrgencia",
                    "deve ser um código de motivo de urgência válido",
                );
            }
            Some(MotivoDaUrgencia::Flag(_)) if !self.config.accept_boolean_urgency_motive => {
                f.push(
                    "cabecalho.motivoDaUrgencia",
                    "deve ser um código de motivo de urgência válido",
                );
            }
            None if urgent => f.push(
                "cabecalho.motivoDaUrgencia",
                "deve ser informado quando o trâmite é urgente",
            ),
            _ => {}
        }
    }

    pub fn processo(&self, p: &Processo, path: &str, f: &mut Findings) {
        self.protocolo(
            p.protocolo.as_ref().map(|x| &x.0),
            &format!("{path}.protocolo"),
            f,
        );
        f.required_text(&format!("{path}.descricao"), p.descricao.as_ref());
        self.sigilo(p.nivel_de_sigilo, p.hipotese_legal.as_ref(), path, f);
        interessados(&p.interessados, path, f);
        if p.documentos.is_empty() {
            f.push(&format!("{path}.documentos"), "não pode ser vazio");
        }
        let mut ordens = std::collections::BTreeSet::new();
        for (i, d) in p.documentos.iter().enumerate() {
            let dpath = format!("{path}.documentos[{i}]");
            match d.ordem {
                None => f.push(&format!("{dpath}.ordem"), "não pode ser nulo"),
                Some(o) if !ordens.insert(o) => {
                    f.push(&format!("{dpath}.ordem"), "não pode se repetir no processo");
                }
                Some(_) => {}
            }
            f.required_text(&format!("{dpath}.descricao"), d.descricao.as_ref());
            self.sigilo(d.nivel_de_sigilo, d.hipotese_legal.as_ref(), &dpath, f);
            self.especie(d.especie.as_ref(), &dpath, f);
            self.componentes(&d.componentes_digitais, &dpath, d.retirado, f);
        }
        for (i, apensado) in p.processo_apensado.iter().enumerate() {
            self.processo(apensado, &format!("{path}.processoApensado[{i}]"), f);
        }
    }

    pub fn documento_avulso(&self, d: &DocumentoAvulso, f: &mut Findings) {
        let path = "documento";
        self.protocolo(d.protocolo.as_ref().map(|x| &x.0), "documento.protocolo", f);
        f.required_text("documento.descricao", d.descricao.as_ref());
        self.sigilo(d.nivel_de_sigilo, d.hipotese_legal.as_ref(), path, f);
        self.especie(d.especie.as_ref(), path, f);
        interessados(&d.interessados, path, f);
        self.componentes(&d.componentes_digitais, path, false, f);
    }

    fn protocolo(&self, protocolo: Option<&String>, field: &str, f: &mut Findings) {
        match protocolo {
            None => f.push(field, "não pode ser vazio"),
            Some(p) if p.trim().is_empty() => f.push(field, "não pode ser vazio"),
            Some(p) if p.chars().count() > 40 => f.push(field, "deve ter no máximo 40 caracteres"),
            Some(p) if self.config.policies.require_valid_nup_check_digits => {
                let valid = pen_protocol::ids::Protocolo(p.clone())
                    .as_nup()
                    .is_ok_and(|n| n.has_valid_check_digits());
                if !valid {
                    f.push(field, "deve ser um NUP com dígitos verificadores válidos");
                }
            }
            Some(_) => {}
        }
    }

    fn sigilo(
        &self,
        nivel: Option<NivelDeSigilo>,
        hipotese: Option<&HipoteseLegalRef>,
        path: &str,
        f: &mut Findings,
    ) {
        match nivel {
            None => f.push(&format!("{path}.nivelDeSigilo"), "não pode ser nulo"),
            Some(NivelDeSigilo::Sigiloso) => f.sigiloso = true,
            Some(NivelDeSigilo::Restrito) if hipotese.is_none() => {
                f.push(
                    &format!("{path}.hipoteseLegal"),
                    "deve ser informada para nível de sigilo restrito",
                );
            }
            Some(_) => {}
        }
        if let Some(h) = hipotese {
            if self.registry.hipotese(h.identificacao).is_none() {
                f.push(
                    &format!("{path}.hipoteseLegal.identificacao"),
                    "deve ser um código de hipótese legal válido",
                );
            }
        }
    }

    fn especie(&self, especie: Option<&Especie>, path: &str, f: &mut Findings) {
        let Some(e) = especie else {
            f.push(&format!("{path}.especie"), "não pode ser nulo");
            return;
        };
        f.required_text(
            &format!("{path}.especie.nomeNoProdutor"),
            e.nome_no_produtor.as_ref(),
        );
        if !e.codigo.is_some_and(|c| self.registry.especie_exists(c)) {
            f.push(
                &format!("{path}.especie.codigo"),
                "deve ser um código de espécie válido",
            );
        }
    }

    fn componentes(
        &self,
        componentes: &[ComponenteDigital],
        path: &str,
        retirado: bool,
        f: &mut Findings,
    ) {
        if componentes.is_empty() {
            f.push(&format!("{path}.componentesDigitais"), "não pode ser vazio");
        }
        for (i, c) in componentes.iter().enumerate() {
            let cpath = format!("{path}.componentesDigitais[{i}]");
            f.required_text(&format!("{cpath}.nome"), c.nome.as_ref());
            match &c.hash {
                None => f.push(&format!("{cpath}.hash"), "não pode ser nulo"),
                Some(h) => {
                    if h.algoritmo != pen_protocol::hash::ALGORITMO {
                        f.push(&format!("{cpath}.hash.algoritmo"), "deve ser SHA256");
                    }
                    if ComponentHash::from_base64(&h.conteudo).is_err() {
                        f.push(
                            &format!("{cpath}.hash.conteudo"),
                            "deve ser o SHA-256 do conteúdo em base64",
                        );
                    }
                }
            }
            match c.tamanho_em_bytes {
                None => f.push(&format!("{cpath}.tamanhoEmBytes"), "não pode ser nulo"),
                Some(size) if size > self.config.limits.max_component_bytes => {
                    f.push(
                        &format!("{cpath}.tamanhoEmBytes"),
                        "excede o limite do simulador",
                    );
                }
                Some(size)
                    if !retirado
                        && self
                            .config
                            .policies
                            .max_component_bytes
                            .is_some_and(|max| size > max) =>
                {
                    f.push(
                        &format!("{cpath}.tamanhoEmBytes"),
                        "excede o tamanho máximo permitido",
                    );
                }
                Some(_) => {}
            }
            match c.mime_type.as_deref() {
                None | Some("") => f.push(&format!("{cpath}.mimeType"), "não pode ser vazio"),
                Some("outro")
                    if c.dados_complementares_do_tipo_de_arquivo
                        .as_deref()
                        .is_none_or(str::is_empty) =>
                {
                    f.push(
                        &format!("{cpath}.dadosComplementaresDoTipoDeArquivo"),
                        "deve ser informado quando mimeType é outro",
                    );
                }
                Some(m) if self.config.policies.restrict_mime_types && !MIME_TYPES.contains(&m) => {
                    f.push(
                        &format!("{cpath}.mimeType"),
                        "deve ser um tipo de arquivo válido",
                    );
                }
                Some(_) => {}
            }
            match c.tipo_de_conteudo.as_deref() {
                None => f.push(&format!("{cpath}.tipoDeConteudo"), "não pode ser nulo"),
                Some(t) if !TIPOS_DE_CONTEUDO.contains(&t) => {
                    f.push(
                        &format!("{cpath}.tipoDeConteudo"),
                        "deve ser um tipo de conteúdo válido",
                    );
                }
                Some(_) => {}
            }
            if let (Some(allowed), Some(nome)) = (&self.config.policies.allowed_extensions, &c.nome)
            {
                let ext = nome
                    .rsplit_once('.')
                    .map(|(_, e)| e.to_lowercase())
                    .unwrap_or_default();
                if !retirado && !allowed.contains(&ext) {
                    f.push(&format!("{cpath}.nome"), "tem extensão não permitida");
                }
            }
            if self.config.policies.require_signatures
                && !retirado
                && c.assinaturas_digitais.is_empty()
            {
                f.push(
                    &format!("{cpath}.assinaturasDigitais"),
                    "não pode ser vazio",
                );
            }
        }
    }
}

fn interessados(interessados: &[Interessado], path: &str, f: &mut Findings) {
    if interessados.is_empty() {
        f.push(&format!("{path}.interessados"), "não pode ser vazio");
    }
    for (i, x) in interessados.iter().enumerate() {
        f.required_text(&format!("{path}.interessados[{i}].nome"), x.nome.as_ref());
    }
}
