//! The plan as a picture (`plan --format html`), in a real Chromium over WebDriver:
//! every occurrence drawn and labelled, no label over its neighbour's, both zoom levels,
//! and printed to a PDF; `--assume` draws one branch.

use serde_json::json;

use crate::common::{injector_in, root, tempdir};
use crate::control_page::Driver;

/// Every label's box on the page, by the browser's layout: (key, x, y, width, height).
const LABEL_BOXES: &str = "return [...document.querySelectorAll('svg.timeline text.label[data-key]')].map(t => { const b = t.getBoundingClientRect(); return [t.dataset.key, b.x, b.y, b.width, b.height]; });";

/// Pairs of labels whose boxes overlap.
fn overlapping(boxes: &serde_json::Value) -> Vec<String> {
    let b: Vec<(String, f64, f64, f64, f64)> = boxes
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v[0].as_str().unwrap().to_string(),
                v[1].as_f64().unwrap(),
                v[2].as_f64().unwrap(),
                v[3].as_f64().unwrap(),
                v[4].as_f64().unwrap(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for (i, a) in b.iter().enumerate() {
        for c in &b[i + 1..] {
            // Glyph boxes overlap by a pixel of leading: a real overlap is more.
            let dx = (a.1 + a.3).min(c.1 + c.3) - a.1.max(c.1);
            let dy = (a.2 + a.4).min(c.2 + c.4) - a.2.max(c.2);
            if dx > 1.0 && dy > 2.0 {
                out.push(format!("{} / {}", a.0, c.0));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_as_a_picture_in_a_real_browser() {
    let dir = tempdir();
    let page = dir.path().join("plan.html");
    // Named as the README names it: the picture shows the file's name as given.
    let run = injector_in(
        &root(),
        &[
            "plan",
            "scenarios/harbour-flood.yaml",
            "--format",
            "html",
            "-o",
            page.to_str().unwrap(),
        ],
    );
    run.code(0);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "self-contained"
    );
    assert!(
        html.contains("@page{size:A3 landscape"),
        "an A3 landscape print"
    );
    let profile = tempdir();
    let driver = Driver::start(profile.path()).await;
    driver
        .session(
            "POST",
            "/window/rect",
            Some(json!({"width": 1400, "height": 1100})),
        )
        .await;
    driver
        .session(
            "POST",
            "/url",
            Some(json!({"url": format!("file://{}", page.display())})),
        )
        .await;
    // Every occurrence: 94 at their instants, labelled but for the crowd's 40 posts (one
    // label, at its first: `public-reaction (40 posts)`); 4 contingencies as alternatives.
    let counts = driver
        .session(
            "POST",
            "/execute/sync",
            Some(json!({"script": "return [document.querySelectorAll('svg.timeline g.mark').length, document.querySelectorAll('svg.timeline text.label[data-key]').length, document.querySelectorAll('svg.timeline g.alternative').length, document.querySelectorAll('tr.row').length];", "args": []})),
        )
        .await;
    assert_eq!(
        counts,
        json!([94, 55, 4, 98]),
        "marks, labels, alternatives, rows"
    );
    // The check itself sees an overlap when there is one.
    assert_eq!(
        overlapping(&json!([
            ["a", 0, 0, 50, 10],
            ["b", 10, 0, 50, 10],
            ["c", 70, 0, 5, 10]
        ])),
        ["a / b"]
    );
    let artifacts = crate::report::artifacts();
    let mut labels: Vec<String> = Vec::new();
    for (zoom, name) in [("zoom1", "plan-1x.png"), ("zoom2", "plan-2x.png")] {
        driver.click(&format!("#{zoom}")).await;
        let boxes = driver
            .session(
                "POST",
                "/execute/sync",
                Some(json!({"script": LABEL_BOXES, "args": []})),
            )
            .await;
        assert_eq!(boxes.as_array().unwrap().len(), 55);
        let keys: Vec<&str> = boxes
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[0].as_str().unwrap())
            .collect();
        assert!(
            keys.contains(&"public-reaction#1") && !keys.contains(&"public-reaction#2"),
            "a crowd is labelled once: {keys:?}"
        );
        labels = boxes
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[0].as_str().unwrap().to_string())
            .collect();
        let clash = overlapping(&boxes);
        assert!(
            clash.is_empty(),
            "{zoom}: labels over their neighbours: {clash:?}"
        );
        let shot = driver.session("GET", "/screenshot", None).await;
        let png = base64_png(&shot);
        std::fs::write(artifacts.join(name), &png).unwrap();
        // The README's picture is this test's, written when asked.
        if zoom == "zoom1" && std::env::var_os("INJECTOR_UPDATE_PICTURES").is_some() {
            std::fs::write(root().join("docs/plan.png"), &png).unwrap();
        }
    }
    // A click on a label goes to its row, with its exact body.
    let target = driver
        .session(
            "POST",
            "/execute/sync",
            Some(json!({"script": "const a = document.querySelector('svg.timeline text.label[data-key=\"press-query\"]').parentNode; return [a.getAttribute('href'), document.querySelector('#occ-press-query pre').textContent];", "args": []})),
        )
        .await;
    assert_eq!(target[0], "#occ-press-query");
    assert!(
        target[1]
            .as_str()
            .unwrap()
            .contains("\"subject\": \"Request for comment on gate 3\""),
        "{target}"
    );
    let pdf = driver
        .session(
            "POST",
            "/print",
            Some(json!({"orientation": "landscape", "page": {"width": 29.7, "height": 42.0}, "background": true})),
        )
        .await;
    let pdf = base64_png(&pdf);
    assert!(pdf.starts_with(b"%PDF"), "printed to a PDF");
    std::fs::write(artifacts.join("plan.pdf"), &pdf).unwrap();
    driver.session("DELETE", "", None).await;
    printed_pdf_holds_every_label(&artifacts.join("plan.pdf"), &labels);
    // One branch: with --assume the contingency is an occurrence at its instant.
    let one = injector_in(
        &root(),
        &[
            "plan",
            "scenarios/harbour-flood.yaml",
            "--format",
            "html",
            "--assume",
            "all-missed",
        ],
    );
    one.code(0);
    assert!(
        one.stdout
            .contains("<text class=\"label\" data-key=\"flood-worsens\"")
    );
    assert!(
        !one.stdout.contains("data-key=\"police-confirm\""),
        "the other branch is not drawn"
    );
}

/// The printed plan, read by poppler: A3 landscape pages, every occurrence's label in
/// its text, and its first page, rendered (`pdftoppm`), a picture and not a blank page.
fn printed_pdf_holds_every_label(pdf: &std::path::Path, labels: &[String]) {
    let pdftoppm = crate::common::tool("poppler-utils");
    let bin = pdftoppm.parent().unwrap();
    let info = std::process::Command::new(bin.join("pdfinfo"))
        .arg(pdf)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("(A3)"), "{info}");
    let size: Vec<f64> = info
        .lines()
        .find_map(|l| l.strip_prefix("Page size:"))
        .unwrap()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(size[0] > size[1], "landscape: {info}");
    let text = std::process::Command::new(bin.join("pdftotext"))
        .args([pdf.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let missing: Vec<&String> = labels
        .iter()
        .filter(|l| !text.contains(l.as_str()))
        .collect();
    assert!(missing.is_empty(), "not in the PDF: {missing:?}");
    let dir = pdf.parent().unwrap();
    let ok = std::process::Command::new(&pdftoppm)
        .args(["-r", "40", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(dir.join("plan-page1"))
        .status()
        .unwrap();
    assert!(ok.success());
    // A PPM: `P6`, width, height, 255, then RGB bytes.
    let ppm = std::fs::read(dir.join("plan-page1.ppm")).unwrap();
    let mut fields = 0;
    let mut at = 0;
    while fields < 4 {
        while ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        while !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields += 1;
    }
    let pixels = &ppm[at + 1..];
    let inked = pixels
        .chunks(3)
        .filter(|p| p.iter().any(|c| *c < 200))
        .count();
    let share = inked as f64 / (pixels.len() / 3) as f64;
    assert!(share > 0.01, "page 1 is nearly blank ({share:.4} inked)");
}

/// The bytes of a WebDriver answer's base64 value.
fn base64_png(v: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or_else(|| panic!("no base64 in {v}")))
        .unwrap()
}
