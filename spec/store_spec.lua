-- store_spec.lua - the durable store (engine/store.c) as the CLI uses it:
-- STANDARD runs recorded in a SQLite file, `executions list`, `describe`,
-- `history`, `output`, unique names, several processes on one file, and
-- the database path (--db, MOONSTEP_DB, the default, :memory:). Tagged
-- #binary: under "make test" these run against build-asan/moonstep with
-- leak checking on.
package.path = "./spec/?.lua;" .. package.path
local json = require "conformance"  -- its exact JSON decoder and equal

local support = require "support"
local shquote, slurp, spit = support.shquote, support.slurp, support.spit

local tmp -- a scratch folder for this file

-- Run the binary with argument list args (env: a prefix such as
-- "MOONSTEP_DB=x", dir: the working folder); returns stdout, stderr,
-- status.
local function moonstep(args, env, dir)
  return support.run(tmp, args, env, dir)
end

local PASS = [[{"StartAt": "Hello", "States": {
  "Hello": {"Type": "Pass", "Parameters": {"greeting": "hi",
            "in.$": "$"}, "End": true}}}]]

local FAIL = [[{"StartAt": "Boom", "States": {
  "Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}}}]]

-- Pass, then a Map of two Task iterations (a Lambda ARN: Lambda events).
local PTM = [[{"StartAt": "P", "States": {
  "P": {"Type": "Pass", "Result": [1, 2], "Next": "M"},
  "M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource":
          "arn:aws:lambda:us-east-1:123456789012:function:Double",
          "End": true}}}, "End": true}}}]]

local LOOP = [[{"StartAt": "Init", "States": {
  "Init": {"Type": "Pass", "Parameters": {"i": 0, "n.$": "$.n"},
           "Next": "Check"},
  "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i",
            "NumericLessThanPath": "$.n", "Next": "Incr"}],
            "Default": "Done"},
  "Incr": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)",
           "n.$": "$.n"}, "Next": "Check"},
  "Done": {"Type": "Succeed"}}}]]

local db -- a fresh database file for each case
local n_db = 0

describe("moonstep store #binary", function()
  setup(function()
    tmp = support.tmpdir("store-spec")
    support.require_binary()
    spit(tmp .. "/pass.asl.json", PASS)
    spit(tmp .. "/fail.asl.json", FAIL)
    spit(tmp .. "/ptm.asl.json", PTM)
    spit(tmp .. "/loop.asl.json", LOOP)
    os.execute("mkdir -p " .. shquote(tmp .. "/tasks"))
    spit(tmp .. "/tasks/Double.lua",
         "return { handler = function(e) return e * 2 end }\n")
  end)

  teardown(function()
    support.rmtree(tmp)
  end)

  before_each(function()
    n_db = n_db + 1
    db = tmp .. "/db" .. n_db .. ".db"
  end)

  it("records a STANDARD run: describe, output, list", function()
    local out, _, code = moonstep{ "run", tmp .. "/pass.asl.json", "--db",
                                   db, "--name", "one", "--input",
                                   '{"who": "Ann"}' }
    assert.are.equal(0, code)
    assert.are.equal('{"greeting":"hi","in":{"who":"Ann"}}\n', out)
    local d
    out, _, code = moonstep{ "describe", "one", "--db", db }
    assert.are.equal(0, code)
    d = json.decode(out)
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.equal("one", d.name)
    assert.are.equal("arn:aws:states:us-east-1:123456789012:execution:"
                     .. "pass:one", d.executionArn)
    assert.are.equal("arn:aws:states:us-east-1:123456789012:stateMachine:"
                     .. "pass", d.stateMachineArn)
    assert.are.equal("Ann", d.input.who)
    assert.are.equal("hi", d.output.greeting)
    assert.truthy(d.startDate:match("^%d+%-%d+%-%d+T[%d:.]+Z$"))
    assert.truthy(d.stopDate)
    -- the ARN works as the ID too, and describe equals run --describe
    local out2
    out2, _, code = moonstep{ "describe", d.executionArn, "--db", db }
    assert.are.equal(0, code)
    assert.are.equal(out, out2)
    out, _, code = moonstep{ "output", "one", "--db", db }
    assert.are.equal(0, code)
    assert.are.equal('{"greeting":"hi","in":{"who":"Ann"}}\n', out)
    out, _, code = moonstep{ "executions", "list", "--db", db, "--json" }
    assert.are.equal(0, code)
    local l = json.decode(out)
    assert.are.equal(1, #l.executions)
    assert.are.equal("one", l.executions[1].name)
    assert.are.equal(d.executionArn, l.executions[1].executionArn)
    assert.is_nil(l.executions[1].input)
  end)

  it("run --describe prints what describe reads back", function()
    local out, _, code = moonstep{ "run", tmp .. "/fail.asl.json", "--db",
                                   db, "--name", "f", "--describe" }
    assert.are.equal(1, code)
    local back
    back, _, code = moonstep{ "describe", "f", "--db", db }
    assert.are.equal(0, code)
    assert.are.same(json.decode(out), json.decode(back))
    local d = json.decode(back)
    assert.are.equal("FAILED", d.status)
    assert.are.equal("Custom.Error", d.error)
    assert.are.equal("it broke", d.cause)
    local err
    out, err, code = moonstep{ "output", "f", "--db", db }
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("execution f is FAILED: Custom.Error: it broke",
                           1, true))
  end)

  it("lists newest first, filtered by status and machine", function()
    local runs = { { "pass", "a" }, { "fail", "b" }, { "pass", "c" } }
    for _, r in ipairs(runs) do
      moonstep{ "run", tmp .. "/" .. r[1] .. ".asl.json", "--db", db,
                "--name", r[2] }
    end
    local function names(args)
      local out, _, code = moonstep(args)
      assert.are.equal(0, code)
      local t = {}
      for _, e in ipairs(json.decode(out).executions) do t[#t + 1] = e.name end
      return table.concat(t, " ")
    end
    assert.are.equal("c b a", names{ "executions", "list", "--db", db,
                                     "--json" })
    assert.are.equal("b", names{ "executions", "list", "--db", db,
                                 "--json", "--status", "FAILED" })
    assert.are.equal("c a", names{ "executions", "list", "--db", db,
                                   "--json", "--machine", "pass" })
    assert.are.equal("", names{ "executions", "list", "--db", db, "--json",
                                "--status", "FAILED", "--machine", "pass" })
    local out, _, code = moonstep{ "executions", "list", "--db", db }
    assert.are.equal(0, code)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(4, #lines)
    assert.truthy(lines[1]:match("^NAME%s+STATUS%s+MACHINE%s+START%s+STOP$"))
    assert.truthy(lines[2]:match("^c%s+SUCCEEDED%s+pass%s+%d"))
    assert.truthy(lines[3]:match("^b%s+FAILED%s+fail%s+%d"))
    local err
    _, err, code = moonstep{ "executions", "list", "--db", db, "--status",
                             "DONE" }
    assert.are.equal(2, code)
    assert.truthy(err:find("unknown status 'DONE'", 1, true))
  end)

  it("history: AWS's ids, previousEventId and types in order", function()
    local out, _, code = moonstep{ "run", tmp .. "/ptm.asl.json", "--db",
                                   db, "--name", "h", "--tasks",
                                   tmp .. "/tasks" }
    assert.are.equal(0, code)
    assert.are.equal("[2,4]\n", out)
    -- stdout is not a terminal: JSON without --json
    out, _, code = moonstep{ "history", "h", "--db", db }
    assert.are.equal(0, code)
    local events = json.decode(out).events
    local want = {
      { "ExecutionStarted", 0 }, { "PassStateEntered", 1 },
      { "PassStateExited", 2 }, { "MapStateEntered", 3 },
      { "MapStateStarted", 4 }, { "MapIterationStarted", 5 },
      { "MapIterationStarted", 6 }, { "TaskStateEntered", 5 },
      { "LambdaFunctionScheduled", 8 }, { "LambdaFunctionStarted", 9 },
      { "LambdaFunctionSucceeded", 10 }, { "TaskStateExited", 11 },
      { "MapIterationSucceeded", 12 }, { "TaskStateEntered", 6 },
      { "LambdaFunctionScheduled", 14 }, { "LambdaFunctionStarted", 15 },
      { "LambdaFunctionSucceeded", 16 }, { "TaskStateExited", 17 },
      { "MapIterationSucceeded", 18 }, { "MapStateSucceeded", 19 },
      { "MapStateExited", 20 }, { "ExecutionSucceeded", 21 },
    }
    assert.are.equal(#want, #events)
    for i, w in ipairs(want) do
      assert.are.equal(i, events[i].id)
      assert.are.equal(w[1], events[i].type)
      assert.are.equal(w[2], events[i].previousEventId)
      assert.truthy(events[i].timestamp:match("Z$"))
    end
    assert.are.equal("P", events[2].stateEnteredEventDetails.name)
    assert.are.equal("[2,4]",
                     events[22].executionSucceededEventDetails.output)
    local rev
    rev, _, code = moonstep{ "history", "h", "--db", db, "--json",
                             "--reverse" }
    assert.are.equal(0, code)
    rev = json.decode(rev).events
    assert.are.equal(#events, #rev)
    for i = 1, #events do
      assert.are.same(events[i], rev[#events + 1 - i])
    end
  end)

  it("names are unique: a second run with a name fails", function()
    local _, _, code = moonstep{ "run", tmp .. "/pass.asl.json", "--db", db,
                                 "--name", "same" }
    assert.are.equal(0, code)
    local out, err
    out, err, code = moonstep{ "run", tmp .. "/fail.asl.json", "--db", db,
                               "--name", "same" }
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.truthy(err:find("an execution named same already exists", 1,
                           true))
    out = moonstep{ "executions", "list", "--db", db, "--json" }
    assert.are.equal(1, #json.decode(out).executions)
  end)

  it("an unknown ID exits 2 with a clear message", function()
    moonstep{ "run", tmp .. "/pass.asl.json", "--db", db }
    for _, cmd in ipairs{ "describe", "history", "output" } do
      local out, err, code = moonstep{ cmd, "nope", "--db", db }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.truthy(err:find("no execution named or with the ARN 'nope'",
                             1, true), err)
    end
    local _, err, code = moonstep{ "describe", "--db", db }
    assert.are.equal(2, code)
    assert.truthy(err:find("missing ID", 1, true))
  end)

  it("EXPRESS runs are not recorded", function()
    local _, _, code = moonstep{ "run", tmp .. "/pass.asl.json", "--db", db,
                                 "--express", "--name", "ex" }
    assert.are.equal(0, code)
    local err
    _, err, code = moonstep{ "describe", "ex", "--db", db }
    assert.are.equal(2, code)
    assert.truthy(err:find("no execution", 1, true))
  end)

  it("several processes share one database", function()
    local cmds = {}
    for i = 1, 4 do
      cmds[#cmds + 1] = string.format(
        "( %s run %s --db %s --name p%d --input '{\"n\": 600}' " ..
        ">%s/p%d.out 2>%s/p%d.err; echo $? >%s/p%d.rc ) &",
        shquote(support.BIN), shquote(tmp .. "/loop.asl.json"),
        shquote(db), i, tmp, i, tmp, i, tmp, i)
    end
    for i = 1, 3 do
      cmds[#cmds + 1] = string.format(
        "( %s executions list --db %s >/dev/null 2>%s/l%d.err; " ..
        "echo $? >%s/l%d.rc ) &", shquote(support.BIN), shquote(db), tmp, i,
        tmp, i)
    end
    os.execute(table.concat(cmds, "\n") .. "\nwait")
    for i = 1, 4 do
      assert.are.equal("", slurp(tmp .. "/p" .. i .. ".err"))
      assert.are.equal("0\n", slurp(tmp .. "/p" .. i .. ".rc"))
      assert.are.equal('{"i":600,"n":600}\n',
                       slurp(tmp .. "/p" .. i .. ".out"))
    end
    for i = 1, 3 do
      assert.are.equal("", slurp(tmp .. "/l" .. i .. ".err"))
      assert.are.equal("0\n", slurp(tmp .. "/l" .. i .. ".rc"))
    end
    local out = moonstep{ "executions", "list", "--db", db, "--json",
                          "--status", "SUCCEEDED" }
    assert.are.equal(4, #json.decode(out).executions)
    out = moonstep{ "history", "p3", "--db", db }
    local events = json.decode(out).events
    assert.are.equal(2 * (2 * 600 + 3) + 2, #events)
    assert.are.equal("ExecutionSucceeded", events[#events].type)
  end)

  it(":memory: works and keeps nothing", function()
    local out, err, code = moonstep{ "run", tmp .. "/pass.asl.json",
                                     "--db", ":memory:", "--name", "m" }
    assert.are.equal(0, code, err)
    assert.truthy(out:find("greeting", 1, true))
    _, _, code = moonstep{ "describe", "m", "--db", ":memory:" }
    assert.are.equal(2, code)
  end)

  it("MOONSTEP_DB, --db before the command, and the default path",
     function()
    local env = "MOONSTEP_DB=" .. shquote(db) .. " "
    local _, _, code = moonstep({ "run", tmp .. "/pass.asl.json", "--name",
                                  "env" }, env)
    assert.are.equal(0, code)
    local out
    out, _, code = moonstep{ "--db", db, "describe", "env" }
    assert.are.equal(0, code)
    assert.are.equal("env", json.decode(out).name)
    -- no database yet: the default is made in the working folder, and a
    -- read before it exists finds nothing without creating it
    local dir = tmp .. "/work" .. n_db
    os.execute("mkdir -p " .. shquote(dir))
    out, _, code = moonstep({ "executions", "list", "--json" },
                            "MOONSTEP_DB= ", dir)
    assert.are.equal(0, code)
    assert.are.same({}, json.decode(out).executions)
    assert.is_nil(io.open(dir .. "/.moonstep/moonstep.db"))
    _, _, code = moonstep({ "run", tmp .. "/pass.asl.json", "--name", "d" },
                          "MOONSTEP_DB= ", dir)
    assert.are.equal(0, code)
    assert.truthy(io.open(dir .. "/.moonstep/moonstep.db"))
    out, _, code = moonstep({ "output", "d" }, "MOONSTEP_DB= ", dir)
    assert.are.equal(0, code)
    assert.truthy(out:find("greeting", 1, true))
  end)

  it("a missing folder or a garbage file is a clear error", function()
    local out, err, code = moonstep{ "run", tmp .. "/pass.asl.json", "--db",
                                     tmp .. "/no/such/dir/x.db" }
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.truthy(err:find("cannot open the database " .. tmp ..
                           "/no/such/dir/x.db", 1, true), err)
    spit(db, string.rep("this is not a database\n", 300))
    out, err, code = moonstep{ "run", tmp .. "/pass.asl.json", "--db", db }
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.truthy(err:find("cannot open the database", 1, true), err)
    assert.truthy(err:find("not a database", 1, true), err)
    _, err, code = moonstep{ "executions", "list", "--db", db }
    assert.are.equal(2, code)
    assert.truthy(err:find("not a database", 1, true), err)
    _, err, code = moonstep{ "run", tmp .. "/pass.asl.json", "--db", db,
                             "--durability", "sometimes" }
    assert.are.equal(2, code)
    assert.truthy(err:find("unknown durability", 1, true))
  end)
end)
