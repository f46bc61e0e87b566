-- tables_spec.lua - moonstep.tables, the Lua face (lua/moonstep/tables.lua
-- over engine/ltables.c, tables.c, tables_ops.c): tables and indexes,
-- each item operation and its errors, conditional failures, update
-- expressions end to end, query and scan with pagination in both
-- directions, number key order, sparse GSIs kept up to date, batches and
-- transactions all or nothing. Each block uses its own database file.
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

-- The error a call raises.
local function fails(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected a failure")
  assert.are.equal("table", type(e), tostring(e))
  return e
end

local function ids(items, field)
  local out = {}
  for i, it in ipairs(items) do out[i] = it[field or "id"] end
  return out
end

describe("moonstep.tables", function()
  local path, db
  before_each(function()
    path = tmpdb()
    db = T.open{db = path}
  end)
  after_each(function() rm(path) end)

  describe("tables", function()
    it("create, describe, list and drop", function()
      local d = db.create{name = "users", key = "id", sort = "ts:N",
                          indexes = {{name = "by_email", key = "email"}}}
      assert.are.equal("ACTIVE", d.TableStatus)
      assert.are.equal("users", d.TableName)
      assert.are.same({{AttributeName = "id", KeyType = "HASH"},
                       {AttributeName = "ts", KeyType = "RANGE"}},
                      d.KeySchema)
      assert.are.equal("by_email", d.GlobalSecondaryIndexes[1].IndexName)
      db.create{name = "orders", key = "id"}
      assert.are.same({"orders", "users"}, db.list())
      db.users:put{id = "a", ts = 1}
      assert.are.equal(1, db.describe("users").ItemCount)
      assert.is_true(db.drop("users"))
      assert.are.same({"orders"}, db.list())
      local e = fails(db.describe, "users")
      assert.are.equal("ResourceNotFoundException", e.code)
      assert.are.equal("Requested resource not found: Table: users not found",
                       e.message)
    end)

    it("refuses a table that exists, bad names and undefined keys",
       function()
      db.create{name = "users", key = "id"}
      local e = fails(db.create, {name = "users", key = "id"})
      assert.are.equal("ResourceInUseException", e.code)
      assert.are.equal("Table already exists: users", e.message)
      assert.are.equal("users",
                       db.create{name = "users", key = "id",
                                 if_not_exists = true}.TableName)
      e = fails(db.create, {name = "ab", key = "id"})
      assert.are.equal("ValidationException", e.code)
      e = fails(db.raw, "CreateTable", {TableName = "t1x",
        KeySchema = {{AttributeName = "id", KeyType = "HASH"}},
        AttributeDefinitions = {{AttributeName = "other",
                                 AttributeType = "S"}}})
      assert.are.equal("ValidationException", e.code)
      assert.matches("not defined in AttributeDefinitions", e.message)
    end)

    it("an unknown table is ResourceNotFoundException", function()
      local e = fails(db.nothing.get, db.nothing, {id = "x"})
      assert.are.equal("ResourceNotFoundException", e.code)
      assert.are.equal("Requested resource not found", e.message)
      assert.are.equal("ResourceNotFoundException", e.errorType)
      assert.are.equal("ResourceNotFoundException: Requested resource not "
                       .. "found", tostring(e))
    end)
  end)

  describe("items", function()
    local t
    before_each(function()
      db.create{name = "items", key = "id"}
      t = db.items
    end)

    it("put, get, delete with plain values of every kind", function()
      local item = {id = "a", n = 42, f = 1.5, neg = -7, s = "text",
                    yes = true, no = false, nothing = null,
                    list = {1, "two", {three = 3}}, map = {k = {1, 2}}}
      assert.is_nil(t:put(item))
      assert.are.same(item, t:get{id = "a"})
      assert.is_nil(t:get{id = "b"})
      assert.are.same(item, t:delete{id = "a"})
      assert.is_nil(t:get{id = "a"})
      assert.is_nil(t:delete{id = "a"})
    end)

    it("put returns the old item with ALL_OLD and replaces it", function()
      t:put{id = "a", v = 1}
      assert.are.same({id = "a", v = 1},
                      t:put({id = "a", w = 2}, {return_values = "ALL_OLD"}))
      assert.are.same({id = "a", w = 2}, t:get{id = "a"})
      local e = fails(t.put, t, {id = "a"}, {return_values = "ALL_NEW"})
      assert.are.equal("ReturnValues can only be ALL_OLD or NONE", e.message)
    end)

    it("keys: missing, wrong type, empty string, extra attributes",
       function()
      local e = fails(t.put, t, {v = 1})
      assert.are.equal("One or more parameter values were invalid: "
                       .. "Missing the key id in the item", e.message)
      e = fails(t.put, t, {id = 1})
      assert.are.equal("One or more parameter values were invalid: Type "
                       .. "mismatch for key id expected: S actual: N",
                       e.message)
      e = fails(t.put, t, {id = ""})
      assert.matches("cannot contain an empty string value", e.message)
      e = fails(t.get, t, {id = "a", other = 1})
      assert.are.equal("The provided key element does not match the schema",
                       e.message)
      e = fails(t.get, t, {id = 5})
      assert.are.equal("The provided key element does not match the schema",
                       e.message)
    end)

    it("refuses items over 400 KB, on put, update and batch_write",
       function()
      local big = string.rep("x", 400 * 1024)
      local e = fails(t.put, t, {id = "a", big = big})
      assert.are.equal("Item size has exceeded the maximum allowed size",
                       e.message)
      e = fails(t.batch_write, t, {{id = "a", big = big}})
      assert.are.equal("Item size has exceeded the maximum allowed size",
                       e.message)
      t:put{id = "a", half = string.rep("y", 300 * 1024)}
      e = fails(t.update, t, {id = "a"}, "SET more = :m",
                {values = {[":m"] = string.rep("z", 200 * 1024)}})
      assert.are.equal("Item size to update has exceeded the maximum "
                       .. "allowed size", e.message)
      t:put{id = "b", ok = string.rep("x", 399 * 1024)}
    end)

    it("conditions on put, update and delete", function()
      t:put({id = "a", v = 1}, {condition = "attribute_not_exists(id)"})
      local e = fails(t.put, t, {id = "a", v = 2},
                      {condition = "attribute_not_exists(id)"})
      assert.are.equal("ConditionalCheckFailedException", e.code)
      assert.are.equal("The conditional request failed", e.message)
      assert.is_nil(e.item)
      e = fails(t.update, t, {id = "a"}, "SET v = :two",
                {condition = "v = :zero", values = {[":two"] = 2,
                 [":zero"] = 0}, return_on_failure = "ALL_OLD"})
      assert.are.equal("ConditionalCheckFailedException", e.code)
      assert.are.same({id = "a", v = 1}, e.item)
      e = fails(t.delete, t, {id = "a"}, {condition = "v > :n",
                values = {[":n"] = 5}})
      assert.are.equal("ConditionalCheckFailedException", e.code)
      assert.are.same({id = "a", v = 1}, t:get{id = "a"})
      -- a condition over a missing item: attribute_exists fails
      e = fails(t.delete, t, {id = "zz"}, {condition = "attribute_exists(id)"})
      assert.are.equal("ConditionalCheckFailedException", e.code)
      -- comparing across types is false, not an error
      e = fails(t.put, t, {id = "a"}, {condition = "v = :s",
                values = {[":s"] = "1"}})
      assert.are.equal("ConditionalCheckFailedException", e.code)
      assert.are.same({id = "a", v = 1},
                      t:delete({id = "a"}, {condition = "v = :one",
                               values = {[":one"] = 1}}))
    end)

    it("update: SET arithmetic, if_not_exists, list_append, REMOVE, ADD, "
       .. "DELETE", function()
      local new = t:update({id = "a"}, "SET n = if_not_exists(n, :zero) + "
                           .. ":one, l = list_append(if_not_exists(l, :e), "
                           .. ":l)", {values = {[":zero"] = 0, [":one"] = 1,
                           [":e"] = moonstep.json.array{},
                           [":l"] = {"x"}}})
      assert.are.same({id = "a", n = 1, l = {"x"}}, new)
      -- m does not exist: setting a nested path in it is an error
      local e = fails(t.update, t, {id = "a"}, "SET n = n - :d, m.k = :v",
                      {values = {[":d"] = 0.5, [":v"] = "deep"}})
      assert.are.equal("The document path provided in the update "
                       .. "expression is invalid for update", e.message)
      new = t:update({id = "a"}, "SET n = n - :d, m = :m REMOVE l",
                     {values = {[":d"] = 0.5, [":m"] = {k = "deep"}}})
      assert.are.same({id = "a", n = 0.5, m = {k = "deep"}}, new)
      db.raw("UpdateItem", {TableName = "items", Key = {id = {S = "a"}},
        UpdateExpression = "ADD s :s", ExpressionAttributeValues =
        {[":s"] = {SS = {"x", "y", "z"}}}})
      new = db.raw("UpdateItem", {TableName = "items", Key =
        {id = {S = "a"}}, UpdateExpression = "DELETE s :s",
        ExpressionAttributeValues = {[":s"] = {SS = {"y"}}},
        ReturnValues = "UPDATED_NEW"}).Attributes
      assert.are.same({s = {SS = {"x", "z"}}}, new)
    end)

    it("update: the ReturnValues and a new item", function()
      assert.are.same({id = "a", c = 1},
                      t:update({id = "a"}, "ADD c :one",
                               {values = {[":one"] = 1}}))
      assert.are.same({c = 1}, t:update({id = "a"}, "SET c = c + :one, "
        .. "d = :d", {values = {[":one"] = 1, [":d"] = "x"},
        return_values = "UPDATED_OLD"}))
      assert.are.same({c = 3, d = "y"}, t:update({id = "a"},
        "SET c = c + :one, d = :d", {values = {[":one"] = 1, [":d"] = "y"},
        return_values = "UPDATED_NEW"}))
      assert.are.same({id = "a", c = 3, d = "y"},
                      t:update({id = "a"}, "REMOVE e",
                               {return_values = "ALL_OLD"}))
      assert.is_nil(t:update({id = "a"}, "REMOVE d",
                             {return_values = "NONE"}))
      assert.are.same({id = "a", c = 3}, t:get{id = "a"})
      local e = fails(t.update, t, {id = "a"}, "SET id = :x",
                      {values = {[":x"] = "b"}})
      assert.are.equal("One or more parameter values were invalid: Cannot "
                       .. "update attribute id. This attribute is part of "
                       .. "the key", e.message)
      e = fails(t.update, t, {id = "a"}, "SET c = c + :s",
                {values = {[":s"] = "text"}})
      assert.are.equal("ValidationException", e.code)
      assert.matches("Incorrect operand type", e.message)
    end)

    it("unused or missing placeholders are ValidationException", function()
      local e = fails(t.put, t, {id = "a"}, {condition =
        "attribute_not_exists(id)", values = {[":unused"] = 1}})
      assert.are.equal("Value provided in ExpressionAttributeValues unused "
                       .. "in expressions: keys: {:unused}", e.message)
      e = fails(t.put, t, {id = "a"}, {condition = "v = :missing"})
      assert.are.equal("ValidationException", e.code)
      e = fails(t.get, t, {id = "a"}, {projection = "v", names =
        {["#n"] = "x"}})
      assert.are.equal("Value provided in ExpressionAttributeNames unused "
                       .. "in expressions: keys: {#n}", e.message)
    end)

    it("get with a projection", function()
      t:put{id = "a", x = 1, y = {z = 2, w = 3}, l = {10, 20, 30}}
      assert.are.same({x = 1, y = {z = 2}, l = {20}},
                      t:get({id = "a"}, {projection = "x, y.z, l[1]"}))
    end)

    -- top-level names are read from the stored text alone (SQL
    -- json_extract); the answers must be those of the whole-item path
    it("projections of top-level names, missing ones and odd names",
       function()
      t:put{id = "a", x = 1.5, y = {z = 2, w = {"q", true}}, s = "é\"\\n",
            ["we\"ird"] = 7, ["a.b"] = 8, ["ü"] = "u", e = null}
      local function raw(p, names)
        return db.raw("GetItem", {TableName = "items", Key = {id = {S = "a"}},
                      ProjectionExpression = p,
                      ExpressionAttributeNames = names}).Item
      end
      assert.are.same({x = 1.5, y = {z = 2, w = {"q", true}}, s = "é\"\\n"},
                      t:get({id = "a"}, {projection = "x, y, s"}))
      assert.are.same({}, t:get({id = "a"}, {projection = "nope, nada"}))
      assert.are.same({x = 1.5}, t:get({id = "a"},
                                       {projection = "nope, x"}))
      assert.are.same({y = {z = 2}}, t:get({id = "a"},
                                           {projection = "y.z, nope"}))
      assert.is_nil(t:get({id = "zz"}, {projection = "x"}))
      assert.are.same({["we\"ird"] = 7, ["a.b"] = 8, ["ü"] = "u"},
                      t:get({id = "a"}, {projection = "#w, #d, #u",
                            names = {["#w"] = "we\"ird", ["#d"] = "a.b",
                                     ["#u"] = "ü"}}))
      assert.are.same({e = {NULL = true}, y = {M = {z = {N = "2"},
                        w = {L = {{S = "q"}, {BOOL = true}}}}}},
                      raw("e, y"))
      -- more names than the fast path takes: the whole item, same answer
      assert.are.same({x = 1.5, s = "é\"\\n", e = null},
                      t:get({id = "a"}, {projection =
                        "x, s, e, n1, n2, n3, n4, n5, n6"}))
      local got = t:batch_get({{id = "a"}, {id = "zz"}},
                              {projection = "id, x, nope"})
      assert.are.same({{id = "a", x = 1.5}}, got)
      -- values before the one asked for hold brackets, quotes, escapes
      local a = {m = {"}", "],", {k = "\"}\\"}, {}, -1e100}, n = {}}
      t:put{id = "b", a = a, b = "x\\", c = true, z = 1}
      assert.are.same({z = 1, c = true},
                      t:get({id = "b"}, {projection = "z, c"}))
      assert.are.same({a = a, b = "x\\"},
                      t:get({id = "b"}, {projection = "a, b"}))
      -- duplicate keys: by their bytes (strings), their text (numbers)
      local e = fails(t.batch_get, t, {{id = "a"}, {id = "b"}, {id = "a"}},
                      {projection = "x"})
      assert.are.equal("Provided list of item keys contains duplicates",
                       e.message)
      db.create{name = "nums", key = "n:N", sort = "s"}
      db.nums:put{n = 1, s = "a", v = 1}
      e = fails(db.nums.batch_get, db.nums, {{n = 1, s = "a"},
                                             {n = 1, s = "a"}})
      assert.are.equal("Provided list of item keys contains duplicates",
                       e.message)
      assert.are.same({{v = 1}}, db.nums:batch_get({{n = 1, s = "a"},
        {n = 1, s = "b"}}, {projection = "v"}))
      -- keys the core's direct path leaves to the generic one: the same
      -- answers and errors as a call("BatchGetItem")
      local function both(keys, opts)
        local ok1, r1 = pcall(t.batch_get, t, keys, opts)
        local spec = {Keys = keys, ProjectionExpression = opts and
                      opts.projection}
        local ok2, r2 = pcall(function()
          local r, name, msg = t.h:call("BatchGetItem",
                                        {RequestItems = {items = spec}})
          if not r then error(name .. ": " .. msg) end
          return r.Responses.items
        end)
        assert.are.equal(ok2, ok1)
        if ok1 then assert.are.same(r2, r1)
        else assert.are.equal((r2:gsub("^.-:%d+: ", "")), tostring(r1)) end
      end
      both({{id = 5}})
      both({{id = "\xff"}})
      both({{id = "a", x = "y"}})
      both({{}})
      both({{id = "a"}, {id = "b"}}, {projection = "x, z"})
      both({{id = "a"}, [3] = {id = "b"}})
    end)

    it("the AttributeValue face (raw)", function()
      db.raw("PutItem", {TableName = "items", Item = {id = {S = "a"},
             n = {N = "1.50"}, ss = {SS = {"x", "y"}}}})
      local r = db.raw("GetItem", {TableName = "items",
                                   Key = {id = {S = "a"}}})
      assert.are.same({id = {S = "a"}, n = {N = "1.5"},
                       ss = {SS = {"x", "y"}}}, r.Item)
      local e = fails(db.raw, "PutItem", {TableName = "items",
                      Item = {id = {S = "a"}, bad = {SS = {"x", "x"}}}})
      assert.are.equal("ValidationException", e.code)
    end)
  end)

  describe("query and scan", function()
    local t
    before_each(function()
      db.create{name = "events", key = "pk", sort = "sk:N",
                indexes = {{name = "by_kind", key = "kind", sort = "sk:N"}}}
      t = db.events
      local nums = {-100, -2.5, -1, -0.001, 0, 0.001, 1, 2, 2.5, 10, 100,
                    123456789012345, 1e20}
      local items = {}
      for i, n in ipairs(nums) do
        items[i] = {pk = "p", sk = n, i = i,
                    kind = i % 3 == 0 and "third" or nil}
      end
      items[#items + 1] = {pk = "q", sk = 1, i = 99}
      t:batch_write(items)
    end)

    it("number sort keys sort numerically (negative, decimals, big)",
       function()
      local items = t:query{where = "pk = :p", values = {[":p"] = "p"}}
      assert.are.same({-100, -2.5, -1, -0.001, 0, 0.001, 1, 2, 2.5, 10, 100,
                       123456789012345, 1e20}, ids(items, "sk"))
      items = t:query{where = "pk = :p", values = {[":p"] = "p"},
                      forward = false}
      assert.are.equal(1e20, items[1].sk)
      assert.are.equal(-100, items[#items].sk)
    end)

    it("key conditions: = < <= > >= BETWEEN", function()
      local function q(where, values)
        values[":p"] = "p"
        return ids(t:query{where = "pk = :p AND " .. where, values = values},
                   "sk")
      end
      assert.are.same({0}, q("sk = :v", {[":v"] = 0}))
      assert.are.same({-100, -2.5}, q("sk < :v", {[":v"] = -1}))
      assert.are.same({-100, -2.5, -1}, q("sk <= :v", {[":v"] = -1}))
      assert.are.same({123456789012345, 1e20}, q("sk > :v", {[":v"] = 100}))
      assert.are.same({100, 123456789012345, 1e20},
                      q("sk >= :v", {[":v"] = 100}))
      assert.are.same({-0.001, 0, 0.001},
                      q("sk BETWEEN :a AND :b", {[":a"] = -0.001,
                                                  [":b"] = 0.001}))
      local e = fails(t.query, t, {where = "pk = :p AND begins_with(sk, :x)",
                      values = {[":p"] = "p", [":x"] = 1}})
      assert.are.equal("ValidationException", e.code)
      e = fails(t.query, t, {where = "pk = :p", values = {[":p"] = 1}})
      assert.are.equal("One or more parameter values were invalid: "
                       .. "Condition parameter type does not match schema "
                       .. "type", e.message)
      e = fails(t.query, t, {filter = "i > :x", values = {[":x"] = 1}})
      assert.matches("KeyConditionExpression", e.message)
    end)

    it("begins_with on string sort keys, both directions", function()
      db.create{name = "files", key = "dir", sort = "path"}
      local f = db.files
      f:batch_write{{dir = "d", path = "a/1"}, {dir = "d", path = "a/2"},
                    {dir = "d", path = "ab"}, {dir = "d", path = "b/1"},
                    {dir = "d", path = "a"}, {dir = "d", path = "\u{10FFFF}"}}
      local q = {where = "dir = :d AND begins_with(#p, :x)",
                 names = {["#p"] = "path"},
                 values = {[":d"] = "d", [":x"] = "a/"}}
      assert.are.same({"a/1", "a/2"}, ids(f:query(q), "path"))
      q.forward = false
      assert.are.same({"a/2", "a/1"}, ids(f:query(q), "path"))
      q.values[":x"] = "a"
      assert.are.same({"ab", "a/2", "a/1", "a"}, ids(f:query(q), "path"))
    end)

    it("filter, projection, Select COUNT; Limit counts before the filter",
       function()
      local items, last, count, scanned = t:query{where = "pk = :p",
        filter = "i > :n", values = {[":p"] = "p", [":n"] = 10}}
      assert.are.same({11, 12, 13}, ids(items, "i"))
      assert.are.same({3, 13}, {count, scanned})
      assert.is_nil(last)
      items, last, count, scanned = t:query{where = "pk = :p",
        filter = "i > :n", values = {[":p"] = "p", [":n"] = 10}, limit = 5}
      assert.are.same({}, items)
      assert.are.same({0, 5}, {count, scanned})
      assert.are.same({pk = "p", sk = 0}, last)
      items = t:query{where = "pk = :p", values = {[":p"] = "q"},
                      projection = "i"}
      assert.are.same({{i = 99}}, items)
      items, last, count = t:query{where = "pk = :p",
                                   values = {[":p"] = "p"}, select = "COUNT"}
      assert.are.same({}, items)
      assert.are.equal(13, count)
    end)

    local function walk(page_fn, opts)
      local seen, pages, last = {}, 0, nil
      repeat
        local o = {}
        for k, v in pairs(opts) do o[k] = v end
        o.start = last
        local items
        items, last = page_fn(o)
        pages = pages + 1
        for _, it in ipairs(items) do seen[#seen + 1] = it.i end
        assert.is_true(pages < 100)
      until last == nil
      return seen, pages
    end

    it("Limit and LastEvaluatedKey walk every item once, both directions",
       function()
      local all = {}
      for i = 1, 13 do all[i] = i end
      local rev = {}
      for i = 13, 1, -1 do rev[#rev + 1] = i end
      for _, limit in ipairs{1, 2, 5, 13, 20} do
        local q = function(o) return t:query(o) end
        local seen = walk(q, {where = "pk = :p", values = {[":p"] = "p"},
                              limit = limit})
        assert.are.same(all, seen)
        seen = walk(q, {where = "pk = :p", values = {[":p"] = "p"},
                        limit = limit, forward = false})
        assert.are.same(rev, seen)
        local s = walk(function(o) return t:scan(o) end, {limit = limit})
        table.sort(s)
        local want = {}
        for i = 1, 13 do want[i] = i end
        want[14] = 99
        assert.are.same(want, s)
      end
      local n = 0
      for _ in t:scan_all{limit = 4} do n = n + 1 end
      assert.are.equal(14, n)
      assert.are.equal(14, t:count())
    end)

    it("an index returns what its Projection keeps", function()
      db.create{name = "proj", key = "id", indexes = {
        {name = "keys", key = "g", projection = "KEYS_ONLY"},
        {name = "some", key = "g", sort = "n:N", include = {"a"}}}}
      db.proj:put{id = "1", g = "x", n = 1, a = "A", b = "B"}
      local q = {where = "g = :g", values = {[":g"] = "x"}}
      q.index = "keys"
      assert.are.same({{id = "1", g = "x"}}, db.proj:query(q))
      q.index = "some"
      assert.are.same({{id = "1", g = "x", n = 1, a = "A"}},
                      db.proj:query(q))
      assert.are.same({{id = "1", g = "x", n = 1, a = "A", b = "B"}},
                      db.proj:scan{})
    end)

    it("a starting key outside the query is refused", function()
      local e = fails(t.query, t, {where = "pk = :p",
                      values = {[":p"] = "p"}, start = {pk = "q", sk = 1}})
      assert.are.equal("ValidationException", e.code)
      e = fails(t.query, t, {where = "pk = :p",
                values = {[":p"] = "p"}, start = {pk = "p"}})
      assert.matches("The provided starting key is invalid", e.message)
    end)

    it("scan with segments covers every item once", function()
      local seen = {}
      for s = 0, 2 do
        for it in t:scan_all{segment = s, segments = 3} do
          assert.is_nil(seen[it.i])
          seen[it.i] = true
        end
      end
      local n = 0
      for _ in pairs(seen) do n = n + 1 end
      assert.are.equal(14, n)
    end)

    it("a GSI is sparse, paged and kept up to date", function()
      local q = {index = "by_kind", where = "kind = :k",
                 values = {[":k"] = "third"}}
      assert.are.same({3, 6, 9, 12}, ids(t:query(q), "i"))
      local seen = walk(function(o) return t:query(o) end,
                        {index = "by_kind", where = "kind = :k",
                         values = {[":k"] = "third"}, limit = 1,
                         forward = false})
      assert.are.same({12, 9, 6, 3}, seen)
      -- update moves an item into and out of the index
      t:update({pk = "p", sk = 0}, "SET kind = :k", {values =
               {[":k"] = "third"}})
      t:update({pk = "p", sk = -1}, "REMOVE kind")
      assert.are.same({5, 6, 9, 12}, ids(t:query(q), "i"))
      t:update({pk = "p", sk = 0}, "SET kind = :k", {values =
               {[":k"] = "other"}})
      assert.are.same({6, 9, 12}, ids(t:query(q), "i"))
      t:delete{pk = "p", sk = 2.5}
      assert.are.same({6, 12}, ids(t:query(q), "i"))
      t:put{pk = "p", sk = 0.001, i = 6}  -- replaced without kind
      assert.are.same({12}, ids(t:query(q), "i"))
      assert.are.equal(1, #t:scan{index = "by_kind", filter = "i = :i",
                                  values = {[":i"] = 12}})
      local e = fails(t.put, t, {pk = "p", sk = 7, kind = 5})
      assert.are.equal("One or more parameter values were invalid: Type "
                       .. "mismatch for Index Key kind Expected: S Actual: "
                       .. "N IndexName: by_kind", e.message)
      e = fails(t.query, t, {index = "nope", where = "kind = :k",
                values = {[":k"] = "x"}})
      assert.are.equal("The table does not have the specified index: nope",
                       e.message)
    end)
  end)

  describe("batches and transactions", function()
    local t
    before_each(function()
      db.create{name = "items", key = "id"}
      db.create{name = "indexed", key = "id",
                indexes = {{name = "by_g", key = "g"}}}
      t = db.items
    end)

    it("batch_write puts and deletes; batch_get reads", function()
      t:batch_write{{id = "a", v = 1}, {id = "b", v = 2}, {id = "c"}}
      t:batch_write({{id = "d"}}, {{id = "a"}})
      local got = t:batch_get{{id = "a"}, {id = "b"}, {id = "d"}}
      table.sort(got, function(x, y) return x.id < y.id end)
      assert.are.same({{id = "b", v = 2}, {id = "d"}}, got)
      assert.are.same({{v = 2}}, t:batch_get({{id = "b"}},
                                             {projection = "v"}))
      -- an item written from Lua is stored with its names in byte order,
      -- so it prints back the same whatever order Lua hashed them in
      t:batch_write{{id = "z", zeta = 1, alpha = {m = 1, b = 2},
                     mid = "x"}}
      local bin = require("support").BIN
      local pipe = assert(io.popen(bin .. " table get items"
                                   .. " --key '{\"id\": \"z\"}' --db "
                                   .. path))
      local text = pipe:read("a")
      pipe:close()
      assert.are.equal('{"alpha":{"b":2,"m":1},"id":"z","mid":"x",'
                       .. '"zeta":1}\n', text)
      -- the same key twice is refused, wherever the second one is
      local keys = {}
      for i = 1, 300 do keys[i] = {id = "k" .. i} end
      keys[301] = {id = "k7"}
      local e = fails(t.batch_get, t, keys)
      assert.are.equal("ValidationException", e.code)
      assert.are.equal("Provided list of item keys contains duplicates",
                       e.message)
      local x = db.indexed
      x:batch_write{{id = "1", g = "a"}, {id = "2"}, {id = "3", g = "a"}}
      assert.are.equal(2, #x:query{index = "by_g", where = "g = :g",
                                   values = {[":g"] = "a"}})
    end)

    it("a batch is all or nothing, any size", function()
      local items = {}
      for i = 1, 5000 do items[i] = {id = "k" .. i, v = i} end
      items[4000] = {v = "no key"}
      local e = fails(t.batch_write, t, items)
      assert.are.equal("ValidationException", e.code)
      assert.are.equal(0, t:count())
      items[4000] = {id = "k4000"}
      t:batch_write(items)
      assert.are.equal(5000, t:count())
      local x = db.indexed
      e = fails(x.batch_write, x, {{id = "1", g = "a"}, {id = "2", g = 5}})
      assert.are.equal("ValidationException", e.code)
      assert.are.equal(0, x:count())
    end)

    it("transact_write: all or nothing, with the reasons", function()
      t:put{id = "a", v = 1}
      t:put{id = "c", v = 1}
      local e = fails(db.transact_write, {
        {table = "items", put = {id = "b"}},
        {table = "items", update = {id = "a"}, expr = "SET v = :two",
         values = {[":two"] = 2}},
        {table = "items", check = {id = "c"}, condition = "v = :z",
         values = {[":z"] = 0}, return_on_failure = "ALL_OLD"},
      })
      assert.are.equal("TransactionCanceledException", e.code)
      assert.are.equal("Transaction cancelled, please refer cancellation "
        .. "reasons for specific reasons [None, None, "
        .. "ConditionalCheckFailed]", e.message)
      assert.are.same({{Code = "None"}, {Code = "None"},
                       {Code = "ConditionalCheckFailed", Message =
                        "The conditional request failed",
                        Item = {id = "c", v = 1}}}, e.reasons)
      assert.is_nil(t:get{id = "b"})
      assert.are.same({id = "a", v = 1}, t:get{id = "a"})
      assert.is_true(db.transact_write{
        {table = "items", put = {id = "b"},
         condition = "attribute_not_exists(id)"},
        {table = "items", update = {id = "a"}, expr = "SET v = :two",
         values = {[":two"] = 2}},
        {table = "indexed", put = {id = "x", g = "y"}},
        {table = "items", delete = {id = "zz"}},
      })
      assert.are.same({id = "b"}, t:get{id = "b"})
      assert.are.same({id = "a", v = 2}, t:get{id = "a"})
      e = fails(db.transact_write, {{table = "items", put = {id = "a"}},
                                    {table = "items", delete = {id = "a"}}})
      assert.are.equal("Transaction request cannot include multiple "
                       .. "operations on one item", e.message)
    end)
  end)

  it("shares one :memory: database within the process", function()
    local a = T.open{db = ":memory:"}
    local b = T.open{db = ":memory:"}
    a.create{name = "shared_mem", key = "id", if_not_exists = true}
    a.shared_mem:put{id = "x"}
    assert.are.same({id = "x"}, b.shared_mem:get{id = "x"})
    b.drop("shared_mem")
  end)
end)
