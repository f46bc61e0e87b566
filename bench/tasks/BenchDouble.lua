-- BenchDouble: the bench's map workload handler; doubles one item.
-- Its twin for the peer is in bench/peer.mjs.
local M = {}
function M.handler(event)
  return event * 2
end
return M
