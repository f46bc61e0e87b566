-- csv_spec.lua - moonstep.csv (lua/moonstep/csv.lua over engine/csv.c and
-- engine/lcsv.c, reached through moonstep.so as .busted's cpath finds it).
--
-- The cases in spec/fixtures/csv/cases.json (stable ids) each run through
-- csv.decode, then through a reader fed the input whole, one byte at a
-- time, split in two at every offset and in random splits: every way
-- must give the same records, lines and errors. Case fields: id, input,
-- opts?, then records [lines] [bad], or error {line, column?, message?,
-- text?} (strict). A bad record {line, column?, message?, raw?,
-- record_line?}. Then the API around them: files, the writer, the
-- encoder's quoting and round trip, a 1 GiB stream in bounded memory,
-- and a state machine whose Lua handler requires moonstep.csv.
local csv = require "moonstep.csv"
local cjson = require "cjson"

local FIXTURES = "spec/fixtures/csv/cases.json"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

-- Deep equality of plain Lua values (numbers by value).
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- The message of the error fn raises.
local function errmsg(fn)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  return tostring(err)
end

local function show(v)
  local ok, s = pcall(cjson.encode, v)
  return ok and s or tostring(v)
end

-- Split functions: input -> array of chunks.
local splits = {
  whole = function(s) return {s} end,
  bytes = function(s)
    local t = {}
    for i = 1, #s do t[i] = s:sub(i, i) end
    return t
  end,
}
local function split_at(k)
  return function(s) return {s:sub(1, k), s:sub(k + 1)} end
end
local function split_random(seed)
  return function(s)
    math.randomseed(seed)
    local t, i = {}, 1
    while i <= #s do
      local n = math.random(1, 7)
      t[#t + 1] = s:sub(i, i + n - 1)
      i = i + n
    end
    return t
  end
end

-- Read input through a reader fed the chunks of split(input).
local function read(input, opts, split)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  local res = {records = {}, lines = {}, bad = {}}
  if o.strict == false then
    o.on_error = function(e) res.bad[#res.bad + 1] = e end
  end
  local r = csv.reader(o)
  local pieces, i = split(input), 0
  local ok, err = pcall(function()
    for rec, line in r:records(function()
      i = i + 1
      return pieces[i]
    end) do
      res.records[#res.records + 1] = rec
      res.lines[#res.lines + 1] = line
    end
  end)
  if not ok then res.err = err end
  return res
end

-- Check a result against a case; returns nil or what differs.
local function differs(case, res)
  if case.error then
    local e = res.err
    if type(e) ~= "table" then
      return "expected an error, got " .. show(e or res.records)
    end
    for _, k in ipairs({"line", "column", "message"}) do
      if case.error[k] ~= nil and case.error[k] ~= e[k] then
        return string.format("error %s: expected %s, got %s (%s)", k,
                             show(case.error[k]), show(e[k]), tostring(e))
      end
    end
    if case.error.text and case.error.text ~= tostring(e) then
      return "error text: " .. tostring(e)
    end
    return nil
  end
  if res.err then return "unexpected error: " .. tostring(res.err) end
  if not same(case.records, res.records) then
    return "records: " .. show(res.records)
  end
  if case.lines and not same(case.lines, res.lines) then
    return "lines: " .. show(res.lines)
  end
  local bad = case.bad or {}
  if #bad ~= #res.bad then return "bad records: " .. show(res.bad) end
  for n, want in ipairs(bad) do
    for k, v in pairs(want) do
      if res.bad[n][k] ~= v then
        return string.format("bad[%d].%s: got %s", n, k, show(res.bad[n][k]))
      end
    end
  end
  return nil
end

describe("moonstep.csv", function()
  local cases = cjson.decode(slurp(FIXTURES))
  assert(#cases > 0, FIXTURES .. " has no cases")

  describe("fixtures", function()
    for _, case in ipairs(cases) do
      local opts = case.opts or {}
      it(case.id .. " (decode)", function()
        local o = {}
        for k, v in pairs(opts) do o[k] = v end
        local res = {bad = {}}
        local ok, recs, bad = pcall(csv.decode, case.input, o)
        if ok then
          res.records, res.bad = recs, bad
          local lines = {}
          for _, line in csv.records(case.input, o) do
            lines[#lines + 1] = line
          end
          res.lines = lines
        else
          res.err = recs
        end
        local why = differs(case, res)
        assert(why == nil, case.id .. ": " .. tostring(why))
      end)

      it(case.id .. " (every split)", function()
        local ways = {splits.whole, splits.bytes}
        for k = 0, #case.input do ways[#ways + 1] = split_at(k) end
        for seed = 1, 5 do ways[#ways + 1] = split_random(seed) end
        for n, split in ipairs(ways) do
          local why = differs(case, read(case.input, opts, split))
          assert(why == nil, string.format("%s, split #%d: %s", case.id, n,
                                           tostring(why)))
        end
      end)
    end
  end)

  describe("any input", function()
    -- Random inputs over the bytes that matter: the same records, lines
    -- and bad records whole, byte by byte and in random splits.
    local alphabet = {"a", "b", ",", '"', "\r", "\n", ";", " ", "\239",
                      "\187", "\191"}
    local function result(input, opts, split)
      local res = read(input, opts, split)
      for _, e in ipairs(res.bad) do
        res.bad[_] = {e.line, e.column, e.message, e.raw, e.record_line}
      end
      return res
    end
    for _, opts in ipairs({
      {strict = false},
      {strict = false, skip_empty = false, max_field = 3, max_record = 9},
      {ragged = true, delimiter = ";", quote = "a"},
    }) do
      it("parses the same however split " .. show(opts), function()
        math.randomseed(11)
        for _ = 1, 300 do
          local t = {}
          for k = 1, math.random(0, 30) do
            t[k] = alphabet[math.random(#alphabet)]
          end
          local input = table.concat(t)
          local want = result(input, opts, splits.whole)
          for _, split in ipairs({splits.bytes, split_random(5),
                                  split_at(#input // 2)}) do
            local got = result(input, opts, split)
            if not same(want, got) then
              error("input " .. show(input) .. ": " .. show(want) ..
                    " ~= " .. show(got))
            end
          end
        end
      end)
    end
  end)

  describe("records", function()
    it("are arrays carrying the JSON array marker", function()
      local recs = csv.decode("a,b\n")
      local mt = getmetatable(recs[1])
      assert.is_table(mt)
      assert.are.equal("array", mt.__jsontype)
      local json = require "moonstep.json"
      assert.are.equal('[["a","b"],[""]]', json.encode(
        csv.decode("a,b\n\n", {skip_empty = false, ragged = true})))
    end)

    it("keyed by header names are plain tables", function()
      local recs = csv.decode("x,y\n1,2\n", {header = true})
      assert.is_nil(getmetatable(recs[1]))
      assert.are.same({x = "1", y = "2"}, recs[1])
    end)

    it("keep empty converted fields in arrays as json.null", function()
      local recs = csv.decode("1,,x\n", {convert = true})
      assert.are.equal(1, recs[1][1])
      assert.are.equal(cjson.null, recs[1][2])  -- the NULL lightuserdata
      assert.are.equal("x", recs[1][3])
    end)

    it("parse a partial BOM as data", function()
      local recs = csv.decode("\239\187x,y\n")
      assert.are.equal("\239\187x", recs[1][1])
      recs = csv.decode("\239")
      assert.are.equal("\239", recs[1][1])
    end)

    it("report the header names", function()
      local r = csv.reader({header = true})
      assert.is_nil(r:header())
      assert.are.same({}, r:feed("a,b\n1,"))
      assert.are.same({"a", "b"}, r:header())
      assert.are.same({{a = "1", b = ""}}, r:finish())
    end)
  end)

  describe("errors", function()
    it("are tables that print with line and column", function()
      local ok, e = pcall(csv.decode, "a,b\n\"x,y\n")
      assert.is_false(ok)
      assert.are.equal(2, e.line)
      assert.are.equal(1, e.column)
      assert.are.equal("line 2, column 1: unterminated quoted field",
                       tostring(e))
      assert.are.equal("CsvError", e.errorType)
      assert.are.equal(tostring(e), e.errorMessage)
    end)

    it("name the record's line for ragged rows", function()
      local ok, e = pcall(csv.decode, "a,b,c\n1,2,3\n4,5\n")
      assert.is_false(ok)
      assert.are.equal("line 3: 2 fields, expected 3", tostring(e))
    end)

    it("go to on_error, which makes reading lenient", function()
      local seen = {}
      local recs, bad = csv.decode("a,b\n1\n2,3\n", {
        on_error = function(e) seen[#seen + 1] = e.line end})
      assert.are.same({{"a", "b"}, {"2", "3"}}, recs)
      assert.are.same({2}, seen)
      assert.are.equal(1, #bad)
      assert.are.equal("1", bad[1].raw)
    end)

    it("stop a strict reader even with on_error", function()
      assert.has_error(function()
        csv.decode("a,b\n1\n", {strict = true, on_error = function() end})
      end)
    end)

    it("cut the raw text of a huge bad record at max_record", function()
      local big = "\"" .. string.rep("x", 5000)
      local _, bad = csv.decode(big, {strict = false, max_field = 100,
                                      max_record = 1000})
      assert.are.equal(1, #bad)
      assert.are.equal(1000, #bad[1].raw)
      assert.is_true(bad[1].truncated)
    end)

    it("check options", function()
      assert.matches("csv.decode: delimiter must be one byte, not \",,\"",
        errmsg(function() csv.decode("", {delimiter = ",,"}) end), 1, true)
      assert.has_error(function() csv.decode("", {delimiter = "\n"}) end)
      assert.has_error(function() csv.decode("", {delimiter = '"'}) end)
      assert.matches("csv.decode: unknown option \"headers\"",
        errmsg(function() csv.decode("", {headers = true}) end), 1, true)
      assert.has_error(function() csv.decode("", {max_field = 0}) end)
      assert.has_error(function() csv.open("/nonexistent/x.csv") end)
    end)
  end)

  describe("files", function()
    it("streams a file with csv.open, with lines", function()
      local path = tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("id,note\r\n1,\"multi\r\nline\"\r\n2,plain\r\n")
      f:close()
      local got = {}
      for rec, line in csv.open(path, {header = true}) do
        got[#got + 1] = {rec.id, rec.note, line}
      end
      os.remove(path)
      assert.are.same({{"1", "multi\r\nline", 2}, {"2", "plain", 4}}, got)
    end)

    it("reads a file bigger than one chunk", function()
      local path = tmpname()
      local f = assert(io.open(path, "wb"))
      for i = 1, 20000 do f:write(i, ",\"v,", i, "\"\n") end
      f:close()
      local n, last = 0, nil
      for rec, line in csv.open(path) do
        n = n + 1
        assert.are.equal(n, line)
        last = rec
      end
      os.remove(path)
      assert.are.equal(20000, n)
      assert.are.same({"20000", "v,20000"}, last)
    end)

    it("closes the file at the end and when the loop breaks", function()
      local function open_files()  -- this process's descriptors
        local p = assert(io.popen("ls /proc/$PPID/fd | wc -l"))
        local n = tonumber(p:read("a"))
        p:close()
        return n
      end
      local path = tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("a\nb\nc\n")
      f:close()
      local before = open_files()
      for _ in csv.open(path) do break end
      assert.are.equal(before, open_files())
      for _ in csv.open(path) do end
      assert.are.equal(before, open_files())
      assert.has_error(function()
        for _ in csv.open(path) do error("stop") end
      end)
      assert.are.equal(before, open_files())
      os.remove(path)
    end)
  end)

  describe("encode and writer", function()
    it("quote only where needed", function()
      local text = csv.encode({
        {"plain", "a,b", 'q"q', "l\nf", "c\rr", " lead", "trail ", ""},
        {1, 2.5, true, false, 0.1, -3, 1e300, 2^53},
      })
      assert.are.equal(
        'plain,"a,b","q""q","l\nf","c\rr"," lead","trail ",\n' ..
        "1,2.5,true,false,0.1,-3,1e+300,9007199254740992.0\n", text)
    end)

    it("writes a record of one empty field as \"\"", function()
      assert.are.equal('""\nx\n', csv.encode({{""}, {"x"}}))
      assert.are.same({{""}, {"x"}}, csv.decode(csv.encode({{""}, {"x"}})))
    end)

    it("takes a delimiter, a quote and an eol", function()
      assert.are.equal("a;'b;c'\r\n", csv.encode({{"a", "b;c"}},
        {delimiter = ";", quote = "'", eol = "\r\n"}))
      assert.are.equal("a\tb\n", csv.encode({{"a", "b"}},
        {delimiter = "\t"}))
      assert.has_error(function()
        csv.encode({{"a,b"}}, {quote = false})
      end)
    end)

    it("writes keyed rows under a header", function()
      assert.are.equal("id,name\n1,x\n2,\"y,z\"\n",
        csv.encode({{id = 1, name = "x"}, {id = 2, name = "y,z"}},
                   {header = true}))
      assert.are.equal("name,id\nx,\n", csv.encode({{name = "x"}},
        {header = {"name", "id"}}))
    end)

    it("refuses values that are not text", function()
      assert.matches("csv: row 1 field 1 is a table",
        errmsg(function() csv.encode({{{}}}) end), 1, true)
    end)

    it("round-trips tricky fields", function()
      math.randomseed(7)
      local alphabet = {"a", ",", '"', "\n", "\r", " ", "\t", ";", "x",
                        "\r\n", "\239\187\191", "\0"}
      local rows = {}
      for i = 1, 300 do
        local row = {}
        for j = 1, 4 do
          local s = {}
          for k = 1, math.random(0, 6) do
            s[k] = alphabet[math.random(#alphabet)]
          end
          row[j] = table.concat(s)
        end
        rows[i] = row
      end
      for _, delim in ipairs({",", ";", "\t", "|", " "}) do
        local text = csv.encode(rows, {delimiter = delim})
        local back = csv.decode(text, {delimiter = delim})
        assert.is_true(same(rows, back), "delimiter " .. show(delim))
        local pieces = read(text, {delimiter = delim}, split_random(3))
        assert.is_true(same(rows, pieces.records))
      end
    end)

    it("writes to a path and to an open file", function()
      local path = tmpname()
      local w = csv.writer(path, {header = {"a", "b"}})
      w:write({a = "1", b = "x,y"})
      w:write({a = 2})
      w:close()
      assert.are.equal('a,b\n1,"x,y"\n2,\n', slurp(path))
      local f = assert(io.open(path, "wb"))
      local w2 = csv.writer(f)
      w2:write({"p", "q r"}):write({"s", "t"})
      w2:close()
      f:close()
      assert.are.equal("p,q r\ns,t\n", slurp(path))
      os.remove(path)
      assert.has_error(function() w2:write({"late"}) end)
    end)
  end)

  describe("streams", function()
    -- Under "make test"'s sanitizer run (libasan preloaded) the streams
    -- are a quarter as long, to keep the suite short; the plain run
    -- reads the full GiB.
    local SCALE = (os.getenv("LD_PRELOAD") or ""):find("asan") and 4 or 1
    -- A block of records fed as a stream of chunks of an odd size, so
    -- records and quoted line breaks straddle chunk boundaries.
    local PER_BLOCK = 2000
    local BLOCK = {}
    for i = 1, PER_BLOCK do
      BLOCK[i] = string.format('%d,"note, ""%d""\nsecond line",x%d\r\n',
                               i, i, i)
    end
    BLOCK = table.concat(BLOCK)
    local function source(total)
      local double, chunk = BLOCK .. BLOCK, 65521
      local sent = 0
      return function()
        if sent >= total then return nil end
        local n = math.min(chunk, total - sent)
        local off = sent % #BLOCK
        sent = sent + n
        return double:sub(off + 1, off + n)
      end
    end

    it("reads 1 GiB in bounded memory (counting path)", function()
      local blocks = (1 << 30) // SCALE // #BLOCK + 1
      local total = blocks * #BLOCK
      local r = csv.reader()
      local next_chunk = source(total)
      collectgarbage()
      local base, peak, n = collectgarbage("count"), 0, 0
      for chunk in next_chunk do
        n = n + r:count(chunk)
        local kb = collectgarbage("count")
        if kb > peak then peak = kb end
      end
      n = n + r:count(nil)
      assert.are.equal(blocks * PER_BLOCK, n)
      assert.is_true(total >= (1 << 30) // SCALE)
      assert.is_true(peak - base < 4096, "Lua memory grew by "
                     .. (peak - base) .. " KiB")
    end)

    it("reads 64 MiB through Lua tables in bounded memory", function()
      local blocks = (64 << 20) // SCALE // #BLOCK + 1
      local r = csv.reader({convert = true})
      collectgarbage()
      local base, peak, n, last = collectgarbage("count"), 0, 0, nil
      for rec, line in r:records(source(blocks * #BLOCK)) do
        n = n + 1
        last = line
        if n % 4096 == 0 then
          local kb = collectgarbage("count")
          if kb > peak then peak = kb end
        end
        if rec[3] == nil then error("record " .. n .. " lost a field") end
      end
      assert.are.equal(blocks * PER_BLOCK, n)
      assert.are.equal(blocks * PER_BLOCK * 2 - 1, last)
      assert.is_true(peak - base < 16384, "Lua memory grew by "
                     .. (peak - base) .. " KiB")
    end)
  end)

  describe("in a state machine", function()
    it("is required by a Lua Task handler", function()
      local moonstep = require "moonstep"
      local dir = tmpname()
      assert(os.execute("mkdir -p '" .. dir .. "'"))
      local f = assert(io.open(dir .. "/CsvSum.lua", "w"))
      f:write([[
local csv = require "moonstep.csv"
return {handler = function(event)
  local total, rows = 0, 0
  for rec in csv.records(event.text, {header = true, convert = true}) do
    total = total + rec.amount
    rows = rows + 1
  end
  local ok, err = pcall(csv.decode, "a,b\n1\n")
  return {rows = rows, total = total, err = tostring(err)}
end}
]])
      f:close()
      local def = [[{
        "StartAt": "Sum",
        "States": {"Sum": {"Type": "Task", "End": true,
          "Resource": "arn:aws:lambda:us-east-1:123456789012:function:CsvSum"}}
      }]]
      local r = moonstep.run(def, {text = "id,amount\n1,2.5\n2,4\n"},
                             {tasks_dir = dir})
      os.execute("rm -rf '" .. dir .. "'")
      assert.are.equal("SUCCEEDED", r.status, tostring(r.cause))
      assert.are.equal(2, r.output.rows)
      assert.are.equal(6.5, r.output.total)
      assert.are.equal("line 2: 1 field, expected 2", r.output.err)
    end)
  end)
end)
