/**
 * Real PNG pictures drawn from a prompt, so that a sandbox download is an image a
 * viewer opens and different prompts give visibly different pictures.
 */
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

interface Shape {
  x: number;
  y: number;
  r: number;
  color: [number, number, number];
  square: boolean;
}

/** An RGB PNG of `size`×`size` pixels: a two-colour gradient with shapes placed by the prompt's hash. */
export function renderPng(prompt: string, size: number, version = 0): Buffer {
  const h = createHash('sha256').update(`${version}:${prompt}`).digest();
  const at = (i: number) => h[i % h.length] as number;
  const top: [number, number, number] = [at(0), at(1), at(2)];
  const bottom: [number, number, number] = [at(3), at(4), at(5)];
  const shapes: Shape[] = [];
  for (let i = 0; i < 5; i++) {
    const b = 6 + i * 5;
    shapes.push({
      x: (at(b) / 255) * size,
      y: (at(b + 1) / 255) * size,
      r: (0.08 + (at(b + 2) / 255) * 0.2) * size,
      color: [255 - at(b + 3), at(b + 4), 255 - at(b + 2)],
      square: at(b + 3) % 2 === 0,
    });
  }
  const row = size * 3 + 1;
  const raw = Buffer.alloc(row * size);
  for (let y = 0; y < size; y++) {
    raw[y * row] = 0;
    const t = y / Math.max(1, size - 1);
    for (let x = 0; x < size; x++) {
      let c: [number, number, number] = [
        Math.round(top[0] * (1 - t) + bottom[0] * t),
        Math.round(top[1] * (1 - t) + bottom[1] * t),
        Math.round(top[2] * (1 - t) + bottom[2] * t),
      ];
      for (const s of shapes) {
        const dx = x - s.x;
        const dy = y - s.y;
        const inside = s.square ? Math.abs(dx) < s.r && Math.abs(dy) < s.r : dx * dx + dy * dy < s.r * s.r;
        if (inside) c = s.color;
      }
      const o = y * row + 1 + x * 3;
      raw[o] = c[0];
      raw[o + 1] = c[1];
      raw[o + 2] = c[2];
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
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
