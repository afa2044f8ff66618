#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pta_directory::fuzzing::dn_template(data));
