-- history_lua_spec.lua - the Lua API's last pieces: a run's history
-- (moonstep.run / engine:run with {history = true}) read with
-- moonstep.testing's event_types and states_entered, engine:reload, and
-- context.task_token in a .waitForTaskToken handler (the run waits in
-- the background in the binary, as in token_lua_spec.lua).
local moonstep = require "moonstep"
local testing = require "moonstep.testing"
local S = require "support"

local PASS_TASK = [[{"StartAt": "P", "States": {
  "P": {"Type": "Pass", "Result": {"n": 1}, "Next": "T"},
  "T": {"Type": "Task",
    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Fn",
    "End": true}}}]]

local await = S.await

describe("run history from Lua", function()
  local dir

  before_each(function()
    dir = S.tmpdir("history-lua")
    os.execute("mkdir " .. S.shquote(dir .. "/tasks"))
    S.spit(dir .. "/tasks/Fn.lua", [[
return { handler = function(event) return { n = event.n + 1 } end }
]])
  end)

  after_each(function() S.rmtree(dir) end)

  it("a STANDARD run returns its events in order", function()
    local r = moonstep.run(PASS_TASK, {}, { history = true,
                                            tasks_dir = dir .. "/tasks" })
    assert.are.equal("SUCCEEDED", r.status)
    assert.are.same({ n = 2 }, r.output)
    assert.are.same({
      "ExecutionStarted", "PassStateEntered", "PassStateExited",
      "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
      "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded",
    }, testing.event_types(r.history))
    assert.are.same({ "P", "T" }, testing.states_entered(r.history))
    assert.are.equal(1, r.history[1].id)
    assert.are.equal(1, r.history[2].previousEventId)
  end)

  it("names a service integration's resource as AWS does", function()
    S.spit(dir .. "/tasks/Plain.lua",
           "return { handler = function() return {} end }\n")
    local r = moonstep.run([[{"StartAt": "T", "States": {
      "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "Plain", "Payload": {}},
        "End": true}}}]], {}, { history = true,
                               tasks_dir = dir .. "/tasks" })
    assert.are.equal("SUCCEEDED", r.status)
    local d = r.history[3].taskScheduledEventDetails
    assert.are.equal("TaskScheduled", r.history[3].type)
    assert.are.equal("lambda", d.resourceType)
    assert.are.equal("invoke", d.resource)
    local s = r.history[4].taskStartedEventDetails
    assert.are.same({ resourceType = "lambda", resource = "invoke" }, s)
  end)

  it("engine:run too; EXPRESS gives []; no option, no field", function()
    local e = moonstep.engine({ tasks_dir = dir .. "/tasks" })
    local r = e:run(PASS_TASK, {}, { history = true })
    assert.are.same({ "P", "T" }, testing.states_entered(r.history))
    r = e:run(PASS_TASK, {}, { history = true, express = true })
    assert.are.equal("SUCCEEDED", r.status)
    assert.are.same({}, r.history)
    assert.are.equal("[]", moonstep.json.encode(r.history))
    assert.is_nil(e:run(PASS_TASK, {}).history)
    e:close()
  end)

  it("engine:reload reads a changed handler at once", function()
    local e = moonstep.engine({ tasks_dir = dir .. "/tasks" })
    local fn = dir .. "/tasks/Fn.lua"
    assert.are.same({ n = 2 }, e:run(PASS_TASK, {}).output)
    -- the same size and mtime: the file checks cannot see the change
    os.execute("cp -p " .. S.shquote(fn) .. " " .. S.shquote(fn .. ".old"))
    S.spit(fn, [[
return { handler = function(event) return { n = event.n + 7 } end }
]])
    os.execute("touch -r " .. S.shquote(fn .. ".old") .. " " ..
               S.shquote(fn))
    assert.are.same({ n = 2 }, e:run(PASS_TASK, {}).output)
    e:reload("Fn")
    assert.are.same({ n = 8 }, e:run(PASS_TASK, {}).output)
    S.spit(fn, [[
return { handler = function(event) return { n = event.n + 5 } end }
]])
    os.execute("touch -r " .. S.shquote(fn .. ".old") .. " " ..
               S.shquote(fn))
    e:reload()  -- all of them
    assert.are.same({ n = 6 }, e:run(PASS_TASK, {}).output)
    e:close()
    assert.has_error(function() e:reload() end)
  end)
end)

describe("context.task_token", function()
  local dir

  setup(function() S.require_binary() end)

  before_each(function()
    dir = S.tmpdir("token-ctx")
    os.execute("mkdir " .. S.shquote(dir .. "/tasks"))
    S.spit(dir .. "/tasks/Notify.lua", [[
return { handler = function(event, context)
  local f = assert(io.open("seen", "w"))
  f:write(event.token == context.task_token and "same" or "different")
  f:close()
  f = assert(io.open("token", "w"))
  f:write(context.task_token)
  f:close()
  return {}
end }
]])
    S.spit(dir .. "/tasks/Plain.lua", [[
return { handler = function(event, context)
  return { has_token = context.task_token ~= nil }
end }
]])
  end)

  after_each(function() S.rmtree(dir) end)

  it("is $$.Task.Token in a .waitForTaskToken handler", function()
    S.spit(dir .. "/m.json", [[{"StartAt": "Ask", "States": {
      "Ask": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "Notify",
          "Payload": {"token.$": "$$.Task.Token"}},
        "End": true}}}]])
    S.start_run(dir)
    local token = await(dir .. "/token")
    assert.are.equal("same", await(dir .. "/seen"))
    assert.truthy(token:find("^mstt1%-"))
    assert.is_true(moonstep.send_task_success(token, { ok = true },
                                              { db = dir .. "/db" }))
    assert.are.equal("0", await(dir .. "/rc"):match("%d+"))
  end)

  it("is absent otherwise", function()
    local r = moonstep.run([[{"StartAt": "T", "States": {
      "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "Plain", "Payload": {}},
        "OutputPath": "$.Payload", "End": true}}}]], {},
      { tasks_dir = dir .. "/tasks" })
    assert.are.same({ has_token = false }, r.output)
  end)
end)
