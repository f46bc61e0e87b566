-- support.lua - what the specs that drive the moonstep binary share: the
-- binary's path, shell quoting, file reading and writing, a scratch folder,
-- and running the binary with its stdout, stderr and exit status captured.
-- (require "support"; .busted puts spec/ on package.path.)
local M = {}

-- The binary under test: build/moonstep, or MOONSTEP_BUILD's (build-asan
-- under "make test"), as an absolute path so cases may run elsewhere.
local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local p = assert(io.popen("pwd"))
  local cwd = p:read("l")
  p:close()
  return cwd .. "/" .. path
end
M.BIN = absolute((os.getenv("MOONSTEP_BUILD") or "build") .. "/moonstep")

function M.shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.spit(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- A new scratch folder (mktemp -d); remove it with M.rmtree.
function M.tmpdir(tag)
  local p = assert(io.popen("mktemp -d /tmp/moonstep-" .. (tag or "spec")
                            .. ".XXXXXX"))
  local dir = p:read("l")
  p:close()
  assert(dir and dir ~= "", "mktemp failed")
  return dir
end

function M.rmtree(dir)
  if dir then os.execute("rm -rf " .. M.shquote(dir)) end
end

-- Fail early and clearly when the binary has not been built.
function M.require_binary()
  local f = io.open(M.BIN, "rb")
  assert(f, M.BIN .. " is missing: run make first")
  f:close()
end

-- Run the binary with the argument list args; tmp is a scratch folder for
-- the captured streams, env a prefix such as "MOONSTEP_DB=x " and dir the
-- working folder (both optional). Returns stdout, stderr, exit status.
function M.run(tmp, args, env, dir)
  local q = {}
  for i, a in ipairs(args) do q[i] = M.shquote(a) end
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, how, code = os.execute(string.format(
    "%s%s %s %s >%s 2>%s </dev/null",
    dir and ("cd " .. M.shquote(dir) .. " && ") or "", env or "",
    M.shquote(M.BIN), table.concat(q, " "), M.shquote(out), M.shquote(err)))
  if how == "signal" then code = 128 + code end
  return M.slurp(out), M.slurp(err), code
end

-- A file's contents, or nil when it does not exist (yet).
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Wait (up to 5 s) for a non-empty file and return its contents.
function M.await(path)
  for _ = 1, 100 do
    local s = M.read(path)
    if s and s ~= "" then return s end
    os.execute("sleep 0.05")
  end
  error("timed out waiting for " .. path)
end

-- Start `moonstep run m.json --db db ARGS...` in the background in dir;
-- its stdout, stderr and exit status land in dir/out, dir/err, dir/rc.
function M.start_run(dir, args)
  local q = {}
  for i, a in ipairs(args or {}) do q[i] = M.shquote(a) end
  os.execute(string.format(
    "cd %s && (%s run m.json --db db %s >out 2>err </dev/null; "
    .. "echo $? >rc) >/dev/null 2>&1 &",
    M.shquote(dir), M.shquote(M.BIN), table.concat(q, " ")))
end

return M
