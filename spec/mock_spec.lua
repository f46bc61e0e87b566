-- mock_spec.lua - mocked Task states for workflow tests (engine/mock.c):
-- AWS Step Functions Local's mock configuration file through
-- `moonstep run --mock-config FILE --test-case NAME` (#binary) and through
-- moonstep.run's mock_config/test_case options, driven by the cases in
-- spec/fixtures/mock/cases.json (the machine is orders.asl.json, so its
-- name is "orders"); then moonstep.run's `mocks` option (functions, values,
-- Throw) and the helpers of lua/moonstep/testing.lua.
--
-- Case fields: id, config (a file in spec/fixtures/mock), test_case,
-- input, expected {status, output | error, cause} | config_error (a part
-- of the message; the CLI exits 2, moonstep.run raises).
--
-- Under "make test" the #binary tests run in a Lua without the sanitized
-- module: this file loads moonstep.so only inside the other tests (the
-- binary's tests read JSON with spec/conformance.lua's decoder).
package.path = "./spec/?.lua;" .. package.path
local cj = require "conformance"  -- exact JSON decoder and equal, pure Lua
local testing = require "moonstep.testing"
local moonstep, json  -- set by load_module, in the tests that use them

local function load_module()
  moonstep = require "moonstep"
  json = moonstep.json
end

local DIR = "spec/fixtures/mock/"
local DEF = DIR .. "orders.asl.json"
local TASKS = DIR .. "tasks"
local BIN = (os.getenv("MOONSTEP_BUILD") or "build") .. "/moonstep"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local CASES_TEXT = slurp(DIR .. "cases.json")
local cases = cj.decode(CASES_TEXT)
local definition = slurp(DEF)

-- The describe object's fields a case pins; equal compares JSON values
-- (moonstep.json.equal or the conformance decoder's).
local function check(case, d, equal)
  local e = case.expected
  assert.are.equal(e.status, d.status, case.id)
  if e.output ~= nil then
    assert.is_true(equal(e.output, d.output), case.id .. ": got " ..
                   cj.encode(d.output))
  end
  if e.error then assert.are.equal(e.error, d.error, case.id) end
  if e.cause then assert.are.equal(e.cause, d.cause, case.id) end
end

describe("mock configuration through moonstep.run", function()
  before_each(load_module)
  for n, c in ipairs(cases) do
    it(c.id, function()
      local case = json.decode(CASES_TEXT)[n]
      local opts = {
        tasks_dir = TASKS, virtual_clock = true, machine_name = "orders",
        mock_config = DIR .. case.config, test_case = case.test_case,
      }
      if case.config_error then
        local ok, err = pcall(moonstep.run, definition, {}, opts)
        assert.is_false(ok, case.id)
        assert.truthy(tostring(err):find(case.config_error, 1, true),
                      case.id .. ": " .. tostring(err))
      else
        check(case, moonstep.run(definition, case.input, opts), json.equal)
      end
    end)
  end

  it("needs machine_name with mock_config", function()
    local ok, err = pcall(moonstep.run, definition, {}, {
      mock_config = DIR .. "MockConfigFile.json", test_case = "HappyPath" })
    assert.is_false(ok)
    assert.truthy(err:find("needs machine_name", 1, true))
  end)

  it("needs test_case with mock_config", function()
    local ok, err = pcall(moonstep.run, definition, {}, {
      machine_name = "orders", mock_config = DIR .. "MockConfigFile.json" })
    assert.is_false(ok)
    assert.truthy(err:find("go together", 1, true))
  end)
end)

describe("moonstep run --mock-config #binary", function()
  local tmp
  setup(function()
    local p = io.popen("mktemp -d /tmp/moonstep-mock-spec.XXXXXX")
    tmp = p:read("l")
    p:close()
  end)
  teardown(function()
    if tmp then os.execute("rm -rf " .. shquote(tmp)) end
  end)

  local function run(args)
    local q = {}
    for i, a in ipairs(args) do q[i] = shquote(a) end
    local out, err = tmp .. "/out", tmp .. "/err"
    local _, how, code = os.execute(string.format("%s %s >%s 2>%s </dev/null",
      shquote(BIN), table.concat(q, " "), shquote(out), shquote(err)))
    if how == "signal" then code = 128 + code end
    return slurp(out), slurp(err), code
  end

  for _, case in ipairs(cases) do
    it(case.id, function()
      local out, err, code = run({
        "run", DEF, "--input", cj.encode(case.input or {}),
        "--tasks", TASKS, "--clock", "virtual", "--describe",
        "--mock-config", DIR .. case.config, "--test-case", case.test_case,
      })
      if case.config_error then
        assert.are.equal(2, code, case.id .. ": " .. err)
        assert.are.equal("", out)
        assert.truthy(err:find(case.config_error, 1, true),
                      case.id .. ": " .. err)
        return
      end
      local d = cj.decode(out)
      assert.are.equal(case.expected.status == "SUCCEEDED" and 0 or 1, code,
                       case.id .. ": " .. err)
      check(case, d, cj.equal)
      -- the machine is named after its file: orders.asl.json is "orders"
      assert.truthy(d.stateMachineArn:find(":stateMachine:orders$"),
                    d.stateMachineArn)
    end)
  end

  it("names a machine from orders.json as orders too", function()
    local path = tmp .. "/orders.json"
    local f = assert(io.open(path, "wb"))
    f:write(definition)
    f:close()
    local out, err, code = run({
      "run", path, "--tasks", TASKS, "--clock", "virtual",
      "--input", '{"order":"x","total":1,"items":[]}',
      "--mock-config", DIR .. "MockConfigFile.json",
      "--test-case", "RetryThenCatch"})
    assert.are.equal(0, code, err)
    assert.is_true(cj.equal({order = "x", failed = true,
                             error = "Payment.Busy", cause = "still busy"},
                            cj.decode(out)))
  end)

  it("refuses --mock-config without --test-case", function()
    local out, err, code = run({"run", DEF, "--mock-config",
                                DIR .. "MockConfigFile.json"})
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.truthy(err:find("go together", 1, true), err)
  end)
end)

-- A machine for the `mocks` option: a Task with Parameters, a retry on
-- Busy, a catch, and a Map whose iterations call one Task.
local MACHINE = [[{
  "StartAt": "Fetch",
  "States": {
    "Fetch": {
      "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Fetch",
      "Parameters": {"id.$": "$.id", "fixed": 1},
      "ResultPath": "$.fetched",
      "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 1,
                 "MaxAttempts": 2}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                 "Next": "Caught"}],
      "Next": "Each"
    },
    "Each": {
      "Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.each",
      "ItemProcessor": {"StartAt": "Item", "States": {
        "Item": {"Type": "Task", "End": true,
                 "Resource": "arn:aws:lambda:us-east-1:1:function:Item"}}},
      "End": true
    },
    "Caught": {"Type": "Pass", "End": true}
  }
}]]
local function run_mocked(mocks, input)
  return moonstep.run(MACHINE, input or { id = 7, items = json.array({}) },
                      { virtual_clock = true, tasks_dir = TASKS,
                        mocks = mocks })
end

describe("moonstep.run's mocks option", function()
  before_each(load_module)
  it("calls a function with the effective input and the invocation count",
     function()
    local seen = {}
    local d = run_mocked({
      Fetch = function(input, n)
        seen[#seen + 1] = { input = input, n = n }
        if n == 0 then error({ Error = "Busy", Cause = "first try" }) end
        return { got = input.id, attempt = n }
      end,
      Item = function(input, n) return input .. n end,
    }, { id = 7, items = json.array({ "a", "b", "c" }) })
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.same({ got = 7, attempt = 1 }, d.output.fetched)
    assert.are.same({ "a0", "b1", "c2" }, d.output.each)
    assert.are.equal(2, #seen)
    assert.are.same({ id = 7, fixed = 1 }, seen[1].input)
    assert.are.same({ 0, 1 }, { seen[1].n, seen[2].n })
  end)

  it("returns a plain value as the result", function()
    local d = run_mocked({ Fetch = { name = "widget" } })
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.same({ name = "widget" }, d.output.fetched)
    d = run_mocked({ Fetch = "text" })
    assert.are.equal("text", d.output.fetched)
    d = run_mocked({ Fetch = { Return = { wrapped = false } } })
    assert.are.same({ wrapped = false }, d.output.fetched)
  end)

  it("fails the Task with {Throw = {Error, Cause}} on every invocation",
     function()
    local d = run_mocked({ Fetch = { Throw = { Error = "Busy",
                                               Cause = "always" } } })
    assert.are.equal("SUCCEEDED", d.status)  -- retried twice, then caught
    assert.are.same({ Error = "Busy", Cause = "always" }, d.output.error)
  end)

  it("maps error({errorType=, errorMessage=}) as Lambda's error", function()
    local d = run_mocked({ Fetch = function()
      error({ errorType = "Bad.Input", errorMessage = "no such id" })
    end })
    assert.are.equal("Bad.Input", d.output.error.Error)
    assert.are.same({ errorMessage = "no such id", errorType = "Bad.Input" },
                    json.decode(d.output.error.Cause))
  end)

  it("maps a string error to Error \"Error\"", function()
    local d = run_mocked({ Fetch = function() error("boom", 0) end })
    assert.are.equal("Error", d.output.error.Error)
    assert.are.same({ errorMessage = "boom", errorType = "Error" },
                    json.decode(d.output.error.Cause))
  end)

  it("runs the real resource of a state it does not name", function()
    local d = run_mocked({ Item = "x" })
    -- no tasks/Fetch.lua: the real resource fails, and Catch takes it
    assert.are.equal("Lambda.ResourceNotFoundException",
                     d.output.error.Error)
  end)

  it("overrides a test case of mock_config", function()
    local d = moonstep.run(definition,
      { order = "o", total = 1, items = json.array({ "a" }) },
      { tasks_dir = TASKS, virtual_clock = true, machine_name = "orders",
        mock_config = DIR .. "MockConfigFile.json", test_case = "HappyPath",
        mocks = { PackItem = function(item) return "mine-" .. item end } })
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.same({ "mine-a" }, d.output.packed)
    assert.are.same({ charged = true }, d.output.payment)
  end)

  it("works with engine:run", function()
    local e = moonstep.engine({ virtual_clock = true, tasks_dir = TASKS })
    local d = e:run(MACHINE, { id = 1, items = json.array({}) },
                    { mocks = { Fetch = 42 } })
    e:close()
    assert.are.equal(42, d.output.fetched)
  end)

  it("refuses a state that is not a Task, or not there", function()
    local ok, err = pcall(run_mocked, { Caught = 1 })
    assert.is_false(ok)
    assert.truthy(err:find("'Caught', which is not a Task state", 1, true),
                  err)
    ok, err = pcall(run_mocked, { Nowhere = 1 })
    assert.is_false(ok)
    assert.truthy(err:find("does not have", 1, true), err)
  end)

  it("refuses a malformed Throw and a mocks that is not a table", function()
    local ok, err = pcall(run_mocked, { Fetch = { Throw = { Cause = "c" } } })
    assert.is_false(ok)
    assert.truthy(err:find("string Error", 1, true), err)
    ok, err = pcall(moonstep.run, MACHINE, {}, { mocks = "Fetch" })
    assert.is_false(ok)
    assert.truthy(err:find("must be a table", 1, true), err)
  end)

  it("turns a result that is not JSON into States.Runtime", function()
    local d = run_mocked({ Fetch = function() return print end })
    assert.are.equal("FAILED", d.status)
    assert.are.equal("States.Runtime", d.error)
  end)
end)

describe("moonstep.testing", function()
  before_each(load_module)
  it("builds an S3 event notification as Lambda receives it", function()
    local ev = testing.s3_event({ bucket = "in", key = "data/red flower.csv",
                                  size = 1024 })
    assert.are.equal(1, #ev.Records)
    local r = ev.Records[1]
    assert.are.equal("aws:s3", r.eventSource)
    assert.are.equal("ObjectCreated:Put", r.eventName)
    assert.are.equal("in", r.s3.bucket.name)
    assert.are.equal("arn:aws:s3:::in", r.s3.bucket.arn)
    assert.are.equal("data/red+flower.csv", r.s3.object.key)
    assert.are.equal(1024, r.s3.object.size)
    -- it survives the trip through JSON with Records as an array
    assert.truthy(json.encode(ev):find('"Records":[{', 1, true))
  end)
end)
