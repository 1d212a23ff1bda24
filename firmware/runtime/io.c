// SPDX-License-Identifier: GPL-2.0-or-later
//
// io.c: io_printf, a small printf for the spinn runtime.  Text for IO_BUF
// (and, for now, IO_STD / IO_DBG) is appended to this core's IOBUF chain in
// SDRAM: vcpu->iobuf -> {next, unix_time, time_ms, ptr, buf[iobuf_size]}.
// As SARK does (section 11.4), the first block is taken from the system
// heap (sv->sys_heap) at the first print, a full block chains a new one, and
// a heap with no room left is run-time error RTE_IOBUF.
//
// Conversions: %d %i %u %x %X %p %c %s %%, with optional '-' (left
// justify), '0' (zero pad) and a decimal width; an 'l' length modifier is
// accepted and ignored (int and long are both 32 bits here).

#include "sark.h"

typedef struct {
    char *buf;      // where the next character goes (NULL: discard)
    uint room;      // characters that still fit
    uint count;     // characters actually stored
    iobuf_t *io;    // the IOBUF block being filled (instead of buf)
    uint used;      // io->ptr, kept here while formatting and written back
                    // when the block is full and at the end (SDRAM is slow)
} sink_t;

static iobuf_t *iobuf_new(void)
{
    iobuf_t *b = sark_xalloc(sv->sys_heap, sizeof(iobuf_t) + sv->iobuf_size,
                             0, ALLOC_LOCK);

    if (b == NULL)
        rt_error(RTE_IOBUF);
    b->next = NULL;
    b->unix_time = sv->unix_time;
    b->time_ms = sv->time_ms;
    b->ptr = 0;
    return b;
}

static void put(sink_t *s, char c)
{
    if (s->io != NULL) {
        if (s->used >= s->room) {
            s->io->ptr = s->used;
            s->io->next = iobuf_new();
            s->io = s->io->next;
            s->used = 0;
        }
        s->io->buf[s->used++] = c;
        s->count++;
        return;
    }
    if (s->buf != NULL && s->room != 0) {
        s->buf[s->count++] = c;
        s->room--;
    }
}

static void put_n(sink_t *s, char c, int n)
{
    while (n-- > 0)
        put(s, c);
}

// Emit one formatted field: sign/prefix, padding and digits/text.
static void put_field(sink_t *s, const char *prefix, const char *body,
                      int len, int width, int left, int zero)
{
    int plen = 0;

    while (prefix[plen] != 0)
        plen++;
    int pad = width - plen - len;

    if (!left && !zero)
        put_n(s, ' ', pad);
    for (int i = 0; i < plen; i++)
        put(s, prefix[i]);
    if (!left && zero)
        put_n(s, '0', pad);
    for (int i = 0; i < len; i++)
        put(s, body[i]);
    if (left)
        put_n(s, ' ', pad);
}

static int utoa(char *end, uint v, uint base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;

    do {
        *--end = digits[v % base];
        v /= base;
        n++;
    } while (v != 0);
    return n;
}

static void format(sink_t *s, const char *f, va_list ap)
{
    char num[12];

    for (char c; (c = *f++) != 0; ) {
        if (c != '%') {
            put(s, c);
            continue;
        }

        int left = 0, zero = 0, width = 0;

        for (;; f++) {
            if (*f == '-')
                left = 1;
            else if (*f == '0')
                zero = 1;
            else
                break;
        }
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        if (*f == 'l')
            f++;

        char *end = num + sizeof(num);
        const char *prefix = "";
        int len;

        switch (c = *f++) {
        case 'd':
        case 'i': {
            int v = va_arg(ap, int);
            uint mag = (v < 0) ? 0u - (uint) v : (uint) v;

            len = utoa(end, mag, 10, 0);
            if (v < 0)
                prefix = "-";
            put_field(s, prefix, end - len, len, width, left, zero);
            break;
        }
        case 'u':
            len = utoa(end, va_arg(ap, uint), 10, 0);
            put_field(s, prefix, end - len, len, width, left, zero);
            break;
        case 'x':
        case 'X':
            len = utoa(end, va_arg(ap, uint), 16, c == 'X');
            put_field(s, prefix, end - len, len, width, left, zero);
            break;
        case 'p': {
            uint v = (uint) va_arg(ap, void *);

            len = utoa(end, v, 16, 0);
            while (len < 8)
                *(end - ++len) = '0';
            put_field(s, "0x", end - len, len, width, left, 0);
            break;
        }
        case 'c':
            num[0] = (char) va_arg(ap, int);
            put_field(s, prefix, num, 1, width, left, 0);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);

            if (str == NULL)
                str = "(null)";
            for (len = 0; str[len] != 0; len++)
                continue;
            put_field(s, prefix, str, len, width, left, 0);
            break;
        }
        case '%':
            put(s, '%');
            break;
        case 0:             // format ends inside a conversion
            return;
        default:            // unknown conversion: show it as written
            put(s, '%');
            put(s, c);
            break;
        }
    }
}

void io_vprintf(char *stream, const char *f, va_list ap)
{
    sink_t s = { NULL, 0, 0, NULL, 0 };

    if (stream == IO_NULL)
        return;

    if (stream == IO_BUF || stream == IO_STD || stream == IO_DBG) {
        // Mask interrupts so that lines printed by interrupt-level
        // callbacks never interleave with each other or with this one.
        uint cpsr = cpu_int_disable();
        volatile vcpu_t *vcpu = sark.vcpu;

        if (vcpu != NULL) {
            iobuf_t *io = vcpu->iobuf;

            if (io == NULL) {
                io = iobuf_new();
                vcpu->iobuf = io;
            }
            while (io->next != NULL)
                io = io->next;
            s.io = io;
            s.used = io->ptr;
            s.room = sv->iobuf_size;
            format(&s, f, ap);
            s.io->ptr = s.used;
        }
        cpu_int_restore(cpsr);
        return;
    }

    // Any other value is a caller's buffer (sprintf); it must be big enough.
    s.buf = stream;
    s.room = 0xFFFFFFFF;
    format(&s, f, ap);
    stream[s.count] = 0;
}

void io_printf(char *stream, const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    io_vprintf(stream, f, ap);
    va_end(ap);
}
