//! Writes the SASF conformance vectors (see `testdata/vectors/README.md`):
//!
//! ```text
//! cargo run -p sasf-core --example make_vectors -- testdata/vectors
//! ```
//!
//! The output is the same, byte for byte, on every run; `tests/vectors.rs` fails when
//! the committed files differ from what this writes. Stale `*.vec` files in the
//! directory are removed.

use std::path::PathBuf;

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .unwrap_or_else(|| "testdata/vectors".into()),
    );
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "vec") {
            std::fs::remove_file(&path)?;
        }
    }
    let vectors = vectors_gen::generate();
    let mut bytes = 0;
    for v in &vectors {
        std::fs::write(dir.join(&v.name), &v.contents)?;
        bytes += v.contents.len();
    }
    println!(
        "wrote {} vectors ({bytes} bytes) to {}",
        vectors.len(),
        dir.display()
    );
    Ok(())
}
