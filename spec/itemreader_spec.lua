-- itemreader_spec.lua - the Distributed Map's ItemReader and ResultWriter
-- over the local buckets (engine/itemreader.c, engine/resultwriter.c),
-- through the moonstep binary: CSV with FIRST_ROW and GIVEN headers and
-- each CSVDelimiter, JSON, JSONL, listObjectsV2, MaxItems and
-- MaxItemsPath, a missing object and a bad file (States.ItemReaderFailed),
-- and the manifest and result files ResultWriter exports.
local S = require "support"
local json = require "cjson"

local GET = "arn:aws:states:::s3:getObject"

-- A Distributed Map over reader, its iterations running processor's
-- states (default: a Pass), optionally with a ResultWriter.
local function dmap(reader, extra, processor)
  local m = {Type = "Map", ItemReader = reader, End = true,
             ItemProcessor = processor or {
               ProcessorConfig = {Mode = "DISTRIBUTED",
                                  ExecutionType = "STANDARD"},
               StartAt = "P", States = {P = {Type = "Pass", End = true}}}}
  for k, v in pairs(extra or {}) do m[k] = v end
  return {StartAt = "M", States = {M = m}}
end

local function csv_reader(key, config)
  config.InputType = "CSV"
  return {Resource = GET, ReaderConfig = config,
          Parameters = {Bucket = "data", Key = key}}
end

describe("#binary ItemReader and ResultWriter", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("itemreader")
    os.execute("mkdir -p " .. S.shquote(tmp .. "/buckets/data/in") .. " " ..
               S.shquote(tmp .. "/buckets/results"))
  end)
  after_each(function() S.rmtree(tmp) end)

  local function put(key, text)
    S.spit(tmp .. "/buckets/data/" .. key, text)
  end

  local function run(def, input)
    S.spit(tmp .. "/m.json", json.encode(def))
    local out, err, code = S.run(tmp, {"run", tmp .. "/m.json", "--input",
                                       json.encode(input or {}),
                                       "--db", tmp .. "/db"},
                                 "MOONSTEP_BUCKETS=" ..
                                 S.shquote(tmp .. "/buckets") .. " ", tmp)
    local ok, v = pcall(json.decode, out)
    return ok and v or out, err, code
  end

  it("reads CSV rows as objects of strings (FIRST_ROW)", function()
    put("in/people.csv", 'id,name,note\n1,Ann,"says ""hi"", twice"\n' ..
        '2,Bob,"line\nbreak"\n\n3,Cy,\n')
    local out, err, code = run(dmap(csv_reader("in/people.csv",
                                    {CSVHeaderLocation = "FIRST_ROW"})))
    assert.are.equal(0, code, err)
    assert.are.same({
      {id = "1", name = "Ann", note = 'says "hi", twice'},
      {id = "2", name = "Bob", note = "line\nbreak"},
      {id = "3", name = "Cy", note = ""}}, out)
  end)

  it("takes GIVEN headers and each delimiter", function()
    local delims = {COMMA = ",", PIPE = "|", SEMICOLON = ";", SPACE = " ",
                    TAB = "\t"}
    for name, d in pairs(delims) do
      put("in/d.csv", table.concat({"1", "x"}, d) .. "\n" ..
          table.concat({"2", "y"}, d) .. "\n")
      local out, err, code = run(dmap(csv_reader("in/d.csv", {
        CSVHeaderLocation = "GIVEN", CSVHeaders = {"n", "v"},
        CSVDelimiter = name})))
      assert.are.equal(0, code, err)
      assert.are.same({{n = "1", v = "x"}, {n = "2", v = "y"}}, out, name)
    end
  end)

  it("reads JSON arrays and JSON Lines, with Parameters paths", function()
    put("in/a.json", '[{"a":1},{"a":2},"three"]')
    put("in/b.jsonl", '{"b":1}\n\n{"b":2}\r\n[3]\n')
    local out, err, code = run(dmap({Resource = GET,
      ReaderConfig = {InputType = "JSON"},
      Parameters = {Bucket = "data", ["Key.$"] = "$.key"}}),
      {key = "in/a.json"})
    assert.are.equal(0, code, err)
    assert.are.same({{a = 1}, {a = 2}, "three"}, out)
    out, err, code = run(dmap({Resource = GET,
      ReaderConfig = {InputType = "JSONL"},
      Parameters = {Bucket = "data", Key = "in/b.jsonl"}}))
    assert.are.equal(0, code, err)
    assert.are.same({{b = 1}, {b = 2}, {3}}, out)
  end)

  it("lists objects with listObjectsV2 as AWS shapes them", function()
    put("in/x.txt", "xx")
    put("in/y.txt", "yyy")
    put("other.txt", "o")
    local out, err, code = run(dmap({
      Resource = "arn:aws:states:::s3:listObjectsV2",
      Parameters = {Bucket = "data", Prefix = "in/"}}))
    assert.are.equal(0, code, err)
    assert.are.equal(2, #out)
    assert.are.equal("in/x.txt", out[1].Key)
    assert.are.equal(2, out[1].Size)
    assert.are.equal("in/y.txt", out[2].Key)
    assert.are.equal("STANDARD", out[1].StorageClass)
    assert.truthy(out[1].Etag:match('^"%x+"$'))
    assert.is_number(out[1].LastModified)
    assert.is_true(math.abs(out[1].LastModified - os.time()) < 600)
  end)

  it("stops at MaxItems and MaxItemsPath", function()
    local rows = {"id"}
    for i = 1, 50 do rows[#rows + 1] = tostring(i) end
    put("in/n.csv", table.concat(rows, "\n"))
    local out, err, code = run(dmap(csv_reader("in/n.csv", {
      CSVHeaderLocation = "FIRST_ROW", MaxItems = 3})))
    assert.are.equal(0, code, err)
    assert.are.same({{id = "1"}, {id = "2"}, {id = "3"}}, out)
    out, err, code = run(dmap(csv_reader("in/n.csv", {
      CSVHeaderLocation = "FIRST_ROW", MaxItemsPath = "$.max"})), {max = 2})
    assert.are.equal(0, code, err)
    assert.are.equal(2, #out)
    put("in/j.jsonl", '1\n2\n3\n')
    out = run(dmap({Resource = GET, Parameters = {Bucket = "data",
      Key = "in/j.jsonl"}, ReaderConfig = {InputType = "JSONL",
      MaxItems = 2}}))
    assert.are.same({1, 2}, out)
  end)

  it("gives empty and header-only files no items", function()
    put("in/e.csv", "")
    put("in/h.csv", "id,name\n")
    for _, k in ipairs{"in/e.csv", "in/h.csv"} do
      local out, err, code = run(dmap(csv_reader(k,
                                      {CSVHeaderLocation = "FIRST_ROW"})))
      assert.are.equal(0, code, err)
      assert.are.equal("{}", json.encode(out))  -- cjson: [] decodes as {}
    end
  end)

  it("fails with States.ItemReaderFailed", function()
    put("in/obj.json", '{"not":"an array"}')
    put("in/bad.csv", 'id,name\n1,"unterminated\n')
    local cases = {
      {Resource = GET, ReaderConfig = {InputType = "JSON"},
       Parameters = {Bucket = "data", Key = "in/missing.json"}},
      {Resource = GET, ReaderConfig = {InputType = "JSON"},
       Parameters = {Bucket = "nobucket", Key = "k"}},
      {Resource = GET, ReaderConfig = {InputType = "JSON"},
       Parameters = {Bucket = "data", Key = "in/obj.json"}},
      csv_reader("in/bad.csv", {CSVHeaderLocation = "FIRST_ROW"}),
    }
    for i, reader in ipairs(cases) do
      local def = dmap(reader, {Catch = {{ErrorEquals = {"States.ALL"},
                                          Next = "C"}}})
      def.States.M.End = nil
      def.States.M.Next = "X"
      def.States.X = {Type = "Pass", End = true}
      def.States.C = {Type = "Pass", End = true}
      local out, err, code = run(def)
      assert.are.equal(0, code, err)
      assert.are.equal("States.ItemReaderFailed", out.Error, i)
      assert.is_string(out.Cause)
      if i == 1 then assert.truthy(out.Cause:find("NoSuchKey", 1, true)) end
      if i == 2 then
        assert.truthy(out.Cause:find("NoSuchBucket", 1, true))
      end
      if i == 4 then assert.truthy(out.Cause:find("line 2", 1, true)) end
    end
  end)

  it("exports results with ResultWriter as AWS does", function()
    put("in/r.json", '[{"v":1},{"v":2},{"v":3}]')
    local def = dmap({Resource = GET, ReaderConfig = {InputType = "JSON"},
                      Parameters = {Bucket = "data", Key = "in/r.json"}},
      {ResultWriter = {Resource = "arn:aws:states:::s3:putObject",
                       Parameters = {Bucket = "results",
                                     Prefix = "runs"}},
       ToleratedFailureCount = 1},
      {ProcessorConfig = {Mode = "DISTRIBUTED", ExecutionType = "STANDARD"},
       StartAt = "C", States = {
         C = {Type = "Choice", Choices = {{Variable = "$.v",
              NumericEquals = 2, Next = "F"}}, Default = "P"},
         F = {Type = "Fail", Error = "Two", Cause = "no twos"},
         P = {Type = "Pass", Result = "ok", End = true}}})
    def.States.M.End = nil
    def.States.M.Next = "X"
    def.States.X = {Type = "Pass", End = true}
    local out, err, code = run(def)
    assert.are.equal(0, code, err)
    assert.truthy(out.MapRunArn:match("^arn:aws:states:.*:mapRun:m/M:"))
    assert.are.equal("results", out.ResultWriterDetails.Bucket)
    local key = out.ResultWriterDetails.Key
    assert.truthy(key:match("^runs/[%x-]+/manifest%.json$"), key)
    local manifest = json.decode(S.slurp(tmp .. "/buckets/results/" .. key))
    assert.are.equal("results", manifest.DestinationBucket)
    assert.are.equal(out.MapRunArn, manifest.MapRunArn)
    local rf = manifest.ResultFiles
    assert.are.equal(0, #rf.PENDING)
    assert.are.equal(1, #rf.SUCCEEDED)
    assert.are.equal(1, #rf.FAILED)
    local dir = key:gsub("manifest%.json$", "")
    assert.are.equal(dir .. "SUCCEEDED_0.json", rf.SUCCEEDED[1].Key)
    local text = S.slurp(tmp .. "/buckets/results/" .. rf.SUCCEEDED[1].Key)
    assert.are.equal(#text, rf.SUCCEEDED[1].Size)
    local ok = json.decode(text)
    assert.are.equal(2, #ok)
    assert.are.equal("SUCCEEDED", ok[1].Status)
    assert.are.equal('{"v":1}', ok[1].Input)
    assert.are.equal('"ok"', ok[1].Output)
    assert.is_true(ok[1].InputDetails.Included)
    assert.truthy(ok[1].ExecutionArn:match(":execution:m/M:"))
    local bad = json.decode(S.slurp(tmp .. "/buckets/results/" ..
                                    rf.FAILED[1].Key))
    assert.are.equal(1, #bad)
    assert.are.equal("FAILED", bad[1].Status)
    assert.are.equal("Two", bad[1].Error)
    assert.are.equal("no twos", bad[1].Cause)
    assert.are.equal('{"v":2}', bad[1].Input)
    -- a missing bucket: States.ResultWriterFailed
    def.States.M.ResultWriter.Parameters.Bucket = "nowhere"
    local _, err2, code2 = run(def)
    assert.are.equal(1, code2)
    assert.truthy(err2:find("States.ResultWriterFailed", 1, true), err2)
  end)
end)
