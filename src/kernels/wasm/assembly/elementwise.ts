/** y[i] += x[i] for i < n. */
export function addInto(x: usize, y: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, f32x4.add(v128.load(y + off), v128.load(x + off)));
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(y + off) + load<f32>(x + off));
  }
}

/** y[i] += x[idx[i]] for i < n: an identity edge whose two ends use different internal orders. */
export function gatherAdd(x: usize, y: usize, idx: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(y + off) + load<f32>(x + (<usize>load<i32>(idx + off) << 2)));
  }
}

/**
 * y = act(y + b) in place. kind: 0 linear, 1 relu, 2 leaky_relu (slope alpha), 3 tanh,
 * 4 sigmoid, 5 relu6, 6 hard_sigmoid (clamp(alpha*v + beta, 0, 1)), 7 hard_swish
 * (v * clamp(v/6 + 1/2, 0, 1)), 8 elu (alpha*(e^v - 1) below 0). All but tanh, sigmoid and
 * elu run four lanes at a time.
 */
export function biasActivation(y: usize, b: usize, n: i32, kind: i32, alpha: f32, beta: f32): void {
  const vector = kind <= 2 || (kind >= 5 && kind <= 7);
  const n4 = vector ? n & ~3 : 0;
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  const six = f32x4.splat(6);
  const half = f32x4.splat(0.5);
  const sixth = f32x4.splat(f32(1) / f32(6));
  const a4 = f32x4.splat(alpha);
  const b4 = f32x4.splat(beta);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    let v = f32x4.add(v128.load(y + off), v128.load(b + off));
    if (kind == 1) v = f32x4.max(v, zero);
    else if (kind == 2) v = v128.bitselect(v, f32x4.mul(v, a4), f32x4.ge(v, zero));
    else if (kind == 5) v = f32x4.min(f32x4.max(v, zero), six);
    else if (kind == 6) v = f32x4.min(f32x4.max(f32x4.add(f32x4.mul(v, a4), b4), zero), one);
    else if (kind == 7) v = f32x4.mul(v, f32x4.min(f32x4.max(f32x4.add(f32x4.mul(v, sixth), half), zero), one));
    v128.store(y + off, v);
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(y + off) + load<f32>(b + off);
    let r: f32 = v;
    if (kind == 1) r = v > 0 ? v : 0;
    else if (kind == 2) r = v >= 0 ? v : alpha * v;
    else if (kind == 3) r = Mathf.tanh(v);
    else if (kind == 4) r = f32(1) / (f32(1) + Mathf.exp(-v));
    else if (kind == 5) r = Mathf.min(Mathf.max(v, 0), 6);
    else if (kind == 6) r = Mathf.min(Mathf.max(alpha * v + beta, 0), 1);
    else if (kind == 7) r = v * Mathf.min(Mathf.max(v * (f32(1) / f32(6)) + f32(0.5), 0), 1);
    else if (kind == 8) r = v > 0 ? v : alpha * (Mathf.exp(v) - f32(1));
    store<f32>(y + off, r);
  }
}

/**
 * Softmax of y + b over each of `groups` runs of `classes` contiguous values (a vector is one
 * group; an HWC state has one group per pixel). Max-subtracted for stability.
 */
export function softmax(y: usize, b: usize, groups: i32, classes: i32): void {
  for (let g = 0; g < groups; g++) {
    const base = <usize>(g * classes) << 2;
    let m: f32 = -Infinity;
    for (let c = 0; c < classes; c++) {
      const off = base + (<usize>c << 2);
      const v = load<f32>(y + off) + load<f32>(b + off);
      store<f32>(y + off, v);
      if (v > m) m = v;
    }
    let total: f32 = 0;
    for (let c = 0; c < classes; c++) {
      const off = base + (<usize>c << 2);
      const e = Mathf.exp(load<f32>(y + off) - m);
      store<f32>(y + off, e);
      total += e;
    }
    const inv = f32(1) / total;
    for (let c = 0; c < classes; c++) {
      const off = base + (<usize>c << 2);
      store<f32>(y + off, load<f32>(y + off) * inv);
    }
  }
}

/** Sets n floats at p to 0 (bulk memory: TypedArray.fill on shared memory is ~10x slower). */
export function zero(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n << 2);
}

/** Index of the first NaN or infinite value among n floats at p, or -1 (x - x is NaN exactly for those). */
export function firstNonFinite(p: usize, n: i32): i32 {
  const n16 = n & ~15;
  for (let i = 0; i < n16; i += 16) {
    const q = p + (<usize>i << 2);
    const a = v128.load(q);
    const b = v128.load(q, 16);
    const c = v128.load(q, 32);
    const d = v128.load(q, 48);
    const da = f32x4.sub(a, a);
    const db = f32x4.sub(b, b);
    const dc = f32x4.sub(c, c);
    const dd = f32x4.sub(d, d);
    const bad = v128.or(v128.or(f32x4.ne(da, da), f32x4.ne(db, db)), v128.or(f32x4.ne(dc, dc), f32x4.ne(dd, dd)));
    if (v128.any_true(bad)) return scalarFirst(p, i, i + 16);
  }
  return scalarFirst(p, n16, n);
}

function scalarFirst(p: usize, from: i32, to: i32): i32 {
  for (let i = from; i < to; i++) {
    const x = load<f32>(p + (<usize>i << 2));
    if (x - x != 0) return i;
  }
  return -1;
}
