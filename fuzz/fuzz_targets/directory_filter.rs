#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pta_directory::fuzzing::filter_escape(data));
