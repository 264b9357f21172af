//! What [`Defect`](super::Defect) and [`Quirk`](super::Quirk) share: a fixed list of kebab-case
//! names, each with one line of Portuguese, read back from the name and listed by
//! `--defect help` / `--quirk help`.

/// A closed list of named behaviours.
pub(crate) trait Named: Copy + 'static {
    const LIST: &'static [Self];
    fn name(self) -> &'static str;
    fn description(self) -> &'static str;
}

/// The `help` text: a title line, then one line per name.
pub(crate) fn help<T: Named>(title: &str) -> String {
    let mut out = format!("{title}\n");
    for item in T::LIST {
        out.push_str(&format!("  {:<26}{}\n", item.name(), item.description()));
    }
    out
}

/// The item with this name.
pub(crate) fn parse<T: Named>(text: &str) -> Option<T> {
    T::LIST.iter().copied().find(|item| item.name() == text)
}
