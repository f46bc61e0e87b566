-- cli_table_spec.lua - `moonstep table ...` (engine/cli_table.c): create
-- with keys and indexes, list, describe, put, get, delete, query, scan,
-- import of JSON Lines and CSV, export as JSON Lines and CSV, drop; items
-- print as plain JSON, one per line when piped; DynamoDB errors exit 1.
local S = require "support"
local json = require "cjson"  -- no moonstep.so: these run the binary only

describe("#binary moonstep table", function()
  local tmp, env
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("cli-table")
    env = "MOONSTEP_DB=" .. S.shquote(tmp .. "/db") .. " "
  end)
  after_each(function() S.rmtree(tmp) end)

  local function mt(...)
    return S.run(tmp, {"table", ...}, env)
  end

  local function ok(...)
    local out, err, code = mt(...)
    assert.are.equal(0, code, err)
    return out
  end

  local function lines(text)
    local t = {}
    for l in text:gmatch("[^\n]+") do t[#t + 1] = json.decode(l) end
    return t
  end

  it("create, list, describe, drop", function()
    ok("create", "users", "--key", "id", "--sort", "ts:N",
       "--index", "by_email=email:S", "--index", "by_age=age:N,ts:N")
    ok("create", "orders", "--key", "id:N")
    assert.are.equal("orders\nusers\n", ok("list"))
    local d = json.decode(ok("describe", "users"))
    assert.are.equal("users", d.TableName)
    assert.are.equal(2, #d.GlobalSecondaryIndexes)
    local _, err, code = mt("create", "users", "--key", "id")
    assert.are.equal(1, code)
    assert.matches("ResourceInUseException: Table already exists: users",
                   err)
    ok("drop", "orders")
    assert.are.equal("users\n", ok("list"))
    _, err, code = mt("describe", "orders")
    assert.are.equal(1, code)
    assert.matches("ResourceNotFoundException", err)
    _, _, code = mt("create", "x1y", "--key", "id:Q")
    assert.are.equal(2, code)
    _, _, code = mt("frobnicate")
    assert.are.equal(2, code)
  end)

  it("put, get, delete, query and scan with plain JSON", function()
    ok("create", "events", "--key", "pk", "--sort", "n:N",
       "--db", tmp .. "/db")
    ok("put", "events", '{"pk":"a","n":1,"tags":["x"],"m":{"k":true}}')
    ok("put", "events", '{"pk":"a","n":-2.5}')
    ok("put", "events", '{"pk":"b","n":3}')
    S.spit(tmp .. "/item.json", '{"pk":"a","n":10,"v":null}')
    ok("put", "events", "@" .. tmp .. "/item.json")
    local _, err, code = mt("put", "events", '{"pk":"a","n":1}', "--condition",
                            "attribute_not_exists(pk)")
    assert.are.equal(1, code)
    assert.matches("ConditionalCheckFailedException: The conditional "
                   .. "request failed", err)
    assert.are.same({pk = "a", n = 1, tags = {"x"}, m = {k = true}},
                    json.decode(ok("get", "events", "--key",
                                   '{"pk":"a","n":1}')))
    assert.are.same({-2.5, 1, 10},
      (function()
        local t = {}
        local got = lines(ok("query", "events", "--key", '{"pk":"a"}'))
        for i, it in ipairs(got) do t[i] = it.n end
        return t
      end)())
    local rev = lines(ok("query", "events", "--where", "pk = :p AND n > :n",
                         "--values", '{":p":"a",":n":0}', "--reverse"))
    assert.are.same({10, 1}, {rev[1].n, rev[2].n})
    assert.are.equal(4, #lines(ok("scan", "events")))
    assert.are.equal(2, #lines(ok("scan", "events", "--limit", "2")))
    assert.are.equal(1, #lines(ok("scan", "events", "--filter", "n > :n",
                                  "--values", '{":n":5}')))
    ok("delete", "events", "--key", '{"pk":"a","n":10}')
    _, err, code = mt("get", "events", "--key", '{"pk":"a","n":10}')
    assert.are.equal(1, code)
    _, err, code = mt("get", "events", "--key", '{"pk":"a"}')
    assert.are.equal(1, code)
    assert.matches("ValidationException: The provided key element does "
                   .. "not match the schema", err)
    -- AttributeValue JSON with --av
    assert.are.same({pk = {S = "b"}, n = {N = "3"}},
      json.decode(ok("get", "events", "--av", "--key",
                     '{"pk":{"S":"b"},"n":{"N":"3"}}')))
  end)

  it("queries an index", function()
    ok("create", "users", "--key", "id", "--index", "by_email=email")
    ok("put", "users", '{"id":"1","email":"a@x"}')
    ok("put", "users", '{"id":"2"}')
    ok("put", "users", '{"id":"3","email":"a@x"}')
    local got = lines(ok("query", "users", "--index", "by_email",
                         "--where", "email = :e",
                         "--values", '{":e":"a@x"}'))
    assert.are.same({"1", "3"}, {got[1].id, got[2].id})
  end)

  it("imports JSON Lines and CSV, exports JSON Lines and CSV", function()
    ok("create", "people", "--key", "id:N")
    S.spit(tmp .. "/in.jsonl", '{"id":1,"name":"Ann","tags":["a"]}\n'
           .. '\n{"id":2,"name":"Bob"}\n')
    local _, err, code = mt("import", "people", tmp .. "/in.jsonl")
    assert.are.equal(0, code, err)
    assert.matches("imported 2 items", err)
    S.spit(tmp .. "/in.csv", '\xEF\xBB\xBFid,name,city\r\n3,"Smith, J",'
           .. '"Line\nTwo"\r\n4,Dee,\r\n')
    ok("import", "people", tmp .. "/in.csv")
    local items = lines(ok("export", "people"))
    assert.are.same({{id = 1, name = "Ann", tags = {"a"}},
                     {id = 2, name = "Bob"},
                     {id = 3, name = "Smith, J", city = "Line\nTwo"},
                     {id = 4, name = "Dee"}}, items)
    local csv = ok("export", "people", "--format", "csv")
    local header = csv:match("^[^\n]*")
    assert.matches("^id,", header)
    local cols = {}
    for c in header:gmatch("[^,]+") do cols[#cols + 1] = c end
    table.sort(cols)
    assert.are.same({"city", "id", "name", "tags"}, cols)
    assert.matches('\n3,[^\n]*"Smith, J"', csv)
    assert.matches('"Line\nTwo"', csv)
    assert.matches('"%[""a""%]"', csv)
    -- a bad row: nothing of that batch is written
    S.spit(tmp .. "/bad.csv", "id,name\n5,Eve\nsix,Fay\n")
    local e2
    _, e2, code = mt("import", "people", tmp .. "/bad.csv")
    assert.are.equal(1, code)
    assert.matches("is not a number", e2)
    assert.are.equal(4, #lines(ok("export", "people")))
    S.spit(tmp .. "/bad.jsonl", '{"id":7}\n{"name":"no key"}\n')
    _, e2, code = mt("import", "people", tmp .. "/bad.jsonl")
    assert.are.equal(1, code)
    assert.matches("Missing the key id", e2)
    assert.are.equal(4, #lines(ok("export", "people")))
  end)
end)
