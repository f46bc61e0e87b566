-- teststate_spec.lua - AWS's TestState API, locally (engine/teststate.c):
-- moonstep.test_state and `moonstep test-state` (#binary) driven by the
-- cases in spec/fixtures/teststate/*.json.
--
-- Case fields: id, why, definition (one state) | file (a machine in the
-- fixtures folder) with state, input, mock, level (inspectionLevel),
-- variables, retry_count; then expected (the whole response, compared
-- exactly; with partial, only the fields given) | refused {code,
-- message?} (the request AWS would refuse). Handlers are in
-- spec/fixtures/teststate/tasks.
--
-- Under "make test" the #binary tests run in a Lua without the sanitized
-- module: moonstep.so is loaded only inside the other tests (the
-- binary's tests read JSON with spec/conformance.lua's decoder).
package.path = "./spec/?.lua;" .. package.path
local cj = require "conformance"  -- exact JSON decoder and equal, pure Lua
local support = require "support"

local DIR = "spec/fixtures/teststate/"
local TASKS = DIR .. "tasks"
local FILES = {"pass", "task", "flow", "fanout", "variables", "invalid"}

local cases = {}
for _, name in ipairs(FILES) do
  local text = support.slurp(DIR .. name .. ".json")
  cases[#cases + 1] = {name = name, text = text, list = cj.decode(text)}
end

-- expected vs got with equal; partial: only expected's own fields.
local function check(case, got, equal, encode)
  local e = case.expected
  if case.partial then
    for k, v in pairs(e) do
      assert.is_true(equal(v, got[k]), case.id .. ": " .. k .. " is " ..
                     encode(got[k]))
    end
  else
    assert.is_true(equal(e, got), case.id .. ": got " .. encode(got))
  end
end

describe("moonstep.test_state", function()
  local moonstep, json
  before_each(function()  -- only in the tests that run (see above)
    moonstep = require "moonstep"
    json = moonstep.json
  end)

  for _, file in ipairs(cases) do
    for i, c in ipairs(file.list) do
      it(file.name .. "/" .. c.id, function()
        -- the moonstep decoder keeps null and 64-bit integers exact
        local case = json.decode(file.text)[i]
        local def = case.definition or DIR .. case.file
        local r, err, code = moonstep.test_state(def, case.state, case.input,
          {mock = case.mock, inspection_level = case.level,
           variables = case.variables, retry_count = case.retry_count,
           tasks_dir = TASKS})
        if case.refused then
          assert.is_nil(r, case.id)
          assert.are.equal(case.refused.code, code)
          if case.refused.message then
            assert.are.equal(code .. ": " .. case.refused.message, err)
          end
        else
          assert.is_not_nil(r, err)
          check(case, r, json.equal, json.encode)
        end
      end)
    end
  end

  it("takes JSON text and a table as the definition", function()
    local text = '{"Type": "Pass", "Result": 7, "Next": "N"}'
    local a = moonstep.test_state(text, nil, {})
    local b = moonstep.test_state(json.decode(text), nil, {})
    assert.is_true(json.equal(a, b))
    assert.are.equal(7, a.output)
    assert.are.equal("N", a.nextState)
  end)

  it("wire = true gives AWS's shape: JSON text", function()
    local r = moonstep.test_state({Type = "Pass", End = true}, nil,
                                  {a = 1}, {inspection_level = "TRACE",
                                            wire = true})
    assert.are.equal('{"a":1}', r.output)
    assert.are.equal('{"a":1}', r.inspectionData.input)
  end)

  it("raises on values that are not JSON", function()
    assert.has_error(function()
      moonstep.test_state({Type = "Pass", End = true}, nil, {f = print})
    end)
    assert.has_error(function()
      moonstep.test_state("spec/fixtures/teststate/none.json", "X")
    end)
  end)

  it("rejects a context (not supported yet) and unsupported settings",
     function()
    local r, err = moonstep.test_state({Type = "Task", Resource =
      "arn:aws:lambda:us-east-1:123456789012:function:Greet", End = true},
      nil, {}, {mock = {result = "1"}, context = {Execution = {}}})
    assert.is_nil(r)
    assert.matches("context", err)
  end)
end)

describe("moonstep test-state #binary", function()
  local tmp
  setup(function()
    support.require_binary()
    tmp = support.tmpdir("teststate")
  end)
  teardown(function() support.rmtree(tmp) end)

  -- The command line of a case (definitions written to tmp).
  local function args_of(c)
    local file
    if c.definition then
      file = tmp .. "/" .. c.id .. ".json"
      support.spit(file, cj.encode(c.definition))
    else
      file = DIR .. c.file
    end
    local a = {"test-state", file}
    if c.state then a[#a + 1] = c.state end
    local function opt(flag, v)
      if v ~= nil then
        a[#a + 1] = flag
        a[#a + 1] = type(v) == "table" and cj.encode(v) or tostring(v)
      end
    end
    opt("--input", c.input)
    opt("--mock", c.mock)
    opt("--inspection-level", c.level)
    opt("--variables", c.variables)
    opt("--retry-count", c.retry_count)
    opt("--tasks", TASKS)
    return a
  end

  for _, file in ipairs(cases) do
    for _, c in ipairs(file.list) do
      it(file.name .. "/" .. c.id, function()
        local out, err, status = support.run(tmp, args_of(c))
        if c.refused then
          local want = c.refused.code == "InvalidDefinition" and 3 or 2
          assert.are.equal(want, status, err)
          assert.matches(c.refused.code, err, 1, true)
          if c.refused.message then
            assert.matches(c.refused.message, err, 1, true)
          end
        else
          local want = c.expected.status == "FAILED" and 1 or 0
          assert.are.equal(want, status, err)
          check(c, cj.decode(out), cj.equal, cj.encode)
        end
      end)
    end
  end

  it("--wire prints AWS's JSON text", function()
    local out, err, status = support.run(tmp, {"test-state",
      DIR .. "machine.asl.json", "Route", "--input", '{"value": 30}',
      "--wire"})
    assert.are.equal(0, status, err)
    local r = cj.decode(out)
    assert.are.equal('{"value":30}', r.output)
    assert.are.equal("Big", r.nextState)
  end)

  it("reports usage errors", function()
    local _, err, status = support.run(tmp, {"test-state"})
    assert.are.equal(2, status)
    assert.matches("needs FILE", err, 1, true)
    _, err, status = support.run(tmp, {"test-state", DIR .. "machine.asl.json",
                                       "Route", "--retry-count", "x"})
    assert.are.equal(2, status)
    assert.matches("not a count", err, 1, true)
  end)
end)
