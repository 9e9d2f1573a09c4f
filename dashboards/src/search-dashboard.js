'use strict';
// "deep-hash: search": search by text, near duplicates around one document, and the distribution of
// distances from a query to the collection; with a Discover saved search filtered by a hamming query.
const fs = require('fs');
const path = require('path');
const so = require('./saved-objects');
const { VEGA_LITE_SCHEMA, withDashboardContext, distanceTransform, thumbnailsSpec, hjsonText } = require('./vega');

const QUERY_COMMENT = 'The query text: change it here (the picture codes are searched by the text\'s code).';

function sourceFields(config) {  // what a thumbnail shows
  return [config.labelField, config.captionField, config.imageField, ...(config.urlField ? [config.urlField] : [])];
}

function textSearch(config) {
  const hamming = { hamming: { field: config.codeField, text: config.queryText } };
  const spec = thumbnailsSpec({
    title: `Nearest pictures to a text (hamming on ${config.codeField})`,
    index: config.index,
    body: { size: 24, _source: sourceFields(config), query: withDashboardContext(hamming) },
    config,
  });
  return so.vegaVisualization('deep-hash-search-by-text', {
    title: 'deep-hash: search by text',
    description: `The ${spec.data.url.body.size} pictures nearest to a text, with their Hamming distance. Change the text in the spec, at "text".`,
    spec: hjsonText(spec, { [`"text": ${JSON.stringify(config.queryText)}`]: QUERY_COMMENT }),
  });
}

function pictureSearch(config) {
  const file = path.resolve(__dirname, '..', config.queryImage);
  const picture = fs.readFileSync(file).toString('base64');
  const hamming = { hamming: { field: config.codeField, image: picture } };
  const spec = thumbnailsSpec({
    title: `Nearest pictures to a picture (hamming on ${config.codeField})`,
    index: config.index,
    body: { size: 12, _source: sourceFields(config), query: withDashboardContext(hamming) },
    config,
  });
  return so.vegaVisualization('deep-hash-search-by-picture', {
    title: 'deep-hash: search by picture',
    description: `The ${spec.data.url.body.size} pictures nearest to a picture, with their Hamming distance. Put another picture's base64 in the spec, at "image".`,
    spec: hjsonText(spec, {
      [`"image": "${picture.slice(0, 16)}`]: 'The query picture as base64 (PNG, JPEG, GIF, BMP or WebP): put another picture here.',
    }),
  });
}

function nearDuplicates(config) {
  const hamming = { hamming: { field: config.codeField, code: config.nearCode, max_distance: config.maxDistance } };
  const spec = thumbnailsSpec({
    title: `Within ${config.maxDistance} bits of document ${config.nearId}`,
    index: config.index,
    body: { size: 24, _source: sourceFields(config), query: withDashboardContext(hamming) },
    config,
  });
  return so.vegaVisualization('deep-hash-near-duplicates', {
    title: 'deep-hash: near duplicates',
    description: `Documents within max_distance bits of one document's code (document ${config.nearId}). Put another document's ${config.codeField} in "code" and a radius in "max_distance".`,
    spec: hjsonText(spec, {
      [`"code": ${JSON.stringify(config.nearCode)}`]: `The code of document ${config.nearId} (its ${config.codeField}): put another document's code here.`,
      '"max_distance"': 'The radius in bits: the histogram panel helps to choose it.',
    }),
  });
}

function distanceHistogram(config) {
  const hamming = { hamming: { field: config.codeField, text: config.queryText } };
  const spec = {
    $schema: VEGA_LITE_SCHEMA,
    title: `Hamming distances from a text to the collection (its ${config.histogramSize} nearest documents at most)`,
    data: {
      url: { index: config.index, body: { size: config.histogramSize, _source: false, query: withDashboardContext(hamming) } },
      format: { property: 'hits.hits' },
    },
    transform: [distanceTransform(config.bits)],
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'distance', type: 'quantitative', bin: { step: 1 }, title: 'Hamming distance (bits)', axis: { format: 'd' } },
      y: { aggregate: 'count', type: 'quantitative', title: 'documents' },
    },
  };
  return so.vegaVisualization('deep-hash-distance-histogram', {
    title: 'deep-hash: distances to a text',
    description: 'How many documents lie at each Hamming distance from a text: pick a max_distance where the near ones end.',
    spec: hjsonText(spec, { [`"text": ${JSON.stringify(config.queryText)}`]: QUERY_COMMENT }),
  });
}

function discoverSearch(config) {
  const query = { hamming: { field: config.codeField, text: config.queryText, max_distance: config.maxDistance + 8 } };
  return so.savedSearch('deep-hash-discover-hamming', {
    title: 'deep-hash: documents near a text (Discover)',
    description: 'A hamming query as a Query DSL filter: edit the filter to change the text or the radius.',
    dataViewId: config.dataViewId,
    columns: [config.labelField, config.captionField],
    sort: [],
    filters: [{ alias: `hamming: "${config.queryText}" within ${query.hamming.max_distance} bits`, query }],
  });
}

// The objects, in an order Kibana can import them in (each after those it refers to).
function objects(config) {
  const panels = [textSearch(config), pictureSearch(config), nearDuplicates(config), distanceHistogram(config)];
  const board = so.dashboard('deep-hash-search', {
    title: 'deep-hash: search',
    description: 'Search a deep_hash collection by text or picture, find near duplicates, and see the distribution of Hamming distances.',
    panels: [
      { object: panels[0], x: 0, y: 0, w: 48, h: 22 },
      { object: panels[1], x: 0, y: 22, w: 48, h: 16 },
      { object: panels[2], x: 0, y: 38, w: 28, h: 22 },
      { object: panels[3], x: 28, y: 38, w: 20, h: 22 },
    ],
  });
  return [...panels, discoverSearch(config), board];
}

module.exports = { objects };
