-- hello_spec.lua - the pattern for a handler's spec: require the handler
-- module from tasks/ directly and call handler(event, context) with a
-- context from moonstep.testing; no engine, no state machine. Copy this
-- file next to your own handler's (spec/handlers/<name>_spec.lua).
package.path = "./tasks/?.lua;./lua/?.lua;" .. package.path
local testing = require "moonstep.testing"
local Hello = require "Hello"

describe("tasks/Hello.lua", function()
  local context
  before_each(function()
    context = testing.context{ function_name = "Hello", remaining_ms = 3000 }
  end)

  it("greets the name it is given", function()
    local out = Hello.handler({ name = "Ada" }, context)
    assert.are.same({ message = "Hello, Ada!" }, out)
  end)

  it("greets the world when the event has no name", function()
    assert.are.same({ message = "Hello, world!" }, Hello.handler({}, context))
  end)

  it("gets a Lambda-shaped context", function()
    assert.are.equal("Hello", context.function_name)
    assert.are.equal(128, context.memory_limit_in_mb)
    local ms = context.get_remaining_time_in_millis()
    assert.is_true(ms > 0 and ms <= 3000)
  end)
end)
