-- tables_writer_spec.lua - moonstep.tables' batch writer (t:writer():
-- lua/moonstep/tables.lua over engine/ltables.c): items stored as they are
-- added, written by flush in one transaction, all or none; the same
-- stored items as batch_write; tables with indexes; bad items.
local moonstep = require "moonstep"
local T = require "moonstep.tables"
local null = moonstep.json.null

local function tmpdb()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".db"
end

local function rm(path)
  for _, s in ipairs{"", "-wal", "-shm"} do os.remove(path .. s) end
end

local function fails(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected a failure")
  assert.are.equal("table", type(e), tostring(e))
  return e
end

describe("moonstep.tables writer", function()
  local path, db
  before_each(function()
    path = tmpdb()
    db = T.open{db = path}
    db:create{name = "Items", key = "id"}
    db:create{name = "Events", key = "pk", sort = "ts:N"}
  end)
  after_each(function() rm(path) end)

  local ITEMS = {
    {id = "a", n = 1, f = 1.25, s = "x\"y\\z\1é", b = true, z = null,
     l = {1, "two", {3}}, m = {k = "v", e = {}}},
    {id = "b", big = 1e100, small = -1e-100, neg = -0.5, int = -42},
    {id = "c"},
  }

  it("stores what batch_write stores, once flushed", function()
    db:create{name = "Copy", key = "id"}
    local w = db.Items:writer()
    for _, it in ipairs(ITEMS) do w:add(it) end
    assert.are.equal(3, #w)
    assert.is_nil(db.Items:get{id = "a"})
    assert.is_true(w:flush())
    assert.are.equal(0, #w)
    db.Copy:batch_write(ITEMS)
    for _, it in ipairs(ITEMS) do
      assert.are.same(db.Copy:get{id = it.id}, db.Items:get{id = it.id})
    end
    local raw = db:raw("GetItem", {TableName = "Items",
                                   Key = {id = {S = "a"}}}).Item
    assert.are.same({N = "1.25"}, raw.f)
    assert.is_true(w:flush())         -- nothing waiting: nothing done
  end)

  it("lets the caller reuse one Lua table for every item", function()
    local w = db.Events:writer()
    local row = {}
    for i = 1, 100 do
      row.pk, row.ts, row.v = "p", i, "v" .. i
      w:add(row)
    end
    w:flush()
    local items = db.Events:query{where = "pk = :p",
                                  values = {[":p"] = "p"}}
    assert.are.equal(100, #items)
    assert.are.same({pk = "p", ts = 42, v = "v42"}, items[42])
  end)

  it("writes a batch all or none", function()
    local w = db.Items:writer()
    w:add{id = "ok"}
    w:add{name = "no id"}
    local e = fails(w.flush, w)
    assert.are.equal("ValidationException", e.code)
    assert.matches("Missing the key id", e.message)
    assert.is_nil(db.Items:get{id = "ok"})
    assert.are.equal(0, #w)
    w:add{id = 7}
    e = fails(w.flush, w)
    assert.matches("Type mismatch for key id", e.message)
    w:add{id = true}
    fails(w.flush, w)
    w:add{id = "ok"}
    w:flush()
    assert.are.same({id = "ok"}, db.Items:get{id = "ok"})
  end)

  it("refuses an item it cannot store, keeping the others", function()
    local w = db.Items:writer()
    w:add{id = "a"}
    local e = fails(w.add, w, {id = "b", f = function() end})
    assert.are.equal("ValidationException", e.code)
    fails(w.add, w, {id = "c", n = 0 / 0})
    fails(w.add, w, "not a table")
    fails(w.add, w, {id = "d", big = string.rep("x", 400 * 1024)})
    assert.are.equal(1, #w)
    w:flush()
    assert.are.equal(1, db.Items:count())
  end)

  it("keeps a table's indexes up to date", function()
    db:create{name = "Users", key = "id",
              indexes = {{name = "by_email", key = "email"}}}
    local w = db.Users:writer()
    w:add{id = "u1", email = "a@x"}
    w:add{id = "u2"}
    w:flush()
    local items = db.Users:query{index = "by_email", where = "email = :e",
                                 values = {[":e"] = "a@x"}}
    assert.are.same({{id = "u1", email = "a@x"}}, items)
    assert.are.equal(2, db.Users:count())
  end)

  it("needs an existing table", function()
    local e = fails(function() return db.Nope:writer() end)
    assert.are.equal("ResourceNotFoundException", e.code)
  end)
end)
