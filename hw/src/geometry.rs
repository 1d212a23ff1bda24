// SPDX-License-Identifier: GPL-2.0-or-later
//! Machine shapes and descriptions: which chips exist, how their links wrap, what is dead.
//!
//! Facts followed (all from `shared/docs/spinnaker-hardware.md`):
//! - §3.5: link numbers and deltas (0 E (+1,0), 1 NE (+1,+1), 2 N (0,+1), 3 W (−1,0),
//!   4 SW (−1,−1), 5 S (0,−1)), opposite link `(l+3)%6`, wrap-around `mod W`/`mod H`, the 2×2
//!   SpiNN-3 board with its 8 absent links, and the multi-board triad geometry (12×12 chips per
//!   triad, Ethernet chips at (0,0), (4,8), (8,4) mod 12; sizes 12w×12h wrapped or 12w+4×12h+4
//!   unwrapped).
//! - §9.1: the 48 chips of a SpiNN-5 board relative to its Ethernet chip.
//! - §9.2: the SpiNN-3 board (4 chips, Ethernet on (0,0)).
//! - §9.3: SpiNNMachine's virtual machines (size from a board count, down chips/cores/links).
//!
//! # Built-in machines ([`MachineDesc::parse`])
//! - `single`: one chip (0,0), no links.
//! - `spinn3`: the 4-chip board, 2×2 wrapped minus the 8 links of §3.5.
//! - `spinn5`: the 48-chip board, 8×8 without wrap-around.
//! - `WxH` (e.g. `8x8`): a W×H torus with every chip present, wrapped both ways.
//! - `boards:N`: N SpiNN-5 boards in triads (see [`MachineDesc::boards`]).
//! - anything else: a path to a JSON description file, in the format below.
//!
//! # JSON description files ([`MachineDesc::from_json`])
//! Either a built-in base with faults applied to it:
//! ```json
//! { "base": "spinn5",
//!   "dead_chips": [[7, 7]],
//!   "dead_cores": [[1, 1, 17], [3, 5, 17]],
//!   "dead_links": [[0, 0, 1]] }
//! ```
//! where `base` is one of `single`, `spinn3`, `spinn5`, `WxH`, `boards:N` (never a path), or a
//! fully explicit machine:
//! ```json
//! { "width": 4, "height": 2, "wrap": false,
//!   "chips": [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1], [1, 1]],
//!   "ethernet_chips": [[0, 0]],
//!   "dead_links": [[1, 0, 2]] }
//! ```
//! Rules:
//! - Exactly one of `base` or `width`+`height` must be given; `wrap`, `chips` and
//!   `ethernet_chips` belong to the explicit form only.
//! - Explicit form: `width`, `height` in 1..=255; `wrap` (both directions) defaults to `false`;
//!   `chips` defaults to every chip of the rectangle, must lie inside it and has no duplicates;
//!   `ethernet_chips` defaults to `[[0,0]]` when (0,0) is a chip (else none) and must name chips.
//! - `dead_chips` `[x, y]`, `dead_cores` `[x, y, p]` and `dead_links` `[x, y, link]` must name
//!   chips of the machine (before dead chips are removed); core 0 (the monitor) cannot be dead and
//!   cores are numbered 0..=17; links 0..=5. A dead link kills both directions. A dead Ethernet
//!   chip disappears from [`MachineDesc::ethernet_chips`].
//! - Unknown fields are an error.
//!
//! A [`MachineDesc`] serializes (serde) to the explicit form, which reads back to an equal value.
//!
//! Neighbour queries are O(1): a per-chip table is rebuilt whenever the description changes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Link numbers: 0 E (+1,0), 1 NE (+1,+1), 2 N (0,+1), 3 W (-1,0), 4 SW (-1,-1), 5 S (0,-1).
pub const LINK_DELTAS: [(i32, i32); 6] = [(1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1)];

/// Number of inter-chip links per chip.
pub const N_LINKS: u8 = 6;

/// Number of physical cores per chip (core 0 is the monitor).
pub const CORES_PER_CHIP: u8 = 18;

/// Width and height (in chips) of one triad of three SpiNN-5 boards (§3.5).
pub const TRIAD: u8 = 12;

/// Board-local offsets of the three Ethernet chips of a triad (§3.5).
pub const TRIAD_ROOTS: [(u8, u8); 3] = [(0, 0), (4, 8), (8, 4)];

/// The link opposite `l`: (l + 3) % 6 (for link < 6; never panics).
pub fn opposite(link: u8) -> u8 {
    ((u16::from(link) + 3) % 6) as u8
}

/// The 48 chips of a SpiNN-5 board relative to its Ethernet chip (§9.1), sorted by (x, y).
pub fn spinn5_local_chips() -> Vec<(u8, u8)> {
    // x = 0: y 0–3, x = 1: y 0–4, … x = 4: y 0–7, x = 5: y 1–7, … x = 7: y 3–7.
    (0u8..8)
        .flat_map(|x| (x.saturating_sub(4)..=(x + 3).min(7)).map(move |y| (x, y)))
        .collect()
}

/// Why a machine spec or description was refused.
#[derive(Debug, thiserror::Error)]
pub enum GeometryError {
    /// A command-line spec or `base` that names no machine.
    #[error("bad machine spec `{spec}`: {reason}")]
    BadSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A description file that cannot be read.
    #[error("cannot read machine description file {}: {error}", path.display())]
    Unreadable {
        /// The file's path.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A description file whose content is refused.
    #[error("machine description file {}: {error}", path.display())]
    InFile {
        /// The file's path.
        path: PathBuf,
        /// What is wrong with its content.
        error: Box<GeometryError>,
    },
    /// JSON that does not parse, or does not fit the description format.
    #[error("bad machine description JSON: {0}")]
    Json(serde_json::Error),
    /// A description whose fields do not fit together.
    #[error("bad machine description: {0}")]
    BadDescription(String),
    /// Coordinates outside the machine's width × height.
    #[error("{what} ({x},{y}) is outside the {width}x{height} machine")]
    OutOfRange {
        /// What the coordinates name ("chip", "dead core", ...).
        what: &'static str,
        /// X coordinate.
        x: u8,
        /// Y coordinate.
        y: u8,
        /// Machine width.
        width: u8,
        /// Machine height.
        height: u8,
    },
    /// Coordinates inside the machine that name no (live) chip.
    #[error("{what} ({x},{y}) is not a chip of the machine")]
    NoSuchChip {
        /// What the coordinates name ("dead chip", "Ethernet chip", ...).
        what: &'static str,
        /// X coordinate.
        x: u8,
        /// Y coordinate.
        y: u8,
    },
    /// A chip listed twice in an explicit description.
    #[error("chip ({x},{y}) is listed twice")]
    DuplicateChip {
        /// X coordinate.
        x: u8,
        /// Y coordinate.
        y: u8,
    },
    /// A dead core that cannot be dead or does not exist.
    #[error("dead core {core} on chip ({x},{y}): {reason}")]
    BadCore {
        /// X coordinate.
        x: u8,
        /// Y coordinate.
        y: u8,
        /// Physical core number.
        core: u8,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A dead link number that does not exist.
    #[error("dead link {link} on chip ({x},{y}): links are numbered 0 to 5")]
    BadLink {
        /// X coordinate.
        x: u8,
        /// Y coordinate.
        y: u8,
        /// The link number.
        link: u8,
    },
}

/// Precomputed per-position facts (index `x * height + y`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cell {
    alive: bool,
    links: u8,
    dead_cores: u32,
    nbr: [Option<(u8, u8)>; 6],
}

/// A whole machine: which chips exist, how links wrap, what is dead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FileDesc", into = "FileDesc")]
pub struct MachineDesc {
    width: u8,
    height: u8,
    wrap: bool,
    /// Live chips.
    chips: BTreeSet<(u8, u8)>,
    /// Live Ethernet chips, sorted.
    ethernet: Vec<(u8, u8)>,
    /// Dead-core masks of live chips (no zero entries).
    dead_cores: BTreeMap<(u8, u8), u32>,
    /// Dead links of live chips, closed under "the other end of the same link" among chips.
    dead_links: BTreeSet<(u8, u8, u8)>,
    /// Derived lookup table, rebuilt by `rebuild`.
    table: Vec<Cell>,
}

/// The JSON description format (module doc); also MachineDesc's serde form.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDesc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    height: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrap: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chips: Option<Vec<(u8, u8)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ethernet_chips: Option<Vec<(u8, u8)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead_chips: Option<Vec<(u8, u8)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead_cores: Option<Vec<(u8, u8, u8)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead_links: Option<Vec<(u8, u8, u8)>>,
}

impl From<MachineDesc> for FileDesc {
    fn from(m: MachineDesc) -> FileDesc {
        let cores: Vec<(u8, u8, u8)> = m
            .dead_cores
            .iter()
            .flat_map(|(&(x, y), &mask)| {
                (0..32u8)
                    .filter(move |p| mask & (1 << p) != 0)
                    .map(move |p| (x, y, p))
            })
            .collect();
        let links: Vec<(u8, u8, u8)> = m.dead_links.iter().copied().collect();
        FileDesc {
            base: None,
            width: Some(m.width),
            height: Some(m.height),
            wrap: Some(m.wrap),
            chips: Some(m.chips.iter().copied().collect()),
            ethernet_chips: Some(m.ethernet.clone()),
            dead_chips: None,
            dead_cores: (!cores.is_empty()).then_some(cores),
            dead_links: (!links.is_empty()).then_some(links),
        }
    }
}

impl TryFrom<FileDesc> for MachineDesc {
    type Error = GeometryError;

    fn try_from(f: FileDesc) -> Result<MachineDesc, GeometryError> {
        let mut m = match (&f.base, f.width, f.height) {
            (Some(base), None, None) if f.wrap.is_none() && f.chips.is_none() && f.ethernet_chips.is_none() => {
                match MachineDesc::builtin(base.trim()) {
                    Some(r) => r?,
                    None => {
                        return Err(GeometryError::BadSpec {
                            spec: base.clone(),
                            reason: "`base` must be single, spinn3, spinn5, WxH or boards:N".into(),
                        })
                    }
                }
            }
            (Some(_), _, _) => {
                return Err(GeometryError::BadDescription(
                    "`base` cannot be combined with `width`, `height`, `wrap`, `chips` or `ethernet_chips`".into(),
                ))
            }
            (None, Some(w), Some(h)) => {
                MachineDesc::explicit(w, h, f.wrap.unwrap_or(false), f.chips, f.ethernet_chips)?
            }
            (None, _, _) => {
                return Err(GeometryError::BadDescription(
                    "give either `base` or both `width` and `height`".into(),
                ))
            }
        };
        // A list naming the same thing twice is a slip in the file: say so rather than guess.
        let twice = |what: &str, items: Vec<String>| -> Result<(), GeometryError> {
            let mut seen = BTreeSet::new();
            match items.into_iter().find(|i| !seen.insert(i.clone())) {
                Some(i) => Err(GeometryError::BadDescription(format!(
                    "`{what}` lists {i} twice"
                ))),
                None => Ok(()),
            }
        };
        let dead_links = f.dead_links.unwrap_or_default();
        let dead_cores = f.dead_cores.unwrap_or_default();
        let dead_chips = f.dead_chips.unwrap_or_default();
        twice(
            "dead_links",
            dead_links
                .iter()
                .map(|(x, y, l)| format!("[{x}, {y}, {l}]"))
                .collect(),
        )?;
        twice(
            "dead_cores",
            dead_cores
                .iter()
                .map(|(x, y, p)| format!("[{x}, {y}, {p}]"))
                .collect(),
        )?;
        twice(
            "dead_chips",
            dead_chips
                .iter()
                .map(|(x, y)| format!("[{x}, {y}]"))
                .collect(),
        )?;
        for (x, y, l) in dead_links {
            m.kill_link_raw(x, y, l)?;
        }
        for (x, y, p) in dead_cores {
            m.kill_core_raw(x, y, p)?;
        }
        for &(x, y) in &dead_chips {
            m.check_chip("dead chip", x, y)?;
        }
        for xy in dead_chips {
            m.chips.remove(&xy);
        }
        m.prune();
        m.rebuild();
        Ok(m)
    }
}

impl MachineDesc {
    /// A machine with the given chips and Ethernet chips, nothing dead (inputs already valid).
    fn build(
        width: u8,
        height: u8,
        wrap: bool,
        chips: BTreeSet<(u8, u8)>,
        mut ethernet: Vec<(u8, u8)>,
    ) -> Self {
        ethernet.sort_unstable();
        ethernet.dedup();
        let mut m = MachineDesc {
            width,
            height,
            wrap,
            chips,
            ethernet,
            dead_cores: BTreeMap::new(),
            dead_links: BTreeSet::new(),
            table: Vec::new(),
        };
        m.rebuild();
        m
    }

    /// The explicit JSON form, validated.
    fn explicit(
        width: u8,
        height: u8,
        wrap: bool,
        chips: Option<Vec<(u8, u8)>>,
        ethernet: Option<Vec<(u8, u8)>>,
    ) -> Result<Self, GeometryError> {
        if width == 0 || height == 0 {
            return Err(GeometryError::BadDescription(format!(
                "width and height must be 1 to 255, not {width}x{height}"
            )));
        }
        let set: BTreeSet<(u8, u8)> = match chips {
            None => (0..width)
                .flat_map(|x| (0..height).map(move |y| (x, y)))
                .collect(),
            Some(list) => {
                let mut set = BTreeSet::new();
                for (x, y) in list {
                    if x >= width || y >= height {
                        return Err(GeometryError::OutOfRange {
                            what: "chip",
                            x,
                            y,
                            width,
                            height,
                        });
                    }
                    if !set.insert((x, y)) {
                        return Err(GeometryError::DuplicateChip { x, y });
                    }
                }
                set
            }
        };
        let m = Self::build(width, height, wrap, set, Vec::new());
        let eth = match ethernet {
            None => {
                if m.chips.contains(&(0, 0)) {
                    vec![(0, 0)]
                } else {
                    Vec::new()
                }
            }
            Some(list) => {
                for &(x, y) in &list {
                    m.check_chip("Ethernet chip", x, y)?;
                }
                list
            }
        };
        Ok(Self::build(width, height, wrap, m.chips, eth))
    }

    /// One chip (0,0), no links.
    pub fn single() -> Self {
        Self::build(1, 1, false, BTreeSet::from([(0, 0)]), vec![(0, 0)])
    }

    /// The 4-chip SpiNN-3 board: 2x2, full wrap, minus the 8 links of §3.5.
    pub fn spinn3() -> Self {
        let chips = BTreeSet::from([(0, 0), (0, 1), (1, 0), (1, 1)]);
        let mut m = Self::build(2, 2, true, chips, vec![(0, 0)]);
        // §3.5: (0,0,3) (0,0,4) (0,1,3) (0,1,4) (1,0,0) (1,0,1) (1,1,0) (1,1,1) are absent.
        for (x, y, l) in [(0, 0, 3), (0, 0, 4), (0, 1, 3), (0, 1, 4)] {
            // Each also removes the other end: (1,0,0), (1,1,1), (1,1,0), (1,0,1).
            m.kill_link_raw(x, y, l).expect("SpiNN-3 link");
        }
        m.rebuild();
        m
    }

    /// The 48-chip SpiNN-5 board of §9.1: 8x8, no wrap.
    pub fn spinn5() -> Self {
        Self::build(
            8,
            8,
            false,
            spinn5_local_chips().into_iter().collect(),
            vec![(0, 0)],
        )
    }

    /// A `width` x `height` torus, every chip present, wrapping both ways (panics if a size is 0).
    ///
    /// A link that would lead back to its own chip (width or height 1) is absent.
    pub fn torus(width: u8, height: u8) -> Self {
        assert!(
            width > 0 && height > 0,
            "torus size must be at least 1x1, not {width}x{height}"
        );
        let chips = (0..width)
            .flat_map(|x| (0..height).map(move |y| (x, y)))
            .collect();
        Self::build(width, height, true, chips, vec![(0, 0)])
    }

    /// `n` SpiNN-5 boards in triads (§3.5, §9.3).
    ///
    /// - `n == 1`: exactly [`MachineDesc::spinn5`] (8x8, as SpiNNMachine rounds one board).
    /// - `n` a multiple of 3: `t = n/3` triads as a `w` x `h` grid with `w*h == t`, `w >= h` and
    ///   `w - h` smallest; the machine is 12w x 12h and wraps both ways.
    /// - otherwise: `t = ceil(n/3)` triads, `w = ceil(sqrt(t))`, `h = ceil(t/w)`; the machine is
    ///   12w+4 x 12h+4 without wrap. Triads are filled row by row (triad k at
    ///   (12·(k%w), 12·(k/w))), each with its boards in the order (0,0), (4,8), (8,4), until n
    ///   boards are placed.
    ///
    /// Each board holds the 48 chips of §9.1 relative to its Ethernet chip (mod the size when
    /// wrapping). Errors when `n == 0` or the machine would exceed 255 chips in a dimension.
    pub fn boards(n: u32) -> Result<Self, GeometryError> {
        let bad = |reason: String| GeometryError::BadSpec {
            spec: format!("boards:{n}"),
            reason,
        };
        if n == 0 {
            return Err(bad("need at least one board".into()));
        }
        if n == 1 {
            return Ok(Self::spinn5());
        }
        let max_triads = u32::from(u8::MAX / TRIAD); // 21 triads of 12 chips fit in 255
        let (w, h, wrap) = if n.is_multiple_of(3) {
            let t = n / 3;
            let mut h = isqrt(t);
            while !t.is_multiple_of(h) {
                h -= 1;
            }
            let w = t / h;
            if w > max_triads {
                return Err(bad(format!(
                    "{t} triads cannot be arranged as a wrapped machine of at most 255x255 chips"
                )));
            }
            (w, h, true)
        } else {
            let t = n.div_ceil(3);
            let mut w = isqrt(t);
            if w * w < t {
                w += 1;
            }
            let h = t.div_ceil(w);
            if w * u32::from(TRIAD) + 4 > u32::from(u8::MAX) {
                return Err(bad(format!(
                    "{t} triads cannot fit in a machine of at most 255x255 chips"
                )));
            }
            (w, h, false)
        };
        let extra = if wrap { 0 } else { 4 };
        // Both fit in u8 by the checks above (h <= w).
        let width = (w * u32::from(TRIAD) + extra) as u8;
        let height = (h * u32::from(TRIAD) + extra) as u8;
        let mut roots = Vec::new();
        'triads: for k in 0..w * h {
            let (tx, ty) = ((k % w) as u8 * TRIAD, (k / w) as u8 * TRIAD);
            for (rx, ry) in TRIAD_ROOTS {
                if roots.len() as u32 == n {
                    break 'triads;
                }
                roots.push((tx + rx, ty + ry));
            }
        }
        let local = spinn5_local_chips();
        let mut chips = BTreeSet::new();
        for &(ex, ey) in &roots {
            for &(lx, ly) in &local {
                let (mut x, mut y) = (u32::from(ex) + u32::from(lx), u32::from(ey) + u32::from(ly));
                if wrap {
                    x %= u32::from(width);
                    y %= u32::from(height);
                }
                if x >= u32::from(width)
                    || y >= u32::from(height)
                    || !chips.insert((x as u8, y as u8))
                {
                    return Err(bad(
                        "boards overlap or leave the machine (internal error)".into()
                    ));
                }
            }
        }
        Ok(Self::build(width, height, wrap, chips, roots))
    }

    /// Parses a command-line machine: "single" | "spinn3" | "spinn5" | "WxH" (e.g. "8x8") | "boards:N"; anything else is read as a path to a JSON description file.
    pub fn parse(spec: &str) -> Result<Self, GeometryError> {
        let s = spec.trim();
        if s.is_empty() {
            return Err(GeometryError::BadSpec {
                spec: spec.into(),
                reason: "empty; use single, spinn3, spinn5, WxH, boards:N or a JSON file path"
                    .into(),
            });
        }
        if let Some(r) = Self::builtin(s) {
            return r;
        }
        let path = PathBuf::from(s);
        let text = crate::files::read_text_input(&path, crate::files::MAX_TEXT_BYTES).map_err(
            |error| GeometryError::Unreadable {
                path: path.clone(),
                error,
            },
        )?;
        Self::from_json(&text).map_err(|e| GeometryError::InFile {
            path,
            error: Box::new(e),
        })
    }

    /// A built-in machine for `s`, or None when `s` is not a built-in spec (so may be a path).
    fn builtin(s: &str) -> Option<Result<Self, GeometryError>> {
        match s {
            "single" => return Some(Ok(Self::single())),
            "spinn3" => return Some(Ok(Self::spinn3())),
            "spinn5" => return Some(Ok(Self::spinn5())),
            _ => {}
        }
        let bad = |reason: String| GeometryError::BadSpec {
            spec: s.into(),
            reason,
        };
        if let Some(n) = s.strip_prefix("boards:") {
            return Some(match n.trim().parse::<u32>() {
                Ok(n) => Self::boards(n),
                Err(e) => Err(bad(format!("board count `{n}`: {e}"))),
            });
        }
        if s.contains('x') && s.chars().all(|c| c.is_ascii_digit() || c == 'x') {
            let parts: Vec<&str> = s.split('x').collect();
            let [w, h] = parts[..] else {
                return Some(Err(bad("expected WxH, e.g. 8x8".into())));
            };
            let size = |t: &str, what: &str| match t.parse::<u8>() {
                Ok(v) if v > 0 => Ok(v),
                _ => Err(bad(format!("{what} `{t}` must be 1 to 255"))),
            };
            return Some(size(w, "width").and_then(|w| Ok(Self::torus(w, size(h, "height")?))));
        }
        None
    }

    /// Reads a JSON description (format in the module doc), applying dead chips/cores/links.
    pub fn from_json(text: &str) -> Result<Self, GeometryError> {
        // serde would also accept a struct written as an array; only an object is a description.
        let value: serde_json::Value = serde_json::from_str(text).map_err(GeometryError::Json)?;
        if !value.is_object() {
            return Err(GeometryError::BadDescription(
                "the top level must be a JSON object".into(),
            ));
        }
        // Parsed again from the text so that errors keep their line and column.
        let f: FileDesc = serde_json::from_str(text).map_err(GeometryError::Json)?;
        Self::try_from(f)
    }

    /// This description as explicit-form JSON (reads back with [`MachineDesc::from_json`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("machine description serializes")
    }

    /// Machine width in chips.
    pub fn width(&self) -> u8 {
        self.width
    }

    /// Machine height in chips.
    pub fn height(&self) -> u8 {
        self.height
    }

    /// Whether links wrap around both edges.
    pub fn wraps(&self) -> bool {
        self.wrap
    }

    /// All live chips, sorted by (x, y).
    pub fn chips(&self) -> Vec<(u8, u8)> {
        self.chips.iter().copied().collect()
    }

    /// Whether (x, y) is a live chip.
    pub fn has_chip(&self, x: u8, y: u8) -> bool {
        self.cell(x, y).is_some_and(|c| c.alive)
    }

    /// The chip reached over `link` from (x, y), if both chips are alive, the link is not dead (in either direction), and — without wrap-around — it stays inside the machine.
    pub fn neighbour(&self, x: u8, y: u8, link: u8) -> Option<(u8, u8)> {
        *self.cell(x, y)?.nbr.get(usize::from(link))?
    }

    /// Bit l set when link l of (x, y) leads to a live neighbour.
    pub fn live_links(&self, x: u8, y: u8) -> u8 {
        self.cell(x, y).map_or(0, |c| c.links)
    }

    /// Physical cores of (x, y) marked dead (bit p = core p), 0 when none.
    pub fn dead_cores(&self, x: u8, y: u8) -> u32 {
        self.cell(x, y).map_or(0, |c| c.dead_cores)
    }

    /// Ethernet chips (board roots): (0,0) for single/spinn3/spinn5, every board's root for boards:N, from the file otherwise.
    pub fn ethernet_chips(&self) -> Vec<(u8, u8)> {
        self.ethernet.clone()
    }

    /// Minimal number of link hops between two live chips over live links (BFS), None when unreachable.
    pub fn hops(&self, from: (u8, u8), to: (u8, u8)) -> Option<u32> {
        let s = self.index(from.0, from.1)?;
        let t = self.index(to.0, to.1)?;
        if !self.table[s].alive || !self.table[t].alive {
            return None;
        }
        let mut dist = vec![u32::MAX; self.table.len()];
        dist[s] = 0;
        let mut queue = VecDeque::from([s]);
        while let Some(i) = queue.pop_front() {
            if i == t {
                return Some(dist[i]);
            }
            for (nx, ny) in self.table[i].nbr.iter().flatten() {
                let j = usize::from(*nx) * usize::from(self.height) + usize::from(*ny);
                if dist[j] == u32::MAX {
                    dist[j] = dist[i] + 1;
                    queue.push_back(j);
                }
            }
        }
        None
    }

    /// Marks live chip (x, y) dead (its links, dead cores and Ethernet role go with it).
    pub fn kill_chip(&mut self, x: u8, y: u8) -> Result<(), GeometryError> {
        self.check_chip("dead chip", x, y)?;
        self.chips.remove(&(x, y));
        self.prune();
        self.rebuild();
        Ok(())
    }

    /// Marks core `core` (1..=17) of live chip (x, y) dead.
    pub fn kill_core(&mut self, x: u8, y: u8, core: u8) -> Result<(), GeometryError> {
        self.kill_core_raw(x, y, core)?;
        self.rebuild();
        Ok(())
    }

    /// Marks link `link` (0..=5) of live chip (x, y) dead, in both directions.
    pub fn kill_link(&mut self, x: u8, y: u8, link: u8) -> Result<(), GeometryError> {
        self.kill_link_raw(x, y, link)?;
        self.rebuild();
        Ok(())
    }

    /// Errors unless (x, y) is a chip of the machine.
    fn check_chip(&self, what: &'static str, x: u8, y: u8) -> Result<(), GeometryError> {
        if x >= self.width || y >= self.height {
            return Err(GeometryError::OutOfRange {
                what,
                x,
                y,
                width: self.width,
                height: self.height,
            });
        }
        if !self.chips.contains(&(x, y)) {
            return Err(GeometryError::NoSuchChip { what, x, y });
        }
        Ok(())
    }

    /// Records a dead core without rebuilding the table.
    fn kill_core_raw(&mut self, x: u8, y: u8, core: u8) -> Result<(), GeometryError> {
        self.check_chip("dead core's chip", x, y)?;
        if core == 0 {
            return Err(GeometryError::BadCore {
                x,
                y,
                core,
                reason: "core 0 is the monitor and cannot be dead",
            });
        }
        if core >= CORES_PER_CHIP {
            return Err(GeometryError::BadCore {
                x,
                y,
                core,
                reason: "cores are numbered 0 to 17",
            });
        }
        *self.dead_cores.entry((x, y)).or_insert(0) |= 1 << core;
        Ok(())
    }

    /// Records a dead link (both ends) without rebuilding the table.
    fn kill_link_raw(&mut self, x: u8, y: u8, link: u8) -> Result<(), GeometryError> {
        self.check_chip("dead link's chip", x, y)?;
        if link >= N_LINKS {
            return Err(GeometryError::BadLink { x, y, link });
        }
        self.dead_links.insert((x, y, link));
        if let Some((nx, ny)) = self.step(x, y, link) {
            if self.chips.contains(&(nx, ny)) {
                self.dead_links.insert((nx, ny, opposite(link)));
            }
        }
        Ok(())
    }

    /// Drops faults and Ethernet entries of chips that are no longer alive.
    fn prune(&mut self) {
        let chips = &self.chips;
        self.dead_cores.retain(|xy, _| chips.contains(xy));
        self.dead_links.retain(|&(x, y, _)| chips.contains(&(x, y)));
        self.ethernet.retain(|xy| chips.contains(xy));
    }

    /// The position one step over `link` from (x, y), by geometry alone (wrap and bounds; not
    /// liveness), None when it leaves the machine or comes back to (x, y).
    fn step(&self, x: u8, y: u8, link: u8) -> Option<(u8, u8)> {
        let (dx, dy) = *LINK_DELTAS.get(usize::from(link))?;
        let (w, h) = (i32::from(self.width), i32::from(self.height));
        let (mut nx, mut ny) = (i32::from(x) + dx, i32::from(y) + dy);
        if self.wrap {
            nx = nx.rem_euclid(w);
            ny = ny.rem_euclid(h);
        } else if !(0..w).contains(&nx) || !(0..h).contains(&ny) {
            return None;
        }
        let n = (u8::try_from(nx).ok()?, u8::try_from(ny).ok()?);
        (n != (x, y)).then_some(n)
    }

    /// Table index of (x, y), None outside the machine.
    fn index(&self, x: u8, y: u8) -> Option<usize> {
        (x < self.width && y < self.height)
            .then(|| usize::from(x) * usize::from(self.height) + usize::from(y))
    }

    /// Table cell of (x, y), None outside the machine.
    fn cell(&self, x: u8, y: u8) -> Option<&Cell> {
        self.table.get(self.index(x, y)?)
    }

    /// Recomputes the lookup table from the canonical fields.
    fn rebuild(&mut self) {
        let mut table = vec![Cell::default(); usize::from(self.width) * usize::from(self.height)];
        for &(x, y) in &self.chips {
            let mut cell = Cell {
                alive: true,
                dead_cores: self.dead_cores.get(&(x, y)).copied().unwrap_or(0),
                ..Cell::default()
            };
            for l in 0..N_LINKS {
                if self.dead_links.contains(&(x, y, l)) {
                    continue;
                }
                let Some((nx, ny)) = self.step(x, y, l) else {
                    continue;
                };
                if self.chips.contains(&(nx, ny))
                    && !self.dead_links.contains(&(nx, ny, opposite(l)))
                {
                    cell.nbr[usize::from(l)] = Some((nx, ny));
                    cell.links |= 1 << l;
                }
            }
            table[usize::from(x) * usize::from(self.height) + usize::from(y)] = cell;
        }
        self.table = table;
    }
}

/// Integer square root (floor), at least 1 for t >= 1.
fn isqrt(t: u32) -> u32 {
    let t = u64::from(t);
    let mut r = (t as f64).sqrt() as u64;
    while r * r > t {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= t {
        r += 1;
    }
    r.max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every live link is symmetric: over l and back over opposite(l).
    fn assert_symmetric(m: &MachineDesc) {
        for (x, y) in m.chips() {
            for l in 0..6 {
                if let Some((nx, ny)) = m.neighbour(x, y, l) {
                    assert_eq!(
                        m.neighbour(nx, ny, opposite(l)),
                        Some((x, y)),
                        "({x},{y}) link {l}"
                    );
                    assert!(m.live_links(x, y) & (1 << l) != 0);
                } else {
                    assert!(m.live_links(x, y) & (1 << l) == 0);
                }
            }
        }
    }

    #[test]
    fn link_deltas_and_opposites() {
        assert_eq!(LINK_DELTAS[0], (1, 0));
        assert_eq!(LINK_DELTAS[4], (-1, -1));
        for l in 0..6u8 {
            let (dx, dy) = LINK_DELTAS[l as usize];
            let (ox, oy) = LINK_DELTAS[opposite(l) as usize];
            assert_eq!((dx + ox, dy + oy), (0, 0));
            assert_eq!(opposite(opposite(l)), l);
        }
        assert_eq!(opposite(255), 0); // no overflow panic on garbage
    }

    #[test]
    fn single_chip() {
        let m = MachineDesc::single();
        assert_eq!(m.chips(), vec![(0, 0)]);
        assert_eq!((m.width(), m.height()), (1, 1));
        assert_eq!(m.live_links(0, 0), 0);
        assert_eq!(m.ethernet_chips(), vec![(0, 0)]);
        assert_eq!(m.hops((0, 0), (0, 0)), Some(0));
        assert!(!m.has_chip(1, 0));
        assert_eq!(m.neighbour(5, 5, 0), None);
        assert_eq!(m.neighbour(0, 0, 200), None);
    }

    #[test]
    fn spinn5_has_the_48_chips_of_9_1() {
        let m = MachineDesc::spinn5();
        let rows: [(u8, u8, u8); 8] = [
            (0, 0, 3),
            (1, 0, 4),
            (2, 0, 5),
            (3, 0, 6),
            (4, 0, 7),
            (5, 1, 7),
            (6, 2, 7),
            (7, 3, 7),
        ];
        let expected: Vec<(u8, u8)> = rows
            .iter()
            .flat_map(|&(x, lo, hi)| (lo..=hi).map(move |y| (x, y)))
            .collect();
        assert_eq!(expected.len(), 48);
        assert_eq!(m.chips(), expected);
        assert_eq!((m.width(), m.height(), m.wraps()), (8, 8, false));
        assert_eq!(m.ethernet_chips(), vec![(0, 0)]);
        assert!(!m.has_chip(7, 0) && !m.has_chip(0, 7) && m.has_chip(4, 7));
        assert_symmetric(&m);
    }

    #[test]
    fn spinn5_edges_do_not_wrap() {
        let m = MachineDesc::spinn5();
        // (0,0): E, NE, N only.
        assert_eq!(m.live_links(0, 0), 0b000111);
        for l in [3, 4, 5] {
            assert_eq!(m.neighbour(0, 0, l), None);
        }
        assert_eq!(m.neighbour(0, 0, 1), Some((1, 1)));
        // (7,7): W, SW, S only.
        assert_eq!(m.live_links(7, 7), 0b111000);
        assert_eq!(m.neighbour(7, 7, 4), Some((6, 6)));
        // (4,0): E (5,0) is not a chip; SW, S leave the board.
        assert_eq!(m.live_links(4, 0), 0b001110);
        // (0,3): N (0,4), W, SW absent.
        assert_eq!(m.live_links(0, 3), 0b100011);
        // (7,3): E, NE leave the board, S (7,2) is not a chip.
        assert_eq!(m.live_links(7, 3), 0b011100);
        // An inner chip has all six.
        assert_eq!(m.live_links(3, 3), 0b111111);
    }

    #[test]
    fn spinn3_misses_exactly_the_8_links_of_3_5() {
        let m = MachineDesc::spinn3();
        assert_eq!(m.chips(), vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
        assert!(m.wraps());
        let missing: BTreeSet<(u8, u8, u8)> = [
            (0, 0, 3),
            (0, 0, 4),
            (0, 1, 3),
            (0, 1, 4),
            (1, 0, 0),
            (1, 0, 1),
            (1, 1, 0),
            (1, 1, 1),
        ]
        .into();
        for (x, y) in m.chips() {
            for l in 0..6 {
                assert_eq!(
                    m.neighbour(x, y, l).is_none(),
                    missing.contains(&(x, y, l)),
                    "({x},{y}) link {l}"
                );
            }
        }
        assert_eq!(m.live_links(0, 0), 0b100111);
        assert_eq!(m.live_links(1, 1), 0b111100);
        // Wrapped links that remain.
        assert_eq!(m.neighbour(0, 0, 5), Some((0, 1)));
        assert_eq!(m.neighbour(1, 0, 4), Some((0, 1)));
        assert_eq!(m.neighbour(1, 0, 5), Some((1, 1)));
        assert_eq!(m.neighbour(0, 1, 2), Some((0, 0)));
        assert_eq!(m.ethernet_chips(), vec![(0, 0)]);
        assert_symmetric(&m);
    }

    #[test]
    fn torus_12x12_wraps_both_ways() {
        let m = MachineDesc::torus(12, 12);
        assert_eq!(m.chips().len(), 144);
        for (x, y) in m.chips() {
            assert_eq!(m.live_links(x, y), 0b111111);
        }
        assert_eq!(m.neighbour(0, 0, 3), Some((11, 0)));
        assert_eq!(m.neighbour(0, 0, 4), Some((11, 11)));
        assert_eq!(m.neighbour(11, 11, 1), Some((0, 0)));
        assert_eq!(m.neighbour(5, 11, 2), Some((5, 0)));
        assert_eq!(m.hops((0, 0), (11, 11)), Some(1));
        assert_eq!(m.hops((0, 0), (6, 6)), Some(6));
        assert_eq!(m.hops((0, 0), (6, 0)), Some(6));
        assert_symmetric(&m);
        // Degenerate tori: no self-links.
        assert_eq!(MachineDesc::torus(1, 1).live_links(0, 0), 0);
        assert_eq!(MachineDesc::torus(1, 3).live_links(0, 0), 0b110110); // E, W come back; NE, SW wrap to (0,1), (0,2)
    }

    #[test]
    fn boards_3_is_a_wrapped_triad() {
        let m = MachineDesc::boards(3).unwrap();
        assert_eq!((m.width(), m.height(), m.wraps()), (12, 12, true));
        assert_eq!(m.chips().len(), 144);
        assert_eq!(m.ethernet_chips(), vec![(0, 0), (4, 8), (8, 4)]);
        for (x, y) in m.chips() {
            assert_eq!(m.live_links(x, y), 0b111111);
        }
        // Each board's 48 chips, relative to its Ethernet chip mod 12, are disjoint and cover all.
        let mut seen = BTreeSet::new();
        for (ex, ey) in m.ethernet_chips() {
            for (lx, ly) in spinn5_local_chips() {
                assert!(seen.insert(((ex + lx) % 12, (ey + ly) % 12)));
            }
        }
        assert_eq!(seen.len(), 144);
        assert_symmetric(&m);
    }

    #[test]
    fn boards_shapes() {
        let one = MachineDesc::boards(1).unwrap();
        assert_eq!(one.chips(), MachineDesc::spinn5().chips());
        assert_eq!(one, MachineDesc::spinn5());

        let two = MachineDesc::boards(2).unwrap();
        assert_eq!((two.width(), two.height(), two.wraps()), (16, 16, false));
        assert_eq!(two.chips().len(), 96);
        assert_eq!(two.ethernet_chips(), vec![(0, 0), (4, 8)]);
        assert!(two.has_chip(11, 15) && !two.has_chip(12, 4));
        assert_symmetric(&two);

        let four = MachineDesc::boards(4).unwrap();
        assert_eq!((four.width(), four.height(), four.wraps()), (28, 16, false));
        assert_eq!(four.chips().len(), 192);
        assert_eq!(four.ethernet_chips(), vec![(0, 0), (4, 8), (8, 4), (12, 0)]);

        let six = MachineDesc::boards(6).unwrap();
        assert_eq!((six.width(), six.height(), six.wraps()), (24, 12, true));
        assert_eq!(six.chips().len(), 288);
        assert_eq!(
            six.ethernet_chips(),
            vec![(0, 0), (4, 8), (8, 4), (12, 0), (16, 8), (20, 4)]
        );

        let twelve = MachineDesc::boards(12).unwrap();
        assert_eq!(
            (twelve.width(), twelve.height(), twelve.wraps()),
            (24, 24, true)
        );
        assert_eq!(twelve.chips().len(), 576);
        for (x, y) in twelve.chips() {
            assert_eq!(twelve.live_links(x, y), 0b111111);
        }
        for (x, y) in twelve.ethernet_chips() {
            assert!(x % 4 == 0 && (u32::from(x) + u32::from(y)) % 12 == 0);
        }

        let seven = MachineDesc::boards(7).unwrap();
        assert_eq!(
            (seven.width(), seven.height(), seven.wraps()),
            (28, 28, false)
        );
        assert_eq!(seven.chips().len(), 7 * 48);

        // The largest wrapped and unwrapped machines fit in u8 coordinates.
        assert_eq!(MachineDesc::boards(3 * 21 * 21).unwrap().width(), 252);
        assert_eq!(MachineDesc::boards(3 * 400 - 1).unwrap().width(), 244);
        assert!(matches!(
            MachineDesc::boards(0),
            Err(GeometryError::BadSpec { .. })
        ));
        assert!(matches!(
            MachineDesc::boards(3 * 23),
            Err(GeometryError::BadSpec { .. })
        )); // 23 triads, prime
        assert!(matches!(
            MachineDesc::boards(3 * 401 + 1),
            Err(GeometryError::BadSpec { .. })
        ));
        assert!(MachineDesc::boards(u32::MAX).is_err());
    }

    #[test]
    fn hops_on_spinn5() {
        let m = MachineDesc::spinn5();
        // (0,0) → (7,7): seven NE links along the diagonal (i,i), all chips of §9.1; no fewer is
        // possible since every link changes x by at most 1.
        assert_eq!(m.hops((0, 0), (7, 7)), Some(7));
        // (0,3) → (7,3): row y = 3 holds all of x = 0..=7 (x = 0 has y 0–3, x = 7 has y 3–7), so
        // seven E links; again each link changes x by at most 1, so 7 is minimal.
        assert_eq!(m.hops((0, 3), (7, 3)), Some(7));
        // (0,3) → (3,0): dx = +3, dy = −3 have opposite signs and no link changes x and y in
        // opposite directions, so |dx| + |dy| = 6 (S,S,S then E,E,E).
        assert_eq!(m.hops((0, 3), (3, 0)), Some(6));
        assert_eq!(m.hops((2, 2), (2, 2)), Some(0));
        assert_eq!(m.hops((0, 0), (7, 0)), None); // (7,0) is not a chip
        assert_eq!(m.hops((0, 0), (200, 0)), None);
    }

    #[test]
    fn dead_things_from_json() {
        let m = MachineDesc::from_json(
            r#"{ "base": "spinn5",
                 "dead_chips": [[7, 7]],
                 "dead_cores": [[1, 1, 17], [1, 1, 3], [7, 7, 2]],
                 "dead_links": [[0, 0, 1], [7, 6, 2]] }"#,
        )
        .unwrap();
        assert_eq!(m.chips().len(), 47);
        assert!(!m.has_chip(7, 7));
        assert_eq!(m.neighbour(6, 7, 0), None);
        assert_eq!(m.neighbour(6, 6, 1), None);
        assert_eq!(m.dead_cores(1, 1), (1 << 17) | (1 << 3));
        assert_eq!(m.dead_cores(0, 0), 0);
        assert_eq!(m.dead_cores(7, 7), 0);
        // Dead link kills both directions.
        assert_eq!(m.neighbour(0, 0, 1), None);
        assert_eq!(m.neighbour(1, 1, 4), None);
        assert_eq!(m.live_links(0, 0), 0b000101);
        assert_eq!(m.hops((0, 0), (1, 1)), Some(2));
        assert_eq!(m.hops((0, 0), (7, 6)), Some(7));
        assert_symmetric(&m);

        // A list naming the same thing twice is refused.
        for (list, item) in [
            ("dead_cores", "[[1, 1, 17], [1, 1, 17]]"),
            ("dead_chips", "[[7, 7], [7, 7]]"),
            ("dead_links", "[[0, 0, 1], [0, 0, 1]]"),
        ] {
            let e = MachineDesc::from_json(&format!(r#"{{"base": "spinn5", "{list}": {item}}}"#))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("`{list}` lists")) && e.contains("twice"),
                "{e}"
            );
        }

        // Killing a wrapped link on a torus, from the far end's number.
        let t = MachineDesc::from_json(r#"{"base": "4x4", "dead_links": [[0, 0, 3]]}"#).unwrap();
        assert_eq!(t.neighbour(0, 0, 3), None);
        assert_eq!(t.neighbour(3, 0, 0), None);
        assert_eq!(t.hops((0, 0), (3, 0)), Some(2));

        // Dead Ethernet chip leaves the list; a board may lose its root.
        let b = MachineDesc::from_json(r#"{"base": "boards:3", "dead_chips": [[4, 8]]}"#).unwrap();
        assert_eq!(b.ethernet_chips(), vec![(0, 0), (8, 4)]);
        assert_eq!(b.chips().len(), 143);

        // Same via the mutators.
        let mut k = MachineDesc::spinn5();
        k.kill_chip(7, 7).unwrap();
        k.kill_core(1, 1, 17).unwrap();
        k.kill_core(1, 1, 3).unwrap();
        k.kill_link(0, 0, 1).unwrap();
        k.kill_link(7, 6, 2).unwrap();
        assert_eq!(k, m);
        assert!(k.kill_chip(7, 7).is_err());
    }

    #[test]
    fn explicit_json() {
        let m = MachineDesc::from_json(
            r#"{ "width": 4, "height": 2, "wrap": false,
                 "chips": [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1], [1, 1]],
                 "ethernet_chips": [[1, 0], [0, 0], [1, 0]],
                 "dead_links": [[1, 0, 2]] }"#,
        )
        .unwrap();
        assert_eq!((m.width(), m.height(), m.wraps()), (4, 2, false));
        assert_eq!(m.chips().len(), 6);
        assert_eq!(m.ethernet_chips(), vec![(0, 0), (1, 0)]);
        assert_eq!(m.neighbour(1, 0, 2), None);
        assert_eq!(m.neighbour(1, 1, 5), None);
        assert_eq!(m.neighbour(1, 0, 1), None); // (2,1) is not a chip
        assert_eq!(m.neighbour(0, 0, 1), Some((1, 1)));
        assert_eq!(m.hops((3, 0), (0, 1)), Some(4)); // W, W, W, N
        assert_symmetric(&m);

        let full = MachineDesc::from_json(r#"{"width": 12, "height": 12, "wrap": true}"#).unwrap();
        assert_eq!(full, MachineDesc::torus(12, 12));
        let none =
            MachineDesc::from_json(r#"{"width": 3, "height": 3, "chips": [[1, 1]]}"#).unwrap();
        assert_eq!(none.ethernet_chips(), Vec::<(u8, u8)>::new());
    }

    #[test]
    fn serde_round_trip() {
        let mut descs = vec![
            MachineDesc::single(),
            MachineDesc::spinn3(),
            MachineDesc::spinn5(),
            MachineDesc::torus(3, 5),
            MachineDesc::boards(4).unwrap(),
        ];
        descs.push(
            MachineDesc::from_json(
                r#"{"base": "spinn5", "dead_chips": [[1, 1]], "dead_cores": [[2, 2, 5]], "dead_links": [[0, 0, 0], [1, 0, 1]]}"#,
            )
            .unwrap(),
        );
        for d in descs {
            let text = d.to_json();
            assert_eq!(MachineDesc::from_json(&text).unwrap(), d, "{text}");
            let via_serde: MachineDesc =
                serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            assert_eq!(via_serde, d);
        }
    }

    #[test]
    fn parse_specs() {
        assert_eq!(MachineDesc::parse("single").unwrap(), MachineDesc::single());
        assert_eq!(MachineDesc::parse("spinn3").unwrap(), MachineDesc::spinn3());
        assert_eq!(
            MachineDesc::parse(" spinn5 ").unwrap(),
            MachineDesc::spinn5()
        );
        assert_eq!(MachineDesc::parse("8x8").unwrap(), MachineDesc::torus(8, 8));
        assert_eq!(MachineDesc::parse("255x1").unwrap().chips().len(), 255);
        assert_eq!(
            MachineDesc::parse("boards:3").unwrap(),
            MachineDesc::boards(3).unwrap()
        );

        let path =
            std::env::temp_dir().join(format!("spinn-geometry-test-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"base": "spinn3", "dead_cores": [[1, 1, 4]]}"#).unwrap();
        let m = MachineDesc::parse(path.to_str().unwrap()).unwrap();
        assert_eq!(m.dead_cores(1, 1), 1 << 4);
        std::fs::write(&path, r#"{"base": "spinn3", "dead_cores": [[1, 1, 0]]}"#).unwrap();
        let e = MachineDesc::parse(path.to_str().unwrap()).unwrap_err();
        assert!(
            matches!(&e, GeometryError::InFile { error, .. } if matches!(**error, GeometryError::BadCore { .. }))
        );
        assert!(
            e.to_string().contains("spinn-geometry-test") && e.to_string().contains("monitor"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();

        let e = MachineDesc::parse("/nonexistent/dir/machine.json").unwrap_err();
        assert!(matches!(e, GeometryError::Unreadable { .. }));
        assert!(
            e.to_string().contains("/nonexistent/dir/machine.json"),
            "{e}"
        );
    }

    #[test]
    fn garbage_specs_give_errors() {
        for s in [
            "",
            "   ",
            "x",
            "0x8",
            "8x0",
            "256x2",
            "8x8x8",
            "x8",
            "8x",
            "boards:",
            "boards:0",
            "boards:-1",
            "boards:abc",
        ] {
            let e = MachineDesc::parse(s).unwrap_err();
            assert!(matches!(e, GeometryError::BadSpec { .. }), "{s:?}: {e}");
        }
        for s in [
            "boards:99999999999",
            "spinn6",
            "SPINN5",
            "\0",
            "8 x 8",
            "../..",
            "/",
            "{\"base\":\"spinn5\"}",
        ] {
            let e = MachineDesc::parse(s).unwrap_err();
            assert!(!e.to_string().is_empty(), "{s:?}");
        }
    }

    #[test]
    fn bad_json_gives_errors() {
        use GeometryError as G;
        type Check = fn(&GeometryError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, G::Json(_))),
            ("{", |e| matches!(e, G::Json(_))),
            ("[]", |e| matches!(e, G::BadDescription(_))),
            (r#"["spinn5"]"#, |e| matches!(e, G::BadDescription(_))),
            ("null", |e| matches!(e, G::BadDescription(_))),
            (r#"{"base": "spinn5", "colour": "red"}"#, |e| {
                matches!(e, G::Json(_))
            }),
            (r#"{"width": 300, "height": 2}"#, |e| {
                matches!(e, G::Json(_))
            }),
            (r#"{"base": "spinn5", "dead_chips": [[1, 2, 3]]}"#, |e| {
                matches!(e, G::Json(_))
            }),
            ("{}", |e| matches!(e, G::BadDescription(_))),
            (r#"{"width": 4}"#, |e| matches!(e, G::BadDescription(_))),
            (r#"{"base": "spinn5", "width": 8}"#, |e| {
                matches!(e, G::BadDescription(_))
            }),
            (r#"{"base": "spinn5", "wrap": true}"#, |e| {
                matches!(e, G::BadDescription(_))
            }),
            (r#"{"width": 0, "height": 3}"#, |e| {
                matches!(e, G::BadDescription(_))
            }),
            (r#"{"base": "spinn7"}"#, |e| matches!(e, G::BadSpec { .. })),
            (r#"{"base": "/etc/passwd"}"#, |e| {
                matches!(e, G::BadSpec { .. })
            }),
            (r#"{"base": "boards:0"}"#, |e| {
                matches!(e, G::BadSpec { .. })
            }),
            (r#"{"width": 2, "height": 2, "chips": [[2, 0]]}"#, |e| {
                matches!(e, G::OutOfRange { .. })
            }),
            (
                r#"{"width": 2, "height": 2, "chips": [[1, 0], [1, 0]]}"#,
                |e| matches!(e, G::DuplicateChip { x: 1, y: 0 }),
            ),
            (
                r#"{"width": 2, "height": 2, "chips": [[1, 0]], "ethernet_chips": [[0, 0]]}"#,
                |e| matches!(e, G::NoSuchChip { .. }),
            ),
            (r#"{"base": "spinn5", "dead_chips": [[9, 9]]}"#, |e| {
                matches!(e, G::OutOfRange { x: 9, y: 9, .. })
            }),
            (r#"{"base": "spinn5", "dead_chips": [[7, 0]]}"#, |e| {
                matches!(e, G::NoSuchChip { x: 7, y: 0, .. })
            }),
            (r#"{"base": "spinn5", "dead_cores": [[0, 0, 0]]}"#, |e| {
                matches!(e, G::BadCore { core: 0, .. })
            }),
            (r#"{"base": "spinn5", "dead_cores": [[0, 0, 18]]}"#, |e| {
                matches!(e, G::BadCore { core: 18, .. })
            }),
            (r#"{"base": "spinn5", "dead_cores": [[0, 7, 1]]}"#, |e| {
                matches!(e, G::NoSuchChip { .. })
            }),
            (r#"{"base": "spinn5", "dead_links": [[0, 0, 6]]}"#, |e| {
                matches!(e, G::BadLink { link: 6, .. })
            }),
            (r#"{"base": "single", "dead_links": [[1, 0, 0]]}"#, |e| {
                matches!(e, G::OutOfRange { .. })
            }),
        ];
        for (text, ok) in cases {
            let e = MachineDesc::from_json(text).unwrap_err();
            assert!(ok(&e), "{text}: {e}");
            assert!(!e.to_string().contains('\n'), "{text}: {e}");
        }
        // The same refusals through serde.
        assert!(serde_json::from_str::<MachineDesc>(
            r#"{"base": "spinn5", "dead_cores": [[0, 0, 0]]}"#
        )
        .is_err());
    }
}
