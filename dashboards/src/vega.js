'use strict';
// Pieces shared by the Vega panels: the Kibana placeholders, the score -> distance rule, the
// thumbnails grid, and the HJSON text Kibana stores a spec as.

const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

// A query that also obeys the dashboard's query bar and filters: Kibana replaces each placeholder with
// the clauses of the dashboard's own bool query (url.%context% cannot be used when body.query is set).
function withDashboardContext(query) {
  return {
    bool: {
      must: ['%dashboard_context-must_clause%', query],
      filter: ['%dashboard_context-filter_clause%'],
      must_not: ['%dashboard_context-must_not_clause%'],
    },
  };
}

// A hamming query scores 1 - d/bits (README: Reference), so d = (1 - score) * bits.
function distanceTransform(bits) {
  return { calculate: `round((1 - datum._score) * ${bits})`, as: 'distance' };
}

// The nearest documents as a grid of thumbnails, each with its label and its distance in bits; the
// picture is the stored one when kept, else the URL field's, else none (label and distance remain).
function thumbnailsSpec({ title, index, body, config, columns = 6 }) {
  const image = `datum._source[${JSON.stringify(config.imageField)}]`;
  const url = config.urlField ? `datum._source[${JSON.stringify(config.urlField)}]` : "''";
  const caption = `datum._source[${JSON.stringify(config.captionField)}]`;
  // Continuous scales over fixed cells, so that the grid fits the panel (Kibana sizes a spec to it).
  const rows = Math.ceil(body.size / columns);
  const cell = {
    x: { field: 'column', type: 'quantitative', axis: null, scale: { domain: [-0.5, columns - 0.5] } },
    y: { field: 'row', type: 'quantitative', axis: null, scale: { domain: [-0.5, rows - 0.5], reverse: true } },
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    data: { url: { index, body }, format: { property: 'hits.hits' } },
    transform: [
      distanceTransform(config.bits),
      { window: [{ op: 'row_number', as: 'rank' }], sort: [{ field: '_score', order: 'descending' }] },
      { calculate: `(datum.rank - 1) % ${columns}`, as: 'column' },
      { calculate: `floor((datum.rank - 1) / ${columns})`, as: 'row' },
      { calculate: `${image} ? 'data:image/png;base64,' + ${image} : (${url} || '')`, as: 'picture' },
      { calculate: `datum._source[${JSON.stringify(config.labelField)}]`, as: 'label' },
      { calculate: `isArray(${caption}) ? join(${caption}, ', ') : ${caption}`, as: 'caption' },
      { calculate: "'d = ' + datum.distance + ' bits'", as: 'distance_text' },
    ],
    config: { view: { stroke: null } },
    encoding: { ...cell, tooltip: [{ field: 'label' }, { field: 'caption' }, { field: 'distance', title: 'Hamming distance' }, { field: '_id' }] },
    layer: [
      { mark: { type: 'image', width: 56, height: 56, yOffset: -10 }, encoding: { url: { field: 'picture', type: 'nominal' } } },
      { mark: { type: 'text', yOffset: 28, fontSize: 11, limit: 110 }, encoding: { text: { field: 'label' } } },
      { mark: { type: 'text', yOffset: 41, fontSize: 10, color: '#69707d' }, encoding: { text: { field: 'distance_text' } } },
    ],
  };
}

// Kibana stores a spec as HJSON text: JSON with comments, so a user sees where to edit. comments maps
// an exact line fragment (e.g. '"text": "a cat"') to the comment put above that line.
function hjsonText(spec, comments = {}) {
  const lines = JSON.stringify(spec, null, 2).split('\n');
  const out = [];
  for (const line of lines) {
    for (const [fragment, comment] of Object.entries(comments)) {
      if (line.includes(fragment)) {
        const indent = line.match(/^\s*/)[0];
        for (const c of comment.split('\n')) out.push(`${indent}// ${c}`);
      }
    }
    out.push(line);
  }
  return out.join('\n');
}

module.exports = { VEGA_LITE_SCHEMA, withDashboardContext, distanceTransform, thumbnailsSpec, hjsonText };
