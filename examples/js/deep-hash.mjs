// deep-hash from the official JavaScript client (@elastic/elasticsearch 8.19): a deep_hash pipeline, an
// index with binary_hash fields and a dense_vector embedding, ten captioned pictures bulked through the
// pipeline, hamming queries by code, text and picture (with max_distance and with rerank), and the
// plugin's _deep_hash API. Every answer is checked against what it must be (distances computed here from
// the codes the node stored); the exit status is 1 if any check fails.
//
//   node examples/js/deep-hash.mjs http://127.0.0.1:9200      (or ES_URL)
import { Client } from '@elastic/elasticsearch'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const PIPELINE = 'deep-hash-example'
const INDEX = 'deep-hash-example-js'
const url = process.argv[2] ?? process.env.ES_URL ?? 'http://localhost:9200'
const sample = fileURLToPath(new URL('../../demo/emoji-test-sample.ndjson', import.meta.url))

const client = new Client({ node: url })
const failures = []
let checks = 0

function check (ok, what) {
  checks++
  if (!ok) {
    failures.push(what)
    console.log(`  FAILED: ${what}`)
  }
}

// Hamming distance between two hex codes of one width.
function hamming (a, b) {
  let d = 0
  for (let i = 0; i < a.length; i += 8) {
    let x = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0
    while (x) { x &= x - 1; d++ }
  }
  return d
}

function show (what, hits, code, field) {
  console.log(`\n==> ${what}: ${hits.length} hits`)
  for (const h of hits) {
    const d = hamming(code, h._source[field])
    console.log(`  ${h._score.toFixed(4)}  d=${String(d).padEnd(2)}  ${h._id.padEnd(5)} ${h._source.label.padEnd(22)} ${h._source.subgroup}`)
  }
}

// Hits scored 1 - d/bits, closest first.
function checkScores (hits, field, code, bits) {
  let previous = Infinity
  for (const h of hits) {
    const d = hamming(code, h._source[field])
    check(Math.abs(h._score - (1 - d / bits)) < 1e-6 && h._score <= previous,
      `hit ${h._id} on [${field}] scores 1 - ${d}/${bits} in order: ${h._score}`)
    previous = h._score
  }
}

// The hits are exactly the documents within the radius.
function checkRadius (hits, stored, field, code, radius, bits) {
  const within = Object.values(stored).filter(s => hamming(code, s[field]) <= radius).length
  check(hits.length === within, `max_distance ${radius} on [${field}] returns the ${within} documents within it: ${hits.length}`)
  checkScores(hits, field, code, bits)
}

// The plugin's own endpoints, through the client's transport.
const hash = body => client.transport.request({ method: 'POST', path: '/_deep_hash/models/default/_hash', body })

async function run () {
  console.log(`==> JavaScript client (@elastic/elasticsearch) against ${url}`)

  // 1. Which models the node has.
  const models = await client.transport.request({ method: 'GET', path: '/_deep_hash/models' })
  const model = models.models.find(m => m.name === 'default')
  check(model?.usable === true, "GET _deep_hash/models lists a usable model 'default'")
  const { bits, embedding_dim: dims } = model
  console.log(`GET _deep_hash/models: default, ${bits} bits, ${dims}-d embedding, entry points ${model.entry_points.join(',')}`)

  // 2. The pipeline: fused code, per-modality codes, embedding; the picture itself is not kept.
  await client.ingest.putPipeline({
    id: PIPELINE,
    description: 'hash each picture and its caption with the bundled model',
    processors: [{
      deep_hash: {
        model: 'default', image_field: 'image', text_field: 'caption',
        target_field: 'hash', image_target_field: 'image_hash', text_target_field: 'text_hash',
        embedding_field: 'embedding', remove_image: true
      }
    }]
  })
  console.log(`PUT _ingest/pipeline/${PIPELINE}`)

  // 3. The index: binary_hash fields of the model's width, the embedding for re-ranking.
  await client.indices.delete({ index: INDEX, ignore_unavailable: true })
  await client.indices.create({
    index: INDEX,
    settings: { number_of_shards: 1, number_of_replicas: 0, 'index.deep_hash.codec': true },
    mappings: {
      properties: {
        label: { type: 'text' },
        caption: { type: 'text' },
        subgroup: { type: 'keyword' },
        hash: { type: 'binary_hash', bits },
        image_hash: { type: 'binary_hash', bits },
        text_hash: { type: 'binary_hash', bits },
        embedding: { type: 'dense_vector', dims, index: false }
      }
    }
  })
  console.log(`PUT ${INDEX}`)

  // 4. Ten pictures with captions (every 40th of the demo sample), bulked through the pipeline.
  const lines = readFileSync(sample, 'utf8').split('\n').filter(Boolean)
  const pictures = {}
  for (let i = 0; i < lines.length && Object.keys(pictures).length < 10; i += 40) {
    const d = JSON.parse(lines[i])
    pictures[String(d.picture)] = { label: d.label, caption: d.caption, subgroup: d.subgroup, image: d.image }
  }
  const operations = Object.entries(pictures).flatMap(([id, doc]) => [{ index: { _id: id } }, doc])
  const bulk = await client.bulk({ index: INDEX, pipeline: PIPELINE, refresh: true, operations })
  check(!bulk.errors, 'bulk through the pipeline has no errors')
  console.log(`POST _bulk?pipeline=${PIPELINE}: ${bulk.items.length} pictures in ${bulk.took} ms`)

  const all = await client.search({ index: INDEX, size: 100 })
  const stored = Object.fromEntries(all.hits.hits.map(h => [h._id, h._source]))
  check(Object.keys(stored).sort().join() === Object.keys(pictures).sort().join(),
    `all ten pictures are in the index: ${Object.keys(stored)}`)
  for (const [id, s] of Object.entries(stored)) {
    check(new RegExp(`^[0-9a-f]{${bits / 4}}$`).test(s.hash) && s.image_hash?.length === bits / 4 &&
      s.text_hash?.length === bits / 4 && s.embedding?.length === dims && !('image' in s),
    `document ${id} has its three codes and embedding, and no picture`)
  }

  // 5. By code, within a radius: every document within 28 bits of the first one's fused code.
  const firstId = Object.keys(pictures)[0]
  const code = stored[firstId].hash
  let r = await client.search({
    index: INDEX,
    size: 10,
    query: { hamming: { field: 'hash', code, max_distance: 28 } }
  })
  show(`hamming by code ${code} on [hash], max_distance 28`, r.hits.hits, code, 'hash')
  checkRadius(r.hits.hits, stored, 'hash', code, 28, bits)
  check(r.hits.hits[0]?._id === firstId && r.hits.hits[0]?._score === 1, 'the code query finds its own document first, score 1.0')

  // 6. By picture: one whose image code no other picture shares finds its own document first, at distance 0.
  const pictureId = Object.keys(stored).find(id =>
    Object.values(stored).filter(s => s.image_hash === stored[id].image_hash).length === 1)
  check(pictureId !== undefined, 'some picture has an image code of its own')
  const image = pictures[pictureId].image
  const imageCode = (await hash({ image })).code
  check(imageCode === stored[pictureId].image_hash,
    'POST _deep_hash/models/default/_hash gives the picture the image code the pipeline stored')
  r = await client.search({
    index: INDEX,
    size: 10,
    query: { hamming: { field: 'image_hash', image, max_distance: 32 } }
  })
  show(`hamming by picture ("${pictures[pictureId].label}") on [image_hash], max_distance 32`, r.hits.hits, imageCode, 'image_hash')
  checkRadius(r.hits.hits, stored, 'image_hash', imageCode, 32, bits)
  check(r.hits.hits[0]?._id === pictureId && r.hits.hits[0]?._score === 1,
    "the picture query finds the picture's own document first, at distance 0")

  // 7. By text against the pictures' codes (cross-modal), top 5.
  const text = 'fruit'
  const textCode = (await hash({ text })).code
  r = await client.search({ index: INDEX, size: 5, query: { hamming: { field: 'image_hash', text } } })
  show(`hamming by text "${text}" on [image_hash], top 5`, r.hits.hits, textCode, 'image_hash')
  check(r.hits.hits.length === 5, 'the text query returns 5 hits')
  checkScores(r.hits.hits, 'image_hash', textCode, bits)

  // 8. By text with rerank: the 5 nearest codes re-scored by the embedding, 1 / (1 + d^2) for an unindexed vector.
  const drink = 'hot drink'
  const drinkHash = await hash({ text: drink })
  r = await client.search({
    index: INDEX,
    size: 10,
    query: { hamming: { field: 'hash', text: drink, rerank: { field: 'embedding', window: 5 } } }
  })
  show(`hamming by text "${drink}" on [hash], rerank {embedding, window 5}`, r.hits.hits, drinkHash.code, 'hash')
  check(r.hits.hits.length === 5, "rerank keeps the window's 5 candidates")
  let changed = false
  for (const h of r.hits.hits) {
    const d2 = drinkHash.embedding.reduce((sum, q, i) => sum + (q - h._source.embedding[i]) ** 2, 0)
    const expected = 1 / (1 + d2)
    check(Math.abs(h._score - expected) <= 1e-4 * expected,
      `rerank score of ${h._id} is the embedding's 1/(1+d^2) = ${expected}: ${h._score}`)
    changed ||= Math.abs(h._score - (1 - hamming(drinkHash.code, h._source.hash) / bits)) > 1e-6
  }
  check(changed, 'rerank changed the scores from the Hamming ones')
}

try {
  await run()
} catch (e) {
  failures.push(`unexpected error: ${e.stack ?? e}`)
  console.log(e)
} finally {
  await client.close()
}
if (failures.length === 0) {
  console.log(`==> JavaScript client example: all ${checks} checks passed`)
} else {
  console.log(`==> JavaScript client example: ${failures.length} of ${checks} checks FAILED`)
  for (const f of failures) console.log(`  FAILED: ${f}`)
  process.exitCode = 1
}
