/**
 * The pieces of the MCP SDK the server uses. The build bundles this file on its own
 * (scripts/build.mjs): the SDK brings zod's full build, and sharing zod's modules with
 * the CLI's chunks would make every other command load part of it. The tools' input
 * schemas use this bundle's zod for the same reason.
 */

export { Server } from '@modelcontextprotocol/sdk/server/index.js';
export { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
export type { CallToolResult, ServerNotification, Tool } from '@modelcontextprotocol/sdk/types.js';
export { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

import {
  array,
  boolean,
  describe,
  int,
  maximum,
  minimum,
  number,
  optional,
  regex,
  strictObject,
  string,
  toJSONSchema,
  enum as zodEnum,
} from 'zod/mini';

/** The zod functions the tools use, listed so the bundle holds only what they need. */
export const z = {
  array,
  boolean,
  describe,
  enum: zodEnum,
  int,
  maximum,
  minimum,
  number,
  optional,
  regex,
  strictObject,
  string,
  toJSONSchema,
};
