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
// Samples go forward then backward with no host in the loop.  Up to DEPTH
// (P_DEPTH) of them are in flight at once: the input core sends sample s
// once sample s - DEPTH is done (every first-layer core has finished its
// backward pass; in eval, the loss core its forward pass), and the first
// sample of a batch only once the batch before it is done, so every sample of
// a batch meets the same weights.  Every core keeps a slot of values per
// sample in flight and takes its forward passes in sample order and its
// backward passes in sample order, so gradients add up in the same order at
// any depth and the weights come out the same bits.
//
// Lost packets: every core that waits longer than P_TIMEOUT ticks sends a
// resend request for the oldest sample it waits for to the cores it waits on;
// they resend their values of that sample.  Values carry the sample's tag and
// land in slots with a received bitmap, so duplicates and late resends are
// harmless, and training is bit-identical with or without losses.
//
// Arithmetic is binary32 in software (libgcc), in the same order as the host
// reference (nn/src/model.rs), so one-core layers match it bit for bit up to
// the exp/log functions.

#include "spin1_api.h"
#include "nn.h"
#include "layer.h"

// What a core waits for (S_WAIT's top byte; the host names them).
enum { WAIT_FWD, WAIT_BWD, DONE };

typedef struct {
    uint base, mask, count, kind, arg, offset, shift;
} in_part_t;

typedef struct {
    uint base, shift, count;
} out_part_t;

// --- common state ----------------------------------------------------------
static volatile uint *prm;
static volatile uint *status;
static uint role, n_train, epochs, n_eval, total, n_trained;
static uint timeout, linger;
static in_part_t *in_parts;
static uint n_in_parts;
static out_part_t out[2];
static volatile uint *order;
// Samples in flight at most (a power of two), and the tags a key carries.
static uint depth, tags;

static volatile uint state;
static volatile uint wait_ticks, idle_ticks;
// Timeouts in a row without progress: each request goes out that many times
// (at most MAX_COPIES) and asks for its values that many times, so that a
// fault that drops every Nth packet of a fixed round trip cannot lose the
// same packets for ever.
static uint attempt;
#define MAX_COPIES 8
static uint requests, resends, stale;

// Samples are numbered 0 .. total-1: epochs * n_train training samples
// (n_trained), then n_eval forward-only ones.
static inline uint is_train(uint seq) { return seq < n_trained; }

// The slot of sample s's values, and its tag in keys.
static inline uint slot_of(uint s) { return s & (depth - 1); }
static inline uint tag_of(uint s) { return s & (tags - 1); }

// The sample of tag t among the `tags` samples from `from` on.
static inline uint sample_of(uint t, uint from)
{
    return from + ((t - from) & (tags - 1));
}

static void *alloc(uint bytes)
{
    void *p = spin1_malloc(bytes);

    if (p == NULL)
        rt_error(RTE_MALLOC, bytes);
    return p;
}

// n words: floats or s16.15 (real.h).
static void *alloc_floats(uint n) { return alloc(4 * (n ? n : 1)); }

// n words, all 0 (bitmaps, counts).
static uint *alloc_zeroed(uint words)
{
    uint *p = alloc(4 * (words ? words : 1));

    for (uint i = 0; i < words; i++)
        p[i] = 0;
    return p;
}

static inline uint bits_words(uint n) { return (n + 31) / 32; }

static inline uint bit_test_set(uint *bits, uint i)
{
    uint m = 1u << (i & 31);
    uint old = bits[i >> 5] & m;

    bits[i >> 5] |= m;
    return old != 0;
}

static void bits_clear(uint *bits, uint n)
{
    for (uint i = 0; i < bits_words(n); i++)
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

static void send_value(const out_part_t *o, uint idx, uint s, uint value)
{
    uint key = o->base | (tag_of(s) << o->shift) | idx;

    for (uint c = 0; c < send_copies; c++) {
        pace();
        while (!spin1_send_mc_packet(key, value, WITH_PAYLOAD))
            ;
    }
}

static void send_plain(const out_part_t *o, uint idx, uint s)
{
    uint key = o->base | (tag_of(s) << o->shift) | idx;

    for (uint c = 0; c < send_copies; c++) {
        pace();
        while (!spin1_send_mc_packet(key, 0, NO_PAYLOAD))
            ;
    }
}

// Asks the cores behind `o` for their values of sample s.
static void send_request(const out_part_t *o, uint s)
{
    uint key = o->base | o->count;
    uint copies = attempt < 1 ? 1 : (attempt > MAX_COPIES ? MAX_COPIES : attempt);

    for (uint c = 0; c < copies; c++)
        while (!spin1_send_mc_packet(key, s << 4 | copies, WITH_PAYLOAD))
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

// Samples this core has finished (the host's progress and stall report).
static void note_samples(uint n)
{
    status[S_SAMPLES] = n;
    spin1_set_user(1, n);
}

static void finish(void)
{
    state = DONE;
    idle_ticks = 0;
    status[S_STATE] = 1;
}

// --- activations and losses (as nn/src/model.rs computes them) --------------

// The loss core's, in binary32 on either image; also the layers' on nn.elf.
#ifdef NN_FIXED
#define FLOAT_ACT static
#else
#define FLOAT_ACT
#define activate_f activate
#define activation_backward_f activation_backward
#endif

FLOAT_ACT void activate_f(uint act, const float *z, float *a, uint n)
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
FLOAT_ACT void activation_backward_f(uint act, const float *z, const float *a, float *g, uint n)
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

#ifdef NN_FIXED
// A layer's activations in s16.15: ReLU exactly, the others through binary32.
void activate(uint act, const real *z, real *a, uint n)
{
    switch (act) {
    case ACT_RELU:
        for (uint j = 0; j < n; j++)
            a[j] = z[j] > 0 ? z[j] : 0;
        break;
    case ACT_SIGMOID:
        for (uint j = 0; j < n; j++)
            a[j] = r_from_float(1.0f / (1.0f + nn_expf(-r_to_float(z[j]))));
        break;
    case ACT_TANH:
        for (uint j = 0; j < n; j++)
            a[j] = r_from_float(nn_tanhf(r_to_float(z[j])));
        break;
    case ACT_SOFTMAX: {
        real max = z[0];
        float sum = 0.0f;

        for (uint j = 1; j < n; j++)
            if (z[j] > max)
                max = z[j];
        for (uint j = 0; j < n; j++)
            sum += nn_expf(r_to_float(z[j] - max));
        for (uint j = 0; j < n; j++)
            a[j] = r_from_float(nn_expf(r_to_float(z[j] - max)) / sum);
        break;
    }
    default:
        for (uint j = 0; j < n; j++)
            a[j] = z[j];
        break;
    }
}

void activation_backward(uint act, const real *z, const real *a, real *g, uint n)
{
    switch (act) {
    case ACT_RELU:
        for (uint j = 0; j < n; j++)
            if (!(z[j] > 0))
                g[j] = 0;
        break;
    case ACT_SIGMOID:
        for (uint j = 0; j < n; j++)
            g[j] = r_mul(r_mul(g[j], a[j]), R_ONE - a[j]);
        break;
    case ACT_TANH:
        for (uint j = 0; j < n; j++)
            g[j] = r_mul(g[j], R_ONE - r_mul(a[j], a[j]));
        break;
    case ACT_SOFTMAX: {
        real dot = 0;

        for (uint j = 0; j < n; j++)
            dot += r_mul(g[j], a[j]);
        for (uint j = 0; j < n; j++)
            g[j] = r_mul(a[j], g[j] - dot);
        break;
    }
    default:
        break;
    }
}
#endif

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
// The input core's control partition goes to every other core: value
// CTL_STOP says that every sample is done.
#define CTL_STOP 0
#define STOP_COPIES 4
static uint features;
static volatile float *x_rows;
static volatile uint next_send;         // the next sample to send
static volatile uint done_seq;          // the oldest sample not done
// "Done" senders: first-layer core k (0 <= k < first_slices) in training,
// the loss core (DONE_FROM_LOSS) in evaluation; a bitmap and a count per slot.
#define DONE_FROM_LOSS 255
#define DONE_WORDS ((DONE_FROM_LOSS + 32) / 32)
static uint done_bits[MAX_DEPTH][DONE_WORDS];
static uint done_count[MAX_DEPTH];
static uint first_slices, batch_size;

static inline uint done_wanted(uint s, uint who)
{
    return is_train(s) ? who < first_slices : who == DONE_FROM_LOSS;
}

static inline uint done_needed(uint s)
{
    return is_train(s) ? first_slices : 1;
}

static void input_send_sample(uint s)
{
    uint row = order[s];

    begin_burst();
    for (uint i = 0; i < features; i++)
        send_value(&out[0], i, s, word_of_r(r_from_float(x_rows[row * features + i])));
}

// Sample s may go out now: it is within DEPTH of the oldest not done, and
// the first of a batch (or of the evaluation) waits for all before it.
static uint may_send(uint s)
{
    if (s >= total || s >= done_seq + depth)
        return 0;
    uint starts = s == n_trained || (is_train(s) && (s % n_train) % batch_size == 0);
    return !starts || done_seq == s;
}

// Sends every sample that may go out.
static void input_fill(void)
{
    while (may_send(next_send)) {
        uint s = next_send;

        next_send = s + 1;
        input_send_sample(s);
    }
}

static void input_packet(const in_part_t *p, uint t)
{
    if (p->kind != KIND_DONE) {
        note_stale();
        return;
    }
    uint s = sample_of(t, done_seq);
    uint who = p->arg & DONE_FROM_LOSS;
    uint k = slot_of(s);
    if (s >= next_send || !done_wanted(s, who) || bit_test_set(done_bits[k], who)) {
        note_stale();
        return;
    }
    progress();
    if (++done_count[k] < done_needed(s))
        return;
    // Samples are done in order: a later one done first waits for the others.
    while (done_seq < next_send && done_count[slot_of(done_seq)] == done_needed(done_seq)) {
        k = slot_of(done_seq);
        bits_clear(done_bits[k], DONE_FROM_LOSS + 1);
        done_count[k] = 0;
        done_seq++;
    }
    note_samples(done_seq);
    if (done_seq == total) {
        // Every sample is done everywhere: the others may go (they stay until
        // then to answer requests).  A few copies, as a router may drop one;
        // the input core itself goes at its next tick, once they are out.
        for (uint c = 0; c < STOP_COPIES; c++) {
            spin1_delay_us(RESEND_GAP_US);
            send_plain(&out[1], CTL_STOP, 0);
        }
        finish();
        return;
    }
    input_fill();
}

static void input_timeout(void)
{
    // Ask the first layer to repeat "done", and the loss core too (in eval
    // it is the one that says done).
    send_request(&out[0], done_seq);
    send_request(&out[1], done_seq);
}

// --- layer role -------------------------------------------------------------
static layer_t L;
static const kernel_t *K;
static uint n_in, units, act, flags, batch, n_src;
static uint act_group;                  // softmax normalises groups of this many values
static real lr;
static real *w, *dw, *bias, *dbias, *delta;
// Per slot (DEPTH of each, one after the other): the inputs and what the
// forward pass made of them, the partial sums from above, dL/dx for below.
static real *z, *a, *a_in, *back_out, *partial;
static uint *in_bits, *bwd_bits, *in_got, *bwd_got;
static uint in_words, bwd_words;        // words of one slot's bitmaps
static volatile uint fwd_seq, bwd_seq;  // the next sample to pass forward, backward
static uint batch_count;
static volatile uint *weights_sdram;

static void dense_store_weights(void)
{
    uint n = L.rows * L.cols;

    if (L.rows == 0)
        return;
    for (uint k = 0; k < n; k++)
        weights_sdram[k] = f2u(r_to_float(w[k]));
    for (uint j = 0; j < L.cols; j++)
        weights_sdram[n + j] = f2u(r_to_float(bias[j]));
}

// Training and evaluation are over: the weights go to SDRAM.
static void dense_check_done(void)
{
    if (fwd_seq == total && bwd_seq == n_trained) {
        dense_store_weights();
        finish();
    }
}

static void dense_send_fwd(uint s)
{
    uint k = slot_of(s);
    const real *v = (flags & FLAG_LAST) ? &z[k * units] : &a[k * units];

    begin_burst();
    for (uint j = 0; j < units; j++)
        send_value(&out[0], K->out_index(&L, j), s, word_of_r(v[j]));
}

static void dense_send_back(uint s)
{
    begin_burst();
    if (flags & FLAG_FIRST) {
        send_plain(&out[1], 0, s);
        return;
    }
    const real *v = &back_out[slot_of(s) * n_in];
    for (uint i = 0; i < n_in; i++)
        send_value(&out[1], i, s, word_of_r(v[i]));
}

static void dense_forward(void)
{
    uint s = fwd_seq;
    uint k = slot_of(s);
    real *zk = &z[k * units], *ak = &a[k * units];

    L.slot = k;
    K->forward(&L, w, bias, &a_in[k * n_in], zk);
    if (!(flags & FLAG_LAST))
        for (uint p = 0; p < units; p += act_group)
            activate(act, &zk[p], &ak[p], act_group);

    uint cpsr = spin1_int_disable();
    fwd_seq = s + 1;
    in_got[k] = 0;
    bits_clear(&in_bits[k * in_words], n_in);
    progress();
    if (!is_train(s))
        note_samples(s + 1);
    spin1_mode_restore(cpsr);

    dense_send_fwd(s);
    dense_check_done();
}

static void dense_backward(void)
{
    uint s = bwd_seq;
    uint k = slot_of(s);
    const real *pk = &partial[k * n_src * units];
    real *zk = &z[k * units], *ak = &a[k * units];

    // Error at this slice's units: the loss core's dL/dz on the last layer,
    // else the sum of the layer above's partial sums (in sender order) times
    // the activation's derivative.
    for (uint j = 0; j < units; j++) {
        real g = pk[j];

        for (uint c = 1; c < n_src; c++)
            g += pk[c * units + j];
        delta[j] = g;
    }
    if (!(flags & FLAG_LAST))
        for (uint p = 0; p < units; p += act_group)
            activation_backward(act, &zk[p], &ak[p], &delta[p], act_group);

    // Gradients, and this core's share of dL/dx for the layer below (with the
    // weights before this update).
    L.slot = k;
    K->backward(&L, w, &a_in[k * n_in], delta, dw, dbias,
                (flags & FLAG_FIRST) ? NULL : &back_out[k * n_in]);

    uint cpsr = spin1_int_disable();
    bwd_seq = s + 1;
    bwd_got[k] = 0;
    bits_clear(&bwd_bits[k * bwd_words], n_src * units);
    progress();
    note_samples(s + 1);
    spin1_mode_restore(cpsr);
    dense_send_back(s);

    // Mini-batch update: mean gradient over the batch (the last batch of an
    // epoch may be short), as the host reference does.
    batch_count++;
    uint pos = s % n_train;
    if ((batch_count == batch || pos + 1 == n_train) && L.rows > 0) {
        for (uint i = 0; i < L.rows * L.cols; i++) {
            w[i] -= r_mul(lr, r_div(dw[i], batch_count));
            dw[i] = R_ZERO;
        }
        for (uint j = 0; j < L.cols; j++) {
            bias[j] -= r_mul(lr, r_div(dbias[j], batch_count));
            dbias[j] = R_ZERO;
        }
    }
    if (batch_count == batch || pos + 1 == n_train)
        batch_count = 0;
    dense_check_done();
}

// Runs every pass whose values are all here, oldest first: a sample's
// backward pass before a later sample's forward pass (the input core never
// sends a sample whose forward pass needs weights still to be updated).
static void dense_run(void)
{
    for (;;) {
        if (bwd_seq < fwd_seq && bwd_got[slot_of(bwd_seq)] == n_src * units)
            dense_backward();
        else if (fwd_seq < total && in_got[slot_of(fwd_seq)] == n_in)
            dense_forward();
        else
            return;
    }
}

static void dense_packet(const in_part_t *p, uint idx, uint t, uint payload)
{
    if (p->kind == KIND_FWD) {
        uint s = sample_of(t, fwd_seq);
        uint slot = p->arg + idx;
        uint k = slot_of(s);
        if (s >= fwd_seq + depth || s >= total || slot >= n_in
                || bit_test_set(&in_bits[k * in_words], slot)) {
            note_stale();
            return;
        }
        a_in[k * n_in + slot] = r_of_word(payload);
        progress();
        if (++in_got[k] == n_in)
            dense_run();
    } else if (p->kind == KIND_BWD) {
        if (idx < p->offset || idx - p->offset >= L.n_out)
            return;                     // another layer's values
        uint local = K->local_of(&L, idx - p->offset);
        if (local >= units)
            return;                     // another slice's values
        uint s = sample_of(t, bwd_seq);
        uint slot = p->arg * units + local;
        uint k = slot_of(s);
        if (s >= fwd_seq || !is_train(s) || p->arg >= n_src
                || bit_test_set(&bwd_bits[k * bwd_words], slot)) {
            note_stale();
            return;
        }
        partial[k * n_src * units + slot] = r_of_word(payload);
        progress();
        if (++bwd_got[k] == n_src * units)
            dense_run();
    } else {
        note_stale();
    }
}

// What this layer core waits for first: a backward pass of the oldest sample
// it has passed forward, else the next forward pass.
static inline uint dense_waits_bwd(void)
{
    return bwd_seq < fwd_seq && is_train(bwd_seq);
}

static void dense_timeout(void)
{
    // The first few timeouts go to IOBUF, for whoever reads a stalled run.
    if (requests < 3)
        io_printf(IO_BUF, "timeout: next forward %u, next backward %u, inputs %u/%u, backward %u/%u\n",
                  fwd_seq, bwd_seq, in_got[slot_of(fwd_seq)], n_in,
                  bwd_got[slot_of(bwd_seq)], n_src * units);
    if (dense_waits_bwd())
        send_request(&out[0], bwd_seq); // ask the layer above (or the loss core)
    else
        send_request(&out[1], fwd_seq); // ask the layer below (or the input core)
}

// --- loss role --------------------------------------------------------------
static uint n_out, out_act, loss_kind;
static volatile float *y_rows, *preds, *history;
static float *lz, *lp, *lg;             // lz, lg: per slot
static uint *lz_bits, *lz_got;
static uint lz_words;
static volatile uint loss_seq;
static float epoch_loss, eval_loss;
static uint epoch_hits, eval_hits;

static void loss_send_back(uint s)
{
    begin_burst();
    if (!is_train(s)) {
        send_plain(&out[1], 0, s);      // "done" to the input core
        return;
    }
    const float *g = &lg[slot_of(s) * n_out];
    for (uint j = 0; j < n_out; j++)
        send_value(&out[0], j, s, word_of_r(r_from_float(g[j])));
}

static void loss_compute(void)
{
    uint s = loss_seq;
    uint k = slot_of(s);
    uint row = order[s];
    float t[n_out];
    float *zk = &lz[k * n_out], *gk = &lg[k * n_out];

    for (uint j = 0; j < n_out; j++)
        t[j] = y_rows[row * n_out + j];
    activate_f(out_act, zk, lp, n_out);
    float l = sample_loss(loss_kind, lp, t, n_out);
    uint hit = correct(lp, t, n_out);

    if (is_train(s)) {
        if (out_act == ACT_SOFTMAX && loss_kind == LOSS_CCE) {
            for (uint j = 0; j < n_out; j++)
                gk[j] = lp[j] - t[j];
        } else {
            loss_gradient(loss_kind, lp, t, gk, n_out);
            activation_backward_f(out_act, zk, lp, gk, n_out);
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
        uint e = s - n_trained;
        for (uint j = 0; j < n_out; j++)
            preds[e * n_out + j] = lp[j];
        eval_loss += l;
        eval_hits += hit;
        status[S_HITS] = eval_hits;
        status[S_EVAL_LOSS] = f2u(eval_loss);
    }

    uint cpsr = spin1_int_disable();
    loss_seq = s + 1;
    lz_got[k] = 0;
    bits_clear(&lz_bits[k * lz_words], n_out);
    progress();
    note_samples(s + 1);
    spin1_mode_restore(cpsr);
    loss_send_back(s);
    if (s + 1 == total)
        finish();
}

static void loss_packet(const in_part_t *p, uint idx, uint t, uint payload)
{
    if (p->kind != KIND_FWD) {
        note_stale();
        return;
    }
    uint s = sample_of(t, loss_seq);
    uint slot = p->arg + idx;
    uint k = slot_of(s);
    if (s >= loss_seq + depth || s >= total || slot >= n_out
            || bit_test_set(&lz_bits[k * lz_words], slot)) {
        note_stale();
        return;
    }
    lz[k * n_out + slot] = r_to_float(r_of_word(payload));
    progress();
    if (++lz_got[k] < n_out)
        return;
    while (loss_seq < total && lz_got[slot_of(loss_seq)] == n_out)
        loss_compute();
}

// --- events -----------------------------------------------------------------

// A resend answers every request for the same sample and direction that comes
// within this many ticks of it: it is multicast to every receiver, and a
// request's copies, or several receivers' requests, must not each start
// another (they did, and a storm of resends then kept receivers from ever
// catching up).  A receiver asks again only after a whole timeout, so no real
// request is held off.
#define RESEND_HOLDOFF_TICKS 2
static volatile uint now_tick;

typedef struct {
    uint tick;                          // the tick a resend ended, plus 1 (0: none yet)
    uint seq;                           // the sample it was for
} resent_t;

static resent_t resent_fwd, resent_back;

static inline uint held_off(const resent_t *r, uint s)
{
    return r->tick != 0 && r->seq == s && now_tick + 1 - r->tick < RESEND_HOLDOFF_TICKS;
}

// This core's values of sample s in one direction (fwd: towards the loss
// core; else towards the input core), if it still has them and they are of
// one of its last DEPTH samples.  Never older: a receiver can be at most DEPTH
// samples past what its sender last sent, so a resend of an older sample (for
// a request copy that came late) could arrive when its tag is another
// sample's; within DEPTH, the receiver's window and the resent sample span at
// most 2 * DEPTH samples, which the tags tell apart.
static uint can_resend(uint fwd, uint s)
{
    switch (role) {
    case NN_ROLE_INPUT:
        return fwd && s >= done_seq && s < next_send;
    case NN_ROLE_DENSE:
        if (fwd)
            return s < fwd_seq && s + depth >= fwd_seq;
        return s < bwd_seq && s + depth >= bwd_seq;
    default:
        // Its gradients (training) or "done" (evaluation).
        return !fwd && s < loss_seq && s + depth >= loss_seq;
    }
}

// Repeats this core's values of sample s on request, `copies` times each
// (packets are handled between computations, so what goes out is always a
// complete set).
static void resend(uint fwd, uint s, uint copies)
{
    resent_t *r = fwd ? &resent_fwd : &resent_back;

    if (held_off(r, s) || !can_resend(fwd, s))
        return;
    idle_ticks = 0;
    // Cores of one layer take turns, each sending slowly: a receiver that
    // could not keep up with the first burst gets every value this time.
    if (prm[P_STAGGER_US])
        spin1_delay_us(prm[P_STAGGER_US]);
    pace_us = RESEND_GAP_US;
    send_copies = copies < 1 ? 1 : (copies > MAX_COPIES ? MAX_COPIES : copies);
    if (role == NN_ROLE_INPUT)
        input_send_sample(s);
    else if (role == NN_ROLE_DENSE && fwd)
        dense_send_fwd(s);
    else if (role == NN_ROLE_DENSE)
        dense_send_back(s);
    else
        loss_send_back(s);
    send_copies = 1;
    pace_us = 0;
    r->tick = now_tick + 1;
    r->seq = s;
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

    if (p == NULL) {
        note_stale();
        return;
    }
    uint idx = key & ((1u << p->shift) - 1);
    uint t = (key >> p->shift) & (tags - 1);
    if (idx == p->count) {
        // A request for our values of a sample: it comes in on the partition
        // whose senders we send to, so a forward partition's receivers ask
        // for what we send backward, and the other way round.  The input
        // core's "done" partitions come from the cores it sends forward to.
        // The input core asks the loss core too, which only says "done" in
        // evaluation: in training it has nothing the input core wants.
        uint fwd = p->kind == KIND_BWD || role == NN_ROLE_INPUT;
        if (p->kind == KIND_CTL && (role != NN_ROLE_LOSS || is_train(payload >> 4)))
            return;
        resend(fwd, payload >> 4, payload & 15);
        return;
    }
    if (p->kind == KIND_CTL) {
        if (idx == CTL_STOP && state == DONE)
            spin1_exit(0);
        return;
    }
    if (role == NN_ROLE_INPUT)
        input_packet(p, t);
    else if (role == NN_ROLE_DENSE)
        dense_packet(p, idx, t, payload);
    else
        loss_packet(p, idx, t, payload);
}

// Packets are taken in the FIQ, which only queues them: a handler that
// returns fast keeps the router from dropping what waits behind it.  They
// are handled in order by one queued callback, so the handling of one sample
// (and the forward and backward passes it starts) never interleaves with
// that of another.
// The ring holds P_RX_RING packets (a power of two the host sizes to the
// largest bursts this core can be sent while it computes, since a burst can
// keep the FIQ so busy that the drain does not run until it ends).
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
    uint wait = WAIT_FWD, missing = 0;
    if (role == NN_ROLE_DENSE && dense_waits_bwd()) {
        wait = WAIT_BWD;
        missing = n_src * units - bwd_got[slot_of(bwd_seq)];
    } else if (role == NN_ROLE_DENSE && fwd_seq < total) {
        missing = n_in - in_got[slot_of(fwd_seq)];
    } else if (role == NN_ROLE_LOSS && loss_seq < total) {
        missing = n_out - lz_got[slot_of(loss_seq)];
    }
    status[S_WAIT] = (state == DONE ? DONE : wait) << 24 | (missing & 0xFFFFFF);
    if (state == DONE) {
        if (role == NN_ROLE_INPUT || ++idle_ticks >= linger)
            spin1_exit(0);
        return;
    }
    if (role == NN_ROLE_INPUT && ticks == 1) {
        input_fill();                   // the first samples, once everyone runs
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
        send_request(&out[0], loss_seq); // ask the last layer for its outputs
}

// --- set-up -----------------------------------------------------------------

// Set-up runs once: it is compiled for size, which keeps the image within
// ITCM (the hot paths above stay at -O2).
#pragma GCC optimize ("Os")

// log2 of a power of two.
static uint log2_of(uint v)
{
    uint n = 0;

    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

static void setup_common(void)
{
    role = prm[P_ROLE];
    n_train = prm[P_N_TRAIN];
    epochs = prm[P_EPOCHS];
    n_eval = prm[P_N_EVAL];
    n_trained = epochs * n_train;
    total = n_trained + n_eval;
    timeout = prm[P_TIMEOUT];
    linger = prm[P_LINGER];
    order = (volatile uint *) prm[P_ORDER];
    status = (volatile uint *) prm[P_STATUS];
    for (uint k = 0; k < S_WORDS; k++)
        status[k] = 0;
    if (prm[P_ARITH] != NN_ARITH)
        rt_error(RTE_SWERR, 10);        // a block for the other image
    depth = prm[P_DEPTH];
    if (depth == 0 || depth > MAX_DEPTH || (depth & (depth - 1)) != 0)
        rt_error(RTE_SWERR, 8);
    tags = 2 * depth;

    uint ring = prm[P_RX_RING];
    if (ring < 2 || (ring & (ring - 1)) != 0)
        rt_error(RTE_SWERR, 6);
    rx_key = alloc(4 * ring);
    rx_data = alloc(4 * ring);
    rx_mask = ring - 1;

    // A block of 2^b keys holds `tags` tags of 2^(b - log2 tags) keys each.
    uint tag_bits = log2_of(tags);
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
        p->shift = log2_of(~p->mask + 1) - tag_bits;
    }
    for (uint k = 0; k < 2; k++) {
        out[k].base = prm[P_OUT0_BASE + 3 * k];
        out[k].shift = log2_of(~prm[P_OUT0_MASK + 3 * k] + 1) - tag_bits;
        out[k].count = prm[P_OUT0_COUNT + 3 * k];
    }
}

static void setup_input(void)
{
    features = prm[P_IN_FEATURES];
    x_rows = (volatile float *) prm[P_IN_X];
    batch_size = prm[P_IN_BATCH];
    if (batch_size == 0)
        rt_error(RTE_SWERR, 9);
    first_slices = 0;
    for (uint k = 0; k < n_in_parts; k++)
        if (in_parts[k].kind == KIND_DONE && in_parts[k].arg != DONE_FROM_LOSS)
            first_slices++;
    next_send = done_seq = 0;
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
    L.depth = depth;
    L.slot = 0;
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
    lr = r_from_float(u2f(prm[P_D_LR]));
    batch = prm[P_D_BATCH];
    n_src = prm[P_D_BWD_SRCS];
    weights_sdram = (volatile uint *) prm[P_D_WEIGHTS];

    w = alloc_floats(L.rows * L.cols);
    dw = alloc_floats(L.rows * L.cols);
    bias = alloc_floats(L.cols);
    dbias = alloc_floats(L.cols);
    delta = alloc_floats(units);
    z = alloc_floats(depth * units);
    a = alloc_floats(depth * units);
    a_in = alloc_floats(depth * n_in);
    back_out = (flags & FLAG_FIRST) ? NULL : alloc_floats(depth * n_in);
    partial = alloc_floats(depth * n_src * units);
    in_words = bits_words(n_in);
    bwd_words = bits_words(n_src * units);
    in_bits = alloc_zeroed(depth * in_words);
    bwd_bits = alloc_zeroed(depth * bwd_words);
    in_got = alloc_zeroed(depth);
    bwd_got = alloc_zeroed(depth);
    for (uint k = 0; k < L.rows * L.cols; k++) {
        w[k] = r_from_float(u2f(weights_sdram[k]));
        dw[k] = R_ZERO;
    }
    for (uint j = 0; j < L.cols && L.rows > 0; j++) {
        bias[j] = r_from_float(u2f(weights_sdram[L.rows * L.cols + j]));
        dbias[j] = R_ZERO;
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
    lz = alloc_floats(depth * n_out);
    lp = alloc_floats(n_out);
    lg = alloc_floats(depth * n_out);
    lz_words = bits_words(n_out);
    lz_bits = alloc_zeroed(depth * lz_words);
    lz_got = alloc_zeroed(depth);
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
    // Every core waits at the SYNC0 barrier once set up (a large layer takes a while to
    // convert its weights), and the host releases them together: the input core's first
    // sample, on its first tick, then finds every receiver ready.
    spin1_start(SYNC_WAIT);
}
