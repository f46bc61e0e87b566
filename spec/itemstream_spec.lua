-- itemstream_spec.lua - a Distributed Map streams its ItemReader
-- (engine/exec_kids.c, engine/itemreader.c): a redrive reads the object
-- again and runs only the batches that failed or never ran;
-- ToleratedFailurePercentage is checked against the total once it is
-- known; a bad row further on fails the Map Run with
-- States.ItemReaderFailed and its line; and 200,000 generated customer
-- rows (examples/csv-ingest/gen.lua) in batches, every row seen once, and
-- the binary's peak memory stays under a bound far below what holding the
-- rows would take. The peak is the process's own VmHWM, read by a Task
-- handler (handlers run inside the binary) after the Map. Under the
-- sanitizers (ASAN_OPTIONS set) the bound is not checked (shadow memory
-- and the quarantine dwarf it) and 20,000 rows do. No timing is asserted.
local S = require "support"
local json = require "cjson"

package.path = "./examples/csv-ingest/?.lua;" .. package.path
local gen = require "gen"

-- under the sanitizers fewer rows: the bound is not checked there
local ASAN = os.getenv("ASAN_OPTIONS") ~= nil
local ROWS = ASAN and 20000 or 200000
local BOUND_KB = 64 * 1024  -- the rows as JSON objects alone take ~250 MB

local COUNT = [[
local M = {}
function M.handler(event)
  local ids = 0
  for _, row in ipairs(event.Items) do
    if row.id ~= "" then ids = ids + 1 end
  end
  return {n = #event.Items, ids = ids, run = event.BatchInput.run}
end
return M
]]

local PEAK = [[
local M = {}
function M.handler(event)
  local n, ids, batches = 0, 0, 0
  for _, b in ipairs(event) do
    n, ids, batches = n + b.n, ids + b.ids, batches + 1
  end
  local kb
  for line in io.lines("/proc/self/status") do
    kb = kb or tonumber(line:match("^VmHWM:%s*(%d+)"))
  end
  return {rows = n, ids = ids, batches = batches, peak_kb = kb}
end
return M
]]

local MACHINE = {
  StartAt = "Rows",
  States = {
    Rows = {
      Type = "Map",
      ItemReader = {
        Resource = "arn:aws:states:::s3:getObject",
        ReaderConfig = {InputType = "CSV", CSVHeaderLocation = "FIRST_ROW"},
        Parameters = {Bucket = "data", Key = "customers.csv"}},
      ItemBatcher = {MaxItemsPerBatch = 1000,
                     BatchInput = {run = "r1"}},
      ItemProcessor = {
        ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "EXPRESS"},
        StartAt = "Count",
        States = {Count = {
          Type = "Task", End = true,
          Resource = "arn:aws:lambda:us-east-1:123456789012:function:Count"}}},
      Next = "Peak"},
    Peak = {Type = "Task", End = true,
            Resource = "arn:aws:lambda:us-east-1:123456789012:function:Peak"},
  },
}

-- A handler that records each batch's ids and fails once on FAILKEY's.
local W = [[
local M = {}
function M.handler(event)
  local ids = {}
  for _, r in ipairs(event.Items) do ids[#ids + 1] = r.id end
  local key = table.concat(ids, "+")
  local f = io.open("calls", "a")
  f:write(key, "\n")
  f:close()
  if key == os.getenv("FAILKEY") and not io.open("failed") then
    io.open("failed", "w"):close()
    error("boom")
  end
  return key
end
return M
]]

-- 10 rows in batches of 2, MaxConcurrency unset, a STANDARD run.
local function small(extra)
  local m = {Type = "Map", End = true,
    ItemReader = {
      Resource = "arn:aws:states:::s3:getObject",
      ReaderConfig = {InputType = "CSV", CSVHeaderLocation = "FIRST_ROW"},
      Parameters = {Bucket = "data", Key = "r.csv"}},
    ItemBatcher = {MaxItemsPerBatch = 2},
    ItemProcessor = {
      ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "STANDARD"},
      StartAt = "W",
      States = {W = {Type = "Task", End = true,
        Resource = "arn:aws:lambda:us-east-1:123456789012:function:W"}}}}
  for k, v in pairs(extra or {}) do m[k] = v end
  return {StartAt = "M", States = {M = m}}
end

local function rows(n, tail)
  local t = {"id,v"}
  for i = 1, n do t[#t + 1] = i .. ",x" .. i end
  return table.concat(t, "\n") .. "\n" .. (tail or "")
end

describe("#binary a streamed Distributed Map", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("itemstream")
    os.execute("mkdir -p " .. S.shquote(tmp .. "/buckets/data") .. " " ..
               S.shquote(tmp .. "/tasks"))
  end)
  after_each(function() S.rmtree(tmp) end)

  local function go(args, failkey)
    return S.run(tmp, args, "MOONSTEP_BUCKETS=" ..
                 S.shquote(tmp .. "/buckets") .. " FAILKEY=" ..
                 S.shquote(failkey or "none") .. " ", tmp)
  end
  local function calls()
    return (S.read(tmp .. "/calls") or ""):gsub("\n", " ")
  end
  local function setup(def, csv)
    S.spit(tmp .. "/buckets/data/r.csv", csv)
    S.spit(tmp .. "/tasks/W.lua", W)
    S.spit(tmp .. "/m.json", json.encode(def))
  end

  it("redrives only the batches that failed or never ran", function()
    setup(small(), rows(10))
    local _, _, code = go({"run", "m.json", "--db", "db", "--name", "e",
                           "--tasks", "tasks"}, "5+6")
    assert.are_not.equal(0, code)
    assert.are.equal("1+2 3+4 5+6 ", calls())
    local out, err
    out, err, code = go({"redrive", "e", "--db", "db", "--tasks", "tasks"},
                        "5+6")
    assert.are.equal(0, code, err)
    assert.are.same({"1+2", "3+4", "5+6", "7+8", "9+10"}, json.decode(out))
    assert.are.equal("1+2 3+4 5+6 5+6 7+8 9+10 ", calls())
  end)

  it("checks ToleratedFailurePercentage against the total", function()
    -- 1 failed batch of 5: 20% is tolerated, 10% is not (known at the end)
    setup(small({ToleratedFailurePercentage = 20}), rows(10))
    local out, err, code = go({"run", "m.json", "--db", "db", "--tasks",
                               "tasks"}, "5+6")
    assert.are.equal(0, code, err)
    out = json.decode(out)
    assert.are.equal(5, #out)
    assert.are.equal("Error", out[3].Error)
    os.remove(tmp .. "/failed")
    setup(small({ToleratedFailurePercentage = 10}), rows(10))
    _, err, code = go({"run", "m.json", "--db", "db", "--tasks", "tasks"},
                      "5+6")
    assert.are_not.equal(0, code)
    assert.truthy(err:find("States.ExceedToleratedFailureThreshold", 1,
                           true), err)
  end)

  it("fails with States.ItemReaderFailed and the line further on",
     function()
    setup(small(), rows(10, '11,"unterminated\n'))
    local _, err, code = go({"run", "m.json", "--db", "db", "--tasks",
                             "tasks"})
    assert.are_not.equal(0, code)
    assert.truthy(err:find("States.ItemReaderFailed", 1, true), err)
    assert.truthy(err:find("line 12", 1, true), err)
    assert.truthy(calls():find("^1%+2 3%+4 "), calls())
  end)

  it("reads 200k rows in batches within a memory bound", function()
    local f = assert(io.open(tmp .. "/buckets/data/customers.csv", "wb"))
    gen.generate({rows = ROWS, seed = 7}, function(s) f:write(s) end)
    f:close()
    S.spit(tmp .. "/tasks/Count.lua", COUNT)
    S.spit(tmp .. "/tasks/Peak.lua", PEAK)
    S.spit(tmp .. "/m.json", json.encode(MACHINE))
    local out, err, code = S.run(tmp, {"run", tmp .. "/m.json", "--express",
                                       "--tasks", tmp .. "/tasks",
                                       "--db", tmp .. "/db"},
                                 "MOONSTEP_BUCKETS=" ..
                                 S.shquote(tmp .. "/buckets") .. " ", tmp)
    assert.are.equal(0, code, err)
    local v = json.decode(out)
    assert.are.equal(ROWS, v.rows)
    assert.are.equal(ROWS, v.ids)
    assert.are.equal(ROWS // 1000, v.batches)
    assert.is_number(v.peak_kb)
    if not ASAN then
      assert.is_true(v.peak_kb < BOUND_KB, "peak " .. v.peak_kb .. " kB")
    end
  end)
end)
