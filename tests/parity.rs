//! Runs every parity fixture under tests/fixtures/parity/ and in $DELTASTUDIO_PARITY_DIRS
//! (`:`-separated), on flex, and fails on any case outside its tolerance.
use std::path::{Path, PathBuf};

use deltastudio::parity;

fn fixture_dirs() -> Vec<PathBuf> {
    let mut roots = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity")];
    if let Some(extra) = std::env::var_os("DELTASTUDIO_PARITY_DIRS") {
        roots.extend(std::env::split_paths(&extra).filter(|p| !p.as_os_str().is_empty()));
    }
    roots.iter().flat_map(|r| parity::discover(r)).collect()
}

#[test]
fn parity_fixtures() {
    let device = burn::prelude::Device::flex();
    let dirs = fixture_dirs();
    assert!(!dirs.is_empty(), "no parity fixtures found");
    let mut failures = Vec::new();
    let mut cases = 0;
    for dir in &dirs {
        match parity::check_fixture(dir, &device) {
            Ok(reports) => {
                for report in reports {
                    cases += 1;
                    print!("{report}");
                    if !report.passed() {
                        failures.push(format!("{}[{}] {}", report.fixture, report.index, report.op));
                    }
                }
            }
            Err(e) => {
                println!("FAIL {}: {e}", dir.display());
                failures.push(format!("{}: {e}", dir.display()));
            }
        }
    }
    println!("{cases} cases in {} fixtures", dirs.len());
    assert!(failures.is_empty(), "parity failures:\n{}", failures.join("\n"));
}
