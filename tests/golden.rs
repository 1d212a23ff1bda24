// SPDX-License-Identifier: GPL-2.0-or-later
//! Bit-exact regression: every firmware example still produces its golden fingerprint
//! (traces/*.golden), so any change in firmware, CPU model, timing model or router shows up as
//! a named difference; and `spinn test` reports such a difference with exit status 1.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spinn_test(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spinn"))
        .arg("test")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn examples() -> Vec<(String, Vec<String>)> {
    let list = std::fs::read_to_string(root().join("traces/examples.txt")).unwrap();
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut w = l.split_whitespace().map(String::from);
            (w.next().unwrap(), w.collect())
        })
        .collect()
}

#[test]
fn every_example_matches_its_golden_fingerprint() {
    let examples = examples();
    assert!(examples.len() >= 10);
    for (name, args) in examples {
        let golden = format!("traces/{name}.golden");
        assert!(
            Path::new(&root().join(&golden)).exists(),
            "{golden} is committed"
        );
        let mut all = vec!["--golden".to_string(), golden.clone()];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let (code, out, err) = spinn_test(&all);
        assert_eq!(code, 0, "{name}: {out}{err}\n(if the change is meant, run scripts/bless-goldens and say why in the commit)");
        assert!(out.contains("identical"), "{out}");
    }
}

#[test]
fn a_difference_is_named_and_fails() {
    let dir = std::env::temp_dir().join(format!("spinn-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let golden = std::fs::read_to_string(root().join("traces/ticks.golden")).unwrap();
    // One instruction more in the golden file than the firmware executes.
    let line = golden
        .lines()
        .find(|l| l.starts_with("core 0,0,1: "))
        .unwrap();
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let changed = golden.replace(
        line,
        &line.replace(
            &format!("instructions {n}"),
            &format!("instructions {}", n + 1),
        ),
    );
    let path = dir.join("ticks.golden");
    std::fs::write(&path, changed).unwrap();
    let (code, out, _) = spinn_test(&[
        "--golden",
        path.to_str().unwrap(),
        "firmware/build/ticks.elf",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("differs: core 0,0,1: expected state EXIT rt_code 0"),
        "{out}"
    );
    assert!(
        out.contains(&format!("instructions {}", n + 1)) && out.contains("got state EXIT"),
        "{out}"
    );

    // --bless writes exactly what a comparison then accepts, and what is committed.
    let blessed = dir.join("blessed.golden");
    let (code, _, _) = spinn_test(&[
        "--golden",
        blessed.to_str().unwrap(),
        "--bless",
        "firmware/build/ticks.elf",
    ]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(&blessed).unwrap(), golden);

    // No golden file: bad input, with the way out.
    let (code, _, err) = spinn_test(&[
        "--golden",
        dir.join("none.golden").to_str().unwrap(),
        "firmware/build/ticks.elf",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("run with --bless to create it"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_packet_trace_difference_names_the_event() {
    use spinn_sim::trace::{encode, read_all, write_header, Event};
    let dir = std::env::temp_dir().join(format!("spinn-golden-trc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let golden = dir.join("pp.golden");
    let g = golden.to_str().unwrap();
    let args = ["firmware/build/pingpong.elf", "--core", "1,2"];
    let (code, _, _) = spinn_test(&[&["--golden", g, "--bless"][..], &args[..]].concat());
    assert_eq!(code, 0);
    // Pretend the golden run had sent its 5th packet with another key.
    let trc = dir.join("pp.golden.trc");
    let mut records = read_all(&std::fs::read(&trc).unwrap()[..]).unwrap();
    let fifth = records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.event, Event::Send { .. }))
        .nth(4)
        .unwrap()
        .0;
    if let Event::Send { key, .. } = &mut records[fifth].event {
        *key ^= 0x8000_0000;
    }
    let mut bytes = Vec::new();
    write_header(&mut bytes).unwrap();
    records.iter().for_each(|r| encode(r, &mut bytes));
    std::fs::write(&trc, bytes).unwrap();
    let text = std::fs::read_to_string(&golden).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("packet trace: "))
        .unwrap()
        .to_string();
    std::fs::write(
        &golden,
        text.replace(&line, "packet trace: 0000000000000000 (0 bytes)"),
    )
    .unwrap();
    let (code, out, _) = spinn_test(&[&["--golden", g][..], &args[..]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("differs: packet trace: expected 0000000000000000"),
        "{out}"
    );
    assert!(
        out.contains(&format!("first difference at record {fifth}")),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
