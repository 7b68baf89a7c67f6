#![no_main]

libfuzzer_sys::fuzz_target!(init: mailcase_fuzz::install_panic_hook(), |data: &[u8]| {
    mailcase_fuzz::raw_text(&String::from_utf8_lossy(data));
});
