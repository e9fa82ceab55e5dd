// A small typed builder for ONNX graphs (opset 17) over onnx-proto's protobuf classes.
//
//   const g = new GraphBuilder('clip_text');
//   const x = g.input('x', 'float', ['batch', 'seq', 512]);
//   const w = g.linearWeight(layer.fc1.weight, 'fc1.w');   // [out,in] → initializer [in,out]
//   const y = g.op('MatMul', [x, w]);
//   g.output(y, 'y', 'float', ['batch', 'seq', 2048]);
//   const bytes = g.toBytes();
//
// Every node and value name is generated (unique) unless given; float initializers are stored as
// little-endian raw_data.
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import type { HiddenAct } from '../config.ts';
import type { HostTensor } from '../safetensors.ts';
import type { EncoderLayer, LayerNorm, Linear } from '../weights.ts';
import { concatArrays, transpose2d } from '../host-math.ts';

const { onnx } = onnxProto;

export const OPSET_VERSION = 17; // LayerNormalization exists from 17
const IR_VERSION = 8; // IR version that goes with opset 17

export type ElemType = 'float' | 'int64';
export type Dim = number | string; // string = symbolic dim, e.g. 'batch', 'seq'

/**
 * Attribute values: an integer number → INT, `{ float: x }` → FLOAT, number[] → INTS, string → STRING,
 * `{ tensor }` → TENSOR. Floats are explicit so `alpha: 1` cannot silently become an INT.
 */
export type AttrValue = number | number[] | string | { float: number } | { tensor: OnnxTypes.ITensorProto };

export interface OpOptions {
  name?: string; // node name (generated when absent)
  domain?: string; // '' = ai.onnx; 'com.microsoft' for ORT contrib ops
  outputs?: string[]; // output value names (generated when absent)
}

const DATA_TYPE: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Float32 values → little-endian bytes (a view when the host is little-endian). */
function float32Bytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (!Number.isSafeInteger(v)) throw new Error(`int64 constant: ${v} is not a safe integer`);
    view.setBigInt64(i * 8, BigInt(v), true);
  });
  return out;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function valueInfo(name: string, elem: ElemType, dims: readonly Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer (use { float: ${v} })`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (!v.every(Number.isInteger)) throw new Error(`attribute ${name}: ints expected`);
    return { name, type: T.INTS, ints: v };
  }
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.TENSOR, t: v.tensor };
}

export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly domains = new Set<string>();
  private readonly int64Cache = new Map<string, string>();

  constructor(readonly graphName: string) {}

  /** A fresh name `<hint>_<n>` (or `hint` itself when free and `exact`). */
  uniqueName(hint: string, exact = false): string {
    if (exact) {
      if (this.used.has(hint)) throw new Error(`graph ${this.graphName}: name "${hint}" already used`);
      this.used.add(hint);
      return hint;
    }
    let n = this.counters.get(hint) ?? 0;
    let name: string;
    do name = `${hint}_${n++}`;
    while (this.used.has(name));
    this.counters.set(hint, n);
    this.used.add(name);
    return name;
  }

  /** Graph input with (possibly symbolic) dims. Returns the value name (= `name`). */
  input(name: string, elem: ElemType, dims: readonly Dim[]): string {
    this.uniqueName(name, true);
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** Marks `value` as graph output `name` (through an Identity when the names differ). */
  output(value: string, name: string, elem: ElemType, dims: readonly Dim[]): string {
    if (value !== name) this.op('Identity', [value], {}, { outputs: [this.uniqueName(name, true)] });
    this.outputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** Float initializer from raw values of the given shape. */
  floatInit(hint: string, data: Float32Array, shape: readonly number[]): string {
    if (data.length !== numel(shape)) throw new Error(`initializer ${hint}: ${data.length} values for shape [${shape}]`);
    const name = this.uniqueName(hint);
    this.initializers.push({ name, dims: [...shape], dataType: DATA_TYPE.float, rawData: float32Bytes(data) });
    return name;
  }

  /** Float initializer from a host tensor, optionally reshaped (same number of elements). */
  tensor(t: HostTensor, hint: string, shape: readonly number[] = t.shape): string {
    return this.floatInit(hint, t.data, shape);
  }

  /** PyTorch Linear weight [out, in] → initializer [in, out], ready for MatMul(x[..., in], w). */
  linearWeight(t: HostTensor, hint: string): string {
    if (t.shape.length !== 2) throw new Error(`linear weight ${hint}: expected rank 2, got [${t.shape}]`);
    const [out, inp] = t.shape;
    return this.floatInit(hint, transpose2d(t.data, out, inp), [inp, out]);
  }

  /** Float scalar (rank 0). */
  scalar(value: number, hint = 'scalar'): string {
    return this.floatInit(hint, new Float32Array([value]), []);
  }

  /** Int64 constant (an initializer; 1-D unless `shape` says otherwise). Identical constants are shared. */
  int64(values: readonly number[], hint = 'const', shape: readonly number[] = [values.length]): string {
    if (values.length !== numel(shape)) throw new Error(`int64 ${hint}: ${values.length} values for shape [${shape}]`);
    const key = `${shape.join('x')}:${values.join(',')}`;
    const cached = this.int64Cache.get(key);
    if (cached) return cached;
    const name = this.uniqueName(hint);
    this.initializers.push({ name, dims: [...shape], dataType: DATA_TYPE.int64, rawData: int64Bytes(values) });
    this.int64Cache.set(key, name);
    return name;
  }

  /** Adds one node; returns all its output names. */
  opMulti(
    opType: string,
    inputs: readonly string[],
    numOutputs: number,
    attrs: Record<string, AttrValue> = {},
    opts: OpOptions = {},
  ): string[] {
    const outputs = opts.outputs ?? Array.from({ length: numOutputs }, () => this.uniqueName(opType.toLowerCase()));
    if (outputs.length !== numOutputs) throw new Error(`${opType}: ${outputs.length} output names for ${numOutputs} outputs`);
    const domain = opts.domain ?? '';
    if (domain !== '') this.domains.add(domain);
    this.nodes.push({
      name: opts.name ? this.uniqueName(opts.name, true) : this.uniqueName(`${opType}_node`),
      opType,
      domain,
      input: [...inputs],
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** Adds a single-output node; returns its output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): string {
    return this.opMulti(opType, inputs, 1, attrs, opts)[0];
  }

  /** Serialises the model (ModelProto bytes). */
  toBytes(): Uint8Array {
    const opsetImport = [{ domain: '', version: OPSET_VERSION }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))];
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'cocoop-graph-builder',
      opsetImport,
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

// ---------------------------------------------------------------------------------------------
// Transformer blocks shared by the CLIP text and vision graphs (HF CLIPEncoderLayer semantics).
// Activations are [batch, seq, D]; linear weights become [in, out] initializers so every linear
// layer is MatMul + Add (which ORT fuses).

/** LayerNormalization over the last axis. x: [..., D] → [..., D] */
export function layerNorm(g: GraphBuilder, x: string, ln: LayerNorm, eps: number, hint: string): string {
  const w = g.tensor(ln.weight, `${hint}.weight`);
  const b = g.tensor(ln.bias, `${hint}.bias`);
  return g.op('LayerNormalization', [x, w, b], { axis: -1, epsilon: { float: eps } });
}

/** x·Wᵀ + b. x: [..., in] → [..., out] */
export function linear(g: GraphBuilder, x: string, lin: Linear, hint: string): string {
  const w = g.linearWeight(lin.weight, `${hint}.weight`);
  const b = g.tensor(lin.bias, `${hint}.bias`);
  return g.op('Add', [g.op('MatMul', [x, w]), b]);
}

/** quick_gelu(x) = x·σ(1.702x); gelu(x) = ½x(1 + erf(x/√2)). */
export function activation(g: GraphBuilder, x: string, act: HiddenAct): string {
  if (act === 'quick_gelu') {
    const s = g.op('Sigmoid', [g.op('Mul', [x, g.scalar(1.702, 'quick_gelu_alpha')])]);
    return g.op('Mul', [x, s]);
  }
  const erf = g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2, 'sqrt2')])]);
  const onePlus = g.op('Add', [erf, g.scalar(1, 'one')]);
  return g.op('Mul', [g.op('Mul', [x, onePlus]), g.scalar(0.5, 'half')]);
}

export interface EncoderLayerOptions {
  heads: number;
  eps: number;
  act: HiddenAct;
  mask?: string; // additive attention mask, broadcastable to [batch, heads, seq, seq]
}


/** The initializers of one encoder layer, as the graph holds them (linear weights [in, out]). */
export interface EncoderLayerParams {
  d: number;
  heads: number;
  eps: number;
  act: HiddenAct;
  ln1: { weight: string; bias: string };
  ln2: { weight: string; bias: string };
  qkvWeight: string; // [D, 3D], the q columns pre-scaled by head_dim^-0.5
  qkvBias: string; // [3D]
  outWeight: string; // [D, D]
  outBias: string;
  fc1Weight: string; // [D, I]
  fc1Bias: string;
  fc2Weight: string; // [I, D]
  fc2Bias: string;
}

/**
 * Registers one encoder layer's weights. q, k, v become one [D, 3D] weight; the head_dim^-0.5 scale is
 * folded into the q weight and bias (HF scales q_proj's output before q·kᵀ; exact when head_dim is a power of 4).
 */
export function encoderLayerParams(g: GraphBuilder, layer: EncoderLayer, o: EncoderLayerOptions, hint: string): EncoderLayerParams {
  const d = layer.q.weight.shape[0];
  const dh = d / o.heads;
  const scale = dh ** -0.5;
  const wq = transpose2d(layer.q.weight.data, d, d).map((v) => v * scale);
  const wk = transpose2d(layer.k.weight.data, d, d);
  const wv = transpose2d(layer.v.weight.data, d, d);
  // [D, 3D]: row i = [q_i(scaled) | k_i | v_i]
  const wqkv = new Float32Array(d * 3 * d);
  for (let i = 0; i < d; i++) {
    wqkv.set(wq.subarray(i * d, (i + 1) * d), i * 3 * d);
    wqkv.set(wk.subarray(i * d, (i + 1) * d), i * 3 * d + d);
    wqkv.set(wv.subarray(i * d, (i + 1) * d), i * 3 * d + 2 * d);
  }
  const bqkv = concatArrays([layer.q.bias.data.map((v) => v * scale), layer.k.bias.data, layer.v.bias.data]);
  const lnParams = (ln: LayerNorm, h: string) => ({ weight: g.tensor(ln.weight, `${h}.weight`), bias: g.tensor(ln.bias, `${h}.bias`) });
  return {
    d,
    heads: o.heads,
    eps: o.eps,
    act: o.act,
    ln1: lnParams(layer.layerNorm1, `${hint}.ln1`),
    ln2: lnParams(layer.layerNorm2, `${hint}.ln2`),
    qkvWeight: g.floatInit(`${hint}.qkv.weight`, wqkv, [d, 3 * d]),
    qkvBias: g.floatInit(`${hint}.qkv.bias`, bqkv, [3 * d]),
    outWeight: g.linearWeight(layer.out.weight, `${hint}.out_proj.weight`),
    outBias: g.tensor(layer.out.bias, `${hint}.out_proj.bias`),
    fc1Weight: g.linearWeight(layer.fc1.weight, `${hint}.fc1.weight`),
    fc1Bias: g.tensor(layer.fc1.bias, `${hint}.fc1.bias`),
    fc2Weight: g.linearWeight(layer.fc2.weight, `${hint}.fc2.weight`),
    fc2Bias: g.tensor(layer.fc2.bias, `${hint}.fc2.bias`),
  };
}

/** The values one encoder layer computes on its way (what its vector-Jacobian product reads back). */
export interface EncoderLayerValues {
  input: string; // h [B, L, D]
  ln1Mean: string; // [B, L, 1]
  ln1InvStd: string; // [B, L, 1]
  qh: string; // [B, H, L, dh] (scaled queries)
  khT: string; // [B, H, dh, L]
  vh: string; // [B, H, L, dh]
  probs: string; // [B, H, L, L]
  mid: string; // h1 = h + attention [B, L, D]
  ln2Mean: string;
  ln2InvStd: string;
  fc1Out: string; // f [B, L, I] (before the activation)
  output: string; // h2 [B, L, D]
}

/**
 * One pre-LN CLIP encoder layer. h: [batch, seq, D] → [batch, seq, D]
 *   h += out_proj(attn(LN1(h)));  h += fc2(act(fc1(LN2(h))))
 * With `withStats`, the layer norms also output their mean and 1/std (for a backward pass).
 */
export function encoderLayerForward(g: GraphBuilder, h: string, w: EncoderLayerParams, mask: string | undefined, withStats: boolean): EncoderLayerValues {
  const { d, heads } = w;
  const dh = d / heads;
  const ln = (x: string, p: { weight: string; bias: string }) =>
    withStats
      ? g.opMulti('LayerNormalization', [x, p.weight, p.bias], 3, { axis: -1, epsilon: { float: w.eps } })
      : [g.op('LayerNormalization', [x, p.weight, p.bias], { axis: -1, epsilon: { float: w.eps } }), '', ''];

  // --- self-attention ---
  const [x, ln1Mean, ln1InvStd] = ln(h, w.ln1); // [B, L, D]
  const qkv = g.op('Add', [g.op('MatMul', [x, w.qkvWeight]), w.qkvBias]); // [B, L, 3D]
  const [q, k, v] = g.opMulti('Split', [qkv], 3, { axis: -1 }); // 3 × [B, L, D]
  const headShape = g.int64([0, 0, heads, dh], 'head_shape'); // [B, L, H, dh]
  const split = (t: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [t, headShape])], { perm });
  const qh = split(q, [0, 2, 1, 3]); // [B, H, L, dh]
  const khT = split(k, [0, 2, 3, 1]); // [B, H, dh, L]
  const vh = split(v, [0, 2, 1, 3]); // [B, H, L, dh]
  let scores = g.op('MatMul', [qh, khT]); // [B, H, L, L]
  if (mask) scores = g.op('Add', [scores, mask]);
  const probs = g.op('Softmax', [scores], { axis: -1 }); // [B, H, L, L]
  const ctx = g.op('MatMul', [probs, vh]); // [B, H, L, dh]
  const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.int64([0, 0, d], 'model_shape')]); // [B, L, D]
  const mid = g.op('Add', [h, g.op('Add', [g.op('MatMul', [merged, w.outWeight]), w.outBias])]);

  // --- MLP ---
  const [y, ln2Mean, ln2InvStd] = ln(mid, w.ln2);
  const fc1Out = g.op('Add', [g.op('MatMul', [y, w.fc1Weight]), w.fc1Bias]); // [B, L, I]
  const hidden = activation(g, fc1Out, w.act);
  const output = g.op('Add', [mid, g.op('Add', [g.op('MatMul', [hidden, w.fc2Weight]), w.fc2Bias])]);
  return { input: h, ln1Mean, ln1InvStd, qh, khT, vh, probs, mid, ln2Mean, ln2InvStd, fc1Out, output };
}

/** One pre-LN CLIP encoder layer (see encoderLayerForward). h: [batch, seq, D] → [batch, seq, D] */
export function encoderLayer(g: GraphBuilder, h: string, layer: EncoderLayer, o: EncoderLayerOptions, hint: string): string {
  return encoderLayerForward(g, h, encoderLayerParams(g, layer, o, hint), o.mask, false).output;
}
