-- module_spec.lua - the `moonstep` Lua module (engine/lmoonstep.c) over the
-- real engine: run, engine, validate, eval and version.

local moonstep = require "moonstep"
local json = moonstep.json

local PASS = [[{
  "StartAt": "Hello",
  "States": {
    "Hello": {"Type": "Pass", "Result": {"greeting": "hi", "n": 1},
              "End": true}
  }
}]]

local ECHO = [[{
  "StartAt": "Echo",
  "States": {"Echo": {"Type": "Pass", "End": true}}
}]]

local FAIL = [[{
  "StartAt": "Boom",
  "States": {
    "Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}
  }
}]]

-- A fresh tasks directory holding the given handler files.
local function tasks_dir(files)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  for name, src in pairs(files) do
    local f = assert(io.open(dir .. "/" .. name .. ".lua", "w"))
    f:write(src)
    f:close()
  end
  return dir
end

local function rmdir(dir)
  os.execute("rm -rf '" .. dir .. "'")
end

describe("moonstep module", function()
  it("has a version", function()
    assert.is_string(moonstep.version)
    assert.matches("^%d+%.%d+%.%d+", moonstep.version)
  end)

  describe("run", function()
    it("runs a Pass state with a Result", function()
      local r = moonstep.run(PASS, {x = 1})
      assert.are.equal("SUCCEEDED", r.status)
      assert.is_true(json.equal({greeting = "hi", n = 1}, r.output))
      assert.is_true(json.equal({x = 1}, r.input))
      assert.is_string(r.executionArn)
      assert.is_not_nil(r.startDate)
      assert.is_not_nil(r.stopDate)
      assert.is_nil(r.error)
    end)

    it("passes big integers and [] through unchanged", function()
      local input = {id = 12345678901234567, list = json.array({}),
        f = 2.0, none = json.null}
      local r = moonstep.run(ECHO, input)
      assert.are.equal("SUCCEEDED", r.status)
      assert.are.equal(12345678901234567, r.output.id)
      assert.are.equal("integer", math.type(r.output.id))
      assert.are.equal("float", math.type(r.output.f))
      assert.are.equal(json.null, r.output.none)
      assert.are.equal(
        '{"f":2.0,"id":12345678901234567,"list":[],"none":null}',
        json.encode(r.output))
    end)

    it("defaults the input to {}", function()
      local r = moonstep.run(ECHO)
      assert.are.equal("SUCCEEDED", r.status)
      assert.are.equal("{}", json.encode(r.output))
    end)

    it("reads the input as JSON text with input_text", function()
      local r = moonstep.run(ECHO, '{"a":[1,2.5]}', {input_text = true})
      assert.are.equal('{"a":[1,2.5]}', json.encode(r.output))
    end)

    it("accepts the definition as a Lua table", function()
      local r = moonstep.run(json.decode(PASS), {})
      assert.are.equal("SUCCEEDED", r.status)
      assert.are.equal("hi", r.output.greeting)
    end)

    it("reports a Fail state's error and cause", function()
      local r = moonstep.run(FAIL, {})
      assert.are.equal("FAILED", r.status)
      assert.are.equal("Custom.Error", r.error)
      assert.are.equal("it broke", r.cause)
      assert.is_nil(r.output)
    end)

    it("uses the execution and machine names", function()
      local r = moonstep.run(ECHO, {},
        {name = "exec-1", machine_name = "Demo"})
      assert.are.equal("exec-1", r.name)
      assert.truthy(r.executionArn:find(":Demo:exec-1", 1, true))
    end)

    it("runs EXPRESS executions", function()
      local r = moonstep.run(ECHO, {a = 1}, {express = true})
      assert.are.equal("SUCCEEDED", r.status)
      assert.are.equal(1, r.output.a)
    end)

    it("completes Waits at once with virtual_clock", function()
      local def = [[{"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "End": true}}}]]
      local t0 = os.time()
      local r = moonstep.run(def, {a = 1}, {virtual_clock = true})
      assert.are.equal("SUCCEEDED", r.status)
      assert.is_true(os.time() - t0 < 60)
    end)

    it("calls a Lua handler from tasks_dir", function()
      local dir = tasks_dir({Double = [[
        return {handler = function(event) return {n = event.n * 2} end}
      ]]})
      local def = [[{"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Double",
        "End": true}}}]]
      local r = moonstep.run(def, {n = 21}, {tasks_dir = dir})
      rmdir(dir)
      assert.are.equal("SUCCEEDED", r.status)
      assert.are.equal(42, r.output.n)
    end)

    it("returns nil and diagnostics for an invalid definition", function()
      local r, diags = moonstep.run('{"States": {}}', {})
      assert.is_nil(r)
      assert.is_table(diags)
      assert.is_true(#diags >= 1)
      assert.is_string(diags[1].message)
      assert.is_string(diags[1].pointer)
    end)

    it("raises for arguments that are not JSON", function()
      assert.has_error(function() moonstep.run(ECHO, {f = print}) end)
      assert.has_error(function() moonstep.run(42, {}) end)
    end)
  end)

  describe("engine", function()
    it("reuses one engine across runs", function()
      local e = moonstep.engine({virtual_clock = true})
      local a = e:run(PASS, {})
      local b = e:run(ECHO, {k = "v"}, {name = "second"})
      assert.are.equal("SUCCEEDED", a.status)
      assert.are.equal("v", b.output.k)
      assert.are.equal("second", b.name)
      local bad, diags = e:run("{", {})
      assert.is_nil(bad)
      assert.is_table(diags)
      e:close()
      assert.has_error(function() e:run(ECHO, {}) end)
    end)

    it("keeps handler modules warm between runs", function()
      local dir = tasks_dir({Count = [[
        local calls = 0
        return {handler = function() calls = calls + 1; return calls end}
      ]]})
      local def = [[{"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Count",
        "End": true}}}]]
      local e = moonstep.engine({tasks_dir = dir})
      local first = e:run(def, {})
      local second = e:run(def, {})
      e:close()
      rmdir(dir)
      assert.are.equal(1, first.output)
      assert.are.equal(2, second.output)
    end)

    it("closes with <close>", function()
      do
        local e <close> = moonstep.engine()
        assert.are.equal("SUCCEEDED", e:run(ECHO, {}).status)
      end
      assert.matches("^moonstep.engine", tostring(moonstep.engine()))
    end)
  end)

  describe("validate", function()
    it("accepts a valid definition", function()
      local ok, diags = moonstep.validate(PASS)
      assert.is_true(ok)
      assert.is_table(diags)
    end)

    it("reports a missing StartAt with its pointer", function()
      local ok, diags = moonstep.validate([[{"States": {
        "A": {"Type": "Pass", "End": true}}}]])
      assert.is_false(ok)
      local found
      for _, d in ipairs(diags) do
        if d.message:find('missing required field "StartAt"', 1, true) then
          found = d
        end
      end
      assert.is_not_nil(found)
      assert.are.equal("", found.pointer)  -- the root object
      assert.is_false(found.warning)
      assert.is_number(found.line)
      assert.is_number(found.col)
    end)

    it("reports JSON syntax errors", function()
      local ok, diags = moonstep.validate('{"StartAt": ')
      assert.is_false(ok)
      assert.is_true(#diags >= 1)
    end)

    -- Regression (R2 review): 15000 bad Next names took minutes (each
    -- diagnostic rescanned the text and searched every state for a "did
    -- you mean"). AWS returns at most 100 diagnostics; so do we, quickly.
    it("keeps the first 100 of thousands of problems, in linear time",
       function()
      local parts = {}
      for i = 0, 14999 do
        parts[#parts + 1] = string.format(
          '"s%d":{"Type":"Pass","Next":"t%d"}', i, i)
      end
      local text = '{"StartAt":"s0","States":{' ..
                   table.concat(parts, ",") .. '}}'
      local t0 = os.clock()
      local ok, diags = moonstep.validate(text)
      assert.is_false(ok)
      assert.are.equal(101, #diags)
      assert.is_false(diags[1].warning)
      assert.is_true(diags[1].line > 0)
      local last = diags[101]
      assert.is_true(last.warning)
      assert.truthy(last.message:find("more problems not shown", 1, true))
      assert.is_true(os.clock() - t0 < 20, "validation took too long")
    end)

    it("bounds the did-you-mean search over long similar names",
       function()
      local pre = string.rep("x", 72)
      local parts = {}
      for i = 0, 8999 do
        parts[#parts + 1] = string.format('"%s%06d":{"Type":"Pass",' ..
                                          '"End":true}', pre, i)
      end
      for i = 0, 119 do
        parts[#parts + 1] = string.format('"%sb%05d":{"Type":"Pass",' ..
          '"Next":"%sq%05d"}', pre, i, pre, i)
      end
      local text = string.format('{"StartAt":"%s000000","States":{%s}}',
                                 pre, table.concat(parts, ","))
      local t0 = os.clock()
      local ok, diags = moonstep.validate(text)
      assert.is_false(ok)
      assert.are.equal(101, #diags)
      assert.is_true(os.clock() - t0 < 20, "validation took too long")
    end)

    it("keeps errors over warnings when it drops some", function()
      local parts = { '"B0":{"Type":"Pass","End":true}' }
      for i = 1, 150 do
        parts[#parts + 1] = string.format('"B%d":{"Type":"Pass","End":true}',
                                          i)
      end
      local text = '{"StartAt":"P","States":{"P":{"Type":"Parallel",' ..
        '"Next":"Z","Branches":[{"StartAt":"B0","States":{' ..
        table.concat(parts, ",") .. '}}]},' ..
        '"Z":{"Type":"Pass","Next":"Nowhere"}}}'
      local ok, diags = moonstep.validate(text)
      assert.is_false(ok)
      assert.are.equal(101, #diags)
      local found
      for _, g in ipairs(diags) do
        if not g.warning and g.pointer == "/States/Z/Next" then found = g end
      end
      assert.is_not_nil(found, "the error was dropped for warnings")
    end)

    it("validates a 1 MB definition of 24000 states quickly", function()
      local parts = {}
      for i = 0, 23998 do
        parts[#parts + 1] = string.format(
          '"s%d":{"Type":"Pass","Next":"s%d"}', i, i + 1)
      end
      parts[#parts + 1] = '"s23999":{"Type":"Pass","End":true}'
      local text = '{"StartAt":"s0","States":{' ..
                   table.concat(parts, ",") .. '}}'
      local t0 = os.clock()
      local ok = moonstep.validate(text)
      assert.is_true(ok)
      assert.is_true(os.clock() - t0 < 20, "validation took too long")
    end)

    it("refuses a definition over 1 MiB without parsing it", function()
      local text = '{"StartAt":"A","States":{"A":{"Type":"Pass",' ..
                   '"End":true,"Result":"' .. string.rep("x", 2^20) ..
                   '"}}}'
      local ok, diags = moonstep.validate(text)
      assert.is_false(ok)
      assert.truthy(diags[1].message:find("the limit is 1048576", 1, true))
    end)

    it("refuses a definition that is a Lua table with a cycle", function()
      local c = {}
      c.self = c
      local ok, err = pcall(moonstep.validate, c)
      assert.is_false(ok)
      assert.matches("contains itself", err, 1, true)
    end)

    it("refuses non-object definitions and deep nesting", function()
      local good = '{"StartAt":"A","States":{"A":{"Type":"Pass",' ..
                   '"End":true}}}'
      for _, text in ipairs { "[]", "1", '"x"', "null", "",
                              string.rep("[", 100000) ..
                              string.rep("]", 100000),
                              good:gsub('"A"', '"A\xff"'),  -- bad UTF-8
                              good .. "\0junk",              -- NUL byte
                              good:sub(1, -2) .. ',"StartAt":"A"}' } do
        local ok, diags = moonstep.validate(text)
        assert.is_false(ok)
        assert.are.equal(1, #diags)
      end
    end)
  end)

  -- R2 review: an options table whose __index raises once the machine was
  -- loaded leaked it and the input (the leak shows under ASan only; here
  -- the error is pinned). Options are now read before any allocation.
  describe("hostile arguments", function()
    it("raises the error of an options table's __index", function()
      local opts = setmetatable({}, { __index = function(_, k)
        if k == "mocks" then error("late boom") end
      end })
      local ok, err = pcall(moonstep.run, PASS, {}, opts)
      assert.is_false(ok)
      assert.matches("late boom", err, 1, true)
    end)

    it("refuses cyclic and deep inputs with a message", function()
      local c = {}
      c.self = c
      local ok, err = pcall(moonstep.run, PASS, c)
      assert.is_false(ok)
      assert.matches("contains itself", err, 1, true)
      ok, err = pcall(moonstep.eval, "$.a", {}, { context = c })
      assert.is_false(ok)
      assert.matches("contains itself", err, 1, true)
    end)

    it("does not cut a path or expression at a NUL byte", function()
      local r, err = moonstep.path("$.a\0b")
      assert.is_nil(r)
      assert.matches("NUL", err, 1, true)
      local v, e, cause = moonstep.eval("$.a\0b", { a = 1 })
      assert.is_nil(v)
      assert.are.equal("States.Runtime", e)
      assert.matches("NUL", cause, 1, true)
    end)

    it("refuses a closed engine and a foreign userdata", function()
      local e = moonstep.engine()
      e:close()
      e:close()
      assert.has_error(function() e:run(PASS, {}) end)
      assert.has_error(function() e.run(io.stdout, PASS, {}) end)
    end)
  end)

  describe("eval", function()
    it("evaluates a path", function()
      assert.are.equal(1, moonstep.eval("$.a", {a = 1}))
      assert.is_true(json.equal({b = {2}}, moonstep.eval("$", {b = {2}})))
    end)

    it("evaluates an intrinsic", function()
      local v = moonstep.eval("States.MathAdd(1, 2)", {})
      assert.are.equal(3, v)
    end)

    it("returns nil, error, cause for a missing path", function()
      local v, err, cause = moonstep.eval("$.missing", {a = 1})
      assert.is_nil(v)
      assert.are.equal("States.Runtime", err)
      assert.is_string(cause)
    end)

    it("reads the context object", function()
      local v = moonstep.eval("$$.Execution.Name", {},
        {context = {Execution = {Name = "e1"}}})
      assert.are.equal("e1", v)
    end)
  end)
end)
