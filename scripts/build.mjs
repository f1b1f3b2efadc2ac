// Bundles the CLI and the library with esbuild. Entry points share chunks, and each
// command is its own chunk loaded on demand: start-up pays only for what runs.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// commander requires child_process at load time only to run external subcommands, which
// this CLI has none of. Loading it pulls in net, dgram and readline: ~8 ms on every start.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes(`${'node_modules'}/commander/`) ? { path: 'child_process', namespace: 'lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

// The MCP SDK, bundled apart (src/mcp/sdk.ts says why); the server loads it as ./sdk.js.
const mcpSdkApart = {
  name: 'mcp-sdk-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/sdk\.js$/ }, (args) =>
      /src[\\/]mcp[\\/]\w+\.ts$/.test(args.importer) ? { path: './sdk.js', external: true } : undefined,
    );
  },
};

// Modules the CLI entry loads on demand; they live in the ESM build below.
const LAZY = /^\.\/(factory|sleep|version|store\/cleanup|commands\/[\w-]+)\.js$/;
const lazyModules = readdirSync(new URL('../src/commands', import.meta.url))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => `src/commands/${f}`);

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20.18',
  minify: true,
  legalComments: 'linked',
  define: { __ANYGEN_VERSION__: JSON.stringify(pkg.version) },
  plugins: [lazyChildProcess],
  logLevel: 'warning',
};

// The library, and everything the CLI loads once it knows which command runs: ESM with
// shared chunks, so each command brings only its own code.
await build({
  ...common,
  entryPoints: [
    'src/index.ts',
    'src/factory.ts',
    'src/store/cleanup.ts',
    'src/sleep.ts',
    'src/version.ts',
    ...lazyModules,
  ],
  outdir: 'dist',
  outbase: 'src',
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  format: 'esm',
  // commander and parts of conf and ora are CommonJS and call require() for node builtins.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  plugins: [lazyChildProcess, mcpSdkApart],
});

// The MCP SDK with its own copy of zod, loaded only by the mcp command.
await build({
  ...common,
  entryPoints: ['src/mcp/sdk.ts'],
  outfile: 'dist/mcp/sdk.js',
  format: 'esm',
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
});

// The CLI entry: CommonJS, one file with commander. Node starts its ESM loader only when a
// command runs (~7 ms), so --help and --version do without it.
await build({
  ...common,
  entryPoints: ['src/bin.ts'],
  outfile: 'dist/bin.cjs',
  format: 'cjs',
  plugins: [
    lazyChildProcess,
    {
      name: 'lazy-esm',
      setup(b) {
        b.onResolve({ filter: LAZY }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
});
