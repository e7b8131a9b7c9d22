//! The benchmark runs end to end with tiny sizes, so it cannot rot. It measures; this
//! test only checks that it ran and printed its table.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn smoke_run_prints_a_table() {
    // The workspace's injector, built beside this crate's binary (wherever the target
    // directory is: CARGO_TARGET_DIR moves it).
    let injector = PathBuf::from(env!("CARGO_BIN_EXE_bench")).with_file_name("injector");
    assert!(
        injector.exists(),
        "build the workspace first: {}",
        injector.display()
    );
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["all", "--smoke", "--injector"])
        .arg(&injector)
        .arg("--out-dir")
        .arg(out_dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| validate 200 injects |"), "{stdout}");
    assert!(
        stdout.contains("| push: run CPU with three pages over with none |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| plan 1000-occurrence recurrence (csv) |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| precision, injector: lateness p99 (40 sends over 2 s) |"),
        "{stdout}"
    );
    if std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
        assert!(
            stdout.contains(
                "| precision, injector, client and server on a CPU each: lateness p99 (40 sends over 2 s) |"
            ),
            "{stdout}"
        );
        assert!(
            stdout.contains("| precision, client and server on a CPU each: p99 of the error (early or late), sleep_until loop over injector |"),
            "{stdout}"
        );
    }
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
