-- jsonata_workflow_spec.lua - JSONata states beyond their data flow
-- (which exec_spec.lua's jsonata_cases.json covers): the history events
-- of spec/fixtures/exec/jsonata_events.json (EvaluationFailed's fields,
-- Retry and Catch of States.QueryEvaluationError), and the tools on
-- JSONata machines: TestState (moonstep.test_state and `moonstep
-- test-state` #binary), the REPL debugger and `moonstep validate`
-- (#binary).
--
-- A case of jsonata_events.json is exec_spec.lua's (id, definition,
-- input, tasks, expected status/output/error/cause) with expected.events:
-- events that must appear in the history in that order, each compared on
-- the fields it gives (objects by their own members, the rest exactly).
--
-- Under "make test" the #binary tests run in a Lua without the sanitized
-- module, so moonstep is required only inside the other tests.
package.path = "./spec/?.lua;" .. package.path
local cj = require "conformance"  -- JSON in key order, pure Lua
local support = require "support"

local FIXTURE = "spec/fixtures/exec/jsonata_events.json"

-- want's members (recursively, for objects) equal got's.
local function covers(want, got, equal)
  if type(want) == "table" and next(want) ~= nil and #want == 0 then
    if type(got) ~= "table" then return false end
    for k, v in pairs(want) do
      if not covers(v, got[k], equal) then return false end
    end
    return true
  end
  return equal(want, got)
end

-- The expected events in order within the history; nil or the first
-- one missing.
local function missing_event(want, events, equal)
  local at = 1
  for _, w in ipairs(want) do
    while at <= #events and not covers(w, events[at], equal) do
      at = at + 1
    end
    if at > #events then return w end
    at = at + 1
  end
end

local function tasks_dir(tasks)
  local dir = support.tmpdir("jsonata-wf")
  for name, source in pairs(tasks or {}) do
    support.spit(dir .. "/" .. name .. ".lua", source)
  end
  return dir
end

describe("JSONata states: history events", function()
  local raw = cj.decode(support.slurp(FIXTURE), nil, true)
  local seen = {}
  for n, c in ipairs(raw) do
    it(c.id, function()
      local moonstep = require "moonstep"
      local json = moonstep.json
      assert(not seen[c.id], "duplicate id " .. c.id)
      seen[c.id] = true
      local case = json.decode(support.slurp(FIXTURE))[n]
      local dir = tasks_dir(case.tasks)
      local d, diags = moonstep.run(cj.encode(raw[n].definition),
        raw[n].input ~= nil and cj.encode(raw[n].input) or "{}",
        {tasks_dir = dir, virtual_clock = true, history = true,
         input_text = true})
      support.rmtree(dir)
      assert(d, diags and json.encode(diags))
      local want = case.expected
      assert.are.equal(want.status, d.status, "got " .. json.encode(d))
      if want.output ~= nil then
        assert.is_true(json.equal(want.output, d.output),
          "output " .. json.encode(d.output))
      end
      if want.error ~= nil then assert.are.equal(want.error, d.error) end
      if want.cause ~= nil then assert.are.equal(want.cause, d.cause) end
      if want.events then
        local miss = missing_event(want.events, d.history, json.equal)
        assert.is_nil(miss, "no event like " .. json.encode(miss) ..
                      " in order in " .. json.encode(d.history))
      end
    end)
  end
end)

-- A JSONata machine for the tools: a Task (mocked), a Choice, a Pass.
local MACHINE = [[
{"QueryLanguage": "JSONata", "StartAt": "Price",
 "States": {
  "Price": {"Type": "Task",
    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:price",
    "Arguments": {"sku": "{% $states.input.sku %}", "qty": 2},
    "Assign": {"price": "{% $states.result.price %}"},
    "Output": {"total": "{% $states.result.price * 2 %}"},
    "Next": "Check"},
  "Check": {"Type": "Choice", "Default": "Cheap",
    "Choices": [{"Condition": "{% $price > 100 %}", "Next": "Dear",
                 "Output": {"dear": "{% $states.input.total %}"}}]},
  "Dear": {"Type": "Pass", "End": true},
  "Cheap": {"Type": "Pass", "Output": {"cheap": "{% $price %}"},
            "End": true}
 }}
]]

local PRICE = [[
return { handler = function(e) return { price = e.qty * 50 + #e.sku } end }
]]

describe("moonstep.test_state on JSONata states", function()
  local moonstep, json, tmp, file
  before_each(function()
    moonstep = require "moonstep"
    json = moonstep.json
    tmp = support.tmpdir("jsonata-ts")
    file = tmp .. "/m.json"
    support.spit(file, MACHINE)
  end)
  after_each(function() support.rmtree(tmp) end)

  it("runs a state of a JSONata machine with afterArguments", function()
    local r = assert(moonstep.test_state(file, "Price", {sku = "ab"},
      {mock = {result = '{"price": 60}'}, inspection_level = "DEBUG"}))
    assert.are.equal("SUCCEEDED", r.status)
    assert.are.equal("Check", r.nextState)
    assert.is_true(json.equal({total = 120}, r.output))
    local d = r.inspectionData
    assert.is_true(json.equal({sku = "ab", qty = 2}, d.afterArguments))
    assert.is_true(json.equal({price = 60}, d.result))
    assert.is_true(json.equal({price = 60}, d.variables))
    -- "not populated when QueryLanguage is JSONata" (AWS)
    assert.is_nil(d.afterInputPath)
    assert.is_nil(d.afterParameters)
    assert.is_nil(d.afterResultSelector)
    assert.is_nil(d.afterResultPath)
  end)

  it("takes variables, and a Choice rule's Output", function()
    local r = assert(moonstep.test_state(file, "Check", {total = 240},
      {variables = {price = 120}, inspection_level = "DEBUG"}))
    assert.are.equal("Dear", r.nextState)
    assert.is_true(json.equal({dear = 240}, r.output))
    r = assert(moonstep.test_state(file, "Check", {total = 2},
      {variables = {price = 1}}))
    assert.are.equal("Cheap", r.nextState)
    assert.is_true(json.equal({total = 2}, r.output))
  end)

  it("fails with States.QueryEvaluationError for an undefined result",
     function()
    local r = assert(moonstep.test_state(file, "Cheap", {}, {}))
    assert.are.equal("FAILED", r.status)
    assert.are.equal("States.QueryEvaluationError", r.error)
    assert.matches("returned nothing", r.cause, 1, true)
  end)

  it("runs a lone JSONata state and a mocked JSONata Parallel", function()
    local r = assert(moonstep.test_state(json.encode{
      QueryLanguage = "JSONata", Type = "Pass",
      Output = "{% $states.input.a + $v %}", End = true},
      nil, {a = 1}, {variables = {v = 41}}))
    assert.are.equal(42, r.output)
    r = assert(moonstep.test_state(json.encode{
      QueryLanguage = "JSONata", Type = "Parallel",
      Arguments = {b = "{% $states.input.a %}"},
      Output = "{% $states.result[1] %}",
      Branches = {{StartAt = "X", States = {X = {Type = "Pass",
                                                 End = true}}},
                  {StartAt = "Y", States = {Y = {Type = "Pass",
                                                 End = true}}}},
      End = true}, nil, {a = 1},
      {mock = {result = "[1, 2]"}, inspection_level = "DEBUG"}))
    assert.are.equal(2, r.output)
    assert.is_true(json.equal({b = 1}, r.inspectionData.afterArguments))
  end)
end)

describe("moonstep test-state on JSONata states #binary", function()
  local tmp, file
  setup(function()
    support.require_binary()
    tmp = support.tmpdir("jsonata-ts-cli")
    file = tmp .. "/m.json"
    support.spit(file, MACHINE)
  end)
  teardown(function() support.rmtree(tmp) end)

  it("inherits the machine's QueryLanguage and shows afterArguments",
     function()
    local out, err, status = support.run(tmp, {"test-state", file, "Price",
      "--input", '{"sku": "ab"}', "--mock", '{"result": "{\\"price\\": 7}"}',
      "--inspection-level", "DEBUG"})
    assert.are.equal(0, status, err)
    local r = cj.decode(out)
    assert.are.equal(14, r.output.total)
    assert.are.equal("ab", r.inspectionData.afterArguments.sku)
    assert.are.equal(7, r.inspectionData.variables.price)
  end)

  it("takes --variables", function()
    local out, err, status = support.run(tmp, {"test-state", file, "Cheap",
      "--input", "{}", "--variables", '{"price": 3}'})
    assert.are.equal(0, status, err)
    assert.are.equal(3, cj.decode(out).output.cheap)
  end)
end)

describe("the debugger on a JSONata machine", function()
  local tmp
  before_each(function()
    tmp = support.tmpdir("jsonata-dbg")
    os.execute("mkdir -p " .. support.shquote(tmp .. "/tasks"))
    support.spit(tmp .. "/tasks/price.lua", PRICE)
    support.spit(tmp .. "/m.json", MACHINE)
  end)
  after_each(function() support.rmtree(tmp) end)

  it("steps, shows data and variables and evaluates {% %}", function()
    local json = require("moonstep").json
    local dbg = require("moonstep.debug").new{tasks_dir = tmp .. "/tasks"}
    local m = dbg:machine(tmp .. "/m.json")
    local x = m:start({sku = "abcd"})
    assert.matches("next Price", tostring(x), 1, true)
    x:step()  -- Price runs; Check is next
    assert.matches("Check", tostring(x), 1, true)
    assert.is_true(json.equal({total = 208}, x.data))
    assert.is_true(json.equal({price = 104}, x:vars()))
    assert.are.equal(312, x:eval("{% $states.input.total + $price %}"))
    assert.is_true(x:eval("{% $states.context.Execution.Id != null %}"))
    local ok, err = pcall(x.eval, x, "{% $states.input.( %}")
    assert.is_false(ok)
    assert.matches("S0", tostring(err), 1, true)
    x:continue()
    assert.is_true(json.equal({dear = 208}, x:output()))
  end)

  it("breaks on EvaluationFailed and shows where it was", function()
    support.spit(tmp .. "/bad.json", [[
{"QueryLanguage": "JSONata", "StartAt": "A", "States": {
  "A": {"Type": "Pass", "Assign": {"n": 1}, "Next": "B"},
  "B": {"Type": "Pass", "Output": {"r": "{% $states.input.missing %}"},
        "End": true}}}
]])
    local dbg = require("moonstep.debug").new{tasks_dir = tmp .. "/tasks"}
    local x = dbg:machine(tmp .. "/bad.json"):start({})
    x:break_on("States.QueryEvaluationError")
    local r = x:continue()
    assert.are.equal("event", r.stopped)
    assert.are.equal("EvaluationFailed", r.event.type)
    local d = r.event.evaluationFailedEventDetails
    assert.are.equal("B", d.state)
    assert.are.equal("Output/r", d.location)
  end)
end)

describe("moonstep validate on JSONata definitions #binary", function()
  local tmp
  setup(function()
    support.require_binary()
    tmp = support.tmpdir("jsonata-validate")
  end)
  teardown(function() support.rmtree(tmp) end)

  it("gives the line:col of the field and of the expression's error",
     function()
    local file = tmp .. "/bad.json"
    support.spit(file, table.concat({
      '{"QueryLanguage": "JSONata", "StartAt": "A",',
      ' "States": {',
      '  "A": {"Type": "Pass",',
      '        "Output": {"x": "{% $states.input. %}"},',
      '        "Next": "B"},',
      '  "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",',
      '        "Parameters": {"a": 1}, "TimeoutSeconds": "{% 1 + %}",',
      '        "Arguments": ["ok", "{%   $foo( %}"], "End": true}',
      ' }}', ''}, "\n"))
    local _, err, status = support.run(tmp, {"validate", file})
    assert.are.equal(3, status, err)
    assert.matches(":4:20: error: /States/A/Output/x: invalid JSONata " ..
      "expression '$states.input.': S0207: Unexpected end of expression " ..
      "(at character 14 of the expression; line 4, column 42)", err, 1,
      true)
    assert.matches(":7:9: error: /States/B/Parameters: field " ..
      "\"Parameters\" is not allowed", err, 1, true)
    assert.matches(":7:33: error: /States/B/TimeoutSeconds: invalid " ..
      "JSONata expression '1 +'", err, 1, true)
    assert.matches("(at character 3 of the expression; line 7, column 57)",
      err, 1, true)
    -- an array member: its position is the string's own
    assert.matches(":8:29: error: /States/B/Arguments/1: invalid JSONata " ..
      "expression '$foo('", err, 1, true)
    assert.matches("(at character 5 of the expression; line 8, column 39)",
      err, 1, true)
  end)
end)
