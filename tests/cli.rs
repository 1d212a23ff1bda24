// SPDX-License-Identifier: GPL-2.0-or-later
//! The `spinn` command line: output formats, exit status, and clear errors for bad input.

use std::path::PathBuf;

mod common;
use common::{spinn, spinn_within};

fn elf(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("firmware/build")
        .join(format!("{name}.elf"))
        .display()
        .to_string()
}

fn tmp(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("spinn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[test]
fn json_report_has_the_documented_fields() {
    let (code, out, err) = spinn(&["run", &elf("hello"), "--core", "1,3", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert!(v["sim_time_ns"].as_u64().unwrap() > 0);
    let cores = v["cores"].as_array().unwrap();
    assert_eq!(cores.len(), 2);
    for (c, p) in cores.iter().zip([1, 3]) {
        assert_eq!(c["x"], 0);
        assert_eq!(c["y"], 0);
        assert_eq!(c["p"], p);
        assert_eq!(c["phys"], p);
        assert_eq!(c["state"], "EXIT");
        assert_eq!(c["rt_code"], 0);
        assert_eq!(c["user"][0], 0x600D);
        assert!(c["cycles"].as_u64().unwrap() > 0);
        assert!(c["instructions"].as_u64().unwrap() > 0);
        assert!(c["pc"].is_u64());
        assert_eq!(c["iobuf"], format!("hello from core {p} on chip 0,0\n"));
    }
}

#[test]
fn text_report_and_fault_exit_status() {
    let (code, out, _) = spinn(&["run", &elf("fault_undef"), "--core", "2"]);
    assert_eq!(code, 1, "an RTE core makes the exit status non-zero");
    assert!(
        out.contains("core 0,0,2 (phys 2): RTE UNDEF (rt_code 2) at pc 0x"),
        "{out}"
    );
    let (code, out, _) = spinn(&["run", &elf("hello")]);
    assert_eq!(code, 0);
    assert!(out.contains("core 0,0,1 (phys 1): EXIT"), "{out}");
    assert!(out.contains("hello from core 1 on chip 0,0"), "{out}");
}

#[test]
fn a_watchdog_reset_is_reported_with_its_chip_and_fails_the_run() {
    for threads in ["1", "2"] {
        let (code, out, _) = spinn(&[
            "run",
            "--machine",
            "spinn3",
            "--load",
            &format!("1,1,3={}", elf("wdog")),
            "--load",
            &format!("0,0,1={}", elf("hello")),
            "--threads",
            threads,
        ]);
        assert_eq!(code, 1, "a WDOG core makes the exit status non-zero: {out}");
        assert!(out.contains("core 1,1,3 (phys 3): WDOG"), "{out}");
        assert!(out.contains("watchdog: chip (1,1) reset at 2.01"), "{out}");
        assert!(!out.contains("watchdog: chip (0,0)"), "{out}");
        assert!(out.contains("core 0,0,1 (phys 1): EXIT"), "{out}");
    }
    let (_, out, _) = spinn(&["run", &elf("wdog"), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["watchdog_resets"][0]["x"], 0);
    assert_eq!(v["cores"][0]["state"], "WDOG");
}

#[test]
fn time_limit_stops_a_running_core() {
    let (code, out, _) = spinn(&["run", &elf("ticks"), "--ms", "3", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stop"], "TimeLimit");
    assert_eq!(v["sim_time_ns"], 3_000_000);
    assert_eq!(v["cores"][0]["state"], "RUN");
}

fn bad_input(args: &[&str], file: &str, reason: &str) {
    let (code, out, err) = spinn(args);
    assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(file), "names the file: {err}");
    assert!(err.contains(reason), "says {reason:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gets_one_clear_line_and_status_2() {
    let missing = "/nonexistent/app.elf";
    bad_input(&["run", missing], missing, "cannot read");
    let text = tmp("notes.elf", b"this is not an ELF file at all");
    bad_input(&["run", &text], &text, "not an ELF file");
    let x86 = tmp("x86.elf", &std::fs::read("/proc/self/exe").unwrap());
    bad_input(&["run", &x86], &x86, "not an ARM 32-bit little-endian ELF");

    // A real ARM ELF whose program headers are all turned into PT_NULL: nothing to load.
    let mut bytes = std::fs::read(elf("hello")).unwrap();
    let phoff = u32::from_le_bytes(bytes[28..32].try_into().unwrap()) as usize;
    let phentsize = u16::from_le_bytes(bytes[42..44].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(bytes[44..46].try_into().unwrap()) as usize;
    let mut no_load = bytes.clone();
    for i in 0..phnum {
        no_load[phoff + i * phentsize..phoff + i * phentsize + 4]
            .copy_from_slice(&0u32.to_le_bytes());
    }
    let p = tmp("noload.elf", &no_load);
    bad_input(&["run", &p], &p, "no loadable segment");

    // The second segment moved into the first: which bytes a core would see is a guess.
    let mut overlapping = bytes.clone();
    let second = phoff + phentsize + 12;
    overlapping[second..second + 4].copy_from_slice(&0x100u32.to_le_bytes());
    let p = tmp("overlap.elf", &overlapping);
    bad_input(
        &["run", &p],
        &p,
        "segments at 0x00000000 and 0x00000100 overlap",
    );

    // The first segment moved to an address no memory answers at.
    bytes[phoff + 12..phoff + 16].copy_from_slice(&0x9000_0000u32.to_le_bytes());
    let p = tmp("outside.elf", &bytes);
    bad_input(&["run", &p], &p, "outside ITCM, DTCM, System RAM and SDRAM");

    let (code, _, err) = spinn(&["run", &elf("hello"), "--core", "18"]);
    assert_eq!(code, 2);
    assert!(err.contains("out of range"), "{err}");
    let (code, _, err) = spinn(&["run", &elf("hello"), "--core", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("monitor"), "{err}");
    // App IDs below 16 are not what SpiNNaker's tools hand out; no layer fits on zero cores.
    let (code, _, err) = spinn(&["run", &elf("hello"), "--app-id", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("0 is not in 16..=255"), "{err}");
    let (code, _, err) = spinn(&["train", "models/xor.toml", "--units-per-core", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("0 is not in 1.."), "{err}");
    // A damaged golden file is bad input (2), not a difference from the run (1).
    let golden = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("traces/hello.golden"),
    )
    .unwrap();
    let mut damaged: Vec<&str> = golden.lines().collect();
    damaged[2] = "core 0,0,1 user 0x600d";
    let damaged = tmp("damaged.golden", damaged.join("\n").as_bytes());
    bad_input(
        &["test", &elf("hello"), "--golden", &damaged],
        &damaged,
        "line 3: not a fact",
    );
}

#[test]
fn machines_loads_routes_and_threads_from_the_command_line() {
    let hello = elf("hello");
    let all = format!("all={hello}");
    let (code, out, err) = spinn(&[
        "run",
        "--machine",
        "spinn3",
        "--load",
        &all,
        "--threads",
        "2",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cores"].as_array().unwrap().len(), 4 * 17);
    let routers = v["routers"].as_array().unwrap();
    assert_eq!(routers.len(), 4);
    for r in routers {
        for field in [
            "x",
            "y",
            "routed",
            "dropped",
            "emergency_routed",
            "link_packets",
        ] {
            assert!(!r[field].is_null(), "router report has {field}: {r}");
        }
    }
    let last = &v["cores"][4 * 17 - 1];
    assert_eq!(
        (last["x"].as_u64(), last["y"].as_u64(), last["p"].as_u64()),
        (Some(1), Some(1), Some(17))
    );
    assert_eq!(last["iobuf"], "hello from core 17 on chip 1,1\n");

    let ranged = format!("0-1,0,2-3={hello}");
    let (code, out, _) = spinn(&["run", "--machine", "2x2", "--load", &ranged, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cores"].as_array().unwrap().len(), 4);

    let routes = tmp(
        "routes.txt",
        b"# fine\n0 0 0x10000 0xFFFF0000 0x80\n0 0 oops 1 1\n",
    );
    let (code, _, err) = spinn(&["run", &hello, "--routes", &routes]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{routes}:3: `oops` is not a number")),
        "{err}"
    );

    for (args, says) in [
        (
            vec!["run", "--machine", "nowhere.json", &hello],
            "cannot read",
        ),
        (
            vec!["run", "--machine", "spinn3", "--load", "5,5,1=x.elf"],
            "cannot read",
        ),
        (
            vec![
                "run",
                "--machine",
                "spinn3",
                "--load",
                &format!("5,5,1={hello}"),
            ],
            "no chip (5,5)",
        ),
        (
            vec!["run", "--machine", "spinn3", "--load", "1,1"],
            "expected X,Y,P=ELF",
        ),
        (vec!["run", "--machine", "spinn3"], "nothing to run"),
    ] {
        let (code, _, err) = spinn(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn traces_export_to_perfetto_json_give_stats_and_diff() {
    let dir = std::env::temp_dir().join(format!("spinn-cli-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.trc").display().to_string();
    let b = dir.join("b.trc").display().to_string();
    let c = dir.join("c.trc").display().to_string();
    let pp = elf("pingpong");
    assert_eq!(spinn(&["run", &pp, "--core", "1,2", "--trace", &a]).0, 0);
    assert_eq!(spinn(&["run", &pp, "--core", "1,2", "--trace", &b]).0, 0);
    assert_eq!(
        spinn(&[
            "run",
            &pp,
            "--core",
            "1,2",
            "--trace",
            &c,
            "--trace-kinds",
            "send,deliver",
            "--trace-from",
            "1100"
        ])
        .0,
        0
    );

    // Perfetto: valid trace-event JSON, every event with the fields the format requires.
    let json = dir.join("a.json").display().to_string();
    let (code, _, err) = spinn(&["trace", "export", &a, "--perfetto", &json]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    let events = v["traceEvents"].as_array().expect("traceEvents array");
    assert!(events.len() > 400);
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        assert!(
            e["pid"].is_u64() && e["tid"].is_u64() && e["name"].is_string(),
            "{e}"
        );
        if ph != "M" {
            assert!(e["ts"].is_number(), "{e}");
        }
    }
    let count = |ph: &str| events.iter().filter(|e| e["ph"] == ph).count();
    assert_eq!(count("B"), count("E"), "balanced interrupt spans");
    assert_eq!(count("s"), 202, "one flow per packet");

    let (code, out, _) = spinn(&["trace", "stats", &a]);
    assert_eq!(code, 0);
    assert!(out.contains("202 sent, 202 delivered"), "{out}");
    let (code, out, _) = spinn(&["trace", "stats", &a, "--json"]);
    assert_eq!(code, 0);
    serde_json::from_str::<serde_json::Value>(&out).expect("stats JSON");

    // Two runs trace the same bytes; a filtered one differs from the first record.
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let (code, out, _) = spinn(&["trace", "diff", &a, &b]);
    assert_eq!((code, out.starts_with("identical")), (0, true), "{out}");
    let (code, out, _) = spinn(&["trace", "diff", &a, &c]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("first difference at record 0:"), "{out}");
    // c keeps sends and deliveries only: its first record is one of those.
    assert!(
        out.contains("state INIT (4)")
            && (out.contains("sends MC key") || out.contains("receives key")),
        "{out}"
    );

    // Filters keep only what they name: sends and deliveries after 1.1 ms.
    let records = spinn_sim::trace::read_all(&std::fs::read(&c).unwrap()[..]).unwrap();
    assert!(!records.is_empty());
    for r in &records {
        assert!(
            matches!(
                r.event,
                spinn_sim::trace::Event::Send { .. } | spinn_sim::trace::Event::Deliver { .. }
            ),
            "{r:?}"
        );
        assert!(r.cycle >= 1100 * 200, "{r:?}");
    }

    let bad = tmp("bad.trc", b"not a trace");
    let (code, _, err) = spinn(&["trace", "stats", &bad]);
    assert_eq!(code, 2);
    assert!(err.contains("not a spinn trace"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn traces_show_dma_interrupts_callbacks_and_sleep() {
    use spinn_sim::trace::{read_all, Event};
    let path = std::env::temp_dir().join(format!("spinn-dma-{}.trc", std::process::id()));
    let p = path.display().to_string();
    assert_eq!(
        spinn(&["run", &elf("dma"), "--core", "2", "--trace", &p]).0,
        0
    );
    let records = read_all(&std::fs::read(&path).unwrap()[..]).unwrap();
    let _ = std::fs::remove_file(&path);
    let starts: Vec<u64> = records
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                Event::DmaStart {
                    p: 2,
                    bytes: 1024,
                    ..
                }
            )
        })
        .map(|r| r.cycle)
        .collect();
    let dones: Vec<u64> = records
        .iter()
        .filter(|r| matches!(r.event, Event::DmaDone { p: 2 }))
        .map(|r| r.cycle)
        .collect();
    assert_eq!((starts.len(), dones.len()), (2, 2), "{records:?}");
    assert!(starts[0] < dones[0] && dones[0] <= starts[1] && starts[1] < dones[1]);
    // Each completion raises DMA_DONE (source 12) and runs the DMA_TRANSFER_DONE callback (1).
    assert_eq!(
        records
            .iter()
            .filter(|r| matches!(
                r.event,
                Event::Interrupt {
                    p: 2,
                    fiq: false,
                    source: 12
                }
            ))
            .count(),
        2
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| matches!(
                r.event,
                Event::Callback {
                    p: 2,
                    event: 1,
                    enter: true
                }
            ))
            .count(),
        2
    );
    assert!(records
        .iter()
        .any(|r| matches!(r.event, Event::Sleep { p: 2 })));
    assert!(
        records
            .iter()
            .any(|r| matches!(r.event, Event::State { p: 2, state: 11 })),
        "EXIT traced"
    );
}

fn model(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(format!("{name}.toml"))
        .display()
        .to_string()
}

#[test]
fn train_predict_and_evaluate_a_model_file() {
    let weights = tmp("xor.weights.json", b"");
    let (code, out, err) = spinn(&[
        "train",
        &model("xor"),
        "--epochs",
        "40",
        "--weights",
        &weights,
        "--json",
        "--compare-host",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["history"]["loss"].as_array().unwrap().len(), 40);
    assert_eq!(v["history"]["accuracy"].as_array().unwrap().len(), 40);
    for key in ["test_accuracy", "host_time_s"] {
        assert!(v[key].as_f64().is_some(), "{key} in {out}");
    }
    for key in ["sim_time_ns", "cores", "packets", "dropped"] {
        assert!(v[key].as_u64().is_some(), "{key} in {out}");
    }
    assert_eq!(v["cores"], 4);
    // As many samples in flight as DTCM holds: the most there are slots for.
    assert_eq!(v["pipeline_depth"], 8);
    assert_eq!(v["dropped"], 0);
    assert_eq!(v["host_reference"]["within_tolerance"], true);

    let (code, out, err) = spinn(&["evaluate", &model("xor"), "--weights", &weights, "--json"]);
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["samples"], 4);
    assert_eq!(
        e["accuracy"], v["test_accuracy"],
        "evaluate agrees with train's held-out figure"
    );
    let (code, out, err) = spinn(&["predict", &model("xor"), "--weights", &weights]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");

    // Lost packets, one sample at a time: recovered, counted, and the same weights.
    let lossy = tmp("xor.lossy.json", b"");
    let (code, out, err) = spinn(&[
        "train",
        &model("xor"),
        "--epochs",
        "40",
        "--weights",
        &lossy,
        "--json",
        "--drop-every",
        "17",
        "--pipeline-depth",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let l: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(l["pipeline_depth"], 1);
    assert!(
        l["dropped"].as_u64().unwrap() > 0 && l["resend_requests"].as_u64().unwrap() > 0,
        "{out}"
    );
    assert_eq!(
        std::fs::read(&weights).unwrap(),
        std::fs::read(&lossy).unwrap()
    );
}

#[test]
fn train_in_fixed_point() {
    let weights = tmp("xor.s1615.json", b"");
    let args = |numbers: &'static str| {
        [
            "train",
            "MODEL",
            "--epochs",
            "40",
            "--weights",
            "W",
            "--json",
            "--arithmetic",
            numbers,
        ]
    };
    let xor = model("xor");
    let run = |numbers| {
        let a = args(numbers).map(|a| match a {
            "MODEL" => xor.as_str(),
            "W" => weights.as_str(),
            other => other,
        });
        spinn(&a)
    };
    let (code, out, err) = run("s16.15");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["arithmetic"], "s16.15");
    assert_eq!(v["history"]["loss"].as_array().unwrap().len(), 40);
    let (code, _, err) = run("float16");
    assert_eq!(code, 2);
    assert!(err.contains("float32") && err.contains("s16.15"), "{err}");
}

#[test]
fn train_refuses_bad_input_with_status_2() {
    let bad = tmp("bad.toml", b"name = \"x\"\n[model]\ninputs = 2\n");
    // Weights of the right shapes for xor, but labelled as another model's.
    let weights = serde_json::json!({
        "model": "not_xor",
        "layers": [[2, 4], [4, 1]],
        "weights": [vec![0.5; 8], vec![0.0; 4], vec![0.5; 4], vec![0.0; 1]],
    });
    let other_weights = tmp("other.weights.json", weights.to_string().as_bytes());
    for (args, needle) in [
        (vec!["train", "/nonexistent/m.toml"], "/nonexistent/m.toml"),
        (vec!["train", bad.as_str()], "bad.toml"),
        (vec!["train", &model("xor"), "--target", "board"], "--host"),
        (
            vec![
                "train",
                &model("xor"),
                "--target",
                "board",
                "--host",
                "127.0.0.1:9",
            ],
            "no reply",
        ),
        (
            vec!["train", &model("xor"), "--machine", "nonsense"],
            "--machine",
        ),
        (
            vec![
                "evaluate",
                &model("xor"),
                "--weights",
                "/nonexistent/w.json",
            ],
            "/nonexistent/w.json",
        ),
        (
            vec!["evaluate", &model("xor"), "--weights", &other_weights],
            "weights of model `not_xor`, not of `xor`",
        ),
    ] {
        let (code, _, err) = spinn(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = spinn(&[
        "train",
        &model("xor"),
        "--epochs",
        "1",
        "--firmware",
        "/nonexistent/nn.elf",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/nn.elf"), "{err}");
    let (code, _, err) = spinn(&[
        "train",
        &model("digits"),
        "--epochs",
        "1",
        "--machine",
        "single",
        "--units-per-core",
        "1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cores"), "{err}");
    // A fault on the machine: the bare app is no nn firmware; it stops, and the run says where.
    let (code, _, err) = spinn(&[
        "train",
        &model("xor"),
        "--epochs",
        "1",
        "--firmware",
        &elf("fault_undef"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("RTE"), "{err}");
}

/// Long enough for a debug build on a busy host, short of a run that builds a machine of
/// thousands of chips: a guard against hangs, not a measurement.
const REFUSAL_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

#[test]
fn runs_the_host_cannot_hold_are_refused_before_building_with_status_2() {
    use spinn_sim::budget::{Estimate, AVAILABLE_VAR, USABLE_PERCENT};
    let hello = elf("hello");
    let all = format!("all={hello}");
    // Every core of 1,000 boards: an emulator each, terabytes on any host (its real figure).
    let (code, out, err) = spinn_within(
        &["run", &hello, "--machine", "boards:1000", "--load", &all],
        &[],
        REFUSAL_LIMIT,
    );
    assert_eq!(code, 2, "{out}{err}");
    for needle in [
        "spinn: this run needs about 2.0 TiB of host memory",
        "48000 chips at 400 KiB each",
        "816000 loaded cores at 2.5 MiB each",
        "load fewer cores",
        "--threads do not change it",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.is_empty(), "{out}");

    // boards:1000 with one core: about 18 GiB, refused on a host with 4 GiB (whether or not
    // this host could hold it, it must never hang or be killed).
    let small = [(AVAILABLE_VAR, "4G")];
    let (code, _, err) = spinn_within(
        &["run", &hello, "--machine", "boards:1000", "--threads", "4"],
        &small,
        REFUSAL_LIMIT,
    );
    assert_eq!(code, 2, "{err}");
    for needle in [
        "needs about 18.",
        "48000 chips",
        "1 loaded core at",
        "4.0 GiB available (SPINN_MEMORY_AVAILABLE",
        "fewer boards",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    assert!(!err.contains("load fewer cores"), "{err}");
    // `spinn test` goes the same way.
    let (code, _, err) = spinn_within(
        &[
            "test",
            "--golden",
            "/nonexistent.golden",
            "--bless",
            &hello,
            "--machine",
            "boards:1000",
        ],
        &small,
        REFUSAL_LIMIT,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("48000 chips"), "{err}");

    // The simulator target of `spinn train`: the machine before it is built...
    let (code, _, err) = spinn_within(
        &["train", &model("xor"), "--machine", "boards:1000"],
        &small,
        REFUSAL_LIMIT,
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("48000 chips") && err.lines().count() == 1,
        "{err}"
    );
    // ...and the network's cores before the first is loaded: room for spinn3's chips, not for
    // the 4 cores xor takes.
    let need = |cores| {
        Estimate {
            chips: 4,
            cores,
            threads: 1,
        }
        .bytes()
    };
    let available = (need(0) + need(4)) / 2 * 100 / USABLE_PERCENT;
    let available = available.to_string();
    let weights = tmp("refused.weights.json", b"");
    let (code, _, err) = spinn_within(
        &[
            "train",
            &model("xor"),
            "--epochs",
            "1",
            "--weights",
            &weights,
        ],
        &[(AVAILABLE_VAR, &available)],
        REFUSAL_LIMIT,
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("4 chips")
            && err.contains("4 loaded cores")
            && err.contains("load fewer cores"),
        "{err}"
    );
    assert_eq!(std::fs::read(&weights).unwrap(), b"", "nothing trained");

    // A figure that is no size.
    let (code, _, err) = spinn_within(&["run", &hello], &[(AVAILABLE_VAR, "lots")], REFUSAL_LIMIT);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SPINN_MEMORY_AVAILABLE=`lots`"), "{err}");
}

#[test]
fn a_model_with_a_billion_unit_layer_is_refused_before_it_allocates() {
    let text = std::fs::read_to_string(model("xor")).unwrap().replacen(
        "units = 4,",
        "units = 1_000_000_000,",
        1,
    );
    assert!(
        text.contains("1_000_000_000"),
        "xor.toml's first layer: {text}"
    );
    let path = tmp("huge.toml", text.as_bytes());
    let (code, out, err) = spinn_within(&["train", &path], &[], REFUSAL_LIMIT);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(
            "huge.toml: model.layers[0]: a Dense layer on inputs [2] has 3000000000 weights"
        ),
        "{err}"
    );
    assert!(
        err.contains("at most 67108864") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn run_takes_aplx_files_by_content() {
    // hello as APLX (by the project's converter), under a name that says nothing of its kind.
    let hello =
        spinn_hw::program::Program::from_file(&common::root().join("firmware/build/hello.elf"))
            .unwrap();
    let dir = std::env::temp_dir().join(format!("spinn-cli-aplx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let aplx = dir.join("hello.bin");
    std::fs::write(&aplx, hello.to_aplx().unwrap()).unwrap();
    let (code, text, err) = spinn(&[
        "run",
        aplx.to_str().unwrap(),
        "--core",
        "2",
        "--load",
        &format!("0,0,3={}", aplx.display()),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("hello from core 2 on chip 0,0")
            && text.contains("hello from core 3 on chip 0,0"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_that_cannot_be_written_ends_the_command_with_status_2() {
    // A reader that has gone (`spinn run ... | head -c1` once head has exited), and a full disk.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    for json in [false, true] {
        let outs: [(&str, std::process::Stdio); 2] = [
            ("Broken pipe", writer.try_clone().unwrap().into()),
            (
                "No space left on device",
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap()
                    .into(),
            ),
        ];
        for (why, stdout) in outs {
            let mut args = vec!["run".to_string(), elf("hello")];
            if json {
                args.push("--json".into());
            }
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_spinn"))
                .args(&args)
                .stdout(stdout)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{why}, json {json}: {err}");
            assert!(
                err.contains("spinn: cannot write the output:") && err.contains(why),
                "{err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn input_files_are_checked_for_kind_and_size_before_they_are_read() {
    let dir = std::env::temp_dir().join(format!("spinn-cli-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // A 3 GB file that takes no space: refused by its size, not read.
    let big = dir.join("big.elf");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let (fifo, big) = (fifo.display().to_string(), big.display().to_string());
    let hello = elf("hello");
    let not_regular = "not a regular file (a FIFO, socket or device)";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "/dev/zero"], not_regular),
        (vec!["run", &fifo], not_regular),
        (
            vec!["run", &big],
            "3221225472 bytes, more than the 67108864",
        ),
        (vec!["run", &hello, "--routes", &fifo], not_regular),
        (vec!["run", &hello, "--machine", "/dev/zero"], not_regular),
        (vec!["test", &hello, "--golden", &fifo], not_regular),
        (vec!["trace", "stats", "/dev/zero"], not_regular),
        (vec!["train", &fifo], not_regular),
    ];
    for (args, why) in cases {
        let (code, _, err) = spinn_within(&args, &[], std::time::Duration::from_secs(60));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_paths_are_checked_before_a_long_run() {
    // digits trains for minutes: the refusal comes at once, before training.
    let digits = model("digits");
    for (args, why) in [
        (
            vec!["train", &digits, "--weights", "/nonexistent/w.json"],
            "/nonexistent/w.json: cannot write: No such file or directory",
        ),
        (
            vec!["train", &digits, "--weights", "/tmp"],
            "/tmp: cannot write: a directory",
        ),
    ] {
        let (code, _, err) = spinn_within(&args, &[], std::time::Duration::from_secs(20));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(why), "{err}");
    }
    let hello = elf("hello");
    let (code, _, err) = spinn(&["test", &hello, "--golden", "/tmp", "--bless"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/tmp: cannot write: a directory"), "{err}");
}

#[test]
fn a_trace_cut_short_is_read_as_far_as_it_is_complete() {
    let dir = std::env::temp_dir().join(format!("spinn-cli-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let full = dir.join("full.trc");
    let (code, _, err) = spinn(&[
        "run",
        &elf("pingpong"),
        "--core",
        "1,2",
        "--trace",
        &full.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.join("cut.trc");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let (code, out, err) = spinn(&["trace", "stats", &cut.display().to_string(), "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the trace ends inside a record at byte")
            && err.contains("complete records before it"),
        "{err}"
    );
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(stats.is_object());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_keeps_the_data_file_s_order_and_names_each_row() {
    // Weights of iris's shapes (4-16-3), not trained but different for every unit.
    let w = |n: usize, k: f32| (0..n).map(|i| (i as f32 * k).sin()).collect::<Vec<f32>>();
    let weights = serde_json::json!({
        "model": "iris",
        "layers": [[4, 16], [16, 3]],
        "weights": [w(64, 0.7), w(16, 0.3), w(48, 1.3), w(3, 0.5)],
    });
    let weights = tmp("iris.weights.json", weights.to_string().as_bytes());
    let iris =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/iris.csv"))
            .unwrap();
    let rows: Vec<&str> = iris.lines().skip(1).collect();
    // Rows of all three classes, then the same rows backwards.
    let picked = [rows[0], rows[60], rows[120], rows[1], rows[100]];
    let file = |name: &str, rows: &[&str]| {
        let text = format!(
            "{},4,setosa,versicolor,virginica\n{}\n",
            rows.len(),
            rows.join("\n")
        );
        tmp(name, text.as_bytes())
    };
    let forward = file("five.csv", &picked);
    let mut backward = picked;
    backward.reverse();
    let backward = file("five_backward.csv", &backward);
    let predict = |data: &str| {
        let (code, out, err) = spinn(&[
            "predict",
            &model("iris"),
            "--weights",
            &weights,
            "--data",
            data,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let rows: Vec<u64> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_u64().unwrap())
            .collect();
        let p: Vec<Vec<f64>> = v["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(common::numbers)
            .collect();
        (rows, p)
    };
    let (rows_f, p_f) = predict(&forward);
    let (rows_b, mut p_b) = predict(&backward);
    assert_eq!(rows_f, [0, 1, 2, 3, 4]);
    assert_eq!(rows_b, [0, 1, 2, 3, 4]);
    p_b.reverse();
    for (a, b) in p_f.iter().zip(&p_b) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{p_f:?}\n{p_b:?}");
        }
    }
    assert!(
        p_f[0] != p_f[1],
        "different rows, different outputs: {p_f:?}"
    );
    // One row in, one prediction out.
    let (rows_1, p_1) = predict(&file("one.csv", &picked[..1]));
    assert_eq!((rows_1, p_1.len()), (vec![0], 1));
}

#[test]
fn a_table_of_your_own_trains_and_new_rows_are_scaled_as_the_training_rows() {
    // Iris as a user would have it: a header, the class by name in a column of its own.
    let names = ["setosa", "versicolor", "virginica"];
    let iris =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/iris.csv"))
            .unwrap();
    let rows: Vec<String> = iris
        .lines()
        .skip(1)
        .map(|l| {
            let (features, class) = l.rsplit_once(',').unwrap();
            let class: usize = class.parse().unwrap();
            format!("{},{features}", names[class])
        })
        .collect();
    let table = |name: &str, rows: &[String]| {
        let text = format!(
            "species,sepal length,sepal width,petal length,petal width\n{}\n",
            rows.join("\n")
        );
        tmp(name, text.as_bytes())
    };
    let all = table("iris_table.csv", &rows);
    let spec = format!(
        "name = \"iris_table\"\n[data]\nfile = {all:?}\nformat = \"csv\"\nlabel = \"species\"\n\
         test_fraction = 0.3\nsplit_seed = 1\n[model]\ninputs = 4\nlayers = [ {{ units = 16, \
         activation = \"relu\" }}, {{ units = 3, activation = \"softmax\" }} ]\n\
         loss = \"categorical_crossentropy\"\n[training]\noptimizer = \"sgd\"\n\
         learning_rate = 0.05\nbatch_size = 16\nepochs = 50\ninit_seed = 3\nshuffle_seed = 9\n"
    );
    let spec = tmp("iris_table.toml", spec.as_bytes());
    let weights = tmp("iris_table.weights.json", b"");
    let (code, out, err) = spinn(&["train", &spec, "--weights", &weights, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["test_accuracy"].as_f64().unwrap() >= 0.9, "{out}");
    let w: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&weights).unwrap()).unwrap();
    assert_eq!(w["classes"], serde_json::json!(names));
    assert_eq!(w["normalisation"]["mean"].as_array().unwrap().len(), 4);

    // Three clearly virginica rows on their own: scaled with the training split's statistics
    // (not their own), all three come back as virginica.
    let three = table("three.csv", &rows[140..143]);
    let run = |cmd: &str, data: &str| {
        let (code, out, err) =
            spinn(&[cmd, &spec, "--weights", &weights, "--data", data, "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let p = run("predict", &three);
    assert_eq!(
        p["classes"],
        serde_json::json!(["virginica", "virginica", "virginica"]),
        "{p}"
    );
    // The whole table in file order: predict's classes against the labels give evaluate's
    // accuracy on the same rows.
    let p = run("predict", &all);
    let classes = p["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 150);
    let right = classes
        .iter()
        .zip(&rows)
        .filter(|(c, r)| r.starts_with(c.as_str().unwrap()))
        .count();
    let e = run("evaluate", &all);
    assert_eq!(e["samples"], 150);
    let accuracy = e["accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - right as f64 / 150.0).abs() < 1e-6,
        "{accuracy} against {right}/150"
    );
}
