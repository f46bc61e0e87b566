-- luabridge_spec.lua - the JSON <-> Lua bridge (engine/luabridge.c), seen
-- through moonstep.json: integers stay integers, [] survives, null is
-- cjson.null, Lua objects print with sorted keys, bad values are refused
-- with a message naming where they are.

local moonstep = require "moonstep"
local json = moonstep.json

local function roundtrip(text)
  return json.encode(json.decode(text))
end

describe("moonstep.json", function()
  describe("numbers", function()
    it("keeps big integers exact", function()
      local v = json.decode("12345678901234567")
      assert.are.equal("integer", math.type(v))
      assert.are.equal(12345678901234567, v)
      assert.are.equal("12345678901234567", json.encode(v))
    end)

    it("keeps int64 limits exact", function()
      assert.are.equal("[9223372036854775807,-9223372036854775808]",
        roundtrip("[9223372036854775807,-9223372036854775808]"))
      assert.are.equal(math.maxinteger, json.decode("9223372036854775807"))
    end)

    it("keeps floats as floats", function()
      assert.are.equal("0.1", roundtrip("0.1"))
      assert.are.equal("2.0", roundtrip("2.0"))
      assert.are.equal("float", math.type(json.decode("2.0")))
      assert.are.equal("integer", math.type(json.decode("2")))
      assert.are.equal("1e+21", roundtrip("1e21"))
      assert.are.equal("-1.5", roundtrip("-1.5"))
    end)

    it("encodes Lua integers as integers and integral floats as reals",
      function()
        assert.are.equal("[2,2.0,0.5]", json.encode(json.array({2, 2.0, 0.5})))
        assert.are.equal("-0.0", json.encode(-0.0))
      end)

    it("refuses NaN and infinities", function()
      assert.has_error(function() json.encode(0 / 0) end,
        "json.encode: cannot convert to JSON: number at (top level) is NaN")
      assert.has_error(function() json.encode({x = math.huge}) end,
        "json.encode: cannot convert to JSON: number at .x is inf")
      assert.has_error(function() json.encode({-math.huge}) end,
        "json.encode: cannot convert to JSON: number at [1] is -inf")
    end)
  end)

  describe("arrays and objects", function()
    it("keeps [] and {} apart", function()
      assert.are.equal("[]", roundtrip("[]"))
      assert.are.equal("{}", roundtrip("{}"))
      assert.are.equal('{"a":[],"b":{}}', roundtrip('{"a":[],"b":{}}'))
      assert.are.equal("{}", json.encode({}))
      assert.are.equal("[]", json.encode(json.array({})))
      assert.are.equal("[]", json.encode(json.array()))
    end)

    it("marks decoded arrays with array_mt", function()
      local v = json.decode("[1,2]")
      assert.are.equal(json.array_mt, getmetatable(v))
      assert.is_nil(getmetatable(json.decode("{}")))
      local t = {}
      assert.are.equal(t, json.array(t))
      assert.are.equal(json.array_mt, getmetatable(t))
    end)

    it("treats sequences 1..n as arrays", function()
      assert.are.equal('[1,"two",true]', json.encode({1, "two", true}))
      assert.are.equal('{"a":[[1],[2]]}', json.encode({a = {{1}, {2}}}))
    end)

    it("writes Lua objects with sorted keys", function()
      assert.are.equal('{"a":1,"b":2,"c":{"x":true,"y":false}}',
        json.encode({c = {y = false, x = true}, b = 2, a = 1}))
      assert.are.equal('{"B":1,"a":2,"aa":3}',
        json.encode({aa = 3, a = 2, B = 1}))
    end)

    it("sorts keys after a round trip through a Lua table", function()
      -- a Lua table has no key order; the text is made deterministic
      assert.are.equal('{"a":2,"z":1}', roundtrip('{"z":1,"a":2}'))
    end)

    it("encodes holes in a marked array as null", function()
      local t = json.array({1, nil, 3})
      t[2] = nil
      local s = json.encode(t)
      assert.is_true(s == "[1,null,3]" or s == "[1]")
    end)

    it("is deterministic for the same table", function()
      local t = {}
      for i = 1, 50 do t["k" .. i] = i end
      assert.are.equal(json.encode(t), json.encode(t))
    end)

    it("allows the same table twice when it is not a cycle", function()
      local shared = {1}
      assert.are.equal('{"a":[1],"b":[1]}',
        json.encode({a = shared, b = shared}))
    end)
  end)

  describe("null", function()
    it("is cjson.null", function()
      local ok, cjson = pcall(require, "cjson")
      if ok then assert.are.equal(cjson.null, json.null) end
      assert.are.equal("userdata", type(json.null))
    end)

    it("survives nested", function()
      local v = json.decode('{"a":[null,{"b":null}]}')
      assert.are.equal(json.null, v.a[1])
      assert.are.equal(json.null, v.a[2].b)
      assert.are.equal('{"a":[null,{"b":null}]}', json.encode(v))
    end)

    it("encodes nil as null at the top level", function()
      assert.are.equal("null", json.encode(nil))
      assert.are.equal("null", json.encode(json.null))
    end)

    it("mixes with cjson values", function()
      local ok, cjson = pcall(require, "cjson")
      if not ok then return end
      assert.are.equal('{"x":null}', json.encode(cjson.decode('{"x":null}')))
    end)
  end)

  describe("strings", function()
    it("keeps unicode", function()
      local s = "h\u{e9}llo \u{1F600} \u{4e2d}"
      assert.are.equal(s, json.decode(json.encode(s)))
      assert.are.equal('"h\u{e9}llo"', json.encode("h\u{e9}llo"))
      assert.are.equal("\u{e9}", json.decode('"\\u00e9"'))
      assert.are.equal("\u{1F600}", json.decode('"\\ud83d\\ude00"'))
    end)

    it("keeps NUL bytes", function()
      local s = "a\0b"
      assert.are.equal('"a\\u0000b"', json.encode(s))
      assert.are.equal(s, json.decode('"a\\u0000b"'))
      assert.are.equal(3, #json.decode('"a\\u0000b"'))
    end)

    it("escapes control characters and quotes", function()
      assert.are.equal('"\\"\\\\\\n\\t\\u0001"', json.encode('"\\\n\t\1'))
    end)

    it("refuses invalid UTF-8", function()
      assert.has_error(function() json.encode({s = "\255"}) end,
        "json.encode: cannot convert to JSON: string at .s is not valid UTF-8")
    end)
  end)

  describe("errors", function()
    it("refuses functions, naming the path", function()
      assert.has_error(function() json.encode({a = {b = print}}) end,
        "json.encode: cannot convert to JSON: value at .a.b is a function")
    end)

    it("refuses coroutines and userdata", function()
      assert.has_error(function() json.encode({coroutine.create(print)}) end,
        "json.encode: cannot convert to JSON: value at [1] is a thread")
      assert.has_error(function() json.encode(io.stdout) end)
    end)

    it("refuses cycles", function()
      local t = {a = {}}
      t.a.b = t
      assert.has_error(function() json.encode(t) end,
        "json.encode: cannot convert to JSON: table at .a.b contains itself "
          .. "(a reference cycle)")
      local u = json.array({})
      u[1] = u
      assert.has_error(function() json.encode(u) end)
    end)

    it("refuses non-string keys, naming the path", function()
      assert.has_error(function() json.encode({a = {b = {[true] = 1}}}) end,
        "json.encode: cannot convert to JSON: table at .a.b has a non-string "
          .. "key (boolean)")
      assert.has_error(function() json.encode({[1.5] = 1}) end,
        "json.encode: cannot convert to JSON: table at (top level) has a "
          .. "non-string key (number 1.5)")
    end)

    it("refuses mixed tables", function()
      assert.has_error(function() json.encode({1, 2, x = 3}) end)
      local ok, err = pcall(json.encode, {list = {1, 2, x = 3}})
      assert.is_false(ok)
      assert.matches("table at .list mixes string keys", err, 1, true)
    end)

    it("refuses integer keys that are not a sequence", function()
      local ok, err = pcall(json.encode, {[1] = "a", [3] = "c"})
      assert.is_false(ok)
      assert.matches("not a sequence", err, 1, true)
      assert.has_error(function() json.encode({[0] = "z"}) end)
    end)

    it("quotes keys that are not identifiers in the path", function()
      local ok, err = pcall(json.encode, {["a b"] = {f = print}})
      assert.is_false(ok)
      assert.matches('value at ["a b"].f is a function', err, 1, true)
    end)

    it("refuses nesting deeper than 2048", function()
      local deep = {}
      local t = deep
      for _ = 1, 2047 do t.x = {}; t = t.x end
      assert.is_string(json.encode(deep))  -- 2048 levels are fine
      t.x = {}
      local ok, err = pcall(json.encode, deep)
      assert.is_false(ok)
      assert.matches("nested deeper than 2048", err, 1, true)
    end)

    -- Hostile values (R2 review): the bridge reads tables raw, so
    -- metamethods never run; depth and cycles are refused, not recursed.
    it("never calls metamethods, even ones that raise", function()
      local boom = function() error("metamethod ran") end
      local t = setmetatable({}, {__index = boom, __newindex = boom,
                                  __pairs = boom, __len = boom})
      rawset(t, "a", 1)
      assert.are.equal('{"a":1}', json.encode(t))
      local seq = setmetatable({1, 2}, {__index = boom, __len = boom})
      assert.are.equal("[1,2]", json.encode(seq))
      local locked = setmetatable({}, {__metatable = "locked"})
      assert.are.equal("{}", json.encode(locked))
    end)

    it("refuses 100000 levels of tables and arrays", function()
      local obj, arr = {}, {}
      local o, a = obj, arr
      for _ = 1, 100000 do o.x = {}; o = o.x; a[1] = {}; a = a[1] end
      for _, v in ipairs { obj, arr } do
        local ok, err = pcall(json.encode, v)
        assert.is_false(ok)
        assert.matches("nested deeper than 2048", err, 1, true)
        assert.is_true(#err < 400, "the path in the message is cut")
      end
      local ok = pcall(json.decode, string.rep("[", 100000))
      assert.is_false(ok)
    end)

    it("refuses a cycle through a marked array", function()
      local a = json.array {}
      a[1] = { back = a }
      local ok, err = pcall(json.encode, a)
      assert.is_false(ok)
      assert.matches("[1].back contains itself", err, 1, true)
    end)

    it("converts large tables", function()
      local big, obj = {}, {}
      for i = 1, 200000 do big[i] = i; obj["k" .. i] = i end
      assert.are.equal(200000, #json.decode(json.encode(big)))
      assert.are.equal(200000, json.decode(json.encode(obj)).k200000)
    end)

    it("refuses keys with NUL bytes and invalid UTF-8", function()
      assert.has_error(function() json.encode({["a\0b"] = 1}) end)
      assert.has_error(function() json.encode({["\xff"] = 1}) end)
      assert.has_error(function() json.decode('{"a\\u0000b": 1}') end)
    end)

    it("reports decode errors with line and column", function()
      local ok, err = pcall(json.decode, '{\n  "a": }')
      assert.is_false(ok)
      assert.matches("^json.decode: line 2 column %d+: ", err)
      assert.has_error(function() json.decode('{"a":1,"a":2}') end)
    end)
  end)

  describe("encode options", function()
    it("pretty-prints with two spaces", function()
      assert.are.equal('{\n  "a": [\n    1\n  ]\n}',
        json.encode({a = {1}}, {pretty = true}))
    end)

    it("sorts keys of decoded objects on request", function()
      local v = json.decode('{"b":1,"a":2}')
      assert.are.equal('{"a":2,"b":1}', json.encode(v, {sort = true}))
    end)
  end)

  describe("equal", function()
    it("compares numbers by value", function()
      assert.is_true(json.equal(1, 1.0))
      assert.is_true(json.equal({a = {1, 2}}, json.decode('{"a":[1.0,2]}')))
      assert.is_false(json.equal({a = 1}, {a = 2}))
      assert.is_false(json.equal({}, json.array({})))
      assert.is_true(json.equal(json.null, nil))
    end)
  end)

  it("is also reachable as require 'moonstep.json'", function()
    local mj = require "moonstep.json"
    assert.are.equal(json.null, mj.null)
    assert.are.equal("[1]", mj.encode({1}))
  end)
end)
