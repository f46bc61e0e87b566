-- ValidateOrder.lua - the orders example's first Task: check the shape of
-- an order as the shop front-end sends it ({orderId, customer, currency,
-- total, items = {{sku, qty}, ...}}; money in integer cents) and return it
-- normalized, with its item count. A bad order fails the Task with the
-- Lambda-style error "Order.Invalid" (the workflow does not retry it).
local M = {}

local function invalid(message)
  error({ errorType = "Order.Invalid", errorMessage = message })
end

local function is_count(v)
  return math.type(v) == "integer" and v > 0
end

function M.handler(event, context)
  if type(event) ~= "table" then invalid("the order is not an object") end
  if type(event.orderId) ~= "string" or event.orderId == "" then
    invalid("orderId is missing")
  end
  if math.type(event.total) ~= "integer" or event.total < 0 then
    invalid("total must be a non-negative integer (cents)")
  end
  local items = event.items
  if type(items) ~= "table" or #items == 0 then
    invalid("the order has no items")
  end
  local normalized = {}
  for i, item in ipairs(items) do
    if type(item) ~= "table" or type(item.sku) ~= "string" then
      invalid("item " .. i .. " has no sku")
    end
    if not is_count(item.qty) then
      invalid("item " .. i .. " (" .. item.sku .. "): qty must be a " ..
              "positive integer")
    end
    normalized[i] = { sku = item.sku:upper(), qty = item.qty }
  end
  context.log("order " .. event.orderId .. ": " .. #normalized .. " items")
  return {
    orderId = event.orderId,
    customer = event.customer,
    currency = event.currency or "EUR",
    total = event.total,
    items = normalized,
    itemCount = #normalized,
  }
end

return M
