/** The library: the typed client, its errors and schemas, and the sandbox server. */
export {
  AnyGenClient,
  type CallOptions,
  type ClientOptions,
  type CreateTaskRequest,
  checkTaskId,
  DEFAULT_BASE_URL,
  type GetMessagesRequest,
  OPERATIONS,
  type Operation,
  type PrepareRequest,
  type SendMessageRequest,
  TRACKING_EXTRA,
} from './client/client.js';
export { checkDownloadUrl, type Downloaded, downloadFile, isPrivateAddress, safeFileName } from './client/download.js';
export { closeAgents } from './client/http.js';
export type {
  ConversationFile,
  CreateAnswer,
  MessagesPage,
  PrepareAnswer,
  SendMessageAnswer,
  Task,
  TaskMessage,
  UploadAnswer,
  VerifyAnswer,
} from './client/schemas.js';
export { type CallResult, DEFAULT_TIMEOUTS, type RequestLog, type Timeouts } from './client/transport.js';
export { MAX_UPLOAD_BYTES } from './client/upload.js';
export { AnyGenError, type AnyGenErrorInit, type ErrorKind } from './errors.js';
export { pngSize, renderPng } from './sandbox/png.js';
export { SANDBOX_KEY, type Sandbox, type SandboxOptions, startSandbox } from './sandbox/server.js';
export { configPath, readConfig, resolveApiKey, updateConfig } from './store/config.js';
export { VERSION } from './version.js';
