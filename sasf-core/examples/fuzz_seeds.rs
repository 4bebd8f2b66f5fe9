//! Writes the SASF seed files of the fuzz targets (`fuzz/fuzz_targets/common.rs`,
//! `seed_files`) into a directory; `fuzz/seed.sh` runs it:
//!
//! ```text
//! cargo run -p sasf-core --example fuzz_seeds -- fuzz/corpus/seeds
//! ```

use std::path::PathBuf;

#[path = "../../fuzz/fuzz_targets/common.rs"]
mod fuzz_common;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args_os().nth(1).unwrap_or_else(|| "seeds".into()));
    std::fs::create_dir_all(&dir)?;
    let seeds = fuzz_common::seed_files();
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    println!("wrote {} seed files to {}", seeds.len(), dir.display());
    Ok(())
}
