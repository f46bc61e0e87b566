-- CheckObject.lua - the first state of examples/csv-ingest/ingest.asl.json:
-- the object the S3 event names must exist (else NoSuchKey /
-- NoSuchBucket, as S3 answers), must not be empty (Ingest.EmptyFile) and
-- must start with the example's header line (Ingest.BadHeader), so the
-- Distributed Map reads only a file it can ingest. Returns {bucket, key,
-- size}.
local csv = require "moonstep.csv"
local s3 = require "moonstep.s3"
local rows = require "ingest_rows"
local CSVToJSON = require "CSVToJSON"

local M = {}

function M.handler(event)
  local bucket, key = rows.object_of(event)
  local where = "s3://" .. bucket .. "/" .. key
  local obj = s3.get_object{Bucket = bucket, Key = key, stream = true}
  local size = obj.ContentLength
  local head = obj:read(1 << 16) or ""
  obj:close()
  if size == 0 or head == "" then
    error({errorType = "Ingest.EmptyFile",
           errorMessage = where .. " is empty: not even a header line"})
  end
  -- the header: the first record of the first chunk
  local p = csv.reader{strict = false, on_error = function() end}
  local first = p:feed(head)[1] or p:finish()[1] or {}
  CSVToJSON.check_header(first, where)
  return {bucket = bucket, key = key, size = size}
end

return M
