//! Helpers: run the real binary and assert on exit code, stdout and stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_injector"))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

pub fn scenario(rel: &str) -> PathBuf {
    root().join("scenarios").join(rel)
}

/// What a finished command printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Run `injector ARGS` in `dir` (the repository root by default), with no colour.
pub fn injector(args: &[&str]) -> Run {
    injector_in(&root(), args)
}

pub fn injector_in(dir: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CONDUCTTR_TOKEN")
        .env_remove("CONDUCTTR_BASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("the injector binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A scratch directory removed at drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

/// Write `text` to `name` in `dir`, returning its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}
