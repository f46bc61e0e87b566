-- ddbexpr_spec.lua - DynamoDB's expression languages and values
-- (engine/ddbexpr*.c, engine/ddbval.c) through moonstep.core.ddbexpr.
--
-- The data-driven cases are spec/fixtures/ddbexpr/*.json, one `it` per
-- case, named by its stable id:
--   conditions   expr, names?, values?, item? (default: items.json "doc";
--                null: no item), expected true|false | error, used?
--   updates      expr, names?, values?, item, expected item | error,
--                targets?, used?
--   projections  expr, names?, item? (default "doc"), expected | error
--   keyconds     expr, names?, values?, pk? (default "id"), sk? (default
--                "ts"; null: none), expected {op, pk, lo?, hi?} | error
--   errors       kind, expr, names?, values?, error (parse errors)
--   numbers      op normalize|add|sub|cmp, a, b?, expected | error
--   values       op check|equal|compare|from_plain|to_plain, a, b?,
--                expected | error
-- The rest (IN's operand limit, key-byte order over random numbers,
-- reusing a parsed expression) is written out below.
local moonstep = require "moonstep"   -- cpath from .busted (MOONSTEP_BUILD)
local ddb = require "moonstep.core.ddbexpr"
local json = moonstep.json

local ROOT = "spec/fixtures/ddbexpr/"

local function load(file)
  local f = assert(io.open(ROOT .. file, "rb"), ROOT .. file .. " missing")
  local text = f:read("a")
  f:close()
  return json.decode(text)
end

local ITEMS = load("items.json")

local function show(v)
  local ok, s = pcall(json.encode, v, { sort = true })
  return ok and s or tostring(v)
end

local function same(want, got, what)
  assert(json.equal(want, got), string.format("%s: expected %s got %s",
         what or "value", show(want), show(got)))
end

local function opt(v)
  if v == json.null then return nil end
  return v
end

-- The case's item: absent -> the shared "doc", null -> no item.
local function item_of(case)
  if case.item == nil then return ITEMS.doc end
  return opt(case.item)
end

local function expect_error(case, got, err)
  assert(got == nil, string.format("expected error %q, got %s", case.error,
                                   show(got)))
  assert.are.equal(case.error, err)
end

local function check_extras(case, kind)
  if case.used == nil and case.targets == nil then return end
  local e, err = ddb.parse(kind, case.expr, opt(case.names),
                           opt(case.values))
  assert(e, err)
  if case.used then
    local u = e:used()
    same(case.used.names, u.names, "used names")
    same(case.used.values, u.values, "used values")
  end
  if case.targets then same(case.targets, e:targets(), "targets") end
  e:free()
end

local runners = {
  ["conditions.json"] = function(case)
    local got, err = ddb.test(case.expr, item_of(case), opt(case.names),
                              opt(case.values))
    if case.error then return expect_error(case, got, err) end
    assert(got ~= nil, err)
    assert.are.equal(case.expected, got)
    check_extras(case, "condition")
  end,
  ["updates.json"] = function(case)
    check_extras(case, "update")
    if case.expected == nil and case.error == nil then return end
    local got, err = ddb.update(case.expr, opt(case.item), opt(case.names),
                                opt(case.values))
    if case.error then return expect_error(case, got, err) end
    assert(got ~= nil, err)
    same(case.expected, got, "item")
  end,
  ["projections.json"] = function(case)
    local got, err = ddb.project(case.expr, item_of(case), opt(case.names))
    if case.error then return expect_error(case, got, err) end
    assert(got ~= nil, err)
    same(case.expected, got, "projection")
  end,
  ["keyconds.json"] = function(case)
    local sk = case.sk
    if sk == nil then sk = "ts" end
    local got, err = ddb.keycond(case.expr, case.pk or "id", opt(sk),
                                 opt(case.names), opt(case.values))
    if case.error then return expect_error(case, got, err) end
    assert(got ~= nil, err)
    same(case.expected, got, "key condition")
  end,
  ["errors.json"] = function(case)
    local got, err = ddb.parse(case.kind, case.expr, opt(case.names),
                               opt(case.values))
    expect_error(case, got, err)
  end,
  ["numbers.json"] = function(case)
    local fn = ({ normalize = ddb.num_normalize, add = ddb.num_add,
                  sub = ddb.num_sub, cmp = ddb.num_cmp })[case.op]
    assert(fn, "unknown op " .. tostring(case.op))
    local got, err = fn(case.a, case.b)
    if case.error then return expect_error(case, got, err) end
    assert(got ~= nil, err)
    assert.are.equal(case.expected, got)
  end,
  ["values.json"] = function(case)
    local fn = ddb[case.op]
    assert(fn, "unknown op " .. tostring(case.op))
    local got, err = fn(case.a, case.b)
    if case.error then return expect_error(case, got, err) end
    assert(got ~= nil, err)
    same(case.expected, got, case.op)
  end,
}

for _, file in ipairs({ "conditions.json", "updates.json",
                        "projections.json", "keyconds.json", "errors.json",
                        "numbers.json", "values.json" }) do
  describe("ddbexpr " .. file, function()
    local ok, cases = pcall(load, file)
    if not ok or type(cases) ~= "table" or #cases == 0 then
      it("has " .. ROOT .. file, function()
        error("fixture file missing or invalid: " .. tostring(cases))
      end)
      return
    end
    local seen = {}
    for n, case in ipairs(cases) do
      local id = case.id or ("#" .. n .. " (no id)")
      it(id, function()
        assert(type(case.id) == "string", "case #" .. n .. " has no id")
        assert(not seen[id], "duplicate id " .. id)
        seen[id] = true
        runners[file](case)
      end)
    end
  end)
end

describe("ddbexpr IN", function()
  local function values(n)
    local names, vals = {}, {}
    for i = 1, n do
      names[i] = ":v" .. i
      vals[":v" .. i] = { N = tostring(i) }
    end
    return "n IN (" .. table.concat(names, ", ") .. ")", vals
  end

  it("takes up to 100 operands", function()
    local expr, vals = values(100)
    assert.is_true(ddb.test(expr, ITEMS.doc, nil, vals))
  end)

  it("refuses 101 operands", function()
    local expr, vals = values(101)
    local got, err = ddb.test(expr, ITEMS.doc, nil, vals)
    assert.is_nil(got)
    assert.are.equal("Invalid ConditionExpression: The IN operator is " ..
                     "provided with too many operands; number of " ..
                     "operands: 101", err)
  end)
end)

describe("ddbexpr key bytes", function()
  -- memcmp order of two byte strings (not Lua's locale-aware <)
  local function bytes_cmp(a, b)
    local n = math.min(#a, #b)
    for i = 1, n do
      local x, y = a:byte(i), b:byte(i)
      if x ~= y then return x < y and -1 or 1 end
    end
    return #a == #b and 0 or (#a < #b and -1 or 1)
  end

  local function random_number(rng)
    local digits = {}
    for i = 1, rng(1, 38) do digits[i] = tostring(rng(0, 9)) end
    digits[1] = tostring(rng(1, 9))
    local mant = digits[1] .. "." .. table.concat(digits, "", 2)
    local sign = rng(0, 1) == 0 and "-" or ""
    local exp
    local pick = rng(1, 4)
    if pick == 1 then exp = rng(-130, 125)   -- anywhere in range
    elseif pick == 2 then exp = rng(-3, 3)   -- near one: many ties of
    else exp = rng(0, 2) end                 -- exponent, digits decide
    return sign .. mant .. "E" .. exp
  end

  it("orders N as ddbnum_cmp does, over a few hundred numbers", function()
    local seed = 20261125
    local rng = function(a, b)   -- a small LCG: the same numbers each run
      seed = (seed * 1103515245 + 12345) % 2147483648
      return a + seed % (b - a + 1)
    end
    local nums = { "0", "-0", "1", "-1", "1E-130", "-1E-130",
                   "9.9999999999999999999999999999999999999E+125",
                   "-9.9999999999999999999999999999999999999E+125",
                   "1.2", "1.23", "-1.2", "-1.23", "10", "9", "0.1" }
    for _ = 1, 300 do nums[#nums + 1] = random_number(rng) end
    local keys = {}
    for i, n in ipairs(nums) do
      local k, err = ddb.key_bytes({ N = n })
      assert(k, err)
      keys[i] = k
    end
    for i = 1, #nums do
      for j = i + 1, #nums do
        local c = ddb.num_cmp(nums[i], nums[j])
        local b = bytes_cmp(keys[i], keys[j])
        if c ~= b then
          error(string.format("%s vs %s: num_cmp %d, key bytes %d",
                              nums[i], nums[j], c, b))
        end
      end
    end
  end)

  it("gives S as its UTF-8 bytes and B as its decoded bytes", function()
    assert.are.equal("h\195\169", ddb.key_bytes({ S = "h\195\169" }))
    assert.are.equal("\1\2\3", ddb.key_bytes({ B = "AQID" }))
    assert.are.equal("", ddb.key_bytes({ B = "" }))
    assert.are.equal(-1, bytes_cmp(ddb.key_bytes({ S = "Z" }),
                                   ddb.key_bytes({ S = "a" })))
  end)

  it("refuses other types", function()
    local k, err = ddb.key_bytes({ BOOL = true })
    assert.is_nil(k)
    assert.matches("must be S, N or B", err)
  end)
end)

describe("ddbexpr number arithmetic", function()
  it("is exact: (a + b) - b = a, a + b = b + a, b > 0 means a + b > a",
     function()
    local seed = 4242
    local function rng(a, b)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return a + seed % (b - a + 1)
    end
    local function num()
      local digits = {}
      for i = 1, rng(1, 15) do digits[i] = tostring(rng(0, 9)) end
      return (rng(0, 1) == 0 and "-" or "") .. table.concat(digits) ..
             "E" .. rng(-8, 8)
    end
    for _ = 1, 300 do
      local a, b = num(), num()
      local s = assert(ddb.num_add(a, b))
      assert.are.equal(s, assert(ddb.num_add(b, a)))
      local back = assert(ddb.num_sub(s, b))
      assert(ddb.num_cmp(back, a) == 0,
             string.format("(%s + %s) - %s = %s", a, b, b, back))
      assert.are.equal(assert(ddb.num_normalize(a)), back)
      local sign = ddb.num_cmp(b, "0")
      assert.are.equal(sign, ddb.num_cmp(s, a))
    end
  end)
end)

describe("ddbexpr parsed once", function()
  it("tests many items and reports its placeholders", function()
    local e = assert(ddb.parse("condition", "#k > :lo AND attribute_exists(m)",
                               { ["#k"] = "n" }, { [":lo"] = { N = "1" } }))
    assert.is_true(e:test(ITEMS.doc))
    assert.is_false(e:test({ n = { N = "1" }, m = { NULL = true } }))
    assert.is_false(e:test(nil))
    local u = e:used()
    same({ "#k" }, u.names)
    same({ ":lo" }, u.values)
    e:free()
    assert.has_error(function() e:test(ITEMS.doc) end)
  end)

  it("applies an update without changing the item it was given", function()
    local item = { n = { N = "1" }, l = { L = { { S = "a" } } } }
    local before = json.encode(item, { sort = true })
    local e = assert(ddb.parse("update", "SET n = n + :one, l[0] = :x",
                               nil, { [":one"] = { N = "1" },
                                      [":x"] = { S = "b" } }))
    local out = assert(e:update(item))
    same({ n = { N = "2" }, l = { L = { { S = "b" } } } }, out)
    assert.are.equal(before, json.encode(item, { sort = true }))
  end)
end)
