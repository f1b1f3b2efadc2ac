// The floor under `create` in scripts/bench.mjs: one create request made with undici
// alone, bundled with the CLI's own plugins (scripts/build-plugins.mjs) and Liftoff-only
// on Node 20 as bin/anygen-image.js sets it; no commander, config, zod, history or
// output. Whatever `create` takes beyond this row is the CLI's own.
'use strict';

if (/^v20\./.test(process.version)) require('node:v8').setFlagsFromString('--liftoff-only');

const Agent = require('undici/lib/dispatcher/agent.js');
const request = require('undici/lib/api/api-request.js');

const { ANYGEN_BASE_URL: origin, ANYGEN_BENCH_KEY: key } = process.env;
const agent = new Agent({ keepAliveTimeout: 4000, connections: 1 });
request
  .call(agent, {
    origin,
    path: '/v1/openapi/tasks',
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ auth_token: `Bearer ${key}`, operation: 'ai_designer', prompt: 'bench' }),
  })
  .then(async (res) => {
    const answer = JSON.parse(await res.body.text());
    if (typeof answer.task_id !== 'string') throw new Error(`no task created: ${JSON.stringify(answer)}`);
    await agent.close();
  })
  .catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  });
