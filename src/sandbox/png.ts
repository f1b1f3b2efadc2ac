/**
 * Real PNG pictures drawn from a picture spec (picture.ts), so that a sandbox download is an
 * image a viewer opens, with the shape and colours the prompt asked for and a "SANDBOX" mark
 * that no one can mistake for a real result. Also a small reader, so tests can look at pixels.
 */
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { LONGEST_SIDE, type PictureSpec, pictureFromPrompt, type Rgb } from './picture.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The mark: yellow letters on a near-black band along the bottom edge. */
export const MARK_INK: Rgb = [255, 210, 0];
export const MARK_BAND: Rgb = [20, 20, 24];

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/** An 8-bit RGB PNG of `rgb` (3 bytes a pixel, rows top to bottom). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const stride = width * 3;
  const rows = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) rows.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return encodeRows(width, height, rows);
}

/** `rows`: each row of pixels led by its filter byte, as PNG's IDAT stream wants before deflate. */
function encodeRows(width: number, height: number, rows: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    // Level 3: flat areas repeat every 3 bytes, which low levels already find; higher levels
    // shrink a 640 px picture by a few KB at several times the cost.
    chunk('IDAT', deflateSync(rows, { level: 3 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Width and height from a PNG's header, or undefined when it is not a PNG. */
export function pngSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length < 24 || data.readUInt32BE(0) !== 0x89504e47 || data.toString('ascii', 12, 16) !== 'IHDR') {
    return undefined;
  }
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

export interface DecodedPng {
  width: number;
  height: number;
  /** 3 bytes a pixel, rows top to bottom. */
  rgb: Uint8Array;
}

/**
 * The pixels of an 8-bit, non-interlaced RGB or RGBA PNG (any row filter), which covers what
 * the sandbox writes; throws on anything else. For tests that check what a picture looks like.
 */
export function decodePng(data: Buffer): DecodedPng {
  if (data.length < 8 || !data.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= data.length; ) {
    const len = data.readUInt32BE(at);
    const type = data.toString('ascii', at + 4, at + 8);
    const body = data.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || (body[9] !== 2 && body[9] !== 6) || body[12] !== 0) {
        throw new Error('only 8-bit non-interlaced RGB/RGBA PNGs are read');
      }
      channels = body[9] === 2 ? 3 : 4;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    at += 12 + len;
  }
  if (channels === 0) throw new Error('PNG has no IHDR');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) throw new Error('PNG data is short');
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i] as number;
      const a = i >= channels ? (px[y * stride + i - channels] as number) : 0;
      const b = y > 0 ? (px[(y - 1) * stride + i] as number) : 0;
      const c = i >= channels && y > 0 ? (px[(y - 1) * stride + i - channels] as number) : 0;
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      } else throw new Error(`bad PNG row filter ${filter}`);
      px[y * stride + i] = v & 0xff;
    }
  }
  if (channels === 3) return { width, height, rgb: px };
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[p * 3] = px[p * 4] as number;
    rgb[p * 3 + 1] = px[p * 4 + 1] as number;
    rgb[p * 3 + 2] = px[p * 4 + 2] as number;
  }
  return { width, height, rgb };
}

/** Mean red, green, blue and luminance (Rec. 709 weights on the 0-255 values) of a decoded picture. */
export function meanColour(img: DecodedPng): { r: number; g: number; b: number; luminance: number } {
  let r = 0;
  let g = 0;
  let b = 0;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    r += img.rgb[p * 3] as number;
    g += img.rgb[p * 3 + 1] as number;
    b += img.rgb[p * 3 + 2] as number;
  }
  r /= n;
  g /= n;
  b /= n;
  return { r, g, b, luminance: 0.2126 * r + 0.7152 * g + 0.0722 * b };
}

// A 5×7 bitmap font for the mark: each glyph is 7 rows, the 5 low bits of each row left to right.
const FONT: Record<string, readonly number[]> = {
  A: [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
  D: [0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
  F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
  H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
  L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
  N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
  R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
  T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
  X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04],
  Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  '0': [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
  '1': [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  '2': [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
  '3': [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  '4': [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
  '5': [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  '6': [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
  '7': [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  '8': [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
  '9': [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  ':': [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
  '-': [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
};

/** Where the mark's band is in a picture of this size: the full width along the bottom. */
export function markBand(width: number, height: number): { top: number; height: number } {
  const h = Math.min(Math.max(9, Math.round(Math.max(width, height) * 0.06)), Math.max(1, Math.floor(height / 4)));
  return { top: height - h, height: h };
}

/** Tiny deterministic PRNG (mulberry32): the same spec always gives the same pixels. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pixels kept in PNG row layout (a filter byte of 0 before each row), so encoding is just deflate. */
class Canvas {
  readonly rows: Buffer;
  private readonly stride: number;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.stride = width * 3 + 1;
    this.rows = Buffer.alloc(this.stride * height);
  }

  rect(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    const xa = Math.max(0, Math.round(x0));
    const xb = Math.min(this.width, Math.round(x1));
    const ya = Math.max(0, Math.round(y0));
    const yb = Math.min(this.height, Math.round(y1));
    for (let y = ya; y < yb; y++) this.span(y, xa, xb, c);
  }

  /** Pixels xa..xb-1 of row y: one pixel written, then doubled with copyWithin, which is far faster than a loop. */
  span(y: number, xa: number, xb: number, c: Rgb): void {
    if (xb <= xa) return;
    const start = y * this.stride + 1 + xa * 3;
    const end = start + (xb - xa) * 3;
    this.rows[start] = c[0];
    this.rows[start + 1] = c[1];
    this.rows[start + 2] = c[2];
    for (let filled = 3; filled < end - start; filled *= 2) {
      this.rows.copyWithin(start + filled, start, Math.min(start + filled, end - filled));
    }
  }

  circle(cx: number, cy: number, r: number, c: Rgb): void {
    const ya = Math.max(0, Math.floor(cy - r));
    const yb = Math.min(this.height, Math.ceil(cy + r));
    for (let y = ya; y < yb; y++) {
      const dy = y + 0.5 - cy;
      const half = Math.sqrt(Math.max(0, r * r - dy * dy));
      const xa = Math.max(0, Math.round(cx - half));
      const xb = Math.min(this.width, Math.round(cx + half));
      this.span(y, xa, xb, c);
    }
  }

  /** Text in the bitmap font, `scale` pixels a font dot; characters it lacks are left blank. */
  text(s: string, x: number, y: number, scale: number, c: Rgb): void {
    for (let i = 0; i < s.length; i++) {
      const glyph = FONT[s[i] as string];
      if (!glyph) continue;
      for (let row = 0; row < 7; row++) {
        const bits = glyph[row] as number;
        for (let col = 0; col < 5; col++) {
          if (bits & (0x10 >> col)) {
            const px = x + (i * 6 + col) * scale;
            const py = y + row * scale;
            this.rect(px, py, px + scale, py + scale, c);
          }
        }
      }
    }
  }
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
  ];
}

/**
 * The picture a spec describes, as a PNG whose longest side is `longestSide` (the spec's own size
 * by default; the thumbnail asks for less). A poster-like layout: background gradient, a large
 * disc, a few shapes and title bars in the accent colours, and the SANDBOX mark along the bottom.
 */
export function renderPicture(spec: PictureSpec, longestSide = Math.max(spec.width, spec.height)): Buffer {
  const k = Math.min(LONGEST_SIDE, longestSide) / Math.max(spec.width, spec.height);
  const width = Math.max(1, Math.round(spec.width * k));
  const height = Math.max(1, Math.round(spec.height * k));
  const canvas = new Canvas(width, height);
  const [top, bottom] = spec.background;
  for (let y = 0; y < height; y++) canvas.rect(0, y, width, y + 1, mix(top, bottom, y / Math.max(1, height - 1)));

  // The layout moves with each version, so a revision is visibly another picture.
  const rnd = random(spec.seed ^ Math.imul(spec.version + 1, 0x9e3779b9));
  const accent = (i: number) => spec.accents[i % spec.accents.length] as Rgb;
  const unit = Math.min(width, height);
  const band = markBand(width, height);
  const usable = band.top;
  canvas.circle(width * (0.25 + rnd() * 0.5), usable * (0.3 + rnd() * 0.3), unit * (0.22 + rnd() * 0.1), accent(0));
  for (let i = 0; i < 4; i++) {
    const cx = rnd() * width;
    const cy = rnd() * usable;
    const r = unit * (0.04 + rnd() * 0.08);
    if (rnd() < 0.5) canvas.circle(cx, cy, r, accent(i + 1));
    else canvas.rect(cx - r, cy - r, cx + r, cy + r, accent(i + 1));
  }
  // Title bars, as a poster's headline would sit.
  const barH = Math.max(2, unit * 0.045);
  const barY = usable * (rnd() < 0.5 ? 0.1 : 0.72);
  for (let i = 0; i < 2; i++) {
    const y = barY + i * barH * 1.8;
    canvas.rect(width * 0.08, y, width * (0.08 + (i === 0 ? 0.6 : 0.4)), y + barH, accent(i === 0 ? 1 : 0));
  }

  canvas.rect(0, band.top, width, height, MARK_BAND);
  // The same number as the task's content_version, so a person can match a file to its version.
  const version = spec.version > 0 ? `V${spec.version}` : '';
  const candidates = [['SANDBOX', spec.label, version], ['SANDBOX', version], ['SANDBOX']].map((parts) =>
    parts.filter(Boolean).join('  '),
  );
  const pad = Math.max(2, Math.round(band.height * 0.25));
  for (const text of candidates) {
    const dots = text.length * 6 - 1;
    const scale = Math.min(Math.max(1, Math.floor((band.height * 0.6) / 7)), Math.floor((width - 2 * pad) / dots));
    if (scale < 1) continue;
    canvas.text(text, pad, band.top + Math.floor((band.height - 7 * scale) / 2), scale, MARK_INK);
    break;
  }
  return encodeRows(width, height, canvas.rows);
}

/** A picture straight from a prompt (the sandbox's first version of a task), for demos and tests. */
export function renderPng(prompt: string, longestSide = LONGEST_SIDE): Buffer {
  return renderPicture(pictureFromPrompt(prompt), longestSide);
}
