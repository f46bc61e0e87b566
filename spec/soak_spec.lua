-- soak_spec.lua - the soak (spec/soak.lua) in small: 2,000 executions in
-- this process through the Lua module, resident memory flat after the
-- warm-up. `make soak` runs 100,000. Under AddressSanitizer, whose
-- quarantine grows the resident size by design, the same executions run
-- (for crashes and leaks) and only the flatness check is left out.
local soak = require "soak"

describe("soak", function()
  it("2,000 executions keep the resident size flat", function()
    local asan = (os.getenv("LD_PRELOAD") or ""):find("asan") ~= nil
    local samples, counts, growth = soak.run(2000, 100)
    assert.are.equal(2000, (counts.SUCCEEDED or 0) + (counts.FAILED or 0))
    assert.is_true(counts.FAILED > 0 and counts.SUCCEEDED > 0)
    if not asan then
      assert.is_true(growth <= 256, string.format(
        "grew %d KiB after the warm-up (from %d to %d KiB)", growth,
        samples[2][2], samples[#samples][2]))
    end
  end)
end)
