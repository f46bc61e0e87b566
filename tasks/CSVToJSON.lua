-- CSVToJSON.lua - the csv-ingest example's single handler (the classic
-- "CSV to JSON" Lambda of examples/csv-ingest/template.yaml): reads the
-- object an S3 event names, streamed, parses it with moonstep.csv, turns
-- each good row into an item and writes the items to the table Customers
-- (TABLE_NAME in the environment overrides) with a moonstep.tables writer,
-- flushed every BATCH rows, each batch all or none.
--
-- Returns {source, read, written, rejected, duplicates, bad_rows =
-- {line, ...}, reasons = {{line =, reason =}, ...}} (lists capped at
-- ingest_rows.MAX_LISTED). A row is rejected when the CSV parser finds it
-- malformed (a wrong number of fields), when ingest_rows.item refuses it,
-- or when its id was already seen in this file (the first one wins).
-- Fails with NoSuchKey / NoSuchBucket (the object is missing),
-- Ingest.EmptyFile (not even a header), -- Ingest.BadHeader (another header
-- line than the example's), Ingest.BadEvent.
--
-- Progress: with INGEST_PROGRESS=bar in the environment it draws a bar on
-- stderr (bytes of the object read, rows and batches done, rows/s), with
-- INGEST_PROGRESS=lines a plain line per batch (make demo sets it). The
-- engine has no progress hook: these are the handler's own writes.
local csv = require "moonstep.csv"
local keyset = require "moonstep.keyset"
local s3 = require "moonstep.s3"
local rows = require "ingest_rows"

local M = {}

M.BATCH = 10000
M.CHUNK = 1 << 16

-- A progress reporter: p(bytes, rows, batches[, done]).
local function progress(total)
  local mode = os.getenv("INGEST_PROGRESS")
  if mode ~= "bar" and mode ~= "lines" then return function() end end
  local c0 = os.clock()  -- plain Lua has no wall clock finer than 1 s
  local last = -1
  return function(bytes, nrows, batches, done)
    local secs = math.max(os.clock() - c0, 1e-3)
    local rate = math.floor(nrows / secs)
    if mode == "lines" then
      io.stderr:write(string.format("progress: %d rows, %d batches, "
        .. "%d rows/s (cpu)%s\n", nrows, batches, rate,
        done and " (done)" or ""))
      return
    end
    local pct = total > 0 and math.min(100, bytes * 100 // total) or 100
    if pct == last and not done then return end
    last = pct
    local w = 30
    local fill = pct * w // 100
    io.stderr:write(string.format("\r[%s%s] %3d%%  %d rows  %d batches  "
      .. "%d rows/s (cpu) ", string.rep("#", fill),
      string.rep(".", w - fill), pct, nrows, batches, rate),
      done and "\n" or "")
    io.stderr:flush()
  end
end

local function fail(kind, message)
  error({errorType = kind, errorMessage = message})
end

-- The header must name the example's fields, in any order.
function M.check_header(names, where)
  local want = {}
  for _, f in ipairs(rows.FIELDS) do want[f] = true end
  local got = {}
  for _, n in ipairs(names or {}) do got[n] = true end
  for f in pairs(want) do
    if not got[f] then
      fail("Ingest.BadHeader", string.format(
        "%s: the header line has no field %q (expected %s)", where, f,
        table.concat(rows.FIELDS, ",")))
    end
  end
end

function M.handler(event, context)
  local bucket, key = rows.object_of(event)
  local where = "s3://" .. bucket .. "/" .. key
  local tname = os.getenv("TABLE_NAME") or rows.TABLE
  local obj = s3.get_object{Bucket = bucket, Key = key, stream = true}
  if obj.ContentLength == 0 then
    obj:close()
    fail("Ingest.EmptyFile", where .. " is empty: not even a header line")
  end
  local out = {source = where, read = 0, written = 0, rejected = 0,
               duplicates = 0, bad_rows = rows.array{},
               reasons = rows.array{}}
  local function reject(line, reason)
    out.rejected = out.rejected + 1
    local n = #out.bad_rows
    if n < rows.MAX_LISTED then
      out.bad_rows[n + 1] = line
      out.reasons[n + 1] = {line = line, reason = reason}
    end
  end
  -- one record table for every row (reuse): each item is stored by
  -- w:add before the next row is read
  local p = csv.reader{header = true, reuse = true, on_error = function(err)
    out.read = out.read + 1
    reject(err.record_line or err.line, err.message)
  end}
  local t = rows.db():table(tname)
  -- the ids of this file so far, with their lines: outside the Lua heap
  -- (a Lua table of a million ids is walked by every GC cycle)
  local seen, nb = keyset.new(), 0
  -- each item goes into its stored form as it is made (t:writer()), so
  -- no batch of items lives on the Lua heap
  local w = t:writer()
  local report = progress(obj.ContentLength or 0)
  local bytes, batches = 0, 0
  local function flush()
    if nb == 0 then return end
    w:flush()
    out.written = out.written + nb
    batches = batches + 1
    report(bytes, out.read, batches)
    nb = 0
  end
  local checked, in_place = false, false
  local function chunk()
    local c = obj:read(M.CHUNK)
    if c then bytes = bytes + #c end
    return c
  end
  for rec, line in p:records(chunk) do
    if not checked then
      M.check_header(p:header(), where)
      in_place = rows.exact_header(p:header())
      checked = true
    end
    out.read = out.read + 1
    local it, why = rows.item(rec, in_place)
    local first = it and seen:add(it.id, line)
    if not it then
      reject(line, why)
    elseif first then
      out.duplicates = out.duplicates + 1
      reject(line, "duplicate id " .. it.id .. " (first on line "
                   .. first .. ")")
    else
      nb = nb + 1
      w:add(it)
      if nb >= M.BATCH then flush() end
    end
  end
  obj:close()
  if not checked then M.check_header(p:header(), where) end
  flush()
  report(bytes, out.read, batches, true)
  return out
end

return M
