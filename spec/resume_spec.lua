-- resume_spec.lua - crash and resume (issue 5): a STANDARD run killed with
-- SIGKILL at random moments (Task calls in flight, Waits, Map iterations,
-- Parallel branches) and resumed, again and again, ends with the output of
-- an uninterrupted run; no Task whose call completed runs again (only the
-- call in flight does, at-least-once); the history goes on with the right
-- ids; the database stays intact. Also: a live owner cannot be resumed
-- under it, a Wait resumes with the time it had left, a pending task
-- token stays valid, and two runs and a listing share one file. #binary
local S = require "support"

-- Every call appends its key to $CALLS, then takes $TASK_MS of CPU.
local HANDLER = [[
local M = {}
function M.handler(event)
  local f = assert(io.open(os.getenv("CALLS"), "a"))
  f:write(tostring(event.key), "\n")
  f:close()
  local ms = tonumber(os.getenv("TASK_MS") or "0")
  local t0 = os.clock()
  while (os.clock() - t0) * 1000 < ms do end
  return {key = event.key, doubled = (event.n or 0) * 2}
end
return M
]]

local WORK = "arn:aws:lambda:us-east-1:123456789012:function:Work"

-- A Map (2 at a time) of Task + Wait, then a Parallel of a Task and a
-- Wait + Task, with variables and a Pass/Choice loop in between.
local MACHINE = [[
{
  "StartAt": "Init",
  "States": {
    "Init": {"Type": "Pass", "Result": {"items": [1, 2, 3, 4, 5, 6], "i": 0},
             "Assign": {"seen": 0}, "Next": "Map"},
    "Map": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
      "ItemProcessor": {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "]] .. WORK .. [[",
              "Parameters": {"key.$": "States.Format('map-{}', $)",
                             "n.$": "$"}, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 5, "End": true}}},
      "ResultPath": "$.mapped", "Next": "Loop"},
    "Loop": {"Type": "Choice", "Choices": [
      {"Variable": "$.i", "NumericLessThan": 20, "Next": "Incr"}],
      "Default": "Par"},
    "Incr": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)",
             "items.$": "$.items", "mapped.$": "$.mapped"},
             "Assign": {"seen.$": "$.i"}, "Next": "Loop"},
    "Par": {"Type": "Parallel", "Branches": [
      {"StartAt": "A", "States": {"A": {"Type": "Task",
        "Resource": "]] .. WORK .. [[",
        "Parameters": {"key": "par-a", "n": 10}, "End": true}}},
      {"StartAt": "B", "States": {
        "B": {"Type": "Wait", "Seconds": 30, "Next": "B2"},
        "B2": {"Type": "Task", "Resource": "]] .. WORK .. [[",
               "Parameters": {"key": "par-b", "n.$": "$seen"},
               "End": true}}}
    ], "ResultPath": "$.par", "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}
]]

local KEYS = {"map-1", "map-2", "map-3", "map-4", "map-5", "map-6",
              "par-a", "par-b"}

local function make_dir()
  local dir = S.tmpdir("resume")
  os.execute("mkdir " .. S.shquote(dir .. "/tasks"))
  S.spit(dir .. "/tasks/Work.lua", HANDLER)
  S.spit(dir .. "/m.json", MACHINE)
  return dir
end

local function env(dir, calls, ms)
  return string.format("CALLS=%s TASK_MS=%d ", S.shquote(dir .. "/" .. calls),
                       ms or 0)
end

local function count_calls(path)
  local n, by = 0, {}
  for line in (S.read(path) or ""):gmatch("[^\n]+") do
    n = n + 1
    by[line] = (by[line] or 0) + 1
  end
  return n, by
end

-- Start the binary with args in the background in dir; its pid lands in
-- dir/pid, its streams and status in dir/out, dir/err, dir/rc.
local function start(dir, args, envs)
  local q = {}
  for i, a in ipairs(args) do q[i] = S.shquote(a) end
  os.execute(string.format(
    "cd %s && rm -f pid rc out err; (%s sh -c 'echo $$ >pid; exec %s %s'"
    .. " >out 2>err </dev/null; echo $? >rc) >/dev/null 2>&1 &",
    S.shquote(dir), envs or "", S.shquote(S.BIN), table.concat(q, " ")))
  return tonumber(S.await(dir .. "/pid"))
end

local function await_rc(dir)
  return tonumber(S.await(dir .. "/rc"))
end

local function now_ms()
  local p = assert(io.popen("date +%s%3N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local function sleep_ms(ms)
  os.execute(string.format("sleep %.3f", ms / 1000))
end

describe("resume after a crash #binary", function()
  local dir, ref
  -- run the binary in the scratch folder
  local function run(args, envs) return S.run(dir, args, envs, dir) end
  setup(function()
    S.require_binary()
    dir = make_dir()
    local out, err, code = run({"run", "m.json", "--db", "db",
                                       "--name", "ref", "--clock", "virtual"},
                                 env(dir, "calls-ref"), dir)
    assert.are.equal(0, code, err)
    ref = out
  end)
  teardown(function() S.rmtree(dir) end)

  it("finishes killed runs with the same output, no completed call twice",
     function()
    math.randomseed(os.time())
    local kills_total = 0
    for n = 1, 3 do
      local name, calls = "k" .. n, "calls-k" .. n
      -- 8 calls of 40 ms: a run lasts longer than the latest first kill
      -- (150 ms), so every execution is killed at least once
      local e = env(dir, calls, 40)
      local run_args = {"run", "m.json", "--db", "db", "--name", name,
                        "--clock", "virtual"}
      local args = run_args
      local kills, rc = 0, nil
      for round = 1, 8 do
        local pid = start(dir, args, e)
        if round <= 3 then
          sleep_ms(math.random(10, 150))
          os.execute("kill -9 " .. pid .. " 2>/dev/null")
        end
        rc = await_rc(dir)
        if rc == 0 then break end
        local err = S.read(dir .. "/err")
        if rc == 2 and err:find("is not running (SUCCEEDED)", 1, true) then
          -- the kill came after the last commit: it had finished
          local out, oerr, ocode = run({"output", name, "--db", "db"})
          assert.are.equal(0, ocode, oerr)
          S.spit(dir .. "/out", out)
          rc = 0
          break
        elseif rc == 2 and err:find("no execution named", 1, true) then
          -- killed before its row was written: it never started
          args = run_args
        else
          assert.are.equal(137, rc, err)
          kills = kills + 1
          args = {"resume", name, "--db", "db", "--clock", "virtual"}
        end
      end
      assert.are.equal(0, rc, S.read(dir .. "/err"))
      assert.are.equal(ref, S.read(dir .. "/out"))
      local total, by = count_calls(dir .. "/" .. calls)
      for _, k in ipairs(KEYS) do
        assert.is_true((by[k] or 0) >= 1, k .. " never ran")
        assert.is_true(by[k] <= 1 + kills, k .. " ran " .. by[k] .. " times")
      end
      -- only a call in flight at a kill runs again
      assert.is_true(total <= #KEYS + kills,
                     total .. " calls for " .. kills .. " kills")
      -- the history numbers its events 1, 2, ... with no gap or repeat
      local hist = run({"history", name, "--json", "--db", "db"})
      local i = 0
      for id in hist:gmatch('"id":(%d+)') do
        i = i + 1
        assert.are.equal(i, tonumber(id))
      end
      local succeeded = select(2, hist:gsub("LambdaFunctionSucceeded", ""))
      assert.are.equal(#KEYS, succeeded)
      kills_total = kills_total + kills
    end
    assert.is_true(kills_total > 0)
    local out, _, code = run({"db-check", "--db", "db"})
    assert.are.equal(0, code)
    assert.are.equal("ok\n", out)
  end)

  it("refuses to resume an execution its process still runs", function()
    local pid = start(dir, {"run", "m.json", "--db", "db", "--name", "live"},
                      env(dir, "calls-live"))
    sleep_ms(300)
    local _, err, code = run({"resume", "live", "--db", "db"})
    assert.are.equal(2, code)
    assert.matches("still running in process " .. pid, err, 1, true)
    os.execute("kill -9 " .. pid)
    await_rc(dir)
  end)

  it("resumes a Wait with the time it had left", function()
    local m = [[{"StartAt": "W", "States": {
      "W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
      "P": {"Type": "Pass", "Result": "waited", "End": true}}}]]
    S.spit(dir .. "/w.json", m)
    local pid = start(dir, {"run", "w.json", "--db", "db", "--name", "w1"})
    sleep_ms(1200)
    os.execute("kill -9 " .. pid)
    await_rc(dir)
    local t0 = now_ms()
    local out, err, code = run({"resume", "w1", "--db", "db"})
    assert.are.equal(0, code, err)
    assert.are.equal('"waited"\n', out)
    -- 0.8 s were left (and a process start)
    assert.is_true(now_ms() - t0 < 1600)
  end)

  it("says why an unknown or finished execution cannot resume", function()
    local _, err, code = run({"resume", "nope", "--db", "db"})
    assert.are.equal(2, code)
    assert.matches("no execution named", err, 1, true)
    _, err, code = run({"resume", "ref", "--db", "db"})
    assert.are.equal(2, code)
    assert.matches("is not running (SUCCEEDED)", err, 1, true)
  end)

  it("keeps a pending task token valid across a crash", function()
    local notify = [[
local M = {}
function M.handler(event)
  local f = assert(io.open(os.getenv("TOKEN_FILE"), "w"))
  f:write(event.token)
  f:close()
  return {}
end
return M
]]
    S.spit(dir .. "/tasks/Notify.lua", notify)
    S.spit(dir .. "/t.json", [[{"StartAt": "T", "States": {"T": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "Notify",
                     "Payload": {"token.$": "$$.Task.Token"}},
      "End": true}}}]])
    local tf = dir .. "/token"
    local e = "TOKEN_FILE=" .. S.shquote(tf) .. " "
    local pid = start(dir, {"run", "t.json", "--db", "db", "--name", "t1"},
                      e)
    local token = S.await(tf)
    sleep_ms(200)
    os.execute("kill -9 " .. pid)
    await_rc(dir)
    start(dir, {"resume", "t1", "--db", "db"}, e)
    sleep_ms(200)
    local _, err, code = run({"send-task-success", "--db", "db",
                                     "--token", token,
                                     "--output", '{"ok": true}'})
    assert.are.equal(0, code, err)
    assert.are.equal(0, await_rc(dir), S.read(dir .. "/err"))
    assert.are.equal('{"ok":true}\n', S.read(dir .. "/out"))
  end)

  it("lets two runs and a listing share the file #concurrent", function()
    local q = function(args)
      local t = {}
      for i, a in ipairs(args) do t[i] = S.shquote(a) end
      return table.concat(t, " ")
    end
    local cmd = string.format(
      "cd %s && export %s; (%s %s >c1 2>&1 & %s %s >c2 2>&1 & "
      .. "for i in 1 2 3 4 5 6 7 8; do %s %s >>c3 2>&1; done; wait)",
      S.shquote(dir), env(dir, "calls-c", 5), S.shquote(S.BIN),
      q{"run", "m.json", "--db", "db", "--name", "c1", "--clock", "virtual"},
      S.shquote(S.BIN),
      q{"run", "m.json", "--db", "db", "--name", "c2", "--clock", "virtual"},
      S.shquote(S.BIN), q{"executions", "list", "--db", "db"})
    os.execute(cmd)
    for _, f in ipairs{"c1", "c2", "c3"} do
      assert.is_nil(S.read(dir .. "/" .. f):find("locked"), f)
    end
    assert.are.equal(ref, S.read(dir .. "/c1"))
    assert.are.equal(ref, S.read(dir .. "/c2"))
  end)
end)
