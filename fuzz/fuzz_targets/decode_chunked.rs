//! Any bytes, cut into chunks at points taken from the input: feeding the chunks one by one
//! must give exactly the frames and errors that feeding the whole stream at once gives, through
//! the decoder's own buffer and through a caller's buffer alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssekit_fuzz::{chunks, decode_caller_buffer, decode_fed, split_chunk_plan, Config};

fuzz_target!(|input: &[u8]| {
    let Some((config, rest)) = Config::split(input) else {
        return;
    };
    let Some((lengths, stream)) = split_chunk_plan(rest) else {
        return;
    };
    let pieces = chunks(stream, lengths);
    assert_eq!(pieces.concat(), stream, "the chunk plan lost bytes");

    let whole = decode_fed(&config, &[stream]);
    let fed = decode_fed(&config, &pieces);
    assert_eq!(
        whole, fed,
        "chunked feed differs from the whole stream; chunks: {pieces:?}"
    );
    let caller = decode_caller_buffer(&config, &pieces);
    assert_eq!(
        whole, caller,
        "caller's buffer differs from feed; chunks: {pieces:?}"
    );
});
