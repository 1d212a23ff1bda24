// SPDX-License-Identifier: GPL-2.0-or-later
//
// spinnaker.h: SpiNNaker1 chip addresses, register offsets and bit values
// for the spinn firmware.  Facts come from the project's hardware reference
// (/work/shared/docs/spinnaker-hardware.md, sections 1, 2 and 4); the file
// itself is our own.
//
// Register names are WORD indices (byte offset / 4) so that C code can write
// `vic[VIC_ENABLE] = bits`, the same idiom SpiNNaker applications use.  The
// *_BASE constants are byte addresses, usable from both C and assembler.

#ifndef SPINNAKER_H
#define SPINNAKER_H

// ---------------------------------------------------------------------------
// Memory map (section 1.2).  Per-core devices have an unbuffered alias and a
// buffered-write alias; like SARK we default to the buffered one, except for
// the VIC where the unbuffered alias is used so that writes (in particular the
// end-of-interrupt VADDR write) take effect before the next instruction.

#define ITCM_BASE       0x00000000
#define ITCM_SIZE       0x00008000
#define DTCM_BASE       0x00400000
#define DTCM_SIZE       0x00010000
#define DTCM_TOP        (DTCM_BASE + DTCM_SIZE)

#define CC_BASE         0x20000000      // comms controller (buffered)
#define TIMER_BASE      0x21000000      // dual timer (buffered)
#define TIMER1_BASE     TIMER_BASE
#define TIMER2_BASE     (TIMER_BASE + 0x20)

// Trace port of the spinn simulator: a write of (event << 1) | entering marks a
// callback's entry or exit in the simulator's trace.  It sits in the dual
// timer's reserved space (offset 0x80), which the timer block ignores.
#define SPINN_TRACE_MARK (*(volatile uint *) (TIMER_BASE + 0x80))
// Event number used in trace marks for callbacks queued by spin1_schedule_callback.
#define SPINN_TRACE_SCHEDULED 8
#define VIC_BASE        0x1F000000      // VIC, unbuffered alias
#define DMA_BASE        0x40000000      // DMA controller (buffered)

#define SDRAM_BASE      0x60000000      // buffered alias, 128 MiB
#define SDRAM_SIZE      0x08000000
#define SDRAM_USER_BASE 0x60240000      // after 18 x 128 KiB per-core buffers
#define RTR_BASE        0xE1000000      // router (buffered)
#define SC_BASE         0xE2000000      // system controller (buffered)
#define WDOG_BASE       0xE3000000      // SP805 watchdog (buffered)
#define SYSRAM_BASE     0xE5000000      // System RAM (buffered), 32 KiB
#define SYSRAM_SIZE     0x00008000
#define SYSRAM_USER_BASE 0xE5000100     // SYS_USER_BASE: free for applications

#define SV_VCPU         0xE5007000      // 18 x 128-byte vcpu_t blocks
#define SV_SV           0xE5007F00      // sv_t

#define NUM_CPUS        18

// ---------------------------------------------------------------------------
// Comms controller (section 2.1)

#define CC_TCR          (0x00 / 4)
#define CC_TXDATA       (0x04 / 4)
#define CC_TXKEY        (0x08 / 4)      // writing launches the packet
#define CC_RSR          (0x0C / 4)
#define CC_RXDATA       (0x10 / 4)      // read before RXKEY
#define CC_RXKEY        (0x14 / 4)      // reading consumes the packet
#define CC_SAR          (0x18 / 4)
#define CC_TEST         (0x1C / 4)

#define TX_NOT_FULL_MASK 0x10000000
#define TX_FULL_MASK    0x40000000
#define TX_EMPTY_MASK   0x80000000
#define RX_RECEIVED_MASK 0x80000000

// Control byte as it appears in TCR / RSR (control byte << 16).
#define PKT_MC          0x00000000
#define PKT_P2P         0x00400000
#define PKT_NN          0x00800000
#define PKT_FR          0x00C00000
#define PKT_PL          0x00020000      // payload present
#define PKT_TYPE_MASK   0x00C00000

// ---------------------------------------------------------------------------
// Dual timer (section 2.2); offsets relative to TIMER1_BASE or TIMER2_BASE.

#define TC_LOAD         (0x00 / 4)
#define TC_COUNT        (0x04 / 4)
#define TC_CONTROL      (0x08 / 4)
#define TC_INT_CLR      (0x0C / 4)
#define TC_RAW_INT      (0x10 / 4)
#define TC_MASK_INT     (0x14 / 4)
#define TC_BG_LOAD      (0x18 / 4)

#define TC_ONE_SHOT     0x01
#define TC_32BIT        0x02
#define TC_IRQ_EN       0x20
#define TC_PERIODIC     0x40
#define TC_ENABLE       0x80

// ---------------------------------------------------------------------------
// VIC, ARM PL190 (section 2.3)

#define VIC_IRQST       (0x00 / 4)
#define VIC_FIQST       (0x04 / 4)
#define VIC_RAW         (0x08 / 4)
#define VIC_SELECT      (0x0C / 4)
#define VIC_ENABLE      (0x10 / 4)
#define VIC_DISABLE     (0x14 / 4)
#define VIC_SOFT_SET    (0x18 / 4)
#define VIC_SOFT_CLR    (0x1C / 4)
#define VIC_PROTECT     (0x20 / 4)
#define VIC_VADDR       (0x30 / 4)
#define VIC_DEFADDR     (0x34 / 4)
#define VIC_ADDR        (0x100 / 4)     // VIC_ADDR + slot
#define VIC_CNTL        (0x200 / 4)     // VIC_CNTL + slot

#define VIC_CNTL_ENABLE 0x20
#define VIC_SLOTS       16

// VIC interrupt sources (section 4)
#define WDOG_INT        0
#define SOFTWARE_INT    1
#define COMM_RX_INT     2
#define COMM_TX_INT     3
#define TIMER1_INT      4
#define TIMER2_INT      5
#define CC_RDY_INT      6
#define CC_RPE_INT      7
#define CC_RFE_INT      8
#define CC_TFL_INT      9
#define CC_TOV_INT      10
#define CC_TMT_INT      11
#define DMA_DONE_INT    12
#define DMA_ERR_INT     13
#define DMA_TO_INT      14
#define RTR_DIAG_INT    15
#define RTR_DUMP_INT    16
#define RTR_ERR_INT     17
#define CPU_INT         18
#define ETH_TX_INT      19
#define ETH_RX_INT      20
#define ETH_PHY_INT     21
#define SLOW_CLK_INT    22
#define CC_TNF_INT      23
#define CC_MC_INT       24
#define CC_P2P_INT      25
#define CC_NN_INT       26
#define CC_FR_INT       27
#define INT0_INT        28
#define INT1_INT        29
#define GPIO8_INT       30
#define GPIO9_INT       31

// ---------------------------------------------------------------------------
// DMA controller (section 2.4)

#define DMA_ADRS        (0x04 / 4)
#define DMA_ADRT        (0x08 / 4)
#define DMA_DESC        (0x0C / 4)      // writing commits the transfer
#define DMA_CTRL        (0x10 / 4)
#define DMA_STAT        (0x14 / 4)
#define DMA_GCTL        (0x18 / 4)
#define DMA_CRCC        (0x1C / 4)
#define DMA_CRCR        (0x20 / 4)
#define DMA_TMTV        (0x24 / 4)
#define DMA_SCTL        (0x28 / 4)

#define DMA_STAT_BUSY   0x00000001
#define DMA_STAT_QUEUED 0x00000004      // cannot accept another descriptor
#define DMA_STAT_DONE   0x00000400
#define DMA_STAT_DONE2  0x00000800
#define DMA_STAT_ERRORS 0x0011F000      // timeout, CRC, TCM, AXI, user abort, WB
#define DMA_ID_SHIFT    24              // DMA_STAT[31:24] = physical core

#define DMA_CTRL_UNCOMMIT   0x01
#define DMA_CTRL_ABORT      0x02
#define DMA_CTRL_RESTART    0x04
#define DMA_CTRL_CLR_DONE   0x08
#define DMA_CTRL_CLR_TO     0x10
#define DMA_CTRL_CLR_WB     0x20

#define DMA_DESC_WRITE      (1 << 19)   // TCM -> system
#define DMA_DESC_CRC        (1 << 20)
#define DMA_DESC_BURST(b)   ((b) << 21)
#define DMA_DESC_DWORD      (1 << 24)
#define DMA_DESC_LEN_MASK   0x0001FFFC

// ---------------------------------------------------------------------------
// Router (section 2.5)

#define RTR_CONTROL     (0x00 / 4)
#define RTR_STATUS      (0x04 / 4)
#define RTR_FR          (0x84 / 4)
#define RTR_DGC         (0x300 / 4)     // RTR_DGC + counter

#define RTR_MCRAM_BASE  (RTR_BASE + 0x4000)  // route words (readable)
#define RTR_MCKEY_BASE  (RTR_BASE + 0x8000)  // key CAM (write-only)
#define RTR_MCMASK_BASE (RTR_BASE + 0xC000)  // mask CAM (write-only)
#define RTR_P2P_BASE    (RTR_BASE + 0x10000)

#define MC_TABLE_SIZE   1024
#define MC_LINK_ROUTE(l) (1u << (l))
#define MC_CORE_ROUTE(p) (1u << ((p) + 6))
#define MC_LINK_MASK    0x0000003F
#define MC_CORE_MASK    0x00FFFFC0
#define MC_RAM_MASK     0x00FFFFFF

// ---------------------------------------------------------------------------
// System controller (section 2.6)

#define SC_CHIP_ID      (0x00 / 4)
#define SC_SET_IRQ      (0x08 / 4)
#define SC_CLR_IRQ      (0x0C / 4)
#define SC_FLAG         (0x58 / 4)
#define SC_SETFLAG      (0x58 / 4)
#define SC_CLRFLAG      (0x5C / 4)
#define SC_TAS0         (0x100 / 4)     // SC_TAS0 + lock: test-and-set
#define SC_TAC0         (0x180 / 4)     // SC_TAC0 + lock: test-and-clear
#define SC_CODE         0x5EC00000      // required in writes to guarded registers

#define SC_LOCK_HELD    0x80000000      // TAS read: lock was already held

// ---------------------------------------------------------------------------
// Watchdog, an ARM SP805 (section 2.7)

#define WD_LOAD         (0x00 / 4)
#define WD_COUNT        (0x04 / 4)
#define WD_CTRL         (0x08 / 4)
#define WD_INTCLR       (0x0C / 4)      // any write clears the interrupt and reloads
#define WD_LOCK         (0xC00 / 4)
#define WD_CTRL_INT_EN  (1 << 0)        // count, and interrupt at zero
#define WD_CTRL_RES_EN  (1 << 1)        // reset at zero with the interrupt still set
#define WD_UNLOCK_KEY   0x1ACCE551

// ---------------------------------------------------------------------------
// ARM processor modes and CPSR bits (section 8.1)

#define MODE_USR        0x10
#define MODE_FIQ        0x11
#define MODE_IRQ        0x12
#define MODE_SVC        0x13
#define MODE_ABT        0x17
#define MODE_UND        0x1B
#define MODE_SYS        0x1F
#define MODE_MASK       0x1F
#define IMASK_IRQ       0x80
#define IMASK_FIQ       0x40
#define IMASK_ALL       0xC0
#define THUMB_BIT       0x20

// CP15 c1 value written at reset (alignment checking, TCMs, low vectors,
// write buffer; section 8.1).
#define CP15_C1_VALUE   0x1F7E

#ifndef __ASSEMBLER__

typedef unsigned int   uint;
typedef unsigned short ushort;
typedef unsigned char  uchar;

// Register-block pointers, indexed with the word offsets above.
static volatile uint * const cc   = (volatile uint *) CC_BASE;
static volatile uint * const tc   = (volatile uint *) TIMER1_BASE;
static volatile uint * const tc2  = (volatile uint *) TIMER2_BASE;
static volatile uint * const vic  = (volatile uint *) VIC_BASE;
static volatile uint * const dma  = (volatile uint *) DMA_BASE;
static volatile uint * const rtr  = (volatile uint *) RTR_BASE;
static volatile uint * const sc   = (volatile uint *) SC_BASE;

#endif // __ASSEMBLER__

#endif // SPINNAKER_H
