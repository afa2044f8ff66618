#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pta_envelope::fuzzing::decode(data));
