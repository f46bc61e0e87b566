-- token_lua_spec.lua - the same callback pattern completed from Lua:
-- moonstep.send_task_success / send_task_failure / send_task_heartbeat
-- answer a run waiting in the background, as a Lua worker process would.
local moonstep = require "moonstep"
local S = require "support"

local HANDLER = [[
return { handler = function(event)
  local f = assert(io.open(event.file, "w"))
  f:write(event.token)
  f:close()
  return { sent = true }
end }
]]

local MACHINE = [[{"StartAt": "Ask", "States": {
  "Ask": {"Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "Parameters": {"FunctionName": "Notify",
      "Payload": {"token.$": "$$.Task.Token", "file.$": "$.file"}},
    "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.error",
               "Next": "Caught"}],
    "ResultPath": "$.answer", "End": true},
  "Caught": {"Type": "Pass", "End": true}}}]]

local read, await = S.read, S.await

describe("task tokens from Lua", function()
  local dir

  setup(function() S.require_binary() end)

  before_each(function()
    dir = S.tmpdir("token-lua")
    os.execute("mkdir " .. S.shquote(dir .. "/tasks"))
    S.spit(dir .. "/tasks/Notify.lua", HANDLER)
    S.spit(dir .. "/m.json", MACHINE)
    -- the run waits in the background for its token
    S.start_run(dir, { "--input", '{"file":"token"}' })
  end)

  after_each(function() S.rmtree(dir) end)

  it("send_task_success's output becomes the Task's result", function()
    local token = await(dir .. "/token")
    local db = { db = dir .. "/db" }
    assert.is_true(moonstep.send_task_heartbeat(token, db))
    assert.is_true(moonstep.send_task_success(token, { approved = true },
                                              db))
    assert.are.equal("0", await(dir .. "/rc"):match("%d+"))
    assert.are.same({ file = "token", answer = { approved = true } },
                    moonstep.json.decode(read(dir .. "/out")))
    -- the token is closed now
    local ok, code = moonstep.send_task_success(token, 1, db)
    assert.is_nil(ok)
    assert.are.equal("TaskTimedOut", code)
  end)

  it("send_task_failure fails the Task; Catch applies", function()
    local token = await(dir .. "/token")
    assert.is_true(moonstep.send_task_failure(token, {
      error = "Rejected", cause = "not today", db = dir .. "/db" }))
    assert.are.equal("0", await(dir .. "/rc"):match("%d+"))
    local out = moonstep.json.decode(read(dir .. "/out"))
    assert.are.same({ Error = "Rejected", Cause = "not today" }, out.error)
  end)

  it("an unknown token is TaskDoesNotExist", function()
    await(dir .. "/token")
    local ok, code, msg = moonstep.send_task_success(
      "mstt1-00000000-0000-4000-8000-000000000000", {},
      { db = dir .. "/db" })
    assert.is_nil(ok)
    assert.are.equal("TaskDoesNotExist", code)
    assert.truthy(msg)
    -- let the background run go
    moonstep.send_task_failure(read(dir .. "/token"), {
      error = "Rejected", db = dir .. "/db" })
    await(dir .. "/rc")
  end)
end)
