/** A task as labelled lines: the labels agents read (`Task ID:`, `File URL:`, `Local file:`). */
import type { HumanLine } from './output.js';
import type { TaskResult } from './results.js';

export function humanTask(r: TaskResult): HumanLine[] {
  return [
    ['Status', r.status],
    ['Task ID', r.task_id],
    ['Task URL', r.task_url],
    ['Thumbnail URL', r.thumbnail_url],
    ...r.files.map((f): HumanLine => ['File URL', f.url]),
    ...r.downloads.map((d): HumanLine => ['Local file', d.path]),
  ];
}
