// What an uploaded file is, from its bytes alone: the format by its magic bytes and the pixel size from
// the container headers (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X). No decoder, no native code, so it
// runs on Workers as well as Node; the edge never decodes pixels (the GPU workers do).
//
// Beyond the header it checks the container is complete, so a cut-off upload is refused:
//   PNG  — the chunk list is walked (lengths only) up to IEND;
//   JPEG — SOI … SOFn by the marker walk, and the file ends with EOI (FF D9);
//   WebP — the RIFF size fits inside the file.

export type ImageContentType = 'image/jpeg' | 'image/png' | 'image/webp';

export const IMAGE_CONTENT_TYPES: readonly ImageContentType[] = ['image/jpeg', 'image/png', 'image/webp'];

export const EXTENSIONS: Record<ImageContentType, 'jpg' | 'png' | 'webp'> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
};

export interface ImageInfo {
  contentType: ImageContentType;
  width: number;
  height: number;
}

export type ProbeFailure = 'not_an_image' | 'truncated' | 'corrupt';

export class ImageProbeError extends Error {
  constructor(
    readonly reason: ProbeFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ImageProbeError';
  }
}

const fail = (reason: ProbeFailure, message: string): never => {
  throw new ImageProbeError(reason, message);
};

const u16be = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32be = (b: Uint8Array, o: number) => ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
const u16le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u24le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
const u32le = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + ((b[o + 3] << 24) >>> 0);
const ascii = (b: Uint8Array, o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(b: Uint8Array, sig: number[]): boolean {
  return b.length >= sig.length && sig.every((v, i) => b[i] === v);
}

/** The format of `bytes` by magic number, or null. */
export function sniffImageType(b: Uint8Array): ImageContentType | null {
  if (startsWith(b, PNG_SIGNATURE)) return 'image/png';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'image/webp';
  return null;
}

function probePng(b: Uint8Array): ImageInfo {
  // signature(8) | IHDR: length(4)=13 type(4) width(4) height(4) depth colour compression filter interlace crc(4)
  if (b.length < 33) fail('truncated', 'the PNG ends inside its header');
  if (u32be(b, 8) !== 13 || ascii(b, 12, 4) !== 'IHDR') fail('corrupt', 'the PNG does not start with an IHDR chunk');
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  let off = 8;
  let sawData = false;
  for (;;) {
    if (off + 12 > b.length) fail('truncated', 'the PNG is cut off (no IEND chunk)');
    const len = u32be(b, off);
    const type = ascii(b, off + 4, 4);
    if (len > 0x7fffffff) fail('corrupt', `the PNG chunk ${JSON.stringify(type)} has an impossible length`);
    if (off + 12 + len > b.length) fail('truncated', `the PNG is cut off inside its ${JSON.stringify(type)} chunk`);
    if (type === 'IDAT') sawData = true;
    if (type === 'IEND') break;
    off += 12 + len;
  }
  if (!sawData) fail('corrupt', 'the PNG has no image data (IDAT)');
  return { contentType: 'image/png', width, height };
}

/** Start-of-frame markers that carry the frame size (not DHT C4, JPG C8, DAC CC). */
function isSof(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function probeJpeg(b: Uint8Array): ImageInfo {
  let off = 2; // after SOI
  for (;;) {
    if (off >= b.length) fail('truncated', 'the JPEG ends before its frame header (SOF)');
    if (b[off] !== 0xff) fail('corrupt', `the JPEG has no marker at byte ${off}`);
    while (off < b.length && b[off] === 0xff) off++; // fill bytes
    if (off >= b.length) fail('truncated', 'the JPEG ends before its frame header (SOF)');
    const marker = b[off++];
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd8 || marker === 0xd9 || marker === 0xda) fail('corrupt', 'the JPEG has no frame header (SOF) before its image data');
    if (off + 2 > b.length) fail('truncated', 'the JPEG is cut off inside a segment header');
    const len = u16be(b, off);
    if (len < 2) fail('corrupt', 'the JPEG has a segment with an impossible length');
    if (off + len > b.length) fail('truncated', 'the JPEG is cut off inside a segment');
    if (isSof(marker)) {
      if (len < 7) fail('corrupt', 'the JPEG frame header is too short');
      const height = u16be(b, off + 3);
      const width = u16be(b, off + 5);
      if (height === 0) fail('corrupt', 'the JPEG leaves its height to a DNL marker, which is not supported');
      // A complete JPEG ends with EOI; allow trailing padding zeros some encoders add.
      let end = b.length;
      while (end > off && b[end - 1] === 0) end--;
      if (end < 2 || b[end - 2] !== 0xff || b[end - 1] !== 0xd9) fail('truncated', 'the JPEG is cut off (no end-of-image marker)');
      return { contentType: 'image/jpeg', width, height };
    }
    off += len;
  }
}

function probeWebp(b: Uint8Array): ImageInfo {
  // RIFF size(4 LE) WEBP | chunk fourcc(4) size(4 LE) payload
  if (b.length < 30) fail('truncated', 'the WebP ends inside its header');
  const riffSize = u32le(b, 4);
  if (riffSize + 8 > b.length) fail('truncated', `the WebP is cut off (${b.length} of ${riffSize + 8} bytes)`);
  const fourcc = ascii(b, 12, 4);
  const chunkSize = u32le(b, 16);
  if (20 + chunkSize > riffSize + 8) fail('corrupt', `the WebP ${JSON.stringify(fourcc)} chunk is larger than the file`);
  let width: number;
  let height: number;
  switch (fourcc) {
    case 'VP8 ': {
      // frame tag(3) start code 9d 01 2a, then 14-bit width and height (2 bits of scale each)
      if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) fail('corrupt', 'the WebP VP8 frame has no start code');
      width = u16le(b, 26) & 0x3fff;
      height = u16le(b, 28) & 0x3fff;
      break;
    }
    case 'VP8L': {
      // signature 0x2f, then width-1 (14 bits) and height-1 (14 bits), little-endian bit order
      if (b[20] !== 0x2f) fail('corrupt', 'the WebP VP8L stream has no signature');
      const bits = u32le(b, 21);
      width = (bits & 0x3fff) + 1;
      height = ((bits >>> 14) & 0x3fff) + 1;
      break;
    }
    case 'VP8X': {
      // flags(1) reserved(3) canvas width-1 (24 bits) canvas height-1 (24 bits)
      width = u24le(b, 24) + 1;
      height = u24le(b, 27) + 1;
      break;
    }
    default:
      return fail('corrupt', `the WebP starts with an unknown chunk ${JSON.stringify(fourcc)}`);
  }
  return { contentType: 'image/webp', width, height };
}

/** Format and pixel size of a JPEG, PNG or WebP file; throws ImageProbeError otherwise. */
export function probeImage(bytes: Uint8Array): ImageInfo {
  const type = sniffImageType(bytes);
  let info: ImageInfo;
  switch (type) {
    case 'image/png':
      info = probePng(bytes);
      break;
    case 'image/jpeg':
      info = probeJpeg(bytes);
      break;
    case 'image/webp':
      info = probeWebp(bytes);
      break;
    default:
      return fail('not_an_image', 'it is not a JPEG, PNG or WebP file');
  }
  if (info.width < 1 || info.height < 1) fail('corrupt', `it declares an empty size of ${info.width}x${info.height} pixels`);
  return info;
}
