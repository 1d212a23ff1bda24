// SPDX-License-Identifier: GPL-2.0-or-later
//! Arbitrary text as a model file: the parser and its checks must refuse what they cannot use
//! with an error, never panic; what they accept must build into a network that runs forward.

#![no_main]

use libfuzzer_sys::fuzz_target;
use spinn_nn::ModelSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = ModelSpec::from_str(text, concat!(env!("CARGO_MANIFEST_DIR"), "/../models")) {
        let model = spec.build();
        let out = model.predict(&[vec![0.0; model.inputs()]]);
        assert_eq!(out[0].len(), model.outputs());
    }
});
