#!/usr/bin/env node
'use strict';
// Checks import.sh against the request Kibana 8.19's saved-objects import route takes (Kibana itself
// cannot run here): POST <kibana>[/s/<space>]/api/saved_objects/_import?overwrite=true with a kbn-xsrf
// header and a multipart/form-data body whose "file" part is the NDJSON under a name ending in
// .ndjson (Kibana refuses any other extension). A local HTTP server plays the route: it checks all of
// that, parses every line of the file, and answers as Kibana answers (successCount, errors). Not a
// test of Kibana: a test that the script sends what Kibana's API documents and reads what it answers.
const fs = require('fs');
const http = require('http');
const path = require('path');
const { spawn } = require('child_process');

const HERE = __dirname;
let failures = 0;
function check(ok, what) {
  console.log(`[import] ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

function multipartFile(req, body) {
  const m = /^multipart\/form-data; boundary=(.+)$/.exec(req.headers['content-type'] || '');
  if (!m) return { problem: `content-type ${req.headers['content-type']}` };
  const parts = body.toString('latin1').split(`--${m[1]}`).slice(1, -1);
  for (const part of parts) {
    const [head, ...rest] = part.replace(/^\r\n/, '').split('\r\n\r\n');
    const name = /name="([^"]+)"/.exec(head);
    const filename = /filename="([^"]+)"/.exec(head);
    if (name && name[1] === 'file') {
      return { filename: filename && filename[1], content: Buffer.from(rest.join('\r\n\r\n').replace(/\r\n$/, ''), 'latin1') };
    }
  }
  return { problem: 'no "file" part' };
}

function kibana(answer) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url, 'http://x');
      const file = multipartFile(req, Buffer.concat(chunks));
      seen.push({ method: req.method, path: u.pathname, overwrite: u.searchParams.get('overwrite'),
        xsrf: req.headers['kbn-xsrf'], auth: req.headers.authorization, ...file });
      const [status, json] = answer(file);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(json));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, seen, url: `http://127.0.0.1:${server.address().port}` })));
}

// The script runs as a child process while this one's server answers it (so not spawnSync).
function run(url, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(path.join(HERE, 'import.sh'), [url], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (status) => resolve({ status, out: out.trim() }));
  });
}

(async () => {
  const ndjson = fs.readFileSync(path.join(HERE, 'deep-hash.ndjson'));
  const objects = ndjson.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  // Kibana imports every object.
  let k = await kibana((file) => (file.problem || !/\.ndjson$/.test(file.filename || ''))
    ? [415, { statusCode: 415, error: 'Unsupported Media Type', message: `Invalid file extension ${file.filename}` }]
    : [200, { success: true, successCount: file.content.toString('utf8').split('\n').filter(Boolean).length, successResults: [], errors: [] }]);
  let r = await run(k.url, { KIBANA_AUTH: 'elastic:changeme', KIBANA_SPACE: 'photos' });
  const s = k.seen[0] || {};
  check(r.status === 0 && r.out === `imported ${objects.length} saved objects into Kibana`, `import.sh reports Kibana's count (${r.out})`);
  check(s.method === 'POST' && s.path === '/s/photos/api/saved_objects/_import' && s.overwrite === 'true',
    `POST to the space's /api/saved_objects/_import?overwrite=true (${s.method} ${s.path})`);
  check(s.xsrf === 'true' && s.auth === `Basic ${Buffer.from('elastic:changeme').toString('base64')}`, 'kbn-xsrf header and basic authentication sent');
  check(!s.problem && s.filename === 'deep-hash.ndjson' && Buffer.compare(s.content, ndjson) === 0,
    `the "file" part is deep-hash.ndjson, byte for byte (${s.problem || s.filename})`);
  k.server.close();

  // Kibana refuses an object (an unknown type or a migration version newer than it knows): exit 1, named.
  k = await kibana(() => [200, { success: false, successCount: objects.length - 1, errors: [
    { id: objects[0].id, type: objects[0].type, error: { type: 'unsupported_type' } }] }]);
  r = await run(k.url);
  check(r.status === 1 && r.out.includes(`${objects[0].type} ${objects[0].id}: {"type":"unsupported_type"}`) && r.out.includes('1 refused'),
    `an object Kibana refuses fails the import, named (${r.out.replace(/\n/g, ' | ')})`);
  k.server.close();

  // Kibana refuses the request (a 4xx with Kibana's error body), or is not there.
  k = await kibana(() => [403, { statusCode: 403, error: 'Forbidden', message: 'Unable to bulk_create index-pattern' }]);
  r = await run(k.url);
  check(r.status === 1 && r.out.includes('(403): Unable to bulk_create index-pattern'), `a refused request fails with Kibana's message (${r.out})`);
  k.server.close();
  r = await run('http://127.0.0.1:1');
  check(r.status === 1 && r.out.includes('cannot reach Kibana'), `no Kibana at the URL fails with a message (${r.out.split('\n').pop()})`);

  console.log(`[import] ${failures ? failures + ' check(s) failed' : 'all checks passed'}`);
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.error(`[import] FAIL ${e.stack}`); process.exit(1); });
