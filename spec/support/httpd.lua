-- support/httpd.lua - start and stop spec/support/testhttpd.c (built by
-- the Makefile into MOONSTEP_BUILD's folder) for the http specs.
--   local httpd = require "support.httpd"
--   local srv = httpd.start()   -- srv.base = "http://127.0.0.1:PORT"
--   srv:stop()
local M = {}

local build = os.getenv("MOONSTEP_BUILD") or "build"
M.BIN = build .. "/testhttpd"

function M.start()
  local f = io.open(M.BIN, "rb")
  assert(f, M.BIN .. " is missing: run make " .. M.BIN)
  f:close()
  -- in the background, so closing the pipe does not wait for the server
  local p = assert(io.popen("sh -c '" .. M.BIN .. " & echo pid:$!'"))
  local port, pid
  for _ = 1, 2 do
    local line = p:read("l")
    if not line then break end
    if line:match("^pid:") then pid = line:sub(5) else port = line end
  end
  p:close()
  assert(port and pid, "testhttpd did not start")
  local srv = {port = tonumber(port), pid = pid,
               base = "http://127.0.0.1:" .. port}
  function srv.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
  return srv
end

return M
