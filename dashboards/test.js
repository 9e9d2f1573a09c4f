#!/usr/bin/env node
'use strict';
// Checks deep-hash's Kibana saved objects without Kibana (see README.md, "How they are tested"):
//   node test.js http://127.0.0.1:9200   a real node with the plugin; writes screenshots/*.png
// 1. deep-hash.ndjson: every line parses, is what build.js writes now, and carries the types, ids,
//    references, attributes and migration versions Kibana 8.19 needs;
// 2. the same objects built for an index of the demo's pictures (kept, so that thumbnails show): every
//    Vega request, with Kibana's placeholders filled in as Kibana fills them, runs on the node and
//    returns the hits the panel is meant to show; so does the Discover search's Query DSL filter;
// 3. every Vega spec renders in headless Chromium as Kibana's Vega view renders it (vega, vega-lite and
//    the expression interpreter Kibana 8.19 runs; its loader's refusal of outside URLs), fed the node's
//    answers: a Vega error or warning, no canvas, an empty mark or a picture not loaded fails.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const Hjson = require('hjson');
const { DEFAULTS } = require('./src/config');
const so = require('./src/saved-objects');
const { build, toNdjson } = require('./build');

const HERE = __dirname;
const REPO = path.dirname(HERE);
const INDEX = 'deep-hash-dashboards-emoji';
const PIPELINE = 'deep-hash-dashboards';
const url = process.argv[2] || process.env.TESTS_ES_URL;
if (!url) { console.error('usage: node test.js <elasticsearch url>'); process.exit(2); }

let failures = 0;
function check(ok, what) {
  console.log(`[dashboards] ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
  return ok;
}

async function es(method, p, body, contentType = 'application/json') {
  const res = await fetch(url + p, {
    method, headers: { 'Content-Type': contentType },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

// ---- 1. the file ---------------------------------------------------------------------------------
function checkFile() {
  const text = fs.readFileSync(path.join(HERE, 'deep-hash.ndjson'), 'utf8');
  check(text === toNdjson(build(DEFAULTS)), 'deep-hash.ndjson is what build.js writes (run node build.js after a change)');
  const objects = [];
  text.split('\n').filter((l) => l.trim()).forEach((line, i) => {
    try { objects.push(JSON.parse(line)); } catch (e) { check(false, `line ${i + 1} parses: ${e.message}`); }
  });
  checkObjects(objects, 'deep-hash.ndjson');
  return objects;
}

function checkObjects(objects, where) {
  const byKey = new Map();
  for (const o of objects) {
    const key = `${o.type}:${o.id}`;
    check(!byKey.has(key), `${where}: ${key} is unique`);
    byKey.set(key, o);
  }
  for (const o of objects) {
    const key = `${o.type}:${o.id}`;
    check(o.type in so.MIGRATION, `${key}: a type Kibana imports`);
    check(o.coreMigrationVersion === so.CORE_MIGRATION_VERSION && o.typeMigrationVersion === so.MIGRATION[o.type],
      `${key}: coreMigrationVersion ${o.coreMigrationVersion}, typeMigrationVersion ${o.typeMigrationVersion}`);
    const missing = (so.REQUIRED_ATTRIBUTES[o.type] || []).filter((a) => o.attributes[a] === undefined);
    check(missing.length === 0, `${key}: required attributes present${missing.length ? ' (missing ' + missing + ')' : ''}`);
    for (const r of o.references) {
      check(byKey.has(`${r.type}:${r.id}`), `${key}: reference ${r.name} -> ${r.type}:${r.id} resolves`);
    }
    const refNames = new Set(o.references.map((r) => r.name));
    const meta = o.attributes.kibanaSavedObjectMeta && JSON.parse(o.attributes.kibanaSavedObjectMeta.searchSourceJSON);
    if (meta && meta.indexRefName) check(refNames.has(meta.indexRefName), `${key}: searchSource index ${meta.indexRefName} is a reference`);
    for (const f of (meta && meta.filter) || []) {
      check(refNames.has(f.meta.indexRefName), `${key}: filter index ${f.meta.indexRefName} is a reference`);
    }
    if (o.type === 'dashboard') {
      const panels = JSON.parse(o.attributes.panelsJSON);
      check(panels.length > 0, `${key}: has panels`);
      for (const p of panels) {
        check(refNames.has(`${p.panelIndex}:${p.panelRefName}`) && p.gridData.i === p.panelIndex,
          `${key}: panel ${p.panelIndex} refers through ${p.panelIndex}:${p.panelRefName}`);
      }
      JSON.parse(o.attributes.optionsJSON);
    }
    if (o.type === 'visualization') {
      const vis = JSON.parse(o.attributes.visState);
      check(vis.type === 'vega' && vis.title === o.attributes.title && typeof vis.params.spec === 'string', `${key}: a Vega visState`);
      Hjson.parse(vis.params.spec);
    }
  }
}

// ---- 2. the requests -----------------------------------------------------------------------------
// The test's index: the demo's pictures through the deep_hash pipeline (pictures kept), plus what a
// collection that has lived a while holds: documents an older model version hashed three days ago
// (copies of some pictures, written as that version wrote them, pipeline bypassed) and documents
// indexed outside the pipeline, without a code. Returns how many documents it holds.
const OLD_VERSION = 'fused-64-seed7';
const OLD_COPIES = 24;
const UNCODED = 10;
const DAY_MS = 24 * 3600 * 1000;
async function indexDemoPictures() {
  await es('PUT', `/_ingest/pipeline/${PIPELINE}`, {
    description: 'scripts/demo.sh\'s pipeline, keeping the pictures for the thumbnails',
    processors: [{ deep_hash: {
      model: 'default', image_field: 'image', text_field: 'caption', target_field: 'hash',
      image_target_field: 'image_hash', text_target_field: 'text_hash', embedding_field: 'embedding',
      model_info_field: DEFAULTS.modelInfoField } }],
  });
  const lines = fs.readFileSync(path.join(REPO, 'demo/emoji-test-sample.ndjson'), 'utf8').split('\n').filter(Boolean);
  await fetch(`${url}/${INDEX}`, { method: 'DELETE' });
  await es('PUT', `/${INDEX}`, {
    settings: { number_of_shards: 2, number_of_replicas: 0, 'index.deep_hash.codec': true, 'index.default_pipeline': PIPELINE },
    mappings: { properties: {
      label: { type: 'text' }, caption: { type: 'text' }, subgroup: { type: 'keyword' }, group: { type: 'keyword' },
      style: { type: 'keyword' }, image: { type: 'binary' },
      hash: { type: 'binary_hash', bits: 64 }, image_hash: { type: 'binary_hash', bits: 64, bits_field: true }, text_hash: { type: 'binary_hash', bits: 64 },
      embedding: { type: 'dense_vector', dims: 256, similarity: 'l2_norm' },
      [DEFAULTS.modelInfoField]: { properties: { name: { type: 'keyword' }, version: { type: 'keyword' }, hashed_at: { type: 'date' } } } } },
  });
  const bulk = lines.map((l) => `${JSON.stringify({ index: { _id: String(JSON.parse(l).picture) } })}\n${l}\n`).join('');
  const r = await es('POST', `/${INDEX}/_bulk?refresh=true`, bulk, 'application/x-ndjson');
  check(!r.errors, `indexed ${lines.length} demo pictures into ${INDEX} through the deep_hash pipeline`);
  // The older version's documents: copies of pictures other than the two the panels single out.
  const picked = await es('POST', `/${INDEX}/_search`, {
    size: OLD_COPIES, sort: [{ _doc: 'asc' }], query: { bool: { must_not: [{ ids: { values: ['1456', DEFAULTS.nearId] } }] } } });
  const hashedAt = new Date(Date.now() - 3 * DAY_MS).toISOString();
  const old = picked.hits.hits.map((h) => {
    const doc = { ...h._source, [DEFAULTS.modelInfoField]: { name: 'default', version: OLD_VERSION, hashed_at: hashedAt } };
    return `${JSON.stringify({ index: { _id: `old-${h._id}` } })}\n${JSON.stringify(doc)}\n`;
  });
  const uncoded = Array.from({ length: UNCODED }, (_, i) => {
    const doc = { label: `uncoded ${i}`, caption: `a document indexed without the pipeline ${i}`, style: i % 2 ? 'twitter' : 'noto', group: 'uncoded' };
    return `${JSON.stringify({ index: { _id: `uncoded-${i}` } })}\n${JSON.stringify(doc)}\n`;
  });
  const r2 = await es('POST', `/${INDEX}/_bulk?refresh=true&pipeline=_none`, [...old, ...uncoded].join(''), 'application/x-ndjson');
  check(!r2.errors && old.length === OLD_COPIES,
    `indexed ${old.length} documents as model version ${OLD_VERSION} wrote them 3 days ago and ${UNCODED} without a code (pipeline bypassed)`);
  return lines.length + OLD_COPIES + UNCODED;
}

// The body Kibana's Vega panel sends for a data.url, as its EsQueryParser builds it (Kibana 8.19,
// src/plugins/vis_types/vega/public/data_model/es_query_parser.ts): with body.query set, %context% /
// %timefield% are refused and the query's context variables are filled in; without body.query,
// %timefield% makes a range query over the time picker's bounds and %context% makes the dashboard's
// bool query the query (with that range among its must clauses). Then, in the query and the aggs:
// each %dashboard_context-*_clause% array element (query only) becomes the clauses of the dashboard's
// bool query (spliced in; removed when there are none); {"%timefilter%": "min"|"max"} the bound in
// epoch ms; {"%timefilter%": true} a range object; a date_histogram's "interval" (a string, or
// {"%autointerval%": true|n}: a 50th, or an n-th, of the range rounded as Kibana rounds it) its
// fixed_interval or calendar_interval.
function kibanaBody(url, context, range) {
  const body = JSON.parse(JSON.stringify(url.body || {}));
  const usesContext = url['%context%'] !== undefined || url['%timefield%'] !== undefined;
  if (body.query !== undefined) {
    if (usesContext) throw new Error('url.%context% and url.%timefield% must not be used when url.body.query is set');
    body.query = injectContextVars(body.query, true, context, range);
  } else if (usesContext) {
    const timefield = url['%timefield%'];
    const rangeQuery = timefield ? { range: { [timefield]: rangeFilter(range) } } : undefined;
    if (url['%context%']) {
      body.query = JSON.parse(JSON.stringify(context));
      if (rangeQuery) body.query.bool.must.push(rangeQuery);
    } else {
      body.query = rangeQuery;
    }
  }
  if (body.aggs) body.aggs = injectContextVars(body.aggs, false, context, range);
  return body;
}

function rangeFilter(range) {
  return { gte: new Date(range.min).toISOString(), lte: new Date(range.max).toISOString(), format: 'strict_date_optional_time' };
}

const CLAUSES = { '%dashboard_context-must_clause%': 'must', '%dashboard_context-filter_clause%': 'filter', '%dashboard_context-must_not_clause%': 'must_not' };
function injectContextVars(value, isQuery, context, range, key) {
  if (Array.isArray(value)) {
    return value.flatMap((v) => (isQuery && typeof v === 'string' && CLAUSES[v])
      ? (context.bool[CLAUSES[v]] || []) : [injectContextVars(v, isQuery, context, range)]);
  }
  if (!value || typeof value !== 'object') return value;
  const out = {};
  for (const [prop, sub] of Object.entries(value)) {
    if (prop === 'interval' && key === 'date_histogram') {
      let interval = sub;
      if (typeof sub !== 'string') {
        const size = sub['%autointerval%'] === true ? 50 : sub['%autointerval%'];
        if (typeof size !== 'number') throw new Error('"%autointerval%" must be either true or a number');
        interval = roundInterval((range.max - range.min) / size);
      }
      Object.assign(out, dateHistogramInterval(interval));
      continue;
    }
    const timefilter = sub && typeof sub === 'object' ? sub['%timefilter%'] : undefined;
    if (timefilter === 'min' || timefilter === 'max') out[prop] = range[timefilter];
    else if (timefilter === true) out[prop] = rangeFilter(range);
    else if (timefilter === undefined) out[prop] = injectContextVars(sub, isQuery, context, range, prop);
    else throw new Error('"%timefilter%" property must be set to true, "min", or "max"');
  }
  return out;
}

// Kibana's EsQueryParser._roundInterval (ms -> an interval string), and dateHistogramInterval: ms and s
// are fixed units; m, h and d calendar ones when the value is 1; w, M, q and y calendar only.
function roundInterval(ms) {
  const steps = [[500, '100ms'], [5000, '1s'], [7500, '5s'], [15000, '10s'], [45000, '30s'], [180000, '1m'],
    [450000, '5m'], [1200000, '10m'], [2700000, '30m'], [7200000, '1h'], [21600000, '3h'], [86400000, '12h'],
    [604800000, '24h'], [1814400000, '1w']];
  for (const [limit, interval] of steps) if (ms <= limit) return interval;
  return ms < 3628800000 ? '30d' : '1y';
}
function dateHistogramInterval(interval) {
  const [, value, unit] = /^([1-9][0-9]*)(ms|s|m|h|d|w|M|q|y)$/.exec(interval) || [];
  if (!unit) throw new Error(`invalid interval ${interval}`);
  const calendar = ['w', 'M', 'q', 'y'].includes(unit) || (['m', 'h', 'd'].includes(unit) && value === '1');
  return calendar ? { calendar_interval: interval } : { fixed_interval: interval };
}

// The time picker's ranges the panels are checked with: the last week (every document) and the last
// day (not the older version's documents, hashed three days ago).
function timeRanges() {
  const now = Date.now();
  return [['last 7 days', { min: now - 7 * DAY_MS, max: now + 60000 }], ['last day', { min: now - DAY_MS, max: now + 60000 }]];
}

// What Kibana builds from an empty query bar and no filters, and from a dashboard filtered to one style.
const EMPTY_DASHBOARD = { bool: { must: [], filter: [], should: [], must_not: [] } };
const FILTERED_DASHBOARD = { bool: { must: [], filter: [{ match_phrase: { style: 'twitter' } }], should: [], must_not: [{ match_phrase: { group: 'flags' } }] } };

function vegaUrls(spec) {  // the data entries with an ES url: Vega-Lite's data, or Vega's data array
  const data = Array.isArray(spec.data) ? spec.data : [spec.data].filter(Boolean);
  return data.filter((d) => d.url && typeof d.url === 'object');
}

function distances(hits, bits) { return hits.map((h) => Math.round((1 - h._score) * bits)); }

// The health panels' oracle, from the documents themselves: how many have a code, how many set each
// bit (bit 0 = the most significant bit of the first hex digit), and how many each model version hashed.
async function bruteForce(config) {
  const r = await es('POST', `/${config.index}/_search`, { size: 10000, _source: [config.codeField, config.modelInfoField] });
  const truth = { documents: r.hits.hits.length, coded: 0, perBit: new Array(config.bits).fill(0), hashed: [] };
  for (const h of r.hits.hits) {
    const code = h._source[config.codeField];
    const info = h._source[config.modelInfoField];
    if (typeof code === 'string') {
      truth.coded++;
      [...code].forEach((hex, i) => {
        const v = parseInt(hex, 16);
        for (let b = 0; b < 4; b++) if (v & (8 >> b)) truth.perBit[i * 4 + b]++;
      });
    }
    if (info) truth.hashed.push({ version: info.version, at: Date.parse(info.hashed_at) });
  }
  // How many documents each model version hashed within a time range.
  truth.versionsIn = (range) => {
    const versions = {};
    for (const d of truth.hashed) if (d.at >= range.min && d.at <= range.max) versions[d.version] = (versions[d.version] || 0) + 1;
    return versions;
  };
  return truth;
}

const sameCounts = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

// What each panel must show, given the node's answer.
const EXPECT = {
  'deep-hash-health-hashed-over-time': (r, c, collection, truth, range) => {
    const versions = {};
    const buckets = r.aggregations.hashed.buckets;
    for (const b of buckets) {
      for (const v of b.versions.buckets) versions[v.key] = (versions[v.key] || 0) + v.doc_count;
    }
    const expected = truth.versionsIn(range);
    const keys = buckets.map((b) => b.key);
    const step = keys.length > 1 ? keys[1] - keys[0] : 0;
    // One bucket per interval across the whole picked range (extended_bounds), empty ones included.
    const spans = keys.length > 1 && keys[0] <= range.min && keys[keys.length - 1] + step > range.max
      && keys.every((k, i) => i === 0 || k > keys[i - 1]);
    return Object.keys(expected).length > 0 && sameCounts(versions, expected) && spans
      && r.hits.total.value === Object.values(expected).reduce((a, b) => a + b, 0)
      ? `${r.hits.total.value} documents hashed in the range, ${keys.length} buckets of ${step / 60000} min across it, by version ${JSON.stringify(versions)}, as the documents' ${c.modelInfoField} say` : false;
  },
  'deep-hash-health-with-code': (r, c, collection, truth) => {
    const [coded, uncoded] = r.aggregations.codes.buckets.map((b) => b.doc_count);
    return coded === truth.coded && uncoded === truth.documents - truth.coded && coded + uncoded === collection
      ? `${coded} with a code, ${uncoded} without, as the documents' ${c.codeField} say` : false;
  },
  'deep-hash-health-bit-balance': (r, c, collection, truth) => {
    const coded = r.aggregations.coded.buckets[0];
    const counts = coded.bits.buckets.map((b) => b.doc_count);
    const keys = coded.bits.buckets.map((b) => b.key);
    const shares = counts.map((n) => n / coded.doc_count);
    return coded.doc_count === truth.coded && keys.length === c.bits && keys.every((k, i) => k === i)
      && JSON.stringify(counts) === JSON.stringify(truth.perBit)
      ? `${c.bits} bits over ${coded.doc_count} codes, per-bit counts equal the hex codes' (shares ${Math.min(...shares).toFixed(2)}..${Math.max(...shares).toFixed(2)})` : false;
  },
  'deep-hash-search-by-text': (r, c) => {
    const d = distances(r.hits.hits, c.bits);
    return r.hits.hits.length === 24 && d.every((x, i) => Number.isInteger(x) && x >= 0 && x <= c.bits && (i === 0 || x >= d[i - 1]))
      && r.hits.hits.every((h) => h._source.label && h._source.image)
      ? `24 pictures, distances ${d[0]}..${d[d.length - 1]}, closest first, with picture and label` : false;
  },
  'deep-hash-search-by-picture': (r, c) => {
    const d = distances(r.hits.hits, c.bits);
    // query-picture.png is document 1456's picture (Noto's raccoon): its own code comes first, at 0.
    return r.hits.hits.length === 12 && d[0] === 0 && (c.queryImage !== DEFAULTS.queryImage || r.hits.hits[0]._id === '1456')
      && d.every((x, i) => i === 0 || x >= d[i - 1]) && r.hits.hits.every((h) => h._source.image)
      ? `12 pictures, the query's own document ${r.hits.hits[0]._id} first at 0, then ${d[1]}..${d[d.length - 1]}` : false;
  },
  'deep-hash-near-duplicates': (r, c) => {
    const d = distances(r.hits.hits, c.bits);
    return r.hits.hits.length > 1 && d.every((x) => x <= c.maxDistance)
      ? `${r.hits.hits.length} documents within ${c.maxDistance} bits (first ${r.hits.hits[0]._id} at ${d[0]})` : false;
  },
  'deep-hash-distance-histogram': (r, c, collection, truth) => {
    const d = distances(r.hits.hits, c.bits);
    return r.hits.hits.length === Math.min(truth.coded, c.histogramSize) && d.every((x) => x >= 0 && x <= c.bits)
      ? `all ${d.length} documents with a code, distances ${Math.min(...d)}..${Math.max(...d)}` : false;
  },
};

async function checkRequests(objects, config, collection, truth) {
  const answers = {};
  const [week, day] = timeRanges();
  for (const o of objects.filter((x) => x.type === 'visualization')) {
    const spec = Hjson.parse(JSON.parse(o.attributes.visState).params.spec);
    const urls = vegaUrls(spec);
    check(urls.length > 0 && urls.every((d) => d.url.index === config.index), `${o.id}: its requests name index ${config.index}`);
    for (const d of urls) {
      // A panel that follows the time picker is checked over two ranges; the others over one.
      const timed = d.url['%timefield%'] !== undefined || JSON.stringify(d.url.body).includes('%timefilter%');
      for (const [rangeName, range] of timed ? [week, day] : [week]) {
        for (const [name, context] of [['empty dashboard', EMPTY_DASHBOARD], ['dashboard filtered to twitter, flags left out', FILTERED_DASHBOARD]]) {
          const what = `${o.id} (${name}${timed ? ', ' + rangeName : ''})`;
          let body;
          try { body = kibanaBody(d.url, context, range); } catch (e) { check(false, `${o.id}: ${e.message}`); continue; }
          let r;
          try { r = await es('POST', `/${d.url.index}/_search`, body); } catch (e) { check(false, `${what}: ${e.message}`); continue; }
          if (context === EMPTY_DASHBOARD) {
            const shown = EXPECT[o.id](r, config, collection, truth, range);
            check(Boolean(shown), `${what}: ${shown || 'unexpected answer ' + JSON.stringify(r.hits.hits.length ? r.hits.hits.slice(0, 2) : r.aggregations).slice(0, 300)}`);
            if (range === week[1]) answers[o.id] = { spec, response: r };
          } else if (body.size === 0) {  // an aggregation panel: it counts exactly the filtered documents
            const filters = { bool: { ...FILTERED_DASHBOARD.bool, must: timed ? [{ range: { [d.url['%timefield%']]: rangeFilter(range) } }] : [] } };
            const filtered = await es('POST', `/${config.index}/_count`, { query: filters });
            check(r.hits.total.value > 0 && r.hits.total.value === filtered.count && r.hits.total.value < collection,
              `${what}: aggregates over ${r.hits.total.value} documents, those that pass the dashboard's filters${timed ? ' and the time range' : ''} (${filtered.count})`);
          } else {
            const ids = r.hits.hits.map((h) => h._id);
            const docs = ids.length ? (await es('POST', `/${config.index}/_mget?_source_includes=style,group`, { ids })).docs : [];
            check(ids.length > 0 && docs.every((x) => x._source.style === 'twitter' && x._source.group !== 'flags'),
              `${what}: ${ids.length} hits, all obey the dashboard's filters`);
          }
        }
      }
    }
  }
  return answers;
}

async function checkNearCode(config) {
  const doc = await es('GET', `/${config.index}/_doc/${config.nearId}`);
  check(doc._source[config.codeField] === config.nearCode,
    `near-duplicates code ${config.nearCode} is document ${config.nearId}'s ${config.codeField} (${doc._source[config.codeField]})`);
}

async function checkDiscover(objects, config) {
  for (const o of objects.filter((x) => x.type === 'search')) {
    const source = JSON.parse(o.attributes.kibanaSavedObjectMeta.searchSourceJSON);
    for (const f of source.filter) {
      const h = f.query.hamming;
      // Kibana puts enabled, non-negated filters in bool.filter; the oracle scores every document.
      const filtered = await es('POST', `/${config.index}/_search`, { size: 1000, _source: false, query: { bool: { filter: [f.query] } } });
      const all = await es('POST', `/${config.index}/_search`, { size: 1000, _source: false, query: { hamming: { field: h.field, text: h.text } } });
      const within = new Set(all.hits.hits.filter((x) => Math.round((1 - x._score) * config.bits) <= h.max_distance).map((x) => x._id));
      const got = filtered.hits.hits.map((x) => x._id);
      check(got.length > 0 && got.length === within.size && got.every((id) => within.has(id)),
        `${o.id}: the Query DSL filter matches exactly the ${within.size} documents within ${h.max_distance} bits of "${h.text}"`);
    }
  }
}

// ---- 3. rendering --------------------------------------------------------------------------------
// Kibana's loader fetches data.url and puts the raw response in data.values, keeping data.format
// (property hits.hits); it fits a spec to its panel (autosize fit, then view.width/height).
function offlineSpec(spec, response) {
  const s = JSON.parse(JSON.stringify(spec));
  for (const d of vegaUrls(s)) { delete d.url; d.values = response; }
  if (s.autosize === undefined) s.autosize = { type: 'fit', contains: 'padding' };
  return s;
}

function page(spec, externalUrls) {
  const lib = (p) => 'file://' + path.join(HERE, 'node_modules', p);
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<script src="${lib('vega/build/vega.min.js')}"></script>
<script src="${lib('vega-interpreter/build/vega-interpreter.min.js')}"></script>
<script src="${lib('vega-lite/build/vega-lite.min.js')}"></script>
<script src="${lib('vega-embed/build/vega-embed.min.js')}"></script>
<style>body{margin:0;font-family:sans-serif;background:#fff} #vis{width:960px;height:460px}</style></head>
<body><div id="vis"></div><pre id="status">PENDING</pre><script>
const problems = [];
const status = (s) => { document.getElementById('status').textContent = s; };
window.onerror = (m) => { problems.push('error: ' + m); };
const logger = { level(l) { return this; }, error(...a) { problems.push('error: ' + a.join(' ')); return this; },
  warn(...a) { problems.push('warn: ' + a.join(' ')); return this; }, info() { return this; }, debug() { return this; } };
// As Kibana's Vega view: the CSP-safe expression interpreter, and a loader that refuses any URL
// outside Kibana (a data: URI included) unless vis_type_vega.enableExternalUrls is true.
const loader = vega.loader();
const sanitize = loader.sanitize.bind(loader);
loader.sanitize = async (uri, options) => {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) && !${JSON.stringify(externalUrls)}) {
    const error = 'External URLs are not enabled. Add vis_type_vega.enableExternalUrls: true to kibana.yml';
    if (!problems.includes(error)) problems.push(error);  // Kibana shows it in the panel, then throws
    throw new Error(error);
  }
  const result = await sanitize(uri, options);
  result.crossOrigin = null;
  return result;
};
vegaEmbed('#vis', ${JSON.stringify(spec)}, { actions: false, renderer: 'canvas', logger, loader, ast: true, expr: vega.expressionInterpreter })
  .then((r) => r.view.width(940).height(440).runAsync().then(() => {
    const canvas = document.querySelector('#vis canvas');
    if (!canvas || !canvas.width || !canvas.height) problems.push('no canvas');
    // Every data mark must draw something at a real position: an empty panel is a failed one.
    const marks = [];
    (function walk(node) {
      if (node.marktype && node.role === 'mark') {
        const bad = node.items.filter((i) => ['x', 'y'].some((k) => i[k] !== undefined && !Number.isFinite(i[k])));
        marks.push(node.items.length);
        if (!node.items.length) problems.push('mark ' + (node.name || node.marktype) + ' draws nothing');
        if (bad.length) problems.push('mark ' + (node.name || node.marktype) + ' has ' + bad.length + ' items at no position');
        const unloaded = node.marktype === 'image' ? node.items.filter((i) => i.url && !(i.image && i.image.naturalWidth > 0)) : [];
        if (unloaded.length) problems.push(unloaded.length + ' pictures did not load');
      }
      (node.items || []).forEach(walk);
    })(r.view.scenegraph().root);
    if (!marks.length) problems.push('no data marks');
    status(problems.length ? 'FAILED ' + problems.join(' | ')
      : 'RENDERED ' + canvas.width + 'x' + canvas.height + ', ' + marks.reduce((a, b) => a + b, 0) + ' mark items');
  }))
  .catch((e) => status('FAILED ' + e.message + ' ' + problems.join(' | ')));
</script></body></html>`;
}

function chromium(args) {
  return execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--allow-file-access-from-files',
    '--virtual-time-budget=5000', '--hide-scrollbars', '--window-size=960,470', ...args],
  { encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function renderPage(file, spec, response, externalUrls) {
  fs.writeFileSync(file, page(offlineSpec(spec, response), externalUrls));
  const dom = chromium(['--dump-dom', 'file://' + file]);
  const m = /<pre id="status">([^<]*)<\/pre>/.exec(dom);
  return m ? m[1].replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>') : 'no status in the page';
}

function render(id, spec, response, tmp) {
  const file = path.join(tmp, `${id}.html`);
  const versions = ['vega', 'vega-lite', 'vega-interpreter'].map((p) => `${p} ${require(p + '/package.json').version}`).join(', ');
  // Pictures are data: URIs (or a URL field's URLs): Kibana loads them only with external URLs enabled.
  const pictures = JSON.stringify(spec).includes('"image"');
  if (pictures) {
    const status = renderPage(file, spec, response, false);
    check(/External URLs are not enabled/.test(status) && !/draws nothing|no canvas/.test(status),
      `${id}: without vis_type_vega.enableExternalUrls, Kibana's error and the labels and distances still drawn (the page says: ${status.slice(0, 160)})`);
  }
  if (pictures) {  // scripts/demo.sh's index: remove_image dropped the pictures
    const noPictures = JSON.parse(JSON.stringify(response));
    noPictures.hits.hits.forEach((h) => { delete h._source[DEFAULTS.imageField]; });
    const status = renderPage(file, spec, noPictures, false);
    check(status.startsWith('RENDERED'), `${id}: an index without pictures renders labels and distances, no URL loaded (${status})`);
  }
  const status = renderPage(file, spec, response, true);
  if (!check(status.startsWith('RENDERED'), `${id}: renders with ${versions}${pictures ? ', external URLs enabled' : ''} (${status})`)) return;
  const png = path.join(HERE, 'screenshots', `${id}.png`);
  fs.mkdirSync(path.dirname(png), { recursive: true });
  chromium([`--screenshot=${png}`, 'file://' + file]);
  check(fs.existsSync(png) && fs.statSync(png).size > 2000, `${id}: screenshot ${path.relative(REPO, png)}`);
}

(async () => {
  checkFile();
  const collection = await indexDemoPictures();
  const config = { ...DEFAULTS, index: INDEX, dataViewId: 'deep-hash-dashboards-test' };
  const objects = build(config);
  checkObjects(objects, `built for ${INDEX}`);
  await checkNearCode(config);
  const answers = await checkRequests(objects, config, collection, await bruteForce(config));
  await checkDiscover(objects, config);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deep-hash-dashboards-'));
  for (const [id, { spec, response }] of Object.entries(answers)) render(id, spec, response, tmp);
  if (!process.env.KEEP_PAGES) fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`[dashboards] ${failures ? failures + ' check(s) failed' : 'all checks passed'}`);
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.error(`[dashboards] FAIL ${e.stack}`); process.exit(1); });
