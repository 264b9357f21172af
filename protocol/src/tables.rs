//! Closed vocabularies of the schema (`model-receipts-soap.md` §6): motivos de recusa, MIME types,
//! tipos de conteúdo. The platform's open tables (espécies, hipóteses, motivos de urgência) are
//! data in `pen-fixtures`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Motivo of a recusa, a two-digit string on the wire.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MotivoRecusa {
    /// `01` Formato de componente digital não suportado.
    FormatoNaoSuportado,
    /// `02` Componente digital corrompido.
    ComponenteCorrompido,
    /// `03` Falta de componentes digitais.
    FaltaDeComponentes,
    /// `04` Espécie documental não mapeada no destinatário.
    EspecieNaoMapeada,
    /// `99` Outro.
    Outro,
}

impl MotivoRecusa {
    pub const ALL: [MotivoRecusa; 5] = [
        MotivoRecusa::FormatoNaoSuportado,
        MotivoRecusa::ComponenteCorrompido,
        MotivoRecusa::FaltaDeComponentes,
        MotivoRecusa::EspecieNaoMapeada,
        MotivoRecusa::Outro,
    ];

    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            MotivoRecusa::FormatoNaoSuportado => "01",
            MotivoRecusa::ComponenteCorrompido => "02",
            MotivoRecusa::FaltaDeComponentes => "03",
            MotivoRecusa::EspecieNaoMapeada => "04",
            MotivoRecusa::Outro => "99",
        }
    }

    #[must_use]
    pub fn descricao(self) -> &'static str {
        match self {
            MotivoRecusa::FormatoNaoSuportado => "Formato de componente digital não suportado",
            MotivoRecusa::ComponenteCorrompido => "Componente digital corrompido",
            MotivoRecusa::FaltaDeComponentes => "Falta de componentes digitais",
            MotivoRecusa::EspecieNaoMapeada => "Espécie documental não mapeada no destinatário",
            MotivoRecusa::Outro => "Outro",
        }
    }

    /// Reads a code as clients send it (`"02"`, also `"2"` or `2`).
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        let n: u8 = code.trim().parse().ok()?;
        MotivoRecusa::ALL
            .into_iter()
            .find(|m| m.code().parse::<u8>().ok() == Some(n))
    }
}

impl fmt::Display for MotivoRecusa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for MotivoRecusa {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for MotivoRecusa {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = crate::lenient::string(d)?;
        MotivoRecusa::from_code(&code).ok_or_else(|| {
            serde::de::Error::custom(format_args!("motivo de recusa inválido: {code:?}"))
        })
    }
}

/// Maximum length of a recusa `justificativa`.
pub const JUSTIFICATIVA_MAX_CHARS: usize = 1000;

/// `tipoDeConteudo` values.
pub const TIPOS_DE_CONTEUDO: [&str; 5] = ["txt", "img", "aud", "vid", "out"];

/// `mimeType` values of the schema (e-PING list); `outro` requires
/// `dadosComplementaresDoTipoDeArquivo`.
pub const MIME_TYPES: [&str; 26] = [
    "application/pdf",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.formula",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "text/xml",
    "text/rtf",
    "text/html",
    "text/plain",
    "text/csv",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/svg+xml",
    "image/tiff",
    "image/bmp",
    "audio/mp4",
    "audio/midi",
    "audio/ogg",
    "audio/vnd.wave",
    "video/avi",
    "video/mpeg",
    "video/mp4",
    "video/ogg",
    "video/webm",
    "outro",
];

/// The `tipoDeConteudo` the SEI module derives from a MIME type.
#[must_use]
pub fn tipo_de_conteudo_for(mime_type: &str) -> &'static str {
    match mime_type.split('/').next() {
        Some("application" | "text") => "txt",
        Some("image") => "img",
        Some("audio") => "aud",
        Some("video") => "vid",
        _ => "out",
    }
}

/// Descriptions of the motivos de urgência; the code is the position + 1.
pub const MOTIVOS_DE_URGENCIA_COUNT: u32 = 5;
