//! The server-side decoder (what clients send) on arbitrary bytes. Nothing may
//! panic; commands that decode either re-encode or are refused as injection.
#![no_main]

use bytes::BytesMut;
use esl::{Limits, ServerCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_header_bytes: 16 * 1024,
        max_headers: 512,
        max_body_bytes: 64 * 1024,
    };
    let mut codec = ServerCodec::with_limits(limits);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(cmd)) = codec.decode(&mut buf) {
        let mut out = BytesMut::new();
        if cmd.encode(&mut out).is_ok() {
            let mut c2 = ServerCodec::new();
            let back = c2.decode(&mut out).expect("our encoding decodes");
            assert!(back.is_some(), "our encoding is a whole command");
        }
    }
});
