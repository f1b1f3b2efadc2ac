/** The sandbox's word rules: prompt words to a picture spec, change requests to the next one. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { colourWords, LONGEST_SIDE, type PictureSpec, pictureFromPrompt, type Rgb, revisePicture } from './picture.js';

const sum = (c: Rgb) => c[0] + c[1] + c[2];
const ratio = (s: PictureSpec) => s.width / s.height;

describe('size words', () => {
  const cases: [string, number, number][] = [
    ['A2 portrait poster for a jazz night', 453, 640],
    ['A4 landscape flyer', 640, 453],
    ['an A3 print', 453, 640],
    ['a square album cover', 640, 640],
    ['a 16:9 title slide', 640, 360],
    ['a 9:16 phone wallpaper', 360, 640],
    ['an instagram story about coffee', 360, 640],
    ['a website banner for a bakery', 640, 160],
    ['a 1920x1080 desktop wallpaper', 640, 360],
    ['a landscape photo of hills', 640, 427],
    ['a portrait of a cat', 427, 640],
    ['a poster for a concert', 453, 640],
    ['a cat on a sofa', 640, 640],
  ];
  for (const [prompt, width, height] of cases) {
    test(`"${prompt}" is ${width}×${height}`, () => {
      const s = pictureFromPrompt(prompt);
      assert.deepEqual([s.width, s.height], [width, height]);
      assert.ok(Math.max(s.width, s.height) <= LONGEST_SIDE);
    });
  }

  test('A-series pictures have the sides in ratio √2, either way round', () => {
    assert.ok(Math.abs(1 / ratio(pictureFromPrompt('A2 portrait')) - Math.SQRT2) < 0.01);
    assert.ok(Math.abs(ratio(pictureFromPrompt('A4 landscape')) - Math.SQRT2) < 0.01);
  });

  test('a banner is wide and a story is 9:16', () => {
    assert.ok(ratio(pictureFromPrompt('banner')) >= 3);
    assert.ok(Math.abs(ratio(pictureFromPrompt('story')) - 9 / 16) < 0.01);
  });

  test('an extreme ratio is kept within 1:4 so the longest side stays 640', () => {
    const s = pictureFromPrompt('a 1:20 bookmark');
    assert.deepEqual([s.width, s.height], [160, 640]);
  });

  test('the label names the size that was asked for', () => {
    assert.equal(pictureFromPrompt('A2 portrait').label, 'A2 PORTRAIT');
    assert.equal(pictureFromPrompt('A4 landscape').label, 'A4 LANDSCAPE');
    assert.equal(pictureFromPrompt('instagram story').label, '9:16 STORY');
  });
});

describe('colour words', () => {
  test('colours are found in order, "dark"/"deep" make the next one darker', () => {
    const [blue, gold] = colourWords('deep blue and gold lettering') as [Rgb, Rgb];
    assert.ok(blue[2] > blue[0] && blue[2] > blue[1], `blue: ${blue}`);
    assert.ok(sum(blue) < sum(colourWords('blue')[0] as Rgb));
    assert.ok(gold[0] > gold[2] && gold[1] > gold[2], `gold: ${gold}`);
  });

  test('"light"/"pale" make it lighter; "navy blue" is one colour, "sky blue" a light blue', () => {
    assert.ok(sum(colourWords('light green')[0] as Rgb) > sum(colourWords('green')[0] as Rgb));
    assert.equal(colourWords('navy blue').length, 1);
    const [sky] = colourWords('sky blue') as [Rgb];
    assert.ok(sky[2] > sky[0] && sum(sky) > sum(colourWords('blue')[0] as Rgb));
  });

  test('the first colour is the background, the rest the accents', () => {
    const s = pictureFromPrompt('red and gold');
    const [top] = s.background;
    assert.ok(top[0] > top[1] + 100 && top[0] > top[2] + 100, `background ${top}`);
    assert.deepEqual(s.accents, colourWords('gold'));
  });

  test('one colour keeps the whole palette in that colour', () => {
    for (const c of [...pictureFromPrompt('a red poster').background, ...pictureFromPrompt('a red poster').accents]) {
      assert.ok(c[0] > c[1] && c[0] > c[2], `${c}`);
    }
  });

  test('words inside sandbox directives are not picture words', () => {
    assert.deepEqual(colourWords('a cat [file-name red.png]'), []);
    assert.equal(pictureFromPrompt('a cat [file-name banner.png]').label, 'SQUARE');
  });

  test('the same prompt gives the same spec; another prompt another layout', () => {
    assert.deepEqual(pictureFromPrompt('jazz night'), pictureFromPrompt('jazz night'));
    assert.notEqual(pictureFromPrompt('jazz night').seed, pictureFromPrompt('jazz morning').seed);
  });
});

describe('change requests', () => {
  const first = pictureFromPrompt('A2 portrait poster, deep blue and gold');

  test('each revision is the next version and leaves the previous spec as it was', () => {
    const copy = structuredClone(first);
    const next = revisePicture(first, 'add a saxophone');
    assert.equal(next.version, 1);
    assert.equal(revisePicture(next, 'more space').version, 2);
    assert.deepEqual(first, copy);
  });

  test('"darker" darkens every colour; "make the background darker" only the background', () => {
    const all = revisePicture(first, 'darker please');
    for (const [a, b] of [
      ...first.background.map((c, i) => [c, all.background[i]]),
      [first.accents[0], all.accents[0]],
    ])
      assert.ok(sum(b as Rgb) < sum(a as Rgb) * 0.8, `${a} -> ${b}`);
    const bg = revisePicture(first, 'make the background darker');
    assert.ok(sum(bg.background[0]) < sum(first.background[0]) * 0.8);
    assert.deepEqual(bg.accents, first.accents);
  });

  test('"much darker" goes further than "slightly darker"', () => {
    const much = revisePicture(first, 'much darker');
    const slight = revisePicture(first, 'slightly darker');
    assert.ok(sum(much.background[0]) < sum(slight.background[0]));
  });

  test('"lighter" lightens, even a black picture', () => {
    const black = pictureFromPrompt('black');
    const next = revisePicture(black, 'make it lighter');
    assert.ok(sum(next.background[0]) > sum(black.background[0]) + 60);
  });

  test('a colour recolours the background; a colour for the text recolours the accents', () => {
    const red = revisePicture(first, 'make it red');
    assert.ok(red.background[0][0] > red.background[0][2]);
    assert.deepEqual(red.accents, first.accents);
    const text = revisePicture(first, 'make the text white');
    assert.deepEqual(text.background, first.background);
    assert.deepEqual(text.accents, colourWords('white'));
  });

  test('size words reshape the next version', () => {
    const wide = revisePicture(first, 'make it 16:9 instead');
    assert.deepEqual([wide.width, wide.height, wide.label], [640, 360, '16:9']);
    assert.deepEqual([revisePicture(first, 'darker').width, revisePicture(first, 'darker').height], [453, 640]);
  });
});
