// Native dense and conv2d kernels, compiled on install with -O3 for the architecture's
// baseline. On x86-64 every vector kernel is cloned for x86-64-v4 (AVX-512), x86-64-v3 (AVX2,
// FMA) and the baseline, and the loader picks the clone for the CPU it runs on, so one build
// serves any x86-64 machine (a Docker stage, a CI cache). GCC's vector extensions give
// 16-lane registers (AVX-512) or pairs of 8 or quads of 4 where the CPU has less. Same
// semantics, packed layouts and arguments as the WebAssembly kernels (../wasm/assembly), on
// the same shared memory: pointers are byte offsets from the memory's base, registered once
// with attach(). The checked copy and the CHW-to-HWC transpose that frames enter by are native
// too, and so is pooling; the other ops stay on the WebAssembly kernels.
#define _GNU_SOURCE
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
#define DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define DISPATCHED 1
#else
#define DISPATCH
#define DISPATCHED 0
#endif

typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef uint32_t w16 __attribute__((vector_size(64), aligned(2)));
static inline v16 ld(const float* p) { v16 v; memcpy(&v, p, sizeof v); return v; }
static inline void st(float* p, v16 v) { memcpy(p, &v, sizeof v); }
static inline void add_to(float* p, v16 v) { v16 o = ld(p); o += v; memcpy(p, &o, sizeof o); }
// A float in every lane: a broadcast (`(v16){} + f` cost an add before each one, since 0 + f
// is not f for f = -0).
static inline __attribute__((always_inline)) v16 splat(float f) {
  const v16 one = {f};
  return __builtin_shufflevector(one, one, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
// A vector's 16 lanes summed as a tree (halves, then halves of those): four dependent adds
// instead of fifteen, which a dense layer's many row sums otherwise wait on. Every kernel
// sums its rows this way, so batched and one-stream sums stay the same bits.
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
static inline __attribute__((always_inline)) float hsum(v16 v) {
  const v8 h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const v4 q = __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
  return (q[0] + q[2]) + (q[1] + q[3]);
}

// How a kernel writes a sum s into its node's state y (one value of it), by mode: 0 adds (one
// edge of several); 5 writes 0 + s (the first edge of several, in place of zeroing, then
// adding); 3 and 4 add and apply the bias, (y + s) + b, then nothing or ReLU (the last edge of
// several, in place of the activation pass); 1 and 2 write (0 + s) + b, then nothing or ReLU
// (a node's only edge). Each gives the bits of the separate passes.
static inline __attribute__((always_inline)) float finish(float y, float s, float b, int mode) {
  if (mode == 0) return y + s;
  const float sum = (mode >= 3 && mode <= 4 ? y : 0.0f) + s;
  if (mode == 5) return sum;
  const float v = sum + b;
  return (mode == 2 || mode == 4) ? (v > 0 ? v : 0.0f) : v;
}

// finish for 16 outputs at once (the same bits lane by lane), `bias` at y's place in the
// node's bias. Always inlined: a call would run it at the baseline instruction set instead of
// the caller's clone.
static inline __attribute__((always_inline)) void finish16(float* y, const float* bias, v16 r, int mode) {
  if (mode == 0) {
    add_to(y, r);
    return;
  }
  if (mode == 5) {
    // The first edge of several: what zeroing then adding gives, 0 + r (a -0 becomes +0).
    v16 v = (v16){0} + r;
    memcpy(y, &v, sizeof v);
    return;
  }
  // Modes 3 and 4 finish a node's sum: (y + r) + bias; 1 and 2 a node's only edge: (0 + r)
  // + bias, as zeroing, adding and the activation pass round it.
  v16 v = (mode >= 3 ? ld(y) + r : (v16){0} + r) + ld(bias);
  if (mode == 2 || mode == 4) {
    w16 bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= (w16)(v > (v16){0});
    memcpy(&v, &bits, sizeof v);
  }
  memcpy(y, &v, sizeof v);
}

// y[o] += sum_i w[o,i] x[i] (or as `mode` says, with bias b; see finish): four rows share each
// x load; 16 inputs per step.
DISPATCH static void dense(const float* x, const float* w, float* y, int in, int out, const float* b, int mode) {
  const int n16 = in & ~15;
  int o = 0;
  for (; o + 4 <= out; o += 4) {
    const float *r0 = w + (size_t)o * in, *r1 = r0 + in, *r2 = r1 + in, *r3 = r2 + in;
    v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int i = 0; i < n16; i += 16) {
      const v16 xv = ld(x + i);
      a0 += ld(r0 + i) * xv;
      a1 += ld(r1 + i) * xv;
      a2 += ld(r2 + i) * xv;
      a3 += ld(r3 + i) * xv;
    }
    float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (int i = n16; i < in; i++) {
      s0 += r0[i] * x[i];
      s1 += r1[i] * x[i];
      s2 += r2[i] * x[i];
      s3 += r3[i] * x[i];
    }
    y[o] = finish(y[o], s0, b == NULL ? 0 : b[o], mode);
    y[o + 1] = finish(y[o + 1], s1, b == NULL ? 0 : b[o + 1], mode);
    y[o + 2] = finish(y[o + 2], s2, b == NULL ? 0 : b[o + 2], mode);
    y[o + 3] = finish(y[o + 3], s3, b == NULL ? 0 : b[o + 3], mode);
  }
  for (; o < out; o++) {
    const float* r = w + (size_t)o * in;
    v16 a = {0};
    for (int i = 0; i < n16; i += 16) a += ld(r + i) * ld(x + i);
    float s = hsum(a);
    for (int i = n16; i < in; i++) s += r[i] * x[i];
    y[o] = finish(y[o], s, b == NULL ? 0 : b[o], mode);
  }
}

// The same dense for several streams of one engine frame (sessions batched together): each
// load of a weight vector feeds four streams, so a layer whose weights come from L2 or memory
// reads them once per four streams instead of once per stream. Every (stream, row) sum is
// formed exactly as dense() forms it (same multiply-adds in the same order, same horizontal
// sum and tail), so a batched frame equals the frames computed one by one, bit for bit.
// Rows o..o+3 of streams xs[0..nb-1] (nb 2 to 4, a constant where it is inlined): 4 x nb
// sums in flight; at nb = 4, 8 loads per 16 multiply-adds.
static inline __attribute__((always_inline)) void dense_block(const float* const* xs, float* const* ys, const int nb, const float* w, int in, int o, const float* bias, int mode) {
  const int n16 = in & ~15;
  const float *r0 = w + (size_t)o * in, *r1 = r0 + in, *r2 = r1 + in, *r3 = r2 + in;
  v16 a[4][4];
  for (int b = 0; b < nb; b++) a[b][0] = a[b][1] = a[b][2] = a[b][3] = (v16){0};
  for (int i = 0; i < n16; i += 16) {
    const v16 w0 = ld(r0 + i), w1 = ld(r1 + i), w2 = ld(r2 + i), w3 = ld(r3 + i);
    for (int b = 0; b < nb; b++) {
      const v16 xv = ld(xs[b] + i);
      a[b][0] += w0 * xv;
      a[b][1] += w1 * xv;
      a[b][2] += w2 * xv;
      a[b][3] += w3 * xv;
    }
  }
  for (int b = 0; b < nb; b++) {
    const float* x = xs[b];
    float s0 = hsum(a[b][0]), s1 = hsum(a[b][1]), s2 = hsum(a[b][2]), s3 = hsum(a[b][3]);
    for (int i = n16; i < in; i++) {
      s0 += r0[i] * x[i];
      s1 += r1[i] * x[i];
      s2 += r2[i] * x[i];
      s3 += r3[i] * x[i];
    }
    float* y = ys[b];
    y[o] = finish(y[o], s0, bias == NULL ? 0 : bias[o], mode);
    y[o + 1] = finish(y[o + 1], s1, bias == NULL ? 0 : bias[o + 1], mode);
    y[o + 2] = finish(y[o + 2], s2, bias == NULL ? 0 : bias[o + 2], mode);
    y[o + 3] = finish(y[o + 3], s3, bias == NULL ? 0 : bias[o + 3], mode);
  }
}

static inline __attribute__((always_inline)) void dense_quad(const float* const* xs, float* const* ys, const float* w, int in, int o, const float* bias, int mode) {
  dense_block(xs, ys, 4, w, in, o, bias, mode);
}

// Row o (one of the last out % 4) of n streams, as dense() forms a lone row.
static inline __attribute__((always_inline)) void dense_row(const float* const* xs, float* const* ys, int n, const float* w, int in, int o, const float* bias, int mode) {
  const int n16 = in & ~15;
  const float* r = w + (size_t)o * in;
  for (int b = 0; b < n; b++) {
    const float* x = xs[b];
    v16 acc = {0};
    for (int i = 0; i < n16; i += 16) acc += ld(r + i) * ld(x + i);
    float s = hsum(acc);
    for (int i = n16; i < in; i++) s += r[i] * x[i];
    ys[b][o] = finish(ys[b][o], s, bias == NULL ? 0 : bias[o], mode);
  }
}

DISPATCH static void dense_batch4(const float* const* xs, float* const* ys, const float* w, int in, int out, const float* bias, int mode) {
  int o = 0;
  for (; o + 4 <= out; o += 4) dense_quad(xs, ys, w, in, o, bias, mode);
  for (; o < out; o++) dense_row(xs, ys, 4, w, in, o, bias, mode);
}

// Eight streams: each block of four rows for the first four streams, then, its weights now
// in L1, for the other four (a block of 2 rows x 8 streams ran 1.1x slower: each input
// vector was loaded once per row).
DISPATCH static void dense_batch8(const float* const* xs, float* const* ys, const float* w, int in, int out, const float* bias, int mode) {
  int o = 0;
  for (; o + 4 <= out; o += 4) {
    dense_quad(xs, ys, w, in, o, bias, mode);
    dense_quad(xs + 4, ys + 4, w, in, o, bias, mode);
  }
  for (; o < out; o++) dense_row(xs, ys, 8, w, in, o, bias, mode);
}

// Two or three streams (what is left of a batch after its fours): each weight load feeds them all.
DISPATCH static void dense_batch2(const float* const* xs, float* const* ys, const float* w, int in, int out, const float* bias, int mode) {
  int o = 0;
  for (; o + 4 <= out; o += 4) dense_block(xs, ys, 2, w, in, o, bias, mode);
  for (; o < out; o++) dense_row(xs, ys, 2, w, in, o, bias, mode);
}

DISPATCH static void dense_batch3(const float* const* xs, float* const* ys, const float* w, int in, int out, const float* bias, int mode) {
  int o = 0;
  for (; o + 4 <= out; o += 4) dense_block(xs, ys, 3, w, in, o, bias, mode);
  for (; o < out; o++) dense_row(xs, ys, 3, w, in, o, bias, mode);
}

static void dense_batch(const float* const* xs, float* const* ys, int n, const float* w, int in, int out, const float* bias, int mode) {
  int b = 0;
  for (; b + 8 <= n; b += 8) dense_batch8(xs + b, ys + b, w, in, out, bias, mode);
  for (; b + 4 <= n; b += 4) dense_batch4(xs + b, ys + b, w, in, out, bias, mode);
  if (n - b == 3) dense_batch3(xs + b, ys + b, w, in, out, bias, mode);
  else if (n - b == 2) dense_batch2(xs + b, ys + b, w, in, out, bias, mode);
  else if (n - b == 1) dense(xs[b], w, ys[b], in, out, bias, mode);
}

// Sum of n floats read once with the same 64-byte loads as the kernels and no other work: the
// time any kernel needs just to bring those bytes in (bench:kernels' bound for memory-bound ops).
// Half-width weights: the same dense with each weight stored as bfloat16 (the top 16 bits
// of its float32) and widened in registers, so a memory-bound layer reads half the bytes;
// arithmetic stays float32. Within each block of 32 weights of a row, 32-bit word k holds
// weight k in its low half and weight k + 16 in its high half (packed so in TypeScript): one
// load, a shift and a mask then give both 16-lane halves in place. A row's last in % 32
// weights are stored in order.
static inline v16 as_floats(w16 bits) {
  v16 v;
  memcpy(&v, &bits, sizeof v);
  return v;
}
static inline float bf16(uint16_t h) {
  const uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
static inline void bf16_block(const uint16_t* r, const float* x, v16* acc) {
  w16 words;
  memcpy(&words, r, sizeof words);
  *acc += as_floats(words << 16) * ld(x) + as_floats(words & 0xffff0000u) * ld(x + 16);
}

DISPATCH static void dense_bf16(const float* x, const uint16_t* w, float* y, int in, int out) {
  const int n32 = in & ~31;
  int o = 0;
  for (; o + 4 <= out; o += 4) {
    const uint16_t *r0 = w + (size_t)o * in, *r1 = r0 + in, *r2 = r1 + in, *r3 = r2 + in;
    v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int i = 0; i < n32; i += 32) {
      bf16_block(r0 + i, x + i, &a0);
      bf16_block(r1 + i, x + i, &a1);
      bf16_block(r2 + i, x + i, &a2);
      bf16_block(r3 + i, x + i, &a3);
    }
    float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (int i = n32; i < in; i++) {
      s0 += bf16(r0[i]) * x[i];
      s1 += bf16(r1[i]) * x[i];
      s2 += bf16(r2[i]) * x[i];
      s3 += bf16(r3[i]) * x[i];
    }
    y[o] += s0;
    y[o + 1] += s1;
    y[o + 2] += s2;
    y[o + 3] += s3;
  }
  for (; o < out; o++) {
    const uint16_t* r = w + (size_t)o * in;
    v16 a = {0};
    for (int i = 0; i < n32; i += 32) bf16_block(r + i, x + i, &a);
    float s = hsum(a);
    for (int i = n32; i < in; i++) s += bf16(r[i]) * x[i];
    y[o] += s;
  }
}

// IEEE half weights (`precision: 'fp16'`): 5 exponent bits and 10 of mantissa, so finer than
// bfloat16 for weights of ordinary size but limited to +-65504 (checked when packed). Rows
// are stored in order. Widening takes the F16C instruction (16 at a time with AVX-512, 8 with
// AVX2); bit tricks cost more than the bytes they save. Each instruction set has its own
// function, chosen at run time like the target clones; elsewhere a scalar loop widens the
// magnitude's bits moved into float32's place times 2^112 (the difference of the exponent
// biases, which also gets subnormals and zero right), then the sign.
static inline float f16(uint16_t h) {
  const uint32_t mag = (uint32_t)(h & 0x7fff) << 13, sign = (uint32_t)(h & 0x8000) << 16;
  float f;
  memcpy(&f, &mag, sizeof f);
  f *= 0x1p112f;
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  bits |= sign;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static void dense_f16_scalar(const float* x, const uint16_t* w, float* y, int in, int out) {
  for (int o = 0; o < out; o++) {
    const uint16_t* r = w + (size_t)o * in;
    float s = 0;
    for (int i = 0; i < in; i++) s += f16(r[i]) * x[i];
    y[o] += s;
  }
}

#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
#include <immintrin.h>
#define HAS_F16C_PATHS 1

// One body for both widths: VEC, its lane count, and how to zero, widen LANES halves,
// load floats, multiply-add and sum a vector.
#define DENSE_F16_SIMD(name, ISA, VEC, LANES, ZERO, WIDEN, LOADF, FMA, HSUM)                  \
  __attribute__((target(ISA))) static void name(const float* x, const uint16_t* w, float* y, int in, int out) { \
    const int nv = in & ~(LANES - 1);                                                            \
    int o = 0;                                                                                   \
    for (; o + 4 <= out; o += 4) {                                                               \
      const uint16_t *r0 = w + (size_t)o * in, *r1 = r0 + in, *r2 = r1 + in, *r3 = r2 + in;       \
      VEC a0 = ZERO(), a1 = a0, a2 = a0, a3 = a0;                                                \
      for (int i = 0; i < nv; i += LANES) {                                                      \
        const VEC xv = LOADF(x + i);                                                             \
        a0 = FMA(WIDEN(r0 + i), xv, a0);                                                         \
        a1 = FMA(WIDEN(r1 + i), xv, a1);                                                         \
        a2 = FMA(WIDEN(r2 + i), xv, a2);                                                         \
        a3 = FMA(WIDEN(r3 + i), xv, a3);                                                         \
      }                                                                                          \
      float s0 = HSUM(a0), s1 = HSUM(a1), s2 = HSUM(a2), s3 = HSUM(a3);                          \
      for (int i = nv; i < in; i++) {                                                            \
        s0 += f16(r0[i]) * x[i];                                                                 \
        s1 += f16(r1[i]) * x[i];                                                                 \
        s2 += f16(r2[i]) * x[i];                                                                 \
        s3 += f16(r3[i]) * x[i];                                                                 \
      }                                                                                          \
      y[o] += s0;                                                                                \
      y[o + 1] += s1;                                                                            \
      y[o + 2] += s2;                                                                            \
      y[o + 3] += s3;                                                                            \
    }                                                                                            \
    for (; o < out; o++) {                                                                       \
      const uint16_t* r = w + (size_t)o * in;                                                    \
      VEC a = ZERO();                                                                            \
      for (int i = 0; i < nv; i += LANES) a = FMA(WIDEN(r + i), LOADF(x + i), a);                \
      float s = HSUM(a);                                                                         \
      for (int i = nv; i < in; i++) s += f16(r[i]) * x[i];                                       \
      y[o] += s;                                                                                 \
    }                                                                                            \
  }

#define WIDEN16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(p)))
#define WIDEN8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(p)))

__attribute__((target("avx2,fma,f16c"))) static float hsum8(__m256 v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}

DENSE_F16_SIMD(dense_f16_avx512, "avx512f", __m512, 16, _mm512_setzero_ps, WIDEN16, _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_reduce_add_ps)
DENSE_F16_SIMD(dense_f16_avx2, "avx2,fma,f16c", __m256, 8, _mm256_setzero_ps, WIDEN8, _mm256_loadu_ps, _mm256_fmadd_ps, hsum8)
#endif

static void dense_f16(const float* x, const uint16_t* w, float* y, int in, int out) {
#ifdef HAS_F16C_PATHS
  if (__builtin_cpu_supports("avx512f")) return dense_f16_avx512(x, w, y, in, out);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return dense_f16_avx2(x, w, y, in, out);
#endif
  dense_f16_scalar(x, w, y, in, out);
}

DISPATCH static float read_once(const float* p, size_t n) {
  v16 a = {0}, b = {0}, c = {0}, d = {0};
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a += ld(p + i);
    b += ld(p + i + 16);
    c += ld(p + i + 32);
    d += ld(p + i + 48);
  }
  float s = hsum(a + b + c + d);
  for (; i < n; i++) s += p[i];
  return s;
}

// Copies n floats from src (any memory) to dst and returns the index of the first NaN or
// infinity among them, or -1: a frame enters the arena in one pass instead of a copy (V8
// copies into shared memory ~4x slower than memcpy) and a separate scan. Each vector is
// checked in registers on its way through, as the running unsigned maximum of its magnitude
// bits (a non-finite float's are at least 0x7f800000); only a frame that has one is read
// again, to find the first.
typedef uint32_t u16v __attribute__((vector_size(64), aligned(4)));
static inline __attribute__((always_inline)) u16v umax(u16v a, u16v b) {
  const u16v m = (u16v)(a > b);
  return (a & m) | (b & ~m);
}
DISPATCH static long copy_scan(float* dst, const float* src, size_t n) {
  const u16v mag = (u16v){} + 0x7fffffffu;
  u16v m0 = {0}, m1 = {0};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    u16v b0, b1;
    memcpy(&b0, src + i, sizeof b0);
    memcpy(&b1, src + i + 16, sizeof b1);
    memcpy(dst + i, &b0, sizeof b0);
    memcpy(dst + i + 16, &b1, sizeof b1);
    m0 = umax(m0, b0 & mag);
    m1 = umax(m1, b1 & mag);
  }
  memcpy(dst + i, src + i, (n - i) * sizeof(float));
  const u16v m = umax(m0, m1);
  uint32_t top = 0;
  for (int l = 0; l < 16; l++) top = m[l] > top ? m[l] : top;
  for (; i < n; i++) {
    uint32_t b;
    memcpy(&b, dst + i, sizeof b);
    if ((b & 0x7fffffffu) > top) top = b & 0x7fffffffu;
  }
  if (top < 0x7f800000u) return -1;
  for (i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, dst + i, sizeof b);
    if ((b & 0x7f800000u) == 0x7f800000u) return (long)i;
  }
  return -1;
}

// dst[c*R + r] = src[r*Cn + c]: a transpose of an R x Cn matrix, in 16x16 blocks held in
// registers (four stages, each swapping the off-diagonal halves of every 2s x 2s block, s = 8,
// 4, 2, 1), so each 64-byte output line is written whole (the WebAssembly kernel's 4x4 blocks
// write it in four pieces): CHW frames into HWC states, every frame of an image net.
#define SWAP8(x, y) SWAP_PAIR(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31)
#define SWAP4(x, y) SWAP_PAIR(x, y, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31)
#define SWAP2(x, y) SWAP_PAIR(x, y, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31)
#define SWAP1(x, y) SWAP_PAIR(x, y, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31)
#define SWAP_PAIR(X, Y, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, \
                  b15)                                                                                                                                 \
  do {                                                                                                                                                 \
    const v16 x_ = X, y_ = Y;                                                                                                                       \
    X = __builtin_shufflevector(x_, y_, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);                                    \
    Y = __builtin_shufflevector(x_, y_, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15);                                    \
  } while (0)

// With `scan`, also the running unsigned maximum of every value's magnitude bits (as
// copy_scan keeps it), so a frame from outside the arena is checked on its way in; returns
// that maximum (0 without `scan`). Inlined into each caller with `scan` a constant.
static inline __attribute__((always_inline)) uint32_t transpose_blocks(const float* src, float* dst, int R, int Cn, const int scan) {
  const int r16 = R & ~15, c16 = Cn & ~15;
  const u16v mag = (u16v){} + 0x7fffffffu;
  u16v m = {0};
  uint32_t top = 0;
  for (int r = 0; r < r16; r += 16) {
    for (int c = 0; c < c16; c += 16) {
      const float* p = src + (size_t)r * Cn + c;
      v16 r0 = ld(p), r1 = ld(p + Cn), r2 = ld(p + 2 * Cn), r3 = ld(p + 3 * Cn), r4 = ld(p + 4 * Cn), r5 = ld(p + 5 * Cn), r6 = ld(p + 6 * Cn), r7 = ld(p + 7 * Cn);
      p += 8 * (size_t)Cn;
      v16 r8 = ld(p), r9 = ld(p + Cn), r10 = ld(p + 2 * Cn), r11 = ld(p + 3 * Cn), r12 = ld(p + 4 * Cn), r13 = ld(p + 5 * Cn), r14 = ld(p + 6 * Cn), r15 = ld(p + 7 * Cn);
      if (scan) {
        // Magnitudes first: with the sign bit in, a negative value would outrank a NaN.
#define MAG(x) ((u16v)(x) & mag)
        const u16v a = umax(umax(umax(MAG(r0), MAG(r1)), umax(MAG(r2), MAG(r3))), umax(umax(MAG(r4), MAG(r5)), umax(MAG(r6), MAG(r7))));
        const u16v b = umax(umax(umax(MAG(r8), MAG(r9)), umax(MAG(r10), MAG(r11))), umax(umax(MAG(r12), MAG(r13)), umax(MAG(r14), MAG(r15))));
#undef MAG
        m = umax(m, umax(a, b));
      }
      SWAP8(r0, r8); SWAP8(r1, r9); SWAP8(r2, r10); SWAP8(r3, r11); SWAP8(r4, r12); SWAP8(r5, r13); SWAP8(r6, r14); SWAP8(r7, r15);
      SWAP4(r0, r4); SWAP4(r1, r5); SWAP4(r2, r6); SWAP4(r3, r7); SWAP4(r8, r12); SWAP4(r9, r13); SWAP4(r10, r14); SWAP4(r11, r15);
      SWAP2(r0, r2); SWAP2(r1, r3); SWAP2(r4, r6); SWAP2(r5, r7); SWAP2(r8, r10); SWAP2(r9, r11); SWAP2(r12, r14); SWAP2(r13, r15);
      SWAP1(r0, r1); SWAP1(r2, r3); SWAP1(r4, r5); SWAP1(r6, r7); SWAP1(r8, r9); SWAP1(r10, r11); SWAP1(r12, r13); SWAP1(r14, r15);
      float* q = dst + (size_t)c * R + r;
      st(q, r0); st(q + R, r1); st(q + 2 * R, r2); st(q + 3 * R, r3); st(q + 4 * R, r4); st(q + 5 * R, r5); st(q + 6 * R, r6); st(q + 7 * R, r7);
      q += 8 * (size_t)R;
      st(q, r8); st(q + R, r9); st(q + 2 * R, r10); st(q + 3 * R, r11); st(q + 4 * R, r12); st(q + 5 * R, r13); st(q + 6 * R, r14); st(q + 7 * R, r15);
    }
    for (int c = c16; c < Cn; c++)
      for (int i = 0; i < 16; i++) dst[(size_t)c * R + r + i] = src[(size_t)(r + i) * Cn + c];
  }
  // Rows past the last block (all of them for fewer than 16, say an RGB image's 3 planes):
  // along the source rows, each written to its own column.
  for (int c = 0; c < Cn; c++)
    for (int r = r16; r < R; r++) dst[(size_t)c * R + r] = src[(size_t)r * Cn + c];
  if (!scan) return 0;
  // The values outside the blocks, read again: the rows past the last block are one run of
  // the source (all of it for an RGB image's 3 planes), scanned in vectors; then the columns
  // past the last block of the other rows (fewer than 16 a row).
  const float* tail = src + (size_t)r16 * Cn;
  const size_t tailN = (size_t)(R - r16) * Cn;
  size_t i = 0;
  for (; i + 16 <= tailN; i += 16) {
    u16v b;
    memcpy(&b, tail + i, sizeof b);
    m = umax(m, b & mag);
  }
  for (; i < tailN; i++) {
    uint32_t b;
    memcpy(&b, tail + i, sizeof b);
    if ((b & 0x7fffffffu) > top) top = b & 0x7fffffffu;
  }
  for (int r = 0; r < r16; r++)
    for (int c = c16; c < Cn; c++) {
      uint32_t b;
      memcpy(&b, src + (size_t)r * Cn + c, sizeof b);
      if ((b & 0x7fffffffu) > top) top = b & 0x7fffffffu;
    }
  for (int l = 0; l < 16; l++) top = m[l] > top ? m[l] : top;
  return top;
}

DISPATCH static void transpose(const float* src, float* dst, int R, int Cn) { transpose_blocks(src, dst, R, Cn, 0); }

// transpose, checked: the first non-finite value's index in src (row-major), or -1.
DISPATCH static long transpose_scan(const float* src, float* dst, int R, int Cn) {
  if (transpose_blocks(src, dst, R, Cn, 1) < 0x7f800000u) return -1;
  const size_t n = (size_t)R * Cn;
  for (size_t i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, src + i, sizeof b);
    if ((b & 0x7f800000u) == 0x7f800000u) return (long)i;
  }
  return -1;
}

// Output pixels whose windows lie inside the input (the caller pads), one flat loop over the
// taps per register tile. Each function is called with a constant pixel count, so each size
// is compiled on its own with the tile in registers. Eight accumulators in flight keep both
// FMA pipes busy: 4 pixels x 32 channels, or 8 pixels x 16 channels.

// Channels [0, end32) in blocks of 32, n (1..4) pixels.
static inline __attribute__((always_inline)) void tile32(const int n, const float* x0, size_t step, const float* w, const int32_t* taps, int T,
                                                          float* y0, const float* b0, int mode, int outC, int outCp, int end32) {
  for (int oc = 0; oc < end32; oc += 32) {
    v16 a[4][2] = {{{0}, {0}}, {{0}, {0}}, {{0}, {0}}, {{0}, {0}}};
    const float* wp = w + oc;
    for (int t = 0; t < T; t++, wp += outCp) {
      const int32_t off = taps[t] >> 2;
      const v16 w0 = ld(wp), w1 = ld(wp + 16);
#pragma GCC unroll 4
      for (int p = 0; p < n; p++) {
        const v16 xv = splat(x0[p * step + off]);
        a[p][0] += w0 * xv;
        a[p][1] += w1 * xv;
      }
    }
    for (int p = 0; p < n; p++) {
      const size_t at = (size_t)p * outC + oc;
      float* yo = y0 + at;
      const float* bo = b0 == NULL ? NULL : b0 + at;
      if (oc + 32 <= outC) {
        finish16(yo, bo, a[p][0], mode);
        finish16(yo + 16, bo == NULL ? NULL : bo + 16, a[p][1], mode);
      } else {
        for (int i = 0; i < outC - oc && i < 32; i++) yo[i] = finish(yo[i], i < 16 ? a[p][0][i] : a[p][1][i - 16], bo == NULL ? 0.0f : bo[i], mode);
      }
    }
  }
}

// Channels [oc0, outC) in blocks of 16 (at most one after the 32-blocks, or all of a
// 16-channel layer), n (1..8) pixels. A last block of fewer than 16 channels (24 = 16 + 8 in
// MobileNets) still runs 16 lanes wide: its extra lanes read the next weight row (or the tap
// offsets after the last; the arena ends with a spare line) and are never stored. Doing those
// channels one by one made a 1x1 conv to 24 channels run at a tenth of the speed.
static inline __attribute__((always_inline)) void tile16(const int n, const float* x0, size_t step, const float* w, const int32_t* taps, int T,
                                                          float* y0, const float* b0, int mode, int outC, int outCp, int oc0) {
  for (int oc = oc0; oc < outC; oc += 16) {
    v16 a[8];
    for (int p = 0; p < 8; p++) a[p] = (v16){0};
    const float* wp = w + oc;
    for (int t = 0; t < T; t++, wp += outCp) {
      const int32_t off = taps[t] >> 2;
      const v16 wv = ld(wp);
#pragma GCC unroll 8
      for (int p = 0; p < n; p++) a[p] += wv * splat(x0[p * step + off]);
    }
    const int m = outC - oc < 16 ? outC - oc : 16;
    for (int p = 0; p < n; p++) {
      const size_t at = (size_t)p * outC + oc;
      const float* bo = b0 == NULL ? NULL : b0 + at;
      if (m == 16) finish16(y0 + at, bo, a[p], mode);
      else
        for (int i = 0; i < m; i++) y0[at + i] = finish(y0[at + i], a[p][i], bo == NULL ? 0.0f : bo[i], mode);
    }
  }
}

#define TILE16_CASE(N) \
  case N: tile16(N, x0, step, w, taps, T, y0, b0, mode, outC, outCp, end32); break;

// n (1..8) consecutive output pixels of a row, every output channel, written by `mode` with
// the bias b0 (at y0's place in the node's bias; NULL but for modes 1 to 4): finish16.
DISPATCH static void conv_run(int n, const float* x0, size_t step, const float* w, const int32_t* taps, int T, float* y0, const float* b0, int mode, int outC, int outCp) {
  const int end32 = outCp & ~31;
  if (end32 > 0) {
    for (int p0 = 0; p0 < n; p0 += 4) {
      const float* xp = x0 + (size_t)p0 * step;
      float* yp = y0 + (size_t)p0 * outC;
      const float* bp = b0 == NULL ? NULL : b0 + (size_t)p0 * outC;
      switch (n - p0 < 4 ? n - p0 : 4) {
        case 4: tile32(4, xp, step, w, taps, T, yp, bp, mode, outC, outCp, end32); break;
        case 3: tile32(3, xp, step, w, taps, T, yp, bp, mode, outC, outCp, end32); break;
        case 2: tile32(2, xp, step, w, taps, T, yp, bp, mode, outC, outCp, end32); break;
        default: tile32(1, xp, step, w, taps, T, yp, bp, mode, outC, outCp, end32); break;
      }
    }
  }
  if (end32 >= outC) return;
  switch (n) {
    TILE16_CASE(8)
    TILE16_CASE(7)
    TILE16_CASE(6)
    TILE16_CASE(5)
    TILE16_CASE(4)
    TILE16_CASE(3)
    TILE16_CASE(2)
    default: tile16(1, x0, step, w, taps, T, y0, b0, mode, outC, outCp, end32); break;
  }
}

// Per-thread scratch (each worker thread computes on its own): a zero-bordered copy of a
// conv input and its tap offsets, grown as needed and freed when the thread exits (worker
// threads come and go with every runtime).
typedef struct {
  float* buf;
  size_t cap;
  int32_t* taps;
  size_t taps_cap;
  float* wino;
  size_t wino_cap;
  // The layout buf's zero border and taps were last made for (the streams of one layer in an
  // engine frame come one after another: only the first lays them out).
  int layout[11];
} Scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void* p) {
  Scratch* s = p;
  free(s->buf);
  free(s->taps);
  free(s->wino);
  free(s);
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static Scratch* scratch(void) {
  pthread_once(&scratch_once, scratch_init);
  Scratch* s = pthread_getspecific(scratch_key);
  if (s == NULL && (s = calloc(1, sizeof *s)) != NULL && pthread_setspecific(scratch_key, s) != 0) {
    free(s);
    s = NULL;
  }
  return s;
}

static int grow(void** p, size_t* cap, size_t bytes) {
  if (bytes <= *cap) return 1;
  void* q = realloc(*p, bytes);
  if (q == NULL) return 0;
  *p = q;
  *cap = bytes;
  return 1;
}

// Every output pixel goes through the register tiles, 8 at a time. With padding, windows
// that leave the input would need clipped loops one pixel at a time (2-3x slower per pixel,
// and most pixels of a small strided layer), so the input is first copied into a
// zero-bordered buffer where every window is inside. Adding the border's exact zeros leaves
// every sum as it was. Each output is written by `mode` with `bias` (finish16). Returns 0,
// or -1 when that buffer cannot be allocated.
static int conv2d(const float* x, const float* w, const int32_t* taps, float* y, const float* bias, int mode, int inC, int inH, int inW, int outC, int outH,
                  int outW, int kh, int kw, int sh, int sw, int dh, int dw, int padT, int padL) {
  const int outCp = (outC + 3) & ~3;
  const int T = kh * kw * inC;
  const int padB = (outH - 1) * sh + (kh - 1) * dh + 1 - inH - padT;
  const int padR = (outW - 1) * sw + (kw - 1) * dw + 1 - inW - padL;
  if (padT == 0 && padL == 0 && padB <= 0 && padR <= 0) {
    for (int oy = 0; oy < outH; oy++)
      for (int ox = 0; ox < outW; ox += 8)
        conv_run(outW - ox < 8 ? outW - ox : 8, x + (size_t)(oy * sh * inW + ox * sw) * inC, (size_t)sw * inC, w, taps, T,
                 y + (size_t)(oy * outW + ox) * outC, bias == NULL ? NULL : bias + (size_t)(oy * outW + ox) * outC, mode, outC, outCp);
    return 0;
  }
  const int top = padT, left = padL;
  const int Hp = top + inH + (padB > 0 ? padB : 0), Wp = left + inW + (padR > 0 ? padR : 0);
  const size_t row = (size_t)Wp * inC;
  Scratch* sc = scratch();
  if (sc == NULL || !grow((void**)&sc->buf, &sc->cap, (size_t)Hp * row * sizeof(float)) || !grow((void**)&sc->taps, &sc->taps_cap, (size_t)T * sizeof(int32_t)))
    return -1;
  float* const pad_buf = sc->buf;
  int32_t* const pad_taps = sc->taps;
  const int layout[11] = {Hp, Wp, inC, top, left, inH, inW, kh, kw, dh, dw};
  if (memcmp(layout, sc->layout, sizeof layout) != 0) {
    // A new layout: zero the border, lay out the taps (the interior is overwritten below).
    memset(pad_buf, 0, (size_t)Hp * row * sizeof(float));
    for (int ky = 0, t = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++)
        for (int ic = 0; ic < inC; ic++, t++) pad_taps[t] = (int32_t)((((size_t)ky * dh * Wp + (size_t)kx * dw) * inC + ic) * 4);
    memcpy(sc->layout, layout, sizeof layout);
  }
  for (int iy = 0; iy < inH; iy++) memcpy(pad_buf + (size_t)(top + iy) * row + (size_t)left * inC, x + (size_t)iy * inW * inC, (size_t)inW * inC * sizeof(float));
  for (int oy = 0; oy < outH; oy++)
    for (int ox = 0; ox < outW; ox += 8)
      conv_run(outW - ox < 8 ? outW - ox : 8, pad_buf + (size_t)(oy * sh * Wp + ox * sw) * inC, (size_t)sw * inC, w, pad_taps, T,
               y + (size_t)(oy * outW + ox) * outC, bias == NULL ? NULL : bias + (size_t)(oy * outW + ox) * outC, mode, outC, outCp);
  return 0;
}

// Winograd F(2x2, 3x3): a 3x3, stride-1 convolution over HWC computed 2x2 outputs at a time
// from 4x4 input tiles with 16 multiplications per (input, output) channel pair where direct
// convolution needs 36: V = B^T d B per tile and channel, M[xi] = sum_ic V[xi][ic] U[xi][ic]
// per output channel (U = G g G^T, packed once by TypeScript as [16][inC][outC]), Y = A^T M A,
// accumulated into y. Channels are vectorised 16 at a time (inC and outC multiples of 16);
// WT tiles share each load of U. Padding is read as zeros where a tile leaves the input.
#define WT 6

DISPATCH static void wino_input(const float* x, float* V, int inC, int inH, int inW, int iy0, int ix0) {
  for (int c = 0; c < inC; c += 16) {
    v16 d[4][4];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) {
        const int iy = iy0 + i, ix = ix0 + j;
        d[i][j] = (iy >= 0 && iy < inH && ix >= 0 && ix < inW) ? ld(x + ((size_t)iy * inW + ix) * inC + c) : (v16){0};
      }
    v16 t[4][4];
    for (int j = 0; j < 4; j++) {
      t[0][j] = d[0][j] - d[2][j];
      t[1][j] = d[1][j] + d[2][j];
      t[2][j] = d[2][j] - d[1][j];
      t[3][j] = d[1][j] - d[3][j];
    }
    for (int i = 0; i < 4; i++) {
      const v16 v0 = t[i][0] - t[i][2], v1 = t[i][1] + t[i][2], v2 = t[i][2] - t[i][1], v3 = t[i][1] - t[i][3];
      memcpy(V + (size_t)(i * 4 + 0) * inC + c, &v0, sizeof v0);
      memcpy(V + (size_t)(i * 4 + 1) * inC + c, &v1, sizeof v1);
      memcpy(V + (size_t)(i * 4 + 2) * inC + c, &v2, sizeof v2);
      memcpy(V + (size_t)(i * 4 + 3) * inC + c, &v3, sizeof v3);
    }
  }
}

// M[t][xi][oc..oc+31] = sum_ic V[t][xi][ic] U[xi][ic][oc..oc+31] for the WT tiles: a register
// block of WT tiles x 32 output channels, so each broadcast input value feeds two FMAs and
// each weight load WT of them.
// nx: points per tile (16 for F(2x2,3x3), 36 for F(4x4,3x3)).
DISPATCH static void wino_multiply(const float* V, const float* u, v16* M, int nx, int inC, int outC, int oc) {
  for (int xi = 0; xi < nx; xi++) {
    v16 lo[WT], hi[WT];
    for (int t = 0; t < WT; t++) lo[t] = hi[t] = (v16){0};
    const float* ux = u + (size_t)xi * inC * outC + oc;
    const float* vx = V + (size_t)xi * inC;
    for (int ic = 0; ic < inC; ic++) {
      const v16 w0 = ld(ux + (size_t)ic * outC), w1 = ld(ux + (size_t)ic * outC + 16);
      for (int t = 0; t < WT; t++) {
        const v16 v = splat(vx[(size_t)t * nx * inC + ic]);
        lo[t] += v * w0;
        hi[t] += v * w1;
      }
    }
    for (int t = 0; t < WT; t++) {
      M[(t * nx + xi) * 2] = lo[t];
      M[(t * nx + xi) * 2 + 1] = hi[t];
    }
  }
}

// m: the tile's 16 values of M for 16 output channels, `stride` vectors apart.
// The same for 16 output channels (one vector): each broadcast input value feeds one FMA.
DISPATCH static void wino_multiply16(const float* V, const float* u, v16* M, int nx, int inC, int outC, int oc) {
  for (int xi = 0; xi < nx; xi++) {
    v16 acc[WT];
    for (int t = 0; t < WT; t++) acc[t] = (v16){0};
    const float* ux = u + (size_t)xi * inC * outC + oc;
    const float* vx = V + (size_t)xi * inC;
    for (int ic = 0; ic < inC; ic++) {
      const v16 w = ld(ux + (size_t)ic * outC);
      for (int t = 0; t < WT; t++) acc[t] += splat(vx[(size_t)t * nx * inC + ic]) * w;
    }
    for (int t = 0; t < WT; t++) M[(t * nx + xi) * 2] = acc[t];
  }
}

// mode 0 adds the tile into y (one edge of several); 1 and 2 write y = act(tile + bias) for
// a node whose only input this convolution is (1: linear, 2: relu), in place of the separate
// zeroing and activation passes: the same arithmetic, (0 + sum) + bias, in one pass. For a
// node of several inputs, 5 writes the first edge's tile (in place of zeroing, then adding)
// and 3 and 4 add the last edge's tile and apply bias and activation (3: linear, 4: relu), in
// place of the activation pass: (y + tile) + bias, as the separate passes round it.
DISPATCH static void wino_output(const v16* m, int stride, float* y, const float* bias, int mode, int outC, int oc, int outH, int outW, int oy, int ox) {
  v16 t[2][4];
  for (int j = 0; j < 4; j++) {
    t[0][j] = m[(0 * 4 + j) * stride] + m[(1 * 4 + j) * stride] + m[(2 * 4 + j) * stride];
    t[1][j] = m[(1 * 4 + j) * stride] - m[(2 * 4 + j) * stride] - m[(3 * 4 + j) * stride];
  }
  for (int i = 0; i < 2; i++) {
    const v16 r[2] = {t[i][0] + t[i][1] + t[i][2], t[i][1] - t[i][2] - t[i][3]};
    for (int j = 0; j < 2; j++) {
      if (oy + i >= outH || ox + j >= outW) continue;
      const size_t at = ((size_t)(oy + i) * outW + ox + j) * outC + oc;
      finish16(y + at, bias == NULL ? NULL : bias + at, r[j], mode);
    }
  }
}


// Winograd F(4x4, 3x3): 4x4 outputs from 6x6 input tiles, 36 multiplications per (input,
// output) channel pair where F(2x2,3x3) needs 64 for the same outputs and direct convolution
// 144 (Lavin & Gray's points 0, +-1, +-2, inf). The transforms cost more adds and lose a
// little more precision (bench:kernels and the kernel tests say how much); the caller chooses
// it for larger maps. Same layout and modes as winograd3x3; U is packed [36][inC][outC].

// The 1-D input transform B^T over 6 values (rows, then columns).
#define WINO4_BT(d0, d1, d2, d3, d4, d5, r)     \
  do {                                          \
    const v16 four = splat(4.0f), five = splat(5.0f), two = splat(2.0f); \
    (r)[0] = four * (d0) - five * (d2) + (d4);  \
    (r)[1] = (d3) + (d4) - four * ((d1) + (d2)); \
    (r)[2] = four * ((d1) - (d2)) + (d4) - (d3); \
    (r)[3] = two * ((d3) - (d1)) + (d4) - (d2); \
    (r)[4] = two * ((d1) - (d3)) + (d4) - (d2); \
    (r)[5] = four * (d1) - five * (d3) + (d5);  \
  } while (0)

DISPATCH static void wino4_input(const float* x, float* V, int inC, int inH, int inW, int iy0, int ix0) {
  for (int c = 0; c < inC; c += 16) {
    v16 t[6][6];
    for (int j = 0; j < 6; j++) {
      v16 d[6];
      const int ix = ix0 + j;
      for (int i = 0; i < 6; i++) {
        const int iy = iy0 + i;
        d[i] = (iy >= 0 && iy < inH && ix >= 0 && ix < inW) ? ld(x + ((size_t)iy * inW + ix) * inC + c) : (v16){0};
      }
      v16 r[6];
      WINO4_BT(d[0], d[1], d[2], d[3], d[4], d[5], r);
      for (int i = 0; i < 6; i++) t[i][j] = r[i];
    }
    for (int i = 0; i < 6; i++) {
      v16 r[6];
      WINO4_BT(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], r);
      for (int j = 0; j < 6; j++) memcpy(V + (size_t)(i * 6 + j) * inC + c, &r[j], sizeof r[j]);
    }
  }
}

// The 1-D output transform A^T over 6 values into 4.
#define WINO4_AT(m0, m1, m2, m3, m4, m5, o)            \
  do {                                                 \
    const v16 a = (m1) + (m2), b = (m1) - (m2), c2 = (m3) + (m4), d2 = (m3) - (m4); \
    (o)[0] = (m0) + a + c2;                            \
    (o)[1] = b + splat(2.0f) * d2;                     \
    (o)[2] = a + splat(4.0f) * c2;                     \
    (o)[3] = b + splat(8.0f) * d2 + (m5);              \
  } while (0)

DISPATCH static void wino4_output(const v16* m, int stride, float* y, const float* bias, int mode, int outC, int oc, int outH, int outW, int oy, int ox) {
  v16 t[4][6];
  for (int j = 0; j < 6; j++) {
    v16 o[4];
    WINO4_AT(m[(0 * 6 + j) * stride], m[(1 * 6 + j) * stride], m[(2 * 6 + j) * stride], m[(3 * 6 + j) * stride], m[(4 * 6 + j) * stride], m[(5 * 6 + j) * stride], o);
    for (int i = 0; i < 4; i++) t[i][j] = o[i];
  }
  for (int i = 0; i < 4; i++) {
    if (oy + i >= outH) break;
    v16 r[4];
    WINO4_AT(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], r);
    for (int j = 0; j < 4; j++) {
      if (ox + j >= outW) break;
      const size_t at = ((size_t)(oy + i) * outW + ox + j) * outC + oc;
      finish16(y + at, bias == NULL ? NULL : bias + at, r[j], mode);
    }
  }
}

// The driver of both variants (`tile` 2 or 4) over n streams of one engine frame: their
// tiles form one list, grouped WT at a time, so a small map's few tiles share each load of U
// with other streams' tiles instead of with repeats. Every tile's sums are formed the same
// way whatever its group, so each stream's output equals a call for that stream alone, bit
// for bit. `bias` (their node's, the same for every stream) is read only by modes 1 to 4.
static int winograd_streams(const float* const* xs, float* const* ys, const float* bias, int n, const float* u, int mode, int inC, int inH,
                            int inW, int outC, int outH, int outW, int padT, int padL, int tile) {
  const int nx = tile == 4 ? 36 : 16;
  const int tilesW = (outW + tile - 1) / tile, per = ((outH + tile - 1) / tile) * tilesW, tiles = per * n;
  Scratch* sc = scratch();
  const size_t vFloats = (size_t)WT * nx * inC;
  if (sc == NULL || !grow((void**)&sc->wino, &sc->wino_cap, vFloats * sizeof(float) + (size_t)WT * 2 * nx * sizeof(v16) + 64)) return -1;
  float* const V = sc->wino;
  v16* const M = (v16*)(((uintptr_t)(V + vFloats) + 63) & ~(uintptr_t)63);
  for (int t0 = 0; t0 < tiles; t0 += WT) {
    for (int t = 0; t < WT; t++) {
      // A short last group repeats a tile; its outputs are not written twice (below).
      const int gt = t0 + t < tiles ? t0 + t : tiles - 1, s = gt / per, ti = gt % per;
      const int iy0 = tile * (ti / tilesW) - padT, ix0 = tile * (ti % tilesW) - padL;
      if (tile == 4) wino4_input(xs[s], V + (size_t)t * nx * inC, inC, inH, inW, iy0, ix0);
      else wino_input(xs[s], V + (size_t)t * nx * inC, inC, inH, inW, iy0, ix0);
    }
    for (int oc = 0; oc < outC; oc += 32) {
      // A last block of 16 channels (outC an odd multiple of 16) takes the one-vector product.
      const int two = outC - oc >= 32;
      if (two) wino_multiply(V, u, M, nx, inC, outC, oc);
      else wino_multiply16(V, u, M, nx, inC, outC, oc);
      for (int t = 0; t < WT && t0 + t < tiles; t++) {
        const int s = (t0 + t) / per, ti = (t0 + t) % per;
        const int oy = tile * (ti / tilesW), ox = tile * (ti % tilesW);
        const v16* m = M + (size_t)t * 2 * nx;
        if (tile == 4) {
          wino4_output(m, 2, ys[s], bias, mode, outC, oc, outH, outW, oy, ox);
          if (two) wino4_output(m + 1, 2, ys[s], bias, mode, outC, oc + 16, outH, outW, oy, ox);
        } else {
          wino_output(m, 2, ys[s], bias, mode, outC, oc, outH, outW, oy, ox);
          if (two) wino_output(m + 1, 2, ys[s], bias, mode, outC, oc + 16, outH, outW, oy, ox);
        }
      }
    }
  }
  return 0;
}

// Depthwise convolution over HWC (one input channel per group, channel multiplier M),
// accumulated into y: y[oy,ox,c*M+j] += sum w[ky,kx,c*M+j] * x[iy,ix,c]. w is packed
// [kh][kw][C*M]. With M = 1 each tap is one multiply-add over 16 channels (two vectors in
// flight); kernel rows and columns outside the input are skipped per pixel.
DISPATCH static void depthwise(const float* x, const float* w, float* y, int C, int M, int inH, int inW, int outH, int outW,
                      int kh, int kw, int sh, int sw, int dh, int dw, int padT, int padL) {
  const int outC = C * M;
  for (int oy = 0; oy < outH; oy++) {
    const int iy0 = oy * sh - padT;
    int ky0 = 0, ky1 = kh;
    while (ky0 < kh && iy0 + ky0 * dh < 0) ky0++;
    while (ky1 > ky0 && iy0 + (ky1 - 1) * dh >= inH) ky1--;
    for (int ox = 0; ox < outW; ox++) {
      const int ix0 = ox * sw - padL;
      int kx0 = 0, kx1 = kw;
      while (kx0 < kw && ix0 + kx0 * dw < 0) kx0++;
      while (kx1 > kx0 && ix0 + (kx1 - 1) * dw >= inW) kx1--;
      float* yp = y + (size_t)(oy * outW + ox) * outC;
      if (M == 1) {
        int c = 0;
        for (; c + 32 <= C; c += 32) {
          v16 a0 = {0}, a1 = {0};
          for (int ky = ky0; ky < ky1; ky++) {
            const float* xr = x + ((size_t)(iy0 + ky * dh) * inW + ix0) * C + c;
            const float* wr = w + (size_t)ky * kw * outC + c;
            for (int kx = kx0; kx < kx1; kx++) {
              a0 += ld(xr + (size_t)kx * dw * C) * ld(wr + (size_t)kx * outC);
              a1 += ld(xr + (size_t)kx * dw * C + 16) * ld(wr + (size_t)kx * outC + 16);
            }
          }
          add_to(yp + c, a0);
          add_to(yp + c + 16, a1);
        }
        for (; c + 16 <= C; c += 16) {
          v16 a0 = {0};
          for (int ky = ky0; ky < ky1; ky++) {
            const float* xr = x + ((size_t)(iy0 + ky * dh) * inW + ix0) * C + c;
            const float* wr = w + (size_t)ky * kw * outC + c;
            for (int kx = kx0; kx < kx1; kx++) a0 += ld(xr + (size_t)kx * dw * C) * ld(wr + (size_t)kx * outC);
          }
          add_to(yp + c, a0);
        }
        for (; c < C; c++) {
          float acc = 0;
          for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) acc += x[((size_t)(iy0 + ky * dh) * inW + ix0 + kx * dw) * C + c] * w[((size_t)ky * kw + kx) * outC + c];
          yp[c] += acc;
        }
      } else {
        for (int c = 0; c < C; c++)
          for (int j = 0; j < M; j++) {
            const int oc = c * M + j;
            float acc = 0;
            for (int ky = ky0; ky < ky1; ky++)
              for (int kx = kx0; kx < kx1; kx++) acc += x[((size_t)(iy0 + ky * dh) * inW + ix0 + kx * dw) * C + c] * w[((size_t)ky * kw + kx) * outC + oc];
            yp[oc] += acc;
          }
      }
    }
  }
}

// The larger of two floats, NaN where either is NaN (as Math.max, the reference pool's, and
// WebAssembly's max). Which zero of -0 and +0 it gives is never seen: every mode adds the
// window's value to a sum or a zero.
static inline __attribute__((always_inline)) float max_nan(float a, float b) { return a > b || a != a ? a : b; }

// max_nan in every lane.
static inline __attribute__((always_inline)) v16 max16(v16 a, v16 b) {
  w16 ab, bb;
  memcpy(&ab, &a, sizeof ab);
  memcpy(&bb, &b, sizeof bb);
  const w16 pick_a = (w16)(a > b) | (w16)(a != a);
  const w16 r = (ab & pick_a) | (bb & ~pick_a);
  v16 v;
  memcpy(&v, &r, sizeof v);
  return v;
}

// One output pixel of a pool over HWC, each channel's window value (max, or sum times 1/count
// rounded to float, as the WebAssembly kernel does) written by `mode` (finish16, finish).
// Always inlined with `kind` a constant, so neither loop tests it per element.
static inline __attribute__((always_inline)) void pool_pixel(const float* x, float* yp, const float* bp, int mode, const int kind, int C, int inW, int ya, int yb, int xa, int xb) {
  const float scale = 1.0f / (float)((yb - ya) * (xb - xa));
  int c = 0;
  for (; c + 16 <= C; c += 16) {
    v16 acc = splat(kind == 0 ? -__builtin_inff() : 0.0f);
    for (int iy = ya; iy < yb; iy++)
      for (int ix = xa; ix < xb; ix++) {
        const v16 v = ld(x + ((size_t)iy * inW + ix) * C + c);
        acc = kind == 0 ? max16(acc, v) : acc + v;
      }
    finish16(yp + c, bp == NULL ? NULL : bp + c, kind == 0 ? acc : acc * splat(scale), mode);
  }
  for (; c < C; c++) {
    float acc = kind == 0 ? -__builtin_inff() : 0.0f;
    for (int iy = ya; iy < yb; iy++)
      for (int ix = xa; ix < xb; ix++) {
        const float v = x[((size_t)iy * inW + ix) * C + c];
        acc = kind == 0 ? max_nan(acc, v) : acc + v;
      }
    yp[c] = finish(yp[c], kind == 0 ? acc : acc * scale, bp == NULL ? 0.0f : bp[c], mode);
  }
}

// Max (kind 0) or average (kind 1) pooling over HWC, vectorised over channels; window
// positions outside the input are skipped (an average divides by the real ones). Each
// output written by `mode` with its node's `bias` (finish16): added (0), or a node's only,
// first or last edge, in place of the zeroing and activation passes.
DISPATCH static void pool(const float* x, float* y, const float* bias, int mode, int kind, int C, int inH, int inW, int outH, int outW, int kh, int kw, int sh, int sw, int padT,
                          int padL) {
  for (int oy = 0; oy < outH; oy++) {
    const int iy0 = oy * sh - padT;
    const int ya = iy0 < 0 ? 0 : iy0, yb = iy0 + kh < inH ? iy0 + kh : inH;
    for (int ox = 0; ox < outW; ox++) {
      const int ix0 = ox * sw - padL;
      const int xa = ix0 < 0 ? 0 : ix0, xb = ix0 + kw < inW ? ix0 + kw : inW;
      const size_t at = ((size_t)oy * outW + ox) * C;
      if (kind == 0)
        pool_pixel(x, y + at, bias == NULL ? NULL : bias + at, mode, 0, C, inW, ya, yb, xa, xb);
      else
        pool_pixel(x, y + at, bias == NULL ? NULL : bias + at, mode, 1, C, inW, ya, yb, xa, xb);
    }
  }
}

// N-API: numbers in, nothing out. Memory bases are process-wide (threads share the table).
#define MAX_MEMORIES 65536
static float* bases[MAX_MEMORIES];

static inline float* at(int m, double offset) { return (float*)((char*)bases[m] + (size_t)offset); }

#define ARGS(N)                                         \
  size_t argc = N;                                      \
  napi_value argv[N];                                   \
  double a[N];                                          \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL); \
  for (size_t i = 0; i < N; i++) napi_get_value_double(env, argv[i], &a[i]);

static napi_value Attach(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type type;
  size_t length, offset;
  void* data;
  napi_value buffer;
  int slot = -1;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset) == napi_ok) {
    for (int i = 0; i < MAX_MEMORIES && slot < 0; i++) {
      if (bases[i] == (float*)data) slot = i;
    }
    for (int i = 0; i < MAX_MEMORIES && slot < 0; i++) {
      if (__sync_bool_compare_and_swap(&bases[i], NULL, (float*)data)) slot = i;
    }
  }
  napi_create_int32(env, slot, &result);
  return result;
}

// A kernel call's mode of finish (0 to 5) and its node's bias (a byte offset in memory m),
// which modes 1 to 4 read (NULL for the others): 0, or -1 after throwing a RangeError with
// `error`.
static int mode_bias(napi_env env, int m, double mode, double bias, const char* error, int* mode_out, const float** bias_out) {
  if (!(mode >= 0 && mode <= 5 && mode == (int)mode)) {
    napi_throw_range_error(env, NULL, error);
    return -1;
  }
  *mode_out = (int)mode;
  *bias_out = *mode_out >= 1 && *mode_out <= 4 ? at(m, bias) : NULL;
  return 0;
}

// dense(memory, x, w, y, in, out, mode, bias)
static napi_value Dense(napi_env env, napi_callback_info info) {
  ARGS(8)
  const int m = (int)a[0];
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[6], a[7], "native dense: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  dense(at(m, a[1]), at(m, a[2]), at(m, a[3]), (int)a[4], (int)a[5], bias, mode);
  return NULL;
}

#define MAX_BATCH 256
// The arguments of a batched call (memory, offsets, n, then `count - 3` numbers): all numbers
// into a[] (a[1] unused), the offsets Float64Array of n input then n output byte offsets
// resolved into xs and ys. 0, or -1 after throwing a TypeError that names the call.
static int batch_args(napi_env env, napi_callback_info info, size_t count, double* a, const float** xs, float** ys, const char* error) {
  napi_value argv[24];
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = 0; i < count; i++)
    if (i != 1 && (i >= argc || napi_get_value_double(env, argv[i], &a[i]) != napi_ok)) a[i] = -1;
  napi_typedarray_type type;
  size_t length, offset;
  void* data;
  napi_value buffer;
  const int n = (int)a[2];
  if (argc < count || napi_get_typedarray_info(env, argv[1], &type, &length, &data, &buffer, &offset) != napi_ok || type != napi_float64_array || n < 1 || n > MAX_BATCH ||
      length < 2 * (size_t)n) {
    napi_throw_type_error(env, NULL, error);
    return -1;
  }
  const double* offs = (const double*)data;
  for (int b = 0; b < n; b++) {
    xs[b] = at((int)a[0], offs[b]);
    ys[b] = at((int)a[0], offs[n + b]);
  }
  return 0;
}

// denseBatch(memory, offsets Float64Array [x0..x(n-1), y0..y(n-1)] (byte offsets), n, w, in,
// out, mode, bias): every stream as dense() with that mode and their node's one bias.
static napi_value DenseBatch(napi_env env, napi_callback_info info) {
  double a[8];
  const float* xs[MAX_BATCH];
  float* ys[MAX_BATCH];
  if (batch_args(env, info, 8, a, xs, ys, "native denseBatch: offsets must be a Float64Array of 2n byte offsets, 1 <= n <= 256") != 0) return NULL;
  const int m = (int)a[0];
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[6], a[7], "native denseBatch: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  dense_batch(xs, ys, (int)a[2], at(m, a[3]), (int)a[4], (int)a[5], bias, mode);
  return NULL;
}

static napi_value DenseF16(napi_env env, napi_callback_info info) {
  ARGS(6)
  const int m = (int)a[0];
  dense_f16(at(m, a[1]), (const uint16_t*)at(m, a[2]), at(m, a[3]), (int)a[4], (int)a[5]);
  return NULL;
}

static napi_value DenseBf16(napi_env env, napi_callback_info info) {
  ARGS(6)
  const int m = (int)a[0];
  dense_bf16(at(m, a[1]), (const uint16_t*)at(m, a[2]), at(m, a[3]), (int)a[4], (int)a[5]);
  return NULL;
}

static napi_value Winograd(napi_env env, napi_callback_info info) {
  ARGS(15)
  const int m = (int)a[0];
  napi_value result;
  // a[14]: the output tile, 2 (F(2x2,3x3)) or 4 (F(4x4,3x3)).
  const float* x = at(m, a[1]);
  float* y = at(m, a[3]);
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[5], a[4], "native winograd: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  napi_create_int32(env, winograd_streams(&x, &y, bias, 1, at(m, a[2]), mode, (int)a[6], (int)a[7], (int)a[8], (int)a[9], (int)a[10], (int)a[11], (int)a[12], (int)a[13], a[14] == 4 ? 4 : 2), &result);
  return result;
}

// winogradBatch(memory, offsets Float64Array [x0..x(n-1), y0..y(n-1)], n, u, inC, inH, inW,
// outC, outH, outW, padT, padL, tile, mode, bias): n streams at once, every stream's y by
// `mode` (see wino_output) with the one bias of their node.
static napi_value WinogradBatch(napi_env env, napi_callback_info info) {
  double a[15];
  const float* xs[MAX_BATCH];
  float* ys[MAX_BATCH];
  if (batch_args(env, info, 15, a, xs, ys, "native winogradBatch: offsets must be a Float64Array of 2n byte offsets, 1 <= n <= 256") != 0) return NULL;
  const int m = (int)a[0], n = (int)a[2];
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[13], a[14], "native winogradBatch: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  napi_value result;
  napi_create_int32(env, winograd_streams(xs, ys, bias, n, at(m, a[3]), mode, (int)a[4], (int)a[5], (int)a[6], (int)a[7], (int)a[8], (int)a[9], (int)a[10], (int)a[11], a[12] == 4 ? 4 : 2), &result);
  return result;
}

// conv2d(memory, x, w, taps, y, inC, inH, inW, outC, outH, outW, kh, kw, sh, sw, dh, dw,
// padT, padL, mode, bias)
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  ARGS(21)
  const int m = (int)a[0];
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[19], a[20], "native conv2d: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  if (conv2d(at(m, a[1]), at(m, a[2]), (const int32_t*)at(m, a[3]), at(m, a[4]), bias, mode, (int)a[5], (int)a[6], (int)a[7], (int)a[8],
             (int)a[9], (int)a[10], (int)a[11], (int)a[12], (int)a[13], (int)a[14], (int)a[15], (int)a[16], (int)a[17], (int)a[18]) != 0)
    napi_throw_error(env, NULL, "native conv2d: out of memory for the zero-bordered copy of its input");
  return NULL;
}

// conv2dBatch(memory, offsets Float64Array [x0..x(n-1), y0..y(n-1)], n, w, taps, then
// conv2d's geometry, mode and bias): the direct convolution for n streams in one call, each
// as conv2d.
static napi_value Conv2dBatch(napi_env env, napi_callback_info info) {
  double a[21];
  const float* xs[MAX_BATCH];
  float* ys[MAX_BATCH];
  if (batch_args(env, info, 21, a, xs, ys, "native conv2dBatch: offsets must be a Float64Array of 2n byte offsets, 1 <= n <= 256") != 0) return NULL;
  const int m = (int)a[0];
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[19], a[20], "native conv2dBatch: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  for (int b = 0; b < (int)a[2]; b++) {
    if (conv2d(xs[b], at(m, a[3]), (const int32_t*)at(m, a[4]), ys[b], bias, mode, (int)a[5], (int)a[6], (int)a[7], (int)a[8], (int)a[9], (int)a[10], (int)a[11], (int)a[12],
               (int)a[13], (int)a[14], (int)a[15], (int)a[16], (int)a[17], (int)a[18]) != 0) {
      napi_throw_error(env, NULL, "native conv2d: out of memory for the zero-bordered copy of its input");
      return NULL;
    }
  }
  return NULL;
}

// transpose(memory, src, dst, rows, cols): dst[c*rows + r] = src[r*cols + c].
static napi_value Transpose(napi_env env, napi_callback_info info) {
  ARGS(5)
  const int m = (int)a[0];
  transpose(at(m, a[1]), at(m, a[2]), (int)a[3], (int)a[4]);
  return NULL;
}

static napi_value ReadOnce(napi_env env, napi_callback_info info) {
  ARGS(3)
  napi_value result;
  napi_create_double(env, read_once(at((int)a[0], a[1]), (size_t)a[2]), &result);
  return result;
}

// A frame entering the arena: argv = (memory, dstOffset, source Float32Array, then numbers),
// the numbers into `a`. Returns the source (NULL after throwing a TypeError naming `what`).
static const float* source_frame(napi_env env, napi_callback_info info, size_t count, napi_value* argv, double* a, size_t* length, const char* what) {
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = 0; i < count; i++)
    if (i != 2) napi_get_value_double(env, argv[i], &a[i]);
  napi_typedarray_type type;
  size_t offset;
  void* data;
  napi_value buffer;
  if (napi_get_typedarray_info(env, argv[2], &type, length, &data, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return (const float*)data;
}

// copyIn(memory, dstOffset, source Float32Array) -> first non-finite index or -1.
static napi_value CopyIn(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  double a[3];
  size_t length;
  const float* src = source_frame(env, info, 3, argv, a, &length, "native copyIn: the source must be a Float32Array");
  if (src == NULL) return NULL;
  napi_create_double(env, (double)copy_scan(at((int)a[0], a[1]), src, length), &result);
  return result;
}

// copyInTransposed(memory, dstOffset, source Float32Array, rows, cols): copyIn into
// dst[c*rows + r] = source[r*cols + c] (a CHW frame into an HWC state) -> first non-finite
// index in the source or -1.
static napi_value CopyInTransposed(napi_env env, napi_callback_info info) {
  napi_value argv[5], result;
  double a[5];
  size_t length;
  const float* src = source_frame(env, info, 5, argv, a, &length, "native copyInTransposed: the source must be a Float32Array");
  if (src == NULL) return NULL;
  if (a[3] < 1 || a[4] < 1 || (size_t)a[3] * (size_t)a[4] != length) {
    napi_throw_range_error(env, NULL, "native copyInTransposed: rows x cols must be the source's length");
    return NULL;
  }
  napi_create_double(env, (double)transpose_scan(src, at((int)a[0], a[1]), (int)a[3], (int)a[4]), &result);
  return result;
}

// timerSlack(ns): this thread's timer slack (how late the kernel may fire its timed waits;
// 50 µs by default). Threads that sleep until a frame's deadline ask for 1 µs. Returns 0 or -1.
static napi_value TimerSlack(napi_env env, napi_callback_info info) {
  ARGS(1)
  napi_value result;
  napi_create_int32(env, prctl(PR_SET_TIMERSLACK, (unsigned long)a[0], 0, 0, 0), &result);
  return result;
}

// idleThread(): puts this thread in Linux's SCHED_IDLE class, below every nice level: it
// runs only when a core has nothing else to run, and a thread of any other class that wakes
// takes its core at once (a nice-19 thread may hold it for the rest of its time slice, which
// measured slower here than having no such thread at all). Returns 0, or -1 where it cannot.
static napi_value IdleThread(napi_env env, napi_callback_info info) {
  (void)info;
  int done = -1;
#if defined(__linux__) && defined(SCHED_IDLE)
  struct sched_param param = {0};
  done = sched_setscheduler(0, SCHED_IDLE, &param);
#endif
  napi_value result;
  napi_create_int32(env, done == 0 ? 0 : -1, &result);
  return result;
}

static napi_value Depthwise(napi_env env, napi_callback_info info) {
  ARGS(18)
  const int m = (int)a[0];
  depthwise(at(m, a[1]), at(m, a[2]), at(m, a[3]), (int)a[4], (int)a[5], (int)a[6], (int)a[7], (int)a[8], (int)a[9], (int)a[10], (int)a[11],
            (int)a[12], (int)a[13], (int)a[14], (int)a[15], (int)a[16], (int)a[17]);
  return NULL;
}

// pool(memory, x, y, kind, C, inH, inW, outH, outW, kh, kw, sh, sw, padT, padL, mode, bias)
static napi_value Pool(napi_env env, napi_callback_info info) {
  ARGS(17)
  const int m = (int)a[0];
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[15], a[16], "native pool: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  pool(at(m, a[1]), at(m, a[2]), bias, mode, a[3] == 0 ? 0 : 1, (int)a[4], (int)a[5], (int)a[6], (int)a[7], (int)a[8], (int)a[9], (int)a[10],
       (int)a[11], (int)a[12], (int)a[13], (int)a[14]);
  return NULL;
}

// poolBatch(memory, offsets Float64Array [x0..x(n-1), y0..y(n-1)], n, then pool's arguments
// from kind on): n streams in one call, each as pool.
static napi_value PoolBatch(napi_env env, napi_callback_info info) {
  double a[17];
  const float* xs[MAX_BATCH];
  float* ys[MAX_BATCH];
  if (batch_args(env, info, 17, a, xs, ys, "native poolBatch: offsets must be a Float64Array of 2n byte offsets, 1 <= n <= 256") != 0) return NULL;
  const int m = (int)a[0];
  int mode;
  const float* bias;
  if (mode_bias(env, m, a[15], a[16], "native poolBatch: mode must be 0 to 5", &mode, &bias) != 0) return NULL;
  for (int b = 0; b < (int)a[2]; b++)
    pool(xs[b], ys[b], bias, mode, a[3] == 0 ? 0 : 1, (int)a[4], (int)a[5], (int)a[6], (int)a[7], (int)a[8], (int)a[9], (int)a[10], (int)a[11], (int)a[12], (int)a[13], (int)a[14]);
  return NULL;
}

// Which instruction set the dispatched kernels run with on this CPU (what the loader picked).
static const char* isa(void) {
#if DISPATCHED
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2, FMA)";
  return "x86-64 baseline (SSE2)";
#elif defined(__aarch64__)
  return "arm64 (NEON)";
#else
  return "the compiler's baseline";
#endif
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_value isa_name;
  napi_create_string_utf8(env, isa(), NAPI_AUTO_LENGTH, &isa_name);
  napi_set_named_property(env, exports, "isa", isa_name);
  napi_create_function(env, "depthwise", NAPI_AUTO_LENGTH, Depthwise, NULL, &fn);
  napi_set_named_property(env, exports, "depthwise", fn);
  napi_create_function(env, "pool", NAPI_AUTO_LENGTH, Pool, NULL, &fn);
  napi_set_named_property(env, exports, "pool", fn);
  napi_create_function(env, "poolBatch", NAPI_AUTO_LENGTH, PoolBatch, NULL, &fn);
  napi_set_named_property(env, exports, "poolBatch", fn);
  napi_create_function(env, "timerSlack", NAPI_AUTO_LENGTH, TimerSlack, NULL, &fn);
  napi_set_named_property(env, exports, "timerSlack", fn);
  napi_create_function(env, "idleThread", NAPI_AUTO_LENGTH, IdleThread, NULL, &fn);
  napi_set_named_property(env, exports, "idleThread", fn);
  napi_create_function(env, "copyIn", NAPI_AUTO_LENGTH, CopyIn, NULL, &fn);
  napi_set_named_property(env, exports, "copyIn", fn);
  napi_create_function(env, "copyInTransposed", NAPI_AUTO_LENGTH, CopyInTransposed, NULL, &fn);
  napi_set_named_property(env, exports, "copyInTransposed", fn);
  napi_create_function(env, "attach", NAPI_AUTO_LENGTH, Attach, NULL, &fn);
  napi_set_named_property(env, exports, "attach", fn);
  napi_create_function(env, "dense", NAPI_AUTO_LENGTH, Dense, NULL, &fn);
  napi_set_named_property(env, exports, "dense", fn);
  napi_create_function(env, "winograd", NAPI_AUTO_LENGTH, Winograd, NULL, &fn);
  napi_set_named_property(env, exports, "winograd", fn);
  napi_create_function(env, "denseBf16", NAPI_AUTO_LENGTH, DenseBf16, NULL, &fn);
  napi_set_named_property(env, exports, "denseBf16", fn);
  napi_create_function(env, "winogradBatch", NAPI_AUTO_LENGTH, WinogradBatch, NULL, &fn);
  napi_set_named_property(env, exports, "winogradBatch", fn);
  napi_create_function(env, "denseBatch", NAPI_AUTO_LENGTH, DenseBatch, NULL, &fn);
  napi_set_named_property(env, exports, "denseBatch", fn);
  napi_create_function(env, "denseF16", NAPI_AUTO_LENGTH, DenseF16, NULL, &fn);
  napi_set_named_property(env, exports, "denseF16", fn);
  napi_create_function(env, "conv2d", NAPI_AUTO_LENGTH, Conv2d, NULL, &fn);
  napi_set_named_property(env, exports, "conv2d", fn);
  napi_create_function(env, "conv2dBatch", NAPI_AUTO_LENGTH, Conv2dBatch, NULL, &fn);
  napi_set_named_property(env, exports, "conv2dBatch", fn);
  napi_create_function(env, "transpose", NAPI_AUTO_LENGTH, Transpose, NULL, &fn);
  napi_set_named_property(env, exports, "transpose", fn);
  napi_create_function(env, "readOnce", NAPI_AUTO_LENGTH, ReadOnce, NULL, &fn);
  napi_set_named_property(env, exports, "readOnce", fn);
  return exports;
}
