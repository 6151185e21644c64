-- POSTs one invitation per request to a new address (wrk -s); CSRF token and cookie from env.
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local n = 0
local token = os.getenv("CSRF")
local run = os.time()
request = function()
  n = n + 1
  local body = "csrf_token=" .. token .. "&emails=slow" .. run .. "t" .. id .. "x" .. n .. "%40example.com&role=member&development=&staging=&production=&password="
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded", ["Origin"] = os.getenv("ORIGIN"), ["Cookie"] = "gatehouse_session=" .. os.getenv("SID")}, body)
end
