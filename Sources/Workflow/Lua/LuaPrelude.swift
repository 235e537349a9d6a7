/// Lua run in every sandbox before the user's script: library functions written in Lua
/// because they only raise Lua errors from Lua code (never across a Swift frame) and are
/// easier to read there. Kept small; each function is documented in plugins/README.md.
enum LuaPrelude {
    static let chunkName = "=funad"

    /// `funad.params(given, spec)`: a hook's or plugin's parameters checked against a
    /// spec and filled with defaults, so every script validates its `with:` the same way.
    /// spec = {name = {default = v, type = "number"|"integer"|"string"|"boolean",
    ///                 min = x, above = x, max = x, values = {...}}, ...};
    /// `type` defaults to the type of `default`. Numbers and booleans given as text (from
    /// --set or ${VAR}) are converted. Errors point at the caller's line (level 2):
    /// "plugins/x.lua:31: keep must be in (0, 1], got 2".
    static let source = #"""
    local error, type, tonumber, tostring, pairs, ipairs = error, type, tonumber, tostring, pairs, ipairs
    local floor, huge, format = math.floor, math.huge, string.format
    local sort, concat = table.sort, table.concat

    local function show(v)
      if type(v) == "string" then return format("%q", v) end
      return tostring(v)
    end

    local function range_text(s)
      local low = s.above ~= nil and ("(" .. tostring(s.above)) or (s.min ~= nil and ("[" .. tostring(s.min)) or nil)
      local high = s.max ~= nil and (tostring(s.max) .. "]") or nil
      if low and high then return "in " .. low .. ", " .. high end
      if low then return (s.above ~= nil and "> " .. tostring(s.above)) or (">= " .. tostring(s.min)) end
      return "<= " .. tostring(s.max)
    end

    function funad.params(given, spec)
      if given == nil then given = {} end
      if type(given) ~= "table" then error("funad.params: parameters must be a table, got " .. type(given), 2) end
      if type(spec) ~= "table" then error("funad.params: spec must be a table, got " .. type(spec), 2) end
      local names = {}
      for name in pairs(spec) do names[#names + 1] = name end
      sort(names)
      local unknown = {}
      for name in pairs(given) do
        if spec[name] == nil then unknown[#unknown + 1] = tostring(name) end
      end
      if #unknown > 0 then
        sort(unknown)
        error("unknown parameter " .. concat(unknown, ", ") .. " (known: " .. concat(names, ", ") .. ")", 2)
      end
      local out = {}
      for _, name in ipairs(names) do
        local s = spec[name]
        local v = given[name]
        local kind = s.type or type(s.default)
        if v ~= nil then
          if kind == "number" or kind == "integer" then
            local x = tonumber(v)
            if x == nil or x ~= x or x == huge or x == -huge then
              error(name .. " must be a finite number, got " .. show(v), 2)
            end
            if kind == "integer" then
              if x ~= floor(x) then error(name .. " must be an integer, got " .. show(v), 2) end
              x = floor(x)
            end
            v = x
          elseif kind == "boolean" then
            if v == "true" then v = true elseif v == "false" then v = false end
            if type(v) ~= "boolean" then error(name .. " must be true or false, got " .. show(v), 2) end
          elseif kind == "string" then
            if type(v) ~= "string" then error(name .. " must be a string, got " .. show(v), 2) end
          end
          if (s.min ~= nil and v < s.min) or (s.above ~= nil and v <= s.above) or (s.max ~= nil and v > s.max) then
            error(name .. " must be " .. range_text(s) .. ", got " .. show(given[name]), 2)
          end
          if s.values ~= nil then
            local ok = false
            for _, allowed in ipairs(s.values) do if v == allowed then ok = true end end
            if not ok then
              local shown = {}
              for i, allowed in ipairs(s.values) do shown[i] = show(allowed) end
              error(name .. " must be one of " .. concat(shown, ", ") .. ", got " .. show(v), 2)
            end
          end
        else
          v = s.default
        end
        out[name] = v
      end
      return out
    end
    """#
}
