//! Fuzz seeds and fuzz regressions, replayed as ordinary tests: each input decodes without a
//! panic, gives the same frames in every chunking as in one piece, and agrees with the oracle.

use std::path::{Path, PathBuf};

use ssekit_codec::Limits;

use crate::support::{decode_all, decode_chunks};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            out.push(path);
        }
    }
}

#[test]
fn fuzz_seeds_and_regressions_replay() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    files_under(&fuzz.join("seeds"), &mut files);
    files_under(&fuzz.join("regressions"), &mut files);
    assert!(!files.is_empty(), "fuzz/seeds should hold committed inputs");
    for file in files {
        let input = std::fs::read(&file).unwrap();
        let whole = decode_all(&input, true);
        assert_eq!(
            whole,
            crate::oracle::decode(&input, true),
            "{}",
            file.display()
        );
        for size in [1, 2, 3, 7, 64] {
            let chunked = decode_chunks(Limits::default(), true, input.chunks(size));
            assert_eq!(chunked, whole, "{} in chunks of {size}", file.display());
        }
    }
}
