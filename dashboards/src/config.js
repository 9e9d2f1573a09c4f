'use strict';
// Where the dashboards look: the demo index of scripts/demo.sh by default. build.js takes each key as
// a command-line option (--index photos --code-field image_hash ...), so that one set of saved objects
// can be written for another collection; README.md lists them.
const DEFAULTS = Object.freeze({
  index: 'emoji',            // the index (or alias, or pattern) the panels search
  dataViewId: 'deep-hash-emoji',
  codeField: 'image_hash',   // a binary_hash field: the pictures' codes (text -> picture is cross-modal)
  bits: 64,                  // its width: a hamming score is 1 - d/bits, so d = (1 - score) * bits
  imageField: 'image',       // the stored picture (base64), when the pipeline keeps it (remove_image: false)
  urlField: '',              // a field with a picture's URL, shown when the picture itself was not kept
  labelField: 'label',
  captionField: 'caption',
  queryText: 'a cat',        // the text the search and histogram panels hash
  queryImage: 'query-picture.png',  // the picture the picture search hashes (a file; relative to dashboards/)
  nearId: '3351',            // the document the near-duplicates panel searches around (twitter's giraffe)
  nearCode: 'fd01fe96dbe1cf39',  // its code in codeField (the bundled model's; test.js checks it)
  maxDistance: 12,           // the near-duplicates radius, in bits
  histogramSize: 1000,       // how many nearest documents the histogram counts
  modelInfoField: 'model_info',  // the deep_hash processor's model_info_field: {name, version, hashed_at}
  hashedInterval: 'auto',    // the hashed-over-time panel's buckets: auto (Kibana's %autointerval%), or a calendar_interval
});

function parseArgs(argv) {
  const config = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const key = m && m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!m || !(key in DEFAULTS)) {
      throw new Error(`unknown option ${argv[i]}: expected one of ${Object.keys(DEFAULTS).map(toOption).join(', ')}`);
    }
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    config[key] = typeof DEFAULTS[key] === 'number' ? Number(value) : value;
    if (Number.isNaN(config[key])) throw new Error(`${toOption(key)} must be a number, got ${value}`);
  }
  return config;
}

function toOption(key) {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

module.exports = { DEFAULTS, parseArgs, toOption };
