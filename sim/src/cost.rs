// SPDX-License-Identifier: GPL-2.0-or-later
//! Static cycle cost of one straight-line block of ARM968E-S code (ARMv5TE, ARM and Thumb).
//!
//! The simulator runs each core in Unicorn and charges time per basic block: the first time a
//! block is seen its code bytes are passed to [`block_cost`], and the result is cached by
//! (start address, Thumb state). The cost is therefore computed statically, from the instruction
//! encodings alone, with these assumptions:
//!
//! * **Every instruction executes.** Conditional instructions (including a conditional branch
//!   at the end of the block) are charged as if their condition passed. A failed condition
//!   really costs 1 cycle on the ARM9E-S, so this overestimates skipped instructions.
//! * **Memory is TCM** (zero wait states). Wait states of SysRAM, SDRAM and peripherals are
//!   charged elsewhere, at access time.
//! * **Interlocks only between consecutive instructions of the same block.** A load at the end
//!   of a block whose result is used by the first instruction of the next block is not charged.
//!   Interlocks track the general registers r0–r15 only, not the flags.
//! * **Things that depend on run-time values are fixed**: an `MSR` is assumed to change the mode
//!   whenever it writes the control field of the CPSR; multiplies are charged their fixed GCC
//!   issue cost (no early termination on small operands).
//!
//! Sources ("Src" column): **TRM** = ARM9EJ-S TRM Table 8.2 as quoted in
//! `shared/docs/spinnaker-hardware.md` §8.2 (ARM9E-S family, assumed identical for the
//! ARM968E-S); **GCC** = GCC's ARM926EJ-S pipeline model (`arm926ejs.md`) from the same section;
//! **UNV** = one of the UNVERIFIED figures of §8.2; **CHOICE** = a decision made here, not
//! backed by a document.
//!
//! | Class (ARM; Thumb forms cost the same as their ARM equivalent, UNV) | Cycles | Extra if the next instruction reads … | Src |
//! |---|---|---|---|
//! | Data processing, immediate or immediate-shifted register (`MOV`, `ADD`, `CMP`, Thumb shifts by immediate, `ADD Rd, SP/PC, #imm`, …), `CLZ` | 1 | — | TRM |
//! | Data processing with register-specified shift (Thumb `LSL`/`LSR`/`ASR`/`ROR` by register) | 2 | — | TRM, GCC |
//! | Data processing writing PC: `ADD`/`SUB`/`RSB`/`ADC`/`SBC`/`RSC` or `MOV` with an unshifted operand (incl. `MOVS pc, lr`, Thumb `ADD pc, Rm`/`MOV pc, Rm`) | 3 | — | TRM; `MOV` = 3 is CHOICE (brief: "MOV PC 3") |
//! | Data processing writing PC: logical `AND`/`EOR`/`ORR`/`BIC`/`MVN`, or any immediate-shifted operand | 4 | — | TRM |
//! | … the same with a register-specified shift | 5 | — | CHOICE (4 + 1) |
//! | `B`, `BL`, `BX`, `BLX` (immediate and register), Thumb `B`, `B<cond>`, `BX`, `BLX` | 3 | — | UNV |
//! | Thumb `BL`/`BLX` prefix + suffix pair (counted as **one** instruction) | 4 | — | CHOICE: prefix is a 1-cycle ALU op, suffix a 3-cycle branch |
//! | Lone Thumb `BL` prefix / lone suffix | 1 / 3 | — | CHOICE (as above) |
//! | `MRS` | 2 | — | UNV (1–2: the upper value is taken) |
//! | `MSR` writing the CPSR control field (`_c`) | 3 | — | UNV ("3 if mode changes"; CHOICE: assumed whenever `_c` is written) |
//! | `MSR` otherwise (flags/status/extension of CPSR, any SPSR write) | 1 | — | UNV |
//! | `MUL`, `MLA` | 2 | +1 (Rd) | GCC (issue 2, latency 3) |
//! | `MULS`, `MLAS`, Thumb `MUL` (always sets flags) | 3 | +1 (Rd) | GCC (issue 3, latency 4) |
//! | `UMULL`, `UMLAL`, `SMULL`, `SMLAL` | 3 | +1 (RdLo, RdHi) | GCC (issue 3, latency 4) |
//! | … with S | 4 | +1 (RdLo, RdHi) | GCC (issue 4, latency 5) |
//! | `SMULxy`, `SMLAxy`, `SMULWy`, `SMLAWy` | 1 | +1 (Rd) | GCC (issue 1, latency 2) |
//! | `SMLALxy` | 2 | +1 (RdLo, RdHi) | GCC (issue 2, latency 3) |
//! | `QADD`, `QSUB`, `QDADD`, `QDSUB` | 1 | — | CHOICE (brief) |
//! | `LDR` (word), immediate or unscaled register offset; Thumb `LDR` (all forms) | 1 | +1 (Rd) | TRM |
//! | `LDR` with scaled register offset (shift ≠ `LSL #0`) | 2 | +1 (Rd) | TRM |
//! | `LDRB`, `LDRH`, `LDRSB`, `LDRSH` (`LDRB` with scaled offset: 2) | 1 | +2 (Rd) | TRM |
//! | `LDR`/`LDRB` into PC | 5 (6 scaled) | — | TRM |
//! | `STR`, `STRB`, `STRH` (scaled register offset: 2) | 1 | — | TRM |
//! | `LDRD` | 2 | +1 (Rd+1, the last word) | TRM |
//! | `STRD` | 2 | — | TRM |
//! | `LDM` / Thumb `LDMIA` / `POP`, n registers, no PC | max(n, 2) | +1 (highest register loaded) | TRM for n; interlock CHOICE (the TRM row is truncated in our copy; same as `LDR`) |
//! | `LDM` / `POP` including PC (n counts PC) | n + 4 | — | UNV |
//! | `STM` / Thumb `STMIA` / `PUSH`, n registers | max(n, 2) | — | UNV |
//! | `SWP` | 2 | +1 (Rd) | UNV; interlock CHOICE (as `LDR`) |
//! | `SWPB` | 2 | +2 (Rd) | UNV; interlock CHOICE (as `LDRB`) |
//! | `PLD` | 1 | — | CHOICE |
//! | `MCR` to CP14/CP15 (incl. the WFI `MCR p15,0,Rx,c7,c0,4`: sleeping is charged elsewhere) | 2 | — | CHOICE (issue + coprocessor handshake, no busy-wait) |
//! | `MRC` from CP14/CP15 | 2 | +1 (Rd, unless Rd = PC, which writes the flags) | CHOICE (data returns like a load) |
//! | `SWI`, `BKPT`, architecturally UNDEFINED encodings (media space, `0011 0x00`, permanently undefined, Thumb `0xDE..`, unallocated Thumb `1011 xxxx`, BLX suffix with bit 0 set), coprocessor instructions the ARM968E-S has no coprocessor for (`CDP`, `LDC`/`STC`, `MCRR`/`MRRC`, the `…2` forms, `MCR`/`MRC` to CP0–CP13) | 3 | — | UNV (exception entry ~3; the refill is the next block's cost) |
//! | Anything else (unallocated/UNPREDICTABLE encodings, e.g. unallocated parts of the miscellaneous and multiply spaces, unallocated `cond = 1111` encodings) | 1 | — | CHOICE |
//!
//! "Reads" (for the interlock column) includes every register operand of the next instruction:
//! base and offset registers, the data register of a store (§8.2: no forwarding to the
//! store-data port), the accumulator(s) of a multiply-accumulate (no forwarding to the
//! accumulate port), the register list of an `STM`/`PUSH`, the `Rm` of `BX`/`BLX`/`MSR`.
//! For multiplies the interlock is GCC's latency minus its issue cycles, which is 1 for every
//! form.
//!
//! Decoding never fails: any 32-bit word (ARM) or halfword (Thumb) decodes to one of the classes
//! above, the last row being the fallback.

/// Cost of one straight-line block of code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockCost {
    /// Core clock cycles to execute the block once (TCM accesses, every instruction executed).
    pub cycles: u32,
    /// Number of instructions in the block (a Thumb `BL`/`BLX` pair counts as one).
    pub instructions: u32,
}

/// Decodes `code` (little-endian ARM words, or Thumb halfwords when `thumb`) and returns its cost.
/// Decoding stops at the end of `code`; a trailing partial instruction is ignored.
///
/// In Thumb state, a `BL`/`BLX` prefix halfword followed by a valid suffix halfword is one
/// instruction; a prefix that is the last complete halfword of `code` is costed alone (a lone
/// prefix, 1 cycle).
pub fn block_cost(code: &[u8], thumb: bool) -> BlockCost {
    if thumb {
        sum(thumb_insns(code).map(decode_thumb))
    } else {
        sum(code
            .chunks_exact(4)
            .map(|w| decode_arm(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))))
    }
}

/// Cycles of the ARM instruction `insn`, including the interlock stall it causes when `next`
/// (the following instruction of the same block, if any) reads one of its late results.
pub fn arm_cycles(insn: u32, next: Option<u32>) -> u32 {
    let d = decode_arm(insn);
    d.cycles + next.map_or(0, |n| d.stall_before(&decode_arm(n)))
}

/// Cycles of the Thumb instruction `insn`, including the interlock stall it causes when `next`
/// (the following instruction of the same block, if any) reads one of its late results.
///
/// A 16-bit instruction is passed as its halfword (`0..=0xFFFF`); a `BL`/`BLX` pair as
/// `(prefix << 16) | suffix` (always `>= 0xF000_0000`, so the two never collide), the same
/// packing as [`block_cost`] uses internally. A value above `0xFFFF` that is not a prefix/suffix
/// pair is costed as its low halfword.
pub fn thumb_cycles(insn: u32, next: Option<u32>) -> u32 {
    let d = decode_thumb(insn);
    d.cycles + next.map_or(0, |n| d.stall_before(&decode_thumb(n)))
}

/// Adds up the costs of a sequence of decoded instructions, with interlocks between neighbours.
fn sum(decoded: impl Iterator<Item = Decoded>) -> BlockCost {
    let mut cost = BlockCost::default();
    let mut prev: Option<Decoded> = None;
    for d in decoded {
        let stall = prev.map_or(0, |p| p.stall_before(&d));
        cost.cycles = cost.cycles.saturating_add(stall).saturating_add(d.cycles);
        cost.instructions = cost.instructions.saturating_add(1);
        prev = Some(d);
    }
    cost
}

/// Timing-relevant summary of one decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decoded {
    /// Issue cycles, without any interlock with the following instruction.
    cycles: u32,
    /// Registers this instruction reads (bit n = rn).
    reads: u16,
    /// Registers this instruction writes late (never PC).
    late: u16,
    /// Stall cycles if the next instruction reads any register of `late`.
    stall: u32,
}

impl Decoded {
    /// An instruction of `cycles` cycles that reads nothing and produces no late result.
    const fn new(cycles: u32) -> Self {
        Decoded {
            cycles,
            reads: 0,
            late: 0,
            stall: 0,
        }
    }

    /// Adds `mask` to the registers read.
    const fn reads(mut self, mask: u16) -> Self {
        self.reads |= mask;
        self
    }

    /// Marks the registers of `mask` as available only `stall` cycles late to the next
    /// instruction.
    const fn late(mut self, mask: u16, stall: u32) -> Self {
        self.late = mask & 0x7FFF;
        self.stall = stall;
        self
    }

    /// Interlock cycles inserted between `self` and the instruction `next` that follows it.
    const fn stall_before(&self, next: &Decoded) -> u32 {
        if self.late & next.reads != 0 {
            self.stall
        } else {
            0
        }
    }
}

/// Cycles of an exception-causing instruction (SWI, BKPT, UNDEFINED).
const EXCEPTION: u32 = 3;
/// Cycles of a branch (B, BL, BX, BLX) or a simple PC write.
const BRANCH: u32 = 3;
/// Cycles of an instruction the decoder does not recognise.
const UNKNOWN: u32 = 1;

/// Register mask for the 4-bit register number at bit `shift` of `insn`.
const fn reg(insn: u32, shift: u32) -> u16 {
    1 << ((insn >> shift) & 0xF)
}

/// Register mask for the 3-bit (low) register number at bit `shift` of `insn`.
const fn lreg(insn: u32, shift: u32) -> u16 {
    1 << ((insn >> shift) & 0x7)
}

/// Mask of the highest register in a non-empty `list` (0 for an empty list).
const fn highest(list: u16) -> u16 {
    if list == 0 {
        0
    } else {
        1 << (15 - list.leading_zeros())
    }
}

/// Cost of a load-multiple of `list` (PC included or not).
fn load_multiple(list: u16) -> Decoded {
    let n = list.count_ones();
    if list & 0x8000 != 0 {
        Decoded::new(n + 4)
    } else {
        Decoded::new(n.max(2)).late(highest(list), 1)
    }
}

/// Cost of a store-multiple of `list`.
fn store_multiple(list: u16) -> Decoded {
    Decoded::new(list.count_ones().max(2)).reads(list)
}

/// Decodes one ARM instruction.
fn decode_arm(insn: u32) -> Decoded {
    const PC: u32 = 15;
    let bit = |n: u32| (insn >> n) & 1 != 0;
    let rd = (insn >> 12) & 0xF;

    if insn >> 28 == 0xF {
        return decode_arm_unconditional(insn);
    }
    match (insn >> 25) & 7 {
        0b000 | 0b001 => {
            let imm = bit(25);
            if !imm && bit(4) && bit(7) {
                decode_arm_mul_extra(insn)
            } else if insn & 0x0190_0000 == 0x0100_0000 {
                // TST/TEQ/CMP/CMN without S: the miscellaneous space.
                if imm {
                    if bit(21) {
                        msr(insn)
                    } else {
                        Decoded::new(EXCEPTION) // 0011 0x00: UNDEFINED on ARMv5
                    }
                } else {
                    decode_arm_misc(insn)
                }
            } else {
                // Data processing.
                let op = (insn >> 21) & 0xF;
                let reg_shift = !imm && bit(4);
                let mut d = Decoded::new(0);
                if op != 0xD && op != 0xF {
                    d = d.reads(reg(insn, 16));
                }
                if !imm {
                    d = d.reads(reg(insn, 0));
                    if reg_shift {
                        d = d.reads(reg(insn, 8));
                    }
                }
                let compare = (0x8..=0xB).contains(&op);
                let shifted = !imm && (insn >> 4) & 0xFF != 0;
                let base = if !compare && rd == PC {
                    let arithmetic = matches!(op, 0x2..=0x7) || op == 0xD;
                    if arithmetic && !shifted {
                        BRANCH
                    } else {
                        4
                    }
                } else {
                    1
                };
                d.cycles = base + u32::from(reg_shift);
                d
            }
        }
        0b010 | 0b011 => {
            let register = bit(25);
            if register && bit(4) {
                return Decoded::new(EXCEPTION); // media space: UNDEFINED on ARMv5
            }
            let scaled = register && (insn >> 5) & 0x7F != 0;
            let mut d = Decoded::new(1 + u32::from(scaled)).reads(reg(insn, 16));
            if register {
                d = d.reads(reg(insn, 0));
            }
            if !bit(20) {
                d.reads(reg(insn, 12))
            } else if rd == PC {
                Decoded {
                    cycles: 5 + u32::from(scaled),
                    ..d
                }
            } else {
                d.late(reg(insn, 12), if bit(22) { 2 } else { 1 })
            }
        }
        0b100 => {
            let list = (insn & 0xFFFF) as u16;
            let d = if bit(20) {
                load_multiple(list)
            } else {
                store_multiple(list)
            };
            d.reads(reg(insn, 16))
        }
        0b101 => Decoded::new(BRANCH),
        0b110 => Decoded::new(EXCEPTION), // LDC/STC, MCRR/MRRC: no such coprocessor
        _ => {
            if bit(24) {
                Decoded::new(EXCEPTION) // SWI
            } else if bit(4) && matches!((insn >> 8) & 0xF, 14 | 15) {
                if bit(20) {
                    let d = Decoded::new(2);
                    if rd == PC {
                        d
                    } else {
                        d.late(reg(insn, 12), 1)
                    }
                } else {
                    Decoded::new(2).reads(reg(insn, 12))
                }
            } else {
                Decoded::new(EXCEPTION) // CDP, or MCR/MRC to an absent coprocessor
            }
        }
    }
}

/// Decodes an ARM instruction with condition field `1111`.
fn decode_arm_unconditional(insn: u32) -> Decoded {
    if insn & 0x0D70_F000 == 0x0550_F000 && (insn & 0x0200_0010) != 0x0200_0010 {
        // PLD [Rn, #imm] / PLD [Rn, Rm, shift]
        let d = Decoded::new(1).reads(reg(insn, 16));
        if insn & 0x0200_0000 != 0 {
            d.reads(reg(insn, 0))
        } else {
            d
        }
    } else if insn & 0x0E00_0000 == 0x0A00_0000 {
        Decoded::new(BRANCH) // BLX #imm
    } else if insn & 0x0E00_0000 == 0x0C00_0000 || insn & 0x0F00_0000 == 0x0E00_0000 {
        Decoded::new(EXCEPTION) // LDC2/STC2/CDP2/MCR2/MRC2: no such coprocessor
    } else {
        Decoded::new(UNKNOWN)
    }
}

/// `MSR` (immediate or register form; the caller has checked the encoding).
fn msr(insn: u32) -> Decoded {
    let spsr = insn & (1 << 22) != 0;
    let control = insn & (1 << 16) != 0;
    Decoded::new(if !spsr && control { 3 } else { 1 })
}

/// Decodes the ARM multiply / swap / extra load-store space (bits 27-25 `000`, bits 7 and 4 set).
fn decode_arm_mul_extra(insn: u32) -> Decoded {
    let bit = |n: u32| (insn >> n) & 1 != 0;
    if (insn >> 5) & 3 == 0 {
        match (insn >> 23) & 0x1F {
            0b00000 if !bit(22) => {
                // MUL / MLA: Rd 19-16, Rn 15-12, Rs 11-8, Rm 3-0.
                let mut d = Decoded::new(2 + u32::from(bit(20)))
                    .reads(reg(insn, 8) | reg(insn, 0))
                    .late(reg(insn, 16), 1);
                if bit(21) {
                    d = d.reads(reg(insn, 12));
                }
                d
            }
            0b00001 => {
                // UMULL / UMLAL / SMULL / SMLAL: RdHi 19-16, RdLo 15-12.
                let dest = reg(insn, 16) | reg(insn, 12);
                let mut d = Decoded::new(3 + u32::from(bit(20)))
                    .reads(reg(insn, 8) | reg(insn, 0))
                    .late(dest, 1);
                if bit(21) {
                    d = d.reads(dest);
                }
                d
            }
            0b00010 if (insn >> 20) & 3 == 0 => {
                // SWP / SWPB: Rn 19-16 address, Rd 15-12 loaded, Rm 3-0 stored.
                Decoded::new(2)
                    .reads(reg(insn, 16) | reg(insn, 0))
                    .late(reg(insn, 12), if bit(22) { 2 } else { 1 })
            }
            _ => Decoded::new(UNKNOWN),
        }
    } else {
        // LDRH/STRH/LDRSB/LDRSH/LDRD/STRD.
        let load = bit(20);
        let op = (insn >> 5) & 3;
        let mut d = Decoded::new(1).reads(reg(insn, 16));
        if !bit(22) {
            d = d.reads(reg(insn, 0));
        }
        let rd = (insn >> 12) & 0xF;
        // The second register of LDRD/STRD (Rd must be even; Rd = 14 is UNPREDICTABLE).
        let second: u16 = if rd < 15 { 1 << (rd + 1) } else { 0 };
        match (load, op) {
            // LDRD: the second word arrives last.
            (false, 0b10) => Decoded { cycles: 2, ..d }.late(second, 1),
            // STRD
            (false, 0b11) => Decoded { cycles: 2, ..d }.reads(reg(insn, 12) | second),
            (false, _) => d.reads(reg(insn, 12)), // STRH
            (true, _) if rd == 15 => Decoded { cycles: 5, ..d }, // load into PC
            (true, _) => d.late(reg(insn, 12), 2), // LDRH/LDRSB/LDRSH
        }
    }
}

/// Decodes the ARM miscellaneous space (bits 27-23 `00010`, bit 20 clear, bit 25 clear).
fn decode_arm_misc(insn: u32) -> Decoded {
    let op = (insn >> 21) & 3;
    if insn & 0x80 == 0 {
        match (insn >> 4) & 7 {
            0b000 if op & 1 == 0 => Decoded::new(2), // MRS
            0b000 => msr(insn).reads(reg(insn, 0)),  // MSR register
            0b001 if op == 0b01 => Decoded::new(BRANCH).reads(reg(insn, 0)), // BX
            0b001 if op == 0b11 => Decoded::new(1).reads(reg(insn, 0)), // CLZ
            0b011 if op == 0b01 => Decoded::new(BRANCH).reads(reg(insn, 0)), // BLX register
            0b101 => Decoded::new(1).reads(reg(insn, 0) | reg(insn, 16)), // QADD/QSUB/QDADD/QDSUB
            0b111 if op == 0b01 => Decoded::new(EXCEPTION), // BKPT
            _ => Decoded::new(UNKNOWN),
        }
    } else {
        // Signed halfword multiplies: Rd (or RdHi) 19-16, Rn (or RdLo) 15-12, Rs 11-8, Rm 3-0.
        let operands = reg(insn, 8) | reg(insn, 0);
        match op {
            0b00 => Decoded::new(1)
                .reads(operands | reg(insn, 12))
                .late(reg(insn, 16), 1), // SMLAxy
            0b01 => {
                // SMLAWy (bit 5 clear) / SMULWy (bit 5 set)
                let acc = if insn & 0x20 == 0 { reg(insn, 12) } else { 0 };
                Decoded::new(1).reads(operands | acc).late(reg(insn, 16), 1)
            }
            0b10 => {
                let dest = reg(insn, 16) | reg(insn, 12); // SMLALxy
                Decoded::new(2).reads(operands | dest).late(dest, 1)
            }
            _ => Decoded::new(1).reads(operands).late(reg(insn, 16), 1), // SMULxy
        }
    }
}

/// True for the first halfword of a Thumb `BL`/`BLX` pair.
const fn is_bl_prefix(hw: u16) -> bool {
    hw >> 11 == 0b11110
}

/// True for a valid second halfword of a Thumb `BL` (`11111`) or `BLX` (`11101`, bit 0 clear).
const fn is_bl_suffix(hw: u16) -> bool {
    hw >> 11 == 0b11111 || (hw >> 11 == 0b11101 && hw & 1 == 0)
}

/// Splits Thumb code into instructions: halfwords, with `BL`/`BLX` pairs packed as
/// `(prefix << 16) | suffix`.
fn thumb_insns(code: &[u8]) -> impl Iterator<Item = u32> + '_ {
    let mut hws = code
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .peekable();
    std::iter::from_fn(move || {
        let hw = hws.next()?;
        if is_bl_prefix(hw) {
            if let Some(&next) = hws.peek() {
                if is_bl_suffix(next) {
                    hws.next();
                    return Some((u32::from(hw) << 16) | u32::from(next));
                }
            }
        }
        Some(u32::from(hw))
    })
}

/// Decodes one Thumb instruction (a halfword, or a packed `BL`/`BLX` pair).
fn decode_thumb(insn: u32) -> Decoded {
    const SP: u16 = 1 << 13;
    const LR: u16 = 1 << 14;
    if insn > 0xFFFF {
        let (prefix, suffix) = ((insn >> 16) as u16, insn as u16);
        if is_bl_prefix(prefix) && is_bl_suffix(suffix) {
            return Decoded::new(1 + BRANCH);
        }
    }
    let hw = insn & 0xFFFF;
    let bit = |n: u32| (hw >> n) & 1 != 0;
    let rd = lreg(hw, 0);
    let rn = lreg(hw, 3);
    match hw >> 13 {
        0b000 => {
            if (hw >> 11) & 3 == 0b11 {
                // ADD/SUB register or 3-bit immediate
                let d = Decoded::new(1).reads(rn);
                if bit(10) {
                    d
                } else {
                    d.reads(lreg(hw, 6))
                }
            } else {
                Decoded::new(1).reads(rn) // LSL/LSR/ASR #imm
            }
        }
        0b001 => {
            // MOV/CMP/ADD/SUB #imm8
            let d = Decoded::new(1);
            if (hw >> 11) & 3 == 0 {
                d
            } else {
                d.reads(lreg(hw, 8))
            }
        }
        0b010 => match (hw >> 10) & 7 {
            0b000 => {
                // Data-processing register operations: Rd 2-0, Rm/Rs 5-3.
                match (hw >> 6) & 0xF {
                    0x2 | 0x3 | 0x4 | 0x7 => Decoded::new(2).reads(rd | rn), // shift by register
                    0xD => Decoded::new(3).reads(rd | rn).late(rd, 1),       // MUL (MULS)
                    0x9 | 0xF => Decoded::new(1).reads(rn),                  // NEG, MVN
                    _ => Decoded::new(1).reads(rd | rn),
                }
            }
            0b001 => {
                // Hi-register operations / BX / BLX: Rd = H1:Rd, Rm = H2:Rm.
                let hd = (hw & 7) | ((hw >> 4) & 8);
                let d_mask: u16 = 1 << hd;
                let m_mask = reg(hw, 3);
                match (hw >> 8) & 3 {
                    0b00 => Decoded::new(if hd == 15 { BRANCH } else { 1 }).reads(d_mask | m_mask),
                    0b01 => Decoded::new(1).reads(d_mask | m_mask),
                    0b10 => Decoded::new(if hd == 15 { BRANCH } else { 1 }).reads(m_mask),
                    _ => Decoded::new(BRANCH).reads(m_mask),
                }
            }
            0b010 | 0b011 => Decoded::new(1).late(lreg(hw, 8), 1), // LDR Rd, [PC, #imm]
            _ => {
                // Load/store with register offset: Rm 8-6, Rn 5-3, Rd 2-0.
                let d = Decoded::new(1).reads(lreg(hw, 6) | rn);
                match (hw >> 9) & 7 {
                    0b000..=0b010 => d.reads(rd), // STR, STRH, STRB
                    0b100 => d.late(rd, 1),       // LDR
                    _ => d.late(rd, 2),           // LDRSB, LDRH, LDRB, LDRSH
                }
            }
        },
        0b011 | 0b100 => {
            if hw >> 12 == 0b1001 {
                // SP-relative LDR/STR: Rd 10-8.
                let d = Decoded::new(1).reads(SP);
                if bit(11) {
                    d.late(lreg(hw, 8), 1)
                } else {
                    d.reads(lreg(hw, 8))
                }
            } else {
                // LDR/STR/LDRB/STRB #imm5 (011), LDRH/STRH #imm5 (1000).
                let word = hw >> 12 == 0b0110;
                let d = Decoded::new(1).reads(rn);
                if bit(11) {
                    d.late(rd, if word { 1 } else { 2 })
                } else {
                    d.reads(rd)
                }
            }
        }
        0b101 => {
            if !bit(12) {
                // ADD Rd, PC/SP, #imm
                Decoded::new(1).reads(if bit(11) { SP } else { 0 })
            } else {
                match (hw >> 8) & 0xF {
                    0b0000 => Decoded::new(1).reads(SP), // ADD/SUB SP, #imm
                    0b0100 | 0b0101 => {
                        // PUSH {list[, lr]}
                        let list = (hw & 0xFF) as u16 | if bit(8) { LR } else { 0 };
                        store_multiple(list).reads(SP)
                    }
                    0b1100 | 0b1101 => {
                        // POP {list[, pc]}
                        let list = (hw & 0xFF) as u16 | if bit(8) { 1 << 15 } else { 0 };
                        load_multiple(list).reads(SP)
                    }
                    _ => Decoded::new(EXCEPTION), // BKPT (1110), UNDEFINED on ARMv5T
                }
            }
        }
        0b110 => {
            if !bit(12) {
                // LDMIA/STMIA Rn!, {list}: Rn 10-8.
                let list = (hw & 0xFF) as u16;
                let d = if bit(11) {
                    load_multiple(list)
                } else {
                    store_multiple(list)
                };
                d.reads(lreg(hw, 8))
            } else {
                match (hw >> 8) & 0xF {
                    0xE | 0xF => Decoded::new(EXCEPTION), // UNDEFINED, SWI
                    _ => Decoded::new(BRANCH),            // B<cond>
                }
            }
        }
        _ => match (hw >> 11) & 3 {
            0b00 => Decoded::new(BRANCH),                  // B
            0b01 if bit(0) => Decoded::new(EXCEPTION),     // UNDEFINED
            0b01 | 0b11 => Decoded::new(BRANCH).reads(LR), // lone BLX/BL suffix
            _ => Decoded::new(1),                          // lone BL/BLX prefix
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Little-endian bytes of ARM words.
    fn arm_bytes(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Little-endian bytes of Thumb halfwords.
    fn thumb_bytes(hws: &[u16]) -> Vec<u8> {
        hws.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    fn arm(words: &[u32]) -> BlockCost {
        block_cost(&arm_bytes(words), false)
    }

    fn thumb(hws: &[u16]) -> BlockCost {
        block_cost(&thumb_bytes(hws), true)
    }

    fn cost(cycles: u32, instructions: u32) -> BlockCost {
        BlockCost {
            cycles,
            instructions,
        }
    }

    // ---- ARM encodings (arm-none-eabi-as -march=armv5te) ----
    const ADD_IMM: u32 = 0xe281_0001; // add r0, r1, #1
    const ADD_LSL_IMM: u32 = 0xe081_0182; // add r0, r1, r2, lsl #3
    const ADD_LSL_REG: u32 = 0xe081_0312; // add r0, r1, r2, lsl r3
    const MOV_R5_R0: u32 = 0xe1a0_5000; // mov r5, r0
    const MOV_R5_R6: u32 = 0xe1a0_5006; // mov r5, r6
    const ADD_R5_R0: u32 = 0xe085_5000; // add r5, r5, r0
    const ADD_R5_R1: u32 = 0xe085_5001; // add r5, r5, r1
    const NOP: u32 = 0xe1a0_0000; // mov r0, r0

    #[test]
    fn empty_and_partial() {
        assert_eq!(block_cost(&[], false), BlockCost::default());
        assert_eq!(block_cost(&[], true), BlockCost::default());
        assert_eq!(block_cost(&[1, 2, 3], false), BlockCost::default());
        assert_eq!(block_cost(&[0x00], true), BlockCost::default());
        // One full ARM word plus three stray bytes.
        let mut b = arm_bytes(&[ADD_IMM]);
        b.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
        assert_eq!(block_cost(&b, false), cost(1, 1));
        // One Thumb halfword plus a stray byte.
        assert_eq!(block_cost(&[0x88, 0x00, 0x12], true), cost(1, 1));
    }

    #[test]
    fn arm_data_processing() {
        assert_eq!(arm_cycles(ADD_IMM, None), 1);
        assert_eq!(arm_cycles(ADD_LSL_IMM, None), 1);
        assert_eq!(arm_cycles(ADD_LSL_REG, None), 2);
        assert_eq!(arm_cycles(0xe35f_0000, None), 1); // cmp pc, #0 (does not write PC)
        assert_eq!(arm_cycles(0xe16f_0f11, None), 1); // clz r0, r1
        assert_eq!(arm(&[ADD_IMM, ADD_LSL_IMM, ADD_LSL_REG]), cost(4, 3));
        // ALU results are forwarded: no interlock.
        assert_eq!(arm_cycles(ADD_IMM, Some(0xe080_0000)), 1); // add r0,#1; add r0,r0,r0
    }

    #[test]
    fn arm_pc_writes() {
        assert_eq!(arm_cycles(0xe081_f002, None), 3); // add pc, r1, r2
        assert_eq!(arm_cycles(0xe24e_f004, None), 3); // sub pc, lr, #4
        assert_eq!(arm_cycles(0xe1a0_f00e, None), 3); // mov pc, lr
        assert_eq!(arm_cycles(0xe1b0_f00e, None), 3); // movs pc, lr
        assert_eq!(arm_cycles(0xe001_f002, None), 4); // and pc, r1, r2
        assert_eq!(arm_cycles(0xe081_f102, None), 4); // add pc, r1, r2, lsl #2
        assert_eq!(arm_cycles(0xe1a0_f110, None), 5); // mov pc, r0, lsl r1
        assert_eq!(arm_cycles(0xe3c0_f003, None), 4); // bic pc, r0, #3
    }

    #[test]
    fn arm_branches() {
        assert_eq!(arm_cycles(0xeaff_fffe, None), 3); // b .
        assert_eq!(arm_cycles(0x1aff_fff2, None), 3); // bne (assumed taken)
        assert_eq!(arm_cycles(0xebff_fffe, None), 3); // bl .
        assert_eq!(arm_cycles(0xe12f_ff1e, None), 3); // bx lr
        assert_eq!(arm_cycles(0xe12f_ff33, None), 3); // blx r3
        assert_eq!(arm_cycles(0xfaff_fffe, None), 3); // blx #imm
        assert_eq!(arm_cycles(0xfbff_fffe, None), 3); // blx #imm (H set)
    }

    #[test]
    fn arm_status_registers() {
        assert_eq!(arm_cycles(0xe10f_0000, None), 2); // mrs r0, cpsr
        assert_eq!(arm_cycles(0xe121_f000, None), 3); // msr cpsr_c, r0
        assert_eq!(arm_cycles(0xe321_f0df, None), 3); // msr cpsr_c, #0xdf
        assert_eq!(arm_cycles(0xe328_f20f, None), 1); // msr cpsr_f, #0xf0000000
        assert_eq!(arm_cycles(0xe16f_f000, None), 1); // msr spsr_fsxc, r0
                                                      // MSR reads its source register: it stalls behind a load of it.
        assert_eq!(arm(&[0xe591_0004, 0xe121_f000]), cost(5, 2)); // ldr r0,[r1,#4]; msr cpsr_c,r0
    }

    #[test]
    fn arm_multiplies() {
        let mul = 0xe000_0291; // mul r0, r1, r2
        let mla = 0xe020_3291; // mla r0, r1, r2, r3
        let muls = 0xe010_0291; // muls r0, r1, r2
        let umull = 0xe081_0392; // umull r0, r1, r2, r3
        let smlals = 0xe0f1_0392; // smlals r0, r1, r2, r3
        let smulbb = 0xe160_0281; // smulbb r0, r1, r2
        let smlabt = 0xe100_32c1; // smlabt r0, r1, r2, r3
        let smlawb = 0xe120_3281; // smlawb r0, r1, r2, r3
        let smulwt = 0xe120_02e1; // smulwt r0, r1, r2
        let smlalbb = 0xe141_0382; // smlalbb r0, r1, r2, r3
        assert_eq!(arm_cycles(mul, None), 2);
        assert_eq!(arm_cycles(mla, None), 2);
        assert_eq!(arm_cycles(muls, None), 3);
        assert_eq!(arm_cycles(umull, None), 3);
        assert_eq!(arm_cycles(smlals, None), 4);
        assert_eq!(arm_cycles(0xe0d1_0392, None), 4); // smulls r0, r1, r2, r3
        assert_eq!(arm_cycles(smulbb, None), 1);
        assert_eq!(arm_cycles(smlabt, None), 1);
        assert_eq!(arm_cycles(smlawb, None), 1);
        assert_eq!(arm_cycles(smulwt, None), 1);
        assert_eq!(arm_cycles(smlalbb, None), 2);
        // Result latency: +1 when the next instruction reads the result.
        assert_eq!(arm_cycles(mul, Some(MOV_R5_R0)), 3);
        assert_eq!(arm_cycles(mul, Some(MOV_R5_R6)), 2);
        assert_eq!(arm_cycles(umull, Some(ADD_R5_R1)), 4); // RdHi used
        assert_eq!(arm_cycles(umull, Some(ADD_R5_R0)), 4); // RdLo used
        assert_eq!(arm_cycles(smulbb, Some(MOV_R5_R0)), 2);
        assert_eq!(arm_cycles(smlalbb, Some(ADD_R5_R1)), 3);
        // Next multiply-accumulate using the result as accumulator: mla r4, r1, r2, r0
        assert_eq!(arm_cycles(mul, Some(0xe024_0291)), 3);
        // Multiplier operands of the next instruction count too: mul r4, r0, r2
        assert_eq!(arm_cycles(mul, Some(0xe004_0290)), 3);
        // A following store of the result: str r0, [r1, #4]
        assert_eq!(arm_cycles(mul, Some(0xe581_0004)), 3);
    }

    #[test]
    fn arm_saturating_and_pld() {
        assert_eq!(arm_cycles(0xe102_0051, None), 1); // qadd r0, r1, r2
        assert_eq!(arm_cycles(0xe162_0051, None), 1); // qdsub r0, r1, r2
        assert_eq!(arm_cycles(0xe102_0051, Some(MOV_R5_R0)), 1); // no interlock (choice)
        assert_eq!(arm_cycles(0xf5d0_f020, None), 1); // pld [r0, #32]
        assert_eq!(arm_cycles(0xf7d0_f001, None), 1); // pld [r0, r1]
    }

    #[test]
    fn arm_loads_and_stores() {
        let ldr_imm = 0xe591_0004; // ldr r0, [r1, #4]
        let ldr_reg = 0xe791_0002; // ldr r0, [r1, r2]
        let ldr_scaled = 0xe791_0102; // ldr r0, [r1, r2, lsl #2]
        let ldrb = 0xe5d1_0000; // ldrb r0, [r1]
        let ldrh = 0xe1d1_00b2; // ldrh r0, [r1, #2]
        let ldrsb = 0xe191_00d2; // ldrsb r0, [r1, r2]
        let ldrsh = 0xe1d1_00f0; // ldrsh r0, [r1]
        assert_eq!(arm_cycles(ldr_imm, None), 1);
        assert_eq!(arm_cycles(ldr_reg, None), 1);
        assert_eq!(arm_cycles(ldr_scaled, None), 2);
        assert_eq!(arm_cycles(0xe7b1_0062, None), 2); // ldr r0, [r1, r2, rrx]! is scaled
        for l in [ldrb, ldrh, ldrsb, ldrsh] {
            assert_eq!(arm_cycles(l, None), 1, "{l:#x}");
            assert_eq!(arm_cycles(l, Some(MOV_R5_R0)), 3, "{l:#x}");
            assert_eq!(arm_cycles(l, Some(MOV_R5_R6)), 1, "{l:#x}");
        }
        // Load-use interlock (word): +1.
        assert_eq!(arm_cycles(ldr_imm, Some(MOV_R5_R0)), 2);
        assert_eq!(arm_cycles(ldr_imm, Some(MOV_R5_R6)), 1);
        assert_eq!(arm_cycles(ldr_scaled, Some(MOV_R5_R0)), 3);
        assert_eq!(arm_cycles(0xe7d1_0102, Some(MOV_R5_R0)), 4); // ldrb r0,[r1,r2,lsl #2]
                                                                 // Next instruction using the loaded register as an address or store data.
        assert_eq!(arm_cycles(ldr_imm, Some(0xe590_5000)), 2); // ldr r5, [r0]
        assert_eq!(arm_cycles(ldr_imm, Some(0xe581_0004)), 2); // str r0, [r1, #4]
        assert_eq!(arm_cycles(ldr_imm, Some(0xe786_5000)), 2); // str r5, [r6, r0]
        assert_eq!(arm_cycles(ldr_imm, Some(0xe081_5310)), 2); // add r5, r1, r0, lsl r3
        assert_eq!(arm_cycles(ldr_imm, Some(0xe081_5013)), 2); // add r5, r1, r3, lsl r0
                                                               // Base writeback is not a late result: ldr r3, [r0], #4 ; mov r5, r0
        assert_eq!(arm_cycles(0xe490_3004, Some(MOV_R5_R0)), 1);
        // Loads into PC.
        assert_eq!(arm_cycles(0xe591_f000, None), 5); // ldr pc, [r1]
        assert_eq!(arm_cycles(0xe791_f102, None), 6); // ldr pc, [r1, r2, lsl #2]
        assert_eq!(arm_cycles(0xe49d_f004, None), 5); // ldr pc, [sp], #4
                                                      // Stores.
        assert_eq!(arm_cycles(0xe581_0004, None), 1); // str r0, [r1, #4]
        assert_eq!(arm_cycles(0xe781_0102, None), 2); // str r0, [r1, r2, lsl #2]
        assert_eq!(arm_cycles(0xe1c1_00b0, None), 1); // strh r0, [r1]
        assert_eq!(arm_cycles(0xe5c1_0000, Some(MOV_R5_R0)), 1); // strb: no result
    }

    #[test]
    fn arm_doubleword() {
        let ldrd = 0xe1c2_00d0; // ldrd r0, r1, [r2]
        let strd = 0xe1c2_00f8; // strd r0, r1, [r2, #8]
        assert_eq!(arm_cycles(ldrd, None), 2);
        assert_eq!(arm_cycles(ldrd, Some(ADD_R5_R1)), 3); // last word used
        assert_eq!(arm_cycles(ldrd, Some(MOV_R5_R0)), 2); // first word is ready
        assert_eq!(arm_cycles(ldrd, Some(MOV_R5_R6)), 2);
        assert_eq!(arm_cycles(strd, None), 2);
        assert_eq!(arm_cycles(strd, Some(ADD_R5_R1)), 2);
        // strd reads both data registers: ldr r1, [r3]; strd r0, r1, [r2, #8]
        assert_eq!(arm(&[0xe593_1000, strd]), cost(4, 2));
    }

    #[test]
    fn arm_multiple() {
        let ldm1 = 0xe890_0002; // ldm r0, {r1}
        let ldm4 = 0xe8b0_001e; // ldm r0!, {r1-r4}
        let pop_pc = 0xe8bd_8030; // pop {r4, r5, pc}
        let stm1 = 0xe880_0002; // stm r0, {r1}
        let push9 = 0xe92d_4ff0; // push {r4-r11, lr}
        assert_eq!(arm_cycles(ldm1, None), 2);
        assert_eq!(arm_cycles(ldm4, None), 4);
        assert_eq!(arm_cycles(pop_pc, None), 3 + 4);
        assert_eq!(arm_cycles(0xe8bd_8000, None), 5); // pop {pc} == ldr pc
        assert_eq!(arm_cycles(0xe8bd_ffff, None), 20); // ldm sp!, {r0-pc}
        assert_eq!(arm_cycles(stm1, None), 2);
        assert_eq!(arm_cycles(push9, None), 9);
        assert_eq!(arm_cycles(0xe880_0000, None), 2); // empty list (UNPREDICTABLE): min 2
        assert_eq!(arm_cycles(0xe890_0000, None), 2);
        // Interlock on the last (highest) register loaded only.
        assert_eq!(arm_cycles(ldm4, Some(0xe1a0_5004)), 5); // mov r5, r4
        assert_eq!(arm_cycles(ldm4, Some(0xe1a0_5001)), 4); // mov r5, r1
        assert_eq!(arm_cycles(ldm1, Some(0xe1a0_5001)), 3); // mov r5, r1
                                                            // Writeback base is not late: ldm r0!, {r1-r4}; mov r5, r0
        assert_eq!(arm_cycles(ldm4, Some(MOV_R5_R0)), 4);
        // stm reads its list: ldr r4, [r1]; push {r4-r11, lr}
        assert_eq!(arm(&[0xe591_4000, push9]), cost(11, 2));
    }

    #[test]
    fn arm_swap_exceptions_coprocessor() {
        assert_eq!(arm_cycles(0xe102_0091, None), 2); // swp r0, r1, [r2]
        assert_eq!(arm_cycles(0xe142_0091, None), 2); // swpb r0, r1, [r2]
        assert_eq!(arm_cycles(0xe102_0091, Some(MOV_R5_R0)), 3);
        assert_eq!(arm_cycles(0xe142_0091, Some(MOV_R5_R0)), 4);
        assert_eq!(arm_cycles(0xef00_0000, None), 3); // swi 0
        assert_eq!(arm_cycles(0xe120_0070, None), 3); // bkpt 0
        assert_eq!(arm_cycles(0xe7f0_00f0, None), 3); // permanently undefined
        assert_eq!(arm_cycles(0xe6af_0070, None), 3); // media space (v6 sxtb): undefined
        assert_eq!(arm_cycles(0xe300_0000, None), 3); // v6T2 movw: undefined on v5
        assert_eq!(arm_cycles(0xee07_0f90, None), 2); // mcr p15, 0, r0, c7, c0, 4 (WFI)
        assert_eq!(arm_cycles(0xee11_0f10, None), 2); // mrc p15, 0, r0, c1, c0, 0
        assert_eq!(arm_cycles(0xee11_0f10, Some(MOV_R5_R0)), 3);
        assert_eq!(arm_cycles(0xee11_ff10, Some(MOV_R5_R0)), 2); // mrc to APSR flags
        assert_eq!(arm_cycles(0xee01_0a10, None), 3); // mcr p10 (no VFP): undefined
        assert_eq!(arm_cycles(0xee00_0a00, None), 3); // cdp: undefined
        assert_eq!(arm_cycles(0xed90_0a00, None), 3); // ldc: undefined
        assert_eq!(arm_cycles(0xfe00_0000, None), 3); // cdp2: undefined
                                                      // mcr reads its register: ldr r0,[r1,#4]; mcr p15,0,r0,c7,c0,4
        assert_eq!(arm(&[0xe591_0004, 0xee07_0f90]), cost(4, 2));
    }

    #[test]
    fn arm_unknown() {
        assert_eq!(arm_cycles(0xf000_0000, None), 1); // unallocated cond=1111
        assert_eq!(arm_cycles(0xe120_0020, None), 1); // bxj (not on v5TE)
        assert_eq!(arm_cycles(0xe040_0291, None), 1); // umaal (v6): unallocated here
        assert_eq!(arm_cycles(0xe190_0f9f, None), 1); // ldrex (v6)
    }

    #[test]
    fn arm_sequence_hand_computed() {
        // arm-none-eabi-as -march=armv5te:
        let code = [
            0xe490_3004, // ldr   r3, [r0], #4        1 +1 (add reads r3)
            0xe082_2003, // add   r2, r2, r3          1
            0xe004_0192, // mul   r4, r2, r1          2 +1 (str stores r4)
            0xe781_4105, // str   r4, [r1, r5, lsl #2] 2 (scaled)
            0xe5d1_6000, // ldrb  r6, [r1]            1 +2 (cmp reads r6)
            0xe356_0000, // cmp   r6, #0              1
            0xe1c0_60d0, // ldrd  r6, r7, [r0]        2 (subs reads neither)
            0xe255_5001, // subs  r5, r5, #1          1
            0xe8b0_0300, // ldm   r0!, {r8, r9}       2 +1 (orr reads r9)
            0xe189_9718, // orr   r9, r9, r8, lsl r7  2 (register shift)
            0xe16a_0889, // smulbb r10, r9, r8        1 +1 (mla accumulates r10)
            0xe02b_a291, // mla   r11, r1, r2, r10    2
            0x1aff_fff2, // bne   loop                3
        ];
        assert_eq!(arm(&code), cost(27, 13));
    }

    #[test]
    fn arm_any_word_decodes() {
        // Never panics, always at least one cycle, at most a full LDM with PC + interlock.
        let mut x: u32 = 0x1234_5678;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let c = arm_cycles(x, Some(x.rotate_left(7)));
            assert!((1..=21).contains(&c), "{x:#010x} -> {c}");
        }
        for w in [0, u32::MAX, 0xF000_0000, 0x0FFF_FFFF] {
            assert!(arm_cycles(w, Some(w)) >= 1);
        }
    }

    // ---- Thumb ----

    #[test]
    fn thumb_alu() {
        assert_eq!(thumb_cycles(0x0088, None), 1); // lsls r0, r1, #2
        assert_eq!(thumb_cycles(0x1888, None), 1); // adds r0, r1, r2
        assert_eq!(thumb_cycles(0x1ec8, None), 1); // subs r0, r1, #3
        assert_eq!(thumb_cycles(0x2005, None), 1); // movs r0, #5
        assert_eq!(thumb_cycles(0x2805, None), 1); // cmp r0, #5
        assert_eq!(thumb_cycles(0x4008, None), 1); // ands r0, r1
        assert_eq!(thumb_cycles(0x4088, None), 2); // lsls r0, r1 (register shift)
        assert_eq!(thumb_cycles(0x4248, None), 1); // negs r0, r1
        assert_eq!(thumb_cycles(0x4440, None), 1); // add r0, r8
        assert_eq!(thumb_cycles(0x4588, None), 1); // cmp r8, r1
        assert_eq!(thumb_cycles(0xa002, None), 1); // add r0, pc, #8
        assert_eq!(thumb_cycles(0xa802, None), 1); // add r0, sp, #8
        assert_eq!(thumb_cycles(0xb004, None), 1); // add sp, #16
        assert_eq!(thumb_cycles(0xb084, None), 1); // sub sp, #16
        assert_eq!(thumb(&[0x0088, 0x1888, 0x4088]), cost(4, 3));
    }

    #[test]
    fn thumb_multiply() {
        let muls = 0x4348; // muls r0, r1
        assert_eq!(thumb_cycles(muls, None), 3);
        assert_eq!(thumb_cycles(muls, Some(0x1c05)), 4); // adds r5, r0, #0
        assert_eq!(thumb_cycles(muls, Some(0x1c35)), 3); // adds r5, r6, #0
        assert_eq!(thumb_cycles(muls, Some(0x4348)), 4); // muls r0, r1 reads r0
    }

    #[test]
    fn thumb_pc_writes_and_branches() {
        assert_eq!(thumb_cycles(0x448f, None), 3); // add pc, r1
        assert_eq!(thumb_cycles(0x46f7, None), 3); // mov pc, lr
        assert_eq!(thumb_cycles(0x4770, None), 3); // bx lr
        assert_eq!(thumb_cycles(0x4798, None), 3); // blx r3
        assert_eq!(thumb_cycles(0xd0fe, None), 3); // beq .
        assert_eq!(thumb_cycles(0xe7fe, None), 3); // b .
        assert_eq!(thumb_cycles(0xdf01, None), 3); // swi 1
        assert_eq!(thumb_cycles(0xbe00, None), 3); // bkpt 0
        assert_eq!(thumb_cycles(0xde00, None), 3); // undefined
        assert_eq!(thumb_cycles(0xb672, None), 3); // v6 cpsid: undefined on v5
                                                   // bx after a load of its target register: ldr r3, [r0]; bx r3
        assert_eq!(thumb(&[0x6803, 0x4718]), cost(5, 2));
    }

    #[test]
    fn thumb_bl_pair() {
        // bl far / blx far
        assert_eq!(thumb(&[0xf000, 0xf804]), cost(4, 1));
        assert_eq!(thumb(&[0xf000, 0xe804]), cost(4, 1));
        assert_eq!(thumb_cycles(0xf000_f804, None), 4);
        // Lone prefix at the end of the block, lone suffixes.
        assert_eq!(thumb(&[0xf000]), cost(1, 1));
        assert_eq!(thumb(&[0x2005, 0xf000]), cost(2, 2));
        assert_eq!(thumb(&[0xf804]), cost(3, 1));
        assert_eq!(thumb(&[0xe804]), cost(3, 1));
        // Prefix followed by a non-suffix: two instructions.
        assert_eq!(thumb(&[0xf000, 0x2005]), cost(2, 2));
        // BLX suffix with bit 0 set is UNDEFINED: not paired.
        assert_eq!(thumb(&[0xf000, 0xe805]), cost(1 + 3, 2));
        // Pair, partial trailing byte.
        assert_eq!(
            block_cost(&[0x00, 0xf0, 0x04, 0xf8, 0x00], true),
            cost(4, 1)
        );
        // Prefix with the suffix cut off by the block end (half of it present).
        assert_eq!(block_cost(&[0x00, 0xf0, 0x04], true), cost(1, 1));
        // A load whose result feeds neither half of the pair: ldr r0, [r1]; bl
        assert_eq!(thumb(&[0x6808, 0xf000, 0xf804]), cost(5, 2));
    }

    #[test]
    fn thumb_loads_and_stores() {
        let next_r0 = 0x1c05; // adds r5, r0, #0
        let next_r6 = 0x1c35; // adds r5, r6, #0
                              // Word loads: +1.
        for l in [0x4801u32, 0x5888, 0x6848, 0x9802] {
            // ldr r0, [pc, #4] / ldr r0, [r1, r2] / ldr r0, [r1, #4] / ldr r0, [sp, #8]
            assert_eq!(thumb_cycles(l, None), 1, "{l:#x}");
            assert_eq!(thumb_cycles(l, Some(next_r0)), 2, "{l:#x}");
            assert_eq!(thumb_cycles(l, Some(next_r6)), 1, "{l:#x}");
        }
        // Byte/halfword loads: +2.
        for l in [0x5c88u32, 0x5e88, 0x8848, 0x7848, 0x5688, 0x5a88] {
            // ldrb r0,[r1,r2] / ldrsh r0,[r1,r2] / ldrh r0,[r1,#2] / ldrb r0,[r1,#1]
            // ldrsb r0,[r1,r2] / ldrh r0,[r1,r2]
            assert_eq!(thumb_cycles(l, None), 1, "{l:#x}");
            assert_eq!(thumb_cycles(l, Some(next_r0)), 3, "{l:#x}");
            assert_eq!(thumb_cycles(l, Some(next_r6)), 1, "{l:#x}");
        }
        // Stores: no late result; they read their data register.
        for s in [0x5088u32, 0x7048, 0x9002, 0x8048, 0x6048] {
            assert_eq!(thumb_cycles(s, Some(next_r0)), 1, "{s:#x}");
        }
        assert_eq!(thumb(&[0x6808, 0x6048]), cost(3, 2)); // ldr r0,[r1]; str r0,[r1,#4]
        assert_eq!(thumb(&[0x6808, 0x5088]), cost(3, 2)); // ldr r0,[r1]; str r0,[r1,r2]
        assert_eq!(thumb(&[0x6808, 0x6800]), cost(3, 2)); // ldr r0,[r1]; ldr r0,[r0]
        assert_eq!(thumb(&[0x6808, 0x5808]), cost(3, 2)); // ldr r0,[r1]; ldr r0,[r1,r0]
        assert_eq!(thumb(&[0x6808, 0x4240]), cost(3, 2)); // ldr r0,[r1]; negs r0,r0
        assert_eq!(thumb(&[0x6808, 0x4286]), cost(3, 2)); // ldr r0,[r1]; cmp r6,r0
        assert_eq!(thumb(&[0x6808, 0x4486]), cost(3, 2)); // ldr r0,[r1]; add lr,r0
        assert_eq!(thumb(&[0x6808, 0x2800]), cost(3, 2)); // ldr r0,[r1]; cmp r0,#0
        assert_eq!(thumb(&[0x6808, 0x2000]), cost(2, 2)); // ldr r0,[r1]; movs r0,#0
        assert_eq!(thumb(&[0x6808, 0x4680]), cost(3, 2)); // ldr r0,[r1]; mov r8,r0
        assert_eq!(thumb(&[0x6808, 0x4608]), cost(2, 2)); // ldr r0,[r1]; mov r0,r1
    }

    #[test]
    fn thumb_multiple() {
        assert_eq!(thumb_cycles(0xb510, None), 2); // push {r4, lr}
        assert_eq!(thumb_cycles(0xb5f0, None), 5); // push {r4-r7, lr}
        assert_eq!(thumb_cycles(0xb401, None), 2); // push {r0}: min 2
        assert_eq!(thumb_cycles(0xbd10, None), 2 + 4); // pop {r4, pc}
        assert_eq!(thumb_cycles(0xbd00, None), 5); // pop {pc}
        assert_eq!(thumb_cycles(0xbc30, None), 2); // pop {r4, r5}
        assert_eq!(thumb_cycles(0xbc30, Some(0x1c2e)), 3); // ...; adds r6, r5, #0
        assert_eq!(thumb_cycles(0xbc30, Some(0x1c26)), 2); // ...; adds r6, r4, #0
        assert_eq!(thumb_cycles(0xc80e, None), 3); // ldmia r0!, {r1, r2, r3}
        assert_eq!(thumb_cycles(0xc80e, Some(0x1c1e)), 4); // ...; adds r6, r3, #0
        assert_eq!(thumb_cycles(0xc002, None), 2); // stmia r0!, {r1}
        assert_eq!(thumb_cycles(0xc0ff, None), 8); // stmia r0!, {r0-r7}
                                                   // push reads its list: ldr r4,[r0]; push {r4, lr}
        assert_eq!(thumb(&[0x6804, 0xb510]), cost(4, 2));
        // pop does not read its list: ldr r4, [r0]; pop {r4, r5}
        assert_eq!(thumb(&[0x6804, 0xbc30]), cost(3, 2));
    }

    #[test]
    fn thumb_sequence_hand_computed() {
        // arm-none-eabi-as -march=armv5te -mthumb:
        let code = [
            0xb530, // push {r4, r5, lr}     3
            0x6804, // ldr  r4, [r0]         1 +1 (adds reads r4)
            0x3401, // adds r4, #1           1
            0x8845, // ldrh r5, [r0, #2]     1 (muls doesn't read r5)
            0x434c, // muls r4, r1           3 +1 (str stores r4)
            0x5144, // str  r4, [r0, r5]     1
            0x7843, // ldrb r3, [r0, #1]     1 +2 (cmp reads r3)
            0x2b00, // cmp  r3, #0           1
            0x4095, // lsls r5, r2           2
            0xf000, 0xf801, // bl func       4
            0xbd30, // pop  {r4, r5, pc}     3 + 4
        ];
        assert_eq!(thumb(&code), cost(29, 11));
    }

    #[test]
    fn thumb_any_halfword_decodes() {
        for hw in 0..=u16::MAX {
            for next in [0x0000u16, 0xffff, 0x1c05, hw.rotate_left(5)] {
                let c = thumb_cycles(u32::from(hw), Some(u32::from(next)));
                assert!((1..=16).contains(&c), "{hw:#06x} -> {c}");
            }
            let b = thumb_bytes(&[hw, hw, 0xf800]);
            let bc = block_cost(&b, true);
            assert!(bc.instructions >= 2 && bc.cycles >= bc.instructions);
        }
        // Packed values that aren't pairs fall back to the low halfword.
        assert_eq!(thumb_cycles(0x1234_2005, None), 1);
        assert_eq!(thumb_cycles(u32::MAX, None), 3); // 0xffff: lone BL suffix
    }

    #[test]
    fn nop_block_counts() {
        let code = vec![NOP; 10];
        assert_eq!(arm(&code), cost(10, 10));
        assert_eq!(thumb(&[0x46c0; 7]), cost(7, 7)); // mov r8, r8
    }
}
