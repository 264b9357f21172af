//! Steps on the platform itself: faults, the clock, the SUT's certificate, the situação a
//! trâmite reaches by anyone's hand.

use std::collections::HashMap;

use pen_protocol::situacao::Situacao;
use pen_simulator::control::Advance;
use pen_simulator::faults::FaultSpec;
use pen_simulator::journal::JournalQuery;

use super::StepCtx;
use crate::run::evidence;
use crate::run::harness::{harness_err, lock_saved, Harness, Named, StepError, StepResult};

/// Gives the SUT's certificate back its registration.
pub(crate) async fn restore_fingerprint(harness: &Harness, fingerprint: String) {
    if let Ok(Some(mut spe)) = harness.control.spe(harness.sut_org()).await {
        spe.sha1_fingerprint = fingerprint;
        let _ = harness.control.register(&spe).await;
    }
}

impl StepCtx<'_> {
    pub(super) async fn situacao_is(
        &self,
        named: &HashMap<String, Named>,
        tramite: &str,
        code: u8,
    ) -> StepResult {
        let want = Situacao::from_code(u64::from(code))
            .ok_or_else(|| StepError::Harness(format!("situação inválida no cenário: {code}")))?;
        self.wait_for(
            named,
            tramite,
            want,
            &[],
            &format!("o trâmite chega à situação {}", evidence::situacao(want)),
            &self.scenario.spec,
        )
        .await
    }

    pub(super) async fn sut_certificate_registered(&self, registered: bool) -> StepResult {
        let h = self.h;
        let mut spe = h.control.spe(h.sut_org()).await?.ok_or_else(|| {
            StepError::Harness(format!("SPE {} não registrado", h.sut.organisation))
        })?;
        {
            let mut saved = lock_saved(&h.saved_fingerprint);
            if registered {
                if let Some(original) = saved.take() {
                    spe.sha1_fingerprint = original;
                }
            } else {
                *saved = Some(spe.sha1_fingerprint.clone());
                // Another certificate's fingerprint: the SUT's own is no one's.
                spe.sha1_fingerprint = ["00"; 20].join(":");
            }
        }
        Ok(h.control.register(&spe).await?)
    }

    pub(super) async fn sut_rejected(&self) -> StepResult {
        let h = self.h;
        let rejected = h
            .control
            .wait(
                &JournalQuery {
                    kind: Some("request".to_owned()),
                    error_code: Some("9001".to_owned()),
                    after: self.mark,
                    ..JournalQuery::default()
                },
                self.deadline
                    .saturating_duration_since(std::time::Instant::now()),
            )
            .await?;
        if rejected.is_some() {
            return Ok(());
        }
        Err(self
            .fail(
                None,
                "o SUT volta a chamar a plataforma e recebe 9001",
                format!(
                    "nenhuma chamada do SUT em {} s",
                    h.deadline(self.scenario).as_secs()
                ),
                "docs/protocol/rest-v3.md §1.3",
            )
            .await)
    }

    pub(super) async fn fault(&self, fault: &toml::Table) -> StepResult {
        let mut spec: FaultSpec = toml::Value::Table(fault.clone())
            .try_into()
            .map_err(harness_err("falha do cenário"))?;
        if spec.spe.is_none() {
            spec.spe = Some(self.h.sut.organisation.clone());
        }
        self.h.control.add_fault(&spec).await?;
        Ok(())
    }

    pub(super) async fn advance_clock(&self, days: u64) -> StepResult {
        Ok(self.h.control.advance(Advance { days, seconds: 0 }).await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scenario_fault_reads_as_the_control_planes() {
        let table: toml::Table = toml::from_str(
            "type = \"error\"\nstatus = 503\npath_contains = \"componentes-a-enviar\"",
        )
        .unwrap();
        let spec: pen_simulator::faults::FaultSpec = toml::Value::Table(table).try_into().unwrap();
        assert_eq!(spec.path_contains.as_deref(), Some("componentes-a-enviar"));
        assert_eq!(spec.times, None);
    }
}
