// SPDX-License-Identifier: GPL-2.0-or-later
//! Issue 6 acceptance: `spinn train` of the iris example through `--target board` against
//! `spinn serve` (a separate process answering SC&MP over UDP) writes the same weights file,
//! byte for byte, as `--target sim`; and the board target's errors are clear.

mod common;
use common::{root, spinn, Scratch};

#[test]
fn iris_through_the_board_target_matches_the_simulator_bit_for_bit() {
    let scratch = Scratch::new("board");
    let (_server, addr, _log) = common::serve("spinn3", &scratch);
    let model = root().join("models/iris.toml").display().to_string();
    let on_board = scratch.0.join("board.json").display().to_string();
    let on_sim = scratch.0.join("sim.json").display().to_string();
    let host = addr.to_string();
    // Both runs at once: they share nothing.
    let board = std::thread::spawn({
        let (model, on_board) = (model.clone(), on_board.clone());
        move || {
            spinn(&[
                "train",
                &model,
                "--target",
                "board",
                "--host",
                &host,
                "--weights",
                &on_board,
                "--json",
            ])
        }
    });
    let (code, sim_out, err) = spinn(&[
        "train",
        &model,
        "--target",
        "sim",
        "--weights",
        &on_sim,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, board_out, err) = board.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let b: serde_json::Value = serde_json::from_str(&board_out).unwrap();
    let s: serde_json::Value = serde_json::from_str(&sim_out).unwrap();
    assert!(b["test_accuracy"].as_f64().unwrap() >= 0.9);
    for key in [
        "history",
        "test_accuracy",
        "test_loss",
        "cores",
        "packets",
        "dropped",
    ] {
        assert_eq!(b[key], s[key], "{key}");
    }
    assert_eq!(
        std::fs::read(&on_board).unwrap(),
        std::fs::read(&on_sim).unwrap(),
        "weights files differ"
    );
}

#[test]
fn a_network_too_big_for_the_board_is_refused() {
    let scratch = Scratch::new("board-small");
    let (_server, addr, _log) = common::serve("single", &scratch);
    let model = root().join("models/digits.toml").display().to_string();
    let (code, _, err) = spinn(&[
        "train",
        &model,
        "--target",
        "board",
        "--host",
        &addr.to_string(),
        "--units-per-core",
        "2",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("application cores"), "{err}");
}
