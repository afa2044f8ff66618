#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pta_directory::fuzzing::ppolicy_control(data));
