-- Argo CD health check of gitlabferry.dev ProjectExport, ProjectImport and GroupMigration (one
-- script for the three kinds: argocd-cm keys resource.customizations.health.gitlabferry.dev_
-- ProjectExport, ..._ProjectImport and ..._GroupMigration). Argo CD runs it in gopher-lua (Lua 5.1) with the object as the global
-- `obj`; keep it Lua 5.1 compatible (the tests run it in Lua 5.4).
--
-- The status, first match wins:
--   no status, or status.observedGeneration behind metadata.generation -> Progressing
--   spec.suspend                              -> Suspended
--   Ready True                                -> Healthy (FinishedWithFailedRelations too: the
--                                                project exists; the message says what is missing)
--   Stalled True                              -> Degraded (a person must fix the spec, a Secret
--                                                or GitLab), with the Ready message
--   Ready reason AwaitingApproval or Suspended -> Suspended (waits for a person, nothing broken)
--   anything else (Scheduled, Exporting, Importing, Throttled, WaitingForExport, SecretMissing,
--   retried failures, Deleting, Migrating)    -> Progressing, with the Ready reason and message
-- A GroupMigration's message starts with its progress ("37/120 projects").

local hs = {}
local kind = obj.kind or "object"

local function find_condition(status, wanted)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, item in ipairs(status.conditions) do
    if item.type == wanted then
      return item
    end
  end
  return nil
end

local function describe(item)
  if item == nil then
    return ""
  end
  local text = item.reason or ""
  if type(obj.status) == "table" and type(obj.status.progress) == "string" then
    text = obj.status.progress .. " projects, " .. text
  end
  if item.message ~= nil and item.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. item.message
  end
  return text
end

local status = obj.status
if type(status) ~= "table" then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe this " .. kind .. "."
  return hs
end

local ready = find_condition(status, "Ready")
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = status.observedGeneration
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
if observed == nil or (generation ~= nil and observed < generation) then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
      .. " of this " .. kind .. "."
  else
    hs.message = "Waiting for the operator to observe this " .. kind .. "."
  end
  return hs
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended by spec.suspend."
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = hs.message .. " " .. ready.message
  end
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the Ready condition."
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  if ready.reason == "FinishedWithFailedRelations" then
    hs.message = "Imported, but GitLab could not import some records (see status.failedRelations)"
    if ready.message ~= nil and ready.message ~= "" then
      hs.message = hs.message .. ": " .. ready.message
    else
      hs.message = hs.message .. "."
    end
  else
    hs.message = describe(ready)
  end
  return hs
end

local stalled = find_condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  if hs.message == "" then
    hs.message = describe(stalled)
  end
  return hs
end

if ready.reason == "AwaitingApproval" or ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready)
return hs
