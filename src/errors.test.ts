import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AnyGenError,
  EXIT,
  exitCodeFor,
  interrupted,
  kindForServerCode,
  unexpectedError,
  usageError,
} from './errors.js';

describe('AnyGenError', () => {
  it('with() copies every field and replaces only those given', () => {
    const e = new AnyGenError({
      kind: 'rate_limit',
      message: 'slow down',
      status: 429,
      requestId: 'r1',
      retryAfter: 3,
    });
    const f = e.with({ message: 'still slow' });
    assert.equal(f.kind, 'rate_limit');
    assert.equal(f.message, 'still slow');
    assert.equal(f.status, 429);
    assert.equal(f.requestId, 'r1');
    assert.equal(f.retryAfter, 3);
    assert.equal(e.message, 'slow down', 'the original is unchanged');
  });

  it('withHint() appends to the hint', () => {
    const e = usageError('bad', 'first').withHint('second');
    assert.equal(e.hint, 'first\nsecond');
    assert.equal(e.sent, false);
  });

  it('toJSON() is what --json prints', () => {
    assert.deepEqual(new AnyGenError({ kind: 'auth', message: 'no', code: 100004003, requestId: 'x' }).toJSON(), {
      type: 'auth',
      message: 'no',
      code: 100004003,
      request_id: 'x',
    });
  });

  it('anything else becomes one api_error line', () => {
    const e = unexpectedError(new TypeError('boom'));
    assert.equal(e.kind, 'api_error');
    assert.match(e.message, /Unexpected error: boom/);
  });
});

describe('exit codes', () => {
  it('by kind', () => {
    assert.equal(exitCodeFor('usage'), EXIT.usage);
    assert.equal(exitCodeFor('auth'), 3);
    assert.equal(exitCodeFor('server_error'), 4);
    assert.equal(exitCodeFor('network'), 4);
    assert.equal(exitCodeFor('wait_timeout'), 5);
    assert.equal(exitCodeFor(interrupted().kind), 130);
    assert.equal(exitCodeFor('task_failed'), 1);
  });

  it('server codes map onto kinds', () => {
    assert.equal(kindForServerCode(100004001, 400), 'validation');
    assert.equal(kindForServerCode(100004003, 403), 'auth');
    assert.equal(kindForServerCode(100006029, 200), 'permission');
    assert.equal(kindForServerCode(100005001, 500), 'server_error');
    assert.equal(kindForServerCode(undefined, 429), 'rate_limit');
    assert.equal(kindForServerCode(undefined, 502), 'server_error');
  });
});
