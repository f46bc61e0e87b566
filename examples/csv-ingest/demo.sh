#!/bin/sh
# demo.sh - `make demo`: the csv-ingest example end to end on this machine,
# from the repository's top level, after the build: deploys
# examples/csv-ingest/template.yaml (tables Customers and IngestRuns, the
# machines csv-ingest and csv-ingest-map), generates a sample CSV
# (DEMO_ROWS rows, default 100000, a few bad ones), puts it in the bucket
# csv-uploads, runs csv-ingest on the S3 event with a progress display (a
# bar in a terminal, plain lines otherwise), prints the summary and the
# first items of the table. State lives in .moonstep/ (git ignores it).
set -eu
BUILD=${BUILD:-build}
MS="$BUILD/moonstep"
ROWS=${DEMO_ROWS:-100000}
KEY=incoming/customers.csv
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== deploy examples/csv-ingest/template.yaml"
"$MS" deploy examples/csv-ingest/template.yaml
"$MS" s3 mb s3://csv-uploads >/dev/null 2>&1 || true

echo "== generate $ROWS rows (with 3 malformed, 1 without an id, 2 duplicates)"
${LUA:-lua5.4} examples/csv-ingest/gen.lua "$ROWS" --bad 3 --noid 1 --dup 2 \
  -o "$TMP/customers.csv"
ls -l "$TMP/customers.csv" | awk '{print "   " $5 " bytes"}'
"$MS" s3 cp "$TMP/customers.csv" "s3://csv-uploads/$KEY"

echo "== moonstep run csv-ingest (the S3 event of s3://csv-uploads/$KEY)"
EVENT="{\"Records\":[{\"eventSource\":\"aws:s3\",
  \"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":
  \"csv-uploads\"},\"object\":{\"key\":\"$KEY\"}}}]}"
if [ -t 2 ]; then INGEST_PROGRESS=bar; else INGEST_PROGRESS=lines; fi
export INGEST_PROGRESS
START=$(date +%s.%N)
"$MS" run csv-ingest --input "$EVENT" > "$TMP/summary.json"
END=$(date +%s.%N)

echo "== summary ($(echo "$END - $START" | bc 2>/dev/null || echo "?") s)"
${LUA:-lua5.4} -e '
  local s = io.read("a")
  local function n(k) return s:match("\"" .. k .. "\":(%d+)") end
  print(string.format("   read %s, written %s, rejected %s (duplicates %s)",
        n("read"), n("written"), n("rejected"), n("duplicates")))
  local lines = s:match("\"bad_rows\":%[([^%]]*)%]") or ""
  print("   bad rows on lines: " .. (lines ~= "" and lines or "none"))
  for line, why in s:gmatch("{\"line\":(%d+),\"reason\":\"([^\"]*)\"}") do
    print(string.format("     line %s: %s", line, why))
  end' < "$TMP/summary.json"

echo "== moonstep table scan Customers --limit 5"
"$MS" table scan Customers --limit 5
