-- moonstep/debug.lua - the REPL's debugger: the workflow functions of
-- `moonstep repl` (machine, execution, reload, invoke) over the C core
-- moonstep.core.debug (engine/ldebug.c, engine/inspect.c).
--
--   m = machine("flow.asl.json")   m:states(), m:run(input)
--   x = m:start(input)             paused before its first state
--   x:step()  x:continue()  x:break_at("State")  x:break_on("TaskFailed")
--   x:where()  x.data (assignable)  x:vars()  x:context()  x:eval("$.a")
--   x:history()  x:retry()  x:jump("State")  x:output()  x:redrive()
--   x = execution(ID)              a recorded execution, post-mortem:
--   x:step()/x:continue() walk its history, x:at(EVENT_ID), x:redrive(),
--   x:rerun_from(STATE, input)
--   reload([NAME])  invoke(NAME, event)
--
-- Live executions run in memory (not recorded in the store) on the
-- virtual clock: Wait states and retry backoffs finish at once.
local M = {}

local core = require "moonstep.core.debug"
local moonstep = require "moonstep"
local json = moonstep.json

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error(err, 3) end
  local s = f:read("a")
  f:close()
  return s
end

-- An input given as a Lua value, JSON text or "@FILE".
local function to_input(v)
  if type(v) ~= "string" then return v end
  if v:sub(1, 1) == "@" then v = read_file(v:sub(2)) end
  local ok, r = pcall(json.decode, v)
  if not ok then error("input is not JSON: " .. tostring(r), 3) end
  return r
end

local function details(ev)
  for k, v in pairs(ev) do
    if type(k) == "string" and k:match("EventDetails$") then return v end
  end
  return nil
end

local function decoded(text)
  if type(text) ~= "string" then return text end
  local ok, v = pcall(json.decode, text)
  if ok then return v end
  return text
end

-- "3 TaskStateEntered Load" for an event.
local function event_line(ev)
  local d = details(ev) or {}
  local what = d.name or d.error or d.resource or ""
  return string.format("%d %s%s", ev.id or 0, ev.type or "?",
                       what ~= "" and (" " .. what) or "")
end

local function lines_of(list, header)
  return setmetatable(list, {__tostring = function(t)
    local out = {header}
    for _, l in ipairs(t) do out[#out + 1] = l.line or tostring(l) end
    return table.concat(out, "\n")
  end})
end

---------------------------------------------------------------------------
-- A debugger: the engines (one for live executions, one with the store
-- for recorded ones, made when first needed) and the machines loaded.

local Debugger = {}
Debugger.__index = Debugger

-- opts: tasks_dir (default "tasks"), db_path (default $MOONSTEP_DB, else
-- .moonstep/moonstep.db), machines_dir, virtual_clock (default true).
function M.new(opts)
  opts = opts or {}
  return setmetatable({opts = opts, machines = {}, last = nil}, Debugger)
end

function Debugger:live()
  if not self.core then
    self.core = core.debugger{
      tasks_dir = self.opts.tasks_dir, machines_dir = self.opts.machines_dir,
      virtual_clock = self.opts.virtual_clock ~= false,
      no_aws_limits = self.opts.no_aws_limits,
    }
  end
  return self.core
end

function Debugger:db_path()
  local env = os.getenv("MOONSTEP_DB")
  return self.opts.db_path or (env and env ~= "" and env)
    or ".moonstep/moonstep.db"
end

function Debugger:stored()
  if not self.store then
    self.store = core.debugger{
      tasks_dir = self.opts.tasks_dir, machines_dir = self.opts.machines_dir,
      db_path = self:db_path(), virtual_clock = self.opts.virtual_clock,
    }
  end
  return self.store
end

-- Forget loaded handler modules (NAME, or all) so the next call reads the
-- fixed files.
function Debugger:reload(name)
  if self.core then self.core:reload(name) end
  if self.store then self.store:reload(name) end
end

-- Run one handler with event: its result, or nil and Lambda's error.
function Debugger:invoke(name, event)
  return self:live():invoke(name, to_input(event or {}))
end

---------------------------------------------------------------------------
-- Machines

local Machine = {}
Machine.__index = Machine
Machine.__tostring = function(m)
  return string.format("machine %s (%d states; m:start(input))", m.name,
                       #m:states())
end

-- A state machine from a definition file (.json, .yaml) or text/table.
function Debugger:machine(src)
  local text, name
  if type(src) == "table" then
    text, name = json.encode(src), "moonstep"
  elseif type(src) == "string" and src:match("^%s*{") then
    text, name = src, "moonstep"
  elseif type(src) == "string" then
    text = read_file(src)
    name = src:match("([^/]+)$"):gsub("%.json$", ""):gsub("%.ya?ml$", "")
      :gsub("%.asl$", "")
    if src:match("%.ya?ml$") then
      text = json.encode(require("moonstep.yaml").decode(text))
    end
  else
    error("machine(path): a file name, JSON text or a table", 2)
  end
  local ok, why = moonstep.validate(text)
  if not ok then
    local msgs = {}
    for _, d in ipairs(why or {}) do
      if not d.warning then
        msgs[#msgs + 1] = d.pointer .. ": " .. d.message
      end
    end
    error("invalid definition: " .. table.concat(msgs, "; "), 2)
  end
  local m = setmetatable({debugger = self, text = text, name = name,
                          def = json.decode(text)}, Machine)
  self.machines[#self.machines + 1] = m
  return m
end

local function collect_states(def, out)
  local names = {}
  for k in pairs(def.States or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    out[#out + 1] = k
    local st = def.States[k]
    for _, b in ipairs(st.Branches or {}) do collect_states(b, out) end
    if st.ItemProcessor or st.Iterator then
      collect_states(st.ItemProcessor or st.Iterator, out)
    end
  end
  return out
end

-- Every state name, nested ones (branches, Map processors) included.
function Machine:states()
  return collect_states(self.def, {})
end

local Execution = {}

-- An execution paused before its first state. opts: name.
function Machine:start(input, opts)
  opts = opts or {}
  local cx, why = self.debugger:live():start(self.text, to_input(input),
                                             {name = opts.name,
                                              machine_name = self.name})
  if not cx then error(why, 2) end
  local x = {core = cx, machine = self, breaks = {}, break_events = {}}
  -- the methods are the object's own fields, so that the REPL completes
  -- them (its __index is a function, for x.data)
  for k, f in pairs(Execution.methods) do x[k] = f end
  setmetatable(x, Execution)
  self.debugger.last = x
  return x
end

-- Run to the end (breakpoints aside): DescribeExecution's answer. With
-- opts.record the run goes through the store and the recorded execution
-- comes back, opened as execution(ID) would. opts: name, record.
function Machine:run(input, opts)
  opts = opts or {}
  if opts.record then
    local D = self.debugger
    local d, why = D:stored():run(self.text, to_input(input),
                                  {name = opts.name,
                                   machine_name = self.name})
    if not d then error(why, 2) end
    return D:execution(d.executionArn)
  end
  local x = self:start(input, opts)
  while x.core:step() do end
  return x.core:describe()
end

---------------------------------------------------------------------------
-- Live executions

local methods = {}
Execution.methods = methods

Execution.__index = function(x, k)
  if k == "data" then
    local f = x.core:frame()
    return f and f.input
  end
  return methods[k]
end

Execution.__newindex = function(x, k, v)
  if k == "data" then
    local ok, why = x.core:set_input(nil, v)
    if not ok then error(why, 2) end
    return
  end
  rawset(x, k, v)
end

local function next_frame(x)
  return x.core:next()
end

Execution.__tostring = function(x)
  local st = x.core:status()
  if st ~= "RUNNING" then
    local d = x.core:describe()
    return string.format("execution %s: %s%s", d.name, st,
                         d.error and (" (" .. d.error .. ")") or "")
  end
  local f = next_frame(x)
  return string.format("execution: RUNNING, next %s", f and
                       (f.path .. " (" .. f.stage .. ")") or "(waiting)")
end

-- One step: what ran, its events and what comes next.
local function step_once(x)
  local before = next_frame(x)
  local n = x.core:count()
  x.core:step()
  local events = x.core:events(n)
  local r = {events = json.array()}
  if before then
    r.path, r.state, r.input = before.path, before.state, before.input
  else
    r.note = "nothing was ready: time passed (a Wait, a backoff, a task)"
  end
  for _, ev in ipairs(events) do
    r.events[#r.events + 1] = event_line(ev)
    local d = details(ev) or {}
    if ev.type:match("StateExited$") and d.name == r.state then
      r.output = decoded(d.output)
    end
    if d.error and not r.error then
      r.error = {Error = d.error, Cause = d.cause}
    end
  end
  r.status = x.core:status()
  local after = r.status == "RUNNING" and next_frame(x)
  if after then r.next = after.path .. " (" .. after.stage .. ")" end
  return r, events
end

-- Run one transition and show it.
function methods.step(x)
  if x.core:status() ~= "RUNNING" then
    return {status = x.core:status(), note = "the execution has ended"}
  end
  return (step_once(x))
end

local function hit_event(x, events)
  for _, ev in ipairs(events) do
    local d = details(ev) or {}
    for want in pairs(x.break_events) do
      if ev.type == want or d.error == want
         or (want == "error" and d.error) then
        return ev
      end
    end
  end
  return nil
end

local function at_break(x)
  local f = next_frame(x)
  if f and f.stage == "enter" and (x.breaks[f.state] or x.breaks[f.path])
  then
    return f
  end
  return nil
end

-- Run to the next breakpoint (break_at, break_on) or the end.
function methods.continue(x)
  local steps = 0
  while x.core:status() == "RUNNING" do
    local _, events = step_once(x)
    steps = steps + 1
    local ev = hit_event(x, events)
    if ev then
      return {stopped = "event", event = ev, steps = steps,
              status = x.core:status(), where = tostring(x)}
    end
    local f = x.core:status() == "RUNNING" and at_break(x)
    if f then
      return {stopped = "breakpoint", path = f.path, state = f.state,
              input = f.input, steps = steps}
    end
  end
  local d = x.core:describe()
  return {stopped = "end", steps = steps, status = d.status,
          output = d.output, error = d.error, cause = d.cause}
end

-- Stop before a state (a name, or a frame path such as "Map[2]/Inner")
-- is entered.
function methods.break_at(x, state)
  x.breaks[state] = true
  return x
end

-- Stop after an event of that type ("TaskFailed") or with that error
-- ("States.TaskFailed"; "error": any).
function methods.break_on(x, what)
  x.break_events[what] = true
  return x
end

-- Remove a breakpoint (all when absent).
function methods.clear(x, what)
  if what then
    x.breaks[what], x.break_events[what] = nil, nil
  else
    x.breaks, x.break_events = {}, {}
  end
  return x
end

-- Where it is: the frames (top level, branches, iterations), "*" marks
-- the one that runs next.
function methods.where(x)
  if x.core:status() ~= "RUNNING" then return tostring(x) end
  local list = {}
  for _, f in ipairs(x.core:frames()) do
    f.line = string.format("%s %s (%s, %s)", f.next and "*" or " ", f.path,
                           f.stage, f.status)
    list[#list + 1] = f
  end
  return lines_of(list, tostring(x))
end

-- The frame at path (default: the next) with its context and variables.
function methods.frame(x, path)
  local f, why = x.core:frame(path)
  if not f then error(why, 2) end
  return f
end

function methods.vars(x, path) return methods.frame(x, path).vars end
function methods.context(x, path) return methods.frame(x, path).context end

-- Evaluate a JSONPath, an intrinsic or ({% ... %}) JSONata against the
-- current data, context and variables.
function methods.eval(x, expr, path)
  local f = methods.frame(x, path)
  local body = type(expr) == "string" and expr:match("^%s*{%%(.*)%%}%s*$")
  if body and moonstep.jsonata then
    local b = {}
    for k, v in pairs(f.vars or {}) do b[k] = v end
    b.states = {input = f.input, context = f.context}
    local v, code, msg = moonstep.jsonata(body, f.input, b)
    if v == nil and code then error(code .. ": " .. tostring(msg), 2) end
    return v
  end
  local v, err, cause = moonstep.eval(expr, f.input, {context = f.context,
                                                      vars = f.vars})
  if v == nil and err then error(err .. ": " .. tostring(cause), 2) end
  return v
end

-- The events so far (redrives included).
function methods.history(x) return x.core:events() end

-- Run again the state the frame last entered (with the input it had);
-- after a failure, redrive: the failed states run again.
function methods.retry(x, path)
  local ok, why = x.core:retry(path)
  if not ok then error(why, 2) end
  return x
end

function methods.redrive(x)
  local ok, why = x.core:redrive()
  if not ok then error(why, 2) end
  return x
end

-- Make the frame (default: the next) enter STATE next.
function methods.jump(x, state, path)
  local ok, why = x.core:jump(path, state)
  if not ok then error(why, 2) end
  return x
end

function methods.output(x)
  local d = x.core:describe()
  if d.status == "SUCCEEDED" then return d.output end
  if d.status == "RUNNING" then return nil end
  return {status = d.status, error = d.error, cause = d.cause}
end

function methods.describe(x) return x.core:describe() end
function methods.status(x) return x.core:status() end
function methods.abort(x, error_, cause)
  x.core:abort(error_, cause)
  return x
end

---------------------------------------------------------------------------
-- Recorded executions (post-mortem)

local Recorded = {}
Recorded.__index = Recorded
Recorded.__tostring = function(r)
  local d = r.desc
  local ev = r.events[r.cursor]
  return string.format("recorded execution %s: %s%s; at event %s", d.name,
                       d.status, d.error and (" (" .. d.error .. ")") or "",
                       ev and event_line(ev) or "0 (start)")
end

function Debugger:execution(id)
  local s = self:stored()
  local d, why = s:describe(id)
  if not d then error(why, 2) end
  local r = setmetatable({debugger = self, id = d.executionArn or id,
                          desc = d, cursor = 0, breaks = {}}, Recorded)
  r:refresh()
  self.last = r
  return r
end

function Recorded:refresh()
  local s = self.debugger:stored()
  self.desc = assert(s:describe(self.id))
  self.events = assert(s:history(self.id))
  if self.cursor > #self.events then self.cursor = #self.events end
  return self
end

function Recorded:describe() return self.desc end
function Recorded:history() return self.events end
function Recorded:status() return self.desc.status end

function Recorded:output()
  local d = self.desc
  if d.status == "SUCCEEDED" then return d.output end
  return {status = d.status, error = d.error, cause = d.cause}
end

-- The data at event id: the input or output that event carries, or the
-- latest one before it.
function Recorded:at(id)
  id = tonumber(id)
  local found
  for _, ev in ipairs(self.events) do
    if ev.id > id then break end
    local d = details(ev) or {}
    local data = d.input or d.output
    if data ~= nil then
      found = {id = ev.id, type = ev.type, state = d.name,
               data = decoded(data)}
    end
  end
  local ev = self.events[id]
  local r = found or {}
  r.event = ev and event_line(ev)
  return r
end

-- Walk the history: the next event with its data.
function Recorded:step()
  if self.cursor >= #self.events then
    return {note = "at the end of the history", status = self.desc.status}
  end
  self.cursor = self.cursor + 1
  local ev = self.events[self.cursor]
  local d = details(ev) or {}
  return {event = event_line(ev), state = d.name,
          input = decoded(d.input), output = decoded(d.output),
          error = d.error and {Error = d.error, Cause = d.cause} or nil}
end

-- Walk on to the next entry of a breakpoint state, or the end.
function Recorded:continue()
  while self.cursor < #self.events do
    local r = self:step()
    local ev = self.events[self.cursor]
    local d = details(ev) or {}
    if ev.type:match("StateEntered$") and self.breaks[d.name] then
      r.stopped = "breakpoint"
      return r
    end
  end
  return {stopped = "end", status = self.desc.status,
          error = self.desc.error}
end

function Recorded:break_at(state)
  self.breaks[state] = true
  return self
end

-- Where the history walk is, and the states in progress when it ended.
function Recorded:where()
  local open, order = {}, {}
  for i = 1, self.cursor do
    local ev = self.events[i]
    local d = details(ev) or {}
    if d.name and ev.type:match("StateEntered$") then
      if not open[d.name] then order[#order + 1] = d.name end
      open[d.name] = (open[d.name] or 0) + 1
    elseif d.name and ev.type:match("StateExited$") then
      open[d.name] = (open[d.name] or 1) - 1
    end
  end
  local list = {}
  for _, n in ipairs(order) do
    if open[n] > 0 then list[#list + 1] = {state = n, line = "  " .. n} end
  end
  return lines_of(list, tostring(self))
end

-- RedriveExecution through the store (handlers as they are now: reload()
-- first after fixing one).
function Recorded:redrive()
  local d, why = self.debugger:stored():redrive(self.id)
  if not d then error(why, 2) end
  self:refresh()
  return d
end

-- A new recorded execution of the same definition from top-level STATE
-- with input (default: the input STATE last had). Returns it, opened.
function Recorded:rerun_from(state, input)
  local d, why = self.debugger:stored():rerun(self.id, state,
                                              input ~= nil and
                                              to_input(input) or nil)
  if not d then error(why, 2) end
  return self.debugger:execution(d.executionArn)
end

---------------------------------------------------------------------------
-- The REPL's hook (see repl.lua's M.main): globals, completion words,
-- the current execution and help text.

M.TOPICS = [[
workflow functions:
  m = machine(PATH)        m:states()  m:run(input)  x = m:start(input)
  x:step()  x:continue()  x:break_at(STATE)  x:break_on(EVENT|ERROR)
  x:where()  x.data (assignable)  x:vars()  x:context()  x:eval(EXPR)
  x:history()  x:retry()  x:jump(STATE)  x:output()  x:redrive()
  x = execution(ID)        x:at(EVENT_ID)  x:redrive()
  x:rerun_from(STATE, input)  reload([NAME])  invoke(NAME, event)]]

function M.tools(env, opts)
  opts = opts or {}
  local D = M.new{tasks_dir = opts.tasks, db_path = opts.db}
  env.debugger = D
  env.machine = function(src) return D:machine(src) end
  env.execution = function(id) return D:execution(id) end
  env.reload = function(name) return D:reload(name) end
  env.invoke = function(name, event) return D:invoke(name, event) end
  local ok, err = pcall(function()
    if opts.file then
      env.m = D:machine(opts.file)
      if opts.input then env.x = env.m:start(opts.input) end
    end
    if opts.execution then env.x = D:execution(opts.execution) end
  end)
  if not ok then io.stderr:write("moonstep: repl: ", tostring(err), "\n") end
  local function is_exec(v)
    local mt = getmetatable(v)
    return mt == Execution or mt == Recorded
  end
  return {
    words = function()
      local w, seen = {}, {}
      for _, m in ipairs(D.machines) do
        for _, s in ipairs(m:states()) do
          if not seen[s] then
            seen[s] = true
            w[#w + 1] = s
          end
        end
      end
      return w
    end,
    current = function()
      local x = rawget(env, "x")
      if is_exec(x) then return x end
      return D.last
    end,
    topics = M.TOPICS,
  }
end

M.Execution, M.Recorded, M.Machine = Execution, Recorded, Machine

return M
