-- WriteBatch.lua - the csv-ingest example's batch writer (the Distributed
-- Map of examples/csv-ingest/ingest.asl.json calls it once per
-- ItemBatcher batch): turns the batch's rows (objects of strings keyed by
-- the header, as the ItemReader gives them) into items with
-- ingest_rows.item and writes the good ones to Customers (TABLE_NAME in
-- the environment overrides) in one transaction (t:writer(), items
-- stored as added, flushed once): all or none. Rows whose fields are
-- exactly the example's become their items in place (item(rec, true)).
--
-- Input {Items = {row, ...}, BatchInput = {run = the execution's id}}.
-- Each item records the run in loaded_by, so a later batch of the same
-- run can tell an id this file already had (a duplicate: rejected, the
-- first row wins) from one an earlier run wrote (replaced). The check
-- reads the batch's ids first, with one batch_get for the whole batch
-- (the store takes any number of keys from a handler; its cost is per
-- key, not per call: 25 or 5000 keys a call measured the same). Batches
-- running at the same time could both miss a duplicate they share:
-- moonstep runs handlers one at a time, AWS would not.
-- Returns {read, written, rejected, duplicates}; the summary state finds
-- the rejected rows' line numbers (tasks/IngestSummary.lua).
local rows = require "ingest_rows"

local M = {}

-- Whether the rows' fields are exactly ingest_rows.FIELDS (the ItemReader
-- gives every row of a file the header's fields), so item(rec, true)
-- may turn each row into its item in place.
local function exact(rec)
  local names, n = {}, 0
  for k in pairs(rec) do
    n = n + 1
    names[n] = k
  end
  return rows.exact_header(names)
end

function M.handler(event, context)
  local input = type(event) == "table" and event.Items
  if type(input) ~= "table" then
    error({errorType = "Ingest.BadBatch",
           errorMessage = "expected {Items = [...]} from an ItemBatcher"})
  end
  local run = type(event.BatchInput) == "table" and event.BatchInput.run
    or (context and context.execution_id) or "?"
  local t = rows.db():table(os.getenv("TABLE_NAME") or rows.TABLE)
  local out = {read = #input, written = 0, rejected = 0, duplicates = 0}
  local in_place = type(input[1]) == "table" and exact(input[1])
  local item = rows.item
  local items, n, at, keys = {}, 0, {}, {}
  for _, rec in ipairs(input) do
    local it = type(rec) == "table" and item(rec, in_place)
    if not it then
      out.rejected = out.rejected + 1
    else
      local id = it.id
      if at[id] then
        out.rejected = out.rejected + 1
        out.duplicates = out.duplicates + 1
      else
        it.loaded_by = run
        n = n + 1
        items[n] = it
        at[id] = n
        keys[n] = {id = id}
      end
    end
  end
  if n == 0 then return out end
  -- ids an earlier batch of this run wrote: duplicates
  local drop = {}
  for _, old in ipairs(t:batch_get(keys, {projection = "id, loaded_by"})) do
    if old.loaded_by == run then drop[at[old.id]] = true end
  end
  -- then the rest, stored as added and written in one transaction (all
  -- or none: nothing is written unless flush succeeds)
  local w, k = t:writer(), 0
  for i = 1, n do
    if drop[i] then
      out.rejected = out.rejected + 1
      out.duplicates = out.duplicates + 1
    else
      k = k + 1
      w:add(items[i])
    end
  end
  if k > 0 then w:flush() end
  out.written = k
  return out
end

return M
