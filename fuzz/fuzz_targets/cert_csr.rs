#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pta_cert::fuzzing::csr(data));
