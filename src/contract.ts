/** Facts of the wire contract (shared/anygen-api.md) that both the client and the sandbox use. */

/** The operations the reference script accepted; images use `ai_designer`. */
export const OPERATIONS = [
  'ai_designer',
  'slide',
  'doc',
  'smart_draw',
  'storybook',
  'data_analysis',
  'website',
  'finance',
  'deep_research',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Sent with prepare, create and send-message so AnyGen can tell where tasks come from. */
export const TRACKING_EXTRA = { create_from: 'skill', skill_name: 'image-generator' } as const;

export const DEFAULT_BASE_URL = 'https://www.anygen.io';

/** The environment variables the CLI reads (besides XDG_* and HOME for its files). */
export const ENV_API_KEY = 'ANYGEN_API_KEY';
export const ENV_BASE_URL = 'ANYGEN_BASE_URL';
/** Set in a detached watcher's environment to the task it waits for (see detach.ts). */
export const ENV_WATCHER = 'ANYGEN_WATCHER';
