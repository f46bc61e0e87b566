-- limits_spec.lua - AWS's payload limit (256 KiB) holds by default for a
-- state's output and a task's result (States.DataLimitExceeded), and the
-- no_aws_limits option (--no-aws-limits) lifts it for local work on big
-- data.
local moonstep = require "moonstep"
local S = require "support"

local BIG = string.rep("x", 150 * 1024)

local DOUBLE = [[{"StartAt": "P", "States": {"P": {"Type": "Pass",
  "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": true}}}]]

local TASK = [[{"StartAt": "T", "States": {"T": {"Type": "Task",
  "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Big",
  "End": true}}}]]

describe("AWS limits", function()
  local dir

  setup(function()
    dir = S.tmpdir("limits")
    S.spit(dir .. "/Big.lua", "return { handler = function() " ..
           "return string.rep('y', 300 * 1024) end }\n")
  end)

  teardown(function() S.rmtree(dir) end)

  it("a state output over 256 KiB fails with States.DataLimitExceeded",
     function()
    local d = moonstep.run(DOUBLE, { s = BIG }, { express = true })
    assert.are.equal("FAILED", d.status)
    assert.are.equal("States.DataLimitExceeded", d.error)
  end)

  it("a task result over 256 KiB fails with States.DataLimitExceeded",
     function()
    local d = moonstep.run(TASK, {}, { tasks_dir = dir, express = true })
    assert.are.equal("FAILED", d.status)
    assert.are.equal("States.DataLimitExceeded", d.error)
  end)

  it("no_aws_limits lifts both", function()
    local d = moonstep.run(DOUBLE, { s = BIG },
                           { express = true, no_aws_limits = true })
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.equal(#BIG, #d.output.a)
    d = moonstep.run(TASK, {}, { tasks_dir = dir, express = true,
                                 no_aws_limits = true })
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.equal(300 * 1024, #d.output)
  end)
end)
