/** `upload --file PATH`: a reference file to a durable file token. */
import { checkUploadFile } from '../client/upload.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText } from '../flags.js';
import type { UploadResult } from '../render/results.js';

export interface UploadOptions extends NetworkOptions {
  file?: string;
}

export async function run(ctx: CommandContext, opts: UploadOptions) {
  const file = requireText('--file', opts.file);
  // Checked before the key is looked up, so bad input is exit 2 even with no key.
  const source = await checkUploadFile(file);
  const client = await ctx.client(opts);
  ctx.out.info(`Uploading ${source.name} (${source.size} bytes)…`);
  const { data, requestId } = await client.upload(file, { signal: ctx.io.signal });
  const result: UploadResult = {
    file_token: data.file_token,
    filename: data.filename ?? source.name,
    file_size: data.file_size ?? source.size,
    request_id: requestId ?? null,
  };
  await ctx.out.result('upload', result, [
    ['File Token', result.file_token],
    ['Filename', result.filename],
    ['Size', result.file_size === null ? null : `${result.file_size} bytes`],
  ]);
}
