// SPDX-License-Identifier: GPL-2.0-or-later
//! Finding the instruction behind a data abort.
//!
//! Unicorn 2.0 leaves the PC at the start of the translated block when an access faults (it exits
//! without restoring the PC of the faulting instruction). The simulator counts the block's memory
//! accesses, so the faulting instruction is the one whose accesses contain the failing one:
//! this module says how many accesses each ARMv5TE instruction makes.

/// Whether condition `cond` (bits 31:28) passes with the NZCV flags of `cpsr`.
fn condition_passes(cond: u32, cpsr: u32) -> bool {
    let (n, z, c, v) = (
        cpsr >> 31 & 1 == 1,
        cpsr >> 30 & 1 == 1,
        cpsr >> 29 & 1 == 1,
        cpsr >> 28 & 1 == 1,
    );
    match cond {
        0x0 => z,
        0x1 => !z,
        0x2 => c,
        0x3 => !c,
        0x4 => n,
        0x5 => !n,
        0x6 => v,
        0x7 => !v,
        0x8 => c && !z,
        0x9 => !c || z,
        0xA => n == v,
        0xB => n != v,
        0xC => !z && n == v,
        0xD => z || n != v,
        _ => true,
    }
}

/// Data memory accesses one ARM instruction makes (0 when its condition fails with `cpsr`).
pub fn arm_accesses(insn: u32, cpsr: u32) -> u32 {
    let cond = insn >> 28;
    if cond == 0xF || !condition_passes(cond, cpsr) {
        return 0; // PLD and BLX(imm) touch no data; failed conditions do nothing.
    }
    match (insn >> 25) & 7 {
        // LDR/STR/LDRB/STRB (register form with bit 4 set is a media/undefined encoding).
        0b010 => 1,
        0b011 if insn & 0x10 == 0 => 1,
        0b100 => (insn & 0xFFFF).count_ones().max(1),
        0b000 if insn & 0x90 == 0x90 => {
            let op = (insn >> 5) & 3;
            if op == 0 {
                // Multiplies, or SWP/SWPB (a read and a write).
                if insn & 0x0FB0_0FF0 == 0x0100_0090 {
                    2
                } else {
                    0
                }
            } else if insn & (1 << 20) == 0 && op >= 2 {
                2 // LDRD/STRD
            } else {
                1 // LDRH/STRH/LDRSB/LDRSH
            }
        }
        _ => 0,
    }
}

/// Data memory accesses one Thumb instruction makes.
pub fn thumb_accesses(insn: u16) -> u32 {
    let rlist = (insn & 0xFF).count_ones();
    match insn >> 11 {
        0b01001 => 1,                      // LDR PC-relative
        0b01010 | 0b01011 => 1,            // load/store register offset
        0b01100..=0b01111 => 1,            // LDR/STR/LDRB/STRB immediate
        0b10000 | 0b10001 => 1,            // LDRH/STRH immediate
        0b10010 | 0b10011 => 1,            // SP-relative LDR/STR
        0b11000 | 0b11001 => rlist.max(1), // STMIA/LDMIA
        0b10110 | 0b10111 if insn & 0x0600 == 0x0400 => rlist + ((insn >> 8) & 1) as u32, // PUSH/POP
        _ => 0,
    }
}

/// Address of the instruction in the block `code` (starting at `start`) that made data access
/// number `index` (0-based, in execution order), or None if the block makes fewer accesses.
pub fn faulting_instruction(
    code: &[u8],
    start: u32,
    thumb: bool,
    index: u32,
    cpsr: u32,
) -> Option<u32> {
    let mut seen = 0;
    if thumb {
        for (i, hw) in code.chunks_exact(2).enumerate() {
            seen += thumb_accesses(u16::from_le_bytes([hw[0], hw[1]]));
            if seen > index {
                return Some(start + 2 * i as u32);
            }
        }
    } else {
        for (i, w) in code.chunks_exact(4).enumerate() {
            seen += arm_accesses(u32::from_le_bytes([w[0], w[1], w[2], w[3]]), cpsr);
            if seen > index {
                return Some(start + 4 * i as u32);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn counts_arm_accesses() {
        assert_eq!(arm_accesses(0xE590_1000, 0), 1); // ldr r1,[r0]
        assert_eq!(arm_accesses(0xE8BD_87F0, 0), 8); // pop {r4-r10,pc}
        assert_eq!(arm_accesses(0xE1C0_20D0, 0), 2); // ldrd r2,[r0]
        assert_eq!(arm_accesses(0xE1D0_10B0, 0), 1); // ldrh r1,[r0]
        assert_eq!(arm_accesses(0xE100_1092, 0), 2); // swp r1,r2,[r0]
        assert_eq!(arm_accesses(0xE000_0291, 0), 0); // mul
        assert_eq!(arm_accesses(0xE3A0_0001, 0), 0); // mov
        assert_eq!(arm_accesses(0x0590_1000, 0), 0); // ldreq with Z clear
        assert_eq!(arm_accesses(0x0590_1000, 1 << 30), 1); // ldreq with Z set
    }

    #[test]
    fn counts_thumb_accesses() {
        assert_eq!(thumb_accesses(0x6801), 1); // ldr r1,[r0]
        assert_eq!(thumb_accesses(0xB510), 2); // push {r4,lr}
        assert_eq!(thumb_accesses(0xBD10), 2); // pop {r4,pc}
        assert_eq!(thumb_accesses(0xC80E), 3); // ldmia r0!,{r1-r3}
        assert_eq!(thumb_accesses(0x2001), 0); // movs r0,#1
    }

    #[test]
    fn finds_the_instruction_of_an_access() {
        // str r1,[r0]; mov r2,#0; stmia r3,{r0,r1}; ldr r1,[r0]
        let code = arm(&[0xE580_1000, 0xE3A0_2000, 0xE883_0003, 0xE590_1000]);
        assert_eq!(faulting_instruction(&code, 0x100, false, 0, 0), Some(0x100));
        assert_eq!(faulting_instruction(&code, 0x100, false, 2, 0), Some(0x108));
        assert_eq!(faulting_instruction(&code, 0x100, false, 3, 0), Some(0x10C));
        assert_eq!(faulting_instruction(&code, 0x100, false, 4, 0), None);
    }
}
