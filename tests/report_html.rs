//! report.html of a mutant run, opened in headless Chromium: the page
//! renders (a screenshot that is not blank) and the failing rule ID and the
//! drawn diagram are in the DOM. The screenshot is kept at
//! `$TMPDIR/baton-report-html-<pid>/screenshot.png` for a person to look at.

mod report_kit;

use baton::server::Mutant;
use report_kit::{chromium_run, run_and_write, temp_dir};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread")]
async fn mutant_report_renders_in_headless_chromium() {
    let w = run_and_write("html-run", &[Mutant::PassWithoutWebhook], 1, 400).await;
    assert_eq!(w.report.exit_code(), 1);
    let id = w.report.counterexamples[0].stem();
    let page = w.dir.join("report.html");
    let dir = temp_dir("html");
    let shot = dir.join("screenshot.png");

    chromium_run(
        &page,
        &dir.join("profile-shot"),
        &[format!("--screenshot={}", shot.display())],
    );
    let dom = String::from_utf8(chromium_run(
        &page,
        &dir.join("profile-dom"),
        &["--dump-dom".to_string()],
    ))
    .unwrap();

    // The DOM: the failing rule, its counterexample, the diagram as SVG.
    assert!(dom.contains("PASS-1"), "{dom}");
    assert!(dom.contains(&id));
    assert!(dom.contains("<svg") && dom.contains("DIVERGES here: PASS-1"));
    assert!(dom.contains("FAILS"));

    // The screenshot: 1366 x 900, and not blank.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1366, 900));
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let first = pixels[0];
    let differ = pixels.iter().filter(|p| p[..3] != first[..3]).count();
    let colors: HashSet<&[u8]> = pixels.iter().map(|p| &p[..3]).collect();
    assert!(
        differ * 20 > pixels.len(),
        "only {differ} of {} pixels differ from the background",
        pixels.len()
    );
    assert!(colors.len() > 50, "only {} colours", colors.len());
    // The red "fails" banner is on screen.
    let reddish = pixels
        .iter()
        .filter(|p| p[0] > 150 && p[1] < 90 && p[2] < 90)
        .count();
    assert!(reddish > 0, "no red verdict text on screen");
}
