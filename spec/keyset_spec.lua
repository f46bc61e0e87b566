-- keyset_spec.lua - moonstep.keyset (engine/lkeyset.c): string keys with
-- an integer each, outside the Lua heap, through moonstep.so as .busted's
-- cpath finds it; and in a handler run by the engine (the binary's
-- preloaded cores).
require "moonstep"
local keyset = require "moonstep.keyset"

describe("moonstep.keyset", function()
  it("adds a key once and keeps its first integer", function()
    local s = keyset.new()
    assert.are.equal(0, #s)
    assert.is_nil(s:add("a", 3))
    assert.is_nil(s:add("b", 7))
    assert.are.equal(3, s:add("a", 9))
    assert.are.equal(3, s:get("a"))
    assert.are.equal(7, s:get("b"))
    assert.is_nil(s:get("c"))
    assert.are.equal(2, #s)
  end)

  it("takes any bytes as a key; the integer defaults to 0", function()
    local s = keyset.new()
    assert.is_nil(s:add(""))
    assert.is_nil(s:add("a\0b", 1))
    assert.is_nil(s:add("a\0c", 2))
    assert.are.equal(0, s:get(""))
    assert.are.equal(1, s:get("a\0b"))
    assert.are.equal(2, s:get("a\0c"))
    assert.is_nil(s:get("a"))
    assert.is_nil(s:add(12, 5))        -- a number is its string
    assert.are.equal(5, s:get("12"))
  end)

  it("holds many keys, as a Lua table would", function()
    local s, t = keyset.new(), {}
    local wrong = {}  -- one assert at the end: 100,000 are slow under ASan
    for i = 1, 50000 do
      local k = "id" .. (i * 7919 % 100003)
      local first = s:add(k, i)
      if first ~= t[k] then wrong[#wrong + 1] = "add " .. k end
      if not t[k] then t[k] = i end
    end
    local n = 0
    for k, v in pairs(t) do
      n = n + 1
      if s:get(k) ~= v then wrong[#wrong + 1] = "get " .. k end
    end
    assert.are.same({}, wrong)
    assert.are.equal(n, #s)
  end)

  it("rejects what is not a key", function()
    local s = keyset.new()
    assert.has_error(function() s:add({}) end)
    assert.has_error(function() s:add("a", "x") end)
    assert.has_error(function() keyset.new().add(1, "a") end)
  end)
end)
