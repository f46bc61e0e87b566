-- itemreader_jsonata_spec.lua - the Distributed Map's ItemReader and
-- ResultWriter in JSONata states and the ResultWriter's memory
-- (engine/exec_kids.c, engine/itemreader.c, engine/resultwriter.c),
-- through the moonstep binary: Arguments and ReaderConfig with "{% %}"
-- expressions (MaxItems too), ItemBatcher expressions, the ResultWriter's
-- Arguments; validation rejects Parameters there in JSONata states and
-- Arguments in JSONPath ones; a MaxItems of the wrong type is a
-- States.QueryEvaluationError; run --log prints one line for each failed
-- child execution (its events are not in the parent's history); a killed
-- durable run resumes and exports every input (the reader is read again
-- even when it had been read to its end); and a 200,000-row Map with a
-- ResultWriter writes every record while the binary's peak memory (its
-- own VmHWM, read by a Task handler after the Map) stays far below what
-- holding the inputs and outputs would take. Under the sanitizers
-- (ASAN_OPTIONS set) 20,000 rows and no bound.
local S = require "support"
local json = require "cjson"

package.path = "./examples/csv-ingest/?.lua;" .. package.path
local gen = require "gen"

local ASAN = os.getenv("ASAN_OPTIONS") ~= nil
local ROWS = ASAN and 20000 or 200000
local BOUND_KB = 64 * 1024  -- the records alone are ~175 MB of JSON text

local GET = "arn:aws:states:::s3:getObject"
local PUT = "arn:aws:states:::s3:putObject"

local PEAK = [[
local M = {}
function M.handler(event)
  local kb
  for line in io.lines("/proc/self/status") do
    kb = kb or tonumber(line:match("^VmHWM:%s*(%d+)"))
  end
  return {peak_kb = kb, key = event.ResultWriterDetails.Key}
end
return M
]]

-- A JSONata Distributed Map over data/s.csv (bucket and MaxItems from the
-- input), in batches of 2, its result exported to out/PREFIX.
local function jmap(extra)
  local m = {Type = "Map", End = true,
    ItemReader = {Resource = GET,
      ReaderConfig = {InputType = "CSV", CSVHeaderLocation = "FIRST_ROW",
                      MaxItems = "{% $states.input.max %}"},
      Arguments = {Bucket = "{% $states.input.bucket %}", Key = "s.csv"}},
    ItemBatcher = {MaxItemsPerBatch = "{% 1 + 1 %}",
                   BatchInput = {tag = "{% $states.input.tag %}"}},
    ItemProcessor = {
      ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "STANDARD"},
      StartAt = "P", States = {P = {Type = "Pass", End = true,
        Output = "{% $states.input.BatchInput.tag & ':' & " ..
                 "$join($states.input.Items.id, '+') %}"}}}}
  for k, v in pairs(extra or {}) do m[k] = v end
  return {QueryLanguage = "JSONata", StartAt = "M", States = {M = m}}
end

describe("#binary ItemReader and ResultWriter in JSONata states", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("irjsonata")
    os.execute("mkdir -p " .. S.shquote(tmp .. "/buckets/data") .. " " ..
               S.shquote(tmp .. "/buckets/out") .. " " ..
               S.shquote(tmp .. "/tasks"))
    S.spit(tmp .. "/buckets/data/s.csv", "id,name\n1,a\n2,b\n3,c\n4,d\n5,e\n")
  end)
  after_each(function() S.rmtree(tmp) end)

  local function run(def, input, extra)
    S.spit(tmp .. "/m.json", json.encode(def))
    local args = {"run", tmp .. "/m.json", "--input",
                  json.encode(input or {}), "--db", tmp .. "/db"}
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    local out, err, code = S.run(tmp, args, "MOONSTEP_BUCKETS=" ..
                                 S.shquote(tmp .. "/buckets") .. " ", tmp)
    local ok, v = pcall(json.decode, out)
    return ok and v or out, err, code
  end

  local function validate(def)
    S.spit(tmp .. "/v.json", json.encode(def))
    local _, err, code = S.run(tmp, {"validate", tmp .. "/v.json"})
    return err, code
  end

  it("reads with Arguments and ReaderConfig expressions, in batches",
     function()
    local out, err, code = run(jmap(), {bucket = "data", max = 5,
                                        tag = "t"})
    assert.are.equal(0, code, err)
    assert.are.same({"t:1+2", "t:3+4", "t:5"}, out)
    out, err, code = run(jmap(), {bucket = "data", max = 3, tag = "u"})
    assert.are.equal(0, code, err)
    assert.are.same({"u:1+2", "u:3"}, out)
  end)

  it("exports with the ResultWriter's Arguments", function()
    local def = jmap({ResultWriter = {Resource = PUT, Arguments = {
      Bucket = "out", Prefix = "{% 'runs/' & $states.input.tag %}"}}})
    -- a durable run (written at the end) and an EXPRESS one (written as
    -- the iterations end) export the same records
    for _, extra in ipairs({{}, {"--express"}}) do
      local out, err, code = run(def, {bucket = "data", max = 5,
                                       tag = "t"}, extra)
      assert.are.equal(0, code, err)
      local key = out.ResultWriterDetails.Key
      assert.truthy(key:match("^runs/t/[%x-]+/manifest%.json$"), key)
      local manifest = json.decode(S.slurp(tmp .. "/buckets/out/" .. key))
      local rf = manifest.ResultFiles.SUCCEEDED[1]
      local text = S.slurp(tmp .. "/buckets/out/" .. rf.Key)
      assert.are.equal(#text, rf.Size)
      local recs = json.decode(text)
      assert.are.equal(3, #recs)
      local outs = {}
      for _, r in ipairs(recs) do outs[#outs + 1] = json.decode(r.Output) end
      table.sort(outs)
      assert.are.same({"t:1+2", "t:3+4", "t:5"}, outs)
      assert.are.same({tag = "t"}, json.decode(recs[1].Input).BatchInput)
    end
  end)

  it("fails a MaxItems of the wrong type with QueryEvaluationError",
     function()
    local _, err, code = run(jmap(), {bucket = "data", max = "x"})
    assert.are_not.equal(0, code)
    assert.truthy(err:find("States.QueryEvaluationError", 1, true), err)
    assert.truthy(err:find("MaxItems", 1, true), err)
  end)

  it("rejects Parameters in JSONata states and Arguments in JSONPath ones",
     function()
    local def = jmap()
    def.States.M.ItemReader.Parameters = {Bucket = "data", Key = "s.csv"}
    def.States.M.ItemReader.Arguments = nil
    local err, code = validate(def)
    assert.are.equal(3, code)
    assert.truthy(err:find("/States/M/ItemReader: field \"Parameters\"",
                           1, true), err)
    def = jmap({ResultWriter = {Resource = PUT,
                                Parameters = {Bucket = "out"}}})
    err, code = validate(def)
    assert.are.equal(3, code)
    assert.truthy(err:find("/States/M/ResultWriter: field \"Parameters\"",
                           1, true), err)
    -- a JSONPath Map
    local jp = {StartAt = "M", States = {M = {Type = "Map", End = true,
      ItemReader = {Resource = GET, ReaderConfig = {InputType = "CSV"},
                    Arguments = {Bucket = "data", Key = "s.csv"}},
      ResultWriter = {Resource = PUT, Arguments = {Bucket = "out"}},
      ItemProcessor = {
        ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "STANDARD"},
        StartAt = "P", States = {P = {Type = "Pass", End = true}}}}}}
    err, code = validate(jp)
    assert.are.equal(3, code)
    assert.truthy(err:find("/States/M/ItemReader: field \"Arguments\"", 1,
                           true), err)
    assert.truthy(err:find("/States/M/ResultWriter: field \"Arguments\"",
                           1, true), err)
    -- an expression that does not parse is found before the run
    def = jmap()
    def.States.M.ItemReader.Arguments.Key = "{% $states.input. %}"
    err, code = validate(def)
    assert.are.equal(3, code)
    assert.truthy(err:find("ItemReader/Arguments", 1, true), err)
  end)

  it("run --log shows why a Distributed Map's child failed", function()
    local def = {StartAt = "M", States = {M = {Type = "Map", End = true,
      ToleratedFailureCount = 1,
      ItemReader = {Resource = GET,
        ReaderConfig = {InputType = "CSV", CSVHeaderLocation = "FIRST_ROW"},
        Parameters = {Bucket = "data", Key = "s.csv"}},
      ItemProcessor = {
        ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "STANDARD"},
        StartAt = "C", States = {
          C = {Type = "Choice", Default = "P", Choices = {{
               Variable = "$.id", StringEquals = "2", Next = "F"}}},
          F = {Type = "Fail", Error = "Bad.Row", Cause = "row 2 is bad"},
          P = {Type = "Pass", End = true}}}}}}
    for _, extra in ipairs({{"--name", "e1"}, {"--express"}}) do
      table.insert(extra, "--log")
      local out, err, code = run(def, {}, extra)
      assert.are.equal(0, code, err)
      assert.are.equal("Bad.Row", out[2].Error)
      local notes, events = {}, 0
      for line in err:gmatch("[^\n]+") do
        local v = json.decode(line)
        if v.childExecutionFailed then
          notes[#notes + 1] = v.childExecutionFailed
        elseif v.type then
          events = events + 1
        end
      end
      assert.are.same({{state = "M", index = 1, name = "M/1",
                        error = "Bad.Row", cause = "row 2 is bad"}}, notes)
      assert.is_true(events > 0)
    end
    -- the recorded history is the parent's alone
    local h = S.run(tmp, {"history", "e1", "--db", tmp .. "/db"})
    assert.falsy(h:find("childExecutionFailed", 1, true), h)
  end)

  it("resumes a killed run and exports every input", function()
    -- every row read and waiting when the run is killed: the reader was
    -- read to its end, and resume reads the object again for the inputs
    S.spit(tmp .. "/tasks/T.lua",
           'return {handler = function(e) return "ok" .. e.id end}\n')
    local def = {StartAt = "M", States = {M = {Type = "Map", End = true,
      ItemReader = {Resource = GET,
        ReaderConfig = {InputType = "CSV", CSVHeaderLocation = "FIRST_ROW"},
        Parameters = {Bucket = "data", Key = "s.csv"}},
      ItemProcessor = {
        ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "STANDARD"},
        StartAt = "W", States = {
          W = {Type = "Wait", Seconds = 3, Next = "T"},
          T = {Type = "Task", End = true, Resource =
               "arn:aws:lambda:us-east-1:123456789012:function:T"}}},
      ResultWriter = {Resource = PUT, Parameters = {Bucket = "out"}}}}}
    S.spit(tmp .. "/m.json", json.encode(def))
    local env = "MOONSTEP_BUCKETS=" .. S.shquote(tmp .. "/buckets")
    os.execute("cd " .. S.shquote(tmp) .. " && " .. env .. " " ..
               S.shquote(S.BIN) .. " run m.json --db db --name e " ..
               "--tasks tasks >/dev/null 2>&1 & p=$!; sleep 1.2; " ..
               "kill -9 $p; wait $p 2>/dev/null")
    local out, err, code = S.run(tmp, {"resume", "e", "--db", tmp .. "/db",
                                       "--tasks", tmp .. "/tasks"},
                                 env .. " ", tmp)
    assert.are.equal(0, code, err)
    out = json.decode(out)
    local manifest = json.decode(S.slurp(tmp .. "/buckets/out/" ..
                                         out.ResultWriterDetails.Key))
    local recs = json.decode(S.slurp(tmp .. "/buckets/out/" ..
                                     manifest.ResultFiles.SUCCEEDED[1].Key))
    local got = {}
    for _, r in ipairs(recs) do
      got[#got + 1] = json.decode(r.Input).id .. "=" ..
                      json.decode(r.Output)
    end
    table.sort(got)
    assert.are.same({"1=ok1", "2=ok2", "3=ok3", "4=ok4", "5=ok5"}, got)
  end)

  it("writes 200k records within a memory bound", function()
    local f = assert(io.open(tmp .. "/buckets/data/c.csv", "wb"))
    gen.generate({rows = ROWS, seed = 7}, function(s) f:write(s) end)
    f:close()
    S.spit(tmp .. "/tasks/Peak.lua", PEAK)
    local def = {StartAt = "M", States = {
      M = {Type = "Map", Next = "Peak",
        ItemReader = {Resource = GET,
          ReaderConfig = {InputType = "CSV", CSVHeaderLocation = "FIRST_ROW"},
          Parameters = {Bucket = "data", Key = "c.csv"}},
        ItemProcessor = {
          ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "EXPRESS"},
          StartAt = "P", States = {P = {Type = "Pass", End = true}}},
        ResultWriter = {Resource = PUT, Parameters = {Bucket = "out",
                                                      Prefix = "big"}}},
      Peak = {Type = "Task", End = true,
              Resource = "arn:aws:lambda:us-east-1:123456789012:" ..
                         "function:Peak"}}}
    local out, err, code = run(def, {}, {"--express", "--tasks",
                                         tmp .. "/tasks"})
    assert.are.equal(0, code, err)
    assert.is_number(out.peak_kb)
    if not ASAN then
      assert.is_true(out.peak_kb < BOUND_KB, "peak " .. out.peak_kb .. " kB")
    end
    local manifest = json.decode(S.slurp(tmp .. "/buckets/out/" ..
                                         out.key))
    local rf = manifest.ResultFiles.SUCCEEDED[1]
    local fh = assert(io.open(tmp .. "/buckets/out/" .. rf.Key, "rb"))
    local pat = '"Status":"SUCCEEDED"'
    local n, size, carry = 0, 0, ""
    for chunk in function() return fh:read(1 << 20) end do
      size = size + #chunk
      -- a match split between chunks: keep one character fewer than it
      local text = carry .. chunk
      local _, k = text:gsub(pat, "")
      n = n + k
      carry = text:sub(-(#pat - 1))
    end
    fh:close()
    assert.are.equal(rf.Size, size)
    assert.are.equal(ROWS, n)
  end)
end)
