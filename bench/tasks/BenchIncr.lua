-- BenchIncr: the bench's tasks workload handler; counts one step.
-- Its twin for the peer is in bench/peer.mjs.
local M = {}
function M.handler(event)
  return { i = event.i + 1, n = event.n }
end
return M
