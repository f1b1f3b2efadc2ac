// The esbuild plugins that make the CLI's bundles load less: stubs for what undici and
// commander load but this CLI never runs, built-ins loaded on first call, and undici's
// WebAssembly parser as files of its own. scripts/build.mjs builds with them, and
// scripts/bench.mjs builds its floor (one bare undici request) with the same ones.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

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

export const stubs = [
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
  // undici reads two things of node:http, both at load: the default header-size limit,
  // and http.IncomingMessage, which its destroy() compares a body stream's class with
  // (to work around an old Node bug with server requests passed on as bodies). Loading
  // node:http (with _http_server, _http_agent and the rest) costs ~3 ms on every request
  // command. Node's limit is 16 KiB unless --max-http-header-size says otherwise, and
  // then the real module is asked; our bodies are strings, Buffers, file streams and
  // async iterables, never a server's request, so the class is one nothing is made of.
  stub(
    'no-http',
    /^(node:)?http$/,
    /\/node_modules\/undici\//,
    `const flagged = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('max-http-header-size'));
module.exports = {
  maxHeaderSize: flagged ? require('node:http').maxHeaderSize : 16384,
  IncomingMessage: class NotAnIncomingMessage {},
};`,
  ),
  // undici builds, at load, a search tree of ~100 well-known header names, to hand back
  // one shared lower-case string per name when it reads a response's headers. Without it
  // (lookup finds nothing) the name is lower-cased from its bytes: the same string. The
  // tree costs 1-4 ms of every request command's start, the lower-casing nothing to see.
  stub(
    'no-header-tree',
    /^\.\/tree(\.js)?$/,
    /\/node_modules\/undici\/lib\/core\/util\.js$/,
    'module.exports = { tree: { lookup: () => null } };',
  ),
  // Bodies here are strings, Buffers and async iterables; undici reaches for its fetch
  // code only for FormData and web streams.
  stub(
    'no-fetch-body',
    /\/web\/fetch\/body(\.js)?$/,
    /\/node_modules\/undici\/lib\//,
    "module.exports = { extractBody() { throw new Error('fetch bodies are not part of this build'); } };",
  ),
  // undici calls only assert(value) (no assert.* methods): loading node:assert for it costs
  // ~1 ms (~2 ms loaded) on every request. The real assert is loaded, and called with the
  // same arguments, only when an assertion fails; its methods are forwarded.
  stub(
    'lazy-assert',
    /^(node:)?assert$/,
    /\/node_modules\/undici\//,
    `let real;
const load = () => (real ??= require('node:assert'));
function assert(...args) { if (args.length === 0 || !args[0]) load()(...args); }
for (const key of ${JSON.stringify(Object.keys((await import('node:assert')).default))}) {
  assert[key] = (...args) => load()[key](...args);
}
module.exports = assert;`,
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
const LAZY_BUILTINS = ['crypto', 'assert', 'dns', 'fs/promises', 'stream/promises', 'timers/promises', 'os'];
export const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|').replaceAll('/', '\\/')})$`);
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

/**
 * undici's HTTP parser is WebAssembly, shipped inside its JavaScript as two base64
 * strings (SIMD and plain, ~72 KB each): 40% of app-net.cjs, read, scanned and held in
 * the code cache by every command that talks to the service. Here they are the binary
 * files dist/llhttp_simd.wasm and dist/llhttp.wasm (54 KB each), read when the first
 * connection is made (what undici's modules export: a Buffer of the module's bytes).
 * The CommonJS bundles only: the library keeps undici's own.
 */
const WASM = { 'llhttp_simd-wasm': 'llhttp_simd.wasm', 'llhttp-wasm': 'llhttp.wasm' };
export const wasmFiles = Object.entries(WASM).map(([mod, file]) =>
  stub(
    `wasm-file-${file}`,
    new RegExp(`/llhttp/${mod}(\\.js)?$`),
    /\/node_modules\/undici\//,
    `module.exports = require('node:fs').readFileSync(require('node:path').join(__dirname, ${JSON.stringify(file)}));`,
  ),
);
export async function writeWasmFiles(outDir) {
  const undici = join(ROOT, 'node_modules/undici/lib/llhttp');
  for (const [mod, file] of Object.entries(WASM)) {
    const { default: bytes } = await import(join(undici, `${mod}.js`));
    if (!Buffer.isBuffer(bytes) || bytes.readUInt32BE(0) !== 0x0061736d) throw new Error(`${mod}.js: not WebAssembly`);
    writeFileSync(join(outDir, file), bytes);
  }
}
