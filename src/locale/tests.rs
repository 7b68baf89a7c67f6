use super::*;
use chrono::TimeZone;
use std::time::Duration;

fn calendar() -> BusinessCalendar {
    let cfg = crate::config::Config::from_toml(
        include_str!("../../config/mailcase.example.toml"),
        Path::new("."),
    )
    .unwrap();
    BusinessCalendar::from_config(&cfg.calendar)
}

/// The shipped templates folder.
fn shipped() -> Locales {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    Locales::load(&dir, "en", "en").unwrap()
}

#[test]
fn english_reads_as_before() {
    let l = Locales::builtin();
    let t = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
    assert_eq!(
        l.date("en", t, &calendar()),
        "Tuesday 24 November 2026, 10:00 CET"
    );
    assert_eq!(
        l.promise("en", Duration::from_secs(7200), ClockKind::Wall),
        "within 2 hours"
    );
    assert_eq!(
        l.promise("en", Duration::from_secs(86_400), ClockKind::Business),
        "within 1 business day"
    );
    assert_eq!(
        l.duration("en", Duration::from_secs(14 * 86_400)),
        "14 days"
    );
    assert_eq!(l.duration("en", Duration::from_secs(60)), "1 minute");
}

#[test]
fn a_language_folder_brings_its_own_names_and_plurals() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("phrases.toml"),
        include_str!("../../templates/phrases.toml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("fr")).unwrap();
    std::fs::write(
        dir.path().join("fr/phrases.toml"),
        r#"date_locale = "fr_FR"
date = "%A %-d %B %Y à %H:%M %Z"
[duration]
hour = { one = "{n} heure", other = "{n} heures" }
"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("xx")).unwrap();
    let l = Locales::load(dir.path(), "en", "en").unwrap();
    let t = Utc.with_ymd_and_hms(2026, 12, 7, 13, 0, 0).unwrap();
    assert_eq!(
        l.date("fr", t, &calendar()),
        "lundi 7 décembre 2026 à 14:00 CET"
    );
    // CLDR: French counts 0 and 1 as singular.
    assert_eq!(l.duration("fr", Duration::from_secs(3600)), "1 heure");
    assert_eq!(l.duration("fr", Duration::from_secs(7200)), "2 heures");
    // What fr/phrases.toml leaves out comes from the default language.
    assert_eq!(l.duration("fr", Duration::from_secs(86_400)), "1 day");
    assert_eq!(l.no_subject("fr"), "(no subject)");
    // A folder without phrases is a language still (its templates may be all it has).
    assert!(l.has("xx"));
    assert_eq!(l.resolve(Some("fr-CA")), "fr");
    assert_eq!(l.resolve(Some("FR")), "fr");
    assert_eq!(l.resolve(Some("ar")), "en");
    assert_eq!(l.resolve(None), "en");
    assert_eq!(l.resolve(Some("../etc")), "en");
}

#[test]
fn a_default_or_team_language_without_its_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("phrases.toml"), "").unwrap();
    let e = Locales::load(dir.path(), "de", "en")
        .unwrap_err()
        .to_string();
    assert!(e.contains("language.default = \"de\""), "{e}");
    let e = Locales::load(dir.path(), "en", "fr")
        .unwrap_err()
        .to_string();
    assert!(e.contains("language.team = \"fr\""), "{e}");
}

#[test]
fn a_bad_phrases_file_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("phrases.toml"), "").unwrap();
    std::fs::create_dir(dir.path().join("de")).unwrap();
    std::fs::write(dir.path().join("de/phrases.toml"), "dates = \"%A\"\n").unwrap();
    let e = Locales::load(dir.path(), "en", "en")
        .unwrap_err()
        .to_string();
    assert!(e.contains("de/phrases.toml"), "{e}");
    assert!(e.contains("dates"), "{e}");
    std::fs::write(
        dir.path().join("de/phrases.toml"),
        "date_locale = \"xx_YY\"\n",
    )
    .unwrap();
    let e = Locales::load(dir.path(), "en", "en")
        .unwrap_err()
        .to_string();
    assert!(e.contains("date_locale"), "{e}");
}

#[test]
fn every_shipped_language_writes_dates_promises_and_durations_in_its_own_words() {
    let l = shipped();
    let t = Utc.with_ymd_and_hms(2026, 12, 7, 13, 0, 0).unwrap(); // a Monday, 14:00 CET
    let cal = calendar();
    let wants: &[(&str, &str, &str)] = &[
        ("en", "Monday", "December"),
        ("de", "Montag", "Dezember"),
        ("fr", "lundi", "décembre"),
        ("es", "lunes", "diciembre"),
        ("it", "lunedì", "dicembre"),
        ("nl", "maandag", "december"),
        ("pt", "segunda", "dezembro"),
        ("ja", "（月）", "12月"),
    ];
    for (lang, weekday, month) in wants {
        assert!(l.has(lang), "templates/{lang}/ ships");
        let d = l.date(lang, t, &cal);
        assert!(d.contains(weekday), "{lang}: {d}");
        assert!(d.contains(month), "{lang}: {d}");
        assert!(d.contains("14:00"), "{lang}: {d}");
        // Every language words every unit itself, in both numbers.
        for secs in [60, 120, 3600, 7200, 86_400, 172_800] {
            let d = Duration::from_secs(secs);
            for clock in [ClockKind::Wall, ClockKind::Business] {
                let p = l.promise(lang, d, clock);
                if *lang != "en" {
                    assert_ne!(p, l.promise("en", d, clock), "{lang} {secs} {clock:?}");
                }
                let n = if secs % 86_400 == 0 {
                    secs / 86_400
                } else if secs % 3600 == 0 {
                    secs / 3600
                } else {
                    secs / 60
                };
                assert!(p.contains(&n.to_string()), "{lang}: {p}");
            }
        }
    }
}

#[test]
fn a_brands_phrases_replace_only_the_words_they_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let overlay = tempfile::tempdir().unwrap();
    std::fs::write(
        overlay.path().join("phrases.toml"),
        "[questions]\nsteps = \"Which Acme machine, and what did its display show?\"\n",
    )
    .unwrap();
    std::fs::create_dir(overlay.path().join("de")).unwrap();
    std::fs::write(
        overlay.path().join("de/phrases.toml"),
        "[empathy]\n\"category.billing\" = \"Acme bedauert den Ärger mit Ihrer Rechnung.\"\n",
    )
    .unwrap();
    // A language only the brand has.
    std::fs::create_dir(overlay.path().join("sv")).unwrap();
    std::fs::write(
        overlay.path().join("sv/phrases.toml"),
        "[questions]\nsteps = \"Vad gjorde du?\"\n",
    )
    .unwrap();
    let l = Locales::load_overlay(&dir, Some(overlay.path()), "en", "en").unwrap();
    let s = shipped();
    assert_eq!(
        l.word("en", "questions", "steps"),
        Some("Which Acme machine, and what did its display show?")
    );
    // The words it does not name stay the shipped ones, in every table.
    assert_eq!(
        l.word("en", "questions", "invoice_number"),
        s.word("en", "questions", "invoice_number")
    );
    assert_eq!(
        l.word("de", "empathy", "category.billing"),
        Some("Acme bedauert den Ärger mit Ihrer Rechnung.")
    );
    assert_eq!(
        l.word("de", "categories", "billing"),
        Some("Rechnung und Zahlung")
    );
    assert_eq!(
        l.word("de", "questions", "steps"),
        s.word("de", "questions", "steps")
    );
    assert_eq!(l.word("sv", "questions", "steps"), Some("Vad gjorde du?"));
    assert!(l.has("sv") && !s.has("sv"));
    // A broken brand file names itself.
    std::fs::write(overlay.path().join("de/phrases.toml"), "[empathy\n").unwrap();
    let e = Locales::load_overlay(&dir, Some(overlay.path()), "en", "en").unwrap_err();
    assert!(
        e.path.ends_with("de/phrases.toml") && e.path.starts_with(overlay.path()),
        "{e:?}"
    );
}
