// SPDX-License-Identifier: GPL-2.0-or-later
//
// vic: VIC priorities and nested interrupts on bare VIC registers (no
// spin1_start).  Three vectored sources:
//
//   slot 0 (highest)  timer 2 (one-shot)      H: plain handler, IRQ masked
//   slot 1            software interrupt 1    M: nested (IRQ re-enabled)
//   slot 2 (lowest)   timer 1 (one-shot)      L: nested (IRQ re-enabled)
//
// Scenario and the event numbers logged (one hex digit each, in order):
//   main starts timer 1                       -> L runs:       1 "L enter"
//   L sets the soft interrupt, M preempts L:                   2 "M enter"
//   M restarts timer 1 and waits until it has expired; the VIC must hold
//   it back (same priority as L, which is still in service, and lower
//   than M)                                                    3 "M exit"
//   L starts timer 2 and waits, H preempts L:                  4 "H enter"
//                                                              5 "H exit"
//   L returns and acknowledges the VIC:                        6 "L exit"
//   the held-back timer 1 interrupt now enters L again:        7 "L again"
// so the log word ends up 0x01234567.

#include "spin1_api.h"

#define SHORT_DELAY   2000      // timer periods in CPU clocks (10 us)

// Nested entry stubs (vic_nest.S) and the C handlers they call.
void low_entry(void);
void mid_entry(void);
void low_handler(void);
void mid_handler(void);

static volatile uint log_word, log_count;
static volatile uint low_entries, mid_done, high_done, finished;
static volatile uint mid_saw_pending;   // timer 1 pending at the VIC in M

static const char *const event_name[] = {
    "", "L enter", "M enter", "M exit", "H enter", "H exit", "L exit",
    "L again"
};

static void event(uint e)
{
    uint cpsr = spin1_int_disable();

    log_word = (log_word << 4) | e;
    log_count++;
    spin1_mode_restore(cpsr);
}

static void timer_one_shot(volatile uint *t, uint clocks)
{
    t[TC_CONTROL] = 0;
    t[TC_INT_CLR] = 1;
    t[TC_LOAD] = clocks;
    t[TC_CONTROL] = TC_ENABLE | TC_IRQ_EN | TC_32BIT | TC_ONE_SHOT;
}

// Timer 1, lowest priority, runs with IRQ enabled.
void low_handler(void)
{
    if (low_entries++ != 0) {
        event(7);
        tc[TC_INT_CLR] = 1;
        tc[TC_CONTROL] = 0;
        finished = 1;
        return;
    }
    event(1);
    tc[TC_INT_CLR] = 1;

    vic[VIC_SOFT_SET] = 1 << SOFTWARE_INT;      // M preempts here
    while (!mid_done)
        continue;

    timer_one_shot(tc2, SHORT_DELAY);           // H preempts when it fires
    while (!high_done)
        continue;
    event(6);
}

// Software interrupt, middle priority, runs with IRQ enabled.
void mid_handler(void)
{
    event(2);
    vic[VIC_SOFT_CLR] = 1 << SOFTWARE_INT;

    timer_one_shot(tc, SHORT_DELAY);
    while ((tc[TC_RAW_INT] & 1) == 0)
        continue;
    // Give a wrongly unmasked timer 1 interrupt every chance to get in.
    for (volatile uint i = 0; i < 100; i++)
        continue;
    mid_saw_pending = (vic[VIC_RAW] >> TIMER1_INT) & 1;
    event(3);
    mid_done = 1;
}

// Timer 2, highest priority, ordinary (non-nesting) IRQ handler.
static __attribute__((interrupt("IRQ"))) void high_isr(void)
{
    event(4);
    tc2[TC_INT_CLR] = 1;
    tc2[TC_CONTROL] = 0;
    event(5);
    high_done = 1;
    vic[VIC_VADDR] = 0;
}

static void vic_slot(uint slot, uint source, void (*handler)(void))
{
    vic[VIC_ADDR + slot] = (uint) handler;
    vic[VIC_CNTL + slot] = VIC_CNTL_ENABLE | source;
}

void c_main(void)
{
    const uint sources = (1 << TIMER2_INT) | (1 << SOFTWARE_INT) |
                         (1 << TIMER1_INT);

    vic_slot(0, TIMER2_INT, high_isr);
    vic_slot(1, SOFTWARE_INT, mid_entry);
    vic_slot(2, TIMER1_INT, low_entry);
    vic[VIC_ENABLE] = sources;
    spin1_int_enable();

    timer_one_shot(tc, SHORT_DELAY);

    for (;;) {
        uint cpsr = spin1_int_disable();

        if (finished) {
            spin1_mode_restore(cpsr);
            break;
        }
        cpu_wfi();
        spin1_mode_restore(cpsr);
    }

    vic[VIC_DISABLE] = sources;
    tc[TC_CONTROL] = 0;
    tc2[TC_CONTROL] = 0;

    spin1_set_user(0, log_word);
    spin1_set_user(1, log_count);
    spin1_set_user(2, mid_saw_pending);
    for (uint i = 0; i < 8 && i < log_count; i++) {
        uint e = (log_word >> (4 * (log_count - 1 - i))) & 0xF;

        io_printf(IO_BUF, "vic: %s\n", (e < 8) ? event_name[e] : "?");
    }
    io_printf(IO_BUF, "vic: order 0x%08x\n", log_word);
}
