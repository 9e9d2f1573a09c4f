'use strict';
// "deep-hash: collection health": how many documents were hashed when and by which model version
// (the processor's model_info_field), how many have a code, and the bit balance of the codes (the
// share of documents that set each bit, from binary_hash's bits_field). Each panel is one aggregation
// request that obeys the dashboard's query bar and filters (%context%). The hashed-over-time panel
// also obeys the time picker (%timefield% on model_info.hashed_at, buckets sized by %autointerval%);
// the other two count every document whatever the time picker says: a document without a code was
// never hashed, so it has no hashed_at to filter on.
const so = require('./saved-objects');
const { VEGA_LITE_SCHEMA, hjsonText } = require('./vega');

function aggregationUrl(config, aggs, timefield) {
  const url = { index: config.index, '%context%': true };
  if (timefield) url['%timefield%'] = timefield;
  return { ...url, body: { size: 0, track_total_hits: true, aggs } };
}

// (1) documents hashed per interval of the time picker's range, stacked by model version.
function hashedOverTime(config) {
  const hashedAt = `${config.modelInfoField}.hashed_at`;
  const auto = config.hashedInterval === 'auto';
  // Kibana replaces {"%autointerval%": true} with a fixed_interval or calendar_interval of about a
  // 50th of the picked range, and {"%timefilter%": "min"/"max"} with the range's bounds (epoch ms),
  // so every interval of the range has a bucket, empty or not.
  const interval = auto ? { interval: { '%autointerval%': true } } : { calendar_interval: config.hashedInterval };
  const spec = {
    $schema: VEGA_LITE_SCHEMA,
    title: `Documents hashed ${auto ? 'over the time picker\'s range' : 'per ' + config.hashedInterval}, by model version (${config.modelInfoField})`,
    data: {
      url: aggregationUrl(config, {
        hashed: {
          date_histogram: {
            field: hashedAt, ...interval, min_doc_count: 0,
            extended_bounds: { min: { '%timefilter%': 'min' }, max: { '%timefilter%': 'max' } },
          },
          aggs: { versions: { terms: { field: `${config.modelInfoField}.version`, size: 20 } } },
        },
      }, hashedAt),
      format: { property: 'aggregations.hashed.buckets' },
    },
    transform: [
      // A bucket spans from its key to the next bucket's key (the last one: as long as the one before).
      { window: [{ op: 'lead', field: 'key', as: 'next' }, { op: 'lag', field: 'key', as: 'previous' }] },
      { calculate: 'datum.next != null ? datum.next : datum.previous != null ? 2 * datum.key - datum.previous : datum.key + 86400000', as: 'end' },
      { calculate: 'toDate(datum.key)', as: 'time' },
      { calculate: 'toDate(datum.end)', as: 'until' },
    ],
    layer: [
      {  // every bucket of the range, empty ones included, so the axis spans what the time picker picked
        mark: { type: 'rule', opacity: 0 },
        encoding: { x: { field: 'time', type: 'temporal', title: `hashed (${hashedAt})` }, x2: { field: 'until' } },
      },
      {
        transform: [
          { flatten: ['versions.buckets'], as: ['version'] },
          { filter: 'datum.version != null' },
          { calculate: 'datum.version.key', as: 'model version' },
          { calculate: 'datum.version.doc_count', as: 'documents' },
          { stack: 'documents', groupby: ['time'], sort: [{ field: 'model version' }], as: ['from', 'to'] },
        ],
        mark: { type: 'rect', tooltip: true },
        encoding: {
          x: { field: 'time', type: 'temporal', title: `hashed (${hashedAt})` },
          x2: { field: 'until' },
          y: { field: 'from', type: 'quantitative', title: 'documents', scale: { zero: true } },
          y2: { field: 'to' },
          color: { field: 'model version', type: 'nominal' },
        },
      },
    ],
  };
  return so.vegaVisualization('deep-hash-health-hashed-over-time', {
    title: 'deep-hash: documents hashed over time',
    description: `Documents hashed (${hashedAt}) in the time picker's range, stacked by the model version that hashed them: after a model update, the old version's documents are the ones to index again.`,
    spec: hjsonText(spec, auto
      ? { '"%autointerval%"': 'The bucket width: about a 50th of the time picker\'s range. A fixed width instead: "calendar_interval": "day" (or hour, week, month...)' }
      : { '"calendar_interval"': 'The bucket width: minute, hour, day, week, month...' }),
  });
}

// (2) documents with and without a code.
function withCode(config) {
  const exists = { exists: { field: config.codeField } };
  const spec = {
    $schema: VEGA_LITE_SCHEMA,
    title: `Documents with and without a code (${config.codeField})`,
    data: {
      url: aggregationUrl(config, { codes: { filters: { filters: [exists, { bool: { must_not: [exists] } }] } } }),
      format: { property: 'aggregations.codes.buckets' },
    },
    transform: [
      { window: [{ op: 'row_number', as: 'n' }] },
      { calculate: "datum.n == 1 ? 'with a code' : 'without a code'", as: 'documents' },
      { calculate: 'datum.doc_count', as: 'count' },
      { calculate: 'datum.n - 0.5', as: 'row' },
      { calculate: '0', as: 'zero' },
      { calculate: 'datum.n - 0.85', as: 'top' },
      { calculate: 'datum.n - 0.15', as: 'bottom' },
    ],
    layer: [
      { mark: { type: 'bar', tooltip: true }, encoding: { y: { field: 'top', type: 'quantitative', title: null, scale: { domain: [0, 2], reverse: true }, axis: { values: [0.5, 1.5], grid: false, labelExpr: "datum.value < 1 ? 'with a code' : 'without a code'" } }, y2: { field: 'bottom' }, x2: { field: 'zero' } } },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 14 }, encoding: { y: { field: 'row', type: 'quantitative' }, text: { field: 'count', type: 'quantitative' } } },
    ],
    encoding: {
      x: { field: 'count', type: 'quantitative', title: 'documents', scale: { zero: true } },
      tooltip: [{ field: 'documents' }, { field: 'count' }],
      color: { field: 'documents', type: 'nominal', legend: null, scale: { domain: ['with a code', 'without a code'], range: ['#54b399', '#e7664c'] } },
    },
  };
  return so.vegaVisualization('deep-hash-health-with-code', {
    title: 'deep-hash: documents with a code',
    description: `Documents with a code in ${config.codeField} and without one (not hashed: ignore_missing, or indexed outside the pipeline).`,
    spec: hjsonText(spec),
  });
}

// (3) bit balance: per bit, the share of the documents with a code that set it (0.5 is ideal).
function bitBalance(config) {
  const spec = {
    $schema: VEGA_LITE_SCHEMA,
    title: `Bit balance of ${config.codeField}: the share of documents that set each bit`,
    data: {
      url: aggregationUrl(config, {
        coded: {
          // A bucket of the documents with a code (an all-zero code has no .bits), and its bits in it.
          filters: { filters: [{ exists: { field: config.codeField } }] },
          aggs: { bits: { histogram: { field: `${config.codeField}.bits`, interval: 1, min_doc_count: 0, extended_bounds: { min: 0, max: config.bits - 1 } } } },
        },
      }),
      format: { property: 'aggregations.coded.buckets' },
    },
    transform: [
      { flatten: ['bits.buckets'], as: ['bit'] },
      { calculate: 'datum.bit.key', as: 'bit position' },
      { calculate: 'datum.bit.key + 1', as: 'next bit' },
      { calculate: 'datum.doc_count > 0 ? datum.bit.doc_count / datum.doc_count : 0', as: 'share set' },
    ],
    layer: [
      {
        mark: { type: 'bar', binSpacing: 1 },
        encoding: {
          tooltip: [{ field: 'bit position', type: 'quantitative' }, { field: 'share set', type: 'quantitative', format: '.1%' }, { field: 'bit.doc_count', title: 'documents' }],
          x: { field: 'bit position', type: 'quantitative', bin: { binned: true, step: 1 }, scale: { domain: [0, config.bits] }, title: 'bit (0 = most significant of the first hex digit)', axis: { values: Array.from({ length: Math.floor(config.bits / 8) + 1 }, (_, i) => i * 8) } },
          x2: { field: 'next bit' },
          y: { field: 'share set', type: 'quantitative', title: 'share of documents with the bit set', scale: { domain: [0, 1] }, axis: { format: '%' } },
          color: {
            condition: { test: 'abs(datum["share set"] - 0.5) > 0.4', value: '#e7664c' },
            value: '#6092c0',
          },
        },
      },
      { data: { values: [{ ideal: 0.5 }] }, mark: { type: 'rule', color: '#343741', strokeDash: [4, 4] }, encoding: { y: { field: 'ideal', type: 'quantitative' } } },
    ],
  };
  return so.vegaVisualization('deep-hash-health-bit-balance', {
    title: 'deep-hash: bit balance',
    description: `Per bit of ${config.codeField}, the share of the documents with a code that set it (needs "bits_field": true on the field): about 0.5 (the dashed line) is a useful bit, near 0 or 1 (red) one that carries nothing.`,
    spec: hjsonText(spec),
  });
}

function objects(config) {
  const panels = [hashedOverTime(config), withCode(config), bitBalance(config)];
  const board = so.dashboard('deep-hash-health', {
    title: 'deep-hash: collection health',
    description: 'When and by which model version the documents were hashed, how many have a code, and how balanced the code bits are.',
    panels: [
      { object: panels[0], x: 0, y: 0, w: 32, h: 16 },
      { object: panels[1], x: 32, y: 0, w: 16, h: 16 },
      { object: panels[2], x: 0, y: 16, w: 48, h: 18 },
    ],
  });
  return [...panels, board];
}

module.exports = { objects };
