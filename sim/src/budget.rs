// SPDX-License-Identifier: GPL-2.0-or-later
//! The host memory a run needs, estimated before anything is built, and the refusal of runs the
//! host cannot hold (rather than a machine that grows until the kernel kills it).
//!
//! The estimate counts what stays resident: every chip's blocks and every loaded core's
//! emulator. A chip's 128 MiB of SDRAM is allocated zeroed, so only the pages written cost host
//! memory (at boot, SC&MP's hop table and heaps); what applications later write into SDRAM is
//! theirs and not foreseen here. The figures were measured with `cargo bench --bench
//! build_machine` (release build, Linux x86-64, Debian's Unicorn 2.0.1), as the constants say.
//!
//! The host's share is `MemAvailable` from `/proc/meminfo`, lowered to what a cgroup memory
//! limit leaves, or the value of the environment variable [`AVAILABLE_VAR`] when it is set (to
//! keep a run to less than the whole host, or to try refusals). A run may take
//! [`USABLE_PERCENT`] of it; the rest is left to the host. Where none of these can be read,
//! nothing is refused.

use std::fmt;

use crate::chip::router::p2p::P2P_CACHE_BYTES;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// Host bytes one chip keeps once the machine is built: measured 365–387 KiB per chip after
/// `Machine::new` of boards:12, 48 and 192 (resident set before and after, divided by the
/// chips): SC&MP's 256 KiB hop table and the heaps' pages in SDRAM, 32 KiB of System RAM, the
/// router's 32 KiB P2P and 12 KiB multicast tables, and the chip's own structures.
pub const CHIP_BYTES: u64 = 400 * KIB;

/// Host bytes one loaded core keeps: measured with our engine (engine/patches/0002) 2,306 KiB
/// per core after loading 768 cores (16 on each chip of a SpiNN-5 board) and 2,438–2,452 KiB
/// after running them for 100 ms (hello, idle and fabric firmware; `CORES_ELF=… cargo bench
/// --bench build_machine`). Nearly all of it is the Unicorn engine (its translation cache and
/// soft MMU), the rest the core's ITCM, DTCM and cost tables.
pub const CORE_BYTES: u64 = 5 * MIB / 2;

/// Memory mappings one loaded core's engine makes: measured 4.00 per core (lines of
/// `/proc/self/maps`, same runs as [`CORE_BYTES`]; 4.33 with the stock engine); chips make none of their own (their SDRAM
/// allocations merge).
pub const CORE_MAPPINGS: u64 = 5;

/// Host bytes of the simulator itself with no chip: measured 14 MiB resident for a
/// one-chip run of `hello` (binary, libraries, allocator), rounded up.
pub const BASE_BYTES: u64 = 32 * MIB;

/// Host bytes each host thread adds: the P2P destination tables it keeps
/// ([`P2P_CACHE_BYTES`]), its stack and the packets it passes on.
pub const THREAD_BYTES: u64 = P2P_CACHE_BYTES as u64 + 8 * MIB;

/// Memory mappings left for the process itself (its libraries, thread stacks, allocator
/// arenas): a few hundred are in use before the first core is loaded.
pub const BASE_MAPPINGS: u64 = 1024;

/// Share of the host's available memory that one run may take, in percent.
pub const USABLE_PERCENT: u64 = 90;

/// Environment variable that, when set, replaces the host's available memory: bytes, or a
/// number with a K, M, G or T suffix (powers of 1024), e.g. `8G`.
pub const AVAILABLE_VAR: &str = "SPINN_MEMORY_AVAILABLE";

/// What a run will hold in host memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Chips built.
    pub chips: u64,
    /// Cores loaded with an application (each an emulator).
    pub cores: u64,
    /// Host threads the chips are spread over.
    pub threads: u64,
}

impl Estimate {
    /// Host bytes the run needs.
    pub fn bytes(&self) -> u64 {
        BASE_BYTES
            .saturating_add(self.threads.saturating_mul(THREAD_BYTES))
            .saturating_add(self.chips.saturating_mul(CHIP_BYTES))
            .saturating_add(self.cores.saturating_mul(CORE_BYTES))
    }

    /// Memory mappings the run needs.
    pub fn mappings(&self) -> u64 {
        BASE_MAPPINGS.saturating_add(self.cores.saturating_mul(CORE_MAPPINGS))
    }

    /// Refuses the run when `host` cannot hold it (nothing is refused for what `host` does
    /// not know).
    pub fn check(&self, host: &Host) -> Result<(), BudgetError> {
        if let Some(available) = host.available {
            let usable = available / 100 * USABLE_PERCENT;
            if self.bytes() > usable {
                return Err(BudgetError::Memory {
                    estimate: *self,
                    available,
                    from: host.from,
                });
            }
        }
        if let Some(limit) = host.max_mappings {
            if self.mappings() > limit {
                return Err(BudgetError::Mappings {
                    estimate: *self,
                    limit,
                });
            }
        }
        Ok(())
    }
}

/// Refuses the run `estimate` describes when this host cannot hold it.
pub fn check(estimate: &Estimate) -> Result<(), BudgetError> {
    estimate.check(&Host::probe()?)
}

/// What the host can give a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    /// Bytes of memory available (None: unknown, nothing is refused for memory).
    pub available: Option<u64>,
    /// Where `available` comes from, for messages.
    pub from: &'static str,
    /// Memory mappings a process may make (`vm.max_map_count`; None: unknown).
    pub max_mappings: Option<u64>,
}

impl Host {
    /// Reads this host's figures: [`AVAILABLE_VAR`] if set, else `MemAvailable` lowered to
    /// what a cgroup memory limit leaves; `vm.max_map_count`.
    pub fn probe() -> Result<Host, BudgetError> {
        let max_mappings = read_number("/proc/sys/vm/max_map_count");
        if let Some(value) = std::env::var_os(AVAILABLE_VAR) {
            let value = value.to_string_lossy().into_owned();
            let bytes = parse_size(&value).ok_or(BudgetError::BadOverride { value })?;
            return Ok(Host {
                available: Some(bytes),
                from: AVAILABLE_VAR,
                max_mappings,
            });
        }
        let meminfo = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_available(&text));
        let (available, from) = match (meminfo, cgroup_room()) {
            (Some(m), Some(c)) if c < m => (Some(c), "the cgroup's memory limit"),
            (Some(m), _) => (Some(m), "MemAvailable"),
            (None, c) => (c, "the cgroup's memory limit"),
        };
        Ok(Host {
            available,
            from,
            max_mappings,
        })
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(KIB))
}

/// The first number in a file.
fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// What this process's cgroup memory limit still leaves (v2, then v1; as a container sees its
/// own cgroup at the root of the hierarchy), None without a limit.
fn cgroup_room() -> Option<u64> {
    let v2 = || {
        let max = read_number("/sys/fs/cgroup/memory.max")?;
        Some(max.saturating_sub(read_number("/sys/fs/cgroup/memory.current")?))
    };
    let v1 = || {
        let limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes")?;
        // "No limit" reads as a number near 2^63.
        if limit >= 1 << 60 {
            return None;
        }
        Some(limit.saturating_sub(read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes")?))
    };
    v2().or_else(v1)
}

/// Bytes written as `N` or `N` with a K, M, G or T suffix (powers of 1024, an optional `B` or
/// `iB` after it).
pub fn parse_size(text: &str) -> Option<u64> {
    let upper = text.trim().to_ascii_uppercase();
    let t = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, scale) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], KIB),
        'M' => (&t[..t.len() - 1], MIB),
        'G' => (&t[..t.len() - 1], GIB),
        'T' => (&t[..t.len() - 1], TIB),
        _ => (t, 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(scale)
}

/// Bytes for people: `400 KiB`, `5.0 MiB`, `17.9 GiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes >= TIB {
        format!("{:.1} TiB", b / TIB as f64)
    } else if bytes >= GIB {
        format!("{:.1} GiB", b / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.1} MiB", b / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A run the host cannot hold, refused before anything is built.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// More memory than the host has available.
    #[error("{}", memory_message(estimate, *available, from))]
    Memory {
        /// What the run would hold.
        estimate: Estimate,
        /// Bytes the host has available.
        available: u64,
        /// Where that figure comes from.
        from: &'static str,
    },
    /// More memory mappings than the host lets a process make.
    #[error(
        "this run needs about {} memory mappings ({} loaded cores at {CORE_MAPPINGS} each) but the host allows {limit} (vm.max_map_count): load fewer cores, or raise vm.max_map_count",
        estimate.mappings(),
        estimate.cores
    )]
    Mappings {
        /// What the run would hold.
        estimate: Estimate,
        /// Mappings the host allows.
        limit: u64,
    },
    /// The environment's figure for available memory is not a size.
    #[error("{AVAILABLE_VAR}=`{value}`: expected a size in bytes, e.g. 8G or 512M")]
    BadOverride {
        /// The variable's value.
        value: String,
    },
}

/// The refusal for memory: what the run needs and of what, what the host has, how to shrink it.
fn memory_message(e: &Estimate, available: u64, from: &str) -> String {
    let chips = e.chips.saturating_mul(CHIP_BYTES);
    let cores = e.cores.saturating_mul(CORE_BYTES);
    let need = e.bytes();
    let fewer_chips = (
        chips,
        "simulate fewer chips (fewer boards in boards:N, or a smaller --machine)".to_string(),
    );
    let fewer_cores = (
        cores,
        format!(
            "load fewer cores (each loaded core is an emulator of about {})",
            human(CORE_BYTES)
        ),
    );
    // Only what holds a good share of the need is worth shrinking; the larger share first.
    let mut advice: Vec<(u64, String)> = [fewer_chips, fewer_cores]
        .into_iter()
        .filter(|(bytes, _)| *bytes >= need / 10)
        .collect();
    advice.sort_by_key(|a| std::cmp::Reverse(a.0));
    let advice: Vec<String> = advice.into_iter().map(|(_, a)| a).collect();
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    format!(
        "this run needs about {} of host memory ({} at {} each: {}; {} at {} each: {}; {} for the simulator and its threads) but the host has {} available ({from}; a run may use {USABLE_PERCENT}% of it): {}; more or fewer --threads do not change it",
        human(need),
        plural(e.chips, "chip", "chips"),
        human(CHIP_BYTES),
        human(chips),
        plural(e.cores, "loaded core", "loaded cores"),
        human(CORE_BYTES),
        human(cores),
        human(need.saturating_sub(chips).saturating_sub(cores)),
        human(available),
        if advice.is_empty() {
            "the simulator itself does not fit".to_string()
        } else {
            advice.join(", or ")
        }
    )
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} chips, {} loaded cores, {} threads: about {}",
            self.chips,
            self.cores,
            self.threads,
            human(self.bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(available: u64) -> Host {
        Host {
            available: Some(available),
            from: "a test",
            max_mappings: Some(65530),
        }
    }

    #[test]
    fn everyday_runs_fit_in_a_few_gigabytes() {
        let few_gb = host(3 * GIB);
        for (chips, cores, threads) in [
            (1, 17, 2),
            (48, 17, 2),
            (48, 48 * 4, 2),
            (48 * 48, 16, 2),
            (48 * 12, 4, 16),
        ] {
            let e = Estimate {
                chips,
                cores,
                threads,
            };
            assert_eq!(e.check(&few_gb).map_err(|e| e.to_string()), Ok(()), "{e}");
        }
    }

    #[test]
    fn a_run_that_cannot_fit_is_refused_with_what_it_needs_and_how_to_shrink_it() {
        // Every application core of 1,000 boards.
        let e = Estimate {
            chips: 48_000,
            cores: 48_000 * 17,
            threads: 2,
        };
        let err = e.check(&host(16 * GIB)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BudgetError::Memory { .. }));
        assert!(text.starts_with("this run needs about 2.0 TiB"), "{text}");
        for needle in [
            "48000 chips at 400 KiB",
            "816000 loaded cores at 2.5 MiB",
            "16.0 GiB available (a test",
            "load fewer cores",
            "--threads do not change it",
        ] {
            assert!(text.contains(needle), "{needle:?} in {text}");
        }
        // Chips are a small share of that: only fewer cores is advised.
        assert!(!text.contains("fewer boards"), "{text}");
        assert!(!text.contains('\n'));
        // Both worth shrinking: the larger share is named first.
        let text = Estimate {
            chips: 10_000,
            cores: 2_000,
            threads: 2,
        }
        .check(&host(4 * GIB))
        .unwrap_err()
        .to_string();
        let (cores, chips) = (text.find("load fewer cores"), text.find("fewer boards"));
        assert!(
            cores.is_some() && chips.is_some() && cores < chips,
            "{text}"
        );
        // Chips alone: only fewer chips helps.
        let text = Estimate {
            chips: 48_000,
            cores: 1,
            threads: 1,
        }
        .check(&host(8 * GIB))
        .unwrap_err()
        .to_string();
        assert!(
            text.contains("48000 chips") && text.contains("1 loaded core at"),
            "{text}"
        );
        assert!(
            text.contains("fewer boards") && !text.contains("load fewer cores"),
            "{text}"
        );
        // Nothing is refused for what the host does not know.
        let unknown = Host {
            available: None,
            from: "nowhere",
            max_mappings: None,
        };
        assert!(e.check(&unknown).is_ok());
    }

    #[test]
    fn too_many_emulators_for_the_mapping_limit_are_refused() {
        let e = Estimate {
            chips: 4000,
            cores: 4000 * 17,
            threads: 8,
        };
        let roomy = host(u64::MAX / 2);
        let err = e.check(&roomy).unwrap_err();
        assert!(matches!(err, BudgetError::Mappings { .. }), "{err}");
        assert!(err.to_string().contains("vm.max_map_count"), "{err}");
    }

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(parse_size("8G"), Some(8 * GIB));
        assert_eq!(parse_size(" 512M "), Some(512 * MIB));
        assert_eq!(parse_size("2GiB"), Some(2 * GIB));
        assert_eq!(parse_size("1kb"), Some(KIB));
        assert_eq!(parse_size("12345"), Some(12345));
        for bad in ["", "G", "8X", "-1G", "1.5G", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
        assert_eq!(human(400 * KIB), "400 KiB");
        assert_eq!(human(5 * MIB), "5.0 MiB");
        assert_eq!(human(17 * GIB + GIB / 2), "17.5 GiB");
        assert_eq!(
            mem_available("MemTotal: 100 kB\nMemAvailable:    2048 kB\n"),
            Some(2 * MIB)
        );
        assert_eq!(mem_available("MemTotal: 100 kB\n"), None);
    }
}
