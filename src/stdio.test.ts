import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIRECT_LIMIT, FdSink, type FdSinkOptions } from './stdio.js';

/** A stand-in for Node's stream: records what reached it. */
function fakeStream() {
  const got: string[] = [];
  const stream = {
    write: (chunk: string | Uint8Array, done?: () => void) => {
      got.push(Buffer.from(chunk).toString());
      done?.();
      return false;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, got };
}

/** A direct sink for stdout over `fake`, where a broken pipe fails the test unless `over` says otherwise. */
function sinkOver(fake: ReturnType<typeof fakeStream>, over: Partial<FdSinkOptions>): FdSink {
  return new FdSink(1, {
    direct: true,
    open: () => fake.stream,
    onBrokenPipe: () => assert.fail('no EPIPE here'),
    ...over,
  });
}

test('a pipe or file is written with write(2), in full across short writes, and no stream is built', () => {
  const written: string[] = [];
  let opened = 0;
  const sink = new FdSink(1, {
    direct: true,
    open: () => {
      opened++;
      return fakeStream().stream;
    },
    onBrokenPipe: () => assert.fail('no EPIPE here'),
    // Three bytes a call, as a pipe may take.
    write: (_fd, bytes, offset) => {
      const n = Math.min(3, bytes.length - offset);
      written.push(bytes.subarray(offset, offset + n).toString());
      return n;
    },
  });
  assert.equal(sink.write('héllo, world\n'), true);
  assert.equal(written.join(''), 'héllo, world\n');
  let flushed = false;
  sink.flush(() => {
    flushed = true;
  });
  assert.equal(flushed, true);
  assert.equal(opened, 0);
  assert.equal(sink.direct, true);
});

test('a write that would block hands the rest, and every later write, to the stream in order', () => {
  const fake = fakeStream();
  let calls = 0;
  const direct: string[] = [];
  const sink = sinkOver(fake, {
    write: (_fd, bytes, offset) => {
      calls++;
      if (calls === 2) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      direct.push(bytes.subarray(offset, offset + 4).toString());
      return 4;
    },
  });
  // The stream's answer (false: queued) is the caller's cue to wait for 'drain'.
  assert.equal(sink.write('abcdefgh'), false);
  sink.write('next');
  assert.deepEqual(direct, ['abcd']);
  assert.deepEqual(fake.got, ['efgh', 'next']);
  assert.equal(sink.direct, false);
});

test('a reader that went away (EPIPE) is reported once, and later writes are dropped', () => {
  let broken = 0;
  let calls = 0;
  const sink = new FdSink(2, {
    direct: true,
    open: () => assert.fail('no stream for a closed pipe'),
    onBrokenPipe: () => broken++,
    write: () => {
      calls++;
      throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
    },
  });
  assert.equal(sink.write('one\n'), true);
  assert.equal(sink.write('two\n'), true);
  assert.equal(broken, 1);
  assert.equal(calls, 1);
});

test('any other write error is not swallowed', () => {
  const sink = sinkOver(fakeStream(), {
    write: () => {
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    },
  });
  assert.throws(() => sink.write('x'), /no space left/);
});

test('a terminal (or anything not a plain file) goes through the stream from the start', () => {
  const fake = fakeStream();
  const sink = sinkOver(fake, { direct: false, write: () => assert.fail('not written directly') });
  sink.write('shown\n');
  let flushed = false;
  sink.flush(() => {
    flushed = true;
  });
  assert.deepEqual(fake.got, ['shown\n', '']);
  assert.equal(flushed, true);
});

test(`past ${DIRECT_LIMIT} bytes the stream takes over, in order: a pipe never holds a write(2) for long`, () => {
  const fake = fakeStream();
  const direct: string[] = [];
  const sink = sinkOver(fake, {
    write: (_fd, bytes, offset) => {
      direct.push(bytes.subarray(offset).toString());
      return bytes.length - offset;
    },
  });
  const half = 'a'.repeat(DIRECT_LIMIT / 2);
  sink.write(half);
  sink.write(half);
  assert.equal(sink.direct, true);
  sink.write('b');
  sink.write('c');
  assert.deepEqual(direct, [half, half]);
  assert.deepEqual(fake.got, ['b', 'c']);
  assert.equal(sink.direct, false);
});

test('stream() hands every later write to the stream (a command that runs for a while)', () => {
  const fake = fakeStream();
  const sink = sinkOver(fake, { write: () => assert.fail('not written directly after stream()') });
  assert.equal(sink.stream(), fake.stream);
  sink.write('waiting\n');
  assert.deepEqual(fake.got, ['waiting\n']);
});
