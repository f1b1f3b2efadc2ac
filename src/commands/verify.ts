/** `verify`: is the key accepted, and how many credits are left? */
import { AnyGenError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import type { VerifyResult } from '../render/results.js';
import { describeKeySource, maskKey } from '../store/config.js';

export async function run(ctx: CommandContext, opts: NetworkOptions) {
  const client = await ctx.client(opts);
  const { data, requestId } = await client.verifyKey({ signal: ctx.io.signal });
  if (!data.verified) {
    throw new AnyGenError({
      kind: 'auth',
      message: 'AnyGen did not verify this API key',
      hint: 'Check your API key (it looks like sk-…): anygen-image config get api_key',
      ...(requestId ? { requestId } : {}),
    });
  }
  const key = ctx.key(opts);
  const result: VerifyResult = {
    verified: true,
    credits: data.credits === undefined || data.credits === null ? null : String(data.credits),
    key: maskKey(key.key),
    key_source: key.source,
    request_id: requestId ?? null,
  };
  await ctx.out.result('verify', result, [
    ['Verified', 'yes'],
    ['Credits', result.credits],
    ['Key', `${result.key} (from ${describeKeySource(result.key_source, ctx.configPath)})`],
  ]);
}
