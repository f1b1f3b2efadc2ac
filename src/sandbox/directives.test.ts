/** The prompt directives, one by one: each word turns on what the sandbox promises for it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { asksNoCredits, parseDirectives, saysReady } from './directives.js';

describe('parseDirectives', () => {
  test('a prompt without directives asks for nothing', () => {
    assert.deepEqual(parseDirectives('a red fox in snow'), { faults: [], fileFaults: [], legacy: false });
  });

  test('[fail reason] fails with that reason; a bare [fail] with a stock one', () => {
    assert.equal(parseDirectives('poster [fail  the model is busy ]').fail, 'the model is busy');
    assert.equal(parseDirectives('poster [fail]').fail, 'The sandbox was asked to fail this task');
  });

  test('[cancelled] ends the task cancelled', () => {
    assert.equal(parseDirectives('x [cancelled]').cancelled, true);
    assert.equal(parseDirectives('x').cancelled, undefined);
  });

  test('[reads N] sets the reads before completion, 0 included', () => {
    assert.equal(parseDirectives('x [reads 7]').reads, 7);
    assert.equal(parseDirectives('x [reads 0]').reads, 0);
  });

  test('[faults SPEC] and [file-faults SPEC] parse with the fault language', () => {
    const d = parseDirectives('x [faults 503*2, drop] [file-faults slow:400 short]');
    assert.deepEqual(d.faults, [{ type: 'status', status: 503 }, { type: 'status', status: 503 }, { type: 'drop' }]);
    assert.deepEqual(d.fileFaults, [{ type: 'slow', ms: 400 }, { type: 'short' }]);
  });

  test('a bad fault spec throws instead of being ignored', () => {
    assert.throws(() => parseDirectives('x [faults teapot]'), /unknown fault "teapot"/);
    assert.throws(() => parseDirectives('x [file-faults delay]'), /needs milliseconds/);
  });

  test('[file-name NAME] and [file-url URL] are taken as written', () => {
    const d = parseDirectives('x [file-name ../../etc/passwd] [file-url http://10.0.0.1/a.png]');
    assert.equal(d.fileName, '../../etc/passwd');
    assert.equal(d.fileUrl, 'http://10.0.0.1/a.png');
  });

  test('[legacy] asks for the old answer shape', () => {
    assert.equal(parseDirectives('x [legacy]').legacy, true);
  });

  test('unknown words in brackets are plain prompt text', () => {
    assert.deepEqual(parseDirectives('a [red] fox [no-credits]'), { faults: [], fileFaults: [], legacy: false });
  });

  test('several directives combine; a later one of the same word wins', () => {
    const d = parseDirectives('[reads 2] poster [fail first] [cancelled] [reads 5]');
    assert.equal(d.reads, 5);
    assert.equal(d.fail, 'first');
    assert.equal(d.cancelled, true);
  });
});

describe('asksNoCredits and saysReady', () => {
  test('[no-credits] only exactly so', () => {
    assert.equal(asksNoCredits('poster [no-credits]'), true);
    assert.equal(asksNoCredits('poster [no-credits please]'), false);
    assert.equal(asksNoCredits('poster no-credits'), false);
  });

  test('"just create" or "ready" ends the dialogue, in any case', () => {
    assert.equal(saysReady('Just create it'), true);
    assert.equal(saysReady('I am READY'), true);
    assert.equal(saysReady('make it blue'), false);
  });
});
