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

/// Wait, polling every 100 ms, until `done` holds; fail with `what` after `within`.
pub async fn wait_until(what: &str, within: std::time::Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
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

/// The browser, its WebDriver, the terminal multiplexer, the spreadsheet program and the
/// PDF renderer that the page, report, terminal, workbook and print tests drive:
/// Debian's packages, and the paths they install.
const TOOLS: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("tmux", "/usr/bin/tmux"),
    ("libreoffice-calc-nogui", "/usr/bin/soffice"),
    ("poppler-utils", "/usr/bin/pdftoppm"),
];

/// The path of a tool the tests need (a package of [`TOOLS`]). A fresh machine lacks
/// them: as root on Debian (or Ubuntu) the first test to ask installs them all with
/// apt-get, once; elsewhere the test stops and says what to install.
pub fn tool(package: &str) -> PathBuf {
    static INSTALLED: std::sync::Mutex<Option<Result<(), String>>> = std::sync::Mutex::new(None);
    let path = |p: &str| {
        TOOLS
            .iter()
            .find(|(name, _)| *name == p)
            .map(|(_, path)| PathBuf::from(path))
            .expect("a known tool")
    };
    let missing = || TOOLS.iter().any(|(_, p)| !Path::new(p).exists());
    let mut done = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if missing() && done.is_none() {
        *done = Some(install_tools());
    }
    if let Some(Err(why)) = done.as_ref()
        && missing()
    {
        panic!("{why}");
    }
    path(package)
}

fn install_tools() -> Result<(), String> {
    let names: Vec<&str> = TOOLS.iter().map(|(n, _)| *n).collect();
    let by_hand = format!(
        "these tests need Debian's {} (as root: apt-get install -y {})",
        names.join(", "),
        names.join(" ")
    );
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!(
            "{by_hand}; not root with apt-get here, so not installed"
        ));
    }
    eprintln!("installing {} with apt-get (once)", names.join(", "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{by_hand}; apt-get did not run: {e}"))
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{by_hand}; apt-get {} failed: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&o.stderr).trim()
                    ))
                }
            })
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&names);
    apt(&install)?;
    // A first start builds the browser's caches (fonts): once, here, not inside a test's
    // time budget.
    let profile = tempdir();
    let _ = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            "about:blank",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    Ok(())
}
