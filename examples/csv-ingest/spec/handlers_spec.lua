-- handlers_spec.lua - the csv-ingest example's handlers alone (no engine):
-- tasks/CSVToJSON.lua, CheckObject.lua, WriteBatch.lua and
-- IngestSummary.lua called as handler(event, context) with events from
-- moonstep.testing, over a scratch buckets folder and a scratch table
-- store. Run from the repository's top level: busted examples/csv-ingest
package.path = "./tasks/?.lua;./examples/csv-ingest/?.lua;./lua/?.lua;"
  .. package.path
require "moonstep"
local testing = require "moonstep.testing"
local s3 = require "moonstep.s3"
local tables = require "moonstep.tables"
local rows = require "ingest_rows"
local gen = require "gen"
local CSVToJSON = require "CSVToJSON"
local CheckObject = require "CheckObject"
local WriteBatch = require "WriteBatch"
local IngestSummary = require "IngestSummary"

local HEADER = "id,name,email,city,joined,balance,notes\n"

local function raised(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.are.equal("table", type(err), tostring(err))
  return err
end

describe("examples/csv-ingest handlers", function()
  local tmp, db, old_dir
  local n = 0
  before_each(function()
    n = n + 1
    tmp = os.tmpname()
    os.remove(tmp)
    os.execute("mkdir -p '" .. tmp .. "/buckets/uploads'")
    old_dir = s3.buckets_dir()
    s3.buckets_dir(tmp .. "/buckets")
    db = tables.open{db = tmp .. "/db"}
    db:create{name = "Customers", key = "id"}
    rows.tables = db
  end)
  after_each(function()
    rows.tables = nil
    s3.buckets_dir(old_dir)
    os.execute("rm -rf '" .. tmp .. "'")
  end)

  local function put(key, text)
    s3.put_object{Bucket = "uploads", Key = key, Body = text}
    return testing.s3_event{bucket = "uploads", key = key, size = #text}
  end
  local function generated(opts)
    local parts = {}
    local planted = gen.generate(opts, function(s) parts[#parts + 1] = s end)
    return table.concat(parts), planted
  end
  local function lines_of(planted)
    local t = {}
    for i, p in ipairs(planted) do t[i] = p.line end
    table.sort(t)
    return t
  end
  local function count() return db.Customers:count() end

  describe("CSVToJSON", function()
    it("writes every row of a clean file, quotes and UTF-8 kept", function()
      local text = HEADER .. 'a1,Zoë Ørsted,z@x.org,Kraków,2020-01-02,'
        .. '10.50,"one, two ""three""\nfour"\n'
        .. 'a2,Bob,b@x.org,,2021-02-03,0,\n'
      local out = CSVToJSON.handler(put("in/a b.csv", text),
                                    testing.context())
      assert.are.same({read = 2, written = 2, rejected = 0},
                      {read = out.read, written = out.written,
                       rejected = out.rejected})
      local a1 = db.Customers:get{id = "a1"}
      assert.are.equal("Zoë Ørsted", a1.name)
      assert.are.equal('one, two "three"\nfour', a1.notes)
      assert.are.equal(10.5, a1.balance)
      assert.is_nil(db.Customers:get{id = "a2"}.city)
    end)

    it("reports malformed rows, rows without an id and duplicates by line",
       function()
      local text, planted = generated{rows = 300, bad = 4, noid = 2, dup = 3,
                                      seed = 7}
      local out = CSVToJSON.handler(put("in/g.csv", text))
      assert.are.equal(300, out.read)
      assert.are.equal(9, out.rejected)
      assert.are.equal(3, out.duplicates)
      assert.are.equal(291, out.written)
      assert.are.same(lines_of(planted), out.bad_rows)
      assert.are.equal(291, count())
    end)

    it("makes the same item in place as in a copy", function()
      local rec = {id = "a1", name = "A", email = "a@x", city = "",
                   joined = "2020-01-01", balance = "10.50", notes = "n"}
      local copy = rows.item(rec)
      local same = rows.item(rec, true)
      assert.are.equal(rec, same)
      assert.are.same(copy, same)
      assert.is_nil(same.city)
      assert.are.equal(10.5, same.balance)
      assert.is_true(rows.exact_header{"notes", "id", "name", "email",
                                       "city", "joined", "balance"})
      assert.is_false(rows.exact_header{"id", "name", "email", "city",
                                        "joined", "balance", "notes", "x"})
      assert.is_false(rows.exact_header{"id", "name", "email", "city",
                                        "joined", "balance", "id"})
    end)

    it("keeps a header's extra fields out of the items", function()
      local out = CSVToJSON.handler(put("x.csv", "extra," .. HEADER
        .. "e,a1,A,a@x,,2020-01-01,1,\n"))
      assert.are.equal(1, out.written)
      assert.is_nil(db.Customers:get{id = "a1"}.extra)
    end)

    it("rejects a row with a wrong number of fields, with its line", function()
      local out = CSVToJSON.handler(put("k.csv", HEADER
        .. "a1,A,a@x,,2020-01-01,1,\n\"a\nb\",B,b@x,,2020-01-01,1,\n"
        .. "a3,C,c@x\n"))
      assert.are.same({5}, out.bad_rows)     -- "a\nb" spans 3 and 4
      assert.are.equal(2, out.written)
    end)

    it("answers a header-only file with zero rows", function()
      local out = CSVToJSON.handler(put("h.csv", HEADER))
      assert.are.same({0, 0, 0}, {out.read, out.written, out.rejected})
    end)

    it("fails on an empty file, a missing object, another header", function()
      assert.are.equal("Ingest.EmptyFile",
                       raised(CSVToJSON.handler, put("e.csv", "")).errorType)
      assert.are.equal("NoSuchKey", raised(CSVToJSON.handler,
        testing.s3_event{bucket = "uploads", key = "nope.csv"}).errorType)
      assert.are.equal("Ingest.BadHeader", raised(CSVToJSON.handler,
        put("x.csv", "a,b\n1,2\n")).errorType)
      assert.are.equal("Ingest.BadEvent",
                       raised(CSVToJSON.handler, {}).errorType)
      assert.are.equal(0, count())
    end)

    it("writes whole batches only: a batch the store refuses is absent",
       function()
      local old = CSVToJSON.BATCH
      CSVToJSON.BATCH = 2
      local big = string.rep("x", 500 * 1024)
      local ok, err = pcall(CSVToJSON.handler, put("big.csv", HEADER
        .. "a1,A,a@x,,2020-01-01,1,\na2,B,b@x,,2020-01-01,1,\n"
        .. "a3,C,c@x,,2020-01-01,1,\na4,D,d@x,,2020-01-01,1," .. big .. "\n"))
      CSVToJSON.BATCH = old
      assert.is_false(ok)
      assert.are.equal("ValidationException", err.code or err.errorType)
      assert.are.equal(2, count())          -- a1, a2; not a3 without a4
      assert.is_nil(db.Customers:get{id = "a3"})
    end)

    it("takes the EventBridge Object Created shape too", function()
      put("in/eb.csv", HEADER .. "e1,E,e@x,,2020-01-01,1,\n")
      local out = CSVToJSON.handler({["detail-type"] = "Object Created",
        source = "aws.s3", detail = {bucket = {name = "uploads"},
                                     object = {key = "in/eb.csv"}}})
      assert.are.equal(1, out.written)
    end)
  end)

  describe("CheckObject", function()
    it("passes a good object and fails the others clearly", function()
      local ev = put("c.csv", HEADER .. "a,A,a@x,,2020-01-01,1,\n")
      assert.are.same({bucket = "uploads", key = "c.csv", size = 63},
                      CheckObject.handler(ev))
      assert.are.equal("Ingest.EmptyFile",
                       raised(CheckObject.handler, put("e.csv", "")).errorType)
      assert.are.equal("NoSuchKey", raised(CheckObject.handler,
        testing.s3_event{bucket = "uploads", key = "gone.csv"}).errorType)
      assert.are.equal("Ingest.BadHeader", raised(CheckObject.handler,
        put("b.csv", "x,y\n")).errorType)
    end)
  end)

  describe("WriteBatch and IngestSummary", function()
    local function row(id, balance)
      return {id = id, name = "N", email = "n@x", city = "", joined =
              "2020-01-01", balance = balance or "1", notes = ""}
    end
    it("writes a batch's good rows and counts the rest", function()
      local out = WriteBatch.handler({Items = {row("a"), row("b", "x"),
        row(""), row("a"), row("c")}, BatchInput = {run = "r1"}})
      assert.are.same({read = 5, written = 2, rejected = 3, duplicates = 1},
                      out)
      assert.are.equal("r1", db.Customers:get{id = "a"}.loaded_by)
    end)
    it("rejects an id an earlier batch of the same run wrote", function()
      WriteBatch.handler({Items = {row("a")}, BatchInput = {run = "r1"}})
      local again = WriteBatch.handler({Items = {row("a"), row("b")},
                                        BatchInput = {run = "r1"}})
      assert.are.same({read = 2, written = 1, rejected = 1, duplicates = 1},
                      again)
      -- another run replaces it
      local other = WriteBatch.handler({Items = {row("a")},
                                        BatchInput = {run = "r2"}})
      assert.are.equal(1, other.written)
    end)
    it("sums the batches and finds the bad rows' lines", function()
      local text, planted = generated{rows = 50, bad = 2, noid = 1, dup = 1}
      put("s.csv", text)
      local out = IngestSummary.handler({
        object = {bucket = "uploads", key = "s.csv"},
        batches = {{read = 30, written = 28, rejected = 2, duplicates = 0},
                   {read = 20, written = 18, rejected = 2, duplicates = 1},
                   {Error = "States.TaskFailed"}}})
      assert.are.same({50, 46, 4, 1, 1}, {out.read, out.written,
        out.rejected, out.duplicates, out.failed_batches})
      assert.are.same(lines_of(planted), out.bad_rows)
    end)
  end)
end)
