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
        use lingua::{Language::*, LanguageDetectorBuilder};
        let d = LanguageDetectorBuilder::from_languages(&[
            English, German, French, Spanish, Italian, Dutch, Portuguese, Japanese,
        ])
        .build();
        println!("{:?}", d.detect_language_of(text.as_str()));
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
