-- handler_spec.lua - the Lua task runtime as a handler's author meets it:
-- the per-function config tasks/NAME.json (handler, timeout, memory,
-- environment), the function's own timeout against the state's, the
-- memory limit, os.getenv, print and context.log lines, warm modules and
-- reload, and `moonstep invoke`. The first block runs in-process through
-- the moonstep module (required lazily: under "make test" the #binary
-- block runs alone against build-asan/moonstep, without the module).
package.path = "./spec/?.lua;" .. package.path
local json = require "conformance"  -- exact JSON decoder, key order kept

local BIN = (os.getenv("MOONSTEP_BUILD") or "build") .. "/moonstep"
local ARN = "arn:aws:lambda:us-east-1:123456789012:function:"

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shquote(dir)))
  return dir
end

local made = {}  -- tasks folders to remove

local function cleanup()
  for _, dir in ipairs(made) do os.execute("rm -rf " .. shquote(dir)) end
  made = {}
end

-- A tasks folder from {["Name.lua"] = source, ["Name.json"] = config}.
local function tasks(files)
  local dir = tmpdir()
  made[#made + 1] = dir
  for name, text in pairs(files) do spit(dir .. "/" .. name, text) end
  return dir
end

-- A one-state definition calling function fn (JSON text).
local function task_def(fn, extra)
  return string.format([[{"StartAt": "T", "States": {"T": {"Type": "Task",
    "Resource": "%s%s", %s "End": true}}}]], ARN, fn, extra or "")
end

local SPIN = "return { handler = function() while true do end end }\n"
local HOG = [[
return { handler = function()
  local t = {}
  for i = 1, 1e9 do t[#t + 1] = string.rep("x", 1e6) .. i end
end }
]]
local COUNT = [[
local n = 0
return { handler = function() n = n + 1 return n end }
]]

describe("task runtime (in-process)", function()
  local moonstep
  lazy_setup(function()
    moonstep = require "moonstep"
  end)
  teardown(cleanup)

  local function run(dir, def, input, opts)
    opts = opts or {}
    opts.tasks_dir = dir
    return assert(moonstep.run(def, input or {}, opts))
  end

  it("config: handler 'file.function' picks the module and function",
     function()
    local dir = tasks{
      ["lib.lua"] = "return { greet = function(e) return 'hi ' .. e.who end }",
      ["Greeter.json"] = '{"handler": "lib.greet"}',
      ["Deep.json"] = '{"handler": "sub/deep.run"}',
    }
    assert(os.execute("mkdir -p " .. shquote(dir .. "/sub")))
    spit(dir .. "/sub/deep.lua",
         "return { run = function() return 'deep' end }")
    local d = run(dir, task_def("Greeter"), { who = "Ann" })
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.equal("hi Ann", d.output)
    d = run(dir, task_def("Deep"))
    assert.are.equal("deep", d.output)
  end)

  it("config: an invalid file fails with States.Runtime naming file and "
     .. "field", function()
    local cases = {
      { '{"timeout": "3"}', '"timeout"' },
      { '{"timeout": 901}', '"timeout"' },
      { '{"memory": 64}', '"memory"' },
      { '{"handler": "nodot"}', '"handler"' },
      { '{"environment": {"AWS_REGION": "x"}}', "reserved" },
      { '{"environment": {"A": 1}}', "'A'" },
      { '{"tiemout": 3}', 'unknown field "tiemout"' },
      { '{"timeout": ', "Bad.json" },
      { '[]', "must be a JSON object" },
    }
    for _, c in ipairs(cases) do
      local dir = tasks{ ["Bad.lua"] = COUNT, ["Bad.json"] = c[1] }
      local d = run(dir, task_def("Bad"))
      assert.are.equal("FAILED", d.status, c[1])
      assert.are.equal("States.Runtime", d.error, c[1])
      assert.is_truthy(d.cause:find("Bad.json", 1, true), d.cause)
      assert.is_truthy(d.cause:find(c[2], 1, true), c[1] .. " " .. d.cause)
    end
  end)

  it("timeout: the function's own (config) is Sandbox.Timedout, worded "
     .. "as Lambda", function()
    local dir = tasks{ ["Spin.lua"] = SPIN, ["Spin.json"] = '{"timeout": 1}' }
    local d = run(dir, task_def("Spin", '"TimeoutSeconds": 5,'))
    assert.are.equal("FAILED", d.status)
    assert.are.equal("Sandbox.Timedout", d.error)
    local cause = json.decode(d.cause)
    assert.are.equal("Sandbox.Timedout", cause.errorType)
    assert.is_truthy(cause.errorMessage:match(
      "^RequestId: [%x-]+ Error: Task timed out after 1%.00 seconds$"),
      cause.errorMessage)
  end)

  it("timeout: a state's earlier TimeoutSeconds is States.Timeout",
     function()
    local dir = tasks{ ["Spin.lua"] = SPIN, ["Spin.json"] = '{"timeout": 60}' }
    local d = run(dir, task_def("Spin", '"TimeoutSeconds": 1,'))
    assert.are.equal("States.Timeout", d.error)
    assert.is_nil(d.cause)
  end)

  it("timeout: remaining time counts down from the function's timeout",
     function()
    local dir = tasks{
      ["Rem.lua"] = "return { handler = function(e, c) " ..
                    "return c.get_remaining_time_in_millis() end }",
      ["Rem.json"] = '{"timeout": 20}',
    }
    local d = run(dir, task_def("Rem", '"TimeoutSeconds": 5,'))
    assert.is_true(d.output > 15000 and d.output <= 20000, d.output)
  end)

  it("memory: a handler allocating without bound is Runtime.OutOfMemory; "
     .. "the host goes on", function()
    local dir = tasks{
      ["Hog.lua"] = HOG,
      ["Swallow.lua"] = [[
return { handler = function()
  local t = {}
  for i = 1, 1e9 do pcall(function() t[#t + 1] = string.rep("x", 1e6) end) end
  return "survived"
end }
]],
      ["Count.lua"] = COUNT,
    }
    local engine = moonstep.engine{ tasks_dir = dir }
    assert.are.equal(1, engine:run(task_def("Count"), {}).output)
    for _, fn in ipairs{ "Hog", "Swallow" } do
      local d = engine:run(task_def(fn), {})
      assert.are.equal("FAILED", d.status, fn)
      assert.are.equal("Runtime.OutOfMemory", d.error, fn)
      local cause = json.decode(d.cause)
      assert.is_truthy(cause.errorMessage:match(
        "^RequestId: [%x-]+ Error: Runtime exited with error: signal: " ..
        "killed$"), cause.errorMessage)
    end
    -- the next invocation of another handler works, still warm
    assert.are.equal(2, engine:run(task_def("Count"), {}).output)
    engine:close()
  end)

  it("memory: the config raises the limit; context and environment say it",
     function()
    local dir = tasks{
      ["Big.lua"] = [[
return { handler = function(e, c)
  local s = string.rep("x", 150 * 1024 * 1024)
  return { n = #s, mb = c.memory_limit_in_mb,
           env = os.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") }
end }
]],
    }
    assert.are.equal("Runtime.OutOfMemory",
                     run(dir, task_def("Big")).error)
    spit(dir .. "/Big.json", '{"memory": 512}')
    local d = run(dir, task_def("Big"))
    assert.are.equal("SUCCEEDED", d.status, d.cause)
    assert.are.equal(512, d.output.mb)
    assert.are.equal("512", d.output.env)
  end)

  it("os.getenv: the function's environment, Lambda's variables, then the "
     .. "process's; the process's is unchanged", function()
    local dir = tasks{
      ["Env.lua"] = [[
local at_init = os.getenv("GREETING")
return { handler = function()
  return { init = at_init, greeting = os.getenv("GREETING"),
           home = os.getenv("HOME"),
           name = os.getenv("AWS_LAMBDA_FUNCTION_NAME"),
           region = os.getenv("AWS_REGION"),
           version = os.getenv("AWS_LAMBDA_FUNCTION_VERSION"),
           handler = os.getenv("_HANDLER") }
end }
]],
      ["Env.json"] = '{"environment": {"GREETING": "hola", "HOME": "/h"}}',
    }
    local d = run(dir, task_def("Env"))
    assert.are.same({ init = "hola", greeting = "hola", home = "/h",
                      name = "Env", region = "us-east-1",
                      version = "$LATEST", handler = "Env.handler" },
                    d.output)
    assert.is_nil(os.getenv("GREETING"))
    spit(dir .. "/Env.json", "{}")
    d = run(dir, task_def("Env"))
    assert.are.equal(os.getenv("HOME"), d.output.home)
  end)

  it("a module with a syntax error is Runtime.UserCodeSyntaxError, with "
     .. "the line", function()
    local dir = tasks{ ["Broken.lua"] = "return { handler = function( end\n" }
    local d = run(dir, task_def("Broken"))
    assert.are.equal("Runtime.UserCodeSyntaxError", d.error)
    assert.is_truthy(d.cause:find("Broken.lua:1:", 1, true), d.cause)
  end)

  it("warm: module state survives between runs on one engine", function()
    local dir = tasks{ ["Count.lua"] = COUNT }
    local engine = moonstep.engine{ tasks_dir = dir }
    for i = 1, 3 do
      assert.are.equal(i, engine:run(task_def("Count"), {}).output)
    end
    engine:close()
  end)

  it("warm: a function timeout makes the next start cold, as on Lambda",
     function()
    local dir = tasks{
      ["Flaky.lua"] = [[
local n = 0
return { handler = function(e)
  n = n + 1
  if e.spin then while true do end end
  return n
end }
]],
      ["Flaky.json"] = '{"timeout": 1}',
    }
    local engine = moonstep.engine{ tasks_dir = dir }
    assert.are.equal(1, engine:run(task_def("Flaky"), {}).output)
    assert.are.equal(2, engine:run(task_def("Flaky"), {}).output)
    assert.are.equal("Sandbox.Timedout",
                     engine:run(task_def("Flaky"), { spin = true }).error)
    assert.are.equal(1, engine:run(task_def("Flaky"), {}).output)
    engine:close()
  end)

  it("reload: a changed file is loaded again on its next invocation",
     function()
    local dir = tasks{ ["Ver.lua"] = "return { handler = function() " ..
                                     "return 'one' end }" }
    local engine = moonstep.engine{ tasks_dir = dir }
    assert.are.equal("one", engine:run(task_def("Ver"), {}).output)
    spit(dir .. "/Ver.lua", "return { handler = function() " ..
                            "return 'two, longer' end }")
    assert.are.equal("two, longer", engine:run(task_def("Ver"), {}).output)
    engine:close()
  end)

  it("reload: a changed config is read again on its next invocation",
     function()
    local dir = tasks{
      ["Cfg.lua"] = "return { handler = function() " ..
                    "return os.getenv('WHO') or 'none' end }",
      ["Cfg.json"] = '{"environment": {"WHO": "one"}}',
    }
    local engine = moonstep.engine{ tasks_dir = dir }
    assert.are.equal("one", engine:run(task_def("Cfg"), {}).output)
    spit(dir .. "/Cfg.json", '{"environment": {"WHO": "two, longer"}}')
    assert.are.equal("two, longer", engine:run(task_def("Cfg"), {}).output)
    os.remove(dir .. "/Cfg.json")
    assert.are.equal("none", engine:run(task_def("Cfg"), {}).output)
    engine:close()
  end)
  -- R3 review: the context table was one per function, reused, so what a
  -- handler wrote to it (or removed) leaked into later calls.
  it("context: each call gets its own; a handler's writes do not leak",
     function()
    local dir = tasks{ ["Ctx.lua"] = [[
return { handler = function(e, ctx)
  local seen = { mark = ctx.mark, state = ctx.state_name,
                 exec = ctx.execution_name, log = type(ctx.log),
                 left = type(ctx.get_remaining_time_in_millis) }
  ctx.mark = "written"
  ctx.execution_name, ctx.state_name, ctx.log = "x", "y", nil
  ctx.get_remaining_time_in_millis = nil
  return seen
end }
]] }
    local def = string.format([[{"StartAt": "A", "States": {
      "A": {"Type": "Task", "Resource": "%sCtx", "ResultPath": "$.a",
            "Next": "B"},
      "B": {"Type": "Task", "Resource": "%sCtx", "ResultPath": "$.b",
            "End": true}}}]], ARN, ARN)
    local engine = moonstep.engine{ tasks_dir = dir }
    for _, name in ipairs{ "one", "two" } do
      local d = engine:run(def, {}, { name = name })
      assert.are.equal("SUCCEEDED", d.status)
      for state, seen in pairs{ A = d.output.a, B = d.output.b } do
        assert.are.same({ state = state, exec = name, log = "function",
                          left = "function" }, seen)
      end
    end
    engine:close()
  end)

  it("cache: more functions than it holds keep their results and warm "
     .. "state (LRU eviction), by ARN and by lambda:invoke", function()
    local files = {}
    for i = 1, 80 do
      files["F" .. i .. ".lua"] = "local n = 0\nreturn { handler = " ..
        "function() n = n + 1 return {" .. i .. ", n} end }"
    end
    local dir = tasks(files)
    local states = {}
    for idx = 1, 240 do
      states[#states + 1] = string.format(
        '"S%d": {"Type": "Task", "Resource": "%sF%d", "ResultPath": ' ..
        '"$.r%d", %s}', idx, ARN, (idx - 1) % 80 + 1, idx,
        idx < 240 and string.format('"Next": "S%d"', idx + 1)
                  or '"End": true')
    end
    local engine = moonstep.engine{ tasks_dir = dir }
    local d = engine:run('{"StartAt": "S1", "States": {' ..
                         table.concat(states, ", ") .. "}}", {})
    assert.are.equal("SUCCEEDED", d.status)
    for idx = 1, 240 do
      assert.are.same({ (idx - 1) % 80 + 1, (idx - 1) // 80 + 1 },
                      d.output["r" .. idx])
    end
    local names = {}
    for i = 1, 80 do names[i], names[80 + i] = "F" .. i, "F" .. i .. ":q" end
    d = engine:run([[{"StartAt": "M", "States": {"M": {"Type": "Map",
      "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName.$": "$"}, "OutputPath": "$.Payload",
        "End": true}}}, "End": true}}}]], names)
    assert.are.equal("SUCCEEDED", d.status)
    for idx = 1, 160 do
      assert.are.same({ (idx - 1) % 80 + 1, (idx - 1) // 80 + 4 },
                      d.output[idx])
    end
    engine:close()
  end)
end)

describe("task runtime through the binary #binary", function()
  local tmp
  setup(function() tmp = tmpdir() end)
  teardown(function()
    os.execute("rm -rf " .. shquote(tmp))
    cleanup()
  end)

  -- Run the binary; returns stdout, stderr, exit status.
  local function moonstep(args)
    local q = {}
    for i, a in ipairs(args) do q[i] = shquote(a) end
    local out, err = tmp .. "/stdout", tmp .. "/stderr"
    local _, how, code = os.execute(string.format(
      "%s %s >%s 2>%s </dev/null", shquote(BIN), table.concat(q, " "),
      shquote(out), shquote(err)))
    if how == "signal" then code = 128 + code end
    return slurp(out), slurp(err), code
  end

  it("invoke prints the result and exits 0", function()
    local out, _, code = moonstep{ "invoke", "Hello", "--event",
                                   '{"name": "Ann"}' }
    assert.are.equal(0, code)
    assert.are.same({ message = "Hello, Ann!" }, json.decode(out))
  end)

  it("invoke reads the event from @FILE and the handlers from --tasks",
     function()
    local dir = tasks{ ["Echo.lua"] = "return { handler = function(e) " ..
                                      "return e end }" }
    spit(tmp .. "/event.json", '{"n": 12345678901234567, "list": []}')
    local out, _, code = moonstep{ "invoke", "Echo", "--tasks", dir,
                                   "--event", "@" .. tmp .. "/event.json" }
    assert.are.equal(0, code)
    -- integers stay exact and [] stays an array; keys of a table made in
    -- Lua come out sorted
    assert.are.equal('{"list":[],"n":12345678901234567}\n', out)
  end)

  it("invoke prints Lambda's error JSON and exits 1", function()
    local dir = tasks{ ["Fail.lua"] = [[
return { handler = function()
  error({ errorType = "OrderError", errorMessage = "no stock" })
end }
]] }
    local out, _, code = moonstep{ "invoke", "Fail", "--tasks", dir }
    assert.are.equal(1, code)
    local e = json.decode(out)
    assert.are.equal("OrderError", e.errorType)
    assert.are.equal("no stock", e.errorMessage)
    assert.are.equal("table", type(e.stackTrace))
    assert.is_truthy(e.stackTrace[1]:find("Fail.lua:2", 1, true))
  end)

  it("invoke applies the function's timeout and memory", function()
    local dir = tasks{ ["Spin.lua"] = SPIN, ["Spin.json"] = '{"timeout": 1}',
                       ["Hog.lua"] = HOG }
    local out, err, code = moonstep{ "invoke", "Spin", "--tasks", dir }
    assert.are.equal(1, code)
    assert.are.equal("Sandbox.Timedout", json.decode(out).errorType)
    assert.is_truthy(err:find("Task timed out after 1.00 seconds", 1, true))
    out, err, code = moonstep{ "invoke", "Hog", "--tasks", dir }
    assert.are.equal(1, code)
    assert.are.equal("Runtime.OutOfMemory", json.decode(out).errorType)
    assert.is_truthy(err:find("128 MB", 1, true), err)
  end)

  it("print and context.log: one line each on stderr, prefixed", function()
    local dir = tasks{ ["Talk.lua"] = [[
print("loading")
return { handler = function(e, ctx)
  print("a", 1, nil)
  ctx.log("via context")
  return "done"
end }
]] }
    local out, err, code = moonstep{ "invoke", "Talk", "--tasks", dir }
    assert.are.equal(0, code)
    assert.are.equal('"done"\n', out)
    assert.are.equal("[Talk] loading\n[Talk] a\t1\tnil\n[Talk] via context\n",
                     err)
    spit(tmp .. "/talk.json", task_def("Talk"))
    out, err, code = moonstep{ "run", tmp .. "/talk.json", "--tasks", dir,
                               "--name", "exec-1", "--db", ":memory:" }
    assert.are.equal(0, code)
    assert.are.equal('"done"\n', out)
    assert.are.equal("[exec-1] T: loading\n[exec-1] T: a\t1\tnil\n" ..
                     "[exec-1] T: via context\n", err)
  end)

  it("invoke: usage errors exit 2", function()
    local _, err, code = moonstep{ "invoke" }
    assert.are.equal(2, code)
    assert.is_truthy(err:find("missing NAME", 1, true))
    _, _, code = moonstep{ "invoke", "Hello", "--event", "{bad" }
    assert.are.equal(2, code)
  end)
end)
