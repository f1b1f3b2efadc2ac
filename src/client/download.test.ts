/**
 * The pure checks behind every download: which addresses count as private, which
 * URLs may be fetched, and what a name from the service becomes on disk. The CLI
 * runs against the sandbox are in test/reliability/untrusted.test.ts and
 * hostile-text.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AnyGenError } from '../errors.js';
import { checkDownloadUrl, isPrivateAddress, safeFileName, withSuffix } from './download.js';

describe('the private-address classifier and the URL check', () => {
  test('private, loopback, link-local, shared, multicast and unspecified addresses are private in every spelling', () => {
    const privateOnes = [
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '127.0.0.1',
      '127.0.0.2',
      '0.0.0.0',
      '100.64.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      'fec0::1',
      'fe80::1%lo',
      // IPv4 inside IPv6: mapped (dotted and as URLs print it), compatible, NAT64, 6to4.
      '::ffff:10.0.0.1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '::ffff:c0a8:101',
      '::7f00:1',
      '::127.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b::10.1.2.3',
      '2002:7f00:1::1',
      '2002:c0a8:101::',
      // Not an address at all: refused rather than trusted.
      'not-an-ip',
    ];
    for (const a of privateOnes) assert.equal(isPrivateAddress(a), true, a);
    const publicOnes = [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '172.15.255.255',
      '172.32.0.1',
      '192.169.0.1',
      '100.128.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:80b::200e',
      '::ffff:8.8.8.8',
      '::ffff:808:808',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ];
    for (const a of publicOnes) assert.equal(isPrivateAddress(a), false, a);
  });

  test('checkDownloadUrl allows only https or the API origin, and no private host or credentials', () => {
    const policy = { trustedOrigin: 'http://127.0.0.1:4010' };
    const allowed = [
      'https://cdn.example.com/a.png',
      'https://8.8.8.8/a.png',
      'http://127.0.0.1:4010/files/t/image.png',
    ];
    for (const u of allowed) assert.equal(checkDownloadUrl(u, policy).href, new URL(u).href, u);
    const refused: [string, RegExp][] = [
      ['http://cdn.example.com/a.png', /only https/],
      ['ftp://cdn.example.com/a.png', /only https/],
      ['file:///etc/passwd', /only https/],
      ['javascript:alert(1)', /only https/],
      ['http://127.0.0.1:4011/files/t/image.png', /only https/],
      ['https://10.0.0.5/a.png', /private/],
      ['https://172.20.1.1/a.png', /private/],
      ['https://192.168.0.10/a.png', /private/],
      ['https://169.254.169.254/latest/meta-data/', /private/],
      ['https://127.0.0.1:4010/a.png', /private/],
      ['https://2130706433/a.png', /private/],
      ['https://0x7f.1/a.png', /private/],
      ['https://[::1]/a.png', /private/],
      ['https://[fe80::1]/a.png', /private/],
      ['https://[fd00::1]/a.png', /private/],
      ['https://[::ffff:127.0.0.1]/a.png', /private/],
      ['https://[::ffff:169.254.169.254]/a.png', /private/],
      ['https://[::ffff:10.0.0.1]/a.png', /private/],
      ['https://[64:ff9b::169.254.169.254]/a.png', /private/],
      ['https://localhost/a.png', /loopback name/],
      ['https://files.localhost/a.png', /loopback name/],
      ['https://user:secret@cdn.example.com/a.png', /credentials/],
      ['not a url', /not a valid URL/],
    ];
    for (const [u, why] of refused) {
      assert.throws(
        () => checkDownloadUrl(u, policy),
        (err: unknown) => {
          assert.ok(err instanceof AnyGenError, u);
          assert.equal(err.kind, 'protocol', u);
          assert.match(err.message, /^Download refused: /, u);
          assert.match(err.message, why, `${u}: ${err.message}`);
          return true;
        },
        u,
      );
    }
  });

  test('safeFileName reduces any name to a plain base name', () => {
    const cases: [string | null, string][] = [
      ['../../.bashrc', 'bashrc'],
      ['/etc/passwd', 'passwd'],
      ['a\\b', 'b'],
      ['C:\\Windows\\evil.png', 'evil.png'],
      ['..', 'fallback.png'],
      ['.', 'fallback.png'],
      ['', 'fallback.png'],
      [null, 'fallback.png'],
      ['   ', 'fallback.png'],
      ['bad\u0007na\u001b[31mme.png', 'bad_na_[31mme.png'],
      ['line\nbreak\r.png', 'line_break_.png'],
      ['a:b*c?"d"<e>|f.png', 'a_b_c__d__e__f.png'],
    ];
    for (const [name, expected] of cases) assert.equal(safeFileName(name, 'fallback.png'), expected, String(name));
    assert.ok(safeFileName(`${'n'.repeat(500)}.png`, 'f').length <= 200);
    // Cut by bytes and by whole characters: no name ends in half a character.
    const emoji = safeFileName(`${'图'.repeat(100)}.${'🎨'.repeat(20)}`, 'f');
    assert.ok(Buffer.byteLength(emoji) <= 200, `${Buffer.byteLength(emoji)} bytes`);
    const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    assert.ok(!emoji.includes('\uFFFD') && !loneSurrogate.test(emoji), emoji);
  });

  test('safeFileName drops bidirectional controls, so a name reads as what it is', () => {
    assert.equal(safeFileName('invoice\u202Egnp.exe', 'f'), 'invoicegnp.exe');
    for (const c of [
      '\u202a',
      '\u202b',
      '\u202c',
      '\u202d',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
      '\u200e',
      '\u200f',
      '\u061c',
    ]) {
      assert.equal(safeFileName(`a${c}b.png`, 'f'), 'ab.png', JSON.stringify(c));
    }
    assert.equal(safeFileName('\u202e\u2066', 'fallback.png'), 'fallback.png');
  });

  test('safeFileName renames the names Windows treats as devices, in any case and with any extension', () => {
    const cases: [string, string][] = [
      ['CON.png', '_CON.png'],
      ['nul.txt', '_nul.txt'],
      ['con', '_con'],
      ['Prn.tar.gz', '_Prn.tar.gz'],
      ['aux', '_aux'],
      ['COM1.png', '_COM1.png'],
      ['com9', '_com9'],
      ['LPT1.jpg', '_LPT1.jpg'],
      ['lpt9.png', '_lpt9.png'],
      ['COM\u00b9.png', '_COM\u00b9.png'],
      ['NUL .png', '_NUL .png'],
      ['CON.', '_CON'],
    ];
    for (const [name, expected] of cases) assert.equal(safeFileName(name, 'f'), expected, name);
    // Only the whole name before the first dot is a device: these are ordinary files.
    for (const name of ['console.png', 'nullable.txt', 'com10.png', 'COM0.png', 'lpt.png', 'my-con.png', 'auxiliary']) {
      assert.equal(safeFileName(name, 'f'), name, name);
    }
  });

  test('safeFileName drops trailing dots and spaces, which Windows would drop on its own', () => {
    const cases: [string, string][] = [
      ['name. ', 'name'],
      ['name...', 'name'],
      ['name   ', 'name'],
      ['poster.png. . ', 'poster.png'],
      ['. . .', 'fallback.png'],
    ];
    for (const [name, expected] of cases) assert.equal(safeFileName(name, 'fallback.png'), expected, name);
  });

  test('safeFileName cuts a long name to at most 255 bytes of UTF-8, keeping the extension', () => {
    for (const long of [`${'n'.repeat(296)}.png`, `${'图'.repeat(100)}.png`, `${'🎨'.repeat(80)}.png`]) {
      assert.ok(Buffer.byteLength(long) >= 300, long);
      const cut = safeFileName(long, 'f');
      assert.ok(Buffer.byteLength(cut) <= 255, `${Buffer.byteLength(cut)} bytes`);
      assert.ok(cut.endsWith('.png'), cut);
      assert.ok(cut.length > 10, cut);
      assert.ok(!cut.includes('\uFFFD'), cut);
    }
    // A cut that would leave the stem ending in a space or a dot drops those too.
    const spaced = safeFileName(`${'a'.repeat(195)}    ${'b'.repeat(100)}.png`, 'f');
    assert.ok(!/[ .]\.png$/.test(spaced), spaced);
  });
});

describe('withSuffix: a revision named with its version', () => {
  test('goes before the extension, or at the end of a name without one', () => {
    assert.equal(withSuffix('poster.png', '_v2'), 'poster_v2.png');
    assert.equal(withSuffix('poster.final.png', '_v1'), 'poster.final_v1.png');
    assert.equal(withSuffix('poster', '_v3'), 'poster_v3');
    assert.equal(withSuffix('.png', '_v1'), '.png_v1');
  });

  test('no suffix keeps the name as it is (the original, version 0)', () => {
    assert.equal(withSuffix('poster.png', undefined), 'poster.png');
    assert.equal(withSuffix('poster.png', ''), 'poster.png');
  });
});
