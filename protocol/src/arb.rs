//! Test-only proptest strategies for the types whose invariants a derive cannot see.

use proptest::prelude::*;

use crate::ids::{Idt, Nre, Ticket};

/// Collections stay small so that nested metadata (documents × components × signatures) keeps
/// each generated case cheap.
/// Boxed, because the derived strategies of nested metadata are deep enough to overflow a test
/// thread's stack when they sit inline.
pub(crate) fn small_vec<T: Arbitrary + 'static>() -> BoxedStrategy<Vec<T>> {
    proptest::collection::vec(any::<T>(), 0..3).boxed()
}

pub(crate) fn boxed<T: Arbitrary + 'static>() -> BoxedStrategy<T> {
    any::<T>().boxed()
}

impl Arbitrary for Idt {
    type Parameters = ();
    type Strategy = BoxedStrategy<Idt>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        any::<u64>().prop_map(Idt).boxed()
    }
}

impl Arbitrary for Ticket {
    type Parameters = ();
    type Strategy = BoxedStrategy<Ticket>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        any::<u64>().prop_map(Ticket).boxed()
    }
}

impl Arbitrary for Nre {
    type Parameters = ();
    type Strategy = BoxedStrategy<Nre>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        "[0-9]{16}"
            .prop_map(|s| Nre::parse(&s).expect("16 digits"))
            .boxed()
    }
}

/// Property: every value survives JSON serialisation and deserialisation unchanged.
macro_rules! json_round_trip {
    ($($name:ident: $ty:ty),* $(,)?) => {
        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
            $(
                #[test]
                fn $name(value in proptest::prelude::any::<$ty>()) {
                    let json = serde_json::to_string(&value).expect("serialises");
                    let back: $ty = serde_json::from_str(&json).expect(&json);
                    proptest::prop_assert_eq!(back, value);
                }
            )*
        }
    };
}
pub(crate) use json_round_trip;
