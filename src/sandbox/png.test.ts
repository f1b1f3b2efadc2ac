/** The sandbox's pictures as a viewer sees them: valid PNGs, the asked shape and colours, the mark. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { pictureFromPrompt, revisePicture } from './picture.js';
import { decodePng, encodePng, MARK_BAND, MARK_INK, markBand, meanColour, renderPicture, renderPng } from './png.js';
import { startSandbox } from './server.js';

/** Chunks checked the long way (lengths, CRCs, IHDR fields), independent of decodePng. */
function checkPng(data: Buffer): { width: number; height: number; inflated: number } {
  assert.deepEqual([...data.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const types: string[] = [];
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  for (let at = 8; at < data.length; ) {
    const len = data.readUInt32BE(at);
    const type = data.toString('ascii', at + 4, at + 8);
    assert.equal(data.readUInt32BE(at + 8 + len), crc32(data.subarray(at + 4, at + 8 + len)) >>> 0, `${type} CRC`);
    types.push(type);
    const body = data.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      assert.deepEqual([...body.subarray(8)], [8, 2, 0, 0, 0], '8-bit RGB, no interlace');
    }
    if (type === 'IDAT') idat.push(body);
    at += 12 + len;
  }
  assert.equal(types[0], 'IHDR');
  assert.equal(types.at(-1), 'IEND');
  return { width, height, inflated: inflateSync(Buffer.concat(idat)).length };
}

const mean = (png: Buffer) => meanColour(decodePng(png));

describe('PNG files', () => {
  test('a rendered picture is a valid PNG of the spec size, with every row present', () => {
    for (const prompt of ['A2 portrait', 'A4 landscape', 'square', '16:9', '9:16', 'banner', 'story', 'a cat']) {
      const spec = pictureFromPrompt(prompt);
      const { width, height, inflated } = checkPng(renderPicture(spec));
      assert.deepEqual([width, height], [spec.width, spec.height], prompt);
      assert.equal(inflated, (width * 3 + 1) * height, prompt);
      assert.ok(Math.max(width, height) <= 640);
    }
  });

  test('the thumbnail keeps the shape at a longest side of 80', () => {
    const { width, height } = checkPng(renderPicture(pictureFromPrompt('A2 portrait'), 80));
    assert.deepEqual([width, height], [57, 80]);
    const banner = checkPng(renderPicture(pictureFromPrompt('banner'), 80));
    assert.deepEqual([banner.width, banner.height], [80, 20]);
  });

  test('no request makes a picture larger than 640 px', () => {
    const { width, height } = checkPng(renderPicture(pictureFromPrompt('1920x1080'), 4000));
    assert.deepEqual([width, height], [640, 360]);
  });

  test('decodePng reads rows written with each of the five filters', () => {
    const width = 4;
    const height = 5;
    const px = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + 11) % 256);
    const stride = width * 3;
    const at = (y: number, i: number) => (y < 0 || i < 0 ? 0 : (px[y * stride + i] as number));
    const rows: number[] = [];
    for (let y = 0; y < height; y++) {
      const filter = y; // rows 0..4 use filters None, Sub, Up, Average, Paeth
      rows.push(filter);
      for (let i = 0; i < stride; i++) {
        const [x, a, b, c] = [at(y, i), at(y, i - 3), at(y - 1, i), at(y - 1, i - 3)];
        const p = a + b - c;
        const paeth =
          Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
            ? a
            : Math.abs(p - b) <= Math.abs(p - c)
              ? b
              : c;
        const pred = [0, a, b, (a + b) >> 1, paeth][filter] as number;
        rows.push((x - pred) & 0xff);
      }
    }
    const own = encodePng(width, height, px);
    // Swap the IDAT of our own encoder for the hand-filtered one: same length field and CRC rules.
    const idat = deflateSync(Buffer.from(rows));
    const head = own.subarray(0, 33);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(idat.length);
    const body = Buffer.concat([Buffer.from('IDAT'), idat]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    const file = Buffer.concat([head, len, body, crc, own.subarray(own.length - 12)]);
    assert.deepEqual(decodePng(file), { width, height, rgb: px });
    assert.deepEqual(decodePng(own), { width, height, rgb: px });
  });
});

describe('colours', () => {
  test('"red" is red on average', () => {
    const m = mean(renderPng('a red poster'));
    assert.ok(m.r > m.g + 60 && m.r > m.b + 60, JSON.stringify(m));
  });

  test('"dark blue" is blue and dark', () => {
    const m = mean(renderPng('a dark blue square'));
    assert.ok(m.b > m.r + 30 && m.b > m.g + 30, JSON.stringify(m));
    assert.ok(m.luminance < 80, JSON.stringify(m));
  });

  test('"gold" is warm: red and green well above blue', () => {
    const m = mean(renderPng('gold'));
    assert.ok(m.r > m.b + 60 && m.g > m.b + 40, JSON.stringify(m));
  });

  test('"green" is green', () => {
    const m = mean(renderPng('a green banner'));
    assert.ok(m.g > m.r + 40 && m.g > m.b + 40, JSON.stringify(m));
  });
});

describe('change requests, measured on the pixels', () => {
  const first = pictureFromPrompt('I need a poster for a jazz night. A2 portrait, deep blue and gold');

  test('"make the background darker" gives a measurably darker next version', () => {
    const before = mean(renderPicture(first)).luminance;
    const after = mean(renderPicture(revisePicture(first, 'make the background darker'))).luminance;
    assert.ok(after < before * 0.9, `${before} -> ${after}`);
  });

  test('"darker" on a plain prompt and "lighter" move the luminance the right way', () => {
    const plain = pictureFromPrompt('a cat on a sofa');
    const base = mean(renderPicture(plain)).luminance;
    assert.ok(mean(renderPicture(revisePicture(plain, 'darker'))).luminance < base * 0.8);
    assert.ok(mean(renderPicture(revisePicture(plain, 'lighter'))).luminance > base * 1.2);
  });

  test('a colour word changes the mean colour of the next version', () => {
    const red = mean(renderPicture(revisePicture(first, 'make the background red')));
    const before = mean(renderPicture(first));
    assert.ok(red.r > before.r + 50 && red.r > red.b, `${JSON.stringify(before)} -> ${JSON.stringify(red)}`);
  });

  test('a request the sandbox does not understand still gives a different picture', () => {
    assert.notDeepEqual(renderPicture(revisePicture(first, 'add a saxophone')), renderPicture(first));
  });
});

describe('the SANDBOX mark', () => {
  function band(png: Buffer) {
    const img = decodePng(png);
    const { top, height } = markBand(img.width, img.height);
    let ink = 0;
    let other = 0;
    let inkLeft = img.width;
    for (let y = top; y < top + height; y++) {
      for (let x = 0; x < img.width; x++) {
        const o = (y * img.width + x) * 3;
        const c = [img.rgb[o], img.rgb[o + 1], img.rgb[o + 2]];
        if (c.every((v, i) => v === MARK_INK[i])) {
          ink++;
          inkLeft = Math.min(inkLeft, x);
        } else if (!c.every((v, i) => v === MARK_BAND[i])) other++;
      }
    }
    return { img, top, height, ink, other, inkLeft };
  }

  test('a band along the bottom holds only the mark colours, with letters in it', () => {
    for (const prompt of ['A2 portrait', 'banner', 'story', 'white square', 'yellow']) {
      const b = band(renderPng(prompt));
      assert.equal(b.other, 0, prompt);
      assert.ok(b.height >= 9, prompt);
      // "SANDBOX" alone is 117 font dots; each dot is at least one pixel.
      assert.ok(b.ink >= 117, `${prompt}: ${b.ink} ink pixels`);
      assert.ok(b.inkLeft < b.img.width / 8, `${prompt}: the mark starts at the left`);
    }
  });

  test('the thumbnail carries the mark too', () => {
    const b = band(renderPicture(pictureFromPrompt('a cat'), 80));
    assert.equal(b.other, 0);
    assert.ok(b.ink >= 117, `${b.ink}`);
  });

  test('a revision says its version in the mark, so it has more ink than the first', () => {
    const first = pictureFromPrompt('A2 portrait poster');
    assert.ok(band(renderPicture(revisePicture(first, 'darker'))).ink > band(renderPicture(first)).ink);
  });
});

describe('served by the sandbox over loopback', () => {
  test('the task file has the asked shape, and a "darker" reply serves a darker next version', async (t) => {
    const s = await startSandbox({ readsToComplete: 0, replyReads: 0 });
    t.after(() => s.close());
    const api = async (path: string, init: { method?: string; body?: unknown } = {}) => {
      const res = await fetch(`${s.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' },
        ...(init.body ? { body: JSON.stringify(init.body) } : {}),
      });
      // biome-ignore lint/suspicious/noExplicitAny: a test reads a few known fields of the wire answers
      return (await res.json()) as Record<string, any>;
    };
    const file = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());
    const created = await api('/v1/openapi/tasks', {
      method: 'POST',
      body: { operation: 'ai_designer', prompt: 'A2 portrait poster, deep blue and gold' },
    });
    assert.equal(created.success, true, JSON.stringify(created));
    const task = await api(`/v1/openapi/tasks/${created.task_id}`);
    const first = await file(task.output.file_url);
    assert.equal(decodePng(first).width, 453);
    assert.equal(checkPng(await file(task.output.thumbnail_url)).height, 80);

    await api(`/v1/openapi/tasks/${created.task_id}/messages`, {
      method: 'POST',
      body: { content: 'make the background darker' },
    });
    const page = await api(`/v1/openapi/tasks/${created.task_id}/messages?limit=10`);
    assert.equal(page.task_snapshot.content_version, 1);
    const second = await file(task.output.file_url);
    assert.equal(decodePng(second).height, 640);
    assert.ok(mean(second).luminance < mean(first).luminance * 0.9);
  });
});
