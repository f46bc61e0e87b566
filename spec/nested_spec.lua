-- nested_spec.lua - the states:startExecution resource: a parent machine
-- starting child machines found as NAME.asl.json in a machines folder,
-- with .sync (DescribeExecution-shaped, Input/Output as JSON text),
-- .sync:2 (Input/Output as values), request-response ({ExecutionArn,
-- StartDate}), a failing child caught as States.TaskFailed and a missing
-- machine (StepFunctions.StateMachineDoesNotExistException). The first
-- block runs in-process (moonstep.run with machines_dir); the #binary one
-- drives `moonstep run` (the machines folder defaults to FILE's folder).
local S = require "support"

local SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
local START = "arn:aws:states:::states:startExecution"

local CHILD = [[{"StartAt": "P", "States": {"P": {"Type": "Pass",
  "Parameters": {"got.$": "$", "ok": true}, "End": true}}}]]
local BAD = [[{"StartAt": "F", "States": {"F": {"Type": "Fail",
  "Error": "Child.Broke", "Cause": "it broke"}}}]]

-- A one-Task parent: resource suffix, Parameters (JSON text), extra
-- fields (JSON text ending in a comma) for the Task.
local function parent(suffix, params, extra)
  return string.format([[{"StartAt": "T", "States": {"T": {"Type": "Task",
    "Resource": "%s%s", "Parameters": %s, %s "End": true},
    "Caught": {"Type": "Pass", "End": true}}}]], START, suffix, params,
    extra or "")
end

local function machines()
  local dir = S.tmpdir("nested")
  S.spit(dir .. "/child.asl.json", CHILD)
  S.spit(dir .. "/bad.json", BAD)
  return dir
end

describe("states:startExecution", function()
  local moonstep, dir
  lazy_setup(function()  -- lazy: the #binary run has no module
    moonstep = require "moonstep"
    dir = machines()
  end)
  lazy_teardown(function() S.rmtree(dir) end)

  local function run(def, input)
    return moonstep.run(def, input or {}, {machines_dir = dir,
                                           virtual_clock = true})
  end

  it(".sync returns the child's DescribeExecution, payloads as text",
     function()
    local r = run(parent(".sync", [[{"StateMachineArn": "]] .. SM ..
      [[child", "Name": "c1", "Input": {"k": 1,
      "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}}]]))
    assert.equal("SUCCEEDED", r.status)
    local o = r.output
    assert.equal("arn:aws:states:us-east-1:123456789012:execution:child:c1",
                 o.ExecutionArn)
    assert.equal(SM .. "child", o.StateMachineArn)
    assert.equal("c1", o.Name)
    assert.equal("SUCCEEDED", o.Status)
    assert.equal("string", type(o.Input))
    assert.equal("string", type(o.Output))
    assert.truthy(o.Input:find('"k":1', 1, true))
    assert.truthy(o.Output:find('"ok":true', 1, true))
    assert.truthy(o.Output:find("AWS_STEP_FUNCTIONS_STARTED_BY", 1, true))
    assert.same({Included = true}, o.InputDetails)
    assert.same({Included = true}, o.OutputDetails)
    assert.equal("number", type(o.StartDate))
    assert.equal("number", type(o.StopDate))
    assert.is_true(o.StartDate > 1.6e12)  -- epoch milliseconds
    assert.equal(0, o.RedriveCount)
    assert.equal("NOT_REDRIVABLE", o.RedriveStatus)
  end)

  it(".sync:2 gives Input and Output as JSON values; a string Input is "
     .. "JSON text", function()
    local r = run(parent(".sync:2", [[{"StateMachineArn": "]] .. SM ..
      [[child", "Input": "{\"k\": 2}"}]]))
    assert.equal("SUCCEEDED", r.status)
    assert.same({k = 2}, r.output.Input)
    assert.same({got = {k = 2}, ok = true}, r.output.Output)
  end)

  it("request-response returns {ExecutionArn, StartDate}; Input "
     .. "defaults to {}", function()
    local r = run(parent("", [[{"StateMachineArn": "]] .. SM ..
      [[child"}]]))
    assert.equal("SUCCEEDED", r.status)
    local keys = {}
    for k in pairs(r.output) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({"ExecutionArn", "StartDate"}, keys)
    assert.truthy(r.output.ExecutionArn:find(":execution:child:", 1, true))
    -- a failing child does not fail a request-response Task
    r = run(parent("", [[{"StateMachineArn": "]] .. SM .. [[bad"}]]))
    assert.equal("SUCCEEDED", r.status)
  end)

  it("a failing child fails .sync with States.TaskFailed; Catch takes it",
     function()
    local r = run(parent(".sync", [[{"StateMachineArn": "]] .. SM ..
      [[bad"}]]))
    assert.equal("FAILED", r.status)
    assert.equal("States.TaskFailed", r.error)
    local cause = moonstep.json.decode(r.cause)
    assert.equal("FAILED", cause.Status)
    assert.equal("Child.Broke", cause.Error)
    assert.equal("it broke", cause.Cause)
    assert.is_nil(cause.Output)
    r = run(parent(".sync:2", [[{"StateMachineArn": "]] .. SM ..
      [[bad"}]], [["Catch": [{"ErrorEquals": ["States.TaskFailed"],
      "ResultPath": "$.err", "Next": "Caught"}],]]))
    assert.equal("SUCCEEDED", r.status)
    assert.equal("States.TaskFailed", r.output.err.Error)
  end)

  it("a missing machine is StepFunctions.StateMachineDoesNotExistException",
     function()
    local r = run(parent(".sync", [[{"StateMachineArn": "]] .. SM ..
      [[nope"}]], [["Catch": [{"ErrorEquals":
      ["StepFunctions.StateMachineDoesNotExistException"],
      "ResultPath": "$.err", "Next": "Caught"}],]]))
    assert.equal("SUCCEEDED", r.status)
    assert.equal("StepFunctions.StateMachineDoesNotExistException",
                 r.output.err.Error)
    assert.truthy(r.output.err.Cause:find(
      "State Machine Does Not Exist: '" .. SM .. "nope'", 1, true))
    r = run(parent("", [[{"StateMachineArn": "]] .. SM .. [[nope"}]]))
    assert.equal("FAILED", r.status)
    assert.equal("StepFunctions.StateMachineDoesNotExistException", r.error)
  end)

  it("rejects a StateMachineArn that names no state machine", function()
    local r = run(parent(".sync", [[{"StateMachineArn": "arn:aws:lambda:]]
      .. [[us-east-1:123456789012:function:child"}]]))
    assert.equal("StepFunctions.InvalidArnException", r.error)
    r = run(parent(".sync", [[{"Input": {}}]]))
    assert.equal("States.Runtime", r.error)
  end)

  it("stops a machine that starts itself", function()
    S.spit(dir .. "/loop.asl.json", parent(".sync",
      [[{"StateMachineArn": "]] .. SM .. [[loop"}]]))
    local r = run(S.slurp(dir .. "/loop.asl.json"))
    -- each level fails its parent in turn (the causes nest, cut at AWS's
    -- 32768 characters)
    assert.equal("FAILED", r.status)
    assert.equal("States.TaskFailed", r.error)
  end)
end)

describe("states:startExecution #binary", function()
  local dir
  setup(function()
    S.require_binary()
    dir = machines()
  end)
  teardown(function() S.rmtree(dir) end)

  it("finds the child next to the definition, or in --machines DIR",
     function()
    local sub = dir .. "/sub"
    os.execute("mkdir -p " .. S.shquote(sub))
    S.spit(dir .. "/parent.asl.json", parent(".sync:2",
      [[{"StateMachineArn": "]] .. SM .. [[child", "Input": {"k": 3}}]],
      [["OutputPath": "$.Output",]]))
    local out, err, code = S.run(dir, {"run", dir .. "/parent.asl.json",
                                       "--express"})
    assert.equal(0, code, err)
    assert.truthy(out:find('"k":3', 1, true), out)
    S.spit(sub .. "/parent.asl.json", S.slurp(dir .. "/parent.asl.json"))
    out, err, code = S.run(dir, {"run", sub .. "/parent.asl.json",
                                 "--express"})
    assert.equal(1, code)
    assert.truthy(err:find("StateMachineDoesNotExist", 1, true), err)
    out, err, code = S.run(dir, {"run", sub .. "/parent.asl.json",
                                 "--express", "--machines", dir})
    assert.equal(0, code, err)
  end)
end)
