-- exec_spec.lua - the interpreter, case by case: each entry of
-- spec/fixtures/exec/cases.json is a definition, an input, optional Lua
-- handlers and the expected status with output or error/cause. The cases
-- run through the moonstep Lua module with the virtual clock.
package.cpath = "./build/?.so;" .. package.cpath
local moonstep = require "moonstep"
local json = moonstep.json

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- A fresh tasks folder holding the case's handlers.
local function tasks_dir(tasks)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  for name, source in pairs(tasks or {}) do
    write(dir .. "/" .. name .. ".lua", source)
  end
  return dir
end

local cases = json.decode(read("spec/fixtures/exec/cases.json"))

describe("interpreter", function()
  for _, case in ipairs(cases) do
    it(case.id, function()
      local dir = tasks_dir(case.tasks)
      local d, diags = moonstep.run(case.definition, case.input,
        { tasks_dir = dir, virtual_clock = true, name = case.name })
      os.execute("rm -rf '" .. dir .. "'")
      assert(d, diags and json.encode(diags))
      local want = case.expected
      assert.are.equal(want.status, d.status,
        "got " .. json.encode(d))
      if want.output ~= nil then
        assert.is_true(json.equal(want.output, d.output),
          "output " .. json.encode(d.output) .. " ~= " ..
          json.encode(want.output))
      end
      if want.error ~= nil then assert.are.equal(want.error, d.error) end
      if want.cause ~= nil then assert.are.equal(want.cause, d.cause) end
    end)
  end
end)

describe("determinism", function()
  it("prints the same bytes for the same execution", function()
    local cmd = "./build/moonstep run examples/hello/hello.asl.json " ..
                "--input @examples/hello/input.json --name same 2>&1"
    local function run()
      local p = assert(io.popen(cmd))
      local out = p:read("a")
      p:close()
      return out
    end
    local first = run()
    assert.is_truthy(first:find("greetings", 1, true), first)
    for _ = 1, 3 do assert.are.equal(first, run()) end
  end)
end)
