/**
 * What the sandbox draws for a prompt, as plain data: the shape from size words, the colours
 * from colour words, and how a change request turns one version into the next. Kept apart from
 * the PNG drawing so the word rules can be tested without pixels, and so the server only has
 * to keep one spec per task.
 */

export type Rgb = readonly [number, number, number];

export interface PictureSpec {
  width: number;
  height: number;
  /** The size the words asked for, printed in the mark so a person can check it, e.g. "A2 PORTRAIT". */
  label: string;
  /** Background gradient, top then bottom. */
  background: readonly [Rgb, Rgb];
  /** Colours of the shapes drawn over the background; never empty. */
  accents: readonly Rgb[];
  /** Places the shapes; the same prompt gives the same picture. */
  seed: number;
  /** 0 for the task's first picture, +1 for each completed change request. */
  version: number;
}

/** The longest side of every sandbox picture: big enough to look at, small enough to stay fast. */
export const LONGEST_SIDE = 640;

const COLOURS: Record<string, Rgb> = {
  red: [215, 35, 45],
  crimson: [180, 20, 55],
  scarlet: [235, 40, 30],
  maroon: [115, 20, 35],
  burgundy: [120, 25, 45],
  orange: [240, 130, 25],
  amber: [245, 170, 20],
  yellow: [245, 215, 40],
  gold: [215, 175, 55],
  golden: [215, 175, 55],
  green: [40, 155, 65],
  emerald: [20, 150, 95],
  lime: [150, 215, 50],
  olive: [115, 120, 40],
  teal: [0, 125, 130],
  turquoise: [45, 200, 190],
  cyan: [30, 195, 220],
  aqua: [40, 205, 215],
  blue: [35, 85, 215],
  navy: [20, 30, 95],
  indigo: [70, 20, 130],
  purple: [125, 45, 160],
  violet: [140, 80, 200],
  lavender: [185, 160, 225],
  magenta: [205, 35, 160],
  pink: [240, 125, 170],
  brown: [120, 75, 35],
  beige: [225, 210, 180],
  cream: [248, 238, 210],
  black: [16, 16, 18],
  white: [244, 244, 240],
  grey: [128, 128, 128],
  gray: [128, 128, 128],
  silver: [190, 192, 200],
};

const DARK_WORDS = new Set(['dark', 'deep']);
const LIGHT_WORDS = new Set(['light', 'pale', 'pastel']);

function clamp(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

/** `c` scaled toward black: f = 0.6 keeps 60% of each channel. */
export function shade(c: Rgb, f: number): Rgb {
  return [clamp(c[0] * f), clamp(c[1] * f), clamp(c[2] * f)];
}

/** `c` mixed toward white by `f` (0 = unchanged, 1 = white). */
export function tint(c: Rgb, f: number): Rgb {
  return [clamp(c[0] + (255 - c[0]) * f), clamp(c[1] + (255 - c[1]) * f), clamp(c[2] + (255 - c[2]) * f)];
}

function words(text: string): string[] {
  // Sandbox directives such as `[reads 3]` are instructions to the server, not picture words.
  return (
    text
      .replace(/\[[^\]]*\]/g, ' ')
      .toLowerCase()
      .match(/[a-z0-9]+(?::[0-9]+)?/g) ?? []
  );
}

/** Colour words in the order they appear, with "dark"/"deep"/"light"/"pale" applied to the next one. */
export function colourWords(text: string): Rgb[] {
  const found: Rgb[] = [];
  const w = words(text);
  for (let i = 0; i < w.length; i++) {
    const base = COLOURS[w[i] as string];
    if (!base) continue;
    const before = w[i - 1] ?? '';
    // "navy blue" is navy, named once; "sky blue" is a colour of its own.
    if (w[i] === 'blue' && before === 'navy') continue;
    if (w[i] === 'blue' && before === 'sky') {
      found.push([110, 180, 235]);
      continue;
    }
    if (DARK_WORDS.has(before)) found.push(shade(base, 0.5));
    else if (LIGHT_WORDS.has(before)) found.push(tint(base, 0.55));
    else found.push(base);
  }
  return found;
}

interface Shape {
  width: number;
  height: number;
  label: string;
}

function fit(ratio: number, label: string): Shape {
  // ratio is width / height; kept between 1:4 and 4:1 so neither side is a sliver.
  const r = Math.max(0.25, Math.min(4, ratio));
  return r >= 1
    ? { width: LONGEST_SIDE, height: Math.round(LONGEST_SIDE / r), label }
    : { width: Math.round(LONGEST_SIDE * r), height: LONGEST_SIDE, label };
}

/** The shape the size words ask for, or undefined when there are none. */
export function shapeWords(text: string): Shape | undefined {
  const w = words(text);
  const has = (...any: string[]) => any.some((x) => w.includes(x));
  const landscape = has('landscape', 'horizontal');
  const portrait = has('portrait', 'vertical');
  const pixels = /\b(\d{2,5})\s*[x×]\s*(\d{2,5})\b/i.exec(text);
  if (pixels) {
    const [pw, ph] = [Number(pixels[1]), Number(pixels[2])];
    if (pw > 0 && ph > 0) return fit(pw / ph, `${pw}X${ph}`);
  }
  const ratio = w.find((x) => /^\d{1,2}:\d{1,2}$/.test(x));
  if (ratio) {
    const [rw, rh] = ratio.split(':').map(Number) as [number, number];
    if (rw > 0 && rh > 0) {
      const story = rw < rh && has('story', 'stories', 'reel', 'reels');
      return fit(rw / rh, story ? `${ratio} STORY` : ratio);
    }
  }
  const a = w.find((x) => /^a[0-8]$/.test(x));
  if (a) {
    const name = a.toUpperCase();
    return landscape ? fit(Math.SQRT2, `${name} LANDSCAPE`) : fit(Math.SQRT1_2, `${name} PORTRAIT`);
  }
  if (has('story', 'stories', 'reel', 'reels', 'tiktok')) return fit(9 / 16, '9:16 STORY');
  if (has('widescreen', 'youtube', 'thumbnail', 'slide', 'presentation')) return fit(16 / 9, '16:9');
  if (has('banner', 'header', 'leaderboard')) return fit(4, '4:1 BANNER');
  if (has('square', 'avatar', 'icon')) return fit(1, 'SQUARE');
  if (landscape) return fit(3 / 2, '3:2 LANDSCAPE');
  if (portrait) return fit(2 / 3, '2:3 PORTRAIT');
  // A poster or flyer with no size given is most often printed A-series portrait.
  if (has('poster', 'flyer', 'leaflet')) return fit(Math.SQRT1_2, 'A PORTRAIT');
  return undefined;
}

/** FNV-1a: a stable seed from the prompt without pulling in crypto for it. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function hsl(h: number, s: number, l: number): Rgb {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  return [clamp(f(0) * 255), clamp(f(8) * 255), clamp(f(4) * 255)];
}

function gradientOf(c: Rgb): [Rgb, Rgb] {
  return [tint(c, 0.12), shade(c, 0.8)];
}

function paletteFor(colours: Rgb[], seed: number): { background: [Rgb, Rgb]; accents: Rgb[] } {
  const [first, ...rest] = colours;
  if (!first) {
    // No colour asked for: a pleasant palette of its own, different for each prompt.
    const hue = seed % 360;
    return {
      background: gradientOf(hsl(hue, 0.45, 0.32)),
      accents: [hsl(hue + 150, 0.7, 0.6), hsl(hue + 30, 0.65, 0.7), hsl(hue + 200, 0.5, 0.45)],
    };
  }
  // One colour: its lighter and darker kin, so the picture stays that colour on average.
  return { background: gradientOf(first), accents: rest.length > 0 ? rest : [tint(first, 0.45), shade(first, 0.55)] };
}

/** The first picture of a task: shape, colours and layout seed from the prompt's words. */
export function pictureFromPrompt(prompt: string): PictureSpec {
  const seed = hash(prompt);
  const shape = shapeWords(prompt) ?? fit(1, 'SQUARE');
  let { background, accents } = paletteFor(colourWords(prompt), seed);
  const spec: PictureSpec = { ...shape, background, accents, seed, version: 0 };
  // "dark"/"light" on its own ("a dark jazz club") sets the mood of the whole picture.
  const mood = brightness(prompt, true);
  if (mood !== 1) ({ background, accents } = applyBrightness(spec, mood, false));
  return { ...spec, background, accents };
}

/**
 * How much brighter (> 1) or darker (< 1) the words ask for; 1 when they do not. `adjectives`
 * also counts a bare "dark"/"light" that does not qualify a colour ("a dark background").
 */
function brightness(text: string, adjectives: boolean): number {
  const w = words(text);
  let f = 1;
  const strength = w.some((x) => x === 'much' || x === 'lot' || x === 'very' || x === 'far')
    ? 1.6
    : w.some((x) => x === 'slightly' || x === 'bit' || x === 'little')
      ? 0.5
      : 1;
  for (let i = 0; i < w.length; i++) {
    const x = w[i] as string;
    const next = w[i + 1] ?? '';
    const qualifiesColour = COLOURS[next] !== undefined;
    if (x === 'darker' || x === 'darken' || x === 'dimmer' || x === 'moodier') f = 1 - 0.35 * strength;
    else if (x === 'lighter' || x === 'brighter' || x === 'lighten' || x === 'brighten') f = 1 + 0.35 * strength;
    else if (adjectives && x === 'dark' && !qualifiesColour) f = 0.65;
    else if (adjectives && x === 'light' && !qualifiesColour) f = 1.3;
  }
  return Math.max(0.2, f);
}

function applyBrightness(
  spec: PictureSpec,
  f: number,
  backgroundOnly: boolean,
): { background: [Rgb, Rgb]; accents: Rgb[] } {
  // Darker scales toward black; lighter mixes toward white, which also lifts black.
  const move = (c: Rgb) => (f < 1 ? shade(c, f) : tint(c, Math.min(0.9, f - 1)));
  return {
    background: [move(spec.background[0]), move(spec.background[1])],
    accents: backgroundOnly ? [...spec.accents] : spec.accents.map(move),
  };
}

/**
 * The next version after a change request: size words reshape it, colour words recolour it (the
 * first the background, or the shapes when the words are about text/accents), "darker"/"lighter"
 * move it (only the background when the request names the background). The layout moves with the
 * version, so even words the sandbox does not understand give a visibly different picture.
 */
export function revisePicture(previous: PictureSpec, change: string): PictureSpec {
  const w = words(change);
  const aboutBackground = w.includes('background') || w.includes('backdrop');
  const aboutAccents = w.some((x) => /^(accents?|text|letters|lettering|title|shapes|details|highlights?)$/.test(x));
  const shape = shapeWords(change);
  let background: [Rgb, Rgb] = [previous.background[0], previous.background[1]];
  let accents: Rgb[] = [...previous.accents];
  const colours = colourWords(change);
  if (colours.length > 0) {
    if (aboutAccents && !aboutBackground) accents = colours;
    else {
      const [first, ...rest] = colours;
      background = gradientOf(first as Rgb);
      if (rest.length > 0) accents = rest;
    }
  }
  const next: PictureSpec = {
    ...previous,
    ...(shape ? { width: shape.width, height: shape.height, label: shape.label } : {}),
    background,
    accents,
    version: previous.version + 1,
  };
  const f = brightness(change, false);
  if (f === 1) return next;
  return { ...next, ...applyBrightness(next, f, aboutBackground && !aboutAccents) };
}
