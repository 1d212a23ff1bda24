// SPDX-License-Identifier: GPL-2.0-or-later
//
// nn: one core of a network trained by SGD on SpiNNaker (nn.h has the data
// layout).  Three roles share this image:
//   input  sends each sample's features as multicast packets with payload;
//   layer  holds a slice of one layer with its weights: forward pass,
//          backward pass (its share of dL/dx for the layer below), gradient
//          accumulation and the update at the end of each batch.  The maths
//          of each layer kind is a kernel (layer.h: layer_dense.c,
//          layer_conv.c, layer_pool.c); the rest is the same for all;
//   loss   applies the output activation, computes loss, accuracy and the
//          error at the output, and records predictions on eval samples.
// Samples go one at a time, forward then backward, with no host in the
// loop: the input core sends sample s+1 once every first-layer core has
// finished sample s (in eval, once the loss core has).
//
// Lost packets: every core that waits longer than P_TIMEOUT ticks sends a
// resend request to the cores it waits for; they resend their last values.
// Values carry the sample's parity and land in slots with a received bitmap,
// so duplicates and late resends are harmless, and training is bit-identical
// with or without losses.
//
// Arithmetic is binary32 in software (libgcc), in the same order as the host
// reference (nn/src/model.rs), so one-core layers match it bit for bit up to
// the exp/log functions.

#include "spin1_api.h"
#include "nn.h"
#include "layer.h"

typedef union { float f; uint u; } fbits;

static inline uint f2u(float f) { fbits b; b.f = f; return b.u; }
static inline float u2f(uint u) { fbits b; b.u = u; return b.f; }

enum { WAIT_FWD, WAIT_BWD, DONE };

typedef struct {
    uint base, mask, count, kind, arg, offset, half;
} in_part_t;

typedef struct {
    uint base, half, count;
} out_part_t;

// --- common state ----------------------------------------------------------
static volatile uint *prm;
static volatile uint *status;
static uint role, n_train, epochs, n_eval, total;
static uint timeout, linger;
static in_part_t *in_parts;
static uint n_in_parts;
static out_part_t out[2];
static volatile uint *order;

static volatile uint state;
static volatile uint wait_ticks, idle_ticks;
static volatile uint want_resend_fwd, want_resend_back;
// Timeouts in a row without progress: each request goes out that many times
// (at most MAX_COPIES) and asks for its values that many times, so that a
// fault that drops every Nth packet of a fixed round trip cannot lose the
// same packets for ever.  The largest asked of us since our last resend:
static uint attempt, resend_copies;
#define MAX_COPIES 8
static uint requests, resends, stale;

// Samples are numbered 0 .. total-1: epochs * n_train training samples, then
// n_eval forward-only ones.
static inline uint is_train(uint seq) { return seq < epochs * n_train; }

static void *alloc(uint bytes)
{
    void *p = spin1_malloc(bytes);

    if (p == NULL)
        rt_error(RTE_MALLOC, bytes);
    return p;
}

static float *alloc_floats(uint n) { return alloc(4 * (n ? n : 1)); }

static uint *alloc_bits(uint n)
{
    uint words = (n + 31) / 32;
    uint *p = alloc(4 * (words ? words : 1));

    for (uint i = 0; i < words; i++)
        p[i] = 0;
    return p;
}

static inline uint bit_test_set(uint *bits, uint i)
{
    uint m = 1u << (i & 31);
    uint old = bits[i >> 5] & m;

    bits[i >> 5] |= m;
    return old != 0;
}

static void bits_clear(uint *bits, uint n)
{
    for (uint i = 0; i < (n + 31) / 32; i++)
        bits[i] = 0;
}

static uint pace_us;                    // gap between packets (resends only)
// Times each packet goes out in a row (resends only, paced like the rest): a
// router that drops every Nth packet cannot drop all of two or more in a row.
static uint send_copies = 1;

// Busy-waits about `cycles` core cycles (the loop is a SUBS and a taken BHI,
// 4 cycles on an ARM968).
static void delay_cycles(uint cycles)
{
    uint n = cycles >> 2;

    if (n == 0)
        return;
    __asm__ volatile ("1: subs %0, %0, #1\n\t"
                      "bhi 1b"
                      : "+r" (n) : : "cc");
}

// The next packet starts a burst (see P_PACE_START).
static uint burst_start;

static inline void begin_burst(void)
{
    burst_start = 1;
}

// Waits before one packet: a resend's own gap, or the burst's pacing.
static void pace(void)
{
    if (pace_us) {
        spin1_delay_us(pace_us);
        return;
    }
    delay_cycles(burst_start ? prm[P_PACE_START] : prm[P_PACE_GAP]);
    burst_start = 0;
}

static void send_value(const out_part_t *o, uint idx, uint parity, uint value)
{
    uint key = o->base | (parity ? o->half : 0) | idx;

    for (uint c = 0; c < send_copies; c++) {
        pace();
        while (!spin1_send_mc_packet(key, value, WITH_PAYLOAD))
            ;
    }
}

static void send_plain(const out_part_t *o, uint idx, uint parity)
{
    uint key = o->base | (parity ? o->half : 0) | idx;

    for (uint c = 0; c < send_copies; c++) {
        pace();
        while (!spin1_send_mc_packet(key, 0, NO_PAYLOAD))
            ;
    }
}

static void send_request(const out_part_t *o)
{
    uint key = o->base | o->count;
    uint copies = attempt < 1 ? 1 : (attempt > MAX_COPIES ? MAX_COPIES : attempt);

    for (uint c = 0; c < copies; c++)
        while (!spin1_send_mc_packet(key, copies, WITH_PAYLOAD))
            ;
    requests++;
    status[S_REQUESTS] = requests;
    spin1_set_user(2, requests);
}

// Something this core waited for came: the next timeout starts afresh.
static inline void progress(void)
{
    wait_ticks = 0;
    attempt = 0;
}

static void note_stale(void)
{
    stale++;
    status[S_STALE] = stale;
    spin1_set_user(3, stale);
}

static void finish(void)
{
    state = DONE;
    idle_ticks = 0;
    status[S_STATE] = 1;
}

// --- activations and losses (as nn/src/model.rs computes them) --------------

void activate(uint act, const float *z, float *a, uint n)
{
    switch (act) {
    case ACT_RELU:
        for (uint j = 0; j < n; j++)
            a[j] = z[j] > 0.0f ? z[j] : 0.0f;
        break;
    case ACT_SIGMOID:
        for (uint j = 0; j < n; j++)
            a[j] = 1.0f / (1.0f + nn_expf(-z[j]));
        break;
    case ACT_TANH:
        for (uint j = 0; j < n; j++)
            a[j] = nn_tanhf(z[j]);
        break;
    case ACT_SOFTMAX: {
        float max = z[0];
        float sum = 0.0f;

        for (uint j = 1; j < n; j++)
            if (z[j] > max)
                max = z[j];
        for (uint j = 0; j < n; j++) {
            a[j] = nn_expf(z[j] - max);
            sum += a[j];
        }
        for (uint j = 0; j < n; j++)
            a[j] = a[j] / sum;
        break;
    }
    default:
        for (uint j = 0; j < n; j++)
            a[j] = z[j];
        break;
    }
}

// dL/dz from dL/da (g), in place.
void activation_backward(uint act, const float *z, const float *a, float *g, uint n)
{
    switch (act) {
    case ACT_RELU:
        for (uint j = 0; j < n; j++)
            if (!(z[j] > 0.0f))
                g[j] = 0.0f;
        break;
    case ACT_SIGMOID:
        for (uint j = 0; j < n; j++)
            g[j] = g[j] * a[j] * (1.0f - a[j]);
        break;
    case ACT_TANH:
        for (uint j = 0; j < n; j++)
            g[j] = g[j] * (1.0f - a[j] * a[j]);
        break;
    case ACT_SOFTMAX: {
        float dot = 0.0f;

        for (uint j = 0; j < n; j++)
            dot += g[j] * a[j];
        for (uint j = 0; j < n; j++)
            g[j] = a[j] * (g[j] - dot);
        break;
    }
    default:
        break;
    }
}

#define EPSILON 1e-7f

static inline float clamp(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static float sample_loss(uint loss, const float *p, const float *y, uint n)
{
    float sum = 0.0f;

    for (uint j = 0; j < n; j++) {
        if (loss == LOSS_MSE) {
            sum += (p[j] - y[j]) * (p[j] - y[j]);
        } else if (loss == LOSS_BCE) {
            float q = clamp(p[j], EPSILON, 1.0f - EPSILON);
            sum += y[j] * nn_logf(q) + (1.0f - y[j]) * nn_logf(1.0f - q);
        } else {
            sum += y[j] * nn_logf(clamp(p[j], EPSILON, 1.0f));
        }
    }
    if (loss == LOSS_MSE)
        return sum / (float) n;
    if (loss == LOSS_BCE)
        return -sum / (float) n;
    return -sum;
}

static void loss_gradient(uint loss, const float *p, const float *y, float *g, uint n)
{
    for (uint j = 0; j < n; j++) {
        if (loss == LOSS_MSE) {
            g[j] = 2.0f * (p[j] - y[j]) / (float) n;
        } else if (loss == LOSS_BCE) {
            float q = clamp(p[j], EPSILON, 1.0f - EPSILON);
            g[j] = (q - y[j]) / (q * (1.0f - q)) / (float) n;
        } else {
            g[j] = -y[j] / clamp(p[j], EPSILON, 1.0f);
        }
    }
}

static uint argmax(const float *v, uint n)
{
    uint best = 0;

    for (uint j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

static uint correct(const float *p, const float *y, uint n)
{
    if (n == 1)
        return (p[0] >= 0.5f) == (y[0] >= 0.5f);
    return argmax(p, n) == argmax(y, n);
}

// --- input role -------------------------------------------------------------
static uint features;
static volatile float *x_rows;
static volatile uint seq;               // sample sent and not yet finished
// "Done" senders: first-layer core k (0 <= k < first_slices) in training,
// the loss core (DONE_FROM_LOSS) in evaluation.
#define DONE_FROM_LOSS 255
static uint done_bits[(DONE_FROM_LOSS + 32) / 32];
static volatile uint done_count;
static uint first_slices;

static inline uint done_wanted(uint s, uint who)
{
    return is_train(s) ? who < first_slices : who == DONE_FROM_LOSS;
}

static void input_send_sample(uint unused0, uint unused1)
{
    (void) unused0; (void) unused1;
    uint s = seq;
    uint row = order[s];

    begin_burst();
    for (uint i = 0; i < features; i++)
        send_value(&out[0], i, s & 1, f2u(x_rows[row * features + i]));
}

static void input_next(uint unused0, uint unused1)
{
    (void) unused0; (void) unused1;
    uint cpsr = spin1_int_disable();
    status[S_SAMPLES] = seq + 1;
    spin1_set_user(1, seq + 1);
    seq++;
    bits_clear(done_bits, DONE_FROM_LOSS + 1);
    done_count = 0;
    progress();
    spin1_mode_restore(cpsr);
    if (seq == total) {
        finish();
        spin1_exit(0);
        return;
    }
    input_send_sample(0, 0);
}

static void input_packet(const in_part_t *p, uint idx, uint parity)
{
    if (p->kind != KIND_DONE) {
        note_stale();
        return;
    }
    if (idx == p->count) {              // a first-layer core lost some features
        want_resend_fwd = 1;
        return;
    }
    uint s = seq;
    uint who = p->arg & DONE_FROM_LOSS;
    if (s >= total || parity != (s & 1) || !done_wanted(s, who) || bit_test_set(done_bits, who)) {
        note_stale();
        return;
    }
    done_count++;
    progress();
    if (done_count == (is_train(s) ? first_slices : 1))
        input_next(0, 0);
}

static void input_timeout(void)
{
    // Ask the first layer to repeat "done", and the loss core too (in eval
    // it is the one that says done).
    send_request(&out[0]);
    send_request(&out[1]);
}

// --- layer role -------------------------------------------------------------
static layer_t L;
static const kernel_t *K;
static uint n_in, units, act, flags, batch, n_src;
static uint act_group;                  // softmax normalises groups of this many values
static float lr;
static float *w, *dw, *bias, *dbias, *z, *a, *delta, *a_in, *back_out, *partial;
static uint *in_bits, *bwd_bits;
static volatile uint in_got, bwd_got;
static volatile uint fwd_seq, bwd_seq;
static uint batch_count;
static volatile uint *weights_sdram;
static uint fwd_out_valid, fwd_out_parity, back_out_valid, back_out_parity;

static void dense_store_weights(void)
{
    uint n = L.rows * L.cols;

    if (L.rows == 0)
        return;
    for (uint k = 0; k < n; k++)
        weights_sdram[k] = f2u(w[k]);
    for (uint j = 0; j < L.cols; j++)
        weights_sdram[n + j] = f2u(bias[j]);
}

static void dense_send_fwd(void)
{
    const float *v = (flags & FLAG_LAST) ? z : a;

    begin_burst();
    for (uint j = 0; j < units; j++)
        send_value(&out[0], K->out_index(&L, j), fwd_out_parity, f2u(v[j]));
}

static void dense_send_back(void)
{
    begin_burst();
    if (flags & FLAG_FIRST) {
        send_plain(&out[1], 0, back_out_parity);
        return;
    }
    for (uint i = 0; i < n_in; i++)
        send_value(&out[1], i, back_out_parity, f2u(back_out[i]));
}

static void dense_forward(uint unused0, uint unused1)
{
    (void) unused0; (void) unused1;
    K->forward(&L, w, bias, a_in, z);
    if (!(flags & FLAG_LAST))
        for (uint p = 0; p < units; p += act_group)
            activate(act, &z[p], &a[p], act_group);

    uint cpsr = spin1_int_disable();
    uint s = fwd_seq;
    fwd_seq = s + 1;
    in_got = 0;
    bits_clear(in_bits, n_in);
    progress();
    if (is_train(s)) {
        state = WAIT_BWD;
    } else {
        status[S_SAMPLES] = s + 1;
        spin1_set_user(1, s + 1);
        state = (s + 1 == total) ? DONE : WAIT_FWD;
    }
    fwd_out_parity = s & 1;
    fwd_out_valid = 1;
    spin1_mode_restore(cpsr);

    dense_send_fwd();
    if (state == DONE) {
        dense_store_weights();
        finish();
    }
}

static void dense_backward(uint unused0, uint unused1)
{
    (void) unused0; (void) unused1;
    uint s = bwd_seq;

    // Error at this slice's units: the loss core's dL/dz on the last layer,
    // else the sum of the layer above's partial sums (in sender order) times
    // the activation's derivative.
    for (uint j = 0; j < units; j++) {
        float g = partial[j];

        for (uint k = 1; k < n_src; k++)
            g += partial[k * units + j];
        delta[j] = g;
    }
    if (!(flags & FLAG_LAST))
        for (uint p = 0; p < units; p += act_group)
            activation_backward(act, &z[p], &a[p], &delta[p], act_group);

    // Gradients, and this core's share of dL/dx for the layer below (with the
    // weights before this update).
    K->backward(&L, w, a_in, delta, dw, dbias, (flags & FLAG_FIRST) ? NULL : back_out);

    uint cpsr = spin1_int_disable();
    bwd_seq = s + 1;
    bwd_got = 0;
    bits_clear(bwd_bits, n_src * units);
    progress();
    state = (s + 1 == total) ? DONE : WAIT_FWD;
    status[S_SAMPLES] = s + 1;
    spin1_set_user(1, s + 1);
    back_out_parity = s & 1;
    back_out_valid = 1;
    spin1_mode_restore(cpsr);
    dense_send_back();

    // Mini-batch update: mean gradient over the batch (the last batch of an
    // epoch may be short), as the host reference does.
    batch_count++;
    uint pos = s % n_train;
    if ((batch_count == batch || pos + 1 == n_train) && L.rows > 0) {
        float n = (float) batch_count;

        for (uint k = 0; k < L.rows * L.cols; k++) {
            w[k] -= lr * (dw[k] / n);
            dw[k] = 0.0f;
        }
        for (uint j = 0; j < L.cols; j++) {
            bias[j] -= lr * (dbias[j] / n);
            dbias[j] = 0.0f;
        }
    }
    if (batch_count == batch || pos + 1 == n_train)
        batch_count = 0;
    if (state == DONE) {
        dense_store_weights();
        finish();
    }
}

static void dense_packet(const in_part_t *p, uint idx, uint parity, uint payload)
{
    if (p->kind == KIND_FWD) {
        if (idx == p->count) {          // the layer below lost some partial sums
            want_resend_back = 1;
            return;
        }
        uint s = fwd_seq;
        uint slot = p->arg + idx;
        if (s >= total || parity != (s & 1) || slot >= n_in || bit_test_set(in_bits, slot)) {
            note_stale();
            return;
        }
        a_in[slot] = u2f(payload);
        progress();
        if (++in_got == n_in)
            dense_forward(0, 0);
    } else if (p->kind == KIND_BWD) {
        if (idx == p->count) {          // the layer above lost some activations
            want_resend_fwd = 1;
            return;
        }
        if (idx < p->offset || idx - p->offset >= L.n_out)
            return;                     // another layer's values
        uint local = K->local_of(&L, idx - p->offset);
        if (local >= units)
            return;                     // another slice's values
        uint s = bwd_seq;
        uint slot = p->arg * units + local;
        if (state != WAIT_BWD || parity != (s & 1) || p->arg >= n_src
                || bit_test_set(bwd_bits, slot)) {
            note_stale();
            return;
        }
        partial[slot] = u2f(payload);
        progress();
        if (++bwd_got == n_src * units)
            dense_backward(0, 0);
    } else {
        note_stale();
    }
}

static void dense_timeout(void)
{
    // The first few timeouts go to IOBUF, for whoever reads a stalled run.
    if (requests < 3)
        io_printf(IO_BUF, "timeout: state %u, next forward %u, next backward %u, inputs %u/%u, backward %u/%u\n",
                  state, fwd_seq, bwd_seq, in_got, n_in, bwd_got, n_src * units);
    if (state == WAIT_FWD)
        send_request(&out[1]);          // ask the layer below (or the input core)
    else if (state == WAIT_BWD)
        send_request(&out[0]);          // ask the layer above (or the loss core)
}

// --- loss role --------------------------------------------------------------
static uint n_out, out_act, loss_kind;
static volatile float *y_rows, *preds, *history;
static float *lz, *lp, *lg;
static uint *lz_bits;
static volatile uint lz_got, loss_seq;
static float epoch_loss, eval_loss;
static uint epoch_hits, eval_hits;
static uint last_out_is_done, loss_out_parity, loss_out_valid;

static void loss_send_back(void)
{
    begin_burst();
    if (last_out_is_done) {
        send_plain(&out[1], 0, loss_out_parity);
        return;
    }
    for (uint j = 0; j < n_out; j++)
        send_value(&out[0], j, loss_out_parity, f2u(lg[j]));
}

static void loss_compute(uint unused0, uint unused1)
{
    (void) unused0; (void) unused1;
    uint s = loss_seq;
    uint row = order[s];
    float t[n_out];

    for (uint j = 0; j < n_out; j++)
        t[j] = y_rows[row * n_out + j];
    activate(out_act, lz, lp, n_out);
    float l = sample_loss(loss_kind, lp, t, n_out);
    uint hit = correct(lp, t, n_out);

    if (is_train(s)) {
        if (out_act == ACT_SOFTMAX && loss_kind == LOSS_CCE) {
            for (uint j = 0; j < n_out; j++)
                lg[j] = lp[j] - t[j];
        } else {
            loss_gradient(loss_kind, lp, t, lg, n_out);
            activation_backward(out_act, lz, lp, lg, n_out);
        }
        epoch_loss += l;
        epoch_hits += hit;
        if ((s + 1) % n_train == 0) {
            uint e = s / n_train;
            history[2 * e] = epoch_loss / (float) n_train;
            history[2 * e + 1] = (float) epoch_hits / (float) n_train;
            epoch_loss = 0.0f;
            epoch_hits = 0;
        }
    } else {
        uint k = s - epochs * n_train;
        for (uint j = 0; j < n_out; j++)
            preds[k * n_out + j] = lp[j];
        eval_loss += l;
        eval_hits += hit;
        status[S_HITS] = eval_hits;
        status[S_EVAL_LOSS] = f2u(eval_loss);
    }

    uint cpsr = spin1_int_disable();
    loss_seq = s + 1;
    lz_got = 0;
    bits_clear(lz_bits, n_out);
    progress();
    last_out_is_done = !is_train(s);
    loss_out_parity = s & 1;
    loss_out_valid = 1;
    status[S_SAMPLES] = s + 1;
    spin1_set_user(1, s + 1);
    spin1_mode_restore(cpsr);
    loss_send_back();
    if (s + 1 == total)
        finish();
}

static void loss_packet(const in_part_t *p, uint idx, uint parity, uint payload)
{
    if (p->kind == KIND_CTL || (p->kind == KIND_FWD && idx == p->count)) {
        want_resend_back = 1;
        return;
    }
    if (p->kind != KIND_FWD) {
        note_stale();
        return;
    }
    uint s = loss_seq;
    uint slot = p->arg + idx;
    if (s >= total || parity != (s & 1) || slot >= n_out || bit_test_set(lz_bits, slot)) {
        note_stale();
        return;
    }
    lz[slot] = u2f(payload);
    progress();
    if (++lz_got == n_out)
        loss_compute(0, 0);
}

// --- events -----------------------------------------------------------------

// A resend answers every request of its direction that comes within this many
// ticks of it: it is multicast to every receiver, and a request's copies, or
// several receivers' requests, must not each start another (they did, and a
// storm of resends then kept receivers from ever catching up). A receiver asks
// again only after a whole timeout, so no real request is held off.
#define RESEND_HOLDOFF_TICKS 2
static volatile uint now_tick;
static uint resent_fwd, resent_back;    // the tick a resend ended, plus 1 (0: none yet)

static inline uint held_off(uint resent)
{
    return resent != 0 && now_tick + 1 - resent < RESEND_HOLDOFF_TICKS;
}

// Repeats this core's last values on request (packets are handled between
// computations, so what goes out is always a complete set).
static void resend(uint unused0, uint unused1)
{
    (void) unused0; (void) unused1;
    uint fwd = want_resend_fwd && !held_off(resent_fwd);
    uint back = want_resend_back && !held_off(resent_back);
    want_resend_fwd = want_resend_back = 0;
    if (!fwd && !back)
        return;

    // Cores of one layer take turns, each sending slowly: a receiver that
    // could not keep up with the first burst gets every value this time.
    if (prm[P_STAGGER_US])
        spin1_delay_us(prm[P_STAGGER_US]);
    pace_us = RESEND_GAP_US;
    uint copies = resend_copies < 1 ? 1 : (resend_copies > MAX_COPIES ? MAX_COPIES : resend_copies);
    resend_copies = 0;

    uint sent = 1;
    send_copies = copies;
    if (role == NN_ROLE_INPUT && fwd && seq < total) {
        input_send_sample(0, 0);
    } else if (role == NN_ROLE_DENSE && ((fwd && fwd_out_valid) || (back && back_out_valid))) {
        if (fwd && fwd_out_valid)
            dense_send_fwd();
        if (back && back_out_valid)
            dense_send_back();
    } else if (role == NN_ROLE_LOSS && back && loss_out_valid) {
        loss_send_back();
    } else {
        sent = 0;
    }
    send_copies = 1;
    pace_us = 0;
    if (!sent)
        return;
    if (fwd)
        resent_fwd = now_tick + 1;
    if (back)
        resent_back = now_tick + 1;
    resends++;
    status[S_RESENDS] = resends;
}

// The entry whose block holds `key`: blocks are disjoint and sorted by base
// (the host sorts them), so the candidate is the last base <= key.
static const in_part_t *find_part(uint key)
{
    uint lo_i = 0, hi_i = n_in_parts;

    while (hi_i - lo_i > 1) {
        uint mid = (lo_i + hi_i) / 2;

        if (in_parts[mid].base <= key)
            lo_i = mid;
        else
            hi_i = mid;
    }
    if (n_in_parts == 0 || (key & in_parts[lo_i].mask) != in_parts[lo_i].base)
        return NULL;
    return &in_parts[lo_i];
}

static void packet(uint key, uint payload)
{
    const in_part_t *p = find_part(key);

    if (p != NULL) {
        uint idx = key & (p->half - 1);
        uint parity = (key & p->half) != 0;
        if (idx == p->count && payload > resend_copies)
            resend_copies = payload;    // a request: as many copies as it asks
        if (role == NN_ROLE_INPUT)
            input_packet(p, idx, parity);
        else if (role == NN_ROLE_DENSE)
            dense_packet(p, idx, parity, payload);
        else
            loss_packet(p, idx, parity, payload);
        if (want_resend_fwd || want_resend_back) {
            idle_ticks = 0;
            resend(0, 0);
        }
        return;
    }
    note_stale();
}

// Packets are taken in the FIQ, which only queues them: a handler that
// returns fast keeps the router from dropping what waits behind it.  They
// are handled in order by one queued callback, so the handling of one sample
// (and the forward and backward passes it starts) never interleaves with
// that of another.
// The ring holds P_RX_RING packets (a power of two the host sizes to the
// largest burst this core can be sent, since a burst can keep the FIQ so
// busy that the drain does not run until it ends).
static volatile uint *rx_key, *rx_data;
static uint rx_mask;
static volatile uint rx_head, rx_tail, rx_scheduled;

static void rx_drain(uint unused0, uint unused1)
{
    (void) unused0; (void) unused1;
    for (;;) {
        uint cpsr = spin1_fiq_disable();
        if (rx_head == rx_tail) {
            rx_scheduled = 0;
            spin1_mode_restore(cpsr);
            return;
        }
        spin1_mode_restore(cpsr);
        uint h = rx_head;
        uint key = rx_key[h], data = rx_data[h];
        rx_head = (h + 1) & rx_mask;
        packet(key, data);
    }
}

static void rx_fiq(uint key, uint payload)
{
    uint next = (rx_tail + 1) & rx_mask;

    if (next == rx_head) {              // lost: recovered by a resend request
        note_stale();
        return;
    }
    rx_key[rx_tail] = key;
    rx_data[rx_tail] = payload;
    rx_tail = next;
    if (!rx_scheduled) {
        rx_scheduled = 1;
        spin1_schedule_callback(rx_drain, 0, 0, 1);
    }
}

static void tick(uint ticks, uint unused)
{
    (void) unused;
    now_tick = ticks;
    uint missing = role == NN_ROLE_DENSE ? (state == WAIT_BWD ? n_src * units - bwd_got : n_in - in_got)
                 : role == NN_ROLE_LOSS ? n_out - lz_got : 0;
    status[S_WAIT] = state << 24 | (missing & 0xFFFFFF);
    if (state == DONE) {
        if (role == NN_ROLE_INPUT || ++idle_ticks >= linger)
            spin1_exit(0);
        return;
    }
    if (role == NN_ROLE_INPUT && ticks == 1) {
        input_send_sample(0, 0);        // the first sample, once everyone runs
        return;
    }
    if (++wait_ticks < timeout)
        return;
    wait_ticks = 0;
    attempt++;
    if (role == NN_ROLE_INPUT)
        input_timeout();
    else if (role == NN_ROLE_DENSE)
        dense_timeout();
    else
        send_request(&out[0]);          // ask the last layer for its outputs
}

// --- set-up -----------------------------------------------------------------

static void setup_common(void)
{
    role = prm[P_ROLE];
    n_train = prm[P_N_TRAIN];
    epochs = prm[P_EPOCHS];
    n_eval = prm[P_N_EVAL];
    total = epochs * n_train + n_eval;
    timeout = prm[P_TIMEOUT];
    linger = prm[P_LINGER];
    order = (volatile uint *) prm[P_ORDER];
    status = (volatile uint *) prm[P_STATUS];
    for (uint k = 0; k < S_WORDS; k++)
        status[k] = 0;

    uint ring = prm[P_RX_RING];
    if (ring < 2 || (ring & (ring - 1)) != 0)
        rt_error(RTE_SWERR, 6);
    rx_key = alloc(4 * ring);
    rx_data = alloc(4 * ring);
    rx_mask = ring - 1;

    n_in_parts = prm[P_N_IN_PARTS];
    in_parts = alloc(sizeof(in_part_t) * (n_in_parts ? n_in_parts : 1));
    volatile uint *src = (volatile uint *) prm[P_IN_PARTS];
    for (uint k = 0; k < n_in_parts; k++) {
        in_part_t *p = &in_parts[k];
        p->base = src[k * IN_WORDS + IN_BASE];
        p->mask = src[k * IN_WORDS + IN_MASK];
        p->count = src[k * IN_WORDS + IN_COUNT];
        p->kind = src[k * IN_WORDS + IN_KIND];
        p->arg = src[k * IN_WORDS + IN_ARG];
        p->offset = src[k * IN_WORDS + IN_OFFSET];
        p->half = (~p->mask + 1) >> 1;
    }
    for (uint k = 0; k < 2; k++) {
        out[k].base = prm[P_OUT0_BASE + 3 * k];
        out[k].half = (~prm[P_OUT0_MASK + 3 * k] + 1) >> 1;
        out[k].count = prm[P_OUT0_COUNT + 3 * k];
    }
}

static void setup_input(void)
{
    features = prm[P_IN_FEATURES];
    x_rows = (volatile float *) prm[P_IN_X];
    first_slices = 0;
    for (uint k = 0; k < n_in_parts; k++)
        if (in_parts[k].kind == KIND_DONE && in_parts[k].arg != DONE_FROM_LOSS)
            first_slices++;
    seq = 0;
}

static void setup_dense(void)
{
    L.n_in = prm[P_D_INPUTS];
    L.lo = prm[P_D_LO];
    L.hi = prm[P_D_HI];
    L.cols = L.hi - L.lo;
    L.in_rows = prm[P_G_IN_ROWS];
    L.in_cols = prm[P_G_IN_COLS];
    L.in_ch = prm[P_G_IN_CH];
    L.out_rows = prm[P_G_OUT_ROWS];
    L.out_cols = prm[P_G_OUT_COLS];
    L.win_rows = prm[P_G_WIN_ROWS];
    L.win_cols = prm[P_G_WIN_COLS];
    L.stride_rows = prm[P_G_STRIDE_ROWS];
    L.stride_cols = prm[P_G_STRIDE_COLS];
    L.pad_rows = prm[P_G_PAD_ROWS];
    L.pad_cols = prm[P_G_PAD_COLS];
    L.channels = prm[P_G_CHANNELS];
    L.pool_op = prm[P_G_POOL_OP];
    L.n_out = prm[P_D_OUTPUTS];
    L.fused = prm[P_F_POOL];
    L.f_op = prm[P_F_OP];
    L.f_out_rows = prm[P_F_OUT_ROWS];
    L.f_out_cols = prm[P_F_OUT_COLS];
    L.f_win_rows = prm[P_F_WIN_ROWS];
    L.f_win_cols = prm[P_F_WIN_COLS];
    L.f_stride_rows = prm[P_F_STRIDE_ROWS];
    L.f_stride_cols = prm[P_F_STRIDE_COLS];
    L.f_act = prm[P_F_ACT];
    L.merge_op = prm[P_M_OP];
    L.merge_inputs = prm[P_M_INPUTS];
    for (uint k = 0; k < MERGE_MAX_INPUTS; k++)
        L.merge_ch[k] = prm[P_M_CH0 + k];
    switch (prm[P_D_KIND]) {
    case LAYER_DENSE: K = &kernel_dense; break;
    case LAYER_CONV: K = &kernel_conv; break;
    case LAYER_POOL: K = &kernel_pool; break;
    case LAYER_MERGE: K = &kernel_merge; break;
    default: rt_error(RTE_SWERR, 4);
    }
    if (L.hi < L.lo || !K->setup(&L))
        rt_error(RTE_SWERR, 5);
    n_in = L.n_in;
    units = L.units;
    act = prm[P_D_ACT];
    // A dense layer's units, or a position's channels (the host puts a softmax
    // layer's units or channels all on one core).
    act_group = (prm[P_D_KIND] == LAYER_DENSE || act != ACT_SOFTMAX) ? units : L.cols;
    if (act_group == 0 || units % act_group != 0)
        rt_error(RTE_SWERR, 7);
    flags = prm[P_D_FLAGS];
    lr = u2f(prm[P_D_LR]);
    batch = prm[P_D_BATCH];
    n_src = prm[P_D_BWD_SRCS];
    weights_sdram = (volatile uint *) prm[P_D_WEIGHTS];

    w = alloc_floats(L.rows * L.cols);
    dw = alloc_floats(L.rows * L.cols);
    bias = alloc_floats(L.cols);
    dbias = alloc_floats(L.cols);
    z = alloc_floats(units);
    a = alloc_floats(units);
    delta = alloc_floats(units);
    a_in = alloc_floats(n_in);
    back_out = alloc_floats(n_in);
    partial = alloc_floats(n_src * units);
    in_bits = alloc_bits(n_in);
    bwd_bits = alloc_bits(n_src * units);
    for (uint k = 0; k < L.rows * L.cols; k++) {
        w[k] = u2f(weights_sdram[k]);
        dw[k] = 0.0f;
    }
    for (uint j = 0; j < L.cols && L.rows > 0; j++) {
        bias[j] = u2f(weights_sdram[L.rows * L.cols + j]);
        dbias[j] = 0.0f;
    }
    state = WAIT_FWD;
}

static void setup_loss(void)
{
    n_out = prm[P_L_OUTPUTS];
    out_act = prm[P_L_ACT];
    loss_kind = prm[P_L_LOSS];
    y_rows = (volatile float *) prm[P_L_Y];
    preds = (volatile float *) prm[P_L_PRED];
    history = (volatile float *) prm[P_L_HISTORY];
    lz = alloc_floats(n_out);
    lp = alloc_floats(n_out);
    lg = alloc_floats(n_out);
    lz_bits = alloc_bits(n_out);
    state = WAIT_FWD;
}

void c_main(void)
{
    prm = (volatile uint *) sark_get_user(0);
    if (prm == NULL || prm[P_MAGIC] != NN_MAGIC)
        rt_error(RTE_SWERR, 1);
    setup_common();
    if (role == NN_ROLE_INPUT)
        setup_input();
    else if (role == NN_ROLE_DENSE)
        setup_dense();
    else if (role == NN_ROLE_LOSS)
        setup_loss();
    else
        rt_error(RTE_SWERR, 2);
    if (total == 0 || (role == NN_ROLE_DENSE && (units == 0 || n_src == 0 || batch == 0)))
        rt_error(RTE_SWERR, 3);

    spin1_set_timer_tick(prm[P_TICK_US]);
    spin1_callback_on(TIMER_TICK, tick, 2);
    spin1_callback_on(MC_PACKET_RECEIVED, rx_fiq, -1);
    spin1_callback_on(MCPL_PACKET_RECEIVED, rx_fiq, -1);
    spin1_start(SYNC_NOWAIT);
}
