#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pta_lockout::fuzzing::stored_records(data));
