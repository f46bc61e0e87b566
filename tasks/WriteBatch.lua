-- WriteBatch.lua - the csv-ingest example's batch writer (the Distributed
-- Map of examples/csv-ingest/ingest.asl.json calls it once per
-- ItemBatcher batch): turns the batch's rows (objects of strings keyed by
-- the header, as the ItemReader gives them) into items with
-- ingest_rows.item and writes the good ones to Customers (TABLE_NAME in
-- the environment overrides) with one batch_write: all or none.
--
-- Input {Items = {row, ...}, BatchInput = {run = the execution's id}}.
-- Each item records the run in loaded_by, so a later batch of the same
-- run can tell an id this file already had (a duplicate: rejected, the
-- first row wins) from one an earlier run wrote (replaced). The check
-- reads the batch's ids first (batch_get); batches running at the same
-- time could both miss a duplicate they share: moonstep runs handlers
-- one at a time, AWS would not.
-- Returns {read, written, rejected, duplicates}; the summary state finds
-- the rejected rows' line numbers (tasks/IngestSummary.lua).
local rows = require "ingest_rows"

local M = {}

M.GET = 25    -- keys per batch_get (AWS allows 100; fewer is faster here)

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
  local items, n, at = {}, 0, {}
  for _, rec in ipairs(input) do
    local it = rows.item(rec)
    if not it then
      out.rejected = out.rejected + 1
    elseif at[it.id] then
      out.rejected = out.rejected + 1
      out.duplicates = out.duplicates + 1
    else
      it.loaded_by = run
      n = n + 1
      items[n] = it
      at[it.id] = n
    end
  end
  -- ids an earlier batch of this run wrote: duplicates
  local drop = {}
  for i = 1, n, M.GET do
    local keys = {}
    for j = i, math.min(n, i + M.GET - 1) do
      keys[#keys + 1] = {id = items[j].id}
    end
    for _, old in ipairs(t:batch_get(keys, {projection = "id, loaded_by"})) do
      if old.loaded_by == run then drop[at[old.id]] = true end
    end
  end
  if next(drop) then
    local kept, k = {}, 0
    for i = 1, n do
      if drop[i] then
        out.rejected = out.rejected + 1
        out.duplicates = out.duplicates + 1
      else
        k = k + 1
        kept[k] = items[i]
      end
    end
    items, n = kept, k
  end
  if n > 0 then t:batch_write(items) end
  out.written = n
  return out
end

return M
