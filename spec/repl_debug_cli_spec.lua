-- repl_debug_cli_spec.lua - debugging through `moonstep repl`: a scripted
-- -e session (FILE --input starts with m and x set; breakpoints inside a
-- Map, data edited, ":" commands) and a piped one (a recorded execution
-- fails, the handler is fixed on disk, reload(), redrive(), success; then
-- --execution ID opens it again). #binary
local S = require "support"

local FN = "arn:aws:lambda:us-east-1:123456789012:function:Work"

local function handler(broken)
  return ([[
local M = {}
function M.handler(event)
  if %s and event.n == 2 then
    error({errorType = "Work.Broken", errorMessage = "cannot"})
  end
  return {n = event.n * 2}
end
return M
]]):format(tostring(broken))
end

local MACHINE = [[
{"StartAt": "Each", "States": {
  "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.out",
    "ItemProcessor": {"StartAt": "Wrap", "States": {
      "Wrap": {"Type": "Pass", "Parameters": {"n.$": "$"}, "Next": "Work"},
      "Work": {"Type": "Task", "Resource": "]] .. FN .. [[",
               "End": true}}},
    "End": true}}}
]]

describe("moonstep repl debugging #binary", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("repldbg")
    os.execute("mkdir -p " .. S.shquote(tmp .. "/tasks"))
    S.spit(tmp .. "/tasks/Work.lua", handler(false))
    S.spit(tmp .. "/m.asl.json", MACHINE)
  end)
  after_each(function() S.rmtree(tmp) end)

  local function repl(args, input)
    S.spit(tmp .. "/in", input or "")
    local q = {}
    for i, a in ipairs(args) do q[i] = S.shquote(a) end
    local _, _, code = os.execute(string.format(
      "cd %s && MOONSTEP_HISTORY= %s repl %s <in >out 2>err",
      S.shquote(tmp), S.shquote(S.BIN), table.concat(q, " ")))
    return S.slurp(tmp .. "/out"), S.slurp(tmp .. "/err"), code
  end

  it("runs a scripted -e session with m and x set", function()
    local out, err, code = repl{
      "m.asl.json", "--input", '{"items": [1, 3]}',
      "-e", "print(x)",
      "-e", ":b Work",
      "-e", "print(x:continue().path)",
      "-e", "x.data = {n = 50}",
      "-e", ":w",
      "-e", "print(x:eval('$.n'))",
      "-e", "_ = x:clear()",
      "-e", "print(x:continue().stopped, x:status())",
      "-e", "print(json.encode(x:output().out))",
    }
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal(table.concat({
      "execution: RUNNING, next Each (enter)",
      "Each[0]/Work",
      "execution: RUNNING, next Each[0]/Work (enter)",
      "  Each (children, waiting)",
      "* Each[0]/Work (enter, ready)",
      "  Each[1]/Work (enter, ready)",
      "50",
      "end\tSUCCEEDED",
      '[{"n":100},{"n":6}]',
    }, "\n") .. "\n", out)
  end)

  it("fixes a failed execution from a pipe: reload(), redrive()",
     function()
    S.spit(tmp .. "/tasks/Work.lua", handler(true))
    S.spit(tmp .. "/tasks/Fixed.lua", handler(false))
    local out, err, code = repl({"--db", "db"}, table.concat({
      "m = machine('m.asl.json')",
      "x = m:run({items = {1, 2}}, {record = true, name = 'broken2'})",
      "print(x:status(), x:describe().error)",
      "_ = os.execute('cp tasks/Fixed.lua tasks/Work.lua')",
      "reload()",
      "print(x:redrive().status)",
      "print(json.encode(x:output().out))",
    }, "\n") .. "\n")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal("FAILED\tWork.Broken\nSUCCEEDED\n"
                     .. '[{"n":2},{"n":4}]\n', out)
    -- the recorded execution, opened by name
    out, err, code = repl{"--db", "db", "--execution", "broken2",
                          "-e", "print(x)", "-e", ":s", "-e",
                          "print(x:at(1).data.items[2])"}
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.matches("^recorded execution broken2: SUCCEEDED; at event 0 "
                   .. "%(start%)\n", out)
    assert.matches('"event": "1 ExecutionStarted"', out)
    assert.matches("\n2\n$", out)
  end)

  it("stops x:continue() on Ctrl-C, the execution still paused",
     function()
    S.spit(tmp .. "/tasks/Slow.lua", "return {handler = function(e) "
           .. "local t = os.clock() while os.clock() - t < 0.05 do end "
           .. "return e end}\n")
    S.spit(tmp .. "/slow.json", [[{"StartAt": "A", "States": {
      "A": {"Type": "Task", "Next": "B", "Resource":
            "arn:aws:lambda:us-east-1:123456789012:function:Slow"},
      "B": {"Type": "Pass", "Next": "A"}}}]])
    local _, _, code = os.execute(string.format(
      "cd %s && mkfifo fifo && { MOONSTEP_HISTORY= %s repl slow.json "
      .. "--input '{}' <fifo >out 2>err & pid=$!; exec 3>fifo; "
      .. "echo 'x:continue()' >&3; sleep 1; kill -INT $pid; sleep 0.3; "
      .. "echo 'print(\"after\", x:status())' >&3; exec 3>&-; "
      .. "wait $pid; }", S.shquote(tmp), S.shquote(S.BIN)))
    assert.are.equal(1, code)  -- the interrupted chunk counts as failed
    assert.matches("interrupted", S.slurp(tmp .. "/err"))
    assert.are.equal("after\tRUNNING\n", S.slurp(tmp .. "/out"))
  end)

  it("lists the debugger in :help and warns without an execution",
     function()
    local out, err, code = repl({}, ":help\n:s\n")
    assert.are.equal(1, code)  -- the warning counts as an error
    assert.matches("x:break_at%(STATE%)", out)
    assert.matches("no current execution", err)
  end)
end)
