//! How the simulated platform behaves where the public sources leave room: every knob here is a
//! documented choice, not a silent guess (design §4, "fidelity first").
//!
//! Two profiles bundle the defaults: [`Profile::Strict`] (the default) enforces what the schema
//! states and the behaviour the spec recommends for clean tests; [`Profile::Compat`] mimics the
//! real platform's known quirks (the sender's metadata read also moves 2 → 3, every business error
//! answered with HTTP 500, the SEI module's `motivoDaUrgencia: true` accepted).

use std::time::Duration;

use pen_protocol::situacao::TransitionRules;

/// A bundle of defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Schema rules enforced, idealised behaviour (only the recipient's metadata read moves 2 → 3).
    #[default]
    Strict,
    /// The real platform's observed quirks.
    Compat,
}

/// What to do when a sender opens a trâmite without `cabecalho.NRE` for a protocol the platform
/// already knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingNre {
    /// Issue a new NRE (what the support article shows the real platform doing; the recipient
    /// then refuses with "Um processo com o número de protocolo … já existe").
    IssueNew,
    /// Reuse the NRE last used for that protocol by the same organisation (what the manual
    /// suggests the platform "recupera").
    RecoverByProtocol,
}

/// How the recibo de conclusão's date is put into the text the signature is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptDate {
    /// Only the string as the recipient posted it.
    AsSent,
    /// As posted, or re-rendered as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` (the form the real platform is
    /// believed to rebuild).
    AsSentOrUtc,
}

/// How the platform writes the timestamps it produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// `2025-06-01T10:00:00.000-03:00` (parsable by every known client).
    Iso8601,
    /// Epoch milliseconds, as the Swagger example of `dataHoraDeRegistroDoTramite` shows (breaks
    /// the SEI module, which reads it with `strtotime`): for testing client robustness.
    EpochMillis,
}

/// Rules the real platform does **not** enforce, available as opt-in policy (all off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    /// Refuse components larger than this many bytes at open time.
    pub max_component_bytes: Option<u64>,
    /// Refuse components whose `nome` extension is not in this list (lower case, no dot).
    pub allowed_extensions: Option<Vec<String>>,
    /// Refuse non-retirado documents whose components carry no `assinaturasDigitais`.
    pub require_signatures: bool,
    /// Refuse protocols that are NUPs with wrong check digits.
    pub require_valid_nup_check_digits: bool,
    /// Refuse `mimeType` values outside the schema's list.
    pub restrict_mime_types: bool,
}

/// Maxima that keep every body bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// JSON request bodies (metadata with thousands of documents fit comfortably).
    pub max_json_body: usize,
    /// A single component, whole or assembled from parts.
    pub max_component_bytes: u64,
    /// One part of a chunked transfer (the SEI module uses up to 200 MiB).
    pub max_part_bytes: u64,
    /// Default and maximum page of the structure search.
    pub default_page: u64,
    pub max_page: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_json_body: 32 * 1024 * 1024,
            max_component_bytes: 16 * 1024 * 1024 * 1024,
            max_part_bytes: 256 * 1024 * 1024,
            default_page: 50,
            max_page: 200,
        }
    }
}

/// Everything that shapes the platform's behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformConfig {
    pub profile: Profile,
    pub rules: TransitionRules,
    /// Idle period after which a trâmite in 1–4 is cancelled automatically (situação 10).
    pub auto_cancel_after: Duration,
    /// Answer every business error with HTTP 500, as production does.
    pub business_errors_as_500: bool,
    pub missing_nre: MissingNre,
    pub receipt_date: ReceiptDate,
    /// When set, the recibo's date must lie within this distance of the last download and now.
    pub receipt_date_window: Option<Duration>,
    pub timestamp_format: TimestampFormat,
    /// Accept `motivoDaUrgencia: true` (the SEI module's bug) instead of a code.
    pub accept_boolean_urgency_motive: bool,
    pub policies: Policies,
    pub limits: Limits,
    /// Entries the journal keeps before dropping the oldest.
    pub journal_capacity: usize,
}

impl PlatformConfig {
    /// The defaults of a profile.
    #[must_use]
    pub fn for_profile(profile: Profile) -> Self {
        let strict = PlatformConfig {
            profile,
            rules: TransitionRules::strict(),
            auto_cancel_after: Duration::from_secs(8 * 24 * 3600),
            business_errors_as_500: false,
            missing_nre: MissingNre::IssueNew,
            receipt_date: ReceiptDate::AsSentOrUtc,
            receipt_date_window: None,
            timestamp_format: TimestampFormat::Iso8601,
            accept_boolean_urgency_motive: false,
            policies: Policies::default(),
            limits: Limits::default(),
            journal_capacity: crate::journal::DEFAULT_CAPACITY,
        };
        match profile {
            Profile::Strict => strict,
            Profile::Compat => PlatformConfig {
                rules: TransitionRules::compat(),
                business_errors_as_500: true,
                accept_boolean_urgency_motive: true,
                ..strict
            },
        }
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig::for_profile(Profile::Strict)
    }
}
