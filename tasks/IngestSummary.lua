-- IngestSummary.lua - the last state of examples/csv-ingest/ingest.asl.json:
-- sums the Distributed Map's per-batch counts (tasks/WriteBatch.lua) into
-- the summary CSVToJSON returns, {source, read, written, rejected,
-- duplicates, bad_rows, reasons} plus failed_batches (batches that failed
-- as a whole, within ToleratedFailurePercentage: nothing of them was
-- written and their rows are not in read).
--
-- The ItemReader hands rows without their line numbers, so when some were
-- rejected this reads the object once more and applies the same rules in
-- the same order (ingest_rows.item, the first of an id wins) to find their
-- lines. A clean file is not read again.
local csv = require "moonstep.csv"
local s3 = require "moonstep.s3"
local rows = require "ingest_rows"

local M = {}

local function bad_lines(bucket, key, out)
  local obj = s3.get_object{Bucket = bucket, Key = key, stream = true}
  -- the ItemReader's dialect: backslash escapes, short rows padded
  local p = csv.reader{header = true, ragged = true, backslash = true,
                       strict = false, on_error = function() end}
  local seen = {}
  for rec, line in p:records(function() return obj:read(1 << 16) end) do
    local it, why = rows.item(rec)
    if it and seen[it.id] then
      why = "duplicate id " .. it.id .. " (first on line " .. seen[it.id]
            .. ")"
    elseif it then
      seen[it.id] = line
    end
    if why then
      local n = #out.bad_rows
      if n >= rows.MAX_LISTED then break end
      out.bad_rows[n + 1] = line
      out.reasons[n + 1] = {line = line, reason = why}
    end
  end
  obj:close()
end

function M.handler(event)
  local o = event.object or {}
  local out = {source = "s3://" .. tostring(o.bucket) .. "/"
                        .. tostring(o.key),
               read = 0, written = 0, rejected = 0, duplicates = 0,
               failed_batches = 0, bad_rows = rows.array{},
               reasons = rows.array{}}
  for _, b in ipairs(event.batches or {}) do
    if type(b) == "table" and type(b.read) == "number" then
      out.read = out.read + b.read
      out.written = out.written + b.written
      out.rejected = out.rejected + b.rejected
      out.duplicates = out.duplicates + b.duplicates
    else
      out.failed_batches = out.failed_batches + 1
    end
  end
  if out.rejected > 0 then bad_lines(o.bucket, o.key, out) end
  return out
end

return M
