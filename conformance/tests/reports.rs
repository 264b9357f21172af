//! The report formats over a hand-made run with one scenario of each verdict (texts with accents,
//! `<`, `&` and quotes): JUnit parses and counts right, JSON round-trips, the HTML page is escaped
//! and self-contained, `write_all` writes whole files, and the example CI pipelines parse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pen_conformance::report::{self, console, html, json, junit};
use pen_conformance::verdict::{RunReport, ScenarioResult, Side, StepLog, Verdict};
use quick_xml::events::Event;
use quick_xml::XmlVersion;

fn step(description: &str, ok: bool, duration_ms: u64) -> StepLog {
    StepLog {
        description: description.to_owned(),
        ok,
        duration_ms,
    }
}

/// One scenario of each verdict over two families, with texts that need escaping.
fn sample() -> RunReport {
    RunReport {
        suite_version: "0.1.0+cenários-a1b2c3".to_owned(),
        target: "reference --mutant forget-nre".to_owned(),
        seed: 20_250_101,
        started_at: "2025-01-01T12:00:00Z".to_owned(),
        duration_ms: 12_345,
        results: vec![
            ScenarioResult {
                id: "recebe-processo".to_owned(),
                title: "Recebe um processo e assina o recibo de conclusão".to_owned(),
                family: "recebimento".to_owned(),
                side: Side::Recipient,
                spec: "rest-v3.md §5.1".to_owned(),
                verdict: Verdict::Pass,
                duration_ms: 850,
                steps: vec![
                    step("injeta trâmite de org-b para o SUT", true, 120),
                    step("espera o recibo de conclusão", true, 730),
                ],
            },
            ScenarioResult {
                id: "reusa-nre".to_owned(),
                title: "Devolve o processo com o mesmo NRE <sempre> & sem hash novo".to_owned(),
                family: "nre".to_owned(),
                side: Side::Both,
                spec: "model-receipts-soap.md P6".to_owned(),
                verdict: Verdict::Fail {
                    step: "espera a devolução com NRE \"0000025656262025\"".to_owned(),
                    expected: "nre = 0000025656262025 & hashes iguais".to_owned(),
                    observed: "nre ausente (<none>) — um NRE novo foi gerado".to_owned(),
                    evidence: vec![
                        "12:00:01.200 org-a POST tramites/processo → 200 {\"nre\":null}".to_owned(),
                        "12:00:01.250 estado IDT 42: 1 → 2 <script>alert(1)</script>".to_owned(),
                    ],
                    hint: "Reenvio de processo usa o NRE recebido (regra P6, \"Inconsistência…\")"
                        .to_owned(),
                },
                duration_ms: 2_100,
                steps: vec![step("devolve o processo", false, 2_100)],
            },
            ScenarioResult {
                id: "envia-documento-avulso".to_owned(),
                title: "Envia um documento avulso".to_owned(),
                family: "envio".to_owned(),
                side: Side::Sender,
                spec: "rest-v3.md §2.2".to_owned(),
                verdict: Verdict::Skipped {
                    reason: "o alvo não tem gatilho <trigger> para envios & devoluções".to_owned(),
                },
                duration_ms: 0,
                steps: vec![],
            },
            ScenarioResult {
                id: "cancela-automático".to_owned(),
                title: "Cancelamento automático após 8 dias".to_owned(),
                family: "recebimento".to_owned(),
                side: Side::Recipient,
                spec: "rest-v3.md §7".to_owned(),
                verdict: Verdict::Error {
                    step: Some("avança o relógio 8 dias".to_owned()),
                    message: "plano de controle recusou: 503 <sem serviço> & tente de novo"
                        .to_owned(),
                },
                duration_ms: 40,
                steps: vec![step("avança o relógio 8 dias", false, 40)],
            },
        ],
    }
}

/// A parsed XML element: name, attributes (unescaped), text content (unescaped), children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.all(name, out);
        }
    }

    fn find_all(&self, name: &str) -> Vec<&Element> {
        let mut out = Vec::new();
        self.all(name, &mut out);
        out
    }
}

/// Parses a whole XML document with quick-xml (end names checked), failing on any error.
fn parse_xml(text: &str) -> Element {
    fn element(e: &quick_xml::events::BytesStart<'_>) -> Element {
        let mut el = Element {
            name: e.name().as_ref().to_owned(),
            ..Element::default()
        };
        for attr in e.attributes() {
            let attr = attr.unwrap();
            let key = attr.key.as_ref().to_owned();
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .unwrap()
                .into_owned();
            el.attrs.insert(key, value);
        }
        el
    }

    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let el = element(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(el);
            }
            Event::Text(t) => stack.last_mut().unwrap().text += &t.xml10_content(),
            Event::CData(c) => {
                stack.last_mut().unwrap().text += &c.into_inner();
            }
            Event::GeneralRef(r) => {
                let entity = format!("&{};", r.xml10_content());
                stack.last_mut().unwrap().text += &quick_xml::escape::unescape(&entity).unwrap();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().unwrap()
}

#[test]
fn junit_parses_with_the_right_counts_and_texts() {
    let report = sample();
    let xml = junit::render(&report).unwrap();
    let root = parse_xml(&xml);

    assert_eq!(root.name, "testsuites");
    assert_eq!(root.attrs["name"], "pen-conformance");
    assert_eq!(root.attrs["tests"], "4");
    assert_eq!(root.attrs["failures"], "1");
    assert_eq!(root.attrs["errors"], "1");
    assert_eq!(root.attrs["skipped"], "1");

    // One suite per family, in run order, each with the run's properties.
    let suites = root.find_all("testsuite");
    let names: Vec<&str> = suites.iter().map(|s| s.attrs["name"].as_str()).collect();
    assert_eq!(names, ["recebimento", "nre", "envio"]);
    for suite in &suites {
        let props: BTreeMap<&str, &str> = suite
            .find_all("property")
            .iter()
            .map(|p| (p.attrs["name"].as_str(), p.attrs["value"].as_str()))
            .collect();
        assert_eq!(props["suite_version"], "0.1.0+cenários-a1b2c3");
        assert_eq!(props["target"], "reference --mutant forget-nre");
        assert_eq!(props["seed"], "20250101");
    }
    assert_eq!(suites[0].attrs["tests"], "2");
    assert_eq!(suites[0].attrs["errors"], "1");

    let cases = root.find_all("testcase");
    assert_eq!(cases.len(), 4);
    assert_eq!(root.find_all("failure").len(), 1);
    assert_eq!(root.find_all("error").len(), 1);
    assert_eq!(root.find_all("skipped").len(), 1);

    let failed = cases
        .iter()
        .find(|c| c.attrs["name"].starts_with("reusa-nre"))
        .unwrap();
    assert_eq!(
        failed.attrs["name"],
        "reusa-nre — Devolve o processo com o mesmo NRE <sempre> & sem hash novo"
    );
    assert_eq!(failed.attrs["classname"], "nre");
    assert_eq!(failed.attrs["time"], "2.100");
    let failure = &failed.find_all("failure")[0];
    assert_eq!(
        failure.attrs["message"],
        "esperado: nre = 0000025656262025 & hashes iguais / \
         observado: nre ausente (<none>) — um NRE novo foi gerado"
    );
    assert!(failure
        .text
        .contains("regra: Reenvio de processo usa o NRE recebido"));
    assert!(failure.text.contains("<script>alert(1)</script>"));
    assert!(failure.text.contains("{\"nre\":null}"));

    let skipped = &root.find_all("skipped")[0];
    assert_eq!(
        skipped.attrs["message"],
        "o alvo não tem gatilho <trigger> para envios & devoluções"
    );
    let error = &root.find_all("error")[0];
    assert_eq!(
        error.attrs["message"],
        "plano de controle recusou: 503 <sem serviço> & tente de novo"
    );
    assert!(error.text.contains("passo: avança o relógio 8 dias"));

    // Raw text is escaped, never passed through.
    assert!(!xml.contains("<script>"));
    assert!(!xml.contains("<none>"));
}

#[test]
fn junit_of_an_empty_run_still_carries_the_suite_version() {
    let mut report = sample();
    report.results.clear();
    let root = parse_xml(&junit::render(&report).unwrap());
    assert_eq!(root.attrs["tests"], "0");
    let props = root.find_all("property");
    assert!(
        props
            .iter()
            .any(|p| p.attrs["name"] == "suite_version"
                && p.attrs["value"] == "0.1.0+cenários-a1b2c3")
    );
}

#[test]
fn json_round_trips_and_has_totals_and_exit_code() {
    let report = sample();
    let text = json::render(&report).unwrap();

    let back: RunReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);

    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["exit_code"], 2);
    assert_eq!(value["suite_version"], "0.1.0+cenários-a1b2c3");
    assert_eq!(value["seed"], 20_250_101);
    assert_eq!(
        value["totals"],
        serde_json::json!({"passed": 1, "failed": 1, "skipped": 1, "errors": 1})
    );
    assert_eq!(value["results"][1]["verdict"]["verdict"], "fail");
    // Members in reading order: the summary before the long results.
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(keys.contains(&"exit_code") && keys.contains(&"totals"));
    let pos = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(pos("suite_version") < pos("totals"));
    assert!(pos("exit_code") < pos("results"));
}

#[test]
fn html_is_escaped_complete_and_self_contained() {
    let report = sample();
    let page = html::render(&report);

    assert!(page.starts_with("<!DOCTYPE html>"));
    for r in &report.results {
        assert!(page.contains(&r.id), "missing scenario {}", r.id);
    }
    // Every text is escaped.
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script"));
    assert!(page.contains("NRE &lt;sempre&gt; &amp; sem hash novo"));
    assert!(!page.contains("<none>") && !page.contains("<sempre>") && !page.contains("<trigger>"));
    // Header, sides, verdicts and details.
    assert!(page.contains("0.1.0+cenários-a1b2c3"));
    assert!(page.contains("20250101"));
    assert!(page.contains("2025-01-01T12:00:00Z"));
    assert!(page.contains("destinatário") && page.contains("remetente") && page.contains("ambos"));
    assert!(page.contains("model-receipts-soap.md P6"));
    assert!(page.contains("Reenvio de processo usa o NRE recebido"));
    assert!(page.contains("o alvo não tem gatilho &lt;trigger&gt; para envios &amp; devoluções"));
    assert!(page.contains("503 &lt;sem serviço&gt; &amp; tente de novo"));
    // Self-contained: no link out, no external asset, no script.
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(!page.contains("<link") && !page.contains("src="));
}

#[test]
fn console_lines_show_verdict_and_details() {
    let report = sample();
    let failed = console::render_result(&report.results[1], false);
    let mut lines = failed.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("✘ fail"), "{first}");
    assert!(first.contains("reusa-nre") && first.contains("(2.1 s)"));
    let rest: Vec<&str> = lines.collect();
    assert!(rest.iter().all(|l| l.starts_with("      ")));
    assert!(rest
        .iter()
        .any(|l| l.contains("esperado:") && l.contains("0000025656262025")));
    assert!(rest.iter().any(|l| l.contains("observado:")));
    assert!(rest.iter().any(|l| l.contains("regra:")));

    assert!(console::render_result(&report.results[0], false).starts_with("✔ pass"));
    assert!(console::render_result(&report.results[2], false).starts_with("↷ skipped"));
    assert!(console::render_result(&report.results[3], false).starts_with("! error"));
    assert!(!failed.contains('\x1b'));
    assert!(console::render_result(&report.results[1], true).contains('\x1b'));

    let summary = console::render_summary(&report, false);
    assert!(summary.contains("1 aprovados, 1 falhas, 1 ignorados, 1 erros"));
    assert!(summary.contains("0.1.0+cenários-a1b2c3") && summary.contains("20250101"));
    assert!(summary.contains("Código de saída 2"));
}

#[test]
fn write_all_writes_the_three_files_creating_folders() {
    let dir = tempfile::tempdir().unwrap();
    let junit_path = dir.path().join("a/b/junit.xml");
    let json_path = dir.path().join("result.json");
    let html_path = dir.path().join("html/report.html");
    let report = sample();

    report::write_all(
        &report,
        Some(&junit_path),
        Some(&json_path),
        Some(&html_path),
    )
    .unwrap();

    assert_eq!(
        std::fs::read_to_string(&junit_path).unwrap(),
        junit::render(&report).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&json_path).unwrap(),
        json::render(&report).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&html_path).unwrap(),
        html::render(&report)
    );
    // Writing again replaces the files; no temporary file is left behind.
    report::write_all(&report, Some(&junit_path), None, None).unwrap();
    let files = walk(dir.path());
    assert_eq!(files.len(), 3, "{files:?}");

    // Only what was asked is written.
    let other = tempfile::tempdir().unwrap();
    report::write_all(&report, None, Some(&other.path().join("only.json")), None).unwrap();
    assert_eq!(walk(other.path()).len(), 1);
}

#[test]
fn write_all_reports_the_file_it_could_not_write() {
    let dir = tempfile::tempdir().unwrap();
    // A file where a folder is needed.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let err =
        report::write_all(&sample(), Some(&blocker.join("junit.xml")), None, None).unwrap_err();
    assert!(err.to_string().contains("blocker"), "{err}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn example_pipelines_parse_and_run_the_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/examples");
    for (file, junit_key) in [
        ("github-actions.yml", "report_paths"),
        ("gitlab-ci.yml", "junit"),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        let mut strings = Vec::new();
        yaml_strings(&doc, None, &mut strings);
        assert!(
            strings
                .iter()
                .any(|(_, s)| s.contains("pen-conformance run")
                    && s.contains("--target-config ci/examples/target.toml")
                    && s.contains("--junit reports/junit.xml")
                    && s.contains("--json reports/result.json")
                    && s.contains("--html reports/report.html")),
            "{file}: no `pen-conformance run` command with the report paths"
        );
        assert!(
            strings
                .iter()
                .any(|(k, s)| k.as_deref() == Some(junit_key) && s == "reports/junit.xml"),
            "{file}: the JUnit file is not published"
        );
        assert!(text.contains("PEN_LOCAL_GIT"), "{file}");
    }

    let github: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root.join("github-actions.yml")).unwrap())
            .unwrap();
    let steps = github["jobs"]["conformance"]["steps"]
        .as_sequence()
        .unwrap();
    let publishing: Vec<_> = steps
        .iter()
        .filter(|s| {
            s["uses"].as_str().is_some_and(|u| {
                u.starts_with("actions/upload-artifact")
                    || u.starts_with("mikepenz/action-junit-report")
            })
        })
        .collect();
    assert_eq!(publishing.len(), 2);
    assert!(publishing
        .iter()
        .all(|s| s["if"].as_str() == Some("always()")));

    let gitlab: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root.join("gitlab-ci.yml")).unwrap())
            .unwrap();
    let artifacts = &gitlab["pen-conformance"]["artifacts"];
    assert_eq!(artifacts["when"].as_str(), Some("always"));
    assert_eq!(
        artifacts["reports"]["junit"].as_str(),
        Some("reports/junit.xml")
    );
}

/// Every string scalar of a YAML document, with the mapping key it sits under.
fn yaml_strings(
    v: &serde_yaml_ng::Value,
    key: Option<&str>,
    out: &mut Vec<(Option<String>, String)>,
) {
    match v {
        serde_yaml_ng::Value::String(s) => out.push((key.map(str::to_owned), s.clone())),
        serde_yaml_ng::Value::Sequence(items) => {
            for item in items {
                yaml_strings(item, key, out);
            }
        }
        serde_yaml_ng::Value::Mapping(map) => {
            for (k, item) in map {
                yaml_strings(item, k.as_str(), out);
            }
        }
        serde_yaml_ng::Value::Tagged(tagged) => yaml_strings(&tagged.value, key, out),
        _ => {}
    }
}
