/** `mcp`: the client as a Model Context Protocol server on stdio, for agent hosts. */
import type { CommandContext } from '../factory.js';
import type { McpOptions } from '../mcp/server.js';

export async function run(ctx: CommandContext, opts: McpOptions) {
  // The SDK is loaded here and nowhere else: no other command pays for it.
  const { serve } = await import('../mcp/server.js');
  await serve(ctx, opts);
}
