//! The endpoint catalogue's reference reads: repositórios de estruturas, one structure, and the
//! structure search (`rest-v3.md` §2.1). Registry reads only: no trâmite state, no clock.

use pen_protocol::api::{Estrutura, EstruturasEncontradas, RepositorioDeEstruturas};
use pen_protocol::error::ErrorKind;
use pen_protocol::model::EstruturaOrganizacional;

use super::{err, Platform, Result, Store};

/// Structure search parameters (`rest-v3.md` §2.1.3).
#[derive(Debug, Clone, Default)]
pub struct StructureQuery {
    pub apenas_ativas: bool,
    pub raiz: Option<String>,
    pub sigla: Option<String>,
    pub nome: Option<String>,
    pub registro_inicial: Option<u64>,
    pub quantidade_de_registros: Option<u64>,
    pub permite_recebimento: bool,
    /// Only units some registered system can send from.
    pub permite_envio: bool,
}

impl<S: Store> Platform<S> {
    #[must_use]
    pub fn repositorios(&self, only_active: bool) -> Vec<RepositorioDeEstruturas> {
        self.registry(|r| {
            r.repositorios()
                .iter()
                .filter(|x| !only_active || x.ativo)
                .cloned()
                .collect()
        })
    }

    /// # Errors
    /// `0055` when the unit is not in that repository.
    pub fn estrutura(&self, repositorio: u64, id: &str) -> Result<Estrutura> {
        self.registry(|r| {
            let reference = EstruturaOrganizacional::new(repositorio, id);
            r.structure(&reference)
                .map(|e| r.directory.wire_view(e))
                .ok_or_else(|| {
                    err(
                        ErrorKind::EstruturaNaoEncontrada,
                        &[("estrutura", id), ("repositorio", &repositorio.to_string())],
                    )
                })
        })
    }

    #[must_use]
    pub fn estruturas(&self, repositorio: u64, q: &StructureQuery) -> EstruturasEncontradas {
        self.registry(|r| {
            let matches: Vec<_> = r
                .directory
                .estruturas
                .iter()
                .filter(|e| e.identificacao_do_repositorio_de_estruturas == repositorio)
                .filter(|e| !q.apenas_ativas || e.ativo)
                .filter(|e| !q.permite_recebimento || e.apto_para_receber_tramites)
                .filter(|e| !q.permite_envio || r.owner_of(&e.reference()).is_some())
                .filter(|e| {
                    q.sigla
                        .as_ref()
                        .is_none_or(|s| lower_accents(&e.sigla).contains(&lower_accents(s)))
                })
                .filter(|e| {
                    q.nome
                        .as_ref()
                        .is_none_or(|n| lower_accents(&e.nome).contains(&lower_accents(n)))
                })
                .filter(|e| {
                    q.raiz.as_ref().is_none_or(|raiz| {
                        r.directory
                            .ancestors(e)
                            .iter()
                            .any(|a| &a.numero_de_identificacao_da_estrutura == raiz)
                    })
                })
                .collect();
            let page = q
                .quantidade_de_registros
                .unwrap_or(self.config.limits.default_page)
                .min(self.config.limits.max_page);
            let skip = usize::try_from(q.registro_inicial.unwrap_or(0)).unwrap_or(usize::MAX);
            EstruturasEncontradas {
                total_de_registros: matches.len() as u64,
                estruturas: matches
                    .iter()
                    .skip(skip)
                    .take(usize::try_from(page).unwrap_or(usize::MAX))
                    .map(|e| r.directory.wire_view(e))
                    .collect(),
            }
        })
    }
}

fn lower_accents(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::{fixture, refused};

    fn siglas(found: &EstruturasEncontradas) -> Vec<&str> {
        found.estruturas.iter().map(|e| e.sigla.as_str()).collect()
    }

    #[test]
    fn the_search_ignores_accents_and_case_and_counts_before_paging() {
        let f = fixture();
        let query = StructureQuery {
            nome: Some("ORGAO".to_owned()),
            ..StructureQuery::default()
        };
        let all = f.platform.estruturas(1, &query);
        assert_eq!(all.total_de_registros, 2);
        assert_eq!(siglas(&all), ["ORGABC", "ORGXYZ"]);

        let second = StructureQuery {
            registro_inicial: Some(1),
            quantidade_de_registros: Some(1),
            ..query
        };
        let page = f.platform.estruturas(1, &second);
        assert_eq!(page.total_de_registros, 2, "the total is before paging");
        assert_eq!(siglas(&page), ["ORGXYZ"]);
    }

    #[test]
    fn only_units_a_registered_system_answers_for_can_send() {
        let f = fixture();
        let query = StructureQuery {
            sigla: Some("msi".to_owned()),
            ..StructureQuery::default()
        };
        assert_eq!(siglas(&f.platform.estruturas(1, &query)), ["MSI"]);
        let senders = StructureQuery {
            permite_envio: true,
            ..query
        };
        assert!(f.platform.estruturas(1, &senders).estruturas.is_empty());
    }

    #[test]
    fn an_unknown_unit_is_0055() {
        let f = fixture();
        assert_eq!(f.platform.estrutura(1, "152254").unwrap().sigla, "ORGABC");
        assert_eq!(
            refused(f.platform.estrutura(5, "152254")),
            ErrorKind::EstruturaNaoEncontrada
        );
    }
}
