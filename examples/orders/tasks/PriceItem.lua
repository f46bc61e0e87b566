-- PriceItem.lua - the orders example's per-item Task (called once per item
-- by the Map): look the item up in a stub catalog and return its line,
-- {sku, qty, unitPrice, lineTotal, currency} in integer cents.
--
-- Errors, Lambda-style, as the workflow's Retry and Catch expect them:
-- - "Catalog.Throttled" is transient: the stub catalog answers it on the
--   first attempt (context.retry_count 0) for an entry marked `flaky`, as a
--   busy catalog service would; the workflow retries it.
-- - "Catalog.UnknownSku" is permanent: the sku is not in the catalog; the
--   workflow catches it and marks the line unpriced.
local M = {}

-- The stub catalog: sku -> unit price in cents. Replace it with a call to
-- your own catalog service.
M.catalog = {
  ["BOOK-42"] = { price = 1250, flaky = true },
  ["PEN-7"] = { price = 199 },
  ["MUG-1"] = { price = 899 },
}

function M.handler(event, context)
  local entry = M.catalog[event.sku]
  if entry == nil then
    error({ errorType = "Catalog.UnknownSku",
            errorMessage = "no catalog entry for " .. tostring(event.sku) })
  end
  if entry.flaky and context.retry_count == 0 then
    error({ errorType = "Catalog.Throttled",
            errorMessage = "catalog busy, try again" })
  end
  return {
    sku = event.sku,
    qty = event.qty,
    unitPrice = entry.price,
    lineTotal = entry.price * event.qty,
    currency = event.currency,
    catalogVersion = "stub-1",
  }
end

return M
