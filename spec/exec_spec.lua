-- exec_spec.lua - the interpreter, case by case: each entry of
-- spec/fixtures/exec/cases.json (states, payloads, Retry/Catch, Map, ...)
-- and spec/fixtures/task/cases.json (Lua task handlers, lambda:invoke) is
-- a definition, an input, optional Lua handlers ("tasks": name -> source),
-- an optional execution name and the expected status with output or
-- error/cause (both compared exactly). The cases run through the moonstep
-- Lua module with the virtual clock; definition and input go in as JSON
-- text in the file's key order (a Map over an object follows it).
local moonstep = require "moonstep"
local json = moonstep.json
package.path = "./spec/?.lua;" .. package.path
local ordered = require "conformance"  -- a JSON decoder keeping key order

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
    -- "Name" is a handler (Name.lua); "Name.json" its function config
    write(dir .. "/" .. name .. (name:find("%.json$") and "" or ".lua"),
          source)
  end
  return dir
end

-- The cases of a fixture file, each with its definition and input as JSON
-- text in the file's key order (definition_text, input_text).
local function load_cases(path)
  local text = read(path)
  local cases = json.decode(text)
  local raw = ordered.decode(text, nil, true)
  assert(#cases > 0, path .. ": no cases")
  for n, case in ipairs(cases) do
    case.definition_text = ordered.encode(raw[n].definition)
    if raw[n].input ~= nil then
      case.input_text = ordered.encode(raw[n].input)
    end
  end
  return cases
end

local FILES = {
  { "interpreter", "spec/fixtures/exec/cases.json" },
  { "task runners", "spec/fixtures/task/cases.json" },
  { "interpreter edge cases from review",
    "spec/fixtures/exec/review_cases.json" },
  { "JSONata states", "spec/fixtures/exec/jsonata_cases.json" },
}

for _, file in ipairs(FILES) do
  describe(file[1], function()
    local cases = load_cases(file[2])
    local seen = {}
    for _, case in ipairs(cases) do
      it(case.id, function()
        assert(not seen[case.id], "duplicate id " .. case.id)
        seen[case.id] = true
        local dir = tasks_dir(case.tasks)
        local d, diags = moonstep.run(case.definition_text,
          case.input_text or "{}",
          { tasks_dir = dir, virtual_clock = true, name = case.name,
            input_text = true })
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
end

describe("determinism", function()
  it("prints the same bytes for the same execution", function()
    local cmd = "MOONSTEP_DB=:memory: " .. require("support").BIN ..
                " run examples/hello/hello.asl.json " ..
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
