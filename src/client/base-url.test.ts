import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AnyGenError } from '../errors.js';
import { baseUrlFrom, maskCredentials } from './base-url.js';

const from = (value: string) => baseUrlFrom({ ANYGEN_BASE_URL: value });

function refused(value: string): AnyGenError {
  try {
    from(value);
  } catch (err) {
    assert.ok(err instanceof AnyGenError);
    assert.equal(err.kind, 'usage');
    return err;
  }
  assert.fail(`${value} was accepted`);
}

describe('ANYGEN_BASE_URL', () => {
  test('the default, and a value with trailing slashes', () => {
    assert.equal(baseUrlFrom({}), 'https://www.anygen.io');
    assert.equal(from('http://127.0.0.1:8787//'), 'http://127.0.0.1:8787');
  });

  test('a value ending in /v1 or /v1/openapi means the same service: the client adds those itself', () => {
    for (const value of [
      'https://www.anygen.io/v1',
      'https://www.anygen.io/v1/',
      'https://www.anygen.io/v1/openapi',
      'https://www.anygen.io/v1/openapi/',
    ]) {
      assert.equal(from(value), 'https://www.anygen.io', value);
    }
    assert.equal(from('https://gw.example.com/anygen/v1/openapi'), 'https://gw.example.com/anygen');
    assert.equal(from('https://gw.example.com/v1x'), 'https://gw.example.com/v1x');
  });

  test('a value without a scheme suggests one, showing the whole value', () => {
    const local = refused('localhost:8787');
    assert.equal(local.message, 'ANYGEN_BASE_URL has no scheme: "localhost:8787"');
    assert.equal(local.hint, 'Add one: ANYGEN_BASE_URL=http://localhost:8787');
    assert.match(refused('127.0.0.1:8787/v1').hint ?? '', /=http:\/\/127\.0\.0\.1:8787\/v1$/);
    const remote = refused('www.anygen.io');
    assert.match(remote.hint ?? '', /https:\/\/www\.anygen\.io .*http:\/\/www\.anygen\.io/);
  });

  test('credentials in the value are masked wherever it is shown', () => {
    const bare = refused('user:s3cret@proxy.example.com:3128');
    assert.equal(bare.message, 'ANYGEN_BASE_URL has no scheme: "***@proxy.example.com:3128"');
    assert.ok(!`${bare.message}${bare.hint}`.includes('s3cret'));
    const ftp = refused('ftp://user:s3cret@files.example.com');
    assert.ok(!`${ftp.message}${ftp.hint}`.includes('s3cret'), ftp.message);
    assert.match(ftp.message, /\*\*\*@files\.example\.com/);
  });

  test('maskCredentials', () => {
    assert.equal(maskCredentials('https://a:b@host/x@y'), 'https://***@host/x@y');
    assert.equal(maskCredentials('https://token@host'), 'https://***@host');
    assert.equal(maskCredentials('https://host/path'), 'https://host/path');
    assert.equal(maskCredentials('a:b@host'), '***@host');
  });
});
