-- The reference (`make docs`, LDoc) builds without a warning and documents
-- every public function of the module and every method of the client, as
-- found at run time: a function or a method added without its doc block
-- fails here.
local bulksync = require "bulksync"
local files = require "spec.support.files"

local q, read = files.shell_quote, files.read

local function succeeded(a, _, code)
  if a == true or a == 0 then return true end
  return a == nil and false or (code == 0)
end

local function sh(cmd)
  return succeeded(os.execute(cmd .. " >/dev/null 2>&1"))
end

-- What `make docs` needs; without it the spec says so instead of failing.
local missing
if not sh("command -v ldoc") then
  missing = "ldoc is not installed (sh scripts/setup.sh docs installs lua-ldoc)"
elseif not sh("command -v lua5.1") then
  missing = "lua5.1 is not installed (sh scripts/setup.sh docs)"
elseif not sh("lua5.1 -e 'require \"markdown\"'") then
  missing = "lua-markdown is not installed (sh scripts/setup.sh docs)"
end

-- The entry of `name` in a generated page: from its anchor to the next one.
local function entry(html, name)
  local plain = name:gsub("%p", "%%%0")
  local from = html:find('<a name%s*=%s*"' .. plain .. '"')
  if not from then return nil end
  local stop = html:find("<dt>", from + 1, true) or #html
  return html:sub(from, stop)
end

if missing then
  describe("the reference", function()
    pending(missing)
  end)
  return
end

describe("the reference (make docs)", function()
  local dir, status, output, page

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    local log = os.tmpname()
    status = succeeded(os.execute("make -s docs DOC_DIR=" .. q(dir) .. " >" .. q(log) .. " 2>&1"))
    output = read(log) or ""
    os.remove(log)
    page = read(dir .. "/modules/bulksync.html")
  end)

  teardown(function()
    if dir then os.execute("rm -rf " .. q(dir)) end
  end)

  it("builds, and ldoc prints nothing but its two progress lines", function()
    assert.is_true(status, output)
    local extra = {}
    for line in output:gmatch("[^\n]+") do
      if not line:find("^reading configuration from ") and not line:find("^output written to ") then
        extra[#extra + 1] = line
      end
    end
    assert.are.same({}, extra)
    assert.truthy(read(dir .. "/index.html"), "no index.html")
  end)

  it("documents every public function and value of bulksync", function()
    assert.truthy(page, "no modules/bulksync.html")
    local names = {}
    for name, v in pairs(bulksync) do
      -- _VERSION is public; other names with a leading _ are the specs'.
      if (name == "_VERSION" or not name:find("^_")) and name ~= "Client" then
        names[#names + 1] = name
        assert.truthy(entry(page, name), "bulksync." .. name .. " (" .. type(v) .. ") is not in the reference")
      end
    end
    table.sort(names)
    assert.truthy(#names >= 15, table.concat(names, " "))
  end)

  it("documents every client method, with the errors it raises", function()
    local methods = {}
    for name, v in pairs(bulksync.Client) do
      if type(v) == "function" and not name:find("^__") then
        methods[#methods + 1] = name
        local e = entry(page, "client:" .. name)
        assert.truthy(e, "client:" .. name .. " is not in the reference")
        if name ~= "close" then
          assert.truthy(e:find("Raises:", 1, true), "client:" .. name .. " does not say what it raises")
        end
      end
    end
    assert.truthy(#methods >= 40, table.concat(methods, " "))
  end)

  it("documents every error kind and the error's fields", function()
    local errors = read(dir .. "/modules/bulksync.errors.html")
    assert.truthy(errors, "no modules/bulksync.errors.html")
    for _, kind in ipairs(bulksync.errors) do
      assert.truthy(errors:find(kind, 1, true), kind .. " is not in the reference")
    end
    assert.truthy(entry(errors, "Error"), "the error object is not in the reference")
  end)

  it("documents the plan object and its methods", function()
    local plan = read(dir .. "/modules/bulksync.plan.html")
    assert.truthy(plan, "no modules/bulksync.plan.html")
    local p = bulksync.diff({}, {})
    for _, name in ipairs { "has_resets", "render" } do
      assert.is_function(p[name])
      assert.truthy(entry(plan, "Plan:" .. name), "Plan:" .. name .. " is not in the reference")
    end
    for field in pairs(p) do
      assert.truthy(entry(plan, "Plan." .. field), "Plan." .. field .. " is not in the reference")
    end
  end)
end)
