// SPDX-License-Identifier: GPL-2.0-or-later
//! Fingerprints of a run for bit-exact firmware regression.
//!
//! A fingerprint is text, one fact per line (`key: value`), so golden files diff well: every
//! loaded core's state, cycles, instructions, registers, TCM digests, user words and IOBUF text;
//! every chip's System RAM digest and a digest per 64 KiB SDRAM block in use; router counters
//! and link traffic; and (added by `spinn test`) a digest of the run's packet trace. Comparing
//! two names the first fact that differs.

use std::collections::BTreeMap;

use unicorn_engine::RegisterARM;

use crate::chip::memory::{SDRAM_BASE, SDRAM_SIZE};
use crate::chip::Chip;

/// Size of the SDRAM blocks digested separately (only blocks holding a non-zero byte appear).
pub const SDRAM_BLOCK: usize = 0x1_0000;

/// First line of a golden file.
pub const HEADER: &str = "# spinn golden fingerprint v1";

const REGS: [(RegisterARM, &str); 17] = [
    (RegisterARM::R0, "r0"),
    (RegisterARM::R1, "r1"),
    (RegisterARM::R2, "r2"),
    (RegisterARM::R3, "r3"),
    (RegisterARM::R4, "r4"),
    (RegisterARM::R5, "r5"),
    (RegisterARM::R6, "r6"),
    (RegisterARM::R7, "r7"),
    (RegisterARM::R8, "r8"),
    (RegisterARM::R9, "r9"),
    (RegisterARM::R10, "r10"),
    (RegisterARM::R11, "r11"),
    (RegisterARM::R12, "r12"),
    (RegisterARM::SP, "sp"),
    (RegisterARM::LR, "lr"),
    (RegisterARM::PC, "pc"),
    (RegisterARM::CPSR, "cpsr"),
];

/// The fingerprint lines of one chip, in a fixed order.
pub fn chip_lines(chip: &Chip) -> Vec<String> {
    let (x, y) = (chip.x, chip.y);
    let mut out = Vec::new();
    for r in chip.reports() {
        let id = format!("core {x},{y},{}", r.p);
        let core = chip.core(r.p).expect("reported cores are loaded");
        out.push(format!(
            "{id}: state {} rt_code {} cycles {} instructions {}",
            r.state, r.rt_code, r.cycles, r.instructions
        ));
        out.push(format!(
            "{id} user: {:#x} {:#x} {:#x} {:#x}",
            r.user[0], r.user[1], r.user[2], r.user[3]
        ));
        let regs: Vec<String> = REGS
            .iter()
            .map(|(reg, name)| format!("{name}={:#x}", core.reg(*reg)))
            .collect();
        out.push(format!("{id} regs: {}", regs.join(" ")));
        out.push(format!("{id} itcm: {:016x}", core.state().itcm.digest()));
        out.push(format!("{id} dtcm: {:016x}", core.state().dtcm.digest()));
        out.push(format!("{id} iobuf: \"{}\"", r.iobuf.escape_debug()));
    }
    out.push(format!(
        "chip {x},{y} sysram: {:016x}",
        chip.sysram_digest()
    ));
    let mut block = vec![0u8; SDRAM_BLOCK];
    for b in 0..SDRAM_SIZE as usize / SDRAM_BLOCK {
        let addr = SDRAM_BASE + (b * SDRAM_BLOCK) as u32;
        chip.read_system(addr, &mut block);
        if block.iter().any(|&v| v != 0) {
            out.push(format!(
                "chip {x},{y} sdram {addr:#010x}: {:016x}",
                digest(&block)
            ));
        }
    }
    let c = chip.router_counters();
    out.push(format!(
        "router {x},{y}: routed {} dropped {} emergency {} mc {} p2p {} nn {} fr {} links {:?}",
        c.routed,
        c.dropped,
        c.emergency_routed,
        c.mc,
        c.p2p,
        c.nn,
        c.fr,
        chip.link_packets()
    ));
    out
}

/// 64-bit FNV-1a over bytes.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where two fingerprints first part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The fact (`core 0,0,1 user`, `chip 0,0 sdram 0x60240000`, ...).
    pub key: String,
    /// Its value in the golden file (None: the golden file does not have it).
    pub expected: Option<String>,
    /// Its value in this run (None: this run does not have it).
    pub actual: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.expected, &self.actual) {
            (Some(e), Some(a)) => write!(f, "{}: expected {e}, got {a}", self.key),
            (Some(e), None) => write!(f, "{}: expected {e}, missing from this run", self.key),
            (None, Some(a)) => write!(f, "{}: not in the golden file, this run has {a}", self.key),
            (None, None) => write!(f, "{}", self.key),
        }
    }
}

fn split(line: &str) -> (&str, &str) {
    line.split_once(": ").unwrap_or((line, ""))
}

/// The golden file text for `lines`.
pub fn to_text(lines: &[String]) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// The first fact that differs between a golden file's text and this run's lines, in the
/// golden file's order (facts only this run has come after); None when identical.
/// Err when the text is not a golden fingerprint.
pub fn first_difference(golden: &str, lines: &[String]) -> Result<Option<Difference>, String> {
    let mut it = golden.lines();
    if it.next() != Some(HEADER) {
        return Err(format!(
            "not a spinn golden file (its first line is not `{HEADER}`)"
        ));
    }
    // The whole file is checked first: a damaged golden file is bad input, not a difference.
    let mut facts: Vec<(&str, &str)> = Vec::new();
    let mut first_line: BTreeMap<&str, usize> = BTreeMap::new();
    for (n, line) in it.enumerate().map(|(i, l)| (i + 2, l)) {
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(": ").filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("line {n}: not a fact (`KEY: VALUE`): `{line}`"));
        };
        if let Some(first) = first_line.insert(key, n) {
            return Err(format!("line {n}: `{key}` again (first on line {first})"));
        }
        facts.push((key, value));
    }
    let actual: BTreeMap<&str, &str> = lines.iter().map(|l| split(l)).collect();
    for (key, expected) in facts {
        match actual.get(key) {
            Some(&a) if a == expected => {}
            a => {
                return Ok(Some(Difference {
                    key: key.to_string(),
                    expected: Some(expected.to_string()),
                    actual: a.map(|s| s.to_string()),
                }))
            }
        }
    }
    Ok(lines
        .iter()
        .map(|l| split(l))
        .find(|(k, _)| !first_line.contains_key(k))
        .map(|(k, v)| Difference {
            key: k.to_string(),
            expected: None,
            actual: Some(v.to_string()),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn identical_fingerprints_have_no_difference() {
        let l = lines(&["core 0,0,1: state EXIT", "chip 0,0 sysram: 00ff"]);
        assert_eq!(first_difference(&to_text(&l), &l), Ok(None));
    }

    #[test]
    fn names_the_first_differing_fact() {
        let golden = to_text(&lines(&["a: 1", "b: 2", "c: 3"]));
        let d = first_difference(&golden, &lines(&["a: 1", "b: 5", "c: 4"]))
            .unwrap()
            .unwrap();
        assert_eq!(d.to_string(), "b: expected 2, got 5");
        let d = first_difference(&golden, &lines(&["a: 1", "c: 3"]))
            .unwrap()
            .unwrap();
        assert_eq!(d.to_string(), "b: expected 2, missing from this run");
        let d = first_difference(&golden, &lines(&["a: 1", "b: 2", "c: 3", "d: 9"]))
            .unwrap()
            .unwrap();
        assert_eq!(d.to_string(), "d: not in the golden file, this run has 9");
        assert!(first_difference("garbage\n", &[]).is_err());
    }

    #[test]
    fn a_damaged_golden_file_is_an_error_not_a_difference() {
        let run = lines(&["a: 1", "b: 2"]);
        let garbled = format!("{HEADER}\na: 1\nb 2\n");
        assert_eq!(
            first_difference(&garbled, &run),
            Err("line 3: not a fact (`KEY: VALUE`): `b 2`".into())
        );
        let twice = format!("{HEADER}\na: 1\nb: 2\na: 1\n");
        assert_eq!(
            first_difference(&twice, &run),
            Err("line 4: `a` again (first on line 2)".into())
        );
    }
}
