-- Hello.lua - an example Task handler, called as a Lambda function would
-- be: Resource "arn:aws:lambda:us-east-1:123456789012:function:Hello", or
-- "arn:aws:states:::lambda:invoke" with FunctionName "Hello".
local M = {}

function M.handler(event, context)
  local name = type(event) == "table" and event.name or nil
  return { message = "Hello, " .. (name or "world") .. "!" }
end

return M
