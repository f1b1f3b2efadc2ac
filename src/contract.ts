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
