use proptest::prelude::*;

use pen_protocol::hash::{hash_bytes, hash_reader, ComponentHash, ComponentHasher};
use pen_protocol::ids::{Idt, Nre};
use pen_protocol::receipt::{
    self, ReceiptError, ReceiptSigner, ReciboDeConclusao, ReciboDeEnvioTexto,
};

/// The worked test vector of `model-receipts-soap.md` §3.3.
const VECTOR: &str = "<recibo><IDT>1234567</IDT><NRE>0000025656262025</NRE><dataDeRecebimento>2025-06-01T13:00:00.000Z</dataDeRecebimento><hashDoComponenteDigital>D152rc5pJT2JOJqB5Qv9GvmEuZ15uyQz6sv1DpKiLBY=</hashDoComponenteDigital><hashDoComponenteDigital>jZae727K08KaOmKSgOaGzww/XVqGr/PKEgIMkjrcbJI=</hashDoComponenteDigital><hashDoComponenteDigital>ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=</hashDoComponenteDigital></recibo>";

fn certs() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs")
}

fn org_a() -> (ReceiptSigner, Vec<u8>) {
    let pem = std::fs::read(certs().join("orgs/org-a/identity.pem")).unwrap();
    let signer = ReceiptSigner::from_pem(&pem).unwrap();
    let cert_pem = std::fs::read(certs().join("orgs/org-a/cert.pem")).unwrap();
    use rustls_pki_types::pem::PemObject;
    let cert = rustls_pki_types::CertificateDer::from_pem_slice(&cert_pem).unwrap();
    (signer, cert.to_vec())
}

fn vector_receipt() -> ReciboDeConclusao {
    // Given in an order the text must not keep.
    ReciboDeConclusao {
        idt: Idt(1_234_567),
        nre: Nre::parse("0000025656262025").unwrap(),
        data_de_recebimento: "2025-06-01T13:00:00.000Z".to_owned(),
        hashes: vec![
            hash_bytes(b"abc").to_base64(),
            hash_bytes(b"[documento cancelado]").to_base64(),
            hash_bytes(b"123456").to_base64(),
        ],
    }
}

#[test]
fn component_hashes_of_the_vector() {
    assert_eq!(
        hash_bytes(b"[documento cancelado]").to_base64(),
        "D152rc5pJT2JOJqB5Qv9GvmEuZ15uyQz6sv1DpKiLBY="
    );
    assert_eq!(
        hash_bytes(b"123456").to_base64(),
        "jZae727K08KaOmKSgOaGzww/XVqGr/PKEgIMkjrcbJI="
    );
    assert_eq!(
        hash_bytes(b"abc").to_base64(),
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    );
}

#[test]
fn worked_test_vector_byte_for_byte() {
    let text = vector_receipt().canonical_text();
    assert_eq!(text, VECTOR);
    assert_eq!(text.len(), 410);
    assert_eq!(
        hash_bytes(text.as_bytes()).to_base64(),
        "m59uM5js6GkRjQRDfArwo0RuosfnpNCQr7XA+gAc4fA="
    );
    assert_eq!(
        ReciboDeConclusao::parse(VECTOR).unwrap().canonical_text(),
        VECTOR
    );
}

/// A recibo text from production use, kept by SUAP (`model-receipts-soap.md` §3.3).
#[test]
fn production_receipt_text_rebuilds() {
    let suap = "<recibo><IDT>5235</IDT><NRE>0000004385642018</NRE><dataDeRecebimento>2018-07-31T18:42:59.000Z</dataDeRecebimento><hashDoComponenteDigital>CUNN8SQz6cQHMSkEr2U+DprySgUUzqXtDN3tWXI72ec=</hashDoComponenteDigital></recibo>";
    let parsed = ReciboDeConclusao::parse(suap).unwrap();
    assert_eq!(parsed.idt, Idt(5235));
    assert_eq!(parsed.canonical_text(), suap);
}

#[test]
fn recibo_de_envio_text() {
    let r = ReciboDeEnvioTexto {
        idt: Idt(1),
        nre: Nre::parse("0000000001342016").unwrap(),
        data_do_ultimo_componente: Some("2016-11-14T17:27:38.159-02:00".into()),
        hashes: vec!["b".into(), "A".into()],
    };
    assert_eq!(
        r.canonical_text(),
        "<reciboDeEnvio><IDT>1</IDT><NRE>0000000001342016</NRE><dataDeRecebimentoDoUltimoComponenteDigital>2016-11-14T17:27:38.159-02:00</dataDeRecebimentoDoUltimoComponenteDigital><hashDoComponenteDigital>A</hashDoComponenteDigital><hashDoComponenteDigital>b</hashDoComponenteDigital></reciboDeEnvio>"
    );
    assert_eq!(
        ReciboDeEnvioTexto::parse(&r.canonical_text())
            .unwrap()
            .canonical_text(),
        r.canonical_text()
    );
}

#[test]
fn zero_hash_receipt_is_valid() {
    let r = ReciboDeConclusao {
        hashes: vec![],
        ..vector_receipt()
    };
    assert_eq!(
        r.canonical_text(),
        "<recibo><IDT>1234567</IDT><NRE>0000025656262025</NRE><dataDeRecebimento>2025-06-01T13:00:00.000Z</dataDeRecebimento></recibo>"
    );
    let (signer, cert) = org_a();
    let signature = r.sign(&signer).unwrap();
    r.verify(&cert, &signature).unwrap();
}

#[test]
fn sign_and_verify_with_the_org_certificate() {
    let (signer, cert) = org_a();
    let r = vector_receipt();
    let signature = r.sign(&signer).unwrap();
    assert_eq!(
        signature.len(),
        344,
        "RSA-2048 signatures are 344 base64 characters"
    );
    r.verify(&cert, &signature).unwrap();
    receipt::verify(&cert, VECTOR, &signature).unwrap();
}

/// The harness vectors of `model-receipts-soap.md` §3.9: each variation of the text must fail.
#[test]
fn any_other_text_fails_verification() {
    let (signer, cert) = org_a();
    let r = vector_receipt();
    let hashes = receipt::sorted_hashes(&r.hashes);
    let unsorted = VECTOR
        .replace(&hashes[0], "TMP")
        .replace(&hashes[2], &hashes[0])
        .replace("TMP", &hashes[2]);
    let variations = [
        unsorted,
        VECTOR.replace("><", ">\n<"),
        VECTOR.replace(
            "<recibo>",
            "<recibo xmlns=\"http://pen.planejamento.gov.br/interoperabilidade/recibo\">",
        ),
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{VECTOR}"),
        VECTOR.replace("2025-06-01T13:00:00.000Z", "2025-06-01T10:00:00.000-03:00"),
    ];
    for text in variations {
        let signature = signer.sign(&text).unwrap();
        assert!(
            matches!(r.verify(&cert, &signature), Err(ReceiptError::BadSignature)),
            "{text}"
        );
    }
    assert!(matches!(
        r.verify(&cert, "not base64!"),
        Err(ReceiptError::SignatureEncoding)
    ));
    let other = std::fs::read(certs().join("orgs/org-b/identity.pem")).unwrap();
    let signature = r.sign(&ReceiptSigner::from_pem(&other).unwrap()).unwrap();
    assert!(
        matches!(r.verify(&cert, &signature), Err(ReceiptError::BadSignature)),
        "signed by another organisation"
    );
}

/// Strict verification re-renders the posted date as UTC `.mmmZ`.
#[test]
fn canonical_date_for_strict_verification() {
    let r = ReciboDeConclusao {
        data_de_recebimento: "2025-06-01T10:00:00-03:00".into(),
        ..vector_receipt()
    };
    assert_eq!(r.with_canonical_date().unwrap().canonical_text(), VECTOR);
    let bad = ReciboDeConclusao {
        data_de_recebimento: "ontem".into(),
        ..vector_receipt()
    };
    assert!(matches!(
        bad.with_canonical_date(),
        Err(ReceiptError::Date(_))
    ));
}

#[test]
fn streaming_hash_equals_one_shot() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut hasher = ComponentHasher::new();
    for chunk in data.chunks(7_919) {
        hasher.update(chunk);
    }
    assert_eq!(hasher.len(), 300_000);
    let streamed = hasher.finish();
    assert_eq!(streamed, hash_bytes(&data));
    assert_eq!(hash_reader(&data[..]).unwrap(), (streamed, 300_000));
    assert_eq!(
        ComponentHash::from_base64(&streamed.to_base64()).unwrap(),
        streamed
    );
    assert!(
        ComponentHash::from_base64("AAAA").is_err(),
        "3 bytes is not a SHA-256"
    );
    assert!(ComponentHash::from_base64("not base64").is_err());
}

fn any_hash() -> impl Strategy<Value = String> {
    any::<[u8; 32]>().prop_map(|b| ComponentHash::from_digest(b).to_base64())
}

proptest! {
    /// build → parse → build is the identity, and the text always lists hashes sorted.
    #[test]
    fn receipt_text_round_trip(
        idt in any::<u64>(),
        nre in "[0-9]{16}",
        date in "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{3}(Z|[+-][01][0-9]:[0-5][0-9])",
        hashes in proptest::collection::vec(any_hash(), 0..6),
    ) {
        let r = ReciboDeConclusao { idt: Idt(idt), nre: Nre::parse(&nre).unwrap(), data_de_recebimento: date, hashes };
        let text = r.canonical_text();
        let parsed = ReciboDeConclusao::parse(&text).unwrap();
        prop_assert_eq!(parsed.canonical_text(), text.clone());
        let mut sorted = parsed.hashes.clone();
        sorted.sort();
        prop_assert_eq!(&parsed.hashes, &sorted);
        prop_assert!(!text.contains(char::is_whitespace));

        let e = ReciboDeEnvioTexto { idt: r.idt, nre: r.nre.clone(), data_do_ultimo_componente: Some(r.data_de_recebimento.clone()), hashes: r.hashes.clone() };
        prop_assert_eq!(ReciboDeEnvioTexto::parse(&e.canonical_text()).unwrap().canonical_text(), e.canonical_text());
    }

    #[test]
    fn receipt_parser_never_panics(text in "\\PC{0,200}") {
        let _ = ReciboDeConclusao::parse(&text);
        let _ = ReciboDeEnvioTexto::parse(&text);
    }
}
