/**
 * The parts of undici the client uses, loaded from its own files rather than its
 * index: the index also loads fetch, WebSocket, EventSource, caches, mocks and
 * node:http2 (~25 ms of start-up on every request-making command). The build stubs
 * out HTTP/2 and the fetch body helpers these files refer to but never reach here
 * (see scripts/build.mjs).
 */
import type * as Undici from 'undici';
import requestImpl from 'undici/lib/api/api-request.js';
import buildConnectorImpl from 'undici/lib/core/connect.js';
import AgentImpl from 'undici/lib/dispatcher/agent.js';

export type Dispatcher = Undici.Dispatcher;
export type Connector = Undici.buildConnector.connector;

export const Agent = AgentImpl as unknown as typeof Undici.Agent;
export const buildConnector = buildConnectorImpl as unknown as typeof Undici.buildConnector;
/**
 * Dispatcher#request, which undici's index attaches to the prototype. Its documentation
 * allows an (async) iterable body, which its type declarations leave out.
 */
export const request = requestImpl as unknown as (
  this: Dispatcher,
  options: Omit<Undici.Dispatcher.RequestOptions, 'body'> & { body?: string | Buffer | AsyncIterable<Uint8Array> },
) => Promise<Undici.Dispatcher.ResponseData>;
