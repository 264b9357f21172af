use proptest::prelude::*;

use pen_protocol::situacao::{
    transition, Actor, Event, Situacao, TransitionError, TransitionRules,
};

/// One character per situação 0..=10: the target code (`A` for 10), `-` not allowed in that
/// situação, `x` the actor may never cause the event.
fn row(rules: &TransitionRules, event: Event, actor: Actor) -> String {
    Situacao::ALL
        .iter()
        .map(|&from| match transition(rules, from, actor, event) {
            Ok(t) => char::from_digit(u32::from(t.to.code()), 11)
                .unwrap()
                .to_ascii_uppercase(),
            Err(TransitionError::NotAllowed { .. }) => '-',
            Err(TransitionError::WrongActor { .. }) => 'x',
        })
        .collect()
}

fn table(rules: &TransitionRules) -> String {
    let mut out = String::new();
    for event in Event::ALL {
        for actor in [Actor::Sender, Actor::Recipient, Actor::Platform] {
            out.push_str(&format!(
                "{:<20} {:<9} {}\n",
                format!("{event:?}"),
                format!("{actor:?}"),
                row(rules, event, actor)
            ));
        }
    }
    out
}

/// Every (situação, actor, event) of the default (`strict`) rules. Columns are situações 0..=10
/// (`rest-v3.md` §4.2, §4.3).
const STRICT: &str = "\
Open                 Sender    1----------
Open                 Recipient xxxxxxxxxxx
Open                 Platform  xxxxxxxxxxx
ComponentsUploaded   Sender    -2---------
ComponentsUploaded   Recipient xxxxxxxxxxx
ComponentsUploaded   Platform  -2---------
MetadataRead         Sender    -123456789A
MetadataRead         Recipient --334567--A
MetadataRead         Platform  xxxxxxxxxxx
ComponentsDownloaded Sender    xxxxxxxxxxx
ComponentsDownloaded Recipient --444------
ComponentsDownloaded Platform  xxxxxxxxxxx
ReceiptPosted        Sender    xxxxxxxxxxx
ReceiptPosted        Recipient ----5------
ReceiptPosted        Platform  xxxxxxxxxxx
ReceiptFetched       Sender    -----66----
ReceiptFetched       Recipient xxxxxxxxxxx
ReceiptFetched       Platform  xxxxxxxxxxx
Cancel               Sender    -7777------
Cancel               Recipient xxxxxxxxxxx
Cancel               Platform  xxxxxxxxxxx
Refuse               Sender    xxxxxxxxxxx
Refuse               Recipient --888------
Refuse               Platform  xxxxxxxxxxx
AcknowledgeRefusal   Sender    --------9--
AcknowledgeRefusal   Recipient xxxxxxxxxxx
AcknowledgeRefusal   Platform  xxxxxxxxxxx
AutoCancel           Sender    xxxxxxxxxxx
AutoCancel           Recipient xxxxxxxxxxx
AutoCancel           Platform  -AAAA------
";

#[test]
fn strict_transition_table() {
    assert_eq!(table(&TransitionRules::strict()), STRICT);
    assert_eq!(TransitionRules::default(), TransitionRules::strict());
}

/// `compat` differs in one cell: the sender's metadata read at 2 moves to 3, as the real
/// platform does (SEI module PRs #1034, #1155).
#[test]
fn compat_differs_only_in_the_sender_metadata_read() {
    let expected = STRICT.replace(
        "MetadataRead         Sender    -123456789A",
        "MetadataRead         Sender    -133456789A",
    );
    assert_eq!(table(&TransitionRules::compat()), expected);
}

#[test]
fn narrower_windows_for_cancel_and_refusal() {
    let rules = TransitionRules {
        refuse_at_2: false,
        cancel_until: Situacao::ComponentesEnviadosRemetente,
        ..TransitionRules::strict()
    };
    let expected = STRICT
        .replace(
            "Cancel               Sender    -7777------",
            "Cancel               Sender    -77--------",
        )
        .replace(
            "Refuse               Recipient --888------",
            "Refuse               Recipient ---88------",
        );
    assert_eq!(table(&rules), expected);
}

#[test]
fn codes_descriptions_and_serde() {
    for (i, s) in Situacao::ALL.iter().enumerate() {
        assert_eq!(usize::from(s.code()), i);
        assert_eq!(Situacao::from_code(i as u64), Some(*s));
    }
    assert_eq!(Situacao::from_code(11), None);
    assert_eq!(
        Situacao::Recusado.descricao(),
        "Trâmite recusado. Aguardando ciência do remetente"
    );
    assert_eq!(
        Situacao::CienciaRecusa.descricao(),
        "Ciência da recusa recebido pelo remetente"
    );
    let s: Situacao = serde_json::from_str("\"5\"").unwrap();
    assert_eq!(s, Situacao::ReciboEnviadoDestinatario);
    assert!(serde_json::from_str::<Situacao>("11").is_err());
    let terminal: Vec<u8> = Situacao::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.code())
        .collect();
    assert_eq!(terminal, [6, 7, 9, 10]);
}

#[test]
fn pending_feed_owner_per_situacao() {
    let owners: Vec<Option<Actor>> = Situacao::ALL.iter().map(|s| s.pending_for()).collect();
    use Actor::{Recipient as R, Sender as S};
    assert_eq!(
        owners,
        [
            None,
            None,
            Some(R),
            Some(R),
            Some(R),
            Some(S),
            None,
            None,
            Some(S),
            None,
            None
        ]
    );
}

fn any_rules() -> impl Strategy<Value = TransitionRules> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(Situacao::ComponentesEnviadosRemetente),
            Just(Situacao::ComponentesRecebidosDestinatario)
        ],
    )
        .prop_map(
            |(sender_metadata_read_advances, refuse_at_2, cancel_until)| TransitionRules {
                sender_metadata_read_advances,
                refuse_at_2,
                cancel_until,
            },
        )
}

fn any_step() -> impl Strategy<Value = (Actor, Event)> {
    (
        prop_oneof![
            Just(Actor::Sender),
            Just(Actor::Recipient),
            Just(Actor::Platform)
        ],
        proptest::sample::select(Event::ALL.to_vec()),
    )
}

proptest! {
    /// Whatever happens, a trâmite never moves backwards and never leaves a terminal situação.
    #[test]
    fn monotonic_and_terminal_states_absorb(rules in any_rules(), steps in proptest::collection::vec(any_step(), 0..40)) {
        let mut state = Situacao::NaoIniciado;
        for (actor, event) in steps {
            if let Ok(t) = transition(&rules, state, actor, event) {
                prop_assert_eq!(t.from, state);
                prop_assert!(t.to >= state, "{:?} went back to {:?}", state, t.to);
                if state.is_terminal() {
                    prop_assert_eq!(t.to, state, "terminal {:?} changed by {:?}", state, event);
                }
                state = t.to;
            }
        }
    }

    /// An error never depends on anything but (rules, situação, actor, event): calling twice agrees,
    /// and a wrong actor is wrong in every situação.
    #[test]
    fn wrong_actor_is_independent_of_the_situacao(rules in any_rules(), (actor, event) in any_step()) {
        let wrong: Vec<bool> = Situacao::ALL
            .iter()
            .map(|&s| matches!(transition(&rules, s, actor, event), Err(TransitionError::WrongActor { .. })))
            .collect();
        prop_assert!(wrong.iter().all(|&w| w) || wrong.iter().all(|&w| !w));
        prop_assert_eq!(wrong[0], !event.allowed_actors().contains(&actor));
    }
}
