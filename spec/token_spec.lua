-- token_spec.lua - the callback pattern (.waitForTaskToken) from outside:
-- a run waits in the background while the spec finds its token (the
-- handler writes it to a file named in the input) and completes it with
-- send-task-success / send-task-failure / send-task-heartbeat, as another
-- process would.
local S = require("support")

local HANDLER = [[
return { handler = function(event, context)
  local f = assert(io.open(event.file, "w"))
  f:write(event.token)
  f:close()
  return { sent = true }
end }
]]

local function machine(extra)
  return [[{"StartAt": "Ask", "States": {
    "Ask": {"Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "Notify",
        "Payload": {"token.$": "$$.Task.Token", "file.$": "$.file"}},
      ]] .. (extra or "") .. [[
      "ResultPath": "$.answer", "End": true},
    "Caught": {"Type": "Pass", "End": true}}}]]
end

-- Start `moonstep run` of def in the background in dir; returns dir.
local function start(dir, def, args)
  S.spit(dir .. "/m.json", def)
  local all = { "--input", '{"file":"token"}' }
  for _, a in ipairs(args or {}) do all[#all + 1] = a end
  S.start_run(dir, all)
  return dir
end

local read, await = S.read, S.await

local function finish(dir)
  local rc = tonumber(await(dir .. "/rc"))
  return read(dir .. "/out"), read(dir .. "/err"), rc
end

local function send(dir, args)
  table.insert(args, "--db")
  table.insert(args, dir .. "/db")
  return S.run(dir, args)
end

describe("#binary task tokens", function()
  local dir

  setup(function() S.require_binary() end)

  before_each(function()
    dir = S.tmpdir("token")
    os.execute("mkdir " .. S.shquote(dir .. "/tasks"))
    S.spit(dir .. "/tasks/Notify.lua", HANDLER)
  end)

  after_each(function() S.rmtree(dir) end)

  it("waits until send-task-success, whose output is the result",
     function()
    start(dir, machine())
    local token = await(dir .. "/token")
    assert.truthy(token:match("^mstt1%-"))
    local _, err, code = send(dir, {"send-task-heartbeat",
                                    "--token", token})
    assert.are.equal(0, code, err)
    _, err, code = send(dir, {"send-task-success", "--token", token,
                              "--output", '{"approved": true}'})
    assert.are.equal(0, code, err)
    local out, rerr, rc = finish(dir)
    assert.are.equal(0, rc, rerr)
    assert.are.same('{"file":"token","answer":{"approved":true}}',
                    out:gsub("%s", ""))
    -- the history records the call, then the token's answer
    local hist = S.run(dir, {"history", "--db", dir .. "/db", "--json",
                             (S.run(dir, {"executions", "list", "--db",
                                          dir .. "/db", "--json"}))
                               :match('"name":%s*"([^"]+)"')})
    local a = hist:find('"TaskSubmitted"', 1, true)
    local b = hist:find('"TaskSucceeded"', 1, true)
    assert.truthy(a and b and a < b)
    -- a completed token is closed
    local _, err2, code2 = send(dir, {"send-task-success", "--token", token,
                                      "--output", "1"})
    assert.are.equal(2, code2)
    assert.truthy(err2:find("TaskTimedOut", 1, true))
  end)

  it("fails the Task with send-task-failure's error; Catch applies",
     function()
    start(dir, machine([["Catch": [{"ErrorEquals": ["Rejected"],
      "ResultPath": "$.error", "Next": "Caught"}],]]),
      {"--clock", "virtual"})
    local token = await(dir .. "/token")
    local _, err, code = send(dir, {"send-task-failure", "--token", token,
                                    "--error", "Rejected",
                                    "--cause", "not today"})
    assert.are.equal(0, code, err)
    local out, rerr, rc = finish(dir)
    assert.are.equal(0, rc, rerr)
    assert.truthy(out:find('"Error":"Rejected"', 1, true))
    assert.truthy(out:find('"Cause":"not today"', 1, true))
  end)

  it("ends with States.HeartbeatTimeout without a heartbeat", function()
    start(dir, machine([["HeartbeatSeconds": 1,]]))
    local _, err, rc = finish(dir)
    assert.are.equal(1, rc)
    assert.truthy(err:find("States.HeartbeatTimeout", 1, true), err)
    -- the token was closed with the Task
    local token = read(dir .. "/token")
    local _, err2, code2 = send(dir, {"send-task-success", "--token", token,
                                      "--output", "1"})
    assert.are.equal(2, code2)
    assert.truthy(err2:find("TaskTimedOut", 1, true))
  end)

  it("answers an unknown token with AWS's errors (exit 2)", function()
    S.spit(dir .. "/m.json", [[{"StartAt": "P", "States": {
      "P": {"Type": "Pass", "End": true}}}]])
    local _, _, rc = S.run(dir, {"run", "m.json", "--db", dir .. "/db"},
                           nil, dir)
    assert.are.equal(0, rc)
    local _, err, code = send(dir, {"send-task-success", "--token",
                                    "mstt1-nope", "--output", "{}"})
    assert.are.equal(2, code)
    assert.truthy(err:find("TaskDoesNotExist", 1, true))
    _, err, code = send(dir, {"send-task-failure", "--token", "garbage"})
    assert.are.equal(2, code)
    assert.truthy(err:find("InvalidToken", 1, true))
  end)

  it("is rejected in EXPRESS executions", function()
    S.spit(dir .. "/m.json", machine())
    local _, err, rc = S.run(dir, {"run", "m.json", "--express", "--input",
                                   '{"file":"token"}'}, nil, dir)
    assert.are.equal(1, rc)
    assert.truthy(err:find("EXPRESS", 1, true), err)
  end)
end)
