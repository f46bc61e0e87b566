-- debug_spec.lua - the REPL's debugger (moonstep.debug over
-- moonstep.core.debug): stepping, breakpoints (states inside a Map, events
-- and errors), where (Map iterations and Parallel branches), editing the
-- data, jump, retry, eval; a failed handler fixed on disk, reload() and
-- the execution going on; post-mortem on a recorded failed execution,
-- walking its history, redrive and rerun through the store.
local S = require "support"
local debug_ = require "moonstep.debug"
local json = require("moonstep").json

local FN = "arn:aws:lambda:us-east-1:123456789012:function:Work"

-- Doubles event.n; fails while BROKEN is true (rewritten to fix it).
local function handler(broken)
  return ([[
local M = {}
local BROKEN = %s
function M.handler(event)
  if BROKEN and event.n == 2 then
    error({errorType = "Work.Broken", errorMessage = "cannot do " .. event.n})
  end
  return {n = event.n * 2}
end
return M
]]):format(tostring(broken))
end

local MAP = json.encode{
  StartAt = "Prepare",
  States = {
    Prepare = {Type = "Pass", Assign = {factor = 10}, Next = "Each"},
    Each = {Type = "Map", ItemsPath = "$.items", ResultPath = "$.doubled",
            ItemProcessor = {StartAt = "Wrap", States = {
              Wrap = {Type = "Pass", Parameters = {["n.$"] = "$"},
                      Next = "Work"},
              Work = {Type = "Task", Resource = FN, End = true}}},
            Next = "Done"},
    Done = {Type = "Pass", End = true},
  },
}

local PAR = json.encode{
  StartAt = "Both",
  States = {
    Both = {Type = "Parallel", End = true, Branches = {
      {StartAt = "A", States = {A = {Type = "Pass", Result = "a",
                                     Next = "A2"},
                                A2 = {Type = "Pass", End = true}}},
      {StartAt = "B", States = {B = {Type = "Pass", Result = "b",
                                     End = true}}},
    }},
  },
}

local LINE = json.encode{
  StartAt = "One",
  States = {
    One = {Type = "Pass", Result = 1, ResultPath = "$.one", Next = "Two"},
    Two = {Type = "Pass", Result = 2, ResultPath = "$.two", Next = "Three"},
    Three = {Type = "Pass", End = true},
  },
}

describe("moonstep.debug", function()
  local tmp, D

  before_each(function()
    tmp = S.tmpdir("debug")
    os.execute("mkdir -p " .. S.shquote(tmp .. "/tasks"))
    S.spit(tmp .. "/tasks/Work.lua", handler(false))
    D = debug_.new{tasks_dir = tmp .. "/tasks", db_path = tmp .. "/db"}
  end)
  after_each(function()
    D = nil
    collectgarbage()
    S.rmtree(tmp)
  end)

  it("starts paused, steps one transition at a time and shows it",
     function()
    local m = D:machine(LINE)
    assert.are.same({"One", "Three", "Two"}, m:states())
    local x = m:start({a = 1})
    assert.are.equal("RUNNING", x:status())
    assert.are.same({a = 1}, x.data)
    local r = x:step()
    assert.are.equal("One", r.state)
    assert.are.same({a = 1}, r.input)
    assert.are.same({a = 1, one = 1}, r.output)
    assert.are.equal("Two (enter)", r.next)
    assert.are.same({"2 PassStateEntered One", "3 PassStateExited One"},
                    r.events)
    local c = x:continue()
    assert.are.equal("end", c.stopped)
    assert.are.equal("SUCCEEDED", c.status)
    assert.are.same({a = 1, one = 1, two = 2}, x:output())
    assert.are.equal("ExecutionSucceeded", x:history()[#x:history()].type)
  end)

  it("edits the data, jumps and retries", function()
    local x = D:machine(LINE):start({})
    x.data = {edited = true}
    x:step()                         -- One
    assert.are.same({edited = true, one = 1}, x.data)
    x:jump("Three")                  -- skip Two
    assert.are.equal("Three", x:where()[1].state)
    x.data = {again = 1}
    x:retry()                        -- One again, with its old input
    assert.are.same({edited = true}, x.data)
    assert.are.equal("One", x:where()[1].state)
    x:continue()
    assert.are.same({edited = true, one = 1, two = 2}, x:output())
    assert.has_error(function() x:jump("Nowhere") end)
  end)

  it("breaks on a state inside a Map and shows its iterations",
     function()
    local x = D:machine(MAP):start({items = {1, 3}})
    x:break_at("Work")
    local c = x:continue()
    assert.are.equal("breakpoint", c.stopped)
    assert.are.equal("Each[0]/Work", c.path)
    assert.are.same({n = 1}, c.input)
    local paths = {}
    for _, f in ipairs(x:where()) do paths[#paths + 1] = f.path end
    assert.are.same({"Each", "Each[0]/Work", "Each[1]/Work"}, paths)
    assert.matches("%* Each%[0%]/Work %(enter, ready%)", tostring(x:where()))
    -- the iteration's data, edited before Work runs
    x.data = {n = 100}
    assert.are.same({factor = 10}, x:vars())
    assert.are.equal(100, x:eval("$.n"))
    assert.are.equal(1000, x:eval("States.MathAdd($.n, 900)"))
    assert.are.equal(10, x:eval("$factor"))
    assert.are.equal("Each", x:eval("$$.State.Name", "Each"))
    c = x:continue()
    assert.are.equal("breakpoint", c.stopped)
    assert.are.equal("Each[1]/Work", c.path)
    x:clear()
    c = x:continue()
    assert.are.equal("end", c.stopped)
    assert.are.same({{n = 200}, {n = 6}}, x:output().doubled)
  end)

  it("shows Parallel branches in where()", function()
    local x = D:machine(PAR):start({})
    x:step()   -- Both: starts its branches
    local paths = {}
    for _, f in ipairs(x:where()) do paths[#paths + 1] = f.path end
    assert.are.same({"Both", "Both[0]/A", "Both[1]/B"}, paths)
    x:break_at("Both[0]/A2")
    assert.are.equal("Both[0]/A2", x:continue().path)
    assert.are.same({"a", "b"}, (x:continue() and x:output()))
  end)

  it("stops on a failure, and a fixed handler after reload() finishes it",
     function()
    S.spit(tmp .. "/tasks/Work.lua", handler(true))
    local x = D:machine(MAP):start({items = {1, 2}})
    x:break_on("Work.Broken")
    local c = x:continue()
    assert.are.equal("event", c.stopped)
    assert.are.equal("Work.Broken",
                     c.event.lambdaFunctionFailedEventDetails.error)
    repeat c = x:continue() until c.stopped == "end"  -- it travels out
    assert.are.equal("FAILED", x:status())
    S.spit(tmp .. "/tasks/Work.lua", handler(false))
    D:reload()
    x:retry()             -- after the end: a redrive in memory
    assert.are.equal("RUNNING", x:status())
    x:continue()
    assert.are.equal("SUCCEEDED", x:status())
    assert.are.same({{n = 2}, {n = 4}}, x:output().doubled)
    local types = {}
    for _, e in ipairs(x:history()) do types[e.type] = true end
    assert.is_true(types.ExecutionRedriven)
  end)

  it("opens a recorded failed execution, walks it and redrives it",
     function()
    S.spit(tmp .. "/tasks/Work.lua", handler(true))
    local m = D:machine(MAP)
    local r = m:run({items = {1, 2}}, {record = true, name = "pm-1"})
    assert.are.equal("FAILED", r:status())
    assert.are.equal("Work.Broken", r:describe().error)
    local again = D:execution("pm-1")
    assert.are.equal(#r:history(), #again:history())
    -- the data at an event: the input of the Map's iteration state
    local id
    for _, e in ipairs(r:history()) do
      if e.type == "TaskStateEntered" and not id then id = e.id end
    end
    local at = r:at(id)
    assert.are.equal("Work", at.state)
    assert.is_table(at.data)
    local first = r:step()
    assert.are.equal("1 ExecutionStarted", first.event)
    r:break_at("Work")
    assert.are.equal("breakpoint", r:continue().stopped)
    assert.are.equal("end", (function()
      local c
      repeat c = r:continue() until c.stopped == "end"
      return c.stopped
    end)())
    S.spit(tmp .. "/tasks/Work.lua", handler(false))
    D:reload()
    local d = r:redrive()
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.equal("SUCCEEDED", r:status())
    assert.are.same({{n = 2}, {n = 4}}, r:output().doubled)
    -- rerun from a state with new input: a new recorded execution
    local n = r:rerun_from("Done", {fresh = true})
    assert.are.equal("SUCCEEDED", n:status())
    assert.are.same({fresh = true}, n:output())
    assert.has_error(function() D:execution("no-such") end)
  end)

  it("invokes one handler", function()
    assert.are.same({n = 8}, D:invoke("Work", {n = 4}))
    S.spit(tmp .. "/tasks/Work.lua", handler(true))
    D:reload("Work")
    local r, err = D:invoke("Work", {n = 2})
    assert.is_nil(r)
    assert.are.equal("Work.Broken", err.errorType)
  end)

  it("jumps a Map iteration, which then runs next", function()
    local x = D:machine(MAP):start({items = {1, 2}})
    x:step()                          -- Prepare
    x:step()                          -- Each starts its iterations
    assert.are.equal("Each[0]/Wrap", x:frame().path)
    x:jump("Work")
    x.data = {n = 7}
    local r = x:step()
    assert.are.equal("Each[0]/Work", r.path)
    assert.are.same({n = 14}, r.output)
    local ok, why = x.core:set_input("Each", 1)  -- busy with iterations
    assert.is_nil(ok)
    assert.matches("not about to enter", why)
    x:continue()
    assert.are.same({{n = 14}, {n = 4}}, x:output().doubled)
  end)

  it("refuses what cannot be done, with a reason", function()
    local x = D:machine(MAP):start({items = {1}})
    assert.has_error(function() x:retry() end)   -- nothing entered yet
    x:step()
    x:step()                                      -- Each: iterations
    assert.has_error(function() x:jump("Done", "Each") end)
    assert.has_error(function() x:frame("Nope[3]") end)
    assert.has_error(function() x:redrive() end)  -- still running
    assert.has_error(function() D:machine('{"StartAt": "X"}') end)
  end)
end)
