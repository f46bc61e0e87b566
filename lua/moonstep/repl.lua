-- moonstep/repl.lua - the REPL behind `moonstep repl`: a Lua prompt with
-- line editing, history across sessions, tab completion, JSON values shown
-- as indented (colored) JSON, multi-line input as in `lua`, short
-- ":" commands, and a non-interactive mode (-e CHUNK, or commands from a
-- pipe) so that a debugging session can be scripted and tested.
--
-- The workflow functions the prompt offers (machine, invoke, reload,
-- execution, ...) live in moonstep/debug.lua; the prompt also has the
-- modules (json, csv, http, s3, tables) and test_state. This file is the
-- shell: reading, evaluating and showing.
local M = {}

local json = require "moonstep.json"

local KEYWORDS = {
  "and", "break", "do", "else", "elseif", "end", "false", "for",
  "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat",
  "return", "then", "true", "until", "while",
}

---------------------------------------------------------------------------
-- Showing values

local COLORS = {key = "36", string = "32", number = "33", literal = "35",
                dim = "90"}

local function paint(opts, kind, s)
  if not opts.color then return s end
  return "\27[" .. COLORS[kind] .. "m" .. s .. "\27[0m"
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt and mt == getmetatable(json.array()) then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function quote(s)
  local ok, text = pcall(json.encode, s)
  return ok and text or string.format("%q", s)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "string" or ta == "number" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function show_value(v, opts, depth, seen, out)
  local t = type(v)
  if v == json.null then
    out[#out + 1] = paint(opts, "literal", "null")
  elseif t == "string" then
    out[#out + 1] = paint(opts, "string", quote(v))
  elseif t == "number" then
    out[#out + 1] = paint(opts, "number", tostring(v))
  elseif t == "boolean" then
    out[#out + 1] = paint(opts, "literal", tostring(v))
  elseif t ~= "table" then
    out[#out + 1] = paint(opts, "dim", "<" .. tostring(v) .. ">")
  elseif seen[v] then
    out[#out + 1] = paint(opts, "dim", "<cycle>")
  else
    seen[v] = true
    local pad = string.rep("  ", depth + 1)
    local close = string.rep("  ", depth)
    if is_array(v) then
      local n = #v
      if n == 0 then
        out[#out + 1] = "[]"
      else
        out[#out + 1] = "[\n"
        local shown = math.min(n, opts.max_items)
        for i = 1, shown do
          out[#out + 1] = pad
          show_value(v[i], opts, depth + 1, seen, out)
          out[#out + 1] = (i < n) and ",\n" or "\n"
        end
        if shown < n then
          out[#out + 1] = pad .. paint(opts, "dim", string.format(
            "... %d more (%d in all)", n - shown, n)) .. "\n"
        end
        out[#out + 1] = close .. "]"
      end
    else
      local keys = sorted_keys(v)
      if #keys == 0 then
        out[#out + 1] = "{}"
      else
        out[#out + 1] = "{\n"
        local shown = math.min(#keys, opts.max_items)
        for i = 1, shown do
          local k = keys[i]
          out[#out + 1] = pad .. paint(opts, "key", quote(tostring(k)))
                          .. ": "
          show_value(v[k], opts, depth + 1, seen, out)
          out[#out + 1] = (i < #keys) and ",\n" or "\n"
        end
        if shown < #keys then
          out[#out + 1] = pad .. paint(opts, "dim", string.format(
            "... %d more keys", #keys - shown)) .. "\n"
        end
        out[#out + 1] = close .. "}"
      end
    end
    seen[v] = nil
  end
end

-- The text the prompt shows for a value: strings, numbers, booleans and
-- nil as `lua` prints them; tables as indented JSON (null for json.null,
-- arrays cut after opts.max_items with a count); objects with a
-- __tostring (executions, machines) by it.
function M.show(v, opts)
  opts = opts or {}
  opts.max_items = opts.max_items or 50
  if v == json.null then return paint(opts, "literal", "null") end
  if type(v) ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  local out = {}
  show_value(v, opts, 0, {}, out)
  return table.concat(out)
end

---------------------------------------------------------------------------
-- Completion

-- Candidates for the word before the cursor: Lua keywords and names in
-- env for a bare word; fields (a.b) and methods (a:b) of a value; ":"
-- commands at the start of a line; names from session.words (state names)
-- inside a string. Returns the 1-based start of the word and the list.
function M.complete(session, line, cursor)
  local before = line:sub(1, cursor)
  local cands = {}
  local cmd = before:match("^%s*(:%a*)$")
  if cmd then
    for _, c in ipairs(session.command_names) do
      if c:sub(1, #cmd) == cmd then cands[#cands + 1] = c end
    end
    return #before - #cmd + 1, cands
  end
  local quoted = before:match("[\"']([^\"']*)$")
  if quoted and select(2, before:gsub("[\"']", "")) % 2 == 1 then
    for _, w in ipairs(session.words and session.words() or {}) do
      if w:sub(1, #quoted) == quoted then cands[#cands + 1] = w end
    end
    table.sort(cands)
    return #before - #quoted + 1, cands
  end
  local path = before:match("[%w_%.:]*$") or ""
  local base, sep, word = path:match("^(.-)([%.:])([%w_]*)$")
  local seen = {}
  local function add(name)
    if type(name) == "string" and name:match("^[%a_][%w_]*$")
       and name:sub(1, #(word or path)) == (word or path)
       and not seen[name] then
      seen[name] = true
      cands[#cands + 1] = name
    end
  end
  if not base then
    for _, k in ipairs(KEYWORDS) do add(k) end
    local t = session.env
    while t do
      for k in pairs(t) do add(k) end
      local mt = getmetatable(t)
      t = mt and type(mt.__index) == "table" and mt.__index or nil
    end
  else
    local ok, v = pcall(load("return " .. base, "=complete", "t",
                              session.env) or function() end)
    local t = ok and v
    local depth = 0
    while type(t) == "table" or type(t) == "userdata" or type(t) == "string"
      do
      if type(t) == "table" then
        for k in pairs(t) do
          if sep == "." or type(t[k]) == "function" then add(k) end
        end
      end
      local mt = getmetatable(t)
      t = mt and type(mt.__index) == "table" and mt.__index or nil
      depth = depth + 1
      if depth > 8 then break end
    end
  end
  table.sort(cands)
  return cursor - #(word or path) + 1, cands
end

---------------------------------------------------------------------------
-- Evaluating

local function traceback(msg)
  if type(msg) ~= "string" then
    local mt = getmetatable(msg)
    if not (mt and mt.__tostring) and type(msg) == "table" then
      msg = M.show(msg)
    else
      msg = tostring(msg)
    end
  end
  -- the traceback down to the chunk typed, without the REPL's own frames
  local tb = debug.traceback(msg, 2)
  local cut = tb:find("\n[^\n]*in main chunk")
  if cut then
    local eol = tb:find("\n", cut + 1)
    tb = eol and tb:sub(1, eol - 1) or tb
  end
  -- a tail call hides the chunk's frame: cut at the REPL's own call
  cut = tb:find("\n%s*%[C%]: in local 'protect'") or
        tb:find("\n%s*%[C%]: in function 'xpcall'")
  if cut then tb = tb:sub(1, cut - 1) end
  return tb
end

-- Compile a chunk as `lua` does: first as an expression (so `1 + 1` and
-- `=x` print), then as statements. Returns fn, or nil and the error; the
-- error "incomplete" means more lines are needed.
function M.compile(text, env)
  local src = text:gsub("^%s*=", "return ")
  local fn = load("return " .. src, "=stdin", "t", env)
  if fn then return fn end
  local err
  fn, err = load(src, "=stdin", "t", env)
  if fn then return fn end
  if err:match("<eof>$") then return nil, "incomplete" end
  return nil, err
end

local Session = {}
Session.__index = Session

function Session:print(...) self.out:write(...) end

function Session:say(...)
  self.out:write(...)
  self.out:write("\n")
end

function Session:warn(msg)
  self.errors = self.errors + 1
  io.stderr:write(msg, "\n")
  io.stderr:flush()
end

-- Run a compiled chunk (Ctrl-C interrupts it) and show what it returns.
function Session:execute(fn)
  local protect = self.protect or function(f, h)
    return table.pack(xpcall(f, h))
  end
  local r = protect(fn, traceback)
  if not r[1] then
    self:warn(tostring(r[2]))
    return false
  end
  if r.n > 1 then
    local parts = {}
    for i = 2, r.n do
      parts[#parts + 1] = M.show(r[i], {color = self.color})
    end
    self:say(table.concat(parts, "\t"))
  end
  self.out:flush()
  return true
end

-- ":cmd args": the short commands, each a method call on the current
-- execution or a session action.
function Session:command(line)
  local name, rest = line:match("^%s*:(%S*)%s*(.-)%s*$")
  local c = self.commands[name]
  if not c then
    self:warn("unknown command :" .. name .. " (:help lists them)")
    return
  end
  local ok, err = xpcall(c.run, traceback, self, rest)
  if not ok then self:warn(tostring(err)) end
end

-- Evaluate one complete chunk of input.
function Session:eval(text)
  if text:match("^%s*:") then return self:command(text) end
  local fn, err = M.compile(text, self.env)
  if not fn then
    self:warn(err == "incomplete" and ("unfinished chunk: " .. text) or err)
    return false
  end
  return self:execute(fn)
end

local function home_file(name)
  local env = os.getenv("MOONSTEP_HISTORY")
  if env then return env ~= "" and env or nil end
  local home = os.getenv("HOME")
  return home and (home .. "/" .. name) or nil
end

-- The interactive or piped loop: read, continue incomplete chunks, eval.
function Session:loop()
  local le = self.lineedit
  local history = le:is_tty() and home_file(".moonstep_history")
  if history then le:load_history(history) end
  if le:is_tty() then
    self:say("moonstep " .. (self.version or "") ..
             " REPL - Lua 5.4; :help for commands, :q to quit")
  end
  local pending = nil
  while not self.quit do
    local line, why = le:read(pending and ">> " or self.prompt)
    if not line then
      if why == "interrupted" then
        pending = nil
      else
        break
      end
    else
      local text = pending and (pending .. "\n" .. line) or line
      if text:match("^%s*$") then
        pending = nil
      elseif text:match("^%s*:") then
        le:add_history(text)
        pending = nil
        self:command(text)
      else
        local fn, err = M.compile(text, self.env)
        if err == "incomplete" then
          pending = text
        else
          le:add_history(text)
          pending = nil
          if fn then self:execute(fn) else self:warn(err) end
        end
      end
    end
  end
  if pending then self:warn("incomplete input at the end: " .. pending) end
  if history then le:save_history(history) end
end

---------------------------------------------------------------------------
-- Commands

local COMMANDS = {
  {names = {"help", "?"}, help = "this list",
   run = function(s)
     s:say("commands (each also a Lua call on the current execution x):")
     for _, c in ipairs(s.command_list) do
       s:say(string.format("  :%-14s %s", table.concat(c.names, ", :"),
                           c.help))
     end
     if s.topics then s:say(s.topics) end
   end},
  {names = {"q", "quit"}, help = "leave the REPL",
   run = function(s) s.quit = true end},
}

-- Commands that call a method of the current execution (x, or the last
-- one started or opened): ":s" is x:step(), ":b Load" x:break_at("Load").
local function on_current(method, help, names, arg)
  return {names = names, help = help, run = function(s, rest)
    local x = s.current and s.current()
    if not x then
      s:warn("no current execution: start one (x = m:start(input)) or "
             .. "open one (x = execution(ID))")
      return
    end
    if type(x[method]) ~= "function" then
      s:warn("the current execution has no " .. method .. "()")
      return
    end
    local r
    if arg then
      if rest == "" then
        s:warn(":" .. names[1] .. " needs " .. arg)
        return
      end
      r = x[method](x, rest)
    else
      r = x[method](x)
    end
    if r ~= nil and r ~= x then s:say(M.show(r, {color = s.color})) end
  end}
end

COMMANDS[#COMMANDS + 1] = on_current("step", "run one transition", {"s",
                                     "step"})
COMMANDS[#COMMANDS + 1] = on_current("continue", "run to a breakpoint or "
                                     .. "the end", {"c", "continue"})
COMMANDS[#COMMANDS + 1] = on_current("break_at", "stop when STATE is "
                                     .. "entered", {"b", "break"}, "STATE")
COMMANDS[#COMMANDS + 1] = on_current("where", "where it is", {"w",
                                     "where"})
COMMANDS[#COMMANDS + 1] = on_current("history", "its events", {"h",
                                     "history"})
COMMANDS[#COMMANDS + 1] = on_current("output", "its output", {"o",
                                     "output"})

---------------------------------------------------------------------------
-- Sessions

-- A session over env (a table whose __index is _G by default). opts:
-- out (a file, default io.stdout), color, lineedit (moonstep.lineedit
-- object), protect (runs a function with Ctrl-C armed), current (returns
-- the current execution), words (names to complete inside strings),
-- version, prompt.
function M.session(opts)
  opts = opts or {}
  local s = setmetatable({
    env = opts.env or setmetatable({}, {__index = _G}),
    out = opts.out or io.stdout,
    color = opts.color,
    lineedit = opts.lineedit,
    protect = opts.protect,
    current = opts.current,
    words = opts.words,
    version = opts.version,
    topics = opts.topics,
    prompt = opts.prompt or "> ",
    errors = 0,
    commands = {},
    command_list = COMMANDS,
    command_names = {},
  }, Session)
  for _, c in ipairs(COMMANDS) do
    for _, n in ipairs(c.names) do
      s.commands[n] = c
      s.command_names[#s.command_names + 1] = ":" .. n
    end
  end
  table.sort(s.command_names)
  return s
end

-- `moonstep repl [FILE] [--input JSON|@FILE] [--execution ID] [-e CHUNK]
-- [-i] [--tasks DIR] [--db PATH]`: args is the argument list after
-- "repl"; core is the C side (lineedit, protect, version). Returns the
-- exit status: 0, or 1 when a chunk failed in a non-interactive run.
function M.main(args, core)
  local o, problem = {chunks = {}}, nil
  local i = 1
  while i <= #args and not problem do
    local a = args[i]
    local function value()
      i = i + 1
      if args[i] == nil then problem = a .. " needs a value" end
      return args[i]
    end
    if a == "-e" then o.chunks[#o.chunks + 1] = value()
    elseif a == "-i" then o.interactive = true
    elseif a == "--input" then o.input = value()
    elseif a == "--execution" then o.execution = value()
    elseif a == "--tasks" then o.tasks = value()
    elseif a == "--db" then o.db = value()
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      problem = "unknown option '" .. a .. "'"
    elseif not o.file then o.file = a
    else problem = "unexpected argument '" .. a .. "'" end
    i = i + 1
  end
  if problem then
    io.stderr:write("moonstep: repl: ", problem,
                    "\nTry 'moonstep help' for usage.\n")
    return 2
  end
  local le = core.lineedit.new()
  local env = setmetatable({}, {__index = _G})
  env.json = json
  env.moonstep = require "moonstep"
  env.test_state = env.moonstep.test_state
  env.csv = require "moonstep.csv"
  env.http = require "moonstep.http"
  env.s3 = require "moonstep.s3"
  local tables = require "moonstep.tables"   -- opens its file on first use
  env.tables = o.db and tables.open(o.db) or tables
  local tools = require("moonstep.debug").tools(env, o)
  local words, current, topics = tools.words, tools.current, tools.topics
  local s = M.session{
    env = env, lineedit = le, protect = core.protect, words = words,
    current = current, topics = topics, version = core.version,
    color = le:is_tty() and os.getenv("NO_COLOR") == nil,
  }
  le:set_completer(function(line, cursor)
    return M.complete(s, line, cursor)
  end)
  for _, chunk in ipairs(o.chunks) do
    s:eval(chunk)
    if s.quit then break end
  end
  if (#o.chunks == 0 or o.interactive) and not s.quit then s:loop() end
  if not le:is_tty() or #o.chunks > 0 then
    return s.errors > 0 and 1 or 0
  end
  return 0
end

return M
