#!/usr/bin/env bash
# Imports the dashboards into a Kibana 8.19 through its saved-objects API (Kibana's, not Elasticsearch's):
#   dashboards/import.sh http://localhost:5601 [file.ndjson]
# KIBANA_AUTH=user:password adds basic authentication; KIBANA_SPACE=id imports into that space. Objects
# with the same ids are overwritten. Prints how many objects Kibana imported, and every error it names;
# exits 1 when Kibana refuses the file or any object in it.
set -euo pipefail
cd "$(dirname "$0")"
kibana="${1:-${KIBANA_URL:-}}"
file="${2:-deep-hash.ndjson}"
[ -n "$kibana" ] || { echo "usage: dashboards/import.sh <kibana url> [file.ndjson]" >&2; exit 2; }
[ -f "$file" ] || { echo "import: no such file: $file" >&2; exit 2; }
space="${KIBANA_SPACE:+/s/$KIBANA_SPACE}"
auth=()
[ -z "${KIBANA_AUTH:-}" ] || auth=(-u "$KIBANA_AUTH")
answer="$(curl -sS "${auth[@]}" -X POST "${kibana%/}$space/api/saved_objects/_import?overwrite=true" \
  -H 'kbn-xsrf: true' --form "file=@$file;type=application/ndjson" -w '\n%{http_code}')" \
  || { echo "import: cannot reach Kibana at $kibana" >&2; exit 1; }
status="${answer##*$'\n'}"
body="${answer%$'\n'*}"
ANSWER="$body" STATUS="$status" FILE="$file" node -e '
  let a;
  try { a = JSON.parse(process.env.ANSWER); } catch (e) {
    console.error(`import: Kibana answered ${process.env.STATUS} with no JSON: ${process.env.ANSWER.slice(0, 300)}`); process.exit(1);
  }
  if (process.env.STATUS !== "200") {
    console.error(`import: Kibana refused ${process.env.FILE} (${process.env.STATUS}): ${a.message || JSON.stringify(a).slice(0, 300)}`); process.exit(1);
  }
  const errors = a.errors || [];
  for (const e of errors) console.error(`import: ${e.type} ${e.id}: ${JSON.stringify(e.error)}`);
  console.log(`imported ${a.successCount} saved objects into Kibana${errors.length ? `, ${errors.length} refused` : ""}`);
  process.exit(a.success && !errors.length ? 0 : 1);'
