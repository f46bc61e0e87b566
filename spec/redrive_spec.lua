-- redrive_spec.lua - redrive, rerun and stop (issue 5): a failed Map
-- iteration and a failed Parallel branch are redriven once the handler is
-- fixed (a flag file), and only what did not succeed runs again; the
-- redrive is counted ($$.Execution.RedriveCount, describe's redriveCount,
-- ExecutionRedriven); AWS's rules refuse the others; rerun starts a new
-- execution at a state; stop and SIGINT end a run ABORTED. #binary
local S = require "support"

-- Appends its key to $CALLS; fails for {fail = true} until $FIXED exists.
local HANDLER = [[
local M = {}
function M.handler(event, context)
  local f = assert(io.open(os.getenv("CALLS"), "a"))
  f:write(tostring(event.key), "\n")
  f:close()
  local fixed = io.open(os.getenv("FIXED"))
  if fixed then fixed:close() end
  if event.fail and not fixed then
    error({errorType = "Flaky.Broken", errorMessage = "not yet " .. event.key})
  end
  return {key = event.key, redrives = event.redrives}
end
return M
]]

local FLAKY = "arn:aws:lambda:us-east-1:123456789012:function:Flaky"

local MACHINE = [[
{"StartAt": "Before", "States": {
  "Before": {"Type": "Task", "Resource": "]] .. FLAKY .. [[",
             "Parameters": {"key": "before"}, "ResultPath": "$.before",
             "Next": "Map"},
  "Map": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
    "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": "]] .. FLAKY .. [[",
      "Parameters": {"key.$": "$.key", "fail.$": "$.fail"}, "End": true}}},
    "ResultPath": "$.mapped", "Next": "Par"},
  "Par": {"Type": "Parallel", "Branches": [
    {"StartAt": "A", "States": {"A": {"Type": "Task",
      "Resource": "]] .. FLAKY .. [[",
      "Parameters": {"key": "par-a"}, "End": true}}},
    {"StartAt": "B", "States": {"B": {"Type": "Task",
      "Resource": "]] .. FLAKY .. [[",
      "Parameters": {"key": "par-b", "fail.$": "$.bfail",
                     "redrives.$": "$$.Execution.RedriveCount"},
      "End": true}}}],
   "ResultPath": "$.par", "End": true}
}}
]]

local function items(failing)
  local t = {}
  for i = 1, 5 do
    t[i] = string.format('{"key": "it-%d", "fail": %s}', i,
                         tostring(i == failing))
  end
  return "[" .. table.concat(t, ", ") .. "]"
end

local function calls_of(path)
  local t = {}
  for line in (S.read(path) or ""):gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

describe("redrive, rerun and stop #binary", function()
  local dir
  local function run(args)
    return S.run(dir, args, string.format("CALLS=%s FIXED=%s ",
                                          S.shquote(dir .. "/calls"),
                                          S.shquote(dir .. "/fixed")), dir)
  end
  local function reset()
    os.remove(dir .. "/calls")
    os.remove(dir .. "/fixed")
  end

  setup(function()
    S.require_binary()
    dir = S.tmpdir("redrive")
    os.execute("mkdir " .. S.shquote(dir .. "/tasks"))
    S.spit(dir .. "/tasks/Flaky.lua", HANDLER)
    S.spit(dir .. "/m.json", MACHINE)
  end)
  teardown(function() S.rmtree(dir) end)

  it("redrives a failed Map iteration, not the ones that succeeded",
     function()
    reset()
    local input = '{"bfail": false, "items": ' .. items(3) .. '}'
    local _, err, code = run({"run", "m.json", "--db", "db", "--name", "m1",
                              "--input", input})
    assert.are.equal(1, code)
    assert.matches("not yet it-3", err, 1, true)
    -- it-1 and it-2 ran, it-3 failed (it-4 was started beside it)
    local first = calls_of(dir .. "/calls")
    assert.are.same({"before", "it-1", "it-2", "it-3"},
                    {first[1], first[2], first[3], first[4]})
    os.remove(dir .. "/calls")
    S.spit(dir .. "/fixed", "")
    local out
    out, err, code = run({"redrive", "m1", "--db", "db"})
    assert.are.equal(0, code, err)
    local again = calls_of(dir .. "/calls")
    local seen = {}
    for _, k in ipairs(again) do seen[k] = (seen[k] or 0) + 1 end
    assert.is_nil(seen["before"])
    assert.is_nil(seen["it-1"])
    assert.is_nil(seen["it-2"])
    assert.are.equal(1, seen["it-3"])
    assert.are.equal(1, seen["it-5"])
    local v = require("cjson").decode(out)
    assert.are.equal(5, #v.mapped)
    for i = 1, 5 do assert.are.equal("it-" .. i, v.mapped[i].key) end
    assert.are.equal(1, v.par[2].redrives)
    -- describe and history say so
    local d = require("cjson").decode((run({"describe", "m1", "--db",
                                            "db"})))
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.equal(1, d.redriveCount)
    assert.is_string(d.redriveDate)
    local h = run({"history", "m1", "--db", "db", "--json"})
    local i = 0
    for id in h:gmatch('"id":(%d+)') do
      i = i + 1
      assert.are.equal(i, tonumber(id))
    end
    assert.matches('"type":"ExecutionFailed"', h, 1, true)
    assert.matches('"type":"ExecutionRedriven"', h, 1, true)
  end)

  it("redrives a failed Parallel branch, not the one that succeeded",
     function()
    reset()
    local input = '{"bfail": true, "items": ' .. items(0) .. '}'
    local _, _, code = run({"run", "m.json", "--db", "db", "--name", "p1",
                            "--input", input})
    assert.are.equal(1, code)
    os.remove(dir .. "/calls")
    -- not fixed yet: it fails again, counted
    _, _, code = run({"redrive", "p1", "--db", "db"})
    assert.are.equal(1, code)
    assert.are.same({"par-b"}, calls_of(dir .. "/calls"))
    os.remove(dir .. "/calls")
    S.spit(dir .. "/fixed", "")
    local out, err
    out, err, code = run({"redrive", "p1", "--db", "db"})
    assert.are.equal(0, code, err)
    assert.are.same({"par-b"}, calls_of(dir .. "/calls"))
    local v = require("cjson").decode(out)
    assert.are.equal("par-a", v.par[1].key)
    assert.are.equal(2, v.par[2].redrives)
  end)

  it("refuses what AWS refuses", function()
    local _, err, code = run({"redrive", "m1", "--db", "db"})
    assert.are.equal(2, code)
    assert.matches("ExecutionNotRedrivable", err, 1, true)
    _, err, code = run({"redrive", "nope", "--db", "db"})
    assert.are.equal(2, code)
    assert.matches("no execution named", err, 1, true)
  end)

  it("reruns from a state with its recorded input or another", function()
    reset()
    S.spit(dir .. "/fixed", "")
    local out, err, code = run({"rerun", "m1", "--from", "Par", "--db",
                                "db", "--name", "m1-par"})
    assert.are.equal(0, code, err)
    assert.are.same({"par-a", "par-b"}, calls_of(dir .. "/calls"))
    local v = require("cjson").decode(out)
    assert.are.equal(5, #v.mapped)  -- Par's recorded input had them
    out, err, code = run({"rerun", "m1", "--from", "Par", "--db", "db",
                          "--input", '{"bfail": false}'})
    assert.are.equal(0, code, err)
    assert.is_nil(require("cjson").decode(out).mapped)
    _, err, code = run({"rerun", "m1", "--from", "T", "--db", "db"})
    assert.are.equal(2, code)
    assert.matches("no top-level state named 'T'", err, 1, true)
  end)

  describe("stop", function()
    local WAIT = [[{"StartAt": "M", "States": {"M": {"Type": "Map",
      "ItemsPath": "$.xs", "ItemProcessor": {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "End": true}}},
      "End": true}}}]]
    setup(function()
      S.spit(dir .. "/w.json", WAIT)
      S.spit(dir .. "/xs.json", '{"xs": [1, 2]}')
    end)

    local function start(name)
      os.execute(string.format(
        "cd %s && rm -f pid rc; (sh -c 'echo $$ >pid; exec %s run w.json"
        .. " --db db --name %s --input @xs.json' >out 2>err </dev/null;"
        .. " echo $? >rc) >/dev/null 2>&1 &", S.shquote(dir),
        S.shquote(S.BIN), name))
      local pid = tonumber(S.await(dir .. "/pid"))
      -- until its row is there
      for _ = 1, 100 do
        local _, _, c = run({"describe", name, "--db", "db"})
        if c == 0 then break end
        os.execute("sleep 0.05")
      end
      return pid
    end

    local function types(name)
      local h = run({"history", name, "--db", "db", "--json"})
      local t = {}
      for ty in h:gmatch('"type":"(%a+)"') do t[#t + 1] = ty end
      return t
    end

    it("aborts a run another process runs", function()
      start("st1")
      os.execute("sleep 0.2")
      local out, err, code = run({"stop", "st1", "--db", "db", "--error",
                                  "Ops.Stop", "--cause", "enough"})
      assert.are.equal(0, code, err)
      assert.matches('"stopDate"', out, 1, true)
      assert.are.equal("1\n", S.await(dir .. "/rc"))
      assert.matches("ABORTED: Ops.Stop: enough", S.read(dir .. "/err"), 1,
                     true)
      local t = types("st1")
      assert.are.equal("ExecutionAborted", t[#t])
      assert.are.equal("MapStateAborted", t[#t - 1])
      local n = 0
      for _, ty in ipairs(t) do
        if ty == "WaitStateAborted" or ty == "MapIterationAborted" then
          n = n + 1
        end
      end
      assert.are.equal(4, n)
      local d = require("cjson").decode((run({"describe", "st1", "--db",
                                              "db"})))
      assert.are.equal("ABORTED", d.status)
      assert.are.equal("Ops.Stop", d.error)
      assert.are.equal("enough", d.cause)
      -- an aborted execution can be redriven (its Waits start again)
      _, err, code = run({"stop", "st1", "--db", "db"})
      assert.are.equal(2, code)
      assert.matches("not running (ABORTED)", err, 1, true)
    end)

    it("aborts on SIGINT and SIGTERM with exit status 1", function()
      for _, sig in ipairs{"INT", "TERM"} do
        local name = "sig" .. sig
        local pid = start(name)
        os.execute("sleep 0.2; kill -" .. sig .. " " .. pid)
        assert.are.equal("1\n", S.await(dir .. "/rc"))
        local t = types(name)
        assert.are.equal("ExecutionAborted", t[#t])
        assert.matches("ABORTED", S.read(dir .. "/err"), 1, true)
      end
    end)

    it("aborts an execution whose process died", function()
      local pid = start("st2")
      os.execute("sleep 0.2; kill -9 " .. pid)
      S.await(dir .. "/rc")
      local _, err, code = run({"stop", "st2", "--db", "db"})
      assert.are.equal(0, code, err)
      local d = require("cjson").decode((run({"describe", "st2", "--db",
                                              "db"})))
      assert.are.equal("ABORTED", d.status)
      local t = types("st2")
      assert.are.equal("ExecutionAborted", t[#t])
    end)
  end)
end)
