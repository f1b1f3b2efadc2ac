// Bundles the CLI and the library with esbuild, with every runtime package inside
// (the installed package has no dependencies, so installing it fetches and runs nothing).
//
// The CLI is CommonJS only: Node's ESM loader costs ~7 ms and a graph of chunks more,
// on every step an agent runs. Two files, so `--help` loads only the first:
//   dist/bin.cjs  the process edge, commander and the command table;
//   dist/app.cjs  everything a command runs, each module executed only when first used.
// The library (dist/index.js) is one ESM file. dist/THIRD-PARTY-LICENSES.txt holds the
// licence of every package inside them, taken from the bundles' own list of inputs.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
rmSync(join(ROOT, 'dist'), { recursive: true, force: true });

/** Replaces a module with `contents` when `filter` matches its path and its importer's. */
function stub(name, filter, importer, contents) {
  return {
    name,
    setup(b) {
      b.onResolve({ filter }, (args) =>
        importer.test(args.importer.replaceAll('\\', '/')) ? { path: args.path, namespace: name } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: name }, () => ({ contents, loader: 'js' }));
    },
  };
}

const stubs = [
  // commander requires child_process at load time only to run external subcommands, which
  // this CLI has none of. Loading it pulls in net, dgram and readline: ~8 ms on every start.
  stub(
    'lazy-child-process',
    /^(node:)?child_process$/,
    /\/node_modules\/commander\//,
    "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
  ),
  // undici's client loads its HTTP/2 code, and with it node:http2, at start; it runs only
  // when a server offers h2 over TLS, which undici accepts only with allowH2 (never set here).
  stub(
    'no-http2',
    /^\.\/client-h2(\.js)?$/,
    /\/node_modules\/undici\/lib\/dispatcher\/client\.js$/,
    "module.exports = function connectH2() { throw new Error('HTTP/2 is not part of this build'); };",
  ),
  // Bodies here are strings, Buffers and async iterables; undici reaches for its fetch
  // code only for FormData and web streams.
  stub(
    'no-fetch-body',
    /\/web\/fetch\/body(\.js)?$/,
    /\/node_modules\/undici\/lib\//,
    "module.exports = { extractBody() { throw new Error('fetch bodies are not part of this build'); } };",
  ),
];

/**
 * Built-ins that ES modules in the bundles (ours, and conf's) import for functions they
 * call later, never at load: esbuild hoists such imports to the top of the bundle, so
 * every command would load them. Here each becomes functions that require the built-in
 * on first call. node:crypto alone costs ~5 ms (~25 ms on a loaded machine) and no
 * light command calls it. Importing a class from them fails the build (no such
 * export), never the CLI; CommonJS packages (undici) keep their plain require.
 */
const LAZY_BUILTINS = ['crypto', 'assert'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async ({ path }) => {
      const real = (await import(`node:${path}`)).default;
      const keys = Object.keys(real).filter((k) => /^[a-z]\w*$/.test(k));
      const fns = keys.filter((k) => typeof real[k] === 'function');
      const values = keys.filter((k) => typeof real[k] !== 'function');
      const contents = [
        'let c;',
        `const m = () => (c ??= require('node:${path}'));`,
        ...fns.map((n) => `export function ${n}(...a) { return m().${n}(...a); }`),
        // The default import (`crypto.randomBytes`, `assert.deepEqual`): the same functions.
        `const d = ${typeof real === 'function' ? 'function (...a) { return m()(...a); }' : '{}'};`,
        `Object.assign(d, { ${fns.join(', ')} });`,
        ...values.map((n) => `Object.defineProperty(d, '${n}', { get: () => m().${n}, enumerable: true });`),
        'export default d;',
      ];
      return { contents: contents.join('\n'), loader: 'js' };
    });
  },
};

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

// dist/app.cjs: one entry exporting a loader per lazy module. require() of an ES module
// inside a bundle becomes a lazy initialiser: a module's top level runs on first use.
const app = await build({
  ...common,
  stdin: {
    contents: `const modules = {\n${lazyNames.map((n) => `  ${JSON.stringify(n)}: () => require('./src/${n}.ts'),`).join('\n')}\n};\nexports.load = (name) => modules[name]();\n`,
    resolveDir: ROOT,
    sourcefile: 'app-entry.cjs',
    loader: 'js',
  },
  outfile: join(ROOT, 'dist/app.cjs'),
  format: 'cjs',
  plugins: [...stubs, lazyBuiltins, mcpSdkApart],
  // import() becomes require(): no ESM loader, and the file can be compiled by vm.Script.
  supported: { 'dynamic-import': false },
  // version.ts reads package.json through import.meta only when run from source; the
  // build stamps the version in, so that branch is gone from the bundle.
  logOverride: { 'empty-import-meta': 'silent' },
});

// dist/bin.cjs: the lazy modules are taken from dist/app.cjs when first imported.
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
        b.onResolve({ filter: LAZY }, (args) => ({ path: args.path.slice(2, -3), namespace: 'lazy-app' }));
        b.onResolve({ filter: /^\.\/app\.cjs$/ }, (args) => ({ path: args.path, external: true }));
        b.onLoad({ filter: /.*/, namespace: 'lazy-app' }, (args) => ({
          contents: `module.exports = require('./app.cjs').load(${JSON.stringify(args.path)});`,
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

writeFileSync(join(ROOT, 'dist/THIRD-PARTY-LICENSES.txt'), thirdPartyLicenses([app, cli, lib, mcpSdk]));

/** The licence text of every package with code in the bundles, found from the metafiles. */
function thirdPartyLicenses(results) {
  const dirs = new Set();
  for (const r of results) {
    for (const input of Object.keys(r.metafile.inputs)) {
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
    `Packages: ${parts.map((p) => `${p.name}@${p.version}`).join(', ')}\n`;
  return `${header}\n${parts.map((p) => `${'='.repeat(72)}\n${p.name}@${p.version} (${p.license})\n\n${p.text}\n`).join('\n')}`;
}
