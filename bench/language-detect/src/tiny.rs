//! Detects the language of its first argument with whichever candidate is enabled (or none, as
//! the baseline for binary size). See size.sh.

fn main() {
    let text = std::env::args().nth(1).unwrap_or_default();
    #[cfg(feature = "whatlang")]
    {
        use whatlang::{Detector, Lang};
        let d = Detector::with_allowlist(vec![
            Lang::Eng,
            Lang::Deu,
            Lang::Fra,
            Lang::Spa,
            Lang::Ita,
            Lang::Nld,
            Lang::Por,
            Lang::Jpn,
        ]);
        println!("{:?}", d.detect(&text).map(|i| (i.lang(), i.confidence())));
    }
    #[cfg(feature = "lingua")]
    {
        // As README.md recommends.
        use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

        let detector: LanguageDetector = LanguageDetectorBuilder::from_languages(&[
            Language::English,
            Language::German,
            Language::French,
            Language::Spanish,
            Language::Italian,
            Language::Dutch,
            Language::Portuguese,
            Language::Japanese,
        ])
        .with_preloaded_language_models()
        .build();
        let lang = match detector
            .compute_language_confidence_values(text.as_str())
            .first()
        {
            Some(&(language, confidence)) if confidence >= 0.5 => Some(language.iso_code_639_1()),
            _ => None, // unknown
        };
        println!("{lang:?}");
    }
    #[cfg(feature = "whichlang")]
    {
        println!("{:?}", whichlang::detect_language(&text));
    }
    #[cfg(not(any(feature = "whatlang", feature = "lingua", feature = "whichlang")))]
    {
        println!("{}", text.len());
    }
}
