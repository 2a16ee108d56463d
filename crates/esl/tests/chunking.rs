//! The decoders produce the same messages however the bytes are split.

mod common;

use bytes::BytesMut;
use common::*;
use esl::{ClientCodec, ServerCodec};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

/// Feeds `data` to a fresh decoder in pieces ending at `cuts` (sorted, deduplicated).
fn decode_chunked<D: Decoder>(mut dec: D, data: &[u8], cuts: &[usize]) -> Vec<D::Item>
where
    D::Error: std::fmt::Debug,
{
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = end.min(data.len());
        if end <= start {
            continue;
        }
        buf.extend_from_slice(&data[start..end]);
        start = end;
        while let Some(item) = dec.decode(&mut buf).unwrap() {
            out.push(item);
        }
    }
    assert!(buf.is_empty());
    out
}

fn cuts_strategy(max_len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..max_len.max(1), 0..64).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

fn check_file(name: &str, cuts: &[usize]) {
    let data = read(&format!("{name}.recv"));
    let (whole, _) = decode_all(&data);
    let pieces = decode_chunked(ClientCodec::new(), &data, cuts);
    assert_eq!(pieces.len(), whole.len(), "{name}");
    assert!(pieces == whole, "{name}: frames differ with cuts {cuts:?}");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_recv_any_chunking(cuts in cuts_strategy(600_000)) {
        for name in scenarios() {
            let len = read(&format!("{name}.recv")).len();
            let scaled: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            check_file(&name, &scaled);
        }
    }

    #[test]
    fn small_file_dense_cuts(cuts in cuts_strategy(5_000)) {
        check_file("inbound_auth_and_api", &cuts);
    }

    #[test]
    fn sent_commands_any_chunking(cuts in cuts_strategy(800)) {
        for name in scenarios() {
            let data = read(&format!("{name}.sent"));
            let whole = decode_chunked(ServerCodec::new(), &data, &[]);
            let scaled: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let pieces = decode_chunked(ServerCodec::new(), &data, &scaled);
            prop_assert_eq!(pieces, whole);
        }
    }
}

#[test]
fn byte_by_byte() {
    for name in [
        "inbound_auth_and_api",
        "outbound_socket",
        "inbound_events_json",
    ] {
        let data = read(&format!("{name}.recv"));
        let cuts: Vec<usize> = (1..data.len()).collect();
        check_file(name, &cuts);
    }
}
