//! Language-detector benchmark for mailcase: accuracy (overall, per language, on texts of at
//! most 30 characters), confidence thresholds, speed, setup time and memory of each candidate,
//! restricted to mailcase's eight languages where the crate allows it. See README.md.
//!
//! `langbench [samples.tsv]` prints Markdown; `langbench --setup VARIANT` (used by the former,
//! one fresh process per variant) prints the time to build a detector and run its first
//! detection, and the process's peak resident memory afterwards.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};
use whatlang::{Detector, Lang};

const LANGS: [&str; 8] = ["en", "de", "fr", "es", "it", "nl", "pt", "ja"];
const SHORT: usize = 30;
/// Timed passes over all samples per round; three rounds, the median is reported.
const PASSES: usize = 10;
const ROUNDS: usize = 3;
/// lingua's top confidence below which README.md recommends "unknown".
const RECOMMENDED_THRESHOLD: f64 = 0.5;

/// The daemon would build one detector at startup and share it between tasks.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<LanguageDetector>();
};

#[derive(Clone, Copy, Debug)]
struct Det {
    /// Two-letter code of one of the eight, "other:xyz" leaks as `Some` too, `None` = unknown.
    lang: Option<&'static str>,
    /// The crate's confidence in `lang`, NaN where it gives none.
    conf: f64,
    /// whatlang's `is_reliable()`; true where the crate has no such notion.
    reliable: bool,
}

const UNKNOWN: Det = Det {
    lang: None,
    conf: f64::NAN,
    reliable: false,
};

fn whatlang_code(l: Lang) -> &'static str {
    match l {
        Lang::Eng => "en",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Por => "pt",
        Lang::Jpn => "ja",
        other => other.code(), // only when not restricted: a three-letter code
    }
}

fn lingua_code(l: Language) -> &'static str {
    match l {
        Language::English => "en",
        Language::German => "de",
        Language::French => "fr",
        Language::Spanish => "es",
        Language::Italian => "it",
        Language::Dutch => "nl",
        Language::Portuguese => "pt",
        Language::Japanese => "ja",
        #[allow(unreachable_patterns)]
        _ => "??",
    }
}

fn whichlang_code(l: whichlang::Lang) -> &'static str {
    use whichlang::Lang as W;
    match l {
        W::Eng => "en",
        W::Deu => "de",
        W::Fra => "fr",
        W::Spa => "es",
        W::Ita => "it",
        W::Nld => "nl",
        W::Por => "pt",
        W::Jpn => "ja",
        other => other.three_letter_code(),
    }
}

const EIGHT_WHATLANG: [Lang; 8] = [
    Lang::Eng,
    Lang::Deu,
    Lang::Fra,
    Lang::Spa,
    Lang::Ita,
    Lang::Nld,
    Lang::Por,
    Lang::Jpn,
];
const EIGHT_LINGUA: [Language; 8] = [
    Language::English,
    Language::German,
    Language::French,
    Language::Spanish,
    Language::Italian,
    Language::Dutch,
    Language::Portuguese,
    Language::Japanese,
];

/// Hiragana, Katakana (with phonetic extensions) or half-width Katakana: only Japanese uses them.
fn has_kana(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c, '\u{3040}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9F}')
    })
}

type DetectFn = Box<dyn Fn(&str) -> Det>;

fn lingua_builder(low: bool, preload: bool) -> LanguageDetector {
    let mut b = LanguageDetectorBuilder::from_languages(&EIGHT_LINGUA);
    if low {
        b.with_low_accuracy_mode();
    }
    if preload {
        b.with_preloaded_language_models();
    }
    b.build()
}

fn lingua_fn(d: LanguageDetector) -> DetectFn {
    Box::new(move |t| match d.detect_language_of(t) {
        Some(l) => Det {
            lang: Some(lingua_code(l)),
            conf: f64::NAN,
            reliable: true,
        },
        None => UNKNOWN,
    })
}

/// Top of `compute_language_confidence_values` (values over the eight sum to 1).
fn lingua_conf_fn(d: LanguageDetector) -> DetectFn {
    Box::new(
        move |t| match d.compute_language_confidence_values(t).first() {
            Some(&(l, c)) if c > 0.0 => Det {
                lang: Some(lingua_code(l)),
                conf: c,
                reliable: true,
            },
            _ => UNKNOWN,
        },
    )
}

fn whatlang_fn(d: Detector) -> DetectFn {
    Box::new(move |t| match d.detect(t) {
        Some(i) => Det {
            lang: Some(whatlang_code(i.lang())),
            conf: i.confidence(),
            reliable: i.is_reliable(),
        },
        None => UNKNOWN,
    })
}

/// Builds a variant's detector by name (the setup that `--setup` times).
fn make(name: &str) -> DetectFn {
    match name {
        "whatlang" => whatlang_fn(Detector::with_allowlist(EIGHT_WHATLANG.to_vec())),
        "whatlang-reliable" => {
            let f = whatlang_fn(Detector::with_allowlist(EIGHT_WHATLANG.to_vec()));
            Box::new(move |t| {
                let d = f(t);
                if d.reliable {
                    d
                } else {
                    UNKNOWN
                }
            })
        }
        "whatlang-all-langs" => whatlang_fn(Detector::new()),
        "lingua-high" => lingua_fn(lingua_builder(false, false)),
        "lingua-high-preload" => lingua_fn(lingua_builder(false, true)),
        "lingua-low" => lingua_fn(lingua_builder(true, false)),
        "lingua-low-preload" => lingua_fn(lingua_builder(true, true)),
        "lingua-high-conf" => lingua_conf_fn(lingua_builder(false, true)),
        "lingua-low-conf" => lingua_conf_fn(lingua_builder(true, true)),
        "whichlang" => Box::new(|t| {
            let l = whichlang_code(whichlang::detect_language(t));
            Det {
                lang: Some(l),
                conf: f64::NAN,
                reliable: true,
            }
        }),
        _ => {
            if let Some(base) = name.strip_suffix("+kana") {
                let f = make(base);
                return Box::new(move |t| {
                    if has_kana(t) {
                        Det {
                            lang: Some("ja"),
                            conf: 1.0,
                            reliable: true,
                        }
                    } else {
                        f(t)
                    }
                });
            }
            panic!("unknown variant {name}")
        }
    }
}

const VARIANTS: &[&str] = &[
    "whatlang",
    "whatlang-reliable",
    "whatlang+kana",
    "whatlang-all-langs",
    "lingua-high",
    "lingua-high-preload",
    "lingua-low",
    "lingua-low-preload",
    "lingua-high-conf",
    "lingua-low-conf",
    "lingua-low+kana",
    "whichlang",
    "whichlang+kana",
];

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:.0}", 100.0 * n as f64 / d as f64)
    }
}

struct Sample {
    lang: String,
    text: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--setup") {
        let name = &args[2];
        let start = Instant::now();
        let f = make(name);
        black_box(f(black_box("Paket nicht angekommen")));
        let ms = start.elapsed().as_secs_f64() * 1e3;
        println!("{ms:.1} {:.1}", peak_rss_mib());
        return;
    }
    let path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/samples.tsv").into());
    let samples: Vec<Sample> = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (lang, text) = l.split_once('\t').expect("lang<TAB>text");
            Sample {
                lang: lang.into(),
                text: text.into(),
            }
        })
        .collect();
    let known: Vec<&Sample> = samples.iter().filter(|s| s.lang != "xx").collect();
    let n_short = known
        .iter()
        .filter(|s| s.text.chars().count() <= SHORT)
        .count();
    let n_xx = samples.len() - known.len();
    let n_kana = known.iter().filter(|s| has_kana(&s.text)).count();
    let exe = std::env::current_exe().unwrap();

    println!("{} labelled samples in the eight languages ({} of at most {SHORT} characters, {} with kana), {n_xx} of other languages (xx).\n",
        known.len(), n_short, n_kana);
    print!("| variant | all % | ≤{SHORT} ch % |");
    for l in LANGS {
        print!(" {l} |");
    }
    println!(" unknown | kana→ja | xx→not 8 | µs/detect | setup ms | peak RSS MiB |");
    print!("|---|---:|---:|");
    for _ in LANGS {
        print!("---:|");
    }
    println!("---:|---:|---:|---:|---:|---:|");

    let mut xx_lines = Vec::new();
    let mut preds: BTreeMap<&str, Vec<Det>> = BTreeMap::new();
    // Speed: ROUNDS rounds, each timing every variant in turn (so that load from other work on
    // the machine falls on all of them alike); the median round is reported.
    let detectors: Vec<DetectFn> = VARIANTS.iter().map(|n| make(n)).collect();
    for f in &detectors {
        for s in &samples {
            black_box(f(&s.text)); // warm-up: lazily loaded models, caches
        }
    }
    let mut times = vec![Vec::new(); VARIANTS.len()];
    for _ in 0..ROUNDS {
        for (f, t) in detectors.iter().zip(&mut times) {
            let start = Instant::now();
            for _ in 0..PASSES {
                for s in &samples {
                    black_box(f(black_box(&s.text)));
                }
            }
            t.push(start.elapsed().as_secs_f64() * 1e6 / (PASSES * samples.len()) as f64);
        }
    }

    for (i, &name) in VARIANTS.iter().enumerate() {
        // Setup time and memory in fresh processes, where no model is cached yet (median of 3).
        let mut setups: Vec<(f64, f64)> = (0..3)
            .map(|_| {
                let out = std::process::Command::new(&exe)
                    .args(["--setup", name])
                    .output()
                    .expect("run --setup");
                let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let (ms, rss) = line.split_once(' ').expect("setup output");
                (ms.parse().unwrap(), rss.parse().unwrap())
            })
            .collect();
        setups.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (setup_ms, rss) = setups[1];

        let f = &detectors[i];
        let dets: Vec<Det> = samples.iter().map(|s| f(&s.text)).collect();
        times[i].sort_by(f64::total_cmp);
        let us = times[i][ROUNDS / 2];

        let ok = |s: &Sample, d: &Det| d.lang == Some(s.lang.as_str());
        let mut right = 0;
        let mut right_short = 0;
        let mut unknown = 0;
        let mut kana_ja = 0;
        let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut xx_out = Vec::new();
        let mut xx_rejected = 0;
        for (s, d) in samples.iter().zip(&dets) {
            if s.lang == "xx" {
                let shown = match d.lang {
                    Some(l) if !d.conf.is_nan() && !d.reliable => {
                        format!("{l}({:.2},unreliable)", d.conf)
                    }
                    Some(l) if !d.conf.is_nan() => format!("{l}({:.2})", d.conf),
                    Some(l) => l.to_string(),
                    None => "unknown".to_string(),
                };
                if d.lang.is_none_or(|l| !LANGS.contains(&l)) {
                    xx_rejected += 1;
                }
                xx_out.push(shown);
                continue;
            }
            let e = per
                .entry(LANGS.iter().find(|&&l| l == s.lang).copied().unwrap_or("?"))
                .or_default();
            e.1 += 1;
            if ok(s, d) {
                right += 1;
                e.0 += 1;
                if s.text.chars().count() <= SHORT {
                    right_short += 1;
                }
            }
            if d.lang.is_none() {
                unknown += 1;
            }
            if has_kana(&s.text) && d.lang == Some("ja") {
                kana_ja += 1;
            }
        }
        print!(
            "| {name} | {} | {} |",
            pct(right, known.len()),
            pct(right_short, n_short)
        );
        for l in LANGS {
            let (r, n) = per.get(l).copied().unwrap_or((0, 0));
            print!(" {} |", pct(r, n));
        }
        println!(
            " {unknown} | {kana_ja}/{n_kana} | {xx_rejected}/{n_xx} | {us:.1} | {setup_ms:.1} | {rss:.1} |"
        );
        xx_lines.push(format!("- {name}: {}", xx_out.join(" ")));
        preds.insert(name, dets);
    }

    println!("\nWhat each variant returned for the xx rows, in file order:\n");
    for l in &xx_lines {
        println!("{l}");
    }

    // Confidence thresholds: below t the result counts as unknown.
    let thresholds = [
        0.0, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95,
    ];
    for name in ["whatlang", "lingua-high-conf", "lingua-low-conf"] {
        let dets = &preds[name];
        println!("\nConfidence threshold, {name} (right / wrong / unknown of {} in the eight; ≤{SHORT} ch right; xx answered unknown):\n", known.len());
        println!("| threshold | right | wrong | unknown | ≤{SHORT} ch right | xx unknown |");
        println!("|---:|---:|---:|---:|---:|---:|");
        for t in thresholds {
            let (mut r, mut w, mut u, mut rs, mut xu) = (0, 0, 0, 0, 0);
            for (s, d) in samples.iter().zip(dets) {
                let kept = d.lang.filter(|_| d.conf >= t);
                if s.lang == "xx" {
                    if kept.is_none_or(|l| !LANGS.contains(&l)) {
                        xu += 1;
                    }
                    continue;
                }
                match kept {
                    None => u += 1,
                    Some(l) if l == s.lang => {
                        r += 1;
                        if s.text.chars().count() <= SHORT {
                            rs += 1;
                        }
                    }
                    Some(_) => w += 1,
                }
            }
            println!("| {t:.2} | {r} | {w} | {u} | {rs}/{n_short} | {xu}/{n_xx} |");
        }
    }

    // The mistakes of the main candidates (for lingua with confidences, also the right answers
    // below the recommended threshold), for the README's discussion.
    for name in [
        "whatlang",
        "lingua-high-conf",
        "lingua-low-conf",
        "whichlang",
    ] {
        if name.ends_with("-conf") {
            println!("\nWrong, unknown or below {RECOMMENDED_THRESHOLD}, {name}:\n");
        } else {
            println!("\nWrong or unknown, {name}:\n");
        }
        for (s, d) in samples.iter().zip(&preds[name]) {
            let low = name.ends_with("-conf") && d.conf < RECOMMENDED_THRESHOLD;
            if s.lang != "xx" && (d.lang != Some(s.lang.as_str()) || low) {
                println!(
                    "- {} → {} ({:.2}): {}",
                    s.lang,
                    d.lang.unwrap_or("unknown"),
                    d.conf,
                    s.text
                );
            }
        }
    }
}
