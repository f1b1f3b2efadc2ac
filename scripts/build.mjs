// Bundles the CLI and the library with esbuild, with every runtime package inside
// (the installed package has no dependencies, so installing it fetches and runs nothing).
//
// The CLI is CommonJS only: Node's ESM loader costs ~7 ms and a graph of chunks more,
// on every step an agent runs. `--help` loads only the first file:
//   dist/bin.cjs          the process edge, commander and the command table;
//   dist/app.cjs          what every command runs first, and the light commands (config, tasks);
//   dist/app-net.cjs      the HTTP stack (undici), zod and the commands that talk to the service;
//   dist/app-ora.cjs, dist/app-conf.cjs, dist/app-sandbox.cjs  the spinner, config writes, the sandbox;
// each module executed only when first used (see BUNDLES below).
// The library (dist/index.js) is one ESM file. dist/THIRD-PARTY-LICENSES.txt holds the
// licence of every package inside them, taken from the bundles' own list of inputs.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { lazyBuiltins, stubs, wasmFiles, writeWasmFiles } from './build-plugins.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
rmSync(join(ROOT, 'dist'), { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20.18',
  minify: true,
  legalComments: 'none',
  metafile: true,
  define: { __ANYGEN_VERSION__: JSON.stringify(pkg.version) },
  plugins: [...stubs, lazyBuiltins],
  logLevel: 'warning',
};

// Modules the CLI entry loads on demand (cli.ts and bin.ts import them with import()).
const LAZY = /^\.\/(factory|store\/cleanup|sleep|commands\/[\w-]+)\.js$/;
const lazyNames = ['factory', 'store/cleanup', 'sleep'].concat(
  readdirSync(join(ROOT, 'src/commands'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => `commands/${f.replace(/\.ts$/, '')}`),
);

// The MCP SDK (with its own copy of zod) is a file of its own, dist/mcp-sdk.cjs, read only
// by `anygen-image mcp`: inside app.cjs it would be compiled, and cached, on every step.
const mcpSdkApart = {
  name: 'mcp-sdk-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/sdk\.js$/ }, (args) =>
      /src[\\/]mcp[\\/]\w+\.ts$/.test(args.importer) ? { path: './mcp-sdk.cjs', external: true } : undefined,
    );
  },
};
const mcpSdk = await build({
  ...common,
  entryPoints: [join(ROOT, 'src/mcp/sdk.ts')],
  outfile: join(ROOT, 'dist/mcp-sdk.cjs'),
  format: 'cjs',
});

// The command bundles. esbuild has no code splitting for CommonJS, so the split is made
// here: each module of ours or of a package belongs to exactly one bundle, the first in
// this list whose entries reach it (through static imports, or import() of a module that
// is no bundle's entry). Every other bundle gets, in its place, a stub that takes it
// from its owner's loader: one instance per process (the temp-file registry in
// store/cleanup.ts is the one bin.ts's second Ctrl-C empties), and each command reads
// and compiles only the bundles it runs. `config get` no longer reads undici, ajv or
// the spinners; `create` no longer reads the sandbox, conf or ora. The batch and MCP
// commands share app-net.cjs (they import zod): create reads their ~50 KB but, with the
// code cache, never compiles them. (The MCP SDK stays apart, in dist/mcp-sdk.cjs.)
const BUNDLES = [
  // Light commands and what every command runs first: no HTTP stack, no validators.
  { file: 'app.cjs', entries: ['factory', 'store/cleanup', 'sleep', 'commands/config', 'commands/tasks'] },
  // Everything that talks to the service, with zod: a package two bundles imported would
  // be exported whole (all of zod/mini, ~400 KB) rather than only what is used, so every
  // module importing zod lives here, the --json result schemas included.
  {
    file: 'app-net.cjs',
    entries: [
      'client/client',
      'render/results',
      ...['upload', 'prepare', 'create', 'run', 'poll', 'status', 'download', 'thumbnail', 'send-message'],
      ...['get-messages', 'verify', 'batch', 'mcp'],
    ].map((n) => (n.includes('/') ? n : `commands/${n}`)),
  },
  // ora draws the spinner on a terminal; conf writes the config file (config set). In
  // this order, as both use mimic-function: the spinner should not read conf's validators.
  { file: 'app-ora.cjs', entries: ['ora'] },
  { file: 'app-conf.cjs', entries: ['conf'] },
  { file: 'app-sandbox.cjs', entries: ['commands/sandbox'] },
];

const BUNDLE_FILE = /^\.\/app[\w-]*\.cjs$/;

/** A bundle entry as the path esbuild's metafile names it: src/… or node_modules/…. */
const entryKey = (name) =>
  /^[a-z-]+$/.test(name) && !existsSync(join(ROOT, 'src', `${name}.ts`))
    ? relative(ROOT, fileURLToPath(import.meta.resolve(name)))
    : `src/${name}.ts`;
for (const b of BUNDLES) b.keys = b.entries.map(entryKey);
const entryOwner = new Map(BUNDLES.flatMap((b) => b.keys.map((k) => [k, b])));
for (const name of lazyNames) {
  if (!name.startsWith('commands/')) continue;
  const key = `src/${name}.ts`;
  const helper = ['commands/task', 'commands/prompt'].includes(name);
  if (!helper && !entryOwner.has(key)) throw new Error(`${key}: add the command to a bundle in scripts/build.mjs`);
}

const bundleOptions = {
  ...common,
  absWorkingDir: ROOT,
  format: 'cjs',
  // import() becomes require(): no ESM loader, and the file can be compiled by vm.Script.
  supported: { 'dynamic-import': false },
  // version.ts reads package.json through import.meta only when run from source; the
  // build stamps the version in, so that branch is gone from the bundle.
  logOverride: { 'empty-import-meta': 'silent' },
};
const entryStdin = (keys, sourcefile) => ({
  contents: `const modules = {\n${keys.map((k) => `  ${JSON.stringify(k)}: () => require(${JSON.stringify(`./${k}`)}),`).join('\n')}\n};\nexports.load = (name) => modules[name]();\n`,
  resolveDir: ROOT,
  sourcefile,
  loader: 'js',
});

/**
 * Resolves every import the way esbuild would (other plugins included), then lets
 * `decide(key, resolved, args)` keep it, or replace it. `key` is the file's path from
 * ROOT, undefined for built-ins and the stubs above.
 */
function everyImport(name, decide) {
  return {
    name,
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.[name] || args.kind === 'entry-point') return undefined;
        if (BUNDLE_FILE.test(args.path)) return { path: args.path, external: true };
        const r = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { [name]: true },
        });
        if (r.errors.length) return { errors: r.errors };
        const key = r.namespace === 'file' && !r.external ? relative(ROOT, r.path).replaceAll('\\', '/') : undefined;
        const kept = {
          path: r.path,
          namespace: r.namespace,
          external: r.external,
          sideEffects: r.sideEffects,
          pluginData: r.pluginData,
        };
        return decide(key, kept, args) ?? kept;
      });
    },
  };
}

// Pass 1: which modules each bundle reaches, and which cross a bundle's border.
const owner = new Map();
const formats = new Map();
const crossing = [];
for (const bundle of BUNDLES) {
  const edges = [];
  const result = await build({
    ...bundleOptions,
    stdin: entryStdin(bundle.keys, `${bundle.file}-entry.cjs`),
    write: false,
    outfile: join(ROOT, 'dist', bundle.file),
    plugins: [
      everyImport('reach', (key, _kept, args) => {
        if (!key) return undefined;
        const importer = relative(ROOT, args.importer).replaceAll('\\', '/');
        edges.push([importer, key]);
        const other = entryOwner.get(key);
        // Another bundle's entry: a border, not followed.
        return other && other !== bundle ? { path: key, external: true } : undefined;
      }),
      ...stubs,
      lazyBuiltins,
      ...wasmFiles,
      mcpSdkApart,
    ],
  });
  for (const [key, input] of Object.entries(result.metafile.inputs)) {
    if (key.includes(':')) continue;
    if (!owner.has(key)) owner.set(key, bundle);
    if (input.format) formats.set(key, input.format);
  }
  crossing.push(...edges);
}
for (const b of BUNDLES) b.exports = new Set(b.keys);
for (const [from, to] of crossing) {
  if (owner.has(from) && owner.get(to) && owner.get(from) !== owner.get(to)) owner.get(to).exports.add(to);
}
// What bin.cjs imports lazily.
for (const name of lazyNames) {
  const key = `src/${name}.ts`;
  if (!owner.has(key)) throw new Error(`${key} belongs to no bundle`);
  owner.get(key).exports.add(key);
}

/**
 * The stub standing for a module of another bundle, as the importer would see the
 * module itself: a CommonJS module's exports object; an ES module's namespace, its
 * default export included (a plain CommonJS stub would hand an ES importer the whole
 * namespace as its default).
 */
function borrowed(key) {
  const take = `require(${JSON.stringify(`./${owner.get(key).file}`)}).load(${JSON.stringify(key)})`;
  if (formats.get(key) === 'cjs') return { contents: `module.exports = ${take};`, loader: 'js' };
  return {
    contents: `import * as ns from ${JSON.stringify(`borrowed-cjs:${key}`)};\nexport * from ${JSON.stringify(`borrowed-cjs:${key}`)};\nexport default ns.default;\n`,
    loader: 'js',
  };
}

// Pass 2: each bundle with the others' modules replaced by stubs.
const bundles = [];
for (const bundle of BUNDLES) {
  const result = await build({
    ...bundleOptions,
    stdin: entryStdin([...bundle.exports], `${bundle.file}-entry.cjs`),
    outfile: join(ROOT, 'dist', bundle.file),
    plugins: [
      {
        name: 'borrowed-cjs',
        setup(b) {
          b.onResolve({ filter: /^borrowed-cjs:/ }, ({ path }) => ({
            path: path.slice(13),
            namespace: 'borrowed-cjs',
          }));
          b.onLoad({ filter: /.*/, namespace: 'borrowed-cjs' }, ({ path }) => ({
            contents: `module.exports = require(${JSON.stringify(`./${owner.get(path).file}`)}).load(${JSON.stringify(path)});`,
            loader: 'js',
          }));
        },
      },
      everyImport('borrow', (key) => {
        const from = key && owner.get(key);
        return from && from !== bundle ? { path: key, namespace: 'borrowed' } : undefined;
      }),
      {
        name: 'borrowed',
        setup(b) {
          b.onLoad({ filter: /.*/, namespace: 'borrowed' }, ({ path }) => borrowed(path));
        },
      },
      ...stubs,
      lazyBuiltins,
      ...wasmFiles,
      mcpSdkApart,
    ],
  });
  for (const [key, input] of Object.entries(result.metafile.inputs)) if (input.format) formats.set(key, input.format);
  bundles.push(result);
}
// dist/bin.cjs: the lazy modules are taken from their bundles when first imported.
const cli = await build({
  ...common,
  entryPoints: [join(ROOT, 'src/bin.ts')],
  outfile: join(ROOT, 'dist/bin.cjs'),
  format: 'cjs',
  supported: { 'dynamic-import': false },
  plugins: [
    ...stubs,
    lazyBuiltins,
    {
      name: 'lazy-app',
      setup(b) {
        b.onResolve({ filter: LAZY }, (args) => ({ path: `src/${args.path.slice(2, -3)}.ts`, namespace: 'borrowed' }));
        b.onLoad({ filter: /.*/, namespace: 'borrowed' }, ({ path }) => borrowed(path));
        b.onResolve({ filter: BUNDLE_FILE }, (args) => ({ path: args.path, external: true }));
        b.onResolve({ filter: /^borrowed-cjs:/ }, ({ path }) => ({ path: path.slice(13), namespace: 'borrowed-cjs' }));
        b.onLoad({ filter: /.*/, namespace: 'borrowed-cjs' }, ({ path }) => ({
          contents: `module.exports = require(${JSON.stringify(`./${owner.get(path).file}`)}).load(${JSON.stringify(path)});`,
          loader: 'js',
        }));
      },
    },
  ],
});

// The library: one ES module (with require() for the CommonJS packages inside it).
const lib = await build({
  ...common,
  entryPoints: [join(ROOT, 'src/index.ts')],
  outfile: join(ROOT, 'dist/index.js'),
  format: 'esm',
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
});

await writeWasmFiles(join(ROOT, 'dist'));
writeFileSync(join(ROOT, 'dist/THIRD-PARTY-LICENSES.txt'), thirdPartyLicenses([...bundles, cli, lib, mcpSdk]));

/** The licence text of every package with code in the bundles, found from the metafiles. */
function thirdPartyLicenses(results) {
  const dirs = new Set();
  for (const r of results) {
    for (const input of Object.keys(r.metafile.inputs)) {
      if (input.includes(':')) continue; // a stub, not code
      const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll('\\', '/'));
      if (m) dirs.add(join(ROOT, m[1]));
    }
  }
  const parts = [...dirs]
    .map((dir) => {
      const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
      if (!file) throw new Error(`${meta.name} has no licence file to ship with the bundle`);
      const text = readFileSync(join(dir, file), 'utf8').trim();
      return { name: meta.name, version: meta.version, license: meta.license, text };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const header =
    'Third-party code bundled into dist/ by scripts/build.mjs, with its licence texts.\n' +
    `Packages: ${parts.map((p) => `${p.name}@${p.version}`).join(', ')}\n` +
    "dist/llhttp_simd.wasm and dist/llhttp.wasm are undici's HTTP parser (llhttp, MIT, compiled to\n" +
    "WebAssembly), written out byte for byte from undici's lib/llhttp/, where undici ships it.\n";
  return `${header}\n${parts.map((p) => `${'='.repeat(72)}\n${p.name}@${p.version} (${p.license})\n\n${p.text}\n`).join('\n')}`;
}
