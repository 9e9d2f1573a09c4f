#!/usr/bin/env node
'use strict';
// Writes deep-hash.ndjson, the Kibana 8.19 saved objects of deep-hash's dashboards:
//   node build.js                         the demo index (scripts/demo.sh), into deep-hash.ndjson
//   node build.js --index photos ... -o - another collection (see src/config.js), to stdout
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('./src/config');
const so = require('./src/saved-objects');

// Each dashboard is a module with objects(config); a new dashboard is one more line.
const DASHBOARDS = [require('./src/search-dashboard'), require('./src/health-dashboard')];

function build(config) {
  const view = so.dataView(config.dataViewId, {
    title: config.index,
    name: `deep-hash: ${config.index}`,
    sourceFilters: ['embedding', config.imageField],  // keep vectors and base64 pictures out of Discover
  });
  return [view, ...DASHBOARDS.flatMap((d) => d.objects(config))];
}

function toNdjson(objects) {
  return objects.map((o) => JSON.stringify(o)).join('\n') + '\n';
}

if (require.main === module) {
  const args = process.argv.slice(2);
  let out = path.join(__dirname, 'deep-hash.ndjson');
  const o = args.indexOf('-o');
  if (o >= 0) { out = args[o + 1]; args.splice(o, 2); }
  try {
    const text = toNdjson(build(parseArgs(args)));
    if (out === '-') process.stdout.write(text); else fs.writeFileSync(out, text);
  } catch (e) {
    console.error(`build.js: ${e.message}`);
    process.exit(2);
  }
}

module.exports = { build, toNdjson };
