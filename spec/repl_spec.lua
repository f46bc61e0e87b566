-- repl_spec.lua - the REPL shell's Lua side (lua/moonstep/repl.lua):
-- showing values, completion, compiling chunks as `lua` does. The
-- command itself is in repl_cli_spec.lua.
local repl = require "moonstep.repl"
local json = require "moonstep.json"

describe("moonstep.repl", function()
  describe("show", function()
    it("prints scalars as lua does and tables as indented JSON", function()
      assert.are.equal("42", repl.show(42))
      assert.are.equal("hi", repl.show("hi"))
      assert.are.equal("nil", repl.show(nil))
      assert.are.equal("null", repl.show(json.null))
      assert.are.equal('{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}',
                       repl.show({b = {true, json.null}, a = 1}))
      assert.are.equal("[]", repl.show(json.array()))
      assert.are.equal("{}", repl.show({}))
    end)

    it("cuts long arrays with a count, and marks cycles", function()
      local t = {}
      for i = 1, 60 do t[i] = i end
      local s = repl.show(t, {max_items = 3})
      assert.matches('%[\n  1,\n  2,\n  3,\n  %.%.%. 57 more %(60 in all%)\n%]',
                     s)
      local c = {}
      c.self = c
      assert.matches("<cycle>", repl.show(c))
    end)

    it("colors in a terminal", function()
      assert.are.equal('{\n  \27[36m"k"\27[0m: \27[32m"v"\27[0m\n}',
                       repl.show({k = "v"}, {color = true}))
    end)
  end)

  describe("compile", function()
    it("takes expressions, =expr and statements; knows unfinished input",
       function()
      assert.are.equal(3, repl.compile("1 + 2")())
      assert.are.equal(3, repl.compile("= 1 + 2")())
      assert.is_nil(repl.compile("local x = 1")())  -- a statement: no value
      local fn, err = repl.compile("for i = 1, 2 do")
      assert.is_nil(fn)
      assert.are.equal("incomplete", err)
      fn, err = repl.compile("1 +* 2")
      assert.is_nil(fn)
      assert.matches("unexpected symbol near .1.", err)
    end)
  end)

  describe("complete", function()
    local s = repl.session{
      env = setmetatable({alpha = 1, alps = {x = 1, y = 2}, str = "x"},
                         {__index = _G}),
      words = function() return {"Load", "Lookup", "Save"} end,
    }
    it("completes names, fields, methods, commands and state names",
       function()
      local start, c = repl.complete(s, "al", 2)
      assert.are.equal(1, start)
      assert.are.same({"alpha", "alps"}, c)
      start, c = repl.complete(s, "x = alps.", 9)
      assert.are.equal(10, start)
      assert.are.same({"x", "y"}, c)
      start, c = repl.complete(s, "string.up", 9)
      assert.are.same({"upper"}, c)
      assert.are.equal(8, start)
      local _, m = repl.complete(s, "str:re", 6)
      assert.are.same({"rep", "reverse"}, m)
      start, c = repl.complete(s, ":st", 3)
      assert.are.equal(1, start)
      assert.are.same({":step"}, c)
      start, c = repl.complete(s, 'x:break_at("Lo', 14)
      assert.are.equal(13, start)
      assert.are.same({"Load", "Lookup"}, c)
      _, c = repl.complete(s, "whi", 3)
      assert.are.same({"while"}, c)
    end)
  end)
end)
